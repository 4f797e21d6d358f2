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
    /// The time step violates the finite-difference stability (CFL) limit.
    UnstableTimeStep {
        /// The requested time step in nanoseconds.
        dt_ns: u64,
        /// The largest stable time step in nanoseconds.
        max_dt_ns: u64,
    },
    /// The grid is too coarse for the source wavelet: numerical dispersion would be large.
    TooDispersive {
        /// Grid points per wavelength at the peak frequency and lowest velocity, × 100.
        points_per_wavelength_x100: u32,
        /// The required minimum, × 100.
        required_x100: u32,
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
    /// A denoiser running outside the core (e.g. on a Vulkan device) failed; the backend
    /// that returned this keeps the details.
    Device {
        /// What the backend was doing.
        what: &'static str,
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
            Error::UnstableTimeStep { dt_ns, max_dt_ns } => write!(
                f,
                "time step {dt_ns} ns exceeds the stable limit {max_dt_ns} ns for this grid and velocity"
            ),
            Error::TooDispersive { points_per_wavelength_x100, required_x100 } => write!(
                f,
                "grid too coarse: {}.{:02} points per wavelength at the peak frequency and lowest velocity, at least {}.{:02} required",
                points_per_wavelength_x100 / 100,
                points_per_wavelength_x100 % 100,
                required_x100 / 100,
                required_x100 % 100
            ),
            Error::Weights(error) => write!(f, "weights: {error}"),
            Error::ArchitectureMismatch => write!(
                f,
                "weights: made for another network architecture (metadata `powerpost.architecture` or tensor count differs)"
            ),
            Error::NonFinite { name } => {
                write!(f, "`{name}` became non-finite (NaN or infinity)")
            }
            Error::Device { what } => write!(f, "the compute device failed while {what}"),
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
        Err(Error::BufferLength {
            buffer,
            expected,
            actual,
        })
    }
}

impl core::error::Error for Error {}
