//! Logarithms `ln x` and `log2 x`.
//!
//! ## Algorithm (`ln`)
//! 1. Special cases: NaN → NaN, `±0 → −∞`, `x < 0` (including `−∞`) → NaN, `+∞ → +∞`.
//! 2. Write `x = m · 2^e` with `m ∈ [1, 2)` by integer operations (subnormal inputs are
//!    normalised exactly with a leading-zero count, so they get full accuracy without any
//!    float arithmetic on subnormals). If `m > √2`, halve `m` (exact) and increment `e`,
//!    so `m ∈ [√½, √2]`.
//! 3. `f = m − 1` (exact by Sterbenz), `z = f²`, and
//!    `ln m ≈ f − z/2 + f·z·P(f)` with `P` the degree-8 minimax polynomial of Cephes
//!    `logf` (Horner order, highest coefficient first).
//! 4. `ln x = e·C1 + (f + ((f·z·P + e·C2) − 0.5·z))` with `C1 = 0.693359375` (9 significant
//!    bits, so `e·C1` is exact) and `C2 = −2.12194440e−4` (Cody–Waite split of ln 2).
//!
//! `log2` uses the same reduction and `log2 x = e + (f + y)·log2(e)` with
//! `y = f·z·P − 0.5·z`, evaluated in extra precision as in fdlibm `log2f`: `f` is split
//! into a 12-bit `hi` and `lo = (f − hi) + y`, `log2(e)` into a 12-bit `L_hi` and `L_lo`;
//! `hi·L_hi` is exact, `(lo + hi)·L_lo + lo·L_hi` is the small part, and `e + hi·L_hi` is
//! added with a Fast2Sum whose error joins the small part before the final addition.
//!
//! ## Accuracy (measured against f64 `ln`/`log2`, all 2^32 inputs exhaustively,
//! `cargo test -p powerpost-core --release -- --ignored exhaustive_log`)
//! - `ln`: max **0.827 ulp** (at `x = 1.413642`).
//! - `log2`: max **1.105 ulp** (at `x = 1.4113073`).
//!
//! Subnormal inputs are included (they get full accuracy). The tests assert these
//! bounds (rounded up) on every 97th bit pattern, and exhaustively with `--ignored`.

use super::bits::{decompose, is_nan, split, ABS_MASK, INF_BITS, SIGN_MASK};

/// High part of ln 2 (9 significant bits).
const LN2_HI: f32 = 0.693_359_375;
/// Low part of ln 2.
const LN2_LO: f32 = -2.121_944_4e-4;
/// √2 rounded to f32.
const SQRT_2: f32 = core::f32::consts::SQRT_2;
/// High part of log2(e): 12 significant bits (`0x3FB8A000`).
const LOG2_E_HI: f32 = 1.442_382_812_5;
/// Low part of log2(e): `log2(e) − LOG2_E_HI` rounded to f32.
const LOG2_E_LO: f32 = 3.122_283_960_692_584_5e-4;

/// Minimax coefficients of `(ln(1+f) − f + f²/2)/f³` on `f ∈ [√½ − 1, √2 − 1]` (Cephes
/// `logf`), highest degree first.
const LOG_POLY: [f32; 9] = [
    7.037_683_6e-2,
    -1.151_461e-1,
    1.167_699_9e-1,
    -1.242_014_1e-1,
    1.424_932_3e-1,
    -1.666_805_8e-1,
    2.000_071_5e-1,
    -2.499_999_4e-1,
    3.333_333_1e-1,
];

/// Outcome of the shared special-case handling and reduction.
enum Reduced {
    /// The result is this value (special case).
    Special(f32),
    /// `x = (1 + f) · 2^e` with `1 + f ∈ [√½, √2]`.
    Value {
        /// `m − 1`.
        f: f32,
        /// Binary exponent.
        e: i32,
    },
}

/// Special cases and the reduction `x = (1 + f) · 2^e`.
#[inline(always)]
fn reduce(x: f32) -> Reduced {
    let bits = x.to_bits();
    let abs_bits = bits & ABS_MASK;
    if is_nan(x) {
        return Reduced::Special(x);
    }
    if abs_bits == 0 {
        return Reduced::Special(f32::NEG_INFINITY);
    }
    if bits & SIGN_MASK != 0 {
        return Reduced::Special(f32::NAN);
    }
    if abs_bits == INF_BITS {
        return Reduced::Special(x);
    }
    let (m_bits, mut e) = decompose(abs_bits);
    let mut m = f32::from_bits(m_bits);
    if m > SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    Reduced::Value { f: m - 1.0, e }
}

/// `f·z·P(f)` where `z = f²`.
#[inline(always)]
fn log_poly(f: f32, z: f32) -> f32 {
    let mut p = LOG_POLY[0];
    let mut i = 1;
    while i < LOG_POLY.len() {
        p = p * f + LOG_POLY[i];
        i += 1;
    }
    p * f * z
}

/// Natural logarithm, max error 0.827 ulp; `ln(±0) = −∞`, `ln(x < 0) = NaN`,
/// `ln(+∞) = +∞`.
#[inline]
pub fn ln(x: f32) -> f32 {
    match reduce(x) {
        Reduced::Special(y) => y,
        Reduced::Value { f, e } => {
            let z = f * f;
            let ef = e as f32;
            let y = (log_poly(f, z) + ef * LN2_LO) - 0.5 * z;
            (f + y) + ef * LN2_HI
        }
    }
}

/// Base-2 logarithm, max error 1.105 ulp; same special cases as [`ln`].
#[inline]
pub fn log2(x: f32) -> f32 {
    match reduce(x) {
        Reduced::Special(y) => y,
        Reduced::Value { f, e } => {
            let z = f * f;
            let y = log_poly(f, z) - 0.5 * z;
            // ln m = f + y = hi + lo with hi = f to 12 bits, so hi·LOG2_E_HI is exact.
            let (hi, f_low) = split(f);
            let lo = f_low + y;
            let value_hi = hi * LOG2_E_HI;
            let value_lo = (lo + hi) * LOG2_E_LO + lo * LOG2_E_HI;
            // e + value_hi with its rounding error carried into the low part (Fast2Sum:
            // |e| ≥ 1 > |value_hi| or e = 0).
            let ef = e as f32;
            let w = ef + value_hi;
            let value_lo = value_lo + ((ef - w) + value_hi);
            value_lo + w
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::ulp::{all, exhaustive, strided};
    use super::*;

    /// Asserted bound for `ln` (measured maximum, rounded up).
    const LN_BOUND: f64 = 0.83;
    /// Asserted bound for `log2`.
    const LOG2_BOUND: f64 = 1.11;

    fn ln_ref(x: f64) -> f64 {
        x.ln()
    }
    fn log2_ref(x: f64) -> f64 {
        x.log2()
    }

    #[test]
    fn ln_strided_within_bound() {
        let worst = strided(ln, ln_ref, all);
        std::println!("strided ln: {worst:?}");
        assert!(worst.ulps <= LN_BOUND, "{worst:?}");
    }

    #[test]
    fn log2_strided_within_bound() {
        let worst = strided(log2, log2_ref, all);
        std::println!("strided log2: {worst:?}");
        assert!(worst.ulps <= LOG2_BOUND, "{worst:?}");
    }

    #[test]
    #[ignore = "exhaustive over 2^32 inputs; run offline"]
    fn exhaustive_log() {
        let worst = exhaustive(ln, ln_ref, all);
        std::println!("ln exhaustive: {worst:?}");
        let worst2 = exhaustive(log2, log2_ref, all);
        std::println!("log2 exhaustive: {worst2:?}");
        assert!(worst.ulps <= LN_BOUND && worst2.ulps <= LOG2_BOUND);
    }

    #[test]
    fn ln_special_values() {
        assert_eq!(ln(1.0).to_bits(), 0);
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert_eq!(ln(-0.0), f32::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
        assert!(ln(f32::NEG_INFINITY).is_nan());
        assert!(ln(f32::NAN).is_nan());
        assert_eq!(ln(f32::INFINITY), f32::INFINITY);
        assert_eq!(log2(1.0).to_bits(), 0);
        assert_eq!(log2(0.0), f32::NEG_INFINITY);
        assert!(log2(-2.0).is_nan());
        // Exact powers of two.
        for k in -149..128 {
            assert_eq!(log2(2f64.powi(k) as f32), k as f32, "{k}");
        }
        // Smallest subnormal: full accuracy.
        let tiny = f32::from_bits(1);
        assert_eq!(ln(tiny), (tiny as f64).ln() as f32);
    }
}
