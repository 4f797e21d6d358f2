//! Fully connected layers and the noise-level embedding's Fourier features.
//!
//! ## Arithmetic
//! `linear`: `out[o] = bias[o] + Σ_i weight[o][i] × in[i]`, accumulated as
//! `acc = bias[o]; for i in 0..in { acc = acc + weight[o][i] × in[i] }`.
//!
//! `fourier_features`: for `i < F/2`, `a_i = c_noise × FREQUENCIES[i]`,
//! `out[i] = detmath::cos(a_i)`, `out[F/2 + i] = detmath::sin(a_i)`.

use crate::detmath;
use crate::error::{check_len, Error};

/// Checks the arguments of [`linear`] (every backend runs the same checks, in this order);
/// `out_len` is the output buffer's length.
///
/// # Errors
/// As [`linear`].
pub fn check_linear(
    weight: &[f32],
    bias: &[f32],
    input: &[f32],
    out_len: usize,
) -> Result<(), Error> {
    // Saturating: no slice of f32 holds usize::MAX values, so an overflow is refused.
    check_len(
        "linear weight",
        weight.len(),
        out_len.saturating_mul(input.len()),
    )?;
    check_len("linear bias", bias.len(), out_len)
}

/// `out = weight · input + bias` for a `weight` of `out.len() × input.len()` values.
///
/// # Errors
/// [`Error::BufferLength`] for mis-sized buffers.
pub fn linear(weight: &[f32], bias: &[f32], input: &[f32], out: &mut [f32]) -> Result<(), Error> {
    check_linear(weight, bias, input, out.len())?;
    if input.is_empty() {
        // An empty sum: every output is its bias (`chunks_exact` below yields no rows).
        out.copy_from_slice(bias);
        return Ok(());
    }
    for ((o, row), &b) in out
        .iter_mut()
        .zip(weight.chunks_exact(input.len()))
        .zip(bias)
    {
        let mut acc = b;
        for (&w, &x) in row.iter().zip(input) {
            acc += w * x;
        }
        *o = acc;
    }
    Ok(())
}

/// Frequencies of the Fourier features: `2^(i/4)` for `i = 0..32`, rounded to f32
/// (1 to ≈ 215 radians per unit of `c_noise = ln(σ)/4`).
#[allow(clippy::excessive_precision)]
pub const FREQUENCIES: [f32; 32] = [
    1.0,
    1.189_207_1,
    core::f32::consts::SQRT_2,
    1.681_792_8,
    2.0,
    2.378_414_2,
    2.828_427_1,
    3.363_585_7,
    4.0,
    4.756_828_5,
    5.656_854_2,
    6.727_171_3,
    8.0,
    9.513_657,
    11.313_708,
    13.454_343,
    16.0,
    19.027_313,
    22.627_417,
    26.908_686,
    32.0,
    38.054_626,
    45.254_834,
    53.817_371,
    64.0,
    76.109_253,
    90.509_668,
    107.634_74,
    128.0,
    152.218_51,
    181.019_34,
    215.269_48,
];

/// Checks the arguments of [`fourier_features`] (every backend runs the same check);
/// `out_len` is the output buffer's length.
///
/// # Errors
/// As [`fourier_features`].
pub fn check_fourier_features(out_len: usize) -> Result<(), Error> {
    check_len("fourier features", out_len, 2 * FREQUENCIES.len())
}

/// Writes the `2 × FREQUENCIES.len()` Fourier features of `c_noise` into `out`.
///
/// # Errors
/// [`Error::BufferLength`] unless `out.len() == 2 × FREQUENCIES.len()`.
pub fn fourier_features(c_noise: f32, out: &mut [f32]) -> Result<(), Error> {
    let half = FREQUENCIES.len();
    check_fourier_features(out.len())?;
    let (cos_part, sin_part) = out.split_at_mut(half);
    for ((c, s), &f) in cos_part
        .iter_mut()
        .zip(sin_part.iter_mut())
        .zip(FREQUENCIES.iter())
    {
        let a = c_noise * f;
        *c = detmath::cos(a);
        *s = detmath::sin(a);
    }
    Ok(())
}
