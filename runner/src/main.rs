//! `powerpost`: the command-line front end. Thin: files in and out, threads, progress,
//! figures; all numerics live in `powerpost-core`.

use anyhow::Result;
use clap::{Parser, Subcommand};
use powerpost::cmd;

/// Power-scaled Bayesian velocity-model building with a score-based generative model.
#[derive(Parser, Debug)]
#[command(
    name = "powerpost",
    version,
    about,
    after_help = "Environment: POWERPOST_ISA=avx2 (or sse2, scalar) caps the CPU instruction set \
                  the kernels use; every choice gives the same output bits (`powerpost info` \
                  shows the one in use)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version, the network architecture, the machine's capabilities and what the weights hold.
    Info(cmd::info::InfoArgs),
    /// Time the score network (CFG pair) and a posterior sample on this machine.
    Bench(cmd::bench::BenchArgs),
    /// Generate seeded synthetic North Sea-like velocity models (.npy and/or a PNG gallery).
    Geology(cmd::geology::GeologyArgs),
    /// Draw velocity models or seismic images from a .npy file as a PNG.
    Plot(cmd::plot::PlotArgs),
    /// Forward-model shots for a velocity model (.npy → shots .npy [shots, nt, receivers] or SEG-Y .sgy).
    Simulate(cmd::wave::SimulateArgs),
    /// Reverse-time migrate shots (.npy or SEG-Y) with a smooth background (→ RTM image .npy or .sgy).
    Migrate(cmd::wave::MigrateArgs),
    /// Relative shot-data residual ‖F(model) − d_obs‖ / ‖d_obs‖ (JSON on stdout).
    Residual(cmd::wave::ResidualArgs),
    /// The background model of a velocity model (Gaussian-smoothed): for `migrate
    /// --background` and `sample --background`.
    Smooth(cmd::wave::SmoothArgs),
    /// Draw velocity models from the power-scaled posterior p(y|x)^λ·p(x)^α (or prior).
    Sample(Box<cmd::sample::SampleArgs>),
    /// Sample a λ × α grid (the paper's Fig. 4) with per-cell statistics; sharding, resume.
    Sweep(Box<cmd::sweep::SweepArgs>),
    /// Merge the shard directories of a sweep into one (CSV and figure).
    SweepMerge(cmd::sweep::MergeArgs),
    /// Reproduce the paper's four figures and its residual curve on the shipped example.
    Paper(Box<cmd::paper::PaperArgs>),
    /// Time acoustic forward modelling and one RTM shot (for bench/devito_bench.py).
    BenchWave(cmd::wave::BenchArgs),
    /// Build (velocity, RTM) training pairs as sharded .npy files with a manifest.
    Dataset(cmd::train::DatasetArgs),
    /// Train the score network (checkpoints, exact resume, CSV log, f16 safetensors export).
    Train(cmd::train::TrainArgs),
    /// Held-out quality of trained weights (SSIM/RMSE vs the background), prior samples vs the training set, sampler steps trade-off.
    Evaluate(Box<cmd::evaluate::EvaluateArgs>),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    powerpost::isa::apply_env()?;
    match cli.command {
        Command::Info(args) => cmd::info::run(&args),
        Command::Bench(args) => cmd::bench::run(&args),
        Command::Geology(args) => cmd::geology::run(&args),
        Command::Plot(args) => cmd::plot::run(&args),
        Command::Simulate(a) => cmd::wave::simulate(a),
        Command::Migrate(a) => cmd::wave::migrate(a),
        Command::Residual(a) => cmd::wave::residual(a),
        Command::Smooth(a) => cmd::wave::smooth(a),
        Command::BenchWave(a) => cmd::wave::bench(a),
        Command::Sample(a) => cmd::sample::run(&a),
        Command::Sweep(a) => cmd::sweep::run(&a),
        Command::SweepMerge(a) => cmd::sweep::merge(&a),
        Command::Paper(a) => cmd::paper::run(&a),
        Command::Dataset(a) => cmd::train::dataset(&a),
        Command::Train(a) => cmd::train::run_train(&a),
        Command::Evaluate(a) => cmd::evaluate::run(&a),
    }
}
