//! The score network in candle (CPU, f32), from `weights.safetensors` alone.
//!
//! Written from the contract in `core/src/unet/mod.rs` and `plan.rs` with stock candle
//! ops: `conv2d`, group norm from tensor ops (reshape to `[B, G, C/G·H·W]`, mean,
//! centred mean square, `/ sqrt(var + eps)`, per-channel affine), `silu`, `avg_pool2d`,
//! `upsample_nearest2d`, `cat`, `matmul`, `cos`/`sin`. Batch of 2: item 0 is the
//! conditional branch (condition `y`), item 1 the unconditional one (zero condition and
//! the learned null embedding). The block order comes from
//! `powerpost_core::unet::plan::Plan` (the layout contract); tensors are looked up by
//! name in the file, and the file's architecture metadata must equal the DEFAULT's.
//!
//! Threads: `RAYON_NUM_THREADS` and `CANDLE_NUM_THREADS` are set to N before any candle
//! call, and `utils::get_num_threads()` is checked to be N. In candle 0.11,
//! `RAYON_NUM_THREADS` sizes the global rayon pool (`utils::init_global_threadpool`,
//! called here), candle's private rayon pool (`Device::with_context`, around every forward
//! pass here; conv2d runs its im2col tiles in parallel on it) and gemm's
//! `Parallelism::Rayon(N)` (`Parallelism::None` for N = 1); `CANDLE_NUM_THREADS` sizes the
//! spin-barrier pool (N − 1 workers + the caller) that runs large element-wise maps.
//!
//! Where candle spends its time (perf, 1 thread): ≈ 58 % in conv2d's tiled im2col gather
//! (scalar, strided writes into 512-pixel column tiles), ≈ 19 % in gemm's FMA
//! micro-kernels; candle 0.11 picks that conv algorithm by a constant, so it is not tunable.
use crate::candle_layers::Layers;
use crate::files::{json, median, read_npy, read_sigma, rel_l2};
use anyhow::{bail, ensure, Context, Result};
use candle_core::{DType, Device, Tensor};
use powerpost_core::nn::linear::FREQUENCIES;
use powerpost_core::unet::plan::{Block, Plan, Stage};
use powerpost_core::unet::{UNetConfig, ARCHITECTURE_KEY};
use std::collections::HashMap;
use std::path::Path;

/// The network's weights as f32 candle tensors, by name.
struct Net {
    config: UNetConfig,
    w: HashMap<String, Tensor>,
    frequencies: Tensor,
}

impl Layers for Net {
    fn config(&self) -> &UNetConfig {
        &self.config
    }

    fn tensor(&self, name: &str) -> Result<&Tensor> {
        self.get(name)
    }
}

impl Net {
    /// Loads and checks `weights.safetensors`.
    fn load(path: &Path, device: &Device) -> Result<Self> {
        let config = UNetConfig::DEFAULT;
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).with_context(|| format!("{}: bad safetensors header", path.display()))?;
        let arch = meta.metadata().as_ref().and_then(|m| m.get(ARCHITECTURE_KEY)).cloned().unwrap_or_default();
        ensure!(arch == config.describe().as_str(), "{}: architecture {arch:?}, expected {:?}", path.display(), config.describe().as_str());
        let raw = candle_core::safetensors::load_buffer(&bytes, device)?;
        let mut w = HashMap::new();
        for (name, t) in raw {
            ensure!(t.dtype() == DType::F16, "{name}: expected f16, found {:?}", t.dtype());
            w.insert(name, t.to_dtype(DType::F32)?.contiguous()?);
        }
        // Fourier frequencies 2^(i/4), computed independently and checked against the core's table.
        let freqs: Vec<f32> = (0..FREQUENCIES.len()).map(|i| 2f64.powf(i as f64 / 4.0) as f32).collect();
        ensure!(freqs[..] == FREQUENCIES[..], "Fourier frequencies differ from 2^(i/4) rounded to f32");
        let frequencies = Tensor::from_vec(freqs, (1, FREQUENCIES.len()), device)?;
        Ok(Self { config, w, frequencies })
    }

    fn get(&self, name: &str) -> Result<&Tensor> {
        self.w.get(name).with_context(|| format!("weights: missing tensor {name}"))
    }

    /// D(x; σ, y) and D(x; σ, ∅) as a `[2, 1, H, W]` tensor.
    fn denoise(&self, x: &Tensor, y: &Tensor, sigma: f32) -> Result<Tensor> {
        let c = &self.config;
        let (_, _, h, w) = x.dims4()?;
        // EDM preconditioning (f64, rounded once).
        let (s, sd) = (sigma as f64, c.sigma_data as f64);
        let total = s * s + sd * sd;
        let c_skip = sd * sd / total;
        let c_out = s * sd / total.sqrt();
        let c_in = 1.0 / total.sqrt();
        let c_noise = (s.ln() * 0.25) as f32 as f64;
        // Noise embedding: [cos, sin] of c_noise·freq → fc0 → SiLU → fc1 (+ null) → SiLU.
        let angles = (&self.frequencies * c_noise)?;
        let features = Tensor::cat(&[angles.cos()?, angles.sin()?], 1)?;
        let hidden = self.linear(&features, "emb.fc0.")?.silu()?;
        let e = self.linear(&hidden, "emb.fc1.")?;
        let e_null = e.broadcast_add(&self.get("emb.null")?.unsqueeze(0)?)?;
        let emb = Tensor::cat(&[e, e_null], 0)?.silu()?; // [2, E]
        // Input: channel 0 = c_in·x, channel 1 = y (conditional) or 0.
        let xin = (x * c_in)?;
        let cond = Tensor::cat(&[&xin, y], 1)?;
        let uncond = Tensor::cat(&[&xin, &y.zeros_like()?], 1)?;
        let mut cur = Tensor::cat(&[cond, uncond], 0)?;

        let mut skips: HashMap<usize, Tensor> = HashMap::new();
        let mut blocks = Vec::new();
        Plan::new(c).for_each(|b| blocks.push(b));
        let mut out = None;
        for block in blocks {
            match block {
                Block::ConvIn { .. } => cur = self.conv(&cur, "conv_in.")?,
                Block::Res(r) => {
                    let p = match r.stage {
                        Stage::Encoder => format!("enc.{}.{}.", r.level, r.index),
                        Stage::Middle => format!("mid.{}.", r.index),
                        Stage::Decoder => format!("dec.{}.{}.", r.level, r.index),
                    };
                    let xcat = if r.skip_channels > 0 {
                        let skip = skips.get(&r.level).with_context(|| format!("no skip at level {}", r.level))?;
                        Tensor::cat(&[&cur, skip], 1)?
                    } else {
                        cur.clone()
                    };
                    let t = self.norm_silu(&xcat, &format!("{p}norm0."))?;
                    let proj = self.linear(&emb, &format!("{p}emb."))?; // [2, O]
                    let u = self.conv(&t, &format!("{p}conv0."))?;
                    let u = u.broadcast_add(&proj.reshape((2, r.out_channels, 1, 1))?)?;
                    let t = self.norm_silu(&u, &format!("{p}norm1."))?;
                    let s = if r.has_skip_conv() { self.conv(&xcat, &format!("{p}skip."))? } else { xcat };
                    let o = ((self.conv(&t, &format!("{p}conv1."))? + s)? * (std::f32::consts::FRAC_1_SQRT_2 as f64))?;
                    if r.saves_skip {
                        skips.insert(r.level, o.clone());
                    }
                    cur = o;
                }
                Block::Down { .. } => cur = cur.avg_pool2d(2)?,
                Block::Up { .. } => {
                    let (_, _, hh, ww) = cur.dims4()?;
                    cur = cur.upsample_nearest2d(2 * hh, 2 * ww)?;
                }
                Block::Out { .. } => {
                    let t = self.norm_silu(&cur, "out.norm.")?;
                    out = Some(self.conv(&t, "out.conv.")?);
                }
            }
        }
        let f = out.context("plan without an output block")?;
        ensure!(f.dims4()? == (2, 1, h, w), "output shape {:?}", f.dims());
        Ok(((x * c_skip)?.broadcast_add(&(f * c_out)?))?)
    }
}

/// `peers candle`: loads the exchange folder, times the forward pass, compares with the core.
pub fn run(dir: &Path, threads: usize, repeats: usize) -> Result<()> {
    ensure!(threads >= 1 && repeats >= 1, "--threads and --repeats must be at least 1");
    // Before any candle call: candle reads these (see the module docs).
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
    candle_core::utils::init_global_threadpool();
    if candle_core::utils::get_num_threads() != threads {
        bail!("candle reports {} threads, asked for {threads}", candle_core::utils::get_num_threads());
    }
    let device = Device::Cpu;
    let net = Net::load(&dir.join("weights.safetensors"), &device)?;
    let (h, w, x) = read_npy(&dir.join("x.npy"))?;
    let (hy, wy, y) = read_npy(&dir.join("y.npy"))?;
    ensure!((hy, wy) == (h, w), "y.npy is {hy}×{wy}, x.npy {h}×{w}");
    let sigma = read_sigma(dir)?;
    let (_, _, core_cond) = read_npy(&dir.join("core_cond.npy"))?;
    let (_, _, core_uncond) = read_npy(&dir.join("core_uncond.npy"))?;
    let xt = Tensor::from_vec(x, (1, 1, h, w), &device)?;
    let yt = Tensor::from_vec(y, (1, 1, h, w), &device)?;

    let forward = || device.with_context(|| net.denoise(&xt, &yt, sigma));
    let mut result = forward()?; // warm-up
    let mut runs_ms = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = std::time::Instant::now();
        result = forward()?;
        runs_ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let out: Vec<f32> = result.flatten_all()?.to_vec1()?;
    let n = h * w;
    let line = format!(
        r#"{{"peer":"candle","threads":{threads},"median_ms":{},"runs_ms":{},"rel_l2_cond":{},"rel_l2_uncond":{}}}"#,
        json(median(&runs_ms)),
        serde_json::to_string(&runs_ms)?,
        json(rel_l2(&out[..n], &core_cond)),
        json(rel_l2(&out[n..], &core_uncond)),
    );
    println!("{line}");
    Ok(())
}
