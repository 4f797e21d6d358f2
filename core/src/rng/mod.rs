//! Counter-based random numbers: Philox4x32-10 and Gaussian variates.
//!
//! Every random number is a pure function of `(seed, stream, index)`, so any noise value
//! can be recomputed independently of threads and evaluation order.
//!
//! ## Mapping
//! - Philox key = `[seed as u32, (seed >> 32) as u32]`.
//! - Philox counter for block `b` of stream `s` =
//!   `[b as u32, (b >> 32) as u32, s as u32, (s >> 32) as u32]`.
//! - Each block yields four `u32` words `w0..w3`. Uniform number `index` of a stream comes
//!   from block `index / 4`, word `index % 4`.
//! - Gaussian number `index` of a stream comes from block `index / 4`: Box–Muller on
//!   `(w0, w1)` gives lanes 0 and 1, on `(w2, w3)` lanes 2 and 3.
//!
//! PLACEHOLDER notes: conversions and Box–Muller use [`crate::detmath`]; the known-answer
//! tests land with issue #2, item 3.

pub mod philox;

pub use philox::philox4x32_10;

use crate::detmath;

/// One independent stream of random numbers: `(seed, stream)` selects it, an index selects
/// a number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoiseStream {
    key: [u32; 2],
    stream: u64,
}

/// 2^-32 as f32 (exact).
const TWO_POW_M32: f32 = 1.0 / 4_294_967_296.0;

/// Maps a `u32` to a uniform number in the open interval (0, 1): `(w + 0.5) · 2^-32`,
/// rounded to f32 (words near 2^32 round to 1.0; Box–Muller handles that).
#[inline]
pub fn u32_to_open01(word: u32) -> f32 {
    // (w >> 8) has 24 bits: exact in f32; + 0.5 keeps it away from 0.
    ((word >> 8) as f32 + 0.5) * (TWO_POW_M32 * 256.0)
}

impl NoiseStream {
    /// The stream `stream` of the generator seeded with `seed`.
    pub const fn new(seed: u64, stream: u64) -> Self {
        Self {
            key: [seed as u32, (seed >> 32) as u32],
            stream,
        }
    }

    /// The four raw words of block `block`.
    #[inline]
    pub fn block(&self, block: u64) -> [u32; 4] {
        philox4x32_10(
            [
                block as u32,
                (block >> 32) as u32,
                self.stream as u32,
                (self.stream >> 32) as u32,
            ],
            self.key,
        )
    }

    /// Uniform number `index` of this stream, in (0, 1).
    #[inline]
    pub fn uniform(&self, index: u64) -> f32 {
        u32_to_open01(self.block(index / 4)[(index % 4) as usize])
    }

    /// Standard normal number `index` of this stream.
    #[inline]
    pub fn gaussian(&self, index: u64) -> f32 {
        let g = gaussian4(self.block(index / 4));
        g[(index % 4) as usize]
    }

    /// Fills `out` with uniform numbers `offset .. offset + out.len()` of this stream.
    pub fn fill_uniform(&self, offset: u64, out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.uniform(offset + i as u64);
        }
    }

    /// Fills `out` with standard normal numbers `offset .. offset + out.len()` of this
    /// stream.
    pub fn fill_gaussian(&self, offset: u64, out: &mut [f32]) {
        let mut i = 0usize;
        while i < out.len() {
            let index = offset + i as u64;
            let lane = (index % 4) as usize;
            let g = gaussian4(self.block(index / 4));
            let take = (4 - lane).min(out.len() - i);
            out[i..i + take].copy_from_slice(&g[lane..lane + take]);
            i += take;
        }
    }
}

/// Box–Muller on two pairs of words: four standard normal numbers.
#[inline]
pub fn gaussian4(words: [u32; 4]) -> [f32; 4] {
    let (a0, a1) = box_muller(words[0], words[1]);
    let (b0, b1) = box_muller(words[2], words[3]);
    [a0, a1, b0, b1]
}

/// Box–Muller transform of two words: `r = √(−2 ln u1)`, `θ = 2π u2`.
#[inline]
fn box_muller(w1: u32, w2: u32) -> (f32, f32) {
    let u1 = u32_to_open01(w1);
    let u2 = u32_to_open01(w2);
    let r = detmath::sqrt(-2.0 * detmath::ln(u1));
    let theta = core::f32::consts::TAU * u2;
    (r * detmath::cos(theta), r * detmath::sin(theta))
}
