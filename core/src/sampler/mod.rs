//! Samplers: turn a [`Denoiser`] (usually a [`crate::power::PowerScaled`] network) and a
//! [`NoiseStream`] into one sample, in caller-owned memory.
//!
//! ## Conventions (EDM, Karras et al. 2022)
//! Noise level σ(t) = t, scaling s(t) = 1 (variance exploding). The score at level σ is
//! `(D(x; σ) − x) / σ²`; the probability-flow ODE is `dx/dσ = (x − D(x; σ)) / σ`. All
//! samplers walk the [`KarrasSchedule`] σ_0 = σ_max > … > σ_{N−1} = σ_min > σ_N = 0 with
//! `N = config.steps`. Every sampler's final step, σ_{N−1} → 0, is the denoising step
//! `x ← D(x; σ_{N−1})` (the Euler step to σ = 0 in exact arithmetic, and the "denoise"
//! step of score_sde); the output is exactly the denoiser's last output.
//!
//! ## Kinds
//! | kind | algorithm | network evaluations |
//! |---|---|---|
//! | [`SamplerKind::Heun`] (default) | EDM Algorithm 1, 2nd order, deterministic ([`heun`]) | 2N − 1 |
//! | [`SamplerKind::Euler`] | probability-flow ODE, 1st order ([`euler`]) | N |
//! | [`SamplerKind::EdmStochastic`] | EDM Algorithm 2, S_churn/S_tmin/S_tmax/S_noise ([`edm_stochastic`]) | 2N − 1 |
//! | [`SamplerKind::DpmSolverPp2M`] | DPM-Solver++(2M), data prediction, multistep ([`dpm_solver`]) | N |
//! | [`SamplerKind::EulerMaruyama`] | reverse VE SDE, Euler–Maruyama ([`euler_maruyama`]) | N |
//! | [`SamplerKind::PredictorCorrector`] | score_sde PC: reverse-diffusion or EM predictor + M Langevin steps ([`predictor_corrector`]) | N·(M + 1) |
//! | [`SamplerKind::ExactPower`] | tempered-transport Heun predictor + M Langevin steps at every level ([`exact_power`]) | N·M + 2N − 1 |
//!
//! (M = `config.corrector_steps`.)
//!
//! ## Random numbers (reproducibility contract)
//! A sample is a pure function of the denoiser, the config and its [`NoiseStream`]; the
//! caller uses stream `i` for sample `i`, so any sample can be recomputed alone. With
//! `L = image_len`, *draw k* means the Gaussian numbers `k·L … k·L + L − 1` of the stream.
//! Draw 0 is the initial noise: `x_T[j] = σ_max × z[j]` (exact-power mode widens it by
//! recip(sqrt(α))). Each sampler documents which draw
//! every later noise vector uses; the numbering never depends on the data.
//!
//! ## What the annealed power-scaled score samples
//! The deterministic samplers (Heun, Euler, DPM-Solver++) integrate the probability-flow ODE
//! of the *annealed* power-scaled score. For λ = α = 1 that is the posterior; for α ≠ 1 it is
//! not `p_{λ,α}`: for a Gaussian prior N(m, v) and λ = 0 the output spread is
//! `v^{α/2}·(v + σ_max²)^{(1−α)/2}`, not `√(v/α)`. [`SamplerKind::ExactPower`] moves
//! along the untempered path (score divided by α, start widened by 1/√α), adds Langevin
//! corrector steps that target `p_σ^{λ,α}` at every level and converges to the true
//! power-scaled posterior as the number of corrector steps grows (measurements in
//! [`exact_power`] and `docs/sampling.md`).
//!
//! ## Memory and errors
//! `scratch` must hold exactly [`sampler_scratch_len`]`(config.kind, image_len)` values and
//! `x` exactly `image_len` values (its input content is ignored). Invalid configurations,
//! wrong buffer lengths and denoiser errors are returned as [`Error`]s; a sample that ends up
//! NaN or infinite is reported as [`Error::NonFinite`] (`x` then holds the diverged values).

pub mod dpm_solver;
pub mod edm_stochastic;
pub mod euler;
pub mod euler_maruyama;
pub mod exact_power;
pub mod heun;
pub mod langevin;
pub mod predictor_corrector;
pub mod schedule;

pub use schedule::{KarrasSchedule, MAX_STEPS};

use crate::error::{check_len, Error};
pub use crate::power::Denoiser;
use crate::rng::NoiseStream;

/// Largest accepted number of Langevin corrector steps per noise level.
pub const MAX_CORRECTOR_STEPS: usize = 100_000;

/// Which sampling algorithm to run (see the module docs' table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SamplerKind {
    /// EDM Algorithm 1: deterministic Heun (2nd order) on the probability-flow ODE.
    #[default]
    Heun,
    /// Deterministic Euler (1st order) on the probability-flow ODE.
    Euler,
    /// EDM Algorithm 2: stochastic churn + Heun.
    EdmStochastic,
    /// DPM-Solver++(2M): 2nd-order multistep exponential integrator in data prediction.
    DpmSolverPp2M,
    /// Euler–Maruyama on the reverse-time VE SDE.
    EulerMaruyama,
    /// score_sde predictor–corrector: reverse-diffusion or EM predictor + Langevin.
    PredictorCorrector,
    /// Tempered-transport Heun predictor + Langevin correctors targeting the power-scaled
    /// law at every level: samples the true power-scaled posterior as `corrector_steps`
    /// grows.
    ExactPower,
}

impl SamplerKind {
    /// Every kind, in documentation order.
    pub const ALL: [SamplerKind; 7] = [
        SamplerKind::Heun,
        SamplerKind::Euler,
        SamplerKind::EdmStochastic,
        SamplerKind::DpmSolverPp2M,
        SamplerKind::EulerMaruyama,
        SamplerKind::PredictorCorrector,
        SamplerKind::ExactPower,
    ];

    /// Short lowercase name (`"heun"`, `"euler"`, `"edm-stochastic"`, `"dpmpp-2m"`,
    /// `"euler-maruyama"`, `"pc"`, `"exact-power"`).
    pub const fn name(self) -> &'static str {
        match self {
            SamplerKind::Heun => "heun",
            SamplerKind::Euler => "euler",
            SamplerKind::EdmStochastic => "edm-stochastic",
            SamplerKind::DpmSolverPp2M => "dpmpp-2m",
            SamplerKind::EulerMaruyama => "euler-maruyama",
            SamplerKind::PredictorCorrector => "pc",
            SamplerKind::ExactPower => "exact-power",
        }
    }

    /// The kind whose [`name`](Self::name) is `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The predictor of [`SamplerKind::PredictorCorrector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Predictor {
    /// score_sde's reverse-diffusion predictor (ancestral step of the discretised VE SDE).
    #[default]
    ReverseDiffusion,
    /// Euler–Maruyama step of the reverse VE SDE.
    EulerMaruyama,
}

/// Everything a sampler needs besides the denoiser, the noise and the buffers.
///
/// Fields that a kind does not use are ignored by it (but still validated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerConfig {
    /// The algorithm.
    pub kind: SamplerKind,
    /// Number of steps N (positive noise levels); 1 ≤ N ≤ [`MAX_STEPS`].
    pub steps: usize,
    /// Smallest positive noise level σ_min (> 0).
    pub sigma_min: f32,
    /// Largest noise level σ_max (> σ_min); the initial noise is σ_max·z.
    pub sigma_max: f32,
    /// Karras schedule exponent ρ (> 0).
    pub rho: f32,
    /// EDM stochastic: total churn S_churn (≥ 0); γ_i = min(S_churn/N, √2 − 1).
    pub s_churn: f32,
    /// EDM stochastic: churn only where σ_i ≥ S_tmin (≥ 0).
    pub s_tmin: f32,
    /// EDM stochastic: churn only where σ_i ≤ S_tmax (≥ S_tmin, may be +∞).
    pub s_tmax: f32,
    /// EDM stochastic: noise inflation S_noise (≥ 0).
    pub s_noise: f32,
    /// Predictor–corrector: which predictor.
    pub predictor: Predictor,
    /// Langevin corrector signal-to-noise ratio (> 0): step ε = 2·(snr·‖z‖/‖s‖)².
    pub snr: f32,
    /// Langevin corrector steps per noise level M (≤ [`MAX_CORRECTOR_STEPS`]).
    pub corrector_steps: usize,
}

impl Default for SamplerConfig {
    /// EDM defaults: Heun, 18 steps (35 network evaluations), σ ∈ [0.002, 80], ρ = 7;
    /// EDM's ImageNet-64 churn settings (S_churn 40, S_tmin 0.05, S_tmax 50, S_noise 1.003)
    /// for the stochastic kind; score_sde's snr 0.16 and one corrector step.
    fn default() -> Self {
        Self {
            kind: SamplerKind::Heun,
            steps: 18,
            sigma_min: 0.002,
            sigma_max: 80.0,
            rho: 7.0,
            s_churn: 40.0,
            s_tmin: 0.05,
            s_tmax: 50.0,
            s_noise: 1.003,
            predictor: Predictor::ReverseDiffusion,
            snr: 0.16,
            corrector_steps: 1,
        }
    }
}

impl SamplerConfig {
    /// The default configuration with another kind.
    pub fn with_kind(kind: SamplerKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first offending field.
    pub fn validate(&self) -> Result<(), Error> {
        self.schedule()?;
        if !(self.s_churn.is_finite() && self.s_churn >= 0.0) {
            return Err(Error::InvalidArgument {
                name: "s_churn",
                expected: "a finite number >= 0",
            });
        }
        if !(self.s_tmin.is_finite() && self.s_tmin >= 0.0) {
            return Err(Error::InvalidArgument {
                name: "s_tmin",
                expected: "a finite number >= 0",
            });
        }
        if self.s_tmax.is_nan() || self.s_tmax < self.s_tmin {
            return Err(Error::InvalidArgument {
                name: "s_tmax",
                expected: "a number >= s_tmin",
            });
        }
        if !(self.s_noise.is_finite() && self.s_noise >= 0.0) {
            return Err(Error::InvalidArgument {
                name: "s_noise",
                expected: "a finite number >= 0",
            });
        }
        if !(self.snr.is_finite() && self.snr > 0.0) {
            return Err(Error::InvalidArgument {
                name: "snr",
                expected: "a finite number > 0",
            });
        }
        if self.corrector_steps > MAX_CORRECTOR_STEPS {
            return Err(Error::InvalidArgument {
                name: "corrector_steps",
                expected: "0 to 100000",
            });
        }
        Ok(())
    }

    /// The Karras schedule of this configuration.
    ///
    /// # Errors
    /// As [`KarrasSchedule::new`].
    pub fn schedule(&self) -> Result<KarrasSchedule, Error> {
        KarrasSchedule::new(self.steps, self.sigma_min, self.sigma_max, self.rho)
    }
}

/// Number of denoiser (network) evaluations one sample costs with `config` (saturating;
/// see the module docs' table). Each evaluation of a [`crate::power::PowerScaled`] denoiser
/// is one batch-of-2 network call (or one batch-of-1 when λ = 0 or α = λ).
pub fn network_evaluations(config: &SamplerConfig) -> usize {
    let n = config.steps;
    let m = config.corrector_steps;
    let heun = n.saturating_mul(2).saturating_sub(1);
    match config.kind {
        SamplerKind::Heun | SamplerKind::EdmStochastic => heun,
        SamplerKind::Euler | SamplerKind::DpmSolverPp2M | SamplerKind::EulerMaruyama => n,
        SamplerKind::PredictorCorrector => n.saturating_mul(m.saturating_add(1)),
        SamplerKind::ExactPower => n.saturating_mul(m).saturating_add(heun),
    }
}

/// Length of the scratch buffer a sampler of `kind` needs for images of `image_len` values
/// (saturating).
pub const fn sampler_scratch_len(kind: SamplerKind, image_len: usize) -> usize {
    let images = match kind {
        SamplerKind::Euler => 1,
        SamplerKind::DpmSolverPp2M
        | SamplerKind::EulerMaruyama
        | SamplerKind::PredictorCorrector => 2,
        SamplerKind::Heun | SamplerKind::EdmStochastic | SamplerKind::ExactPower => 3,
    };
    image_len.saturating_mul(images)
}

/// Draws one sample into `x` (see [`sample_with_progress`]).
///
/// # Errors
/// As [`sample_with_progress`].
pub fn sample<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    config: &SamplerConfig,
    noise: NoiseStream,
    x: &mut [f32],
    scratch: &mut [f32],
) -> Result<(), Error> {
    sample_with_progress(denoiser, config, noise, x, scratch, &mut |_, _| {})
}

/// Draws one sample into `x` with the sampler `config.kind`, using only `noise` for
/// randomness; calls `progress(done, total)` after each of the `total = config.steps`
/// steps (noise levels).
///
/// `x` must hold `denoiser.image_len()` values (input content ignored; output: the sample)
/// and `scratch` [`sampler_scratch_len`]`(config.kind, image_len)` values.
///
/// # Errors
/// [`Error::InvalidArgument`] for an invalid `config` (see [`SamplerConfig::validate`]),
/// [`Error::BufferLength`] for wrong `x`/`scratch` lengths, any error the denoiser returns,
/// and [`Error::NonFinite`] (name `"sample"`) if the result contains NaN or infinity.
pub fn sample_with_progress<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    config: &SamplerConfig,
    noise: NoiseStream,
    x: &mut [f32],
    scratch: &mut [f32],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), Error> {
    config.validate()?;
    let schedule = config.schedule()?;
    let image_len = denoiser.image_len();
    check_len("sample", x.len(), image_len)?;
    check_len(
        "sampler scratch",
        scratch.len(),
        sampler_scratch_len(config.kind, image_len),
    )?;

    // Draw 0: x_T = σ_max · z.
    let draws = Draws {
        noise,
        image_len: image_len as u64,
    };
    draws.fill(0, x);
    let sigma_max = schedule.sigma(0);
    for v in x.iter_mut() {
        *v *= sigma_max;
    }

    match config.kind {
        SamplerKind::Heun => {
            run_one_step_method(denoiser, &schedule, x, scratch, progress, heun::step)?
        }
        SamplerKind::Euler => {
            run_one_step_method(denoiser, &schedule, x, scratch, progress, euler::step)?
        }
        SamplerKind::EdmStochastic => {
            edm_stochastic::run(denoiser, config, &schedule, draws, x, scratch, progress)?
        }
        SamplerKind::DpmSolverPp2M => dpm_solver::run(denoiser, &schedule, x, scratch, progress)?,
        SamplerKind::EulerMaruyama => {
            euler_maruyama::run(denoiser, &schedule, draws, x, scratch, progress)?
        }
        SamplerKind::PredictorCorrector => {
            predictor_corrector::run(denoiser, config, &schedule, draws, x, scratch, progress)?
        }
        SamplerKind::ExactPower => {
            exact_power::run(denoiser, config, &schedule, draws, x, scratch, progress)?
        }
    }

    if x.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::NonFinite { name: "sample" })
    }
}

/// Numbered noise draws of one sample: draw `k` is Gaussian numbers `k·L … k·L + L − 1`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draws {
    noise: NoiseStream,
    image_len: u64,
}

impl Draws {
    /// Fills `out` (`L` values) with draw `k`.
    pub(crate) fn fill(&self, k: u64, out: &mut [f32]) {
        self.noise
            .fill_gaussian(k.saturating_mul(self.image_len), out);
    }
}

/// The final step of every sampler: `x ← D(x; σ)`, using `buffer` for the output.
pub(crate) fn denoise_into_x<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    sigma: f32,
    x: &mut [f32],
    buffer: &mut [f32],
) -> Result<(), Error> {
    denoiser.denoise(x, sigma, buffer)?;
    x.copy_from_slice(buffer);
    Ok(())
}

/// A one-step method `step(denoiser, σ_i, σ_{i+1}, x, scratch)` (Euler, Heun): moves `x`
/// from σ_i to σ_{i+1}, using `scratch` as its working buffer.
type OneStepMethod<D> = fn(&mut D, f32, f32, &mut [f32], &mut [f32]) -> Result<(), Error>;

/// Walks the schedule with a one-step method `step(denoiser, σ_i, σ_{i+1}, x, scratch)`
/// (Euler, Heun), reporting progress after each step.
fn run_one_step_method<D: Denoiser + ?Sized>(
    denoiser: &mut D,
    schedule: &KarrasSchedule,
    x: &mut [f32],
    scratch: &mut [f32],
    progress: &mut dyn FnMut(usize, usize),
    step: OneStepMethod<D>,
) -> Result<(), Error> {
    let steps = schedule.steps();
    for i in 0..steps {
        step(
            denoiser,
            schedule.sigma(i),
            schedule.sigma(i + 1),
            x,
            scratch,
        )?;
        progress(i + 1, steps);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_edm_heun_35_evaluations() {
        let c = SamplerConfig::default();
        assert_eq!(
            (c.kind, c.steps, c.sigma_min, c.sigma_max, c.rho),
            (SamplerKind::Heun, 18, 0.002, 80.0, 7.0)
        );
        assert_eq!(network_evaluations(&c), 35);
        c.validate().unwrap();
    }

    #[test]
    fn evaluation_counts() {
        let mut c = SamplerConfig {
            steps: 10,
            corrector_steps: 3,
            ..SamplerConfig::default()
        };
        let expected = [19, 10, 19, 10, 10, 40, 49];
        for (kind, e) in SamplerKind::ALL.into_iter().zip(expected) {
            c.kind = kind;
            assert_eq!(network_evaluations(&c), e, "{kind:?}");
        }
        c.steps = usize::MAX;
        c.corrector_steps = usize::MAX;
        assert_eq!(network_evaluations(&c), usize::MAX);
    }

    #[test]
    fn names_round_trip() {
        for kind in SamplerKind::ALL {
            assert_eq!(SamplerKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(SamplerKind::from_name("nope"), None);
    }

    #[test]
    fn validation_names_the_field() {
        let cases: [(SamplerConfig, &str); 10] = [
            (
                SamplerConfig {
                    steps: 0,
                    ..Default::default()
                },
                "steps",
            ),
            (
                SamplerConfig {
                    sigma_min: -1.0,
                    ..Default::default()
                },
                "sigma_min",
            ),
            (
                SamplerConfig {
                    sigma_max: 0.001,
                    ..Default::default()
                },
                "sigma_max",
            ),
            (
                SamplerConfig {
                    rho: f32::NAN,
                    ..Default::default()
                },
                "rho",
            ),
            (
                SamplerConfig {
                    s_churn: -1.0,
                    ..Default::default()
                },
                "s_churn",
            ),
            (
                SamplerConfig {
                    s_tmin: f32::INFINITY,
                    ..Default::default()
                },
                "s_tmin",
            ),
            (
                SamplerConfig {
                    s_tmax: 0.01,
                    ..Default::default()
                },
                "s_tmax",
            ),
            (
                SamplerConfig {
                    s_noise: f32::NAN,
                    ..Default::default()
                },
                "s_noise",
            ),
            (
                SamplerConfig {
                    snr: 0.0,
                    ..Default::default()
                },
                "snr",
            ),
            (
                SamplerConfig {
                    corrector_steps: MAX_CORRECTOR_STEPS + 1,
                    ..Default::default()
                },
                "corrector_steps",
            ),
        ];
        for (config, field) in cases {
            match config.validate() {
                Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        SamplerConfig {
            s_tmax: f32::INFINITY,
            ..Default::default()
        }
        .validate()
        .unwrap();
    }
}
