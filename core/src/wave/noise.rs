//! Band-limited ("coloured") Gaussian noise at a prescribed signal-to-noise ratio.
//!
//! White noise `w[t', j]` for `t' = 0..nt + L − 1` and receiver `j` is Gaussian number
//! `t'·nrec + j` of [`NoiseStream`]`::new(seed, shot_index)`. It is coloured by causal
//! convolution with `filter` (length `L`, normally the source wavelet's first `L` samples,
//! so the noise has the data's amplitude spectrum): `c[t, j] = Σ_{k=0}^{L−1} filter[k] ·
//! w[t + L − 1 − k, j]`, summed in increasing `k`. It is then scaled so that
//! `10·log10(‖shot‖² / ‖noise‖²) = snr_db` over this shot (energies summed in f64 in index
//! order) and added to the shot.

use crate::{
    detmath,
    error::{check_len, Error},
    rng::NoiseStream,
};

/// Floats of scratch for [`add_colored_noise`]: `(nt + L − 1)·nrec` white samples.
pub fn colored_noise_scratch_len(nt: usize, nrec: usize, filter_len: usize) -> usize {
    (nt + filter_len.saturating_sub(1)) * nrec
}

/// Adds coloured noise to `shot` (`nt × nrec`, time-major) at `snr_db` decibels.
///
/// # Errors
/// [`Error::BufferLength`] for wrong sizes, [`Error::InvalidArgument`] for an empty or
/// all-zero filter, a non-finite SNR or a silent shot.
#[allow(clippy::too_many_arguments)]
pub fn add_colored_noise(
    shot: &mut [f32],
    nt: usize,
    nrec: usize,
    filter: &[f32],
    snr_db: f32,
    seed: u64,
    shot_index: u64,
    scratch: &mut [f32],
) -> Result<(), Error> {
    check_len("shot", shot.len(), nt * nrec)?;
    if filter.is_empty()
        || filter.iter().all(|&v| v == 0.0)
        || filter.iter().any(|v| !v.is_finite())
    {
        return Err(Error::InvalidArgument {
            name: "filter",
            expected: "finite, not all zero",
        });
    }
    if !(snr_db.is_finite() && snr_db.abs() <= 200.0) {
        return Err(Error::InvalidArgument {
            name: "snr_db",
            expected: "finite, within ±200 dB",
        });
    }
    let l = filter.len();
    check_len(
        "scratch",
        scratch.len(),
        colored_noise_scratch_len(nt, nrec, l),
    )?;
    NoiseStream::new(seed, shot_index).fill_gaussian(0, scratch);
    let signal: f64 = shot.iter().map(|&v| v as f64 * v as f64).sum();
    if !(signal > 0.0 && signal.is_finite()) {
        return Err(Error::InvalidArgument {
            name: "shot",
            expected: "finite data with nonzero energy",
        });
    }
    // Coloured noise energy first (pass 1), then scale and add (pass 2). The filter runs
    // over blocks of `BLOCK` receivers of one time sample at once (contiguous, so the
    // inner loop vectorises); each value still sums its taps in increasing `k`.
    const BLOCK: usize = 64;
    let colored = |t: usize, j0: usize, acc: &mut [f32]| {
        acc.fill(0.0);
        for (k, &f) in filter.iter().enumerate() {
            let white = &scratch[(t + l - 1 - k) * nrec + j0..][..acc.len()];
            for (a, &w) in acc.iter_mut().zip(white) {
                *a = *a + f * w;
            }
        }
    };
    let mut block = [0.0f32; BLOCK];
    let mut noise = 0.0f64;
    for t in 0..nt {
        for j0 in (0..nrec).step_by(BLOCK) {
            let acc = &mut block[..BLOCK.min(nrec - j0)];
            colored(t, j0, acc);
            for &c in acc.iter() {
                noise += c as f64 * c as f64;
            }
        }
    }
    let ratio = (signal / noise) as f32;
    let scale = detmath::sqrt(ratio) * detmath::exp(-snr_db * (core::f32::consts::LN_10 / 20.0));
    for t in 0..nt {
        for j0 in (0..nrec).step_by(BLOCK) {
            let acc = &mut block[..BLOCK.min(nrec - j0)];
            colored(t, j0, acc);
            for (o, &c) in shot[t * nrec + j0..].iter_mut().zip(acc.iter()) {
                *o = *o + scale * c;
            }
        }
    }
    Ok(())
}

/// Relative L2 data residual `‖predicted − observed‖₂ / ‖observed‖₂`, sums in f64 in
/// index order.
///
/// # Errors
/// [`Error::BufferLength`] if the lengths differ; [`Error::InvalidArgument`] if
/// `observed` is all zero or anything is non-finite.
pub fn relative_residual(predicted: &[f32], observed: &[f32]) -> Result<f64, Error> {
    check_len("predicted", predicted.len(), observed.len())?;
    let mut num = 0.0f64;
    let mut den = 0.0f64;
    for (&p, &o) in predicted.iter().zip(observed) {
        let d = p as f64 - o as f64;
        num += d * d;
        den += o as f64 * o as f64;
    }
    if !(den > 0.0 && den.is_finite() && num.is_finite()) {
        return Err(Error::InvalidArgument {
            name: "observed",
            expected: "finite shots with nonzero energy",
        });
    }
    Ok(libm::sqrt(num) / libm::sqrt(den))
}
