//! Deterministic Euler (1st order) on the probability-flow ODE `dx/dσ = (x − D(x; σ)) / σ`.
//!
//! For each step i = 0 … N−1, with h = σ_{i+1} − σ_i (rounded to f32):
//!
//! ```text
//! D    = D(x; σ_i)
//! x[k] = x[k] + h × ((x[k] − D[k]) × recip(σ_i))     if σ_{i+1} > 0
//! x[k] = D[k]                                         on the last step (σ_N = 0)
//! ```
//!
//! Network evaluations: N. Scratch: one image. No random numbers besides draw 0.

use super::{denoise_into_x, Denoiser};
use crate::detmath;
use crate::error::Error;

/// One Euler step from `sigma` to `sigma_next` (`x ← D(x; sigma)` when `sigma_next == 0`);
/// `scratch` holds one image.
pub(crate) fn step<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    sigma: f32,
    sigma_next: f32,
    x: &mut [f32],
    scratch: &mut [f32],
) -> Result<(), Error> {
    let denoised = &mut scratch[..x.len()];
    if sigma_next == 0.0 {
        return denoise_into_x(denoiser, sigma, x, denoised);
    }
    denoiser.denoise(x, sigma, denoised)?;
    let inv_sigma = detmath::recip(sigma);
    let h = sigma_next - sigma;
    for (xk, &dk) in x.iter_mut().zip(denoised.iter()) {
        *xk += h * ((*xk - dk) * inv_sigma);
    }
    Ok(())
}
