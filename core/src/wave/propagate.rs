//! Time stepping: the forward leapfrog step (second or fourth order in time), its exact
//! transpose (for Born/RTM), bilinear source injection / receiver interpolation, and the
//! forward modelling of one shot.
//!
//! ## Scheme
//! With `W = Δt² c²` and `L` the 2D Laplacian of space order 4 or 8:
//! - order 2: `uⁿ⁺¹ = 2uⁿ − uⁿ⁻¹ + W (L uⁿ + Cⁿ) + W sⁿ`
//! - order 4: `y = W L uⁿ`, `uⁿ⁺¹ = 2uⁿ − uⁿ⁻¹ + y + (W L y)/12 + W Cⁿ + W sⁿ`
//!   (Lax–Wendroff / modified-equation correction of the leapfrog time error; it costs a
//!   second stencil pass). The correction is tapered to zero across the inner half of the
//!   absorbing layers (see [`super::config::FOURTH_ORDER_DT_GAIN`]), so the leapfrog
//!   stability limit holds.
//!
//! `Cⁿ` is the C-PML correction `∂x ψx + ζx + ∂z ψz + ζz` (see [`super::config`]), applied
//! only inside the absorbing layers.
//! `sⁿ` is the source injected with bilinear weights; receivers read `uⁿ` with the same
//! bilinear weights. A free surface zeroes row 0 after every step and mirrors the field
//! oddly into the halo (`u(−j) = −u(j)`), which keeps `L` symmetric.
//!
//! ## Transpose
//! The adjoint step is the exact transpose of the forward step (order 2 only), written in
//! the scaled variable `r = W p` (`p` the adjoint wavefield): its interior part is the
//! forward kernel itself, `rⁿ = 2rⁿ⁺¹ − rⁿ⁺² + W L rⁿ⁺¹`, and the C-PML memory variables get
//! transposed updates (three phases, see the code).
//!
//! ## Parallelism and exactness
//! Each phase of a step is split into row ranges handed to the [`Executor`]; every point
//! is computed by the same expression, with the same order of additions, whoever computes
//! it, so the output bits do not depend on the thread count. Inner loops are the row
//! kernels of the private `kernel` module: written once over the SIMD lane type and run
//! with the instruction set detected at run time, dispatched once per task of rows
//! (`par_rows_isa`) (or forced with
//! [`Propagator::with_isa`]); every lane repeats the scalar expression, so the bits do not
//! depend on the instruction set either (no fused multiply-add is ever formed).

use crate::error::{check_len, Error};
use crate::exec::{Executor, SharedMut};

use crate::nn::simd::Isa;

use super::config::{check_stability, Grid, Medium, WaveConfig, HALO};
use super::kernel::{self, first, ld, second_x, second_z, sp, window, window_mut, Lane, RowKernel};
use super::stencil;

/// Stored fields in a forward-modelling state (see [`state_len`]).
pub const STATE_FIELDS: usize = 12;

/// Floats in the state buffer of [`forward_shot`] (and of one [`Propagator`] stepping).
///
/// # Errors
/// As [`WaveConfig::validate`].
pub fn state_len(cfg: &WaveConfig) -> Result<usize, Error> {
    cfg.validate()?;
    let g = Grid::new(cfg)?;
    g.field_len()
        .checked_mul(STATE_FIELDS)
        .ok_or(Error::InvalidArgument {
            name: "grid",
            expected: "a grid small enough to address",
        })
}

/// Stencil coefficients with the grid spacings folded in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Coeffs {
    /// Stencil radius (2 or 4).
    pub r: usize,
    /// Centre coefficient of the 2D Laplacian.
    pub c0: f32,
    /// `aₖ/dx²`.
    pub cx: [f32; 4],
    /// `aₖ/dz²`.
    pub cz: [f32; 4],
    /// `a₀/dx²`.
    pub cx0: f32,
    /// `a₀/dz²`.
    pub cz0: f32,
    /// `bₖ/dx`.
    pub bx: [f32; 4],
    /// `bₖ/dz`.
    pub bz: [f32; 4],
}

impl Coeffs {
    /// Coefficients for `cfg`.
    pub fn new(cfg: &WaveConfig) -> Self {
        let a = stencil::second(cfg.space_order);
        let b = stencil::first(cfg.space_order);
        let idx2 = crate::detmath::recip(cfg.dx * cfg.dx);
        let idz2 = crate::detmath::recip(cfg.dz * cfg.dz);
        let idx = crate::detmath::recip(cfg.dx);
        let idz = crate::detmath::recip(cfg.dz);
        let mut cx = [0.0; 4];
        let mut cz = [0.0; 4];
        let mut bx = [0.0; 4];
        let mut bz = [0.0; 4];
        for k in 0..4 {
            cx[k] = a[k + 1] * idx2;
            cz[k] = a[k + 1] * idz2;
            bx[k] = b[k] * idx;
            bz[k] = b[k] * idz;
        }
        let cx0 = a[0] * idx2;
        let cz0 = a[0] * idz2;
        Self {
            r: cfg.space_order / 2,
            c0: cx0 + cz0,
            cx,
            cz,
            cx0,
            cz0,
            bx,
            bz,
        }
    }
}

/// Magnitudes below this are flushed to zero in every stored field.
///
/// Decaying fields (behind the wavefront, and above all the C-PML memory variables, which
/// decay geometrically) would otherwise drift into subnormal numbers, which are 10–100×
/// slower on x86 and handled differently by GPUs. The flush is a comparison and a select,
/// so it is exact and portable; at `1e-30` it is irrelevant next to physical amplitudes.
pub const FLUSH_BELOW: f32 = 1.0e-30;

/// `v`, or zero if `|v| <` [`FLUSH_BELOW`].
#[inline(always)]
pub(crate) fn flush(v: f32) -> f32 {
    if v.abs() < FLUSH_BELOW {
        0.0
    } else {
        v
    }
}

/// `o = flush(W·L f)` along one row (fourth-order scheme's first pass); `L f` summed
/// centre first, then per distance `j` the x pair and then the z pair:
/// `((c₀f + cxⱼ(f₋ⱼ + f₊ⱼ)) + czⱼ(f₋ⱼₛ + f₊ⱼₛ)) …`.
struct WLapRow<const R: usize> {
    n: usize,
    st: usize,
    k: Coeffs,
    f: *const f32,
    w: *const f32,
    o: *mut f32,
}

impl<const R: usize> RowKernel for WLapRow<R> {
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at<L: Lane>(&self, i: usize, m: L::Mask) {
        let (k, st) = (&self.k, self.st);
        // SAFETY: views checked in `WLapRows::row`; the lanes of `m` lie below `n`.
        unsafe {
            let q = self.f.add(i);
            let mut lap = sp::<L>(k.c0).mul(L::load(q, m));
            for j in 0..R {
                lap = lap
                    .add(
                        sp::<L>(k.cx[j])
                            .mul(L::load(q.sub(1 + j), m).add(L::load(q.add(1 + j), m))),
                    )
                    .add(
                        sp::<L>(k.cz[j]).mul(
                            L::load(q.sub((j + 1) * st), m).add(L::load(q.add((j + 1) * st), m)),
                        ),
                    );
            }
            ld::<L>(self.w, i, m)
                .mul(lap)
                .flush()
                .store(self.o.add(i), m);
        }
    }
}

/// C-PML memory update `ψ ← flush(b ψ + a ∂f)` with `∂f` the first difference of `f`
/// along `step` (1: x, stride: z); `a`, `b` per point if `PER_POINT`, else the scalars.
struct PsiUpdate<const R: usize, const PER_POINT: bool> {
    n: usize,
    step: usize,
    coef: [f32; 4],
    f: *const f32,
    a: *const f32,
    b: *const f32,
    a1: f32,
    b1: f32,
    psi: *mut f32,
}

impl<const R: usize, const PER_POINT: bool> RowKernel for PsiUpdate<R, PER_POINT> {
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at<L: Lane>(&self, i: usize, m: L::Mask) {
        // SAFETY: views checked by the builders; the lanes of `m` lie below `n`.
        unsafe {
            let d = first::<L, R>(self.f, i, m, self.step, &self.coef);
            let (a, b) = if PER_POINT {
                (ld::<L>(self.a, i, m), ld::<L>(self.b, i, m))
            } else {
                (sp(self.a1), sp(self.b1))
            };
            let p = self.psi.add(i);
            b.mul(L::load(p, m)).add(a.mul(d)).flush().store(p, m);
        }
    }
}

/// Adjoint C-PML first phase for one run of points: `β' = β + r`, `E = flush(a β')`,
/// `F = flush(r + E)`, `β ← flush(b β')`; `a`, `b` per point if `PER_POINT`.
struct AdjointBeta<const PER_POINT: bool> {
    n: usize,
    r: *const f32,
    a: *const f32,
    b: *const f32,
    a1: f32,
    b1: f32,
    beta: *mut f32,
    e: *mut f32,
    f: *mut f32,
}

impl<const PER_POINT: bool> RowKernel for AdjointBeta<PER_POINT> {
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at<L: Lane>(&self, i: usize, m: L::Mask) {
        // SAFETY: views checked by the builder; the lanes of `m` lie below `n`.
        unsafe {
            let (a, b) = if PER_POINT {
                (ld::<L>(self.a, i, m), ld::<L>(self.b, i, m))
            } else {
                (sp(self.a1), sp(self.b1))
            };
            let r = ld::<L>(self.r, i, m);
            let beta = ld::<L>(self.beta, i, m).add(r);
            let e = a.mul(beta).flush();
            e.store(self.e.add(i), m);
            r.add(e).flush().store(self.f.add(i), m);
            b.mul(beta).flush().store(self.beta.add(i), m);
        }
    }
}

/// Adjoint C-PML second phase: `α' = α − ∂F` (first difference along `step`),
/// `Y = flush(a α')`, `α ← flush(b α')`; `a`, `b` per point if `PER_POINT`.
struct AdjointAlpha<const R: usize, const PER_POINT: bool> {
    n: usize,
    step: usize,
    coef: [f32; 4],
    f: *const f32,
    a: *const f32,
    b: *const f32,
    a1: f32,
    b1: f32,
    alpha: *mut f32,
    y: *mut f32,
}

impl<const R: usize, const PER_POINT: bool> RowKernel for AdjointAlpha<R, PER_POINT> {
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at<L: Lane>(&self, i: usize, m: L::Mask) {
        // SAFETY: views checked by the builder; the lanes of `m` lie below `n`.
        unsafe {
            let d = first::<L, R>(self.f, i, m, self.step, &self.coef);
            let (a, b) = if PER_POINT {
                (ld::<L>(self.a, i, m), ld::<L>(self.b, i, m))
            } else {
                (sp(self.a1), sp(self.b1))
            };
            let at = ld::<L>(self.alpha, i, m).sub(d);
            a.mul(at).flush().store(self.y.add(i), m);
            b.mul(at).flush().store(self.alpha.add(i), m);
        }
    }
}

/// Read-only inputs of one row of the fused forward update (see [`Propagator::step`]).
struct RowStep<'r> {
    k: &'r Coeffs,
    /// `uⁿ`.
    u: &'r [f32],
    /// `y = W L uⁿ` (order 4 only).
    y: &'r [f32],
    w: &'r [f32],
    w12: &'r [f32],
    ax: &'r [f32],
    bx: &'r [f32],
    /// ψz, already updated for this step (phase A).
    psiz: &'r [f32],
    /// This row's ψx with its halo columns (column `ix` at `ix + HALO`), already updated.
    px: &'r [f32],
    /// Storage index of the row's first extended point.
    s: usize,
    stride: usize,
    az: f32,
    bz: f32,
}

/// One segment of the fused forward update (see [`RowStep::segment`]); pointers at the
/// segment's first point.
struct ForwardSegment<const R: usize, const FOURTH: bool, const XP: bool, const ZP: bool> {
    n: usize,
    st: usize,
    k: Coeffs,
    /// `y` (order 4) or `u`.
    f: *const f32,
    u: *const f32,
    w: *const f32,
    w12: *const f32,
    px: *const f32,
    psiz: *const f32,
    ax: *const f32,
    bx: *const f32,
    az: f32,
    bz: f32,
    o: *mut f32,
    zx: *mut f32,
    zz: *mut f32,
}

impl<const R: usize, const FOURTH: bool, const XP: bool, const ZP: bool> RowKernel
    for ForwardSegment<R, FOURTH, XP, ZP>
{
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at<L: Lane>(&self, i: usize, m: L::Mask) {
        let (k, st) = (&self.k, self.st);
        // SAFETY: views checked in `RowStep::segment`; the lanes of `m` lie below `n`.
        unsafe {
            let dxx = second_x::<L, R>(self.f, i, m, &k.cx, k.cx0);
            let dzz = second_z::<L, R>(self.f, i, m, st, &k.cz, k.cz0);
            let lap = dxx.add(dzz);
            let fc = ld::<L>(self.f, i, m);
            let uc = if FOURTH { ld::<L>(self.u, i, m) } else { fc };
            let mut corr = sp::<L>(0.0);
            if XP {
                let uxx = if FOURTH {
                    second_x::<L, R>(self.u, i, m, &k.cx, k.cx0)
                } else {
                    dxx
                };
                let p1 = first::<L, R>(self.px, i, m, 1, &k.bx);
                let zp = self.zx.add(i);
                let z = ld::<L>(self.bx, i, m)
                    .mul(L::load(zp, m))
                    .add(ld::<L>(self.ax, i, m).mul(uxx.add(p1)))
                    .flush();
                z.store(zp, m);
                corr = p1.add(z);
            }
            if ZP {
                let uzz = if FOURTH {
                    second_z::<L, R>(self.u, i, m, st, &k.cz, k.cz0)
                } else {
                    dzz
                };
                let p1 = first::<L, R>(self.psiz, i, m, st, &k.bz);
                let zp = self.zz.add(i);
                let z = sp::<L>(self.bz)
                    .mul(L::load(zp, m))
                    .add(sp::<L>(self.az).mul(uzz.add(p1)))
                    .flush();
                z.store(zp, m);
                corr = if XP { corr.add(p1.add(z)) } else { p1.add(z) };
            }
            let op = self.o.add(i);
            let lead = sp::<L>(2.0).mul(uc).sub(L::load(op, m));
            let v = if FOURTH {
                let v = lead.add(fc).add(ld::<L>(self.w12, i, m).mul(lap));
                if XP || ZP {
                    v.add(ld::<L>(self.w, i, m).mul(corr))
                } else {
                    v
                }
            } else if XP || ZP {
                lead.add(ld::<L>(self.w, i, m).mul(lap.add(corr)))
            } else {
                lead.add(ld::<L>(self.w, i, m).mul(lap))
            };
            v.flush().store(op, m);
        }
    }
}

impl RowStep<'_> {
    /// Updates columns `c0..c1` of the row (`o`, `zx`, `zz` are the row's slices):
    /// - order 2: `o = (2u − o) + W·((Lₓₓu + L_zz u) + Cx + Cz)`;
    /// - order 4: `o = (((2u − o) + y) + W₁₂·(Lₓₓy + L_zz y)) + W·(Cx + Cz)`;
    ///
    /// with `Cx = ∂xψx + ζx` where `XP` (x layer) and `Cz = ∂zψz + ζz` where `ZP` (z layer),
    /// `ζ ← b ζ + a (∂²u + ∂ψ)` updated in place. Second derivatives are summed centre
    /// first, then in increasing distance; first derivatives in increasing distance.
    ///
    /// # Safety
    /// The CPU supports `L`.
    #[inline(always)]
    unsafe fn segment<
        L: Lane,
        const R: usize,
        const FOURTH: bool,
        const XP: bool,
        const ZP: bool,
    >(
        &self,
        c0: usize,
        c1: usize,
        o: &mut [f32],
        zx: &mut [f32],
        zz: &mut [f32],
    ) {
        let n = c1.saturating_sub(c0);
        if n == 0 {
            return;
        }
        let (base, st) = (self.s + c0, self.stride);
        let null = core::ptr::null::<f32>();
        let nullm = core::ptr::null_mut::<f32>();
        let f = window(
            if FOURTH { self.y } else { self.u },
            base,
            n,
            R * st,
            R * st,
        );
        let seg = ForwardSegment::<R, FOURTH, XP, ZP> {
            n,
            st,
            k: *self.k,
            f,
            u: if FOURTH {
                window(self.u, base, n, R * st, R * st)
            } else {
                f
            },
            w: window(self.w, base, n, 0, 0),
            w12: if FOURTH {
                window(self.w12, base, n, 0, 0)
            } else {
                null
            },
            px: if XP {
                window(self.px, c0 + HALO, n, R, R)
            } else {
                null
            },
            psiz: if ZP {
                window(self.psiz, base, n, R * st, R * st)
            } else {
                null
            },
            ax: if XP {
                window(self.ax, c0, n, 0, 0)
            } else {
                null
            },
            bx: if XP {
                window(self.bx, c0, n, 0, 0)
            } else {
                null
            },
            az: self.az,
            bz: self.bz,
            o: window_mut(o, c0, n),
            zx: if XP { window_mut(zx, c0, n) } else { nullm },
            zz: if ZP { window_mut(zz, c0, n) } else { nullm },
        };
        // SAFETY: the caller guarantees CPU support for `L`.
        unsafe { kernel::drive::<L, _>(&seg) };
    }
}

/// Read-only inputs of one row of the fused adjoint update (see [`Propagator::adjoint_step`]).
struct AdjointRow<'r> {
    k: &'r Coeffs,
    /// `rⁿ⁺¹`.
    r: &'r [f32],
    w: &'r [f32],
    /// This row's x-layer temporaries `Ex`, `Yx` with halo columns (column `ix` at `ix + HALO`).
    ex: &'r [f32],
    yx: &'r [f32],
    /// The z-layer temporaries `Ez`, `Yz` (whole fields, zero outside the z layers).
    ez: &'r [f32],
    yz: &'r [f32],
    s: usize,
    stride: usize,
}

/// One segment of the fused adjoint update (see [`AdjointRow::segment`]).
struct AdjointSegment<const R: usize, const XP: bool, const ZP: bool> {
    n: usize,
    st: usize,
    k: Coeffs,
    r: *const f32,
    w: *const f32,
    ex: *const f32,
    yx: *const f32,
    ez: *const f32,
    yz: *const f32,
    o: *mut f32,
}

impl<const R: usize, const XP: bool, const ZP: bool> RowKernel for AdjointSegment<R, XP, ZP> {
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at<L: Lane>(&self, i: usize, m: L::Mask) {
        let (k, st) = (&self.k, self.st);
        // SAFETY: views checked in `AdjointRow::segment`; the lanes of `m` lie below `n`.
        unsafe {
            let dxx = second_x::<L, R>(self.r, i, m, &k.cx, k.cx0);
            let dzz = second_z::<L, R>(self.r, i, m, st, &k.cz, k.cz0);
            let mut acc = dxx.add(dzz);
            if XP {
                let d2 = second_x::<L, R>(self.ex, i, m, &k.cx, k.cx0);
                let d1 = first::<L, R>(self.yx, i, m, 1, &k.bx);
                acc = acc.add(d2.sub(d1));
            }
            if ZP {
                let d2 = second_z::<L, R>(self.ez, i, m, st, &k.cz, k.cz0);
                let d1 = first::<L, R>(self.yz, i, m, st, &k.bz);
                acc = acc.add(d2.sub(d1));
            }
            let op = self.o.add(i);
            let lead = sp::<L>(2.0).mul(ld::<L>(self.r, i, m)).sub(L::load(op, m));
            lead.add(ld::<L>(self.w, i, m).mul(acc))
                .flush()
                .store(op, m);
        }
    }
}

impl AdjointRow<'_> {
    /// Updates columns `c0..c1` of the row:
    /// `o = (2r − o) + W·((Lₓₓr + L_zz r) + Cx + Cz)` with `Cx = ∂xx Ex − ∂x Yx` where `XP`
    /// and `Cz = ∂zz Ez − ∂z Yz` where `ZP`, derivatives summed as in [`RowStep::segment`].
    ///
    /// # Safety
    /// The CPU supports `L`.
    #[inline(always)]
    unsafe fn segment<L: Lane, const R: usize, const XP: bool, const ZP: bool>(
        &self,
        c0: usize,
        c1: usize,
        o: &mut [f32],
    ) {
        let n = c1.saturating_sub(c0);
        if n == 0 {
            return;
        }
        let (base, st) = (self.s + c0, self.stride);
        let null = core::ptr::null::<f32>();
        let seg = AdjointSegment::<R, XP, ZP> {
            n,
            st,
            k: *self.k,
            r: window(self.r, base, n, R * st, R * st),
            w: window(self.w, base, n, 0, 0),
            ex: if XP {
                window(self.ex, c0 + HALO, n, R, R)
            } else {
                null
            },
            yx: if XP {
                window(self.yx, c0 + HALO, n, R, R)
            } else {
                null
            },
            ez: if ZP {
                window(self.ez, base, n, R * st, R * st)
            } else {
                null
            },
            yz: if ZP {
                window(self.yz, base, n, R * st, R * st)
            } else {
                null
            },
            o: window_mut(o, c0, n),
        };
        // SAFETY: the caller guarantees CPU support for `L`.
        unsafe { kernel::drive::<L, _>(&seg) };
    }
}

/// Forward phase A: `ψz ← flush(bz ψz + az ∂z u)` on the rows of the z layers.
struct PsiZRows<'r, const R: usize> {
    g: Grid,
    k: Coeffs,
    m: Medium<'r>,
    u: &'r [f32],
    psiz: SharedMut<f32>,
}

impl<const R: usize> RowsBody for PsiZRows<'_, R> {
    #[inline(always)]
    unsafe fn row<L: Lane>(&self, iz: usize) {
        let (g, k) = (&self.g, &self.k);
        let (nxp, stride) = (g.nxp, g.stride);
        let s = g.index(iz, 0);
        // SAFETY: each task owns its rows; row `iz` occupies `s..s + nxp`.
        let ps = unsafe { self.psiz.slice(s, nxp) };
        let psi = PsiUpdate::<R, false> {
            n: nxp,
            step: stride,
            coef: k.bz,
            f: window(self.u, s, nxp, R * stride, R * stride),
            a: core::ptr::null(),
            b: core::ptr::null(),
            a1: self.m.az[iz],
            b1: self.m.bz[iz],
            psi: window_mut(ps, 0, nxp),
        };
        // SAFETY: forwarded CPU support.
        unsafe { kernel::drive::<L, _>(&psi) };
    }
}

/// Forward phase A2 (order 4): `y = flush(W L u)`.
struct WLapRows<'r, const R: usize> {
    g: Grid,
    k: Coeffs,
    m: Medium<'r>,
    u: &'r [f32],
    y: SharedMut<f32>,
}

impl<const R: usize> RowsBody for WLapRows<'_, R> {
    #[inline(always)]
    unsafe fn row<L: Lane>(&self, iz: usize) {
        let g = &self.g;
        let (nxp, stride) = (g.nxp, g.stride);
        let s = g.index(iz, 0);
        // SAFETY: disjoint rows.
        let o = unsafe { self.y.slice(s, nxp) };
        let lap = WLapRow::<R> {
            n: nxp,
            st: stride,
            k: self.k,
            f: window(self.u, s, nxp, R * stride, R * stride),
            w: window(self.m.w, s, nxp, 0, 0),
            o: window_mut(o, 0, nxp),
        };
        // SAFETY: forwarded CPU support.
        unsafe { kernel::drive::<L, _>(&lap) };
    }
}

/// Forward phase B: ψx in the row's x strips, then the fused update of the row.
struct ForwardRows<'r, const R: usize> {
    g: Grid,
    k: Coeffs,
    m: Medium<'r>,
    u: &'r [f32],
    y: &'r [f32],
    psiz: &'r [f32],
    out: SharedMut<f32>,
    psix: SharedMut<f32>,
    zetax: SharedMut<f32>,
    zetaz: SharedMut<f32>,
    fourth: bool,
    free: bool,
}

impl<const R: usize> RowsBody for ForwardRows<'_, R> {
    #[inline(always)]
    unsafe fn row<L: Lane>(&self, iz: usize) {
        let (g, k, m) = (&self.g, &self.k, &self.m);
        let (nxp, stride) = (g.nxp, g.stride);
        let s = g.index(iz, 0);
        // SAFETY: disjoint rows: task rows never overlap, and a stored row (with its
        // halo columns) is `s − HALO .. s − HALO + stride`.
        let o = unsafe { self.out.slice(s, nxp) };
        let px = unsafe { self.psix.slice(s - HALO, stride) };
        let zx = unsafe { self.zetax.slice(s, nxp) };
        let zz = unsafe { self.zetaz.slice(s, nxp) };
        if g.width > 0 {
            for (c0, c1) in [(0, g.width), (g.width + g.nx, nxp)] {
                let n = c1 - c0;
                let psi = PsiUpdate::<R, true> {
                    n,
                    step: 1,
                    coef: k.bx,
                    f: window(self.u, s + c0, n, R, R),
                    a: window(m.ax, c0, n, 0, 0),
                    b: window(m.bx, c0, n, 0, 0),
                    a1: 0.0,
                    b1: 0.0,
                    psi: window_mut(px, c0 + HALO, n),
                };
                // SAFETY: forwarded CPU support.
                unsafe { kernel::drive::<L, _>(&psi) };
            }
        }
        let px: &[f32] = px;
        let (w0, w1) = (g.width, g.width + g.nx);
        let zrow = g.width > 0 && g.is_pml_row(iz);
        let (az, bz) = (m.az[iz], m.bz[iz]);
        let rs = RowStep {
            k,
            u: self.u,
            y: self.y,
            w: m.w,
            w12: m.w12,
            ax: m.ax,
            bx: m.bx,
            psiz: self.psiz,
            px,
            s,
            stride,
            az,
            bz,
        };
        macro_rules! segments {
            ($fourth:expr) => {
                // SAFETY: forwarded CPU support.
                unsafe {
                    if zrow {
                        rs.segment::<L, R, $fourth, true, true>(0, w0, o, zx, zz);
                        rs.segment::<L, R, $fourth, false, true>(w0, w1, o, zx, zz);
                        rs.segment::<L, R, $fourth, true, true>(w1, nxp, o, zx, zz);
                    } else {
                        rs.segment::<L, R, $fourth, true, false>(0, w0, o, zx, zz);
                        rs.segment::<L, R, $fourth, false, false>(w0, w1, o, zx, zz);
                        rs.segment::<L, R, $fourth, true, false>(w1, nxp, o, zx, zz);
                    }
                }
            };
        }
        if self.fourth {
            segments!(true);
        } else {
            segments!(false);
        }
        if self.free && iz == 0 {
            o.fill(0.0);
        }
    }
}

/// Adjoint phase A on the z-layer rows: `βz += r`, `Ez = az βz`, `Fz = r + Ez`,
/// `βz ← bz βz`.
struct BetaZRows<'r> {
    g: Grid,
    m: Medium<'r>,
    r: &'r [f32],
    beta: SharedMut<f32>,
    e: SharedMut<f32>,
    f: SharedMut<f32>,
}

impl RowsBody for BetaZRows<'_> {
    #[inline(always)]
    unsafe fn row<L: Lane>(&self, iz: usize) {
        let nxp = self.g.nxp;
        let s = self.g.index(iz, 0);
        // SAFETY: disjoint rows.
        let (bz, e, f) = unsafe {
            (
                self.beta.slice(s, nxp),
                self.e.slice(s, nxp),
                self.f.slice(s, nxp),
            )
        };
        let kern = AdjointBeta::<false> {
            n: nxp,
            r: window(self.r, s, nxp, 0, 0),
            a: core::ptr::null(),
            b: core::ptr::null(),
            a1: self.m.az[iz],
            b1: self.m.bz[iz],
            beta: window_mut(bz, 0, nxp),
            e: window_mut(e, 0, nxp),
            f: window_mut(f, 0, nxp),
        };
        // SAFETY: forwarded CPU support.
        unsafe { kernel::drive::<L, _>(&kern) };
    }
}

/// Adjoint phase A' on the z-layer rows: `αz −= ∂z Fz`, `Yz = az αz`, `αz ← bz αz`.
struct AlphaZRows<'r, const R: usize> {
    g: Grid,
    k: Coeffs,
    m: Medium<'r>,
    f: &'r [f32],
    alpha: SharedMut<f32>,
    y: SharedMut<f32>,
}

impl<const R: usize> RowsBody for AlphaZRows<'_, R> {
    #[inline(always)]
    unsafe fn row<L: Lane>(&self, iz: usize) {
        let (nxp, stride) = (self.g.nxp, self.g.stride);
        let s = self.g.index(iz, 0);
        // SAFETY: disjoint rows.
        let (alz, y2) = unsafe { (self.alpha.slice(s, nxp), self.y.slice(s, nxp)) };
        let kern = AdjointAlpha::<R, false> {
            n: nxp,
            step: stride,
            coef: self.k.bz,
            f: window(self.f, s, nxp, R * stride, R * stride),
            a: core::ptr::null(),
            b: core::ptr::null(),
            a1: self.m.az[iz],
            b1: self.m.bz[iz],
            alpha: window_mut(alz, 0, nxp),
            y: window_mut(y2, 0, nxp),
        };
        // SAFETY: forwarded CPU support.
        unsafe { kernel::drive::<L, _>(&kern) };
    }
}

/// Adjoint phase B: the row's x-layer temporaries, then the fused update of the row.
struct AdjointRows<'r, const R: usize> {
    g: Grid,
    k: Coeffs,
    m: Medium<'r>,
    r: &'r [f32],
    ez: &'r [f32],
    yz: &'r [f32],
    out: SharedMut<f32>,
    alpha: SharedMut<f32>,
    beta: SharedMut<f32>,
    ex: SharedMut<f32>,
    fx: SharedMut<f32>,
    yx: SharedMut<f32>,
    top_reach: usize,
    bottom_reach: usize,
    xr0: usize,
    xr1: usize,
}

impl<const R: usize> RowsBody for AdjointRows<'_, R> {
    #[inline(always)]
    unsafe fn row<L: Lane>(&self, iz: usize) {
        let (g, k, m) = (&self.g, &self.k, &self.m);
        let (nxp, stride) = (g.nxp, g.stride);
        let s = g.index(iz, 0);
        // SAFETY: disjoint rows (the temporaries' views add this row's halo columns).
        let o = unsafe { self.out.slice(s, nxp) };
        let (e, f, yv) = unsafe {
            (
                self.ex.slice(s - HALO, stride),
                self.fx.slice(s - HALO, stride),
                self.yx.slice(s - HALO, stride),
            )
        };
        if g.width > 0 {
            let strips = [(0, g.width), (g.width + g.nx, nxp)];
            // SAFETY: as above.
            let (alpha, beta) = unsafe { (self.alpha.slice(s, nxp), self.beta.slice(s, nxp)) };
            for (c0, c1) in strips {
                let n = c1 - c0;
                let kern = AdjointBeta::<true> {
                    n,
                    r: window(self.r, s + c0, n, 0, 0),
                    a: window(m.ax, c0, n, 0, 0),
                    b: window(m.bx, c0, n, 0, 0),
                    a1: 0.0,
                    b1: 0.0,
                    beta: window_mut(beta, c0, n),
                    e: window_mut(e, c0 + HALO, n),
                    f: window_mut(f, c0 + HALO, n),
                };
                // SAFETY: forwarded CPU support.
                unsafe { kernel::drive::<L, _>(&kern) };
            }
            for (c0, c1) in strips {
                let n = c1 - c0;
                let kern = AdjointAlpha::<R, true> {
                    n,
                    step: 1,
                    coef: k.bx,
                    f: window(f, c0 + HALO, n, R, R),
                    a: window(m.ax, c0, n, 0, 0),
                    b: window(m.bx, c0, n, 0, 0),
                    a1: 0.0,
                    b1: 0.0,
                    alpha: window_mut(alpha, c0, n),
                    y: window_mut(yv, c0 + HALO, n),
                };
                // SAFETY: forwarded CPU support.
                unsafe { kernel::drive::<L, _>(&kern) };
            }
        }
        let rs = AdjointRow {
            k,
            r: self.r,
            w: m.w,
            ex: e,
            yx: yv,
            ez: self.ez,
            yz: self.yz,
            s,
            stride,
        };
        let (xr0, xr1) = (self.xr0, self.xr1);
        // SAFETY: forwarded CPU support.
        unsafe {
            if g.width > 0 && (iz < self.top_reach || iz >= self.bottom_reach) {
                rs.segment::<L, R, true, true>(0, xr0, o);
                rs.segment::<L, R, false, true>(xr0, xr1, o);
                rs.segment::<L, R, true, true>(xr1, nxp, o);
            } else {
                rs.segment::<L, R, true, false>(0, xr0, o);
                rs.segment::<L, R, false, false>(xr0, xr1, o);
                rs.segment::<L, R, true, false>(xr1, nxp, o);
            }
        }
    }
}

/// The work of one phase for one row, run with a lane type chosen once per task (see
/// [`par_rows_isa`]).
pub(crate) trait RowsBody: Sync {
    /// Computes row `iz` with lane type `L`.
    ///
    /// # Safety
    /// The CPU supports `L`; concurrent calls get different rows.
    unsafe fn row<L: Lane>(&self, iz: usize);
}

/// The rows `first..last` (counted through `ranges`) of one task.
struct RowsTask<'b, B> {
    body: &'b B,
    ranges: &'b [(usize, usize)],
    first: usize,
    last: usize,
}

impl<B: RowsBody> kernel::WithLanes for RowsTask<'_, B> {
    #[inline(always)]
    unsafe fn go<L: Lane>(&self) {
        for q in self.first..self.last {
            let mut q = q;
            for &(a, b) in self.ranges {
                let len = b.saturating_sub(a);
                if q < len {
                    // SAFETY: forwarded; tasks get disjoint row sets.
                    unsafe { self.body.row::<L>(a + q) };
                    break;
                }
                q -= len;
            }
        }
    }
}

/// [`par_rows`] for a [`RowsBody`]: the same split into contiguous tasks, each task run
/// with instruction set `isa` (dispatched once per task).
pub(crate) fn par_rows_isa<B: RowsBody>(
    exec: &dyn Executor,
    isa: Isa,
    ranges: &[(usize, usize)],
    body: &B,
) {
    let total: usize = ranges.iter().map(|&(a, b)| b.saturating_sub(a)).sum();
    if total == 0 {
        return;
    }
    let tasks = exec.threads().clamp(1, total);
    exec.for_each(tasks, &|t| {
        let task = RowsTask {
            body,
            ranges,
            first: t * total / tasks,
            last: (t + 1) * total / tasks,
        };
        kernel::dispatch(isa, &task);
    });
}

/// Runs `f(row)` for every row of the given ranges, split into contiguous tasks.
pub(crate) fn par_rows(exec: &dyn Executor, ranges: &[(usize, usize)], f: &(dyn Fn(usize) + Sync)) {
    let total: usize = ranges.iter().map(|&(a, b)| b.saturating_sub(a)).sum();
    if total == 0 {
        return;
    }
    let tasks = exec.threads().clamp(1, total);
    exec.for_each(tasks, &|t| {
        let first = t * total / tasks;
        let last = (t + 1) * total / tasks;
        for q in first..last {
            let mut q = q;
            for &(a, b) in ranges {
                let len = b.saturating_sub(a);
                if q < len {
                    f(a + q);
                    break;
                }
                q -= len;
            }
        }
    });
}

/// Bilinear interpolation weights of a position: four storage indices and weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bilinear {
    /// Storage indices of the four surrounding points.
    pub index: [usize; 4],
    /// Their weights (sum 1).
    pub weight: [f32; 4],
    /// Extended rows of the four points (for the free-surface mask).
    pub row: [usize; 4],
}

/// Bilinear weights of physical position `[z, x]` (metres from the first grid point).
///
/// # Errors
/// [`Error::InvalidArgument`] (`name`) if the position is not finite or lies outside
/// the physical grid.
pub fn bilinear(cfg: &WaveConfig, pos: [f32; 2], name: &'static str) -> Result<Bilinear, Error> {
    bilinear_on(&Grid::new(cfg)?, inverse_spacing(cfg), pos, name)
}

/// `[1/dz, 1/dx]` as [`crate::detmath::recip`] gives them (`detmath::div(a, b)` is
/// `a · recip(b)`, so positions scaled by these are bit-identical to divided ones).
pub(crate) fn inverse_spacing(cfg: &WaveConfig) -> [f32; 2] {
    [crate::detmath::recip(cfg.dz), crate::detmath::recip(cfg.dx)]
}

/// [`bilinear`] with the grid and [`inverse_spacing`] of `cfg` already computed (the time
/// loops sample every receiver at every step).
#[inline]
pub(crate) fn bilinear_on(
    g: &Grid,
    inverse: [f32; 2],
    pos: [f32; 2],
    name: &'static str,
) -> Result<Bilinear, Error> {
    let fz = pos[0] * inverse[0];
    let fx = pos[1] * inverse[1];
    let inside = |f: f32, n: usize| f.is_finite() && f >= 0.0 && f <= (n - 1) as f32;
    if !inside(fz, g.nz) || !inside(fx, g.nx) {
        return Err(Error::InvalidArgument {
            name,
            expected: "positions [z, x] in metres inside the model",
        });
    }
    // `f` is finite and non-negative here, so truncation is the floor (and much cheaper
    // than `floorf` in the time loops, which sample every receiver at every step).
    let split = |f: f32, n: usize| {
        let i = (f as usize).min(n - 2);
        (i, f - i as f32)
    };
    let (iz, wz) = split(fz, g.nz);
    let (ix, wx) = split(fx, g.nx);
    Ok(Bilinear {
        index: [
            g.physical_index(iz, ix),
            g.physical_index(iz, ix + 1),
            g.physical_index(iz + 1, ix),
            g.physical_index(iz + 1, ix + 1),
        ],
        weight: [
            (1.0 - wz) * (1.0 - wx),
            (1.0 - wz) * wx,
            wz * (1.0 - wx),
            wz * wx,
        ],
        row: [iz + g.top, iz + g.top, iz + 1 + g.top, iz + 1 + g.top],
    })
}

/// Receivers whose [`Bilinear`] weights are computed once per shot (the rest, if any,
/// are recomputed at every step; the weights are the same either way).
pub(crate) const CACHED_RECEIVERS: usize = 256;

/// One cached receiver: what [`bilinear_on`] gives, stored compactly (the four points are
/// `index`, `index + 1`, `index + stride` and `index + stride + 1`, on rows `row` and
/// `row + 1`).
#[derive(Debug, Clone, Copy, Default)]
struct Tap {
    index: usize,
    weight: [f32; 4],
    row: usize,
}

/// The receivers of a shot, checked once, with the weights of the first
/// [`CACHED_RECEIVERS`] computed once (the time loops sample or inject every receiver at
/// every step; in a `perf` profile of a layer-free forward run with 256 receivers,
/// sampling took 14 % of the time with the weights recomputed and takes 3.7 % with them
/// cached).
pub(crate) struct Receivers<'r> {
    grid: Grid,
    inverse: [f32; 2],
    positions: &'r [[f32; 2]],
    /// Taps of receivers `0..cached`.
    taps: [Tap; CACHED_RECEIVERS],
    cached: usize,
}

impl<'r> Receivers<'r> {
    /// Checks every position of `positions` (one pass) and caches the weights of the
    /// first [`CACHED_RECEIVERS`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`"receivers"`) if there are none or a position is not
    /// finite or lies outside the physical grid.
    pub(crate) fn new(cfg: &WaveConfig, positions: &'r [[f32; 2]]) -> Result<Self, Error> {
        if positions.is_empty() {
            return Err(Error::InvalidArgument {
                name: "receivers",
                expected: "at least one receiver",
            });
        }
        let grid = Grid::new(cfg)?;
        let inverse = inverse_spacing(cfg);
        let mut taps = [Tap::default(); CACHED_RECEIVERS];
        for (j, &p) in positions.iter().enumerate() {
            let b = bilinear_on(&grid, inverse, p, "receivers")?;
            if let Some(tap) = taps.get_mut(j) {
                *tap = Tap {
                    index: b.index[0],
                    weight: b.weight,
                    row: b.row[0],
                };
            }
        }
        Ok(Self {
            grid,
            inverse,
            positions,
            taps,
            cached: positions.len().min(CACHED_RECEIVERS),
        })
    }

    /// Number of receivers.
    pub(crate) fn len(&self) -> usize {
        self.positions.len()
    }

    /// The weights of receiver `j < len()`.
    ///
    /// # Errors
    /// None in practice (every position was checked by [`Receivers::new`]).
    #[inline(always)]
    pub(crate) fn get(&self, j: usize) -> Result<Bilinear, Error> {
        if j < self.cached {
            let (t, st) = (&self.taps[j], self.grid.stride);
            return Ok(Bilinear {
                index: [t.index, t.index + 1, t.index + st, t.index + st + 1],
                weight: t.weight,
                row: [t.row, t.row, t.row + 1, t.row + 1],
            });
        }
        bilinear_on(&self.grid, self.inverse, self.positions[j], "receivers")
    }

    /// `out[j]` = `field` sampled at receiver `j`, for every receiver.
    ///
    /// # Errors
    /// As [`Receivers::get`].
    #[inline]
    pub(crate) fn sample(&self, field: &[f32], out: &mut [f32]) -> Result<(), Error> {
        for (j, o) in out.iter_mut().enumerate().take(self.len()) {
            *o = Propagator::sample(field, &self.get(j)?);
        }
        Ok(())
    }
}

/// Odd mirror of row 0 into the top halo (`u(−j) = −u(j)`) for the free surface.
pub(crate) fn mirror_top(g: &Grid, f: &mut [f32]) {
    for j in 1..=HALO {
        for ix in 0..g.nxp {
            let p = g.index(0, ix);
            f[p - j * g.stride] = -f[p + j * g.stride];
        }
    }
}

/// A prepared propagator: configuration, grid, coefficients and medium.
#[derive(Debug, Clone, Copy)]
pub struct Propagator<'a> {
    /// The configuration.
    pub cfg: WaveConfig,
    /// Its extended grid.
    pub grid: Grid,
    pub(crate) k: Coeffs,
    /// The prepared medium.
    pub medium: Medium<'a>,
    /// The instruction set of the row kernels (any choice gives the same bits).
    isa: Isa,
}

/// The C-PML memory fields of one wavefield (or their adjoints).
pub(crate) struct Aux<'s> {
    pub psix: &'s mut [f32],
    pub psiz: &'s mut [f32],
    pub zetax: &'s mut [f32],
    pub zetaz: &'s mut [f32],
}

/// Takes the next `len` floats off the front of `buf`.
pub(crate) fn take<'a>(buf: &mut &'a mut [f32], len: usize) -> &'a mut [f32] {
    let b = core::mem::take(buf);
    let (a, rest) = b.split_at_mut(len.min(b.len()));
    *buf = rest;
    a
}

impl<'a> Propagator<'a> {
    /// Wraps a medium prepared by [`super::config::prepare_medium`] for `cfg`.
    ///
    /// # Errors
    /// [`Error::BufferLength`] if `medium` has the wrong length.
    pub fn new(cfg: &WaveConfig, medium: &'a [f32]) -> Result<Self, Error> {
        cfg.validate()?;
        let medium = Medium::view(cfg, medium)?;
        Ok(Self {
            cfg: *cfg,
            grid: Grid::new(cfg)?,
            k: Coeffs::new(cfg),
            medium,
            isa: Isa::detect(),
        })
    }

    /// The same propagator running its kernels with instruction set `isa` instead of the
    /// detected fastest one (the output bits are the same; for tests and benchmarks).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if this CPU does not support `isa`.
    pub fn with_isa(mut self, isa: Isa) -> Result<Self, Error> {
        if !isa.is_supported() {
            return Err(Error::InvalidArgument {
                name: "isa",
                expected: "an instruction set this CPU supports",
            });
        }
        self.isa = isa;
        Ok(self)
    }

    /// The instruction set the kernels run with.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Rows of the absorbing layers at top and bottom.
    fn z_strips(&self) -> [(usize, usize); 2] {
        let g = &self.grid;
        [(0, g.top), (g.top + g.nz, g.nzp)]
    }

    /// One forward step: `out` holds `uⁿ⁻¹` on entry and `uⁿ⁺¹` on exit (no source, no
    /// halo mirroring); `y` is scratch for the fourth-order scheme.
    pub(crate) fn step(
        &self,
        u: &[f32],
        out: &mut [f32],
        aux: &mut Aux<'_>,
        y: &mut [f32],
        exec: &dyn Executor,
    ) {
        if self.k.r == 2 {
            self.step_impl::<2>(u, out, aux, y, exec)
        } else {
            self.step_impl::<4>(u, out, aux, y, exec)
        }
    }

    fn step_impl<const R: usize>(
        &self,
        u: &[f32],
        out: &mut [f32],
        aux: &mut Aux<'_>,
        y: &mut [f32],
        exec: &dyn Executor,
    ) {
        let g = self.grid;
        let k = self.k;
        let m = self.medium;
        let isa = self.isa;
        let fourth = self.cfg.time_order == 4;
        // Phase A: ψz in the top and bottom layers (phase B reads its row neighbours).
        if g.width > 0 {
            let body = PsiZRows::<R> {
                g,
                k,
                m,
                u,
                psiz: SharedMut::new(&mut *aux.psiz),
            };
            par_rows_isa(exec, isa, &self.z_strips(), &body);
        }
        // Phase A2 (order 4): y = W L u.
        if fourth {
            let body = WLapRows::<R> {
                g,
                k,
                m,
                u,
                y: SharedMut::new(&mut *y),
            };
            par_rows_isa(exec, isa, &[(0, g.nzp)], &body);
            if self.cfg.free_surface {
                mirror_top(&g, y);
            }
        }
        // Phase B: one fused pass per row: ψx in the row's x strips, then the update with
        // the C-PML corrections added where the point lies in a layer.
        let body = ForwardRows::<R> {
            g,
            k,
            m,
            u,
            y,
            psiz: aux.psiz,
            out: SharedMut::new(out),
            psix: SharedMut::new(&mut *aux.psix),
            zetax: SharedMut::new(&mut *aux.zetax),
            zetaz: SharedMut::new(&mut *aux.zetaz),
            fourth,
            free: self.cfg.free_surface,
        };
        par_rows_isa(exec, isa, &[(0, g.nzp)], &body);
    }

    /// One transposed step (order 2) in the scaled adjoint variable: `out` holds `rⁿ⁺²` on
    /// entry and `rⁿ` on exit; `aux` holds the adjoint memory variables (ψ slots: α,
    /// ζ slots: β); `tmp` is six fields of scratch that must be zero outside the layers.
    pub(crate) fn adjoint_step(
        &self,
        r: &[f32],
        out: &mut [f32],
        aux: &mut Aux<'_>,
        tmp: &mut [f32],
        exec: &dyn Executor,
    ) {
        if self.k.r == 2 {
            self.adjoint_impl::<2>(r, out, aux, tmp, exec)
        } else {
            self.adjoint_impl::<4>(r, out, aux, tmp, exec)
        }
    }

    fn adjoint_impl<const R: usize>(
        &self,
        r: &[f32],
        out: &mut [f32],
        aux: &mut Aux<'_>,
        tmp: &mut [f32],
        exec: &dyn Executor,
    ) {
        let g = self.grid;
        let k = self.k;
        let m = self.medium;
        let isa = self.isa;
        let (nxp, fl) = (g.nxp, g.field_len());
        let mut rest = tmp;
        let ex = take(&mut rest, fl);
        let fx = take(&mut rest, fl);
        let yx = take(&mut rest, fl);
        let ez = take(&mut rest, fl);
        let fz = take(&mut rest, fl);
        let yz = take(&mut rest, fl);
        if g.width > 0 {
            // Phase A (z layers): βz += r; Ez = az βz; Fz = r + Ez; βz ← bz βz.
            let body = BetaZRows {
                g,
                m,
                r,
                beta: SharedMut::new(&mut *aux.zetaz),
                e: SharedMut::new(&mut *ez),
                f: SharedMut::new(&mut *fz),
            };
            par_rows_isa(exec, isa, &self.z_strips(), &body);
            // Phase A' (z layers): αz −= ∂z Fz; Yz = az αz; αz ← bz αz.
            let body = AlphaZRows::<R> {
                g,
                k,
                m,
                f: fz,
                alpha: SharedMut::new(&mut *aux.psiz),
                y: SharedMut::new(&mut *yz),
            };
            par_rows_isa(exec, isa, &self.z_strips(), &body);
        }
        // Phase B: per row, the x-layer temporaries (row-local), then one fused pass:
        // o = (2r − o) + W·(L r + (∂xx Ex − ∂x Yx) + (∂zz Ez − ∂z Yz)), the layer terms
        // where they reach (layers plus HALO points; the temporaries are zero elsewhere).
        let top_reach = if g.top > 0 {
            (g.top + HALO).min(g.nzp)
        } else {
            0
        };
        let bottom_reach = (g.top + g.nz).saturating_sub(HALO).max(top_reach);
        let (xr0, xr1) = if g.width > 0 {
            let a = (g.width + HALO).min(nxp);
            (a, (g.width + g.nx).saturating_sub(HALO).max(a))
        } else {
            (0, nxp)
        };
        let body = AdjointRows::<R> {
            g,
            k,
            m,
            r,
            ez,
            yz,
            out: SharedMut::new(&mut *out),
            alpha: SharedMut::new(&mut *aux.psix),
            beta: SharedMut::new(&mut *aux.zetax),
            ex: SharedMut::new(&mut *ex),
            fx: SharedMut::new(&mut *fx),
            yx: SharedMut::new(&mut *yx),
            top_reach,
            bottom_reach,
            xr0,
            xr1,
        };
        par_rows_isa(exec, isa, &[(0, g.nzp)], &body);
    }

    /// Adds `scale·W·value` at the bilinear points `b` of `field` (skipping row 0 with a
    /// free surface).
    #[inline]
    pub(crate) fn inject(&self, field: &mut [f32], b: &Bilinear, value: f32) {
        for q in 0..4 {
            if self.cfg.free_surface && b.row[q] == 0 {
                continue;
            }
            let p = b.index[q];
            field[p] = flush(field[p] + self.medium.w[p] * (b.weight[q] * value));
        }
    }

    /// Bilinear interpolation of `field` at `b`.
    #[inline]
    pub(crate) fn sample(field: &[f32], b: &Bilinear) -> f32 {
        ((b.weight[0] * field[b.index[0]] + b.weight[1] * field[b.index[1]])
            + b.weight[2] * field[b.index[2]])
            + b.weight[3] * field[b.index[3]]
    }

    /// Free-surface bookkeeping after a step: zero row 0 and mirror into the halo.
    pub(crate) fn finish_step(&self, field: &mut [f32]) {
        if self.cfg.free_surface {
            let g = self.grid;
            let s = g.index(0, 0);
            field[s..s + g.nxp].fill(0.0);
            mirror_top(&g, field);
        }
    }
}

/// Forward-models one shot: a Ricker-like `wavelet` (`nt` samples, injected as
/// `W·wavelet[n]` into `uⁿ⁺¹`) at `source` (`[z, x]` metres), recorded at `receivers` into
/// `shot` (`nt × receivers.len()`, time-major: `shot[n·nrec + j] = uⁿ(receiver j)`).
///
/// `state` is scratch of [`state_len`] floats. The medium must come from
/// [`super::config::prepare_medium`] with the same `cfg`.
///
/// # Errors
/// [`Error::BufferLength`] for wrong buffer sizes, [`Error::InvalidArgument`] for
/// positions outside the model.
#[allow(clippy::too_many_arguments)]
pub fn forward_shot(
    cfg: &WaveConfig,
    medium: &[f32],
    source: [f32; 2],
    receivers: &[[f32; 2]],
    wavelet: &[f32],
    state: &mut [f32],
    shot: &mut [f32],
    exec: &dyn Executor,
) -> Result<(), Error> {
    Propagator::new(cfg, medium)?.forward_shot(source, receivers, wavelet, state, shot, exec)
}

impl Propagator<'_> {
    /// [`forward_shot`] with this propagator's configuration, medium and instruction set.
    ///
    /// # Errors
    /// As [`forward_shot`].
    pub fn forward_shot(
        &self,
        source: [f32; 2],
        receivers: &[[f32; 2]],
        wavelet: &[f32],
        state: &mut [f32],
        shot: &mut [f32],
        exec: &dyn Executor,
    ) -> Result<(), Error> {
        let prop = self;
        let cfg = &self.cfg;
        let g = prop.grid;
        let recs = Receivers::new(cfg, receivers)?;
        let nrec = recs.len();
        check_len("wavelet", wavelet.len(), cfg.nt)?;
        check_len("shot", shot.len(), cfg.nt * nrec)?;
        check_len("state", state.len(), state_len(cfg)?)?;
        let src = bilinear(cfg, source, "source")?;
        state.fill(0.0);
        let fl = g.field_len();
        let mut rest = &mut *state;
        let mut cur = take(&mut rest, fl);
        let mut nxt = take(&mut rest, fl);
        let mut aux = Aux {
            psix: take(&mut rest, fl),
            psiz: take(&mut rest, fl),
            zetax: take(&mut rest, fl),
            zetaz: take(&mut rest, fl),
        };
        let y = take(&mut rest, fl);
        for n in 0..cfg.nt {
            recs.sample(cur, &mut shot[n * nrec..(n + 1) * nrec])?;
            if n + 1 == cfg.nt {
                break;
            }
            prop.step(cur, nxt, &mut aux, y, exec);
            prop.inject(nxt, &src, wavelet[n]);
            prop.finish_step(nxt);
            core::mem::swap(&mut cur, &mut nxt);
        }
        Ok(())
    }
}

/// Checks that `velocity` gives a stable, non-dispersive set-up for `cfg`.
///
/// # Errors
/// As [`check_stability`].
pub fn check_model(cfg: &WaveConfig, velocity: &[f32]) -> Result<(), Error> {
    let (lo, hi) = super::config::velocity_range(velocity)?;
    check_stability(cfg, lo, hi)
}
