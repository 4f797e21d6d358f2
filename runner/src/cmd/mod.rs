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

use anyhow::Result;
use clap::{Args, ValueEnum};
use powerpost_core::sampler::SamplerConfig;

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

/// The sampler and network options of the sampling commands (sample, sweep, paper).
#[derive(Args, Debug, Clone, Default)]
pub struct SamplerArgs {
    /// Sampler noise levels N (default 16 with dpmpp-2m: 16 network evaluations; 18 with
    /// the other samplers, e.g. 35 evaluations with heun).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Sampler: dpmpp-2m (default where every α is 1), heun, euler, edm-stochastic,
    /// euler-maruyama, pc, exact-power (default where some α ≠ 1, with 4 corrector steps).
    #[arg(long)]
    pub sampler: Option<String>,
    /// Exact power-scaled posterior: the exact-power sampler with N Langevin corrector
    /// steps per noise level (default 4 when α ≠ 1; see docs/sampling.md).
    #[arg(long, value_name = "N")]
    pub exact_power: Option<usize>,
    /// Weights: a .safetensors file, or random:SEED for seeded random weights (testing).
    /// Default: weights/powerpost-edge.safetensors of the installation.
    #[arg(long)]
    pub weights: Option<String>,
}

impl SamplerArgs {
    /// The sampler for a run over the prior powers `alphas`
    /// ([`posterior_io::sampler_from_options`]).
    ///
    /// # Errors
    /// See [`posterior_io::sampler_from_options`].
    pub fn config(&self, alphas: &[f32]) -> Result<SamplerConfig> {
        posterior_io::sampler_from_options(
            self.sampler.as_deref(),
            self.steps,
            self.exact_power,
            alphas,
        )
    }

    /// Prints what [`posterior_io::announce_sampler`] says about `sampler` for `alphas`.
    pub fn announce(&self, alphas: &[f32], sampler: &SamplerConfig, quiet: bool) {
        posterior_io::announce_sampler(
            alphas,
            self.sampler.as_deref(),
            self.exact_power,
            sampler,
            quiet,
        );
    }
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
