//! `powerpost`: the command-line front end. Thin: files in and out, threads, progress,
//! figures; all numerics live in `powerpost-core`.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod cmd;

/// Power-scaled Bayesian velocity-model building with a score-based generative model.
#[derive(Parser, Debug)]
#[command(name = "powerpost", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version, the network architecture and the machine's capabilities.
    Info,
    /// Forward-model shots for a velocity model (.npy → shots .npy [shots, nt, receivers]).
    Simulate(cmd::wave::SimulateArgs),
    /// Reverse-time migrate shots with a smooth background (→ RTM image .npy).
    Migrate(cmd::wave::MigrateArgs),
    /// Relative shot-data residual ‖F(model) − d_obs‖ / ‖d_obs‖ (JSON on stdout).
    Residual(cmd::wave::ResidualArgs),
    /// Time acoustic forward modelling and one RTM shot (for bench/devito_bench.py).
    BenchWave(cmd::wave::BenchArgs),
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
    match cli.command {
        Command::Info => {
            println!("powerpost {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Simulate(a) => cmd::wave::simulate(a),
        Command::Migrate(a) => cmd::wave::migrate(a),
        Command::Residual(a) => cmd::wave::residual(a),
        Command::BenchWave(a) => cmd::wave::bench(a),
    }
}
