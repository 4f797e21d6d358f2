//! Plain reference versions of every layer, on unpadded `channels × height × width`
//! tensors of one batch item: straightforward loops with bounds checks, written from the
//! arithmetic contracts in [`super::conv`], [`super::norm`] and [`super::resample`] and
//! independent of the fast kernels' padded layout, SIMD and tiling. Tests compare the fast
//! path against these bit for bit.

use crate::detmath;

/// Reference convolution (`kernel` 1 or 3, zero padding) of a `cin × h × w` input into a
/// `cout × h × w` output; padding taps contribute `weight × 0`, like the fast path.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    input: &[f32],
    cin: usize,
    h: usize,
    w: usize,
    weight: &[f32],
    bias: &[f32],
    kernel: usize,
    out: &mut [f32],
) {
    let cout = bias.len();
    let r = (kernel / 2) as isize;
    for o in 0..cout {
        for y in 0..h {
            for x in 0..w {
                let mut acc = bias[o];
                for i in 0..cin {
                    for ky in 0..kernel {
                        for kx in 0..kernel {
                            let yy = y as isize + ky as isize - r;
                            let xx = x as isize + kx as isize - r;
                            let inside =
                                yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w;
                            let value = if inside {
                                input[(i * h + yy as usize) * w + xx as usize]
                            } else {
                                0.0
                            };
                            acc += weight[((o * cin + i) * kernel + ky) * kernel + kx] * value;
                        }
                    }
                }
                out[(o * h + y) * w + x] = acc;
            }
        }
    }
}

/// Reference group normalisation (+ optional SiLU) of a `c × h × w` tensor.
#[allow(clippy::too_many_arguments)]
pub fn group_norm(
    input: &[f32],
    c: usize,
    h: usize,
    w: usize,
    groups: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    silu: bool,
    out: &mut [f32],
) {
    let cpg = c / groups;
    let n = cpg * h * w;
    for g in 0..groups {
        let (mean, inv_std) = group_stats(&input[g * n..(g + 1) * n], eps);
        for ch in g * cpg..(g + 1) * cpg {
            let scale = gamma[ch] * inv_std;
            let shift = beta[ch] - mean * scale;
            for i in ch * h * w..(ch + 1) * h * w {
                let y = input[i] * scale + shift;
                out[i] = if silu { detmath::silu(y) } else { y };
            }
        }
    }
}

/// Reference `(mean, inv_std)` of one group's values in the contract's order (value `k`
/// into partial sum `k mod 8`).
pub fn group_stats(values: &[f32], eps: f32) -> (f32, f32) {
    let inv_n = detmath::recip(values.len() as f32);
    let mut partial = [0.0f32; 8];
    for (k, &v) in values.iter().enumerate() {
        partial[k % 8] += v;
    }
    let combine = |s: [f32; 8]| ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    let mean = combine(partial) * inv_n;
    let mut partial = [0.0f32; 8];
    for (k, &v) in values.iter().enumerate() {
        partial[k % 8] += (v - mean) * (v - mean);
    }
    let var = combine(partial) * inv_n;
    (mean, detmath::rsqrt(var + eps))
}

/// Reference 2×2 average pooling of `planes` planes of `h × w`.
pub fn avg_pool2(input: &[f32], planes: usize, h: usize, w: usize, out: &mut [f32]) {
    let (oh, ow) = (h / 2, w / 2);
    for p in 0..planes {
        for y in 0..oh {
            for x in 0..ow {
                let at = |yy: usize, xx: usize| input[(p * h + yy) * w + xx];
                let (a, b) = (at(2 * y, 2 * x), at(2 * y, 2 * x + 1));
                let (c, d) = (at(2 * y + 1, 2 * x), at(2 * y + 1, 2 * x + 1));
                out[(p * oh + y) * ow + x] = ((a + b) + (c + d)) * 0.25;
            }
        }
    }
}

/// Reference nearest up-sampling by 2 of `planes` planes of `h × w`.
pub fn upsample_nearest2(input: &[f32], planes: usize, h: usize, w: usize, out: &mut [f32]) {
    let (oh, ow) = (2 * h, 2 * w);
    for p in 0..planes {
        for y in 0..oh {
            for x in 0..ow {
                out[(p * oh + y) * ow + x] = input[(p * h + y / 2) * w + x / 2];
            }
        }
    }
}

/// Reference F(2×2, 3×3) Winograd convolution ([`super::winograd`]'s contract) of a
/// `cin × h × w` input into a `cout × h × w` output, from weights transformed by
/// [`super::winograd::transform_weights`] (`U[ξ][i][o]`); cells outside the map read as 0.
#[allow(clippy::too_many_arguments)]
pub fn conv3x3_winograd(
    input: &[f32],
    cin: usize,
    h: usize,
    w: usize,
    transformed: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    let cout = bias.len();
    let cell = |i: usize, y: isize, x: isize| {
        if y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w {
            input[(i * h + y as usize) * w + x as usize]
        } else {
            0.0
        }
    };
    for o in 0..cout {
        for ty in 0..h.div_ceil(2) {
            for tx in 0..w.div_ceil(2) {
                let mut m = [0.0f32; 16];
                for i in 0..cin {
                    let mut d = [[0.0f32; 4]; 4];
                    for (r, row) in d.iter_mut().enumerate() {
                        for (c, value) in row.iter_mut().enumerate() {
                            *value = cell(i, (2 * ty + r) as isize - 1, (2 * tx + c) as isize - 1);
                        }
                    }
                    let hh: [[f32; 4]; 4] = core::array::from_fn(|r| {
                        let d = d[r];
                        [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]]
                    });
                    let mut v = [0.0f32; 16];
                    for c in 0..4 {
                        v[c] = hh[0][c] - hh[2][c];
                        v[4 + c] = hh[1][c] + hh[2][c];
                        v[8 + c] = hh[2][c] - hh[1][c];
                        v[12 + c] = hh[1][c] - hh[3][c];
                    }
                    for (xi, mx) in m.iter_mut().enumerate() {
                        let product = transformed[(xi * cin + i) * cout + o] * v[xi];
                        *mx = if i == 0 { product } else { *mx + product };
                    }
                }
                let s: [[f32; 4]; 2] = [
                    core::array::from_fn(|c| m[c] + m[4 + c] + m[8 + c]),
                    core::array::from_fn(|c| m[4 + c] - m[8 + c] - m[12 + c]),
                ];
                for (row, s) in s.iter().enumerate() {
                    let y = 2 * ty + row;
                    let pair = [s[0] + s[1] + s[2] + bias[o], s[1] - s[2] - s[3] + bias[o]];
                    for (col, value) in pair.into_iter().enumerate() {
                        let x = 2 * tx + col;
                        if y < h && x < w {
                            out[(o * h + y) * w + x] = value;
                        }
                    }
                }
            }
        }
    }
}
