//! The device's dense layer and Fourier features return the core's bits:
//! `powerpost_gpu::linear::Linear` against `powerpost_core::nn::linear::linear` on random
//! weights, biases and inputs of several shapes (one input, none, long rows, more outputs
//! than a work group), and `powerpost_gpu::linear::FourierFeatures` against
//! `powerpost_core::nn::linear::fourier_features` over the noise levels the network sees,
//! random ones and the special values (±0, ±∞, NaN, arguments past the trig range).
//!
//! Without a Vulkan driver or without `glslc` at build time the tests print why and pass,
//! unless `POWERPOST_REQUIRE_VULKAN=1` (CI sets it), which turns that into a failure.

#[allow(dead_code)] // `padded` and the planar `assert_same_bits` are for the tensor tests
mod common;

use common::{garbage, pipeline_or_skip, Rng};
use powerpost_core::nn::linear::{fourier_features, linear, FREQUENCIES};
use powerpost_core::Error;
use powerpost_gpu::linear::{FourierFeatures, Linear};
use powerpost_gpu::GpuError;

/// Panics listing the first differing values (index, device and core bits).
fn assert_same_bits(what: &str, device: &[f32], core: &[f32]) {
    assert_eq!(device.len(), core.len(), "{what}: lengths differ");
    let bad: Vec<String> = device
        .iter()
        .zip(core)
        .enumerate()
        .filter(|(_, (d, c))| d.to_bits() != c.to_bits())
        .map(|(i, (d, c))| {
            format!(
                "value {i}: device {:#010x} ({d:e}), core {:#010x} ({c:e})",
                d.to_bits(),
                c.to_bits()
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: {} of {} values differ:\n{}",
        bad.len(),
        core.len(),
        bad[..bad.len().min(4)].join("\n")
    );
}

#[test]
fn device_linear_matches_the_core() {
    let Some(pipeline) = pipeline_or_skip(Linear::new) else {
        return;
    };
    // (outputs, inputs): the embedding MLP's shapes and odd ones around a work group.
    let shapes = [
        (1, 1),
        (7, 13),
        (64, 256),
        (256, 64),
        (130, 3),
        (3, 0),
        (0, 5),
    ];
    for (seed, &(outs, ins)) in shapes.iter().enumerate() {
        let mut rng = Rng::new(0x11_2EA4 + seed as u64);
        let weight = rng.values(outs * ins);
        let bias = rng.values(outs);
        let input = rng.values(ins);
        let mut core_out = garbage(outs);
        linear(&weight, &bias, &input, &mut core_out).expect("the core applies the layer");
        let mut device_out = garbage(outs);
        pipeline
            .run(&weight, &bias, &input, &mut device_out)
            .expect("the device applies the layer");
        assert_same_bits(&format!("linear {outs}×{ins}"), &device_out, &core_out);
    }
}

/// The device refuses bad arguments with the core's error for the same arguments.
#[test]
fn device_linear_refuses_what_the_core_refuses() {
    let Some(pipeline) = pipeline_or_skip(Linear::new) else {
        return;
    };
    let weight = vec![0.5f32; 12];
    let bias = vec![0.25f32; 3];
    let input = vec![1.0f32; 4];
    // (weight, bias, input, output length)
    type Args<'a> = (&'a [f32], &'a [f32], &'a [f32], usize);
    let bad: [Args<'_>; 5] = [
        (&weight[1..], &bias, &input, 3),
        (&weight, &bias[1..], &input, 3),
        (&weight, &bias, &input[1..], 3),
        (&weight, &bias, &input, 2),
        (&weight, &bias, &[], 3),
    ];
    for (weight, bias, input, out_len) in bad {
        let mut out = vec![0.0f32; out_len];
        let core: Error = linear(weight, bias, input, &mut out).expect_err("the core refuses");
        match pipeline.run(weight, bias, input, &mut out) {
            Err(GpuError::Core(device)) => assert_eq!(device, core),
            other => panic!("expected the core's error {core:?}, got {other:?}"),
        }
    }
}

#[test]
fn device_fourier_features_match_the_core() {
    let Some(pipeline) = pipeline_or_skip(FourierFeatures::new) else {
        return;
    };
    let mut rng = Rng::new(0xF0_421E);
    // c_noise = ln(σ) / 4 over the sampler's σ range 0.002 … 80, random magnitudes,
    // special values, and the edge of detmath's trig range (|a| > 2^17 gives NaN).
    let mut levels: Vec<f32> = (0..=40)
        .map(|k| (0.002f32.ln() + k as f32 * (80f32 / 0.002).ln() / 40.0) / 4.0)
        .collect();
    levels.extend(rng.values(40));
    levels.extend((0..20).map(|_| rng.value() * 64.0));
    levels.extend([
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::from_bits(1),
        131_072.0 / FREQUENCIES[31],
        600.0,
        -1e30,
    ]);
    let len = 2 * FREQUENCIES.len();
    for c_noise in levels {
        let mut core_out = garbage(len);
        fourier_features(c_noise, &mut core_out).expect("the core computes the features");
        let mut device_out = garbage(len);
        pipeline
            .run(c_noise, &mut device_out)
            .expect("the device computes the features");
        assert_same_bits(
            &format!(
                "Fourier features of c_noise = {c_noise:e} ({:#010x})",
                c_noise.to_bits()
            ),
            &device_out,
            &core_out,
        );
    }
}

/// The device refuses bad arguments with the core's error for the same arguments.
#[test]
fn device_fourier_features_refuse_what_the_core_refuses() {
    let Some(pipeline) = pipeline_or_skip(FourierFeatures::new) else {
        return;
    };
    for len in [0, 2 * FREQUENCIES.len() - 1, 2 * FREQUENCIES.len() + 1] {
        let mut out = vec![0.0f32; len];
        let core: Error = fourier_features(0.5, &mut out).expect_err("the core refuses");
        match pipeline.run(0.5, &mut out) {
            Err(GpuError::Core(device)) => assert_eq!(device, core),
            other => panic!("expected the core's error {core:?}, got {other:?}"),
        }
    }
}
