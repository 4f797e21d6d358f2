//! The compaction trend: sediment velocity as a function of depth below the seabed.
//!
//! With `t` the depth below the seabed as a fraction of the sediment column (0 at the
//! seabed, 1 at the model's bottom), the trend is
//! `v(t) = v_top + (v_base − v_top) · (1 − e^(−k·t)) / (1 − e^(−k))`, `k > 0`: it starts at
//! `v_top`, reaches `v_base` at the bottom and is concave (velocity rises fastest in the
//! shallow, porous part), like compaction curves of North Sea shales. It extends smoothly
//! past `t = 1` for the extra burial of the older package.

use super::draws::{self, Draws};
use super::params::GeologyParams;
use crate::detmath;

/// A drawn compaction trend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Trend {
    /// Velocity just below the seabed (km/s).
    pub v_top: f32,
    /// Velocity at the bottom of the model (km/s).
    pub v_base: f32,
    /// Curvature `k` (> 0).
    pub curvature: f32,
    /// `(v_base − v_top) / (1 − e^(−k))`.
    pub scale: f32,
}

impl Trend {
    /// Draws the trend: `v_top` from `v_seabed`, `v_base` from `v_base`, `k` in 0.5..2.
    pub(crate) fn draw(params: &GeologyParams, draws: &Draws) -> Self {
        let v_top = draws.within(draws::G_TREND, params.v_seabed);
        let v_base = draws.within(draws::G_TREND + 1, params.v_base);
        let curvature = draws.between(draws::G_TREND + 2, 0.5, 2.0);
        let scale = detmath::div(v_base - v_top, 1.0 - detmath::exp(-curvature));
        Self {
            v_top,
            v_base,
            curvature,
            scale,
        }
    }

    /// Velocity at depth fraction `t`.
    #[inline]
    pub(crate) fn at(&self, t: f32) -> f32 {
        self.v_top + self.scale * (1.0 - detmath::exp(-self.curvature * t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_hits_its_end_points_and_rises() {
        let params = GeologyParams::new(64, 128, 25.0);
        for index in 0..20 {
            let trend = Trend::draw(&params, &Draws::new(3, index));
            assert!((trend.at(0.0) - trend.v_top).abs() < 1e-6);
            assert!((trend.at(1.0) - trend.v_base).abs() < 1e-4 * trend.v_base);
            let mut last = trend.at(0.0);
            for i in 1..=100 {
                let v = trend.at(i as f32 / 100.0);
                assert!(v >= last, "trend must not decrease with depth");
                last = v;
            }
        }
    }
}
