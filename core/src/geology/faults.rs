//! Planar normal faults with reverse drag (rollover).
//!
//! A fault plane crosses the top of the model at `x_top` and dips at angle θ towards
//! `direction` (+1: towards +x). At depth `z` the plane lies at
//! `x_f(z) = x_top + direction · z · cot θ`; points with `direction·(x − x_f(z)) > 0` are in
//! the hanging wall, which slid down the plane by a vertical throw `h`: a hanging-wall
//! point came from `(x − direction·h·cot θ, z − h)`.
//!
//! The throw is largest at the fault and relaxes away from it,
//! `h(d) = throw · (1 − rollover · (1 − e^(−d/L)))` with `d` the horizontal distance from the
//! plane — the reverse drag that tilts beds towards the fault in North Sea half-grabens.
//! Faults that die out upwards (no unconformity to truncate them) taper linearly to zero
//! over `taper` metres above `tip_depth + taper`.
//!
//! Restoration of a point is exact for the throw evaluated at the point's present position;
//! with gentle rollover that is the usual kinematic approximation of synthetic generators.

use super::draws::{self, Draws};
use super::folds::{tan, DEGREE};
use super::params::GeologyParams;
use crate::detmath;

/// One drawn normal fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NormalFault {
    /// Where the plane crosses depth 0 (m).
    pub x_top: f32,
    /// +1 if the plane dips towards +x, −1 otherwise.
    pub direction: f32,
    /// cot θ of the dip angle θ.
    pub cot_dip: f32,
    /// Vertical throw at the plane (m).
    pub throw: f32,
    /// Fraction of the throw lost far from the fault (0..0.6).
    pub rollover: f32,
    /// 1/L of the rollover distance L (1/m).
    pub inv_rollover_length: f32,
    /// Depth above which the fault has no throw (m).
    pub tip_depth: f32,
    /// 1/taper of the upward fade (1/m).
    pub inv_taper: f32,
    /// Whether the fault was reactivated after the unconformity and also offsets the
    /// younger package (by 30 % of its throw).
    pub late: bool,
}

impl NormalFault {
    /// Draws fault `k`. `tip_depth` is where faults fade out upwards (0 when an
    /// unconformity truncates them).
    pub(crate) fn draw(
        params: &GeologyParams,
        draws: &Draws,
        k: u64,
        tip_depth: f32,
        may_be_late: bool,
    ) -> Self {
        let width = params.nx as f32 * params.dx;
        let depth = params.nz as f32 * params.dx;
        let base = draws::FAULTS + draws::FAULT_STRIDE * k;
        let x_top = draws.between(base, 0.05 * width, 0.95 * width);
        let direction = draws.sign(base + 1);
        let dip = draws.within(base + 2, params.fault_dip_degrees) * DEGREE;
        let cot_dip = detmath::recip(tan(dip));
        let throw = draws.within(base + 3, params.fault_throw);
        let rollover = draws.between(base + 4, 0.0, 0.6);
        let inv_rollover_length =
            detmath::recip(draws.between(base + 5, 0.15 * width, 0.5 * width));
        let late = may_be_late && draws.chance(base + 6, 0.25);
        let inv_taper = detmath::recip(0.15 * depth);
        Self {
            x_top,
            direction,
            cot_dip,
            throw,
            rollover,
            inv_rollover_length,
            tip_depth,
            inv_taper,
            late,
        }
    }

    /// Signed horizontal distance of `(x, z)` from the plane, positive in the hanging wall.
    #[inline]
    pub(crate) fn hanging_wall_distance(&self, x: f32, z: f32) -> f32 {
        self.direction * (x - (self.x_top + self.direction * z * self.cot_dip))
    }

    /// Vertical throw felt by the hanging-wall point `(x, z)` at distance `d > 0` from the plane.
    #[inline]
    fn throw_at(&self, d: f32, z: f32) -> f32 {
        let relax = 1.0 - detmath::exp(-d * self.inv_rollover_length);
        let mut h = self.throw * (1.0 - self.rollover * relax);
        let fade = (z - self.tip_depth) * self.inv_taper;
        if fade < 1.0 {
            h *= if fade > 0.0 { fade } else { 0.0 };
        }
        h
    }

    /// Where the point now at `(x, z)` was before the fault slipped, with the throw scaled
    /// by `scale` (1 for the full throw).
    #[inline]
    pub(crate) fn restore(&self, x: f32, z: f32, scale: f32) -> (f32, f32) {
        let d = self.hanging_wall_distance(x, z);
        if d <= 0.0 {
            return (x, z);
        }
        let h = scale * self.throw_at(d, z);
        (x - self.direction * h * self.cot_dip, z - h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault without rollover or taper, so that the throw is the same everywhere.
    fn plain_fault(direction: f32) -> NormalFault {
        NormalFault {
            x_top: 1000.0,
            direction,
            cot_dip: detmath::recip(tan(60.0 * DEGREE)),
            throw: 80.0,
            rollover: 0.0,
            inv_rollover_length: 1.0 / 500.0,
            tip_depth: -1.0e6,
            inv_taper: 1.0 / 200.0,
            late: false,
        }
    }

    #[test]
    fn footwall_points_do_not_move() {
        for direction in [-1.0f32, 1.0] {
            let fault = plain_fault(direction);
            // 300 m into the footwall at 500 m depth.
            let x = 1000.0 + direction * (500.0 * fault.cot_dip - 300.0);
            assert_eq!(fault.restore(x, 500.0, 1.0), (x, 500.0));
        }
    }

    #[test]
    fn restore_inverts_slip_along_the_plane() {
        // Independent forward model: slide a hanging-wall point down the plane by the
        // throw (direction (cot θ, 1) per metre of throw) and restore it.
        for direction in [-1.0f32, 1.0] {
            let fault = plain_fault(direction);
            for (x0, z0) in [(1500.0f32, 400.0f32), (600.0, 900.0), (1200.0, 100.0)] {
                let (x1, z1) = (x0 + direction * 80.0 * fault.cot_dip, z0 + 80.0);
                if fault.hanging_wall_distance(x1, z1) <= 0.0 {
                    continue;
                }
                let (xr, zr) = fault.restore(x1, z1, 1.0);
                assert!(
                    (xr - x0).abs() < 1e-3 && (zr - z0).abs() < 1e-3,
                    "{direction} {x0} {z0} -> {xr} {zr}"
                );
            }
        }
    }

    #[test]
    fn throw_fades_above_the_tip() {
        let mut fault = plain_fault(1.0);
        fault.tip_depth = 400.0;
        let x_far = 1000.0 + 5000.0;
        assert_eq!(fault.restore(x_far, 300.0, 1.0), (x_far, 300.0));
        let (_, z) = fault.restore(x_far, 500.0, 1.0); // halfway up the 200 m taper
        assert!((z - (500.0 - 40.0)).abs() < 1e-3);
    }
}
