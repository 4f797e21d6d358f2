//! Sine and cosine (radians).
//!
//! ## Algorithm
//! 1. Special cases: NaN, `±∞` and `|x| > 2^17` → NaN. `|x| < 2^−12`: `sin x = x`
//!    (returned bit for bit, so subnormals never enter arithmetic), `cos x = 1`.
//! 2. Quadrant `k = roundEven(x · 2/π)` (shifter trick, exact for `|x·2/π| < 2^22`).
//! 3. Cody–Waite reduction `r = x − k·π/2` with π/2 split into six f32 parts
//!    `P1 + … + P6` (`P1..P4` have at most 8 significant bits, so `k·P1 … k·P4` are exact
//!    for `|k| < 2^16.4`; `P5`, `P6` carry the next 48 bits; the parts add up to π/2
//!    within `3·10^−27`). `x − k·P1` and `… − k·P2` are exact; the subtractions of `k·P3`,
//!    `k·P4` and of `k·P5` (itself split exactly by Dekker's product into `p5 + p5_err`)
//!    are done with Knuth's two-sum so their rounding errors are kept; the tail
//!    `(err3 + err4 + err5) − (p5_err + k·P6)` is added with a final two-sum. The reduced
//!    argument comes out as an unevaluated sum `r = r_hi + r_lo`. When `r` is tiny (`x`
//!    near a multiple of π/2) the chain of subtractions is exact (Sterbenz) and only the
//!    tail rounds, so the absolute error is about `2^−24·|k·P6| < 10^−21` and the relative
//!    accuracy of the result is kept. `|r| ≤ π/4 + 0.006`.
//! 4. Kernels on `z = r_hi²` (computed exactly as `z + z_err` with Dekker's product for
//!    `cos`), truncated Taylor series in Horner order from the highest coefficient
//!    (truncation error below `3·10^−9` relative for `|r| ≤ 0.8`):
//!    `sin r = r_hi + ((r_hi·z)·S(z) + (r_lo − (0.5·z)·r_lo))`, `S` of degree 3;
//!    `cos r = 1 − (0.5·z − ((z·z)·C(z) − (r_hi·r_lo + 0.5·z_err)))`, `C` of degree 3.
//! 5. Quadrant selection by `k mod 4` (integer): `sin x = ±sin r` or `±cos r`, and
//!    likewise for `cos`. The whole computation is symmetric in the sign of `x`, so
//!    `sin(−x) = −sin x` and `cos(−x) = cos x` bit for bit.
//!
//! ## Range
//! Accurate for `|x| ≤ 131072 = 2^17` (then `|k| < 2^16.4`, so all `k·Pi` are exact).
//! Beyond that the reduction would lose accuracy quickly (`k·P1` starts to round: an
//! error of order `2^−6` at `|x| = 2^18`), so `|x| > 2^17` returns NaN rather than a
//! silently wrong phase.
//!
//! ## Accuracy (measured against f64 `sin`/`cos`, exhaustively over all f32 with
//! `|x| ≤ 2^17`, `cargo test -p powerpost-core --release -- --ignored exhaustive_trig`)
//! - `sin`: max **0.818 ulp** (at `x = 974.6886`).
//! - `cos`: max **0.826 ulp** (at `x = 2.3813272`).
//!
//! Negative inputs follow from the exact symmetry. The tests assert `≤ 0.83 ulp` on every
//! 97th bit pattern with `|x| ≤ 2^17`, and exhaustively with `--ignored`.

use super::bits::{is_nan, round_even, two_prod, two_sum, ABS_MASK, INF_BITS};

/// 2/π rounded to f32.
const TWO_OVER_PI: f32 = core::f32::consts::FRAC_2_PI;
/// π/2, part 1 (8 significant bits).
const PIO2_1: f32 = 1.570_312_5;
/// π/2, part 2 (8 significant bits).
const PIO2_2: f32 = 4.844_665_527_343_75e-4;
/// π/2, part 3 (8 significant bits).
const PIO2_3: f32 = -6.407_499_313_354_492e-7;
/// π/2, part 4 (8 significant bits).
const PIO2_4: f32 = 9.895_302_355_289_46e-10;
/// π/2, part 5 (24 significant bits).
const PIO2_5: f32 = 2.563_344_068_257_089_6e-12;
/// π/2, part 6 (24 significant bits).
const PIO2_6: f32 = 8.333_743_212_599_745e-20;

/// Above this `|x|` the result is NaN (2^17).
const TRIG_LIMIT: f32 = 131_072.0;

/// Below this `|x|`, `sin x = x` and `cos x = 1` in f32.
const TINY: f32 = 2.441_406_25e-4; // 2^-12

/// Taylor coefficients of `(sin r − r)/r³` in `z = r²`, highest degree first:
/// `1/9!`, `−1/7!`, `1/5!`, `−1/3!`.
const SIN_POLY: [f32; 4] = [
    2.755_731_9e-6,
    -1.984_127e-4,
    8.333_333_5e-3,
    -1.666_666_7e-1,
];
/// Taylor coefficients of `(cos r − 1 + r²/2)/r⁴` in `z = r²`, highest degree first:
/// `−1/10!`, `1/8!`, `−1/6!`, `1/4!`.
const COS_POLY: [f32; 4] = [
    -2.755_731_9e-7,
    2.480_158_7e-5,
    -1.388_888_9e-3,
    4.166_666_8e-2,
];

/// `sin(r_hi + r_lo)` for `|r_hi| ≤ 0.8`, `|r_lo| ≤ ulp(r_hi)`, with `z = r_hi²`.
#[inline(always)]
fn sin_kernel(r_hi: f32, r_lo: f32, z: f32) -> f32 {
    let mut p = SIN_POLY[0];
    let mut i = 1;
    while i < SIN_POLY.len() {
        p = p * z + SIN_POLY[i];
        i += 1;
    }
    r_hi + ((r_hi * z) * p + (r_lo - (0.5 * z) * r_lo))
}

/// `cos(r_hi + r_lo)` for `|r_hi| ≤ 0.8`, with `r_hi² = z + z_err` exactly.
#[inline(always)]
fn cos_kernel(r_hi: f32, r_lo: f32, z: f32, z_err: f32) -> f32 {
    let mut p = COS_POLY[0];
    let mut i = 1;
    while i < COS_POLY.len() {
        p = p * z + COS_POLY[i];
        i += 1;
    }
    1.0 - (0.5 * z - ((z * z) * p - (r_hi * r_lo + 0.5 * z_err)))
}

/// Reduces `x` (finite, `2^−12 ≤ |x| ≤ 2^17`) to `(r_hi, r_lo, k mod 4)` with
/// `x ≈ k·π/2 + r_hi + r_lo`.
#[inline(always)]
fn reduce(x: f32) -> (f32, f32, u32) {
    let k = round_even(x * TWO_OVER_PI);
    let r2 = (x - k * PIO2_1) - k * PIO2_2;
    let (r3, r3_err) = two_sum(r2, -(k * PIO2_3));
    let (r4, r4_err) = two_sum(r3, -(k * PIO2_4));
    let (p5, p5_err) = two_prod(k, PIO2_5);
    let (r5, r5_err) = two_sum(r4, -p5);
    let tail = ((r3_err + r4_err) + r5_err) - (p5_err + k * PIO2_6);
    let (r_hi, r_lo) = two_sum(r5, tail);
    (r_hi, r_lo, (k as i32 as u32) & 3)
}

/// `(sin x, cos x)` with one shared reduction; same accuracy and special cases as
/// [`sin`] and [`cos`].
#[inline]
pub fn sin_cos(x: f32) -> (f32, f32) {
    let abs_bits = x.to_bits() & ABS_MASK;
    let abs_x = f32::from_bits(abs_bits);
    if is_nan(x) || abs_bits == INF_BITS || abs_x > TRIG_LIMIT {
        return (f32::NAN, f32::NAN);
    }
    if abs_x < TINY {
        return (x, 1.0);
    }
    let (r_hi, r_lo, quadrant) = reduce(x);
    let (z, z_err) = two_prod(r_hi, r_hi);
    let s = sin_kernel(r_hi, r_lo, z);
    let c = cos_kernel(r_hi, r_lo, z, z_err);
    match quadrant {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// `sin x`, max error 0.818 ulp for `|x| ≤ 2^17`; NaN, `±∞`, `|x| > 2^17` → NaN.
#[inline]
pub fn sin(x: f32) -> f32 {
    sin_cos(x).0
}

/// `cos x`, max error 0.826 ulp for `|x| ≤ 2^17`; NaN, `±∞`, `|x| > 2^17` → NaN.
#[inline]
pub fn cos(x: f32) -> f32 {
    sin_cos(x).1
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::ulp::{strided, sweep};
    use super::*;

    /// Asserted bound for `sin` and `cos` on `|x| ≤ 2^17` (measured maximum, rounded up).
    const TRIG_BOUND: f64 = 0.83;
    /// Bit pattern of 2^17.
    const LIMIT_BITS: u32 = 0x4800_0000;

    fn in_range(x: f32) -> bool {
        x.abs() <= 131_072.0
    }
    fn sin_ref(x: f64) -> f64 {
        x.sin()
    }
    fn cos_ref(x: f64) -> f64 {
        x.cos()
    }

    #[test]
    fn sin_strided_within_bound() {
        let worst = strided(sin, sin_ref, in_range);
        std::println!("strided sin: {worst:?}");
        assert!(worst.ulps <= TRIG_BOUND, "{worst:?}");
    }

    #[test]
    fn cos_strided_within_bound() {
        let worst = strided(cos, cos_ref, in_range);
        std::println!("strided cos: {worst:?}");
        assert!(worst.ulps <= TRIG_BOUND, "{worst:?}");
    }

    #[test]
    #[ignore = "exhaustive over all |x| ≤ 2^17; run offline"]
    fn exhaustive_trig() {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1);
        // Positive inputs only: the functions are exactly odd / even (tested below).
        let s = sweep(sin, sin_ref, in_range, 0, LIMIT_BITS as u64 + 1, 1, threads);
        std::println!("sin exhaustive |x| <= 2^17: {s:?}");
        let c = sweep(cos, cos_ref, in_range, 0, LIMIT_BITS as u64 + 1, 1, threads);
        std::println!("cos exhaustive |x| <= 2^17: {c:?}");
        assert!(s.ulps <= TRIG_BOUND && c.ulps <= TRIG_BOUND);
    }

    #[test]
    fn symmetry_is_exact() {
        let mut bits = 0u32;
        while bits <= LIMIT_BITS {
            let x = f32::from_bits(bits);
            assert_eq!(sin(-x).to_bits(), (-sin(x)).to_bits(), "{x}");
            assert_eq!(cos(-x).to_bits(), cos(x).to_bits(), "{x}");
            bits += 1_009;
        }
    }

    #[test]
    fn beyond_range_is_nan() {
        let mut bits = LIMIT_BITS + 1;
        while bits <= INF_BITS {
            let x = f32::from_bits(bits);
            assert!(sin(x).is_nan() && cos(-x).is_nan(), "{x}");
            bits += 4_099;
        }
        assert!(!sin(131_072.0).is_nan());
    }

    #[test]
    fn trig_special_values() {
        assert!(sin(f32::NAN).is_nan());
        assert!(cos(f32::INFINITY).is_nan());
        assert!(sin(f32::NEG_INFINITY).is_nan());
        assert_eq!(sin(0.0).to_bits(), 0);
        assert_eq!(sin(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(cos(-0.0), 1.0);
        let tiny = f32::from_bits(3);
        assert_eq!(sin(tiny).to_bits(), tiny.to_bits());
        assert_eq!(sin_cos(1.0), (sin(1.0), cos(1.0)));
        // sin² + cos² ≈ 1 over a modest range.
        for i in 0..10_000 {
            let x = i as f32 * 0.01 - 50.0;
            let (s, c) = sin_cos(x);
            assert!(
                (s as f64 * s as f64 + c as f64 * c as f64 - 1.0).abs() < 3e-7,
                "{x}"
            );
        }
    }
}
