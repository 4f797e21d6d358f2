//! 3×3 "same" convolution by Winograd's minimal filtering F(2×2, 3×3) on padded planar
//! tensors: the same function as a 3×3 [`conv2d`](super::conv::conv2d) with 16 instead of
//! 36 multiplications per (input, output) channel pair and 2 × 2 block of outputs.
//!
//! ## Arithmetic (the contract every backend repeats)
//! The output is cut into 2 × 2 tiles: tile `(ty, tx)` covers output rows `2ty, 2ty + 1`
//! and columns `2tx, 2tx + 1` (`ceil(H/2) × ceil(W/2)` tiles; outputs past the edge of an
//! odd-sized map are not written). Its input patch is the 4 × 4 block of padded-plane
//! cells `d[r][c] = input[2ty + r][2tx + c]` (padded coordinates, so the zero ring is the
//! padding; cells past the plane of an odd-sized map read as `+0.0`).
//!
//! **Weights**, once per convolution ([`transform_weights`]; `g` = the 3 × 3 kernel of
//! output `o`, input `i`): `t = G g`, then `U = t Gᵀ`, each row or column of three values
//! `(a, b, c)` mapping to `(a, ((a + b) + c) × 0.5, ((a − b) + c) × 0.5, c)`.
//!
//! **Input transform** of each patch, per input channel (`V = Bᵀ d B`): each row
//! `(d0, d1, d2, d3)` becomes `h = (d0 − d2, d1 + d2, d2 − d1, d1 − d3)`, then each column
//! of `h` the same way: `V[0][c] = h[0][c] − h[2][c]`, `V[1][c] = h[1][c] + h[2][c]`,
//! `V[2][c] = h[2][c] − h[1][c]`, `V[3][c] = h[1][c] − h[3][c]`.
//!
//! **Products**, for each of the 16 positions `ξ = 4·row + column`:
//! `M[ξ] = U[ξ][o][0] × V₀[ξ]`, then `M[ξ] = M[ξ] + U[ξ][o][i] × Vᵢ[ξ]` for
//! `i = 1, 2, …` (the concatenated sources' channels, first source first).
//!
//! **Output transform** (`Y = Aᵀ M A`), per column `c`: `s0[c] = (M[0][c] + M[1][c]) +
//! M[2][c]`, `s1[c] = (M[1][c] − M[2][c]) − M[3][c]`; then for each row `s` of those,
//! `y[·][0] = ((s[0] + s[1]) + s[2]) + bias[b][o]` and `y[·][1] = ((s[1] − s[2]) − s[3]) +
//! bias[b][o]`; with a residual, `out = (y + residual) × residual_scale`.
//!
//! Every operation is a separate IEEE f32 `+`, `−` or `×` (no fused multiply-add; the
//! `× 0.5` is exact unless a value is subnormal). In real arithmetic this is exactly the
//! direct convolution; in f32 it rounds differently (≈ 1e-6 relative here), so its bits are
//! its own, not [`conv2d`](super::conv::conv2d)'s.
//!
//! ## Fast path
//! Lanes run over consecutive tiles of one tile row, each lane computing its tile with the
//! scalar sequence above, so the bits do not depend on the lane count. Work items are
//! (batch item, tile row, segment of up to [`SEGMENT_TILES`] tiles). For one item the
//! padded input rows are first split into even and odd columns (copies, no arithmetic),
//! so every transform step is a unit-stride vector load; the 16 products are register
//! tiles of output channels × tiles over the transformed inputs in the scratch buffer;
//! the output transform writes four tile-ordered planes that are then interleaved into
//! the output rows (copies). The caller's scratch buffer is cut into *slots*, one per
//! concurrent task: slot `s` of `n` runs items `s·N/n .. (s+1)·N/n` in order.

use super::conv::{check_inputs, check_outputs, Source};
use super::geometry::Geometry;
use super::simd::{dispatch, Isa, Lanes, Scalar};
use crate::error::{check_len, Error};
use crate::exec::{Executor, SharedMut};

/// Most tiles per work item (one tile row, or a segment of a wider one).
pub const SEGMENT_TILES: usize = 64;
/// Tiles per item are padded to a multiple of this (one 16-lane vector).
const TILE_PAD: usize = 16;
/// Extra floats after each of the 16 transform planes in the scratch: planes a multiple
/// of 4 KiB apart would share L1 sets (measured: 1.4× slower input transform).
const PLANE_GAP: usize = 16;

/// The parameters of one Winograd convolution.
#[derive(Debug, Clone, Copy)]
pub struct WinogradConv<'a> {
    /// Output channels.
    pub out_channels: usize,
    /// `16 × in × out` transformed weights from [`transform_weights`].
    pub transformed_weight: &'a [f32],
    /// `batch × out` biases (per batch item).
    pub bias: &'a [f32],
    /// Optional residual: `out = (y + residual) × residual_scale`, same shape as the output.
    pub residual: Option<&'a [f32]>,
    /// Scale applied after adding the residual (ignored without one).
    pub residual_scale: f32,
}

/// Length of the transformed weights of a 3×3 convolution: `16 × in × out`.
pub const fn transformed_weights_len(out_channels: usize, in_channels: usize) -> usize {
    16 * out_channels * in_channels
}

/// Maps three values `(a, b, c)` to `(a, ((a + b) + c) × 0.5, ((a − b) + c) × 0.5, c)`:
/// one row or column of `G g Gᵀ`.
#[inline(always)]
fn g_rows(a: f32, b: f32, c: f32) -> [f32; 4] {
    [a, ((a + b) + c) * 0.5, ((a - b) + c) * 0.5, c]
}

/// Transforms `out × in × 3 × 3` weights into `U[ξ][i][o]` (`ξ` = 4·row + column of
/// `G g Gᵀ`), the layout the products read.
///
/// # Errors
/// [`Error::BufferLength`] when `weight` is not `out × in × 9` values or `transformed`
/// not [`transformed_weights_len`].
pub fn transform_weights(
    weight: &[f32],
    out_channels: usize,
    in_channels: usize,
    transformed: &mut [f32],
) -> Result<(), Error> {
    transform_weights_parallel(
        &crate::exec::Serial,
        weight,
        out_channels,
        in_channels,
        transformed,
    )
}

/// One input channel `i` of [`transform_weights`]: `rows[ξ][o] = U[ξ][i][o]` for every
/// output channel `o` (each row `out_channels` long).
fn transform_channel(
    weight: &[f32],
    out_channels: usize,
    in_channels: usize,
    i: usize,
    rows: &mut [&mut [f32]; 16],
) {
    for o in 0..out_channels {
        let g = &weight[(o * in_channels + i) * 9..][..9];
        // t = G g: the columns of g, each mapped by g_rows.
        let mut t = [[0.0f32; 3]; 4];
        for c in 0..3 {
            let column = g_rows(g[c], g[3 + c], g[6 + c]);
            for (row, value) in t.iter_mut().zip(column) {
                row[c] = value;
            }
        }
        for (r, row) in t.iter().enumerate() {
            for (c, value) in g_rows(row[0], row[1], row[2]).into_iter().enumerate() {
                rows[r * 4 + c][o] = value;
            }
        }
    }
}

/// [`transform_weights`] split over the input channels on `exec` (the same values: each
/// is a fixed function of its nine weights).
///
/// # Errors
/// As [`transform_weights`].
pub fn transform_weights_parallel(
    exec: &dyn Executor,
    weight: &[f32],
    out_channels: usize,
    in_channels: usize,
    transformed: &mut [f32],
) -> Result<(), Error> {
    check_len(
        "winograd weight",
        weight.len(),
        out_channels * in_channels * 9,
    )?;
    check_len(
        "winograd transformed weight",
        transformed.len(),
        transformed_weights_len(out_channels, in_channels),
    )?;
    let tasks = exec.threads().clamp(1, in_channels.max(1));
    let shared = SharedMut::new(transformed);
    exec.for_each(tasks, &|task| {
        for i in task * in_channels / tasks..(task + 1) * in_channels / tasks {
            // SAFETY: the rows (ξ, i) of input channel i are disjoint from each other and
            // belong to this task alone (each task has its own input channels).
            let mut rows: [&mut [f32]; 16] = core::array::from_fn(|xi| unsafe {
                shared.slice((xi * in_channels + i) * out_channels, out_channels)
            });
            transform_channel(weight, out_channels, in_channels, i, &mut rows);
        }
    });
    Ok(())
}

/// The per-slot scratch layout for one geometry and channel counts.
#[derive(Clone, Copy)]
struct Layout {
    /// Tiles per item, padded to [`TILE_PAD`].
    tiles: usize,
    /// Floats per even/odd row buffer.
    row: usize,
    /// Floats between transformed-input planes (`in × tiles + gap`).
    v_plane: usize,
    /// Floats between product planes (`out × tiles + gap`).
    m_plane: usize,
    /// Floats per slot.
    slot: usize,
}

impl Layout {
    fn new(geometry: Geometry, in_channels: usize, out_channels: usize) -> Self {
        let tiles_wide = geometry.width.div_ceil(2);
        let tiles = tiles_wide.min(SEGMENT_TILES).div_ceil(TILE_PAD) * TILE_PAD;
        let row = tiles + 16;
        let v_plane = in_channels * tiles + PLANE_GAP;
        let m_plane = out_channels * tiles + PLANE_GAP;
        Self {
            tiles,
            row,
            v_plane,
            m_plane,
            slot: 8 * row + 16 * v_plane + 16 * m_plane + 4 * tiles,
        }
    }
}

/// Scratch length for [`conv3x3_winograd`] with `slots` concurrent tasks (use the
/// executor's thread count, or more for load balance; one slot runs everything on one
/// task).
pub fn winograd_scratch_len(
    geometry: Geometry,
    in_channels: usize,
    out_channels: usize,
    slots: usize,
) -> usize {
    Layout::new(geometry, in_channels, out_channels).slot * slots
}

/// Raw, validated view of a Winograd convolution for the item kernels.
#[derive(Clone, Copy)]
struct Plan {
    geometry: Geometry,
    layout: Layout,
    sources: [(*const f32, usize); 2],
    source_count: usize,
    in_channels: usize,
    out_channels: usize,
    u: *const f32,
    bias: *const f32,
    residual: *const f32,
    has_residual: bool,
    residual_scale: f32,
    tile_rows: usize,
    tiles_wide: usize,
    segments: usize,
}

// SAFETY: the raw pointers only read from buffers that outlive the call and are not
// written during it.
unsafe impl Sync for Plan {}
// SAFETY: as above.
unsafe impl Send for Plan {}

/// Checks the arguments of [`conv3x3_winograd`] other than the scratch and the
/// instruction set (every backend runs the same checks, in this order) and returns the
/// total input channel count; `out_len` is the output buffer's length.
///
/// # Errors
/// As [`conv3x3_winograd`], except the scratch and instruction-set checks.
pub fn check_winograd(
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    conv: &WinogradConv<'_>,
    out_len: usize,
) -> Result<usize, Error> {
    let in_channels = check_inputs(geometry, batch, sources)?;
    if in_channels == 0 || conv.out_channels == 0 {
        return Err(Error::InvalidArgument {
            name: "channels",
            expected: "at least one input and one output channel",
        });
    }
    check_len(
        "winograd transformed weight",
        conv.transformed_weight.len(),
        transformed_weights_len(conv.out_channels, in_channels),
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

/// Convolves `sources` (concatenated along channels) with a 3×3 kernel into `out` by
/// F(2×2, 3×3) (module docs), using `scratch` as `scratch.len() / winograd_scratch_len(…, 1)`
/// slots.
///
/// `out` holds `batch × out_channels × plane_len` values; its zero ring is written too.
///
/// # Errors
/// [`Error::InvalidArgument`] for no sources, more than two sources, an empty map, a
/// scratch length that is not a positive multiple of one slot, or an unsupported `isa`;
/// [`Error::BufferLength`] when a buffer does not match the geometry, batch and channel
/// counts.
#[allow(clippy::too_many_arguments)]
pub fn conv3x3_winograd(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    conv: &WinogradConv<'_>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    let in_channels = check_winograd(geometry, batch, sources, conv, out.len())?;
    let layout = Layout::new(geometry, in_channels, conv.out_channels);
    if scratch.is_empty() || scratch.len() % layout.slot != 0 {
        return Err(Error::InvalidArgument {
            name: "scratch",
            expected: "a positive multiple of winograd_scratch_len(.., 1) values",
        });
    }
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
    let tiles_wide = geometry.width.div_ceil(2);
    let plan = Plan {
        geometry,
        layout,
        sources: raw,
        source_count: sources.len(),
        in_channels,
        out_channels: conv.out_channels,
        u: conv.transformed_weight.as_ptr(),
        bias: conv.bias.as_ptr(),
        residual: conv.residual.map_or(core::ptr::null(), |r| r.as_ptr()),
        has_residual: conv.residual.is_some(),
        residual_scale: conv.residual_scale,
        tile_rows: geometry.height.div_ceil(2),
        tiles_wide,
        segments: tiles_wide.div_ceil(SEGMENT_TILES),
    };
    let items = batch * plan.tile_rows * plan.segments;
    let slots = (scratch.len() / layout.slot).min(items);
    let shared_out = SharedMut::new(out);
    let shared_scratch = SharedMut::new(scratch);
    exec.for_each(slots, &|slot| {
        // SAFETY: each slot owns its own scratch range; items write disjoint output
        // regions (their tiles' pixels and ring cells); the plan was validated above.
        unsafe {
            let (plan, out) = (&plan, &shared_out);
            let scratch = shared_scratch.slice(slot * layout.slot, layout.slot);
            for item in slot * items / slots..(slot + 1) * items / slots {
                let segment = item % plan.segments;
                let ty = (item / plan.segments) % plan.tile_rows;
                let b = item / (plan.segments * plan.tile_rows);
                let tx0 = segment * SEGMENT_TILES;
                let n = (plan.tiles_wide - tx0).min(SEGMENT_TILES);
                let scratch = scratch.as_mut_ptr();
                dispatch!(isa, run_item(plan: &Plan, scratch: *mut f32, out: &SharedMut<f32>, b: usize, ty: usize, tx0: usize, n: usize));
            }
        }
    });
    Ok(())
}

/// Output channels per register tile of the products.
const fn tile_out(lanes: usize) -> usize {
    if lanes >= 16 {
        8
    } else {
        4
    }
}

/// Computes one item: batch item `b`, tile row `ty`, tiles `tx0 .. tx0 + n`.
///
/// # Safety
/// `plan` validated by [`conv3x3_winograd`]; `scratch` points to one slot of
/// `plan.layout.slot` floats owned by the caller; no other task writes this item's
/// output region; `L` is supported by the CPU.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // index loops mirror the transforms' formulas
unsafe fn run_item<L: Lanes>(
    plan: &Plan,
    scratch: *mut f32,
    out: &SharedMut<f32>,
    b: usize,
    ty: usize,
    tx0: usize,
    n: usize,
) {
    let ly = plan.layout;
    let g = plan.geometry;
    let plane = g.plane_len();
    let stride = g.stride();
    let tiles = ly.tiles;
    // SAFETY (whole body): scratch offsets stay inside the slot by the layout's sizes
    // (vector loads and stores cover `0..tiles` of `tiles`-long rows, and the even/odd
    // rows are read up to index `tiles < row`); input reads stay inside each plane
    // (rows below `height + 2`, columns below `stride`); output writes stay inside this
    // item's rows and columns.
    unsafe {
        let even_odd = scratch; // [row r][even, odd][ly.row]
        let v = scratch.add(8 * ly.row);
        let m = v.add(16 * ly.v_plane);
        let y = m.add(16 * ly.m_plane);

        // 1. Input transform of every input channel.
        let mut ic = 0;
        for s in 0..plan.source_count {
            let (data, channels) = plan.sources[s];
            for local in 0..channels {
                let input = data.add((b * channels + local) * plane);
                transform_input::<L>(
                    g,
                    input,
                    ty,
                    tx0,
                    n,
                    tiles,
                    even_odd,
                    ly.row,
                    v.add(ic * tiles),
                    ly.v_plane,
                );
                ic += 1;
            }
        }

        // 2. The 16 products, register tiles of output channels × two vectors of tiles.
        for xi in 0..16 {
            let u = plan.u.add(xi * plan.in_channels * plan.out_channels);
            let vx = v.add(xi * ly.v_plane);
            let mx = m.add(xi * ly.m_plane);
            let mut o = 0;
            while o < plan.out_channels {
                let rest = plan.out_channels - o;
                if rest >= tile_out(L::LANES) {
                    if L::LANES >= 16 {
                        products::<L, 8>(plan, u, vx, mx, o, tiles);
                        o += 8;
                    } else {
                        products::<L, 4>(plan, u, vx, mx, o, tiles);
                        o += 4;
                    }
                } else {
                    products::<L, 1>(plan, u, vx, mx, o, tiles);
                    o += 1;
                }
            }
        }

        // 3. Output transform into four tile-ordered planes, then into the rows.
        let (y_top, y_bottom) = (g.index(2 * ty, 0), 2 * ty + 1 < g.height);
        let x0 = 2 * tx0;
        let x1 = (2 * (tx0 + n)).min(g.width);
        for o in 0..plan.out_channels {
            let bias = L::splat(*plan.bias.add(b * plan.out_channels + o));
            let mo = m.add(o * tiles);
            let mut k = 0;
            while k < tiles {
                let at = |xi: usize| L::load(mo.add(xi * ly.m_plane + k));
                let mut s0 = [L::splat(0.0); 4];
                let mut s1 = [L::splat(0.0); 4];
                for c in 0..4 {
                    let (m1, m2) = (at(4 + c), at(8 + c));
                    s0[c] = at(c).add(m1).add(m2);
                    s1[c] = m1.sub(m2).sub(at(12 + c));
                }
                for (row, s) in [s0, s1].iter().enumerate() {
                    let left = s[0].add(s[1]).add(s[2]).add(bias);
                    let right = s[1].sub(s[2]).sub(s[3]).add(bias);
                    left.store(y.add((2 * row) * tiles + k));
                    right.store(y.add((2 * row + 1) * tiles + k));
                }
                k += L::LANES;
            }
            let base = (b * plan.out_channels + o) * plane;
            let rows: &[usize] = if y_bottom { &[0, 1] } else { &[0] };
            for &row in rows {
                let start = y_top + row * stride;
                // This item's pixels of the row: columns x0..x1.
                let line = out.slice(base + start + x0, x1 - x0);
                let left = core::slice::from_raw_parts(y.add(2 * row * tiles), n);
                let right = core::slice::from_raw_parts(y.add((2 * row + 1) * tiles), n);
                let whole = line.len() / 2;
                let mut j = 0;
                while j + L::LANES <= whole {
                    L::store_interleaved(
                        L::load(left.as_ptr().add(j)),
                        L::load(right.as_ptr().add(j)),
                        line.as_mut_ptr().add(2 * j),
                    );
                    j += L::LANES;
                }
                for j in j..whole {
                    line[2 * j] = left[j];
                    line[2 * j + 1] = right[j];
                }
                if line.len() % 2 == 1 {
                    // Odd width: the last tile's left column only.
                    line[2 * whole] = left[n - 1];
                }
                if plan.has_residual {
                    let res = plan.residual.add(base + start + x0);
                    residual_row::<L>(line, res, plan.residual_scale);
                }
                // The ring cells left and right of the row, by the first and last segment.
                if tx0 == 0 {
                    out.slice(base + start - 1, 1)[0] = 0.0;
                }
                if tx0 + n == plan.tiles_wide {
                    out.slice(base + start + g.width, 1)[0] = 0.0;
                }
            }
            // The ring rows above and below the map, by the first segment of the first and
            // last tile rows.
            if tx0 == 0 && ty == 0 {
                out.slice(base, stride).fill(0.0);
            }
            if tx0 == 0 && ty + 1 == plan.tile_rows {
                out.slice(base + (g.height + 1) * stride, stride).fill(0.0);
            }
        }
    }
}

/// The input transform (`V = Bᵀ d B`, module docs) of one input channel for the tiles
/// `tx0 .. tx0 + n` of tile row `ty`, lanes over tiles: writes `V[ξ][k]` to
/// `v[ξ · v_plane + k]` for `k` in `0..tiles` (tiles past `n` get the transform of
/// `+0.0` cells). The padded input row cells are first split into even and odd columns in
/// `even_odd` (copies), so every step is a unit-stride vector load. Shared by the forward
/// kernel and the trainer's weight gradient.
///
/// # Safety
/// `input` points to one padded plane of `geometry`; `n >= 1`, `tx0 + n` at most the
/// tiles across the map, `n <= tiles`, `tiles` a multiple of `L::LANES`; `even_odd` is
/// valid for `8 × row` writes with `row >= tiles + 1`; `v` is valid for writes at
/// `ξ · v_plane + k`, `ξ < 16`, `k < tiles`; the CPU runs `L`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::needless_range_loop)] // index loops mirror the transforms' formulas
pub unsafe fn transform_input<L: Lanes>(
    g: Geometry,
    input: *const f32,
    ty: usize,
    tx0: usize,
    n: usize,
    tiles: usize,
    even_odd: *mut f32,
    row: usize,
    v: *mut f32,
    v_plane: usize,
) {
    let stride = g.stride();
    // SAFETY (whole body): by the preconditions; the even/odd rows are read up to index
    // `tiles < row`, the input rows below `height + 2` and columns below `stride`.
    unsafe {
        for r in 0..4 {
            let e = core::slice::from_raw_parts_mut(even_odd.add(2 * r * row), row);
            let o = core::slice::from_raw_parts_mut(even_odd.add((2 * r + 1) * row), row);
            let pr = 2 * ty + r;
            // Cells 2·tx0 .. 2·(tx0 + n) + 2 of the padded row (the last one may lie
            // past an odd-width plane), split into even and odd columns.
            let mut filled = 0;
            if pr < g.height + 2 {
                let c0 = 2 * tx0;
                let pairs = (n + 1).min((stride - c0) / 2);
                let line = input.add(pr * stride + c0);
                let mut j = 0;
                while j + L::LANES <= pairs {
                    let (even, odd) = L::load_deinterleaved(line.add(2 * j));
                    even.store(e.as_mut_ptr().add(j));
                    odd.store(o.as_mut_ptr().add(j));
                    j += L::LANES;
                }
                for j in j..pairs {
                    e[j] = *line.add(2 * j);
                    o[j] = *line.add(2 * j + 1);
                }
                filled = pairs;
                if pairs == n {
                    // Odd width: the even cell of the last pair is the ring column.
                    e[n] = *input.add(pr * stride + c0 + 2 * n);
                    o[n] = 0.0;
                    filled = n + 1;
                }
            }
            e[filled..=tiles].fill(0.0);
            o[filled..=tiles].fill(0.0);
        }
        let mut k = 0;
        while k < tiles {
            let mut h = [[L::splat(0.0); 4]; 4];
            for (r, hr) in h.iter_mut().enumerate() {
                let e = even_odd.add(2 * r * row + k);
                let o = e.add(row);
                let (d0, d1) = (L::load(e), L::load(o));
                let (d2, d3) = (L::load(e.add(1)), L::load(o.add(1)));
                *hr = [d0.sub(d2), d1.add(d2), d2.sub(d1), d1.sub(d3)];
            }
            let base = v.add(k);
            for c in 0..4 {
                h[0][c].sub(h[2][c]).store(base.add(c * v_plane));
                h[1][c].add(h[2][c]).store(base.add((4 + c) * v_plane));
                h[2][c].sub(h[1][c]).store(base.add((8 + c) * v_plane));
                h[1][c].sub(h[3][c]).store(base.add((12 + c) * v_plane));
            }
            k += L::LANES;
        }
    }
}

/// `M[ξ][o..o + CO][0..tiles]` = Σᵢ `U[ξ][i][o + c] × V[ξ][i][·]` in increasing `i`
/// (the first product starts the sum): blocks of two vectors of tiles, then one.
///
/// # Safety
/// As [`run_item`]; `u`, `v`, `m` point at plane `ξ` of the weights, inputs and products.
#[inline(always)]
unsafe fn products<L: Lanes, const CO: usize>(
    plan: &Plan,
    u: *const f32,
    v: *const f32,
    m: *mut f32,
    o: usize,
    tiles: usize,
) {
    let mut k = 0;
    // SAFETY: `tiles` is a multiple of 16, so of LANES; offsets as in `run_item`.
    unsafe {
        while k + 2 * L::LANES <= tiles {
            product_block::<L, CO, 2>(plan, u, v, m, o, tiles, k);
            k += 2 * L::LANES;
        }
        while k < tiles {
            product_block::<L, CO, 1>(plan, u, v, m, o, tiles, k);
            k += L::LANES;
        }
    }
}

/// One register tile of [`products`]: `CO` output channels × `PX` vectors from tile `k`.
///
/// # Safety
/// As [`products`]; `k + PX × LANES <= tiles`.
#[inline(always)]
unsafe fn product_block<L: Lanes, const CO: usize, const PX: usize>(
    plan: &Plan,
    u: *const f32,
    v: *const f32,
    m: *mut f32,
    o: usize,
    tiles: usize,
    k: usize,
) {
    // SAFETY: forwarded.
    unsafe {
        let load = |i: usize| -> [L; PX] {
            let vp = v.add(i * tiles + k);
            core::array::from_fn(|j| L::load(vp.add(j * L::LANES)))
        };
        let first = load(0);
        let mut acc: [[L; PX]; CO] = core::array::from_fn(|c| {
            let w = L::splat(*u.add(o + c));
            core::array::from_fn(|j| w.mul(first[j]))
        });
        for i in 1..plan.in_channels {
            let x = load(i);
            let up = u.add(i * plan.out_channels + o);
            for (c, row) in acc.iter_mut().enumerate() {
                let w = L::splat(*up.add(c));
                for (a, xv) in row.iter_mut().zip(x) {
                    *a = a.add(w.mul(xv));
                }
            }
        }
        for (c, row) in acc.iter().enumerate() {
            let mp = m.add((o + c) * tiles + k);
            for (j, a) in row.iter().enumerate() {
                a.store(mp.add(j * L::LANES));
            }
        }
    }
}

/// `line[x] = (line[x] + residual[x]) × scale` over the line, vectors then single lanes.
///
/// # Safety
/// `residual` must be valid for `line.len()` reads; `L` supported by the CPU.
#[inline(always)]
unsafe fn residual_row<L: Lanes>(line: &mut [f32], residual: *const f32, scale: f32) {
    let mut x = 0;
    // SAFETY: every access is inside `line` and the residual row of the same length.
    unsafe {
        while x + L::LANES <= line.len() {
            let p = line.as_mut_ptr().add(x);
            L::load(p)
                .add(L::load(residual.add(x)))
                .mul(L::splat(scale))
                .store(p);
            x += L::LANES;
        }
        while x < line.len() {
            let p = line.as_mut_ptr().add(x);
            Scalar(*p)
                .add(Scalar(*residual.add(x)))
                .mul(Scalar(scale))
                .store(p);
            x += 1;
        }
    }
}

/// Scratch length for [`network_conv`]: for a 3×3 kernel the transformed weights and
/// `slots` Winograd slots, nothing for a 1×1 kernel.
pub fn network_conv_scratch_len(
    geometry: Geometry,
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    slots: usize,
) -> usize {
    if kernel == 3 {
        transformed_weights_len(out_channels, in_channels)
            + winograd_scratch_len(geometry, in_channels, out_channels, slots)
    } else {
        0
    }
}

/// The score network's convolution: a 3×3 kernel by [`conv3x3_winograd`] (its weights
/// transformed into the head of `scratch` first), a 1×1 kernel by the direct
/// [`conv2d`](super::conv::conv2d). Arguments as `conv2d`; `scratch` holds at least
/// [`network_conv_scratch_len`] values for one slot, and every further whole slot adds a
/// concurrent task (the bits do not depend on the count).
///
/// # Errors
/// As [`conv2d`](super::conv::conv2d) and [`conv3x3_winograd`];
/// [`Error::InvalidArgument`] when `scratch` is shorter than one slot needs.
#[allow(clippy::too_many_arguments)]
pub fn network_conv(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    conv: &super::conv::Conv<'_>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    if conv.kernel != 3 {
        return super::conv::conv2d(exec, isa, geometry, batch, sources, conv, out);
    }
    let in_channels = super::conv::check_conv(geometry, batch, sources, conv, out.len())?;
    let weights = transformed_weights_len(conv.out_channels, in_channels);
    let slot = winograd_scratch_len(geometry, in_channels, conv.out_channels, 1);
    if scratch.len() < weights + slot {
        return Err(Error::InvalidArgument {
            name: "scratch",
            expected: "at least network_conv_scratch_len(.., 1) values",
        });
    }
    let slots = (scratch.len() - weights) / slot;
    let (transformed, rest) = scratch.split_at_mut(weights);
    transform_weights_parallel(
        exec,
        conv.weight,
        conv.out_channels,
        in_channels,
        transformed,
    )?;
    conv3x3_winograd(
        exec,
        isa,
        geometry,
        batch,
        sources,
        &WinogradConv {
            out_channels: conv.out_channels,
            transformed_weight: transformed,
            bias: conv.bias,
            residual: conv.residual,
            residual_scale: conv.residual_scale,
        },
        &mut rest[..slots * slot],
        out,
    )
}
