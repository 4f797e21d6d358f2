//! `.npy` arrays of `f32` (C order, any rank): the workspace's one reader and writer
//! (the trainer's datasets and every file of the `powerpost` binary go through here).
//!
//! # Format (NumPy NEP 1, format versions 1.0, 2.0 and 3.0)
//! ```text
//! \x93NUMPY  major minor  header_len (u16 LE for 1.0, u32 LE for 2.0/3.0)  header  data
//! ```
//! The header is a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 64, 128), }`, padded with spaces
//! and ended by `\n`; the data are `product(shape)` values in the order and byte order the
//! header names.
//!
//! # Reading
//! 1. Magic, version and header length are checked against the buffer *before* anything is
//!    allocated or parsed (a header length beyond the file is a truncated file, not a
//!    4 GiB allocation).
//! 2. The header text must be UTF-8, at most [`MAX_HEADER_LEN`] bytes (NumPy's own default
//!    limit since 1.24) with brackets nested at most [`MAX_HEADER_NESTING`] deep (a valid
//!    header nests 2 deep; this bounds the work of the literal parser).
//! 3. The dict literal is parsed by the `py_literal` crate (the Python-literal parser NumPy
//!    readers in Rust share; NumPy itself uses `ast.literal_eval`), then interpreted here:
//!    exactly the keys `descr`, `fortran_order` and `shape`; `shape` a tuple or list of
//!    non-negative integers; `descr` a type string parsed by `npyz`'s [`TypeStr`].
//! 4. The dtype must be little-endian `float32` (`<f4`; `|f4` and `=f4` are taken as
//!    little-endian too), or with [`Dtypes::F32OrF64`] also `<f8`, converted to the nearest
//!    `f32`. Fortran order is refused for rank ≥ 2 (it is C order for rank ≤ 1). The file
//!    must hold exactly `product(shape) × itemsize` data bytes (checked arithmetic).
//!
//! Every error names the file (`what`) and says what was expected, e.g.
//! `velocity.npy: expected a 2-D float32 array, found shape [3, 64, 128] float64`.
//! Nothing here panics on any bytes (`fuzz/` checks that).
//!
//! # Writing
//! [`to_bytes`] writes what `numpy.save` writes for a C-order `<f4` array, byte for byte:
//! format 1.0 (2.0 if the header would exceed 65535 bytes), the dict in NumPy's key order
//! and spelling (`(5,)` for rank 1, `()` for rank 0), padded with spaces so that the data
//! start at a multiple of 64 bytes.

use anyhow::{anyhow, bail, Context, Result};
use npyz::{Endianness, TypeChar, TypeStr};
use py_literal::Value;
use std::path::Path;

/// The `.npy` magic string.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Longest header text accepted (NumPy's `max_header_size` default).
pub const MAX_HEADER_LEN: usize = 10_000;
/// Deepest bracket nesting accepted in the header text.
pub const MAX_HEADER_NESTING: usize = 8;

/// An `f32` array read from or to be written to a `.npy` file (C order).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Extent of each axis, slowest first.
    pub shape: Vec<usize>,
    /// `product(shape)` values in C (row-major) order.
    pub data: Vec<f32>,
}

/// Which dtypes a reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtypes {
    /// Little-endian `float32` only.
    F32,
    /// Little-endian `float32` or `float64` (converted to the nearest `f32`).
    F32OrF64,
}

/// Parses a `.npy` file held in memory; `what` names it in errors, `ranks` lists the
/// accepted ranks (any rank if empty).
///
/// # Errors
/// Not a `.npy` file, an unsupported version, a malformed or oversized header, a dtype
/// other than `dtypes`, a rank not in `ranks`, Fortran order (rank ≥ 2), or a data block
/// of the wrong length; the message starts with `what`.
pub fn parse(bytes: &[u8], what: &str, dtypes: Dtypes, ranks: &[usize]) -> Result<Array> {
    let header = Header::parse(bytes).map_err(|e| anyhow!("{what}: not a valid .npy file: {e}"))?;
    let dtype = header.dtype;
    let itemsize = match (&dtype, dtypes) {
        (Ok(t), _) if is_little_float(t, 4) => 4,
        (Ok(t), Dtypes::F32OrF64) if is_little_float(t, 8) => 8,
        _ => 0,
    };
    let rank_ok = ranks.is_empty() || ranks.contains(&header.shape.len());
    if itemsize == 0 || !rank_ok {
        bail!(
            "{what}: expected {} {} array, found shape {:?} {}",
            describe_ranks(ranks),
            match dtypes {
                Dtypes::F32 => "float32",
                Dtypes::F32OrF64 => "float32 or float64",
            },
            header.shape,
            describe_dtype(&dtype)
        );
    }
    let shape = header.shape;
    if header.fortran_order && shape.len() > 1 {
        bail!("{what}: expected C (row-major) order, found Fortran (column-major) order; save it with numpy.ascontiguousarray");
    }
    let count = shape.iter().try_fold(1usize, |a, &n| a.checked_mul(n));
    let Some(expected) = count.and_then(|c| c.checked_mul(itemsize)) else {
        bail!("{what}: shape {shape:?} is too large");
    };
    let data = bytes.get(header.data_start..).unwrap_or(&[]);
    if data.len() != expected {
        bail!(
            "{what}: expected {expected} data bytes for shape {shape:?} {}, found {}{}",
            if itemsize == 4 { "float32" } else { "float64" },
            data.len().min(expected),
            if data.len() > expected {
                " and more (trailing bytes)"
            } else {
                " (truncated file)"
            }
        );
    }
    let data = if itemsize == 4 {
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect()
    };
    Ok(Array { shape, data })
}

/// [`parse`] of little-endian `float32` data.
///
/// # Errors
/// As [`parse`].
pub fn parse_f32(bytes: &[u8], what: &str, ranks: &[usize]) -> Result<Array> {
    parse(bytes, what, Dtypes::F32, ranks)
}

/// Reads an `f32` array of any rank.
///
/// # Errors
/// If the file is missing or unreadable, and as [`parse`]; the message names the file.
pub fn read_f32(path: &Path) -> Result<Array> {
    read(path, Dtypes::F32, &[])
}

/// Reads an `f32` array whose rank is one of `ranks` (any rank if `ranks` is empty).
///
/// # Errors
/// As [`read_f32`], and if the rank is not one of `ranks`.
pub fn read_f32_ranks(path: &Path, ranks: &[usize]) -> Result<Array> {
    read(path, Dtypes::F32, ranks)
}

/// Reads an array of `dtypes` and one of `ranks` (any rank if empty).
///
/// # Errors
/// As [`parse`], and if the file cannot be read.
pub fn read(path: &Path, dtypes: Dtypes, ranks: &[usize]) -> Result<Array> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("{name}: cannot open"))?;
    parse(&bytes, &name, dtypes, ranks)
}

/// A format-1.0 `.npy` file with `dict` as its header, verbatim (padded with spaces and a
/// newline to a multiple of 64 bytes, as numpy pads), followed by `data`: for tests and fuzz
/// seeds, which need headers [`to_bytes`] never writes.
pub fn v1_file(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The bytes of a C-order `<f4` `.npy` file, as `numpy.save` writes them (see the module
/// docs).
///
/// # Errors
/// If `data.len()` is not `product(shape)`.
pub fn to_bytes(shape: &[usize], data: &[f32]) -> Result<Vec<u8>> {
    let count = shape.iter().try_fold(1usize, |a, &n| a.checked_mul(n));
    if count != Some(data.len()) {
        bail!(
            "shape {shape:?} needs {} values, got {}",
            count.map_or("too many".to_string(), |c| c.to_string()),
            data.len()
        );
    }
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    };
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Version 1.0 if the padded header fits a u16, else 2.0 (as numpy.save decides).
    let padded = |prefix: usize| {
        let mut header = dict.clone();
        while !(prefix + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        header
    };
    let (version, header) = match padded(10) {
        h if h.len() <= usize::from(u16::MAX) => (1u8, h),
        _ => (2u8, padded(12)),
    };
    let mut out = Vec::with_capacity(12 + header.len() + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// The parsed header of a `.npy` file.
struct Header {
    /// The `descr` type string (or why it is not one this reader can name).
    dtype: std::result::Result<TypeStr, String>,
    fortran_order: bool,
    shape: Vec<usize>,
    /// Offset of the first data byte.
    data_start: usize,
}

impl Header {
    /// Parses and checks everything up to the data (see the module docs); errors are the
    /// part after "not a valid .npy file: ".
    fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err("the magic string \\x93NUMPY is missing".into());
        }
        let (major, minor) = match bytes.get(6..8) {
            Some(&[major, minor]) => (major, minor),
            _ => return Err("the file ends inside the format version".into()),
        };
        let (len_bytes, start) = match (major, minor) {
            (1, 0) => (2, 10),
            (2, 0) | (3, 0) => (4, 12),
            _ => {
                return Err(format!(
                    "format version {major}.{minor}, expected 1.0, 2.0 or 3.0"
                ))
            }
        };
        let Some(len_field) = bytes.get(8..8 + len_bytes) else {
            return Err("the file ends inside the header length".into());
        };
        let header_len = len_field
            .iter()
            .rev()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let available = bytes.len() - start;
        if header_len > available {
            return Err(format!(
                "truncated header: its length field says {header_len} bytes, the file has {available} after it"
            ));
        }
        if header_len > MAX_HEADER_LEN {
            return Err(format!(
                "header of {header_len} bytes, expected at most {MAX_HEADER_LEN} (NumPy's limit)"
            ));
        }
        let data_start = start + header_len;
        let raw = bytes.get(start..data_start).unwrap_or(&[]);
        let text = std::str::from_utf8(raw).map_err(|_| "the header is not UTF-8 text")?;
        let mut depth = 0usize;
        for c in text.bytes() {
            match c {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_HEADER_NESTING {
                        return Err(format!(
                            "the header nests brackets more than {MAX_HEADER_NESTING} deep"
                        ));
                    }
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        let text = text.strip_suffix('\n').unwrap_or(text);
        let value: Value = text
            .parse()
            .map_err(|e| format!("the header is not a Python literal: {e}"))?;
        let Value::Dict(entries) = value else {
            return Err("the header is not a Python dict".into());
        };
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        for (key, value) in entries {
            let slot = match key.as_string().map(String::as_str) {
                Some("descr") => &mut descr,
                Some("fortran_order") => &mut fortran,
                Some("shape") => &mut shape,
                _ => {
                    return Err(format!(
                        "header key {key}, expected only 'descr', 'fortran_order' and 'shape'"
                    ))
                }
            };
            if slot.replace(value).is_some() {
                return Err(format!("header key {key} appears twice"));
            }
        }
        let missing = |key| format!("the header has no '{key}'");
        let fortran_order = match fortran.ok_or_else(|| missing("fortran_order"))? {
            Value::Boolean(b) => b,
            other => {
                return Err(format!(
                    "'fortran_order' is {other}, expected True or False"
                ))
            }
        };
        let shape = match shape.ok_or_else(|| missing("shape"))? {
            Value::Tuple(dims) | Value::List(dims) => dims
                .iter()
                .map(|d| match d {
                    Value::Integer(n) => usize::try_from(n).map_err(|_| {
                        format!(
                            "shape entry {n}, expected an integer from 0 to {}",
                            usize::MAX
                        )
                    }),
                    other => Err(format!("shape entry {other}, expected an integer")),
                })
                .collect::<std::result::Result<Vec<usize>, String>>()?,
            other => return Err(format!("'shape' is {other}, expected a tuple of integers")),
        };
        let dtype = match descr.ok_or_else(|| missing("descr"))? {
            Value::String(s) => s.parse::<TypeStr>().map_err(|_| format!("dtype '{s}'")),
            Value::List(_) => Err("structured (record) dtype".to_string()),
            other => return Err(format!("'descr' is {other}, expected a type string")),
        };
        Ok(Header {
            dtype,
            fortran_order,
            shape,
            data_start,
        })
    }
}

/// True for a little-endian (or byte-order-free) IEEE float of `size` bytes.
fn is_little_float(t: &TypeStr, size: u64) -> bool {
    t.type_char() == TypeChar::Float && t.size_field() == size && t.endianness() != Endianness::Big
}

/// "a 2-D", "a 2-D or 3-D", or "a" (any rank).
fn describe_ranks(ranks: &[usize]) -> String {
    match ranks {
        [] => "a".to_string(),
        _ => {
            let list: Vec<String> = ranks.iter().map(|r| format!("{r}-D")).collect();
            format!("a {}", list.join(" or "))
        }
    }
}

/// NumPy's name for a dtype (`float64`, `int32`, `big-endian float32`, ...).
fn describe_dtype(dtype: &std::result::Result<TypeStr, String>) -> String {
    let t = match dtype {
        Ok(t) => t,
        Err(text) => return text.clone(),
    };
    let bits = t.size_field().saturating_mul(8);
    let base = match t.type_char() {
        TypeChar::Float => format!("float{bits}"),
        TypeChar::Int => format!("int{bits}"),
        TypeChar::Uint => format!("uint{bits}"),
        TypeChar::Complex => format!("complex{bits}"),
        TypeChar::Bool => "bool".to_string(),
        _ => format!("dtype '{t}'"),
    };
    if t.endianness() == Endianness::Big && t.size_field() > 1 {
        format!("big-endian {base}")
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built `.npy` file (format 1.0) with the given header dict and data bytes.
    fn raw_npy(dict: &str, data: &[u8]) -> Vec<u8> {
        v1_file(dict, data)
    }

    #[test]
    fn writes_what_numpy_save_writes() {
        // numpy.save(np.array([[1, 2]], dtype='<f4')), numpy.save(np.zeros(3, '<f4')) and a
        // 0-d array: the dict in numpy's spelling, padded to 64 bytes.
        assert_eq!(
            to_bytes(&[1, 2], &[1.0, 2.0]).unwrap(),
            raw_npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
                &[0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]
            )
        );
        assert_eq!(
            to_bytes(&[3], &[0.0; 3]).unwrap(),
            raw_npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                &[0; 12]
            )
        );
        assert_eq!(
            to_bytes(&[], &[0.5]).unwrap(),
            raw_npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                &0.5f32.to_le_bytes()
            )
        );
        assert!(to_bytes(&[2, 2], &[0.0; 3]).is_err());
        assert!(to_bytes(&[usize::MAX, 2], &[]).is_err());
    }

    #[test]
    fn round_trips_any_rank_and_versions_2_and_3() {
        for shape in [vec![], vec![5], vec![2, 3], vec![2, 0, 4], vec![1, 2, 1, 3]] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
            let bytes = to_bytes(&shape, &data).unwrap();
            assert_eq!(parse_f32(&bytes, "a", &[]).unwrap(), Array { shape, data });
        }
        // The same header in a version 2.0 and 3.0 file (u32 header length).
        for version in [2u8, 3] {
            let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
            let mut bytes = b"\x93NUMPY".to_vec();
            bytes.extend_from_slice(&[version, 0]);
            bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend_from_slice(&[0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
            assert_eq!(parse_f32(&bytes, "a", &[1]).unwrap().data, [1.0, 2.0]);
        }
    }

    #[test]
    fn float64_converts_only_when_asked() {
        let bytes = raw_npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
            &[0.1f64.to_le_bytes(), (-3.0f64).to_le_bytes()].concat(),
        );
        let array = parse(&bytes, "m.npy", Dtypes::F32OrF64, &[]).unwrap();
        assert_eq!(array.data, [0.1f64 as f32, -3.0]);
        let msg = format!("{:#}", parse_f32(&bytes, "m.npy", &[]).unwrap_err());
        assert_eq!(
            msg,
            "m.npy: expected a float32 array, found shape [2] float64"
        );
        let msg = format!(
            "{:#}",
            parse(&bytes, "m.npy", Dtypes::F32OrF64, &[3]).unwrap_err()
        );
        assert_eq!(
            msg,
            "m.npy: expected a 3-D float32 or float64 array, found shape [2] float64"
        );
    }

    #[test]
    fn malformed_headers_are_errors_naming_the_file() {
        // A version 1.0 file whose header text is `text` (no padding) and no data.
        let v1 = |text: &[u8]| {
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
            bytes.extend_from_slice(text);
            bytes
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not numpy at all".to_vec(), "magic string"),
            (b"\x93NUMPY\x01".to_vec(), "ends inside the format version"),
            (b"\x93NUMPY\x04\x00\x00\x00".to_vec(), "format version 4.0"),
            (
                b"\x93NUMPY\x01\x00\x05".to_vec(),
                "ends inside the header length",
            ),
            (
                b"\x93NUMPY\x02\x00\xff\xff\xff\xff{".to_vec(),
                "truncated header",
            ),
            (v1(b"{'\xff"), "not UTF-8"),
            (v1(b"[[[[[[[[[["), "nests brackets"),
            (v1(b"{,"), "not a Python literal"),
            (v1(b"()"), "not a Python dict"),
            (v1(b"{}"), "has no 'fortran_order'"),
            (v1(b"{'x': 1}"), "header key 'x'"),
            (
                v1(b"{'shape': (-1,), 'fortran_order': False, 'descr': '<f4'}"),
                "shape entry -1",
            ),
            (
                v1(b"{'shape': (), 'shape': (), 'descr': 1}"),
                "'shape' appears twice",
            ),
            (
                v1(b"{'shape': 3, 'fortran_order': False, 'descr': '<f4'}"),
                "'shape' is 3",
            ),
            (
                v1(b"{'shape': (), 'fortran_order': 0, 'descr': '<f4'}"),
                "'fortran_order' is 0",
            ),
        ];
        for (bytes, expected) in cases {
            let msg = format!("{:#}", parse_f32(&bytes, "x.npy", &[]).unwrap_err());
            assert!(
                msg.starts_with("x.npy: not a valid .npy file: ") && msg.contains(expected),
                "{msg}"
            );
        }
        let long = format!("{{{}}}", " ".repeat(MAX_HEADER_LEN));
        let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
        bytes.extend_from_slice(&(long.len() as u32).to_le_bytes());
        bytes.extend_from_slice(long.as_bytes());
        let msg = format!("{:#}", parse_f32(&bytes, "x.npy", &[]).unwrap_err());
        assert!(msg.contains("at most 10000"), "{msg}");
    }

    #[test]
    fn layout_errors_say_what_was_expected() {
        let big = raw_npy(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
            &[],
        );
        let msg = format!("{:#}", parse_f32(&big, "b.npy", &[2]).unwrap_err());
        assert_eq!(
            msg,
            "b.npy: expected a 2-D float32 array, found shape [4294967296, 4294967296] big-endian float32"
        );
        let huge = raw_npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
            &[],
        );
        let msg = format!("{:#}", parse_f32(&huge, "h.npy", &[]).unwrap_err());
        assert!(msg.contains("is too large"), "{msg}");
        let record = raw_npy(
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
            &[0; 8],
        );
        let msg = format!("{:#}", parse_f32(&record, "r.npy", &[]).unwrap_err());
        assert!(
            msg.ends_with("found shape [2] structured (record) dtype"),
            "{msg}"
        );
        let long = raw_npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &[0; 12],
        );
        let msg = format!("{:#}", parse_f32(&long, "l.npy", &[]).unwrap_err());
        assert_eq!(
            msg,
            "l.npy: expected 8 data bytes for shape [2] float32, found 8 and more (trailing bytes)"
        );
        // Fortran order is C order for rank 1.
        let fortran_1d = raw_npy(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
            &[0; 8],
        );
        assert!(parse_f32(&fortran_1d, "f.npy", &[]).is_ok());
    }
}
