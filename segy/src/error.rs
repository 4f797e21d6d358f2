//! Errors: what went wrong, where (file, part, trace, header field) and what was expected.
//!
//! An [`Error`] is an [`ErrorKind`] plus, when the caller gave one, the file's path;
//! it displays as `path: what went wrong`. Trace indices count from 0 in file order.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::field::Field;
use crate::header::binary_field;

/// A part of a file, for truncation errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The 3200-byte textual header.
    TextualHeader,
    /// The 400-byte binary header.
    BinaryHeader,
    /// Extended textual header number `n` (from 0).
    ExtendedTextualHeader(usize),
    /// Trace `index` (header and samples).
    Trace(usize),
}

impl fmt::Display for Part {
    /// A phrase naming the part.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::TextualHeader => write!(f, "the textual header (bytes 1–3200)"),
            Part::BinaryHeader => write!(f, "the binary header (bytes 3201–3600)"),
            Part::ExtendedTextualHeader(n) => write!(f, "extended textual header {n}"),
            Part::Trace(i) => write!(f, "trace index {i}"),
        }
    }
}

/// `"trace index {i}: "` or nothing.
fn trace_prefix(trace: &Option<usize>) -> String {
    trace.map_or(String::new(), |i| format!("trace index {i}: "))
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The operating system refused a read or write.
    #[error("cannot {action}: {error}")]
    Io {
        /// What was being done (`read`, `write`, …).
        action: String,
        /// The system's error.
        error: std::io::Error,
    },
    /// The file ends inside a part.
    #[error("the file ends inside {part}: expected {expected} bytes there, found {found}")]
    Truncated {
        /// Where the file ends.
        part: Part,
        /// Bytes that part needs.
        expected: u64,
        /// Bytes of it present.
        found: u64,
    },
    /// A header field holds a value the reader or writer cannot accept.
    #[error("{}{field} is {found}, expected {expected}", trace_prefix(.trace))]
    Field {
        /// The trace whose header it is, if a trace header.
        trace: Option<usize>,
        /// The field.
        field: Field,
        /// Its value.
        found: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A sample format this crate does not handle.
    #[error("{} is {code} ({}): unsupported; expected 1 (4-byte IBM float), 2 (4-byte integer), 3 (2-byte integer), 5 (4-byte IEEE float) or 8 (1-byte integer)", binary_field::format_code, crate::format::format_name(*.code))]
    UnsupportedFormat {
        /// The data sample format code.
        code: i16,
    },
    /// Neither byte order gives a plausible format code and there is no byte-order word.
    #[error("cannot tell the byte order: {} reads as {big_endian} big-endian and {little_endian} little-endian, expected a code from 1 to 16 in one of them, and the byte-order word (binary header bytes 3297–3300) is {word:#010x}, expected 0x01020304 or 0x04030201", binary_field::format_code)]
    UnknownByteOrder {
        /// The format code read big-endian.
        big_endian: i16,
        /// The format code read little-endian.
        little_endian: i16,
        /// The byte-order word read big-endian.
        word: u32,
    },
    /// A file's geometry is not the one the caller expects.
    #[error("{}{what} is {found}, expected {expected}", trace_prefix(.trace))]
    Geometry {
        /// The trace, if the mismatch is in one trace.
        trace: Option<usize>,
        /// The quantity (and the header field it comes from).
        what: String,
        /// What the file holds.
        found: String,
        /// What the caller expects.
        expected: String,
    },
    /// A sample to be written is NaN or infinite.
    #[error("trace index {trace}, sample {sample}: {value} is not finite; SEG-Y output takes finite samples only")]
    NonFiniteSample {
        /// The trace.
        trace: usize,
        /// The sample within the trace.
        sample: usize,
        /// The value.
        value: f32,
    },
    /// A textual header line that cannot be written.
    #[error("textual header line {line}: {reason}")]
    TextualHeader {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Sample data whose length does not match the traces.
    #[error("{found} samples given, expected {traces} traces × {samples} samples = {}", .traces * .samples)]
    DataLength {
        /// Number of traces.
        traces: usize,
        /// Samples per trace.
        samples: usize,
        /// Samples given.
        found: usize,
    },
}

/// A SEG-Y error: what went wrong and, if known, in which file.
#[derive(Debug)]
pub struct Error {
    path: Option<PathBuf>,
    kind: ErrorKind,
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The file, if the caller named one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The same error, attributed to `path`.
    pub fn in_file(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }
}

impl From<ErrorKind> for Error {
    /// An error in no particular file.
    fn from(kind: ErrorKind) -> Self {
        Self { path: None, kind }
    }
}

impl fmt::Display for Error {
    /// `path: kind`, or `kind` without a path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for Error {}

/// A [`ErrorKind::Field`] error.
pub(crate) fn field_error(
    trace: Option<usize>,
    field: Field,
    found: impl fmt::Display,
    expected: impl Into<String>,
) -> Error {
    ErrorKind::Field {
        trace,
        field,
        found: found.to_string(),
        expected: expected.into(),
    }
    .into()
}
