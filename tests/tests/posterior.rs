//! Power-scaled posterior sampling with the network: reproducibility across thread counts
//! and sample subsets, prior sampling, errors, and digest snapshots of a short run of
//! every sampler (seeded random weights).

use powerpost_core::posterior::{draw_sample, posterior_scratch_len, PosteriorRequest};
use powerpost_core::sampler::{SamplerConfig, SamplerKind};
use powerpost_core::unet::{init_random, params_len, UNet, UNetConfig};
use powerpost_tests::{digest, seeded_image, Threads};

const H: usize = 8;
const W: usize = 12;

fn net_params() -> Vec<f32> {
    let config = UNetConfig::TINY;
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 77, &mut params).unwrap();
    params
}

fn draw(
    net: &UNet<'_>,
    threads: usize,
    rtm: Option<&[f32]>,
    lambda: f32,
    alpha: f32,
    sampler: SamplerConfig,
    index: u64,
) -> Vec<f32> {
    let request = PosteriorRequest {
        height: H,
        width: W,
        condition: rtm,
        lambda,
        alpha,
        sampler,
        seed: 42,
        sample_index: index,
    };
    let mut out = vec![0.0; H * W];
    let mut scratch = vec![0.0; posterior_scratch_len(net, H, W, &sampler)];
    draw_sample(
        net,
        &Threads(threads),
        &request,
        &mut out,
        &mut scratch,
        &mut |_, _| {},
    )
    .unwrap();
    out
}

fn short(kind: SamplerKind) -> SamplerConfig {
    SamplerConfig {
        steps: 6,
        corrector_steps: 2,
        ..SamplerConfig::with_kind(kind)
    }
}

#[test]
fn same_bits_for_any_thread_count_and_subset() {
    let params = net_params();
    let net = UNet::new(UNetConfig::TINY, &params).unwrap();
    let rtm = seeded_image(5, 0, H * W, 1.0);
    let sampler = short(SamplerKind::Heun);
    let alone = draw(&net, 1, Some(&rtm), 2.0, 1.0, sampler, 7);
    for threads in [2, 3] {
        assert_eq!(alone, draw(&net, threads, Some(&rtm), 2.0, 1.0, sampler, 7));
    }
    // Sample 7 drawn after samples 0..7 is the same sample.
    let mut last = Vec::new();
    for i in 0..8 {
        last = draw(&net, 2, Some(&rtm), 2.0, 1.0, sampler, i);
    }
    assert_eq!(alone, last);
    assert_ne!(
        alone,
        draw(&net, 1, Some(&rtm), 2.0, 1.0, sampler, 6),
        "different samples must differ"
    );
}

#[test]
fn prior_needs_no_rtm_and_ignores_it() {
    let params = net_params();
    let net = UNet::new(UNetConfig::TINY, &params).unwrap();
    let rtm = seeded_image(5, 0, H * W, 1.0);
    let sampler = short(SamplerKind::Heun);
    let prior = draw(&net, 1, None, 0.0, 0.7, sampler, 1);
    assert_eq!(
        prior,
        draw(&net, 1, Some(&rtm), 0.0, 0.7, sampler, 1),
        "λ = 0 must not depend on y"
    );
    let request = PosteriorRequest {
        height: H,
        width: W,
        condition: None,
        lambda: 1.0,
        alpha: 1.0,
        sampler,
        seed: 1,
        sample_index: 0,
    };
    let mut out = vec![0.0; H * W];
    let mut scratch = vec![0.0; posterior_scratch_len(&net, H, W, &sampler)];
    assert!(draw_sample(
        &net,
        &Threads(1),
        &request,
        &mut out,
        &mut scratch,
        &mut |_, _| {}
    )
    .is_err());
    let bad = PosteriorRequest {
        condition: Some(&rtm),
        alpha: -1.0,
        ..request
    };
    assert!(draw_sample(
        &net,
        &Threads(1),
        &bad,
        &mut out,
        &mut scratch,
        &mut |_, _| {}
    )
    .is_err());
}

#[test]
fn snapshot_of_every_sampler() {
    let params = net_params();
    let net = UNet::new(UNetConfig::TINY, &params).unwrap();
    let rtm = seeded_image(5, 0, H * W, 1.0);
    let mut lines = Vec::new();
    for kind in SamplerKind::ALL {
        let sample = draw(&net, 2, Some(&rtm), 1.5, 1.0, short(kind), 3);
        lines.push(format!("{:15} {}", kind.name(), digest(&sample)));
    }
    insta::assert_snapshot!("samplers_tiny_8x12", lines.join("\n"));
}
