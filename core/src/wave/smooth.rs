//! Separable Gaussian smoothing (the migration background is a smoothed velocity model).
//!
//! Kernel: `gₖ = e^{−k²/(2σ²)} / S` for `k = −R..=R`, `R = ⌈3σ⌉`, `S = Σₖ e^{−k²/(2σ²)}`
//! summed in increasing `k`, applied as a multiplication by `1/S`. Edges replicate the
//! border value. Order: first along x (each row), into scratch, then along z (each
//! column); every output value sums its `2R + 1` terms in increasing `k`. `σ` is in grid
//! points; `σ = 0` copies the input.

use crate::{
    detmath,
    error::{check_len, Error},
};

/// Kernel radius `⌈3σ⌉` for `sigma` in grid points.
///
/// # Errors
/// [`Error::InvalidArgument`] unless `0 ≤ σ ≤ 1000`.
pub fn gaussian_radius(sigma: f32) -> Result<usize, Error> {
    if !(sigma.is_finite() && (0.0..=1000.0).contains(&sigma)) {
        return Err(Error::InvalidArgument {
            name: "sigma",
            expected: "0 ..= 1000 grid points",
        });
    }
    Ok(libm::ceilf(3.0 * sigma) as usize)
}

/// Floats of scratch for [`gaussian_smooth`]: `nz·nx + 2R + 1`.
///
/// # Errors
/// As [`gaussian_radius`].
pub fn smooth_scratch_len(nz: usize, nx: usize, sigma: f32) -> Result<usize, Error> {
    Ok(nz * nx + 2 * gaussian_radius(sigma)? + 1)
}

/// Smooths `input` (`nz × nx`, row-major) with a Gaussian of standard deviation `sigma`
/// grid points into `out`.
///
/// # Errors
/// [`Error::BufferLength`] for wrong sizes, [`Error::InvalidArgument`] for a bad `sigma`
/// or an empty grid.
pub fn gaussian_smooth(
    input: &[f32],
    nz: usize,
    nx: usize,
    sigma: f32,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    if nz == 0 || nx == 0 {
        return Err(Error::InvalidArgument {
            name: "grid",
            expected: "nz, nx > 0",
        });
    }
    let r = gaussian_radius(sigma)?;
    check_len("input", input.len(), nz * nx)?;
    check_len("out", out.len(), nz * nx)?;
    check_len("scratch", scratch.len(), smooth_scratch_len(nz, nx, sigma)?)?;
    if r == 0 {
        out.copy_from_slice(input);
        return Ok(());
    }
    let (tmp, kernel) = scratch.split_at_mut(nz * nx);
    let inv_two_s2 = detmath::recip(2.0 * sigma * sigma);
    let mut sum = 0.0f32;
    for (i, g) in kernel.iter_mut().enumerate() {
        let k = i as f32 - r as f32;
        *g = detmath::exp(-(k * k) * inv_two_s2);
        sum = sum + *g;
    }
    let inv = detmath::recip(sum);
    for g in kernel.iter_mut() {
        *g = *g * inv;
    }
    let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    for iz in 0..nz {
        let row = &input[iz * nx..(iz + 1) * nx];
        for ix in 0..nx {
            let mut acc = 0.0f32;
            for (i, &g) in kernel.iter().enumerate() {
                acc = acc + g * row[clamp(ix as isize + i as isize - r as isize, nx)];
            }
            tmp[iz * nx + ix] = acc;
        }
    }
    for iz in 0..nz {
        for ix in 0..nx {
            let mut acc = 0.0f32;
            for (i, &g) in kernel.iter().enumerate() {
                acc = acc + g * tmp[clamp(iz as isize + i as isize - r as isize, nz) * nx + ix];
            }
            out[iz * nx + ix] = acc;
        }
    }
    Ok(())
}
