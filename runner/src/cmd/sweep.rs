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
//! - `sweep.json`: the plan (lists, n, seed, sampler, weights, RTM, truth, shots, shard);
//! - `cells/l{λ}_a{α}/`: `samples.npy` (n × H × W, km/s), `mean.npy`, `std.npy`, and
//!   `cell.json` (the cell's parameters, with digests instead of paths, its metrics and
//!   the SHA-256 of its files). A cell directory appears whole (written beside, then
//!   renamed).
//! - `sweep.csv`: `lambda,alpha,n,mean_std,rmse,ssim,residual`, one row per cell in cell
//!   order (`mean_std` = pixel mean of the standard-deviation map, km/s; `rmse`, `ssim`
//!   of the posterior mean against `--truth` ([`super::metrics`]); `residual` = relative
//!   shot-data residual ‖F(mean) − d_obs‖/‖d_obs‖ with `--shots`; empty when not asked);
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
//! parallel on the thread pool.

use super::metrics::{rmse, ssim};
use super::posterior_io::{
    check_power, check_size, load_weights, mean_and_std, read_rtm, sampler_from_options, sha256_file, Engine,
    ExactF32, FileRecord, NormalizationRecord, SampleProgress, SamplerRecord, Sampling, Weights,
    WeightsRecord,
};
use super::RunArgs;
use crate::atomic;
use crate::figures::{ColorScale, GridFigure, Image, Panel};
use crate::npy;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use powerpost_core::exec::{Executor, Serial};
use powerpost_core::wave::{self, Acquisition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    /// Sampler noise levels (default 16 with dpmpp-2m, 18 otherwise).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Sampler (default dpmpp-2m when every α is 1, exact-power with 4 corrector steps
    /// otherwise).
    #[arg(long)]
    pub sampler: Option<String>,
    /// The exact-power sampler with N Langevin corrector steps per level.
    #[arg(long, value_name = "N")]
    pub exact_power: Option<usize>,
    /// Weights: a .safetensors file or random:SEED (default: the installation's).
    #[arg(long)]
    pub weights: Option<String>,
    /// RTM image: 2-D [H, W] float32 .npy.
    #[arg(long)]
    pub rtm: PathBuf,
    /// Ground-truth velocity (km/s), 2-D [H, W] .npy: adds RMSE and SSIM of each mean.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Observed shots [shots, nt, receivers] .npy (or SEG-Y .sgy/.segy with the preset's
    /// geometry) of --preset: adds the data residual of each posterior mean (costly, see
    /// the docs).
    #[arg(long)]
    pub shots: Option<PathBuf>,
    /// Acquisition preset of --shots (`edge`: 64 × 128 models; `paper`: 256 × 256).
    #[arg(long, default_value = "edge")]
    pub preset: String,
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
    /// Ground truth, if any.
    pub truth: Option<FileRecord>,
    /// Observed shots, if any.
    pub shots: Option<ShotsRecord>,
    /// This directory's shard (`null`: all cells).
    pub shard: Option<Shard>,
}

impl SweepPlan {
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
        for (field, list, lambda) in [("lambdas", &self.lambdas, true), ("alphas", &self.alphas, false)] {
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
        }
    }

    /// The metric inputs of this plan.
    fn metric_inputs(&self) -> MetricInputs {
        MetricInputs {
            truth_sha256: self.truth.as_ref().map(|t| t.sha256.clone()),
            shots_sha256: self.shots.as_ref().map(|s| s.file.sha256.clone()),
            preset: self.shots.as_ref().map(|s| s.preset.clone()),
        }
    }
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

/// Parses `k/m`.
fn parse_shard(text: &str) -> Result<Shard> {
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
    /// Complete, with its record.
    Complete(CellRecord),
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
    CellState::Complete(record)
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
    }
    "parameters differ".to_string()
}

/// Inputs for the metrics, loaded once.
struct MetricData {
    inputs: MetricInputs,
    truth: Option<Vec<f32>>,
    shots: Option<(Acquisition, Vec<f32>)>,
    ssim_data_range: f64,
}

impl MetricData {
    /// Metrics of one posterior mean.
    fn compute(
        &self,
        mean: &[f32],
        std: &[f32],
        height: usize,
        width: usize,
        exec: &dyn Executor,
    ) -> Result<CellMetrics> {
        let mean_std = std.iter().map(|&v| v as f64).sum::<f64>() / std.len().max(1) as f64;
        let (rmse_value, ssim_value, range) = match &self.truth {
            Some(t) => (
                Some(rmse(mean, t)?),
                Some(ssim(mean, t, height, width, self.ssim_data_range)?),
                Some(self.ssim_data_range),
            ),
            None => (None, None, None),
        };
        // A mean the modelling refuses (unstable or too dispersive on the preset's grid)
        // is recorded, not fatal: one bad cell must not stop a long sweep.
        let (residual, residual_error) = match &self.shots {
            Some((a, observed)) => match data_residual(a, mean, observed, exec) {
                Ok(r) => (Some(r), None),
                Err(e) => {
                    eprintln!("warning: no data residual for this cell: {e:#}");
                    (None, Some(format!("{e:#}")))
                }
            },
            None => (None, None),
        };
        Ok(CellMetrics {
            mean_std,
            rmse: rmse_value,
            ssim: ssim_value,
            ssim_data_range: range,
            residual,
            residual_error,
        })
    }
}

/// Relative residual ‖F(mean) − d_obs‖/‖d_obs‖ of a mean model in km/s (shots in shot
/// order; each shot serial, shots in parallel).
fn data_residual(
    a: &Acquisition,
    mean_km_s: &[f32],
    observed: &[f32],
    exec: &dyn Executor,
) -> Result<f64> {
    let core =
        |what: &'static str| move |e: powerpost_core::Error| anyhow!("data residual ({what}): {e}");
    let model: Vec<f32> = mean_km_s.iter().map(|v| v * 1000.0).collect();
    let cfg = a.cfg;
    let mut fine = vec![0.0; cfg.nz * cfg.nx];
    a.refine_model(&model, &mut fine).map_err(core("model"))?;
    let mut medium = vec![0.0; wave::medium_len(&cfg).map_err(core("config"))?];
    wave::prepare_medium(&cfg, &fine, &mut medium)
        .map_err(core("posterior mean as velocity model"))?;
    let receivers: Vec<[f32; 2]> = (0..a.n_receivers)
        .map(|j| a.receiver_position(j))
        .collect::<Result<_, _>>()
        .map_err(core("receivers"))?;
    let mut wavelet = vec![0.0; cfg.nt];
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut wavelet)
        .map_err(core("wavelet"))?;
    let per = cfg.nt * a.n_receivers;
    let shots: Vec<Mutex<Result<Vec<f32>, powerpost_core::Error>>> = (0..a.n_sources)
        .map(|_| Mutex::new(Ok(Vec::new())))
        .collect();
    exec.for_each(a.n_sources, &|s| {
        let run = || -> Result<Vec<f32>, powerpost_core::Error> {
            let mut state = vec![0.0; wave::state_len(&cfg)?];
            let mut shot = vec![0.0; per];
            wave::forward_shot(
                &cfg,
                &medium,
                a.source_position(s)?,
                &receivers,
                &wavelet,
                &mut state,
                &mut shot,
                &Serial,
            )?;
            Ok(shot)
        };
        *shots[s].lock().unwrap_or_else(|p| p.into_inner()) = run();
    });
    let mut predicted = Vec::with_capacity(per * a.n_sources);
    for (s, m) in shots.into_iter().enumerate() {
        predicted.extend(
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .map_err(|e| anyhow!("data residual (shot {s}): {e}"))?,
        );
    }
    wave::relative_residual(&predicted, observed).map_err(core("shots"))
}

/// Runs `powerpost sweep`.
pub fn run(args: &SweepArgs) -> Result<()> {
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    if args.lambda.is_empty() || args.alpha.is_empty() {
        bail!("--lambda and --alpha: expected at least one value each");
    }
    for &l in &args.lambda {
        check_power(l, 1.0)?;
    }
    for &a in &args.alpha {
        check_power(0.0, a)?;
    }
    for (option, list) in [("--lambda", &args.lambda), ("--alpha", &args.alpha)] {
        for (i, v) in list.iter().enumerate() {
            if list[..i].iter().any(|w| w.to_bits() == v.to_bits()) {
                bail!("{option}: value {v} appears twice");
            }
        }
    }
    if args.n == 0 {
        bail!("--n: expected at least 1 sample per cell");
    }
    let sampler = sampler_from_options(
        args.sampler.as_deref(),
        args.steps,
        args.exact_power,
        &args.alpha,
    )?;
    let weights = load_weights(args.weights.as_deref())?;
    let rtm = read_rtm(&args.rtm, weights.config.size_multiple())?;
    let (height, width) = (rtm.height, rtm.width);
    let truth = match &args.truth {
        Some(path) => Some(read_truth(path, height, width)?),
        None => None,
    };
    let shots = match &args.shots {
        Some(path) => Some(read_shots(path, &args.preset, height, width)?),
        None => None,
    };
    let plan = SweepPlan {
        kind: "sweep".into(),
        powerpost_version: env!("CARGO_PKG_VERSION").into(),
        lambdas: args.lambda.iter().map(|&v| ExactF32(v)).collect(),
        alphas: args.alpha.iter().map(|&v| ExactF32(v)).collect(),
        n: args.n,
        seed: args.seed,
        height,
        width,
        sampler: SamplerRecord::of(&sampler),
        weights: weights.record.clone(),
        rtm: rtm.record.clone(),
        truth: truth.as_ref().map(|t| t.1.clone()),
        shots: shots.as_ref().map(|(_, _, record)| ShotsRecord {
            file: record.clone(),
            preset: args.preset.clone(),
        }),
        shard,
    };
    let metric_data = MetricData {
        inputs: plan.metric_inputs(),
        truth: truth.map(|t| t.0),
        shots: shots.map(|(a, s, _)| (a, s)),
        ssim_data_range: 2.0 * weights.normalization.velocity_half_range_km_s as f64,
    };

    let mine: Vec<usize> = (0..plan.cells())
        .filter(|c| shard.map_or(true, |s| c % s.count == s.index - 1))
        .collect();
    // Decide what to do for each cell first, so that bad directories fail before any work.
    let mut todo = Vec::new();
    let mut skipped = 0;
    for &c in &mine {
        let (lambda, alpha) = plan.cell(c);
        let dir = args.out.join("cells").join(cell_name(lambda, alpha));
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
                if record.metric_inputs != metric_data.inputs {
                    todo.push((c, true));
                } else {
                    skipped += 1;
                }
            }
            CellState::Missing => todo.push((c, false)),
        }
    }
    std::fs::create_dir_all(args.out.join("cells"))
        .with_context(|| format!("--out {}: cannot create the directory", args.out.display()))?;
    // What killed runs left of this run's cells and files (other shards' cells untouched).
    let my_cells: Vec<String> = mine
        .iter()
        .map(|&c| {
            let (lambda, alpha) = plan.cell(c);
            cell_name(lambda, alpha)
        })
        .collect();
    let my_cells: Vec<&str> = my_cells.iter().map(String::as_str).collect();
    atomic::remove_stale_temporaries(&args.out.join("cells"), &my_cells)?;
    atomic::remove_stale_temporaries(&args.out, &["sweep.json", "sweep.csv", "sweep.png"])?;
    atomic::write_bytes(
        &args.out.join("sweep.json"),
        (serde_json::to_string_pretty(&plan)? + "\n").as_bytes(),
    )?;
    if skipped > 0 && !args.run.quiet {
        eprintln!(
            "resuming: {skipped} of {} cells already complete",
            mine.len()
        );
    }
    // Once every input is validated: one warning for the smallest α ≠ 1 (α < 1 is the
    // harmful case).
    let worst = args
        .alpha
        .iter()
        .copied()
        .filter(|&a| a != 1.0)
        .min_by(f32::total_cmp);
    if let Some(w) = worst.and_then(|a| super::posterior_io::annealed_power_warning(a, &sampler)) {
        eprintln!("{w}");
    }
    if !args.run.quiet {
        if let Some(note) = super::posterior_io::automatic_sampler_note(
            args.sampler.as_deref(),
            args.exact_power,
            &sampler,
        ) {
            eprintln!("{note}");
        }
    }
    let engine = Engine::new(args.run.threads, &args.device)?;
    engine.announce_device(args.run.quiet);
    let to_sample = todo
        .iter()
        .filter(|(_, metrics_only)| !metrics_only)
        .count();
    let mut progress = SampleProgress::new(
        (to_sample * args.n) as u64,
        sampler.steps as u64,
        args.run.quiet,
    );
    for &(c, metrics_only) in &todo {
        let (lambda, alpha) = plan.cell(c);
        let dir = args.out.join("cells").join(cell_name(lambda, alpha));
        if metrics_only {
            update_metrics(&dir, &metric_data, height, width, engine.executor())?;
        } else {
            let sampling = Sampling {
                weights: &weights,
                height,
                width,
                rtm: Some(&rtm.raw),
                lambda,
                alpha,
                sampler,
                seed: args.seed,
            };
            compute_cell(
                &engine,
                &sampling,
                &plan,
                c,
                &metric_data,
                &dir,
                &mut progress,
            )
            .with_context(|| format!("cell λ = {lambda}, α = {alpha}"))?;
        }
    }
    progress.finish();
    if shard.is_none() {
        finalize(&plan, &args.out, &weights_normalization(&weights))?;
    }
    Ok(())
}

/// The normalisation record of loaded weights.
fn weights_normalization(w: &Weights) -> NormalizationRecord {
    w.normalization.into()
}

/// Reads the ground truth (km/s).
fn read_truth(path: &Path, height: usize, width: usize) -> Result<(Vec<f32>, FileRecord)> {
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

/// Reads observed shots for a preset and checks that the model grid is the image's.
fn read_shots(
    path: &Path,
    preset: &str,
    height: usize,
    width: usize,
) -> Result<(Acquisition, Vec<f32>, FileRecord)> {
    let a = Acquisition::by_name(preset).map_err(|e| anyhow!("--preset: {e}"))?;
    if (a.model_nz, a.model_nx) != (height, width) {
        bail!("--preset {preset}: models are {} × {}, the RTM image is {height} × {width}; the data residual needs the preset's model size", a.model_nz, a.model_nx);
    }
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
    Ok((
        a,
        data,
        FileRecord {
            path: super::posterior_io::absolute(path),
            sha256: sha256_file(path)?,
        },
    ))
}

/// Draws a cell's samples and writes its directory (whole, by rename).
fn compute_cell(
    engine: &Engine,
    s: &Sampling<'_>,
    plan: &SweepPlan,
    c: usize,
    metric_data: &MetricData,
    dir: &Path,
    progress: &mut SampleProgress,
) -> Result<()> {
    let samples = engine.draw(s, 0, plan.n, progress)?;
    let (mean, std) = mean_and_std(&samples, s.height * s.width);
    let metrics = metric_data.compute(&mean, &std, s.height, s.width, engine.executor())?;
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let temp = crate::atomic::temp_builder(&prefix, ".tmp", true)
        .tempdir_in(parent)
        .with_context(|| {
            format!(
                "cannot create a temporary directory in {}",
                parent.display()
            )
        })?;
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
    metric_data: &MetricData,
    height: usize,
    width: usize,
    exec: &dyn Executor,
) -> Result<()> {
    let CellState::Complete(mut record) = inspect_cell(dir) else {
        bail!("{}: cell disappeared", dir.display())
    };
    let mean = npy::read_f32(&dir.join("mean.npy"))?.data;
    let std = npy::read_f32(&dir.join("std.npy"))?.data;
    record.metrics = metric_data.compute(&mean, &std, height, width, exec)?;
    record.metric_inputs = metric_data.inputs.clone();
    atomic::write_bytes(
        &dir.join("cell.json"),
        (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
    )
}

/// Writes `sweep.csv` and `sweep.png` from the complete cells under `out`.
fn finalize(plan: &SweepPlan, out: &Path, normalization: &NormalizationRecord) -> Result<()> {
    let mut records = Vec::new();
    let mut means = Vec::new();
    for c in 0..plan.cells() {
        let (lambda, alpha) = plan.cell(c);
        let dir = out.join("cells").join(cell_name(lambda, alpha));
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
        means.push(npy::read_f32(&dir.join("mean.npy"))?.data);
        records.push(record);
    }
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let mut csv = String::from("lambda,alpha,n,mean_std,rmse,ssim,residual\n");
    for r in &records {
        let m = &r.metrics;
        csv += &format!(
            "{},{},{},{},{},{},{}\n",
            r.params.lambda,
            r.params.alpha,
            r.params.n,
            m.mean_std,
            opt(m.rmse),
            opt(m.ssim),
            opt(m.residual)
        );
    }
    atomic::write_bytes(&out.join("sweep.csv"), csv.as_bytes())?;

    // Rows: λ decreasing from the top (increasing bottom to top); columns: α increasing.
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
                image: Image::new(&means[c], plan.height, plan.width)?,
                title: String::new(),
            });
        }
    }
    let v_min = normalization.velocity_center_km_s - normalization.velocity_half_range_km_s;
    let v_max = normalization.velocity_center_km_s + normalization.velocity_half_range_km_s;
    let mut figure = GridFigure::new(
        lambdas.len(),
        alphas.len(),
        panels,
        ColorScale::velocity(v_min, v_max),
    );
    figure.row_labels = lambdas.iter().map(|l| format!("λ={l}")).collect();
    figure.col_labels = alphas.iter().map(|a| format!("α={a}")).collect();
    figure.title = format!(
        "Posterior mean of {} samples per cell ({}, seed {})",
        plan.n,
        super::posterior_io::sampler_label(&plan.sampler.config()?),
        plan.seed
    );
    figure.render()?.save_png(&out.join("sweep.png"))
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
        let dir = shard_dir.join("cells").join(cell_name(lambda, alpha));
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
        let dest = cells_out.join(cell_name(lambda, alpha));
        let same = match (std::fs::canonicalize(src), std::fs::canonicalize(&dest)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same
            || matches!(inspect_cell(&dest), CellState::Complete(r) if r.params == first.cell_params(c) && r.metric_inputs == first.metric_inputs() && inspect_cell(src).same_outputs(&r))
        {
            continue;
        }
        let temp = crate::atomic::temp_builder(".merge.", ".tmp", true)
            .tempdir_in(&cells_out)
            .with_context(|| {
                format!(
                    "cannot create a temporary directory in {}",
                    cells_out.display()
                )
            })?;
        for name in CELL_FILES.iter().chain(["cell.json"].iter()) {
            std::fs::copy(src.join(name), temp.path().join(name))
                .with_context(|| format!("cannot copy {}", src.join(name).display()))?;
        }
        place_directory(temp, &dest)?;
    }
    let mut merged = first.clone();
    merged.shard = None;
    atomic::write_bytes(
        &args.out.join("sweep.json"),
        (serde_json::to_string_pretty(&merged)? + "\n").as_bytes(),
    )?;
    finalize(&merged, &args.out, &merged.weights.normalization)
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
