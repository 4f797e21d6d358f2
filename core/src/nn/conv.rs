//! 2-D convolution (3×3 "same" with zero padding, and 1×1) on padded planar tensors.
//!
//! This is the direct convolution. The score network runs its 1×1 layers here and its
//! 3×3 layers by Winograd's F(2×2, 3×3) ([`super::winograd`], 1.4–1.9× faster, its own
//! documented order); [`super::winograd::network_conv`] picks between them.
//!
//! ## Arithmetic (the contract every backend repeats)
//! For output channel `o` of batch item `b` at pixel `p`:
//!
//! ```text
//! acc = bias[b][o]
//! for i in 0..in_channels          // concatenated sources, first source first
//!     for ky in 0..k, kx in 0..k   // row-major taps
//!         acc = acc + weight[o][i][ky][kx] × input[b][i][p + (ky − r)·stride + (kx − r)]
//! out = acc                         // or (acc + residual[b][o][p]) × residual_scale
//! ```
//!
//! with `r = k / 2`; products and sums are separate IEEE f32 operations (no fused
//! multiply-add). `bias` is per batch item so that the noise-embedding projection of a
//! residual block can be folded into it.
//!
//! ## Fast path
//! Each SIMD lane computes one output pixel with exactly the scalar sequence above, so the
//! result does not depend on the lane count. Pixels are addressed in the flattened padded
//! plane: a strip of rows is one contiguous run of indices (the border cells between rows
//! are computed too and zeroed afterwards), which makes every load a plain unaligned vector
//! load. A register tile holds 4 output channels × 2 vectors (8 × 2 with 16-lane vectors,
//! which have 32 registers); the last tile of a strip is
//! shifted back to end at the strip's end and keeps only the lanes no earlier tile computed
//! (strips shorter than one tile run one lane at a time). Input channels are consumed in cache-sized
//! chunks, the running sums waiting in the output buffer between chunks (same additions,
//! same order).
//!
//! Work is split into independent tasks (batch item × strip of rows × group of output
//! channels) for the caller's [`Executor`].

use super::geometry::{zero_ring_rows, Geometry};
use super::simd::{dispatch, Isa, Lanes, Scalar};
use crate::error::Error;
use crate::exec::{Executor, SharedMut};

/// One input of a convolution: a batch of padded tensors with `channels` channels each.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// `batch × channels × plane_len` values.
    pub data: &'a [f32],
    /// Channels per batch item.
    pub channels: usize,
}

/// The parameters of one convolution.
#[derive(Debug, Clone, Copy)]
pub struct Conv<'a> {
    /// Kernel size: 1 or 3.
    pub kernel: usize,
    /// Output channels.
    pub out_channels: usize,
    /// `out × in × kernel × kernel` weights (`in` = sum of the sources' channels).
    pub weight: &'a [f32],
    /// `batch × out` biases (per batch item).
    pub bias: &'a [f32],
    /// Optional residual: `out = (acc + residual) × residual_scale`, same shape as the output.
    pub residual: Option<&'a [f32]>,
    /// Scale applied after adding the residual (ignored without one).
    pub residual_scale: f32,
}

/// Output channels per register tile.
const TILE_CHANNELS: usize = 4;
/// Vectors per register tile.
const TILE_VECTORS: usize = 2;
/// Output channels per register tile with 16-lane vectors (32 vector registers; 8 × 2
/// ran 10–25 % faster than 4 × 2 and 4 × 4 in `conv_speed`'s 3 × 3 layers).
const WIDE_TILE_CHANNELS: usize = 8;
/// Vectors per register tile with 16-lane vectors.
const WIDE_TILE_VECTORS: usize = 2;
/// Output channels per task.
const GROUP_CHANNELS: usize = 16;
/// Target number of flattened pixels per strip.
const STRIP_PIXELS: usize = 640;

/// Raw, validated view of a convolution for the tile kernels.
#[derive(Clone, Copy)]
struct Plan {
    geometry: Geometry,
    kernel: usize,
    sources: [(*const f32, usize); 2],
    source_count: usize,
    in_channels: usize,
    out_channels: usize,
    weight: *const f32,
    bias: *const f32,
    residual: *const f32,
    has_residual: bool,
    residual_scale: f32,
    rows_per_strip: usize,
}

// SAFETY: the raw pointers only read from buffers that outlive the call and are not
// written during it.
unsafe impl Sync for Plan {}
// SAFETY: as above.
unsafe impl Send for Plan {}

/// Checks the arguments of [`conv2d`] (every backend runs the same checks, in this order)
/// and returns the total input channel count; `out_len` is the output buffer's length.
///
/// # Errors
/// As [`conv2d`], except the instruction-set check.
pub fn check_conv(
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    conv: &Conv<'_>,
    out_len: usize,
) -> Result<usize, Error> {
    if conv.kernel != 1 && conv.kernel != 3 {
        return Err(Error::InvalidArgument {
            name: "kernel",
            expected: "1 or 3",
        });
    }
    let in_channels = check_inputs(geometry, batch, sources)?;
    let k2 = conv.kernel * conv.kernel;
    crate::error::check_len(
        "conv weight",
        conv.weight.len(),
        conv.out_channels * in_channels * k2,
    )?;
    check_outputs(
        geometry,
        batch,
        conv.out_channels,
        conv.bias.len(),
        conv.residual.map(<[f32]>::len),
        out_len,
    )?;
    Ok(in_channels)
}

/// The checks every convolution (direct or Winograd, forward or gradient) runs first, in
/// this order: one or two sources, a non-empty map and batch, each source's length.
/// Returns the total input channel count.
///
/// # Errors
/// [`Error::InvalidArgument`] for no or more than two sources or an empty map or batch;
/// [`Error::BufferLength`] for a source of the wrong length.
pub fn check_inputs(
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
) -> Result<usize, Error> {
    if sources.is_empty() || sources.len() > 2 {
        return Err(Error::InvalidArgument {
            name: "sources",
            expected: "one or two inputs",
        });
    }
    if geometry.height == 0 || geometry.width == 0 || batch == 0 {
        return Err(Error::InvalidArgument {
            name: "geometry",
            expected: "non-empty feature maps",
        });
    }
    let plane = geometry.plane_len();
    let mut in_channels = 0;
    for source in sources {
        crate::error::check_len(
            "conv input",
            source.data.len(),
            batch * source.channels * plane,
        )?;
        in_channels += source.channels;
    }
    Ok(in_channels)
}

/// The checks every convolution runs after its weights, in this order: the per-item
/// biases, the output, the optional residual (as long as the output).
pub(crate) fn check_outputs(
    geometry: Geometry,
    batch: usize,
    out_channels: usize,
    bias_len: usize,
    residual_len: Option<usize>,
    out_len: usize,
) -> Result<(), Error> {
    crate::error::check_len("conv bias", bias_len, batch * out_channels)?;
    crate::error::check_len(
        "conv output",
        out_len,
        batch * out_channels * geometry.plane_len(),
    )?;
    if let Some(len) = residual_len {
        crate::error::check_len("conv residual", len, out_len)?;
    }
    Ok(())
}

/// Convolves `sources` (concatenated along channels) into `out`.
///
/// `out` holds `batch × out_channels × plane_len` values; its zero ring is written too.
///
/// # Errors
/// [`Error::InvalidArgument`] for a kernel other than 1 or 3, no sources, more than two
/// sources, or an unsupported `isa`; [`Error::BufferLength`] when a buffer does not match
/// the geometry, batch and channel counts.
pub fn conv2d(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    conv: &Conv<'_>,
    out: &mut [f32],
) -> Result<(), Error> {
    let in_channels = check_conv(geometry, batch, sources, conv, out.len())?;
    if !isa.is_supported() {
        return Err(Error::InvalidArgument {
            name: "isa",
            expected: "an instruction set this CPU supports",
        });
    }
    let mut raw = [(core::ptr::null(), 0usize); 2];
    for (slot, source) in raw.iter_mut().zip(sources) {
        *slot = (source.data.as_ptr(), source.channels);
    }
    let rows_per_strip = (STRIP_PIXELS / geometry.stride()).clamp(1, geometry.height);
    let strips = geometry.height.div_ceil(rows_per_strip);
    let groups = conv.out_channels.div_ceil(GROUP_CHANNELS);
    let plan = Plan {
        geometry,
        kernel: conv.kernel,
        sources: raw,
        source_count: sources.len(),
        in_channels,
        out_channels: conv.out_channels,
        weight: conv.weight.as_ptr(),
        bias: conv.bias.as_ptr(),
        residual: conv.residual.map_or(core::ptr::null(), |r| r.as_ptr()),
        has_residual: conv.residual.is_some(),
        residual_scale: conv.residual_scale,
        rows_per_strip,
    };
    let shared = SharedMut::new(out);
    let tasks = batch * strips * groups;
    exec.for_each(tasks, &|task| {
        let group = task % groups;
        let strip = (task / groups) % strips;
        let b = task / (groups * strips);
        // SAFETY: tasks write disjoint (batch, channel group, row strip) regions; the
        // plan's pointers were validated above and outlive `for_each`.
        unsafe { run_task(isa, &plan, &shared, b, strip, group) };
    });
    Ok(())
}

/// Computes one task: batch item `b`, rows of `strip`, output channels of `group`.
///
/// # Safety
/// `plan` must be validated by [`conv2d`]; no other task may write the same region.
unsafe fn run_task(
    isa: Isa,
    plan: &Plan,
    out: &SharedMut<f32>,
    b: usize,
    strip: usize,
    group: usize,
) {
    let g = plan.geometry;
    let plane = g.plane_len();
    let y0 = strip * plan.rows_per_strip;
    let y1 = (y0 + plan.rows_per_strip).min(g.height);
    let c0 = group * GROUP_CHANNELS;
    let c1 = (c0 + GROUP_CHANNELS).min(plan.out_channels);
    // SAFETY: forwarded from the caller.
    unsafe {
        dispatch!(isa, strip_kernel(plan: &Plan, out: &SharedMut<f32>, b: usize, y0: usize, y1: usize, c0: usize, c1: usize))
    };
    for o in c0..c1 {
        // SAFETY: this task owns rows y0..y1 (and the ring rows next to them) of these
        // channels.
        let plane_slice = unsafe { out.slice((b * plan.out_channels + o) * plane, plane) };
        zero_ring_rows(g, plane_slice, y0, y1);
    }
}

/// Runs the register tiles over one strip and channel range.
///
/// Input channels are consumed in chunks of [`INPUT_CHUNK`]: for each chunk, every tile
/// of every channel block resumes its accumulators from the output buffer (or the bias
/// for the first chunk), adds the chunk's taps in order and stores them back. The
/// sequence of additions per output is unchanged; only where the running sum waits
/// between chunks differs. The chunk's inputs stay in cache across all output channels.
///
/// # Safety
/// As [`run_task`]; `L` must be supported by the CPU.
#[inline(always)]
unsafe fn strip_kernel<L: Lanes>(
    plan: &Plan,
    out: &SharedMut<f32>,
    b: usize,
    y0: usize,
    y1: usize,
    c0: usize,
    c1: usize,
) {
    let g = plan.geometry;
    let p0 = g.index(y0, 0);
    let p1 = g.index(y1 - 1, g.width - 1) + 1;
    let mut i0 = 0;
    while i0 < plan.in_channels {
        let i1 = (i0 + INPUT_CHUNK).min(plan.in_channels);
        let chunk = Chunk {
            i0,
            i1,
            first: i0 == 0,
            last: i1 == plan.in_channels,
        };
        if plan.kernel == 3 {
            // SAFETY: forwarded.
            unsafe { channels_k::<L, 3>(plan, out, b, c0, c1, p0, p1, chunk) };
        } else {
            // SAFETY: forwarded.
            unsafe { channels_k::<L, 1>(plan, out, b, c0, c1, p0, p1, chunk) };
        }
        i0 = i1;
    }
}

/// Input channels per cache chunk (8 × a 640-pixel strip with its two neighbour rows
/// fits a 32 KiB L1; 16 did not and ran ≈ 1.4× slower).
const INPUT_CHUNK: usize = 8;

/// A range of input channels and whether it starts or ends the accumulation.
#[derive(Clone, Copy)]
struct Chunk {
    i0: usize,
    i1: usize,
    first: bool,
    last: bool,
}

/// Walks the output channels `c0..c1` in register-tile blocks for a `K × K` kernel.
///
/// # Safety
/// As [`run_task`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn channels_k<L: Lanes, const K: usize>(
    plan: &Plan,
    out: &SharedMut<f32>,
    b: usize,
    c0: usize,
    c1: usize,
    p0: usize,
    p1: usize,
    chunk: Chunk,
) {
    let mut o = c0;
    while o < c1 {
        if L::LANES >= 16 && c1 - o >= WIDE_TILE_CHANNELS {
            // SAFETY: forwarded.
            unsafe {
                channel_block::<L, WIDE_TILE_CHANNELS, WIDE_TILE_VECTORS, K>(
                    plan, out, b, o, p0, p1, chunk,
                )
            };
            o += WIDE_TILE_CHANNELS;
        } else if c1 - o >= TILE_CHANNELS {
            // SAFETY: forwarded.
            unsafe {
                channel_block::<L, TILE_CHANNELS, TILE_VECTORS, K>(plan, out, b, o, p0, p1, chunk)
            };
            o += TILE_CHANNELS;
        } else {
            // SAFETY: forwarded.
            unsafe { channel_block::<L, 1, TILE_VECTORS, K>(plan, out, b, o, p0, p1, chunk) };
            o += 1;
        }
    }
}

/// Runs `CO` output channels starting at `o` over flattened pixels `p0..p1`: whole tiles,
/// then the remaining pixels one lane at a time.
///
/// # Safety
/// As [`run_task`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn channel_block<L: Lanes, const CO: usize, const PX: usize, const K: usize>(
    plan: &Plan,
    out: &SharedMut<f32>,
    b: usize,
    o: usize,
    p0: usize,
    p1: usize,
    chunk: Chunk,
) {
    let span = PX * L::LANES;
    let mut p = p0;
    while p + span <= p1 {
        // SAFETY: forwarded; `p..p + span` lies inside the strip.
        unsafe { tile::<L, CO, PX, K>(plan, out, b, o, p, chunk, 0) };
        p += span;
    }
    if p < p1 {
        if p1 - p0 >= span {
            // The last tile is shifted back to end at `p1` and keeps only its last lanes,
            // the ones no earlier tile computed (their running sums load and store as
            // usual; the recomputed lanes are discarded).
            let start = p1 - span;
            // SAFETY: forwarded; `start..p1` lies inside the strip.
            unsafe { tile::<L, CO, PX, K>(plan, out, b, o, start, chunk, p - start) };
        } else {
            while p < p1 {
                // SAFETY: forwarded; one pixel at a time.
                unsafe { tile::<Scalar, CO, 1, K>(plan, out, b, o, p, chunk, 0) };
                p += 1;
            }
        }
    }
}

/// The register tile: `CO` output channels × `PX` vectors of `L::LANES` pixels from `p`,
/// input channels `chunk.i0..chunk.i1`. Only pixels `p + keep_from ..` are loaded from and
/// stored to the output (`keep_from = 0`: all of them).
///
/// # Safety
/// As [`run_task`]; every pixel of the tile lies inside the interior rows' flattened range.
#[inline(always)]
unsafe fn tile<L: Lanes, const CO: usize, const PX: usize, const K: usize>(
    plan: &Plan,
    out: &SharedMut<f32>,
    b: usize,
    o: usize,
    p: usize,
    chunk: Chunk,
    keep_from: usize,
) {
    let g = plan.geometry;
    let plane = g.plane_len();
    let k2 = K * K;
    let stride = g.stride() as isize;
    let r = (K / 2) as isize;
    let w_stride = plan.in_channels * k2;
    let mut acc = [[L::splat(0.0); PX]; CO];
    // SAFETY (whole block): weights hold out × in × k² values; inputs hold
    // batch × channels × plane values and every tap of an interior-row pixel stays inside
    // its plane thanks to the zero ring; the output region belongs to this task.
    unsafe {
        let dst = |c: usize| {
            out.slice((b * plan.out_channels + o + c) * plane + p, PX * L::LANES)
                .as_mut_ptr()
        };
        for (c, row) in acc.iter_mut().enumerate() {
            if chunk.first {
                *row = [L::splat(*plan.bias.add(b * plan.out_channels + o + c)); PX];
            } else if keep_from == 0 {
                let d = dst(c);
                for (j, a) in row.iter_mut().enumerate() {
                    *a = L::load(d.add(j * L::LANES));
                }
            } else {
                // Kept lanes resume their running sums; the others are recomputed and
                // discarded, so their starting value does not matter.
                let mut tmp = [0.0f32; 64];
                let d = dst(c);
                core::ptr::copy_nonoverlapping(
                    d.add(keep_from),
                    tmp.as_mut_ptr().add(keep_from),
                    PX * L::LANES - keep_from,
                );
                for (j, a) in row.iter_mut().enumerate() {
                    *a = L::load(tmp.as_ptr().add(j * L::LANES));
                }
            }
        }
        let mut first_channel = 0;
        for s in 0..plan.source_count {
            let (data, channels) = plan.sources[s];
            let lo = chunk.i0.max(first_channel);
            let hi = chunk.i1.min(first_channel + channels);
            if lo < hi {
                let local = lo - first_channel;
                let mut ibase = data.add((b * channels + local) * plane + p);
                let mut wbase = plan.weight.add(o * w_stride + lo * k2);
                for _ in lo..hi {
                    for ky in 0..K as isize {
                        for kx in 0..K as isize {
                            let tap = ibase.offset((ky - r) * stride + (kx - r));
                            let mut x = [L::splat(0.0); PX];
                            for (j, v) in x.iter_mut().enumerate() {
                                *v = L::load(tap.add(j * L::LANES));
                            }
                            let widx = (ky as usize) * K + kx as usize;
                            for (c, row) in acc.iter_mut().enumerate() {
                                let wv = L::splat(*wbase.add(c * w_stride + widx));
                                for (a, xv) in row.iter_mut().zip(x.iter()) {
                                    *a = a.add(wv.mul(*xv));
                                }
                            }
                        }
                    }
                    ibase = ibase.add(plane);
                    wbase = wbase.add(k2);
                }
            }
            first_channel += channels;
        }
        let scale = L::splat(plan.residual_scale);
        for (c, row) in acc.iter().enumerate() {
            let d = dst(c);
            let mut tmp = [0.0f32; 64];
            for (j, a) in row.iter().enumerate() {
                let mut v = *a;
                if chunk.last && plan.has_residual {
                    let offset = (b * plan.out_channels + o + c) * plane + p + j * L::LANES;
                    v = v.add(L::load(plan.residual.add(offset))).mul(scale);
                }
                if keep_from == 0 {
                    v.store(d.add(j * L::LANES));
                } else {
                    v.store(tmp.as_mut_ptr().add(j * L::LANES));
                }
            }
            if keep_from != 0 {
                core::ptr::copy_nonoverlapping(
                    tmp.as_ptr().add(keep_from),
                    d.add(keep_from),
                    PX * L::LANES - keep_from,
                );
            }
        }
    }
}
