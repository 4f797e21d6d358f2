//! SEG-Y input and output for powerpost: shot gathers and depth images in the format field
//! geophysicists keep them in.
//!
//! # The format
//! A SEG-Y file (SEG Technical Standards Committee, rev 1 2002, rev 2.0 2017) is
//!
//! | bytes (1-based)       | content                                                    |
//! |-----------------------|------------------------------------------------------------|
//! | 1–3200                | textual header: 40 lines × 80 characters, EBCDIC or ASCII  |
//! | 3201–3600             | binary header: sample interval, samples per trace, format… |
//! | next `n × 3200`       | extended textual headers (`n` at bytes 3505–3506)          |
//! | then, per trace       | a 240-byte trace header, then the trace's samples          |
//!
//! Numbers are big-endian two's-complement integers; rev 2 also allows little-endian files,
//! marked by the byte-order word `0x01020304` at bytes 3297–3300 written in the file's own
//! byte order. The samples' encoding is the binary header's *data sample format code*
//! (bytes 3225–3226): 1 = 4-byte IBM hexadecimal float ([`ibm`]), 5 = 4-byte IEEE float,
//! 2 / 3 / 8 = 4- / 2- / 1-byte integers, and others this crate refuses ([`SampleFormat`]).
//!
//! Coordinates in trace headers are integers scaled by a *coordinate scalar* (bytes 71–72;
//! positive: multiply, negative: divide, 0: 1); depths and elevations likewise by the
//! elevation scalar (bytes 69–70) ([`scalar`]).
//!
//! # What this crate does
//! - [`read_file`] / [`parse`]: reads rev 0/1 files and the rev 2 basics (byte-order word,
//!   extended sample count and interval, a variable number of extended textual headers),
//!   either byte order, formats 1, 2, 3, 5, 8 into `f32`. Everything it cannot represent
//!   (other formats, additional trace headers, data trailers, traces of different lengths)
//!   is a typed [`Error`] naming the field, its value and what was expected — never a panic.
//! - [`write_file`] / [`to_bytes`]: writes rev 1, big-endian, format 5 (IEEE) or 1 (IBM),
//!   atomically (temporary file in the same directory, then a rename).
//! - [`geometry`]: the layouts powerpost writes — shot gathers with the acquisition
//!   geometry in the trace headers, and depth images — and the checks that a file read back
//!   has the geometry a caller expects.
//!
//! Reading and writing go through memory: a file is parsed from (or serialised to) one
//! byte buffer, which for powerpost's presets is tens of megabytes at most.

#![deny(missing_docs)]

mod atomic;
pub mod ebcdic;
pub mod endian;
pub mod error;
pub mod field;
pub mod file;
pub mod format;
pub mod geometry;
pub mod header;
pub mod ibm;
pub mod read;
pub mod scalar;
pub mod text;
pub mod write;

pub use endian::ByteOrder;
pub use error::{Error, ErrorKind, Part};
pub use field::{Field, FieldValue, HeaderKind};
pub use file::Segy;
pub use format::SampleFormat;
pub use geometry::{DepthImageGeometry, ShotGeometry};
pub use header::{BinaryHeader, TraceHeader};
pub use read::{parse, read_file};
pub use text::{TextEncoding, TextualHeader};
pub use write::{to_bytes, write_file};

/// Size of the textual header (bytes).
pub const TEXT_HEADER_LEN: usize = 3200;
/// Size of the binary header (bytes).
pub const BINARY_HEADER_LEN: usize = 400;
/// Size of a trace header (bytes).
pub const TRACE_HEADER_LEN: usize = 240;
/// Offset of the first byte after the binary header.
pub const HEADERS_END: usize = TEXT_HEADER_LEN + BINARY_HEADER_LEN;
