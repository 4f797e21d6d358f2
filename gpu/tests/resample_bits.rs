//! The device's 2×2 average pooling and nearest-neighbour up-sampling return the core's
//! bits: `powerpost_gpu::resample::{AvgPool2, UpsampleNearest2}` against
//! `powerpost_core::nn::resample::{avg_pool2, upsample_nearest2}` on random tensors of
//! several geometries (square, oblong, 1-pixel, empty interior, planes wider than a work
//! group), every value of the output compared, ring cells included.
//!
//! The inputs are random in every cell, ring included: the kernels read only the interior,
//! so a shader that reads a wrong cell shows whichever cell it reads. The up-sampling
//! input also holds NaNs with payloads and subnormals, which a copy must keep.
//!
//! Without a Vulkan driver or without `glslc` at build time the tests print why and pass,
//! unless `POWERPOST_REQUIRE_VULKAN=1` (CI sets it), which turns that into a failure.

#[allow(dead_code)] // `padded` fills only the interior; these tests fill every cell
mod common;

use common::{assert_same_bits, garbage, pipeline_or_skip, Rng};
use powerpost_core::exec::Serial;
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::resample::{avg_pool2, upsample_nearest2};
use powerpost_core::Error;
use powerpost_gpu::resample::{AvgPool2, UpsampleNearest2};
use powerpost_gpu::GpuError;

#[test]
fn device_avg_pool2_matches_the_core() {
    let Some(pipeline) = pipeline_or_skip(AvgPool2::new) else {
        return;
    };
    // (fine height, fine width, planes)
    let shapes = [(8, 12, 3), (2, 2, 1), (16, 6, 5), (0, 4, 2), (32, 32, 4)];
    for (seed, &(height, width, planes)) in shapes.iter().enumerate() {
        let mut rng = Rng::new(0xA7_9001 + seed as u64);
        let fine = Geometry::new(height, width);
        let input = rng.values(planes * fine.plane_len());
        let out_len = planes * fine.half().plane_len();
        let mut core_out = garbage(out_len);
        avg_pool2(&Serial, fine, planes, &input, &mut core_out).expect("the core pools");
        let mut device_out = garbage(out_len);
        pipeline
            .run(fine, planes, &input, &mut device_out)
            .expect("the device pools");
        assert_same_bits(
            &format!("avg pool of {height}×{width}, {planes} planes"),
            fine.half(),
            &device_out,
            &core_out,
        );
    }
}

#[test]
fn device_upsample_nearest2_matches_the_core() {
    let Some(pipeline) = pipeline_or_skip(UpsampleNearest2::new) else {
        return;
    };
    // (coarse height, coarse width, planes)
    let shapes = [
        (4, 6, 3),
        (1, 1, 2),
        (8, 8, 4),
        (0, 3, 1),
        (5, 7, 2),
        (16, 16, 3),
    ];
    for (seed, &(height, width, planes)) in shapes.iter().enumerate() {
        let mut rng = Rng::new(0x0B_5A3B + seed as u64);
        let coarse = Geometry::new(height, width);
        let mut input = rng.values(planes * coarse.plane_len());
        // Bits a float operation might change: NaN payloads (quiet and signalling), -0,
        // subnormals.
        let special = [
            0x7FA5_A5A5,
            0xFFC0_0001,
            0x7F80_0001,
            0x8000_0000,
            0x0000_0001,
        ];
        for (v, bits) in input.iter_mut().step_by(5).zip(special.iter().cycle()) {
            *v = f32::from_bits(*bits);
        }
        let out_len = planes * coarse.double().plane_len();
        let mut core_out = garbage(out_len);
        upsample_nearest2(&Serial, coarse, planes, &input, &mut core_out)
            .expect("the core up-samples");
        let mut device_out = garbage(out_len);
        pipeline
            .run(coarse, planes, &input, &mut device_out)
            .expect("the device up-samples");
        assert_same_bits(
            &format!("upsample of {height}×{width}, {planes} planes"),
            coarse.double(),
            &device_out,
            &core_out,
        );
    }
}

/// The device refuses bad arguments with the core's error for the same arguments.
#[test]
fn device_resampling_refuses_what_the_core_refuses() {
    let Some(pool) = pipeline_or_skip(AvgPool2::new) else {
        return;
    };
    let Some(upsample) = pipeline_or_skip(UpsampleNearest2::new) else {
        return;
    };
    let g = Geometry::new(4, 6);
    let data = vec![0.0f32; 2 * g.double().plane_len()];
    let fine_len = 2 * g.plane_len();
    let coarse_len = 2 * g.half().plane_len();
    let pool_cases = [
        (Geometry::new(3, 6), fine_len, coarse_len),
        (Geometry::new(4, 5), fine_len, coarse_len),
        (g, fine_len - 1, coarse_len),
        (g, fine_len, coarse_len + 1),
    ];
    for (fine, input_len, out_len) in pool_cases {
        let mut out = vec![0.0f32; out_len];
        let input = &data[..input_len];
        let core: Error =
            avg_pool2(&Serial, fine, 2, input, &mut out).expect_err("the core refuses");
        match pool.run(fine, 2, input, &mut out) {
            Err(GpuError::Core(device)) => assert_eq!(device, core),
            other => panic!("expected the core's error {core:?}, got {other:?}"),
        }
    }
    let up_len = 2 * g.double().plane_len();
    let upsample_cases = [(fine_len + 1, up_len), (fine_len, up_len - 1), (0, 0)];
    for (input_len, out_len) in upsample_cases {
        let mut out = vec![0.0f32; out_len];
        let input = &data[..input_len];
        let core: Error =
            upsample_nearest2(&Serial, g, 2, input, &mut out).expect_err("the core refuses");
        match upsample.run(g, 2, input, &mut out) {
            Err(GpuError::Core(device)) => assert_eq!(device, core),
            other => panic!("expected the core's error {core:?}, got {other:?}"),
        }
    }
}
