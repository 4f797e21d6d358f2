//! Down-sampling (2×2 average pooling) and nearest-neighbour up-sampling by 2.
//!
//! ## Arithmetic
//! - `avg_pool2`: `out(y, x) = ((a + b) + (c + d)) × 0.25` with `a = in(2y, 2x)`,
//!   `b = in(2y, 2x+1)`, `c = in(2y+1, 2x)`, `d = in(2y+1, 2x+1)`.
//! - `upsample_nearest2`: `out(y, x) = in(y / 2, x / 2)` (exact copy).
//!
//! Both work on padded planar tensors (see [`super::geometry`]) and leave the output's
//! zero ring zero. Tasks are whole planes.

use super::geometry::Geometry;
use crate::error::{check_len, Error};
use crate::exec::{Executor, SharedMut};

/// Checks the arguments of [`avg_pool2`] (every backend runs the same checks, in this
/// order) and returns the output geometry; `input_len` and `out_len` are the buffers'
/// lengths.
///
/// # Errors
/// As [`avg_pool2`].
pub fn check_avg_pool2(
    fine: Geometry,
    planes: usize,
    input_len: usize,
    out_len: usize,
) -> Result<Geometry, Error> {
    if fine.height % 2 != 0 || fine.width % 2 != 0 {
        return Err(Error::InvalidArgument {
            name: "geometry",
            expected: "even height and width",
        });
    }
    let coarse = fine.half();
    check_len("pool input", input_len, planes * fine.plane_len())?;
    check_len("pool output", out_len, planes * coarse.plane_len())?;
    Ok(coarse)
}

/// Averages 2×2 blocks of `input` (geometry `fine`, even sides) into `out` (half size).
///
/// # Errors
/// [`Error::InvalidArgument`] for odd sides; [`Error::BufferLength`] for mis-sized buffers.
pub fn avg_pool2(
    exec: &dyn Executor,
    fine: Geometry,
    planes: usize,
    input: &[f32],
    out: &mut [f32],
) -> Result<(), Error> {
    let coarse = check_avg_pool2(fine, planes, input.len(), out.len())?;
    let shared = SharedMut::new(out);
    exec.for_each(planes, &|plane| {
        let src = &input[plane * fine.plane_len()..(plane + 1) * fine.plane_len()];
        // SAFETY: one task per output plane.
        let dst = unsafe { shared.slice(plane * coarse.plane_len(), coarse.plane_len()) };
        dst.fill(0.0);
        for y in 0..coarse.height {
            let r0 = fine.index(2 * y, 0);
            let r1 = fine.index(2 * y + 1, 0);
            let o = coarse.index(y, 0);
            for x in 0..coarse.width {
                let a = src[r0 + 2 * x];
                let b = src[r0 + 2 * x + 1];
                let c = src[r1 + 2 * x];
                let d = src[r1 + 2 * x + 1];
                dst[o + x] = ((a + b) + (c + d)) * 0.25;
            }
        }
    });
    Ok(())
}

/// Checks the arguments of [`upsample_nearest2`] (every backend runs the same checks, in
/// this order) and returns the output geometry; `input_len` and `out_len` are the buffers'
/// lengths.
///
/// # Errors
/// As [`upsample_nearest2`].
pub fn check_upsample_nearest2(
    coarse: Geometry,
    planes: usize,
    input_len: usize,
    out_len: usize,
) -> Result<Geometry, Error> {
    let fine = coarse.double();
    check_len("upsample input", input_len, planes * coarse.plane_len())?;
    check_len("upsample output", out_len, planes * fine.plane_len())?;
    Ok(fine)
}

/// Repeats every pixel of `input` (geometry `coarse`) 2×2 times into `out` (double size).
///
/// # Errors
/// [`Error::BufferLength`] for mis-sized buffers.
pub fn upsample_nearest2(
    exec: &dyn Executor,
    coarse: Geometry,
    planes: usize,
    input: &[f32],
    out: &mut [f32],
) -> Result<(), Error> {
    let fine = check_upsample_nearest2(coarse, planes, input.len(), out.len())?;
    let shared = SharedMut::new(out);
    exec.for_each(planes, &|plane| {
        let src = &input[plane * coarse.plane_len()..(plane + 1) * coarse.plane_len()];
        // SAFETY: one task per output plane.
        let dst = unsafe { shared.slice(plane * fine.plane_len(), fine.plane_len()) };
        dst.fill(0.0);
        for y in 0..fine.height {
            let i = coarse.index(y / 2, 0);
            let o = fine.index(y, 0);
            for x in 0..fine.width {
                dst[o + x] = src[i + x / 2];
            }
        }
    });
    Ok(())
}
