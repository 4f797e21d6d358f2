//! Layer tables: the stacking of beds in one stratigraphic package.
//!
//! A package is a sequence of beds in depositional depth `u` (metres, increasing downward).
//! Bed `i` spans `[top_i, top_{i+1})` with thickness drawn from the parameters; it carries a
//! velocity offset from the compaction trend (which the caller evaluates mostly at the
//! bed's middle, so that beds look blocky) (Gaussian, σ = `layer_contrast`; 8 % of beds
//! are "hard streaks" — limestone or cemented sandstone — with an extra +2σ..+4σ) and a
//! gentle lateral gradient (±σ/2 across the model). Points above the first top belong to
//! bed 0; below the last top to the last bed. Lookup is a binary search over the tops.

use super::draws::{self, Draws};
use super::params::{GeologyParams, MAX_LAYERS};

/// The beds of one package.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LayerTable {
    /// Top of each bed in depositional depth (m), strictly increasing.
    tops: [f32; MAX_LAYERS],
    /// Middle of each bed in depositional depth (m).
    mids: [f32; MAX_LAYERS],
    /// Velocity offset of each bed from the trend (km/s).
    offset: [f32; MAX_LAYERS],
    /// Velocity change of each bed across the model's width (km/s).
    lateral: [f32; MAX_LAYERS],
    /// Number of beds in use (1..=MAX_LAYERS).
    len: usize,
}

/// Which package a table belongs to (selects its random numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Package {
    /// The younger package above the unconformity.
    Upper,
    /// The older, deformed package.
    Lower,
}

impl LayerTable {
    /// Draws beds from `start` down past `end` (or until [`MAX_LAYERS`]).
    pub(crate) fn draw(
        params: &GeologyParams,
        draws: &Draws,
        package: Package,
        start: f32,
        end: f32,
    ) -> Self {
        let (uniform, gauss) = match package {
            Package::Upper => (draws::UPPER_LAYERS, draws::UPPER_GAUSS),
            Package::Lower => (draws::LOWER_LAYERS, draws::LOWER_GAUSS),
        };
        let sigma = params.layer_contrast;
        let mut table = Self {
            tops: [0.0; MAX_LAYERS],
            mids: [0.0; MAX_LAYERS],
            offset: [0.0; MAX_LAYERS],
            lateral: [0.0; MAX_LAYERS],
            len: 0,
        };
        let mut top = start;
        for i in 0..MAX_LAYERS {
            let u = uniform + draws::LAYER_STRIDE * i as u64;
            table.tops[i] = top;
            let mut offset = sigma * draws.gaussian(gauss + i as u64);
            if draws.chance(u + 1, 0.08) {
                offset += sigma * draws.between(u + 2, 2.0, 4.0);
            }
            table.offset[i] = offset;
            table.lateral[i] = sigma * draws.between(u + 3, -0.5, 0.5);
            table.len = i + 1;
            let thickness = draws.within(u, params.layer_thickness);
            table.mids[i] = top + 0.5 * thickness;
            top += thickness;
            if top > end {
                break;
            }
        }
        table
    }

    /// Number of beds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Index of the bed at depositional depth `u`.
    #[inline]
    pub(crate) fn bed_at(&self, u: f32) -> usize {
        // Largest i with tops[i] <= u, or 0. Invariant: tops[lo] <= u (or lo == 0), and
        // every index >= hi has tops > u.
        let (mut lo, mut hi) = (0usize, self.len);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.tops.get(mid).is_some_and(|&t| t <= u) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Middle of bed `bed` in depositional depth (m).
    #[inline]
    pub(crate) fn mid(&self, bed: usize) -> f32 {
        self.mids.get(bed).copied().unwrap_or(0.0)
    }

    /// Velocity offset of bed `bed` at horizontal fraction `xf` (0 left edge, 1 right edge).
    #[inline]
    pub(crate) fn offset(&self, bed: usize, xf: f32) -> f32 {
        let offset = self.offset.get(bed).copied().unwrap_or(0.0);
        let lateral = self.lateral.get(bed).copied().unwrap_or(0.0);
        offset + lateral * (xf - 0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_search_matches_a_linear_scan() {
        let params = GeologyParams::new(64, 128, 25.0);
        let draws = Draws::new(11, 5);
        let table = LayerTable::draw(&params, &draws, Package::Lower, -300.0, 2000.0);
        assert!(table.len() > 10 && table.len() < MAX_LAYERS);
        for k in 0..5000 {
            let u = -500.0 + k as f32 * 0.57;
            let naive = (0..table.len)
                .rev()
                .find(|&i| table.tops[i] <= u)
                .unwrap_or(0);
            assert_eq!(table.bed_at(u), naive, "u = {u}");
        }
    }

    #[test]
    fn beds_cover_the_requested_range_with_drawn_thicknesses() {
        let params = GeologyParams::new(256, 256, 12.5);
        let table = LayerTable::draw(&params, &Draws::new(1, 2), Package::Upper, -50.0, 3000.0);
        let n = table.len();
        assert_eq!(table.tops[0], -50.0);
        for i in 1..n {
            let thickness = table.tops[i] - table.tops[i - 1];
            assert!(
                thickness >= params.layer_thickness.min * 0.999
                    && thickness <= params.layer_thickness.max * 1.001
            );
        }
        // The last bed starts within one maximum thickness of the end.
        assert!(table.tops[n - 1] + params.layer_thickness.max >= 3000.0);
    }
}
