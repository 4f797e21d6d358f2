//! `powerpost sweep` and `powerpost sweep-merge`: a λ × α grid of posterior runs (the
//! paper's Fig. 4), with per-cell statistics, sharding, merging and resume.
//!
//! ## Cells
//! Cell `c` is `(λ_i, α_j)` with `c = i·len(α) + j` (λ list major, in the order given).
//! Every cell draws samples `0 .. n` of the same seed (common random numbers: the cells
//! differ only by λ and α), so a cell is the same bits as `powerpost sample --lambda λ
//! --alpha α --first 0 --n n --seed S` with the same RTM image, weights and sampler.
//!
//! ## Output directory
//! - `sweep.json`: the plan (lists, n, seed, sampler, weights, RTM and its
//!   `--rtm-normalize` gain, the `--background` model if any, truth, shots, shard);
//! - `cells/l{λ}_a{α}/`: `samples.npy` (n × H × W, km/s), `mean.npy`, `std.npy`, and
//!   `cell.json` (the cell's parameters, with digests instead of paths, its metrics and
//!   the SHA-256 of its files). A cell directory appears whole (written beside, then
//!   renamed).
//! - `sweep.csv`: `lambda,alpha,n,mean_std,rmse,ssim,residual`, one row per cell in cell
//!   order (`mean_std` = pixel mean of the standard-deviation map, km/s; `rmse`, `ssim`
//!   of the posterior mean against `--truth` ([`super::metrics`]); `residual` = relative
//!   shot-data residual ‖F(mean) − d_obs‖/‖d_obs‖ with `--shots`; empty when not asked);
//! - with `--sample-residuals`: every sample's residual ‖F(x_i) − d_obs‖/‖d_obs‖ too, in
//!   `cell.json` (`metrics.sample_residuals`, in sample order) and `residuals.csv`
//!   (`lambda,alpha,sample,residual`: per cell a `mean` row, then samples `0 .. n`; an
//!   empty residual where the modelling refused the model);
//! - `sweep.png`: the posterior mean of every cell, rows λ increasing bottom to top,
//!   columns α increasing left to right, one shared velocity colour bar.
//!
//! ## Shards, merge, resume
//! `--shard k/m` (1 ≤ k ≤ m) computes the cells with `c mod m = k − 1` and writes only
//! those (and `sweep.json`); `sweep.csv`/`sweep.png` come from `powerpost sweep-merge
//! --out DIR SHARD_DIR...`, which checks that the shards belong to one plan and together
//! hold every cell, copies the cells and builds the table and figure — the same bits as an
//! unsharded run, since every value comes from the same per-cell computation.
//! A cell whose directory is complete (all files present with the recorded digests) and
//! whose recorded parameters match is skipped, so rerunning an interrupted sweep finishes
//! it with the same bits; a complete cell made with other parameters is an error. If only
//! the metric inputs changed (`--truth`, `--shots`), the metrics are recomputed from the
//! stored mean.
//!
//! ## Cost of `--shots`
//! The residual forward-models every shot of the preset through the posterior mean: with
//! the `edge` preset (16 shots, 1441 time steps on a 127 × 255 grid plus absorbing layers)
//! that is about 1.1 G grid-point updates per cell, a few seconds on 2 cores; shots run in
//! parallel on the thread pool. `--sample-residuals` costs that again for every sample.
//!
//! ## As a library
//! `powerpost paper` runs several sweeps through the same functions: [`SweepInputs::load`]
//! (or built by hand), [`SweepPlan::new`], [`prepare`] (checks an output directory, writes
//! nothing), [`execute`] (cells, resume, optional donors to copy identical cells from,
//! `sweep.csv`/`sweep.png`), and [`load_cells`] / [`lambda_alpha_figure`] to read results.

use super::metrics::{rmse, ssim};
use super::posterior_io::{
    check_background, check_size, load_weights, mean_and_std, read_background, read_rtm,
    sha256_file, BackgroundInput, Engine, ExactF32, FileRecord, NormalizationRecord, RtmInput,
    SampleProgress, SamplerRecord, Sampling, Weights, WeightsRecord,
};
use super::RunArgs;
use crate::atomic;
use crate::figures::{Canvas, ColorScale, GridFigure, Image, Panel};
use crate::npy;
use crate::progress::Progress;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use powerpost_core::exec::Executor;
use powerpost_core::sampler::SamplerConfig;
use powerpost_core::wave::{self, Acquisition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Files of a cell directory besides `cell.json`.
const CELL_FILES: [&str; 3] = ["samples.npy", "mean.npy", "std.npy"];

/// Options of `powerpost sweep`.
#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// Likelihood powers λ ≥ 0, comma-separated (e.g. 0,0.5,1,2,4,8,16).
    #[arg(long, value_delimiter = ',', required = true)]
    pub lambda: Vec<f32>,
    /// Prior powers α > 0, comma-separated (e.g. 0.25,0.5,1,1.5).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub alpha: Vec<f32>,
    /// Samples per cell.
    #[arg(long, default_value_t = 4)]
    pub n: usize,
    /// Run seed (every cell uses samples 0..n of it).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub sampling: super::SamplerArgs,
    /// RTM image: 2-D [H, W] float32 .npy.
    #[arg(long)]
    pub rtm: PathBuf,
    /// Rescale the RTM image so that its standard deviation after the weights' RTM scale
    /// is 1, the training images' pooled value (as `sample --rtm-normalize`); the gain is
    /// recorded in sweep.json and every cell.json.
    #[arg(long)]
    pub rtm_normalize: bool,
    /// Background model (km/s), 2-D [H, W] .npy: the model the RTM image was migrated in,
    /// for weights conditioned on it (as `sample --background`).
    #[arg(long)]
    pub background: Option<PathBuf>,
    /// Ground-truth velocity (km/s), 2-D [H, W] .npy: adds RMSE and SSIM of each mean.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Observed shots [shots, nt, receivers] .npy (or SEG-Y .sgy/.segy with the preset's
    /// geometry) of --preset: adds the data residual of each posterior mean (costly, see
    /// the docs).
    #[arg(long)]
    pub shots: Option<PathBuf>,
    /// Acquisition preset of --shots (`edge`: 64 × 128 models; `paper`: 256 × 256; `tiny`:
    /// 16 × 32).
    #[arg(long, default_value = "edge")]
    pub preset: String,
    /// With --shots: also the data residual of every sample (in cell.json and
    /// residuals.csv; one more forward modelling of all shots per sample).
    #[arg(long)]
    pub sample_residuals: bool,
    /// Compute only shard k of m (1-based; cells assigned round-robin), e.g. 2/4.
    #[arg(long, value_name = "K/M")]
    pub shard: Option<String>,
    /// Output directory (reused: complete cells are skipped).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

/// Options of `powerpost sweep-merge`.
#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Output directory of the merged sweep (may be one of the shard directories).
    #[arg(long)]
    pub out: PathBuf,
    /// The shard directories (one per shard, all of one sweep).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
}

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// 1 ≤ index ≤ count.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

/// Observed shots and their preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShotsRecord {
    /// The shots file.
    pub file: FileRecord,
    /// Acquisition preset name.
    pub preset: String,
}

/// `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepPlan {
    /// Always `"sweep"`.
    pub kind: String,
    /// Version that wrote it.
    pub powerpost_version: String,
    /// λ list in the order given.
    pub lambdas: Vec<ExactF32>,
    /// α list in the order given.
    pub alphas: Vec<ExactF32>,
    /// Samples per cell.
    pub n: usize,
    /// Run seed.
    pub seed: u64,
    /// Image rows.
    pub height: usize,
    /// Image columns.
    pub width: usize,
    /// Sampler.
    pub sampler: SamplerRecord,
    /// Weights.
    pub weights: WeightsRecord,
    /// RTM image.
    pub rtm: FileRecord,
    /// Gain applied to the RTM image's values (`--rtm-normalize`; absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtm_gain: Option<ExactF32>,
    /// Background model (`--background`; absent: weights conditioned on the RTM image
    /// alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<FileRecord>,
    /// Ground truth, if any.
    pub truth: Option<FileRecord>,
    /// Observed shots, if any.
    pub shots: Option<ShotsRecord>,
    /// This directory's shard (`null`: all cells).
    pub shard: Option<Shard>,
    /// Whether every sample's data residual is recorded too (absent: no).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sample_residuals: bool,
}

impl SweepPlan {
    /// The plan of `spec` on `inputs` (this version, their records).
    pub fn new(spec: &SweepSpec, inputs: &SweepInputs) -> Self {
        Self {
            kind: "sweep".into(),
            powerpost_version: env!("CARGO_PKG_VERSION").into(),
            lambdas: spec.lambdas.iter().map(|&v| ExactF32(v)).collect(),
            alphas: spec.alphas.iter().map(|&v| ExactF32(v)).collect(),
            n: spec.n,
            seed: spec.seed,
            height: inputs.rtm.height,
            width: inputs.rtm.width,
            sampler: SamplerRecord::of(&spec.sampler),
            weights: inputs.weights.record.clone(),
            rtm: inputs.rtm.record.clone(),
            rtm_gain: inputs.rtm.gain.map(ExactF32),
            background: inputs.background.as_ref().map(|b| b.record.clone()),
            truth: inputs.truth.as_ref().map(|t| t.1.clone()),
            shots: inputs.shots.as_ref().map(|s| s.record.clone()),
            shard: spec.shard,
            sample_residuals: spec.sample_residuals && inputs.shots.is_some(),
        }
    }

    /// Parses a `sweep.json` and checks it as `powerpost sweep` checks its options (`what`
    /// names the file in errors): the kind, non-empty λ and α lists without repeated
    /// values, λ ≥ 0 and α > 0, at least one sample per cell, an image size the runner
    /// accepts, the sampler configuration, and a shard `k/m` with 1 ≤ k ≤ m.
    ///
    /// # Errors
    /// Malformed JSON, missing or unknown fields, or the first invalid field, named.
    pub fn parse(text: &str, what: &str) -> Result<Self> {
        let plan: SweepPlan = serde_json::from_str(text)
            .map_err(|e| anyhow!("{what}: not a powerpost sweep.json: {e}"))?;
        plan.validate(what)?;
        Ok(plan)
    }

    /// The checks of [`parse`](Self::parse) after deserialising.
    ///
    /// # Errors
    /// The first invalid field, named, after `what`.
    pub fn validate(&self, what: &str) -> Result<()> {
        if self.kind != "sweep" {
            bail!("{what}: field `kind` is `{}`, expected `sweep`", self.kind);
        }
        for (field, list, lambda) in [
            ("lambdas", &self.lambdas, true),
            ("alphas", &self.alphas, false),
        ] {
            if list.is_empty() {
                bail!("{what}: field `{field}` is empty, expected at least one value");
            }
            for (i, v) in list.iter().enumerate() {
                let v = v.0;
                let ok = if lambda {
                    v.is_finite() && v >= 0.0
                } else {
                    v.is_finite() && v > 0.0
                };
                if !ok {
                    bail!(
                        "{what}: field `{field}[{i}]` is {v}, expected a finite number {}",
                        if lambda { ">= 0" } else { "> 0" }
                    );
                }
                if list[..i].iter().any(|w| w.0.to_bits() == v.to_bits()) {
                    bail!("{what}: field `{field}` holds {v} twice");
                }
            }
        }
        if self.lambdas.len().checked_mul(self.alphas.len()).is_none() {
            bail!("{what}: fields `lambdas` × `alphas` hold too many cells");
        }
        if self.n == 0 {
            bail!("{what}: field `n` is 0, expected at least 1 sample per cell");
        }
        check_size(what, self.height, self.width, 1)?;
        self.sampler.config().with_context(|| what.to_string())?;
        if let Some(s) = self.shard {
            if !(1..=s.count).contains(&s.index) {
                bail!(
                    "{what}: field `shard` is {}/{}, expected K/M with 1 <= K <= M",
                    s.index,
                    s.count
                );
            }
        }
        Ok(())
    }

    /// The plan without paths and shard: what shards of one sweep share.
    fn identity(&self) -> SweepPlan {
        let mut p = self.clone();
        p.shard = None;
        p.powerpost_version.clear();
        p.weights.path.clear();
        p.rtm.path.clear();
        if let Some(b) = &mut p.background {
            b.path.clear();
        }
        if let Some(t) = &mut p.truth {
            t.path.clear();
        }
        if let Some(s) = &mut p.shots {
            s.file.path.clear();
        }
        p
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.lambdas.len() * self.alphas.len()
    }

    /// (λ, α) of cell `c` (`c < cells()`).
    ///
    /// # Panics
    /// If `c >= cells()`.
    pub fn cell(&self, c: usize) -> (f32, f32) {
        (
            self.lambdas[c / self.alphas.len()].0,
            self.alphas[c % self.alphas.len()].0,
        )
    }

    /// What a cell made under this plan records as its parameters.
    ///
    /// # Panics
    /// If `c >= cells()`.
    pub fn cell_params(&self, c: usize) -> CellParams {
        let (lambda, alpha) = self.cell(c);
        CellParams {
            lambda,
            alpha,
            n: self.n,
            seed: self.seed,
            height: self.height,
            width: self.width,
            sampler: self.sampler.clone(),
            weights_sha256: self.weights.sha256.clone(),
            architecture: self.weights.architecture.clone(),
            normalization: self.weights.normalization,
            rtm_sha256: self.rtm.sha256.clone(),
            rtm_gain: self.rtm_gain,
            background_sha256: self.background.as_ref().map(|b| b.sha256.clone()),
        }
    }

    /// The metric inputs of this plan.
    fn metric_inputs(&self) -> MetricInputs {
        MetricInputs {
            truth_sha256: self.truth.as_ref().map(|t| t.sha256.clone()),
            shots_sha256: self.shots.as_ref().map(|s| s.file.sha256.clone()),
            preset: self.shots.as_ref().map(|s| s.preset.clone()),
            sample_residuals: self.sample_residuals,
        }
    }

    /// The sampler, validated.
    ///
    /// # Errors
    /// A record this build cannot run (see [`SamplerRecord::config`]).
    pub fn sampler(&self) -> Result<SamplerConfig> {
        self.sampler.config()
    }
}

/// The grids and sampling settings of one sweep (see [`SweepPlan::new`]).
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// λ list, in the order given.
    pub lambdas: Vec<f32>,
    /// α list, in the order given.
    pub alphas: Vec<f32>,
    /// Samples per cell.
    pub n: usize,
    /// Run seed.
    pub seed: u64,
    /// Sampler.
    pub sampler: SamplerConfig,
    /// Shard to compute (`None`: every cell).
    pub shard: Option<Shard>,
    /// Record every sample's data residual (needs shots).
    pub sample_residuals: bool,
}

/// The directory of cell (λ, α) in the sweep directory `out`.
pub fn cell_dir(out: &Path, lambda: f32, alpha: f32) -> PathBuf {
    out.join("cells").join(cell_name(lambda, alpha))
}

/// The directory name of a cell.
pub fn cell_name(lambda: f32, alpha: f32) -> String {
    format!("l{lambda}_a{alpha}")
}

/// Everything a cell's samples depend on (digests, no paths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellParams {
    /// λ.
    #[serde(with = "super::posterior_io::exact_f32")]
    pub lambda: f32,
    /// α.
    #[serde(with = "super::posterior_io::exact_f32")]
    pub alpha: f32,
    /// Samples.
    pub n: usize,
    /// Seed.
    pub seed: u64,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Sampler.
    pub sampler: SamplerRecord,
    /// Weights digest.
    pub weights_sha256: String,
    /// Architecture.
    pub architecture: String,
    /// Normalisation.
    pub normalization: NormalizationRecord,
    /// RTM digest.
    pub rtm_sha256: String,
    /// Gain applied to the RTM image (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtm_gain: Option<ExactF32>,
    /// SHA-256 of the background model (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_sha256: Option<String>,
}

/// What the metrics depend on besides the mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricInputs {
    /// Ground-truth digest.
    pub truth_sha256: Option<String>,
    /// Shots digest.
    pub shots_sha256: Option<String>,
    /// Preset of the shots.
    pub preset: Option<String>,
    /// Whether each sample's residual is computed too (absent: no).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sample_residuals: bool,
}

/// A cell's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellMetrics {
    /// Pixel mean of the standard-deviation map (km/s).
    pub mean_std: f64,
    /// RMSE of the mean against the truth (km/s).
    pub rmse: Option<f64>,
    /// SSIM of the mean against the truth.
    pub ssim: Option<f64>,
    /// SSIM data range used (km/s).
    pub ssim_data_range: Option<f64>,
    /// Relative data residual of the mean.
    pub residual: Option<f64>,
    /// Why the residual could not be computed (e.g. the mean is not a velocity model the
    /// preset's finite differences accept: CFL limit, dispersion, non-positive values).
    pub residual_error: Option<String>,
    /// Each sample's relative data residual, in sample order (absent unless asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_residuals: Option<Vec<SampleResidual>>,
}

/// The data residual of one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleResidual {
    /// ‖F(x_i) − d_obs‖/‖d_obs‖, or `null` when the modelling refused the sample.
    pub residual: Option<f64>,
    /// Why not (absent when there is a residual).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `cell.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellRecord {
    /// Always `"sweep-cell"`.
    pub kind: String,
    /// Parameters of the samples.
    pub params: CellParams,
    /// Inputs of the metrics.
    pub metric_inputs: MetricInputs,
    /// The metrics.
    pub metrics: CellMetrics,
    /// SHA-256 of the cell's `.npy` files.
    pub outputs: BTreeMap<String, String>,
}

/// Parses `k/m` (the text of `--shard`).
///
/// # Errors
/// Anything but two integers with 1 ≤ k ≤ m.
pub fn parse_shard(text: &str) -> Result<Shard> {
    let parsed = text.split_once('/').and_then(|(k, m)| {
        Some((
            k.trim().parse::<usize>().ok()?,
            m.trim().parse::<usize>().ok()?,
        ))
    });
    match parsed {
        Some((index, count)) if count >= 1 && (1..=count).contains(&index) => {
            Ok(Shard { index, count })
        }
        _ => bail!("--shard {text}: expected K/M with 1 <= K <= M, e.g. 2/4"),
    }
}

/// The state of a cell directory.
enum CellState {
    /// No usable directory.
    Missing,
    /// Complete, with its record (boxed: the record is large, `Missing` is empty).
    Complete(Box<CellRecord>),
}

/// Reads a cell directory: complete when `cell.json` parses and every file has its
/// recorded digest.
fn inspect_cell(dir: &Path) -> CellState {
    let Ok(text) = std::fs::read_to_string(dir.join("cell.json")) else {
        return CellState::Missing;
    };
    let Ok(record) = serde_json::from_str::<CellRecord>(&text) else {
        return CellState::Missing;
    };
    for name in CELL_FILES {
        match (record.outputs.get(name), sha256_file(&dir.join(name))) {
            (Some(want), Ok(got)) if *want == got => {}
            _ => return CellState::Missing,
        }
    }
    CellState::Complete(Box::new(record))
}

/// The first top-level field in which two records differ (for messages).
fn first_difference<T: Serialize>(recorded: &T, wanted: &T) -> String {
    let (a, b) = (
        serde_json::to_value(recorded).unwrap_or_default(),
        serde_json::to_value(wanted).unwrap_or_default(),
    );
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (key, value) in b {
            if a.get(key) != Some(value) {
                return format!(
                    "`{key}` recorded {}, now {}",
                    a.get(key).map_or("nothing".to_string(), |v| v.to_string()),
                    value
                );
            }
        }
        if let Some((key, value)) = a.iter().find(|(key, _)| !b.contains_key(*key)) {
            return format!("`{key}` recorded {value}, now nothing");
        }
    }
    "parameters differ".to_string()
}

/// Observed shots of a sweep: the acquisition, the data `[shots, nt, receivers]` and the
/// record of the file.
pub struct ObservedShots {
    /// The preset's acquisition.
    pub acquisition: Acquisition,
    /// The shots.
    pub data: Vec<f32>,
    /// The file and preset name.
    pub record: ShotsRecord,
}

/// What a sweep reads, loaded and checked against each other once.
pub struct SweepInputs {
    /// The network.
    pub weights: Weights,
    /// The RTM image (its size is the sweep's).
    pub rtm: RtmInput,
    /// The background model, for weights conditioned on it.
    pub background: Option<BackgroundInput>,
    /// Ground truth (km/s) and its record.
    pub truth: Option<(Vec<f32>, FileRecord)>,
    /// Observed shots.
    pub shots: Option<ObservedShots>,
}

impl SweepInputs {
    /// Checks the inputs against the loaded `weights` (`--weights`, see
    /// [`load_weights`]): `--rtm` (normalised if `rtm_normalize`, else its amplitude
    /// checked), `--background` (given exactly when the weights take one), `--truth` and
    /// `--shots` (of `--preset`).
    ///
    /// # Errors
    /// Unreadable or malformed files, sizes that do not match the RTM image or the preset,
    /// values that are not velocities or finite shots, an RTM image that cannot be
    /// normalised; the message names the file.
    pub fn load(
        weights: Weights,
        rtm: &Path,
        rtm_normalize: bool,
        background: Option<&Path>,
        truth: Option<&Path>,
        shots: Option<&Path>,
        preset: &str,
    ) -> Result<Self> {
        let mut rtm = read_rtm(rtm, weights.config.size_multiple())?;
        if rtm_normalize {
            rtm.normalize(weights.normalization.rtm_scale)?;
        }
        check_background(&weights, true, background.is_some())?;
        let background = match background {
            Some(path) => Some(read_background(path, rtm.height, rtm.width)?),
            None => None,
        };
        let truth = match truth {
            Some(path) => Some(read_truth(path, rtm.height, rtm.width)?),
            None => None,
        };
        let shots = match shots {
            Some(path) => Some(read_shots(path, preset, rtm.height, rtm.width)?),
            None => None,
        };
        // Once every input is known good, so that a bad one gives just its error.
        rtm.warn_amplitude(&weights);
        Ok(Self {
            weights,
            rtm,
            background,
            truth,
            shots,
        })
    }
}

/// Inputs for the metrics, borrowed from the [`SweepInputs`].
struct MetricData<'a> {
    inputs: MetricInputs,
    truth: Option<&'a [f32]>,
    shots: Option<&'a ObservedShots>,
    ssim_data_range: f64,
}

impl<'a> MetricData<'a> {
    /// The metric inputs of `plan` on `inputs`.
    fn new(plan: &SweepPlan, inputs: &'a SweepInputs) -> Self {
        Self {
            inputs: plan.metric_inputs(),
            truth: inputs.truth.as_ref().map(|t| &t.0[..]),
            shots: inputs.shots.as_ref(),
            ssim_data_range: 2.0 * inputs.weights.normalization.velocity_half_range_km_s as f64,
        }
    }

    /// The residual of one model, or why there is none. A model the modelling refuses
    /// (unstable or too dispersive on the preset's grid) is recorded, not fatal: one bad
    /// cell must not stop a long sweep.
    fn residual(
        &self,
        model: &[f32],
        what: &str,
        exec: &dyn Executor,
    ) -> (Option<f64>, Option<String>) {
        let Some(shots) = self.shots else {
            return (None, None);
        };
        match data_residual(&shots.acquisition, model, &shots.data, exec) {
            Ok(r) => (Some(r), None),
            Err(e) => {
                eprintln!("warning: no data residual for {what}: {e:#}");
                (None, Some(format!("{e:#}")))
            }
        }
    }

    /// Metrics of one cell: its mean and std maps, and its samples (needed only when every
    /// sample's residual is asked for).
    fn compute(
        &self,
        mean: &[f32],
        std: &[f32],
        samples: &[f32],
        height: usize,
        width: usize,
        exec: &dyn Executor,
    ) -> Result<CellMetrics> {
        let mean_std = std.iter().map(|&v| v as f64).sum::<f64>() / std.len().max(1) as f64;
        let (rmse_value, ssim_value, range) = match self.truth {
            Some(t) => (
                Some(rmse(mean, t)?),
                Some(ssim(mean, t, height, width, self.ssim_data_range)?),
                Some(self.ssim_data_range),
            ),
            None => (None, None, None),
        };
        let (residual, residual_error) = self.residual(mean, "this cell's mean", exec);
        let sample_residuals = (self.inputs.sample_residuals && self.shots.is_some()).then(|| {
            samples
                .chunks_exact((height * width).max(1))
                .enumerate()
                .map(|(k, x)| {
                    let (residual, error) = self.residual(x, &format!("sample {k}"), exec);
                    SampleResidual { residual, error }
                })
                .collect()
        });
        Ok(CellMetrics {
            mean_std,
            rmse: rmse_value,
            ssim: ssim_value,
            ssim_data_range: range,
            residual,
            residual_error,
            sample_residuals,
        })
    }
}

/// Relative residual ‖F(model) − d_obs‖/‖d_obs‖ of a model in km/s on the preset's
/// model grid (shots as `powerpost residual` models them: each shot serial, shots in
/// parallel on `exec`, so the value is the same for any thread count).
///
/// # Errors
/// A model the finite differences refuse, or shots of the wrong length.
pub fn data_residual(
    a: &Acquisition,
    model_km_s: &[f32],
    observed: &[f32],
    exec: &dyn Executor,
) -> Result<f64> {
    let model: Vec<f32> = model_km_s.iter().map(|v| v * 1000.0).collect();
    let hidden = Progress::new(a.n_sources as u64, "residual", true);
    let predicted =
        super::wave::forward_all_shots(a, &model, exec, &hidden).context("data residual")?;
    wave::relative_residual(&predicted, observed).map_err(|e| anyhow!("data residual (shots): {e}"))
}

/// Checks a list of powers given with `option`: at least one value, each finite and
/// `>= 0` (λ, `likelihood`) or `> 0` (α), none twice.
///
/// # Errors
/// The first offending value, naming the option.
pub fn check_grid(option: &str, values: &[f32], likelihood: bool) -> Result<()> {
    if values.is_empty() {
        bail!("{option}: expected at least one value");
    }
    for (i, &v) in values.iter().enumerate() {
        let (valid, bound) = if likelihood {
            (v >= 0.0, ">=")
        } else {
            (v > 0.0, ">")
        };
        if !(v.is_finite() && valid) {
            bail!("{option}: expected a finite number {bound} 0, got {v}");
        }
        if values[..i].iter().any(|w| w.to_bits() == v.to_bits()) {
            bail!("{option}: value {v} appears twice");
        }
    }
    Ok(())
}

/// Runs `powerpost sweep`.
pub fn run(args: &SweepArgs) -> Result<()> {
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    check_grid("--lambda", &args.lambda, true)?;
    check_grid("--alpha", &args.alpha, false)?;
    if args.n == 0 {
        bail!("--n: expected at least 1 sample per cell");
    }
    if args.sample_residuals && args.shots.is_none() {
        bail!(
            "--sample-residuals: needs --shots (the observed data the residuals are taken against)"
        );
    }
    let sampler = args.sampling.config(&args.alpha)?;
    let inputs = SweepInputs::load(
        load_weights(args.sampling.weights.as_deref())?,
        &args.rtm,
        args.rtm_normalize,
        args.background.as_deref(),
        args.truth.as_deref(),
        args.shots.as_deref(),
        &args.preset,
    )?;
    let spec = SweepSpec {
        lambdas: args.lambda.clone(),
        alphas: args.alpha.clone(),
        n: args.n,
        seed: args.seed,
        sampler,
        shard,
        sample_residuals: args.sample_residuals,
    };
    let prepared = prepare(SweepPlan::new(&spec, &inputs), &args.out)?;
    let engine = Engine::new(args.run.threads, &args.device)?;
    args.sampling
        .announce(&args.alpha, &sampler, args.run.quiet);
    engine.announce_device(args.run.quiet);
    execute(&prepared, &inputs, &engine, args.run.quiet, &[])?;
    Ok(())
}

/// A sweep directory checked against its plan, nothing written yet: which cells this run
/// (shard) owns and what each still needs.
pub struct PreparedSweep {
    /// The plan.
    pub plan: SweepPlan,
    /// The sweep directory.
    pub out: PathBuf,
    /// This shard's cells.
    mine: Vec<usize>,
    /// Cells to do: (cell, only the metrics).
    todo: Vec<(usize, bool)>,
    /// Complete cells found.
    pub skipped: usize,
}

/// Checks `out` against `plan` without writing anything: complete cells made with the same
/// parameters are kept (their metrics redone if the metric inputs changed), incomplete ones
/// redone, and a complete cell made with other parameters is an error.
///
/// # Errors
/// A complete cell with other parameters, naming its `cell.json` and the first field that
/// differs.
pub fn prepare(plan: SweepPlan, out: &Path) -> Result<PreparedSweep> {
    let mine: Vec<usize> = (0..plan.cells())
        .filter(|c| plan.shard.is_none_or(|s| c % s.count == s.index - 1))
        .collect();
    let mut todo = Vec::new();
    let mut skipped = 0;
    for &c in &mine {
        let (lambda, alpha) = plan.cell(c);
        let dir = cell_dir(out, lambda, alpha);
        match inspect_cell(&dir) {
            CellState::Complete(record) => {
                let want = plan.cell_params(c);
                if record.params != want {
                    bail!(
                        "{}: this cell was computed with other parameters ({}); use a fresh --out directory",
                        dir.join("cell.json").display(),
                        first_difference(&record.params, &want)
                    );
                }
                if record.metric_inputs != plan.metric_inputs() {
                    todo.push((c, true));
                } else {
                    skipped += 1;
                }
            }
            CellState::Missing => todo.push((c, false)),
        }
    }
    Ok(PreparedSweep {
        plan,
        out: out.to_path_buf(),
        mine,
        todo,
        skipped,
    })
}

/// What [`execute`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepCounts {
    /// Cells sampled now.
    pub computed: usize,
    /// Cells copied whole from a donor sweep.
    pub copied: usize,
    /// Complete cells whose metrics were recomputed.
    pub metrics_updated: usize,
    /// Complete cells left as they were.
    pub skipped: usize,
}

/// Runs a prepared sweep: creates the directory, writes `sweep.json`, makes every missing
/// cell (copying it from the first of the `donors` — other sweep directories — that holds
/// a complete cell with the same parameters and metric inputs, else sampling it), and,
/// unsharded, writes `sweep.csv`, `sweep.png` (and `residuals.csv`).
///
/// # Errors
/// Files that cannot be written, a failing sample, a cell that disappears.
pub fn execute(
    prep: &PreparedSweep,
    inputs: &SweepInputs,
    engine: &Engine,
    quiet: bool,
    donors: &[PathBuf],
) -> Result<SweepCounts> {
    let plan = &prep.plan;
    let out = &prep.out;
    let metric_data = MetricData::new(plan, inputs);
    std::fs::create_dir_all(out.join("cells"))
        .with_context(|| format!("--out {}: cannot create the directory", out.display()))?;
    // What killed runs left of this run's cells and files (other shards' cells untouched).
    let my_cells: Vec<String> = prep
        .mine
        .iter()
        .map(|&c| {
            let (lambda, alpha) = plan.cell(c);
            cell_name(lambda, alpha)
        })
        .collect();
    let my_cells: Vec<&str> = my_cells.iter().map(String::as_str).collect();
    atomic::remove_stale_temporaries(&out.join("cells"), &my_cells)?;
    atomic::remove_stale_temporaries(
        out,
        &["sweep.json", "sweep.csv", "sweep.png", "residuals.csv"],
    )?;
    atomic::write_bytes(
        &out.join("sweep.json"),
        (serde_json::to_string_pretty(plan)? + "\n").as_bytes(),
    )?;
    if prep.skipped > 0 && !quiet {
        eprintln!(
            "{}: resuming, {} of {} cells already complete",
            out.display(),
            prep.skipped,
            prep.mine.len()
        );
    }
    // Where each cell to make comes from: a donor's identical cell, or the sampler.
    let sources: Vec<Option<PathBuf>> = prep
        .todo
        .iter()
        .map(|&(c, metrics_only)| {
            let (lambda, alpha) = plan.cell(c);
            donors
                .iter()
                .map(|d| cell_dir(d, lambda, alpha))
                .find(|dir| {
                    !metrics_only
                        && matches!(inspect_cell(dir), CellState::Complete(r)
                            if r.params == plan.cell_params(c) && r.metric_inputs == metric_data.inputs)
                })
        })
        .collect();
    let to_sample = prep
        .todo
        .iter()
        .zip(&sources)
        .filter(|((_, metrics_only), source)| !metrics_only && source.is_none())
        .count();
    let sampler = plan.sampler()?;
    let mut progress =
        SampleProgress::new((to_sample * plan.n) as u64, sampler.steps as u64, quiet);
    let mut counts = SweepCounts {
        skipped: prep.skipped,
        ..SweepCounts::default()
    };
    for (&(c, metrics_only), source) in prep.todo.iter().zip(&sources) {
        let (lambda, alpha) = plan.cell(c);
        let dir = cell_dir(out, lambda, alpha);
        if metrics_only {
            update_metrics(&dir, &metric_data, plan, engine.executor())?;
            counts.metrics_updated += 1;
        } else if let Some(src) = source {
            copy_cell(src, &dir)?;
            counts.copied += 1;
        } else {
            let sampling = Sampling {
                weights: &inputs.weights,
                height: plan.height,
                width: plan.width,
                rtm: Some(&inputs.rtm.raw),
                background: inputs.background.as_ref().map(|b| &b.velocity_km_s[..]),
                lambda,
                alpha,
                sampler,
                seed: plan.seed,
            };
            compute_cell(
                engine,
                &sampling,
                plan,
                c,
                &metric_data,
                &dir,
                &mut progress,
            )
            .with_context(|| format!("cell λ = {lambda}, α = {alpha}"))?;
            counts.computed += 1;
        }
    }
    progress.finish();
    if plan.shard.is_none() {
        finalize(plan, out)?;
    }
    Ok(counts)
}

/// Reads the ground truth (km/s).
///
/// # Errors
/// Not a 2-D `.npy` of `height × width`, or a value that is not a velocity in km/s
/// (naming its row and column).
pub fn read_truth(path: &Path, height: usize, width: usize) -> Result<(Vec<f32>, FileRecord)> {
    let name = path.display();
    let array = npy::read_f32_ranks(path, &[2]).context("--truth")?;
    if array.shape != [height, width] {
        bail!(
            "{name}: shape {:?}, expected [{height}, {width}] like the RTM image",
            array.shape
        );
    }
    if let Some(k) = array
        .data
        .iter()
        .position(|v| !(v.is_finite() && *v > 0.0 && *v < 100.0))
    {
        bail!(
            "{name}: value at row {}, column {} is {}; expected a velocity in km/s (positive, below 100)",
            k / width,
            k % width,
            array.data[k]
        );
    }
    Ok((
        array.data,
        FileRecord {
            path: super::posterior_io::absolute(path),
            sha256: sha256_file(path)?,
        },
    ))
}

/// The acquisition of `preset`, checked to model `height × width` models.
///
/// # Errors
/// An unknown preset, or one whose model grid is another size.
pub fn acquisition_for(preset: &str, height: usize, width: usize) -> Result<Acquisition> {
    let a = Acquisition::by_name(preset).map_err(|e| anyhow!("--preset: {e}"))?;
    if (a.model_nz, a.model_nx) != (height, width) {
        bail!("--preset {preset}: models are {} × {}, the RTM image is {height} × {width}; the data residual needs the preset's model size", a.model_nz, a.model_nx);
    }
    Ok(a)
}

/// Reads observed shots for a preset and checks that the model grid is the image's.
///
/// # Errors
/// See [`acquisition_for`]; a file of the wrong shape or geometry, non-finite values.
pub fn read_shots(path: &Path, preset: &str, height: usize, width: usize) -> Result<ObservedShots> {
    let a = acquisition_for(preset, height, width)?;
    let data = if crate::segy_io::is_segy(path) {
        crate::segy_io::read_shots(path, &a, preset).context("--shots")?
    } else {
        let array = npy::read_f32_ranks(path, &[3]).context("--shots")?;
        let want = [a.n_sources, a.cfg.nt, a.n_receivers];
        if array.shape != want {
            bail!(
                "{}: shape {:?}, expected {want:?} ([shots, nt, receivers]) for preset {preset}",
                path.display(),
                array.shape
            );
        }
        if array.data.iter().any(|v| !v.is_finite()) {
            bail!("{}: shots contain NaN or infinite values", path.display());
        }
        array.data
    };
    Ok(ObservedShots {
        acquisition: a,
        data,
        record: ShotsRecord {
            file: FileRecord {
                path: super::posterior_io::absolute(path),
                sha256: sha256_file(path)?,
            },
            preset: preset.to_string(),
        },
    })
}

/// A temporary directory beside `dir` (named after it, so that a later run removes it if
/// this process is killed), into which a cell is written before [`place_directory`].
fn cell_temp(dir: &Path) -> Result<tempfile::TempDir> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    crate::atomic::temp_builder(&prefix, ".tmp", true)
        .tempdir_in(parent)
        .with_context(|| {
            format!(
                "cannot create a temporary directory in {}",
                parent.display()
            )
        })
}

/// Draws a cell's samples and writes its directory (whole, by rename).
fn compute_cell(
    engine: &Engine,
    s: &Sampling<'_>,
    plan: &SweepPlan,
    c: usize,
    metric_data: &MetricData<'_>,
    dir: &Path,
    progress: &mut SampleProgress,
) -> Result<()> {
    let samples = engine.draw(s, 0, plan.n, progress)?;
    let (mean, std) = mean_and_std(&samples, s.height * s.width);
    let metrics =
        metric_data.compute(&mean, &std, &samples, s.height, s.width, engine.executor())?;
    let temp = cell_temp(dir)?;
    npy::write_f32(
        &temp.path().join("samples.npy"),
        &[plan.n, s.height, s.width],
        &samples,
    )?;
    npy::write_f32(&temp.path().join("mean.npy"), &[s.height, s.width], &mean)?;
    npy::write_f32(&temp.path().join("std.npy"), &[s.height, s.width], &std)?;
    let mut outputs = BTreeMap::new();
    for f in CELL_FILES {
        outputs.insert(f.to_string(), sha256_file(&temp.path().join(f))?);
    }
    let record = CellRecord {
        kind: "sweep-cell".into(),
        params: plan.cell_params(c),
        metric_inputs: metric_data.inputs.clone(),
        metrics,
        outputs,
    };
    atomic::write_bytes(
        &temp.path().join("cell.json"),
        (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
    )?;
    place_directory(temp, dir)
}

/// Copies the complete cell directory `src` to `dir` (whole, by rename).
fn copy_cell(src: &Path, dir: &Path) -> Result<()> {
    let temp = cell_temp(dir)?;
    for name in CELL_FILES.iter().chain(["cell.json"].iter()) {
        std::fs::copy(src.join(name), temp.path().join(name))
            .with_context(|| format!("cannot copy {}", src.join(name).display()))?;
    }
    place_directory(temp, dir)
}

/// Moves a finished temporary directory to `dir`, replacing what is there.
fn place_directory(temp: tempfile::TempDir, dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("{}: cannot replace the incomplete cell", dir.display()))?;
    }
    let path = temp.keep();
    std::fs::rename(&path, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&path);
        anyhow!(
            "{}: cannot move the finished cell into place: {e}",
            dir.display()
        )
    })
}

/// Recomputes a complete cell's metrics for new metric inputs.
fn update_metrics(
    dir: &Path,
    metric_data: &MetricData<'_>,
    plan: &SweepPlan,
    exec: &dyn Executor,
) -> Result<()> {
    let CellState::Complete(mut record) = inspect_cell(dir) else {
        bail!("{}: cell disappeared", dir.display())
    };
    let mean = npy::read_f32(&dir.join("mean.npy"))?.data;
    let std = npy::read_f32(&dir.join("std.npy"))?.data;
    let samples = if metric_data.inputs.sample_residuals {
        npy::read_f32(&dir.join("samples.npy"))?.data
    } else {
        Vec::new()
    };
    record.metrics = metric_data.compute(&mean, &std, &samples, plan.height, plan.width, exec)?;
    record.metric_inputs = metric_data.inputs.clone();
    atomic::write_bytes(
        &dir.join("cell.json"),
        (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
    )
}

/// The records of every cell of `plan` under the sweep directory `out`, in cell order.
///
/// # Errors
/// A cell that is missing or incomplete, or was made with other parameters.
pub fn load_cells(plan: &SweepPlan, out: &Path) -> Result<Vec<CellRecord>> {
    (0..plan.cells())
        .map(|c| {
            let (lambda, alpha) = plan.cell(c);
            let dir = cell_dir(out, lambda, alpha);
            let CellState::Complete(record) = inspect_cell(&dir) else {
                bail!("{}: cell is missing or incomplete", dir.display())
            };
            if record.params != plan.cell_params(c) {
                bail!(
                    "{}: {}",
                    dir.join("cell.json").display(),
                    first_difference(&record.params, &plan.cell_params(c))
                );
            }
            Ok(*record)
        })
        .collect()
}

/// Header of `sweep.csv` (and the metric columns of `powerpost paper`'s metrics.csv).
pub const METRICS_CSV_HEADER: &str = "lambda,alpha,n,mean_std,rmse,ssim,residual";

/// A value for a CSV cell: empty for `None`.
pub fn csv_value(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v}"))
}

/// The `sweep.csv` row of a cell (no newline).
pub fn metrics_csv_row(r: &CellRecord) -> String {
    let m = &r.metrics;
    format!(
        "{},{},{},{},{},{},{}",
        r.params.lambda,
        r.params.alpha,
        r.params.n,
        m.mean_std,
        csv_value(m.rmse),
        csv_value(m.ssim),
        csv_value(m.residual)
    )
}

/// Header of `residuals.csv`.
pub const RESIDUALS_CSV_HEADER: &str = "lambda,alpha,sample,residual";

/// The `residuals.csv` rows of a cell: `mean`, then each recorded sample (with newlines).
pub fn residual_csv_rows(r: &CellRecord) -> String {
    let (l, a) = (r.params.lambda, r.params.alpha);
    let mut rows = format!("{l},{a},mean,{}\n", csv_value(r.metrics.residual));
    for (k, s) in r.metrics.sample_residuals.iter().flatten().enumerate() {
        rows += &format!("{l},{a},{k},{}\n", csv_value(s.residual));
    }
    rows
}

/// The velocity colour scale of a normalisation (its whole range, km/s).
pub fn velocity_scale(n: &NormalizationRecord) -> ColorScale {
    ColorScale::velocity(
        n.velocity_center_km_s - n.velocity_half_range_km_s,
        n.velocity_center_km_s + n.velocity_half_range_km_s,
    )
}

/// One image per cell of `plan` (`images[c]`, cell order) on a grid: rows λ increasing
/// bottom to top, columns α increasing left to right, labelled `λ=…` / `α=…`, one shared
/// velocity colour bar; with `panel_titles` each panel also says `λ=… α=…`.
///
/// # Errors
/// Images of the wrong size, fewer images than cells.
pub fn lambda_alpha_figure(
    plan: &SweepPlan,
    images: &[&[f32]],
    panel_titles: bool,
    title: String,
) -> Result<Canvas> {
    if images.len() != plan.cells() {
        bail!("{} images for {} cells", images.len(), plan.cells());
    }
    let mut lambdas: Vec<f32> = plan.lambdas.iter().map(|v| v.0).collect();
    lambdas.sort_by(|a, b| b.total_cmp(a));
    let mut alphas: Vec<f32> = plan.alphas.iter().map(|v| v.0).collect();
    alphas.sort_by(f32::total_cmp);
    let mut panels = Vec::new();
    for &l in &lambdas {
        for &a in &alphas {
            let c = (0..plan.cells())
                .find(|&c| plan.cell(c) == (l, a))
                .unwrap_or(0);
            panels.push(Panel {
                image: Image::new(images[c], plan.height, plan.width)?,
                title: if panel_titles {
                    format!("λ={l} α={a}")
                } else {
                    String::new()
                },
            });
        }
    }
    let mut figure = GridFigure::new(
        lambdas.len(),
        alphas.len(),
        panels,
        velocity_scale(&plan.weights.normalization),
    );
    figure.row_labels = lambdas.iter().map(|l| format!("λ={l}")).collect();
    figure.col_labels = alphas.iter().map(|a| format!("α={a}")).collect();
    figure.title = title;
    figure.render()
}

/// Writes `sweep.csv`, `sweep.png` (and with sample residuals `residuals.csv`) from the
/// complete cells under `out`.
fn finalize(plan: &SweepPlan, out: &Path) -> Result<()> {
    let records = load_cells(plan, out)?;
    let mut csv = format!("{METRICS_CSV_HEADER}\n");
    for r in &records {
        csv += &metrics_csv_row(r);
        csv.push('\n');
    }
    atomic::write_bytes(&out.join("sweep.csv"), csv.as_bytes())?;
    if plan.sample_residuals {
        let mut csv = format!("{RESIDUALS_CSV_HEADER}\n");
        for r in &records {
            csv += &residual_csv_rows(r);
        }
        atomic::write_bytes(&out.join("residuals.csv"), csv.as_bytes())?;
    }
    let means = (0..plan.cells())
        .map(|c| {
            let (lambda, alpha) = plan.cell(c);
            Ok(npy::read_f32(&cell_dir(out, lambda, alpha).join("mean.npy"))?.data)
        })
        .collect::<Result<Vec<_>>>()?;
    let images: Vec<&[f32]> = means.iter().map(Vec::as_slice).collect();
    let title = format!(
        "Posterior mean of {} samples per cell ({}, seed {})",
        plan.n,
        super::posterior_io::sampler_label(&plan.sampler()?),
        plan.seed
    );
    lambda_alpha_figure(plan, &images, false, title)?.save_png(&out.join("sweep.png"))
}

/// Which of `plans` (the `sweep.json` of each shard directory given to `sweep-merge`,
/// validated by [`SweepPlan::parse`]; `names` names them in errors) holds each shard:
/// element `k` of the result is the position in `plans` of shard `k + 1`.
///
/// # Errors
/// No plans, plans of different sweeps, different shard counts, a shard given twice, or a
/// missing shard.
pub fn shard_order(plans: &[SweepPlan], names: &[String]) -> Result<Vec<usize>> {
    let name = |k: usize| names.get(k).map_or("?", String::as_str);
    let Some(first) = plans.first() else {
        bail!("no shard directories given");
    };
    let count = first.shard.map_or(1, |s| s.count);
    // Shard index → position in `plans`; nothing is sized by `count`, which comes from a file.
    let mut by_index: BTreeMap<usize, usize> = BTreeMap::new();
    for (k, plan) in plans.iter().enumerate() {
        if plan.identity() != first.identity() {
            bail!(
                "{}: belongs to another sweep than {} ({})",
                name(k),
                name(0),
                first_difference(&plan.identity(), &first.identity())
            );
        }
        let shard = plan.shard.unwrap_or(Shard { index: 1, count: 1 });
        if shard.count != count {
            bail!(
                "{}: field `shard.count` is {}, the first shard says {count}",
                name(k),
                shard.count
            );
        }
        if !(1..=count).contains(&shard.index) {
            bail!(
                "{}: field `shard` is {}/{count}, expected K/M with 1 <= K <= M",
                name(k),
                shard.index
            );
        }
        if let Some(other) = by_index.insert(shard.index, k) {
            bail!(
                "{} and {}: both are shard {}/{count}",
                name(other),
                name(k),
                shard.index
            );
        }
    }
    // The indices are distinct and at most `count`, so the first gap is at most plans + 1.
    if let Some(missing) = (1..=count).find(|i| !by_index.contains_key(i)) {
        bail!(
            "incomplete set: shard {missing}/{count} is missing (got {} of {count} shard directories)",
            plans.len()
        );
    }
    Ok(by_index.into_values().collect())
}

/// Runs `powerpost sweep-merge`.
pub fn merge(args: &MergeArgs) -> Result<()> {
    let mut plans = Vec::new();
    let mut names = Vec::new();
    for dir in &args.shards {
        let path = dir.join("sweep.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read (not a sweep directory?)", path.display()))?;
        plans.push(SweepPlan::parse(&text, &path.display().to_string())?);
        names.push(path.display().to_string());
    }
    let by_index = shard_order(&plans, &names)?;
    let first = plans[0].clone();
    let count = by_index.len();
    // Check every cell before writing anything.
    let mut sources = Vec::new();
    for c in 0..first.cells() {
        let (lambda, alpha) = first.cell(c);
        let shard_dir = &args.shards[by_index[c % count]];
        let dir = cell_dir(shard_dir, lambda, alpha);
        match inspect_cell(&dir) {
            CellState::Complete(record) if record.params == first.cell_params(c) => {
                if record.metric_inputs != first.metric_inputs() {
                    bail!("{}: metrics were computed for other --truth/--shots than the plan; rerun that shard", dir.display());
                }
            }
            CellState::Complete(record) => bail!("{}: {}", dir.join("cell.json").display(), first_difference(&record.params, &first.cell_params(c))),
            CellState::Missing => bail!(
                "incomplete set: cell λ = {lambda}, α = {alpha} of shard {}/{count} is missing or unfinished in {}; rerun that shard",
                c % count + 1,
                shard_dir.display()
            ),
        }
        sources.push(dir);
    }
    let cells_out = args.out.join("cells");
    std::fs::create_dir_all(&cells_out)
        .with_context(|| format!("--out {}: cannot create the directory", args.out.display()))?;
    for (c, src) in sources.iter().enumerate() {
        let (lambda, alpha) = first.cell(c);
        let dest = cell_dir(&args.out, lambda, alpha);
        let same = match (std::fs::canonicalize(src), std::fs::canonicalize(&dest)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same
            || matches!(inspect_cell(&dest), CellState::Complete(r) if r.params == first.cell_params(c) && r.metric_inputs == first.metric_inputs() && inspect_cell(src).same_outputs(&r))
        {
            continue;
        }
        copy_cell(src, &dest)?;
    }
    let mut merged = first.clone();
    merged.shard = None;
    atomic::write_bytes(
        &args.out.join("sweep.json"),
        (serde_json::to_string_pretty(&merged)? + "\n").as_bytes(),
    )?;
    finalize(&merged, &args.out)
}

impl CellState {
    /// Whether this is a complete cell with the same output digests as `other`.
    fn same_outputs(&self, other: &CellRecord) -> bool {
        matches!(self, CellState::Complete(r) if r.outputs == other.outputs && r.metrics == other.metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use powerpost_core::exec::Serial;

    /// The residual of a model against its own clean shots is exactly 0, and grows when
    /// the model is perturbed (about 20 s of CPU with the `edge` preset: run with
    /// `cargo test -p powerpost --release residual_of_the_true_model -- --ignored`).
    #[test]
    #[ignore = "slow: 48 shots of the edge preset"]
    fn residual_of_the_true_model_is_zero() {
        let a = Acquisition::edge();
        let model: Vec<f32> = (0..a.model_nz * a.model_nx)
            .map(|k| 1.5 + 2.5 * (k / a.model_nx) as f32 / a.model_nz as f32)
            .collect();
        let exec = crate::exec::PoolExecutor::new(2).unwrap();
        // Clean observed shots modelled directly with the core, shot by shot.
        let m_s: Vec<f32> = model.iter().map(|v| v * 1000.0).collect();
        let cfg = a.cfg;
        let mut fine = vec![0.0; cfg.nz * cfg.nx];
        a.refine_model(&m_s, &mut fine).unwrap();
        let mut medium = vec![0.0; wave::medium_len(&cfg).unwrap()];
        wave::prepare_medium(&cfg, &fine, &mut medium).unwrap();
        let receivers: Vec<[f32; 2]> = (0..a.n_receivers)
            .map(|j| a.receiver_position(j).unwrap())
            .collect();
        let mut wavelet = vec![0.0; cfg.nt];
        wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut wavelet).unwrap();
        let per = cfg.nt * a.n_receivers;
        let mut observed = vec![0.0f32; per * a.n_sources];
        let mut state = vec![0.0; wave::state_len(&cfg).unwrap()];
        for (s, shot) in observed.chunks_exact_mut(per).enumerate() {
            wave::forward_shot(
                &cfg,
                &medium,
                a.source_position(s).unwrap(),
                &receivers,
                &wavelet,
                &mut state,
                shot,
                &Serial,
            )
            .unwrap();
        }
        assert_eq!(data_residual(&a, &model, &observed, &exec).unwrap(), 0.0);
        let perturbed: Vec<f32> = model.iter().map(|v| v * 1.02).collect();
        let r = data_residual(&a, &perturbed, &observed, &exec).unwrap();
        assert!(r > 0.01 && r < 2.0, "{r}");
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(parse_shard("2/4").unwrap(), Shard { index: 2, count: 4 });
        assert_eq!(parse_shard("1/1").unwrap(), Shard { index: 1, count: 1 });
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", ""] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cell_names_are_exact_and_distinct() {
        assert_eq!(cell_name(0.5, 1.0), "l0.5_a1");
        assert_eq!(cell_name(16.0, 0.25), "l16_a0.25");
        assert_ne!(cell_name(0.1, 1.0), cell_name(0.100_000_01, 1.0));
    }
}
