//! Reductions in one documented summation order.
//!
//! Floating-point addition is not associative, so a sum's bits depend on the order of its
//! additions. Every reduction in the core that defines output bits goes through this
//! module, which fixes that order once, for every backend (scalar, SIMD of any width, GLSL):
//!
//! 1. **Eight interleaved partial sums.** Element `i` is added to partial sum `i mod 8`,
//!    in increasing `i`, each partial sum starting at `+0.0`:
//!    `p[k] = ((…((0 + t[k]) + t[k+8]) + t[k+16]) …)`, where `t[i]` is the term of element
//!    `i` (`v[i]` for [`sum`], `v[i] × v[i]` rounded to f32 for [`sum_squares`]; the
//!    product is rounded before the addition — never a fused multiply-add).
//! 2. **Pairwise combination.** `((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))`.
//!
//! Eight lanes map directly onto one AVX2 register (or two SSE/NEON registers, or eight
//! GPU invocations), and the interleaving keeps each lane's running sum to `len / 8`
//! terms, which also improves accuracy over a single running sum. The empty sum is `+0.0`.

/// Number of interleaved partial sums (lanes) in the documented order.
pub const LANES: usize = 8;

/// Combines the eight partial sums pairwise: `((p0+p1)+(p2+p3))+((p4+p5)+(p6+p7))`.
#[inline]
fn combine(p: [f32; LANES]) -> f32 {
    ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))
}

/// Σ `v[i]` in the documented order (module docs).
pub fn sum(values: &[f32]) -> f32 {
    let mut partial = [0.0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (p, &v) in partial.iter_mut().zip(chunk) {
            *p += v;
        }
    }
    for (p, &v) in partial.iter_mut().zip(chunks.remainder()) {
        *p += v;
    }
    combine(partial)
}

/// Σ `v[i]²` (the squared Euclidean norm) in the documented order (module docs); each square
/// is rounded to f32 before it is added.
pub fn sum_squares(values: &[f32]) -> f32 {
    let mut partial = [0.0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (p, &v) in partial.iter_mut().zip(chunk) {
            *p += v * v;
        }
    }
    for (p, &v) in partial.iter_mut().zip(chunks.remainder()) {
        *p += v * v;
    }
    combine(partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive transcription of the documented order, element by element.
    fn reference(values: &[f32], square: bool) -> f32 {
        let mut p = [0.0f32; 8];
        for (i, &v) in values.iter().enumerate() {
            let t = if square { v * v } else { v };
            p[i % 8] += t;
        }
        ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))
    }

    /// Values whose sums are order-sensitive in f32 (mixed magnitudes and signs).
    fn awkward(len: usize) -> [f32; 64] {
        let mut v = [0.0f32; 64];
        let mut state = 0x1234_5678u32;
        for (i, x) in v.iter_mut().enumerate().take(len) {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let mantissa = (state >> 8) as f32 / 16_777_216.0 - 0.5;
            let scale = [1.0e-3, 1.0, 1.0e4, 3.0][i % 4];
            *x = mantissa * scale;
        }
        v
    }

    #[test]
    fn matches_documented_order_bit_for_bit() {
        for len in 0..=64 {
            let v = awkward(len);
            let v = &v[..len];
            assert_eq!(
                sum(v).to_bits(),
                reference(v, false).to_bits(),
                "sum, len {len}"
            );
            assert_eq!(
                sum_squares(v).to_bits(),
                reference(v, true).to_bits(),
                "sum_squares, len {len}"
            );
        }
    }

    #[test]
    fn order_is_not_the_sequential_one() {
        // Guard against silently changing the order: on this input the sequential sum
        // differs from the documented one (so the previous test can tell them apart).
        let v = [1.0e8f32, 1.0, -1.0e8, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let sequential = v.iter().fold(0.0f32, |a, &b| a + b);
        assert_ne!(sum(&v).to_bits(), sequential.to_bits());
        // p0 = 1e8 + 1 = 1e8 (ulp 8), p1 = 2, p2 = -1e8, p3 = 1; (p0 + p1) = 1e8,
        // (p2 + p3) = -1e8, total 0. Sequentially: ((1e8 + 1) - 1e8) + 1 + 1 + 1 = 3.
        assert_eq!(sum(&v), 0.0);
        assert_eq!(sequential, 3.0);
    }

    #[test]
    fn sum_squares_close_to_f64() {
        let v = awkward(64);
        let exact: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        let got = f64::from(sum_squares(&v));
        assert!(((got - exact) / exact).abs() < 64.0 * f64::from(f32::EPSILON));
        assert_eq!(sum_squares(&[]), 0.0);
    }
}
