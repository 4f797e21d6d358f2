//! Gentle folding and regional dip of the older package.
//!
//! A bed deposited flat at depth `u` now lies at `z = u + F(x) + tan(dip)·(x − W/2)`, where
//! `F` is a main sinusoidal fold plus one shorter harmonic. Restoring a point is the inverse,
//! `u = z − F(x) − tan(dip)·(x − W/2)`, exact because the displacement is vertical.

use super::draws::{self, Draws};
use super::params::GeologyParams;
use super::surfaces::Wave;
use crate::detmath;
use core::f32::consts::PI;

/// Degrees to radians.
pub(crate) const DEGREE: f32 = PI / 180.0;

/// tan(angle) for an angle in radians.
pub(crate) fn tan(angle: f32) -> f32 {
    detmath::div(detmath::sin(angle), detmath::cos(angle))
}

/// A drawn fold with regional dip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fold {
    /// Main fold.
    pub main: Wave,
    /// Shorter harmonic (0–40 % of the main amplitude, 0.25–0.5 of its wavelength).
    pub harmonic: Wave,
    /// tan(regional dip).
    pub tan_dip: f32,
    /// Half the model's width (m): the dip pivots about the centre.
    pub pivot: f32,
}

impl Fold {
    /// Draws the fold and the regional dip.
    pub(crate) fn draw(params: &GeologyParams, draws: &Draws) -> Self {
        let g = draws::G_FOLD;
        let amplitude = draws.within(g, params.fold_amplitude);
        let wavelength = draws.within(g + 1, params.fold_wavelength);
        let main = Wave::new(amplitude, wavelength, draws.unit(g + 2));
        let harmonic = Wave::new(
            amplitude * draws.between(g + 3, 0.0, 0.4),
            wavelength * draws.between(g + 4, 0.25, 0.5),
            draws.unit(g + 5),
        );
        let dip = draws.between(
            draws::G_DIP,
            -params.max_dip_degrees,
            params.max_dip_degrees,
        );
        let pivot = 0.5 * params.nx as f32 * params.dx;
        Self {
            main,
            harmonic,
            tan_dip: tan(dip * DEGREE),
            pivot,
        }
    }

    /// The fold's vertical displacement at `x` (positive = deeper).
    #[inline]
    pub(crate) fn displacement(&self, x: f32) -> f32 {
        self.main.at(x) + self.harmonic.at(x) + self.tan_dip * (x - self.pivot)
    }

    /// Depositional depth of the point now at `(x, z)`.
    #[inline]
    pub(crate) fn restore(&self, x: f32, z: f32) -> f32 {
        z - self.displacement(x)
    }

    /// Largest |displacement| anywhere in a model of width `2·pivot`.
    pub(crate) fn max_displacement(&self) -> f32 {
        let amplitudes = super::params::abs_f32(self.main.amplitude)
            + super::params::abs_f32(self.harmonic.amplitude);
        amplitudes + super::params::abs_f32(self.tan_dip) * self.pivot
    }
}
