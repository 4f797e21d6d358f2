//! Bitmap text from the public-domain 8×8 font of the `font8x8` crate: ASCII, Latin-1 and
//! Greek (so labels can say λ and α), scaled by whole pixels. No system fonts needed.

use super::canvas::Canvas;
use font8x8::legacy::{BASIC_LEGACY, GREEK_LEGACY, LATIN_LEGACY};

/// Glyph size in font pixels.
pub const GLYPH: usize = 8;

/// The 8×8 bitmap of `c` (row per byte, bit 0 = leftmost pixel); `?` if the font lacks it.
fn glyph(c: char) -> [u8; 8] {
    let code = c as usize;
    let found = match code {
        0..=0x7f => BASIC_LEGACY.get(code),
        0xa0..=0xff => LATIN_LEGACY.get(code - 0xa0),
        0x390..=0x3c9 => GREEK_LEGACY.get(code - 0x390),
        _ => None,
    };
    found.copied().unwrap_or(BASIC_LEGACY[b'?' as usize])
}

/// Width in pixels of `text` at `scale`.
pub fn text_width(text: &str, scale: usize) -> usize {
    text.chars().count() * GLYPH * scale
}

/// Height in pixels of one line at `scale`.
pub fn text_height(scale: usize) -> usize {
    GLYPH * scale
}

/// Draws `text` with its top-left corner at `(x, y)`.
pub fn draw_text(
    canvas: &mut Canvas,
    x: usize,
    y: usize,
    text: &str,
    scale: usize,
    color: [u8; 3],
) {
    for (k, c) in text.chars().enumerate() {
        let bitmap = glyph(c);
        let x0 = x + k * GLYPH * scale;
        for (row, bits) in bitmap.iter().enumerate() {
            for col in 0..GLYPH {
                if bits >> col & 1 == 1 {
                    canvas.fill_rect(x0 + col * scale, y + row * scale, scale, scale, color);
                }
            }
        }
    }
}

/// Draws `text` horizontally centred on `centre_x`.
pub fn draw_text_centred(
    canvas: &mut Canvas,
    centre_x: usize,
    y: usize,
    text: &str,
    scale: usize,
    color: [u8; 3],
) {
    let x = centre_x.saturating_sub(text_width(text, scale) / 2);
    draw_text(canvas, x, y, text, scale, color);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_cover_the_labels_we_need() {
        for c in "ABCxyz0123456789.-+=λα×·".chars() {
            assert_ne!(glyph(c), [0; 8], "missing glyph for {c}");
        }
        assert_eq!(glyph(' '), [0; 8]);
    }

    #[test]
    fn text_lands_inside_its_box() {
        let mut canvas = Canvas::new(40, 20, [255, 255, 255]);
        draw_text(&mut canvas, 2, 3, "Hi", 2, [0, 0, 0]);
        let mut inked = 0;
        for y in 0..20 {
            for x in 0..40 {
                if canvas.pixel(x, y) == [0, 0, 0] {
                    inked += 1;
                    assert!((2..2 + 32).contains(&x) && (3..3 + 16).contains(&y));
                }
            }
        }
        assert!(inked > 20);
    }
}
