//! `powerpost evaluate`: the quality of trained weights on a dataset's held-out pairs
//! (the model card's figures), prior samples against the training set, and the
//! sampler-steps trade-off.
//!
//! ## Held-out posterior quality
//! For each held-out pair `i` (the manifest's last pairs; `--pairs N` takes the first `N`
//! of them) it draws `--samples` posterior samples at λ = α = 1 from the pair's raw RTM
//! image, with sample indices `0..n` of `--seed` (exactly what `powerpost sample --rtm
//! y_i.npy --n 16 --seed S` draws), and takes their pointwise mean. The reference is the
//! background model the RTM image was migrated in: the true model smoothed with the
//! manifest's Gaussian σ. Both are compared with the true model by SSIM (data range =
//! twice the normalisation half-range, see [`super::metrics`]) and RMSE (km/s). A pair
//! *beats the background* when the posterior mean has the higher SSIM **and** the lower
//! RMSE. Weights that [take the background](powerpost_core::unet::UNetConfig::takes_background)
//! are given this same background model as their second condition plane, as a user
//! gives the model the image was migrated in: the comparison then says how much the
//! network adds to what it was told.
//!
//! ### Calibration
//! Per pair and per depth row: the *range coverage*, the fraction of pixels whose true
//! velocity lies inside the range of the pair's posterior samples; a calibrated posterior
//! gives `(n − 1)/(n + 1)` with `n` samples (see [`super::metrics`]), less means samples
//! too narrow or biased, more too wide.
//!
//! ### By depth (`depth.csv`, `depth.png`)
//! Per grid row (depth), over all evaluated pairs and columns: the RMSE of the posterior
//! mean and of the background against the true model, and the mean posterior standard
//! deviation; depths in metres when the dataset's preset grid matches (its model
//! spacing), otherwise in rows. It shows where the RTM image constrains the model (the mean beats the
//! background) and where it does not (deep, weakly illuminated rows, where the background
//! — the *true* model smoothed — keeps the true velocity trend).
//!
//! ### Generalisation gap (`--split train`)
//! `--split train` evaluates the same way on the *last training* pairs instead (as many
//! as there are held-out pairs, then `--pairs`): pairs the weights were trained on. Scores
//! close to the held-out ones mean the weights are not overfitting, so more training data
//! would not be the lever; much better scores on training pairs mean they are.
//!
//! ## Prior samples and memorisation
//! `--prior-samples K` draws K prior samples (λ = 0). For each it reports the RMSE to its
//! nearest training model, searching the training models and their horizontal mirrors
//! (training augments with flips). For scale the same distance is given for every
//! held-out true model, i.e. for fresh draws from the generator: a network that copied
//! its training set would give prior samples much closer to a training model than fresh
//! models are.
//!
//! ## Sampler steps (`--steps-study 6,10,18,dpmpp-2m:12`)
//! On the first `--study-pairs` held-out pairs, `--study-samples` posterior samples are
//! drawn with a `--reference-steps` (256) schedule of the evaluation's sampler and with
//! each listed entry: a step count (same sampler) or `SAMPLER:STEPS` (another sampler;
//! same seed and sample indices). Reported per entry: network evaluations and seconds per
//! sample, the RMSE between its posterior mean and the reference's, and the mean RMSE
//! between same-index samples (the deterministic ODE samplers — heun, euler, dpmpp-2m —
//! start sample `i` from the same noise and integrate the same probability-flow ODE, so
//! this is the discretisation error itself). For scale the reference row carries the
//! Monte-Carlo standard error of a `--samples`-sample posterior mean (pixel mean of the
//! reference samples' standard deviation / √samples): a discretisation error well below
//! it is invisible next to the sampling noise of the mean a user looks at.
//!
//! ## Output (`--out DIR`, written atomically as a whole directory)
//! `evaluate.json` (everything, including the weights' digest and the command's options),
//! `heldout.csv` (one row per pair), `depth.csv` (one row per grid row) and `depth.png`, `heldout.png` (true model, background, posterior mean
//! and standard deviation of up to 6 pairs), `prior.png` (prior samples over their nearest
//! training models), `steps.csv` with `--steps-study`. A summary goes to stdout.

use super::metrics::{calibrated_range_coverage, inside_sample_range, rmse, ssim};
use super::posterior_io::{
    load_weights, mean_and_std, sampler_from_options, Engine, SampleProgress, SamplerRecord,
    Sampling, Weights, WeightsRecord,
};
use super::sample::{prepare_output, stack};
use super::RunArgs;
use crate::atomic;
use crate::figures::{ColorScale, GridFigure, Image, LinePlot, Panel, Series, SeriesKind};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use powerpost_core::exec::Executor;
use powerpost_core::sampler::SamplerConfig;
use powerpost_core::wave;
use powerpost_train::dataset::{pair_background, RawDataset};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Pairs shown in `heldout.png`.
const SHOWN_PAIRS: usize = 6;
/// Prior samples shown in `prior.png`.
const SHOWN_PRIOR: usize = 6;

/// `powerpost evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Dataset directory (from `powerpost dataset`); its held-out pairs are evaluated.
    #[arg(long)]
    pub data: PathBuf,
    /// Weights (default: the shipped ones; `random:SEED` for seeded random weights).
    #[arg(long)]
    pub weights: Option<String>,
    /// Output directory (evaluate.json, heldout.csv, depth.csv, depth.png, heldout.png,
    /// prior.png, steps.csv).
    #[arg(long)]
    pub out: PathBuf,
    /// Evaluate only the first N held-out pairs (default: all).
    #[arg(long)]
    pub pairs: Option<usize>,
    /// Which pairs: the held-out ones, or as many of the last training pairs (the
    /// generalisation gap).
    #[arg(long, value_enum, default_value_t = Split::HeldOut)]
    pub split: Split,
    /// Posterior samples per held-out pair (λ = α = 1).
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// Prior samples (λ = 0) checked against the training models.
    #[arg(long, default_value_t = 16)]
    pub prior_samples: usize,
    /// Sampler (default dpmpp-2m).
    #[arg(long)]
    pub sampler: Option<String>,
    /// Sampler steps (default: the sampler's default, 16 for dpmpp-2m).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seed of the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Schedules to compare with the reference: step counts of the same sampler or
    /// `SAMPLER:STEPS`, e.g. 6,10,18,dpmpp-2m:12 (empty: no study).
    #[arg(long, value_delimiter = ',')]
    pub steps_study: Vec<String>,
    /// Steps of the reference schedule of the study.
    #[arg(long, default_value_t = 256)]
    pub reference_steps: usize,
    /// Held-out pairs used by the study.
    #[arg(long, default_value_t = 2)]
    pub study_pairs: usize,
    /// Samples per pair in the study.
    #[arg(long, default_value_t = 4)]
    pub study_samples: usize,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

/// The pairs `powerpost evaluate` scores.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// The dataset's held-out pairs (never trained on).
    HeldOut,
    /// The last training pairs, as many as there are held-out ones.
    Train,
}

impl Split {
    /// The pair indices of `split` for a dataset of `pairs` pairs whose first
    /// `train_pairs` are training pairs.
    fn pairs(self, train_pairs: usize, pairs: usize) -> std::ops::Range<usize> {
        let held_out = pairs - train_pairs;
        match self {
            Split::HeldOut => train_pairs..pairs,
            Split::Train => train_pairs.saturating_sub(held_out)..train_pairs,
        }
    }

    /// Its name in messages and figure titles.
    fn label(self) -> &'static str {
        match self {
            Split::HeldOut => "held-out",
            Split::Train => "training",
        }
    }
}

/// One held-out pair's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PairResult {
    /// Pair index in the dataset.
    pub pair: usize,
    /// SSIM of the posterior mean against the true model.
    pub ssim_mean: f64,
    /// SSIM of the smoothed background against the true model.
    pub ssim_background: f64,
    /// RMSE (km/s) of the posterior mean.
    pub rmse_mean: f64,
    /// RMSE (km/s) of the background.
    pub rmse_background: f64,
    /// Mean pointwise posterior standard deviation (km/s).
    pub mean_std: f64,
    /// Fraction of pixels whose true velocity lies inside the samples' range (calibrated:
    /// `(n − 1)/(n + 1)`).
    pub range_coverage: f64,
    /// Whether the mean beats the background on both SSIM and RMSE.
    pub beats_background: bool,
}

/// One pair's images, row-major: the true model, the posterior mean and standard
/// deviation, the background, and whether each true value lies inside the samples' range.
struct PairImages<'a> {
    truth: &'a [f32],
    mean: &'a [f32],
    std: &'a [f32],
    background: &'a [f32],
    inside: &'a [bool],
}

/// Errors by depth: entry `z` is grid row `z`, over every evaluated pair and column.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DepthProfile {
    /// Grid spacing (m) of the rows, from the dataset's preset (absent when its grid does
    /// not match the images).
    pub row_spacing_m: Option<f64>,
    /// RMSE (km/s) of the posterior means.
    pub rmse_mean: Vec<f64>,
    /// RMSE (km/s) of the backgrounds.
    pub rmse_background: Vec<f64>,
    /// Mean posterior standard deviation (km/s).
    pub mean_std: Vec<f64>,
    /// Fraction of pixels whose true velocity lies inside the samples' range.
    pub range_coverage: Vec<f64>,
}

impl DepthProfile {
    /// Sums for `height` rows.
    fn new(height: usize) -> Self {
        let zeros = vec![0.0; height];
        Self {
            row_spacing_m: None,
            rmse_mean: zeros.clone(),
            rmse_background: zeros.clone(),
            mean_std: zeros.clone(),
            range_coverage: zeros,
        }
    }

    /// Adds one pair's squared errors, standard deviations and range hits, row by row.
    fn add(&mut self, width: usize, pair: &PairImages<'_>) {
        let rows = pair
            .truth
            .chunks_exact(width)
            .zip(pair.mean.chunks_exact(width))
            .zip(pair.background.chunks_exact(width))
            .zip(pair.std.chunks_exact(width))
            .zip(pair.inside.chunks_exact(width));
        for (z, ((((t, m), b), s), inside)) in rows.enumerate() {
            for x in 0..width {
                let (t, m, b) = (t[x] as f64, m[x] as f64, b[x] as f64);
                self.rmse_mean[z] += (m - t) * (m - t);
                self.rmse_background[z] += (b - t) * (b - t);
                self.mean_std[z] += s[x] as f64;
                self.range_coverage[z] += f64::from(u8::from(inside[x]));
            }
        }
    }

    /// One line: in how many rows the mean's RMSE is below the background's, and down to
    /// which depth it is in every row.
    fn summary(&self) -> String {
        let beats: Vec<bool> = self
            .rmse_mean
            .iter()
            .zip(&self.rmse_background)
            .map(|(m, b)| m < b)
            .collect();
        let rows = beats.len();
        let count = beats.iter().filter(|&&b| b).count();
        let top = beats.iter().take_while(|&&b| b).count();
        let depth = |z: usize| match self.row_spacing_m {
            Some(h) => format!("{} m", z as f64 * h),
            None => format!("row {z}"),
        };
        let reach = match top {
            0 => "not in the top row".to_string(),
            t if t == rows => "in every row".to_string(),
            t => format!("in every row down to {}", depth(t - 1)),
        };
        format!("the mean's RMSE is below the background's in {count} of {rows} rows ({reach})")
    }

    /// The sums of `pairs` pairs of `width` columns turned into RMSEs and means.
    fn finish(mut self, pairs: usize, width: usize) -> Self {
        let n = (pairs * width) as f64;
        for z in 0..self.rmse_mean.len() {
            self.rmse_mean[z] = (self.rmse_mean[z] / n).sqrt();
            self.rmse_background[z] = (self.rmse_background[z] / n).sqrt();
            self.mean_std[z] /= n;
            self.range_coverage[z] /= n;
        }
        self
    }
}

/// Summary of the held-out pairs.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOutSummary {
    /// Pairs evaluated.
    pub pairs: usize,
    /// Samples per pair.
    pub samples: usize,
    /// Mean SSIM of the posterior means.
    pub mean_ssim: f64,
    /// Mean SSIM of the backgrounds.
    pub mean_ssim_background: f64,
    /// Mean RMSE of the posterior means (km/s).
    pub mean_rmse: f64,
    /// Mean RMSE of the backgrounds (km/s).
    pub mean_rmse_background: f64,
    /// Pairs whose mean beats the background on both metrics.
    pub pairs_beating_background: usize,
    /// Mean over pairs of the range coverage of the samples.
    pub mean_range_coverage: f64,
    /// The range coverage of a calibrated posterior with this many samples.
    pub calibrated_range_coverage: f64,
    /// Seconds per posterior sample (wall clock).
    pub seconds_per_sample: f64,
}

/// Nearest-training-model distances.
#[derive(Debug, Clone, Serialize)]
pub struct PriorSummary {
    /// Prior samples drawn.
    pub samples: usize,
    /// RMSE (km/s) of each prior sample to its nearest training model (or mirror).
    pub nearest_rmse: Vec<f64>,
    /// Training model index (negative-free; `mirrored` says if the mirror was nearest).
    pub nearest_index: Vec<usize>,
    /// Whether the nearest was the mirrored training model.
    pub nearest_mirrored: Vec<bool>,
    /// The same distance for each evaluated held-out true model (fresh generator draws).
    pub held_out_nearest_rmse: Vec<f64>,
    /// Smallest prior-sample distance.
    pub min_nearest_rmse: f64,
    /// Median of the prior samples' distances.
    pub median_nearest_rmse: f64,
    /// Median of the held-out models' distances.
    pub median_held_out_nearest_rmse: f64,
}

/// One row of the steps study.
#[derive(Debug, Clone, Serialize)]
pub struct StepsRow {
    /// Sampler name.
    pub sampler: String,
    /// Sampler steps.
    pub steps: usize,
    /// Network evaluations per sample.
    pub evaluations: usize,
    /// Seconds per sample (wall clock).
    pub seconds_per_sample: f64,
    /// RMSE (km/s) between this posterior mean and the reference's, averaged over pairs.
    pub mean_rmse_to_reference: f64,
    /// RMSE (km/s) between same-index samples, averaged over samples and pairs.
    pub sample_rmse_to_reference: f64,
    /// Reference row only: Monte-Carlo standard error (km/s) of a `--samples`-sample
    /// posterior mean (pixel mean of the reference samples' std / √samples, averaged over
    /// the study pairs); 0 on the other rows.
    pub mean_standard_error: f64,
}

/// `evaluate.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// powerpost version.
    pub powerpost_version: String,
    /// The weights.
    pub weights: WeightsRecord,
    /// Dataset directory and manifest digest.
    pub data: String,
    /// SHA-256 of the dataset manifest.
    pub data_manifest_sha256: String,
    /// Sampler of the held-out and prior samples.
    pub sampler: SamplerRecord,
    /// Seed.
    pub seed: u64,
    /// Threads used.
    pub threads: usize,
    /// Which pairs were scored (`held-out`, or `train` for the generalisation gap).
    pub split: Split,
    /// Held-out summary (of the training pairs with `--split train`).
    pub held_out: HeldOutSummary,
    /// Per pair.
    pub pairs: Vec<PairResult>,
    /// Per grid row, over the evaluated pairs.
    pub depth: DepthProfile,
    /// Prior samples (absent with `--prior-samples 0`).
    pub prior: Option<PriorSummary>,
    /// Steps study (empty without `--steps-study`).
    pub steps_study: Vec<StepsRow>,
    /// Reference steps of the study.
    pub reference_steps: usize,
}

/// Runs `powerpost evaluate`.
pub fn run(args: &EvaluateArgs) -> Result<()> {
    let weights = load_weights(args.weights.as_deref())?;
    let data = RawDataset::load(&args.data)?;
    let m = &data.manifest;
    let (height, width) = (m.height, m.width);
    let len = height * width;
    let multiple = weights.config.size_multiple();
    if height % multiple != 0 || width % multiple != 0 {
        bail!(
            "{}: images are {height} × {width}; the network needs multiples of {multiple}",
            args.data.display()
        );
    }
    let held: Vec<usize> = args
        .split
        .pairs(m.train_pairs, m.pairs)
        .take(args.pairs.unwrap_or(usize::MAX))
        .collect();
    if held.is_empty() {
        bail!(
            "--pairs/--split: expected at least 1 {} pair ({} has {} held-out and {} training pairs)",
            args.split.label(),
            args.data.display(),
            m.pairs - m.train_pairs,
            m.train_pairs
        );
    }
    if args.samples == 0 {
        bail!("--samples: expected at least 1");
    }
    let sampler = sampler_from_options(args.sampler.as_deref(), args.steps, None, &[1.0])?;
    let study_configs = args
        .steps_study
        .iter()
        .map(|entry| study_entry(entry, &sampler))
        .collect::<Result<Vec<_>>>()?;
    if !study_configs.is_empty() {
        if args.reference_steps == 0 {
            bail!("--reference-steps: expected a positive step count");
        }
        if args.study_pairs == 0 || args.study_samples == 0 {
            bail!("--study-pairs/--study-samples: expected at least 1");
        }
    }
    let out_dir = prepare_output(&args.out)?;
    let engine = Engine::new(args.run.threads, &args.device)?;
    engine.announce_device(args.run.quiet);
    let threads = engine.executor().threads();
    let range = 2.0 * weights.normalization.velocity_half_range_km_s as f64;

    // Held-out posterior means.
    let mut results = Vec::new();
    let mut shown = Vec::new();
    let mut sample_seconds = 0.0;
    let mut depth = DepthProfile::new(height);
    let progress = SampleProgress::new(
        (held.len() * args.samples) as u64,
        sampler.steps as u64,
        args.run.quiet,
    );
    // The network's background condition, where it takes one: the baseline model itself.
    let takes_background = weights.config.takes_background();
    for &i in &held {
        let (truth, rtm) = data.pair(i);
        let background = pair_background(m, i, truth)?;
        let s = Sampling {
            weights: &weights,
            height,
            width,
            rtm: Some(rtm),
            background: takes_background.then_some(&background[..]),
            lambda: 1.0,
            alpha: 1.0,
            sampler,
            seed: args.seed,
        };
        let t = Instant::now();
        let samples = engine.draw(&s, 0, args.samples, &progress)?;
        sample_seconds += t.elapsed().as_secs_f64();
        let (mean, std) = mean_and_std(&samples, len);
        let inside = inside_sample_range(&samples, truth)?;
        depth.add(
            width,
            &PairImages {
                truth,
                mean: &mean,
                std: &std,
                background: &background,
                inside: &inside,
            },
        );
        let r = PairResult {
            pair: i,
            ssim_mean: ssim(&mean, truth, height, width, range)?,
            ssim_background: ssim(&background, truth, height, width, range)?,
            rmse_mean: rmse(&mean, truth)?,
            rmse_background: rmse(&background, truth)?,
            mean_std: std.iter().map(|&v| v as f64).sum::<f64>() / len as f64,
            range_coverage: inside.iter().filter(|&&b| b).count() as f64 / len as f64,
            beats_background: false,
        };
        let r = PairResult {
            beats_background: r.ssim_mean > r.ssim_background && r.rmse_mean < r.rmse_background,
            ..r
        };
        if shown.len() < SHOWN_PAIRS {
            shown.push((i, truth.to_vec(), background, mean, std));
        }
        results.push(r);
    }
    progress.finish();
    let mut depth = depth.finish(results.len(), width);
    depth.row_spacing_m = wave::Acquisition::by_name(&m.preset)
        .ok()
        .filter(|a| a.model_nz == height && a.model_nx == width)
        .map(|a| a.model_spacing as f64);
    let count = results.len() as f64;
    let avg = |f: &dyn Fn(&PairResult) -> f64| results.iter().map(f).sum::<f64>() / count;
    let held_out = HeldOutSummary {
        pairs: results.len(),
        samples: args.samples,
        mean_ssim: avg(&|r| r.ssim_mean),
        mean_ssim_background: avg(&|r| r.ssim_background),
        mean_rmse: avg(&|r| r.rmse_mean),
        mean_rmse_background: avg(&|r| r.rmse_background),
        pairs_beating_background: results.iter().filter(|r| r.beats_background).count(),
        mean_range_coverage: avg(&|r| r.range_coverage),
        calibrated_range_coverage: calibrated_range_coverage(args.samples),
        seconds_per_sample: sample_seconds / (results.len() * args.samples) as f64,
    };

    // Prior samples against the training set.
    let mut prior_figure_data = Vec::new();
    let prior = if args.prior_samples > 0 {
        let s = Sampling {
            weights: &weights,
            height,
            width,
            rtm: None,
            background: None,
            lambda: 0.0,
            alpha: 1.0,
            sampler,
            seed: args.seed,
        };
        let progress = SampleProgress::new(
            args.prior_samples as u64,
            sampler.steps as u64,
            args.run.quiet,
        );
        let samples = engine.draw(&s, 0, args.prior_samples, &progress)?;
        progress.finish();
        let train = &data.velocity_kms[..m.train_pairs * len];
        let mut nearest_rmse = Vec::new();
        let mut nearest_index = Vec::new();
        let mut nearest_mirrored = Vec::new();
        for sample in samples.chunks_exact(len) {
            let (d, k, mirrored) = nearest(sample, train, height, width);
            nearest_rmse.push(d);
            nearest_index.push(k);
            nearest_mirrored.push(mirrored);
            if prior_figure_data.len() < SHOWN_PRIOR {
                let model = &train[k * len..(k + 1) * len];
                let model = if mirrored {
                    mirror(model, height, width)
                } else {
                    model.to_vec()
                };
                prior_figure_data.push((sample.to_vec(), model, k, d));
            }
        }
        // Fresh generator draws for scale: the held-out models whatever the split.
        let held_out_nearest_rmse: Vec<f64> = Split::HeldOut
            .pairs(m.train_pairs, m.pairs)
            .take(held.len())
            .map(|i| nearest(data.pair(i).0, train, height, width).0)
            .collect();
        Some(PriorSummary {
            samples: args.prior_samples,
            min_nearest_rmse: nearest_rmse.iter().copied().fold(f64::INFINITY, f64::min),
            median_nearest_rmse: median(&nearest_rmse),
            median_held_out_nearest_rmse: median(&held_out_nearest_rmse),
            nearest_rmse,
            nearest_index,
            nearest_mirrored,
            held_out_nearest_rmse,
        })
    } else {
        None
    };

    // Steps study.
    let mut steps_study = Vec::new();
    if !study_configs.is_empty() {
        let study: Vec<usize> = held.iter().copied().take(args.study_pairs).collect();
        let n = args.study_samples;
        let run_with = |config: SamplerConfig| -> Result<(Vec<Vec<f32>>, f64, usize)> {
            let steps = config.steps;
            let progress =
                SampleProgress::new((study.len() * n) as u64, steps as u64, args.run.quiet);
            let t = Instant::now();
            let mut all = Vec::new();
            for &i in &study {
                let (truth, rtm) = data.pair(i);
                let background = pair_background(m, i, truth)?;
                let s = Sampling {
                    weights: &weights,
                    height,
                    width,
                    rtm: Some(rtm),
                    background: takes_background.then_some(&background[..]),
                    lambda: 1.0,
                    alpha: 1.0,
                    sampler: config,
                    seed: args.seed,
                };
                all.push(engine.draw(&s, 0, n, &progress)?);
            }
            progress.finish();
            Ok((
                all,
                t.elapsed().as_secs_f64() / (study.len() * n) as f64,
                super::posterior_io::evaluations(&config),
            ))
        };
        let (reference, ref_seconds, ref_evals) = run_with(SamplerConfig {
            steps: args.reference_steps,
            ..sampler
        })?;
        let ref_stats: Vec<(Vec<f32>, Vec<f32>)> =
            reference.iter().map(|s| mean_and_std(s, len)).collect();
        let ref_means: Vec<&Vec<f32>> = ref_stats.iter().map(|(m, _)| m).collect();
        let standard_error = ref_stats
            .iter()
            .map(|(_, sd)| sd.iter().map(|&v| v as f64).sum::<f64>() / len as f64)
            .sum::<f64>()
            / ref_stats.len() as f64
            / (args.samples.max(1) as f64).sqrt();
        steps_study.push(StepsRow {
            sampler: sampler.kind.name().to_string(),
            steps: args.reference_steps,
            evaluations: ref_evals,
            seconds_per_sample: ref_seconds,
            mean_rmse_to_reference: 0.0,
            sample_rmse_to_reference: 0.0,
            mean_standard_error: standard_error,
        });
        for &config in &study_configs {
            let steps = config.steps;
            let (samples, seconds, evals) = run_with(config)?;
            let (mut mean_err, mut sample_err) = (0.0, 0.0);
            for (p, s) in samples.iter().enumerate() {
                mean_err += rmse(&mean_and_std(s, len).0, ref_means[p])?;
                for (a, b) in s.chunks_exact(len).zip(reference[p].chunks_exact(len)) {
                    sample_err += rmse(a, b)?;
                }
            }
            steps_study.push(StepsRow {
                sampler: config.kind.name().to_string(),
                steps,
                evaluations: evals,
                seconds_per_sample: seconds,
                mean_rmse_to_reference: mean_err / samples.len() as f64,
                sample_rmse_to_reference: sample_err / (samples.len() * n) as f64,
                mean_standard_error: 0.0,
            });
        }
    }

    let report = Report {
        powerpost_version: env!("CARGO_PKG_VERSION").to_string(),
        weights: weights.record.clone(),
        data: super::posterior_io::absolute(&args.data),
        data_manifest_sha256: data.digest.clone(),
        sampler: SamplerRecord::of(&sampler),
        seed: args.seed,
        threads,
        split: args.split,
        held_out,
        pairs: results,
        depth,
        prior,
        steps_study,
        reference_steps: args.reference_steps,
    };

    // Files.
    let temp = out_dir.temp.path();
    let mut files = vec![
        "evaluate.json",
        "heldout.csv",
        "depth.csv",
        "depth.png",
        "heldout.png",
    ];
    atomic::write_bytes(
        &temp.join("evaluate.json"),
        (serde_json::to_string_pretty(&report)? + "\n").as_bytes(),
    )?;
    let mut csv = String::from("pair,ssim_mean,ssim_background,rmse_mean_km_s,rmse_background_km_s,mean_std_km_s,beats_background,range_coverage\n");
    for r in &report.pairs {
        csv += &format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.6},{},{:.6}\n",
            r.pair,
            r.ssim_mean,
            r.ssim_background,
            r.rmse_mean,
            r.rmse_background,
            r.mean_std,
            r.beats_background,
            r.range_coverage
        );
    }
    atomic::write_bytes(&temp.join("heldout.csv"), csv.as_bytes())?;
    let mut csv = String::from(
        "row,depth_m,rmse_mean_km_s,rmse_background_km_s,mean_std_km_s,range_coverage\n",
    );
    let d = &report.depth;
    for z in 0..d.rmse_mean.len() {
        let depth_m = d
            .row_spacing_m
            .map_or(String::new(), |h| format!("{}", z as f64 * h));
        csv += &format!(
            "{z},{depth_m},{:.6},{:.6},{:.6},{:.6}\n",
            d.rmse_mean[z], d.rmse_background[z], d.mean_std[z], d.range_coverage[z]
        );
    }
    atomic::write_bytes(&temp.join("depth.csv"), csv.as_bytes())?;
    depth_figure(d, results_label(args.split, report.held_out.pairs))
        .render()?
        .save_png(&temp.join("depth.png"))?;
    heldout_figure(&shown, args.split, height, width, &weights)?
        .save_png(&temp.join("heldout.png"))?;
    if !prior_figure_data.is_empty() {
        prior_figure(&prior_figure_data, height, width, &weights)?
            .save_png(&temp.join("prior.png"))?;
        files.push("prior.png");
    }
    if !report.steps_study.is_empty() {
        let mut csv = String::from("sampler,steps,evaluations,seconds_per_sample,mean_rmse_to_reference_km_s,sample_rmse_to_reference_km_s,mean_standard_error_km_s\n");
        for r in &report.steps_study {
            csv += &format!(
                "{},{},{},{:.4},{:.6},{:.6},{:.6}\n",
                r.sampler,
                r.steps,
                r.evaluations,
                r.seconds_per_sample,
                r.mean_rmse_to_reference,
                r.sample_rmse_to_reference,
                r.mean_standard_error
            );
        }
        atomic::write_bytes(&temp.join("steps.csv"), csv.as_bytes())?;
        files.push("steps.csv");
    }
    out_dir.finish(&files)?;
    print_summary(&report);
    Ok(())
}

/// `model` mirrored left–right.
fn mirror(model: &[f32], height: usize, width: usize) -> Vec<f32> {
    let mut out = vec![0.0; height * width];
    for z in 0..height {
        for x in 0..width {
            out[z * width + x] = model[z * width + width - 1 - x];
        }
    }
    out
}

/// RMSE to the nearest of `models` (and their mirrors): (distance, index, mirrored).
fn nearest(image: &[f32], models: &[f32], height: usize, width: usize) -> (f64, usize, bool) {
    let len = height * width;
    let mirrored_image = mirror(image, height, width);
    let mut best = (f64::INFINITY, 0, false);
    for (k, model) in models.chunks_exact(len).enumerate() {
        for (flag, candidate) in [(false, image), (true, mirrored_image.as_slice())] {
            let d: f64 = candidate
                .iter()
                .zip(model)
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum::<f64>();
            let d = (d / len as f64).sqrt();
            if d < best.0 {
                best = (d, k, flag);
            }
        }
    }
    best
}

/// Median of a non-empty list (mean of the middle two for even lengths).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Velocity scale of the weights' normalisation.
fn velocity_scale(weights: &Weights) -> ColorScale {
    let n = &weights.normalization;
    ColorScale::velocity(
        n.velocity_center_km_s - n.velocity_half_range_km_s,
        n.velocity_center_km_s + n.velocity_half_range_km_s,
    )
}

type Shown = (usize, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// "32 held-out pairs" or "32 training pairs".
fn results_label(split: Split, pairs: usize) -> String {
    format!(
        "{pairs} {} pair{}",
        split.label(),
        if pairs == 1 { "" } else { "s" }
    )
}

/// RMSE of the posterior mean and of the background, and the posterior spread, against
/// depth.
fn depth_figure(d: &DepthProfile, pairs: String) -> LinePlot {
    let depth = |z: usize| d.row_spacing_m.map_or(z as f64, |h| z as f64 * h);
    let line = |values: &[f64]| -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(z, &v)| (depth(z), v))
            .collect()
    };
    let series = |label: &str, color, values: &[f64], dashed| Series {
        label: label.into(),
        color,
        kind: SeriesKind::Line {
            points: line(values),
            dashed,
        },
    };
    LinePlot {
        title: format!("Errors by depth over {pairs} (λ = α = 1)"),
        x_label: match d.row_spacing_m {
            Some(_) => "depth (m)".into(),
            None => "depth (grid rows)".into(),
        },
        y_label: "km/s".into(),
        x_ticks: Vec::new(),
        series: vec![
            series(
                "RMSE of the background",
                [230, 140, 20],
                &d.rmse_background,
                false,
            ),
            series(
                "RMSE of the posterior mean",
                [40, 90, 180],
                &d.rmse_mean,
                false,
            ),
            series("mean posterior std", [120, 160, 215], &d.mean_std, true),
        ],
        notes: vec![
            "over every pair and column of each row".into(),
            "background: the true model smoothed".into(),
        ],
        width: 640,
        height: 320,
    }
}

/// Rows of (true model, background, posterior mean) on the velocity scale, and the
/// posterior standard deviations below on their own scale.
fn heldout_figure(
    shown: &[Shown],
    split: Split,
    height: usize,
    width: usize,
    weights: &Weights,
) -> Result<crate::figures::Canvas> {
    let mut panels = Vec::new();
    for (i, truth, background, mean, _) in shown {
        panels.push(Panel {
            image: Image::new(truth, height, width)?,
            title: format!("pair {i}: true"),
        });
        panels.push(Panel {
            image: Image::new(background, height, width)?,
            title: "background".into(),
        });
        panels.push(Panel {
            image: Image::new(mean, height, width)?,
            title: "posterior mean".into(),
        });
    }
    let mut top = GridFigure::new(shown.len(), 3, panels, velocity_scale(weights));
    top.title = match split {
        Split::HeldOut => "Held-out pairs (λ = α = 1)".into(),
        Split::Train => "Training pairs (λ = α = 1)".into(),
    };
    let scale = ColorScale::deviation(shown.iter().flat_map(|s| s.4.iter().copied()));
    let std_panels = shown
        .iter()
        .map(|s| {
            Ok(Panel {
                image: Image::new(&s.4, height, width)?,
                title: format!("pair {}: std", s.0),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let cols = std_panels.len().min(3);
    let bottom = GridFigure::new(std_panels.len().div_ceil(cols), cols, std_panels, scale);
    Ok(stack(&[top.render()?, bottom.render()?]))
}

/// Prior samples (top row) over their nearest training models (bottom row).
fn prior_figure(
    data: &[(Vec<f32>, Vec<f32>, usize, f64)],
    height: usize,
    width: usize,
    weights: &Weights,
) -> Result<crate::figures::Canvas> {
    let mut panels = Vec::new();
    for (k, (sample, _, _, _)) in data.iter().enumerate() {
        panels.push(Panel {
            image: Image::new(sample, height, width)?,
            title: format!("prior sample {k}"),
        });
    }
    for (_, model, index, d) in data {
        panels.push(Panel {
            image: Image::new(model, height, width)?,
            title: format!("#{index}: {d:.3}"),
        });
    }
    let mut fig = GridFigure::new(2, data.len(), panels, velocity_scale(weights));
    fig.title =
        "Prior samples (λ = 0) over their nearest training models (#index: RMSE km/s)".into();
    fig.render()
}

/// The summary on stdout.
fn print_summary(r: &Report) {
    let h = &r.held_out;
    println!(
        "{} pairs: {} ({} samples each, {:.2} s/sample on {} threads)",
        r.split.label(),
        h.pairs,
        h.samples,
        h.seconds_per_sample,
        r.threads
    );
    println!(
        "  posterior mean: SSIM {:.4}  RMSE {:.4} km/s",
        h.mean_ssim, h.mean_rmse
    );
    println!(
        "  background:     SSIM {:.4}  RMSE {:.4} km/s",
        h.mean_ssim_background, h.mean_rmse_background
    );
    println!("  by depth: {}", r.depth.summary());
    println!(
        "  calibration: the true velocity lies inside the samples' range at {:.1} % of the pixels (calibrated: {:.1} %)",
        100.0 * h.mean_range_coverage,
        100.0 * h.calibrated_range_coverage
    );
    println!(
        "  mean beats background (SSIM and RMSE) on {}/{} pairs",
        h.pairs_beating_background, h.pairs
    );
    if let Some(p) = &r.prior {
        println!(
            "prior samples: {}; nearest training model RMSE median {:.4} (min {:.4}) km/s; held-out models: median {:.4} km/s",
            p.samples, p.median_nearest_rmse, p.min_nearest_rmse, p.median_held_out_nearest_rmse
        );
    }
    for (k, row) in r.steps_study.iter().enumerate() {
        if k == 0 {
            println!(
                "reference {} {} steps ({} evaluations): {:.2} s/sample; standard error of a {}-sample mean {:.5} km/s",
                row.sampler, row.steps, row.evaluations, row.seconds_per_sample, r.held_out.samples, row.mean_standard_error
            );
            continue;
        }
        println!(
            "{:>9} {:>4} steps ({:>4} evaluations): {:.2} s/sample, mean RMSE to reference {:.5}, per-sample {:.5} km/s",
            row.sampler, row.steps, row.evaluations, row.seconds_per_sample, row.mean_rmse_to_reference, row.sample_rmse_to_reference
        );
    }
}

/// One `--steps-study` entry: `STEPS` (the evaluation's sampler) or `SAMPLER:STEPS`.
fn study_entry(entry: &str, base: &SamplerConfig) -> Result<SamplerConfig> {
    let (kind, steps) = match entry.split_once(':') {
        Some((name, steps)) => (
            super::posterior_io::sampler_kind(name.trim())
                .with_context(|| format!("--steps-study `{entry}`"))?,
            steps,
        ),
        None => (base.kind, entry),
    };
    let steps: usize = steps.trim().parse().map_err(|_| {
        anyhow!(
            "--steps-study `{entry}`: expected STEPS or SAMPLER:STEPS with a positive step count"
        )
    })?;
    let config = SamplerConfig {
        kind,
        steps,
        ..*base
    };
    config
        .validate()
        .map_err(|e| anyhow!("--steps-study `{entry}`: {e}"))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_mirrored_copies_and_exact_distances() {
        let (h, w) = (2, 3);
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let models = [
            [0.0f32; 6],
            [3.0, 2.0, 1.0, 6.0, 5.0, 4.0],
            [1.0, 2.0, 3.0, 4.0, 5.0, 8.0],
        ]
        .concat();
        let (d, k, mirrored) = nearest(&a, &models, h, w);
        assert_eq!((d, k, mirrored), (0.0, 1, true));
        // Without the mirror the nearest is model 2, one value off by 2: RMSE √(4/6).
        let (d, k, mirrored) = nearest(&a, &models[12..], h, w);
        assert_eq!((k, mirrored), (0, false));
        assert!((d - (4.0f64 / 6.0).sqrt()).abs() < 1e-15);
        assert_eq!(mirror(&mirror(&a, h, w), h, w), a);
    }

    #[test]
    fn study_entries_take_the_base_sampler_or_a_named_one() {
        let base = SamplerConfig::default();
        let plain = study_entry("10", &base).unwrap();
        assert_eq!((plain.kind, plain.steps), (base.kind, 10));
        let named = study_entry("dpmpp-2m:12", &base).unwrap();
        assert_eq!(
            (named.kind.name(), named.steps, named.sigma_max),
            ("dpmpp-2m", 12, base.sigma_max)
        );
        for bad in ["0", "heun:0", "ten", "nosuch:10", "heun:"] {
            assert!(study_entry(bad, &base).is_err(), "{bad}");
        }
    }

    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
