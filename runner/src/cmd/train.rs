//! `powerpost dataset` and `powerpost train`: thin front ends of `powerpost-train`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use powerpost_core::unet::UNetConfig;
use powerpost_train::dataset::{build, BuildOptions, Dataset};
use powerpost_train::exec::Pool;
use powerpost_train::loss::LossConfig;
use powerpost_train::optim::AdamWConfig;
use powerpost_train::trainer::{train, TrainOptions};

use super::RunArgs;
use crate::progress::Progress;

/// `powerpost dataset`.
#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// Output directory (shards, manifest.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of (velocity, RTM) pairs (with --models: at most the stack's count; 0 = all).
    #[arg(long, default_value_t = 3000)]
    pub pairs: usize,
    /// Seed of the geology models and the shot noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Pairs per shard file.
    #[arg(long, default_value_t = 64)]
    pub shard_size: usize,
    /// Held-out pairs (the last ones; default 2 %).
    #[arg(long)]
    pub held_out: Option<usize>,
    /// Build only this machine's part, `k/n` with 1 ≤ k ≤ n (as in `sweep --shard`):
    /// shard files j (0-based) with j mod n = k − 1, e.g. 2/4.
    #[arg(long)]
    pub shard: Option<String>,
    /// Use these velocity models `[N, 64, 128]` (.npy, km/s or m/s) as the prior source.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Shot-noise signal-to-noise ratio (dB).
    #[arg(long, default_value_t = 10.0)]
    pub snr_db: f32,
    /// Background smoothing σ (grid points).
    #[arg(long, default_value_t = 10.0)]
    pub smooth_sigma: f32,
    /// Migrate each pair in a background with a relative error of up to this fraction
    /// (e.g. 0.08): a smooth bulk, depth-trend and lateral error below the seabed, drawn
    /// per pair; 0 = the smoothed true model. Background-conditioned networks see the
    /// same erroneous background.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub background_error: f32,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `powerpost train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Dataset directory (from `powerpost dataset`).
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory (checkpoint.bin, log.csv, loss.png, weights.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    /// Total optimiser steps.
    #[arg(long, default_value_t = 20000)]
    pub steps: u64,
    /// Batch size.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f32,
    /// Warm-up steps.
    #[arg(long, default_value_t = 500)]
    pub warmup: u64,
    /// Decay the learning rate linearly after the warm-up, down to this fraction of --lr
    /// at --steps (1: no decay). A decaying run resumes only with the same --steps.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub decay_to: f32,
    /// AdamW weight decay (weights only).
    #[arg(long, default_value_t = 1e-2)]
    pub weight_decay: f32,
    /// Gradient-norm clip (0: off).
    #[arg(long, default_value_t = 1.0)]
    pub clip: f32,
    /// EMA decay of the exported weights.
    #[arg(long, default_value_t = 0.999)]
    pub ema: f32,
    /// Probability of dropping the condition (classifier-free guidance).
    #[arg(long, default_value_t = 0.2)]
    pub p_uncond: f32,
    /// Seed of the data order and noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 0)]
    pub init_seed: u64,
    /// Start from these weights (fine-tuning): a safetensors file such as the shipped
    /// weights, or another run's checkpoint.bin; the optimiser starts afresh.
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Seconds between checkpoints.
    #[arg(long, default_value_t = 300.0)]
    pub checkpoint_every_secs: f64,
    /// Continue from OUT/checkpoint.bin.
    #[arg(long)]
    pub resume: bool,
    /// Network preset: `default` or `tiny`, conditioned on the RTM image; with
    /// `-background` (`default-background`, `tiny-background`) conditioned on the
    /// background model as well (the dataset's velocity smoothed with its `smooth_sigma`,
    /// as the RTM image was migrated in; sampling then needs `--background`)
    /// [default: the architecture of --init-from, else `default`].
    #[arg(long)]
    pub network: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs `powerpost dataset`.
pub fn dataset(args: &DatasetArgs) -> Result<()> {
    let (k, n) = match &args.shard {
        None => (1, 1),
        Some(text) => text
            .split_once('/')
            .and_then(|(a, b)| {
                Some((
                    a.trim().parse::<usize>().ok()?,
                    b.trim().parse::<usize>().ok()?,
                ))
            })
            .filter(|&(k, n)| k >= 1 && k <= n)
            .with_context(|| format!("--shard {text}: expected k/n with 1 <= k <= n, e.g. 2/4"))?,
    };
    let threads = crate::exec::resolve_threads(args.run.threads);
    let opts = BuildOptions {
        out: args.out.clone(),
        pairs: args.pairs,
        seed: args.seed,
        shard_size: args.shard_size,
        held_out: args.held_out,
        part: (k - 1, n),
        models: args.models.clone(),
        snr_db: args.snr_db,
        smooth_sigma: args.smooth_sigma,
        background_error: args.background_error,
        threads,
    };
    let progress = Progress::new(args.pairs as u64, "pairs", args.run.quiet);
    let report = build(&opts, &|c| progress.inc(c as u64))?;
    progress.finish();
    let per_pair = if report.pairs_built > 0 {
        report.seconds * threads as f64 / report.pairs_built as f64
    } else {
        0.0
    };
    eprintln!(
        "built {} shards ({} pairs, {:.1} s, {:.2} core-s per pair), {} already complete; manifest {}",
        report.built,
        report.pairs_built,
        report.seconds,
        per_pair,
        report.skipped,
        if report.manifest_written { "written" } else { "pending (other shards missing)" }
    );
    Ok(())
}

/// Runs `powerpost train`.
pub fn run_train(args: &TrainArgs) -> Result<()> {
    // The named preset, else (fine-tuning) the initial weights' own, else the default.
    let config = match (&args.network, &args.init_from) {
        (Some(network), _) => {
            let Some((_, config)) = UNetConfig::PRESETS.iter().find(|(name, _)| name == network)
            else {
                let names: Vec<&str> = UNetConfig::PRESETS.iter().map(|(name, _)| *name).collect();
                bail!(
                    "--network: expected one of {}, got `{network}`",
                    names.join(", ")
                );
            };
            *config
        }
        (None, Some(init)) => powerpost_train::trainer::init_architecture(init)?,
        (None, None) => UNetConfig::DEFAULT,
    };
    let optimizer = AdamWConfig {
        lr: args.lr,
        warmup_steps: args.warmup,
        weight_decay: args.weight_decay,
        clip_norm: args.clip,
        ema_decay: args.ema,
        final_lr_fraction: args.decay_to,
        decay_end: if args.decay_to < 1.0 { args.steps } else { 0 },
        ..AdamWConfig::default()
    };
    // Settings first, before any file is read.
    optimizer.validate()?;
    let data = Dataset::load(&args.data, config.condition_channels())?;
    let exec = Pool::new(crate::exec::resolve_threads(args.run.threads))?;
    let opts = TrainOptions {
        out: args.out.clone(),
        steps: args.steps,
        batch: args.batch,
        seed: args.seed,
        init_seed: args.init_seed,
        init_from: args.init_from.clone(),
        config,
        optimizer,
        loss: LossConfig {
            p_uncond: args.p_uncond,
            ..LossConfig::default()
        },
        checkpoint_every_secs: args.checkpoint_every_secs,
        resume: args.resume,
        stop: Some(stop_on_signal()?),
    };
    let bar = step_bar(args.steps, args.run.quiet);
    let summary = train(&data, &opts, &exec, &mut |s| {
        bar.set_position(s.step);
        bar.set_message(format!("loss {:.4}  {:.3} step/s", s.loss, s.steps_per_sec));
    })?;
    bar.finish();
    eprintln!(
        "{} steps in {:.1} s ({:.3} s/step, {:.0} CPU-s); peak memory {}; the run so far: {:.2} CPU-hours",
        summary.steps_run,
        summary.seconds,
        summary.seconds / summary.steps_run.max(1) as f64,
        summary.cpu_seconds,
        peak_memory(),
        summary.total_cpu_seconds / 3600.0
    );
    if summary.interrupted {
        eprintln!(
            "interrupted at step {} of {}: checkpoint written to {}; continue with the same command and --resume",
            summary.state.step,
            args.steps,
            args.out.join("checkpoint.bin").display()
        );
        std::process::exit(INTERRUPTED_EXIT_CODE);
    }
    Ok(())
}

/// Exit status of a run stopped by SIGINT/SIGTERM after writing its checkpoint (128 + SIGINT,
/// as shells report Ctrl-C).
pub const INTERRUPTED_EXIT_CODE: i32 = 130;

/// A flag that the first SIGINT or SIGTERM (Ctrl-C, `kill`, Slurm's pre-emption signal)
/// sets, so the trainer stops after the current step and writes its checkpoint; a second
/// signal exits at once (the previous checkpoint stays valid: checkpoints are written
/// atomically).
fn stop_on_signal() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let seen = flag.clone();
    ctrlc::set_handler(move || {
        if seen.swap(true, Ordering::SeqCst) {
            eprintln!("second signal: exiting without a new checkpoint");
            std::process::exit(INTERRUPTED_EXIT_CODE);
        }
        eprintln!("signal received: stopping after this step and writing the checkpoint (signal again to exit at once)");
    })
    .context("cannot install the SIGINT/SIGTERM handler")?;
    Ok(flag)
}

/// A progress bar over training steps showing the loss and steps/s.
fn step_bar(steps: u64, quiet: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let target = if !quiet && std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let bar = indicatif::ProgressBar::with_draw_target(Some(steps), target);
    let style = indicatif::ProgressStyle::with_template(
        "train [{bar:32.cyan/blue}] {pos}/{len} {msg} ETA {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar
}

/// Peak resident memory from /proc/self/status (VmHWM).
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
