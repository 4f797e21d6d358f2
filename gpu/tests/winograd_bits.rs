//! The device's Winograd convolution returns the core's bits:
//! `powerpost_gpu::conv::Winograd3x3` against
//! `powerpost_core::nn::winograd::conv3x3_winograd` on random tensors, every value of the
//! output compared (ring cells included): one and two sources, with and without a
//! residual, batches of 1 and 2, odd sizes (tiles half outside the map), 1 to 64
//! channels, channel counts that are not multiples of the shader's block of four, and
//! random values in the input's ring cells.
//!
//! Without a Vulkan driver or without `glslc` at build time the tests print why and pass,
//! unless `POWERPOST_REQUIRE_VULKAN=1` (CI sets it), which turns that into a failure.

mod common;

use common::{assert_same_bits, garbage, padded, pipeline_or_skip, Rng};
use powerpost_core::exec::Serial;
use powerpost_core::nn::conv::Source;
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::simd::Isa;
use powerpost_core::nn::winograd::{
    conv3x3_winograd, transform_weights, transformed_weights_len, winograd_scratch_len,
    WinogradConv,
};
use powerpost_core::Error;
use powerpost_gpu::conv::Winograd3x3;
use powerpost_gpu::GpuError;

/// One convolution to compare: height, width, batch, channels of each source, output
/// channels, residual, random input ring.
type Case = (usize, usize, usize, &'static [usize], usize, bool, bool);

#[test]
fn device_winograd_matches_the_core() {
    let Some(pipeline) = pipeline_or_skip(Winograd3x3::new) else {
        return;
    };
    #[rustfmt::skip]
    let cases: [Case; 8] = [
        (8, 12, 2, &[3], 8, false, false),
        (8, 12, 2, &[7, 9], 12, true, false),
        (7, 11, 1, &[5], 6, true, false),
        (16, 16, 2, &[64], 64, true, false),
        (8, 8, 2, &[32, 32], 1, false, false),
        (1, 1, 2, &[1], 1, true, false),
        (3, 5, 2, &[4], 6, false, true),
        (6, 150, 1, &[4, 2], 5, true, true),
    ];
    for (seed, &(h, w, batch, channels, cout, residual, noisy_ring)) in cases.iter().enumerate() {
        let mut rng = Rng::new(0x3147 + seed as u64);
        let g = Geometry::new(h, w);
        let inputs: Vec<Vec<f32>> = channels
            .iter()
            .map(|&c| {
                if noisy_ring {
                    rng.values(batch * c * g.plane_len())
                } else {
                    padded(&mut rng, g, batch * c)
                }
            })
            .collect();
        let sources: Vec<Source<'_>> = inputs
            .iter()
            .zip(channels)
            .map(|(data, &channels)| Source { data, channels })
            .collect();
        let cin: usize = channels.iter().sum();
        let weight = rng.values(cout * cin * 9);
        let mut u = vec![0.0; transformed_weights_len(cout, cin)];
        transform_weights(&weight, cout, cin, &mut u).expect("sized");
        let bias = rng.values(batch * cout);
        let out_len = batch * cout * g.plane_len();
        let res = residual.then(|| padded(&mut rng, g, batch * cout));
        let conv = WinogradConv {
            out_channels: cout,
            transformed_weight: &u,
            bias: &bias,
            residual: res.as_deref(),
            residual_scale: std::f32::consts::FRAC_1_SQRT_2,
        };
        let mut core_out = garbage(out_len);
        let mut scratch = vec![0.0; winograd_scratch_len(g, cin, cout, 1)];
        conv3x3_winograd(
            &Serial,
            Isa::detect(),
            g,
            batch,
            &sources,
            &conv,
            &mut scratch,
            &mut core_out,
        )
        .expect("the core convolves");
        let mut device_out = garbage(out_len);
        pipeline
            .run(g, batch, &sources, &conv, &mut device_out)
            .expect("the device convolves");
        let what = format!(
            "winograd {h}×{w} batch {batch}, sources {channels:?} → {cout}, residual {residual}, noisy ring {noisy_ring}"
        );
        assert_same_bits(&what, g, &device_out, &core_out);
    }
}

/// The device refuses mis-sized transformed weights and buffers with the core's errors.
#[test]
fn device_winograd_refuses_what_the_core_refuses() {
    let Some(pipeline) = pipeline_or_skip(Winograd3x3::new) else {
        return;
    };
    let g = Geometry::new(4, 4);
    let input = vec![0.0f32; 2 * g.plane_len()];
    let u = vec![0.0f32; transformed_weights_len(3, 2)];
    let bias = vec![0.0f32; 3];
    let source = [Source {
        data: &input,
        channels: 2,
    }];
    let good = WinogradConv {
        out_channels: 3,
        transformed_weight: &u,
        bias: &bias,
        residual: None,
        residual_scale: 1.0,
    };
    let out_len = 3 * g.plane_len();
    let cases = [
        (
            WinogradConv {
                transformed_weight: &u[1..],
                ..good
            },
            out_len,
        ),
        (good, out_len + 1),
        // Two faults: both sides name the same (first) one.
        (
            WinogradConv {
                transformed_weight: &u[1..],
                ..good
            },
            out_len + 1,
        ),
    ];
    for (conv, out_len) in cases {
        let mut out = vec![0.0f32; out_len];
        let mut scratch = vec![0.0; winograd_scratch_len(g, 2, 3, 1)];
        let core: Error = conv3x3_winograd(
            &Serial,
            Isa::detect(),
            g,
            1,
            &source,
            &conv,
            &mut scratch,
            &mut out,
        )
        .expect_err("the core refuses");
        match pipeline.run(g, 1, &source, &conv, &mut out) {
            Err(GpuError::Core(device)) => assert_eq!(device, core),
            other => panic!("expected the core's error {core:?}, got {other:?}"),
        }
    }
}
