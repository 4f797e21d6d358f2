//! The subcommands, one module each, and the options they share.

pub mod bench;
pub mod evaluate;
pub mod geology;
pub mod info;
pub mod metrics;
pub mod paper;
pub mod plot;
pub mod posterior_io;
pub mod sample;
pub mod sweep;
pub mod train;
pub mod wave;

use clap::{Args, ValueEnum};

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

/// Where the score network runs.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The core's kernels on this machine's CPU cores (`--threads`).
    #[default]
    Cpu,
    /// The `gpu/` backend on a Vulkan device: the same bits as the CPU.
    Vulkan,
}

/// Options of the commands that evaluate the network (sample, sweep, evaluate).
#[derive(Args, Debug, Clone, Default)]
pub struct DeviceArgs {
    /// Where the network runs: `cpu`, or `vulkan` (any Vulkan 1.1 device: discrete GPUs
    /// first, then integrated, then CPU drivers such as lavapipe; the same output bits as
    /// the CPU, samples drawn one after another).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// With `--backend vulkan`: use the device whose name contains this text (`powerpost
    /// info` lists them).
    #[arg(long, value_name = "NAME")]
    pub vulkan_device: Option<String>,
}

/// The most panels a gallery PNG shows.
pub const MAX_GALLERY_PANELS: usize = 64;
