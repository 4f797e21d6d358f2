//! Backward passes of 2×2 average pooling and nearest up-sampling
//! ([`powerpost_core::nn::resample`]), one task per plane.
//!
//! - Pooling: every fine pixel of a 2×2 block receives `0.25 · d_coarse`.
//! - Up-sampling: `d_coarse = (d_a + d_b) + (d_c + d_d)` over the 2×2 fine block
//!   (`a, b` the upper row).

use powerpost_core::exec::{Executor, SharedMut};
use powerpost_core::nn::geometry::Geometry;

/// Gradient of [`powerpost_core::nn::resample::avg_pool2`]: `grad_fine` (written, zero
/// ring) from `grad_coarse`, `planes` planes of geometry `fine`.
pub fn avg_pool2_backward(
    exec: &dyn Executor,
    fine: Geometry,
    planes: usize,
    grad_coarse: &[f32],
    grad_fine: &mut [f32],
) {
    let coarse = fine.half();
    assert_eq!(grad_coarse.len(), planes * coarse.plane_len());
    assert_eq!(grad_fine.len(), planes * fine.plane_len());
    let shared = SharedMut::new(grad_fine);
    exec.for_each(planes, &|plane| {
        let src = &grad_coarse[plane * coarse.plane_len()..(plane + 1) * coarse.plane_len()];
        // SAFETY: one task per output plane.
        let dst = unsafe { shared.slice(plane * fine.plane_len(), fine.plane_len()) };
        dst.fill(0.0);
        for y in 0..fine.height {
            let o = fine.index(y, 0);
            let i = coarse.index(y / 2, 0);
            for x in 0..fine.width {
                dst[o + x] = src[i + x / 2] * 0.25;
            }
        }
    });
}

/// Gradient of [`powerpost_core::nn::resample::upsample_nearest2`]: `grad_coarse`
/// (written, zero ring) from `grad_fine`, `planes` planes of geometry `coarse`.
pub fn upsample_nearest2_backward(
    exec: &dyn Executor,
    coarse: Geometry,
    planes: usize,
    grad_fine: &[f32],
    grad_coarse: &mut [f32],
) {
    let fine = coarse.double();
    assert_eq!(grad_coarse.len(), planes * coarse.plane_len());
    assert_eq!(grad_fine.len(), planes * fine.plane_len());
    let shared = SharedMut::new(grad_coarse);
    exec.for_each(planes, &|plane| {
        let src = &grad_fine[plane * fine.plane_len()..(plane + 1) * fine.plane_len()];
        // SAFETY: one task per output plane.
        let dst = unsafe { shared.slice(plane * coarse.plane_len(), coarse.plane_len()) };
        dst.fill(0.0);
        for y in 0..coarse.height {
            let r0 = fine.index(2 * y, 0);
            let r1 = fine.index(2 * y + 1, 0);
            let o = coarse.index(y, 0);
            for x in 0..coarse.width {
                let (a, b) = (src[r0 + 2 * x], src[r0 + 2 * x + 1]);
                let (c, d) = (src[r1 + 2 * x], src[r1 + 2 * x + 1]);
                dst[o + x] = (a + b) + (c + d);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use powerpost_core::exec::Serial;

    /// Interior values `f(plane, y, x)`, zero ring.
    fn padded(g: Geometry, planes: usize, f: impl Fn(usize, usize, usize) -> f32) -> Vec<f32> {
        let mut v = vec![0.0; planes * g.plane_len()];
        for p in 0..planes {
            for y in 0..g.height {
                for x in 0..g.width {
                    v[p * g.plane_len() + g.index(y, x)] = f(p, y, x);
                }
            }
        }
        v
    }

    /// Both adjoints overwrite a NaN-filled output completely (zero ring included; the
    /// trainer hands them reused buffers without zeroing) with the values of their
    /// definitions.
    #[test]
    fn backward_passes_write_every_value_by_their_definitions() {
        let (fine, planes) = (Geometry::new(6, 10), 3);
        let coarse = fine.half();
        let value = |p: usize, y: usize, x: usize| (p * 31 + y * 7 + x) as f32 * 0.125 - 2.0;

        let d_coarse = padded(coarse, planes, value);
        let mut d_fine = vec![f32::NAN; planes * fine.plane_len()];
        avg_pool2_backward(&Serial, fine, planes, &d_coarse, &mut d_fine);
        super::super::assert_overwritten_with_zero_ring(fine, &d_fine);
        let want = padded(fine, planes, |p, y, x| value(p, y / 2, x / 2) * 0.25);
        assert_eq!(d_fine, want);

        let d_fine = padded(fine, planes, value);
        let mut d_coarse = vec![f32::NAN; planes * coarse.plane_len()];
        upsample_nearest2_backward(&Serial, coarse, planes, &d_fine, &mut d_coarse);
        super::super::assert_overwritten_with_zero_ring(coarse, &d_coarse);
        let want = padded(coarse, planes, |p, y, x| {
            let v = |dy: usize, dx: usize| value(p, 2 * y + dy, 2 * x + dx);
            (v(0, 0) + v(0, 1)) + (v(1, 0) + v(1, 1))
        });
        assert_eq!(d_coarse, want);
    }
}
