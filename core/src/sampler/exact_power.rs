//! Exact-power mode: sample the power-scaled posterior `p_{λ,α}(x | y) ∝ p(y|x)^λ·p(x)^α`
//! itself rather than the annealed-score heuristic.
//!
//! ## Why
//! The ODE samplers follow the annealed power-scaled score `λ·s(x|y, σ) + (α − λ)·s(x, σ)`.
//! For α ≠ 1 (or α = 1, λ ≠ 1) the family of laws with these scores is *not* the
//! diffusion of `p_{λ,α}`, so transporting σ_max-noise along it does not end at `p_{λ,α}`:
//! for a Gaussian prior N(m, v) and λ = 0 the ODE output spread is
//! `v^{α/2}·(v + σ_max²)^{(1−α)/2}` instead of `√(v/α)` (σ_max = 80, v = 0.25: α = 0.5
//! gives ≈ 6.3 instead of 0.71). What *is* well defined at every level is the law
//! `p_σ^{λ,α} ∝ p_σ(x|y)^λ·p_σ(x)^{α−λ}` whose score the power-scaled denoiser gives, and
//! at σ → 0 it is `p_{λ,α}`. Langevin dynamics with that score samples it exactly (up to
//! step-size bias), whatever the law it starts from.
//!
//! ## Algorithm
//! At every level i = 0 … N−1: M = `corrector_steps` Langevin steps at σ_i
//! ([`super::langevin`], step j uses draw `1 + i·M + j`), then one Heun step to σ_{i+1}
//! ([`super::heun`], deterministic; the last is `x ← D(x; σ_{N−1})`). With M = 0 this is
//! exactly the default Heun sampler; as M grows the output law converges to
//! `p_{λ,α}` (to `p_{σ_min}^{λ,α}` followed by one denoising step, up to the Langevin
//! step-size bias of about snr² in variance).
//!
//! Network evaluations: N·M + 2N − 1. Scratch: three images.
//!
//! ## Measured (Gaussian test case, `tests/tests/samplers.rs`)
//! See the table in `docs/sampling.md` (filled from
//! `cargo test -p powerpost-tests --test samplers -- --nocapture power_posterior_table`).
//! MEASURED_TABLE

use super::{heun, langevin, Denoiser, Draws, KarrasSchedule, SamplerConfig};
use crate::error::Error;

/// Runs the exact-power sampler on `x` (which holds x_T on entry).
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
        let first_draw = 1 + (i as u64) * m;
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
        heun::step(denoiser, sigma, schedule.sigma(i + 1), x, scratch)?;
        progress(i + 1, steps);
    }
    Ok(())
}
