//! Euler–Maruyama on the reverse-time VE SDE.
//!
//! In the EDM parameterisation σ(t) = t the forward SDE is `dx = √(2σ) dW` and the reverse
//! SDE, integrated from σ_max down, is `dx = −2σ·∇log p_σ(x) dσ + √(2σ) dW̄`, with
//! `∇log p_σ(x) = (D(x; σ) − x) / σ²`. One Euler–Maruyama step from σ_i to σ_{i+1}
//! (Δ = σ_i − σ_{i+1} > 0, rounded to f32) is
//!
//! ```text
//! D    = D(x; σ_i)
//! c    = 2 × div(Δ, σ_i)                  (= 2σ_iΔ / σ_i²)
//! g    = sqrt((2 × σ_i) × Δ)
//! x[k] = (x[k] + c × (D[k] − x[k])) + g × z[k]        (noise: draw 1 + i)
//! ```
//!
//! for i = 0 … N−2; the last step (σ_{N−1} → 0) is the denoising step `x ← D(x; σ_{N−1})`.
//! The drift coefficient `c` exceeds 1 where σ_{i+1} < σ_i/2, so few steps overshoot: this
//! sampler wants hundreds of steps (score_sde uses 1000–2000).
//!
//! Network evaluations: N. Scratch: two images.

use super::{denoise_into_x, Denoiser, Draws, KarrasSchedule};
use crate::detmath;
use crate::error::Error;

/// One Euler–Maruyama step from `sigma` to `sigma_next > 0` with noise draw `draw`;
/// `scratch` holds two images.
pub(crate) fn step<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    sigma: f32,
    sigma_next: f32,
    draws: Draws,
    draw: u64,
    x: &mut [f32],
    scratch: &mut [f32],
) -> Result<(), Error> {
    let n = x.len();
    let (denoised, rest) = scratch.split_at_mut(n);
    let z = &mut rest[..n];
    denoiser.denoise(x, sigma, denoised)?;
    draws.fill(draw, z);
    let delta = sigma - sigma_next;
    let c = 2.0 * detmath::div(delta, sigma);
    let g = detmath::sqrt((2.0 * sigma) * delta);
    for ((xk, &dk), &zk) in x.iter_mut().zip(denoised.iter()).zip(z.iter()) {
        *xk = (*xk + c * (dk - *xk)) + g * zk;
    }
    Ok(())
}

/// Runs Euler–Maruyama on `x` (which holds x_T on entry).
pub(crate) fn run<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    schedule: &KarrasSchedule,
    draws: Draws,
    x: &mut [f32],
    scratch: &mut [f32],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), Error> {
    let steps = schedule.steps();
    for i in 0..steps {
        let sigma = schedule.sigma(i);
        let sigma_next = schedule.sigma(i + 1);
        if sigma_next == 0.0 {
            denoise_into_x(denoiser, sigma, x, &mut scratch[..x.len()])?;
        } else {
            step(denoiser, sigma, sigma_next, draws, 1 + i as u64, x, scratch)?;
        }
        progress(i + 1, steps);
    }
    Ok(())
}
