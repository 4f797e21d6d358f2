//! The subcommands, one module each, and the options they share.

pub mod bench;
pub mod evaluate;
pub mod geology;
pub mod info;
pub mod metrics;
pub mod plot;
pub mod posterior_io;
pub mod sample;
pub mod sweep;
pub mod train;
pub mod wave;

use clap::Args;

/// Options every long-running command takes.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Worker threads (default: every core). Results are the same bits for any count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The most panels a gallery PNG shows.
pub const MAX_GALLERY_PANELS: usize = 64;
