//! EDM Algorithm 1: deterministic Heun (2nd order) on the probability-flow ODE
//! `dx/dσ = (x − D(x; σ)) / σ` (the default sampler).
//!
//! For each step i = 0 … N−1, with h = σ_{i+1} − σ_i (rounded to f32):
//!
//! ```text
//! D     = D(x; σ_i)
//! d[k]  = (x[k] − D[k]) × recip(σ_i)
//! x'[k] = x[k] + h × d[k]
//! if σ_{i+1} > 0:
//!     D'    = D(x'; σ_{i+1})
//!     d'[k] = (x'[k] − D'[k]) × recip(σ_{i+1})
//!     x[k]  = x[k] + h × ((0.5 × d[k]) + (0.5 × d'[k]))
//! else (last step, 2nd-order correction skipped):
//!     x[k]  = D[k]
//! ```
//!
//! Network evaluations: 2N − 1. Scratch: three images. No random numbers besides draw 0.

use super::{denoise_into_x, Denoiser};
use crate::detmath;
use crate::error::Error;

/// One Heun step of the probability-flow ODE from `sigma` to `sigma_next` (the last step,
/// `sigma_next == 0`, is `x ← D(x; sigma)`); `scratch` holds three images.
pub(crate) fn step<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    sigma: f32,
    sigma_next: f32,
    x: &mut [f32],
    scratch: &mut [f32],
) -> Result<(), Error> {
    let n = x.len();
    let (slope, rest) = scratch.split_at_mut(n);
    let (x_next, denoised_next) = rest.split_at_mut(n);
    let denoised_next = &mut denoised_next[..n];
    if sigma_next == 0.0 {
        return denoise_into_x(denoiser, sigma, x, slope);
    }
    denoiser.denoise(x, sigma, slope)?;
    let inv_sigma = detmath::recip(sigma);
    let h = sigma_next - sigma;
    for ((d, xn), &xk) in slope.iter_mut().zip(x_next.iter_mut()).zip(x.iter()) {
        *d = (xk - *d) * inv_sigma;
        *xn = xk + h * *d;
    }
    denoiser.denoise(x_next, sigma_next, denoised_next)?;
    let inv_sigma_next = detmath::recip(sigma_next);
    for (((xk, &d), &xn), &dn) in x
        .iter_mut()
        .zip(slope.iter())
        .zip(x_next.iter())
        .zip(denoised_next.iter())
    {
        let d_next = (xn - dn) * inv_sigma_next;
        *xk += h * ((0.5 * d) + (0.5 * d_next));
    }
    Ok(())
}
