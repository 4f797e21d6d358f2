//! Allocation-free, panic-free parser for the [safetensors] weight format.
//!
//! # Format
//! ```text
//! [ N: u64 little-endian ][ N bytes: UTF-8 JSON header ][ data buffer ]
//! ```
//! The header is an object mapping each tensor name to
//! `{"dtype": "F16", "shape": [d0, d1, ...], "data_offsets": [begin, end]}`, plus an optional
//! `"__metadata__": {"key": "value", ...}` of strings. `data_offsets` are relative to the
//! first byte of the data buffer; the tensor's bytes are `data[begin..end]`, little-endian,
//! row-major.
//!
//! # Algorithm
//! [`SafeTensors::parse`] reads the length prefix, checks the header fits in the buffer and
//! is UTF-8, then walks the JSON with the [`json`] tokenizer in a single pass, recording each
//! tensor (name, dtype, shape, offsets) in a fixed-capacity table. It then validates the data
//! layout like the official `safetensors` crate: every tensor's byte size
//! (`product(shape) × dtype size`, with checked arithmetic) equals `end − begin`, and the
//! tensors, sorted by `(begin, end)`, tile the data buffer exactly — each starts where the
//! previous ended, the first at 0, the last ends at the buffer's end (no gaps, no overlaps,
//! no trailing bytes). Only then are the data slices cut. The views borrow the input: no
//! copying, no allocation. Work is linear in the header size plus `O(T²)` name comparisons
//! for duplicate detection over at most [`MAX_TENSORS`] tensors.
//!
//! # Rules enforced (spec, and where this parser is stricter or looser than the official crate)
//! - Header length at most [`MAX_HEADER_LEN`] (100 MB, as the official crate).
//! - The header MUST begin with `{` (spec; the official crate also accepts leading
//!   whitespace). Any JSON whitespace may follow the closing `}` (spec: space padding; the
//!   official crate accepts any JSON whitespace too).
//! - Keys in any order, any JSON whitespace between tokens.
//! - Tensor entries must have exactly the fields `dtype`, `shape`, `data_offsets`; unknown
//!   fields are rejected ([`SafetensorsErrorKind::UnknownField`]) because the spec defines
//!   no others (the official crate ignores them). Repeated fields are rejected (both).
//! - Duplicate tensor names are rejected, as the spec says ("duplicate keys are
//!   disallowed"); the official crate keeps the last one. Duplicate keys *inside*
//!   `__metadata__` are not checked (that would be quadratic in an unbounded count):
//!   [`SafeTensors::metadata`] returns the last one, like the official crate.
//! - `__metadata__` must be an object of string values (spec); the official crate also
//!   accepts `null`.
//! - Tensor names must be escape-free JSON strings ([`SafetensorsErrorKind::EscapedName`]) so
//!   that [`TensorView::name`] can borrow the header; the official crate decodes escapes.
//!   Metadata keys and values may contain escapes: see [`SafeTensors::metadata`].
//! - Numbers: non-negative integers fitting `usize`, no fraction, exponent or sign.
//! - At most [`MAX_TENSORS`] tensors and [`MAX_DIMS`] dimensions per shape (limits of this
//!   parser's fixed tables); dtypes limited to [`Dtype`] (the official crate also knows
//!   sub-byte, FP8 and complex types).
//! - Scalars (`shape: []`) and empty tensors (an extent of 0, `begin == end`) are allowed.
//!
//! # Memory
//! A [`SafeTensors`] holds its table inline: about `MAX_TENSORS × 100` bytes (≈ 50 KiB),
//! so it lives on the caller's stack or in a static.
//!
//! [safetensors]: https://github.com/huggingface/safetensors

mod dtype;
mod error;
pub mod json;
mod tensor;

pub use dtype::Dtype;
pub use error::{Dims, SafetensorsError, SafetensorsErrorKind, ShortName, SHORT_NAME_CAPACITY};
pub use json::{DecodedChars, JsonStr};
pub use tensor::TensorView;

use json::Cursor;
use SafetensorsErrorKind as Kind;

/// Most tensors one buffer may hold.
pub const MAX_TENSORS: usize = 512;
/// Most dimensions a tensor shape may have.
pub const MAX_DIMS: usize = 4;
/// Largest accepted header length in bytes (the official crate's limit).
pub const MAX_HEADER_LEN: u64 = 100_000_000;
/// Byte length of the header-length prefix.
pub const PREFIX_LEN: usize = 8;
/// The reserved header key holding string metadata.
pub const METADATA_KEY: &str = "__metadata__";

/// A parsed safetensors buffer: the tensor table and the raw metadata, borrowing the bytes.
#[derive(Debug, Clone)]
pub struct SafeTensors<'a> {
    tensors: heapless::Vec<TensorView<'a>, MAX_TENSORS>,
    /// The `__metadata__` object's JSON text (`{...}`), validated; empty if absent.
    metadata: &'a str,
    header_len: usize,
}

impl<'a> SafeTensors<'a> {
    /// Parses and validates a whole safetensors buffer (length prefix, header and data).
    ///
    /// # Errors
    /// A [`SafetensorsError`] naming the problem (and the tensor, when one is concerned); see
    /// the module docs for the rules. Never panics, whatever the bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SafetensorsError> {
        let prefix: [u8; PREFIX_LEN] = bytes
            .get(..PREFIX_LEN)
            .and_then(|p| p.try_into().ok())
            .ok_or(Kind::TooShort {
                needed: PREFIX_LEN as u64,
                available: bytes.len(),
            })?;
        let header_len = u64::from_le_bytes(prefix);
        if header_len > MAX_HEADER_LEN {
            return Err(Kind::HeaderTooLarge { header_len }.into());
        }
        let too_short = Kind::TooShort {
            needed: header_len + PREFIX_LEN as u64,
            available: bytes.len(),
        };
        let header_end = usize::try_from(header_len)
            .ok()
            .and_then(|n| n.checked_add(PREFIX_LEN))
            .ok_or(too_short)?;
        let header = bytes.get(PREFIX_LEN..header_end).ok_or(too_short)?;
        let data = bytes.get(header_end..).ok_or(too_short)?;
        let text = core::str::from_utf8(header).map_err(|e| {
            SafetensorsError::new(Kind::InvalidUtf8 {
                offset: e.valid_up_to(),
            })
        })?;

        let mut parsed = SafeTensors {
            tensors: heapless::Vec::new(),
            metadata: "",
            header_len: header.len(),
        };
        parsed.parse_header(text)?;
        parsed.validate_layout(data)?;
        Ok(parsed)
    }

    /// Walks the header object, filling the tensor table and the metadata slice.
    fn parse_header(&mut self, text: &'a str) -> Result<(), SafetensorsError> {
        let mut cursor = Cursor::new(text);
        if !text.starts_with('{') {
            return Err(cursor.error("`{` as the header's first byte"));
        }
        cursor.expect_byte(b'{', "`{`")?;
        let mut seen_metadata = false;
        let mut first = true;
        while cursor.next_element(b'}', &mut first, "`,` or `}` after a header entry")? {
            let key = cursor.string("a tensor name (a string) or `}`")?;
            cursor.expect_byte(b':', "`:` after a header key")?;
            if key.eq_str(METADATA_KEY) {
                if seen_metadata {
                    return Err(SafetensorsError::named(Kind::DuplicateName, METADATA_KEY));
                }
                seen_metadata = true;
                self.metadata = parse_metadata(&mut cursor)?;
                continue;
            }
            let Some(name) = key.as_str() else {
                return Err(SafetensorsError::named(Kind::EscapedName, key.raw()));
            };
            let tensor = parse_tensor_entry(&mut cursor, name).map_err(|e| SafetensorsError {
                name: e.name.or(Some(ShortName::new(name))),
                ..e
            })?;
            if self.tensors.iter().any(|t| t.name == name) {
                return Err(SafetensorsError::named(Kind::DuplicateName, name));
            }
            self.tensors
                .push(tensor)
                .map_err(|_| SafetensorsError::named(Kind::TooManyTensors, name))?;
        }
        if !cursor.at_end() {
            return Err(cursor.error("only whitespace after the header object"));
        }
        Ok(())
    }

    /// Checks sizes and the exact tiling of `data`, then cuts each tensor's slice.
    fn validate_layout(&mut self, data: &'a [u8]) -> Result<(), SafetensorsError> {
        let mut order: heapless::Vec<u16, MAX_TENSORS> = heapless::Vec::new();
        for (index, tensor) in self.tensors.iter().enumerate() {
            let named = |kind| SafetensorsError::named(kind, tensor.name);
            let (begin, end) = tensor.data_offsets;
            let bytes = tensor
                .shape
                .iter()
                .try_fold(1usize, |acc, &extent| acc.checked_mul(extent))
                .and_then(|numel| numel.checked_mul(tensor.dtype.size_in_bytes()))
                .ok_or_else(|| named(Kind::ShapeOverflow))?;
            let Some(found_bytes) = end.checked_sub(begin) else {
                return Err(named(Kind::OffsetsReversed { begin, end }));
            };
            if found_bytes != bytes {
                return Err(named(Kind::OffsetsMismatchShape {
                    expected_bytes: bytes,
                    found_bytes,
                }));
            }
            if end > data.len() {
                return Err(named(Kind::OffsetsOutOfBounds {
                    end,
                    data_len: data.len(),
                }));
            }
            // MAX_TENSORS fits u16 and the table never exceeds it, so neither step can fail.
            let index = u16::try_from(index).map_err(|_| named(Kind::TooManyTensors))?;
            order.push(index).map_err(|_| named(Kind::TooManyTensors))?;
        }
        let offsets_of = |i: &u16| self.tensors.get(usize::from(*i)).map(|t| t.data_offsets);
        order.sort_unstable_by_key(|i| (offsets_of(i), *i));

        let mut covered = 0;
        for i in &order {
            let Some(tensor) = self.tensors.get(usize::from(*i)) else {
                continue;
            };
            let (begin, end) = tensor.data_offsets;
            if begin != covered {
                return Err(SafetensorsError::named(
                    Kind::OverlappingOrGappedData {
                        expected_begin: covered,
                        found_begin: begin,
                    },
                    tensor.name,
                ));
            }
            covered = end;
        }
        if covered != data.len() {
            return Err(Kind::UncoveredTrailingData {
                covered,
                data_len: data.len(),
            }
            .into());
        }
        for tensor in self.tensors.iter_mut() {
            let (begin, end) = tensor.data_offsets;
            let out_of_bounds = Kind::OffsetsOutOfBounds {
                end,
                data_len: data.len(),
            };
            tensor.data = data
                .get(begin..end)
                .ok_or_else(|| SafetensorsError::named(out_of_bounds, tensor.name))?;
        }
        Ok(())
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the buffer holds no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Length of the JSON header in bytes (the data buffer starts at `8 + header_len()`).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&TensorView<'a>> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// All tensors, in header order.
    pub fn tensors(&self) -> impl Iterator<Item = &TensorView<'a>> {
        self.tensors.iter()
    }

    /// The value of `__metadata__` entry `key` (compared after decoding JSON escapes in the
    /// stored keys).
    ///
    /// Returns `None` if there is no such entry **or if its value contains JSON escape
    /// sequences** (`\"`, `\n`, `\uXXXX`, ...), which cannot be returned as a borrowed `&str`;
    /// use [`metadata_entry`](Self::metadata_entry) and [`JsonStr::decode_into`] for those.
    /// With repeated keys the last one wins.
    pub fn metadata(&self, key: &str) -> Option<&'a str> {
        self.metadata_entry(key)?.as_str()
    }

    /// The raw value of `__metadata__` entry `key` (last one if repeated), escapes undecoded.
    pub fn metadata_entry(&self, key: &str) -> Option<JsonStr<'a>> {
        self.metadata_entries()
            .filter(|(k, _)| k.eq_str(key))
            .last()
            .map(|(_, v)| v)
    }

    /// All `__metadata__` entries as raw `(key, value)` strings, in header order.
    pub fn metadata_entries(&self) -> MetadataEntries<'a> {
        let mut cursor = Cursor::new(self.metadata);
        let open = cursor.expect_byte(b'{', "`{`").is_ok();
        MetadataEntries {
            cursor,
            first: true,
            done: !open,
        }
    }

    /// Validates a tensor the caller expects: it exists, has `dtype` and exactly `shape`, and
    /// (for floating-point dtypes) holds only finite values.
    ///
    /// # Errors
    /// [`NotFound`](SafetensorsErrorKind::NotFound),
    /// [`WrongDtype`](SafetensorsErrorKind::WrongDtype),
    /// [`WrongShape`](SafetensorsErrorKind::WrongShape) or
    /// [`NonFinite`](SafetensorsErrorKind::NonFinite), naming the tensor.
    pub fn expect(
        &self,
        name: &str,
        dtype: Dtype,
        shape: &[usize],
    ) -> Result<&TensorView<'a>, SafetensorsError> {
        let tensor = self
            .get(name)
            .ok_or_else(|| SafetensorsError::named(Kind::NotFound, name))?;
        tensor.check_dtype_shape(dtype, shape)?;
        tensor.check_finite()?;
        Ok(tensor)
    }
}

/// Iterator over the `__metadata__` entries of a [`SafeTensors`] (see
/// [`SafeTensors::metadata_entries`]).
#[derive(Clone)]
pub struct MetadataEntries<'a> {
    cursor: Cursor<'a>,
    first: bool,
    done: bool,
}

impl<'a> Iterator for MetadataEntries<'a> {
    type Item = (JsonStr<'a>, JsonStr<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // The object was validated by the parser; any error (impossible) just ends iteration.
        let entry = (|| {
            if !self.cursor.next_element(b'}', &mut self.first, "").ok()? {
                return None;
            }
            let key = self.cursor.string("").ok()?;
            self.cursor.expect_byte(b':', "").ok()?;
            let value = self.cursor.string("").ok()?;
            Some((key, value))
        })();
        self.done = entry.is_none();
        entry
    }
}

/// Parses the `__metadata__` object (string values only) and returns its JSON text.
fn parse_metadata<'a>(cursor: &mut Cursor<'a>) -> Result<&'a str, SafetensorsError> {
    cursor.skip_whitespace();
    let start = cursor.pos();
    cursor
        .expect_byte(b'{', "an object of string values for `__metadata__`")
        .map_err(|e| SafetensorsError {
            name: Some(ShortName::new(METADATA_KEY)),
            ..e
        })?;
    let mut first = true;
    while cursor.next_element(b'}', &mut first, "`,` or `}` in `__metadata__`")? {
        let key = cursor.string("a metadata key (a string) or `}`")?;
        cursor.expect_byte(b':', "`:` after a metadata key")?;
        cursor
            .string("a string value (metadata values must be strings)")
            .map_err(|e| SafetensorsError::named(e.kind, key.raw()))?;
    }
    Ok(cursor.slice(start, cursor.pos()))
}

/// Parses one tensor entry `{"dtype": .., "shape": [..], "data_offsets": [b, e]}`; data not
/// attached yet.
fn parse_tensor_entry<'a>(
    cursor: &mut Cursor<'a>,
    name: &'a str,
) -> Result<TensorView<'a>, SafetensorsError> {
    const DTYPE: &str = "dtype";
    const SHAPE: &str = "shape";
    const OFFSETS: &str = "data_offsets";
    let named = |kind| SafetensorsError::named(kind, name);
    cursor.expect_byte(b'{', "an object with `dtype`, `shape` and `data_offsets`")?;
    let mut dtype = None;
    let mut shape: Option<heapless::Vec<usize, MAX_DIMS>> = None;
    let mut offsets = None;
    let mut first = true;
    while cursor.next_element(b'}', &mut first, "`,` or `}` in a tensor entry")? {
        let field = cursor.string("a field name (`dtype`, `shape` or `data_offsets`) or `}`")?;
        cursor.expect_byte(b':', "`:` after a field name")?;
        if field.eq_str(DTYPE) {
            if dtype.is_some() {
                return Err(named(Kind::DuplicateField(DTYPE)));
            }
            let value = cursor.string("a dtype string such as \"F16\"")?;
            let found = Dtype::ALL.into_iter().find(|d| value.eq_str(d.as_str()));
            dtype = Some(found.ok_or(named(Kind::UnknownDtype))?);
        } else if field.eq_str(SHAPE) {
            if shape.is_some() {
                return Err(named(Kind::DuplicateField(SHAPE)));
            }
            let mut extents = heapless::Vec::new();
            cursor.expect_byte(b'[', "`[` starting the shape")?;
            let mut first_extent = true;
            while cursor.next_element(b']', &mut first_extent, "`,` or `]` in the shape")? {
                let extent = cursor.usize()?;
                extents.push(extent).map_err(|_| named(Kind::TooManyDims))?;
            }
            shape = Some(extents);
        } else if field.eq_str(OFFSETS) {
            if offsets.is_some() {
                return Err(named(Kind::DuplicateField(OFFSETS)));
            }
            cursor.expect_byte(b'[', "`[` starting data_offsets")?;
            let begin = cursor.usize()?;
            cursor.expect_byte(b',', "`,` (data_offsets holds exactly two integers)")?;
            let end = cursor.usize()?;
            cursor.expect_byte(b']', "`]` (data_offsets holds exactly two integers)")?;
            offsets = Some((begin, end));
        } else {
            return Err(named(Kind::UnknownField));
        }
    }
    Ok(TensorView {
        name,
        dtype: dtype.ok_or(named(Kind::MissingField(DTYPE)))?,
        shape: shape.ok_or(named(Kind::MissingField(SHAPE)))?,
        data: &[],
        data_offsets: offsets.ok_or(named(Kind::MissingField(OFFSETS)))?,
    })
}

#[cfg(test)]
mod tests;
