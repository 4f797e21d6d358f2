//! `powerpost info`: version, network architecture and this machine's capabilities, and
//! what a weights file holds (the shipped one by default, or `--weights`): digest,
//! architecture, normalisation, the raw RTM amplitude it expects, training metadata.

use super::posterior_io::{default_weights_candidates, load_weights, Weights};
use anyhow::Result;
use clap::Args;
use powerpost_core::nn::simd::Isa;
use powerpost_core::unet::plan::{conv_flops, Block, Plan};
use powerpost_core::unet::{params_len, workspace_len, UNetConfig};

/// Options of `powerpost info`.
#[derive(Args, Debug, Clone, Default)]
pub struct InfoArgs {
    /// Describe these weights (a .safetensors file or random:SEED) instead of the shipped
    /// default.
    #[arg(long)]
    pub weights: Option<String>,
}

/// Runs `powerpost info`.
///
/// # Errors
/// A `--weights` file that cannot be read or is not valid weights (the shipped default
/// missing is reported, not an error).
pub fn run(args: &InfoArgs) -> Result<()> {
    // Weights first, so that a bad --weights fails before anything is printed.
    let weights = match &args.weights {
        Some(spec) => Some(load_weights(Some(spec))?),
        None if default_weights_candidates().iter().any(|p| p.is_file()) => {
            Some(load_weights(None)?)
        }
        None => None,
    };
    // The network of the weights described (the default architecture without any).
    let c = weights.as_ref().map_or(UNetConfig::DEFAULT, |w| w.config);
    println!("powerpost {}", env!("CARGO_PKG_VERSION"));
    println!("architecture: {}", c.describe());
    println!(
        "parameters: {} ({} tensors)",
        params_len(&c),
        powerpost_core::unet::params::tensor_count(&c)
    );
    let mut blocks = 0;
    Plan::new(&c).for_each(|b| blocks += usize::from(matches!(b, Block::Res(_))));
    println!("residual blocks: {blocks}");
    println!(
        "convolution GFLOP per 64×128 image: {:.3}",
        conv_flops(&c, 64, 128) as f64 / 1e9
    );
    println!(
        "workspace for 64×128, CFG pair: {} f32 ({:.1} MiB)",
        workspace_len(&c, 64, 128, 2),
        workspace_len(&c, 64, 128, 2) as f64 * 4.0 / (1 << 20) as f64
    );
    let isas: Vec<&str> = Isa::all_supported().map(Isa::name).collect();
    println!(
        "instruction sets: {} (using {})",
        isas.join(", "),
        Isa::detect().name()
    );
    println!(
        "threads available: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("vulkan devices (--backend vulkan): {}", vulkan_devices());
    match &weights {
        Some(w) => describe_weights(w),
        None => println!("weights: none shipped next to this binary (give --weights FILE)"),
    }
    Ok(())
}

/// Prints what `w` holds (from what [`load_weights`] read: the file is not read again).
fn describe_weights(w: &Weights) {
    let n = &w.normalization;
    println!("weights: {}", w.record.path);
    println!("  sha256: {}", w.record.sha256);
    println!("  architecture: {}", w.record.architecture);
    println!(
        "  parameters: {} ({} tensors)",
        w.params.len(),
        powerpost_core::unet::params::tensor_count(&w.config)
    );
    println!(
        "  conditioned on: {}",
        if w.config.takes_background() {
            "the RTM image and the background model (sample/sweep --background MODEL.npy)"
        } else {
            "the RTM image"
        }
    );
    println!(
        "  velocity normalisation: (v − {} km/s) / {} km/s",
        n.velocity_center_km_s, n.velocity_half_range_km_s
    );
    if w.is_random() {
        println!("  RTM scale: {:e}", n.rtm_scale);
        println!("  seeded random weights: for testing only, the samples are noise");
        return;
    }
    println!(
        "  RTM scale: {:e} (RTM images with a standard deviation near {:.3e} in their own units match the training images; otherwise sample --rtm-normalize)",
        n.rtm_scale,
        1.0 / f64::from(n.rtm_scale).abs()
    );
    for (label, value) in &w.training {
        println!("  {label}: {value}");
    }
}

/// The usable Vulkan devices, best first, or why there are none.
#[cfg(feature = "vulkan")]
fn vulkan_devices() -> String {
    match powerpost_gpu::Gpu::device_names() {
        Ok(names) if names.is_empty() => "none found".to_string(),
        Ok(names) => names.join(", "),
        Err(e) => format!("none ({e})"),
    }
}

/// The usable Vulkan devices: none in a build without the `vulkan` feature.
#[cfg(not(feature = "vulkan"))]
fn vulkan_devices() -> String {
    "none (built without the `vulkan` feature)".to_string()
}
