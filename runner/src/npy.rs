//! `.npy` files of `f32` (little-endian, C order) of any rank.
//!
//! Headers are parsed and written by the `npyz` crate; the data block is read in one go and
//! converted with `f32::from_le_bytes`, after checking that the dtype is `<f4`, the order is
//! C and the file holds exactly `product(shape) · 4` data bytes. Every error names the file
//! and says what was expected, e.g.
//! `velocity.npy: expected a 2-D float32 array, found shape [3, 64, 128] float64`.

use crate::atomic;
use anyhow::{bail, Context, Result};
use npyz::{DType, TypeChar, WriterBuilder};
use std::io::{BufReader, Read, Write};
use std::path::Path;

/// An `f32` array read from or to be written to a `.npy` file (C order).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Extent of each axis, slowest first.
    pub shape: Vec<usize>,
    /// `product(shape)` values in C (row-major) order.
    pub data: Vec<f32>,
}

/// Reads an `f32` array of any rank.
///
/// # Errors
/// If the file is missing or unreadable, not a `.npy` file, not `<f4`, in Fortran order, or
/// truncated; the message names the file.
pub fn read_f32(path: &Path) -> Result<Array> {
    read_f32_ranks(path, &[])
}

/// Reads an `f32` array whose rank is one of `ranks` (any rank if `ranks` is empty).
///
/// # Errors
/// As [`read_f32`], and if the rank is not one of `ranks`.
pub fn read_f32_ranks(path: &Path, ranks: &[usize]) -> Result<Array> {
    let name = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?;
    let mut reader = BufReader::new(file);
    let header = npyz::NpyHeader::from_reader(&mut reader)
        .with_context(|| format!("{name}: not a valid .npy file"))?;
    let shape: Vec<usize> = header.shape().iter().map(|&n| n as usize).collect();
    let dtype = header.dtype();
    let is_f32 = matches!(&dtype, DType::Plain(t)
        if t.type_char() == TypeChar::Float && t.size_field() == 4 && t.endianness() != npyz::Endianness::Big);
    let rank_ok = ranks.is_empty() || ranks.contains(&shape.len());
    if !is_f32 || !rank_ok {
        bail!(
            "{name}: expected {} float32 array, found shape {:?} {}",
            describe_ranks(ranks),
            shape,
            describe_dtype(&dtype)
        );
    }
    if header.order() == npyz::Order::Fortran && shape.len() > 1 {
        bail!("{name}: expected C (row-major) order, found Fortran (column-major) order; save it with numpy.ascontiguousarray");
    }
    let count = shape.iter().try_fold(1usize, |a, &n| a.checked_mul(n));
    let Some(bytes) = count.and_then(|c| c.checked_mul(4)) else {
        bail!("{name}: shape {shape:?} is too large");
    };
    let mut raw = Vec::with_capacity(bytes);
    reader
        .take(bytes as u64 + 1)
        .read_to_end(&mut raw)
        .with_context(|| format!("{name}: cannot read the data"))?;
    if raw.len() != bytes {
        bail!(
            "{name}: expected {bytes} data bytes for shape {shape:?} float32, found {}{}",
            raw.len().min(bytes),
            if raw.len() > bytes {
                " and more (trailing bytes)"
            } else {
                " (truncated file)"
            }
        );
    }
    let data = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Array { shape, data })
}

/// Writes an `f32` array atomically.
///
/// # Errors
/// If `data.len()` is not `product(shape)` or the file cannot be written.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let count: usize = shape.iter().product();
    if count != data.len() {
        bail!(
            "{}: shape {shape:?} needs {count} values, got {}",
            path.display(),
            data.len()
        );
    }
    atomic::write_atomic(path, |w| encode_f32(w, shape, data))
}

/// Encodes an `f32` array as `.npy` into `w`.
///
/// # Errors
/// If `w` fails.
pub fn encode_f32(w: &mut dyn Write, shape: &[usize], data: &[f32]) -> Result<()> {
    let shape: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
    let dtype = DType::Plain("<f4".parse().expect("valid type string"));
    let mut writer = npyz::WriteOptions::<f32>::new()
        .dtype(dtype)
        .shape(&shape)
        .writer(w)
        .begin_nd()?;
    writer.extend(data.iter().copied())?;
    writer.finish()?;
    Ok(())
}

/// "a 2-D", "a 2-D or 3-D", or "an" (any rank).
fn describe_ranks(ranks: &[usize]) -> String {
    match ranks {
        [] => "an".to_string(),
        _ => {
            let list: Vec<String> = ranks.iter().map(|r| format!("{r}-D")).collect();
            format!("a {}", list.join(" or "))
        }
    }
}

/// numpy's name for a dtype (`float64`, `int32`, `big-endian float32`, ...).
fn describe_dtype(dtype: &DType) -> String {
    match dtype {
        DType::Plain(t) => {
            let bits = t.size_field() * 8;
            let base = match t.type_char() {
                TypeChar::Float => format!("float{bits}"),
                TypeChar::Int => format!("int{bits}"),
                TypeChar::Uint => format!("uint{bits}"),
                TypeChar::Complex => format!("complex{bits}"),
                TypeChar::Bool => "bool".to_string(),
                _ => format!("dtype '{t}'"),
            };
            if t.endianness() == npyz::Endianness::Big && t.size_field() > 1 {
                format!("big-endian {base}")
            } else {
                base
            }
        }
        DType::Array(..) => "array dtype".to_string(),
        DType::Record(_) => "structured (record) dtype".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built `.npy` file (format 1.0) with the given header dict and data bytes.
    fn raw_npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn round_trip_any_rank() {
        let dir = tempfile::tempdir().unwrap();
        for shape in [vec![5], vec![2, 3], vec![2, 3, 4], vec![1, 2, 1, 3]] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
            let path = dir.path().join("a.npy");
            write_f32(&path, &shape, &data).unwrap();
            let back = read_f32(&path).unwrap();
            assert_eq!(back, Array { shape, data });
        }
    }

    #[test]
    fn written_bytes_match_numpys_layout() {
        // Independent reference: numpy.save of np.array([[1, 2]], dtype='<f4') writes this
        // header dict (version 1.0, padded to 64 bytes) followed by the raw little-endian data.
        let mut bytes = Vec::new();
        encode_f32(&mut bytes, &[1, 2], &[1.0, 2.0]).unwrap();
        let expected = raw_npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
            &[0, 0, 0x80, 0x3f, 0, 0, 0, 0x40],
        );
        // The format requires the data to start on a 16-byte boundary (numpy pads to 64).
        assert_eq!((bytes.len() - 8) % 16, 0);
        let (h_got, d_got) = bytes.split_at(bytes.len() - 8);
        let (h_exp, d_exp) = expected.split_at(expected.len() - 8);
        assert_eq!(d_got, d_exp);
        assert_eq!(&h_got[..8], &h_exp[..8]);
        let text = String::from_utf8_lossy(&h_got[10..]);
        assert!(
            text.contains("'descr': '<f4'")
                && text.contains("'fortran_order': False")
                && text.contains("'shape': (1, 2"),
            "{text}"
        );
    }

    #[test]
    fn errors_name_the_file_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let f64_path = dir.path().join("velocity.npy");
        std::fs::write(
            &f64_path,
            raw_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 64, 128), }",
                &[],
            ),
        )
        .unwrap();
        let msg = format!("{:#}", read_f32_ranks(&f64_path, &[2]).unwrap_err());
        assert!(
            msg.contains(
                "velocity.npy: expected a 2-D float32 array, found shape [3, 64, 128] float64"
            ),
            "{msg}"
        );

        let rank_path = dir.path().join("rank.npy");
        write_f32(&rank_path, &[4], &[0.0; 4]).unwrap();
        let msg = format!("{:#}", read_f32_ranks(&rank_path, &[2, 3]).unwrap_err());
        assert!(
            msg.contains("rank.npy: expected a 2-D or 3-D float32 array, found shape [4] float32"),
            "{msg}"
        );

        let short = dir.path().join("short.npy");
        std::fs::write(
            &short,
            raw_npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                &[0; 12],
            ),
        )
        .unwrap();
        let msg = format!("{:#}", read_f32(&short).unwrap_err());
        assert!(
            msg.contains("short.npy: expected 16 data bytes") && msg.contains("truncated"),
            "{msg}"
        );

        let fortran = dir.path().join("f.npy");
        std::fs::write(
            &fortran,
            raw_npy(
                "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                &[0; 16],
            ),
        )
        .unwrap();
        assert!(format!("{:#}", read_f32(&fortran).unwrap_err())
            .contains("f.npy: expected C (row-major) order"));

        let junk = dir.path().join("junk.npy");
        std::fs::write(&junk, b"not numpy at all").unwrap();
        assert!(format!("{:#}", read_f32(&junk).unwrap_err())
            .starts_with(&format!("{}: not a valid .npy file", junk.display())));

        let missing = dir.path().join("missing.npy");
        assert!(
            format!("{:#}", read_f32(&missing).unwrap_err()).contains("missing.npy: cannot open")
        );
    }
}
