//! The Langevin corrector (score_sde's `LangevinCorrector`), shared by
//! [`super::predictor_corrector`] and [`super::exact_power`].
//!
//! One step at noise level σ targets the law whose score is the denoiser's,
//! `s = (D(x; σ) − x) / σ²` (for a [`crate::power::PowerScaled`] denoiser: the power-scaled
//! law p_σ^{λ,α} at that level):
//!
//! ```text
//! D      = D(x; σ)
//! s[k]   = (D[k] − x[k]) × recip(σ × σ)
//! z      = draw k (given by the caller)
//! ss     = sum_squares(s),  zz = sum_squares(z)        (crate::reduce's documented order)
//! ε      = 2 × ((snr × snr) × div(zz, ss))             (= 2·(snr·‖z‖/‖s‖)²)
//! x[k]   = (x[k] + ε × s[k]) + sqrt(2 × ε) × z[k]
//! ```
//!
//! The step size adapts so that the drift is `snr` times the noise in norm, per sample (the
//! norms are over the whole image). If `ss` is 0 or not finite the step leaves `x` unchanged
//! (the network evaluation still counts). For a Gaussian target with precision P the chain
//! is stationary at variance `1/(P·(1 − εP/2))`; with ε ≈ 2·snr²/P that is a relative
//! variance bias of about snr² (2.6 % at the default snr 0.16). Because ε depends on the
//! state through ‖s‖, the chain also favours states with a larger score: in the
//! small-step limit its stationary density is ∝ p(x)·‖s(x)‖², which for a Gaussian inflates
//! the variance of pixel j by `1 + 2P_j/ΣP ≈ 1 + 2/d` (d = pixels; negligible for images).

use super::{Denoiser, Draws};
use crate::detmath;
use crate::error::Error;
use crate::reduce::sum_squares;

/// One Langevin step at level `sigma` with noise draw `draw`; `scratch` holds two images.
pub(crate) fn step<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    sigma: f32,
    snr: f32,
    draws: Draws,
    draw: u64,
    x: &mut [f32],
    scratch: &mut [f32],
) -> Result<(), Error> {
    let n = x.len();
    let (score, rest) = scratch.split_at_mut(n);
    let z = &mut rest[..n];
    denoiser.denoise(x, sigma, score)?;
    let inv_variance = detmath::recip(sigma * sigma);
    for (sk, &xk) in score.iter_mut().zip(x.iter()) {
        *sk = (*sk - xk) * inv_variance;
    }
    draws.fill(draw, z);
    let ss = sum_squares(score);
    let zz = sum_squares(z);
    if !(ss > 0.0 && ss.is_finite()) {
        return Ok(());
    }
    let epsilon = 2.0 * ((snr * snr) * detmath::div(zz, ss));
    let noise_scale = detmath::sqrt(2.0 * epsilon);
    for ((xk, &sk), &zk) in x.iter_mut().zip(score.iter()).zip(z.iter()) {
        *xk = (*xk + epsilon * sk) + noise_scale * zk;
    }
    Ok(())
}
