//! Shared helpers for the workspace-level integration and snapshot tests in `tests/tests/`.
//!
//! [`reference_denoise`] is an independent, plain implementation of the score network's
//! forward pass: unpadded `Vec` tensors, the plain layers of
//! `powerpost_core::nn::reference`, parameters looked up by name, one batch item at a time
//! (3×3 convolutions by the reference loops of the Winograd contract, 1×1 ones by the
//! direct reference). The core's fast forward pass must match it bit for bit.

use powerpost_core::detmath;
use powerpost_core::nn::linear::{fourier_features, linear};
use powerpost_core::nn::reference;
use powerpost_core::nn::winograd::{transform_weights, transformed_weights_len};
use powerpost_core::unet::params::for_each_tensor;
use powerpost_core::unet::plan::{Block, Plan, Stage};
use powerpost_core::unet::{Preconditioning, UNetConfig};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Parameters by tensor name.
pub fn params_by_name<'p>(config: &UNetConfig, params: &'p [f32]) -> HashMap<String, &'p [f32]> {
    let mut map = HashMap::new();
    for_each_tensor(config, |t| {
        map.insert(t.name.to_string(), &params[t.offset..t.offset + t.len]);
    });
    map
}

/// Hex SHA-256 of the little-endian bytes of `values`.
pub fn digest(values: &[f32]) -> String {
    let mut hasher = Sha256::new();
    for v in values {
        hasher.update(v.to_le_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seeded test image: `n` values from stream `stream` of seed `seed`, scaled.
pub fn seeded_image(seed: u64, stream: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut v = vec![0.0; n];
    powerpost_core::rng::NoiseStream::new(seed, stream).fill_gaussian(0, &mut v);
    v.iter_mut().for_each(|x| *x *= scale);
    v
}

/// The plain reference forward pass: D(x; σ, y) if `conditional`, else D(x; σ, ∅); `y`
/// holds `config.condition_channels()` planes.
#[allow(clippy::too_many_arguments)]
pub fn reference_denoise(
    config: &UNetConfig,
    params: &[f32],
    h: usize,
    w: usize,
    x: &[f32],
    sigma: f32,
    y: &[f32],
    conditional: bool,
) -> Vec<f32> {
    let p = params_by_name(config, params);
    let get = |name: &str| -> &[f32] { p.get(name).unwrap_or_else(|| panic!("missing {name}")) };
    let pre = Preconditioning::new(sigma, config.sigma_data);
    // Embedding.
    let e = config.embedding_channels;
    let mut features = vec![0.0; powerpost_core::unet::config::FOURIER_FEATURES];
    fourier_features(pre.c_noise, &mut features).unwrap();
    let mut hidden = vec![0.0; e];
    linear(
        get("emb.fc0.weight"),
        get("emb.fc0.bias"),
        &features,
        &mut hidden,
    )
    .unwrap();
    hidden.iter_mut().for_each(|v| *v = detmath::silu(*v));
    let mut emb = vec![0.0; e];
    linear(
        get("emb.fc1.weight"),
        get("emb.fc1.bias"),
        &hidden,
        &mut emb,
    )
    .unwrap();
    for (v, &n) in emb.iter_mut().zip(get("emb.null")) {
        if !conditional {
            *v += n;
        }
        *v = detmath::silu(*v);
    }
    // Input.
    let mut cur: Vec<f32> = x.iter().map(|v| v * pre.c_in).collect();
    if conditional {
        cur.extend_from_slice(y);
    } else {
        cur.extend(std::iter::repeat_n(
            0.0,
            config.condition_channels() * h * w,
        ));
    }
    let (mut ch, mut hh, mut ww) = (config.in_channels, h, w);
    let mut skips: HashMap<usize, (Vec<f32>, usize)> = HashMap::new();
    let mut result = Vec::new();
    Plan::new(config).for_each(|block| match block {
        Block::ConvIn { channels } => {
            let mut out = vec![0.0; channels * hh * ww];
            conv3x3(
                &cur,
                ch,
                hh,
                ww,
                get("conv_in.weight"),
                get("conv_in.bias"),
                &mut out,
            );
            cur = out;
            ch = channels;
        }
        Block::Res(r) => {
            let prefix = match r.stage {
                Stage::Encoder => format!("enc.{}.{}.", r.level, r.index),
                Stage::Middle => format!("mid.{}.", r.index),
                Stage::Decoder => format!("dec.{}.{}.", r.level, r.index),
            };
            let q = |s: &str| get(&format!("{prefix}{s}"));
            let mut xin = cur.clone();
            if r.skip_channels > 0 {
                xin.extend_from_slice(&skips[&r.level].0);
            }
            let cin = r.total_in();
            let cout = r.out_channels;
            let n = hh * ww;
            let mut t = vec![0.0; cin * n];
            reference::group_norm(
                &xin,
                cin,
                hh,
                ww,
                config.groups(cin),
                q("norm0.weight"),
                q("norm0.bias"),
                config.eps,
                true,
                &mut t,
            );
            let mut proj = vec![0.0; cout];
            linear(q("emb.weight"), q("emb.bias"), &emb, &mut proj).unwrap();
            let bias0: Vec<f32> = q("conv0.bias")
                .iter()
                .zip(&proj)
                .map(|(a, b)| a + b)
                .collect();
            let mut u = vec![0.0; cout * n];
            conv3x3(&t, cin, hh, ww, q("conv0.weight"), &bias0, &mut u);
            let mut t2 = vec![0.0; cout * n];
            reference::group_norm(
                &u,
                cout,
                hh,
                ww,
                config.groups(cout),
                q("norm1.weight"),
                q("norm1.bias"),
                config.eps,
                true,
                &mut t2,
            );
            let s = if r.has_skip_conv() {
                let mut s = vec![0.0; cout * n];
                reference::conv2d(
                    &xin,
                    cin,
                    hh,
                    ww,
                    q("skip.weight"),
                    q("skip.bias"),
                    1,
                    &mut s,
                );
                s
            } else {
                xin.clone()
            };
            let mut out = vec![0.0; cout * n];
            conv3x3(
                &t2,
                cout,
                hh,
                ww,
                q("conv1.weight"),
                q("conv1.bias"),
                &mut out,
            );
            for (o, sv) in out.iter_mut().zip(&s) {
                *o = (*o + sv) * std::f32::consts::FRAC_1_SQRT_2;
            }
            if r.saves_skip {
                skips.insert(r.level, (out.clone(), cout));
            }
            cur = out;
            ch = cout;
        }
        Block::Down { .. } => {
            let mut out = vec![0.0; ch * (hh / 2) * (ww / 2)];
            reference::avg_pool2(&cur, ch, hh, ww, &mut out);
            cur = out;
            hh /= 2;
            ww /= 2;
        }
        Block::Up { .. } => {
            let mut out = vec![0.0; ch * hh * 2 * ww * 2];
            reference::upsample_nearest2(&cur, ch, hh, ww, &mut out);
            cur = out;
            hh *= 2;
            ww *= 2;
        }
        Block::Out { channels } => {
            let mut t = vec![0.0; channels * hh * ww];
            reference::group_norm(
                &cur,
                channels,
                hh,
                ww,
                config.groups(channels),
                get("out.norm.weight"),
                get("out.norm.bias"),
                config.eps,
                true,
                &mut t,
            );
            let mut f = vec![0.0; hh * ww];
            conv3x3(
                &t,
                channels,
                hh,
                ww,
                get("out.conv.weight"),
                get("out.conv.bias"),
                &mut f,
            );
            result = x
                .iter()
                .zip(&f)
                .map(|(&xv, &fv)| pre.c_skip * xv + pre.c_out * fv)
                .collect();
        }
    });
    result
}

/// The network's 3×3 convolution, plainly: the Winograd F(2×2, 3×3) contract of
/// `powerpost_core::nn::winograd` by its reference loops on unpadded tensors.
fn conv3x3(
    input: &[f32],
    cin: usize,
    h: usize,
    w: usize,
    weight: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    let cout = bias.len();
    let mut transformed = vec![0.0; transformed_weights_len(cout, cin)];
    transform_weights(weight, cout, cin, &mut transformed).expect("3×3 weights");
    reference::conv3x3_winograd(input, cin, h, w, &transformed, bias, out);
}

/// Runs tasks on `n` scoped std threads pulling indices from a shared counter (so the
/// assignment of tasks to threads varies from run to run).
pub struct Threads(pub usize);

impl powerpost_core::exec::Executor for Threads {
    fn for_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..self.0 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    task(i);
                });
            }
        });
    }
    fn threads(&self) -> usize {
        self.0
    }
}

/// A naive Gaussian smoothing in f64 of an `h × w` image: weights `e^{−k²/(2σ²)}` for
/// `|k| ≤ ⌈3σ⌉` normalised to sum 1, edges clamped, along rows then columns. The tests'
/// own reference for the background models (the core's `wave::gaussian_smooth` is f32
/// with a fixed order).
pub fn reference_gaussian_smooth(v: &[f32], h: usize, w: usize, sigma: f64) -> Vec<f64> {
    let r = (3.0 * sigma).ceil() as i64;
    let g: Vec<f64> = (-r..=r)
        .map(|k| (-((k * k) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = g.iter().sum();
    let clamp = |i: i64, n: usize| i.clamp(0, n as i64 - 1) as usize;
    let mut rows = vec![0.0; h * w];
    for y in 0..h {
        for x in 0..w as i64 {
            rows[y * w + x as usize] = (-r..=r)
                .map(|k| g[(k + r) as usize] * v[y * w + clamp(x + k, w)] as f64)
                .sum::<f64>()
                / total;
        }
    }
    let mut out = vec![0.0; h * w];
    for y in 0..h as i64 {
        for x in 0..w {
            out[y as usize * w + x] = (-r..=r)
                .map(|k| g[(k + r) as usize] * rows[clamp(y + k, h) * w + x])
                .sum::<f64>()
                / total;
        }
    }
    out
}
