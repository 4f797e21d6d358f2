//! Sample formats: the binary header's data sample format code and the sample codecs.
//!
//! Read: 1 (IBM float, [`crate::ibm`]), 5 (IEEE float), 2, 3 and 8 (4-, 2- and 1-byte
//! two's-complement integers) into `f32`. The 2- and 1-byte integers convert exactly;
//! 4-byte integers beyond ±2²⁴ round to the nearest `f32` (ties to even), as `as f32` does.
//! Written: 1 and 5 only. Other codes of rev 1 and 2 (4 fixed point with gain, 6 and 9–12
//! 8-byte and unsigned types, 7 and 15 3-byte integers, 16 unsigned bytes) are refused.

use crate::endian::ByteOrder;
use crate::ibm;

/// A supported data sample format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// Code 1: 4-byte IBM hexadecimal float.
    IbmFloat,
    /// Code 2: 4-byte two's-complement integer (read only).
    Int32,
    /// Code 3: 2-byte two's-complement integer (read only).
    Int16,
    /// Code 5: 4-byte IEEE float.
    IeeeFloat,
    /// Code 8: 1-byte two's-complement integer (read only).
    Int8,
}

/// The standard's name of a format code (also for codes this crate refuses).
pub fn format_name(code: i16) -> &'static str {
    match code {
        1 => "4-byte IBM floating point",
        2 => "4-byte two's complement integer",
        3 => "2-byte two's complement integer",
        4 => "4-byte fixed point with gain, obsolete",
        5 => "4-byte IEEE floating point",
        6 => "8-byte IEEE floating point",
        7 => "3-byte two's complement integer",
        8 => "1-byte two's complement integer",
        9 => "8-byte two's complement integer",
        10 => "4-byte unsigned integer",
        11 => "2-byte unsigned integer",
        12 => "8-byte unsigned integer",
        15 => "3-byte unsigned integer",
        16 => "1-byte unsigned integer",
        _ => "not a SEG-Y format code",
    }
}

/// True for codes some revision of the standard assigns (used to tell the byte order).
pub fn is_assigned_code(code: i16) -> bool {
    matches!(code, 1..=12 | 15 | 16)
}

impl SampleFormat {
    /// The format of a data sample format code, if supported.
    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(Self::IbmFloat),
            2 => Some(Self::Int32),
            3 => Some(Self::Int16),
            5 => Some(Self::IeeeFloat),
            8 => Some(Self::Int8),
            _ => None,
        }
    }

    /// The data sample format code.
    pub fn code(self) -> i16 {
        match self {
            Self::IbmFloat => 1,
            Self::Int32 => 2,
            Self::Int16 => 3,
            Self::IeeeFloat => 5,
            Self::Int8 => 8,
        }
    }

    /// Bytes per sample.
    pub fn sample_len(self) -> usize {
        match self {
            Self::IbmFloat | Self::Int32 | Self::IeeeFloat => 4,
            Self::Int16 => 2,
            Self::Int8 => 1,
        }
    }

    /// True if the writer can write this format.
    pub fn is_writable(self) -> bool {
        matches!(self, Self::IbmFloat | Self::IeeeFloat)
    }

    /// Decodes `out.len()` samples from `bytes` (which must hold at least
    /// `out.len() · sample_len()` bytes).
    pub fn decode(self, bytes: &[u8], order: ByteOrder, out: &mut [f32]) {
        let word = |b: &[u8]| {
            let raw = [b[0], b[1], b[2], b[3]];
            match order {
                ByteOrder::Big => u32::from_be_bytes(raw),
                ByteOrder::Little => u32::from_le_bytes(raw),
            }
        };
        let len = self.sample_len();
        for (v, b) in out.iter_mut().zip(bytes.chunks_exact(len)) {
            *v = match self {
                Self::IbmFloat => ibm::ibm_to_f32(word(b)),
                Self::IeeeFloat => f32::from_bits(word(b)),
                Self::Int32 => word(b) as i32 as f32,
                Self::Int16 => {
                    let raw = [b[0], b[1]];
                    f32::from(match order {
                        ByteOrder::Big => i16::from_be_bytes(raw),
                        ByteOrder::Little => i16::from_le_bytes(raw),
                    })
                }
                Self::Int8 => f32::from(b[0] as i8),
            };
        }
    }

    /// Appends the big-endian encoding of `samples` to `out` (IEEE: the bits as they are;
    /// IBM: [`ibm::f32_to_ibm`]). Only for [writable](Self::is_writable) formats; the
    /// integer formats append nothing.
    pub fn encode_big_endian(self, samples: &[f32], out: &mut Vec<u8>) {
        match self {
            Self::IeeeFloat => {
                for v in samples {
                    out.extend_from_slice(&v.to_bits().to_be_bytes());
                }
            }
            Self::IbmFloat => {
                for v in samples {
                    out.extend_from_slice(&ibm::f32_to_ibm(*v).to_be_bytes());
                }
            }
            Self::Int32 | Self::Int16 | Self::Int8 => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in -5..40 {
            if let Some(f) = SampleFormat::from_code(code) {
                assert_eq!(f.code(), code);
                assert!(is_assigned_code(code));
            }
        }
        assert!(!is_assigned_code(13) && !is_assigned_code(256) && !is_assigned_code(0));
    }

    #[test]
    fn integer_formats_decode_in_both_byte_orders() {
        let mut out = [0.0f32; 2];
        SampleFormat::Int16.decode(&[0xFF, 0xFE, 0x01, 0x00], ByteOrder::Big, &mut out);
        assert_eq!(out, [-2.0, 256.0]);
        SampleFormat::Int16.decode(&[0xFE, 0xFF, 0x00, 0x01], ByteOrder::Little, &mut out);
        assert_eq!(out, [-2.0, 256.0]);
        SampleFormat::Int8.decode(&[0x80, 0x7F], ByteOrder::Big, &mut out);
        assert_eq!(out, [-128.0, 127.0]);
        let mut one = [0.0f32];
        SampleFormat::Int32.decode(&(-70000i32).to_le_bytes(), ByteOrder::Little, &mut one);
        assert_eq!(one, [-70000.0]);
        // Beyond 2^24, nearest f32 with ties to even: 2^24 + 1 → 2^24, 2^24 + 3 → 2^24 + 4.
        SampleFormat::Int32.decode(&16_777_217i32.to_be_bytes(), ByteOrder::Big, &mut one);
        assert_eq!(one, [16_777_216.0]);
        SampleFormat::Int32.decode(&16_777_219i32.to_be_bytes(), ByteOrder::Big, &mut one);
        assert_eq!(one, [16_777_220.0]);
    }

    #[test]
    fn float_formats_encode_and_decode() {
        let samples = [1.0f32, -118.625, 0.1];
        let mut bytes = Vec::new();
        SampleFormat::IbmFloat.encode_big_endian(&samples, &mut bytes);
        assert_eq!(&bytes[4..8], &[0xC2, 0x76, 0xA0, 0x00]);
        let mut out = [0.0f32; 3];
        SampleFormat::IbmFloat.decode(&bytes, ByteOrder::Big, &mut out);
        assert_eq!(&out[..2], &samples[..2]);
        assert_eq!(out[2], ibm::ibm_to_f32(0x4019_999A));
        bytes.clear();
        SampleFormat::IeeeFloat.encode_big_endian(&samples, &mut bytes);
        SampleFormat::IeeeFloat.decode(&bytes, ByteOrder::Big, &mut out);
        assert_eq!(out, samples);
    }
}
