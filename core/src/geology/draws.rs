//! Where each random number of a model comes from.
//!
//! Model `index` of `seed` reads only the stream `NoiseStream::new(seed, index)`, so any
//! model can be regenerated alone, in any order, on any thread. Inside the stream every
//! random quantity has its own fixed index (the table below), so adding a fault or a layer
//! never shifts the numbers that other features read. Uniform and Gaussian numbers share
//! the stream's index space (the same Philox blocks), so their ranges are disjoint and
//! start on multiples of 4.
//!
//! | indices | kind | what |
//! |---|---|---|
//! | `0..64` | uniform | global scalars, see the `G_*` constants |
//! | `64 + 8·k + j`, `k < 8`, `j < 8` | uniform | fault `k`, see the `F_*` offsets |
//! | `128 + 16·b + j`, `b < 4`, `j < 16` | uniform | body `b`, see the `B_*` offsets |
//! | `1024 + 4·i + j`, `i < 128`, `j < 4` | uniform | layer `i` of the younger (upper) package |
//! | `2048 + 4·i + j`, `i < 128`, `j < 4` | uniform | layer `i` of the older (lower) package |
//! | `4096 + i`, `i < 128` | Gaussian | velocity offset of upper layer `i` |
//! | `4608 + i`, `i < 128` | Gaussian | velocity offset of lower layer `i` |
//!
//! Per-layer uniform offsets `j`: 0 thickness, 1 "hard streak" test, 2 hard-streak size,
//! 3 lateral velocity gradient.

use super::params::Interval;
use crate::rng::NoiseStream;

/// Water depth.
pub(crate) const G_WATER_DEPTH: u64 = 0;
/// Seabed undulation amplitude, wavelength, phase.
pub(crate) const G_SEABED: u64 = 1;
/// Trend: velocity below the seabed, at the base, curvature.
pub(crate) const G_TREND: u64 = 4;
/// Regional dip of the older package.
pub(crate) const G_DIP: u64 = 7;
/// Fold: amplitude, wavelength, phase, second-harmonic amplitude ratio, wavelength ratio, phase.
pub(crate) const G_FOLD: u64 = 8;
/// Unconformity: present?, depth fraction, relief amplitude, wavelength, phase, second phase.
pub(crate) const G_UNCONFORMITY: u64 = 14;
/// Channel cut into the unconformity: present?, position, half-width, depth.
pub(crate) const G_CHANNEL: u64 = 20;
/// Velocity jump across the unconformity.
pub(crate) const G_JUMP: u64 = 24;
/// Younger package: tilt, drape over the unconformity.
pub(crate) const G_UPPER: u64 = 25;
/// Number of faults.
pub(crate) const G_FAULT_COUNT: u64 = 27;
/// Start offsets of the upper and lower layer tables.
pub(crate) const G_LAYER_START: u64 = 29;

/// First index of the fault draws.
pub(crate) const FAULTS: u64 = 64;
/// Stride between faults.
pub(crate) const FAULT_STRIDE: u64 = 8;
/// First index of the body draws.
pub(crate) const BODIES: u64 = 128;
/// Stride between bodies.
pub(crate) const BODY_STRIDE: u64 = 16;
/// First uniform index of the upper package's layers.
pub(crate) const UPPER_LAYERS: u64 = 1024;
/// First uniform index of the lower package's layers.
pub(crate) const LOWER_LAYERS: u64 = 2048;
/// Uniform indices per layer.
pub(crate) const LAYER_STRIDE: u64 = 4;
/// First Gaussian index of the upper package's layer offsets.
pub(crate) const UPPER_GAUSS: u64 = 4096;
/// First Gaussian index of the lower package's layer offsets.
pub(crate) const LOWER_GAUSS: u64 = 4608;

/// The random numbers of one model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draws {
    stream: NoiseStream,
}

impl Draws {
    /// The draws of model `index` of `seed`.
    pub(crate) const fn new(seed: u64, index: u64) -> Self {
        Self {
            stream: NoiseStream::new(seed, index),
        }
    }

    /// Uniform number `i`, in (0, 1).
    pub(crate) fn unit(&self, i: u64) -> f32 {
        self.stream.uniform(i)
    }

    /// Uniform number `i` mapped onto `range`.
    pub(crate) fn within(&self, i: u64, range: Interval) -> f32 {
        range.min + (range.max - range.min) * self.unit(i)
    }

    /// Uniform number `i` mapped onto `[lo, hi]`.
    pub(crate) fn between(&self, i: u64, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit(i)
    }

    /// `true` with probability `p`.
    pub(crate) fn chance(&self, i: u64, p: f32) -> bool {
        self.unit(i) < p
    }

    /// An integer uniform in `min..=max` (`min ≤ max`).
    pub(crate) fn count(&self, i: u64, min: usize, max: usize) -> usize {
        let span = max - min + 1;
        // Truncation of a number in [0, span) is exact and portable; the `min` guards the
        // rounding of values just below 1.
        let k = (self.unit(i) * span as f32) as usize;
        min + if k < span { k } else { span - 1 }
    }

    /// −1 or +1 with equal probability.
    pub(crate) fn sign(&self, i: u64) -> f32 {
        if self.unit(i) < 0.5 {
            -1.0
        } else {
            1.0
        }
    }

    /// Standard normal number `i`.
    pub(crate) fn gaussian(&self, i: u64) -> f32 {
        self.stream.gaussian(i)
    }
}
