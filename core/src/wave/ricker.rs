//! The Ricker wavelet (second derivative of a Gaussian, sign-flipped):
//! `w(t) = (1 − 2r²) e^{−r²}`, `r = π f (t − t₀)`, with peak frequency `f` and delay `t₀`.
//!
//! Its amplitude spectrum is `∝ (ω/ω_p)² e^{−(ω/ω_p)²}`: at 2.5× the peak frequency it is
//! down to 3 % (−30 dB) of the peak, which is why grid checks use the peak frequency with a
//! points-per-wavelength threshold well above the Nyquist limit of 2.

use crate::{detmath, error::Error};

/// Ricker wavelet value at time `t` (seconds).
#[inline]
pub fn ricker(peak_frequency: f32, delay: f32, t: f32) -> f32 {
    let r = core::f32::consts::PI * peak_frequency * (t - delay);
    let r2 = r * r;
    (1.0 - 2.0 * r2) * detmath::exp(-r2)
}

/// Fills `out[n] = ricker(f, delay, n·dt)` for `n = 0..out.len()`.
///
/// # Errors
/// [`Error::InvalidArgument`] if the frequency, delay or `dt` are not finite and positive
/// (delay may be zero).
pub fn ricker_wavelet(
    peak_frequency: f32,
    delay: f32,
    dt: f32,
    out: &mut [f32],
) -> Result<(), Error> {
    if !(peak_frequency.is_finite() && peak_frequency > 0.0) {
        return Err(Error::InvalidArgument {
            name: "peak_frequency",
            expected: "finite and > 0",
        });
    }
    if !(delay.is_finite() && delay >= 0.0) {
        return Err(Error::InvalidArgument {
            name: "source_delay",
            expected: "finite and >= 0",
        });
    }
    if !(dt.is_finite() && dt > 0.0) {
        return Err(Error::InvalidArgument {
            name: "dt",
            expected: "finite and > 0",
        });
    }
    for (n, o) in out.iter_mut().enumerate() {
        *o = ricker(peak_frequency, delay, n as f32 * dt);
    }
    Ok(())
}
