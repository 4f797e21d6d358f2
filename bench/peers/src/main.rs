//! `peers`: peer implementations of powerpost's score network for side-by-side benchmarks.
//!
//! - `peers export`   writes seeded weights, inputs and powerpost-core's outputs;
//! - `peers candle`   runs the same network in candle and compares it with the core;
//! - `peers candle-train` times one training step (forward, loss, backward, AdamW) in candle;
//! - `peers peak`     measures the machine's peak f32 throughput (mul+add and FMA).
//!
//! The ONNX Runtime peer is `bench/onnx_peer.py` (same files, same JSON line).

mod candle_layers;
mod candle_net;
mod candle_train;
mod files;
mod peak;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "peers", about = "Peer implementations of powerpost's score network (benchmarks)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes weights.safetensors, x.npy, y.npy, sigma.txt and the core's outputs
    /// core_cond.npy / core_uncond.npy into OUT.
    Export {
        /// Output folder.
        #[arg(long, default_value = "bench/out")]
        out: PathBuf,
        /// Seed of the weights and the inputs.
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        /// Image rows.
        #[arg(long, default_value_t = 64)]
        height: usize,
        /// Image columns.
        #[arg(long, default_value_t = 128)]
        width: usize,
        /// Noise level σ.
        #[arg(long, default_value_t = 1.5)]
        sigma: f32,
    },
    /// Runs the network in candle (batch of 2) and prints one JSON line.
    Candle {
        /// Folder written by `export`.
        #[arg(long, default_value = "bench/out")]
        dir: PathBuf,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Timed forward passes (after one warm-up).
        #[arg(long, default_value_t = 10)]
        repeats: usize,
    },
    /// Times one training step (batch of `batch` items) in candle; prints one JSON line.
    CandleTrain {
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Timed steps (after one warm-up step).
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Items per step.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// Image rows.
        #[arg(long, default_value_t = 64)]
        height: usize,
        /// Image columns.
        #[arg(long, default_value_t = 128)]
        width: usize,
        /// Seed of the weights (`init_random`) and the batch.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Peak f32 throughput: separate AVX multiply and add, and AVX FMA.
    Peak {
        /// Pinned threads, each running the loop.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Seconds per measurement (approximately).
        #[arg(long, default_value_t = 0.5)]
        seconds: f64,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Export { out, seed, height, width, sigma } => files::export(&out, seed, height, width, sigma).context("export"),
        Command::Candle { dir, threads, repeats } => candle_net::run(&dir, threads, repeats).context("candle peer"),
        Command::CandleTrain { threads, repeats, batch, height, width, seed } => candle_train::run(threads, repeats, batch, height, width, seed).context("candle training peer"),
        Command::Peak { threads, seconds } => peak::run(threads, seconds).context("peak"),
    }
}
