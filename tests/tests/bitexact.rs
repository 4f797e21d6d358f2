//! Bit-exactness of the score network: the fast forward pass equals the plain reference
//! implementation bit for bit, for every instruction set and thread count, and a seeded
//! forward pass has a fixed digest (insta snapshot). CI runs this file twice: plain and
//! with `-C target-cpu=native`; the snapshot must hold for both.

use powerpost_core::nn::simd::Isa;
use powerpost_core::unet::{
    init_random, params_len, prepare_transformed, transformed_len, workspace_len, DenoiseInput,
    DenoiseOutput, UNet, UNetConfig,
};
use powerpost_core::Error;
use powerpost_tests::{digest, reference_denoise, seeded_image, Threads};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Runs the fast forward pass for both branches.
fn fast_pair(
    net: &UNet<'_>,
    threads: usize,
    h: usize,
    w: usize,
    x: &[f32],
    sigma: f32,
    y: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let mut ws = vec![f32::NAN; workspace_len(net.config(), h, w, 2)];
    let (mut cond, mut uncond) = (vec![0.0; h * w], vec![0.0; h * w]);
    net.denoise(
        &Threads(threads),
        DenoiseInput {
            height: h,
            width: w,
            x,
            sigma,
            condition: y,
        },
        DenoiseOutput {
            conditional: Some(&mut cond),
            unconditional: Some(&mut uncond),
        },
        &mut ws,
    )
    .unwrap();
    (cond, uncond)
}

fn check_against_reference(config: UNetConfig, h: usize, w: usize, sigma: f32, seed: u64) {
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, seed, &mut params).unwrap();
    let x = seeded_image(seed, 1, h * w, 1.0 + sigma);
    let y = seeded_image(seed, 2, config.condition_channels() * h * w, 1.0);
    let want_c = reference_denoise(&config, &params, h, w, &x, sigma, &y, true);
    let want_u = reference_denoise(&config, &params, h, w, &x, sigma, &y, false);
    assert_ne!(bits(&want_c), bits(&want_u), "the branches must differ");
    let mut transformed = vec![0.0; transformed_len(&config)];
    prepare_transformed(&config, &params, &mut transformed).unwrap();
    for isa in Isa::all_supported() {
        let plain = UNet::new(config, &params).unwrap().with_isa(isa).unwrap();
        // The 3×3 weights transformed in every call, or once beforehand: same bits.
        let prepared = plain.with_transformed(&transformed).unwrap();
        for (net, weights) in [(plain, "per call"), (prepared, "prepared")] {
            for threads in [1, 2, 3] {
                let (c, u) = fast_pair(&net, threads, h, w, &x, sigma, &y);
                assert_eq!(
                    bits(&c),
                    bits(&want_c),
                    "conditional: {h}x{w} isa {isa:?} threads {threads}, {weights}"
                );
                assert_eq!(
                    bits(&u),
                    bits(&want_u),
                    "unconditional: {h}x{w} isa {isa:?} threads {threads}, {weights}"
                );
            }
        }
    }
}

#[test]
fn tiny_network_matches_reference_at_odd_sizes() {
    // Sizes that exercise strip tails and single-lane remainders.
    for (h, w, sigma) in [(6, 10, 0.3), (2, 2, 5.0), (14, 22, 1.0), (8, 38, 40.0)] {
        check_against_reference(UNetConfig::TINY, h, w, sigma, 7);
    }
}

#[test]
fn default_network_matches_reference() {
    check_against_reference(UNetConfig::DEFAULT, 16, 24, 0.8, 11);
}

#[test]
fn background_conditioned_networks_match_reference() {
    // The third input plane (the background model) through the same contract.
    check_against_reference(UNetConfig::TINY.with_background(), 6, 10, 0.3, 5);
    check_against_reference(UNetConfig::DEFAULT.with_background(), 8, 12, 2.0, 13);
}

#[test]
fn the_background_plane_reaches_the_conditional_branch_only() {
    let config = UNetConfig::TINY.with_background();
    let (h, w) = (8, 12);
    let n = h * w;
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 4, &mut params).unwrap();
    let net = UNet::new(config, &params).unwrap();
    let x = seeded_image(4, 1, n, 1.5);
    let mut y = seeded_image(4, 2, 2 * n, 1.0);
    let (c1, u1) = fast_pair(&net, 1, h, w, &x, 0.7, &y);
    // A different background, the same RTM image.
    y[n..].iter_mut().for_each(|v| *v = -*v);
    let (c2, u2) = fast_pair(&net, 1, h, w, &x, 0.7, &y);
    assert_ne!(
        bits(&c1),
        bits(&c2),
        "the background must change D(x; σ, y)"
    );
    assert_eq!(
        bits(&u1),
        bits(&u2),
        "D(x; σ, ∅) must not see the condition"
    );
    // A condition of one plane is refused, not misread.
    let mut out = vec![0.0; n];
    let mut workspace = vec![0.0; workspace_len(&config, h, w, 1)];
    let err = net
        .denoise(
            &Threads(1),
            DenoiseInput {
                height: h,
                width: w,
                x: &x,
                sigma: 0.7,
                condition: &y[..n],
            },
            DenoiseOutput {
                conditional: Some(&mut out),
                unconditional: None,
            },
            &mut workspace,
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::BufferLength { buffer: "condition", expected, actual } if expected == 2 * n && actual == n),
        "{err:?}"
    );
}

#[test]
fn single_branch_calls_equal_the_batched_pair() {
    let config = UNetConfig::TINY;
    let (h, w) = (12, 16);
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 3, &mut params).unwrap();
    let net = UNet::new(config, &params).unwrap();
    let x = seeded_image(3, 1, h * w, 2.0);
    let y = seeded_image(3, 2, h * w, 1.0);
    let (c2, u2) = fast_pair(&net, 2, h, w, &x, 2.0, &y);
    let mut ws = vec![0.0; workspace_len(&config, h, w, 1)];
    let mut c1 = vec![0.0; h * w];
    net.denoise(
        &Threads(1),
        DenoiseInput {
            height: h,
            width: w,
            x: &x,
            sigma: 2.0,
            condition: &y,
        },
        DenoiseOutput {
            conditional: Some(&mut c1),
            unconditional: None,
        },
        &mut ws,
    )
    .unwrap();
    let mut u1 = vec![0.0; h * w];
    net.denoise(
        &Threads(1),
        DenoiseInput {
            height: h,
            width: w,
            x: &x,
            sigma: 2.0,
            condition: &[],
        },
        DenoiseOutput {
            conditional: None,
            unconditional: Some(&mut u1),
        },
        &mut ws,
    )
    .unwrap();
    assert_eq!(bits(&c1), bits(&c2));
    assert_eq!(bits(&u1), bits(&u2));
}

#[test]
fn bad_input_is_a_typed_error() {
    let config = UNetConfig::TINY;
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 3, &mut params).unwrap();
    let net = UNet::new(config, &params).unwrap();
    let (h, w) = (8, 8);
    let x = vec![0.0; h * w];
    let mut ws = vec![0.0; workspace_len(&config, h, w, 1)];
    let mut out = vec![0.0; h * w];
    let mut call = |h: usize, w: usize, x: &[f32], sigma: f32, ws: &mut [f32]| {
        net.denoise(
            &Threads(1),
            DenoiseInput {
                height: h,
                width: w,
                x,
                sigma,
                condition: &[],
            },
            DenoiseOutput {
                conditional: None,
                unconditional: Some(&mut out[..]),
            },
            ws,
        )
    };
    assert!(call(h, w, &x, 0.0, &mut ws).is_err(), "sigma 0");
    assert!(call(h, w, &x, f32::NAN, &mut ws).is_err(), "sigma NaN");
    assert!(call(7, 9, &x[..63], 1.0, &mut ws).is_err(), "odd size");
    let mut nan_x = x.clone();
    nan_x[5] = f32::INFINITY;
    assert!(call(h, w, &nan_x, 1.0, &mut ws).is_err(), "non-finite x");
    assert!(
        call(h, w, &x, 1.0, &mut ws[1..]).is_err(),
        "short workspace"
    );
    assert!(call(h, w, &x, 1.0, &mut ws).is_ok());
    assert!(UNet::new(config, &params[1..]).is_err(), "short params");
    let transformed = vec![0.0; transformed_len(&config)];
    assert!(
        net.with_transformed(&transformed[1..]).is_err(),
        "short transformed weights"
    );
    let mut out = vec![0.0; transformed_len(&config) + 1];
    assert!(
        prepare_transformed(&config, &params, &mut out).is_err(),
        "long transformed buffer"
    );
}

#[test]
fn snapshot_of_seeded_forward_pass() {
    let config = UNetConfig::DEFAULT;
    let (h, w) = (64, 128);
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 2024, &mut params).unwrap();
    let net = UNet::new(config, &params).unwrap();
    let x = seeded_image(2024, 1, h * w, 1.5);
    let y = seeded_image(2024, 2, h * w, 1.0);
    let (c, u) = fast_pair(&net, 2, h, w, &x, 1.5, &y);
    let summary = |v: &[f32]| {
        let mean = v.iter().map(|&a| a as f64).sum::<f64>() / v.len() as f64;
        let min = v.iter().cloned().fold(f32::INFINITY, f32::min);
        let max = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        format!(
            "sha256 {}\nmean {mean:.6} min {min:.6} max {max:.6} first {:e}",
            digest(v),
            v[0]
        )
    };
    insta::assert_snapshot!(
        "forward_default_64x128",
        format!(
            "params sha256 {}\nconditional:\n{}\nunconditional:\n{}",
            digest(&params),
            summary(&c),
            summary(&u)
        )
    );
}
