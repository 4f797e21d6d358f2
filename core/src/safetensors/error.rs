//! The safetensors parser's error: a `Copy` value naming the tensor (or metadata key) concerned
//! and what was wrong with it, with a `Display` that reads as one sentence.
//!
//! Names are kept in a fixed 56-byte buffer ([`ShortName`]) so that the error stays `Copy`,
//! allocation-free and small (`size_of::<SafetensorsError>() == 112` on 64-bit targets, so
//! `powerpost_core::Error` stays under clippy's 128-byte `result_large_err` bar); longer names
//! are cut at a character boundary and end in `…`. Shapes are kept in [`Dims`], which stores
//! up to [`MAX_DIMS`] extents as `u32` (larger extents saturate to `u32::MAX` and display as
//! `4294967295+`) plus the true rank.

use core::fmt;

use super::dtype::Dtype;
use super::MAX_DIMS;

/// Capacity in bytes of a [`ShortName`].
pub const SHORT_NAME_CAPACITY: usize = 56;

/// A tensor or metadata-key name of at most [`SHORT_NAME_CAPACITY`] bytes, truncated with `…`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortName {
    bytes: [u8; SHORT_NAME_CAPACITY],
    len: u8,
}

impl ShortName {
    /// Copies `name`, cutting it at a character boundary and appending `…` if it does not fit.
    pub fn new(name: &str) -> Self {
        let mut out = ShortName {
            bytes: [0; SHORT_NAME_CAPACITY],
            len: 0,
        };
        if name.len() <= SHORT_NAME_CAPACITY {
            out.push_str(name);
        } else {
            const ELLIPSIS: &str = "…";
            let mut cut = SHORT_NAME_CAPACITY - ELLIPSIS.len();
            while cut > 0 && !name.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(name.get(..cut).unwrap_or(""));
            out.push_str(ELLIPSIS);
        }
        out
    }

    /// Appends `s` if it fits entirely (callers size it so that it always does).
    fn push_str(&mut self, s: &str) {
        let start = usize::from(self.len);
        if let Some(dst) = self.bytes.get_mut(start..start + s.len()) {
            dst.copy_from_slice(s.as_bytes());
            self.len += s.len() as u8;
        }
    }

    /// The (possibly truncated) name.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        // Only whole `&str`s cut at char boundaries are ever copied in.
        core::str::from_utf8(bytes).unwrap_or("")
    }
}

impl fmt::Debug for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tensor shape inside an error: the first [`MAX_DIMS`] extents and the true rank.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    extents: [u32; MAX_DIMS],
    rank: u32,
}

impl Dims {
    /// Records `shape` (extents beyond the first [`MAX_DIMS`] are dropped; the rank is kept).
    pub fn new(shape: &[usize]) -> Self {
        let mut extents = [0; MAX_DIMS];
        for (dst, &src) in extents.iter_mut().zip(shape) {
            *dst = u32::try_from(src).unwrap_or(u32::MAX);
        }
        Dims {
            extents,
            rank: u32::try_from(shape.len()).unwrap_or(u32::MAX),
        }
    }

    /// The true number of dimensions of the recorded shape.
    pub fn rank(&self) -> usize {
        self.rank as usize
    }

    /// The recorded extents (all of them when `rank() <= MAX_DIMS`, else the first `MAX_DIMS`),
    /// each saturated to `u32::MAX`.
    pub fn extents(&self) -> &[u32] {
        self.extents.get(..self.rank().min(MAX_DIMS)).unwrap_or(&[])
    }
}

impl fmt::Debug for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, extent) in self.extents().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if *extent == u32::MAX {
                write!(f, "{extent}+")?;
            } else {
                write!(f, "{extent}")?;
            }
        }
        if self.rank() > MAX_DIMS {
            write!(f, ", … ({} dims)", self.rank)?;
        }
        f.write_str("]")
    }
}

/// What went wrong while parsing or checking a safetensors buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SafetensorsErrorKind {
    /// The buffer is shorter than the 8-byte length prefix plus the header it announces.
    TooShort {
        /// Bytes the prefix and header need (8 + header length).
        needed: u64,
        /// Bytes available.
        available: usize,
    },
    /// The header length exceeds [`super::MAX_HEADER_LEN`].
    HeaderTooLarge {
        /// The announced header length.
        header_len: u64,
    },
    /// The header is not valid UTF-8.
    InvalidUtf8 {
        /// Byte offset in the header of the first invalid byte.
        offset: usize,
    },
    /// The header is not the expected JSON.
    Json {
        /// Byte offset in the header where parsing stopped.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// A JSON string contains an escape sequence where only escape-free strings are supported
    /// (tensor names).
    EscapedName,
    /// A `dtype` is not one of [`Dtype`]'s names.
    UnknownDtype,
    /// More than [`super::MAX_TENSORS`] tensors.
    TooManyTensors,
    /// A shape has more than [`MAX_DIMS`] dimensions.
    TooManyDims,
    /// Two tensors (or two `__metadata__` objects) have the same name.
    DuplicateName,
    /// A tensor entry repeats one of its fields.
    DuplicateField(&'static str),
    /// A tensor entry has a field other than `dtype`, `shape` and `data_offsets`.
    UnknownField,
    /// A tensor entry lacks a field.
    MissingField(&'static str),
    /// The product of a shape's extents, or its byte size, overflows `usize`.
    ShapeOverflow,
    /// `data_offsets` has `begin > end`.
    OffsetsReversed {
        /// Start offset.
        begin: usize,
        /// One-past-the-end offset.
        end: usize,
    },
    /// `data_offsets` points past the end of the data buffer.
    OffsetsOutOfBounds {
        /// One-past-the-end offset.
        end: usize,
        /// Length of the data buffer (the bytes after the header).
        data_len: usize,
    },
    /// `end - begin` differs from the shape's size times the dtype's size.
    OffsetsMismatchShape {
        /// Bytes implied by dtype and shape.
        expected_bytes: usize,
        /// Bytes covered by `data_offsets`.
        found_bytes: usize,
    },
    /// Tensors, taken in order of their offsets, do not tile the data buffer: a tensor does
    /// not start where the previous one ends.
    OverlappingOrGappedData {
        /// Where the tensor should start (end of the previous tensor).
        expected_begin: usize,
        /// Where it starts.
        found_begin: usize,
    },
    /// The tensors cover only the first `covered` bytes of the data buffer.
    UncoveredTrailingData {
        /// Bytes covered by tensors.
        covered: usize,
        /// Length of the data buffer.
        data_len: usize,
    },
    /// No tensor of that name.
    NotFound,
    /// The tensor has another dtype.
    WrongDtype {
        /// The dtype the caller expects.
        expected: Dtype,
        /// The tensor's dtype.
        found: Dtype,
    },
    /// The tensor has another shape.
    WrongShape {
        /// The shape the caller expects.
        expected: Dims,
        /// The tensor's shape.
        found: Dims,
    },
    /// The tensor holds a NaN or infinity.
    NonFinite {
        /// Flat (row-major) index of the first non-finite element.
        index: usize,
    },
    /// A caller-provided output buffer has the wrong length.
    BufferLength {
        /// Needed length (the tensor's element count).
        expected: usize,
        /// Given length.
        actual: usize,
    },
}

/// A safetensors error: what went wrong and, if any, the tensor or metadata key concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafetensorsError {
    /// What went wrong.
    pub kind: SafetensorsErrorKind,
    /// The tensor (or metadata key) concerned, truncated to [`SHORT_NAME_CAPACITY`] bytes.
    pub name: Option<ShortName>,
}

impl SafetensorsError {
    /// An error not tied to one tensor.
    pub fn new(kind: SafetensorsErrorKind) -> Self {
        SafetensorsError { kind, name: None }
    }

    /// An error about the tensor (or metadata key) `name`.
    pub fn named(kind: SafetensorsErrorKind, name: &str) -> Self {
        SafetensorsError {
            kind,
            name: Some(ShortName::new(name)),
        }
    }

    /// The name of the tensor (or metadata key) concerned, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_ref().map(ShortName::as_str)
    }
}

impl From<SafetensorsErrorKind> for SafetensorsError {
    fn from(kind: SafetensorsErrorKind) -> Self {
        SafetensorsError::new(kind)
    }
}

impl fmt::Display for SafetensorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SafetensorsErrorKind as K;
        if let Some(name) = &self.name {
            write!(f, "tensor `{name}`: ")?;
        }
        match self.kind {
            K::TooShort { needed, available } => write!(
                f,
                "file too short: length prefix and header need {needed} bytes, found {available}"
            ),
            K::HeaderTooLarge { header_len } => write!(
                f,
                "header length {header_len} exceeds the limit of {} bytes",
                super::MAX_HEADER_LEN
            ),
            K::InvalidUtf8 { offset } => write!(f, "header is not UTF-8 at byte {offset}"),
            K::Json { offset, expected } => {
                write!(f, "header JSON at byte {offset}: expected {expected}")
            }
            K::EscapedName => f.write_str("tensor names with JSON escape sequences are not supported"),
            K::UnknownDtype => f.write_str(
                "unknown dtype (expected one of F16, BF16, F32, F64, I8, U8, I16, U16, I32, U32, I64, U64, BOOL)",
            ),
            K::TooManyTensors => {
                write!(f, "more than {} tensors", super::MAX_TENSORS)
            }
            K::TooManyDims => write!(f, "shape has more than {MAX_DIMS} dimensions"),
            K::DuplicateName => f.write_str("name appears twice in the header"),
            K::DuplicateField(field) => write!(f, "field `{field}` appears twice"),
            K::UnknownField => f.write_str(
                "unknown field (expected only `dtype`, `shape` and `data_offsets`)",
            ),
            K::MissingField(field) => write!(f, "missing field `{field}`"),
            K::ShapeOverflow => f.write_str("shape's element or byte count overflows usize"),
            K::OffsetsReversed { begin, end } => {
                write!(f, "data_offsets [{begin}, {end}] has begin after end")
            }
            K::OffsetsOutOfBounds { end, data_len } => write!(
                f,
                "data_offsets end {end} lies beyond the {data_len}-byte data buffer"
            ),
            K::OffsetsMismatchShape { expected_bytes, found_bytes } => write!(
                f,
                "data_offsets cover {found_bytes} bytes, dtype and shape need {expected_bytes}"
            ),
            K::OverlappingOrGappedData { expected_begin, found_begin } => write!(
                f,
                "data starts at byte {found_begin}, expected {expected_begin} \
                 (tensor data must tile the buffer without gaps or overlaps)"
            ),
            K::UncoveredTrailingData { covered, data_len } => write!(
                f,
                "tensors cover only {covered} of the {data_len} data bytes"
            ),
            K::NotFound => f.write_str("not found"),
            K::WrongDtype { expected, found } => {
                write!(f, "dtype {expected} expected, found {found}")
            }
            K::WrongShape { expected, found } => {
                write!(f, "shape {expected} expected, found {found}")
            }
            K::NonFinite { index } => write!(f, "element {index} is NaN or infinite"),
            K::BufferLength { expected, actual } => write!(
                f,
                "output buffer has length {actual}, expected {expected} (the element count)"
            ),
        }
    }
}

impl core::error::Error for SafetensorsError {}
