//! score_sde's predictor–corrector sampler (Song et al. 2021) for the VE SDE.
//!
//! At every level i = 0 … N−1, first M = `corrector_steps` Langevin corrector steps at σ_i
//! ([`super::langevin`], corrector j uses draw `1 + i·(M+1) + j`), then one predictor step
//! from σ_i to σ_{i+1} (draw `1 + i·(M+1) + M`):
//!
//! - [`Predictor::ReverseDiffusion`] (score_sde's `ReverseDiffusionPredictor`, the ancestral
//!   step of the discretised VE SDE), with `ratio = div(σ_{i+1}, σ_i)`:
//!   ```text
//!   D    = D(x; σ_i)
//!   c    = 1 − (ratio × ratio)                 (= (σ_i² − σ_{i+1}²)/σ_i²)
//!   g    = σ_i × sqrt(c)                      (= √(σ_i² − σ_{i+1}²))
//!   x[k] = (x[k] + c × (D[k] − x[k])) + g × z[k]
//!   ```
//! - [`Predictor::EulerMaruyama`]: the step of [`super::euler_maruyama`].
//!
//! The last predictor step (σ_{N−1} → 0) is the denoising step `x ← D(x; σ_{N−1})`
//! (score_sde's `denoise=True`). Langevin correctors run at every positive level, including
//! σ_max (before the first predictor step) and σ_min (before the final denoising).
//!
//! Network evaluations: N·(M + 1). Scratch: two images.

use super::{
    denoise_into_x, euler_maruyama, langevin, Denoiser, Draws, KarrasSchedule, Predictor,
    SamplerConfig,
};
use crate::detmath;
use crate::error::Error;

/// One reverse-diffusion step from `sigma` to `sigma_next > 0` with noise draw `draw`;
/// `scratch` holds two images.
fn reverse_diffusion_step<D: Denoiser + ?Sized>(
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
    let ratio = detmath::div(sigma_next, sigma);
    let c = 1.0 - (ratio * ratio);
    let g = sigma * detmath::sqrt(c);
    for ((xk, &dk), &zk) in x.iter_mut().zip(denoised.iter()).zip(z.iter()) {
        *xk = (*xk + c * (dk - *xk)) + g * zk;
    }
    Ok(())
}

/// Runs the predictor–corrector sampler on `x` (which holds x_T on entry).
pub(crate) fn run<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    config: &SamplerConfig,
    schedule: &KarrasSchedule,
    draws: Draws,
    x: &mut [f32],
    scratch: &mut [f32],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), Error> {
    let steps = schedule.steps();
    let m = config.corrector_steps as u64;
    for i in 0..steps {
        let sigma = schedule.sigma(i);
        let sigma_next = schedule.sigma(i + 1);
        let first_draw = 1 + (i as u64) * (m + 1);
        for j in 0..m {
            langevin::step(
                denoiser,
                sigma,
                config.snr,
                draws,
                first_draw + j,
                x,
                scratch,
            )?;
        }
        let predictor_draw = first_draw + m;
        if sigma_next == 0.0 {
            denoise_into_x(denoiser, sigma, x, &mut scratch[..x.len()])?;
        } else {
            match config.predictor {
                Predictor::ReverseDiffusion => reverse_diffusion_step(
                    denoiser,
                    sigma,
                    sigma_next,
                    draws,
                    predictor_draw,
                    x,
                    scratch,
                )?,
                Predictor::EulerMaruyama => euler_maruyama::step(
                    denoiser,
                    sigma,
                    sigma_next,
                    draws,
                    predictor_draw,
                    x,
                    scratch,
                )?,
            }
        }
        progress(i + 1, steps);
    }
    Ok(())
}
