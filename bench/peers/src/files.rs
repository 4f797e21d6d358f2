//! The exchange files shared by all peers, and `peers export`.
//!
//! Folder layout (all written atomically: temp file + rename):
//! - `weights.safetensors`: DEFAULT-architecture weights, f16, with the
//!   `powerpost.architecture` metadata (seeded by `init_random(seed)`);
//! - `x.npy`, `y.npy`: f32 `[H, W]` noisy velocity and condition. `x` is stream 0 and `y`
//!   stream 1 of seed `seed + 1` (the weights use streams `0..tensors` of `seed`);
//!   `x` is scaled by √(σ² + σ_data²), the standard deviation of a noisy sample;
//! - `sigma.txt`: σ in decimal;
//! - `core_cond.npy`, `core_uncond.npy`: D(x; σ, y) and D(x; σ, ∅) from
//!   `powerpost_core::unet::UNet::denoise` (batch of 2, serial executor).

use anyhow::{bail, ensure, Context, Result};
use powerpost_core::exec::Serial;
use powerpost_core::rng::NoiseStream;
use powerpost_core::unet::params::for_each_tensor;
use powerpost_core::unet::{init_random, params_len, workspace_len, DenoiseInput, DenoiseOutput, UNet, UNetConfig, ARCHITECTURE_KEY};
use npyz::WriterBuilder;
use safetensors::tensor::{serialize, Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Writes an f32 `[height, width]` array as `.npy`.
pub fn write_npy(path: &Path, height: usize, width: usize, data: &[f32]) -> Result<()> {
    ensure!(data.len() == height * width, "{}: {} values for a {height}×{width} array", path.display(), data.len());
    let mut bytes = Vec::new();
    {
        let mut w = npyz::WriteOptions::new().default_dtype().shape(&[height as u64, width as u64]).writer(&mut bytes).begin_nd()?;
        w.extend(data.iter().copied())?;
        w.finish()?;
    }
    write_atomic(path, &bytes)
}

/// Reads an f32 2-D `.npy` array: (height, width, values).
pub fn read_npy(path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..]).with_context(|| format!("{}: not an .npy file", path.display()))?;
    let shape = npy.shape().to_vec();
    if shape.len() != 2 {
        bail!("{}: expected a 2-D array, found shape {shape:?}", path.display());
    }
    let data: Vec<f32> = npy.into_vec().with_context(|| format!("{}: expected f32 values", path.display()))?;
    Ok((shape[0] as usize, shape[1] as usize, data))
}

/// Reads σ from `sigma.txt`.
pub fn read_sigma(dir: &Path) -> Result<f32> {
    let path = dir.join("sigma.txt");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.trim().parse().with_context(|| format!("{}: expected a number", path.display()))
}

/// ‖a − b‖₂ / ‖b‖₂ accumulated in f64.
pub fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        num += (x as f64 - y as f64).powi(2);
        den += (y as f64).powi(2);
    }
    (num / den).sqrt()
}

/// A number as JSON (`null` if not finite); the JSON lines are formatted by hand to keep
/// their keys in the documented order.
pub fn json(value: f64) -> String {
    serde_json::to_string(&value).unwrap_or_else(|_| "null".into())
}

/// Median of a non-empty list.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// `peers export`.
pub fn export(out: &Path, seed: u64, height: usize, width: usize, sigma: f32) -> Result<()> {
    let config = UNetConfig::DEFAULT;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut params = vec![0.0f32; params_len(&config)];
    init_random(&config, seed, &mut params).map_err(|e| anyhow::anyhow!("init_random: {e}"))?;

    // Weights, f16, in table order, with the architecture metadata.
    let mut blobs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for_each_tensor(&config, |t| {
        let bytes = params[t.offset..t.offset + t.len].iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect();
        blobs.push((t.name.to_string(), t.shape().to_vec(), bytes));
    });
    let views = blobs
        .iter()
        .map(|(n, s, b)| Ok((n.clone(), TensorView::new(Dtype::F16, s.clone(), b)?)))
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([(ARCHITECTURE_KEY.to_string(), config.describe().to_string())]);
    write_atomic(&out.join("weights.safetensors"), &serialize(views, Some(metadata))?)?;

    // Inputs.
    let n = height * width;
    let mut x = vec![0.0f32; n];
    let mut y = vec![0.0f32; n];
    NoiseStream::new(seed.wrapping_add(1), 0).fill_gaussian(0, &mut x);
    NoiseStream::new(seed.wrapping_add(1), 1).fill_gaussian(0, &mut y);
    let x_scale = ((sigma as f64).powi(2) + (config.sigma_data as f64).powi(2)).sqrt() as f32;
    x.iter_mut().for_each(|v| *v *= x_scale);
    write_npy(&out.join("x.npy"), height, width, &x)?;
    write_npy(&out.join("y.npy"), height, width, &y)?;
    write_atomic(&out.join("sigma.txt"), format!("{sigma}\n").as_bytes())?;

    // The core's outputs (batch of 2).
    let net = UNet::new(config, &params).map_err(|e| anyhow::anyhow!("UNet::new: {e}"))?;
    let mut workspace = vec![0.0f32; workspace_len(&config, height, width, 2)];
    let mut cond = vec![0.0f32; n];
    let mut uncond = vec![0.0f32; n];
    let start = std::time::Instant::now();
    net.denoise(
        &Serial,
        DenoiseInput { height, width, x: &x, sigma, condition: &y },
        DenoiseOutput { conditional: Some(&mut cond), unconditional: Some(&mut uncond) },
        &mut workspace,
    )
    .map_err(|e| anyhow::anyhow!("denoise: {e}"))?;
    let elapsed = start.elapsed().as_secs_f64() * 1e3;
    write_npy(&out.join("core_cond.npy"), height, width, &cond)?;
    write_npy(&out.join("core_uncond.npy"), height, width, &uncond)?;
    eprintln!(
        "export: {} ({} tensors, {} params), {height}×{width}, σ = {sigma}, core denoise (serial, isa {}) {elapsed:.1} ms",
        out.display(),
        blobs.len(),
        params.len(),
        net.isa().name()
    );
    Ok(())
}
