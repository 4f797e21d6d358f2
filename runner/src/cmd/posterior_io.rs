//! What `sample` and `sweep` share: weights, RTM input, the sampling loop with its progress
//! bar, pointwise statistics, digests and the JSON records of every parameter.
//!
//! ## Exact floats in JSON
//! `f32` parameters are written with the shortest decimal that reads back to the same
//! `f32` (serde_json's `f32` formatter) and read back by parsing that decimal directly as
//! `f32` ([`exact_f32`]): the JSON number is parsed as the nearest `f64` (serde_json with
//! `float_roundtrip`), whose shortest decimal is the written one (at most 9 significant
//! digits, so no other such decimal lies within half an `f64` ulp), and that decimal is
//! parsed as `f32`. No double rounding. Non-finite values are written as `"inf"`/`"-inf"`.

use crate::exec::{resolve_threads, PoolExecutor};
use crate::npy;
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use powerpost_core::exec::{Executor, Serial};
use powerpost_core::normalize::Normalization;
use powerpost_core::posterior::{draw_sample, posterior_scratch_len, PosteriorRequest};
#[cfg(feature = "vulkan")]
use powerpost_core::posterior::{draw_sample_with, sampling_scratch_len};
use powerpost_core::safetensors::SafeTensors;
use powerpost_core::sampler::{network_evaluations, Predictor, SamplerConfig, SamplerKind};
use powerpost_core::unet::{
    architecture_of, init_random, load_params, params_len, prepare_transformed, transformed_len,
    UNet, UNetConfig, ARCHITECTURE_KEY,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// File name of the default weights, under `weights/` of the repository.
pub const DEFAULT_WEIGHTS: &str = "weights/powerpost-edge.safetensors";

/// Lowercase hexadecimal SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of a file's bytes.
///
/// # Errors
/// If the file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(sha256_hex(&bytes))
}

/// An absolute form of `path` for the records (as given if it cannot be resolved).
pub fn absolute(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Serde helpers for exact `f32` round trips (see the module docs).
pub mod exact_f32 {
    use serde::{de, Deserialize, Deserializer, Serializer};

    /// Writes a finite value as a JSON number, ±∞ as `"inf"`/`"-inf"`, NaN as `"nan"`.
    pub fn serialize<S: Serializer>(value: &f32, s: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            s.serialize_f32(*value)
        } else if value.is_nan() {
            s.serialize_str("nan")
        } else if *value > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(f64),
        Text(String),
    }

    /// Reads what [`serialize`] wrote, without double rounding.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Number(v) => format!("{v}").parse::<f32>().map_err(de::Error::custom),
            Raw::Text(t) => match t.as_str() {
                "inf" => Ok(f32::INFINITY),
                "-inf" => Ok(f32::NEG_INFINITY),
                "nan" => Ok(f32::NAN),
                other => Err(de::Error::custom(format!(
                    "expected a number, \"inf\" or \"-inf\", found \"{other}\""
                ))),
            },
        }
    }
}

/// An `f32` that serialises exactly (see [`exact_f32`]), for lists.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExactF32(#[serde(with = "exact_f32")] pub f32);

/// Every field of a [`SamplerConfig`], by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerRecord {
    /// Sampler name (`heun`, `euler`, `edm-stochastic`, `dpmpp-2m`, `euler-maruyama`, `pc`,
    /// `exact-power`).
    pub kind: String,
    /// Noise levels N.
    pub steps: usize,
    /// σ_min.
    #[serde(with = "exact_f32")]
    pub sigma_min: f32,
    /// σ_max.
    #[serde(with = "exact_f32")]
    pub sigma_max: f32,
    /// Karras ρ.
    #[serde(with = "exact_f32")]
    pub rho: f32,
    /// S_churn.
    #[serde(with = "exact_f32")]
    pub s_churn: f32,
    /// S_tmin.
    #[serde(with = "exact_f32")]
    pub s_tmin: f32,
    /// S_tmax.
    #[serde(with = "exact_f32")]
    pub s_tmax: f32,
    /// S_noise.
    #[serde(with = "exact_f32")]
    pub s_noise: f32,
    /// Predictor of `pc`: `reverse-diffusion` or `euler-maruyama`.
    pub predictor: String,
    /// Langevin snr.
    #[serde(with = "exact_f32")]
    pub snr: f32,
    /// Langevin corrector steps per level.
    pub corrector_steps: usize,
}

impl SamplerRecord {
    /// The record of `c`.
    pub fn of(c: &SamplerConfig) -> Self {
        Self {
            kind: c.kind.name().to_string(),
            steps: c.steps,
            sigma_min: c.sigma_min,
            sigma_max: c.sigma_max,
            rho: c.rho,
            s_churn: c.s_churn,
            s_tmin: c.s_tmin,
            s_tmax: c.s_tmax,
            s_noise: c.s_noise,
            predictor: match c.predictor {
                Predictor::ReverseDiffusion => "reverse-diffusion",
                Predictor::EulerMaruyama => "euler-maruyama",
            }
            .to_string(),
            snr: c.snr,
            corrector_steps: c.corrector_steps,
        }
    }

    /// The configuration, validated.
    ///
    /// # Errors
    /// Unknown names or invalid values, naming the field.
    pub fn config(&self) -> Result<SamplerConfig> {
        let kind = sampler_kind(&self.kind).context("sampler.kind")?;
        let predictor = match self.predictor.as_str() {
            "reverse-diffusion" => Predictor::ReverseDiffusion,
            "euler-maruyama" => Predictor::EulerMaruyama,
            other => bail!("sampler.predictor: expected `reverse-diffusion` or `euler-maruyama`, found `{other}`"),
        };
        let c = SamplerConfig {
            kind,
            steps: self.steps,
            sigma_min: self.sigma_min,
            sigma_max: self.sigma_max,
            rho: self.rho,
            s_churn: self.s_churn,
            s_tmin: self.s_tmin,
            s_tmax: self.s_tmax,
            s_noise: self.s_noise,
            predictor,
            snr: self.snr,
            corrector_steps: self.corrector_steps,
        };
        c.validate().map_err(|e| anyhow!("sampler: {e}"))?;
        Ok(c)
    }
}

/// The sampler kind named `name`, or an error listing the names.
///
/// # Errors
/// For unknown names.
pub fn sampler_kind(name: &str) -> Result<SamplerKind> {
    SamplerKind::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = SamplerKind::ALL.iter().map(|k| k.name()).collect();
        anyhow!(
            "unknown sampler `{name}`: expected one of {}",
            names.join(", ")
        )
    })
}

/// The runner's default sampler: DPM-Solver++(2M).
///
/// Chosen by measurement (`powerpost evaluate --steps-study`, weights/MODEL_CARD.md): on
/// the v0 weights its 16-step posterior means were 0.009 km/s RMSE from a 256-step
/// Heun reference, a fifth of the Monte-Carlo standard error of a 16-sample mean, at 16
/// network evaluations per sample; Heun needs 12 steps (23 evaluations) for 0.017 km/s.
pub const DEFAULT_SAMPLER: SamplerKind = SamplerKind::DpmSolverPp2M;

/// Default steps of `kind` in the runner: 16 for DPM-Solver++(2M) (see
/// [`DEFAULT_SAMPLER`]), EDM's 18 for every other kind.
pub fn default_steps(kind: SamplerKind) -> usize {
    match kind {
        SamplerKind::DpmSolverPp2M => 16,
        _ => SamplerConfig::default().steps,
    }
}

/// The runner's default sampler configuration (what `powerpost sample` uses without
/// `--sampler`, `--steps` or `--exact-power`).
pub fn default_sampler() -> SamplerConfig {
    SamplerConfig {
        steps: default_steps(DEFAULT_SAMPLER),
        ..SamplerConfig::with_kind(DEFAULT_SAMPLER)
    }
}

/// Langevin corrector steps per noise level when the runner picks the exact-power sampler
/// for a prior power α ≠ 1 on its own.
///
/// Chosen by measurement (docs/sampling.md): on the Gaussian test case M = 4 puts
/// λ = 1, α = 0.5 within 1 % in spread (M = 0 is already exact for the tempered prior);
/// on the shipped weights the spread and data residual change little beyond it.
pub const DEFAULT_CORRECTOR_STEPS: usize = 4;

/// The sampler configuration from the command-line options `--sampler`, `--steps` and
/// `--exact-power N`, for a run over the prior powers `alphas`.
///
/// Defaults: dpmpp-2m with 16 steps when every α is 1; when some α ≠ 1, the exact-power
/// sampler with [`DEFAULT_CORRECTOR_STEPS`] (the annealed path is not the power-scaled
/// posterior there: [`annealed_power_warning`]); other samplers 18 steps.
///
/// # Errors
/// Unknown sampler, `--exact-power` with another sampler, invalid steps.
pub fn sampler_from_options(
    sampler: Option<&str>,
    steps: Option<usize>,
    exact_power: Option<usize>,
    alphas: &[f32],
) -> Result<SamplerConfig> {
    let tempered = alphas.iter().any(|&a| a != 1.0);
    let kind = match (sampler, exact_power) {
        (Some(name), _) => sampler_kind(name).context("--sampler")?,
        (None, Some(_)) => SamplerKind::ExactPower,
        (None, None) if tempered => SamplerKind::ExactPower,
        (None, None) => DEFAULT_SAMPLER,
    };
    if exact_power.is_some() && kind != SamplerKind::ExactPower {
        bail!("--exact-power N selects the `exact-power` sampler; it cannot be combined with --sampler {}", kind.name());
    }
    let mut config = SamplerConfig {
        steps: steps.unwrap_or(default_steps(kind)),
        ..SamplerConfig::with_kind(kind)
    };
    if kind == SamplerKind::ExactPower {
        config.corrector_steps = exact_power.unwrap_or(DEFAULT_CORRECTOR_STEPS);
    }
    config.validate().map_err(|e| {
        let option = match e {
            powerpost_core::Error::InvalidArgument { name: "steps", .. } => "--steps",
            powerpost_core::Error::InvalidArgument {
                name: "corrector_steps",
                ..
            } => "--exact-power",
            _ => "sampler",
        };
        anyhow!("{option}: {e}")
    })?;
    Ok(config)
}

/// The normalisation, field by field.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizationRecord {
    /// Velocity centre (km/s).
    #[serde(with = "exact_f32")]
    pub velocity_center_km_s: f32,
    /// Velocity half-range (km/s).
    #[serde(with = "exact_f32")]
    pub velocity_half_range_km_s: f32,
    /// RTM scale.
    #[serde(with = "exact_f32")]
    pub rtm_scale: f32,
}

impl From<Normalization> for NormalizationRecord {
    fn from(n: Normalization) -> Self {
        Self {
            velocity_center_km_s: n.velocity_center_km_s,
            velocity_half_range_km_s: n.velocity_half_range_km_s,
            rtm_scale: n.rtm_scale,
        }
    }
}

/// Which weights were used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsRecord {
    /// Absolute path of the safetensors file, or `random:SEED`.
    pub path: String,
    /// SHA-256 of the file's bytes; for `random:SEED`, of the parameters as little-endian
    /// f32 (so a change of the initialiser is detected).
    pub sha256: String,
    /// The architecture description ([`UNetConfig::describe`]).
    pub architecture: String,
    /// The normalisation the weights carry (defaults for random weights).
    pub normalization: NormalizationRecord,
}

/// An input file: absolute path and digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    /// Absolute path when recorded.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// Loaded network weights.
pub struct Weights {
    /// The architecture.
    pub config: UNetConfig,
    /// Flat parameters.
    pub params: Vec<f32>,
    /// The normalisation the network expects.
    pub normalization: Normalization,
    /// What to record.
    pub record: WeightsRecord,
    /// The training metadata the file carries, `(label, value)` for each entry of
    /// [`TRAINING_METADATA`] present (none for `random:SEED`).
    pub training: Vec<(&'static str, String)>,
}

/// Metadata the trainer writes about the training run, `(key, label)` (the labels are
/// what `powerpost info` prints).
pub const TRAINING_METADATA: [(&str, &str); 4] = [
    (
        powerpost_train::export::TRAIN_STEPS_KEY,
        "steps of the training run that wrote it (a fine-tuning run counts its own)",
    ),
    (
        powerpost_train::export::DATASET_SHA256_KEY,
        "training dataset sha256",
    ),
    (
        powerpost_train::export::BACKGROUND_SIGMA_KEY,
        "background models of training: the velocity smoothed with σ (grid points)",
    ),
    (
        powerpost_train::export::BACKGROUND_ERROR_KEY,
        "background models of training: relative errors up to",
    ),
];

impl Weights {
    /// Whether these are `random:SEED` weights (no training, so no training amplitude or
    /// metadata).
    pub fn is_random(&self) -> bool {
        self.record.path.starts_with("random:")
    }
}

/// Where a file shipped in the repository (`relative` to its root, e.g. the default
/// weights or `examples/edge-2016`) would be: under the directories above the binary,
/// then under the source tree the binary was built from.
pub fn shipped_candidates(relative: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            out.push(dir.join(relative));
        }
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    out.push(repo.join(relative));
    out
}

/// The shipped directory `relative` (e.g. `examples/edge-2016`), the first of its
/// [`shipped_candidates`] that exists.
///
/// # Errors
/// If none exists (an installation without the examples).
pub fn resolve_example(relative: &str) -> Result<PathBuf> {
    shipped_candidates(relative)
        .into_iter()
        .find(|p| p.is_dir())
        .ok_or_else(|| anyhow!("--example: the shipped example {relative} was not found next to the binary or in the source tree; give --example DIR (with velocity.npy and rtm.npy) or --rtm and --truth"))
}

/// Where the default weights would be: [`DEFAULT_WEIGHTS`] in [`shipped_candidates`].
pub fn default_weights_candidates() -> Vec<PathBuf> {
    shipped_candidates(DEFAULT_WEIGHTS)
}

/// Loads `--weights SPEC`: a safetensors file, `random:SEED`, or (`None`) the default file.
///
/// # Errors
/// Missing default weights (explaining the `random:SEED` form), an unreadable or
/// malformed file, an unknown architecture, bad normalisation metadata.
pub fn load_weights(spec: Option<&str>) -> Result<Weights> {
    let path = match spec {
        Some(s) if s.starts_with("random:") => {
            let seed_text = &s["random:".len()..];
            let seed: u64 = seed_text.parse().map_err(|_| anyhow!("--weights {s}: expected random:SEED with SEED a non-negative integer"))?;
            return random_weights(seed);
        }
        Some(s) => PathBuf::from(s),
        None => match default_weights_candidates().into_iter().find(|p| p.is_file()) {
            Some(p) => p,
            None => bail!(
                "--weights: no trained weights are shipped yet ({DEFAULT_WEIGHTS} not found next to the binary or in the source tree); \
                 give --weights FILE.safetensors, or --weights random:SEED for seeded random weights (for testing only: the samples are noise)"
            ),
        },
    };
    let name = path.display().to_string();
    let bytes = std::fs::read(&path)
        .with_context(|| format!("--weights {name}: cannot read the weights file"))?;
    let file = SafeTensors::parse(&bytes)
        .map_err(|e| anyhow!("{name}: not a valid safetensors weights file: {e}"))?;
    let arch = file.metadata(ARCHITECTURE_KEY).ok_or_else(|| anyhow!("{name}: metadata `{ARCHITECTURE_KEY}` is missing; expected the architecture description written by the trainer"))?;
    let Ok(config) = architecture_of(&bytes) else {
        let known: Vec<String> = UNetConfig::PRESETS
            .iter()
            .map(|(n, c)| format!("{n}: `{}`", c.describe()))
            .collect();
        bail!("{name}: metadata `{ARCHITECTURE_KEY}` is `{arch}`, which this build cannot run; expected one of {}", known.join("; "));
    };
    let normalization =
        Normalization::from_safetensors(&file).map_err(|e| anyhow!("{name}: metadata: {e}"))?;
    let mut params = vec![0.0f32; params_len(&config)];
    load_params(&config, &bytes, &mut params).map_err(|e| anyhow!("{name}: {e}"))?;
    let training = TRAINING_METADATA
        .iter()
        .filter_map(|&(key, label)| Some((label, file.metadata(key)?.to_string())))
        .collect();
    Ok(Weights {
        config,
        params,
        normalization,
        record: WeightsRecord {
            path: absolute(&path),
            sha256: sha256_hex(&bytes),
            architecture: arch.to_string(),
            normalization: normalization.into(),
        },
        training,
    })
}

/// Seeded random weights of the default architecture with the default normalisation.
fn random_weights(seed: u64) -> Result<Weights> {
    let config = UNetConfig::DEFAULT;
    let mut params = vec![0.0f32; params_len(&config)];
    init_random(&config, seed, &mut params).map_err(|e| anyhow!("random weights: {e}"))?;
    let bytes: Vec<u8> = params.iter().flat_map(|v| v.to_le_bytes()).collect();
    let normalization = Normalization::default();
    Ok(Weights {
        config,
        params,
        normalization,
        record: WeightsRecord {
            path: format!("random:{seed}"),
            sha256: sha256_hex(&bytes),
            architecture: config.describe().to_string(),
            normalization: normalization.into(),
        },
        training: Vec::new(),
    })
}

/// Checks that freshly loaded weights are the recorded ones.
///
/// # Errors
/// If the digest differs.
pub fn check_weights(weights: &Weights, recorded: &WeightsRecord, source: &Path) -> Result<()> {
    if weights.record.sha256 != recorded.sha256 {
        bail!(
            "{}: field `weights.sha256` is {}, but {} has SHA-256 {}: not the weights this run was made with",
            source.display(),
            recorded.sha256,
            weights.record.path,
            weights.record.sha256
        );
    }
    Ok(())
}

/// An RTM image read from `.npy`.
pub struct RtmInput {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// The values handed to the weights' normalisation: the file's values, times
    /// [`gain`](Self::gain) where one was applied.
    pub raw: Vec<f32>,
    /// Path and digest (of the file as read).
    pub record: FileRecord,
    /// The amplitude gain applied to the file's values (`--rtm-normalize`), if any.
    pub gain: Option<f32>,
}

/// Range of the shipped training images' standard deviations after the weights' RTM scale
/// (edge-864; median 0.91). By construction of the scale (one over the standard deviation
/// of the training RTM values) their pooled standard deviation is 1.
pub const TRAINING_RTM_AMPLITUDE: (f64, f64) = (0.55, 2.15);

/// Standard deviations, after the weights' RTM scale, outside which an RTM image's
/// amplitude draws a warning: four times outside [`TRAINING_RTM_AMPLITUDE`], an image from
/// another migration code, acquisition or unit.
pub const RTM_AMPLITUDE_WARN: (f64, f64) = (
    TRAINING_RTM_AMPLITUDE.0 / 4.0,
    TRAINING_RTM_AMPLITUDE.1 * 4.0,
);

/// Standard deviation (population, f64, values in index order) of `values × scale`.
pub fn rtm_amplitude(values: &[f32], scale: f32) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean) * (v as f64 - mean))
        .sum::<f64>()
        / n;
    var.sqrt() * (scale as f64).abs()
}

impl RtmInput {
    /// `--rtm-normalize`: multiplies the image by the gain that makes its standard deviation
    /// after the weights' RTM scale `rtm_scale` equal 1 (the training images' pooled value),
    /// for images from another migration code or acquisition whose amplitude unit differs.
    /// The gain is rounded to f32 and applied as one f32 multiplication per value, so a
    /// recorded gain reproduces the same bits, and an image scaled by a power of two gets
    /// exactly the same network input.
    ///
    /// # Errors
    /// A constant image (no amplitude to normalise), or one whose gain overflows f32.
    pub fn normalize(&mut self, rtm_scale: f32) -> Result<()> {
        let amplitude = rtm_amplitude(&self.raw, rtm_scale);
        let gain = (1.0 / amplitude) as f32;
        if !(amplitude > 0.0 && gain.is_finite() && gain > 0.0) {
            bail!(
                "--rtm-normalize: {}: the image has {}; expected an RTM image with reflections to scale",
                self.record.path,
                if amplitude > 0.0 {
                    format!("an amplitude too small to scale in f32 (standard deviation {amplitude:e} after the weights' RTM scale)")
                } else {
                    "the same value everywhere".to_string()
                }
            );
        }
        self.apply_gain(gain);
        Ok(())
    }

    /// Multiplies every value by `gain` (recorded by a normalised run) and records it.
    pub fn apply_gain(&mut self, gain: f32) {
        for v in &mut self.raw {
            *v *= gain;
        }
        self.gain = Some(gain);
    }

    /// Prints a warning when the image's amplitude after the scale of `weights` lies
    /// outside [`RTM_AMPLITUDE_WARN`] (only for images that were not normalised), and one
    /// when its top row is not zero (training images are muted above the seabed); only
    /// for trained weights: `random:SEED` weights have no training images.
    pub fn warn_amplitude(&self, weights: &Weights) {
        if weights.is_random() {
            return;
        }
        if self.raw[..self.width].iter().any(|&v| v != 0.0) {
            eprintln!(
                "warning: --rtm {}: its top row is not zero, while `powerpost dataset` mutes its images above the seabed (the shipped weights never saw the water layer's artefacts); mute it (`migrate --model`, or `migrate --background B --mute-model M` with M's water layer) unless these weights were trained on unmuted images",
                self.record.path
            );
        }
        if self.gain.is_some() {
            return;
        }
        let amplitude = rtm_amplitude(&self.raw, weights.normalization.rtm_scale);
        let (lo, hi) = RTM_AMPLITUDE_WARN;
        if !(lo..=hi).contains(&amplitude) {
            let (train_lo, train_hi) = TRAINING_RTM_AMPLITUDE;
            eprintln!(
                "warning: --rtm {}: its amplitude after the weights' RTM scale (standard deviation {amplitude:.3e}) is far from the training images' ({train_lo}–{train_hi}): the network never saw such images, so its samples are not meaningful. If the image comes from another migration code, acquisition or unit, add --rtm-normalize.",
                self.record.path
            );
        }
    }
}

/// Reads a 2-D RTM image and checks it for the network (`multiple` = the architecture's
/// `size_multiple()`).
///
/// # Errors
/// Wrong rank or dtype, sides that are not positive multiples of `multiple`, NaN or
/// infinite values (naming the first one's row and column).
pub fn read_rtm(path: &Path, multiple: usize) -> Result<RtmInput> {
    let name = path.display();
    let array = npy::read_f32_ranks(path, &[2]).context("--rtm")?;
    let (height, width) = (array.shape[0], array.shape[1]);
    check_size(&name.to_string(), height, width, multiple)?;
    if let Some(k) = array.data.iter().position(|v| !v.is_finite()) {
        bail!(
            "{name}: value at row {}, column {} is {}; expected finite RTM amplitudes",
            k / width,
            k % width,
            array.data[k]
        );
    }
    Ok(RtmInput {
        height,
        width,
        raw: array.data,
        record: FileRecord {
            path: absolute(path),
            sha256: sha256_file(path)?,
        },
        gain: None,
    })
}

/// A background velocity model read from `.npy` (`--background`).
pub struct BackgroundInput {
    /// The model in km/s, `height × width` row-major.
    pub velocity_km_s: Vec<f32>,
    /// Path and digest (of the file as read).
    pub record: FileRecord,
}

/// One velocity model from `.npy`: `[nz, nx]` or `[1, nz, nx]` float32, every value
/// finite and positive (any unit); returns `(nz, nx, values)`.
///
/// # Errors
/// An unreadable file, another rank, dtype or shape, and a value that is not a finite
/// positive velocity (naming its row and column); `option` names the option in the
/// read error.
pub fn read_velocity_model(path: &Path, option: &str) -> Result<(usize, usize, Vec<f32>)> {
    let name = path.display();
    let array = npy::read_f32_ranks(path, &[2, 3]).context(option.to_string())?;
    let (nz, nx) = match array.shape[..] {
        [1, nz, nx] | [nz, nx] => (nz, nx),
        _ => bail!(
            "{name}: shape {:?}; expected one model [nz, nx] or [1, nz, nx]",
            array.shape
        ),
    };
    if let Some(k) = array.data.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        bail!(
            "{name}: value at row {}, column {} is {}; expected finite positive velocities",
            k / nx.max(1),
            k % nx.max(1),
            array.data[k]
        );
    }
    Ok((nz, nx, array.data))
}

/// Reads `--background`: the smooth velocity model the RTM image was migrated in, a 2-D
/// `[height, width]` (or `[1, height, width]`) float32 `.npy` of the RTM image's size, in
/// km/s, or in m/s when its largest value is 100 or more (then divided by 1000).
///
/// # Errors
/// As [`read_velocity_model`], and a size other than the RTM image's.
pub fn read_background(path: &Path, height: usize, width: usize) -> Result<BackgroundInput> {
    let (nz, nx, mut velocity) = read_velocity_model(path, "--background")?;
    if (nz, nx) != (height, width) {
        bail!(
            "{}: shape [{nz}, {nx}]; expected [{height}, {width}] (the RTM image's size) or [1, {height}, {width}]",
            path.display()
        );
    }
    if velocity.iter().copied().fold(0.0f32, f32::max) >= 100.0 {
        for v in &mut velocity {
            *v /= 1000.0;
        }
    }
    Ok(BackgroundInput {
        velocity_km_s: velocity,
        record: FileRecord {
            path: absolute(path),
            sha256: sha256_file(path)?,
        },
    })
}

/// Checks an image size for the network.
///
/// # Errors
/// Zero sides or sides not multiples of `multiple`.
pub fn check_size(what: &str, height: usize, width: usize, multiple: usize) -> Result<()> {
    if height == 0
        || width == 0
        || !height.is_multiple_of(multiple)
        || !width.is_multiple_of(multiple)
    {
        bail!("{what}: image is {height} × {width}; expected height and width to be positive multiples of {multiple} (the network's size multiple)");
    }
    if height.checked_mul(width).is_none_or(|n| n > (1 << 26)) {
        bail!("{what}: image of {height} × {width} is too large");
    }
    Ok(())
}

/// Checks λ and α.
///
/// # Errors
/// λ < 0, α ≤ 0 or non-finite values, naming the option.
pub fn check_power(lambda: f32, alpha: f32) -> Result<()> {
    if !(lambda.is_finite() && lambda >= 0.0) {
        bail!("--lambda: expected a finite number >= 0, got {lambda}");
    }
    if !(alpha.is_finite() && alpha > 0.0) {
        bail!("--alpha: expected a finite number > 0, got {alpha}");
    }
    Ok(())
}

/// The warning for a prior power α ≠ 1 with a sampler that follows the annealed path
/// (every kind but exact-power), or `None`: such samplers draw from the power-scaled
/// *annealed* prior, whose spread keeps a factor (v + σ_max²)^((1−α)/2) — pure noise of
/// size ≈ σ_max^(1−α) for α < 1, too narrow for α > 1 (docs/sampling.md).
pub fn annealed_power_warning(alpha: f32, sampler: &SamplerConfig) -> Option<String> {
    if alpha == 1.0 || sampler.kind == SamplerKind::ExactPower {
        return None;
    }
    let effect = if alpha < 1.0 {
        format!(
            "keeps noise of the order of σ_max^(1−α) = {:.1} (normalised units) in the samples",
            sampler.sigma_max.powf(1.0 - alpha)
        )
    } else {
        "makes the samples too narrow".to_string()
    };
    Some(format!(
        "warning: α = {alpha} with the {} sampler follows the annealed path, which {effect}; \
         --exact-power N samples the power-scaled posterior itself (docs/sampling.md)",
        sampler.kind.name()
    ))
}

/// A short description of a sampler for figure titles: `dpmpp-2m, 16 steps`, or
/// `exact-power, 18 steps × 4 Langevin` (corrector steps are shown where the kind uses them).
pub fn sampler_label(sampler: &SamplerConfig) -> String {
    match sampler.kind {
        SamplerKind::ExactPower | SamplerKind::PredictorCorrector => format!(
            "{}, {} steps × {} Langevin",
            sampler.kind.name(),
            sampler.steps,
            sampler.corrector_steps
        ),
        _ => format!("{}, {} steps", sampler.kind.name(), sampler.steps),
    }
}

/// The note shown when the runner picked the exact-power sampler because of α ≠ 1 (no
/// `--sampler`/`--exact-power` given), or `None`.
pub fn automatic_sampler_note(
    sampler_option: Option<&str>,
    exact_power: Option<usize>,
    sampler: &SamplerConfig,
) -> Option<String> {
    (sampler_option.is_none() && exact_power.is_none() && sampler.kind == SamplerKind::ExactPower).then(|| {
        format!(
            "note: α ≠ 1: sampling the power-scaled posterior with the exact-power sampler ({} levels, \
             {} Langevin steps each = --exact-power {}); --sampler {} follows the annealed path instead (docs/sampling.md)",
            sampler.steps,
            sampler.corrector_steps,
            sampler.corrector_steps,
            DEFAULT_SAMPLER.name()
        )
    })
}

/// Prints, once every input is validated, the warning for the smallest α ≠ 1 of `alphas`
/// with an annealed-path sampler (α < 1 is the harmful case; always shown) and, unless
/// `quiet`, the note when the exact-power sampler was picked because of α ≠ 1.
pub fn announce_sampler(
    alphas: &[f32],
    sampler_option: Option<&str>,
    exact_power: Option<usize>,
    sampler: &SamplerConfig,
    quiet: bool,
) {
    let worst = alphas
        .iter()
        .copied()
        .filter(|&a| a != 1.0)
        .min_by(f32::total_cmp);
    if let Some(w) = worst.and_then(|a| annealed_power_warning(a, sampler)) {
        eprintln!("{w}");
    }
    if !quiet {
        if let Some(note) = automatic_sampler_note(sampler_option, exact_power, sampler) {
            eprintln!("{note}");
        }
    }
}

/// A progress bar over sampler steps that also shows samples/s.
pub struct SampleProgress {
    bar: ProgressBar,
    start: Instant,
    samples_done: AtomicU64,
    samples_total: u64,
}

impl SampleProgress {
    /// A bar over `samples × steps_per_sample` steps.
    pub fn new(samples: u64, steps_per_sample: u64, quiet: bool) -> Self {
        let target = if !quiet && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar =
            ProgressBar::with_draw_target(Some(samples.saturating_mul(steps_per_sample)), target);
        let style = ProgressStyle::with_template(
            "{msg} [{bar:32.cyan/blue}] ETA {eta} (elapsed {elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        let p = Self {
            bar,
            start: Instant::now(),
            samples_done: AtomicU64::new(0),
            samples_total: samples,
        };
        p.update_message(0);
        p
    }

    fn update_message(&self, done: u64) {
        let secs = self.start.elapsed().as_secs_f64();
        let rate = if done > 0 && secs > 0.0 {
            format!("{:.2} samples/s", done as f64 / secs)
        } else {
            "– samples/s".to_string()
        };
        self.bar
            .set_message(format!("sample {done}/{} {rate}", self.samples_total));
    }

    /// One sampler step done.
    pub fn step(&self) {
        self.bar.inc(1);
    }

    /// One sample done (callable from several threads).
    pub fn sample_done(&self) {
        let done = self.samples_done.fetch_add(1, Ordering::Relaxed) + 1;
        self.update_message(done);
    }

    /// Leaves the final state on screen.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

/// Everything that defines the samples of one (λ, α) setting, besides the indices.
pub struct Sampling<'a> {
    /// The network.
    pub weights: &'a Weights,
    /// Image rows.
    pub height: usize,
    /// Image columns.
    pub width: usize,
    /// The raw RTM image (`None`: prior).
    pub rtm: Option<&'a [f32]>,
    /// The background model (km/s) for weights that
    /// [take it](UNetConfig::takes_background); ignored for the prior.
    pub background: Option<&'a [f32]>,
    /// λ.
    pub lambda: f32,
    /// α.
    pub alpha: f32,
    /// Sampler.
    pub sampler: SamplerConfig,
    /// Run seed.
    pub seed: u64,
}

/// Checks, before anything is drawn or written, that a background model is given exactly
/// when the weights [take one](UNetConfig::takes_background) (`posterior`: whether an
/// RTM image is given; the prior takes no condition at all).
///
/// # Errors
/// A missing or superfluous `--background`, naming the weights.
pub fn check_background(weights: &Weights, posterior: bool, background: bool) -> Result<()> {
    let name = &weights.record.path;
    match (posterior, weights.config.takes_background(), background) {
        (false, _, true) => bail!("--background: the prior takes no condition; leave --background out (or give --rtm)"),
        (true, true, false) => bail!("{name}: these weights are conditioned on the background model as well as the RTM image; give --background MODEL.npy (the smooth velocity model the RTM image was migrated in, km/s; `powerpost smooth --model VELOCITY.npy --out MODEL.npy` smooths a model into one)"),
        (true, false, true) => bail!("--background: {name} are conditioned on the RTM image alone; leave --background out"),
        _ => Ok(()),
    }
}

/// The network's condition: the RTM image `rtm` (raw) normalised, followed by the
/// background model `background` (km/s) normalised when the weights
/// [take it](UNetConfig::takes_background).
///
/// # Errors
/// A background given to weights that do not take one or missing for weights that do,
/// or a mis-sized one.
pub fn network_condition(
    weights: &Weights,
    rtm: &[f32],
    background: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let n = rtm.len();
    let mut condition = vec![0.0f32; weights.config.condition_channels() * n];
    let (rtm_plane, rest) = condition.split_at_mut(n);
    weights
        .normalization
        .rtm_to_network(rtm, rtm_plane)
        .map_err(|e| anyhow!("RTM normalisation: {e}"))?;
    check_background(weights, true, background.is_some())?;
    if let Some(bg) = background {
        weights
            .normalization
            .velocity_to_network(bg, rest)
            .map_err(|e| anyhow!("background normalisation: {e}"))?;
    }
    Ok(condition)
}

/// A thread pool (and, with `--backend vulkan`, a Vulkan device), ready to draw samples.
pub struct Engine {
    executor: PoolExecutor,
    #[cfg(feature = "vulkan")]
    gpu: Option<powerpost_gpu::Gpu>,
}

impl Engine {
    /// A pool of `threads` workers (`None`: every core), and the Vulkan device that
    /// `device` asks for.
    ///
    /// # Errors
    /// If the threads cannot be started, or the Vulkan device cannot be opened (no
    /// loader, no device, no device of that name, a build without shaders).
    pub fn new(threads: Option<usize>, device: &super::DeviceArgs) -> Result<Self> {
        let executor = PoolExecutor::new(resolve_threads(threads))?;
        match device.backend {
            super::Backend::Cpu => {
                if device.vulkan_device.is_some() {
                    bail!("--vulkan-device: applies to --backend vulkan only");
                }
                Ok(Self {
                    executor,
                    #[cfg(feature = "vulkan")]
                    gpu: None,
                })
            }
            #[cfg(feature = "vulkan")]
            super::Backend::Vulkan => {
                let gpu = match &device.vulkan_device {
                    Some(name) => powerpost_gpu::Gpu::with_device(name),
                    None => powerpost_gpu::Gpu::new(),
                }
                .context("--backend vulkan")?;
                Ok(Self {
                    executor,
                    gpu: Some(gpu),
                })
            }
            #[cfg(not(feature = "vulkan"))]
            super::Backend::Vulkan => {
                bail!("--backend vulkan: this powerpost was built without the `vulkan` feature")
            }
        }
    }

    /// Says on stderr which Vulkan device runs the network (unless `quiet`), and warns
    /// when it is a CPU implementation of Vulkan (always, even when `quiet`).
    pub fn announce_device(&self, quiet: bool) {
        #[cfg(feature = "vulkan")]
        if let (Some(gpu), Some(label)) = (&self.gpu, self.device_label()) {
            if !quiet {
                eprintln!("network on the Vulkan device {label}");
            }
            if gpu.is_cpu_implementation() {
                eprintln!(
                    "note: {} is a CPU implementation of Vulkan (for testing the backend); --backend cpu is much faster on this machine",
                    gpu.device_name()
                );
            }
        }
        let _ = quiet;
    }

    /// The Vulkan device in use, as "name (driver)", or `None` on the CPU.
    #[cfg_attr(not(feature = "vulkan"), allow(dead_code))]
    pub fn device_label(&self) -> Option<String> {
        #[cfg(feature = "vulkan")]
        if let Some(gpu) = &self.gpu {
            return Some(format!(
                "{} ({})",
                gpu.device_name(),
                gpu.driver_info().trim()
            ));
        }
        None
    }

    /// The executor.
    pub fn executor(&self) -> &PoolExecutor {
        &self.executor
    }

    /// Draws samples `first .. first + n`; returns them in km/s (`n × height × width`).
    ///
    /// With several threads and at least as many samples, whole rounds of `threads`
    /// samples run concurrently, one sample per thread (each on a serial executor); the
    /// remaining samples run one after another with every thread inside each network
    /// evaluation. A sample's bits depend only on its index (the core's forward pass is
    /// bit-exact for any executor), so the split changes the speed, never the output.
    ///
    /// # Errors
    /// Errors of the core (e.g. a diverged sample), naming the sample index (the lowest
    /// failing index when several fail).
    pub fn draw(
        &self,
        s: &Sampling<'_>,
        first: u64,
        n: usize,
        progress: &SampleProgress,
    ) -> Result<Vec<f32>> {
        let w = s.weights;
        // The 3×3 weights Winograd-transformed once for every evaluation of this call.
        let mut transformed = vec![0.0f32; transformed_len(&w.config)];
        prepare_transformed(&w.config, &w.params, &mut transformed)
            .map_err(|e| anyhow!("network: {e}"))?;
        let net = UNet::new(w.config, &w.params)
            .and_then(|net| net.with_transformed(&transformed))
            .map_err(|e| anyhow!("network: {e}"))?;
        let len = s.height * s.width;
        let condition = match s.rtm {
            Some(raw) => Some(network_condition(w, raw, s.background)?),
            None => None,
        };
        let request_of = |index: u64| PosteriorRequest {
            height: s.height,
            width: s.width,
            condition: condition.as_deref(),
            lambda: s.lambda,
            alpha: s.alpha,
            sampler: s.sampler,
            seed: s.seed,
            sample_index: index,
        };
        let finish = |index: u64, x: &[f32], velocity: &mut [f32]| -> Result<()> {
            w.normalization
                .network_to_velocity(x, velocity)
                .map_err(|e| anyhow!("sample {index}: {e}"))?;
            progress.sample_done();
            Ok(())
        };
        #[cfg(feature = "vulkan")]
        if let Some(gpu) = &self.gpu {
            // One device, samples one after another (each evaluation is one submission).
            let mut gpu_net = powerpost_gpu::GpuUNet::new(gpu, w.config, &w.params)
                .context("--backend vulkan: uploading the network")?;
            let mut scratch = vec![0.0f32; sampling_scratch_len(s.height, s.width, &s.sampler)];
            let mut x = vec![0.0f32; len];
            let mut out = vec![0.0f32; len * n];
            for (k, velocity) in out.chunks_exact_mut(len.max(1)).enumerate() {
                let index = first + k as u64;
                let mut denoiser = powerpost_gpu::GpuDenoiser::new(
                    &mut gpu_net,
                    s.height,
                    s.width,
                    condition.as_deref().unwrap_or(&[]),
                )
                .map_err(|e| anyhow!("sample {index}: {e}"))?;
                let drawn = draw_sample_with(
                    &mut denoiser,
                    &request_of(index),
                    &mut x,
                    &mut scratch,
                    &mut |_, _| progress.step(),
                );
                if let Err(e) = drawn {
                    return Err(match denoiser.take_failure() {
                        Some(device) => anyhow!(device).context(format!("sample {index}")),
                        None => anyhow!("sample {index}: {e}"),
                    });
                }
                finish(index, &x, velocity)?;
            }
            return Ok(out);
        }
        let scratch_len = posterior_scratch_len(&net, s.height, s.width, &s.sampler);
        let one = |index: u64,
                   exec: &dyn Executor,
                   velocity: &mut [f32],
                   scratch: &mut [f32],
                   x: &mut [f32]|
         -> Result<()> {
            draw_sample(&net, exec, &request_of(index), x, scratch, &mut |_, _| {
                progress.step()
            })
            .map_err(|e| anyhow!("sample {index}: {e}"))?;
            finish(index, x, velocity)
        };
        let mut out = vec![0.0f32; len * n];
        let threads = self.executor.threads().max(1);
        let concurrent = if threads > 1 && len > 0 {
            n / threads * threads
        } else {
            0
        };
        let (together, alone) = out.split_at_mut(concurrent * len);
        if concurrent > 0 {
            // Task t draws samples t, t + threads, … of the concurrent part.
            let slots: Vec<Mutex<&mut [f32]>> =
                together.chunks_exact_mut(len).map(Mutex::new).collect();
            let errors: Mutex<Vec<(u64, anyhow::Error)>> = Mutex::new(Vec::new());
            self.executor.for_each(threads, &|t| {
                let mut scratch = vec![0.0f32; scratch_len];
                let mut x = vec![0.0f32; len];
                for k in (t..concurrent).step_by(threads) {
                    let index = first + k as u64;
                    let mut slot = slots[k].lock().unwrap_or_else(|e| e.into_inner());
                    if let Err(e) = one(index, &Serial, &mut slot, &mut scratch, &mut x) {
                        errors
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((index, e));
                        return;
                    }
                }
            });
            let mut errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
            errors.sort_by_key(|(index, _)| *index);
            if let Some((_, e)) = errors.into_iter().next() {
                return Err(e);
            }
        }
        let mut scratch = vec![0.0f32; scratch_len];
        let mut x = vec![0.0f32; len];
        for (k, velocity) in alone.chunks_exact_mut(len.max(1)).enumerate() {
            one(
                first + (concurrent + k) as u64,
                &self.executor,
                velocity,
                &mut scratch,
                &mut x,
            )?;
        }
        Ok(out)
    }
}

/// Network evaluations per sample of `config` (for the records).
pub fn evaluations(config: &SamplerConfig) -> usize {
    network_evaluations(config)
}

/// Pointwise mean and standard deviation (population, divide by N) of `n` images of `len`
/// values, in f64, summing in sample-index order (two passes), rounded to f32 at the end.
pub fn mean_and_std(samples: &[f32], len: usize) -> (Vec<f32>, Vec<f32>) {
    let n = samples.len().checked_div(len).unwrap_or(0);
    let mut sum = vec![0.0f64; len];
    for image in samples.chunks_exact(len.max(1)) {
        for (s, &v) in sum.iter_mut().zip(image) {
            *s += v as f64;
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
    let mut sq = vec![0.0f64; len];
    for image in samples.chunks_exact(len.max(1)) {
        for ((q, &v), &m) in sq.iter_mut().zip(image).zip(&mean) {
            let d = v as f64 - m;
            *q += d * d;
        }
    }
    let std = sq.iter().map(|q| (q / n as f64).sqrt() as f32).collect();
    (mean.iter().map(|&m| m as f32).collect(), std)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_round_trips_exactly_through_json() {
        #[derive(Serialize, Deserialize)]
        struct W {
            #[serde(with = "exact_f32")]
            v: f32,
        }
        // A deterministic spread of bit patterns over the whole finite range, plus edge cases.
        let mut values: Vec<f32> = (0..200_000u32)
            .map(|k| f32::from_bits(k.wrapping_mul(2_654_435_761) & 0x7f7f_ffff))
            .collect();
        values.extend([
            0.0,
            -0.0,
            0.1,
            0.002,
            80.0,
            1.003,
            f32::MIN_POSITIVE,
            f32::MAX,
            1e-45,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ]);
        for (k, &v) in values.iter().enumerate() {
            let v = if k % 2 == 1 { -v } else { v };
            let text = serde_json::to_string(&W { v }).unwrap();
            let back: W = serde_json::from_str(&text).unwrap();
            assert_eq!(back.v.to_bits(), v.to_bits(), "{text}");
        }
        assert_eq!(
            serde_json::to_string(&W { v: 0.1 }).unwrap(),
            r#"{"v":0.1}"#
        );
    }

    #[test]
    fn mean_and_std_match_a_direct_computation() {
        // Three 2-pixel images.
        let samples = [1.0f32, 10.0, 2.0, 10.0, 4.0, 10.0];
        let (mean, std) = mean_and_std(&samples, 2);
        assert_eq!(mean, [7.0 / 3.0, 10.0]);
        let m = 7.0f64 / 3.0;
        let var = ((1.0 - m).powi(2) + (2.0 - m).powi(2) + (4.0 - m).powi(2)) / 3.0;
        assert_eq!(std, [var.sqrt() as f32, 0.0]);
    }

    #[test]
    fn annealed_power_warning_names_the_effect_and_the_fix() {
        let ode = default_sampler();
        assert_eq!(annealed_power_warning(1.0, &ode), None);
        let wide = annealed_power_warning(0.5, &ode).unwrap();
        // σ_max = 80: 80^0.5 ≈ 8.9.
        assert!(
            wide.contains("σ_max^(1−α) = 8.9") && wide.contains("--exact-power"),
            "{wide}"
        );
        assert!(annealed_power_warning(1.5, &ode)
            .unwrap()
            .contains("too narrow"));
        let exact = sampler_from_options(None, None, Some(4), &[1.0]).unwrap();
        assert_eq!(annealed_power_warning(0.5, &exact), None);
    }

    #[test]
    fn sampler_options() {
        let d = sampler_from_options(None, None, None, &[1.0]).unwrap();
        assert_eq!(d, default_sampler());
        assert_eq!((d.kind, d.steps), (SamplerKind::DpmSolverPp2M, 16));
        assert_eq!(
            sampler_from_options(Some("dpmpp-2m"), None, None, &[1.0]).unwrap(),
            d
        );
        let h = sampler_from_options(Some("heun"), None, None, &[1.0]).unwrap();
        assert_eq!(h, SamplerConfig::default(), "heun keeps EDM's 18 steps");
        let c = sampler_from_options(None, Some(5), Some(3), &[1.0]).unwrap();
        assert_eq!(
            (c.kind, c.steps, c.corrector_steps),
            (SamplerKind::ExactPower, 5, 3)
        );
        assert!(sampler_from_options(Some("euler"), None, Some(2), &[1.0]).is_err());
        let e = sampler_from_options(Some("rk4"), None, None, &[1.0]).unwrap_err();
        assert!(format!("{e:#}").contains("heun, euler"), "{e:#}");
        let e = sampler_from_options(None, Some(0), None, &[1.0]).unwrap_err();
        assert!(format!("{e:#}").contains("--steps"), "{e:#}");
        // α ≠ 1 anywhere in the run and no sampler named: exact-power with the default M,
        // and a note saying so; a named sampler is kept (and warned about elsewhere).
        let auto = sampler_from_options(None, None, None, &[1.0, 0.5]).unwrap();
        assert_eq!(
            (auto.kind, auto.steps, auto.corrector_steps),
            (SamplerKind::ExactPower, 18, DEFAULT_CORRECTOR_STEPS)
        );
        let note = automatic_sampler_note(None, None, &auto).unwrap();
        assert!(
            note.contains("--exact-power 4") && note.contains("--sampler dpmpp-2m"),
            "{note}"
        );
        assert_eq!(automatic_sampler_note(None, None, &d), None);
        assert_eq!(automatic_sampler_note(None, Some(4), &auto), None);
        assert_eq!(sampler_label(&auto), "exact-power, 18 steps × 4 Langevin");
        assert_eq!(sampler_label(&d), "dpmpp-2m, 16 steps");
        let named = sampler_from_options(Some("dpmpp-2m"), None, None, &[0.5]).unwrap();
        assert_eq!(named, d);
        assert_eq!(automatic_sampler_note(Some("dpmpp-2m"), None, &named), None);
        let m = sampler_from_options(None, Some(10), Some(2), &[0.5]).unwrap();
        assert_eq!((m.steps, m.corrector_steps), (10, 2));
        for kind in SamplerKind::ALL {
            let c = SamplerConfig {
                corrector_steps: 4,
                ..SamplerConfig::with_kind(kind)
            };
            assert_eq!(SamplerRecord::of(&c).config().unwrap(), c);
        }
    }
}
