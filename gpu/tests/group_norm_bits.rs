//! The device's group normalisation returns the core's bits:
//! `powerpost_gpu::norm::GroupNormPipeline` against `powerpost_core::nn::norm::group_norm`
//! on random tensors, every value of the output compared (ring cells included), with and
//! without SiLU, one and two sources (groups spanning both), group sizes that are and are
//! not multiples of the eight partial sums, batches of 1 and 2.
//!
//! Without a Vulkan driver or without `glslc` at build time the tests print why and pass,
//! unless `POWERPOST_REQUIRE_VULKAN=1` (CI sets it), which turns that into a failure.

mod common;

use common::{assert_same_bits, garbage, padded, pipeline_or_skip, Rng};
use powerpost_core::exec::Serial;
use powerpost_core::nn::conv::Source;
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::norm::{group_norm, GroupNorm};
use powerpost_core::nn::simd::Isa;
use powerpost_core::Error;
use powerpost_gpu::norm::GroupNormPipeline;
use powerpost_gpu::GpuError;

/// One group normalisation to compare.
struct Case {
    height: usize,
    width: usize,
    batch: usize,
    /// Channels of each source (one or two).
    sources: &'static [usize],
    groups: usize,
    silu: bool,
}

/// Runs `case` on the core and on the device with the same random data; compares bits.
fn compare(pipeline: &GroupNormPipeline, case: &Case, seed: u64) {
    let mut rng = Rng::new(seed);
    let g = Geometry::new(case.height, case.width);
    // Interior values around a non-zero mean, so that the mean and the deviations matter.
    let inputs: Vec<Vec<f32>> = case
        .sources
        .iter()
        .map(|&c| {
            let mut data = padded(&mut rng, g, case.batch * c);
            for plane in data.chunks_exact_mut(g.plane_len()) {
                for y in 0..g.height {
                    for x in 0..g.width {
                        plane[g.index(y, x)] += 3.0;
                    }
                }
            }
            data
        })
        .collect();
    let sources: Vec<Source<'_>> = inputs
        .iter()
        .zip(case.sources)
        .map(|(data, &channels)| Source { data, channels })
        .collect();
    let channels: usize = case.sources.iter().sum();
    let gamma = rng.values(channels);
    let beta = rng.values(channels);
    let norm = GroupNorm {
        groups: case.groups,
        gamma: &gamma,
        beta: &beta,
        eps: 1e-5,
        silu: case.silu,
    };
    let out_len = case.batch * channels * g.plane_len();
    let mut core_out = garbage(out_len);
    group_norm(
        &Serial,
        Isa::detect(),
        g,
        case.batch,
        &sources,
        &norm,
        &mut core_out,
    )
    .expect("the core normalises");
    let mut device_out = garbage(out_len);
    pipeline
        .run(g, case.batch, &sources, &norm, &mut device_out)
        .expect("the device normalises");
    let what = format!(
        "group norm, {}×{} batch {}, sources {:?}, {} groups{}",
        case.height,
        case.width,
        case.batch,
        case.sources,
        case.groups,
        if case.silu { ", SiLU" } else { "" },
    );
    assert_same_bits(&what, g, &device_out, &core_out);
}

#[test]
fn device_group_norm_matches_the_core() {
    let Some(pipeline) = pipeline_or_skip(GroupNormPipeline::new) else {
        return;
    };
    #[rustfmt::skip]
    let cases = [
        Case { height: 8, width: 12, batch: 2, sources: &[8], groups: 4, silu: true },
        Case { height: 5, width: 7, batch: 2, sources: &[3, 5], groups: 2, silu: false },
        Case { height: 16, width: 16, batch: 2, sources: &[64], groups: 32, silu: true },
        Case { height: 16, width: 16, batch: 1, sources: &[32], groups: 1, silu: true },
        Case { height: 3, width: 5, batch: 2, sources: &[3], groups: 3, silu: true },
        Case { height: 1, width: 1, batch: 2, sources: &[2, 6], groups: 4, silu: false },
        Case { height: 8, width: 8, batch: 2, sources: &[16, 16], groups: 8, silu: true },
    ];
    for (seed, case) in cases.iter().enumerate() {
        compare(&pipeline, case, 0x6_4042 + seed as u64);
    }
}

/// The device refuses bad arguments with the core's error for the same arguments.
#[test]
fn device_group_norm_refuses_what_the_core_refuses() {
    let Some(pipeline) = pipeline_or_skip(GroupNormPipeline::new) else {
        return;
    };
    let g = Geometry::new(4, 4);
    let input = vec![0.0f32; 4 * g.plane_len()];
    let gamma = vec![1.0f32; 4];
    let beta = vec![0.0f32; 4];
    let good = GroupNorm {
        groups: 2,
        gamma: &gamma,
        beta: &beta,
        eps: 1e-5,
        silu: true,
    };
    let source = [Source {
        data: &input,
        channels: 4,
    }];
    let short = [Source {
        data: &input[1..],
        channels: 4,
    }];
    let three = [source[0], source[0], source[0]];
    let out_len = 4 * g.plane_len();
    let bad: [(&[Source<'_>], GroupNorm<'_>, Geometry, usize); 8] = [
        (&[], good, g, out_len),
        (&three, good, g, out_len),
        (&source, good, Geometry::new(4, 0), out_len),
        (&source, GroupNorm { groups: 0, ..good }, g, out_len),
        (&source, GroupNorm { groups: 3, ..good }, g, out_len),
        (&short, good, g, out_len),
        (
            &source,
            GroupNorm {
                gamma: &gamma[1..],
                ..good
            },
            g,
            out_len,
        ),
        (&source, good, g, out_len - 1),
    ];
    for (sources, norm, geometry, out_len) in bad {
        let mut out = vec![0.0f32; out_len];
        let core: Error = group_norm(
            &Serial,
            Isa::detect(),
            geometry,
            1,
            sources,
            &norm,
            &mut out,
        )
        .expect_err("the core refuses");
        match pipeline.run(geometry, 1, sources, &norm, &mut out) {
            Err(GpuError::Core(device)) => assert_eq!(device, core),
            other => panic!("expected the core's error {core:?}, got {other:?}"),
        }
    }
}
