//! Exponentials `e^x` and `2^x`.
//!
//! ## Algorithm (`exp`)
//! 1. Special cases: NaN → NaN; `x > 88.8` → `+∞`; `x < −87.5` → `+0` (the true value is
//!    below the smallest normal `2^−126`; flushed, see below).
//! 2. Range reduction `x = k·ln 2 + r`: `k = roundEven(x · log2 e)` (shifter trick), then
//!    Cody–Waite `r = (x − k·C1) − k·C2` with `C1 = 0.693359375` (9 significant bits, so
//!    `k·C1` and `x − k·C1` are exact for `|k| ≤ 128`) and `C2 = −2.12194440e−4`
//!    (`C1 + C2 ≈ ln 2`). `|r| ≤ 0.3466`.
//! 3. `e^r ≈ 1 + (r + r²·P(r))`, `P` the degree-5 minimax polynomial of Cephes `expf`
//!    evaluated in Horner order from the highest coefficient. The only large rounding
//!    is the final `1 + (…)`.
//! 4. Scale by `2^k` through the exponent field: `k = 128` uses `(p·2)·2^127` (overflows to
//!    `+∞` as it should); results that would be below `2^−126` (`k < −126`, or `k = −126`
//!    with `p < 1`) are flushed to `+0` before any subnormal arithmetic happens.
//!
//! `exp2` reduces with `k = roundEven(x)`, `f = x − k` (exact), `r = f · ln 2` (one
//! rounding) and reuses the same kernel.
//!
//! ## Special cases
//! `exp(NaN) = NaN`, `exp(+∞) = +∞`, `exp(−∞) = +0`, overflow → `+∞`, results below
//! `2^−126` → `+0`. Subnormal inputs give exactly `1`.
//!
//! ## Accuracy (measured against f64 `exp`/`exp2`, all 2^32 inputs exhaustively,
//! `cargo test -p powerpost-core --release -- --ignored exhaustive_exp`)
//! - `exp`: max **0.991 ulp** (at `x = 70.4031`), flushed range excluded.
//! - `exp2`: max **0.990 ulp** (at `x = −0.43481714`), flushed range excluded.
//!
//! The tests assert `≤ 1.0 ulp` on every 97th bit pattern (and exhaustively when run
//! with `--ignored`).

use super::bits::{is_nan, pow2, round_even};

/// log2(e) rounded to f32.
const LOG2_E: f32 = core::f32::consts::LOG2_E;
/// High part of ln 2 (9 significant bits, exact products with |k| ≤ 128).
const LN2_HI: f32 = 0.693_359_375;
/// Low part of ln 2: `ln 2 − LN2_HI` rounded to f32.
const LN2_LO: f32 = -2.121_944_4e-4;
/// ln 2 rounded to f32 (used by `exp2`).
const LN2: f32 = core::f32::consts::LN_2;

/// Minimax coefficients of `(e^r − 1 − r)/r²` on `|r| ≤ ln2/2` (Cephes `expf`), highest
/// degree first.
const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    5.000_000_1e-1,
];

/// Above this `exp` overflows (`k` would exceed 128).
const EXP_OVERFLOW: f32 = 88.8;
/// Below this the result is under `2^−126` and flushed to zero.
const EXP_UNDERFLOW: f32 = -87.5;

/// `e^r` for `|r| ≤ 0.35`: `1 + (r + r²·P(r))`.
#[inline(always)]
fn exp_kernel(r: f32) -> f32 {
    let mut p = EXP_POLY[0];
    let mut i = 1;
    while i < EXP_POLY.len() {
        p = p * r + EXP_POLY[i];
        i += 1;
    }
    let z = r * r;
    1.0 + (r + z * p)
}

/// `p · 2^k` for `k ∈ [−126, 128]`, flushing results below `2^−126` to `+0`.
#[inline(always)]
fn scale(p: f32, k: i32) -> f32 {
    if k == 128 {
        (p * 2.0) * pow2(127)
    } else if k < -126 || (k == -126 && p < 1.0) {
        0.0
    } else {
        p * pow2(k)
    }
}

/// `e^x`, max error 0.991 ulp; overflow → `+∞`, results below `2^−126` → `+0`.
#[inline]
pub fn exp(x: f32) -> f32 {
    if is_nan(x) {
        return x;
    }
    if x > EXP_OVERFLOW {
        return f32::INFINITY;
    }
    if x < EXP_UNDERFLOW {
        return 0.0;
    }
    let k = round_even(x * LOG2_E);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    scale(exp_kernel(r), k as i32)
}

/// `exp(a)` for `a ≤ 87.5` (or NaN) without branches, bit-identical to [`exp`] there:
/// the same reduction, kernel and scaling, with the special cases as selects so that a
/// loop over it vectorises (`a > 87.5` gives `exp(87.5)`; callers select it away). Used
/// by [`super::silu`].
#[inline(always)]
pub(crate) fn exp_at_most_87_5(a: f32) -> f32 {
    // Clamp so that the scaling below stays in range; the selects restore exp's results.
    let clamped = if a < EXP_UNDERFLOW { EXP_UNDERFLOW } else { a };
    let clamped = if clamped > 87.5 { 87.5 } else { clamped };
    let k = round_even(clamped * LOG2_E);
    let r = (clamped - k * LN2_HI) - k * LN2_LO;
    let p = exp_kernel(r);
    // k is an integer-valued float with |k| < 2^22: its value sits in the low mantissa
    // bits of k + 1.5·2^23 (exactly `k as i32`, without a float-to-int conversion that
    // would not vectorise).
    let ki = (k + 12_582_912.0).to_bits() as i32 - 0x4B40_0000;
    let flushed = ki < -126 || (ki == -126 && p < 1.0) || a < EXP_UNDERFLOW;
    let value = p * pow2(ki.max(-126));
    let value = if flushed { 0.0 } else { value };
    if is_nan(a) {
        a
    } else {
        value
    }
}

/// `2^x`, max error 0.990 ulp; overflow → `+∞`, results below `2^−126` → `+0`.
#[inline]
pub fn exp2(x: f32) -> f32 {
    if is_nan(x) {
        return x;
    }
    if x >= 128.0 {
        return f32::INFINITY;
    }
    if x < -126.0 {
        return 0.0;
    }
    let k = round_even(x);
    let r = (x - k) * LN2;
    scale(exp_kernel(r), k as i32)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::ulp::{all, exhaustive, strided};
    use super::*;

    /// Asserted bound for `exp` (measured maximum, rounded up).
    const EXP_BOUND: f64 = 1.0;
    /// Asserted bound for `exp2`.
    const EXP2_BOUND: f64 = 1.0;

    fn exp_ref(x: f64) -> f64 {
        x.exp()
    }
    fn exp2_ref(x: f64) -> f64 {
        x.exp2()
    }

    #[test]
    fn exp_strided_within_bound() {
        let worst = strided(exp, exp_ref, all);
        std::println!("strided exp: {worst:?}");
        assert!(worst.ulps <= EXP_BOUND, "{worst:?}");
    }

    #[test]
    fn exp2_strided_within_bound() {
        let worst = strided(exp2, exp2_ref, all);
        std::println!("strided exp2: {worst:?}");
        assert!(worst.ulps <= EXP2_BOUND, "{worst:?}");
    }

    #[test]
    #[ignore = "exhaustive over 2^32 inputs; run offline"]
    fn exhaustive_exp() {
        let worst = exhaustive(exp, exp_ref, all);
        std::println!("exp exhaustive: {worst:?}");
        let worst2 = exhaustive(exp2, exp2_ref, all);
        std::println!("exp2 exhaustive: {worst2:?}");
        assert!(worst.ulps <= EXP_BOUND && worst2.ulps <= EXP2_BOUND);
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(f32::from_bits(1)), 1.0);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY).to_bits(), 0);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(88.8), f32::INFINITY);
        assert_eq!(exp(f32::from_bits(0x42B1_7218)), f32::INFINITY);
        assert!(exp(f32::from_bits(0x42B1_7217)).is_finite());
        assert_eq!(exp(-87.4).to_bits(), 0);
        assert!(exp(-87.3) >= f32::MIN_POSITIVE);
        assert_eq!(exp2(3.0), 8.0);
        assert_eq!(exp2(-126.0), f32::MIN_POSITIVE);
        assert_eq!(exp2(127.0), 2f32.powi(127));
        assert_eq!(exp2(128.0), f32::INFINITY);
        assert_eq!(exp2(-126.5).to_bits(), 0);
        // Integer powers of two are exact.
        for k in -126..128 {
            assert_eq!(exp2(k as f32), 2f32.powi(k), "{k}");
        }
    }
}
