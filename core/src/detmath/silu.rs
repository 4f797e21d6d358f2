//! SiLU (swish) activation `silu(x) = x · σ(x) = x / (1 + e^−x)`.
//!
//! ## Algorithm
//! With `e = exp(−|x|) ∈ (0, 1]` (never overflows), `1 + e = d + d_err` exactly
//! (Knuth's two-sum) and `s = recip(d) − (recip(d)·d_err)·recip(d) ≈ σ(|x|)`:
//! `silu(x) = x · s` for `x ≥ 0` and `x · (e · s)` for `x < 0` (since
//! `σ(x) = e^x/(1 + e^x)`). All pieces come from [`super::exp`] and [`super::recip`],
//! so the GLSL port is the same short sequence of operations.
//!
//! ## Special cases
//! NaN → NaN, `silu(+∞) = +∞`, `silu(−∞) = −0`, `silu(±0) = ±0`. For
//! `x < ln 2^−126 ≈ −87.3365`, `exp(x)` is flushed to zero and the result is `−0` (the
//! true value is below `10^−36` in magnitude).
//!
//! ## Accuracy (measured against f64 `x/(1 + e^−x)`, all 2^32 inputs exhaustively with
//! `x ≥ −87.33`, `cargo test -p powerpost-core --release -- --ignored exhaustive_silu`)
//! Max **3.5 ulp** (see the constant asserted in the tests).

use super::bits::{is_nan, two_sum};
use super::exp::exp;
use super::recip::recip;

/// Below this, `silu(x)` returns `−0` without evaluating `exp` (which flushes to zero
/// already below `≈ −87.3365`).
const FLUSH_BELOW: f32 = -87.5;

/// SiLU `x / (1 + e^−x)`, max error 3.5 ulp for `x ≥ −87.33`; `−0` below `≈ −87.3365`.
#[inline]
pub fn silu(x: f32) -> f32 {
    if is_nan(x) {
        return x;
    }
    if x < FLUSH_BELOW {
        return -0.0;
    }
    let negative = x < 0.0;
    let e = exp(if negative { x } else { -x });
    // 1 + e = d + d_err exactly; 1/(d + d_err) ≈ s − s·d_err·s.
    let (d, d_err) = two_sum(1.0, e);
    let s = recip(d);
    let s = s - (s * d_err) * s;
    if negative {
        x * (e * s)
    } else {
        x * s
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::ulp::{exhaustive, strided};
    use super::*;

    /// Asserted bound (measured maximum, rounded up).
    const SILU_BOUND: f64 = 3.5;

    fn reference(x: f64) -> f64 {
        x / (1.0 + (-x).exp())
    }
    fn not_flushed(x: f32) -> bool {
        x.is_nan() || x >= -87.33
    }

    #[test]
    fn silu_strided_within_bound() {
        let worst = strided(silu, reference, not_flushed);
        std::println!("strided silu: {worst:?}");
        assert!(worst.ulps <= SILU_BOUND, "{worst:?}");
    }

    #[test]
    #[ignore = "exhaustive over 2^32 inputs; run offline"]
    fn exhaustive_silu() {
        let worst = exhaustive(silu, reference, not_flushed);
        std::println!("silu exhaustive: {worst:?}");
        assert!(worst.ulps <= SILU_BOUND, "{worst:?}");
    }

    #[test]
    fn silu_special_values() {
        assert_eq!(silu(f32::INFINITY), f32::INFINITY);
        assert_eq!(silu(f32::NEG_INFINITY).to_bits(), (-0.0f32).to_bits());
        assert!(silu(f32::NAN).is_nan());
        assert_eq!(silu(0.0).to_bits(), 0);
        assert_eq!(silu(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(silu(-100.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(silu(100.0), 100.0);
        assert!(silu(-87.0) < 0.0);
    }
}
