//! `powerpost`: the command-line front end. Thin: files in and out, threads, progress,
//! figures; all numerics live in `powerpost-core`.

use anyhow::Result;
use clap::{Parser, Subcommand};

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
    }
}
