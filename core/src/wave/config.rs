//! Modelling configuration, the extended (absorbing-layer) grid and the prepared medium.
//!
//! ## Grid
//! The physical model has `nz × nx` points (row-major, depth first) spaced `dz`, `dx`.
//! Propagation runs on an extended grid with `pml_width` absorbing points on the left,
//! right and bottom, and on top unless `free_surface` is set. Every field is stored with
//! a halo of [`HALO`] zero points on all four sides so that the stencils never need bounds
//! logic; the halo is never written (except the mirrored rows above a free surface).
//!
//! ## Medium
//! [`prepare_medium`] turns a velocity model into what the time loop needs, in one
//! caller-owned buffer of [`medium_len`] floats: `W = dt²·c²` per extended point (the
//! model is extended into the absorbing layer by copying its edge values), `W₁₂` (the
//! tapered weight of the fourth-order correction, see [`FOURTH_ORDER_DT_GAIN`]) and the
//! C-PML profiles `a`, `b` per column and per row.
//!
//! ## C-PML (Komatitsch & Martin 2007; second-order form of Pasalic & McGarry 2010)
//! With the complex stretch `s = 1 + d/(α + iω)`, the stretched derivative is
//! `∂x̃ f = ∂x f + ψ`, `ψⁿ = b ψⁿ⁻¹ + a (∂x f)ⁿ`, `b = e^{−(d+α)Δt}`, `a = d (b − 1)/(d + α)`,
//! so `∂x̃∂x̃ u = ∂xx u + ∂x ψ + ζ` with `ζⁿ = b ζⁿ⁻¹ + a (∂xx u + ∂x ψ)ⁿ`.
//! Profiles: `d(s) = d₀ (s/L)³`, `d₀ = 4 c_max ln(1/R) / (2L)`, `α(s) = π f_peak (1 − s/L)`,
//! where `s` is the distance into the layer (`Δx` for its first point, `L` for its last),
//! `R` = [`PML_REFLECTION`] and the power 3 is [`PML_PROFILE_POWER`] (`d₀ = (n + 1) c_max
//! ln(1/R) / (2L)` for power `n`).
//!
//! The cubic profile with `R = 10⁻⁵` replaced a quadratic one with `R = 10⁻⁴`: it absorbs
//! better at every width from 12 points up, with the second-order scheme 11× better at 16
//! points (`core/tests/wave_forward.rs`, small box against a box too large to reflect:
//! 3.7e-5 against 4.1e-4 for the old 20-point default; see [`DEFAULT_PML_WIDTH`]).
//! With the fourth-order time scheme, whose correction is tapered to zero across the
//! inner half of the layer, the 16-point layer gives 2.3e-4 (2.8e-4 with a free surface).
//!
//! ## Checks done up front
//! - Stability: with `λ = (S/dx² + S/dz²)` (`S` the Nyquist symbol of the second
//!   difference, see [`super::stencil`]) the leapfrog scheme needs `Δt² c_max² λ ≤ 4`; the
//!   fourth-order-in-time scheme alone would allow `Δt² c_max² λ ≤ 12` (its amplification
//!   polynomial `x − x²/12` must stay in `[0, 4]`) but with the C-PML it is limited to
//!   [`FOURTH_ORDER_DT_GAIN`] times the leapfrog step. We require [`STABILITY_MARGIN`] of
//!   the limit.
//! - Dispersion: points per wavelength at the peak frequency and lowest velocity,
//!   `c_min / (f_peak · max(dx, dz))`, must be at least `min_points_per_wavelength`.

use crate::{detmath, error::Error};

use super::stencil;

/// Halo width (points) around every stored field: the stencil radius of space order 8.
pub const HALO: usize = 4;

/// Target reflection coefficient `R` of the C-PML profile.
pub const PML_REFLECTION: f32 = 1.0e-5;

/// Power `n` of the C-PML damping profile `d(s) = d₀ (s/L)ⁿ`.
pub const PML_PROFILE_POWER: usize = 3;

/// Default absorbing-layer width in points (every preset uses it).
///
/// Sixteen points keep the small-box error of the absorption tests below `10⁻³` for both
/// time orders (second order: 3.7e-5; fourth order: 2.3e-4, 2.8e-4 with a free surface),
/// and on AVX-512 a layer segment is exactly one vector.
pub const DEFAULT_PML_WIDTH: usize = 16;

/// Fraction of the theoretical stability limit on `Δt` that the checks allow.
pub const STABILITY_MARGIN: f32 = 0.98;

/// How much larger than the leapfrog limit the fourth-order-in-time step may be.
///
/// Without absorbing layers the modified-equation scheme is stable up to `√3 ≈ 1.73`
/// times the leapfrog limit. The C-PML memory terms are integrated to second order only;
/// with the correction applied inside the layers the scheme was measured to blow up
/// there, so the correction is tapered linearly to zero across the inner half of each
/// layer (weight `θ = θ(s_x) θ(s_z)`, `θ(k) = 1 − k/(K + 1)` for the `k`-th layer point
/// up to `K = ⌊width/2⌋` and zero beyond, stored in `W₁₂ = θ W / 12`), and the outer half
/// runs the leapfrog scheme, whose limit therefore applies to the whole grid (a
/// frozen-coefficient analysis shows `x − θx²/12 ∈ [0, 4]` for every `θ ∈ [0, 1]` when
/// `x ≤ 4`). A taper across the whole layer was not enough: where the damping is strong,
/// any non-zero `θ` made long records grow exponentially (10²–10⁴ per second in
/// `cpml_is_stable_over_long_records`, `core/tests/wave_forward.rs`); the half-layer taper
/// is stable there for layers of 8 to 60 points and absorbs better (2.3e-4 against 6.8e-4
/// at 16 points).
pub const FOURTH_ORDER_DT_GAIN: f64 = 1.0;

/// Everything that defines one finite-difference modelling set-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaveConfig {
    /// Physical grid rows (depth).
    pub nz: usize,
    /// Physical grid columns (lateral).
    pub nx: usize,
    /// Row spacing in metres.
    pub dz: f32,
    /// Column spacing in metres.
    pub dx: f32,
    /// Time step in seconds.
    pub dt: f32,
    /// Number of time samples (`t = 0, Δt, …, (nt−1)Δt`); shots have `nt` rows.
    pub nt: usize,
    /// Space order of the Laplacian: 4 or 8.
    pub space_order: usize,
    /// Order in time: 2 (leapfrog) or 4 (leapfrog plus the modified-equation correction
    /// `Δt⁴/12 · c² L (c² L u)`).
    pub time_order: usize,
    /// Absorbing-layer width in points (0 = rigid zero boundary).
    pub pml_width: usize,
    /// Pressure-free surface at the top row (mirror condition) instead of an absorbing layer.
    pub free_surface: bool,
    /// Peak frequency of the Ricker source in Hz (also sets the C-PML `α` and the
    /// dispersion check).
    pub peak_frequency: f32,
    /// Delay of the Ricker source in seconds.
    pub source_delay: f32,
    /// Minimum points per wavelength at the peak frequency and the lowest velocity.
    pub min_points_per_wavelength: f32,
}

/// Default minimum points per wavelength at the peak frequency for space order 8.
pub const DEFAULT_MIN_PPW_ORDER8: f32 = 6.0;
/// Default minimum points per wavelength at the peak frequency for space order 4.
pub const DEFAULT_MIN_PPW_ORDER4: f32 = 10.0;

impl WaveConfig {
    /// Length of the filter that colours shot noise ([`super::noise`]): the source
    /// wavelet's first `⌈2·delay/Δt⌉ + 1` samples (its whole main lobe), at most `nt`.
    pub fn noise_filter_len(&self) -> usize {
        (libm::ceilf(2.0 * self.source_delay / self.dt) as usize + 1).min(self.nt)
    }

    /// A configuration with space order 8, time order 2, a [`DEFAULT_PML_WIDTH`]-point
    /// C-PML, no free surface, source delay `1.5 / f_peak` and the default dispersion
    /// threshold.
    pub fn new(
        nz: usize,
        nx: usize,
        spacing: f32,
        dt: f32,
        nt: usize,
        peak_frequency: f32,
    ) -> Self {
        Self {
            nz,
            nx,
            dz: spacing,
            dx: spacing,
            dt,
            nt,
            space_order: 8,
            time_order: 2,
            pml_width: DEFAULT_PML_WIDTH,
            free_surface: false,
            peak_frequency,
            source_delay: detmath::div(1.5, peak_frequency),
            min_points_per_wavelength: DEFAULT_MIN_PPW_ORDER8,
        }
    }

    /// The extended grid of this configuration.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for sizes that are out of range.
    pub fn grid(&self) -> Result<Grid, Error> {
        Grid::new(self)
    }

    /// Largest `Δt` that [`prepare_medium`] accepts for maximum velocity `max_velocity`.
    pub fn max_stable_dt(&self, max_velocity: f32) -> f32 {
        let s = stencil::nyquist_symbol(self.space_order);
        let dx = self.dx as f64;
        let dz = self.dz as f64;
        let lambda = s / (dx * dx) + s / (dz * dz);
        let limit = if self.time_order == 4 {
            4.0 * FOURTH_ORDER_DT_GAIN * FOURTH_ORDER_DT_GAIN
        } else {
            4.0
        };
        // Host-side check only (f64 libm is fine: it does not define output bits).
        (STABILITY_MARGIN as f64 * libm::sqrt(limit / lambda) / max_velocity as f64) as f32
    }

    /// Checks the scalar fields (not the velocities).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first bad field.
    pub fn validate(&self) -> Result<(), Error> {
        let pos = |v: f32| v.is_finite() && v > 0.0;
        if !pos(self.dx) {
            return Err(Error::InvalidArgument {
                name: "dx",
                expected: "finite and > 0",
            });
        }
        if !pos(self.dz) {
            return Err(Error::InvalidArgument {
                name: "dz",
                expected: "finite and > 0",
            });
        }
        if !pos(self.dt) {
            return Err(Error::InvalidArgument {
                name: "dt",
                expected: "finite and > 0",
            });
        }
        if self.nt < 2 || self.nt > 10_000_000 {
            return Err(Error::InvalidArgument {
                name: "nt",
                expected: "2 ..= 10^7 time samples",
            });
        }
        if self.space_order != 4 && self.space_order != 8 {
            return Err(Error::InvalidArgument {
                name: "space_order",
                expected: "4 or 8",
            });
        }
        if self.time_order != 2 && self.time_order != 4 {
            return Err(Error::InvalidArgument {
                name: "time_order",
                expected: "2 or 4",
            });
        }
        if !pos(self.peak_frequency) {
            return Err(Error::InvalidArgument {
                name: "peak_frequency",
                expected: "finite and > 0",
            });
        }
        if !(self.source_delay.is_finite() && self.source_delay >= 0.0) {
            return Err(Error::InvalidArgument {
                name: "source_delay",
                expected: "finite and >= 0",
            });
        }
        if !(self.min_points_per_wavelength.is_finite() && self.min_points_per_wavelength >= 0.0) {
            return Err(Error::InvalidArgument {
                name: "min_points_per_wavelength",
                expected: "finite and >= 0",
            });
        }
        Grid::new(self).map(|_| ())
    }
}

/// The extended grid: physical grid plus absorbing layers plus the halo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Physical rows.
    pub nz: usize,
    /// Physical columns.
    pub nx: usize,
    /// Absorbing rows above the physical grid (0 with a free surface).
    pub top: usize,
    /// Absorbing columns left and right, and absorbing rows below.
    pub width: usize,
    /// Extended rows `top + nz + width`.
    pub nzp: usize,
    /// Extended columns `width + nx + width`.
    pub nxp: usize,
    /// Stored row length `nxp + 2·HALO`.
    pub stride: usize,
}

impl Grid {
    /// The extended grid of `cfg`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the grid is smaller than 8×8 or absurdly large.
    pub fn new(cfg: &WaveConfig) -> Result<Self, Error> {
        const MAX: usize = 1 << 15;
        if cfg.nz < 2 * HALO || cfg.nz > MAX {
            return Err(Error::InvalidArgument {
                name: "nz",
                expected: "8 ..= 32768 rows",
            });
        }
        if cfg.nx < 2 * HALO || cfg.nx > MAX {
            return Err(Error::InvalidArgument {
                name: "nx",
                expected: "8 ..= 32768 columns",
            });
        }
        if cfg.pml_width > 1000 {
            return Err(Error::InvalidArgument {
                name: "pml_width",
                expected: "0 ..= 1000 points",
            });
        }
        let width = cfg.pml_width;
        let top = if cfg.free_surface { 0 } else { width };
        let nzp = top + cfg.nz + width;
        let nxp = cfg.nx + 2 * width;
        Ok(Self {
            nz: cfg.nz,
            nx: cfg.nx,
            top,
            width,
            nzp,
            nxp,
            stride: nxp + 2 * HALO,
        })
    }

    /// Floats in one stored field (extended grid plus halo).
    pub fn field_len(&self) -> usize {
        self.stride * (self.nzp + 2 * HALO)
    }

    /// Storage index of extended point `(iz, ix)`.
    #[inline(always)]
    pub fn index(&self, iz: usize, ix: usize) -> usize {
        (iz + HALO) * self.stride + ix + HALO
    }

    /// Storage index of physical point `(iz, ix)`.
    #[inline(always)]
    pub fn physical_index(&self, iz: usize, ix: usize) -> usize {
        self.index(iz + self.top, ix + self.width)
    }

    /// Whether extended row `iz` lies in an absorbing layer.
    #[inline]
    pub fn is_pml_row(&self, iz: usize) -> bool {
        iz < self.top || iz >= self.top + self.nz
    }
}

/// Floats needed by [`prepare_medium`]: `W` field plus `a`, `b` per column and per row.
///
/// # Errors
/// As [`WaveConfig::validate`].
pub fn medium_len(cfg: &WaveConfig) -> Result<usize, Error> {
    cfg.validate()?;
    let g = Grid::new(cfg)?;
    Ok(2 * g.field_len() + 2 * g.nxp + 2 * g.nzp)
}

/// Minimum and maximum of a velocity model, checking every value is finite and positive.
///
/// # Errors
/// [`Error::InvalidArgument`] (`"velocity"`) for a non-finite or non-positive value.
pub fn velocity_range(velocity: &[f32]) -> Result<(f32, f32), Error> {
    let mut lo = f32::INFINITY;
    let mut hi = 0.0f32;
    for &v in velocity {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::InvalidArgument {
                name: "velocity",
                expected: "finite values > 0 (m/s)",
            });
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if velocity.is_empty() {
        return Err(Error::InvalidArgument {
            name: "velocity",
            expected: "a non-empty model",
        });
    }
    Ok((lo, hi))
}

/// Checks stability and dispersion of `cfg` for velocities in `[min_velocity, max_velocity]`.
///
/// # Errors
/// [`Error::UnstableTimeStep`] or [`Error::TooDispersive`].
pub fn check_stability(
    cfg: &WaveConfig,
    min_velocity: f32,
    max_velocity: f32,
) -> Result<(), Error> {
    cfg.validate()?;
    let max_dt = cfg.max_stable_dt(max_velocity);
    if !(cfg.dt <= max_dt) {
        return Err(Error::UnstableTimeStep {
            dt_ns: (cfg.dt as f64 * 1e9) as u64,
            max_dt_ns: (max_dt as f64 * 1e9) as u64,
        });
    }
    let h = cfg.dx.max(cfg.dz);
    let ppw = min_velocity as f64 / (cfg.peak_frequency as f64 * h as f64);
    if ppw < cfg.min_points_per_wavelength as f64 {
        return Err(Error::TooDispersive {
            points_per_wavelength_x100: (ppw * 100.0) as u32,
            required_x100: (cfg.min_points_per_wavelength as f64 * 100.0) as u32,
        });
    }
    Ok(())
}

/// Views of a prepared medium buffer.
#[derive(Debug, Clone, Copy)]
pub struct Medium<'a> {
    /// `dt²·c²` per stored point (zero in the halo).
    pub w: &'a [f32],
    /// `θ·dt²·c²/12`: weight of the fourth-order correction (tapered in the layers).
    pub w12: &'a [f32],
    /// C-PML `a` per extended column (zero outside the layers).
    pub ax: &'a [f32],
    /// C-PML `b` per extended column.
    pub bx: &'a [f32],
    /// C-PML `a` per extended row.
    pub az: &'a [f32],
    /// C-PML `b` per extended row.
    pub bz: &'a [f32],
}

impl<'a> Medium<'a> {
    /// Splits a buffer filled by [`prepare_medium`].
    ///
    /// # Errors
    /// [`Error::BufferLength`] if `medium` does not have [`medium_len`] floats.
    pub fn view(cfg: &WaveConfig, medium: &'a [f32]) -> Result<Self, Error> {
        let g = Grid::new(cfg)?;
        let len = medium_len(cfg)?;
        crate::error::check_len("medium", medium.len(), len)?;
        let (w, rest) = medium.split_at(g.field_len());
        let (w12, rest) = rest.split_at(g.field_len());
        let (ax, rest) = rest.split_at(g.nxp);
        let (bx, rest) = rest.split_at(g.nxp);
        let (az, bz) = rest.split_at(g.nzp);
        Ok(Self {
            w,
            w12,
            ax,
            bx,
            az,
            bz,
        })
    }
}

/// C-PML `(a, b)` at distance `s` (metres) into a layer of thickness `thickness`.
fn pml_ab(s: f32, thickness: f32, d0: f32, alpha_max: f32, dt: f32) -> (f32, f32) {
    let q = detmath::div(s, thickness);
    let mut d = d0;
    for _ in 0..PML_PROFILE_POWER {
        d *= q;
    }
    let alpha = alpha_max * (1.0 - q);
    let b = detmath::exp(-(d + alpha) * dt);
    let a = detmath::div(d * (b - 1.0), d + alpha);
    (a, b)
}

/// Fills `medium` for velocity model `velocity` (`nz·nx`, metres per second, row-major).
///
/// # Errors
/// [`Error::BufferLength`] for wrong buffer sizes, [`Error::InvalidArgument`] for bad
/// velocities or configuration, [`Error::UnstableTimeStep`] / [`Error::TooDispersive`]
/// if the set-up would be unstable or too dispersive.
pub fn prepare_medium(cfg: &WaveConfig, velocity: &[f32], medium: &mut [f32]) -> Result<(), Error> {
    cfg.validate()?;
    let g = Grid::new(cfg)?;
    crate::error::check_len("velocity", velocity.len(), cfg.nz * cfg.nx)?;
    crate::error::check_len("medium", medium.len(), medium_len(cfg)?)?;
    let (vmin, vmax) = velocity_range(velocity)?;
    check_stability(cfg, vmin, vmax)?;
    let (w, rest) = medium.split_at_mut(g.field_len());
    let (w12, rest) = rest.split_at_mut(g.field_len());
    let (ax, rest) = rest.split_at_mut(g.nxp);
    let (bx, rest) = rest.split_at_mut(g.nxp);
    let (az, bz) = rest.split_at_mut(g.nzp);
    w.fill(0.0);
    w12.fill(0.0);
    let dt2 = cfg.dt * cfg.dt;
    // Linear taper 1 → 0 across the inner half of a layer: 1 − d/(K + 1) for the d-th
    // layer point up to K = ⌊width/2⌋, zero beyond (see `FOURTH_ORDER_DT_GAIN`).
    let half = g.width / 2;
    let taper = |d: usize| {
        if d > half {
            0.0
        } else {
            1.0 - detmath::div(d as f32, (half + 1) as f32)
        }
    };
    for iz in 0..g.nzp {
        let pz = iz.saturating_sub(g.top).min(g.nz - 1);
        let dz_in = (g.top - iz.min(g.top)) + iz.saturating_sub(g.top + g.nz - 1);
        for ix in 0..g.nxp {
            let px = ix.saturating_sub(g.width).min(g.nx - 1);
            let dx_in = (g.width - ix.min(g.width)) + ix.saturating_sub(g.width + g.nx - 1);
            let c = velocity[pz * g.nx + px];
            let wv = dt2 * (c * c);
            w[g.index(iz, ix)] = wv;
            w12[g.index(iz, ix)] = (wv * (taper(dz_in) * taper(dx_in))) * (1.0 / 12.0);
        }
    }
    ax.fill(0.0);
    bx.fill(0.0);
    az.fill(0.0);
    bz.fill(0.0);
    if g.width > 0 {
        let ln_inv_r = -detmath::ln(PML_REFLECTION);
        let alpha_max = core::f32::consts::PI * cfg.peak_frequency;
        let thick_x = g.width as f32 * cfg.dx;
        let thick_z = g.width as f32 * cfg.dz;
        let n1 = (PML_PROFILE_POWER + 1) as f32;
        let d0x = detmath::div(n1 * vmax * ln_inv_r, 2.0 * thick_x);
        let d0z = detmath::div(n1 * vmax * ln_inv_r, 2.0 * thick_z);
        for k in 0..g.width {
            // k-th layer point counted from the interior: distance (k + 1)·h.
            let (a, b) = pml_ab((k + 1) as f32 * cfg.dx, thick_x, d0x, alpha_max, cfg.dt);
            ax[g.width - 1 - k] = a;
            bx[g.width - 1 - k] = b;
            ax[g.width + g.nx + k] = a;
            bx[g.width + g.nx + k] = b;
            let (a, b) = pml_ab((k + 1) as f32 * cfg.dz, thick_z, d0z, alpha_max, cfg.dt);
            if g.top > 0 {
                az[g.top - 1 - k] = a;
                bz[g.top - 1 - k] = b;
            }
            az[g.top + g.nz + k] = a;
            bz[g.top + g.nz + k] = b;
        }
    }
    Ok(())
}
