//! Group normalisation, optionally followed by SiLU, on padded planar tensors.
//!
//! ## Arithmetic (the contract every backend repeats)
//! The input channels (the concatenation of up to two sources) are split into `groups`
//! groups of `cpg = channels / groups` consecutive channels. For group `g` of batch item
//! `b`, let `e_0 … e_{n−1}` be its `n = cpg · height · width` interior values in order
//! channel, row, column. Then
//!
//! ```text
//! sum8(v)  = eight partial sums s_j = Σ_{k ≡ j (mod 8)} v_k, each accumulated in increasing k,
//!            combined as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
//! inv_n    = detmath::recip(n as f32)
//! mean     = sum8(e) × inv_n
//! var      = sum8((e − mean) × (e − mean)) × inv_n
//! inv_std  = detmath::rsqrt(var + eps)
//! scale_c  = gamma[c] × inv_std            for every channel c of the group
//! shift_c  = beta[c] − mean × scale_c
//! y        = e × scale_c + shift_c
//! out      = detmath::silu(y)  (or y without the activation)
//! ```
//!
//! The eight interleaved partial sums let SIMD code (8 lanes, or 2 × 4) and GPU subgroups
//! reproduce the order exactly.

use super::conv::Source;
use super::geometry::{zero_ring_rows, Geometry};
use super::simd::{dispatch, Isa, Lanes};
use crate::detmath;
use crate::error::{check_len, Error};
use crate::exec::{Executor, SharedMut};

/// The parameters of one group normalisation.
#[derive(Debug, Clone, Copy)]
pub struct GroupNorm<'a> {
    /// Number of groups; must divide the channel count.
    pub groups: usize,
    /// Per-channel scale γ.
    pub gamma: &'a [f32],
    /// Per-channel shift β.
    pub beta: &'a [f32],
    /// Added to the variance before the reciprocal square root.
    pub eps: f32,
    /// Whether SiLU follows.
    pub silu: bool,
}

/// The order-defined sum of [`GroupNorm`]'s contract over one group, fed value by value.
#[derive(Debug, Clone, Copy)]
pub struct Sum8 {
    partial: [f32; 8],
    count: usize,
}

impl Default for Sum8 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sum8 {
    /// An empty sum.
    pub const fn new() -> Self {
        Self {
            partial: [0.0; 8],
            count: 0,
        }
    }

    /// Adds the next values of the sequence.
    #[inline]
    pub fn extend(&mut self, values: &[f32]) {
        let mut rest = values;
        // Align to a multiple of 8 so that whole chunks map lane j to partial j.
        while self.count % 8 != 0 && !rest.is_empty() {
            self.partial[self.count % 8] += rest[0];
            self.count += 1;
            rest = &rest[1..];
        }
        let mut chunks = rest.chunks_exact(8);
        for chunk in &mut chunks {
            #[allow(clippy::needless_range_loop)] // lane j feeds partial sum j
            for j in 0..8 {
                self.partial[j] += chunk[j];
            }
            self.count += 8;
        }
        for &v in chunks.remainder() {
            self.partial[self.count % 8] += v;
            self.count += 1;
        }
    }

    /// Adds `(v − mean)²` for the next values of the sequence.
    #[inline]
    pub fn extend_squared_deviation(&mut self, values: &[f32], mean: f32) {
        let mut rest = values;
        while self.count % 8 != 0 && !rest.is_empty() {
            let d = rest[0] - mean;
            self.partial[self.count % 8] += d * d;
            self.count += 1;
            rest = &rest[1..];
        }
        let mut chunks = rest.chunks_exact(8);
        for chunk in &mut chunks {
            #[allow(clippy::needless_range_loop)] // lane j feeds partial sum j
            for j in 0..8 {
                let d = chunk[j] - mean;
                self.partial[j] += d * d;
            }
            self.count += 8;
        }
        for &v in chunks.remainder() {
            let d = v - mean;
            self.partial[self.count % 8] += d * d;
            self.count += 1;
        }
    }

    /// The combined total `((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`.
    #[inline]
    pub fn total(&self) -> f32 {
        let s = &self.partial;
        ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
    }
}

/// Checks the arguments of [`group_norm`] (every backend runs the same checks, in this
/// order) and returns the total channel count; `out_len` is the output buffer's length.
///
/// # Errors
/// As [`group_norm`], except the instruction-set check.
pub fn check_group_norm(
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    norm: &GroupNorm<'_>,
    out_len: usize,
) -> Result<usize, Error> {
    if sources.is_empty() || sources.len() > 2 {
        return Err(Error::InvalidArgument {
            name: "sources",
            expected: "one or two inputs",
        });
    }
    let plane = geometry.plane_len();
    let channels: usize = sources.iter().map(|s| s.channels).sum();
    if geometry.height == 0 || geometry.width == 0 {
        return Err(Error::InvalidArgument {
            name: "geometry",
            expected: "non-empty feature maps",
        });
    }
    if norm.groups == 0 || channels % norm.groups != 0 {
        return Err(Error::InvalidArgument {
            name: "groups",
            expected: "a divisor of the channel count",
        });
    }
    for source in sources {
        check_len(
            "group-norm input",
            source.data.len(),
            batch * source.channels * plane,
        )?;
    }
    check_len("group-norm gamma", norm.gamma.len(), channels)?;
    check_len("group-norm beta", norm.beta.len(), channels)?;
    check_len("group-norm output", out_len, batch * channels * plane)?;
    Ok(channels)
}

/// Normalises `sources` (concatenated along channels) group by group into `out`, which
/// holds `batch × channels × plane_len` values (zero ring included).
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty geometry, if `groups` is zero or does not
/// divide the channel count, or for more than two sources; [`Error::BufferLength`] for mis-sized buffers.
pub fn group_norm(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    norm: &GroupNorm<'_>,
    out: &mut [f32],
) -> Result<(), Error> {
    run_group_norm(exec, isa, geometry, batch, sources, norm, out, None)
}

/// Length of the statistics [`group_norm_with_stats`] writes: `2 × batch × groups`.
pub const fn group_norm_stats_len(batch: usize, groups: usize) -> usize {
    2 * batch * groups
}

/// As [`group_norm`], and also writes each group's `mean` and `inv_std` (the contract's
/// values, bit for bit) to `stats`: entry `2·(b·groups + g)` is the mean of group `g` of
/// batch item `b`, the next one its `inv_std`. A backward pass reads them instead of
/// recomputing them.
///
/// # Errors
/// As [`group_norm`]; [`Error::BufferLength`] unless `stats` holds
/// [`group_norm_stats_len`] values.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_with_stats(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    norm: &GroupNorm<'_>,
    out: &mut [f32],
    stats: &mut [f32],
) -> Result<(), Error> {
    check_len(
        "group-norm statistics",
        stats.len(),
        group_norm_stats_len(batch, norm.groups),
    )?;
    run_group_norm(exec, isa, geometry, batch, sources, norm, out, Some(stats))
}

/// [`group_norm`] with optional statistics output.
#[allow(clippy::too_many_arguments)]
fn run_group_norm(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    norm: &GroupNorm<'_>,
    out: &mut [f32],
    stats: Option<&mut [f32]>,
) -> Result<(), Error> {
    let channels = check_group_norm(geometry, batch, sources, norm, out.len())?;
    if !isa.is_supported() {
        return Err(Error::InvalidArgument {
            name: "isa",
            expected: "an instruction set this CPU supports",
        });
    }
    let task = GroupTask {
        geometry,
        sources,
        norm,
        channels,
        cpg: channels / norm.groups,
        inv_n: detmath::recip(((channels / norm.groups) * geometry.pixels()) as f32),
        out: SharedMut::new(out),
        stats: stats.map(SharedMut::new),
    };
    exec.for_each(batch * norm.groups, &|index| {
        let (b, g) = (index / norm.groups, index % norm.groups);
        let task = &task;
        // SAFETY: `isa` was checked; each task writes the planes of its own group and
        // batch item.
        unsafe { dispatch!(isa, group_task(task: &GroupTask<'_, '_>, b: usize, g: usize)) };
    });
    Ok(())
}

/// Everything one group-normalisation task needs.
struct GroupTask<'a, 'b> {
    geometry: Geometry,
    sources: &'a [Source<'b>],
    norm: &'a GroupNorm<'b>,
    channels: usize,
    cpg: usize,
    inv_n: f32,
    out: SharedMut<f32>,
    stats: Option<SharedMut<f32>>,
}

// SAFETY: `out` and `stats` are only written through disjoint per-task regions (see `group_task`).
unsafe impl Sync for GroupTask<'_, '_> {}

impl GroupTask<'_, '_> {
    /// The padded plane of concatenated channel `c` of batch item `b`.
    #[inline(always)]
    fn plane(&self, b: usize, c: usize) -> &[f32] {
        let first = &self.sources[0];
        let (source, local) = if c < first.channels {
            (first, c)
        } else {
            (&self.sources[1], c - first.channels)
        };
        let plane = self.geometry.plane_len();
        let start = (b * source.channels + local) * plane;
        &source.data[start..start + plane]
    }

    /// Interior row `y` of concatenated channel `c` of batch item `b`.
    #[inline(always)]
    fn row(&self, b: usize, c: usize, y: usize) -> &[f32] {
        let first = &self.sources[0];
        let (source, local) = if c < first.channels {
            (first, c)
        } else {
            (&self.sources[1], c - first.channels)
        };
        let start =
            (b * source.channels + local) * self.geometry.plane_len() + self.geometry.index(y, 0);
        &source.data[start..start + self.geometry.width]
    }
}

/// Normalises group `g` of batch item `b`. Generic over the lane type only so that it is
/// compiled for the instruction set (the loops are plain element loops that the compiler
/// vectorises lane-wise; the arithmetic per element is the contract's).
///
/// # Safety
/// The CPU must support `L`; no other task may write this group's planes.
#[inline(always)]
#[allow(clippy::extra_unused_type_parameters)] // instantiated per instruction set, see above
unsafe fn group_task<L: Lanes>(task: &GroupTask<'_, '_>, b: usize, g: usize) {
    let geometry = task.geometry;
    let plane = geometry.plane_len();
    let channels_of_group = g * task.cpg..(g + 1) * task.cpg;
    let mut sum = Sum8::new();
    for c in channels_of_group.clone() {
        for y in 0..geometry.height {
            sum.extend(task.row(b, c, y));
        }
    }
    let mean = sum.total() * task.inv_n;
    let mut sq = Sum8::new();
    for c in channels_of_group.clone() {
        for y in 0..geometry.height {
            sq.extend_squared_deviation(task.row(b, c, y), mean);
        }
    }
    let var = sq.total() * task.inv_n;
    let inv_std = detmath::rsqrt(var + task.norm.eps);
    if let Some(stats) = &task.stats {
        // SAFETY: entries 2·(b·groups + g) and the next belong to this task alone.
        let own = unsafe { stats.slice(2 * (b * task.norm.groups + g), 2) };
        own.copy_from_slice(&[mean, inv_std]);
    }
    // All interior rows of a plane as one flattened run (the ring cells between rows are
    // computed too, then zeroed), so that SiLU runs on long blocks.
    let (first, last) = (
        geometry.index(0, 0),
        geometry.index(geometry.height - 1, geometry.width - 1) + 1,
    );
    for c in channels_of_group {
        let scale = task.norm.gamma[c] * inv_std;
        let shift = task.norm.beta[c] - mean * scale;
        // SAFETY: forwarded from the caller.
        let dst = unsafe { task.out.slice((b * task.channels + c) * plane, plane) };
        let src = task.plane(b, c);
        if task.norm.silu {
            detmath::silu_affine(&src[first..last], scale, shift, &mut dst[first..last]);
        } else {
            for (o, &e) in dst[first..last].iter_mut().zip(&src[first..last]) {
                *o = e * scale + shift;
            }
        }
        zero_ring_rows(geometry, dst, 0, geometry.height);
    }
}
