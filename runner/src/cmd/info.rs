//! `powerpost info`: version, network architecture and this machine's capabilities.

use anyhow::Result;
use powerpost_core::nn::simd::Isa;
use powerpost_core::unet::plan::{conv_flops, Block, Plan};
use powerpost_core::unet::{params_len, workspace_len, UNetConfig};

/// Runs `powerpost info`.
pub fn run() -> Result<()> {
    let c = UNetConfig::DEFAULT;
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
    Ok(())
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
