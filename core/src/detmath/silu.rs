//! SiLU (swish) activation `silu(x) = x · σ(x) = x / (1 + e^−x)`.
//!
//! ## Algorithm
//! `e = exp(−x)`, `1 + e = d + d_err` exactly (Knuth's two-sum), `s = recip(d)`, and
//! `silu(x) = x · (s − (s·d_err)·s)` (one Newton-style correction for the rounding of
//! `1 + e`). All pieces come from [`super::exp`] and [`super::recip`], so the GLSL port is
//! the same short sequence of operations. For `x < −87.34`, `1 + e > 2^126` and `recip`
//! flushes to zero; below `−87.5` the function returns `−0` before evaluating `exp`
//! (which would overflow to `+∞` below `≈ −88.72`).

//! ## Special cases
//! NaN → NaN, `silu(+∞) = +∞`, `silu(−∞) = −0`, `silu(±0) = ±0`. For
//! `x < ln 2^−126 ≈ −87.3365`, `exp(x)` is flushed to zero and the result is `−0` (the
//! true value is below `10^−36` in magnitude).
//!
//! ## Accuracy (measured against f64 `x/(1 + e^−x)`, all 2^32 inputs exhaustively with
//! `x ≥ −87.33`, `cargo test -p powerpost-core --release -- --ignored exhaustive_silu`)
//! Max **2.458 ulp** (at `x = −17.416552`). The tests assert `≤ 2.46 ulp` on every 97th
//! bit pattern, and exhaustively with `--ignored`.

use super::bits::{is_nan, two_sum};
use super::exp::exp;
use super::recip::recip;

/// Below this, `silu(x)` returns `−0` without evaluating `exp` (which flushes to zero
/// already below `≈ −87.3365`).
const FLUSH_BELOW: f32 = -87.5;

/// SiLU `x / (1 + e^−x)`, max error 2.458 ulp for `x ≥ −87.33`; `−0` below `≈ −87.3365`.
#[inline]
pub fn silu(x: f32) -> f32 {
    if is_nan(x) {
        return x;
    }
    if x < FLUSH_BELOW {
        return -0.0;
    }
    let e = exp(-x);
    // 1 + e = d + d_err exactly; 1/(d + d_err) ≈ s − s·d_err·s.
    let (d, d_err) = two_sum(1.0, e);
    let s = recip(d);
    x * (s - (s * d_err) * s)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::ulp::{exhaustive, strided};
    use super::*;

    /// Asserted bound (measured maximum, rounded up).
    const SILU_BOUND: f64 = 2.46;

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
