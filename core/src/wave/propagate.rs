//! Time stepping: the forward leapfrog step (second or fourth order in time), its exact
//! transpose (for Born/RTM), bilinear source injection / receiver interpolation, and the
//! forward modelling of one shot.
//!
//! ## Scheme
//! With `W = Δt² c²` and `L` the 2D Laplacian of space order 4 or 8:
//! - order 2: `uⁿ⁺¹ = 2uⁿ − uⁿ⁻¹ + W (L uⁿ + Cⁿ) + W sⁿ`
//! - order 4: `y = W L uⁿ`, `uⁿ⁺¹ = 2uⁿ − uⁿ⁻¹ + y + (W L y)/12 + W Cⁿ + W sⁿ`
//!   (Lax–Wendroff / modified-equation correction of the leapfrog time error; it costs a
//!   second stencil pass). The correction is tapered to zero across the absorbing layers
//!   (see [`super::config::FOURTH_ORDER_DT_GAIN`]), so the leapfrog stability limit holds.
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
//! it, so the output bits do not depend on the thread count. Inner loops run over slices
//! of one row (the compiler vectorises them; no fused multiply-add is ever formed).

use crate::error::{check_len, Error};
use crate::exec::{Executor, SharedMut};

use super::config::{check_stability, Grid, Medium, WaveConfig, HALO};
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
    g.field_len().checked_mul(STATE_FIELDS).ok_or(Error::InvalidArgument {
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
        Self { r: cfg.space_order / 2, c0: cx0 + cz0, cx, cz, cx0, cz0, bx, bz }
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

/// `o = W·L f` for the `o.len()` points starting at storage index `s`.
#[inline(always)]
fn row_wlap<const R: usize>(o: &mut [f32], f: &[f32], w: &[f32], s: usize, stride: usize, k: &Coeffs) {
    let n = o.len();
    let fc = &f[s..s + n];
    let wc = &w[s..s + n];
    let left: [&[f32]; R] = core::array::from_fn(|j| &f[s - 1 - j..s - 1 - j + n]);
    let right: [&[f32]; R] = core::array::from_fn(|j| &f[s + 1 + j..s + 1 + j + n]);
    let up: [&[f32]; R] = core::array::from_fn(|j| &f[s - (j + 1) * stride..s - (j + 1) * stride + n]);
    let down: [&[f32]; R] = core::array::from_fn(|j| &f[s + (j + 1) * stride..s + (j + 1) * stride + n]);
    let (c0, cx, cz) = (k.c0, k.cx, k.cz);
    for i in 0..n {
        let mut lap = c0 * fc[i];
        for j in 0..R {
            lap = lap + cx[j] * (left[j][i] + right[j][i]) + cz[j] * (up[j][i] + down[j][i]);
        }
        o[i] = flush(wc[i] * lap);
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

impl RowStep<'_> {
    /// Updates columns `c0..c1` of the row (`o`, `zx`, `zz` are the row's slices):
    /// - order 2: `o = (2u − o) + W·((Lₓₓu + L_zz u) + Cx + Cz)`;
    /// - order 4: `o = (((2u − o) + y) + W₁₂·(Lₓₓy + L_zz y)) + W·(Cx + Cz)`;
    ///
    /// with `Cx = ∂xψx + ζx` where `XP` (x layer) and `Cz = ∂zψz + ζz` where `ZP` (z layer),
    /// `ζ ← b ζ + a (∂²u + ∂ψ)` updated in place. Second derivatives are summed centre
    /// first, then in increasing distance; first derivatives in increasing distance.
    #[inline(always)]
    fn segment<const R: usize, const FOURTH: bool, const XP: bool, const ZP: bool>(
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
        let k = self.k;
        let (base, st) = (self.s + c0, self.stride);
        let f = if FOURTH { self.y } else { self.u };
        let fc = &f[base..][..n];
        let fl: [&[f32]; R] = core::array::from_fn(|j| &f[base - 1 - j..][..n]);
        let fr: [&[f32]; R] = core::array::from_fn(|j| &f[base + 1 + j..][..n]);
        let fu: [&[f32]; R] = core::array::from_fn(|j| &f[base - (j + 1) * st..][..n]);
        let fd: [&[f32]; R] = core::array::from_fn(|j| &f[base + (j + 1) * st..][..n]);
        // Views a variant does not use are stand-ins (`fc`, empty), so that their bounds
        // checks, per row and segment, are not paid for nothing.
        let u = self.u;
        let uc = if FOURTH { &u[base..][..n] } else { fc };
        let uview = |on: bool, at: usize| if on { &u[at..][..n] } else { fc };
        let ul: [&[f32]; R] = core::array::from_fn(|j| uview(FOURTH && XP, base - 1 - j));
        let ur: [&[f32]; R] = core::array::from_fn(|j| uview(FOURTH && XP, base + 1 + j));
        let uu: [&[f32]; R] = core::array::from_fn(|j| uview(FOURTH && ZP, base - (j + 1) * st));
        let ud: [&[f32]; R] = core::array::from_fn(|j| uview(FOURTH && ZP, base + (j + 1) * st));
        let wc = &self.w[base..][..n];
        let w12c = if FOURTH { &self.w12[base..][..n] } else { fc };
        let pview = |at: usize| if XP { &self.px[at..][..n] } else { fc };
        let pl: [&[f32]; R] = core::array::from_fn(|j| pview(c0 + HALO - 1 - j));
        let pr: [&[f32]; R] = core::array::from_fn(|j| pview(c0 + HALO + 1 + j));
        let zview = |at: usize| if ZP { &self.psiz[at..][..n] } else { fc };
        let zu: [&[f32]; R] = core::array::from_fn(|j| zview(base - (j + 1) * st));
        let zd: [&[f32]; R] = core::array::from_fn(|j| zview(base + (j + 1) * st));
        let (axc, bxc) = if XP { (&self.ax[c0..c1], &self.bx[c0..c1]) } else { (fc, fc) };
        let o = &mut o[c0..c1];
        let zx: &mut [f32] = if XP { &mut zx[c0..c1] } else { &mut [] };
        let zz: &mut [f32] = if ZP { &mut zz[c0..c1] } else { &mut [] };
        let (cx0, cz0, cx, cz, bxk, bzk) = (k.cx0, k.cz0, k.cx, k.cz, k.bx, k.bz);
        let (az, bz) = (self.az, self.bz);
        for i in 0..n {
            let mut dxx = cx0 * fc[i];
            let mut dzz = cz0 * fc[i];
            for j in 0..R {
                dxx = dxx + cx[j] * (fl[j][i] + fr[j][i]);
                dzz = dzz + cz[j] * (fu[j][i] + fd[j][i]);
            }
            let lap = dxx + dzz;
            let mut corr = 0.0f32;
            if XP {
                let uxx = if FOURTH {
                    let mut d = cx0 * uc[i];
                    for j in 0..R {
                        d = d + cx[j] * (ul[j][i] + ur[j][i]);
                    }
                    d
                } else {
                    dxx
                };
                let mut p1 = bxk[0] * (pr[0][i] - pl[0][i]);
                for j in 1..R {
                    p1 = p1 + bxk[j] * (pr[j][i] - pl[j][i]);
                }
                let z = flush(bxc[i] * zx[i] + axc[i] * (uxx + p1));
                zx[i] = z;
                corr = p1 + z;
            }
            if ZP {
                let uzz = if FOURTH {
                    let mut d = cz0 * uc[i];
                    for j in 0..R {
                        d = d + cz[j] * (uu[j][i] + ud[j][i]);
                    }
                    d
                } else {
                    dzz
                };
                let mut p1 = bzk[0] * (zd[0][i] - zu[0][i]);
                for j in 1..R {
                    p1 = p1 + bzk[j] * (zd[j][i] - zu[j][i]);
                }
                let z = flush(bz * zz[i] + az * (uzz + p1));
                zz[i] = z;
                corr = if XP { corr + (p1 + z) } else { p1 + z };
            }
            let lead = 2.0 * uc[i] - o[i];
            o[i] = flush(if FOURTH {
                let v = (lead + fc[i]) + w12c[i] * lap;
                if XP || ZP {
                    v + wc[i] * corr
                } else {
                    v
                }
            } else if XP || ZP {
                lead + wc[i] * (lap + corr)
            } else {
                lead + wc[i] * lap
            });
        }
    }
}

/// `f[at..at + n]` if `on`, else `stand_in` (no bounds check paid for an unused view).
#[inline(always)]
fn view<'a>(on: bool, f: &'a [f32], at: usize, n: usize, stand_in: &'a [f32]) -> &'a [f32] {
    if on {
        &f[at..][..n]
    } else {
        stand_in
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

impl AdjointRow<'_> {
    /// Updates columns `c0..c1` of the row:
    /// `o = (2r − o) + W·((Lₓₓr + L_zz r) + Cx + Cz)` with `Cx = ∂xx Ex − ∂x Yx` where `XP`
    /// and `Cz = ∂zz Ez − ∂z Yz` where `ZP`, derivatives summed as in [`RowStep::segment`].
    #[inline(always)]
    fn segment<const R: usize, const XP: bool, const ZP: bool>(&self, c0: usize, c1: usize, o: &mut [f32]) {
        let n = c1.saturating_sub(c0);
        if n == 0 {
            return;
        }
        let k = self.k;
        let (base, st) = (self.s + c0, self.stride);
        let f = self.r;
        let fc = &f[base..][..n];
        let fl: [&[f32]; R] = core::array::from_fn(|j| &f[base - 1 - j..][..n]);
        let fr: [&[f32]; R] = core::array::from_fn(|j| &f[base + 1 + j..][..n]);
        let fu: [&[f32]; R] = core::array::from_fn(|j| &f[base - (j + 1) * st..][..n]);
        let fd: [&[f32]; R] = core::array::from_fn(|j| &f[base + (j + 1) * st..][..n]);
        let wc = &self.w[base..][..n];
        // Unused views are stand-ins (see `RowStep::segment`).
        let xv = |f, at| view(XP, f, at, n, fc);
        let zv = |f, at| view(ZP, f, at, n, fc);
        let (ex, yx, ez, yz) = (self.ex, self.yx, self.ez, self.yz);
        let exc = if XP { &ex[c0 + HALO..][..n] } else { fc };
        let el: [&[f32]; R] = core::array::from_fn(|j| xv(ex, c0 + HALO - 1 - j));
        let er: [&[f32]; R] = core::array::from_fn(|j| xv(ex, c0 + HALO + 1 + j));
        let yl: [&[f32]; R] = core::array::from_fn(|j| xv(yx, c0 + HALO - 1 - j));
        let yr: [&[f32]; R] = core::array::from_fn(|j| xv(yx, c0 + HALO + 1 + j));
        let ezc = if ZP { &ez[base..][..n] } else { fc };
        let eu: [&[f32]; R] = core::array::from_fn(|j| zv(ez, base - (j + 1) * st));
        let ed: [&[f32]; R] = core::array::from_fn(|j| zv(ez, base + (j + 1) * st));
        let yu: [&[f32]; R] = core::array::from_fn(|j| zv(yz, base - (j + 1) * st));
        let yd: [&[f32]; R] = core::array::from_fn(|j| zv(yz, base + (j + 1) * st));
        let o = &mut o[c0..c1];
        let (cx0, cz0, cx, cz, bx, bz) = (k.cx0, k.cz0, k.cx, k.cz, k.bx, k.bz);
        for i in 0..n {
            let mut dxx = cx0 * fc[i];
            let mut dzz = cz0 * fc[i];
            for j in 0..R {
                dxx = dxx + cx[j] * (fl[j][i] + fr[j][i]);
                dzz = dzz + cz[j] * (fu[j][i] + fd[j][i]);
            }
            let mut acc = dxx + dzz;
            if XP {
                let mut d2 = cx0 * exc[i];
                let mut d1 = bx[0] * (yr[0][i] - yl[0][i]);
                d2 = d2 + cx[0] * (el[0][i] + er[0][i]);
                for j in 1..R {
                    d2 = d2 + cx[j] * (el[j][i] + er[j][i]);
                    d1 = d1 + bx[j] * (yr[j][i] - yl[j][i]);
                }
                acc = acc + (d2 - d1);
            }
            if ZP {
                let mut d2 = cz0 * ezc[i];
                let mut d1 = bz[0] * (yd[0][i] - yu[0][i]);
                d2 = d2 + cz[0] * (eu[0][i] + ed[0][i]);
                for j in 1..R {
                    d2 = d2 + cz[j] * (eu[j][i] + ed[j][i]);
                    d1 = d1 + bz[j] * (yd[j][i] - yu[j][i]);
                }
                acc = acc + (d2 - d1);
            }
            o[i] = flush((2.0 * fc[i] - o[i]) + wc[i] * acc);
        }
    }
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
pub(crate) fn bilinear_on(g: &Grid, inverse: [f32; 2], pos: [f32; 2], name: &'static str) -> Result<Bilinear, Error> {
    let fz = pos[0] * inverse[0];
    let fx = pos[1] * inverse[1];
    let inside = |f: f32, n: usize| f.is_finite() && f >= 0.0 && f <= (n - 1) as f32;
    if !inside(fz, g.nz) || !inside(fx, g.nx) {
        return Err(Error::InvalidArgument { name, expected: "positions [z, x] in metres inside the model" });
    }
    let split = |f: f32, n: usize| {
        let i = (libm::floorf(f) as usize).min(n - 2);
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
        weight: [(1.0 - wz) * (1.0 - wx), (1.0 - wz) * wx, wz * (1.0 - wx), wz * wx],
        row: [iz + g.top, iz + g.top, iz + 1 + g.top, iz + 1 + g.top],
    })
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
        Ok(Self { cfg: *cfg, grid: Grid::new(cfg)?, k: Coeffs::new(cfg), medium })
    }

    /// Rows of the absorbing layers at top and bottom.
    fn z_strips(&self) -> [(usize, usize); 2] {
        let g = &self.grid;
        [(0, g.top), (g.top + g.nz, g.nzp)]
    }

    /// One forward step: `out` holds `uⁿ⁻¹` on entry and `uⁿ⁺¹` on exit (no source, no
    /// halo mirroring); `y` is scratch for the fourth-order scheme.
    pub(crate) fn step(&self, u: &[f32], out: &mut [f32], aux: &mut Aux<'_>, y: &mut [f32], exec: &dyn Executor) {
        if self.k.r == 2 {
            self.step_impl::<2>(u, out, aux, y, exec)
        } else {
            self.step_impl::<4>(u, out, aux, y, exec)
        }
    }

    fn step_impl<const R: usize>(&self, u: &[f32], out: &mut [f32], aux: &mut Aux<'_>, y: &mut [f32], exec: &dyn Executor) {
        let g = self.grid;
        let k = self.k;
        let m = self.medium;
        let (nxp, stride) = (g.nxp, g.stride);
        let fourth = self.cfg.time_order == 4;
        // Phase A: ψz in the top and bottom layers (phase B reads its row neighbours).
        if g.width > 0 {
            let sh = SharedMut::new(&mut *aux.psiz);
            par_rows(exec, &self.z_strips(), &|iz| {
                let s = g.index(iz, 0);
                // SAFETY: each task owns its rows; row `iz` occupies `s..s + nxp`.
                let ps = unsafe { sh.slice(s, nxp) };
                let (a, b) = (m.az[iz], m.bz[iz]);
                let up: [&[f32]; R] = core::array::from_fn(|j| &u[s - (j + 1) * stride..][..nxp]);
                let down: [&[f32]; R] = core::array::from_fn(|j| &u[s + (j + 1) * stride..][..nxp]);
                for i in 0..nxp {
                    let mut d = k.bz[0] * (down[0][i] - up[0][i]);
                    for j in 1..R {
                        d = d + k.bz[j] * (down[j][i] - up[j][i]);
                    }
                    ps[i] = flush(b * ps[i] + a * d);
                }
            });
        }
        // Phase A2 (order 4): y = W L u.
        if fourth {
            let sh = SharedMut::new(&mut *y);
            par_rows(exec, &[(0, g.nzp)], &|iz| {
                let s = g.index(iz, 0);
                // SAFETY: disjoint rows.
                let o = unsafe { sh.slice(s, nxp) };
                row_wlap::<R>(o, u, m.w, s, stride, &k);
            });
            if self.cfg.free_surface {
                mirror_top(&g, y);
            }
        }
        // Phase B: one fused pass per row: ψx in the row's x strips, then the update with
        // the C-PML corrections added where the point lies in a layer.
        let y: &[f32] = y;
        let psiz: &[f32] = aux.psiz;
        let osh = SharedMut::new(out);
        let pxsh = SharedMut::new(&mut *aux.psix);
        let zxsh = SharedMut::new(&mut *aux.zetax);
        let zzsh = SharedMut::new(&mut *aux.zetaz);
        let free = self.cfg.free_surface;
        let strips = [(0, g.width), (g.width + g.nx, nxp)];
        par_rows(exec, &[(0, g.nzp)], &|iz| {
            let s = g.index(iz, 0);
            // SAFETY: disjoint rows: task rows never overlap, and a stored row (with its
            // halo columns) is `s − HALO .. s − HALO + stride`.
            let o = unsafe { osh.slice(s, nxp) };
            let px = unsafe { pxsh.slice(s - HALO, stride) };
            let zx = unsafe { zxsh.slice(s, nxp) };
            let zz = unsafe { zzsh.slice(s, nxp) };
            if g.width > 0 {
                for (c0, c1) in strips {
                    let n = c1 - c0;
                    let left: [&[f32]; R] = core::array::from_fn(|j| &u[s + c0 - 1 - j..][..n]);
                    let right: [&[f32]; R] = core::array::from_fn(|j| &u[s + c0 + 1 + j..][..n]);
                    let (a, b) = (&m.ax[c0..c1], &m.bx[c0..c1]);
                    let p = &mut px[c0 + HALO..c1 + HALO];
                    for i in 0..n {
                        let mut d = k.bx[0] * (right[0][i] - left[0][i]);
                        for j in 1..R {
                            d = d + k.bx[j] * (right[j][i] - left[j][i]);
                        }
                        p[i] = flush(b[i] * p[i] + a[i] * d);
                    }
                }
            }
            let px: &[f32] = px;
            let (w0, w1) = (g.width, g.width + g.nx);
            let zrow = g.width > 0 && g.is_pml_row(iz);
            let (az, bz) = (m.az[iz], m.bz[iz]);
            let rs = RowStep { k: &k, u, y, w: m.w, w12: m.w12, ax: m.ax, bx: m.bx, psiz, px, s, stride, az, bz };
            macro_rules! segments {
                ($fourth:expr) => {
                    if zrow {
                        rs.segment::<R, $fourth, true, true>(0, w0, o, zx, zz);
                        rs.segment::<R, $fourth, false, true>(w0, w1, o, zx, zz);
                        rs.segment::<R, $fourth, true, true>(w1, nxp, o, zx, zz);
                    } else {
                        rs.segment::<R, $fourth, true, false>(0, w0, o, zx, zz);
                        rs.segment::<R, $fourth, false, false>(w0, w1, o, zx, zz);
                        rs.segment::<R, $fourth, true, false>(w1, nxp, o, zx, zz);
                    }
                };
            }
            if fourth {
                segments!(true);
            } else {
                segments!(false);
            }
            if free && iz == 0 {
                o.fill(0.0);
            }
        });
    }

    /// One transposed step (order 2) in the scaled adjoint variable: `out` holds `rⁿ⁺²` on
    /// entry and `rⁿ` on exit; `aux` holds the adjoint memory variables (ψ slots: α,
    /// ζ slots: β); `tmp` is six fields of scratch that must be zero outside the layers.
    pub(crate) fn adjoint_step(&self, r: &[f32], out: &mut [f32], aux: &mut Aux<'_>, tmp: &mut [f32], exec: &dyn Executor) {
        if self.k.r == 2 {
            self.adjoint_impl::<2>(r, out, aux, tmp, exec)
        } else {
            self.adjoint_impl::<4>(r, out, aux, tmp, exec)
        }
    }

    fn adjoint_impl<const R: usize>(&self, r: &[f32], out: &mut [f32], aux: &mut Aux<'_>, tmp: &mut [f32], exec: &dyn Executor) {
        let g = self.grid;
        let k = self.k;
        let m = self.medium;
        let (nxp, stride, fl) = (g.nxp, g.stride, g.field_len());
        let mut rest = tmp;
        let ex = take(&mut rest, fl);
        let fx = take(&mut rest, fl);
        let yx = take(&mut rest, fl);
        let ez = take(&mut rest, fl);
        let fz = take(&mut rest, fl);
        let yz = take(&mut rest, fl);
        if g.width > 0 {
            // Phase A (z layers): βz += r; Ez = az βz; Fz = r + Ez; βz ← bz βz.
            let bsh = SharedMut::new(&mut *aux.zetaz);
            let esh = SharedMut::new(&mut *ez);
            let fsh = SharedMut::new(&mut *fz);
            par_rows(exec, &self.z_strips(), &|iz| {
                let s = g.index(iz, 0);
                // SAFETY: disjoint rows.
                let (bz, e, f) = unsafe { (bsh.slice(s, nxp), esh.slice(s, nxp), fsh.slice(s, nxp)) };
                let rr = &r[s..s + nxp];
                let (a, b) = (m.az[iz], m.bz[iz]);
                for ix in 0..nxp {
                    let beta = bz[ix] + rr[ix];
                    e[ix] = flush(a * beta);
                    f[ix] = flush(rr[ix] + e[ix]);
                    bz[ix] = flush(b * beta);
                }
            });
            // Phase A' (z layers): αz −= ∂z Fz; Yz = az αz; αz ← bz αz.
            let fz: &[f32] = fz;
            let ash = SharedMut::new(&mut *aux.psiz);
            let ysh = SharedMut::new(&mut *yz);
            par_rows(exec, &self.z_strips(), &|iz| {
                let s = g.index(iz, 0);
                // SAFETY: disjoint rows.
                let (alz, y2) = unsafe { (ash.slice(s, nxp), ysh.slice(s, nxp)) };
                let up: [&[f32]; R] = core::array::from_fn(|j| &fz[s - (j + 1) * stride..][..nxp]);
                let down: [&[f32]; R] = core::array::from_fn(|j| &fz[s + (j + 1) * stride..][..nxp]);
                let (a, b) = (m.az[iz], m.bz[iz]);
                for i in 0..nxp {
                    let mut d = k.bz[0] * (down[0][i] - up[0][i]);
                    for j in 1..R {
                        d = d + k.bz[j] * (down[j][i] - up[j][i]);
                    }
                    let at = alz[i] - d;
                    y2[i] = flush(a * at);
                    alz[i] = flush(b * at);
                }
            });
        }
        // Phase B: per row, the x-layer temporaries (row-local), then one fused pass:
        // o = (2r − o) + W·(L r + (∂xx Ex − ∂x Yx) + (∂zz Ez − ∂z Yz)), the layer terms
        // where they reach (layers plus HALO points; the temporaries are zero elsewhere).
        let ez: &[f32] = ez;
        let yz: &[f32] = yz;
        let osh = SharedMut::new(&mut *out);
        let axsh = SharedMut::new(&mut *aux.psix);
        let bxsh = SharedMut::new(&mut *aux.zetax);
        let exsh = SharedMut::new(&mut *ex);
        let fxsh = SharedMut::new(&mut *fx);
        let yxsh = SharedMut::new(&mut *yx);
        let strips = [(0, g.width), (g.width + g.nx, nxp)];
        let top_reach = if g.top > 0 { (g.top + HALO).min(g.nzp) } else { 0 };
        let bottom_reach = (g.top + g.nz).saturating_sub(HALO).max(top_reach);
        let (xr0, xr1) = if g.width > 0 {
            let a = (g.width + HALO).min(nxp);
            (a, (g.width + g.nx).saturating_sub(HALO).max(a))
        } else {
            (0, nxp)
        };
        par_rows(exec, &[(0, g.nzp)], &|iz| {
            let s = g.index(iz, 0);
            // SAFETY: disjoint rows (the temporaries' views add this row's halo columns).
            let o = unsafe { osh.slice(s, nxp) };
            let (e, f, yv) = unsafe {
                (exsh.slice(s - HALO, stride), fxsh.slice(s - HALO, stride), yxsh.slice(s - HALO, stride))
            };
            if g.width > 0 {
                // SAFETY: as above.
                let (alpha, beta) = unsafe { (axsh.slice(s, nxp), bxsh.slice(s, nxp)) };
                for (c0, c1) in strips {
                    for ix in c0..c1 {
                        let b = beta[ix] + r[s + ix];
                        e[ix + HALO] = flush(m.ax[ix] * b);
                        f[ix + HALO] = flush(r[s + ix] + e[ix + HALO]);
                        beta[ix] = flush(m.bx[ix] * b);
                    }
                }
                for (c0, c1) in strips {
                    let n = c1 - c0;
                    let left: [&[f32]; R] = core::array::from_fn(|j| &f[c0 + HALO - 1 - j..][..n]);
                    let right: [&[f32]; R] = core::array::from_fn(|j| &f[c0 + HALO + 1 + j..][..n]);
                    let (a, b) = (&m.ax[c0..c1], &m.bx[c0..c1]);
                    let (al, y) = (&mut alpha[c0..c1], &mut yv[c0 + HALO..c1 + HALO]);
                    for i in 0..n {
                        let mut d = k.bx[0] * (right[0][i] - left[0][i]);
                        for j in 1..R {
                            d = d + k.bx[j] * (right[j][i] - left[j][i]);
                        }
                        let at = al[i] - d;
                        y[i] = flush(a[i] * at);
                        al[i] = flush(b[i] * at);
                    }
                }
            }
            let rs = AdjointRow { k: &k, r, w: m.w, ex: e, yx: yv, ez, yz, s, stride };
            if g.width > 0 && (iz < top_reach || iz >= bottom_reach) {
                rs.segment::<R, true, true>(0, xr0, o);
                rs.segment::<R, false, true>(xr0, xr1, o);
                rs.segment::<R, true, true>(xr1, nxp, o);
            } else {
                rs.segment::<R, true, false>(0, xr0, o);
                rs.segment::<R, false, false>(xr0, xr1, o);
                rs.segment::<R, true, false>(xr1, nxp, o);
            }
        });
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
        ((b.weight[0] * field[b.index[0]] + b.weight[1] * field[b.index[1]]) + b.weight[2] * field[b.index[2]])
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

/// Checks receiver positions and the shot buffer; returns the receiver count.
pub(crate) fn check_receivers(cfg: &WaveConfig, receivers: &[[f32; 2]]) -> Result<usize, Error> {
    if receivers.is_empty() {
        return Err(Error::InvalidArgument { name: "receivers", expected: "at least one receiver" });
    }
    for &r in receivers {
        bilinear(cfg, r, "receivers")?;
    }
    Ok(receivers.len())
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
    let prop = Propagator::new(cfg, medium)?;
    let g = prop.grid;
    let nrec = check_receivers(cfg, receivers)?;
    check_len("wavelet", wavelet.len(), cfg.nt)?;
    check_len("shot", shot.len(), cfg.nt * nrec)?;
    check_len("state", state.len(), state_len(cfg)?)?;
    let src = bilinear(cfg, source, "source")?;
    let inv = inverse_spacing(cfg);
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
        let row = &mut shot[n * nrec..(n + 1) * nrec];
        for (o, &rp) in row.iter_mut().zip(receivers) {
            *o = Propagator::sample(cur, &bilinear_on(&g, inv, rp, "receivers")?);
        }
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

/// Checks that `velocity` gives a stable, non-dispersive set-up for `cfg`.
///
/// # Errors
/// As [`check_stability`].
pub fn check_model(cfg: &WaveConfig, velocity: &[f32]) -> Result<(), Error> {
    let (lo, hi) = super::config::velocity_range(velocity)?;
    check_stability(cfg, lo, hi)
}
