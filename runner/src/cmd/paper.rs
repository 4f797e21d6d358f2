//! `powerpost paper`: the paper's four figures and its residual curve in one command.
//!
//! ## What it runs
//! Three sweeps ([`super::sweep`]) on one RTM image, each an ordinary sweep directory
//! under `--out` (`sweep.json`, `cells/l{λ}_a{α}/`, `sweep.csv`, `sweep.png`):
//! - `fig1-prior/`: λ = 0 and the α list of Fig. 1 (the tempered prior p(x)^α);
//! - `fig2-lambda/`: the λ list of Figs. 2 and 3 at α = 1, with every sample's data
//!   residual (`sweep --sample-residuals`);
//! - `fig4-grid/`: the λ × α grid of Fig. 4.
//!
//! Every cell draws samples `0 .. n` of one seed (common random numbers: cells differ only
//! by λ and α). The sampler of each sweep is the one `sweep` picks for its α list
//! (DPM-Solver++(2M), 16 steps, where every α is 1 — Fig. 2; the exact-power sampler with 4
//! Langevin steps per level otherwise); `--sampler`, `--steps` and `--exact-power` apply to
//! all three. A cell of Fig. 4 that Fig. 1 already made (λ = 0, same α, sampler and n) is
//! copied, not drawn again: the same bytes either way.
//!
//! The observed shots are `--shots` (`.npy` or SEG-Y of `--preset`), or are simulated here
//! from the true model exactly as `powerpost simulate --model TRUTH --preset P --snr-db S
//! --seed K` would (same bytes), kept as `shots.npy` with `shots.json` (what they were made
//! from) and reused by a rerun.
//!
//! ## Outputs (in `--out`)
//! - `fig1-prior-alpha.png`: prior samples, columns α increasing, rows samples `#0 ..`;
//! - `fig2-posterior-lambda.png`: columns λ increasing (α = 1), rows the posterior mean and
//!   samples `#0 ..`, a first column with the true model and the background model;
//! - `fig3-residual-lambda.png`: the relative data residual ‖F(x) − d_obs‖/‖d_obs‖ of the
//!   posterior mean (line) and of every sample (points; their median dashed) against λ
//!   (evenly spaced), with the true model's (the noise level) and the background model's
//!   residuals as reference lines;
//! - `fig4-lambda-alpha.png`: sample #0 of every cell, rows λ increasing bottom to top,
//!   columns α increasing left to right;
//! - `residual.csv`: `lambda,alpha,sample,residual` — Fig. 3's data: per λ a `mean` row and
//!   one row per sample, then `truth` and `background` rows (λ and α empty); an empty
//!   residual where the modelling refused the model (outside the preset's CFL or
//!   dispersion limits);
//! - `metrics.csv`: `figure,sampler,lambda,alpha,n,mean_std,rmse,ssim,residual` for every
//!   cell of the three sweeps (the columns of `sweep.csv`);
//! - `paper.json`: what was run (inputs with digests, grids, samplers, seed, reference
//!   residuals, version) and this invocation's timings and thread count.
//!
//! Every panel of Figs. 1, 2 and 4 is titled with its λ and α, and each figure has one
//! velocity colour bar in km/s over the weights' normalisation range.
//!
//! ## Invariants
//! Everything but `paper.json`'s timings and thread count is a function of the inputs and
//! options: the same bytes for any thread count, and for a run that was killed and rerun
//! (complete cells are skipped, cells appear whole by rename, every other file is written
//! atomically and rewritten from the cells). All inputs and options are checked before
//! anything is written: a bad input is an error naming the file or option, exit code 2,
//! and no output directory. `--shard k/m` computes shard k of every sweep and stops before
//! the figures; copy the cell directories of all shards into one `--out` (or share it) and
//! rerun without `--shard` to draw them.

use super::posterior_io::{
    load_weights, resolve_example, sampler_label, sha256_hex, Engine, ExactF32, FileRecord,
    SamplerRecord, WeightsRecord,
};
use super::sweep::{
    self, cell_dir, check_grid, csv_value, data_residual, execute, lambda_alpha_figure, load_cells,
    metrics_csv_row, parse_shard, prepare, residual_csv_rows, velocity_scale, CellRecord,
    ObservedShots, ShotsRecord, SweepCounts, SweepInputs, SweepPlan, SweepSpec, METRICS_CSV_HEADER,
    RESIDUALS_CSV_HEADER,
};
use super::{DeviceArgs, RunArgs};
use crate::atomic;
use crate::figures::{GridFigure, Image, LinePlot, Panel, Series, SeriesKind};
use crate::npy;
use crate::progress::Progress;
use anyhow::{bail, Context, Result};
use clap::Args;
use powerpost_core::exec::Executor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The shipped example the defaults use.
pub const DEFAULT_EXAMPLE: &str = "examples/edge-2016";

/// Sub-directories of the three sweeps.
const FIG1_SWEEP: &str = "fig1-prior";
const FIG2_SWEEP: &str = "fig2-lambda";
const FIG4_SWEEP: &str = "fig4-grid";

/// The files written directly in `--out`.
const OUTPUT_FILES: [&str; 9] = [
    "shots.npy",
    "shots.json",
    "fig1-prior-alpha.png",
    "fig2-posterior-lambda.png",
    "fig3-residual-lambda.png",
    "fig4-lambda-alpha.png",
    "residual.csv",
    "metrics.csv",
    "paper.json",
];

/// Options of `powerpost paper`.
#[derive(Args, Debug, Clone)]
pub struct PaperArgs {
    /// Example directory holding `velocity.npy` (the true model, km/s) and `rtm.npy` (the
    /// conditioning RTM image) [default: the shipped examples/edge-2016].
    #[arg(long)]
    pub example: Option<PathBuf>,
    /// RTM image, 2-D .npy [default: rtm.npy of --example].
    #[arg(long)]
    pub rtm: Option<PathBuf>,
    /// Rescale the RTM image to the training images' amplitude (as `sample
    /// --rtm-normalize`); the gain is recorded in paper.json and every sweep.
    #[arg(long)]
    pub rtm_normalize: bool,
    /// True velocity model (km/s), 2-D .npy [default: velocity.npy of --example].
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Background model the RTM image was migrated in (km/s), 2-D .npy, for weights
    /// conditioned on it [default for such weights: background.npy of --example].
    #[arg(long)]
    pub background: Option<PathBuf>,
    /// Observed shots of --preset (.npy [shots, nt, receivers] or SEG-Y .sgy/.segy)
    /// [default: simulated from the true model with --snr-db noise].
    #[arg(long)]
    pub shots: Option<PathBuf>,
    /// Acquisition preset of the shots (`edge`: 64 × 128 models; `paper`: 256 × 256;
    /// `tiny`: 16 × 32).
    #[arg(long, default_value = "edge")]
    pub preset: String,
    /// Signal-to-noise ratio (dB) of the coloured noise added to simulated shots.
    #[arg(long, default_value_t = 10.0)]
    pub snr_db: f32,
    /// Seed of the noise of simulated shots.
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
    /// Gaussian smoothing (σ, model grid points) of the true model into the background
    /// model shown in Fig. 2 and as a reference in Fig. 3.
    #[arg(long, default_value_t = 10.0)]
    pub background_sigma: f32,
    /// Prior powers α of Fig. 1 (λ = 0).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.25,0.5,0.75,1,1.25,1.5"
    )]
    pub fig1_alpha: Vec<f32>,
    /// Likelihood powers λ of Figs. 2 and 3 (α = 1).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,0.5,1,1.5,2,2.5,3,4,8,16"
    )]
    pub fig2_lambda: Vec<f32>,
    /// Likelihood powers λ (rows) of Fig. 4.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,4")]
    pub fig4_lambda: Vec<f32>,
    /// Prior powers α (columns) of Fig. 4.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,1,1.5")]
    pub fig4_alpha: Vec<f32>,
    /// Samples per cell of Figs. 1 and 4.
    #[arg(long, default_value_t = 4)]
    pub n: usize,
    /// Samples per cell of Figs. 2 and 3 (each one is also forward-modelled for its
    /// residual).
    #[arg(long, default_value_t = 8)]
    pub fig2_n: usize,
    /// Samples shown per cell (rows) in Figs. 1 and 2.
    #[arg(long, default_value_t = 3)]
    pub show: usize,
    /// Run seed (every cell draws samples 0 .. n of it).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sampler options, for all figures (default: dpmpp-2m for Fig. 2, where α = 1;
    /// exact-power for Figs. 1 and 4).
    #[command(flatten)]
    pub sampling: super::SamplerArgs,
    /// Compute only shard k of m of every sweep (no figures), e.g. 2/4.
    #[arg(long, value_name = "K/M")]
    pub shard: Option<String>,
    /// Output directory (reused: complete cells are skipped).
    #[arg(long, default_value = "paper")]
    pub out: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Each figure's PNG and the sweep directory it is drawn from.
const FIGURES: [(&str, &str); 4] = [
    ("fig1-prior-alpha.png", FIG1_SWEEP),
    ("fig2-posterior-lambda.png", FIG2_SWEEP),
    ("fig3-residual-lambda.png", FIG2_SWEEP),
    ("fig4-lambda-alpha.png", FIG4_SWEEP),
];

/// `paper.json`: what was run, and this invocation's threads and timings.
#[derive(Serialize)]
struct PaperRecord<'a> {
    /// Always `"paper"`.
    kind: &'static str,
    /// Version that wrote it.
    powerpost_version: &'static str,
    /// Weights (path, digest, architecture, normalisation).
    weights: &'a WeightsRecord,
    /// RTM image.
    rtm: &'a FileRecord,
    /// Gain applied to the RTM image (`--rtm-normalize`; absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    rtm_gain: Option<ExactF32>,
    /// True model.
    truth: &'a FileRecord,
    /// Observed shots.
    shots: ShotsEntry<'a>,
    /// Run seed of every sweep.
    seed: u64,
    /// Smoothing σ of the background model (grid points).
    #[serde(serialize_with = "super::posterior_io::exact_f32::serialize")]
    background_sigma: f32,
    /// Samples shown per cell in Figs. 1 and 2.
    show: usize,
    /// Figure → sweep directory.
    figures: Vec<FigureEntry>,
    /// The three sweeps.
    sweeps: Vec<SweepEntry<'a>>,
    /// Residuals of the true and the background model.
    reference_residuals: References,
    /// Threads, backend and timings of this invocation (the only fields that change
    /// between runs of the same inputs).
    this_run: ThisRun,
}

/// The shots of `paper.json`.
#[derive(Serialize)]
struct ShotsEntry<'a> {
    file: &'a FileRecord,
    preset: &'a str,
    /// How they were simulated (`null`: given with --shots).
    simulated: Option<&'a SimulatedShots>,
}

/// A figure of `paper.json`.
#[derive(Serialize)]
struct FigureEntry {
    png: &'static str,
    sweep: &'static str,
}

/// A sweep of `paper.json`.
#[derive(Serialize)]
struct SweepEntry<'a> {
    directory: &'static str,
    lambdas: &'a [ExactF32],
    alphas: &'a [ExactF32],
    n: usize,
    sampler: &'a SamplerRecord,
    sample_residuals: bool,
    this_run: SweepRun,
}

/// What this invocation did in a sweep.
#[derive(Serialize)]
struct SweepRun {
    cells: SweepCounts,
    seconds: f64,
}

/// Reference residuals.
#[derive(Serialize)]
struct References {
    truth: f64,
    background: f64,
}

/// This invocation.
#[derive(Serialize)]
struct ThisRun {
    threads: usize,
    backend: String,
    seconds: Seconds,
}

/// Wall-clock seconds of this invocation's stages.
#[derive(Serialize)]
struct Seconds {
    shots: f64,
    references: f64,
    sweeps: f64,
    figures: f64,
    total: f64,
}

/// `shots.json`: what simulated shots were made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulatedShots {
    /// Always `"paper-shots"`.
    kind: String,
    /// Digest of the true model.
    truth_sha256: String,
    /// Acquisition preset.
    preset: String,
    /// Noise SNR (dB).
    #[serde(with = "super::posterior_io::exact_f32")]
    snr_db: f32,
    /// Noise seed.
    noise_seed: u64,
    /// Digest of `shots.npy`.
    sha256: String,
}

/// One of the three sweeps.
struct Figure {
    /// Sub-directory.
    name: &'static str,
    /// Prepared sweep.
    prepared: sweep::PreparedSweep,
    /// The α list as given (for the sampler notes).
    alphas: Vec<f32>,
}

/// The observed shots, and how they were obtained (`None`: `--shots`).
struct Shots {
    observed: ObservedShots,
    simulated: Option<(SimulatedShots, Vec<u8>)>,
}

/// Runs `powerpost paper`.
pub fn run(args: &PaperArgs) -> Result<()> {
    let started = Instant::now();
    // Options first: nothing is read or written before they are all valid.
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    check_grid("--fig1-alpha", &args.fig1_alpha, false)?;
    check_grid("--fig2-lambda", &args.fig2_lambda, true)?;
    check_grid("--fig4-lambda", &args.fig4_lambda, true)?;
    check_grid("--fig4-alpha", &args.fig4_alpha, false)?;
    for (option, n) in [
        ("--n", args.n),
        ("--fig2-n", args.fig2_n),
        ("--show", args.show),
    ] {
        if n == 0 {
            bail!("{option}: expected at least 1");
        }
    }
    if !(args.snr_db.is_finite()
        && args.background_sigma.is_finite()
        && args.background_sigma > 0.0)
    {
        bail!("--snr-db and --background-sigma: expected finite numbers (σ > 0)");
    }
    let fig2_alpha = [1.0f32];
    let samplers = [
        args.sampling.config(&args.fig1_alpha)?,
        args.sampling.config(&fig2_alpha)?,
        args.sampling.config(&args.fig4_alpha)?,
    ];

    // Inputs.
    let example = match (&args.rtm, &args.truth, &args.example) {
        (Some(_), Some(_), _) => None,
        (_, _, Some(dir)) => Some(dir.clone()),
        _ => Some(resolve_example(DEFAULT_EXAMPLE)?),
    };
    let from_example = |given: &Option<PathBuf>, file: &str| {
        given
            .clone()
            .or_else(|| example.as_ref().map(|d| d.join(file)))
            .unwrap_or_default()
    };
    let (rtm_path, truth_path) = (
        from_example(&args.rtm, "rtm.npy"),
        from_example(&args.truth, "velocity.npy"),
    );
    // The network's background condition, for weights that take one (their architecture
    // decides whether the example's background.npy applies).
    let weights = load_weights(args.sampling.weights.as_deref())?;
    let takes_background = weights.config.takes_background();
    let background_path = match (&args.background, &example) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(dir)) if takes_background => Some(dir.join("background.npy")),
        (None, None) if takes_background => bail!("--background: these weights are conditioned on the background model as well as the RTM image; give --background MODEL.npy (km/s) with --rtm and --truth"),
        (None, _) => None,
    };
    let mut inputs = SweepInputs::load(
        weights,
        &rtm_path,
        args.rtm_normalize,
        background_path.as_deref(),
        Some(&truth_path),
        args.shots.as_deref(),
        &args.preset,
    )?;
    let (height, width) = (inputs.rtm.height, inputs.rtm.width);
    let truth = inputs
        .truth
        .clone()
        .context("--truth: the paper's figures need the true model")?;
    let acquisition = sweep::acquisition_for(&args.preset, height, width)?;
    let background =
        powerpost_train::dataset::background_model(&truth.0, height, width, args.background_sigma)?;
    let engine = Engine::new(args.run.threads, &args.device)?;
    let quiet = args.run.quiet;

    let shots_started = Instant::now();
    let shots = match inputs.shots.take() {
        Some(observed) => Shots {
            observed,
            simulated: None,
        },
        None => simulated_shots(args, &acquisition, &truth, &engine)?,
    };
    let shots_s = shots_started.elapsed().as_secs_f64();
    // The reference residuals, before anything is written: a true model the preset cannot
    // model is a bad input.
    let references_started = Instant::now();
    let exec = engine.executor();
    let truth_residual = data_residual(&acquisition, &truth.0, &shots.observed.data, exec)
        .with_context(|| format!("{}: the true model's data residual", truth.1.path))?;
    let background_residual = data_residual(&acquisition, &background, &shots.observed.data, exec)
        .with_context(|| format!("{}: the background model's data residual", truth.1.path))?;
    let references_s = references_started.elapsed().as_secs_f64();
    let simulated = shots.simulated;
    inputs.shots = Some(shots.observed);

    let spec = |lambdas: &[f32], alphas: &[f32], n: usize, k: usize, residuals: bool| SweepSpec {
        lambdas: lambdas.to_vec(),
        alphas: alphas.to_vec(),
        n,
        seed: args.seed,
        sampler: samplers[k],
        shard,
        sample_residuals: residuals,
    };
    let specs = [
        (FIG1_SWEEP, spec(&[0.0], &args.fig1_alpha, args.n, 0, false)),
        (
            FIG2_SWEEP,
            spec(&args.fig2_lambda, &fig2_alpha, args.fig2_n, 1, true),
        ),
        (
            FIG4_SWEEP,
            spec(&args.fig4_lambda, &args.fig4_alpha, args.n, 2, false),
        ),
    ];
    let mut figures = Vec::new();
    for (name, spec) in specs {
        let plan = SweepPlan::new(&spec, &inputs);
        figures.push(Figure {
            name,
            prepared: prepare(plan, &args.out.join(name))?,
            alphas: spec.alphas,
        });
    }

    // Every input is valid: write.
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("--out {}: cannot create the directory", args.out.display()))?;
    atomic::remove_stale_temporaries(&args.out, &OUTPUT_FILES)?;
    if let Some((record, bytes)) = &simulated {
        atomic::write_bytes(&args.out.join("shots.npy"), bytes)?;
        atomic::write_bytes(
            &args.out.join("shots.json"),
            (serde_json::to_string_pretty(record)? + "\n").as_bytes(),
        )?;
    }
    engine.announce_device(quiet);
    let mut sweep_times = Vec::new();
    let mut donors: Vec<PathBuf> = Vec::new();
    for figure in &figures {
        let t = Instant::now();
        let sampler = figure.prepared.plan.sampler()?;
        args.sampling.announce(&figure.alphas, &sampler, quiet);
        if !quiet {
            eprintln!(
                "{}: {} cells × {} samples ({})",
                figure.prepared.out.display(),
                figure.prepared.plan.cells(),
                figure.prepared.plan.n,
                sampler_label(&sampler)
            );
        }
        let counts = execute(&figure.prepared, &inputs, &engine, quiet, &donors)?;
        donors.push(figure.prepared.out.clone());
        sweep_times.push((counts, t.elapsed().as_secs_f64()));
    }
    if let Some(s) = shard {
        if !quiet {
            eprintln!(
                "shard {}/{} done; the figures come from a run without --shard once every shard's cells are in {}",
                s.index,
                s.count,
                args.out.display()
            );
        }
        return Ok(());
    }

    let observed = inputs.shots.as_ref().context("shots")?;

    let figures_started = Instant::now();
    let plans: Vec<&SweepPlan> = figures.iter().map(|f| &f.prepared.plan).collect();
    let dirs: Vec<PathBuf> = figures.iter().map(|f| f.prepared.out.clone()).collect();
    let records: Vec<Vec<CellRecord>> = plans
        .iter()
        .zip(&dirs)
        .map(|(plan, dir)| load_cells(plan, dir))
        .collect::<Result<_>>()?;
    let shown = |plan: &SweepPlan| args.show.min(plan.n);

    // Fig. 1: columns α increasing, rows samples.
    {
        let plan = plans[0];
        let order = sorted_cells(plan);
        let samples = read_samples(plan, &dirs[0], &order, shown(plan))?;
        let mut panels = Vec::new();
        for row in 0..shown(plan) {
            for (cell_samples, &c) in samples.iter().zip(&order) {
                let (l, a) = plan.cell(c);
                panels.push(Panel {
                    image: Image::new(&cell_samples[row], height, width)?,
                    title: format!("λ={l} α={a}"),
                });
            }
        }
        save_velocity_grid(
            plan,
            order.len(),
            panels,
            (0..shown(plan)).map(|k| format!("#{k}")).collect(),
            "Fig. 1: prior samples (λ = 0) with prior power α",
            &args.out.join("fig1-prior-alpha.png"),
        )?;
    }

    // Fig. 2: a reference column, then λ increasing; rows the mean and samples.
    {
        let plan = plans[1];
        let order = sorted_cells(plan);
        let samples = read_samples(plan, &dirs[1], &order, shown(plan))?;
        let means = order
            .iter()
            .map(|&c| {
                let (l, a) = plan.cell(c);
                Ok(npy::read_f32(&cell_dir(&dirs[1], l, a).join("mean.npy"))?.data)
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = 1 + shown(plan);
        let mut panels = Vec::new();
        for row in 0..rows {
            panels.push(match row {
                0 => Panel {
                    image: Image::new(&truth.0, height, width)?,
                    title: "true model".into(),
                },
                1 => Panel {
                    image: Image::new(&background, height, width)?,
                    title: "background".into(),
                },
                _ => Panel::blank(),
            });
            for (i, &c) in order.iter().enumerate() {
                let (l, a) = plan.cell(c);
                let image = if row == 0 {
                    &means[i]
                } else {
                    &samples[i][row - 1]
                };
                panels.push(Panel {
                    image: Image::new(image, height, width)?,
                    title: format!("λ={l} α={a}"),
                });
            }
        }
        save_velocity_grid(
            plan,
            order.len() + 1,
            panels,
            std::iter::once("mean".to_string())
                .chain((0..shown(plan)).map(|k| format!("#{k}")))
                .collect(),
            "Fig. 2: posterior mean and samples with likelihood power λ, α = 1",
            &args.out.join("fig2-posterior-lambda.png"),
        )?;
    }

    // Fig. 3 and residual.csv.
    {
        let plan = plans[1];
        let order = sorted_cells(plan);
        residual_plot(
            plan,
            &order,
            &records[1],
            truth_residual,
            background_residual,
        )?
        .render()?
        .save_png(&args.out.join("fig3-residual-lambda.png"))?;
        let mut csv = format!("{RESIDUALS_CSV_HEADER}\n");
        for r in &records[1] {
            csv += &residual_csv_rows(r);
        }
        csv += &format!(",,truth,{}\n", csv_value(Some(truth_residual)));
        csv += &format!(",,background,{}\n", csv_value(Some(background_residual)));
        atomic::write_bytes(&args.out.join("residual.csv"), csv.as_bytes())?;
    }

    // Fig. 4: sample #0 of every cell.
    {
        let plan = plans[2];
        let first = (0..plan.cells())
            .map(|c| {
                let (l, a) = plan.cell(c);
                let all = npy::read_f32(&cell_dir(&dirs[2], l, a).join("samples.npy"))?.data;
                Ok(all[..height * width].to_vec())
            })
            .collect::<Result<Vec<_>>>()?;
        let images: Vec<&[f32]> = first.iter().map(Vec::as_slice).collect();
        let title = format!(
            "Fig. 4: sample #0 over λ (rows) and α (columns) ({}, seed {})",
            sampler_label(&plan.sampler()?),
            plan.seed
        );
        lambda_alpha_figure(plan, &images, true, title)?
            .save_png(&args.out.join("fig4-lambda-alpha.png"))?;
    }

    // metrics.csv: every cell of the three sweeps.
    let mut csv = format!("figure,sampler,{METRICS_CSV_HEADER}\n");
    for ((figure, plan), cells) in figures.iter().zip(&plans).zip(&records) {
        for r in cells {
            csv += &format!(
                "{},{},{}\n",
                figure.name,
                plan.sampler.kind,
                metrics_csv_row(r)
            );
        }
    }
    atomic::write_bytes(&args.out.join("metrics.csv"), csv.as_bytes())?;
    let figures_s = figures_started.elapsed().as_secs_f64();

    // paper.json, last: its presence says the run finished.
    let sweeps: Vec<SweepEntry<'_>> = figures
        .iter()
        .zip(&sweep_times)
        .map(|(f, &(cells, seconds))| SweepEntry {
            directory: f.name,
            lambdas: &f.prepared.plan.lambdas,
            alphas: &f.prepared.plan.alphas,
            n: f.prepared.plan.n,
            sampler: &f.prepared.plan.sampler,
            sample_residuals: f.prepared.plan.sample_residuals,
            this_run: SweepRun { cells, seconds },
        })
        .collect();
    let record = PaperRecord {
        kind: "paper",
        powerpost_version: env!("CARGO_PKG_VERSION"),
        weights: &plans[0].weights,
        rtm: &inputs.rtm.record,
        rtm_gain: inputs.rtm.gain.map(ExactF32),
        truth: &truth.1,
        shots: ShotsEntry {
            file: &observed.record.file,
            preset: &observed.record.preset,
            simulated: simulated.as_ref().map(|(s, _)| s),
        },
        seed: args.seed,
        background_sigma: args.background_sigma,
        show: args.show,
        figures: FIGURES
            .iter()
            .map(|&(png, sweep)| FigureEntry { png, sweep })
            .collect(),
        sweeps,
        reference_residuals: References {
            truth: truth_residual,
            background: background_residual,
        },
        this_run: ThisRun {
            threads: engine.executor().threads(),
            backend: engine.device_label().unwrap_or_else(|| "cpu".into()),
            seconds: Seconds {
                shots: shots_s,
                references: references_s,
                sweeps: sweep_times.iter().map(|t| t.1).sum(),
                figures: figures_s,
                total: started.elapsed().as_secs_f64(),
            },
        },
    };
    atomic::write_bytes(
        &args.out.join("paper.json"),
        (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
    )?;
    if !quiet {
        eprintln!(
            "wrote {}/{{fig1-prior-alpha,fig2-posterior-lambda,fig3-residual-lambda,fig4-lambda-alpha}}.png, residual.csv, metrics.csv, paper.json in {:.0} s",
            args.out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The observed shots simulated from the true model (or those a previous run simulated
/// from the same inputs, if `shots.json` and `shots.npy` in `--out` still match).
fn simulated_shots(
    args: &PaperArgs,
    a: &powerpost_core::wave::Acquisition,
    truth: &(Vec<f32>, FileRecord),
    engine: &Engine,
) -> Result<Shots> {
    let mut wanted = SimulatedShots {
        kind: "paper-shots".into(),
        truth_sha256: truth.1.sha256.clone(),
        preset: args.preset.clone(),
        snr_db: args.snr_db,
        noise_seed: args.noise_seed,
        sha256: String::new(),
    };
    let path = args.out.join("shots.npy");
    let file_path = std::env::current_dir()
        .map(|d| d.join(&path))
        .unwrap_or_else(|_| path.clone());
    let record = |sha256: String| ShotsRecord {
        file: FileRecord {
            path: file_path.display().to_string(),
            sha256,
        },
        preset: args.preset.clone(),
    };
    // A previous run's shots of the same inputs.
    let previous = std::fs::read_to_string(args.out.join("shots.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<SimulatedShots>(&text).ok());
    if let Some(previous) = previous {
        let digest = super::posterior_io::sha256_file(&path).ok();
        let same_inputs = SimulatedShots {
            sha256: String::new(),
            ..previous.clone()
        } == wanted;
        if same_inputs && digest.as_deref() == Some(previous.sha256.as_str()) {
            let observed = sweep::read_shots(&path, &args.preset, a.model_nz, a.model_nx)?;
            return Ok(Shots {
                observed: ObservedShots {
                    record: record(previous.sha256),
                    ..observed
                },
                simulated: None,
            });
        }
    }
    let model_m_s: Vec<f32> = truth.0.iter().map(|v| v * 1000.0).collect();
    let progress = Progress::new(a.n_sources as u64, "shots", args.run.quiet);
    let mut data = super::wave::forward_all_shots(a, &model_m_s, engine.executor(), &progress)
        .with_context(|| format!("simulating the observed shots from {}", truth.1.path))?;
    super::wave::add_noise(a, &mut data, args.snr_db, args.noise_seed)?;
    let bytes = npy::to_bytes(&[a.n_sources, a.cfg.nt, a.n_receivers], &data)?;
    wanted.sha256 = sha256_hex(&bytes);
    Ok(Shots {
        observed: ObservedShots {
            acquisition: *a,
            data,
            record: record(wanted.sha256.clone()),
        },
        simulated: Some((wanted, bytes)),
    })
}

/// Saves `panels` (row-major, `cols` per row) as a grid with one velocity colour bar,
/// `row_labels` at the left and `title` followed by the sweep's samples per cell, sampler
/// and seed.
fn save_velocity_grid(
    plan: &SweepPlan,
    cols: usize,
    panels: Vec<Panel<'_>>,
    row_labels: Vec<String>,
    title: &str,
    path: &Path,
) -> Result<()> {
    let mut figure = GridFigure::new(
        row_labels.len(),
        cols,
        panels,
        velocity_scale(&plan.weights.normalization),
    );
    figure.row_labels = row_labels;
    figure.title = format!(
        "{title} ({} samples per cell; {}, seed {})",
        plan.n,
        sampler_label(&plan.sampler()?),
        plan.seed
    );
    figure.render()?.save_png(path)
}

/// The cells of `plan` by increasing λ, then α.
fn sorted_cells(plan: &SweepPlan) -> Vec<usize> {
    let mut order: Vec<usize> = (0..plan.cells()).collect();
    order.sort_by(|&a, &b| {
        let ((la, aa), (lb, ab)) = (plan.cell(a), plan.cell(b));
        la.total_cmp(&lb).then(aa.total_cmp(&ab))
    });
    order
}

/// The first `k` samples of each cell in `order`, one `Vec` per sample.
fn read_samples(
    plan: &SweepPlan,
    dir: &Path,
    order: &[usize],
    k: usize,
) -> Result<Vec<Vec<Vec<f32>>>> {
    let len = plan.height * plan.width;
    order
        .iter()
        .map(|&c| {
            let (l, a) = plan.cell(c);
            let all = npy::read_f32(&cell_dir(dir, l, a).join("samples.npy"))?.data;
            Ok(all.chunks_exact(len).take(k).map(<[f32]>::to_vec).collect())
        })
        .collect()
}

/// Median of the finite values (mean of the middle two for an even count), `None` if none.
fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some(0.5 * (v[n / 2 - 1] + v[n / 2])),
    }
}

/// Fig. 3: residuals against λ at evenly spaced positions (`order`: cells by λ).
fn residual_plot(
    plan: &SweepPlan,
    order: &[usize],
    records: &[CellRecord],
    truth_residual: f64,
    background_residual: f64,
) -> Result<LinePlot> {
    let mut points = Vec::new();
    let mut medians = Vec::new();
    let mut means = Vec::new();
    let mut ticks = Vec::new();
    let mut notes = Vec::new();
    for (i, &c) in order.iter().enumerate() {
        let x = i as f64;
        let r = &records[c];
        let lambda = plan.cell(c).0;
        ticks.push((x, format!("{lambda}")));
        let refused = r
            .metrics
            .sample_residuals
            .iter()
            .flatten()
            .filter(|s| s.residual.is_none())
            .count();
        if refused > 0 || r.metrics.residual.is_none() {
            let mean = if r.metrics.residual.is_none() {
                "the mean and "
            } else {
                ""
            };
            notes.push(format!("λ={lambda}: {mean}{refused} of {} samples", plan.n));
        }
        let samples: Vec<f64> = r
            .metrics
            .sample_residuals
            .iter()
            .flatten()
            .filter_map(|s| s.residual)
            .collect();
        points.extend(samples.iter().map(|&y| (x, y)));
        medians.push((x, median(samples.into_iter()).unwrap_or(f64::NAN)));
        means.push((x, r.metrics.residual.unwrap_or(f64::NAN)));
    }
    Ok(LinePlot {
        title: format!(
            "Fig. 3: relative data residual vs likelihood power λ (α = 1, {} samples per λ; {})",
            plan.n,
            sampler_label(&plan.sampler()?)
        ),
        x_label: "λ (α = 1)".into(),
        y_label: "|F(x) - d_obs| / |d_obs|".into(),
        x_ticks: ticks,
        series: vec![
            Series {
                label: "background model".into(),
                color: [230, 140, 20],
                kind: SeriesKind::Reference(background_residual),
            },
            Series {
                label: "true model (noise level)".into(),
                color: [30, 140, 60],
                kind: SeriesKind::Reference(truth_residual),
            },
            Series {
                label: "each sample".into(),
                color: [140, 170, 220],
                kind: SeriesKind::Points(points),
            },
            Series {
                label: "median of the samples".into(),
                color: [40, 90, 180],
                kind: SeriesKind::Line {
                    points: medians,
                    dashed: true,
                },
            },
            Series {
                label: "posterior mean".into(),
                color: [200, 40, 40],
                kind: SeriesKind::Line {
                    points: means,
                    dashed: false,
                },
            },
        ],
        notes: if notes.is_empty() {
            notes
        } else {
            std::iter::once("No residual (outside the".to_string())
                .chain(std::iter::once("preset's modelling limits):".to_string()))
                .chain(notes)
                .collect()
        },
        width: 720,
        height: 400,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_finite_values() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(
            median([4.0, 1.0, f64::NAN, 2.0, 3.0].into_iter()),
            Some(2.5)
        );
        assert_eq!(median([f64::NAN].into_iter()), None);
    }
}
