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

use super::bits::pow2;
use super::bits::{is_nan, two_sum};
use super::exp::exp_at_most_87_5;
use super::recip::{recip_final, recip_initial, recip_mantissa, recip_newton};

/// Below this, `silu(x)` returns `−0` without evaluating `exp` (which flushes to zero
/// already below `≈ −87.3365`).
const FLUSH_BELOW: f32 = -87.5;

/// SiLU `x / (1 + e^−x)`, max error 2.458 ulp for `x ≥ −87.33`; `−0` below `≈ −87.3365`.
///
/// Written without branches (special cases are selects) so that loops over it vectorise;
/// bit-identical to the straightforward branchy formulation kept in the tests.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    let e = silu_exp(x);
    let (d, d_err) = two_sum(1.0, e);
    silu_finish(x, recip_at_least_one(d), d_err)
}

/// The logistic function `σ(x) = 1 / (1 + e^−x)`, max error 2.63 ulp on every 97th bit
/// pattern (the rounding of `1 + e` is not corrected; asserted `≤ 2.7`): `e = exp(−|x|)`, `r = recip(1 + e)`, `σ = r` for `x ≥ 0` and
/// `e · r` otherwise (never overflows; `σ` flushes to `+0` below `x ≈ −87.34`).
///
/// Written without branches (selects only) so that loops over it vectorise; bit-identical
/// to that branchy formulation with [`super::exp`] and [`super::recip`] (kept in the tests).
/// Used by the training crate for the SiLU derivative `σ·(1 + x·(1 − σ))`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp_at_most_87_5(-x.abs());
    // 1 + e ∈ [1, 2]: recip without its special cases.
    let r = recip_at_least_one(1.0 + e);
    let value = if x >= 0.0 { r } else { e * r };
    if is_nan(x) {
        x
    } else {
        value
    }
}

/// Applies [`silu`] to every value in place, with exactly [`silu`]'s operations per value.
///
/// Values are processed in blocks of 128 (`BLOCK`), one stage of the computation at a time, so
/// that vectorised code has many independent vectors in flight (each value's computation
/// is one long dependency chain of ≈ 60 operations).
#[inline(always)]
pub fn silu_in_place(values: &mut [f32]) {
    let mut blocks = values.chunks_exact_mut(BLOCK);
    let mut x = [0.0f32; BLOCK];
    for block in &mut blocks {
        x.copy_from_slice(block);
        block.copy_from_slice(&silu_block(&x));
    }
    let rest = blocks.into_remainder();
    if !rest.is_empty() {
        let mut x = [0.0f32; BLOCK];
        x[..rest.len()].copy_from_slice(rest);
        rest.copy_from_slice(&silu_block(&x)[..rest.len()]);
    }
}

/// `out[i] = silu(input[i] × scale + shift)` (a product and a sum rounded separately, then
/// [`silu`]'s operations), for `out.len().min(input.len())` values: the normalise-and-
/// activate step of a group normalisation in one pass.
#[inline(always)]
pub fn silu_affine(input: &[f32], scale: f32, shift: f32, out: &mut [f32]) {
    let len = out.len().min(input.len());
    let (input, out) = (&input[..len], &mut out[..len]);
    let mut y = [0.0f32; BLOCK];
    let mut blocks = out.chunks_exact_mut(BLOCK).zip(input.chunks_exact(BLOCK));
    for (dst, src) in &mut blocks {
        for (yi, &e) in y.iter_mut().zip(src) {
            *yi = e * scale + shift;
        }
        dst.copy_from_slice(&silu_block(&y));
    }
    let done = len - len % BLOCK;
    if done < len {
        let n = len - done;
        let mut y = [0.0f32; BLOCK];
        for (yi, &e) in y.iter_mut().zip(&input[done..]) {
            *yi = e * scale + shift;
        }
        out[done..].copy_from_slice(&silu_block(&y)[..n]);
    }
}

/// `out[i] = sigmoid(input[i])` for `out.len().min(input.len())` values, with exactly
/// [`sigmoid`]'s operations per value, computed stage by stage over blocks of 128 values
/// (as [`silu_in_place`]) so that many independent vectors are in flight.
#[inline(always)]
pub fn sigmoid_many(input: &[f32], out: &mut [f32]) {
    let len = out.len().min(input.len());
    let (input, out) = (&input[..len], &mut out[..len]);
    let mut x = [0.0f32; BLOCK];
    let mut blocks = out.chunks_exact_mut(BLOCK).zip(input.chunks_exact(BLOCK));
    for (dst, src) in &mut blocks {
        x.copy_from_slice(src);
        dst.copy_from_slice(&sigmoid_block(&x));
    }
    let done = len - len % BLOCK;
    if done < len {
        let n = len - done;
        let mut x = [0.0f32; BLOCK];
        x[..n].copy_from_slice(&input[done..]);
        out[done..].copy_from_slice(&sigmoid_block(&x)[..n]);
    }
}

/// [`sigmoid`] of [`BLOCK`] values, stage by stage across the block.
#[inline(always)]
fn sigmoid_block(x: &[f32; BLOCK]) -> [f32; BLOCK] {
    let mut e = [0.0f32; BLOCK];
    for (ei, &xi) in e.iter_mut().zip(x.iter()) {
        *ei = exp_at_most_87_5(-xi.abs());
    }
    let mut d = [0.0f32; BLOCK];
    for (di, &ei) in d.iter_mut().zip(e.iter()) {
        // 1 + e ∈ [1, 2]: recip without its special cases, as in `sigmoid`.
        *di = 1.0 + ei;
    }
    let r = recip_block_at_least_one(&d);
    let mut out = [0.0f32; BLOCK];
    for (((o, &xi), &ri), &ei) in out.iter_mut().zip(x.iter()).zip(r.iter()).zip(e.iter()) {
        let value = if xi >= 0.0 { ri } else { ei * ri };
        *o = if is_nan(xi) { xi } else { value };
    }
    out
}

/// Values per block of [`silu_block`]: 16 AVX2 vectors (measured on Zen 3: 32 values
/// ran at 6.5 ns/value, 64 at 5.1, 128 at 3.2–3.6; the ≈ 800 instructions of a 32-value
/// block already exceed the reorder window, so only the values inside one block overlap).
const BLOCK: usize = 128;

/// [`silu`] of [`BLOCK`] values, stage by stage across the block (each stage is one short
/// dependency chain per vector, so independent vectors overlap). The result is returned in
/// a fresh array rather than written over the input: an in-place select of the NaN case
/// compiles to a masked store, which is microcoded and very slow on AMD CPUs.
#[inline(always)]
fn silu_block(x: &[f32; BLOCK]) -> [f32; BLOCK] {
    let mut e = [0.0f32; BLOCK];
    for (ei, &xi) in e.iter_mut().zip(x.iter()) {
        *ei = silu_exp(xi);
    }
    let mut d = [0.0f32; BLOCK];
    let mut d_err = [0.0f32; BLOCK];
    for ((di, ri), &ei) in d.iter_mut().zip(d_err.iter_mut()).zip(e.iter()) {
        (*di, *ri) = two_sum(1.0, ei);
    }
    let s = recip_block_at_least_one(&d);
    let mut out = [0.0f32; BLOCK];
    for (((o, &xi), &si), &ri) in out.iter_mut().zip(x.iter()).zip(s.iter()).zip(d_err.iter()) {
        *o = silu_finish(xi, si, ri);
    }
    out
}

/// [`recip_at_least_one`] of [`BLOCK`] values, stage by stage across the block
/// (bit-identical: the same stages in the same order for every value).
#[inline(always)]
fn recip_block_at_least_one(d: &[f32; BLOCK]) -> [f32; BLOCK] {
    let mut m = [0.0f32; BLOCK];
    let mut r = [0.0f32; BLOCK];
    let mut ex = [0i32; BLOCK];
    for (((mi, ri), ei), &di) in m
        .iter_mut()
        .zip(r.iter_mut())
        .zip(ex.iter_mut())
        .zip(d.iter())
    {
        let (m_bits, e) = recip_split(di);
        (*mi, *ri) = recip_initial(m_bits);
        *ei = e;
    }
    for _ in 0..3 {
        for (ri, &mi) in r.iter_mut().zip(m.iter()) {
            *ri = recip_newton(mi, *ri);
        }
    }
    for ((ri, &mi), &ei) in r.iter_mut().zip(m.iter()).zip(ex.iter()) {
        *ri = recip_scale(recip_final(mi, *ri), ei);
    }
    r
}

/// First stage of [`silu`]: `e = exp(−x)` for `x ≥ −87.5` (never overflows); the flushed
/// cases are selected away in [`silu_finish`].
#[inline(always)]
fn silu_exp(x: f32) -> f32 {
    exp_at_most_87_5(-x)
}

/// Last stage of [`silu`]: with `1 + e = d + d_err` exactly and `s = recip(d)`,
/// `x · (s − (s·d_err)·s)`, then the special cases.
#[inline(always)]
fn silu_finish(x: f32, s: f32, d_err: f32) -> f32 {
    let value = x * (s - (s * d_err) * s);
    let value = if x < FLUSH_BELOW { -0.0 } else { value };
    if is_nan(x) {
        x
    } else {
        value
    }
}

/// `recip(d)` for `d ≥ 1` (or +∞) without branches, bit-identical to [`super::recip`]
/// there.
#[inline(always)]
fn recip_at_least_one(d: f32) -> f32 {
    let (m_bits, e) = recip_split(d);
    recip_scale(recip_mantissa(m_bits), e)
}

/// Mantissa bits (with exponent of 1.0) and exponent of `d ≥ 1`.
#[inline(always)]
fn recip_split(d: f32) -> (u32, i32) {
    let bits = d.to_bits();
    (
        (bits & 0x007F_FFFF) | 0x3F80_0000,
        ((bits >> 23) as i32) - 127,
    )
}

/// `y · 2^−e`, flushed to 0 below `2^−126`, as [`super::recip`] does.
///
/// Vector code computes the product in every lane, the flushed ones included; there
/// `y · 2^−126` with `y < 1` would be subnormal, which costs a microcode assist per vector
/// on Intel cores (the AVX2 SiLU ran 5× slower). So the flushed lanes multiply `1` instead
/// (`y ≥ 1/2`, so every product is normal); the others keep `y`, so no result changes.
#[inline(always)]
fn recip_scale(y: f32, e: i32) -> f32 {
    let flushed = e > 126 || (e == 126 && y < 1.0);
    let y = if flushed { 1.0 } else { y };
    let value = y * pow2(-(if e > 126 { 126 } else { e }));
    if flushed {
        0.0
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    /// The straightforward branchy formulation (the original implementation); the
    /// branch-free [`silu`] must equal it bit for bit.
    fn silu_branchy(x: f32) -> f32 {
        use super::super::exp::exp;
        use super::super::recip::recip;
        if is_nan(x) {
            return x;
        }
        if x < FLUSH_BELOW {
            return -0.0;
        }
        let e = exp(-x);
        let (d, d_err) = two_sum(1.0, e);
        let s = recip(d);
        x * (s - (s * d_err) * s)
    }

    /// The branchy logistic (`exp`, `recip` with all their special cases).
    fn sigmoid_branchy(x: f32) -> f32 {
        use super::super::exp::exp;
        use super::super::recip::recip;
        let e = exp(-x.abs());
        let r = recip(1.0 + e);
        if x >= 0.0 {
            r
        } else {
            e * r
        }
    }

    #[test]
    fn sigmoid_branch_free_equals_branchy() {
        let mut bits = 0u32;
        loop {
            let x = f32::from_bits(bits);
            let (a, b) = (sigmoid(x), sigmoid_branchy(x));
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{x:e}: {a:e} vs {b:e}"
            );
            match bits.checked_add(4099) {
                Some(n) => bits = n,
                None => break,
            }
        }
        for x in [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            87.5,
            -87.5,
            -87.3,
            -87.4,
            88.0,
            -88.0,
            -104.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            1e-40,
            -1e-40,
            f32::NAN,
        ] {
            let (a, b) = (sigmoid(x), sigmoid_branchy(x));
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{x:e}: {a:e} vs {b:e}"
            );
        }
    }

    #[test]
    fn sigmoid_strided_within_bound() {
        let worst = strided(
            sigmoid,
            |x| 1.0 / (1.0 + (-x).exp()),
            |x: f32| x.is_nan() || x >= -87.33,
        );
        std::println!("strided sigmoid: {worst:?}");
        assert!(worst.ulps <= SIGMOID_BOUND, "{worst:?}");
    }

    /// 1000 bit patterns spread over all of f32 (NaNs and infinities included), then the
    /// special cases around the flush threshold and `extra`.
    fn spread_values(extra: &[f32]) -> std::vec::Vec<f32> {
        let mut values: std::vec::Vec<f32> = (0..1000u32)
            .map(|i| f32::from_bits(i.wrapping_mul(2_654_435_761)))
            .collect();
        values.extend([
            0.0,
            -0.0,
            -87.5,
            87.6,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ]);
        values.extend_from_slice(extra);
        values
    }

    #[test]
    fn sigmoid_many_equals_sigmoid() {
        let values = spread_values(&[-87.3, -88.0]);
        for len in [0, 5, 128, 200, values.len()] {
            let mut out = std::vec![f32::NAN; len];
            sigmoid_many(&values[..len], &mut out);
            for (&x, &got) in values[..len].iter().zip(&out) {
                let want = sigmoid(x);
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{x:e}: {got:e} vs {want:e}"
                );
            }
        }
    }

    #[test]
    fn in_place_equals_silu() {
        let mut values = spread_values(&[-87.6]);
        let expected: std::vec::Vec<f32> = values.iter().map(|&x| silu(x)).collect();
        let input = values.clone();
        silu_in_place(&mut values);
        for (a, b) in values.iter().zip(&expected) {
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        }
        // silu_affine on x·1.75 − 0.3 (two roundings) against silu of the same steps;
        // lengths that leave a remainder after the blocks.
        for len in [0, 5, 32, 77, input.len()] {
            let (scale, shift) = (1.75f32, -0.3f32);
            let mut out = std::vec![0.0f32; len];
            silu_affine(&input[..len], scale, shift, &mut out);
            for (o, &x) in out.iter().zip(&input) {
                let want = silu(x * scale + shift);
                assert!(o.to_bits() == want.to_bits() || (o.is_nan() && want.is_nan()));
            }
        }
    }

    #[test]
    fn branch_free_equals_branchy() {
        let mut bits = 0u32;
        loop {
            let x = f32::from_bits(bits);
            let (a, b) = (silu(x), silu_branchy(x));
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{x:e}: {a:e} vs {b:e}"
            );
            match bits.checked_add(4099) {
                Some(n) => bits = n,
                None => break,
            }
        }
        for x in [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            87.5,
            -87.5,
            -87.4,
            88.0,
            -88.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            1e-40,
            -1e-40,
        ] {
            assert_eq!(silu(x).to_bits(), silu_branchy(x).to_bits(), "{x:e}");
        }
    }

    #[test]
    #[ignore = "exhaustive over all 2^32 inputs; run with --ignored"]
    fn branch_free_equals_branchy_exhaustive() {
        for bits in 0..=u32::MAX {
            let x = f32::from_bits(bits);
            let (a, b) = (silu(x), silu_branchy(x));
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{x:e}: {a:e} vs {b:e}"
            );
        }
    }
    use super::super::ulp::{exhaustive, strided};
    use super::*;

    /// Asserted bound (measured maximum, rounded up).
    const SILU_BOUND: f64 = 2.46;
    /// Asserted bound of [`sigmoid`] (strided maximum, rounded up).
    const SIGMOID_BOUND: f64 = 2.7;

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

#[cfg(test)]
mod speed {
    extern crate std;
    use super::*;
    use std::time::Instant;

    #[target_feature(enable = "avx,avx2")]
    unsafe fn stage_exp(v: &mut [f32]) {
        for x in v.iter_mut() {
            *x = exp_at_most_87_5(-*x);
        }
    }
    #[target_feature(enable = "avx,avx2")]
    unsafe fn stage_recip(v: &mut [f32]) {
        for x in v.iter_mut() {
            *x = recip_at_least_one(*x);
        }
    }
    #[target_feature(enable = "avx,avx2")]
    unsafe fn stage_newton(v: &mut [f32]) {
        for x in v.iter_mut() {
            *x = recip_newton(1.5, recip_newton(1.5, recip_newton(1.5, *x)));
        }
    }
    #[target_feature(enable = "avx,avx2")]
    unsafe fn stage_final(v: &mut [f32]) {
        for x in v.iter_mut() {
            *x = recip_final(1.5, *x);
        }
    }
    #[target_feature(enable = "avx,avx2")]
    unsafe fn stage_split_scale(v: &mut [f32]) {
        for x in v.iter_mut() {
            let (m, e) = recip_split(*x);
            *x = recip_scale(f32::from_bits(m), e);
        }
    }
    #[target_feature(enable = "avx,avx2")]
    unsafe fn stage_sum(v: &mut [f32]) {
        for x in v.iter_mut() {
            let (d, e) = two_sum(1.0, *x);
            *x = d + e * 0.5;
        }
    }

    #[test]
    #[ignore = "timing probe"]
    fn stage_timings() {
        let n = 1 << 20;
        let base: std::vec::Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
            .collect();
        for (name, f) in [
            ("exp", stage_exp as unsafe fn(&mut [f32])),
            ("recip", stage_recip),
            ("two_sum", stage_sum),
            ("newton3", stage_newton),
            ("final", stage_final),
            ("split_scale", stage_split_scale),
        ] {
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let mut v: std::vec::Vec<f32> = base.iter().map(|x| x.abs() + 1.0).collect();
                let t = Instant::now();
                unsafe { f(&mut v) };
                best = best.min(t.elapsed().as_secs_f64());
                std::hint::black_box(&v);
            }
            std::println!("{name}: {:.2} ns/element", best * 1e9 / n as f64);
        }
    }
}
