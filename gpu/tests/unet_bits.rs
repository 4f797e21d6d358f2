//! The whole score network on the device against the core's forward pass: the same bits
//! for every output value, for both branches together and each alone, several sizes and
//! noise levels, random and shipped weights; and the same refusals.

#[allow(dead_code)] // `padded` is for the layer tests; the network takes unpadded images
mod common;

use common::{assert_same_bits, garbage, pipeline_or_skip, Rng};
use powerpost_core::exec::Serial;
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::unet::{
    architecture_of, init_random, load_params, params_len, workspace_len, DenoiseInput,
    DenoiseOutput, UNet, UNetConfig,
};
use powerpost_gpu::{GpuError, GpuUNet};

/// Which branches a call asks for.
#[derive(Clone, Copy, Debug)]
enum Branches {
    Both,
    Conditional,
    Unconditional,
}

/// `(conditional, unconditional)` outputs of one call, each `None` when not requested.
type Outputs = (Option<Vec<f32>>, Option<Vec<f32>>);

/// Runs `denoise` (the CPU's or the device's) with output buffers full of NaN garbage.
fn call(n: usize, branches: Branches, denoise: impl FnOnce(DenoiseOutput<'_>)) -> Outputs {
    let mut cond = garbage(n);
    let mut uncond = garbage(n);
    let (want_c, want_u) = match branches {
        Branches::Both => (true, true),
        Branches::Conditional => (true, false),
        Branches::Unconditional => (false, true),
    };
    denoise(DenoiseOutput {
        conditional: want_c.then_some(&mut cond[..]),
        unconditional: want_u.then_some(&mut uncond[..]),
    });
    (want_c.then_some(cond), want_u.then_some(uncond))
}

/// Compares the device with the core on one request.
#[allow(clippy::too_many_arguments)]
fn check(
    gpu_net: &mut GpuUNet,
    config: UNetConfig,
    params: &[f32],
    height: usize,
    width: usize,
    sigma: f32,
    branches: Branches,
    rng: &mut Rng,
) {
    let n = height * width;
    let x: Vec<f32> = rng.values(n).iter().map(|v| v * 4.0).collect();
    let condition = rng.values(config.condition_channels() * n);
    let input = DenoiseInput {
        height,
        width,
        x: &x,
        sigma,
        condition: &condition,
    };
    let net = UNet::new(config, params).unwrap();
    let core = call(n, branches, |output| {
        let batch =
            usize::from(output.conditional.is_some()) + usize::from(output.unconditional.is_some());
        let mut workspace = garbage(workspace_len(&config, height, width, batch));
        net.denoise(&Serial, input, output, &mut workspace).unwrap();
    });
    let device = call(n, branches, |output| {
        gpu_net.denoise(input, output).unwrap()
    });
    let what = format!("{height}×{width}, σ = {sigma}, {branches:?}");
    let geometry = Geometry::new(1, n);
    for (d, c) in [(&device.0, &core.0), (&device.1, &core.1)] {
        if let (Some(d), Some(c)) = (d, c) {
            assert!(
                c.iter().all(|v| v.is_finite()),
                "{what}: the core wrote NaN"
            );
            assert_same_bits(&what, geometry, d, c);
        }
    }
}

fn random_params(config: &UNetConfig, seed: u64) -> Vec<f32> {
    let mut params = vec![0.0; params_len(config)];
    init_random(config, seed, &mut params).unwrap();
    params
}

#[test]
fn tiny_network_matches_the_core_for_every_branch_size_and_noise_level() {
    let config = UNetConfig::TINY;
    let params = random_params(&config, 11);
    let Some(mut net) = pipeline_or_skip(|gpu| GpuUNet::new(gpu, config, &params)) else {
        return;
    };
    let mut rng = Rng::new(5);
    // Size changes in between re-record the command buffer; repeats of a size reuse it.
    for (h, w) in [(16, 24), (8, 40), (16, 24), (2, 2)] {
        for sigma in [0.002, 0.5, 80.0] {
            for branches in [
                Branches::Both,
                Branches::Conditional,
                Branches::Unconditional,
                Branches::Both,
            ] {
                check(&mut net, config, &params, h, w, sigma, branches, &mut rng);
            }
        }
    }
}

#[test]
fn background_conditioned_network_matches_the_core() {
    // Three input planes (x, RTM, background) through the same shaders.
    let config = UNetConfig::TINY.with_background();
    let params = random_params(&config, 17);
    let Some(mut net) = pipeline_or_skip(|gpu| GpuUNet::new(gpu, config, &params)) else {
        return;
    };
    let mut rng = Rng::new(21);
    for (h, w, sigma, branches) in [
        (16, 24, 0.5, Branches::Both),
        (8, 12, 3.0, Branches::Conditional),
        (8, 12, 0.01, Branches::Unconditional),
    ] {
        check(&mut net, config, &params, h, w, sigma, branches, &mut rng);
    }
}

#[test]
fn default_network_matches_the_core() {
    let config = UNetConfig::DEFAULT;
    let params = random_params(&config, 3);
    let Some(mut net) = pipeline_or_skip(|gpu| GpuUNet::new(gpu, config, &params)) else {
        return;
    };
    let mut rng = Rng::new(9);
    for (h, w, sigma, branches) in [
        (16, 32, 1.0, Branches::Both),
        (8, 12, 0.05, Branches::Unconditional),
        (16, 32, 20.0, Branches::Both),
    ] {
        check(&mut net, config, &params, h, w, sigma, branches, &mut rng);
    }
}

/// The shipped weights (real magnitudes everywhere) on a quarter of the shipped model's
/// 64 × 128 grid (lavapipe is slow: the full grid takes ≈ 40 s here).
#[test]
fn shipped_weights_match_the_core() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../weights/powerpost-edge.safetensors"
    ))
    .unwrap();
    let config = architecture_of(&bytes).unwrap();
    let mut params = vec![0.0; params_len(&config)];
    load_params(&config, &bytes, &mut params).unwrap();
    let Some(mut net) = pipeline_or_skip(|gpu| GpuUNet::new(gpu, config, &params)) else {
        return;
    };
    let mut rng = Rng::new(2016);
    check(
        &mut net,
        config,
        &params,
        64,
        128,
        0.7,
        Branches::Both,
        &mut rng,
    );
}

#[test]
fn refuses_what_the_core_refuses() {
    let config = UNetConfig::TINY;
    let params = random_params(&config, 1);
    let Some(mut net) = pipeline_or_skip(|gpu| GpuUNet::new(gpu, config, &params)) else {
        return;
    };
    let core_net = UNet::new(config, &params).unwrap();
    let (h, w) = (8, 8);
    let x = vec![0.5; h * w];
    let mut bad_x = x.clone();
    bad_x[7] = f32::NAN;
    let cond = vec![0.1; h * w];
    // (height, width, x, σ, condition, conditional branch wanted, unconditional wanted)
    type Refusal<'a> = (usize, usize, &'a [f32], f32, &'a [f32], bool, bool);
    let cases: [Refusal; 6] = [
        (h, w, &x, 1.0, &cond, false, false), // no branch
        (7, w, &x[..7 * w], 1.0, &cond[..7 * w], true, true), // odd side
        (h, w, &bad_x, 1.0, &cond, true, true), // NaN input
        (h, w, &x, 0.0, &cond, true, true),   // σ = 0
        (h, w, &x, f32::INFINITY, &cond, false, true), // σ = ∞
        (h, w, &x, 1.0, &[], true, false),    // no condition for the conditional branch
    ];
    for (height, width, x, sigma, condition, want_c, want_u) in cases {
        let input = DenoiseInput {
            height,
            width,
            x,
            sigma,
            condition,
        };
        let n = height * width;
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        let core_err = core_net
            .check_denoise(
                &input,
                &DenoiseOutput {
                    conditional: want_c.then_some(&mut a[..]),
                    unconditional: want_u.then_some(&mut b[..]),
                },
            )
            .unwrap_err();
        let device_err = net
            .denoise(
                input,
                DenoiseOutput {
                    conditional: want_c.then_some(&mut a[..]),
                    unconditional: want_u.then_some(&mut b[..]),
                },
            )
            .unwrap_err();
        match device_err {
            GpuError::Core(e) => assert_eq!(e, core_err),
            other => panic!("expected the core's error {core_err:?}, got {other:?}"),
        }
    }
    // Parameters of the wrong length are refused before anything is uploaded.
    let made = pipeline_or_skip(|gpu| match GpuUNet::new(gpu, config, &params[1..]) {
        Err(GpuError::Core(e)) => Ok(e),
        Err(other) => Err(other),
        Ok(_) => panic!("short parameters accepted"),
    });
    assert!(matches!(
        made,
        Some(powerpost_core::Error::BufferLength { .. })
    ));
}

/// Whole samples drawn with the network on the device equal the CPU's, bit for bit: the
/// posterior with two samplers (the exact-power one tempers both branches and runs
/// Langevin correctors), and the prior (unconditional branch only).
#[test]
fn samples_drawn_on_the_device_equal_the_cpu_samples() {
    use powerpost_core::posterior::{
        draw_sample, draw_sample_with, posterior_scratch_len, sampling_scratch_len,
        PosteriorRequest,
    };
    use powerpost_core::sampler::{SamplerConfig, SamplerKind};
    use powerpost_gpu::GpuDenoiser;

    let config = UNetConfig::TINY;
    let params = random_params(&config, 21);
    let Some(mut gpu_net) = pipeline_or_skip(|gpu| GpuUNet::new(gpu, config, &params)) else {
        return;
    };
    let net = UNet::new(config, &params).unwrap();
    let (h, w) = (8, 16);
    let mut rng = Rng::new(77);
    let rtm = rng.values(h * w);
    for (kind, lambda, alpha, with_rtm) in [
        (SamplerKind::DpmSolverPp2M, 1.0, 1.0, true),
        (SamplerKind::ExactPower, 0.7, 1.5, true),
        (SamplerKind::Heun, 0.0, 1.0, false),
    ] {
        let sampler = SamplerConfig {
            kind,
            steps: 4,
            corrector_steps: 2,
            ..SamplerConfig::default()
        };
        let request = PosteriorRequest {
            height: h,
            width: w,
            condition: with_rtm.then_some(&rtm[..]),
            lambda,
            alpha,
            sampler,
            seed: 5,
            sample_index: 3,
        };
        let mut cpu = garbage(h * w);
        let mut scratch = vec![0.0; posterior_scratch_len(&net, h, w, &sampler)];
        draw_sample(
            &net,
            &Serial,
            &request,
            &mut cpu,
            &mut scratch,
            &mut |_, _| {},
        )
        .unwrap();

        let mut device = garbage(h * w);
        let mut scratch = vec![0.0; sampling_scratch_len(h, w, &sampler)];
        let condition = if with_rtm { &rtm[..] } else { &[][..] };
        let mut denoiser = GpuDenoiser::new(&mut gpu_net, h, w, condition).unwrap();
        draw_sample_with(
            &mut denoiser,
            &request,
            &mut device,
            &mut scratch,
            &mut |_, _| {},
        )
        .unwrap();
        assert!(denoiser.take_failure().is_none());
        assert!(cpu.iter().all(|v| v.is_finite()));
        assert_same_bits(
            &format!("{kind:?} λ = {lambda} α = {alpha}"),
            Geometry::new(1, h * w),
            &device,
            &cpu,
        );
    }
}
