//! The GLSL twin of the core's deterministic math returns the core's bits on the Vulkan
//! device (Mesa's lavapipe in CI; any GPU present here).
//!
//! Bits must agree everywhere, except that two NaNs with different payloads count as equal
//! (a NaN made by an operation carries the hardware's default NaN).
//!
//! Without a Vulkan driver or without `glslc` at build time the tests print why and pass,
//! unless `POWERPOST_REQUIRE_VULKAN=1` (CI sets it), which turns that into a failure.

#[allow(dead_code)]
mod common;

use powerpost_gpu::detmath::{cpu_reference, DetmathCheck, FUNCTIONS, MAX_INPUTS};
use powerpost_gpu::GpuError;

/// The check pipeline on the best device, or `None` (with a note) where there is none and
/// none is required.
fn check_or_skip() -> Option<DetmathCheck> {
    common::pipeline_or_skip(DetmathCheck::new)
}

/// Special inputs: signed zeros, infinities, NaNs with payloads, subnormal and normal
/// extremes, and the thresholds where the functions change branch.
fn special_inputs() -> Vec<u32> {
    let mut v = vec![
        0x0000_0000,
        0x8000_0000,
        0x7F80_0000,
        0xFF80_0000,
        0x7FC0_0000,
        0xFFC0_0000,
        0x7F80_0001,
        0x7FA0_1234,
        0xFFFF_FFFF,
        0x0000_0001,
        0x8000_0001,
        0x007F_FFFF,
        0x807F_FFFF,
        0x0080_0000,
        0x8080_0000,
        0x7F7F_FFFF,
        0xFF7F_FFFF,
        0x3F80_0000,
        0xBF80_0000,
        0x3F00_0000,
        0x4000_0000,
    ];
    for x in [
        -87.34f32,
        -87.33,
        -87.336_54,
        88.722_84,
        88.72,
        89.0,
        -126.0,
        -125.5,
        -126.5,
        127.0,
        128.0,
        131_072.0,
        -131_072.0,
        131_073.0,
        0.5,
        1.5,
        2.5,
        -0.5,
        -1.5,
        1e-30,
        -1e-30,
        1e-38,
        3.0e38,
        8.5,
        -8.5,
        9.0,
        0.549_306_1,
        0.55,
        20.0,
        -20.0,
    ] {
        v.push(x.to_bits());
    }
    // Around every power of two (exponent boundaries) and the recip/rsqrt limits.
    for e in 0..255u32 {
        for d in [0u32, 1, 0x7F_FFFF] {
            v.push((e << 23) | d);
            v.push(0x8000_0000 | (e << 23) | d);
        }
    }
    v
}

/// Compares the device's results with the core's; panics listing the first mismatches.
fn compare(check: &DetmathCheck, x_bits: &[u32]) {
    let n = x_bits.len();
    let gpu = check.run(x_bits).expect("the check shader runs");
    assert_eq!(gpu.len(), FUNCTIONS.len() * n);
    let mut report = Vec::new();
    let mut payload = 0usize;
    for (f, name) in FUNCTIONS.iter().enumerate() {
        let mut bad = 0usize;
        for i in 0..n {
            let x = f32::from_bits(x_bits[i]);
            let x2 = f32::from_bits(x_bits[n - 1 - i]);
            let cpu = cpu_reference(f, x, x2).to_bits();
            let dev = gpu[f * n + i];
            if cpu != dev && is_nan(cpu) && is_nan(dev) {
                // NaN made by an operation: the payload is the hardware's (module docs of
                // powerpost_core::detmath); NaN-ness is what must agree.
                payload += 1;
                continue;
            }
            if cpu != dev {
                if bad < 4 {
                    report.push(format!(
                        "{name}({:#010x} = {x:e}{}): device {dev:#010x} ({:e}), core {cpu:#010x} ({:e})",
                        x_bits[i],
                        if f == 13 { format!(", {x2:e}") } else { String::new() },
                        f32::from_bits(dev),
                        f32::from_bits(cpu),
                    ));
                }
                bad += 1;
            }
        }
        if bad > 0 {
            report.push(format!("{name}: {bad} of {n} inputs differ"));
        }
    }
    if payload > 0 {
        eprintln!("{payload} results are NaN on both sides with different payloads");
    }
    assert!(
        report.is_empty(),
        "device and core differ:\n{}",
        report.join("\n")
    );
}

/// `true` for the bit pattern of a NaN.
fn is_nan(bits: u32) -> bool {
    bits & 0x7FFF_FFFF > 0x7F80_0000
}

#[test]
fn device_detmath_matches_the_core_on_special_inputs() {
    let Some(check) = check_or_skip() else { return };
    compare(&check, &special_inputs());
}

#[test]
fn device_detmath_matches_the_core_on_a_million_bit_patterns() {
    let Some(check) = check_or_skip() else { return };
    // Every 4093rd bit pattern (4093 is prime, so the sample is uniform over the 2^32
    // patterns): ≈ 1.05 million inputs of every sign, exponent and NaN payload class.
    let x_bits: Vec<u32> = (0..=u32::MAX / 4093).map(|k| k * 4093 + 17).collect();
    compare(&check, &x_bits);
}

#[test]
fn device_div_matches_the_core_on_all_pairs_of_special_values() {
    let Some(check) = check_or_skip() else { return };
    let mut operands: Vec<u32> = special_inputs()[..51].to_vec();
    for x in [
        3.0f32,
        1e30,
        -1e30,
        7.0e-39,
        1.0e-45,
        8.507_059e37,
        1.701_411_8e38,
        5.9e-39,
    ] {
        operands.push(x.to_bits());
    }
    // Input i of the first half meets input n − 1 − i of the second half as divisor, so
    // laying the pairs out mirrored covers every (numerator, divisor) combination.
    let pairs: Vec<(u32, u32)> = operands
        .iter()
        .flat_map(|&a| operands.iter().map(move |&b| (a, b)))
        .collect();
    let mut x_bits: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    x_bits.extend(pairs.iter().rev().map(|p| p.1));
    compare(&check, &x_bits);
}

/// Every f32 bit pattern (4 billion inputs × 17 functions): minutes on a real GPU, hours on
/// lavapipe. `cargo test -p powerpost-gpu --release -- --ignored exhaustive`.
#[test]
#[ignore]
fn exhaustive_device_detmath_matches_the_core() {
    let Some(check) = check_or_skip() else { return };
    let chunk = MAX_INPUTS as u64;
    let mut start = 0u64;
    while start < 1 << 32 {
        let x_bits: Vec<u32> = (start..start + chunk).map(|v| v as u32).collect();
        compare(&check, &x_bits);
        start += chunk;
    }
}

#[test]
fn too_many_inputs_are_refused() {
    let Some(check) = check_or_skip() else { return };
    assert!(matches!(check.run(&[]), Err(GpuError::TooLarge { .. })));
    let big = vec![0u32; MAX_INPUTS + 1];
    assert!(matches!(check.run(&big), Err(GpuError::TooLarge { .. })));
}
