//! Synthetic North Sea-like geology: seeded, deterministic 2-D velocity models.
//!
//! Stands in for the Compass model slices of the paper. A model is a grid of `nz × nx`
//! velocities (km/s), row-major with depth as the row. From top to bottom:
//!
//! 1. **Water** at `v_water` down to a gently undulating seabed ([`GeologyParams::water_depth`]).
//! 2. **Younger package**: beds roughly parallel to the seabed with a slight tilt, draped a
//!    little over the relief below, onlapping the unconformity.
//! 3. **Erosional unconformity** (in a fraction of the models): an irregular surface,
//!    sometimes with an incised channel, that truncates the older package — the picture
//!    of the North Sea's Base Cretaceous Unconformity over tilted Jurassic fault blocks.
//! 4. **Older package**: beds folded, tilted and offset by normal faults with rollover,
//!    arched over salt domes; it sits a velocity step (`unconformity_jump`) faster because it
//!    was buried deeper before erosion. Without an unconformity it reaches the seabed and
//!    its faults die out upwards.
//! 5. **High-velocity bodies**: salt domes and saucer-shaped volcanic sills.
//!
//! Sediment velocity is a compaction trend in depth below the seabed (about 1.6 km/s at
//! the seabed to 3.4–4.0 km/s at the bottom, for any grid size) plus per-bed offsets, never
//! below `v_seabed.min`.
//! Every velocity is clamped to `[v_min, v_max]`.
//!
//! ## How a point gets its velocity
//! Structure is built kinematically and evaluated backwards: for each grid point the
//! deformations are undone in reverse geological order (late faults, faults youngest first,
//! salt uplift, fold and dip) to find the point's depositional depth, which selects a bed in
//! that package's layer table. Each point is computed independently of every other, with no
//! allocation: tables are fixed-size arrays ([`MAX_LAYERS`], [`MAX_FAULTS`], [`MAX_BODIES`]).
//!
//! ## Determinism
//! Model `index` of `seed` draws only from `NoiseStream::new(seed, index)`, each quantity
//! at its own documented index (see `draws.rs`), so any model can be regenerated alone.
//! Only `+ − ×`, comparisons and [`crate::detmath`] functions touch the numbers, so a model
//! has the same bits everywhere.

mod bodies;
mod draws;
mod faults;
mod folds;
mod layers;
mod params;
mod surfaces;
mod trend;

pub use params::{GeologyParams, Interval, MAX_BODIES, MAX_FAULTS, MAX_LAYERS};

use crate::{detmath, error::check_len, Error};
use bodies::Body;
use draws::Draws;
use faults::NormalFault;
use folds::Fold;
use layers::{LayerTable, Package};
use params::abs_f32;
use surfaces::{Seabed, Unconformity};
use trend::Trend;

/// How much of the compaction trend acts within a bed (the rest is evaluated at the bed's
/// middle, so beds are nearly uniform, like lithological units).
const INTRA_BED_TREND: f32 = 0.3;

/// Fraction of the throw with which late (reactivated) faults offset the younger package.
const LATE_THROW: f32 = 0.3;

/// Number of `f32` values in one model: `nz · nx` (saturating).
pub fn model_len(params: &GeologyParams) -> usize {
    params.nz.saturating_mul(params.nx)
}

/// Writes model `index` of `seed` into `out` (`nz × nx`, row-major, depth = row, km/s).
///
/// # Errors
/// [`Error::InvalidArgument`] if a parameter is invalid (see [`GeologyParams::validate`]);
/// [`Error::BufferLength`] (`"velocity"`) if `out.len() != model_len(params)`.
pub fn generate(
    params: &GeologyParams,
    seed: u64,
    index: u64,
    out: &mut [f32],
) -> Result<(), Error> {
    Geology::new(params, seed, index)?.render(out)
}

/// One drawn geological model, which can be evaluated at any point.
#[derive(Debug, Clone, PartialEq)]
pub struct Geology {
    params: GeologyParams,
    inv_width: f32,
    inv_sediment_depth: f32,
    seabed: Seabed,
    unconformity: Option<Unconformity>,
    jump: f32,
    upper_tilt: f32,
    upper_drape: f32,
    trend: Trend,
    fold: Fold,
    faults: [Option<NormalFault>; MAX_FAULTS],
    bodies: [Option<Body>; MAX_BODIES],
    upper: LayerTable,
    lower: LayerTable,
}

impl Geology {
    /// Draws model `index` of `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a parameter is invalid (see [`GeologyParams::validate`]).
    pub fn new(params: &GeologyParams, seed: u64, index: u64) -> Result<Self, Error> {
        params.validate()?;
        let draws = Draws::new(seed, index);
        let depth = params.nz as f32 * params.dx;
        let width = params.nx as f32 * params.dx;

        let seabed = Seabed::draw(params, &draws);
        let sediment = depth - seabed.mean_depth;
        let unconformity = if draws.chance(draws::G_UNCONFORMITY, params.unconformity_probability) {
            Some(Unconformity::draw(params, &draws, seabed.mean_depth))
        } else {
            None
        };
        let jump = match unconformity {
            Some(_) => draws.within(draws::G_JUMP, params.unconformity_jump),
            None => 0.0,
        };
        let upper_tilt = folds::tan(
            draws.between(draws::G_UPPER, -0.3, 0.3) * params.max_dip_degrees * folds::DEGREE,
        );
        let upper_drape = draws.between(draws::G_UPPER + 1, 0.0, 0.5);
        let trend = Trend::draw(params, &draws);
        let fold = Fold::draw(params, &draws);

        // Faults: truncated by the unconformity, or fading out 10–40 % into the sediments.
        let tip_depth = match unconformity {
            Some(_) => 0.0,
            None => {
                seabed.mean_depth + draws.between(draws::G_FAULT_COUNT + 1, 0.1, 0.4) * sediment
            }
        };
        let fault_count = draws.count(
            draws::G_FAULT_COUNT,
            params.fault_count_min,
            params.fault_count_max,
        );
        let mut faults = [None; MAX_FAULTS];
        let mut throw_sum = 0.0;
        for (k, slot) in faults.iter_mut().enumerate().take(fault_count) {
            let fault =
                NormalFault::draw(params, &draws, k as u64, tip_depth, unconformity.is_some());
            throw_sum += fault.throw;
            *slot = Some(fault);
        }

        let body_top = match unconformity {
            Some(u) => u.mean_depth,
            None => seabed.mean_depth + 0.3 * sediment,
        };
        let mut bodies = [None; MAX_BODIES];
        let mut uplift_sum = 0.0;
        for (b, slot) in bodies.iter_mut().enumerate().take(params.body_count_max) {
            *slot = Body::draw(params, &draws, b as u64, body_top);
            if let Some(body) = slot {
                uplift_sum += body.uplift(body.x_centre);
            }
        }

        // Layer tables cover every depositional depth a grid point can restore to.
        let thick = params.layer_thickness.max;
        let upper_start = -draws.between(draws::G_LAYER_START, 0.0, thick);
        let upper_end = depth + abs_f32(upper_tilt) * width + throw_sum + thick;
        let upper = LayerTable::draw(params, &draws, Package::Upper, upper_start, upper_end);
        let margin = fold.max_displacement() + throw_sum + uplift_sum + thick;
        let lower_start = -margin - draws.between(draws::G_LAYER_START + 1, 0.0, thick);
        let lower = LayerTable::draw(params, &draws, Package::Lower, lower_start, depth + margin);

        Ok(Self {
            params: *params,
            inv_width: detmath::recip(width),
            inv_sediment_depth: detmath::recip(sediment),
            seabed,
            unconformity,
            jump,
            upper_tilt,
            upper_drape,
            trend,
            fold,
            faults,
            bodies,
            upper,
            lower,
        })
    }

    /// Velocity (km/s, clamped to `[v_min, v_max]`) at `x` metres from the left edge and
    /// `z` metres below the top.
    pub fn velocity_at(&self, x: f32, z: f32) -> f32 {
        let v = self.unclamped_velocity(x, z);
        // max/min also map a NaN to the bound.
        v.max(self.params.v_min).min(self.params.v_max)
    }

    /// Velocity before clamping.
    fn unclamped_velocity(&self, x: f32, z: f32) -> f32 {
        let seabed = self.seabed.depth(x);
        if z < seabed {
            return self.params.v_water;
        }
        for body in self.bodies.iter().flatten() {
            if body.contains(x, z) {
                return body.velocity;
            }
        }
        let t = (z - seabed) * self.inv_sediment_depth;
        let sediment = match self.unconformity {
            Some(unconformity) if z < unconformity.depth(x) => {
                // Younger package: only late faults offset it.
                let (mut xr, mut zr) = (x, z);
                for fault in self.faults.iter().rev().flatten().filter(|f| f.late) {
                    (xr, zr) = fault.restore(xr, zr, LATE_THROW);
                }
                let seabed_r = self.seabed.depth(xr);
                let below_seabed = zr - seabed_r;
                let span = unconformity.depth(xr) - seabed_r;
                let relief = unconformity.depth(xr) - unconformity.mean_depth;
                // Drape: beds near the unconformity follow part of its relief.
                let drape = if span > 0.0 {
                    self.upper_drape * relief * detmath::div(below_seabed, span)
                } else {
                    0.0
                };
                let u = below_seabed - drape - self.upper_tilt * (xr - self.fold.pivot);
                let bed = self.upper.bed_at(u);
                let t_bed = self.upper.mid(bed) * self.inv_sediment_depth;
                self.bed_velocity(t, t_bed) + self.upper.offset(bed, xr * self.inv_width)
            }
            _ => {
                let (mut xr, mut zr) = (x, z);
                for fault in self.faults.iter().rev().flatten() {
                    (xr, zr) = fault.restore(xr, zr, 1.0);
                }
                for body in self.bodies.iter().flatten() {
                    zr += body.uplift(xr);
                }
                let u = self.fold.restore(xr, zr);
                let bed = self.lower.bed_at(u);
                let t_bed =
                    (self.lower.mid(bed) - self.seabed.mean_depth) * self.inv_sediment_depth;
                self.bed_velocity(t, t_bed)
                    + self.jump
                    + self.lower.offset(bed, xr * self.inv_width)
            }
        };
        // Sediments are never slower than the slowest seabed sediment (no bed hides the seabed).
        sediment.max(self.params.v_seabed.min)
    }

    /// Trend velocity of a point at depth fraction `t` in a bed whose middle is at `t_bed`.
    #[inline]
    fn bed_velocity(&self, t: f32, t_bed: f32) -> f32 {
        let at_bed = self.trend.at(t_bed);
        at_bed + INTRA_BED_TREND * (self.trend.at(t) - at_bed)
    }

    /// Writes the model on its grid into `out` (`nz × nx`, row-major, depth = row); grid
    /// point `(row, col)` sits at `x = col·dx`, `z = row·dx`.
    ///
    /// # Errors
    /// [`Error::BufferLength`] (`"velocity"`) if `out.len() != model_len(params)`.
    pub fn render(&self, out: &mut [f32]) -> Result<(), Error> {
        check_len("velocity", out.len(), model_len(&self.params))?;
        let dx = self.params.dx;
        for (row, line) in out.chunks_exact_mut(self.params.nx).enumerate() {
            let z = row as f32 * dx;
            for (col, v) in line.iter_mut().enumerate() {
                *v = self.velocity_at(col as f32 * dx, z);
            }
        }
        Ok(())
    }

    /// The parameters it was drawn with.
    pub fn params(&self) -> &GeologyParams {
        &self.params
    }

    /// Mean water depth (m); the seabed undulates by at most 8 % around it.
    pub fn water_depth(&self) -> f32 {
        self.seabed.mean_depth
    }

    /// Shallowest seabed depth anywhere (m): every point above it is water.
    pub fn min_water_depth(&self) -> f32 {
        self.seabed.mean_depth - abs_f32(self.seabed.wave.amplitude)
    }

    /// Whether the model has an erosional unconformity.
    pub fn has_unconformity(&self) -> bool {
        self.unconformity.is_some()
    }

    /// Number of normal faults.
    pub fn fault_count(&self) -> usize {
        self.faults.iter().flatten().count()
    }

    /// Number of high-velocity bodies.
    pub fn body_count(&self) -> usize {
        self.bodies.iter().flatten().count()
    }
}
