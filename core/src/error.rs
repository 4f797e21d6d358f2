//! The core's error type: a small `Copy` enum with `Display`, no allocation.

use core::fmt;

use crate::safetensors::SafetensorsError;

/// Everything that can go wrong in the core.
///
/// Errors name the offending argument or buffer with a `&'static str` so that callers can
/// turn them into messages that say what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A caller-provided buffer has the wrong length.
    BufferLength {
        /// Which buffer (e.g. `"workspace"`, `"output"`).
        buffer: &'static str,
        /// The length the function needs (see the matching `*_len()` function).
        expected: usize,
        /// The length it was given.
        actual: usize,
    },
    /// An argument is outside its valid range or not finite.
    InvalidArgument {
        /// The argument's name (e.g. `"sigma"`, `"height"`).
        name: &'static str,
        /// What was expected of it.
        expected: &'static str,
    },
    /// A safetensors weight file failed to parse or did not hold the expected tensors.
    Weights(SafetensorsError),
    /// A weights file was made for another network architecture (its
    /// `powerpost.architecture` metadata differs from the expected configuration's), or
    /// holds a different number of tensors.
    ArchitectureMismatch,
    /// A computed quantity became NaN or infinite (for example a sampler that diverged).
    NonFinite {
        /// What became non-finite (e.g. `"sample"`).
        name: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::BufferLength { buffer, expected, actual } => write!(
                f,
                "buffer `{buffer}` has length {actual}, expected {expected}"
            ),
            Error::InvalidArgument { name, expected } => {
                write!(f, "invalid argument `{name}`: expected {expected}")
            }
            Error::Weights(error) => write!(f, "weights: {error}"),
            Error::ArchitectureMismatch => write!(
                f,
                "weights: made for another network architecture (metadata `powerpost.architecture` or tensor count differs)"
            ),
            Error::NonFinite { name } => {
                write!(f, "`{name}` became non-finite (NaN or infinity)")
            }
        }
    }
}

impl From<SafetensorsError> for Error {
    fn from(error: SafetensorsError) -> Self {
        Error::Weights(error)
    }
}

/// Checks that a caller-provided buffer has exactly `expected` elements.
#[inline]
pub fn check_len(buffer: &'static str, actual: usize, expected: usize) -> Result<(), Error> {
    if actual == expected {
        Ok(())
    } else {
        Err(Error::BufferLength { buffer, expected, actual })
    }
}
