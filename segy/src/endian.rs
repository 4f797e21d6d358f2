//! Byte order and the fixed-width numbers SEG-Y headers are made of.
//!
//! SEG-Y rev 1 is big-endian throughout; rev 2 also allows little-endian files. Headers are
//! read with [`Number::read`] in the file's [`ByteOrder`] and written with
//! [`Number::write`].

use crate::field::FieldValue;

/// The byte order of a file's binary numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ByteOrder {
    /// Most significant byte first (SEG-Y rev 0 and 1, and the rev 2 default).
    #[default]
    Big,
    /// Least significant byte first (rev 2, marked by the byte-order word).
    Little,
}

/// A fixed-width number stored in a header.
pub trait Number: Copy {
    /// Width in bytes.
    const SIZE: usize;
    /// Reads the number from the first `SIZE` bytes of `bytes` (which must hold them).
    fn read(bytes: &[u8], order: ByteOrder) -> Self;
    /// Writes the number into the first `SIZE` bytes of `bytes` (which must hold them).
    fn write(self, bytes: &mut [u8], order: ByteOrder);
    /// The number as a [`FieldValue`].
    fn value(self) -> FieldValue;
}

macro_rules! number {
    ($ty:ty, $size:literal, $variant:ident, $wide:ty) => {
        impl Number for $ty {
            const SIZE: usize = $size;
            fn read(bytes: &[u8], order: ByteOrder) -> Self {
                let mut raw = [0u8; $size];
                raw.copy_from_slice(&bytes[..$size]);
                match order {
                    ByteOrder::Big => <$ty>::from_be_bytes(raw),
                    ByteOrder::Little => <$ty>::from_le_bytes(raw),
                }
            }
            fn write(self, bytes: &mut [u8], order: ByteOrder) {
                let raw = match order {
                    ByteOrder::Big => self.to_be_bytes(),
                    ByteOrder::Little => self.to_le_bytes(),
                };
                bytes[..$size].copy_from_slice(&raw);
            }
            fn value(self) -> FieldValue {
                FieldValue::$variant(self as $wide)
            }
        }
    };
}

number!(i16, 2, Signed, i64);
number!(u16, 2, Unsigned, u64);
number!(i32, 4, Signed, i64);
number!(u32, 4, Unsigned, u64);
number!(u64, 8, Unsigned, u64);
number!(f64, 8, Float, f64);
