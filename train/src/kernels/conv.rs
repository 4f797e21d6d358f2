//! Backward passes of the core's convolution ([`powerpost_core::nn::conv`]).
//!
//! Forward (per batch item `b`, output channel `o`, interior pixel `p`, taps `k` with
//! flattened offsets `off_k = (ky − r)·stride + (kx − r)`):
//! `out[b][o][p] = bias[b][o] + Σ_i Σ_k w[o][i][k] · x[b][i][p + off_k]`.
//!
//! - **Input gradient**: `dx[b][i][q] = Σ_o Σ_k w[o][i][k] · dy[b][o][q − off_k]`, which is
//!   the forward convolution of `dy` (zero ring) with the transposed, tap-flipped weights
//!   `wᵀ[i][o][k'] = w[o][i][K²−1−k]`; it runs on the core's forward kernel
//!   ([`network_conv`]: Winograd F(2×2, 3×3) for 3 × 3, direct for 1 × 1;
//!   [`conv_input_grad`]).
//! - **Weight gradient** (the network's 1 × 1 layers; its 3 × 3 layers take theirs through
//!   the Winograd transforms, [`super::winograd_grad`]):
//!   `dw[o][i][k] = Σ_b Σ_p dy[b][o][p] · x[b][i][p + off_k]`;
//!   **bias gradient** `db[b][o] = Σ_p dy[b][o][p]` (per item, for the per-item biases).
//!   For each batch item the pixel sum runs over the flattened interior range `p0..p1`
//!   (ring cells between rows carry `dy = 0`) with eight lane partial sums (pixel
//!   `p0 + j` into lane `j mod 8`, in increasing `p`), combined by [`super::combine8`];
//!   the per-item totals are added in batch order.
//!
//!   Blocking (it changes no sum): one task per block of up to [`out_block`] output
//!   channels × up to [`IN_BLOCK`] input channels. A 1 × 1 kernel uses the same tiles as
//!   a 3 × 3 one with up to three input channels in place of the nine taps of one
//!   channel. Each accumulator still takes its pixels in increasing `p`.
//!   - **AVX2 and portable loops** (three output channels per block): for one item and
//!     one input channel the task walks the pixels in chunks of [`CHUNK`] (a multiple of
//!     8, so lanes stay `(p − p0) mod 8`) and, inside a chunk, one kernel row at a time:
//!     the register tile is (output channels of the block) × (taps of the row), so every
//!     loaded `x` vector serves up to three output channels and every `dy` vector three
//!     taps, and the chunk stays in L1 for the three row passes. (3 × 3 accumulators plus
//!     3 `x` vectors, a `dy` vector and a product fit the 16 AVX2 registers; 4 × 3
//!     spills.)
//!   - **AVX-512 loop** (four output channels per block): one 16-lane register holds the
//!     eight-lane accumulators of two output channels for one tap, so the tile is two
//!     channel pairs × all nine taps (18 of the 32 registers) in one sweep over the
//!     pixels. Each `x` vector is broadcast from memory to both halves (a load, no
//!     shuffle port), each pair's `dy` vectors are joined once per eight pixels and serve
//!     nine taps; the last `(p1 − p0) mod 8` pixels take masked loads and a masked add,
//!     and the lanes are combined in registers in [`super::combine8`]'s tree. (The
//!     previous AVX-512 tile, three channels × taps paired in one register, spent a
//!     shuffle per `x` and per `dy` vector and finished its tails and lane sums in scalar
//!     code: 1.17–1.46× slower per layer, `bench_weight_grad`.)
//!
//!   The batch items run as one parallel pass each, in order, so an item's planes stay in
//!   the shared cache while every task reads them (≈ 2.5× faster for 1 × 1 kernels at
//!   batch 16 than item loops inside the tasks, whose working set was the whole batch).

use super::combine8;
use powerpost_core::exec::{Executor, SharedMut};
use powerpost_core::nn::conv::{check_inputs, Conv, Source};
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::simd::Isa;
use powerpost_core::nn::winograd::{network_conv, network_conv_scratch_len};
use powerpost_core::unet::forward::CONV_SLOTS;
use powerpost_core::Error;

/// `wᵀ[i][o][k'] = w[o][i][K²−1−k']` (transposed and flipped): the weights whose forward
/// convolution is the input gradient.
pub fn transpose_flip(
    weight: &[f32],
    out_channels: usize,
    in_channels: usize,
    kernel: usize,
) -> Vec<f32> {
    let k2 = kernel * kernel;
    let mut t = vec![0.0; weight.len()];
    for o in 0..out_channels {
        for i in 0..in_channels {
            for k in 0..k2 {
                t[(i * out_channels + o) * k2 + (k2 - 1 - k)] =
                    weight[(o * in_channels + i) * k2 + k];
            }
        }
    }
    t
}

/// Scratch values [`conv_input_grad`] needs: the network convolution's
/// ([`network_conv_scratch_len`]) for `dy` (`out_channels`) into `dx` (`in_channels`),
/// with [`CONV_SLOTS`] slots.
pub fn conv_input_grad_scratch_len(
    geometry: Geometry,
    kernel: usize,
    out_channels: usize,
    in_channels: usize,
) -> usize {
    network_conv_scratch_len(geometry, out_channels, in_channels, kernel, CONV_SLOTS)
}

/// Input gradient of a convolution: `grad_in` (`batch × in_channels × plane`, written,
/// zero ring) from `grad_out` (`batch × out_channels × plane`, zero ring), run as the
/// network's forward convolution ([`network_conv`]: Winograd for 3 × 3) of `grad_out`
/// with the transposed, flipped weights; `scratch` holds
/// [`conv_input_grad_scratch_len`] values (contents irrelevant).
///
/// # Errors
/// As [`network_conv`] for mis-sized buffers.
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
    scratch: &mut [f32],
    grad_in: &mut [f32],
) -> Result<(), Error> {
    let transposed = transpose_flip(weight, out_channels, in_channels, kernel);
    let zero_bias = vec![0.0; batch * in_channels];
    network_conv(
        exec,
        isa,
        geometry,
        batch,
        &[Source {
            data: grad_out,
            channels: out_channels,
        }],
        &Conv {
            kernel,
            out_channels: in_channels,
            weight: &transposed,
            bias: &zero_bias,
            residual: None,
            residual_scale: 1.0,
        },
        scratch,
        grad_in,
    )
}

/// Most output channels per weight-gradient task (the register tile's height): four with
/// the AVX-512 tile (two pairs of channels), three otherwise ([`out_block`]).
pub const OUT_BLOCK: usize = 4;

/// Output channels per weight-gradient task for the tile loop of `lanes` lanes: 4 for
/// AVX-512 (two channel pairs × up to nine streams = 18 of its 32 registers), 3 for the
/// AVX2 and portable loops (3 × 3 accumulators fill the 16 AVX2 registers; 4 × 3 spills).
/// The blocking changes no sum.
pub const fn out_block(lanes: usize) -> usize {
    if lanes == 16 {
        4
    } else {
        3
    }
}
/// Input channels per weight-gradient task.
pub const IN_BLOCK: usize = 8;
/// Pixels per chunk of the weight-gradient loop (a multiple of 8).
pub const CHUNK: usize = 512;

/// Lane accumulators of one task: `[output channel of the block][tap][lane]`.
type Acc = [[[f32; 8]; 9]; OUT_BLOCK];

/// The accumulators' totals (lanes combined by [`combine8`]): `[output channel][tap]`.
type Sums = [[f32; 9]; OUT_BLOCK];

/// Weight gradient `dw` (`out × in × kernel²`, written) and per-item bias gradient
/// `db` (`batch × out`, written) of a convolution of `sources` (concatenated along
/// channels, as in the forward pass) with output gradient `grad_out`.
///
/// The tile loop is compiled for `isa` (AVX-512, AVX2 or portable; the same bits for
/// every instruction set).
///
/// # Errors
/// [`Error::BufferLength`] / [`Error::InvalidArgument`] for mis-sized buffers, a kernel
/// other than 1 or 3, or an instruction set this CPU lacks.
#[allow(clippy::too_many_arguments)]
pub fn conv_weight_grad(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    kernel: usize,
    grad_out: &[f32],
    weight_grad: &mut [f32],
    bias_grad: &mut [f32],
) -> Result<(), Error> {
    super::check_isa(isa)?;
    conv_weight_grad_with(
        exec,
        super::tile_lanes(isa),
        geometry,
        batch,
        sources,
        kernel,
        grad_out,
        weight_grad,
        bias_grad,
    )
}

/// [`conv_weight_grad`] with the tile loop of a given vector width: `lanes` 1 (portable),
/// 8 (AVX2) or 16 (AVX-512); the CPU must run it ([`super::tile_lanes`] of a supported
/// instruction set). Same bits for every width.
#[allow(clippy::too_many_arguments)]
fn conv_weight_grad_with(
    exec: &dyn Executor,
    lanes: usize,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    kernel: usize,
    grad_out: &[f32],
    weight_grad: &mut [f32],
    bias_grad: &mut [f32],
) -> Result<(), Error> {
    if kernel != 1 && kernel != 3 {
        return Err(Error::InvalidArgument {
            name: "kernel",
            expected: "1 or 3",
        });
    }
    let in_channels = check_inputs(geometry, batch, sources)?;
    let plane = geometry.plane_len();
    let out_channels = grad_out.len() / (batch * plane).max(1);
    powerpost_core::error::check_len(
        "conv-grad output gradient",
        grad_out.len(),
        batch * out_channels * plane,
    )?;
    let k2 = kernel * kernel;
    powerpost_core::error::check_len(
        "conv weight gradient",
        weight_grad.len(),
        out_channels * in_channels * k2,
    )?;
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
    // Every tap of every pixel in p0..p1 stays inside the plane (the ring is one pixel).
    assert!(p0 as isize + offsets[0] >= 0 && (p1 as isize + offsets[k2 - 1]) as usize <= plane);
    let out_block = out_block(lanes);
    let out_blocks = out_channels.div_ceil(out_block);
    let in_blocks = in_channels.div_ceil(IN_BLOCK);
    let wg = SharedMut::new(weight_grad);
    let bg = SharedMut::new(bias_grad);
    let input_plane = |b: usize, i: usize| -> &[f32] {
        let first = &sources[0];
        let (s, local) = if i < first.channels {
            (first, i)
        } else {
            (&sources[1], i - first.channels)
        };
        &s.data[(b * s.channels + local) * plane..(b * s.channels + local + 1) * plane]
    };
    // One parallel pass per batch item, items in order: each item's planes (inputs and
    // output gradients) stay in the shared cache while every task reads them, and every
    // sum still takes the items in batch order.
    for b in 0..batch {
        exec.for_each(out_blocks * in_blocks, &|task| {
            let (ob, ib) = (task / in_blocks, task % in_blocks);
            let o_range = ob * out_block..((ob + 1) * out_block).min(out_channels);
            let i_range = ib * IN_BLOCK..((ib + 1) * IN_BLOCK).min(in_channels);
            let (o_count, i_count) = (o_range.len(), i_range.len());
            // SAFETY: in this pass this task alone writes entries (o, i, ·) of the weight
            // gradient for o in its output block and i in its input block, and (only for
            // ib = 0) the bias gradient entries b·out + o of its output block.
            let mut dw: [&mut [f32]; OUT_BLOCK] = core::array::from_fn(|t| {
                if t < o_count {
                    unsafe {
                        wg.slice(
                            ((o_range.start + t) * in_channels + i_range.start) * k2,
                            i_count * k2,
                        )
                    }
                } else {
                    &mut []
                }
            });
            if b == 0 {
                for d in dw.iter_mut() {
                    d.fill(0.0);
                }
            }
            let mut sums: Sums = [[0.0; 9]; OUT_BLOCK];
            let dys: [&[f32]; OUT_BLOCK] = core::array::from_fn(|t| {
                if t < o_count {
                    let o = o_range.start + t;
                    &grad_out[(b * out_channels + o) * plane..(b * out_channels + o + 1) * plane]
                } else {
                    &[]
                }
            });
            if ib == 0 {
                for (t, dy) in dys.iter().enumerate().take(o_count) {
                    let mut lanes = [0.0f32; 8];
                    let mut blocks = dy[p0..p1].chunks_exact(8);
                    for block in &mut blocks {
                        for (l, &v) in lanes.iter_mut().zip(block) {
                            *l += v;
                        }
                    }
                    for (l, &v) in lanes.iter_mut().zip(blocks.remainder()) {
                        *l += v;
                    }
                    // SAFETY: see above.
                    unsafe {
                        bg.slice(b * out_channels + o_range.start + t, 1)[0] = combine8(&lanes)
                    };
                }
            }
            // Input channels in groups: one channel (its nine taps are the streams) for a
            // 3 × 3 kernel, up to three channels (one stream each) for a 1 × 1 kernel.
            let mut local = 0;
            while local < i_count {
                let (n, streams) = if kernel == 3 {
                    (
                        1,
                        Streams::taps(input_plane(b, i_range.start + local), &offsets, p0, p1),
                    )
                } else {
                    let n = (i_count - local).min(3);
                    let planes: [&[f32]; 3] = core::array::from_fn(|s| {
                        input_plane(b, i_range.start + local + s.min(n - 1))
                    });
                    (n, Streams::planes(&planes[..n], p0, p1))
                };
                block_taps(lanes, o_count, &dys, &streams, p0, p1, &mut sums);
                // Accumulator k of the group is entry local·k² + k of the block's row.
                for (t, d) in dw.iter_mut().enumerate().take(o_count) {
                    for (k, v) in d[local * k2..(local + n) * k2].iter_mut().enumerate() {
                        *v += sums[t][k];
                    }
                }
                local += n;
            }
        });
    }
    Ok(())
}

/// The `x` streams of one tile call: `rows × per_row` pointers, stream `s` of row `r`
/// feeding accumulator `r · per_row + s`. A 3 × 3 kernel has three rows of three taps
/// (one input plane at nine offsets); a 1 × 1 kernel one row of up to three input planes.
struct Streams {
    ptrs: [*const f32; 9],
    rows: usize,
    per_row: usize,
}

impl Streams {
    /// The nine taps of a 3 × 3 kernel on plane `x`: `x[p + offsets[k]]`, `k = 3·ky + kx`.
    ///
    /// # Panics
    /// If a tap of a pixel in `p0..p1` falls outside `x`.
    fn taps(x: &[f32], offsets: &[isize; 9], p0: usize, p1: usize) -> Self {
        assert!(p0 <= p1);
        assert!(p0 as isize + offsets[0] >= 0 && p1 as isize + offsets[8] <= x.len() as isize);
        Self {
            // SAFETY (of later reads): the assert keeps every tap inside `x`.
            ptrs: core::array::from_fn(|k| x.as_ptr().wrapping_offset(offsets[k])),
            rows: 3,
            per_row: 3,
        }
    }

    /// One stream per plane (1 × 1 kernel, up to three input channels).
    ///
    /// # Panics
    /// If there are no planes or more than three, or a plane is shorter than `p1`.
    fn planes(planes: &[&[f32]], p0: usize, p1: usize) -> Self {
        assert!((1..=3).contains(&planes.len()) && p0 <= p1);
        let mut ptrs = [planes[0].as_ptr(); 9];
        for (slot, plane) in ptrs.iter_mut().zip(planes) {
            assert!(plane.len() >= p1);
            *slot = plane.as_ptr();
        }
        Self {
            ptrs,
            rows: 1,
            per_row: planes.len(),
        }
    }
}

/// Writes into `sums[t][k]` the sums of `dys[t][p] · xₖ[p]` over `p` in `p0..p1`, for the
/// first `o_count` output channels and the streams `xₖ` of `streams`: eight lane partial
/// sums (lane `(p − p0) mod 8`, in increasing `p`) combined by [`combine8`]; with the
/// AVX2 (`lanes` 8) or AVX-512 (`lanes` 16) tile loop when asked (same operations, same
/// bits).
///
/// # Panics
/// If `o_count` is not 1..=3 or an output-gradient plane is shorter than `p1`.
fn block_taps(
    lanes: usize,
    o_count: usize,
    dys: &[&[f32]; OUT_BLOCK],
    streams: &Streams,
    p0: usize,
    p1: usize,
    sums: &mut Sums,
) {
    assert!((1..=OUT_BLOCK).contains(&o_count) && p0 <= p1);
    for dy in &dys[..o_count] {
        assert!(dy.len() >= p1);
    }
    let dy_ptrs: [*const f32; OUT_BLOCK] = core::array::from_fn(|t| {
        if t < o_count {
            dys[t].as_ptr()
        } else {
            dys[0].as_ptr()
        }
    });
    #[cfg(target_arch = "x86_64")]
    if lanes == 16 {
        let x = &streams.ptrs;
        // SAFETY: AVX-512F is available (caller's promise); bounds were asserted above
        // and when the streams were built.
        unsafe {
            match (streams.rows * streams.per_row, o_count) {
                (9, 3 | 4) => block_taps_avx512::<2, 9>(&dy_ptrs, x, p0, p1, sums),
                (9, _) => block_taps_avx512::<1, 9>(&dy_ptrs, x, p0, p1, sums),
                (3, 3 | 4) => block_taps_avx512::<2, 3>(&dy_ptrs, x, p0, p1, sums),
                (3, _) => block_taps_avx512::<1, 3>(&dy_ptrs, x, p0, p1, sums),
                (2, 3 | 4) => block_taps_avx512::<2, 2>(&dy_ptrs, x, p0, p1, sums),
                (2, _) => block_taps_avx512::<1, 2>(&dy_ptrs, x, p0, p1, sums),
                (_, 3 | 4) => block_taps_avx512::<2, 1>(&dy_ptrs, x, p0, p1, sums),
                (_, _) => block_taps_avx512::<1, 1>(&dy_ptrs, x, p0, p1, sums),
            }
        }
        return;
    }
    let mut acc: Acc = [[[0.0; 8]; 9]; OUT_BLOCK];
    #[cfg(target_arch = "x86_64")]
    if lanes == 8 {
        assert!(o_count <= out_block(8));
        let (x, rows) = (&streams.ptrs, streams.rows);
        // SAFETY: AVX2 is available (caller's promise); bounds were asserted above and
        // when the streams were built.
        unsafe {
            match (streams.per_row, o_count) {
                (3, 3) => block_taps_avx2::<3, 3>(&dy_ptrs, x, rows, p0, p1, &mut acc),
                (3, 2) => block_taps_avx2::<2, 3>(&dy_ptrs, x, rows, p0, p1, &mut acc),
                (3, _) => block_taps_avx2::<1, 3>(&dy_ptrs, x, rows, p0, p1, &mut acc),
                (2, 3) => block_taps_avx2::<3, 2>(&dy_ptrs, x, rows, p0, p1, &mut acc),
                (2, 2) => block_taps_avx2::<2, 2>(&dy_ptrs, x, rows, p0, p1, &mut acc),
                (2, _) => block_taps_avx2::<1, 2>(&dy_ptrs, x, rows, p0, p1, &mut acc),
                (_, 3) => block_taps_avx2::<3, 1>(&dy_ptrs, x, rows, p0, p1, &mut acc),
                (_, 2) => block_taps_avx2::<2, 1>(&dy_ptrs, x, rows, p0, p1, &mut acc),
                (_, _) => block_taps_avx2::<1, 1>(&dy_ptrs, x, rows, p0, p1, &mut acc),
            }
        }
    } else {
        // SAFETY: bounds were asserted above and when the streams were built.
        unsafe { block_taps_generic(o_count, &dy_ptrs, streams, p0, p1, &mut acc) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = lanes;
        // SAFETY: bounds were asserted above and when the streams were built.
        unsafe { block_taps_generic(o_count, &dy_ptrs, streams, p0, p1, &mut acc) }
    }
    for (sum_t, acc_t) in sums.iter_mut().zip(&acc) {
        for (sum, lanes) in sum_t.iter_mut().zip(acc_t) {
            *sum = combine8(lanes);
        }
    }
}

/// Portable copy of the tile loop: chunk by chunk, row by row, eight pixels at a time,
/// then the leftover pixels one at a time into lanes 0, 1, …
///
/// # Safety
/// `dys[t][p]` and every stream's `x[p]` must be readable for `p` in `p0..p1`, `t <
/// o_count`.
unsafe fn block_taps_generic(
    o_count: usize,
    dys: &[*const f32; OUT_BLOCK],
    streams: &Streams,
    p0: usize,
    p1: usize,
    acc: &mut Acc,
) {
    let count = streams.rows * streams.per_row;
    let full = p0 + (p1 - p0) / 8 * 8;
    let mut c0 = p0;
    while c0 < full {
        let c1 = (c0 + CHUNK).min(full);
        for row in 0..streams.rows {
            for t in 0..o_count {
                for s in 0..streams.per_row {
                    let k = row * streams.per_row + s;
                    let x = streams.ptrs[k];
                    let a = &mut acc[t][k];
                    let mut p = c0;
                    while p < c1 {
                        for (j, lane) in a.iter_mut().enumerate() {
                            // SAFETY: guaranteed by the caller.
                            *lane += unsafe { *dys[t].add(p + j) * *x.wrapping_add(p + j) };
                        }
                        p += 8;
                    }
                }
            }
        }
        c0 = c1;
    }
    // SAFETY: guaranteed by the caller.
    unsafe { tail_pixels(o_count, count, dys, &streams.ptrs, full, p1, acc) }
}

/// The last `p1 − full` (fewer than eight) pixels of every tile loop, one at a time into
/// lanes 0, 1, … of the first `o_count × count` accumulators.
///
/// # Safety
/// As [`block_taps_generic`].
#[inline(always)]
unsafe fn tail_pixels(
    o_count: usize,
    count: usize,
    dys: &[*const f32; OUT_BLOCK],
    x: &[*const f32; 9],
    full: usize,
    p1: usize,
    acc: &mut Acc,
) {
    for (j, p) in (full..p1).enumerate() {
        for (t, acc_t) in acc.iter_mut().enumerate().take(o_count) {
            for (a, x) in acc_t.iter_mut().zip(x).take(count) {
                // SAFETY: guaranteed by the caller.
                a[j] += unsafe { *dys[t].add(p) * *x.wrapping_add(p) };
            }
        }
    }
}

/// AVX2 tile loop: for every chunk and row of streams, `OB × S` accumulator vectors stay
/// in registers; per eight pixels it loads `S` vectors of `x` and `OB` of `dy` and does
/// `OB·S` multiplies and adds (no FMA). Same operations per lane as
/// [`block_taps_generic`].
///
/// # Safety
/// AVX2 must be available; as [`block_taps_generic`] with `o_count = OB` and `S` streams
/// per row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_taps_avx2<const OB: usize, const S: usize>(
    dys: &[*const f32; OUT_BLOCK],
    x: &[*const f32; 9],
    rows: usize,
    p0: usize,
    p1: usize,
    acc: &mut Acc,
) {
    use std::arch::x86_64::*;
    let full = p0 + (p1 - p0) / 8 * 8;
    let mut c0 = p0;
    while c0 < full {
        let c1 = (c0 + CHUNK).min(full);
        for row in 0..rows {
            let mut a = [[_mm256_setzero_ps(); S]; OB];
            for t in 0..OB {
                for s in 0..S {
                    a[t][s] = _mm256_loadu_ps(acc[t][row * S + s].as_ptr());
                }
            }
            let xs: [*const f32; S] = core::array::from_fn(|s| x[row * S + s]);
            let mut p = c0;
            while p < c1 {
                // SAFETY: guaranteed by the caller.
                let xv: [__m256; S] =
                    core::array::from_fn(|s| unsafe { _mm256_loadu_ps(xs[s].wrapping_add(p)) });
                for t in 0..OB {
                    let d = unsafe { _mm256_loadu_ps(dys[t].add(p)) };
                    for s in 0..S {
                        a[t][s] = _mm256_add_ps(a[t][s], _mm256_mul_ps(d, xv[s]));
                    }
                }
                p += 8;
            }
            for t in 0..OB {
                for s in 0..S {
                    _mm256_storeu_ps(acc[t][row * S + s].as_mut_ptr(), a[t][s]);
                }
            }
        }
        c0 = c1;
    }
    // SAFETY: guaranteed by the caller.
    unsafe { tail_pixels(OB, rows * S, dys, x, full, p1, acc) }
}

/// AVX-512 tile loop: the output channels in pairs, one 16-lane register per (pair,
/// stream) holding the eight-lane accumulators of both channels of the pair for that
/// stream (lanes 0–7: channel `2u`, lanes 8–15: channel `2u + 1`); all `N` streams (every
/// kernel row at once) × `PAIRS` pairs stay in registers. Per eight pixels it loads each
/// pair's two `dy` vectors into one register, broadcasts each stream's `x` vector from
/// memory to both halves (a load, no shuffle), and does one multiply and one add per
/// (pair, stream). The last `(p1 − p0) mod 8` pixels go into lanes 0, 1, … with masked
/// loads and a masked add (lanes outside the mask keep their sums untouched). The lanes
/// are then combined in registers in [`combine8`]'s tree (adjacent lanes, then pairs,
/// then the two halves of each eight). A pair whose second channel is missing (`o_count`
/// odd) computes it from the first channel's `dy` and drops it. Every lane takes exactly
/// the operations of [`block_taps_generic`], pixels in increasing `p`, so the bits are
/// those of the other paths.
///
/// # Safety
/// AVX-512F must be available; as [`block_taps_generic`] with `o_count ≤ 2·PAIRS` (the
/// pointers of missing channels may repeat the first) and `N` streams (`N` ≤ 9).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,avx512f")]
unsafe fn block_taps_avx512<const PAIRS: usize, const N: usize>(
    dys: &[*const f32; OUT_BLOCK],
    x: &[*const f32; 9],
    p0: usize,
    p1: usize,
    sums: &mut Sums,
) {
    use std::arch::x86_64::*;
    let full = p0 + (p1 - p0) / 8 * 8;
    let mut a = [[_mm512_setzero_ps(); N]; PAIRS];
    // SAFETY (whole block): the pointers are readable for `p` in `p0..p1` (caller's
    // promise); masked loads touch only the lanes of their mask.
    unsafe {
        let mut p = p0;
        while p < full {
            let d: [__m512; PAIRS] = core::array::from_fn(|u| {
                let lo = _mm512_castps256_ps512(_mm256_loadu_ps(dys[2 * u].add(p)));
                let hi = _mm256_loadu_ps(dys[2 * u + 1].add(p));
                _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                    _mm512_castps_pd(lo),
                    _mm256_castps_pd(hi),
                ))
            });
            for k in 0..N {
                let x8 = _mm256_loadu_ps(x[k].wrapping_add(p));
                let xb = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(x8)));
                for u in 0..PAIRS {
                    a[u][k] = _mm512_add_ps(a[u][k], _mm512_mul_ps(d[u], xb));
                }
            }
            p += 8;
        }
        let rest = p1 - full;
        if rest > 0 {
            // Tail pixel `full + j` into lane `j` of both halves.
            let m8: __mmask16 = (1u16 << rest) - 1;
            let m16: __mmask16 = m8 | (m8 << 8);
            let d: [__m512; PAIRS] = core::array::from_fn(|u| {
                let lo = _mm512_maskz_loadu_ps(m8, dys[2 * u].add(full));
                // Lanes 8.. of this load read pixels full.. (the address is 8 floats back,
                // and lanes 0–7 are masked out).
                let hi = _mm512_maskz_loadu_ps(
                    m8 << 8,
                    dys[2 * u + 1].wrapping_add(full).wrapping_sub(8),
                );
                _mm512_or_ps(lo, hi)
            });
            for k in 0..N {
                let lo = _mm512_maskz_loadu_ps(m8, x[k].wrapping_add(full));
                let hi = _mm512_maskz_loadu_ps(m8 << 8, x[k].wrapping_add(full).wrapping_sub(8));
                let xb = _mm512_or_ps(lo, hi);
                for u in 0..PAIRS {
                    a[u][k] = _mm512_mask_add_ps(a[u][k], m16, a[u][k], _mm512_mul_ps(d[u], xb));
                }
            }
        }
        // combine8 per eight lanes: ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)),
        // the total landing in lanes 0 and 8 (IEEE addition commutes exactly).
        let mut out = [0.0f32; 16];
        for u in 0..PAIRS {
            for k in 0..N {
                let s = a[u][k];
                let t = _mm512_add_ps(s, _mm512_permute_ps::<0b10_11_00_01>(s));
                let q = _mm512_add_ps(t, _mm512_permute_ps::<0b01_00_11_10>(t));
                let v = _mm512_add_ps(q, _mm512_shuffle_f32x4::<0b10_11_00_01>(q, q));
                _mm512_storeu_ps(out.as_mut_ptr(), v);
                sums[2 * u][k] = out[0];
                sums[2 * u + 1][k] = out[8];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use powerpost_core::exec::Serial;

    /// Naive weight and bias gradients in f64 (pixel loops over the interior only).
    fn naive(
        g: Geometry,
        batch: usize,
        cin: usize,
        cout: usize,
        kernel: usize,
        x: &[f32],
        dy: &[f32],
    ) -> (Vec<f64>, Vec<f64>) {
        let plane = g.plane_len();
        let r = (kernel / 2) as isize;
        let mut dw = vec![0.0f64; cout * cin * kernel * kernel];
        let mut db = vec![0.0f64; batch * cout];
        for b in 0..batch {
            for o in 0..cout {
                for yy in 0..g.height {
                    for xx in 0..g.width {
                        let d = dy[(b * cout + o) * plane + g.index(yy, xx)] as f64;
                        db[b * cout + o] += d;
                        for i in 0..cin {
                            for ky in 0..kernel {
                                for kx in 0..kernel {
                                    let (sy, sx) = (
                                        yy as isize + ky as isize - r,
                                        xx as isize + kx as isize - r,
                                    );
                                    if sy < 0
                                        || sx < 0
                                        || sy >= g.height as isize
                                        || sx >= g.width as isize
                                    {
                                        continue;
                                    }
                                    let v = x
                                        [(b * cin + i) * plane + g.index(sy as usize, sx as usize)]
                                        as f64;
                                    dw[((o * cin + i) * kernel + ky) * kernel + kx] += d * v;
                                }
                            }
                        }
                    }
                }
            }
        }
        (dw, db)
    }

    /// The documented summation order in plain f32: per item, lane `(p − p0) mod 8` over
    /// the flattened interior range in increasing `p`, lanes combined by `combine8`,
    /// items added in batch order (weights) or kept per item (biases).
    fn documented_order(
        g: Geometry,
        batch: usize,
        cin: usize,
        cout: usize,
        kernel: usize,
        x: &[f32],
        dy: &[f32],
    ) -> (Vec<f32>, Vec<f32>) {
        let plane = g.plane_len();
        let (p0, p1) = (g.index(0, 0), g.index(g.height - 1, g.width - 1) + 1);
        let r = (kernel / 2) as isize;
        let mut dw = vec![0.0f32; cout * cin * kernel * kernel];
        let mut db = vec![0.0f32; batch * cout];
        for b in 0..batch {
            for o in 0..cout {
                let d = &dy[(b * cout + o) * plane..(b * cout + o + 1) * plane];
                let mut lanes = [0.0f32; 8];
                for p in p0..p1 {
                    lanes[(p - p0) % 8] += d[p];
                }
                db[b * cout + o] = combine8(&lanes);
                for i in 0..cin {
                    let xi = &x[(b * cin + i) * plane..(b * cin + i + 1) * plane];
                    for ky in 0..kernel {
                        for kx in 0..kernel {
                            let off = (ky as isize - r) * g.stride() as isize + (kx as isize - r);
                            let mut lanes = [0.0f32; 8];
                            for p in p0..p1 {
                                lanes[(p - p0) % 8] += d[p] * xi[(p as isize + off) as usize];
                            }
                            dw[((o * cin + i) * kernel + ky) * kernel + kx] += combine8(&lanes);
                        }
                    }
                }
            }
        }
        (dw, db)
    }

    /// The blocked kernel (both copies, one and two threads) equals the documented order
    /// bit for bit, for 3 × 3 and 1 × 1 kernels with partial output/input blocks, input
    /// groups of one, two and three channels, several chunks and leftover pixels.
    #[test]
    fn weight_grad_bits_follow_the_documented_order() {
        use crate::exec::Pool;
        let pool = Pool::new(2).unwrap();
        for (h, w, cin, cout, kernel) in [
            (9, 61, 11, 7, 3),
            (9, 61, 11, 7, 1),
            (4, 13, 10, 5, 1),
            (3, 5, 2, 1, 1),
        ] {
            let g = Geometry::new(h, w);
            let batch = 3;
            let x = padded(g, batch * cin, 4);
            let dy = padded(g, batch * cout, 5);
            let (want_w, want_b) = documented_order(g, batch, cin, cout, kernel, &x, &dy);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let sources = [Source {
                data: &x,
                channels: cin,
            }];
            for lanes in Isa::all_supported().map(super::super::tile_lanes) {
                for exec in [&Serial as &dyn Executor, &pool] {
                    let mut dw = vec![f32::NAN; want_w.len()];
                    let mut db = vec![f32::NAN; want_b.len()];
                    conv_weight_grad_with(
                        exec, lanes, g, batch, &sources, kernel, &dy, &mut dw, &mut db,
                    )
                    .unwrap();
                    assert_eq!(
                        bits(&dw),
                        bits(&want_w),
                        "{h}×{w} {cin}→{cout} k{kernel}, {lanes} lanes"
                    );
                    assert_eq!(bits(&db), bits(&want_b));
                }
            }
        }
    }

    /// The input gradient overwrites every value of its buffer, zero ring included (the
    /// trainer hands it reused buffers without zeroing them).
    #[test]
    fn input_grad_writes_every_value() {
        let g = Geometry::new(5, 11);
        let (batch, cin, cout) = (2, 3, 4);
        for kernel in [1, 3] {
            let weight: Vec<f32> = (0..cout * cin * kernel * kernel)
                .map(|i| (i % 7) as f32 * 0.1 - 0.3)
                .collect();
            let dy = padded(g, batch * cout, 7);
            let mut dx = vec![f32::NAN; batch * cin * g.plane_len()];
            conv_input_grad(
                &Serial,
                Isa::detect(),
                g,
                batch,
                kernel,
                &weight,
                cout,
                cin,
                &dy,
                // NaN scratch too: nothing may be read before it is written.
                &mut vec![f32::NAN; conv_input_grad_scratch_len(g, kernel, cout, cin)],
                &mut dx,
            )
            .unwrap();
            super::super::assert_overwritten_with_zero_ring(g, &dx);
        }
    }

    /// Deterministic pseudo-random values in [−1, 1) on the interior, zero ring.
    fn padded(g: Geometry, planes: usize, seed: u32) -> Vec<f32> {
        super::super::padded_test_planes(g, planes, seed, 0.0)
    }

    /// Blocked kernel (AVX2 and portable copies) against the naive f64 sums, on shapes that
    /// exercise partial output/input blocks, several chunks and leftover pixels; the two
    /// copies must agree bit for bit.
    #[test]
    fn blocked_weight_grad_matches_naive_and_copies_agree() {
        for (h, w, c0, c1, cout, kernel) in [
            (5, 7, 3, 2, 5, 3),
            (9, 61, 6, 5, 7, 3),
            (4, 13, 9, 0, 6, 1),
            (3, 5, 1, 0, 1, 3),
        ] {
            let g = Geometry::new(h, w);
            let batch = 2;
            let cin = c0 + c1;
            let x0 = padded(g, batch * c0, 1);
            let x1 = padded(g, batch * c1, 2);
            let dy = padded(g, batch * cout, 3);
            let mut xcat = Vec::new();
            for b in 0..batch {
                xcat.extend_from_slice(&x0[b * c0 * g.plane_len()..(b + 1) * c0 * g.plane_len()]);
                xcat.extend_from_slice(&x1[b * c1 * g.plane_len()..(b + 1) * c1 * g.plane_len()]);
            }
            let sources_two = [
                Source {
                    data: &x0,
                    channels: c0,
                },
                Source {
                    data: &x1,
                    channels: c1,
                },
            ];
            let sources = if c1 == 0 {
                &sources_two[..1]
            } else {
                &sources_two[..]
            };
            let (want_w, want_b) = naive(g, batch, cin, cout, kernel, &xcat, &dy);
            let mut runs = Vec::new();
            for lanes in Isa::all_supported().map(super::super::tile_lanes) {
                let mut dw = vec![0.0; want_w.len()];
                let mut db = vec![0.0; want_b.len()];
                conv_weight_grad_with(
                    &Serial, lanes, g, batch, sources, kernel, &dy, &mut dw, &mut db,
                )
                .unwrap();
                for (a, e) in dw.iter().zip(&want_w).chain(db.iter().zip(&want_b)) {
                    assert!(
                        (*a as f64 - e).abs() <= 1e-5 * (1.0 + e.abs()) * (h * w) as f64,
                        "{a} vs {e}"
                    );
                }
                runs.push((dw, db));
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for run in &runs[1..] {
                assert_eq!(bits(&runs[0].0), bits(&run.0));
                assert_eq!(bits(&runs[0].1), bits(&run.1));
            }
        }
    }
}
