//! Measures what a Winograd F(2×2, 3×3) convolution would gain over the core's direct
//! 3 × 3 convolution ([`conv2d`]) on one layer shape, single-threaded: a prototype for
//! planning, not a kernel the network runs.
//!
//! F(2×2, 3×3) computes each 2 × 2 block of outputs from a 4 × 4 input patch with 16
//! multiplications per (input, output) channel pair instead of 36: input patches are
//! transformed (`V = Bᵀ d B`, additions only), the weights once (`U = G g Gᵀ`), then for
//! each of the 16 transform positions ξ a matrix product `M[ξ] = U[ξ] · V[ξ]` sums over
//! the input channels, and `Y = Aᵀ M A` (additions only) gives the outputs. All of it is
//! separate `+ − ×` in a fixed order, so it is as deterministic as the direct loop, but
//! it is a different sum: the bits differ from [`conv2d`]'s documented order (the
//! example reports the largest difference against it).
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo run --release -p powerpost-train --example
//! bench_winograd -- H W IN OUT [BATCH]` (batch 16), e.g. `64 128 32 32`. Needs AVX-512.

use powerpost_core::nn::conv::{conv2d, Conv, Source};
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::simd::Isa;
use powerpost_core::nn::winograd::{
    conv3x3_winograd, transform_weights, transformed_weights_len, winograd_scratch_len,
    WinogradConv,
};
use powerpost_train::exec::Pool;
use std::time::Instant;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Tiles per block (a multiple of 32: the product kernel's two 16-lane vectors).
const BLOCK_TILES: usize = 64;
/// Output channels per register tile of the product kernel.
const TILE_OUT: usize = 8;

/// Winograd convolution of `x` (`batch × cin` padded planes) into `out` (`batch × cout`
/// padded planes, interior written), bias per output channel; returns the seconds spent in
/// the input transform, the products and the output transform.
///
/// # Safety
/// The CPU must support AVX-512F; `x` and `out` must hold `batch × cin` and `batch × cout`
/// planes of `g`, `u` the transformed weights, `bias` `cout` values.
// Index loops mirror the transforms' formulas.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn winograd(
    g: Geometry,
    batch: usize,
    x: &[f32],
    cin: usize,
    u: &[f32],
    bias: &[f32],
    cout: usize,
    out: &mut [f32],
) -> [f64; 3] {
    let (h, w) = (g.height, g.width);
    let (th, tw) = (h / 2, w / 2);
    let stride = g.stride();
    let plane = g.plane_len();
    let tiles = th * tw;
    assert!(
        tiles % BLOCK_TILES == 0 && tw % 16 == 0,
        "W must be a multiple of 32 and H·W of 256"
    );
    // Plane strides padded by one cache line: 16 streams 4 KiB apart would share L1 sets.
    let (vs, ms) = (cin * BLOCK_TILES + 16, cout * BLOCK_TILES + 16);
    let mut v = vec![0.0f32; 16 * vs];
    let mut m = vec![0.0f32; 16 * ms];
    let mut phase = [0.0f64; 3];
    for b in 0..batch {
        for t0 in (0..tiles).step_by(BLOCK_TILES) {
            let c0 = Instant::now();
            // Input transform, 16 tiles of one tile row at a time (W is a multiple of 32).
            let evens =
                _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            for i in 0..cin {
                let xp = x.as_ptr().add((b * cin + i) * plane);
                for k0 in (0..BLOCK_TILES).step_by(16) {
                    let t = t0 + k0;
                    let (ty, tx) = (t / tw, t % tw);
                    let mut hh = [[_mm512_setzero_ps(); 4]; 4];
                    for (r, hr) in hh.iter_mut().enumerate() {
                        let row = xp.add((2 * ty + r) * stride + 2 * tx);
                        let (a0, a1) = (_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(16)));
                        let (b0, b1) = (_mm512_loadu_ps(row.add(2)), _mm512_loadu_ps(row.add(18)));
                        let e0 = _mm512_permutex2var_ps(a0, evens, a1);
                        let o0 = _mm512_permutex2var_ps(a0, odds, a1);
                        let e1 = _mm512_permutex2var_ps(b0, evens, b1);
                        let o1 = _mm512_permutex2var_ps(b0, odds, b1);
                        hr[0] = _mm512_sub_ps(e0, e1);
                        hr[1] = _mm512_add_ps(o0, e1);
                        hr[2] = _mm512_sub_ps(e1, o0);
                        hr[3] = _mm512_sub_ps(o0, o1);
                    }
                    for c in 0..4 {
                        let vp = v.as_mut_ptr().add(i * BLOCK_TILES + k0);
                        let step = vs;
                        _mm512_storeu_ps(vp.add(c * step), _mm512_sub_ps(hh[0][c], hh[2][c]));
                        _mm512_storeu_ps(vp.add((4 + c) * step), _mm512_add_ps(hh[1][c], hh[2][c]));
                        _mm512_storeu_ps(vp.add((8 + c) * step), _mm512_sub_ps(hh[2][c], hh[1][c]));
                        _mm512_storeu_ps(
                            vp.add((12 + c) * step),
                            _mm512_sub_ps(hh[1][c], hh[3][c]),
                        );
                    }
                }
            }
            let c1 = Instant::now();
            // 16 products M[ξ] = U[ξ] · V[ξ] (sum over input channels in order).
            for xi in 0..16 {
                let uxi = &u[xi * cin * cout..][..cin * cout];
                let vxi = &v[xi * vs..][..cin * BLOCK_TILES];
                for o0 in (0..cout).step_by(TILE_OUT) {
                    for k0 in (0..BLOCK_TILES).step_by(32) {
                        let mut acc = [[_mm512_setzero_ps(); 2]; TILE_OUT];
                        for i in 0..cin {
                            let vp = vxi.as_ptr().add(i * BLOCK_TILES + k0);
                            let a = _mm512_loadu_ps(vp);
                            let bb = _mm512_loadu_ps(vp.add(16));
                            let up = uxi.as_ptr().add(i * cout + o0);
                            for (oo, accs) in acc.iter_mut().enumerate() {
                                let s = _mm512_set1_ps(*up.add(oo));
                                accs[0] = _mm512_add_ps(accs[0], _mm512_mul_ps(s, a));
                                accs[1] = _mm512_add_ps(accs[1], _mm512_mul_ps(s, bb));
                            }
                        }
                        for (oo, accs) in acc.iter().enumerate() {
                            let mp = m.as_mut_ptr().add(xi * ms + (o0 + oo) * BLOCK_TILES + k0);
                            _mm512_storeu_ps(mp, accs[0]);
                            _mm512_storeu_ps(mp.add(16), accs[1]);
                        }
                    }
                }
            }
            let c2 = Instant::now();
            // Output transform Y = Aᵀ M A, 16 tiles at a time, interleaved into rows.
            let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            let hi =
                _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            for o in 0..cout {
                let op = out.as_mut_ptr().add((b * cout + o) * plane);
                let bo = _mm512_set1_ps(bias[o]);
                for k0 in (0..BLOCK_TILES).step_by(16) {
                    let mp = m.as_ptr().add(o * BLOCK_TILES + k0);
                    let step = ms;
                    let ld = |xi: usize| _mm512_loadu_ps(mp.add(xi * step));
                    let mut s0 = [_mm512_setzero_ps(); 4];
                    let mut s1 = [_mm512_setzero_ps(); 4];
                    for c in 0..4 {
                        let (m1, m2) = (ld(4 + c), ld(8 + c));
                        s0[c] = _mm512_add_ps(_mm512_add_ps(ld(c), m1), m2);
                        s1[c] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), ld(12 + c));
                    }
                    let row = |s: &[__m512; 4]| {
                        (
                            _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), bo),
                            _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]), bo),
                        )
                    };
                    let t = t0 + k0;
                    let (ty, tx) = (t / tw, t % tw);
                    let base = op.add(g.index(2 * ty, 2 * tx));
                    for (dy, s) in [(0, &s0), (stride, &s1)] {
                        let (y0, y1) = row(s);
                        _mm512_storeu_ps(base.add(dy), _mm512_permutex2var_ps(y0, lo, y1));
                        _mm512_storeu_ps(base.add(dy + 16), _mm512_permutex2var_ps(y0, hi, y1));
                    }
                }
            }
            let c3 = Instant::now();
            phase[0] += (c1 - c0).as_secs_f64();
            phase[1] += (c2 - c1).as_secs_f64();
            phase[2] += (c3 - c2).as_secs_f64();
        }
    }
    phase
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    eprintln!("bench_winograd: x86-64 with AVX-512 only");
    std::process::exit(2);
}

#[cfg(target_arch = "x86_64")]
fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if args.len() < 4 || !is_x86_feature_detected!("avx512f") {
        eprintln!("usage: bench_winograd H W IN OUT [BATCH] (AVX-512 CPUs only)");
        std::process::exit(2);
    }
    let (h, w, cin, cout) = (args[0], args[1], args[2], args[3]);
    let batch = args.get(4).copied().unwrap_or(16);
    let threads = args.get(5).copied().unwrap_or(1);
    let g = Geometry::new(h, w);
    let plane = g.plane_len();
    let mut x = vec![0.0f32; batch * cin * plane];
    for p in 0..batch * cin {
        for yy in 0..h {
            for xx in 0..w {
                x[p * plane + g.index(yy, xx)] = ((p * 13 + yy * 3 + xx) % 17) as f32 * 0.1 - 0.8;
            }
        }
    }
    let weight: Vec<f32> = (0..cout * cin * 9)
        .map(|j| ((j * 7) % 23) as f32 * 0.01 - 0.11)
        .collect();
    let bias1: Vec<f32> = (0..cout).map(|o| o as f32 * 0.01).collect();
    let bias: Vec<f32> = (0..batch).flat_map(|_| bias1.iter().copied()).collect();
    let pool = Pool::new(threads).expect("worker threads");
    let mut direct = vec![0.0f32; batch * cout * plane];
    let mut wino = vec![0.0f32; batch * cout * plane];
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mut td, mut tw_, mut tc) = (Vec::new(), Vec::new(), Vec::new());
    let mut core_out = vec![0.0f32; batch * cout * plane];
    let slots: usize = std::env::var("SLOTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let mut scratch = vec![0.0f32; winograd_scratch_len(g, cin, cout, slots)];
    let mut phases = Vec::new();
    let only_core = std::env::var("ONLY_CORE").is_ok();
    for _ in 0..9 {
        let mut core_winograd = || {
            let start = Instant::now();
            let mut u = vec![0.0f32; transformed_weights_len(cout, cin)];
            transform_weights(&weight, cout, cin, &mut u).expect("sized");
            conv3x3_winograd(
                &pool,
                Isa::detect(),
                g,
                batch,
                &[Source {
                    data: &x,
                    channels: cin,
                }],
                &WinogradConv {
                    out_channels: cout,
                    transformed_weight: &u,
                    bias: &bias,
                    residual: None,
                    residual_scale: 1.0,
                },
                &mut scratch,
                &mut core_out,
            )
            .expect("sized buffers");
            start.elapsed().as_secs_f64()
        };
        if only_core {
            tc.push(core_winograd());
            continue;
        }
        let start = Instant::now();
        conv2d(
            &pool,
            Isa::detect(),
            g,
            batch,
            &[Source {
                data: &x,
                channels: cin,
            }],
            &Conv {
                kernel: 3,
                out_channels: cout,
                weight: &weight,
                bias: &bias,
                residual: None,
                residual_scale: 1.0,
            },
            &mut direct,
        )
        .expect("sized buffers");
        td.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let mut u = vec![0.0f32; transformed_weights_len(cout, cin)];
        transform_weights(&weight, cout, cin, &mut u).expect("sized");
        // SAFETY: AVX-512 checked above.
        phases.push(unsafe { winograd(g, batch, &x, cin, &u, &bias1, cout, &mut wino) });
        tw_.push(start.elapsed().as_secs_f64());
        tc.push(core_winograd());
    }
    if only_core {
        eprintln!(
            "{threads} threads: core winograd {:.2} ms",
            median(tc) * 1e3
        );
        return;
    }
    eprintln!(
        "{threads} threads: direct {:.2} ms, core winograd {:.2} ms",
        median(td.clone()) * 1e3,
        median(tc.clone()) * 1e3
    );
    let (md, mw) = (median(td), median(tw_));
    let phase = |k: usize| median(phases.iter().map(|p| p[k]).collect()) * 1e3;
    let scale = direct.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let err = direct
        .iter()
        .zip(&wino)
        .fold(0.0f32, |a, (p, q)| a.max((p - q).abs()));
    let flops = 2.0 * (batch * h * w * cin * cout * 9) as f64;
    println!(
        "{h}×{w} {cin}→{cout} batch {batch}, 1 thread, medians of 9: direct {:.2} ms ({:.1} GFLOP/s), \
         winograd {:.2} ms (input transform {:.2}, products {:.2}, output transform {:.2}): \
         {:.2}×; max |diff| {:.1e} of max |y| {:.2}",
        md * 1e3,
        flops / md * 1e-9,
        mw * 1e3,
        phase(0),
        phase(1),
        phase(2),
        md / mw,
        err,
        scale
    );
    // The same convolution up to rounding: a wrong transform is off by O(1).
    if err > 1e-5 * scale.max(1.0) {
        eprintln!("bench_winograd: the Winograd result differs from conv2d by {err:e}");
        std::process::exit(1);
    }
}
