//! Backward passes of the core's convolution ([`powerpost_core::nn::conv`]).
//!
//! Forward (per batch item `b`, output channel `o`, interior pixel `p`, taps `k` with
//! flattened offsets `off_k = (ky − r)·stride + (kx − r)`):
//! `out[b][o][p] = bias[b][o] + Σ_i Σ_k w[o][i][k] · x[b][i][p + off_k]`.
//!
//! - **Input gradient**: `dx[b][i][q] = Σ_o Σ_k w[o][i][k] · dy[b][o][q − off_k]`, which is
//!   the forward convolution of `dy` (zero ring) with the transposed, tap-flipped weights
//!   `wᵀ[i][o][k'] = w[o][i][K²−1−k]`; it runs on the core's fast [`conv2d`] kernel
//!   ([`conv_input_grad`]).
//! - **Weight gradient**: `dw[o][i][k] = Σ_b Σ_p dy[b][o][p] · x[b][i][p + off_k]`;
//!   **bias gradient** `db[b][o] = Σ_p dy[b][o][p]` (per item, for the per-item biases).
//!   One task per output channel `o`. For each batch item the pixel sum runs over the
//!   flattened interior range `p0..p1` (ring cells between rows carry `dy = 0`) with eight
//!   lane partial sums (pixel `p0 + j` into lane `j mod 8`, in increasing `p`), combined
//!   by [`super::combine8`]; the per-item totals are added in batch order.

use super::combine8;
use powerpost_core::exec::{Executor, SharedMut};
use powerpost_core::nn::conv::{conv2d, Conv, Source};
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::simd::Isa;
use powerpost_core::Error;

/// `wᵀ[i][o][k'] = w[o][i][K²−1−k']` (transposed and flipped): the weights whose forward
/// convolution is the input gradient.
pub fn transpose_flip(weight: &[f32], out_channels: usize, in_channels: usize, kernel: usize) -> Vec<f32> {
    let k2 = kernel * kernel;
    let mut t = vec![0.0; weight.len()];
    for o in 0..out_channels {
        for i in 0..in_channels {
            for k in 0..k2 {
                t[(i * out_channels + o) * k2 + (k2 - 1 - k)] = weight[(o * in_channels + i) * k2 + k];
            }
        }
    }
    t
}

/// Input gradient of a convolution: `grad_in` (`batch × in_channels × plane`, written,
/// zero ring) from `grad_out` (`batch × out_channels × plane`, zero ring).
///
/// # Errors
/// As [`conv2d`] for mis-sized buffers.
#[allow(clippy::too_many_arguments)]
pub fn conv_input_grad(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    kernel: usize,
    weight: &[f32],
    out_channels: usize,
    in_channels: usize,
    grad_out: &[f32],
    grad_in: &mut [f32],
) -> Result<(), Error> {
    let transposed = transpose_flip(weight, out_channels, in_channels, kernel);
    let zero_bias = vec![0.0; batch * in_channels];
    conv2d(
        exec,
        isa,
        geometry,
        batch,
        &[Source { data: grad_out, channels: out_channels }],
        &Conv { kernel, out_channels: in_channels, weight: &transposed, bias: &zero_bias, residual: None, residual_scale: 1.0 },
        grad_in,
    )
}

/// Weight gradient `dw` (`out × in × kernel²`, written) and per-item bias gradient
/// `db` (`batch × out`, written) of a convolution of `sources` (concatenated along
/// channels, as in the forward pass) with output gradient `grad_out`.
///
/// # Errors
/// [`Error::BufferLength`] / [`Error::InvalidArgument`] for mis-sized buffers or a kernel
/// other than 1 or 3.
#[allow(clippy::too_many_arguments)]
pub fn conv_weight_grad(
    exec: &dyn Executor,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    kernel: usize,
    grad_out: &[f32],
    weight_grad: &mut [f32],
    bias_grad: &mut [f32],
) -> Result<(), Error> {
    if kernel != 1 && kernel != 3 {
        return Err(Error::InvalidArgument { name: "kernel", expected: "1 or 3" });
    }
    if sources.is_empty() || sources.len() > 2 || batch == 0 {
        return Err(Error::InvalidArgument { name: "sources", expected: "one or two inputs" });
    }
    let plane = geometry.plane_len();
    let in_channels: usize = sources.iter().map(|s| s.channels).sum();
    for s in sources {
        powerpost_core::error::check_len("conv-grad input", s.data.len(), batch * s.channels * plane)?;
    }
    let out_channels = grad_out.len() / (batch * plane).max(1);
    powerpost_core::error::check_len("conv-grad output gradient", grad_out.len(), batch * out_channels * plane)?;
    let k2 = kernel * kernel;
    powerpost_core::error::check_len("conv weight gradient", weight_grad.len(), out_channels * in_channels * k2)?;
    powerpost_core::error::check_len("conv bias gradient", bias_grad.len(), batch * out_channels)?;
    let stride = geometry.stride() as isize;
    let r = (kernel / 2) as isize;
    let mut offsets = [0isize; 9];
    for ky in 0..kernel {
        for kx in 0..kernel {
            offsets[ky * kernel + kx] = (ky as isize - r) * stride + (kx as isize - r);
        }
    }
    let p0 = geometry.index(0, 0);
    let p1 = geometry.index(geometry.height - 1, geometry.width - 1) + 1;
    let avx2 = super::has_avx2();
    let wg = SharedMut::new(weight_grad);
    let bg = SharedMut::new(bias_grad);
    exec.for_each(out_channels, &|o| {
        // SAFETY: task `o` writes only row `o` of the weight gradient and entries
        // `b·out + o` of the bias gradient.
        let dw = unsafe { wg.slice(o * in_channels * k2, in_channels * k2) };
        dw.fill(0.0);
        let mut partial = vec![[0.0f32; 8]; 9];
        for b in 0..batch {
            let dy = &grad_out[(b * out_channels + o) * plane..(b * out_channels + o + 1) * plane];
            let mut lanes = [0.0f32; 8];
            for (j, &v) in dy[p0..p1].iter().enumerate() {
                lanes[j % 8] += v;
            }
            // SAFETY: see above.
            unsafe { bg.slice(b * out_channels + o, 1)[0] = combine8(&lanes) };
            let mut first = 0;
            for s in sources {
                for local in 0..s.channels {
                    let x = &s.data[(b * s.channels + local) * plane..(b * s.channels + local + 1) * plane];
                    for p in partial.iter_mut() {
                        *p = [0.0; 8];
                    }
                    taps(avx2, kernel, dy, x, p0, p1, &offsets, &mut partial);
                    let row = &mut dw[(first + local) * k2..(first + local + 1) * k2];
                    for (d, p) in row.iter_mut().zip(&partial) {
                        *d += combine8(p);
                    }
                }
                first += s.channels;
            }
        }
    });
    Ok(())
}

/// Adds `dy[p] · x[p + off_k]` for `p` in `p0..p1` into lane `(p − p0) mod 8` of
/// `partial[k]`, picking the AVX2-compiled copy when available (same operations).
#[allow(clippy::too_many_arguments)]
fn taps(avx2: bool, kernel: usize, dy: &[f32], x: &[f32], p0: usize, p1: usize, offsets: &[isize; 9], partial: &mut [[f32; 8]]) {
    assert!(p0 as isize + offsets[0] >= 0 && (p1 as isize + offsets[8.min(kernel * kernel - 1)]) as usize <= x.len() && p1 <= dy.len());
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: AVX2 is available; bounds were asserted above.
        unsafe {
            if kernel == 3 {
                taps_avx2::<9>(dy, x, p0, p1, offsets, partial);
            } else {
                taps_avx2::<1>(dy, x, p0, p1, offsets, partial);
            }
        }
        return;
    }
    let _ = avx2;
    // SAFETY: bounds were asserted above.
    unsafe {
        if kernel == 3 {
            taps_generic::<9>(dy, x, p0, p1, offsets, partial);
        } else {
            taps_generic::<1>(dy, x, p0, p1, offsets, partial);
        }
    }
}

/// AVX2-compiled copy of [`taps_generic`].
///
/// # Safety
/// AVX2 must be available; as [`taps_generic`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn taps_avx2<const K2: usize>(dy: &[f32], x: &[f32], p0: usize, p1: usize, offsets: &[isize; 9], partial: &mut [[f32; 8]]) {
    // SAFETY: forwarded.
    unsafe { taps_generic::<K2>(dy, x, p0, p1, offsets, partial) }
}

/// The tap loop: eight pixels at a time, lane `j` of every accumulator taking pixel
/// `p + j`; the leftover pixels go to their lanes one at a time.
///
/// # Safety
/// `x[p + offsets[k]]` must be in bounds for every `p` in `p0..p1` and `k < K2`.
#[inline(always)]
unsafe fn taps_generic<const K2: usize>(dy: &[f32], x: &[f32], p0: usize, p1: usize, offsets: &[isize; 9], partial: &mut [[f32; 8]]) {
    let mut acc = [[0.0f32; 8]; K2];
    let xp = x.as_ptr();
    let mut p = p0;
    while p + 8 <= p1 {
        let d: [f32; 8] = dy[p..p + 8].try_into().unwrap_or([0.0; 8]);
        for k in 0..K2 {
            // SAFETY: guaranteed by the caller.
            let src = unsafe { xp.offset(p as isize + offsets[k]) };
            for j in 0..8 {
                // SAFETY: as above.
                acc[k][j] += d[j] * unsafe { *src.add(j) };
            }
        }
        p += 8;
    }
    let mut j = 0;
    while p < p1 {
        for k in 0..K2 {
            // SAFETY: as above.
            acc[k][j] += dy[p] * unsafe { *xp.offset(p as isize + offsets[k]) };
        }
        p += 1;
        j += 1;
    }
    for (dst, a) in partial.iter_mut().zip(acc.iter()) {
        *dst = *a;
    }
}
