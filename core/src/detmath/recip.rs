//! Reciprocal `1/x` and division `a/b = a · (1/b)` without a division instruction.
//!
//! ## Algorithm
//! 1. Special cases on the bit pattern: NaN → NaN, `±∞ → ±0`, `±0 → ±∞`.
//! 2. Write `|x| = m · 2^e` with `m ∈ [1, 2)` by integer operations (subnormal inputs are
//!    normalised exactly with a leading-zero count, no float arithmetic on subnormals).
//! 3. Initial guess for `1/m` from the bit trick `y₀ = from_bits(0x7EF311C3 − bits(m))`
//!    (relative error < 12.5 %).
//! 4. Three Newton steps `y ← y + y·(1 − m·y)`, each written as one multiply, one
//!    subtract, one multiply, one add (relative error then ≈ 2^−23, limited by rounding of
//!    `m·y`).
//! 5. One final Newton step with an exact residual: Dekker's product gives
//!    `m·y = p + p_err` exactly, so `1 − m·y = (1 − p) − p_err` with `1 − p` exact
//!    (Sterbenz). The result is within a hair of correctly rounded.
//! 6. Scale by `2^−e` through the exponent field. Results below the smallest normal
//!    `2^−126` are flushed to `±0` (GPUs may flush them anyway); `|x| < 2^−128` overflows
//!    to `±∞` as IEEE division would.
//!
//! ## Accuracy (measured against f64 `1/x`)
//! `recip`: max error **0.50000005 ulp** over all 2^32 inputs, exhaustively
//! (`cargo test -p powerpost-core --release -- --ignored exhaustive_recip`), flushed range
//! `|x| > 2^126` excepted (returns `±0`); i.e. correctly rounded except for rare inputs
//! within `5·10^−8` ulp of a rounding tie.
//!
//! `div(a, b)`: `< 1.5 ulp + 2^−19` — `recip(b)` is off by at most `0.5·ulp(y)` (relative
//! `2^−24/m_y` for mantissa `m_y`), the product adds `0.5·ulp(q)`, and
//! `m_q/m_y < 2`; measured **1.48 ulp** on 2·10^6 random pairs with normal quotient and
//! `2^−128 ≤ |b| ≤ 2^126`. Outside that range
//! `div` inherits `recip`'s special values: for `|b| > 2^126`, `recip(b)` is flushed to
//! zero, so `div(a, b)` returns `±0` (or NaN for `a = ±∞`); for `|b| < 2^−128`,
//! `recip(b) = ±∞`, so `div(a, b)` is `±∞` (or NaN for `a = 0`).
//!
//! ## GLSL
//! All arithmetic must be `precise` (no contraction into `fma`, no reassociation); the bit
//! trick is `uintBitsToFloat(0x7EF311C3u - floatBitsToUint(m))`.

use super::bits::{decompose, is_nan, pow2, two_prod, ABS_MASK, INF_BITS, SIGN_MASK};

/// Magic constant of the initial reciprocal guess.
const RECIP_MAGIC: u32 = 0x7EF3_11C3;

/// `1/m` for `m ∈ [1, 2)` given as its bit pattern; result in `[0.5, 1]`.
#[inline(always)]
pub(crate) fn recip_mantissa(m_bits: u32) -> f32 {
    let (m, y) = recip_initial(m_bits);
    let y = recip_newton(m, recip_newton(m, recip_newton(m, y)));
    recip_final(m, y)
}

/// Stage 1 of [`recip_mantissa`]: `m` and the bit-trick guess `y₀`.
#[inline(always)]
pub(crate) fn recip_initial(m_bits: u32) -> (f32, f32) {
    (f32::from_bits(m_bits), f32::from_bits(RECIP_MAGIC - m_bits))
}

/// Stage 2 of [`recip_mantissa`] (applied three times): `y + y·(1 − m·y)`.
#[inline(always)]
pub(crate) fn recip_newton(m: f32, y: f32) -> f32 {
    let residual = 1.0 - m * y;
    y + y * residual
}

/// Stage 3 of [`recip_mantissa`]: the Newton step with an exact residual (Dekker).
#[inline(always)]
pub(crate) fn recip_final(m: f32, y: f32) -> f32 {
    let (p, p_err) = two_prod(m, y);
    let residual = (1.0 - p) - p_err;
    y + y * residual
}

/// `1/x`, max error 0.50000005 ulp (measured exhaustively); `recip(±0) = ±∞`, `recip(±∞) = ±0`, NaN → NaN,
/// `|x| > 2^126` → `±0` (flushed).
#[inline]
pub fn recip(x: f32) -> f32 {
    let bits = x.to_bits();
    let sign = bits & SIGN_MASK;
    let abs_bits = bits & ABS_MASK;
    if is_nan(x) {
        return x;
    }
    if abs_bits == INF_BITS {
        return f32::from_bits(sign);
    }
    if abs_bits == 0 {
        return f32::from_bits(sign | INF_BITS);
    }
    let (m_bits, e) = decompose(abs_bits);
    let y = recip_mantissa(m_bits);
    // Result is y · 2^−e with y ∈ [0.5, 1].
    let magnitude = if e > 126 || (e == 126 && y < 1.0) {
        0.0
    } else if e < -128 {
        f32::INFINITY
    } else if e == -128 {
        (y * 2.0) * pow2(127)
    } else {
        y * pow2(-e)
    };
    f32::from_bits(magnitude.to_bits() | sign)
}

/// `a / b` computed as `a · recip(b)`; error ≤ 1.5 ulp for `2^−128 ≤ |b| ≤ 2^126`.
///
/// A NaN operand is returned itself (`a` first): which NaN a hardware product of two NaNs
/// returns differs between CPUs and GPUs, so the choice is made here.
#[inline]
pub fn div(a: f32, b: f32) -> f32 {
    if is_nan(a) {
        return a;
    }
    if is_nan(b) {
        return b;
    }
    a * recip(b)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::ulp::{all, exhaustive, strided, ulp_error};
    use super::*;

    fn reference(x: f64) -> f64 {
        1.0 / x
    }

    /// Excludes the documented flush range |x| > 2^126.
    fn not_flushed(x: f32) -> bool {
        x.is_nan() || x.abs() <= 2f32.powi(126)
    }

    #[test]
    fn recip_strided_within_bound() {
        let worst = strided(recip, reference, not_flushed);
        std::println!("strided recip: {worst:?}");
        assert!(worst.ulps <= 0.5 + 1e-6, "{worst:?}");
    }

    #[test]
    #[ignore = "exhaustive over 2^32 inputs; run offline"]
    fn exhaustive_recip() {
        let worst = exhaustive(recip, reference, not_flushed);
        std::println!("recip exhaustive: {worst:?}");
        assert!(worst.ulps <= 0.5 + 1e-6, "{worst:?}");
    }

    #[test]
    fn recip_special_values() {
        assert_eq!(recip(0.0).to_bits(), f32::INFINITY.to_bits());
        assert_eq!(recip(-0.0).to_bits(), f32::NEG_INFINITY.to_bits());
        assert_eq!(recip(f32::INFINITY).to_bits(), 0.0f32.to_bits());
        assert_eq!(recip(f32::NEG_INFINITY).to_bits(), (-0.0f32).to_bits());
        assert!(recip(f32::NAN).is_nan());
        assert_eq!(recip(1.0), 1.0);
        assert_eq!(recip(-4.0), -0.25);
        assert_eq!(recip(2f32.powi(126)), 2f32.powi(-126));
        assert_eq!(recip(2f32.powi(127)).to_bits(), 0.0f32.to_bits());
        assert_eq!(recip(-3e38).to_bits(), (-0.0f32).to_bits());
        // Subnormal inputs: exact powers of two, and overflow below 2^−128.
        assert_eq!(recip(2f32.powi(-127)), 2f32.powi(127));
        assert_eq!(
            recip(f32::from_bits(0x0040_0001)),
            (1.0 / f32::from_bits(0x0040_0001) as f64) as f32
        );
        assert_eq!(recip(2f32.powi(-128)), f32::INFINITY);
        assert_eq!(recip(-f32::from_bits(1)), f32::NEG_INFINITY);
        assert_eq!(recip(f32::MAX).to_bits(), 0);
        let _ = all;
    }

    #[test]
    fn div_random_pairs_within_bound() {
        let mut state = 0x9E37_79B9u32;
        let mut worst = 0.0f64;
        for _ in 0..2_000_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let a = f32::from_bits(state & 0xBFFF_FFFF); // |a| < 2
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let b = f32::from_bits(state);
            if !a.is_finite()
                || !b.is_finite()
                || b.abs() > 2f32.powi(126)
                || b.abs() < 2f32.powi(-128)
            {
                continue;
            }
            let want = a as f64 / b as f64;
            if want != 0.0
                && (want.abs() < f32::MIN_POSITIVE as f64 || want.abs() > f32::MAX as f64)
            {
                continue;
            }
            let e = ulp_error(div(a, b), want);
            if e > worst {
                worst = e;
            }
        }
        std::println!("div random pairs: worst {worst} ulp");
        assert!(worst <= 1.5 + 2e-6, "div worst {worst}");
        assert_eq!(div(1.0, 0.0), f32::INFINITY);
        assert!(div(0.0, 0.0).is_nan());
        assert_eq!(div(6.0, 3.0), 2.0);
    }
}
