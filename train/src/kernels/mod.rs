//! Backward kernels for every layer of the core's U-Net, on the core's padded planar
//! layout ([`powerpost_core::nn::geometry`]).
//!
//! ## Determinism
//! Every kernel splits its work into tasks that each own a disjoint part of the output
//! (an output channel, a batch item × group, a plane) and performs every sum in one
//! documented order inside its task. Sums over the batch are formed per batch item and
//! then added in batch order. So the result bits never depend on the executor's thread
//! count or scheduling. There is no fused multiply-add; vectorised loops keep the scalar
//! order lane by lane (eight interleaved partial sums, combined as
//! `((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`, the order of
//! [`powerpost_core::nn::norm::Sum8`]).
//!
//! Gradient tensors keep the layout's zero ring zero (the convolution backward passes rely
//! on it).

pub mod conv;
pub mod linear;
pub mod norm;
pub mod resample;
pub mod winograd_grad;

use powerpost_core::error::Error;
use powerpost_core::nn::simd::Isa;

/// Combines eight lane partial sums in the fixed tree order.
#[inline(always)]
pub fn combine8(s: &[f32; 8]) -> f32 {
    ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

/// Derivative of SiLU at `y`: `s · (1 + y · (1 − s))` with the logistic
/// `s = σ(y)` from [`powerpost_core::detmath::sigmoid`] (`1 / (1 + e)` for `y ≥ 0` and
/// `e / (1 + e)` otherwise, `e = exp(−|y|)`, never overflowing). Branch-free, so loops
/// over it vectorise.
#[inline(always)]
pub fn silu_grad(y: f32) -> f32 {
    let s = powerpost_core::detmath::sigmoid(y);
    s * (1.0 + y * (1.0 - s))
}

/// Width of the vectorised loops the trainer's own kernels run for `isa`: 16 (AVX-512),
/// 8 (AVX2) or 1 (portable code, also for SSE2). Same bits for every width.
pub(crate) fn tile_lanes(isa: Isa) -> usize {
    match isa.lanes() {
        l if l >= 16 => 16,
        l if l >= 8 => 8,
        _ => 1,
    }
}

/// [`Error::InvalidArgument`] unless this CPU runs `isa` (the kernels' entry check, as in
/// the core's).
pub(crate) fn check_isa(isa: Isa) -> Result<(), Error> {
    if isa.is_supported() {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name: "isa",
            expected: "an instruction set this CPU supports",
        })
    }
}

/// `planes` padded planes of `g` with deterministic pseudo-random values in [−1, 1) on
/// the interior (xorshift from `seed`) and `ring` in the ring cells (test helper).
#[cfg(test)]
pub(crate) fn padded_test_planes(
    g: powerpost_core::nn::geometry::Geometry,
    planes: usize,
    seed: u32,
    ring: f32,
) -> Vec<f32> {
    let mut v = vec![ring; planes * g.plane_len()];
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    for p in 0..planes {
        for y in 0..g.height {
            for x in 0..g.width {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                v[p * g.plane_len() + g.index(y, x)] =
                    (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0;
            }
        }
    }
    v
}

/// Asserts that every value of the planes in `values` is finite and every ring cell `+0`
/// (test helper for kernels that must overwrite their whole output).
#[cfg(test)]
pub(crate) fn assert_overwritten_with_zero_ring(
    geometry: powerpost_core::nn::geometry::Geometry,
    values: &[f32],
) {
    assert!(values.iter().all(|v| v.is_finite()));
    for plane in values.chunks_exact(geometry.plane_len()) {
        for (p, v) in plane.iter().enumerate() {
            let (y, x) = (p / geometry.stride(), p % geometry.stride());
            if y == 0 || y > geometry.height || x == 0 || x > geometry.width {
                assert_eq!(v.to_bits(), 0, "ring cell {p}");
            }
        }
    }
}
