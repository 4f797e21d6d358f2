//! An RGB8 raster with clipped drawing and atomic PNG output.

use crate::atomic;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// An RGB image, row-major, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A `width × height` canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: [u8; 3]) -> Self {
        let mut pixels = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            pixels.extend_from_slice(&background);
        }
        Self {
            width,
            height,
            pixels,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The raw RGB bytes, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The colour at `(x, y)` (black outside the canvas).
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        if x >= self.width || y >= self.height {
            return [0, 0, 0];
        }
        let i = (y * self.width + x) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// Sets `(x, y)` to `color` (ignored outside the canvas).
    pub fn set(&mut self, x: usize, y: usize, color: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.pixels[i..i + 3].copy_from_slice(&color);
        }
    }

    /// Fills the rectangle with top-left `(x, y)`, clipped to the canvas.
    pub fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; 3]) {
        let x1 = (x + w).min(self.width);
        let y1 = (y + h).min(self.height);
        for yy in y.min(y1)..y1 {
            for xx in x.min(x1)..x1 {
                let i = (yy * self.width + xx) * 3;
                self.pixels[i..i + 3].copy_from_slice(&color);
            }
        }
    }

    /// Draws a one-pixel rectangle outline.
    pub fn outline(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; 3]) {
        if w == 0 || h == 0 {
            return;
        }
        self.fill_rect(x, y, w, 1, color);
        self.fill_rect(x, y + h - 1, w, 1, color);
        self.fill_rect(x, y, 1, h, color);
        self.fill_rect(x + w - 1, y, 1, h, color);
    }

    /// Encodes the canvas as an 8-bit RGB PNG into `w`.
    ///
    /// # Errors
    /// If `w` fails or the canvas is empty.
    pub fn encode_png(&self, w: &mut dyn Write) -> Result<()> {
        let mut encoder = png::Encoder::new(w, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Best);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header().context("cannot start the PNG")?;
        writer
            .write_image_data(&self.pixels)
            .context("cannot encode the PNG")?;
        writer.finish().context("cannot finish the PNG")?;
        Ok(())
    }

    /// Saves the canvas as a PNG, atomically.
    ///
    /// # Errors
    /// If the file cannot be written; the message names it.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        atomic::write_atomic(path, |w| self.encode_png(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_through_the_decoder() {
        let mut canvas = Canvas::new(7, 5, [10, 20, 30]);
        canvas.fill_rect(2, 1, 3, 2, [200, 100, 0]);
        canvas.fill_rect(5, 4, 10, 10, [1, 2, 3]); // clipped
        let mut bytes = Vec::new();
        canvas.encode_png(&mut bytes).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (7, 5));
        assert_eq!(&buf[..info.buffer_size()], canvas.pixels());
        assert_eq!(canvas.pixel(3, 2), [200, 100, 0]);
        assert_eq!(canvas.pixel(6, 4), [1, 2, 3]);
        assert_eq!(canvas.pixel(0, 0), [10, 20, 30]);
    }
}
