//! Weight and bias gradients of the network's 3 × 3 convolution through the transforms of
//! Winograd's F(2×2, 3×3) ([`powerpost_core::nn::winograd`], which the forward pass runs).
//!
//! The forward pass computes `y = Aᵀ [Σᵢ U ⊙ Vᵢ] A + bias` per tile with `U = G g Gᵀ`, so
//! the weight gradient is `dg = Gᵀ dU G` with `dU[ξ][o][i] = Σ_tiles Ŷ[ξ][o] · Vᵢ[ξ]`,
//! `Ŷ = A dy Aᵀ` the output gradient's 2 × 2 tile taken to the 4 × 4 transform domain —
//! in real arithmetic exactly the direct convolution's `Σ_p dy · x`, with 16 instead of
//! 36 multiplications per tile and channel pair.
//!
//! ## Arithmetic (the documented order)
//! For batch item `b` and tile `t` (row-major over the `ceil(H/2) × ceil(W/2)` tiles):
//! - `Vᵢ[ξ]`: the forward's input transform of input channel `i`'s 4 × 4 patch (module
//!   docs of [`powerpost_core::nn::winograd`]; cells past the plane read `+0.0`).
//! - `Ŷ[ξ]`: the output gradient's tile `(g00, g01; g10, g11)` (outputs past the map's
//!   edge read `+0.0`), each row `(a, b)` mapped to `(a, a + b, a − b, +0.0 − b)`, then
//!   each column of the 2 × 4 result the same way.
//! - `P_b[ξ][i][o]` starts at `+0.0` and adds `Ŷ[ξ][o] × Vᵢ[ξ]` tile after tile;
//!   `db[b][o]` starts at `+0.0` and adds `Ŷ[5][o] = (g00 + g01) + (g10 + g11)` tile after
//!   tile.
//!
//! Then `dU = P_0`, `dU = dU + P_b` for `b = 1, 2, …` (batch order), and
//! `dw[o][i] = Gᵀ dU[·][i][o] G`: each row of the 4 × 4 `dU` (then each column of the
//! 4 × 3 result) `(p0, p1, p2, p3)` maps to `(p0 + (p1 + p2) × 0.5, (p1 − p2) × 0.5,
//! (p1 + p2) × 0.5 + p3)`. Separate IEEE operations, no fused multiply-add.
//!
//! ## Fast path
//! Lanes run over output channels: each lane sums its `(o, i)` pair over the tiles in
//! order, so the bits do not depend on the lane count. The caller's scratch holds every
//! item's `P_b` and a few *slots* of block buffers, one per concurrent task; slot `s` of
//! `n` runs items `s·B/n .. (s+1)·B/n`. An item goes through its tiles in blocks of up
//! to [`BLOCK_TILES`] tiles of one tile row:
//! - `V[ξ][i][k]` by the forward kernel's own input transform
//!   ([`powerpost_core::nn::winograd::transform_input`]: lanes over tiles, from the rows
//!   split into even and odd columns — unit-stride loads, no gathers);
//! - `Ŷ[ξ][k][o]` with lanes over output channels (four output-gradient values gathered
//!   per tile and channel);
//! - the products as register tiles of output-channel vectors × input channels, each
//!   `Vᵢ[ξ]` of a tile broadcast from the channel-major block, the running sums kept in
//!   `P_b` between blocks.
//!
//! (A first version gathered the 16 patch cells of every tile and channel with scalar
//! copies into a tile-major `V`, which cost more than the 2.25× fewer multiplications
//! saved; bench/README.md "Session 14".)

use powerpost_core::exec::{Executor, SharedMut};
use powerpost_core::nn::conv::{check_inputs, Source};
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::simd::{run_with_lanes, Isa, Lanes, LanesTask};
use powerpost_core::nn::winograd::transform_input;
use powerpost_core::Error;

/// Most tiles per block (one tile row, or a segment of a wider one).
pub const BLOCK_TILES: usize = 64;
/// Output channels are padded to a multiple of this (the widest lane count).
const LANE_PAD: usize = 16;
/// Extra floats after each transform plane of a block (planes a multiple of 4 KiB apart
/// would share L1 sets).
const PLANE_GAP: usize = 16;
/// Floats per even/odd row buffer of the input transform.
const ROW: usize = BLOCK_TILES + 16;
/// Input channels transformed at a time (their `V` planes of a block: 32 KiB, in L1).
const GROUP: usize = 8;
/// Floats between the planes `V[ξ]` of a group (`GROUP × BLOCK_TILES` plus a gap).
const V_PLANE: usize = GROUP * BLOCK_TILES + PLANE_GAP;

/// Sizes of one call's scratch.
#[derive(Clone, Copy)]
struct Layout {
    /// Output channels padded to [`LANE_PAD`].
    out_pad: usize,
    /// Floats of one item's partial sums `P_b` (`16 × in × out_pad`).
    item: usize,
    /// Floats of one slot: even/odd rows, `V` of a group, `Ŷ` and the gathered output
    /// gradient of a block.
    slot: usize,
}

impl Layout {
    fn new(in_channels: usize, out_channels: usize) -> Self {
        let out_pad = out_channels.div_ceil(LANE_PAD) * LANE_PAD;
        Self {
            out_pad,
            item: 16 * in_channels * out_pad,
            slot: 8 * ROW + 16 * V_PLANE + 20 * BLOCK_TILES * out_pad,
        }
    }

    /// Floats for `batch` items' partial sums and bias gradients and `slots` slots.
    fn len(&self, batch: usize, slots: usize) -> usize {
        batch * (self.item + self.out_pad) + slots * self.slot
    }
}

/// Scratch values [`conv3x3_weight_grad`] needs for `batch` items and `slots` concurrent
/// tasks (use the executor's thread count; the bits do not depend on it).
pub fn conv3x3_weight_grad_scratch_len(
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    slots: usize,
) -> usize {
    Layout::new(in_channels, out_channels).len(batch, slots.max(1))
}

/// Weight gradient `dw` (`out × in × 9`, written) and per-item bias gradient `db`
/// (`batch × out`, written) of a 3 × 3 convolution of `sources` (concatenated along
/// channels) with output gradient `grad_out`, in the order of the module docs.
/// `scratch` (contents irrelevant) holds [`conv3x3_weight_grad_scratch_len`] values for
/// some number of slots; the output channel count is `bias_grad.len() / batch`.
///
/// # Errors
/// [`Error::BufferLength`] / [`Error::InvalidArgument`] for mis-sized buffers, a scratch
/// that is not the length for a whole number of slots, no or more than two sources, an
/// empty map or batch, or an instruction set this CPU lacks.
#[allow(clippy::too_many_arguments)]
pub fn conv3x3_weight_grad(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    grad_out: &[f32],
    scratch: &mut [f32],
    weight_grad: &mut [f32],
    bias_grad: &mut [f32],
) -> Result<(), Error> {
    let in_channels = check_inputs(geometry, batch, sources)?;
    let plane = geometry.plane_len();
    let out_channels = bias_grad.len() / batch;
    powerpost_core::error::check_len("conv-grad bias", bias_grad.len(), batch * out_channels)?;
    powerpost_core::error::check_len(
        "conv-grad output gradient",
        grad_out.len(),
        batch * out_channels * plane,
    )?;
    powerpost_core::error::check_len(
        "conv-grad weight",
        weight_grad.len(),
        out_channels * in_channels * 9,
    )?;
    if in_channels == 0 || out_channels == 0 {
        return Err(Error::InvalidArgument {
            name: "channels",
            expected: "at least one input and one output channel",
        });
    }
    let layout = Layout::new(in_channels, out_channels);
    let fixed = layout.len(batch, 0);
    if scratch.len() <= fixed || !(scratch.len() - fixed).is_multiple_of(layout.slot) {
        return Err(Error::InvalidArgument {
            name: "scratch",
            expected: "conv3x3_weight_grad_scratch_len(..) for one or more slots",
        });
    }
    if !isa.is_supported() {
        return Err(Error::InvalidArgument {
            name: "isa",
            expected: "an instruction set this CPU supports",
        });
    }
    let slots = ((scratch.len() - fixed) / layout.slot).min(batch);
    let (partial, rest) = scratch.split_at_mut(batch * layout.item);
    let (bias_pad, slot_space) = rest.split_at_mut(batch * layout.out_pad);
    // The input planes of each item, in channel order (sources concatenated).
    let mut planes = Vec::with_capacity(batch * in_channels);
    for b in 0..batch {
        for s in sources {
            for c in 0..s.channels {
                planes.push(&s.data[(b * s.channels + c) * plane..][..plane]);
            }
        }
    }
    {
        let partial_out = SharedMut::new(partial);
        let bias_out = SharedMut::new(bias_pad);
        let slot_out = SharedMut::new(slot_space);
        exec.for_each(slots, &|slot| {
            for b in slot * batch / slots..(slot + 1) * batch / slots {
                let item = Item {
                    geometry,
                    in_channels,
                    out_channels,
                    layout,
                    planes: &planes[b * in_channels..(b + 1) * in_channels],
                    grad_out: &grad_out[b * out_channels * plane..][..out_channels * plane],
                    // SAFETY: item `b`'s ranges of the partial sums and bias gradients and
                    // this slot's block buffers belong to this task alone.
                    partial: unsafe { partial_out.slice(b * layout.item, layout.item) }
                        .as_mut_ptr(),
                    bias: unsafe { bias_out.slice(b * layout.out_pad, layout.out_pad) }
                        .as_mut_ptr(),
                    block: unsafe { slot_out.slice(slot * layout.slot, layout.slot) }.as_mut_ptr(),
                };
                // The instruction set was checked above, so this cannot fail.
                let _ = run_with_lanes(isa, &item);
            }
        });
    }
    // dU = P_0 + P_1 + … in batch order, element by element (chunks in parallel).
    let (first, rest) = partial.split_at_mut(layout.item);
    {
        let shared = SharedMut::new(first);
        let rest = &*rest;
        let chunk = 4096;
        exec.for_each(layout.item.div_ceil(chunk), &|c| {
            let start = c * chunk;
            let len = chunk.min(layout.item - start);
            // SAFETY: chunks are disjoint ranges of `first`.
            let sum = unsafe { shared.slice(start, len) };
            for item in rest.chunks_exact(layout.item) {
                for (s, p) in sum.iter_mut().zip(&item[start..start + len]) {
                    *s += *p;
                }
            }
        });
    }
    // dw = Gᵀ dU G, output channels split over the executor (each value a fixed function
    // of its 16 sums).
    let du = &*first;
    let out_pad = layout.out_pad;
    let tasks = exec.threads().clamp(1, out_channels);
    let dw = SharedMut::new(weight_grad);
    exec.for_each(tasks, &|task| {
        for o in task * out_channels / tasks..(task + 1) * out_channels / tasks {
            // SAFETY: row `o` of the weight gradient belongs to this task alone.
            let row = unsafe { dw.slice(o * in_channels * 9, in_channels * 9) };
            for (i, out) in row.chunks_exact_mut(9).enumerate() {
                let at = |xi: usize| du[(xi * in_channels + i) * out_pad + o];
                // Rows of dU (4 × 4) to 4 × 3, then columns to 3 × 3.
                let mut t = [[0.0f32; 3]; 4];
                for (r, row) in t.iter_mut().enumerate() {
                    *row = g_transpose(at(4 * r), at(4 * r + 1), at(4 * r + 2), at(4 * r + 3));
                }
                for l in 0..3 {
                    let column = g_transpose(t[0][l], t[1][l], t[2][l], t[3][l]);
                    for (k, value) in column.into_iter().enumerate() {
                        out[k * 3 + l] = value;
                    }
                }
            }
        }
    });
    for b in 0..batch {
        bias_grad[b * out_channels..(b + 1) * out_channels]
            .copy_from_slice(&bias_pad[b * out_pad..b * out_pad + out_channels]);
    }
    Ok(())
}

/// `Gᵀ p` for one row or column: `(p0 + (p1 + p2) × 0.5, (p1 − p2) × 0.5,
/// (p1 + p2) × 0.5 + p3)`.
#[inline(always)]
pub fn g_transpose(p0: f32, p1: f32, p2: f32, p3: f32) -> [f32; 3] {
    let sum = p1 + p2;
    [p0 + sum * 0.5, (p1 - p2) * 0.5, sum * 0.5 + p3]
}

/// One batch item's share of [`conv3x3_weight_grad`].
struct Item<'a> {
    geometry: Geometry,
    in_channels: usize,
    out_channels: usize,
    layout: Layout,
    /// The item's `in_channels` input planes.
    planes: &'a [&'a [f32]],
    /// The item's `out_channels` output-gradient planes.
    grad_out: &'a [f32],
    /// `P_b`: `16 × in × out_pad` running sums.
    partial: *mut f32,
    /// `out_pad` bias gradients.
    bias: *mut f32,
    /// The slot's block buffers (`Layout::slot` floats).
    block: *mut f32,
}

impl LanesTask for Item<'_> {
    // Inlined into `run_with_lanes`'s per-instruction-set entry points, so the lane code
    // is compiled with their target features (not inlined, it runs ≈ 25× slower).
    #[inline(always)]
    unsafe fn run<L: Lanes>(&self) {
        // SAFETY: forwarded (the lane type runs on this CPU); the buffers are this task's.
        unsafe { self.item::<L>() }
    }
}

impl Item<'_> {
    /// Runs every block of this item.
    ///
    /// # Safety
    /// `L` runs on this CPU; `partial`, `bias` and `block` point to buffers of their
    /// documented sizes that belong to this task alone.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // index loops mirror the transforms' formulas
    unsafe fn item<L: Lanes>(&self) {
        let g = self.geometry;
        let (cin, cout) = (self.in_channels, self.out_channels);
        let ly = self.layout;
        let out_pad = ly.out_pad;
        let (partial, bias, block) = (self.partial, self.bias, self.block);
        // SAFETY (whole body): every offset stays inside this task's buffers by the
        // layout's sizes: the even/odd rows (`8 × ROW`), `V` (16 planes of `cin × 64`
        // plus a gap) and `Ŷ` (`16 × 64 × out_pad`); output-gradient reads stay inside the
        // item's planes (map pixels only).
        unsafe {
            core::slice::from_raw_parts_mut(partial, ly.item).fill(0.0);
            core::slice::from_raw_parts_mut(bias, out_pad).fill(0.0);
            let even_odd = block;
            let v = block.add(8 * ROW);
            let y = v.add(16 * V_PLANE);
            let (tile_rows, tiles_wide) = (g.height.div_ceil(2), g.width.div_ceil(2));
            let plane = g.plane_len();
            let dy = self.grad_out;
            let q = y.add(16 * BLOCK_TILES * out_pad);
            let qk = BLOCK_TILES * out_pad;
            for ty in 0..tile_rows {
                for tx0 in (0..tiles_wide).step_by(BLOCK_TILES) {
                    let n = (tiles_wide - tx0).min(BLOCK_TILES);
                    // The output gradient's 2 × 2 tiles, gathered as q[r][c][k][o] (row
                    // reads along k; +0.0 past the map and for the padding channels).
                    // Tiles whose right column lies inside the map (all but the last
                    // one of an odd-width map).
                    let full = n.min((g.width - 2 * tx0) / 2);
                    for o in 0..out_pad {
                        for r in 0..2 {
                            let yy = 2 * ty + r;
                            let (q0, q1) = (q.add((2 * r) * qk + o), q.add((2 * r + 1) * qk + o));
                            if o < cout && yy < g.height {
                                let line = dy.as_ptr().add(o * plane + g.index(yy, 2 * tx0));
                                for k in 0..full {
                                    *q0.add(k * out_pad) = *line.add(2 * k);
                                    *q1.add(k * out_pad) = *line.add(2 * k + 1);
                                }
                                if full < n {
                                    *q0.add(full * out_pad) = *line.add(2 * full);
                                    *q1.add(full * out_pad) = 0.0;
                                }
                            } else {
                                for k in 0..n {
                                    *q0.add(k * out_pad) = 0.0;
                                    *q1.add(k * out_pad) = 0.0;
                                }
                            }
                        }
                    }
                    // Ŷ[ξ][k][o], lanes over output channels; the bias sums stay in a
                    // register along k.
                    for o0 in (0..out_pad).step_by(L::LANES) {
                        let mut db = L::load(bias.add(o0));
                        for k in 0..n {
                            let at = |rc: usize| L::load(q.add(rc * qk + k * out_pad + o0));
                            let rows: [[L; 4]; 2] = core::array::from_fn(|r| {
                                let (a, b) = (at(2 * r), at(2 * r + 1));
                                [a, a.add(b), a.sub(b), L::splat(0.0).sub(b)]
                            });
                            for c in 0..4 {
                                let (a, b) = (rows[0][c], rows[1][c]);
                                let values = [a, a.add(b), a.sub(b), L::splat(0.0).sub(b)];
                                for (r, value) in values.into_iter().enumerate() {
                                    let at = ((4 * r + c) * BLOCK_TILES + k) * out_pad + o0;
                                    value.store(y.add(at));
                                }
                            }
                            // db[o] += Ŷ[5][o] = (g00 + g01) + (g10 + g11).
                            let (a, b) = (rows[0][1], rows[1][1]);
                            db = db.add(a.add(b));
                        }
                        db.store(bias.add(o0));
                    }
                    // Per group of input channels: V[ξ][i][k] by the forward's transform
                    // (lanes over tiles; the group's 16 planes stay in L1), then the
                    // products P[ξ][i][o] += Ŷ[ξ][k][o] × V[ξ][i][k], k in order.
                    let tiles = n.div_ceil(LANE_PAD) * LANE_PAD;
                    for i0 in (0..cin).step_by(GROUP) {
                        let count = GROUP.min(cin - i0);
                        for (j, p) in self.planes[i0..i0 + count].iter().enumerate() {
                            transform_input::<L>(
                                g,
                                p.as_ptr(),
                                ty,
                                tx0,
                                n,
                                tiles,
                                even_odd,
                                ROW,
                                v.add(j * BLOCK_TILES),
                                V_PLANE,
                            );
                        }
                        for xi in 0..16 {
                            products::<L>(
                                y.add(xi * BLOCK_TILES * out_pad),
                                v.add(xi * V_PLANE),
                                partial.add((xi * cin + i0) * out_pad),
                                n,
                                count,
                                out_pad,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The products of one block and transform position: `px[i][o] += yx[k][o] × vx[i][k]`
/// for `k` in `0..n`, register tiles of output-channel vectors × input channels.
///
/// # Safety
/// `L` runs on this CPU; `yx` holds `n × out_pad` values (row stride `out_pad`), `vx`
/// `cin` rows of [`BLOCK_TILES`], `px` `cin × out_pad`.
#[inline(always)]
unsafe fn products<L: Lanes>(
    yx: *const f32,
    vx: *const f32,
    px: *mut f32,
    n: usize,
    cin: usize,
    out_pad: usize,
) {
    let wide = if L::LANES >= 16 { 8 } else { 4 };
    let mut o = 0;
    // SAFETY (whole body): indices stay inside the buffers by the preconditions.
    unsafe {
        while o < out_pad {
            let two = o + 2 * L::LANES <= out_pad;
            let mut i = 0;
            while i < cin {
                let ci = if cin - i >= wide { wide } else { 1 };
                match (two, ci == wide, L::LANES >= 16) {
                    (true, true, true) => tile::<L, 8, 2>(yx, vx, px, n, o, i, out_pad),
                    (true, true, false) => tile::<L, 4, 2>(yx, vx, px, n, o, i, out_pad),
                    (true, false, _) => tile::<L, 1, 2>(yx, vx, px, n, o, i, out_pad),
                    (false, true, true) => tile::<L, 8, 1>(yx, vx, px, n, o, i, out_pad),
                    (false, true, false) => tile::<L, 4, 1>(yx, vx, px, n, o, i, out_pad),
                    (false, false, _) => tile::<L, 1, 1>(yx, vx, px, n, o, i, out_pad),
                }
                i += ci;
            }
            o += if two { 2 } else { 1 } * L::LANES;
        }
    }
}

/// One register tile: input channels `i .. i + CI` × `PX` vectors of output channels
/// from `o`, running sums loaded from and stored back to `px`.
///
/// # Safety
/// As [`products`]; `i + CI <= cin`, `o + PX × LANES <= out_pad`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<L: Lanes, const CI: usize, const PX: usize>(
    yx: *const f32,
    vx: *const f32,
    px: *mut f32,
    n: usize,
    o: usize,
    i: usize,
    out_pad: usize,
) {
    // SAFETY (whole body): as the preconditions.
    unsafe {
        let base = px.add(i * out_pad + o);
        let mut acc: [[L; PX]; CI] = core::array::from_fn(|c| {
            core::array::from_fn(|j| L::load(base.add(c * out_pad + j * L::LANES)))
        });
        let vp = vx.add(i * BLOCK_TILES);
        for k in 0..n {
            let yp = yx.add(k * out_pad + o);
            let yv: [L; PX] = core::array::from_fn(|j| L::load(yp.add(j * L::LANES)));
            for (c, row) in acc.iter_mut().enumerate() {
                let w = L::splat(*vp.add(c * BLOCK_TILES + k));
                for (a, yvj) in row.iter_mut().zip(yv) {
                    *a = a.add(yvj.mul(w));
                }
            }
        }
        for (c, row) in acc.iter().enumerate() {
            for (j, a) in row.iter().enumerate() {
                a.store(base.add(c * out_pad + j * L::LANES));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Pool;
    use powerpost_core::exec::Serial;

    use super::super::padded_test_planes as padded;

    /// The module docs' order, written plainly: one (b, t, ξ, o, i) at a time.
    fn reference(
        g: Geometry,
        batch: usize,
        x: &[f32],
        cin: usize,
        dy: &[f32],
        cout: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let plane = g.plane_len();
        let cell = |b: usize, i: usize, py: usize, px: usize| {
            if py < g.height + 2 && px < g.stride() {
                x[(b * cin + i) * plane + py * g.stride() + px]
            } else {
                0.0
            }
        };
        let grad = |b: usize, o: usize, yy: usize, xx: usize| {
            if yy < g.height && xx < g.width {
                dy[(b * cout + o) * plane + g.index(yy, xx)]
            } else {
                0.0
            }
        };
        let two = |a: f32, b: f32| [a, a + b, a - b, 0.0 - b];
        let mut du_items = vec![vec![0.0f32; 16 * cout * cin]; batch];
        let mut db = vec![0.0f32; batch * cout];
        for b in 0..batch {
            for ty in 0..g.height.div_ceil(2) {
                for tx in 0..g.width.div_ceil(2) {
                    let vs: Vec<[f32; 16]> = (0..cin)
                        .map(|i| {
                            let d: [[f32; 4]; 4] = core::array::from_fn(|r| {
                                core::array::from_fn(|c| cell(b, i, 2 * ty + r, 2 * tx + c))
                            });
                            let h: [[f32; 4]; 4] = core::array::from_fn(|r| {
                                let d = d[r];
                                [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]]
                            });
                            let mut v = [0.0f32; 16];
                            for c in 0..4 {
                                v[c] = h[0][c] - h[2][c];
                                v[4 + c] = h[1][c] + h[2][c];
                                v[8 + c] = h[2][c] - h[1][c];
                                v[12 + c] = h[1][c] - h[3][c];
                            }
                            v
                        })
                        .collect();
                    for o in 0..cout {
                        let rows = [
                            two(grad(b, o, 2 * ty, 2 * tx), grad(b, o, 2 * ty, 2 * tx + 1)),
                            two(
                                grad(b, o, 2 * ty + 1, 2 * tx),
                                grad(b, o, 2 * ty + 1, 2 * tx + 1),
                            ),
                        ];
                        let mut yh = [0.0f32; 16];
                        for c in 0..4 {
                            for (r, value) in two(rows[0][c], rows[1][c]).into_iter().enumerate() {
                                yh[4 * r + c] = value;
                            }
                        }
                        db[b * cout + o] += yh[5];
                        for (xi, &yv) in yh.iter().enumerate() {
                            for (i, v) in vs.iter().enumerate() {
                                du_items[b][(xi * cout + o) * cin + i] += yv * v[xi];
                            }
                        }
                    }
                }
            }
        }
        let mut du = du_items[0].clone();
        for item in &du_items[1..] {
            for (s, p) in du.iter_mut().zip(item) {
                *s += *p;
            }
        }
        // Gᵀ p, written out again (not the kernel's function).
        let gt = |p: [f32; 4]| {
            let s = p[1] + p[2];
            [p[0] + s * 0.5, (p[1] - p[2]) * 0.5, s * 0.5 + p[3]]
        };
        let mut dw = vec![0.0f32; cout * cin * 9];
        for o in 0..cout {
            for i in 0..cin {
                let at = |xi: usize| du[(xi * cout + o) * cin + i];
                let t: [[f32; 3]; 4] = core::array::from_fn(|r| {
                    gt([at(4 * r), at(4 * r + 1), at(4 * r + 2), at(4 * r + 3)])
                });
                for l in 0..3 {
                    let column = gt([t[0][l], t[1][l], t[2][l], t[3][l]]);
                    for k in 0..3 {
                        dw[(o * cin + i) * 9 + k * 3 + l] = column[k];
                    }
                }
            }
        }
        (dw, db)
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Every instruction set and thread count gives the reference's bits: odd sizes, two
    /// sources, channel counts past a multiple of 16, two segments per tile row, and
    /// random values in the input's ring (read as they are).
    #[test]
    fn matches_the_documented_order_bit_for_bit() {
        // (h, w, channels of source 0, of source 1, out channels)
        let cases = [
            (8, 12, 3, 0, 5),
            (7, 11, 4, 3, 17),
            (1, 1, 1, 0, 1),
            (6, 140, 2, 2, 3),
            (16, 16, 20, 0, 33),
        ];
        for (case, &(h, w, c0, c1, cout)) in cases.iter().enumerate() {
            let g = Geometry::new(h, w);
            let batch = 3;
            let x0 = padded(g, batch * c0, 10 + case as u32, 0.25);
            let x1 = padded(g, batch * c1, 20 + case as u32, -0.5);
            let dy = padded(g, batch * cout, 30 + case as u32, 0.0);
            let cin = c0 + c1;
            // The reference reads one concatenated input per item.
            let plane = g.plane_len();
            let mut x = Vec::new();
            for b in 0..batch {
                x.extend_from_slice(&x0[b * c0 * plane..(b + 1) * c0 * plane]);
                x.extend_from_slice(&x1[b * c1 * plane..(b + 1) * c1 * plane]);
            }
            let (want_dw, want_db) = reference(g, batch, &x, cin, &dy, cout);
            let mut sources = vec![Source {
                data: &x0,
                channels: c0,
            }];
            if c1 > 0 {
                sources.push(Source {
                    data: &x1,
                    channels: c1,
                });
            }
            for isa in Isa::all_supported() {
                for (threads, slots) in [(1, 1), (2, 2), (3, 5)] {
                    let pool = Pool::new(threads).unwrap();
                    let mut dw = vec![f32::NAN; cout * cin * 9];
                    let mut db = vec![f32::NAN; batch * cout];
                    let mut scratch =
                        vec![f32::NAN; conv3x3_weight_grad_scratch_len(batch, cin, cout, slots)];
                    conv3x3_weight_grad(
                        &pool,
                        isa,
                        g,
                        batch,
                        &sources,
                        &dy,
                        &mut scratch,
                        &mut dw,
                        &mut db,
                    )
                    .unwrap();
                    let what = format!("case {case} isa {isa:?} threads {threads} slots {slots}");
                    assert_eq!(bits(&dw), bits(&want_dw), "dw: {what}");
                    assert_eq!(bits(&db), bits(&want_db), "db: {what}");
                }
            }
        }
    }

    /// In real arithmetic this is the direct `Σ_p dy · x`: against that sum in f64 the
    /// error stays within a small multiple of ε · Σ|dy · x|.
    #[test]
    fn is_the_direct_weight_gradient_to_rounding() {
        let g = Geometry::new(10, 14);
        let (batch, cin, cout) = (2, 5, 4);
        let x = padded(g, batch * cin, 7, 0.0);
        let dy = padded(g, batch * cout, 8, 0.0);
        let mut dw = vec![0.0; cout * cin * 9];
        let mut db = vec![0.0; batch * cout];
        let sources = [Source {
            data: &x,
            channels: cin,
        }];
        let mut scratch = vec![0.0; conv3x3_weight_grad_scratch_len(batch, cin, cout, 1)];
        conv3x3_weight_grad(
            &Serial,
            Isa::detect(),
            g,
            batch,
            &sources,
            &dy,
            &mut scratch,
            &mut dw,
            &mut db,
        )
        .unwrap();
        let plane = g.plane_len();
        let mut worst = 0.0f64;
        for o in 0..cout {
            for i in 0..cin {
                for k in 0..9 {
                    let (ky, kx) = (k / 3, k % 3);
                    let (mut exact, mut magnitude) = (0.0f64, 0.0f64);
                    for b in 0..batch {
                        for yy in 0..g.height {
                            for xx in 0..g.width {
                                let d = dy[(b * cout + o) * plane + g.index(yy, xx)];
                                // Tap (ky, kx) of output (yy, xx) reads padded (yy + ky, xx + kx).
                                let v = x[(b * cin + i) * plane + (yy + ky) * g.stride() + xx + kx];
                                let term = f64::from(d) * f64::from(v);
                                exact += term;
                                magnitude += term.abs();
                            }
                        }
                    }
                    let got = f64::from(dw[(o * cin + i) * 9 + k]);
                    worst = worst.max((got - exact).abs() / (magnitude * f64::from(f32::EPSILON)));
                }
            }
        }
        eprintln!("worst error {worst:.3} ε·Σ|dy·x|");
        assert!(worst < 4.0, "error {worst} ε·Σ|dy·x|");
        for b in 0..batch {
            for o in 0..cout {
                let exact: f64 = (0..g.height)
                    .flat_map(|yy| (0..g.width).map(move |xx| (yy, xx)))
                    .map(|(yy, xx)| f64::from(dy[(b * cout + o) * plane + g.index(yy, xx)]))
                    .sum();
                assert!((f64::from(db[b * cout + o]) - exact).abs() < 1e-4, "db");
            }
        }
    }

    /// Mis-sized buffers, a scratch that is not a whole number of slots, and bad
    /// arguments give typed errors and write nothing past the checks.
    #[test]
    fn rejects_bad_buffers() {
        let g = Geometry::new(6, 10);
        let (batch, cin, cout) = (2, 3, 4);
        let x = padded(g, batch * cin, 1, 0.0);
        let dy = padded(g, batch * cout, 2, 0.0);
        let sources = [Source {
            data: &x,
            channels: cin,
        }];
        let one = conv3x3_weight_grad_scratch_len(batch, cin, cout, 1);
        let two = conv3x3_weight_grad_scratch_len(batch, cin, cout, 2);
        let slot = two - one;
        let run = |scratch_len: usize, dy: &[f32], dw_len: usize, db_len: usize, isa: Isa| {
            let mut scratch = vec![0.0; scratch_len];
            let mut dw = vec![0.0; dw_len];
            let mut db = vec![0.0; db_len];
            conv3x3_weight_grad(
                &Serial,
                isa,
                g,
                batch,
                &sources,
                dy,
                &mut scratch,
                &mut dw,
                &mut db,
            )
        };
        let (dw_len, db_len) = (cout * cin * 9, batch * cout);
        assert!(run(one, &dy, dw_len, db_len, Isa::Scalar).is_ok());
        assert!(run(two, &dy, dw_len, db_len, Isa::Scalar).is_ok());
        for bad in [0, one - 1, one + 1, one - slot, two + slot / 2] {
            assert!(
                matches!(
                    run(bad, &dy, dw_len, db_len, Isa::Scalar),
                    Err(Error::InvalidArgument {
                        name: "scratch",
                        ..
                    })
                ),
                "scratch {bad}"
            );
        }
        assert!(matches!(
            run(one, &dy[1..], dw_len, db_len, Isa::Scalar),
            Err(Error::BufferLength { .. })
        ));
        assert!(matches!(
            run(one, &dy, dw_len - 1, db_len, Isa::Scalar),
            Err(Error::BufferLength { .. })
        ));
        assert!(matches!(
            run(one, &dy, dw_len, db_len + 1, Isa::Scalar),
            Err(Error::BufferLength { .. })
        ));
        if let Some(missing) = ["avx512", "avx2", "sse2"]
            .into_iter()
            .filter_map(Isa::from_name)
            .find(|isa| !isa.is_supported())
        {
            assert!(matches!(
                run(one, &dy, dw_len, db_len, missing),
                Err(Error::InvalidArgument { name: "isa", .. })
            ));
        }
    }
}
