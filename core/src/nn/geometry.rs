//! The activation layout: planar channels with a one-pixel zero border.
//!
//! A tensor of `channels` channels at `height × width` is stored channel after channel;
//! each channel is a plane of `(height + 2) × (width + 2)` values whose outer ring is zero.
//! Batches store whole tensors one after the other. The zero ring is the 3×3
//! convolutions' zero padding: with it, every output pixel reads its nine neighbours at
//! fixed offsets `±stride ± 1` and the kernels need no edge cases. Every kernel that
//! writes a tensor leaves the ring zero.

/// Height and width of a feature map (the interior, without the zero ring).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Interior rows.
    pub height: usize,
    /// Interior columns.
    pub width: usize,
}

impl Geometry {
    /// A feature map of `height × width` interior pixels.
    pub const fn new(height: usize, width: usize) -> Self {
        Self { height, width }
    }

    /// Distance between vertically adjacent values: `width + 2`.
    #[inline]
    pub const fn stride(&self) -> usize {
        self.width + 2
    }

    /// Values in one padded plane: `(height + 2) × (width + 2)`.
    #[inline]
    pub const fn plane_len(&self) -> usize {
        (self.height + 2) * (self.width + 2)
    }

    /// Index of interior pixel `(y, x)` inside a plane.
    #[inline]
    pub const fn index(&self, y: usize, x: usize) -> usize {
        (y + 1) * self.stride() + x + 1
    }

    /// Values in a tensor of `channels` channels.
    #[inline]
    pub const fn tensor_len(&self, channels: usize) -> usize {
        channels * self.plane_len()
    }

    /// The geometry one level down (half height and width).
    #[inline]
    pub const fn half(&self) -> Self {
        Self::new(self.height / 2, self.width / 2)
    }

    /// The geometry one level up (double height and width).
    #[inline]
    pub const fn double(&self) -> Self {
        Self::new(self.height * 2, self.width * 2)
    }

    /// Interior pixels per plane.
    #[inline]
    pub const fn pixels(&self) -> usize {
        self.height * self.width
    }
}

/// Copies an unpadded `height × width` image into the interior of a padded plane and zeroes
/// the ring. `plane.len()` must be `geometry.plane_len()`.
pub fn pad_into(geometry: Geometry, image: &[f32], plane: &mut [f32]) {
    plane.fill(0.0);
    let w = geometry.width;
    for (y, row) in image.chunks_exact(w).enumerate().take(geometry.height) {
        let start = geometry.index(y, 0);
        plane[start..start + w].copy_from_slice(row);
    }
}

/// Copies the interior of a padded plane into an unpadded `height × width` image.
pub fn unpad_from(geometry: Geometry, plane: &[f32], image: &mut [f32]) {
    let w = geometry.width;
    for (y, row) in image.chunks_exact_mut(w).enumerate().take(geometry.height) {
        let start = geometry.index(y, 0);
        row.copy_from_slice(&plane[start..start + w]);
    }
}

/// Sets the zero ring of rows `y0..y1` of a plane: the left and right border cells of each
/// of those rows, plus the top border row if `y0 == 0` and the bottom one if
/// `y1 == height`.
#[inline]
pub fn zero_ring_rows(geometry: Geometry, plane: &mut [f32], y0: usize, y1: usize) {
    let s = geometry.stride();
    if y0 == 0 {
        plane[..s].fill(0.0);
    }
    if y1 == geometry.height {
        let start = (geometry.height + 1) * s;
        plane[start..start + s].fill(0.0);
    }
    for y in y0..y1 {
        plane[(y + 1) * s] = 0.0;
        plane[(y + 1) * s + geometry.width + 1] = 0.0;
    }
}
