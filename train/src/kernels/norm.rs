//! Backward pass of the core's group normalisation + SiLU ([`powerpost_core::nn::norm`]).
//!
//! For one group of `n` values `e` with the forward's `mean`, `inv_std` (as the core's
//! [`group_norm_with_stats`] wrote them),
//! `y = e·scale_c + shift_c`, `out = silu(y)`:
//!
//! ```text
//! g      = d_out · silu'(y)                     (d_out itself without the activation)
//! x̂      = (e − mean) · inv_std
//! dβ_c   = Σ g          dγ_c = Σ g · x̂           (over the channel's pixels)
//! A      = Σ_c γ_c dβ_c    B = Σ_c γ_c dγ_c     (over the group)
//! d_e    = inv_std · (γ_c·g − A/n − x̂·B/n)
//! ```
//!
//! Per element the arithmetic is f32 (`g` first, then `d_e`); the sums of `g` and `g·x̂`
//! run per row in eight f32 lane partials (element `j` of a row into lane `j mod 8`,
//! combined by [`super::combine8`]) and are added row by row, then channel by channel, in
//! f64. One task per (batch item,
//! group); the per-item `dγ, dβ` are added in batch order afterwards.

use powerpost_core::detmath;
use powerpost_core::exec::{Executor, SharedMut};
use powerpost_core::nn::conv::Source;
use powerpost_core::nn::geometry::{zero_ring_rows, Geometry};
use powerpost_core::nn::norm::{group_norm_stats_len, group_norm_with_stats, GroupNorm};
use powerpost_core::nn::simd::{run_with_lanes, Isa, Lanes, LanesTask};
use powerpost_core::Error;

/// The forward's normalisation parameters.
#[derive(Debug, Clone, Copy)]
pub struct NormSpec<'a> {
    /// Number of groups.
    pub groups: usize,
    /// Per-channel scale γ.
    pub gamma: &'a [f32],
    /// Per-channel shift β.
    pub beta: &'a [f32],
    /// Whether SiLU followed.
    pub silu: bool,
}

/// Gradients of group normalisation (+ SiLU) of `sources` (concatenated along channels):
/// `grad_in` (`batch × channels × plane`, written, zero ring), `gamma_grad` and
/// `beta_grad` (`channels`, written, summed over the batch). `stats` are the forward's
/// per-(item, group) `mean` and `inv_std`, as
/// [`group_norm_with_stats`] writes them.
///
/// The element-wise pass is compiled for `isa` (the same bits for every instruction set).
///
/// # Errors
/// [`Error::BufferLength`] / [`Error::InvalidArgument`] for mis-sized buffers, groups
/// that do not divide the channels, or an instruction set this CPU lacks.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_backward(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    norm: &NormSpec<'_>,
    stats: &[f32],
    grad_out: &[f32],
    grad_in: &mut [f32],
    gamma_grad: &mut [f32],
    beta_grad: &mut [f32],
) -> Result<(), Error> {
    let channels: usize = sources.iter().map(|s| s.channels).sum();
    if sources.is_empty()
        || sources.len() > 2
        || norm.groups == 0
        || !channels.is_multiple_of(norm.groups)
    {
        return Err(Error::InvalidArgument {
            name: "groups",
            expected: "a divisor of the channel count",
        });
    }
    super::check_isa(isa)?;
    let plane = geometry.plane_len();
    for s in sources {
        powerpost_core::error::check_len(
            "norm-grad input",
            s.data.len(),
            batch * s.channels * plane,
        )?;
    }
    powerpost_core::error::check_len(
        "norm-grad output gradient",
        grad_out.len(),
        batch * channels * plane,
    )?;
    powerpost_core::error::check_len(
        "norm-grad input gradient",
        grad_in.len(),
        batch * channels * plane,
    )?;
    powerpost_core::error::check_len(
        "norm statistics",
        stats.len(),
        group_norm_stats_len(batch, norm.groups),
    )?;
    powerpost_core::error::check_len("norm gamma", norm.gamma.len(), channels)?;
    powerpost_core::error::check_len("norm gamma gradient", gamma_grad.len(), channels)?;
    powerpost_core::error::check_len("norm beta gradient", beta_grad.len(), channels)?;
    let cpg = channels / norm.groups;
    let n = cpg * geometry.pixels();
    let mut parts = vec![0.0f32; 2 * batch * channels];
    let parts_shared = SharedMut::new(&mut parts);
    let gi = SharedMut::new(grad_in);
    let job = GroupTask {
        geometry,
        sources,
        norm,
        stats,
        grad_out,
        grad_in: &gi,
        parts: &parts_shared,
        channels,
        batch,
        cpg,
        n,
    };
    // The statistics, the row sums and pass 2 compiled for the instruction set too
    // (element-wise or in fixed lanes, so the same bits on every one).
    exec.for_each(batch * norm.groups, &|index| {
        // The instruction set was checked above, so this cannot fail.
        let _ = run_with_lanes(isa, &GroupJob { task: &job, index });
    });
    gamma_grad.fill(0.0);
    beta_grad.fill(0.0);
    for b in 0..batch {
        for c in 0..channels {
            gamma_grad[c] += parts[b * channels + c];
            beta_grad[c] += parts[(batch + b) * channels + c];
        }
    }
    Ok(())
}

/// The forward statistics [`group_norm_backward`] reads, from the core's forward
/// ([`group_norm_with_stats`], whose output is dropped): for tests and benchmarks that run
/// the backward pass on its own (the trainer keeps the forward's own statistics).
///
/// # Errors
/// As [`group_norm_with_stats`].
pub fn forward_stats(
    exec: &dyn Executor,
    isa: Isa,
    geometry: Geometry,
    batch: usize,
    sources: &[Source<'_>],
    norm: &NormSpec<'_>,
    eps: f32,
) -> Result<Vec<f32>, Error> {
    let channels: usize = sources.iter().map(|s| s.channels).sum();
    let mut out = vec![0.0; batch * channels * geometry.plane_len()];
    let mut stats = vec![0.0; group_norm_stats_len(batch, norm.groups)];
    group_norm_with_stats(
        exec,
        isa,
        geometry,
        batch,
        sources,
        &GroupNorm {
            groups: norm.groups,
            gamma: norm.gamma,
            beta: norm.beta,
            eps,
            silu: norm.silu,
        },
        &mut out,
        &mut stats,
    )?;
    Ok(stats)
}

/// One (batch item, group) task of [`group_norm_backward`].
struct GroupTask<'a> {
    geometry: Geometry,
    sources: &'a [Source<'a>],
    norm: &'a NormSpec<'a>,
    stats: &'a [f32],
    grad_out: &'a [f32],
    grad_in: &'a SharedMut<f32>,
    parts: &'a SharedMut<f32>,
    channels: usize,
    batch: usize,
    cpg: usize,
    n: usize,
}

impl GroupTask<'_> {
    /// Plane `c` of batch item `b` of the concatenated sources.
    #[inline(always)]
    fn plane_of(&self, b: usize, c: usize) -> &[f32] {
        let plane = self.geometry.plane_len();
        let first = &self.sources[0];
        let (s, local) = if c < first.channels {
            (first, c)
        } else {
            (&self.sources[1], c - first.channels)
        };
        &s.data[(b * s.channels + local) * plane..(b * s.channels + local + 1) * plane]
    }

    /// Row `y` (map pixels only) of plane `c` of item `b`.
    #[inline(always)]
    fn row(&self, b: usize, c: usize, y: usize) -> &[f32] {
        let start = self.geometry.index(y, 0);
        &self.plane_of(b, c)[start..start + self.geometry.width]
    }

    /// The task: pass 1 and its sums, pass 2, with the forward's statistics.
    #[inline(always)]
    fn run(&self, task: usize) {
        let plane = self.geometry.plane_len();
        let (b, g) = (task / self.norm.groups, task % self.norm.groups);
        let chans = g * self.cpg..(g + 1) * self.cpg;
        // Task index b·groups + g is the statistics' entry.
        let (mean, inv_std) = (self.stats[2 * task], self.stats[2 * task + 1]);
        // Pass 1 (per channel): g = d_out · silu'(y) into the gradient plane, and the
        // channel sums of g and g·x̂.
        let mut dbeta = vec![0.0f64; self.cpg];
        let mut dgamma = vec![0.0f64; self.cpg];
        let (p0, p1) = (
            self.geometry.index(0, 0),
            self.geometry
                .index(self.geometry.height - 1, self.geometry.width - 1)
                + 1,
        );
        for (k, c) in chans.clone().enumerate() {
            let scale = self.norm.gamma[c] * inv_std;
            let shift = self.norm.beta[c] - mean * scale;
            // SAFETY: this task owns plane (b, c) of the input gradient.
            let dst = unsafe { self.grad_in.slice((b * self.channels + c) * plane, plane) };
            let go = &self.grad_out
                [(b * self.channels + c) * plane..(b * self.channels + c + 1) * plane];
            // g over the whole flattened interior range at once (the ring cells between
            // rows are computed too, then zeroed): element-wise, so the same bits as row
            // by row, with more independent values in flight.
            gradient_plane(
                self.norm.silu,
                &self.plane_of(b, c)[p0..p1],
                &go[p0..p1],
                &mut dst[p0..p1],
                scale,
                shift,
            );
            zero_ring_rows(self.geometry, dst, 0, self.geometry.height);
            for y in 0..self.geometry.height {
                let start = self.geometry.index(y, 0);
                let (sb, sg) = row_sums(
                    self.row(b, c, y),
                    &dst[start..start + self.geometry.width],
                    mean,
                    inv_std,
                );
                dbeta[k] += sb;
                dgamma[k] += sg;
            }
        }
        let (mut a, mut bsum) = (0.0f64, 0.0f64);
        for (k, c) in chans.clone().enumerate() {
            a += self.norm.gamma[c] as f64 * dbeta[k];
            bsum += self.norm.gamma[c] as f64 * dgamma[k];
        }
        let (a_n, b_n) = ((a / self.n as f64) as f32, (bsum / self.n as f64) as f32);
        // Pass 2: d_e = inv_std · (γ_c·g − A/n − x̂·B/n).
        for (k, c) in chans.enumerate() {
            // SAFETY: as above; entries (b, c) of the parts belong to this task too.
            let dst = unsafe { self.grad_in.slice((b * self.channels + c) * plane, plane) };
            let gamma = self.norm.gamma[c];
            for y in 0..self.geometry.height {
                let start = self.geometry.index(y, 0);
                for (o, &e) in dst[start..start + self.geometry.width]
                    .iter_mut()
                    .zip(self.row(b, c, y))
                {
                    let xhat = (e - mean) * inv_std;
                    *o = inv_std * ((gamma * *o - a_n) - xhat * b_n);
                }
            }
            // SAFETY: see above.
            unsafe {
                self.parts.slice(b * self.channels + c, 1)[0] = dgamma[k] as f32;
                self.parts.slice((self.batch + b) * self.channels + c, 1)[0] = dbeta[k] as f32;
            }
        }
    }
}

/// Task `index` of a [`GroupTask`], run by [`run_with_lanes`] inside a function compiled
/// for the chosen instruction set, so that the statistics, both element passes and the
/// row sums (all inlined) use its vectors; every operation is element-wise or in fixed
/// lanes, so the bits are the same on each.
struct GroupJob<'a, 'b> {
    task: &'a GroupTask<'b>,
    index: usize,
}

impl LanesTask for GroupJob<'_, '_> {
    #[inline(always)]
    unsafe fn run<L: Lanes>(&self) {
        self.task.run(self.index)
    }
}

/// Values per block of [`gradient_plane`] (the block of
/// [`detmath::sigmoid_many`]: sixteen AVX2 vectors whose dependency chains overlap).
const BLOCK: usize = 128;

/// Pass 1, element-wise part: `dst = d_out · silu'(e·scale + shift)` (or `d_out` without
/// the activation) for equal-length slices, in blocks of [`BLOCK`]: `y = e·scale + shift`,
/// `s = σ(y)` stage by stage ([`detmath::sigmoid_many`]), then `d_out · (s·(1 + y·(1 −
/// s)))`, the operations of [`silu_grad`](super::silu_grad). Inlined into the task, which
/// is compiled for the instruction set.
#[inline(always)]
fn gradient_plane(silu: bool, e: &[f32], d_out: &[f32], dst: &mut [f32], scale: f32, shift: f32) {
    let n = dst.len().min(e.len()).min(d_out.len());
    let (e, d_out, dst) = (&e[..n], &d_out[..n], &mut dst[..n]);
    if !silu {
        dst.copy_from_slice(d_out);
        return;
    }
    let (mut y, mut s) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    for ((ev, dv), ov) in e
        .chunks(BLOCK)
        .zip(d_out.chunks(BLOCK))
        .zip(dst.chunks_mut(BLOCK))
    {
        let m = ov.len();
        for (yi, &ei) in y.iter_mut().zip(ev) {
            *yi = ei * scale + shift;
        }
        detmath::sigmoid_many(&y[..m], &mut s[..m]);
        for (((o, &d), &yi), &si) in ov.iter_mut().zip(dv).zip(&y).zip(&s) {
            *o = d * (si * (1.0 + yi * (1.0 - si)));
        }
    }
}

/// Pass 1, sums over one row: `(Σ g, Σ g·x̂)` with `x̂ = (e − mean)·inv_std`, element `j`
/// into lane `j mod 8`, lanes combined by [`super::combine8`].
#[inline(always)]
fn row_sums(e: &[f32], g: &[f32], mean: f32, inv_std: f32) -> (f64, f64) {
    let (mut sb, mut sg) = ([0.0f32; 8], [0.0f32; 8]);
    let (mut e8, mut g8) = (e.chunks_exact(8), g.chunks_exact(8));
    for (ev, gv) in (&mut e8).zip(&mut g8) {
        for l in 0..8 {
            sb[l] += gv[l];
            sg[l] += gv[l] * ((ev[l] - mean) * inv_std);
        }
    }
    // The leftovers start at a multiple of 8: element j goes to lane j mod 8.
    for (l, (&ev, &gv)) in e8.remainder().iter().zip(g8.remainder()).enumerate() {
        sb[l] += gv;
        sg[l] += gv * ((ev - mean) * inv_std);
    }
    (super::combine8(&sb) as f64, super::combine8(&sg) as f64)
}

#[cfg(test)]
mod tests {
    use super::super::silu_grad;
    use super::*;

    /// Pass 1 written element by element (lane `j mod 8`), the definition the blocked
    /// loop must reproduce bit for bit.
    #[allow(clippy::too_many_arguments)]
    fn pass_one_reference(
        silu: bool,
        e: &[f32],
        d_out: &[f32],
        dst: &mut [f32],
        scale: f32,
        shift: f32,
        mean: f32,
        inv_std: f32,
    ) -> (f64, f64) {
        let (mut sb, mut sg) = ([0.0f32; 8], [0.0f32; 8]);
        for j in 0..dst.len() {
            let g = if silu {
                d_out[j] * silu_grad(e[j] * scale + shift)
            } else {
                d_out[j]
            };
            dst[j] = g;
            sb[j % 8] += g;
            sg[j % 8] += g * ((e[j] - mean) * inv_std);
        }
        (
            super::super::combine8(&sb) as f64,
            super::super::combine8(&sg) as f64,
        )
    }

    /// The backward pass overwrites every value of the input gradient, zero ring
    /// included (the trainer hands it reused buffers without zeroing them).
    #[test]
    fn backward_writes_every_value() {
        use powerpost_core::exec::Serial;
        let g = Geometry::new(4, 9);
        let (batch, channels) = (2, 4);
        let plane = g.plane_len();
        let mut x = vec![0.0f32; batch * channels * plane];
        let mut d_out = vec![0.0f32; batch * channels * plane];
        for y in 0..g.height {
            for c in 0..batch * channels {
                for xx in 0..g.width {
                    let p = c * plane + g.index(y, xx);
                    x[p] = ((p * 37) % 23) as f32 * 0.1 - 1.0;
                    d_out[p] = ((p * 53) % 19) as f32 * 0.05 - 0.4;
                }
            }
        }
        let (gamma, beta) = (vec![1.2f32; channels], vec![0.1f32; channels]);
        let mut grad_in = vec![f32::NAN; x.len()];
        let (mut dg, mut db) = (vec![0.0; channels], vec![0.0; channels]);
        let sources = [Source { data: &x, channels }];
        let spec = NormSpec {
            groups: 2,
            gamma: &gamma,
            beta: &beta,
            silu: true,
        };
        let stats = forward_stats(&Serial, Isa::detect(), g, batch, &sources, &spec, 1e-5).unwrap();
        group_norm_backward(
            &Serial,
            Isa::detect(),
            g,
            batch,
            &sources,
            &spec,
            &stats,
            &d_out,
            &mut grad_in,
            &mut dg,
            &mut db,
        )
        .unwrap();
        super::super::assert_overwritten_with_zero_ring(g, &grad_in);
    }

    /// Pass 1 in its two blocked parts (the element-wise gradient, portable and compiled
    /// for every instruction set this CPU runs, then the row sums) equals the element-by-element form bit for bit, on rows
    /// with whole blocks and leftovers, with and without SiLU.
    #[test]
    fn blocked_pass_one_equals_reference() {
        for n in [5usize, 32, 77, 128, 300] {
            let e: Vec<f32> = (0..n)
                .map(|i| ((i * 7919) % 211) as f32 * 0.05 - 5.0)
                .collect();
            let d: Vec<f32> = (0..n)
                .map(|i| ((i * 104_729) % 97) as f32 * 0.02 - 1.0)
                .collect();
            for silu in [true, false] {
                let (scale, shift, mean, inv_std) = (1.3, -0.2, 0.1, 0.7);
                let mut want = vec![0.0; n];
                let sums = pass_one_reference(silu, &e, &d, &mut want, scale, shift, mean, inv_std);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let mut got = vec![f32::NAN; n];
                gradient_plane(silu, &e, &d, &mut got, scale, shift);
                assert_eq!(bits(&got), bits(&want));
                // Compiled for every instruction set this CPU runs, as the task runs it.
                struct PassOne<'a> {
                    silu: bool,
                    e: &'a [f32],
                    d: &'a [f32],
                    scale: f32,
                    shift: f32,
                    got: std::cell::RefCell<Vec<f32>>,
                }
                impl LanesTask for PassOne<'_> {
                    #[inline(always)]
                    unsafe fn run<L: Lanes>(&self) {
                        let mut got = self.got.borrow_mut();
                        gradient_plane(self.silu, self.e, self.d, &mut got, self.scale, self.shift);
                    }
                }
                for isa in Isa::all_supported() {
                    let task = PassOne {
                        silu,
                        e: &e,
                        d: &d,
                        scale,
                        shift,
                        got: std::cell::RefCell::new(vec![f32::NAN; n]),
                    };
                    run_with_lanes(isa, &task).unwrap();
                    let got = task.got.into_inner();
                    assert_eq!(bits(&got), bits(&want), "{isa:?}");
                    assert_eq!(row_sums(&e, &got, mean, inv_std), sums);
                }
            }
        }
    }
}
