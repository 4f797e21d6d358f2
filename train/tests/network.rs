//! The training network against the core: the forward pass bit for bit, the backward
//! pass against finite differences of the whole network (TINY configuration).

use powerpost_core::exec::{Executor, Serial};
use powerpost_core::unet::{
    init_random, params_len, workspace_len, DenoiseInput, DenoiseOutput, UNet, UNetConfig,
};
use powerpost_tests::{digest, seeded_image, Threads};
use powerpost_train::network::{Network, Tape, TrainBatch};

/// A seeded batch of `h × w` items: noisy images (stream 0 of `seed`), conditions of
/// `planes` planes per item (stream 1, scaled by `condition_scale`) and loss weights
/// `r = ∂L/∂D` (stream 2).
struct Seeded {
    h: usize,
    w: usize,
    sigmas: Vec<f32>,
    conditional: Vec<bool>,
    noisy: Vec<f32>,
    condition: Vec<f32>,
    r: Vec<f32>,
}

impl Seeded {
    fn new(
        seed: u64,
        h: usize,
        w: usize,
        sigmas: &[f32],
        conditional: &[bool],
        condition_scale: f32,
        planes: usize,
    ) -> Self {
        let len = sigmas.len() * h * w;
        Self {
            h,
            w,
            sigmas: sigmas.to_vec(),
            conditional: conditional.to_vec(),
            noisy: seeded_image(seed, 0, len, 1.0),
            condition: seeded_image(seed, 1, planes * len, condition_scale),
            r: seeded_image(seed, 2, len, 1.0),
        }
    }

    fn batch(&self) -> TrainBatch<'_> {
        TrainBatch {
            height: self.h,
            width: self.w,
            noisy: &self.noisy,
            sigma: &self.sigmas,
            condition: &self.condition,
            conditional: &self.conditional,
        }
    }

    /// Forward and backward on `exec`: the denoised estimates and the gradient of
    /// `L = Σ r · D`.
    fn forward_backward(
        &self,
        net: &Network,
        exec: &dyn Executor,
        params: &[f32],
    ) -> (Vec<f32>, Vec<f32>) {
        let mut tape = Tape::new();
        net.forward(exec, params, &self.batch(), &mut tape).unwrap();
        let mut grads = vec![0.0; params.len()];
        net.backward(exec, params, &tape, &self.r, &mut grads)
            .unwrap();
        (tape.denoised, grads)
    }
}

/// Forward of a batch mixing branches and noise levels equals the core's denoiser per item.
fn check_forward(config: UNetConfig, h: usize, w: usize) {
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 7, &mut params).unwrap();
    let n = h * w;
    let mut s = Seeded::new(
        1,
        h,
        w,
        &[0.3, 0.3, 2.5, 0.01],
        &[true, false, true, false],
        0.5,
        config.condition_channels(),
    );
    s.noisy.copy_within(0..n, n); // items 0 and 1: same x (the core's batch of 2)
    let (sigmas, conditional, noisy, condition) =
        (&s.sigmas, &s.conditional, &s.noisy, &s.condition);
    let net = Network::new(config).unwrap();
    let mut tape = Tape::new();
    net.forward(&Threads(3), &params, &s.batch(), &mut tape)
        .unwrap();
    let unet = UNet::new(config, &params).unwrap();
    let cn = config.condition_channels() * n;
    for b in 0..4 {
        let mut ws = vec![0.0; workspace_len(&config, h, w, 1)];
        let mut out = vec![0.0; n];
        let input = DenoiseInput {
            height: h,
            width: w,
            x: &noisy[b * n..(b + 1) * n],
            sigma: sigmas[b],
            condition: &condition[b * cn..(b + 1) * cn],
        };
        let output = if conditional[b] {
            DenoiseOutput {
                conditional: Some(&mut out),
                unconditional: None,
            }
        } else {
            DenoiseOutput {
                conditional: None,
                unconditional: Some(&mut out),
            }
        };
        unet.denoise(&Serial, input, output, &mut ws).unwrap();
        let got = &tape.denoised[b * n..(b + 1) * n];
        assert!(
            got.iter()
                .zip(&out)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "item {b} differs from UNet::denoise"
        );
    }
    // The core's batch-of-two call (conditional + unconditional of the same x).
    let mut ws = vec![0.0; workspace_len(&config, h, w, 2)];
    let (mut oc, mut ou) = (vec![0.0; n], vec![0.0; n]);
    let input = DenoiseInput {
        height: h,
        width: w,
        x: &noisy[..n],
        sigma: sigmas[0],
        condition: &condition[..cn],
    };
    unet.denoise(
        &Serial,
        input,
        DenoiseOutput {
            conditional: Some(&mut oc),
            unconditional: Some(&mut ou),
        },
        &mut ws,
    )
    .unwrap();
    assert_eq!(
        oc.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        tape.denoised[..n]
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        ou.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        tape.denoised[n..2 * n]
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    );
}

#[test]
fn forward_matches_core_bit_for_bit() {
    check_forward(UNetConfig::TINY, 8, 12);
    check_forward(UNetConfig::DEFAULT, 8, 16);
    check_forward(UNetConfig::TINY.with_background(), 8, 12);
    check_forward(UNetConfig::DEFAULT.with_background(), 8, 8);
}

/// `L = Σ r · D` in f64.
fn weighted_sum(d: &[f32], r: &[f32]) -> f64 {
    d.iter().zip(r).map(|(&a, &b)| a as f64 * b as f64).sum()
}

#[test]
fn whole_network_gradient_matches_finite_differences() {
    check_gradient(UNetConfig::TINY);
}

#[test]
fn background_conditioned_gradient_matches_finite_differences() {
    check_gradient(UNetConfig::TINY.with_background());
}

/// The gradient of `L = Σ r · D` for `config` against central differences, one random
/// direction per parameter tensor.
fn check_gradient(config: UNetConfig) {
    let (h, w) = (8, 8);
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 3, &mut params).unwrap();
    let s = Seeded::new(
        5,
        h,
        w,
        &[0.4, 1.3, 0.08],
        &[true, false, true],
        0.7,
        config.condition_channels(),
    );
    let net = Network::new(config).unwrap();
    let (_, grads) = s.forward_backward(&net, &Threads(2), &params);
    let loss_at = |p: &[f32]| {
        let mut t = Tape::new();
        net.forward(&Serial, p, &s.batch(), &mut t).unwrap();
        weighted_sum(&t.denoised, &s.r)
    };
    // One random direction per tensor: the directional derivative g·d against the
    // central difference (L(θ + h d) − L(θ − h d)) / 2h.
    let mut worst = 0.0f64;
    let mut index = 0;
    powerpost_core::unet::params::for_each_tensor(&config, |t| {
        let dir = seeded_image(11, index, t.len, 1.0);
        index += 1;
        let rms = (params[t.offset..t.offset + t.len]
            .iter()
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            / t.len as f64)
            .sqrt();
        let analytic: f64 = grads[t.offset..t.offset + t.len]
            .iter()
            .zip(&dir)
            .map(|(&g, &d)| g as f64 * d as f64)
            .sum();
        let dir_norm2: f64 = dir.iter().map(|&d| d as f64 * d as f64).sum();
        // f32 forward passes: the difference quotient carries rounding noise (small steps)
        // and curvature (large steps); the best of three steps must agree.
        let err = [8e-2, 2e-2, 5e-3]
            .iter()
            .map(|&rel| {
                let step = rel * rms.max(0.1);
                let shifted = |sign: f64| {
                    let mut p = params.clone();
                    for (v, &d) in p[t.offset..t.offset + t.len].iter_mut().zip(&dir) {
                        *v = (*v as f64 + sign * step * d as f64) as f32;
                    }
                    // The realised (representable) perturbation projected on d.
                    let realised: f64 = p[t.offset..t.offset + t.len]
                        .iter()
                        .zip(&params[t.offset..t.offset + t.len])
                        .zip(&dir)
                        .map(|((a, b), &d)| (*a as f64 - *b as f64) * d as f64)
                        .sum();
                    (loss_at(&p), realised)
                };
                let (lp, rp) = shifted(1.0);
                let (lm, rm) = shifted(-1.0);
                let numeric = (lp - lm) / ((rp - rm) / dir_norm2);
                (numeric - analytic).abs() / analytic.abs().max(1e-2)
            })
            .fold(f64::INFINITY, f64::min);
        assert!(
            err < 1e-2,
            "{}: analytic {analytic:.6e}, relative error {err:.2e}",
            t.name
        );
        worst = worst.max(err);
    });
    println!("worst relative error over tensors: {worst:.2e}");
}

#[test]
fn gradient_is_bit_identical_for_any_thread_count() {
    let config = UNetConfig::TINY;
    let (h, w) = (8, 16);
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 9, &mut params).unwrap();
    let s = Seeded::new(6, h, w, &[0.4, 1.3], &[true, false], 0.7, 1);
    let net = Network::new(config).unwrap();
    let run = |exec: &dyn Executor| {
        let (_, grads) = s.forward_backward(&net, exec, &params);
        grads.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    };
    let serial = run(&Serial);
    assert_eq!(serial, run(&Threads(2)));
    assert_eq!(serial, run(&Threads(5)));
}

/// Digests of the forward output and the whole gradient of one seeded batch (conditional
/// and unconditional items, four noise levels): pins the training bits, so a rewrite of
/// the forward or backward pass that changes any bit shows up here.
fn training_bits(config: UNetConfig, h: usize, w: usize) -> String {
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 21, &mut params).unwrap();
    let s = Seeded::new(
        8,
        h,
        w,
        &[0.02, 0.5, 1.7, 12.0],
        &[true, false, false, true],
        0.6,
        config.condition_channels(),
    );
    let (denoised, grads) =
        s.forward_backward(&Network::new(config).unwrap(), &Threads(2), &params);
    format!(
        "{} {h}x{w}\nD sha256 {}\ngradient sha256 {}",
        config.describe(),
        digest(&denoised),
        digest(&grads)
    )
}

#[test]
fn forward_and_gradient_bits_are_pinned() {
    insta::assert_snapshot!(
        "training_bits",
        format!(
            "{}\n{}",
            training_bits(UNetConfig::TINY, 8, 16),
            training_bits(UNetConfig::DEFAULT, 16, 32)
        )
    );
}

#[test]
fn background_conditioned_training_bits_are_pinned() {
    insta::assert_snapshot!(
        "training_bits_background",
        training_bits(UNetConfig::TINY.with_background(), 8, 16)
    );
}
