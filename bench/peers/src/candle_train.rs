//! `peers candle-train`: one training step of the score network in stock candle (CPU,
//! f32, candle's own autograd), for the side-by-side training benchmark
//! (`bench/train_step.sh`).
//!
//! The step is the one `powerpost train` runs (see `train/src/loss.rs`,
//! `train/src/optim.rs`): `batch` items, each with its own noise level σ (host-drawn,
//! ln σ ~ N(−1.2, 1.2²)), noise image and branch (conditional: condition channel `y`;
//! unconditional, every fifth item: zero condition channel + the learned null embedding);
//! EDM preconditioning per item; loss `mean(λ(σ)·(D − x0)²)`, `λ = (σ² + σd²)/(σ·σd)²`;
//! `loss.backward()`; AdamW (β = 0.9/0.999, ε = 1e-8, weight decay 1e-2, lr 2e-4) written
//! with candle tensor ops (what `candle_nn::AdamW` does) on every parameter `Var`.
//!
//! Architecture: `UNetConfig::DEFAULT` walked through `powerpost_core::unet::plan::Plan`,
//! as the forward peer ([`crate::candle_net`]); the weights are `init_random(seed)` from
//! the core (candle's RNG cannot be seeded), so both sides start from the same numbers.
//! Two candle 0.11 pitfalls are avoided: `upsample_nearest2d`'s backward overwrites
//! instead of accumulating, so nearest upsampling is written as reshape + broadcast +
//! reshape (its backward is a sum); and thread counts are set as in the forward peer
//! (`RAYON_NUM_THREADS`, `CANDLE_NUM_THREADS`), the step running inside
//! `Device::with_context` (candle's pool).
//!
//! Output: one JSON line with the median step time and its forward / backward / update
//! parts, CPU seconds per step (all threads) and the peak resident memory (VmHWM).
use crate::candle_layers::Layers;
use crate::files::{json, median};
use anyhow::{bail, ensure, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use powerpost_core::nn::linear::FREQUENCIES;
use powerpost_core::rng::NoiseStream;
use powerpost_core::unet::params::for_each_tensor;
use powerpost_core::unet::plan::{Block, Plan, Stage};
use powerpost_core::unet::{init_random, params_len, UNetConfig};
use std::collections::HashMap;
use std::time::Instant;

/// Trainable parameters by name.
struct Net {
    config: UNetConfig,
    vars: Vec<(String, Var)>,
    index: HashMap<String, usize>,
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
    /// `init_random(seed)` weights as candle variables.
    fn new(seed: u64, device: &Device) -> Result<Self> {
        let config = UNetConfig::DEFAULT;
        let mut params = vec![0.0f32; params_len(&config)];
        init_random(&config, seed, &mut params).map_err(|e| anyhow::anyhow!("init_random: {e}"))?;
        let mut specs = Vec::new();
        for_each_tensor(&config, |t| specs.push((t.name.to_string(), t.shape().to_vec(), t.offset, t.len)));
        let mut vars = Vec::new();
        let mut index = HashMap::new();
        for (name, shape, offset, len) in specs {
            let t = Tensor::from_vec(params[offset..offset + len].to_vec(), shape, device)?;
            index.insert(name.clone(), vars.len());
            vars.push((name, Var::from_tensor(&t)?));
        }
        let freqs: Vec<f32> = (0..FREQUENCIES.len()).map(|i| 2f64.powf(i as f64 / 4.0) as f32).collect();
        ensure!(freqs[..] == FREQUENCIES[..], "Fourier frequencies differ from 2^(i/4) rounded to f32");
        let frequencies = Tensor::from_vec(freqs, (1, FREQUENCIES.len()), device)?;
        Ok(Self { config, vars, index, frequencies })
    }

    fn get(&self, name: &str) -> Result<&Tensor> {
        let i = self.index.get(name).with_context(|| format!("missing tensor {name}"))?;
        Ok(self.vars[*i].1.as_tensor())
    }

    /// Nearest 2× upsampling as reshape + broadcast (its backward sums correctly).
    fn upsample2(x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        Ok(x.reshape((b, c, h, 1, w, 1))?.broadcast_as((b, c, h, 2, w, 2))?.reshape((b, c, 2 * h, 2 * w))?)
    }

    /// D(x; σ, y) for every item: `noisy`, `cond` `[B, 1, H, W]`; per-item preconditioning
    /// `c_skip`, `c_out`, `c_in` `[B, 1, 1, 1]`, `c_noise` `[B, 1]`; `uncond` `[B, 1]`
    /// (1 for unconditional items).
    #[allow(clippy::too_many_arguments)]
    fn denoise(&self, noisy: &Tensor, cond: &Tensor, c_skip: &Tensor, c_out: &Tensor, c_in: &Tensor, c_noise: &Tensor, uncond: &Tensor) -> Result<Tensor> {
        let c = &self.config;
        let (nb, _, h, w) = noisy.dims4()?;
        let angles = c_noise.broadcast_mul(&self.frequencies)?;
        let features = Tensor::cat(&[angles.cos()?, angles.sin()?], 1)?;
        let hidden = self.linear(&features, "emb.fc0.")?.silu()?;
        let e = self.linear(&hidden, "emb.fc1.")?;
        let e = e.broadcast_add(&uncond.broadcast_mul(&self.get("emb.null")?.unsqueeze(0)?)?)?;
        let emb = e.silu()?;
        let xin = noisy.broadcast_mul(c_in)?;
        let mut cur = Tensor::cat(&[&xin, cond], 1)?;
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
                    let proj = self.linear(&emb, &format!("{p}emb."))?;
                    let u = self.conv(&t, &format!("{p}conv0."))?;
                    let u = u.broadcast_add(&proj.reshape((nb, r.out_channels, 1, 1))?)?;
                    let t = self.norm_silu(&u, &format!("{p}norm1."))?;
                    let s = if r.has_skip_conv() { self.conv(&xcat, &format!("{p}skip."))? } else { xcat };
                    let o = ((self.conv(&t, &format!("{p}conv1."))? + s)? * (std::f32::consts::FRAC_1_SQRT_2 as f64))?;
                    if r.saves_skip {
                        skips.insert(r.level, o.clone());
                    }
                    cur = o;
                }
                Block::Down { .. } => cur = cur.avg_pool2d(2)?,
                Block::Up { .. } => cur = Self::upsample2(&cur)?,
                Block::Out { .. } => {
                    let t = self.norm_silu(&cur, "out.norm.")?;
                    out = Some(self.conv(&t, "out.conv.")?);
                }
            }
        }
        let f = out.context("plan without an output block")?;
        ensure!(f.dims4()? == (nb, 1, h, w), "output shape {:?}", f.dims());
        Ok(noisy.broadcast_mul(c_skip)?.add(&f.broadcast_mul(c_out)?)?)
    }
}

/// AdamW moments of one variable.
struct Moments {
    m: Tensor,
    v: Tensor,
}

/// CPU seconds of the whole process so far (user + system, `/proc/self/stat`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory in MiB (VmHWM).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// `peers candle-train`.
pub fn run(threads: usize, repeats: usize, batch: usize, height: usize, width: usize, seed: u64) -> Result<()> {
    ensure!(threads >= 1 && repeats >= 1 && batch >= 1, "--threads, --repeats and --batch must be at least 1");
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
    candle_core::utils::init_global_threadpool();
    if candle_core::utils::get_num_threads() != threads {
        bail!("candle reports {} threads, asked for {threads}", candle_core::utils::get_num_threads());
    }
    let device = Device::Cpu;
    let net = Net::new(seed, &device)?;
    let sd = net.config.sigma_data as f64;
    let n = height * width;
    // Host-drawn batch (fixed across repeats; the timing does not depend on the values).
    let mut x0 = vec![0.0f32; batch * n];
    let mut y = vec![0.0f32; batch * n];
    let mut noise = vec![0.0f32; batch * n];
    let mut z = vec![0.0f32; batch];
    NoiseStream::new(seed.wrapping_add(1), 0).fill_gaussian(0, &mut x0);
    NoiseStream::new(seed.wrapping_add(1), 1).fill_gaussian(0, &mut y);
    NoiseStream::new(seed.wrapping_add(1), 2).fill_gaussian(0, &mut noise);
    NoiseStream::new(seed.wrapping_add(1), 3).fill_gaussian(0, &mut z);
    x0.iter_mut().for_each(|v| *v *= 0.5);
    let sigma: Vec<f64> = z.iter().map(|&g| (-1.2 + 1.2 * g as f64).exp()).collect();
    let conditional: Vec<bool> = (0..batch).map(|b| b % 5 != 0).collect();
    let noisy: Vec<f32> = (0..batch * n).map(|i| x0[i] + sigma[i / n] as f32 * noise[i]).collect();
    let cond: Vec<f32> = (0..batch * n).map(|i| if conditional[i / n] { y[i] } else { 0.0 }).collect();
    let per_item = |f: &dyn Fn(f64) -> f64| -> Result<Tensor> { Ok(Tensor::from_vec(sigma.iter().map(|&s| f(s) as f32).collect::<Vec<_>>(), (batch, 1, 1, 1), &device)?) };
    let c_skip = per_item(&|s| sd * sd / (s * s + sd * sd))?;
    let c_out = per_item(&|s| s * sd / (s * s + sd * sd).sqrt())?;
    let c_in = per_item(&|s| 1.0 / (s * s + sd * sd).sqrt())?;
    let lambda = per_item(&|s| (s * s + sd * sd) / (s * sd).powi(2))?;
    let c_noise = Tensor::from_vec(sigma.iter().map(|&s| (s.ln() * 0.25) as f32).collect::<Vec<_>>(), (batch, 1), &device)?;
    let uncond = Tensor::from_vec(conditional.iter().map(|&c| if c { 0.0f32 } else { 1.0 }).collect::<Vec<_>>(), (batch, 1), &device)?;
    let x0_t = Tensor::from_vec(x0, (batch, 1, height, width), &device)?;
    let noisy_t = Tensor::from_vec(noisy, (batch, 1, height, width), &device)?;
    let cond_t = Tensor::from_vec(cond, (batch, 1, height, width), &device)?;

    let (lr, beta1, beta2, eps, wd) = (2e-4f64, 0.9f64, 0.999f64, 1e-8f64, 1e-2f64);
    let mut moments: Vec<Moments> = net
        .vars
        .iter()
        .map(|(_, v)| Ok(Moments { m: v.as_tensor().zeros_like()?, v: v.as_tensor().zeros_like()? }))
        .collect::<Result<_>>()?;
    let mut step = 0i32;
    let mut one_step = || -> Result<(f64, f64, f64, f64)> {
        let t0 = Instant::now();
        let d = net.denoise(&noisy_t, &cond_t, &c_skip, &c_out, &c_in, &c_noise, &uncond)?;
        let loss = d.sub(&x0_t)?.sqr()?.broadcast_mul(&lambda)?.mean_all()?;
        let loss_value = loss.to_scalar::<f32>()? as f64;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        step += 1;
        let (bc1, bc2) = (1.0 - beta1.powi(step), 1.0 - beta2.powi(step));
        for ((name, var), mo) in net.vars.iter().zip(moments.iter_mut()) {
            let g = grads.get(var.as_tensor()).with_context(|| format!("no gradient for {name}"))?;
            mo.m = ((&mo.m * beta1)? + (g * (1.0 - beta1))?)?;
            mo.v = ((&mo.v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let m_hat = (&mo.m / bc1)?;
            let v_hat = (&mo.v / bc2)?;
            let decayed = (var.as_tensor() * (1.0 - lr * wd))?;
            let update = (m_hat / (v_hat.sqrt()? + eps)?)?;
            var.set(&(decayed - (update * lr)?)?)?;
        }
        let t3 = Instant::now();
        Ok((loss_value, (t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64(), (t3 - t2).as_secs_f64()))
    };
    let (first_loss, ..) = device.with_context(&mut one_step)?; // warm-up
    let (mut steps, mut fwd, mut bwd, mut upd, mut cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut last_loss = first_loss;
    for _ in 0..repeats {
        let c = cpu_seconds();
        let (l, f, b, u) = device.with_context(&mut one_step)?;
        cpu.push(cpu_seconds() - c);
        steps.push(f + b + u);
        fwd.push(f);
        bwd.push(b);
        upd.push(u);
        last_loss = l;
    }
    ensure!(last_loss.is_finite(), "loss is not finite");
    ensure!(net.vars.iter().all(|(_, v)| v.as_tensor().dtype() == DType::F32), "parameters changed dtype");
    println!(
        r#"{{"peer":"candle","what":"train_step","threads":{threads},"batch":{batch},"height":{height},"width":{width},"median_step_s":{},"median_forward_s":{},"median_backward_s":{},"median_update_s":{},"median_cpu_s":{},"peak_mib":{},"runs_s":{},"loss_first":{},"loss_last":{}}}"#,
        json(median(&steps)),
        json(median(&fwd)),
        json(median(&bwd)),
        json(median(&upd)),
        json(median(&cpu)),
        json(peak_mib()),
        serde_json::to_string(&steps)?,
        json(first_loss),
        json(last_loss),
    );
    Ok(())
}
