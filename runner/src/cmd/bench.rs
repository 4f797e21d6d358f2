//! `powerpost bench`: speed of the score network (one CFG pair = batch of 2) and of one
//! posterior sample, on this machine, with seeded random weights or a weights file.

use super::posterior_io::load_weights;
use crate::exec::PoolExecutor;
use anyhow::{bail, Context, Result};
use clap::Args;
use powerpost_core::exec::Executor;
use powerpost_core::posterior::{draw_sample, posterior_scratch_len, PosteriorRequest};
use powerpost_core::sampler::network_evaluations;
use powerpost_core::unet::plan::conv_flops;
use powerpost_core::unet::{
    prepare_transformed, transformed_len, workspace_len, DenoiseInput, DenoiseOutput, UNet,
};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `powerpost bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Image rows.
    #[arg(long, default_value_t = 64)]
    pub height: usize,
    /// Image columns.
    #[arg(long, default_value_t = 128)]
    pub width: usize,
    /// Thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// Timed network evaluations per thread count (the median is reported).
    #[arg(long, default_value_t = 10)]
    pub repeats: usize,
    /// Also time one full posterior sample (default sampler) at the largest thread count.
    #[arg(long)]
    pub sample: bool,
    /// Weights: a safetensors file, or `random:SEED` for seeded random weights.
    #[arg(long, default_value = "random:2024")]
    pub weights: String,
    /// Also time the network on a Vulkan device (the best one, or the one whose name
    /// contains NAME), side by side with the CPU rows, and check it returns the CPU's bits.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub vulkan: Option<String>,
    /// Append one JSON line per measurement to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Median of a list of durations in milliseconds.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Runs `powerpost bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let weights = load_weights(Some(&args.weights))?;
    let (config, params) = (weights.config, weights.params);
    let (h, w) = (args.height, args.width);
    let m = config.size_multiple();
    if h == 0 || w == 0 || h % m != 0 || w % m != 0 {
        bail!("--height/--width: expected positive multiples of {m}, got {h}×{w}");
    }
    if args.repeats == 0 || args.threads.is_empty() || args.threads.contains(&0) {
        bail!("--repeats and every --threads value must be at least 1");
    }
    let mut transformed = vec![0.0f32; transformed_len(&config)];
    prepare_transformed(&config, &params, &mut transformed)?;
    let net = UNet::new(config, &params)?.with_transformed(&transformed)?;
    let flops = 2.0 * conv_flops(&config, h, w) as f64;
    let build = if cfg!(target_feature = "avx2") {
        "built for the native CPU (AVX2 in the baseline)"
    } else {
        "portable x86-64 build, runtime ISA dispatch"
    };
    println!(
        "powerpost {}: score network {:.2} M parameters, {:.2} GFLOP per image, CFG pair (batch 2) at {h}×{w}; ISA {}; {build}; weights {}",
        env!("CARGO_PKG_VERSION"),
        params.len() as f64 / 1e6,
        flops / 2e9,
        net.isa().name(),
        args.weights
    );
    let x: Vec<f32> = (0..h * w)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    // The condition planes (RTM image, and background for weights that take one).
    let y: Vec<f32> = (0..config.condition_len(h, w))
        .map(|i| ((i * 104_729) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let mut workspace = vec![0.0; workspace_len(&config, h, w, 2)];
    println!(
        "workspace {:.1} MiB ({} f32)",
        workspace.len() as f64 * 4.0 / (1 << 20) as f64,
        workspace.len()
    );
    let (mut cond, mut uncond) = (vec![0.0; h * w], vec![0.0; h * w]);
    println!(
        "(GFLOP/s: the direct convolutions' work per second; the 3×3 layers run Winograd's \
         F(2×2, 3×3) with 16/36 of its multiplications, so it can exceed the machine's peak)"
    );
    println!(
        "{:>8} {:>14} {:>10} {:>10} {:>10}",
        "threads", "median ms", "GFLOP/s", "min ms", "max ms"
    );
    let mut json_lines = Vec::new();
    for &threads in &args.threads {
        let exec = PoolExecutor::new(threads)?;
        let mut times = Vec::with_capacity(args.repeats);
        for i in 0..args.repeats + 2 {
            let start = Instant::now();
            net.denoise(
                &exec,
                DenoiseInput {
                    height: h,
                    width: w,
                    x: &x,
                    sigma: 1.3,
                    condition: &y,
                },
                DenoiseOutput {
                    conditional: Some(&mut cond),
                    unconditional: Some(&mut uncond),
                },
                &mut workspace,
            )?;
            if i >= 2 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        let (min, max) = (
            times.iter().cloned().fold(f64::INFINITY, f64::min),
            times.iter().cloned().fold(0.0, f64::max),
        );
        let runs = times.clone();
        let med = median(&mut times);
        println!(
            "{threads:>8} {med:>14.2} {:>10.1} {min:>10.2} {max:>10.2}",
            flops / (med * 1e-3) / 1e9
        );
        json_lines.push(serde_json::json!({
            "peer": "powerpost", "threads": threads, "median_ms": med, "runs_ms": runs,
            "gflops": flops / (med * 1e-3) / 1e9, "isa": net.isa().name(), "height": h, "width": w,
        }));
    }
    if let Some(name) = &args.vulkan {
        #[cfg(feature = "vulkan")]
        {
            let row = vulkan_row(name, &config, &params, h, w, &x, &y, args.repeats, flops)?;
            let best_cpu = json_lines
                .iter()
                .filter_map(|l| l["median_ms"].as_f64())
                .fold(f64::INFINITY, f64::min);
            let (device, med, min, max, same) = row;
            println!(
                "{:>8} {med:>14.2} {:>10.1} {min:>10.2} {max:>10.2}   Vulkan: {device}; {:.2}× the fastest CPU row; output bits {}",
                "vulkan",
                flops / (med * 1e-3) / 1e9,
                best_cpu / med,
                if same { "identical to the CPU's" } else { "DIFFER from the CPU's" }
            );
            json_lines.push(serde_json::json!({
                "peer": "powerpost-vulkan", "device": device, "median_ms": med,
                "gflops": flops / (med * 1e-3) / 1e9, "height": h, "width": w,
                "bits_equal_cpu": same,
            }));
            if !same {
                bail!("the Vulkan device returned other bits than the CPU");
            }
        }
        #[cfg(not(feature = "vulkan"))]
        {
            let _ = name;
            bail!("--vulkan: this powerpost was built without the `vulkan` feature");
        }
    }
    if args.sample {
        let threads = *args.threads.iter().max().unwrap_or(&1);
        let exec = PoolExecutor::new(threads)?;
        let sampler = super::posterior_io::default_sampler();
        let mut out = vec![0.0; h * w];
        let mut scratch = vec![0.0; posterior_scratch_len(&net, h, w, &sampler)];
        // λ = α = 1 needs only the conditional branch; any other λ ≠ α needs the CFG pair.
        for (lambda, alpha) in [(1.0f32, 1.0f32), (2.0, 1.0)] {
            let request = PosteriorRequest {
                height: h,
                width: w,
                condition: Some(&y),
                lambda,
                alpha,
                sampler,
                seed: 0,
                sample_index: 0,
            };
            let start = Instant::now();
            draw_sample(
                &net,
                &exec as &dyn Executor,
                &request,
                &mut out,
                &mut scratch,
                &mut |_, _| {},
            )?;
            let secs = start.elapsed().as_secs_f64();
            println!(
                "posterior sample λ = {lambda}, α = {alpha}: {} sampler, {} steps, {} network evaluations ({}), {threads} threads: {secs:.3} s",
                sampler.kind.name(),
                sampler.steps,
                network_evaluations(&sampler),
                if lambda == alpha { "conditional branch only" } else { "CFG pairs" }
            );
            json_lines.push(serde_json::json!({"peer": "powerpost-sample", "threads": threads, "lambda": lambda, "alpha": alpha, "seconds": secs, "evaluations": network_evaluations(&sampler)}));
        }
    }
    if let Some(path) = &args.json {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        for line in json_lines {
            writeln!(file, "{line}").with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

/// Times the CFG pair on a Vulkan device: (device, median, min, max ms, whether its
/// output bits equal the CPU's).
#[cfg(feature = "vulkan")]
#[allow(clippy::too_many_arguments)]
fn vulkan_row(
    name: &str,
    config: &powerpost_core::unet::UNetConfig,
    params: &[f32],
    h: usize,
    w: usize,
    x: &[f32],
    y: &[f32],
    repeats: usize,
    flops: f64,
) -> Result<(String, f64, f64, f64, bool)> {
    let _ = flops;
    let gpu = if name.is_empty() {
        powerpost_gpu::Gpu::new()
    } else {
        powerpost_gpu::Gpu::with_device(name)
    }
    .context("--vulkan")?;
    let device = format!("{} ({})", gpu.device_name(), gpu.driver_info().trim());
    let mut gpu_net = powerpost_gpu::GpuUNet::new(&gpu, *config, params).context("--vulkan")?;
    let input = DenoiseInput {
        height: h,
        width: w,
        x,
        sigma: 1.3,
        condition: y,
    };
    let (mut cond, mut uncond) = (vec![0.0; h * w], vec![0.0; h * w]);
    let mut times = Vec::with_capacity(repeats);
    for i in 0..repeats + 2 {
        let start = Instant::now();
        gpu_net
            .denoise(
                input,
                DenoiseOutput {
                    conditional: Some(&mut cond),
                    unconditional: Some(&mut uncond),
                },
            )
            .context("--vulkan")?;
        if i >= 2 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let net = UNet::new(*config, params)?;
    let mut workspace = vec![0.0; workspace_len(config, h, w, 2)];
    let (mut cpu_cond, mut cpu_uncond) = (vec![0.0; h * w], vec![0.0; h * w]);
    net.denoise(
        &powerpost_core::exec::Serial,
        input,
        DenoiseOutput {
            conditional: Some(&mut cpu_cond),
            unconditional: Some(&mut cpu_uncond),
        },
        &mut workspace,
    )?;
    let same = cond
        .iter()
        .chain(&uncond)
        .map(|v| v.to_bits())
        .eq(cpu_cond.iter().chain(&cpu_uncond).map(|v| v.to_bits()));
    let (min, max) = (
        times.iter().cloned().fold(f64::INFINITY, f64::min),
        times.iter().cloned().fold(0.0, f64::max),
    );
    Ok((device, median(&mut times), min, max, same))
}
