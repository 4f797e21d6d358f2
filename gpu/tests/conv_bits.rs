//! The device's convolution returns the core's bits: `powerpost_gpu::conv::Conv2d` against
//! `powerpost_core::nn::conv::conv2d` on random tensors, every value of the output
//! compared (ring cells included), for 1×1 and 3×3 kernels, one and two sources, with and
//! without a residual, batches of 1 and 2, odd sizes and 1 to 64 channels.
//!
//! Without a Vulkan driver or without `glslc` at build time the tests print why and pass,
//! unless `POWERPOST_REQUIRE_VULKAN=1` (CI sets it), which turns that into a failure.

mod common;

use common::{assert_same_bits, garbage, padded, pipeline_or_skip, Rng};
use powerpost_core::exec::Serial;
use powerpost_core::nn::conv::{conv2d, Conv, Source};
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::simd::Isa;
use powerpost_core::Error;
use powerpost_gpu::conv::Conv2d;
use powerpost_gpu::GpuError;

/// One convolution to compare.
struct Case {
    height: usize,
    width: usize,
    batch: usize,
    kernel: usize,
    /// Channels of each source (one or two).
    sources: &'static [usize],
    out_channels: usize,
    residual: bool,
    /// Random values in the input's ring cells instead of zeros.
    noisy_ring: bool,
}

/// Runs `case` on the core and on the device with the same random data; compares bits.
fn compare(conv2d_gpu: &Conv2d, case: &Case, seed: u64) {
    let mut rng = Rng::new(seed);
    let g = Geometry::new(case.height, case.width);
    let inputs: Vec<Vec<f32>> = case
        .sources
        .iter()
        .map(|&c| {
            if case.noisy_ring {
                rng.values(case.batch * c * g.plane_len())
            } else {
                padded(&mut rng, g, case.batch * c)
            }
        })
        .collect();
    let sources: Vec<Source<'_>> = inputs
        .iter()
        .zip(case.sources)
        .map(|(data, &channels)| Source { data, channels })
        .collect();
    let in_channels: usize = case.sources.iter().sum();
    let k2 = case.kernel * case.kernel;
    let weight = rng.values(case.out_channels * in_channels * k2);
    let bias = rng.values(case.batch * case.out_channels);
    let out_len = case.batch * case.out_channels * g.plane_len();
    let residual = case
        .residual
        .then(|| padded(&mut rng, g, case.batch * case.out_channels));
    let conv = Conv {
        kernel: case.kernel,
        out_channels: case.out_channels,
        weight: &weight,
        bias: &bias,
        residual: residual.as_deref(),
        residual_scale: std::f32::consts::FRAC_1_SQRT_2,
    };
    let mut core_out = garbage(out_len);
    conv2d(
        &Serial,
        Isa::detect(),
        g,
        case.batch,
        &sources,
        &conv,
        &mut core_out,
    )
    .expect("the core convolves");
    let mut device_out = garbage(out_len);
    conv2d_gpu
        .run(g, case.batch, &sources, &conv, &mut device_out)
        .expect("the device convolves");
    let what = format!(
        "{}×{} conv, {}×{} batch {}, sources {:?} → {}{}{}",
        case.kernel,
        case.kernel,
        case.height,
        case.width,
        case.batch,
        case.sources,
        case.out_channels,
        if case.residual { ", residual" } else { "" },
        if case.noisy_ring {
            ", noisy input ring"
        } else {
            ""
        },
    );
    assert_same_bits(&what, g, &device_out, &core_out);
}

#[test]
fn device_convolution_matches_the_core() {
    let Some(conv) = pipeline_or_skip(Conv2d::new) else {
        return;
    };
    #[rustfmt::skip]
    let cases = [
        Case { height: 8, width: 12, batch: 2, kernel: 3, sources: &[3], out_channels: 8, residual: false, noisy_ring: false },
        Case { height: 16, width: 16, batch: 2, kernel: 1, sources: &[16], out_channels: 5, residual: true, noisy_ring: false },
        Case { height: 8, width: 12, batch: 2, kernel: 3, sources: &[7, 9], out_channels: 12, residual: true, noisy_ring: false },
        Case { height: 5, width: 7, batch: 1, kernel: 1, sources: &[1, 2], out_channels: 3, residual: false, noisy_ring: false },
        Case { height: 16, width: 16, batch: 2, kernel: 3, sources: &[64], out_channels: 64, residual: true, noisy_ring: false },
        Case { height: 8, width: 8, batch: 2, kernel: 3, sources: &[32, 32], out_channels: 1, residual: false, noisy_ring: false },
        Case { height: 1, width: 1, batch: 2, kernel: 3, sources: &[1], out_channels: 1, residual: true, noisy_ring: false },
        Case { height: 3, width: 5, batch: 2, kernel: 3, sources: &[4], out_channels: 6, residual: false, noisy_ring: true },
    ];
    for (seed, case) in cases.iter().enumerate() {
        compare(&conv, case, 0xC0_4E + seed as u64);
    }
}

/// The device refuses bad arguments with the core's error for the same arguments.
#[test]
fn device_convolution_refuses_what_the_core_refuses() {
    let Some(conv_gpu) = pipeline_or_skip(Conv2d::new) else {
        return;
    };
    let g = Geometry::new(4, 4);
    let input = vec![0.0f32; 2 * g.plane_len()];
    let weight = vec![0.0f32; 3 * 2 * 9];
    let bias = vec![0.0f32; 3];
    let residual = vec![0.0f32; 5];
    let good = Conv {
        kernel: 3,
        out_channels: 3,
        weight: &weight,
        bias: &bias,
        residual: None,
        residual_scale: 1.0,
    };
    let source = [Source {
        data: &input,
        channels: 2,
    }];
    let short = [Source {
        data: &input[1..],
        channels: 2,
    }];
    let three = [source[0], source[0], source[0]];
    let out_len = 3 * g.plane_len();
    let bad: [(&[Source<'_>], Conv<'_>, Geometry, usize, usize); 8] = [
        (&source, Conv { kernel: 2, ..good }, g, 1, out_len),
        (&[], good, g, 1, out_len),
        (&three, good, g, 1, out_len),
        (&source, good, Geometry::new(0, 4), 1, out_len),
        (&source, good, g, 0, out_len),
        (&short, good, g, 1, out_len),
        (
            &source,
            Conv {
                residual: Some(&residual),
                ..good
            },
            g,
            1,
            out_len,
        ),
        (&source, good, g, 1, out_len + 1),
    ];
    for (sources, conv, geometry, batch, out_len) in bad {
        let mut out = vec![0.0f32; out_len];
        let core: Error = conv2d(
            &Serial,
            Isa::detect(),
            geometry,
            batch,
            sources,
            &conv,
            &mut out,
        )
        .expect_err("the core refuses");
        match conv_gpu.run(geometry, batch, sources, &conv, &mut out) {
            Err(GpuError::Core(device)) => assert_eq!(device, core),
            other => panic!("expected the core's error {core:?}, got {other:?}"),
        }
    }
}
