//! EDM Algorithm 2: stochastic sampler (churn + Heun).
//!
//! For each step i = 0 … N−1, with t = σ_i:
//!
//! ```text
//! γ    = min(div(S_churn, N), √2 − 1)   if S_tmin ≤ t ≤ S_tmax, else 0
//! t̂    = t + γ × t
//! if γ > 0:                                   (noise: draw 1 + i)
//!     c    = S_noise × sqrt((t̂ × t̂) − (t × t))
//!     x[k] = x[k] + c × z[k]
//! Heun step from t̂ to σ_{i+1}                 (see [`super::heun`]; last step x ← D(x̂; t̂))
//! ```
//!
//! Step i uses draw `1 + i` whether or not it churns (γ = 0 skips the draw, the numbering
//! stays fixed). With S_churn = 0 this is exactly [`super::heun`].
//!
//! Network evaluations: 2N − 1. Scratch: three images.

use super::{heun, Denoiser, Draws, KarrasSchedule, SamplerConfig};
use crate::detmath;
use crate::error::Error;

/// √2 − 1 rounded to f32: EDM's cap on γ (the churn at most doubles the variance).
const MAX_GAMMA: f32 = core::f32::consts::SQRT_2 - 1.0;

/// Runs EDM Algorithm 2 on `x` (which holds x_T on entry).
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
    let per_step = detmath::div(config.s_churn, steps as f32);
    let gamma_max = if per_step < MAX_GAMMA {
        per_step
    } else {
        MAX_GAMMA
    };
    for i in 0..steps {
        let t = schedule.sigma(i);
        let gamma = if config.s_tmin <= t && t <= config.s_tmax {
            gamma_max
        } else {
            0.0
        };
        let t_hat = t + gamma * t;
        if gamma > 0.0 {
            let z = &mut scratch[..x.len()];
            draws.fill(1 + i as u64, z);
            let c = config.s_noise * detmath::sqrt((t_hat * t_hat) - (t * t));
            for (xk, &zk) in x.iter_mut().zip(z.iter()) {
                *xk += c * zk;
            }
        }
        heun::step(denoiser, t_hat, schedule.sigma(i + 1), x, scratch)?;
        progress(i + 1, steps);
    }
    Ok(())
}
