//! Header field descriptors: a field's name, which header it is in, and its byte positions,
//! so that errors can say exactly which bytes of the file are wrong.
//!
//! Positions follow the SEG-Y standard's tables: 1-based, binary-header fields numbered by
//! their position in the file (3201–3600), trace-header fields by their position in the
//! 240-byte trace header (1–240).

use std::fmt;

/// Which header a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKind {
    /// The 400-byte binary file header.
    Binary,
    /// A 240-byte trace header.
    Trace,
}

/// A header field: name, header and byte positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// What the field means, as the standard words it.
    pub name: &'static str,
    /// The header it is in.
    pub header: HeaderKind,
    /// First byte, 1-based (file position for the binary header, position in the trace
    /// header for trace fields).
    pub byte: u16,
    /// Width in bytes.
    pub len: u8,
}

impl Field {
    /// Last byte of the field, 1-based and inclusive.
    pub fn last_byte(&self) -> u16 {
        self.byte + u16::from(self.len) - 1
    }
}

impl fmt::Display for Field {
    /// `name (binary header bytes 3225–3226)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = match self.header {
            HeaderKind::Binary => "binary header",
            HeaderKind::Trace => "trace header",
        };
        write!(
            f,
            "{} ({header} bytes {}–{})",
            self.name,
            self.byte,
            self.last_byte()
        )
    }
}

/// A header field's value, widened without loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue {
    /// A two's-complement integer field.
    Signed(i64),
    /// An unsigned integer field.
    Unsigned(u64),
    /// An IEEE double field (rev 2 extended sample intervals).
    Float(f64),
}

impl FieldValue {
    /// The value as `f64` (exact for every integer field up to 2⁵³).
    pub fn as_f64(self) -> f64 {
        match self {
            FieldValue::Signed(v) => v as f64,
            FieldValue::Unsigned(v) => v as f64,
            FieldValue::Float(v) => v,
        }
    }
}

impl fmt::Display for FieldValue {
    /// The number as written in decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Signed(v) => write!(f, "{v}"),
            FieldValue::Unsigned(v) => write!(f, "{v}"),
            FieldValue::Float(v) => write!(f, "{v}"),
        }
    }
}
