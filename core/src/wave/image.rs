//! RTM image post-processing (outside the Born/RTM adjoint pair): water-layer mute,
//! source-illumination compensation and a Laplacian filter that removes the
//! low-wavenumber backscattering artefacts of the cross-correlation imaging condition.

use crate::{
    detmath,
    error::{check_len, Error},
};

/// Zeroes, in every column, the image rows from the top down to the last row whose
/// velocity is at most `water_velocity` (the water layer), plus `extra_rows` more.
///
/// # Errors
/// [`Error::BufferLength`] for wrong sizes.
pub fn mute_water(
    image: &mut [f32],
    velocity: &[f32],
    nz: usize,
    nx: usize,
    water_velocity: f32,
    extra_rows: usize,
) -> Result<(), Error> {
    check_len("image", image.len(), nz * nx)?;
    check_len("velocity", velocity.len(), nz * nx)?;
    for ix in 0..nx {
        let mut bottom = 0;
        while bottom < nz && velocity[bottom * nx + ix] <= water_velocity {
            bottom += 1;
        }
        for iz in 0..(bottom + extra_rows).min(nz) {
            image[iz * nx + ix] = 0.0;
        }
    }
    Ok(())
}

/// Divides the image by the source illumination: `image / (illum + ε·max(illum))`.
///
/// # Errors
/// [`Error::BufferLength`] for wrong sizes; [`Error::InvalidArgument`] unless `ε > 0`.
pub fn compensate_illumination(
    image: &mut [f32],
    illumination: &[f32],
    epsilon: f32,
) -> Result<(), Error> {
    check_len("illumination", illumination.len(), image.len())?;
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(Error::InvalidArgument {
            name: "epsilon",
            expected: "finite and > 0",
        });
    }
    let max = illumination.iter().fold(0.0f32, |m, &v| m.max(v));
    if !(max > 0.0 && max.is_finite()) {
        return Err(Error::InvalidArgument {
            name: "illumination",
            expected: "finite, not all zero",
        });
    }
    let floor = epsilon * max;
    for (v, &il) in image.iter_mut().zip(illumination) {
        *v = detmath::div(*v, il + floor);
    }
    Ok(())
}

/// `out = −(∂zz + ∂xx) image` with the 5-point stencil in grid units and zero outside.
///
/// # Errors
/// [`Error::BufferLength`] for wrong sizes.
pub fn laplacian_filter(image: &[f32], nz: usize, nx: usize, out: &mut [f32]) -> Result<(), Error> {
    check_len("image", image.len(), nz * nx)?;
    check_len("out", out.len(), nz * nx)?;
    let at = |iz: isize, ix: isize| {
        if iz < 0 || ix < 0 || iz >= nz as isize || ix >= nx as isize {
            0.0
        } else {
            image[iz as usize * nx + ix as usize]
        }
    };
    for iz in 0..nz as isize {
        for ix in 0..nx as isize {
            let c = at(iz, ix);
            let s =
                ((at(iz - 1, ix) + at(iz + 1, ix)) + (at(iz, ix - 1) + at(iz, ix + 1))) - 4.0 * c;
            out[iz as usize * nx + ix as usize] = -s;
        }
    }
    Ok(())
}
