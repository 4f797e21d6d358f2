//! Born (linearised) modelling and reverse-time migration as its exact adjoint.
//!
//! ## Linearisation
//! The model parameter is the squared slowness `m = 1/c²`; the perturbation `δm` lives
//! on the physical `nz × nx` grid (s²/m²). Differentiating the discrete leapfrog step
//! `uⁿ⁺¹ = 2uⁿ − uⁿ⁻¹ + (Δt²/m)(L uⁿ + Cⁿ + sⁿ)` with respect to `m` gives exactly
//! `δuⁿ⁺¹ = [same step on δu] + W·(−δm · Δ²u₀ⁿ / Δt²)`, with `Δ²u₀ⁿ = (u₀ⁿ⁺¹ + u₀ⁿ⁻¹) − 2u₀ⁿ`
//! the background's second time difference: Born modelling is the derivative of the
//! discrete forward map (second order in time; the fourth-order scheme is not supported
//! here). Receivers record `δuⁿ` with the same bilinear weights as [`super::forward_shot`].
//!
//! ## Adjoint (RTM)
//! The adjoint runs the transposed step backwards in the scaled variable `r = W p`
//! (see [`super::propagate`]), injecting `W Rᵀ dⁿ`, and accumulates the imaging condition
//! `image += −Δ²u₀ⁿ ⊙ rⁿ⁺¹` (then × `1/Δt²`): the result is `Jᵀ d` to rounding.
//!
//! ## Background wavefield: checkpointing
//! The adjoint needs `u₀ⁿ⁻¹, u₀ⁿ, u₀ⁿ⁺¹` in reverse time order. A first forward run saves
//! the full propagation state (two wavefields and four C-PML fields) every `K` steps
//! ([`checkpoint_interval`]); during the adjoint sweep each segment of `K` steps is
//! recomputed from its checkpoint and its `K + 2` physical-grid snapshots are kept.
//! Memory: `⌈(nt−1)/K⌉ · 6` extended fields plus `(K + 2) · nz · nx` floats, with
//! `K ≈ √(6 F (nt−1) / P)` (`F` extended field size, `P = nz·nx`) minimising the sum; cost:
//! up to two forward propagations (the first sweep stops at the last checkpoint) and one
//! adjoint. Recomputation repeats the same operations, so the image equals the one from a
//! fully stored wavefield bit for bit.
//!
//! ## Background wavefield: full storage (caller's choice)
//! A caller with memory to spare passes a scratch buffer of [`rtm_scratch_len_stored`]
//! floats instead of [`rtm_scratch_len`]: that is the same scheme with one segment
//! (`K = nt − 1`), i.e. the physical part of every time step is kept (`(nt + 1)·nz·nx`
//! floats) and the first sweep is skipped, so an RTM shot costs one forward and one
//! adjoint propagation. Nothing is decimated or compressed (the adjoint stays exact) and
//! the image is bit-identical to the checkpointed one. [`rtm_shot`] picks the scheme from
//! the scratch length.
//!
//! ## Order of reductions
//! Each image point sums its imaging terms over time steps in decreasing `n` (segments
//! from last to first, steps within a segment from last to first). The optional source
//! illumination `Σₙ (u₀ⁿ)²` sums in decreasing `n` too, so neither depends on `K`. Shots are imaged separately; sum them in shot order
//! ([`sum_images`]).

use crate::error::{check_len, Error};
use crate::exec::{Executor, SharedMut};

use super::config::{Grid, WaveConfig};
use super::kernel::{self, ld, sp, window, window_mut, Lane, RowKernel};
use super::propagate::{bilinear, flush, par_rows, take, Aux, Propagator, Receivers};

/// Fields of extended size in a Born state (see [`born_state_len`]).
const BORN_FIELDS: usize = 13;

/// Checks that the configuration supports Born/RTM (second order in time).
fn check_order(cfg: &WaveConfig) -> Result<(), Error> {
    if cfg.time_order != 2 {
        return Err(Error::InvalidArgument {
            name: "time_order",
            expected: "2 for Born modelling and RTM",
        });
    }
    Ok(())
}

/// Floats of scratch needed by [`born_shot`].
///
/// # Errors
/// As [`WaveConfig::validate`]; [`Error::InvalidArgument`] if `time_order ≠ 2`.
pub fn born_state_len(cfg: &WaveConfig) -> Result<usize, Error> {
    cfg.validate()?;
    check_order(cfg)?;
    Ok(Grid::new(cfg)?.field_len() * BORN_FIELDS)
}

/// Steps between checkpoints of the RTM background wavefield.
///
/// # Errors
/// As [`WaveConfig::validate`].
pub fn checkpoint_interval(cfg: &WaveConfig) -> Result<usize, Error> {
    cfg.validate()?;
    let g = Grid::new(cfg)?;
    let steps = cfg.nt - 1;
    let ratio = 6.0 * g.field_len() as f64 * steps as f64 / (g.nz * g.nx) as f64;
    let k = libm::round(libm::sqrt(ratio)) as usize;
    Ok(k.clamp(1, steps.max(1)))
}

/// Floats of scratch needed by [`rtm_shot`] with checkpointing (see the module docs for
/// the layout); the memory-saving choice.
///
/// # Errors
/// As [`WaveConfig::validate`]; [`Error::InvalidArgument`] if `time_order ≠ 2`.
pub fn rtm_scratch_len(cfg: &WaveConfig) -> Result<usize, Error> {
    scratch_len_for(cfg, checkpoint_interval(cfg)?)
}

/// Floats of scratch needed by [`rtm_shot`] to store the whole background wavefield
/// (physical part, every time step): about `(nt + 1)·nz·nx`, and one propagation fewer
/// than with [`rtm_scratch_len`] (see the module docs).
///
/// # Errors
/// As [`rtm_scratch_len`].
pub fn rtm_scratch_len_stored(cfg: &WaveConfig) -> Result<usize, Error> {
    cfg.validate()?;
    scratch_len_for(cfg, cfg.nt - 1)
}

/// Extended fields at the start of an RTM scratch (forward and adjoint wavefields, their
/// C-PML memories and the adjoint temporaries), zeroed at the start of every shot; the
/// checkpoints and snapshots follow.
const STATE_FIELDS_RTM: usize = 6 + 12;

/// Scratch floats for checkpoint interval `k`.
fn scratch_len_for(cfg: &WaveConfig, k: usize) -> Result<usize, Error> {
    cfg.validate()?;
    check_order(cfg)?;
    let g = Grid::new(cfg)?;
    let ncp = (cfg.nt - 1).div_ceil(k);
    let fields = STATE_FIELDS_RTM + 6 * ncp;
    fields
        .checked_mul(g.field_len())
        .and_then(|a| a.checked_add((k + 2).checked_mul(g.nz * g.nx)?))
        .ok_or(Error::InvalidArgument {
            name: "grid",
            expected: "a problem small enough to address",
        })
}

/// One row of the imaging condition `image += (−Δ²u₀ⁿ) ⊙ rⁿ⁺¹` with
/// `Δ²u₀ⁿ = (u₀ⁿ⁺¹ + u₀ⁿ⁻¹) − 2u₀ⁿ`, computed as `image − Δ²u₀ⁿ·r` (the same bits:
/// `(−a)·b = −(a·b)` exactly and IEEE 754 defines `x − y` as `x + (−y)`).
struct Imaging {
    n: usize,
    prev: *const f32,
    cur: *const f32,
    next: *const f32,
    r: *const f32,
    image: *mut f32,
}

impl RowKernel for Imaging {
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at<L: Lane>(&self, i: usize, m: L::Mask) {
        // SAFETY: views checked where the kernel is built; the lanes of `m` lie below `n`.
        unsafe {
            let d2 = ld::<L>(self.next, i, m)
                .add(ld::<L>(self.prev, i, m))
                .sub(sp::<L>(2.0).mul(ld::<L>(self.cur, i, m)));
            let p = self.image.add(i);
            L::load(p, m).sub(d2.mul(ld::<L>(self.r, i, m))).store(p, m);
        }
    }
}

/// Copies the physical part of an extended field into `out` (`nz·nx`), rows split over
/// `exec` (a stored-wavefield RTM copies a whole field every step).
fn physical(g: &Grid, field: &[f32], out: &mut [f32], exec: &dyn Executor) {
    let out = &mut out[..g.nz * g.nx];
    let sh = SharedMut::new(out);
    par_rows(exec, &[(0, g.nz)], &|iz| {
        let s = g.physical_index(iz, 0);
        // SAFETY: disjoint rows of `out`.
        let row = unsafe { sh.slice(iz * g.nx, g.nx) };
        row.copy_from_slice(&field[s..s + g.nx]);
    });
}

/// Born-models one shot: `shot = J δm` for squared-slowness perturbation `dm` (`nz·nx`)
/// around the background whose medium is `medium`. Other arguments as
/// [`super::forward_shot`]; `state` has [`born_state_len`] floats.
///
/// # Errors
/// [`Error::BufferLength`] for wrong sizes, [`Error::InvalidArgument`] for bad positions,
/// `time_order ≠ 2` or non-finite `dm`.
#[allow(clippy::too_many_arguments)]
pub fn born_shot(
    cfg: &WaveConfig,
    medium: &[f32],
    source: [f32; 2],
    receivers: &[[f32; 2]],
    wavelet: &[f32],
    dm: &[f32],
    state: &mut [f32],
    shot: &mut [f32],
    exec: &dyn Executor,
) -> Result<(), Error> {
    Propagator::new(cfg, medium)?.born_shot(source, receivers, wavelet, dm, state, shot, exec)
}

impl Propagator<'_> {
    /// [`born_shot`] with this propagator's configuration, medium and instruction set.
    ///
    /// # Errors
    /// As [`born_shot`].
    #[allow(clippy::too_many_arguments)]
    pub fn born_shot(
        &self,
        source: [f32; 2],
        receivers: &[[f32; 2]],
        wavelet: &[f32],
        dm: &[f32],
        state: &mut [f32],
        shot: &mut [f32],
        exec: &dyn Executor,
    ) -> Result<(), Error> {
        let prop = self;
        let cfg = &self.cfg;
        check_order(cfg)?;
        let g = prop.grid;
        let recs = Receivers::new(cfg, receivers)?;
        let nrec = recs.len();
        check_len("wavelet", wavelet.len(), cfg.nt)?;
        check_len("dm", dm.len(), g.nz * g.nx)?;
        if dm.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "dm",
                expected: "finite values",
            });
        }
        check_len("shot", shot.len(), cfg.nt * nrec)?;
        check_len("state", state.len(), born_state_len(cfg)?)?;
        let src = bilinear(cfg, source, "source")?;
        state.fill(0.0);
        let fl = g.field_len();
        let mut rest = &mut *state;
        let mut b_prev = take(&mut rest, fl);
        let mut b_cur = take(&mut rest, fl);
        let mut b_next = take(&mut rest, fl);
        let mut baux = Aux {
            psix: take(&mut rest, fl),
            psiz: take(&mut rest, fl),
            zetax: take(&mut rest, fl),
            zetaz: take(&mut rest, fl),
        };
        let mut d_cur = take(&mut rest, fl);
        let mut d_nxt = take(&mut rest, fl);
        let mut daux = Aux {
            psix: take(&mut rest, fl),
            psiz: take(&mut rest, fl),
            zetax: take(&mut rest, fl),
            zetaz: take(&mut rest, fl),
        };
        let inv_dt2 = crate::detmath::recip(cfg.dt * cfg.dt);
        let free = cfg.free_surface;
        for n in 0..cfg.nt {
            recs.sample(d_cur, &mut shot[n * nrec..(n + 1) * nrec])?;
            if n + 1 == cfg.nt {
                break;
            }
            // Background: b_next = u₀ⁿ⁺¹ (b_prev keeps u₀ⁿ⁻¹).
            b_next.copy_from_slice(b_prev);
            prop.step(b_cur, b_next, &mut baux, &mut [], exec);
            prop.inject(b_next, &src, wavelet[n]);
            prop.finish_step(b_next);
            // Scattered field with the Born source W·(−δm Δ²u₀ⁿ/Δt²).
            prop.step(d_cur, d_nxt, &mut daux, &mut [], exec);
            {
                let (bp, bc, bn): (&[f32], &[f32], &[f32]) = (b_prev, b_cur, b_next);
                let w = prop.medium.w;
                let sh = SharedMut::new(&mut *d_nxt);
                par_rows(exec, &[(0, g.nz)], &|iz| {
                    if free && iz + g.top == 0 {
                        return;
                    }
                    let s = g.physical_index(iz, 0);
                    // SAFETY: disjoint rows.
                    let o = unsafe { sh.slice(s, g.nx) };
                    let dmr = &dm[iz * g.nx..(iz + 1) * g.nx];
                    for ix in 0..g.nx {
                        let p = s + ix;
                        let d2 = (bn[p] + bp[p]) - 2.0 * bc[p];
                        o[ix] = flush(o[ix] + w[p] * ((-dmr[ix] * d2) * inv_dt2));
                    }
                });
            }
            prop.finish_step(d_nxt);
            core::mem::swap(&mut d_cur, &mut d_nxt);
            // Rotate background buffers: (prev, cur, next) ← (cur, next, prev).
            let tmp = b_prev;
            b_prev = b_cur;
            b_cur = b_next;
            b_next = tmp;
        }
        Ok(())
    }
}

/// Reverse-time migration of one shot: `image = Jᵀ shot_data` (exact adjoint of
/// [`born_shot`]), written to `image` (`nz·nx`, squared-slowness units). If
/// `illumination` is given (`nz·nx`), it receives the source illumination `Σₙ (u₀ⁿ)²`.
/// `scratch` has [`rtm_scratch_len`] floats (checkpointing) or [`rtm_scratch_len_stored`]
/// floats (whole background wavefield kept: faster, same image bits); what it holds on
/// entry does not matter, so one buffer serves shot after shot without clearing.
///
/// # Errors
/// [`Error::BufferLength`] for wrong sizes, [`Error::InvalidArgument`] for bad positions,
/// non-finite data or `time_order ≠ 2`.
#[allow(clippy::too_many_arguments)]
pub fn rtm_shot(
    cfg: &WaveConfig,
    medium: &[f32],
    source: [f32; 2],
    receivers: &[[f32; 2]],
    wavelet: &[f32],
    shot_data: &[f32],
    scratch: &mut [f32],
    image: &mut [f32],
    illumination: Option<&mut [f32]>,
    exec: &dyn Executor,
) -> Result<(), Error> {
    Propagator::new(cfg, medium)?.rtm_shot(
        source,
        receivers,
        wavelet,
        shot_data,
        scratch,
        image,
        illumination,
        exec,
    )
}

impl Propagator<'_> {
    /// [`rtm_shot`] with this propagator's configuration, medium and instruction set.
    ///
    /// # Errors
    /// As [`rtm_shot`].
    #[allow(clippy::too_many_arguments)]
    pub fn rtm_shot(
        &self,
        source: [f32; 2],
        receivers: &[[f32; 2]],
        wavelet: &[f32],
        shot_data: &[f32],
        scratch: &mut [f32],
        image: &mut [f32],
        mut illumination: Option<&mut [f32]>,
        exec: &dyn Executor,
    ) -> Result<(), Error> {
        let prop = self;
        let cfg = &self.cfg;
        check_order(cfg)?;
        let g = prop.grid;
        let recs = Receivers::new(cfg, receivers)?;
        let nrec = recs.len();
        let nt = cfg.nt;
        check_len("wavelet", wavelet.len(), nt)?;
        check_len("shot", shot_data.len(), nt * nrec)?;
        if shot_data.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "shot",
                expected: "finite values",
            });
        }
        // The scratch length selects the scheme: checkpoints or the whole wavefield stored.
        let k = if scratch.len() == rtm_scratch_len_stored(cfg)? {
            nt - 1
        } else {
            check_len("scratch", scratch.len(), rtm_scratch_len(cfg)?)?;
            checkpoint_interval(cfg)?
        };
        check_len("image", image.len(), g.nz * g.nx)?;
        if let Some(il) = illumination.as_deref_mut() {
            check_len("illumination", il.len(), g.nz * g.nx)?;
            il.fill(0.0);
        }
        let src = bilinear(cfg, source, "source")?;
        let ncp = (nt - 1).div_ceil(k);
        let fl = g.field_len();
        let np = g.nz * g.nx;
        // Only the 18 state fields need zeros: every checkpoint and snapshot is written
        // before it is read, and the snapshots are most of a stored-wavefield scratch
        // (187 MB for an `edge` shot), whose zeroing took ≈ 5 % of a dataset build.
        scratch[..STATE_FIELDS_RTM * fl].fill(0.0);
        image.fill(0.0);
        let mut rest = &mut *scratch;
        let mut cur = take(&mut rest, fl);
        let mut nxt = take(&mut rest, fl);
        let mut baux = Aux {
            psix: take(&mut rest, fl),
            psiz: take(&mut rest, fl),
            zetax: take(&mut rest, fl),
            zetaz: take(&mut rest, fl),
        };
        let mut r_cur = take(&mut rest, fl);
        let mut r_nxt = take(&mut rest, fl);
        let mut raux = Aux {
            psix: take(&mut rest, fl),
            psiz: take(&mut rest, fl),
            zetax: take(&mut rest, fl),
            zetaz: take(&mut rest, fl),
        };
        let tmp = take(&mut rest, 6 * fl);
        let checkpoints = take(&mut rest, 6 * ncp * fl);
        let snaps = take(&mut rest, (k + 2) * np);

        // Forward sweep with checkpoints: checkpoint c = state at step c·K. It stops at the
        // last checkpoint (the last segment is recomputed anyway); with one segment
        // (full storage) it only saves the zero initial state.
        let last = (ncp - 1) * k;
        for n in 0..=last {
            if n % k == 0 {
                let cp = &mut checkpoints[(n / k) * 6 * fl..(n / k + 1) * 6 * fl];
                for (i, f) in [
                    &*cur,
                    &*nxt,
                    &*baux.psix,
                    &*baux.psiz,
                    &*baux.zetax,
                    &*baux.zetaz,
                ]
                .into_iter()
                .enumerate()
                {
                    cp[i * fl..(i + 1) * fl].copy_from_slice(f);
                }
            }
            if n == last {
                break;
            }
            prop.step(cur, nxt, &mut baux, &mut [], exec);
            prop.inject(nxt, &src, wavelet[n]);
            prop.finish_step(nxt);
            core::mem::swap(&mut cur, &mut nxt);
        }

        // Adjoint initial state: r^{nt−1} = W Rᵀ d^{nt−1}.
        let inject_data = |field: &mut [f32], n: usize| -> Result<(), Error> {
            for j in 0..nrec {
                prop.inject(field, &recs.get(j)?, shot_data[n * nrec + j]);
            }
            prop.finish_step(field);
            Ok(())
        };
        inject_data(r_cur, nt - 1)?;

        for c in (0..ncp).rev() {
            let start = c * k;
            let end = ((c + 1) * k).min(nt - 1);
            // Restore checkpoint c and recompute the segment's snapshots u₀^{start−1..=end}.
            let cp = &checkpoints[c * 6 * fl..(c + 1) * 6 * fl];
            for (i, f) in [
                &mut *cur,
                &mut *nxt,
                &mut *baux.psix,
                &mut *baux.psiz,
                &mut *baux.zetax,
                &mut *baux.zetaz,
            ]
            .into_iter()
            .enumerate()
            {
                f.copy_from_slice(&cp[i * fl..(i + 1) * fl]);
            }
            physical(&g, nxt, &mut snaps[..np], exec);
            physical(&g, cur, &mut snaps[np..2 * np], exec);
            for n in start..end {
                prop.step(cur, nxt, &mut baux, &mut [], exec);
                prop.inject(nxt, &src, wavelet[n]);
                prop.finish_step(nxt);
                core::mem::swap(&mut cur, &mut nxt);
                physical(
                    &g,
                    cur,
                    &mut snaps[(n - start + 2) * np..(n - start + 3) * np],
                    exec,
                );
            }
            // Adjoint sweep over the segment.
            for n in (start..end).rev() {
                let j = n - start + 1;
                if let Some(il) = illumination.as_deref_mut() {
                    let u = &snaps[j * np..(j + 1) * np];
                    let sh = SharedMut::new(il);
                    par_rows(exec, &[(0, g.nz)], &|iz| {
                        let q = iz * g.nx;
                        // SAFETY: disjoint rows of the illumination.
                        let row = unsafe { sh.slice(q, g.nx) };
                        for (a, &u) in row.iter_mut().zip(&u[q..q + g.nx]) {
                            *a = *a + u * u;
                        }
                    });
                }
                {
                    let (sp, sc, sn) = (
                        &snaps[(j - 1) * np..j * np],
                        &snaps[j * np..(j + 1) * np],
                        &snaps[(j + 1) * np..(j + 2) * np],
                    );
                    let r: &[f32] = r_cur;
                    let sh = SharedMut::new(&mut *image);
                    let isa = prop.isa();
                    par_rows(exec, &[(0, g.nz)], &|iz| {
                        // SAFETY: disjoint rows of the image.
                        let im = unsafe { sh.slice(iz * g.nx, g.nx) };
                        let (s, q, n) = (g.physical_index(iz, 0), iz * g.nx, g.nx);
                        let kern = Imaging {
                            n,
                            prev: window(sp, q, n, 0, 0),
                            cur: window(sc, q, n, 0, 0),
                            next: window(sn, q, n, 0, 0),
                            r: window(r, s, n, 0, 0),
                            image: window_mut(im, 0, n),
                        };
                        kernel::run(isa, &kern);
                    });
                }
                prop.adjoint_step(r_cur, r_nxt, &mut raux, tmp, exec);
                inject_data(r_nxt, n)?;
                core::mem::swap(&mut r_cur, &mut r_nxt);
            }
        }
        let inv_dt2 = crate::detmath::recip(cfg.dt * cfg.dt);
        for v in image.iter_mut() {
            *v = *v * inv_dt2;
        }
        Ok(())
    }
}

/// Sums per-shot images in shot order: `out = ((images[0] + images[1]) + images[2]) + …`,
/// with `images` holding `n_shots` consecutive images of `out.len()` floats.
///
/// # Errors
/// [`Error::BufferLength`] if `images.len()` is not a multiple of `out.len()`.
pub fn sum_images(images: &[f32], out: &mut [f32]) -> Result<(), Error> {
    let n = out.len();
    if n == 0 || images.len() / n * n != images.len() {
        return Err(Error::BufferLength {
            buffer: "images",
            expected: n,
            actual: images.len(),
        });
    }
    out.fill(0.0);
    for img in images.chunks_exact(n) {
        for (o, &v) in out.iter_mut().zip(img) {
            *o = *o + v;
        }
    }
    Ok(())
}
