//! Counter-based random numbers: Philox4x32-10 and Gaussian variates.
//!
//! Every random number is a pure function of `(seed, stream, index)`, so any noise value
//! can be recomputed independently of threads and evaluation order, on CPU or GPU.
//!
//! ## Mapping
//! - Philox key = `[seed as u32, (seed >> 32) as u32]`.
//! - Philox counter for block `b` of stream `s` =
//!   `[b as u32, (b >> 32) as u32, s as u32, (s >> 32) as u32]`.
//! - Each block yields four `u32` words `w0..w3`. Number `index` of a stream (uniform or
//!   Gaussian) comes from block `index / 4`, lane `index % 4`. Indices are `u64`; the
//!   `fill_*` functions take `offset + i` modulo 2^64.
//! - Uniform number: [`u32_to_open01`] of word `w[lane]`.
//! - Gaussian numbers: Box–Muller on `(w0, w1)` gives lanes 0 and 1, on `(w2, w3)`
//!   lanes 2 and 3 (see [`gaussian4`]).
//!
//! ## Uniform conversion
//! [`u32_to_open01`] maps a word `w` to the midpoint of the interval of words that map to
//! the same value, so every output is exact in f32 and the result is never 0 or 1:
//! - `w < 2^23`: `(w + 0.5) · 2^−32` — a fine grid near 0 (down to `2^−33`), which gives
//!   Box–Muller its tail;
//! - `w ≥ 2^23`: `(⌊w / 2^9⌋ + 0.5) · 2^−23` — a grid of `2^−23`, the largest value being
//!   `1 − 2^−24`.
//!
//! Both branches are exact (`≤ 24` significant bits), so the conversion is the same on any
//! IEEE machine (GLSL: `w < 0x800000u ? (float(w) + 0.5) * 0x1p-32 : (float(w >> 9) + 0.5)
//! * 0x1p-23`).
//!
//! ## Box–Muller
//! `r = sqrt(−2 · ln u1)`, `(s, c) = sin_cos(2π · u2)` and the pair `(r·c, r·s)`, all
//! through [`crate::detmath`] (bit-exact, portable). Since `u1 ∈ [2^−33, 1 − 2^−24]`,
//! `ln u1 < 0` strictly, and `|gaussian| ≤ sqrt(66 · ln 2) ≈ 6.76` (the exact normal
//! exceeds that with probability `1.4·10^−11`).

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

/// 2^−32 as f32 (exact).
const TWO_POW_M32: f32 = 1.0 / 4_294_967_296.0;
/// 2^−23 as f32 (exact).
const TWO_POW_M23: f32 = 1.0 / 8_388_608.0;
/// Words below this use the fine grid.
const FINE_GRID_WORDS: u32 = 1 << 23;

/// Maps a `u32` to a uniform number in the open interval (0, 1), exactly (see the
/// module docs): never 0, never 1.
#[inline]
pub fn u32_to_open01(word: u32) -> f32 {
    if word < FINE_GRID_WORDS {
        // w < 2^23: w + 0.5 has at most 24 significant bits.
        (word as f32 + 0.5) * TWO_POW_M32
    } else {
        // w >> 9 < 2^23: (w >> 9) + 0.5 has at most 24 significant bits.
        ((word >> 9) as f32 + 0.5) * TWO_POW_M23
    }
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
        let words = self.block(index / 4);
        u32_to_open01(words[(index % 4) as usize])
    }

    /// Standard normal number `index` of this stream.
    #[inline]
    pub fn gaussian(&self, index: u64) -> f32 {
        let g = gaussian4(self.block(index / 4));
        g[(index % 4) as usize]
    }

    /// Fills `out` with uniform numbers `offset .. offset + out.len()` (indices modulo
    /// 2^64) of this stream.
    pub fn fill_uniform(&self, offset: u64, out: &mut [f32]) {
        let mut words = self.block(offset / 4);
        for (i, o) in out.iter_mut().enumerate() {
            let index = offset.wrapping_add(i as u64);
            if i > 0 && index & 3 == 0 {
                words = self.block(index / 4);
            }
            *o = u32_to_open01(words[(index % 4) as usize]);
        }
    }

    /// Fills `out` with standard normal numbers `offset .. offset + out.len()` (indices
    /// modulo 2^64) of this stream.
    pub fn fill_gaussian(&self, offset: u64, out: &mut [f32]) {
        let mut g = gaussian4(self.block(offset / 4));
        for (i, o) in out.iter_mut().enumerate() {
            let index = offset.wrapping_add(i as u64);
            if i > 0 && index & 3 == 0 {
                g = gaussian4(self.block(index / 4));
            }
            *o = g[(index % 4) as usize];
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

/// Box–Muller transform of two words: `r = √(−2 ln u1)`, `θ = 2π u2`, `(r cos θ, r sin θ)`.
#[inline]
fn box_muller(w1: u32, w2: u32) -> (f32, f32) {
    let u1 = u32_to_open01(w1);
    let u2 = u32_to_open01(w2);
    let r = detmath::sqrt(-2.0 * detmath::ln(u1));
    let theta = core::f32::consts::TAU * u2;
    let (sin_theta, cos_theta) = detmath::sin_cos(theta);
    (r * cos_theta, r * sin_theta)
}

#[cfg(test)]
mod tests;
