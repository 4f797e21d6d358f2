//! High-velocity bodies: salt domes and volcanic sills.
//!
//! - **Dome** (salt pillow/diapir): everything below the parabola
//!   `z = z_crest + height · ((x − x_c)/w)²`, so it widens with depth down to the model's
//!   bottom. The older package's beds are arched over and beside it: they are lifted by
//!   `0.35 · height · e^(−(x − x_c)²/(2w)²)`.
//! - **Sill** (saucer-shaped volcanic intrusion): a lens around the centre line
//!   `z = z_c − rise · s²`, `thickness · (1 − s²)` thick (`thickness` = a tenth of the drawn height, at
//!   least 2.5 cells), for
//!   `s = (x − x_c)/w` within (−1, 1).
//!
//! Both have one constant velocity (salt and basalt are nearly homogeneous) that overrides
//! the sediments.

use super::draws::{self, Draws};
use super::params::GeologyParams;
use crate::detmath;

/// The shape of a body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Shape {
    /// A salt dome.
    Dome,
    /// A saucer-shaped sill.
    Sill,
}

/// One drawn body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Body {
    /// Dome or sill.
    pub shape: Shape,
    /// Horizontal centre (m).
    pub x_centre: f32,
    /// Crest depth (dome) or centre depth (sill) (m).
    pub z_centre: f32,
    /// 1/half-width (1/m).
    pub inv_half_width: f32,
    /// Height of the dome's parabola over one half-width, or the sill's thickness (m).
    pub height: f32,
    /// Rise of the sill's rim (m); 0 for domes.
    pub rise: f32,
    /// Velocity (km/s).
    pub velocity: f32,
}

impl Body {
    /// Draws body slot `b`, or `None` if the slot stays empty. `top` is the shallowest depth
    /// where a body may sit (the unconformity's mean depth).
    pub(crate) fn draw(params: &GeologyParams, draws: &Draws, b: u64, top: f32) -> Option<Self> {
        let base = draws::BODIES + draws::BODY_STRIDE * b;
        if !draws.chance(base, params.body_probability) {
            return None;
        }
        let depth = params.nz as f32 * params.dx;
        let width = params.nx as f32 * params.dx;
        let shape = if draws.chance(base + 1, 0.5) {
            Shape::Dome
        } else {
            Shape::Sill
        };
        let x_centre = draws.between(base + 2, 0.1 * width, 0.9 * width);
        let half_width = draws.within(base + 4, params.body_half_width);
        let tall = draws.within(base + 5, params.body_height);
        let velocity = draws.within(base + 6, params.v_body);
        let (z_centre, height, rise, inv_half_width) = match shape {
            Shape::Dome => {
                let z = draws.between(base + 3, top + 0.1 * (depth - top), depth - 0.6 * tall);
                (z, tall, 0.0, detmath::recip(half_width))
            }
            Shape::Sill => {
                let z = draws.between(base + 3, top + 0.2 * (depth - top), 0.92 * depth);
                let thickness = super::params::max_f32(0.1 * tall, 2.5 * params.dx);
                let rise = draws.between(base + 7, 0.0, 0.8 * tall);
                // Sills are wider than domes.
                (z, thickness, rise, detmath::recip(2.0 * half_width))
            }
        };
        Some(Self {
            shape,
            x_centre,
            z_centre,
            inv_half_width,
            height,
            rise,
            velocity,
        })
    }

    /// Whether `(x, z)` lies inside the body.
    #[inline]
    pub(crate) fn contains(&self, x: f32, z: f32) -> bool {
        let s = (x - self.x_centre) * self.inv_half_width;
        let s2 = s * s;
        match self.shape {
            Shape::Dome => z >= self.z_centre + self.height * s2,
            Shape::Sill => {
                if s2 >= 1.0 {
                    return false;
                }
                let centre_line = self.z_centre - self.rise * s2;
                let half = 0.5 * self.height * (1.0 - s2);
                let offset = z - centre_line;
                offset < half && offset > -half
            }
        }
    }

    /// How far the older package's beds at `x` are lifted by this body (m).
    #[inline]
    pub(crate) fn uplift(&self, x: f32) -> f32 {
        match self.shape {
            Shape::Dome => {
                let s = 0.5 * (x - self.x_centre) * self.inv_half_width;
                0.35 * self.height * detmath::exp(-(s * s))
            }
            Shape::Sill => 0.0,
        }
    }
}
