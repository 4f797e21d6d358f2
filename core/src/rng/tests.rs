//! Statistical and mapping tests of the RNG (std allowed here).

extern crate std;

use super::*;
use std::vec;
use std::vec::Vec;

/// `erf(x)` in f64: Taylor series for `|x| < 3`, continued fraction for `erfc` beyond
/// (absolute error far below 1e-12, ample for a Kolmogorov–Smirnov test).
fn erf(x: f64) -> f64 {
    let a = x.abs();
    let value = if a < 3.0 {
        // erf x = 2/√π · Σ (−1)^n x^(2n+1) / (n! (2n+1))
        let mut term = a;
        let mut sum = a;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -a * a / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / core::f64::consts::PI.sqrt()
    } else {
        // erfc x = e^{−x²}/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))), evaluated bottom-up.
        let mut fraction = a;
        let mut k = 60.0;
        while k > 0.0 {
            fraction = a + (k / 2.0) / fraction;
            k -= 1.0;
        }
        1.0 - (-a * a).exp() / core::f64::consts::PI.sqrt() / fraction
    };
    value.copysign(x)
}

/// Standard normal CDF.
fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / core::f64::consts::SQRT_2))
}

#[test]
fn erf_reference_is_accurate() {
    // Values of erf from Abramowitz & Stegun table 7.1 / well-known constants.
    let table = [
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (2.0, 0.995_322_265_018_952_7),
        (3.0, 0.999_977_909_503_001_4),
        (4.0, 0.999_999_984_582_742_1),
    ];
    for (x, want) in table {
        assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {}", erf(x));
        assert!((erf(-x) + want).abs() < 1e-14);
    }
    assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-13);
}

#[test]
fn mapping_matches_documentation() {
    let seed = 0x0123_4567_89AB_CDEFu64;
    let stream_id = 0xFEDC_BA98_7654_3210u64;
    let stream = NoiseStream::new(seed, stream_id);
    for index in [0u64, 1, 2, 3, 4, 5, 1 << 33, (1 << 40) + 7, u64::MAX] {
        let block = index / 4;
        let words = philox4x32_10(
            [
                block as u32,
                (block >> 32) as u32,
                stream_id as u32,
                (stream_id >> 32) as u32,
            ],
            [seed as u32, (seed >> 32) as u32],
        );
        let lane = (index % 4) as usize;
        assert_eq!(
            stream.uniform(index).to_bits(),
            u32_to_open01(words[lane]).to_bits()
        );
        assert_eq!(
            stream.gaussian(index).to_bits(),
            gaussian4(words)[lane].to_bits()
        );
    }
}

#[test]
fn uniform_conversion_is_open_exact_and_monotone() {
    assert_eq!(u32_to_open01(0), 2f32.powi(-33));
    assert_eq!(u32_to_open01(u32::MAX), 1.0 - 2f32.powi(-24));
    assert_eq!(
        u32_to_open01((1 << 23) - 1),
        ((1u64 << 23) as f32 - 0.5) * 2f32.powi(-32)
    );
    let mut previous = 0.0f32;
    let mut word = 0u32;
    loop {
        let u = u32_to_open01(word);
        assert!(u > 0.0 && u < 1.0, "{word}");
        assert!(u >= previous, "{word}");
        // Exact: the midpoint of the words mapping to it.
        let want = if word < 1 << 23 {
            (word as f64 + 0.5) * 2f64.powi(-32)
        } else {
            ((word >> 9) as f64 + 0.5) * 2f64.powi(-23)
        };
        assert_eq!(u as f64, want, "{word}");
        previous = u;
        match word.checked_add(251) {
            Some(w) => word = w,
            None => break,
        }
    }
}

#[test]
fn uniform_moments() {
    let stream = NoiseStream::new(7, 0);
    let n = 1_000_000;
    let mut buf = vec![0.0f32; n];
    stream.fill_uniform(0, &mut buf);
    let mean = buf.iter().map(|&u| u as f64).sum::<f64>() / n as f64;
    let var = buf.iter().map(|&u| (u as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    // Standard errors: 0.289/√n for the mean, ≈ 0.0745/√n for the variance.
    assert!(
        (mean - 0.5).abs() < 5.0 * 0.2887 / (n as f64).sqrt(),
        "{mean}"
    );
    assert!(
        (var - 1.0 / 12.0).abs() < 5.0 * 0.0745 / (n as f64).sqrt(),
        "{var}"
    );
    assert!(buf.iter().all(|&u| u > 0.0 && u < 1.0));
}

/// One million Gaussian numbers from stream `(seed, stream)`.
fn gaussian_sample(seed: u64, stream: u64, n: usize) -> Vec<f32> {
    let mut buf = vec![0.0f32; n];
    NoiseStream::new(seed, stream).fill_gaussian(0, &mut buf);
    buf
}

#[test]
fn gaussian_moments_within_statistical_error() {
    let n = 1_000_000;
    let sample = gaussian_sample(42, 3, n);
    let nf = n as f64;
    let mean = sample.iter().map(|&g| g as f64).sum::<f64>() / nf;
    let central = |p: i32| {
        sample
            .iter()
            .map(|&g| (g as f64 - mean).powi(p))
            .sum::<f64>()
            / nf
    };
    let var = central(2);
    let skew = central(3) / var.powf(1.5);
    let excess_kurtosis = central(4) / (var * var) - 3.0;
    // Five standard errors: √(1/n), √(2/n), √(6/n), √(24/n).
    std::println!("gaussian moments: mean {mean:e} var {var} skew {skew:e} excess kurtosis {excess_kurtosis:e}");
    assert!(mean.abs() < 5.0 * (1.0 / nf).sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < 5.0 * (2.0 / nf).sqrt(), "var {var}");
    assert!(skew.abs() < 5.0 * (6.0 / nf).sqrt(), "skew {skew}");
    assert!(
        excess_kurtosis.abs() < 5.0 * (24.0 / nf).sqrt(),
        "kurtosis {excess_kurtosis}"
    );
    assert!(sample.iter().all(|g| g.abs() <= 6.77));
}

#[test]
fn gaussian_kolmogorov_smirnov() {
    let n = 1_000_000;
    let mut sample = gaussian_sample(2024, 0, n);
    sample.sort_by(|a, b| a.total_cmp(b));
    let nf = n as f64;
    let mut d = 0.0f64;
    for (i, &g) in sample.iter().enumerate() {
        let cdf = normal_cdf(g as f64);
        d = d.max((i as f64 + 1.0) / nf - cdf).max(cdf - i as f64 / nf);
    }
    // Kolmogorov distribution: P(√n·D > 1.95) ≈ 0.001.
    std::println!("KS: sqrt(n)·D = {}", d * nf.sqrt());
    assert!(
        d * nf.sqrt() < 1.95,
        "KS statistic √n·D = {}",
        d * nf.sqrt()
    );
}

#[test]
fn box_muller_matches_f64_reference() {
    let stream = NoiseStream::new(99, 1);
    let mut worst = 0.0f64;
    for block in 0..50_000u64 {
        let words = stream.block(block);
        let got = gaussian4(words);
        for pair in 0..2 {
            let u1 = u32_to_open01(words[2 * pair]) as f64;
            let u2 = u32_to_open01(words[2 * pair + 1]) as f64;
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = core::f64::consts::TAU * u2;
            for (lane, want) in [(0, r * theta.cos()), (1, r * theta.sin())] {
                let e = (got[2 * pair + lane] as f64 - want).abs();
                worst = worst.max(e);
            }
        }
    }
    std::println!("Box–Muller vs f64: worst abs error {worst:e}");
    // f32 rounding of θ = 2π·u2 alone contributes up to r·2π·2^−24.
    assert!(worst < 3e-6, "{worst}");
}

#[test]
fn fill_matches_per_index_for_unaligned_ranges() {
    let stream = NoiseStream::new(5, 11);
    let mut buf = [0.0f32; 17];
    for offset in (0u64..9).chain([(1 << 35) + 2, u64::MAX - 6]) {
        for len in 0..=buf.len() {
            stream.fill_gaussian(offset, &mut buf[..len]);
            for (i, &g) in buf[..len].iter().enumerate() {
                let index = offset.wrapping_add(i as u64);
                assert_eq!(
                    g.to_bits(),
                    stream.gaussian(index).to_bits(),
                    "{offset} {len} {i}"
                );
            }
            stream.fill_uniform(offset, &mut buf[..len]);
            for (i, &u) in buf[..len].iter().enumerate() {
                let index = offset.wrapping_add(i as u64);
                assert_eq!(
                    u.to_bits(),
                    stream.uniform(index).to_bits(),
                    "{offset} {len} {i}"
                );
            }
        }
    }
}

/// Pearson correlation of two equally long samples.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let mean_a = a.iter().map(|&x| x as f64).sum::<f64>() / n;
    let mean_b = b.iter().map(|&x| x as f64).sum::<f64>() / n;
    let mut cov = 0.0;
    let mut var_a = 0.0;
    let mut var_b = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x as f64 - mean_a, y as f64 - mean_b);
        cov += dx * dy;
        var_a += dx * dx;
        var_b += dy * dy;
    }
    cov / (var_a * var_b).sqrt()
}

#[test]
fn streams_seeds_and_lanes_are_uncorrelated() {
    let n = 200_000;
    let bound = 5.0 / (n as f64).sqrt();
    let base = gaussian_sample(1, 0, n);
    for (seed, stream) in [(1u64, 1u64), (1, 1 << 32), (2, 0), (1 << 32, 0)] {
        let other = gaussian_sample(seed, stream, n);
        let rho = correlation(&base, &other);
        assert!(rho.abs() < bound, "seed {seed} stream {stream}: {rho}");
        assert_ne!(base[..8], other[..8]);
    }
    // Neighbouring numbers in one stream (the Box–Muller partners, lag 1) and squares
    // (r is shared by a Box–Muller pair: uncorrelated but dependent only through r).
    let rho = correlation(&base[..n - 1], &base[1..]);
    assert!(rho.abs() < bound, "lag-1: {rho}");
    let rho = correlation(&base[..n - 4], &base[4..]);
    assert!(rho.abs() < bound, "lag-4: {rho}");
}
