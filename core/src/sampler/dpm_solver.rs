//! DPM-Solver++(2M) (Lu et al. 2022; k-diffusion's `sample_dpmpp_2m`): a second-order
//! multistep exponential integrator of the probability-flow ODE in data prediction.
//!
//! With λ = −ln σ, `h_i = ln σ_i − ln σ_{i+1}` and `ratio = div(σ_{i+1}, σ_i)`
//! (= e^{−h}, so k-diffusion's `−expm1(−h)` is `1 − ratio`), for each step i:
//!
//! ```text
//! D = D(x; σ_i)
//! last step (σ_{i+1} = 0):  x[k] = D[k]
//! first step (i = 0):       x[k] = (ratio × x[k]) + ((1 − ratio) × D[k])
//! otherwise:                c_old = 0.5 × div(h_i, h_{i−1}),  c_new = 1 + c_old
//!                           x[k] = (ratio × x[k]) + ((1 − ratio) × ((c_new × D[k]) − (c_old × D_prev[k])))
//! ```
//!
//! where `h_{i−1} = ln σ_{i−1} − ln σ_i`, D_prev is the previous step's denoiser output and
//! every `ln` is [`crate::detmath::ln`] of the f32 σ.
//!
//! Network evaluations: N. Scratch: two images. No random numbers besides draw 0.

use super::{Denoiser, KarrasSchedule};
use crate::detmath;
use crate::error::Error;

/// Runs DPM-Solver++(2M) on `x` (which holds x_T on entry).
pub(crate) fn run<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    schedule: &KarrasSchedule,
    x: &mut [f32],
    scratch: &mut [f32],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), Error> {
    let n = x.len();
    let (denoised, rest) = scratch.split_at_mut(n);
    let previous = &mut rest[..n];
    let steps = schedule.steps();
    let mut h_last = 0.0f32;
    for i in 0..steps {
        let sigma = schedule.sigma(i);
        let sigma_next = schedule.sigma(i + 1);
        denoiser.denoise(x, sigma, denoised)?;
        if sigma_next == 0.0 {
            x.copy_from_slice(denoised);
        } else {
            let ratio = detmath::div(sigma_next, sigma);
            let keep = 1.0 - ratio;
            let h = detmath::ln(sigma) - detmath::ln(sigma_next);
            if i == 0 {
                for (xk, &dk) in x.iter_mut().zip(denoised.iter()) {
                    *xk = (ratio * *xk) + (keep * dk);
                }
            } else {
                let c_old = 0.5 * detmath::div(h, h_last);
                let c_new = 1.0 + c_old;
                for ((xk, &dk), &pk) in x.iter_mut().zip(denoised.iter()).zip(previous.iter()) {
                    *xk = (ratio * *xk) + (keep * ((c_new * dk) - (c_old * pk)));
                }
            }
            previous.copy_from_slice(denoised);
            h_last = h;
        }
        progress(i + 1, steps);
    }
    Ok(())
}
