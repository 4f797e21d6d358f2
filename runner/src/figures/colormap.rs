//! Colour maps: perceptual viridis for velocities, diverging red–white–blue and grey for
//! seismic images. Each is a table of control colours interpolated linearly in sRGB.

/// A colour map from `[0, 1]` to RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colormap {
    /// Perceptually uniform dark purple → blue → green → yellow (matplotlib's viridis,
    /// sampled at eleven points); for velocities.
    Viridis,
    /// Diverging dark blue → blue → white → red → dark red (matplotlib's `seismic`); for
    /// seismic gathers and RTM images, zero is white.
    Seismic,
    /// Black → white; for seismic images, zero is mid-grey.
    Grey,
}

/// Viridis at 0, 0.1, ..., 1.
const VIRIDIS: [[u8; 3]; 11] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x24, 0x75],
    [0x41, 0x44, 0x87],
    [0x35, 0x5f, 0x8d],
    [0x2a, 0x78, 0x8e],
    [0x21, 0x91, 0x8c],
    [0x22, 0xa8, 0x84],
    [0x44, 0xbf, 0x70],
    [0x7a, 0xd1, 0x51],
    [0xbd, 0xdf, 0x26],
    [0xfd, 0xe7, 0x25],
];

/// matplotlib `seismic` at 0, 0.25, 0.5, 0.75, 1.
const SEISMIC: [[u8; 3]; 5] = [
    [0, 0, 77],
    [0, 0, 255],
    [255, 255, 255],
    [255, 0, 0],
    [128, 0, 0],
];

/// Black to white.
const GREY: [[u8; 3]; 2] = [[0, 0, 0], [255, 255, 255]];

/// Colour shown for NaN or infinite values.
pub const INVALID: [u8; 3] = [255, 0, 255];

impl Colormap {
    /// The colour at `t` (clamped to `[0, 1]`; NaN gives [`INVALID`]).
    pub fn rgb(self, t: f32) -> [u8; 3] {
        if t.is_nan() {
            return INVALID;
        }
        let table: &[[u8; 3]] = match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Seismic => &SEISMIC,
            Colormap::Grey => &GREY,
        };
        let x = t.clamp(0.0, 1.0) * (table.len() - 1) as f32;
        let i = (x as usize).min(table.len() - 2);
        let f = x - i as f32;
        let (a, b) = (table[i], table[i + 1]);
        let mix = |k: usize| (a[k] as f32 + (b[k] as f32 - a[k] as f32) * f).round() as u8;
        [mix(0), mix(1), mix(2)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_points_and_midpoints() {
        assert_eq!(Colormap::Viridis.rgb(0.0), VIRIDIS[0]);
        assert_eq!(Colormap::Viridis.rgb(1.0), VIRIDIS[10]);
        assert_eq!(Colormap::Viridis.rgb(-3.0), VIRIDIS[0]);
        assert_eq!(Colormap::Viridis.rgb(0.5), VIRIDIS[5]);
        assert_eq!(Colormap::Seismic.rgb(0.5), [255, 255, 255]);
        assert_eq!(Colormap::Grey.rgb(0.5), [128, 128, 128]);
        assert_eq!(Colormap::Grey.rgb(f32::NAN), INVALID);
    }

    #[test]
    fn viridis_lightness_increases() {
        // Perceptual maps rise monotonically in luminance (Rec. 709 weights as a proxy).
        let luma = |c: [u8; 3]| 0.2126 * c[0] as f32 + 0.7152 * c[1] as f32 + 0.0722 * c[2] as f32;
        let mut last = -1.0;
        for i in 0..=100 {
            let l = luma(Colormap::Viridis.rgb(i as f32 / 100.0));
            assert!(l >= last - 0.5, "luminance drops at {i}");
            last = l;
        }
    }
}
