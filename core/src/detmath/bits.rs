//! Bit-level building blocks shared by the detmath functions.
//!
//! Everything here is exact: integer operations on the IEEE-754 bit pattern, or float
//! operations whose results are representable (so every IEEE-conforming machine, CPU or
//! GPU, returns the same bits).
//!
//! - [`decompose`] splits a positive finite non-zero `x` into `m · 2^e` with `m ∈ [1, 2)`
//!   using only integer operations. Subnormal inputs are normalised with a leading-zero
//!   count (GLSL: `31 - findMSB(mantissa)`), so no floating-point operation ever touches a
//!   subnormal value.
//! - [`pow2`] builds `2^k` for `k ∈ [−126, 127]` by writing the exponent field.
//! - `round_even` rounds to the nearest integer, ties to even, with the "shifter"
//!   `(v + 1.5·2^23) − 1.5·2^23`; exact for `|v| < 2^22` (GLSL: `roundEven`, or the same two
//!   `precise` additions).
//! - [`floor`] is the exact IEEE floor, done on the bit pattern (GLSL: `floor`).
//! - [`two_prod`] is Dekker's exact product without fused multiply-add: `a·b = p + e`
//!   exactly, with the operands split into 12-bit halves by masking the low 12 mantissa
//!   bits.
//! - [`two_sum`] is Knuth's exact sum `a + b = s + e` (six operations, no branches).

/// Sign bit of an `f32` bit pattern.
pub(crate) const SIGN_MASK: u32 = 0x8000_0000;
/// Exponent and mantissa bits of an `f32` bit pattern.
pub(crate) const ABS_MASK: u32 = 0x7FFF_FFFF;
/// Bit pattern of `+∞`.
pub(crate) const INF_BITS: u32 = 0x7F80_0000;
/// Mantissa bits of an `f32` bit pattern.
const MANTISSA_MASK: u32 = 0x007F_FFFF;
/// Bit pattern of `1.0`.
const ONE_BITS: u32 = 0x3F80_0000;

/// `true` when `x` is a NaN (tested on the bits, so fast-math cannot remove it).
#[inline(always)]
pub(crate) fn is_nan(x: f32) -> bool {
    (x.to_bits() & ABS_MASK) > INF_BITS
}

/// Splits the bit pattern `abs_bits` of a positive, finite, non-zero number into the bit
/// pattern of `m ∈ [1, 2)` and the exponent `e`, so that the number is `m · 2^e` (exact;
/// integer operations only, subnormals included).
#[inline(always)]
pub(crate) fn decompose(abs_bits: u32) -> (u32, i32) {
    let exponent_field = (abs_bits >> 23) as i32;
    if exponent_field == 0 {
        let mantissa = abs_bits & MANTISSA_MASK;
        // Shift the leading one to bit 23; `mantissa` is non-zero here.
        let shift = mantissa.leading_zeros() - 8;
        let normalised = (mantissa << shift) & MANTISSA_MASK;
        (normalised | ONE_BITS, -126 - shift as i32)
    } else {
        ((abs_bits & MANTISSA_MASK) | ONE_BITS, exponent_field - 127)
    }
}

/// `2^k` for `k ∈ [−126, 127]`, built from the exponent field (exact).
#[inline(always)]
pub(crate) fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// 1.5 · 2^23: adding and subtracting it rounds to an integer, ties to even.
const SHIFTER: f32 = 12_582_912.0;

/// Rounds `v` to the nearest integer, ties to even; exact for `|v| < 2^22`.
#[inline(always)]
pub(crate) fn round_even(v: f32) -> f32 {
    (v + SHIFTER) - SHIFTER
}

/// Largest integer not greater than `x` (exact IEEE floor, on the bit pattern).
///
/// NaN and ±∞ are returned unchanged, `floor(−0) = −0`, `floor(x) = −1` for
/// `−1 < x < 0`.
#[inline]
pub fn floor(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xFF) as i32 - 127;
    if exponent >= 23 {
        // Already an integer, or ±∞ / NaN.
        return x;
    }
    if exponent < 0 {
        // |x| < 1.
        if bits & ABS_MASK == 0 || bits & SIGN_MASK == 0 {
            return f32::from_bits(bits & SIGN_MASK);
        }
        return -1.0;
    }
    let fraction_mask = MANTISSA_MASK >> exponent;
    if bits & fraction_mask == 0 {
        return x;
    }
    let truncated = f32::from_bits(bits & !fraction_mask);
    if bits & SIGN_MASK != 0 {
        truncated - 1.0
    } else {
        truncated
    }
}

/// Splits `a` into a high part with 12 significant bits and the exact remainder.
#[inline(always)]
pub(crate) fn split(a: f32) -> (f32, f32) {
    let high = f32::from_bits(a.to_bits() & 0xFFFF_F000);
    (high, a - high)
}

/// Dekker's exact product: returns `(p, e)` with `p = fl(a·b)` and `a·b = p + e` exactly
/// (no overflow or underflow assumed; used on operands in `[2^-3, 2^3]`).
#[inline(always)]
pub(crate) fn two_prod(a: f32, b: f32) -> (f32, f32) {
    let p = a * b;
    let (a_high, a_low) = split(a);
    let (b_high, b_low) = split(b);
    let e = (((a_high * b_high - p) + a_high * b_low) + a_low * b_high) + a_low * b_low;
    (p, e)
}

/// Knuth's two-sum: returns `(s, e)` with `s = fl(a + b)` and `a + b = s + e` exactly
/// (no overflow assumed; no condition on the magnitudes).
#[inline(always)]
pub(crate) fn two_sum(a: f32, b: f32) -> (f32, f32) {
    let s = a + b;
    let b_virtual = s - a;
    let a_virtual = s - b_virtual;
    let e = (a - a_virtual) + (b - b_virtual);
    (s, e)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn floor_matches_libm_on_a_strided_sweep() {
        let mut bits = 0u32;
        loop {
            let x = f32::from_bits(bits);
            let want = libm::floorf(x);
            let got = floor(x);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "floor({x:e}) = {got:e}, want {want:e}"
            );
            match bits.checked_add(9_973) {
                Some(b) => bits = b,
                None => break,
            }
        }
        for x in [
            -0.0f32, 0.0, -0.5, 0.5, -1.0, 1.0, -1.5, 2.5, 8388607.5, -8388607.5,
        ] {
            assert_eq!(floor(x).to_bits(), libm::floorf(x).to_bits(), "{x}");
        }
    }

    #[test]
    fn round_even_is_ties_to_even() {
        for (v, want) in [
            (0.5f32, 0.0f32),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, 0.0),
            (-1.5, -2.0),
            (3.49, 3.0),
        ] {
            assert_eq!(round_even(v), want, "{v}");
        }
        for i in -4000..4000 {
            let v = i as f32 * 0.37;
            assert_eq!(round_even(v), libm::rintf(v), "{v}");
        }
    }

    #[test]
    fn decompose_reassembles_exactly() {
        let mut bits = 1u32;
        while bits < INF_BITS {
            let (m_bits, e) = decompose(bits);
            let m = f32::from_bits(m_bits) as f64;
            assert!((1.0..2.0).contains(&m));
            let x = f32::from_bits(bits) as f64;
            assert_eq!(m * 2f64.powi(e), x, "bits {bits:#x}");
            bits += 7_919;
        }
    }

    #[test]
    fn two_sum_is_exact() {
        let mut state = 0x2545_F491u32;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let a = f32::from_bits(state & 0xBFFF_FFFF);
            let b = f32::from_bits((state.rotate_left(11) & 0x3FFF_FFFF) | (state << 31));
            if !a.is_finite()
                || !b.is_finite()
                || (a.abs() < 1e-30 && a != 0.0)
                || (b.abs() < 1e-30 && b != 0.0)
            {
                continue;
            }
            let (s, e) = two_sum(a, b);
            if s.is_finite() && (a as f64 / b as f64).abs().log2().abs() < 50.0 {
                assert_eq!(s as f64 + e as f64, a as f64 + b as f64, "{a} {b}");
            }
        }
    }

    #[test]
    fn two_prod_is_exact() {
        let mut state = 0x1234_5678u32;
        for _ in 0..200_000 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let a = 0.25 + (state >> 8) as f32 * (1.0 / 16_777_216.0) * 3.5;
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let b = 0.25 + (state >> 8) as f32 * (1.0 / 16_777_216.0) * 3.5;
            let (p, e) = two_prod(a, b);
            assert_eq!(p as f64 + e as f64, a as f64 * b as f64, "{a} {b}");
        }
    }
}
