//! Smooth horizontal surfaces: the seabed and the erosional unconformity.
//!
//! Both are depth functions `z(x)` built from sinusoids ([`Wave`]). The unconformity may
//! also carry one incised channel: a parabolic cut `depth·(1 − ((x − x_c)/w)²)` where
//! `|x − x_c| < w`, filled later by the younger package.

use super::draws::{self, Draws};
use super::params::GeologyParams;
use crate::detmath;
use core::f32::consts::TAU;

/// One sinusoid `amplitude · sin(wavenumber · x + phase)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Wave {
    /// Amplitude (m).
    pub amplitude: f32,
    /// Angular wavenumber 2π/λ (1/m).
    pub wavenumber: f32,
    /// Phase (radians).
    pub phase: f32,
}

impl Wave {
    /// The wave of `amplitude` and `wavelength` metres with phase `unit_phase · 2π`.
    pub(crate) fn new(amplitude: f32, wavelength: f32, unit_phase: f32) -> Self {
        Self {
            amplitude,
            wavenumber: TAU * detmath::recip(wavelength),
            phase: TAU * unit_phase,
        }
    }

    /// Its value at `x`.
    #[inline]
    pub(crate) fn at(&self, x: f32) -> f32 {
        self.amplitude * detmath::sin(self.wavenumber * x + self.phase)
    }
}

/// The seabed: mean water depth plus a gentle undulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Seabed {
    /// Mean water depth (m).
    pub mean_depth: f32,
    /// Undulation.
    pub wave: Wave,
}

impl Seabed {
    /// Draws the seabed: undulation up to 8 % of the water depth, wavelength 0.5–2 model widths.
    pub(crate) fn draw(params: &GeologyParams, draws: &Draws) -> Self {
        let width = params.nx as f32 * params.dx;
        let mean_depth = draws.within(draws::G_WATER_DEPTH, params.water_depth);
        let amplitude = mean_depth * 0.08 * draws.unit(draws::G_SEABED);
        let wavelength = draws.between(draws::G_SEABED + 1, 0.5 * width, 2.0 * width);
        let wave = Wave::new(amplitude, wavelength, draws.unit(draws::G_SEABED + 2));
        Self { mean_depth, wave }
    }

    /// Water depth at `x`.
    #[inline]
    pub(crate) fn depth(&self, x: f32) -> f32 {
        self.mean_depth + self.wave.at(x)
    }
}

/// The erosional unconformity separating the older, deformed package from the younger one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Unconformity {
    /// Mean depth (m).
    pub mean_depth: f32,
    /// Main relief.
    pub relief: Wave,
    /// Shorter relief, a fifth of the amplitude.
    pub ripple: Wave,
    /// Channel centre (m).
    pub channel_x: f32,
    /// Channel half-width (m); 0 when there is no channel.
    pub channel_half_width: f32,
    /// `recip(channel_half_width)` (0 when there is no channel).
    pub channel_inv_half_width: f32,
    /// Channel depth (m).
    pub channel_depth: f32,
}

impl Unconformity {
    /// Draws the unconformity below a seabed of mean depth `seabed_depth`.
    pub(crate) fn draw(params: &GeologyParams, draws: &Draws, seabed_depth: f32) -> Self {
        let depth = params.nz as f32 * params.dx;
        let width = params.nx as f32 * params.dx;
        let g = draws::G_UNCONFORMITY;
        let fraction = draws.within(g + 1, params.unconformity_depth);
        let mean_depth = seabed_depth + fraction * (depth - seabed_depth);
        let amplitude = draws.within(g + 2, params.erosion_relief);
        let wavelength = draws.between(g + 3, 0.3 * width, 1.0 * width);
        let relief = Wave::new(amplitude, wavelength, draws.unit(g + 4));
        let ripple = Wave::new(0.2 * amplitude, wavelength * 0.37, draws.unit(g + 5));
        let c = draws::G_CHANNEL;
        let (channel_x, channel_half_width, channel_depth) = if draws.chance(c, 0.4) {
            let relief_max = params.erosion_relief.max;
            (
                draws.between(c + 1, 0.1 * width, 0.9 * width),
                draws.between(c + 2, 0.04 * width, 0.1 * width),
                draws.between(c + 3, 1.0 * relief_max, 2.5 * relief_max),
            )
        } else {
            (0.0, 0.0, 0.0)
        };
        let channel_inv_half_width = if channel_half_width > 0.0 {
            detmath::recip(channel_half_width)
        } else {
            0.0
        };
        Self {
            mean_depth,
            relief,
            ripple,
            channel_x,
            channel_half_width,
            channel_inv_half_width,
            channel_depth,
        }
    }

    /// Depth of the unconformity at `x`.
    #[inline]
    pub(crate) fn depth(&self, x: f32) -> f32 {
        let mut z = self.mean_depth + self.relief.at(x) + self.ripple.at(x);
        if self.channel_half_width > 0.0 {
            let s = (x - self.channel_x) * self.channel_inv_half_width;
            let cut = 1.0 - s * s;
            if cut > 0.0 {
                z += self.channel_depth * cut;
            }
        }
        z
    }
}
