//! The fast kernels against the plain reference layers, bit for bit, for every
//! instruction set and several thread counts.

extern crate std;
use std::vec;
use std::vec::Vec;

use super::conv::{conv2d, Conv, Source};
use super::geometry::{pad_into, unpad_from, Geometry};
use super::linear::linear;
use super::norm::{group_norm, group_norm_stats_len, group_norm_with_stats, GroupNorm};
use super::reference;
use super::resample::{avg_pool2, upsample_nearest2};
use super::simd::Isa;
use crate::exec::Serial;
use crate::test_util::{gaussian, Threads};

fn pad_tensor(g: Geometry, channels: usize, data: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; g.tensor_len(channels)];
    for c in 0..channels {
        pad_into(
            g,
            &data[c * g.pixels()..(c + 1) * g.pixels()],
            &mut out[c * g.plane_len()..(c + 1) * g.plane_len()],
        );
    }
    out
}

fn unpad_tensor(g: Geometry, channels: usize, data: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; channels * g.pixels()];
    for c in 0..channels {
        unpad_from(
            g,
            &data[c * g.plane_len()..(c + 1) * g.plane_len()],
            &mut out[c * g.pixels()..(c + 1) * g.pixels()],
        );
    }
    out
}

fn assert_ring_zero(g: Geometry, channels: usize, data: &[f32]) {
    for c in 0..channels {
        let plane = &data[c * g.plane_len()..(c + 1) * g.plane_len()];
        for y in 0..g.height + 2 {
            for x in 0..g.width + 2 {
                if y == 0 || x == 0 || y == g.height + 1 || x == g.width + 1 {
                    assert_eq!(
                        plane[y * g.stride() + x].to_bits(),
                        0,
                        "ring not zero at c{c} ({y},{x})"
                    );
                }
            }
        }
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn conv_matches_reference_bit_for_bit() {
    // (h, w, channels of source 0, channels of source 1, out channels, kernel, residual)
    let cases = [
        (8, 16, 5, 0, 9, 3, false),
        (6, 10, 3, 4, 6, 3, true),
        (1, 3, 2, 0, 5, 3, false),
        (5, 7, 6, 2, 4, 1, false),
        (16, 24, 8, 8, 16, 3, true),
        (2, 2, 1, 0, 1, 3, false),
        // Several input-channel chunks and a shifted last tile.
        (5, 13, 20, 6, 8, 3, true),
        (3, 29, 17, 0, 5, 1, true),
        // 16-lane tiles of 8, then 4, then 1 output channels (13 = 8 + 4 + 1).
        (4, 40, 7, 0, 13, 3, false),
    ];
    for (case, &(h, w, c0, c1, cout, k, residual)) in cases.iter().enumerate() {
        let g = Geometry::new(h, w);
        let batch = 2;
        let cin = c0 + c1;
        let x0 = gaussian(10 + case as u64, batch * c0 * g.pixels());
        let x1 = gaussian(20 + case as u64, batch * c1 * g.pixels());
        let weight = gaussian(30 + case as u64, cout * cin * k * k);
        let bias = gaussian(40 + case as u64, batch * cout);
        let res = gaussian(50 + case as u64, batch * cout * g.pixels());
        let scale = 0.625;
        // Reference: per batch item on unpadded, concatenated input.
        let mut expected = Vec::new();
        for b in 0..batch {
            let mut input = x0[b * c0 * g.pixels()..(b + 1) * c0 * g.pixels()].to_vec();
            input.extend_from_slice(&x1[b * c1 * g.pixels()..(b + 1) * c1 * g.pixels()]);
            let mut out = vec![0.0; cout * g.pixels()];
            reference::conv2d(
                &input,
                cin,
                h,
                w,
                &weight,
                &bias[b * cout..(b + 1) * cout],
                k,
                &mut out,
            );
            if residual {
                for (o, r) in out
                    .iter_mut()
                    .zip(&res[b * cout * g.pixels()..(b + 1) * cout * g.pixels()])
                {
                    *o = (*o + r) * scale;
                }
            }
            expected.extend(out);
        }
        let p0: Vec<f32> = (0..batch)
            .flat_map(|b| pad_tensor(g, c0, &x0[b * c0 * g.pixels()..(b + 1) * c0 * g.pixels()]))
            .collect();
        let p1: Vec<f32> = (0..batch)
            .flat_map(|b| pad_tensor(g, c1, &x1[b * c1 * g.pixels()..(b + 1) * c1 * g.pixels()]))
            .collect();
        let pres: Vec<f32> = (0..batch)
            .flat_map(|b| {
                pad_tensor(
                    g,
                    cout,
                    &res[b * cout * g.pixels()..(b + 1) * cout * g.pixels()],
                )
            })
            .collect();
        let mut sources = vec![Source {
            data: &p0,
            channels: c0,
        }];
        if c1 > 0 {
            sources.push(Source {
                data: &p1,
                channels: c1,
            });
        }
        for isa in Isa::all_supported() {
            for threads in [1, 2, 3] {
                let mut out = vec![f32::NAN; batch * g.tensor_len(cout)];
                let conv = Conv {
                    kernel: k,
                    out_channels: cout,
                    weight: &weight,
                    bias: &bias,
                    residual: residual.then_some(&pres[..]),
                    residual_scale: scale,
                };
                conv2d(&Threads(threads), isa, g, batch, &sources, &conv, &mut out).unwrap();
                assert_ring_zero(g, batch * cout, &out);
                let got: Vec<f32> = (0..batch)
                    .flat_map(|b| {
                        unpad_tensor(
                            g,
                            cout,
                            &out[b * g.tensor_len(cout)..(b + 1) * g.tensor_len(cout)],
                        )
                    })
                    .collect();
                assert_eq!(
                    bits(&got),
                    bits(&expected),
                    "case {case} isa {isa:?} threads {threads}"
                );
            }
        }
    }
}

#[test]
fn group_norm_matches_reference_bit_for_bit() {
    let cases = [
        (8, 16, 8, 0, 2),
        (5, 7, 6, 6, 3),
        (16, 24, 12, 4, 4),
        (1, 1, 4, 0, 4),
    ];
    for (case, &(h, w, c0, c1, groups)) in cases.iter().enumerate() {
        let g = Geometry::new(h, w);
        let batch = 2;
        let c = c0 + c1;
        let x0: Vec<f32> = gaussian(60 + case as u64, batch * c0 * g.pixels())
            .iter()
            .map(|v| v * 3.0 + 1.5)
            .collect();
        let x1 = gaussian(70 + case as u64, batch * c1 * g.pixels());
        let gamma = gaussian(80, c);
        let beta = gaussian(90, c);
        let p0: Vec<f32> = (0..batch)
            .flat_map(|b| pad_tensor(g, c0, &x0[b * c0 * g.pixels()..(b + 1) * c0 * g.pixels()]))
            .collect();
        let p1: Vec<f32> = (0..batch)
            .flat_map(|b| pad_tensor(g, c1, &x1[b * c1 * g.pixels()..(b + 1) * c1 * g.pixels()]))
            .collect();
        for silu in [false, true] {
            let mut expected = Vec::new();
            let mut expected_stats = Vec::new();
            for b in 0..batch {
                let mut input = x0[b * c0 * g.pixels()..(b + 1) * c0 * g.pixels()].to_vec();
                input.extend_from_slice(&x1[b * c1 * g.pixels()..(b + 1) * c1 * g.pixels()]);
                let mut out = vec![0.0; c * g.pixels()];
                reference::group_norm(&input, c, h, w, groups, &gamma, &beta, 1e-5, silu, &mut out);
                expected.extend(out);
                for group in input.chunks_exact(input.len() / groups) {
                    let (mean, inv_std) = reference::group_stats(group, 1e-5);
                    expected_stats.extend([mean, inv_std]);
                }
            }
            let mut sources = vec![Source {
                data: &p0,
                channels: c0,
            }];
            if c1 > 0 {
                sources.push(Source {
                    data: &p1,
                    channels: c1,
                });
            }
            for isa in Isa::all_supported() {
                for threads in [1, 3] {
                    let mut out = vec![f32::NAN; batch * g.tensor_len(c)];
                    let norm = GroupNorm {
                        groups,
                        gamma: &gamma,
                        beta: &beta,
                        eps: 1e-5,
                        silu,
                    };
                    group_norm(&Threads(threads), isa, g, batch, &sources, &norm, &mut out)
                        .unwrap();
                    assert_ring_zero(g, batch * c, &out);
                    let got: Vec<f32> = (0..batch)
                        .flat_map(|b| {
                            unpad_tensor(g, c, &out[b * g.tensor_len(c)..(b + 1) * g.tensor_len(c)])
                        })
                        .collect();
                    assert_eq!(
                        bits(&got),
                        bits(&expected),
                        "case {case} silu {silu} isa {isa:?}"
                    );
                    // With statistics: the same output, and the contract's mean and
                    // inv_std of every (item, group).
                    let mut with_stats = vec![f32::NAN; out.len()];
                    let mut stats = vec![f32::NAN; group_norm_stats_len(batch, groups)];
                    let mut run = |stats: &mut [f32]| {
                        let exec = Threads(threads);
                        group_norm_with_stats(
                            &exec,
                            isa,
                            g,
                            batch,
                            &sources,
                            &norm,
                            &mut with_stats,
                            stats,
                        )
                    };
                    let short = run(&mut stats[1..]);
                    assert!(matches!(short, Err(crate::Error::BufferLength { .. })));
                    run(&mut stats).unwrap();
                    assert_eq!(bits(&with_stats), bits(&out), "case {case} isa {isa:?}");
                    let want_stats = bits(&expected_stats);
                    assert_eq!(bits(&stats), want_stats, "case {case} isa {isa:?}");
                }
            }
        }
    }
}

#[test]
fn group_norm_normalises() {
    // Independent property: with gamma = 1, beta = 0 each group has mean ≈ 0, variance ≈ 1.
    let g = Geometry::new(9, 13);
    let c = 6;
    let x: Vec<f32> = gaussian(5, c * g.pixels())
        .iter()
        .map(|v| v * 4.0 + 7.0)
        .collect();
    let p = pad_tensor(g, c, &x);
    let mut out = vec![0.0; g.tensor_len(c)];
    let (gamma, beta) = (vec![1.0; c], vec![0.0; c]);
    let norm = GroupNorm {
        groups: 3,
        gamma: &gamma,
        beta: &beta,
        eps: 1e-5,
        silu: false,
    };
    group_norm(
        &Serial,
        Isa::detect(),
        g,
        1,
        &[Source {
            data: &p,
            channels: c,
        }],
        &norm,
        &mut out,
    )
    .unwrap();
    let y = unpad_tensor(g, c, &out);
    for grp in y.chunks(2 * g.pixels()) {
        let n = grp.len() as f64;
        let mean = grp.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = grp.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 1e-5, "mean {mean}");
        assert!((var - 1.0).abs() < 1e-4, "var {var}");
    }
}

#[test]
fn resampling_matches_reference() {
    let g = Geometry::new(6, 10);
    let planes = 3;
    let x = gaussian(7, planes * g.pixels());
    let p = pad_tensor(g, planes, &x);
    let mut pooled = vec![f32::NAN; g.half().tensor_len(planes)];
    avg_pool2(&Threads(2), g, planes, &p, &mut pooled).unwrap();
    assert_ring_zero(g.half(), planes, &pooled);
    let mut expected = vec![0.0; planes * g.half().pixels()];
    reference::avg_pool2(&x, planes, g.height, g.width, &mut expected);
    assert_eq!(
        bits(&unpad_tensor(g.half(), planes, &pooled)),
        bits(&expected)
    );

    let mut up = vec![f32::NAN; g.double().tensor_len(planes)];
    upsample_nearest2(&Threads(2), g, planes, &p, &mut up).unwrap();
    assert_ring_zero(g.double(), planes, &up);
    let mut expected = vec![0.0; planes * g.double().pixels()];
    reference::upsample_nearest2(&x, planes, g.height, g.width, &mut expected);
    assert_eq!(
        bits(&unpad_tensor(g.double(), planes, &up)),
        bits(&expected)
    );
}

#[test]
fn conv_rejects_bad_buffers() {
    let g = Geometry::new(4, 4);
    let x = vec![0.0; g.tensor_len(2)];
    let w = vec![0.0; 3 * 2 * 9];
    let b = vec![0.0; 3];
    let mut out = vec![0.0; g.tensor_len(3) - 1];
    let conv = Conv {
        kernel: 3,
        out_channels: 3,
        weight: &w,
        bias: &b,
        residual: None,
        residual_scale: 1.0,
    };
    let err = conv2d(
        &Serial,
        Isa::Scalar,
        g,
        1,
        &[Source {
            data: &x,
            channels: 2,
        }],
        &conv,
        &mut out,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        crate::Error::BufferLength {
            buffer: "conv output",
            ..
        }
    ));
    let conv5 = Conv { kernel: 5, ..conv };
    let mut out = vec![0.0; g.tensor_len(3)];
    assert!(conv2d(
        &Serial,
        Isa::Scalar,
        g,
        1,
        &[Source {
            data: &x,
            channels: 2
        }],
        &conv5,
        &mut out
    )
    .is_err());
}

#[test]
fn linear_sums_in_the_documented_order() {
    let (outs, ins) = (5, 7);
    let w = gaussian(11, outs * ins);
    let b = gaussian(12, outs);
    let x = gaussian(13, ins);
    let mut out = vec![f32::NAN; outs];
    linear(&w, &b, &x, &mut out).unwrap();
    for o in 0..outs {
        let mut acc = b[o];
        for i in 0..ins {
            acc += w[o * ins + i] * x[i];
        }
        assert_eq!(out[o].to_bits(), acc.to_bits(), "output {o}");
    }
    // No inputs: an empty sum, every output is its bias.
    let mut out = vec![f32::NAN; outs];
    linear(&[], &b, &[], &mut out).unwrap();
    assert_eq!(bits(&out), bits(&b));
    assert!(linear(&w[1..], &b, &x, &mut vec![0.0; outs]).is_err());
    assert!(linear(&w, &b[1..], &x, &mut vec![0.0; outs]).is_err());
}

/// Batch of padded tensors from unpadded `batch × channels × h × w` data.
fn pad_batch(g: Geometry, batch: usize, channels: usize, data: &[f32]) -> Vec<f32> {
    let n = channels * g.pixels();
    (0..batch)
        .flat_map(|b| pad_tensor(g, channels, &data[b * n..(b + 1) * n]))
        .collect()
}

/// Unpadded `batch × channels × h × w` data from a batch of padded tensors.
fn unpad_batch(g: Geometry, batch: usize, channels: usize, data: &[f32]) -> Vec<f32> {
    let n = g.tensor_len(channels);
    (0..batch)
        .flat_map(|b| unpad_tensor(g, channels, &data[b * n..(b + 1) * n]))
        .collect()
}

#[test]
fn winograd_matches_reference_bit_for_bit() {
    use super::winograd::{
        conv3x3_winograd, transform_weights, transformed_weights_len, winograd_scratch_len,
        WinogradConv,
    };
    // (h, w, channels of source 0, channels of source 1, out channels, residual)
    let cases = [
        (8, 16, 5, 0, 9, false),
        // Odd sizes: the last tile row and column are half outside the map.
        (7, 11, 3, 4, 6, true),
        (1, 1, 2, 0, 5, false),
        (3, 33, 1, 0, 1, true),
        // 16-lane tiles of 8, then 4, then 1 output channels (13 = 8 + 4 + 1).
        (4, 40, 7, 0, 13, false),
        // Two segments per tile row (75 tiles wide), the second one short.
        (6, 150, 4, 2, 8, true),
        (5, 131, 3, 0, 4, true),
        (16, 24, 8, 8, 16, true),
    ];
    for (case, &(h, w, c0, c1, cout, residual)) in cases.iter().enumerate() {
        let g = Geometry::new(h, w);
        let batch = 2;
        let cin = c0 + c1;
        let x0 = gaussian(110 + case as u64, batch * c0 * g.pixels());
        let x1 = gaussian(120 + case as u64, batch * c1 * g.pixels());
        let weight = gaussian(130 + case as u64, cout * cin * 9);
        let bias = gaussian(140 + case as u64, batch * cout);
        let res = gaussian(150 + case as u64, batch * cout * g.pixels());
        let scale = 0.625;
        let mut u = vec![0.0; transformed_weights_len(cout, cin)];
        transform_weights(&weight, cout, cin, &mut u).unwrap();
        let mut expected = Vec::new();
        for b in 0..batch {
            let mut input = x0[b * c0 * g.pixels()..(b + 1) * c0 * g.pixels()].to_vec();
            input.extend_from_slice(&x1[b * c1 * g.pixels()..(b + 1) * c1 * g.pixels()]);
            let mut out = vec![0.0; cout * g.pixels()];
            let bias_b = &bias[b * cout..(b + 1) * cout];
            reference::conv3x3_winograd(&input, cin, h, w, &u, bias_b, &mut out);
            if residual {
                let res_b = &res[b * cout * g.pixels()..(b + 1) * cout * g.pixels()];
                for (o, r) in out.iter_mut().zip(res_b) {
                    *o = (*o + r) * scale;
                }
            }
            expected.extend(out);
        }
        let (p0, p1) = (pad_batch(g, batch, c0, &x0), pad_batch(g, batch, c1, &x1));
        let pres = pad_batch(g, batch, cout, &res);
        let mut sources = vec![Source {
            data: &p0,
            channels: c0,
        }];
        if c1 > 0 {
            sources.push(Source {
                data: &p1,
                channels: c1,
            });
        }
        let conv = WinogradConv {
            out_channels: cout,
            transformed_weight: &u,
            bias: &bias,
            residual: residual.then_some(&pres[..]),
            residual_scale: scale,
        };
        for isa in Isa::all_supported() {
            for (threads, slots) in [(1, 1), (2, 2), (3, 5)] {
                // NaN everywhere: a value read before it is written shows up.
                let mut out = vec![f32::NAN; batch * g.tensor_len(cout)];
                let mut scratch = vec![f32::NAN; winograd_scratch_len(g, cin, cout, slots)];
                conv3x3_winograd(
                    &Threads(threads),
                    isa,
                    g,
                    batch,
                    &sources,
                    &conv,
                    &mut scratch,
                    &mut out,
                )
                .unwrap();
                assert_ring_zero(g, batch * cout, &out);
                assert_eq!(
                    bits(&unpad_batch(g, batch, cout, &out)),
                    bits(&expected),
                    "case {case} isa {isa:?} threads {threads} slots {slots}"
                );
            }
        }
    }
}

#[test]
fn winograd_is_the_direct_convolution_to_rounding() {
    use super::winograd::{
        conv3x3_winograd, transform_weights, transformed_weights_len, winograd_scratch_len,
        WinogradConv,
    };
    // Against the direct sum in f64: F(2×2, 3×3) is exact in real arithmetic, so the
    // difference is f32 rounding, bounded by a small multiple of ε × Σ|w·x| per output.
    let (h, w, cin, cout, batch) = (9, 20, 24, 6, 1);
    let g = Geometry::new(h, w);
    let x = gaussian(201, cin * g.pixels());
    let weight = gaussian(202, cout * cin * 9);
    let bias = gaussian(203, cout);
    let mut u = vec![0.0; transformed_weights_len(cout, cin)];
    transform_weights(&weight, cout, cin, &mut u).unwrap();
    let padded = pad_batch(g, batch, cin, &x);
    let mut out = vec![0.0; g.tensor_len(cout)];
    let mut scratch = vec![0.0; winograd_scratch_len(g, cin, cout, 1)];
    conv3x3_winograd(
        &Serial,
        Isa::detect(),
        g,
        batch,
        &[Source {
            data: &padded,
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
        &mut out,
    )
    .unwrap();
    let got = unpad_batch(g, batch, cout, &out);
    let mut worst = 0.0f64;
    for o in 0..cout {
        for y in 0..h {
            for xx in 0..w {
                let (mut exact, mut magnitude) = (f64::from(bias[o]), f64::from(bias[o].abs()));
                for i in 0..cin {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (yy, xs) = (y as isize + ky - 1, xx as isize + kx - 1);
                            if yy < 0 || xs < 0 || yy >= h as isize || xs >= w as isize {
                                continue;
                            }
                            let term = f64::from(
                                weight[((o * cin + i) * 3 + ky as usize) * 3 + kx as usize],
                            ) * f64::from(x[(i * h + yy as usize) * w + xs as usize]);
                            exact += term;
                            magnitude += term.abs();
                        }
                    }
                }
                let error = (f64::from(got[(o * h + y) * w + xx]) - exact).abs();
                worst = worst.max(error / (magnitude * f64::from(f32::EPSILON)));
            }
        }
    }
    // Measured 0.76 (in units of ε·Σ|w·x|); a wrong transform or a dropped term is O(1/ε).
    assert!(worst < 4.0, "error {worst} ε·Σ|w·x|");
}

#[test]
fn winograd_rejects_bad_buffers() {
    use super::winograd::{conv3x3_winograd, winograd_scratch_len, WinogradConv};
    use crate::error::Error;
    let g = Geometry::new(4, 6);
    let x = vec![0.0; g.tensor_len(3)];
    let u = vec![0.0; 16 * 3 * 2];
    let bias = vec![0.0; 2];
    let mut out = vec![0.0; g.tensor_len(2)];
    let slot = winograd_scratch_len(g, 3, 2, 1);
    let source = [Source {
        data: &x,
        channels: 3,
    }];
    let conv = WinogradConv {
        out_channels: 2,
        transformed_weight: &u,
        bias: &bias,
        residual: None,
        residual_scale: 1.0,
    };
    let run = |scratch_len: usize, conv: &WinogradConv<'_>, out: &mut [f32]| {
        let mut scratch = vec![0.0; scratch_len];
        conv3x3_winograd(&Serial, Isa::Scalar, g, 1, &source, conv, &mut scratch, out)
    };
    assert!(run(2 * slot, &conv, &mut out).is_ok());
    for bad in [0, slot - 1, slot + 1] {
        assert!(matches!(
            run(bad, &conv, &mut out),
            Err(Error::InvalidArgument {
                name: "scratch",
                ..
            })
        ));
    }
    let short = WinogradConv {
        transformed_weight: &u[1..],
        ..conv
    };
    assert!(matches!(
        run(slot, &short, &mut out),
        Err(Error::BufferLength { .. })
    ));
    assert!(matches!(
        run(slot, &conv, &mut out[1..]),
        Err(Error::BufferLength { .. })
    ));
}

/// `load_deinterleaved` returns the even- and odd-indexed values in order on every
/// instruction set, `store_interleaved` weaves them back and writes nothing more (and
/// `run_with_lanes` refuses an instruction set this CPU lacks).
#[test]
fn deinterleaving_load_and_interleaving_store_are_inverse_copies() {
    use super::simd::{run_with_lanes, Lanes, LanesTask};
    use core::cell::RefCell;
    struct Split {
        input: [f32; 32],
        out: RefCell<(Vec<f32>, Vec<f32>)>,
    }
    impl LanesTask for Split {
        #[inline(always)]
        unsafe fn run<L: Lanes>(&self) {
            let (mut even, mut odd) = ([f32::NAN; 16], [f32::NAN; 16]);
            // SAFETY: 32 inputs ≥ 2 × LANES; 16 outputs ≥ LANES.
            unsafe {
                let (e, o) = L::load_deinterleaved(self.input.as_ptr());
                e.store(even.as_mut_ptr());
                o.store(odd.as_mut_ptr());
            }
            // Woven back together, the values come back in their order.
            let mut woven = [f32::NAN; 32];
            // SAFETY: 32 outputs ≥ 2 × LANES.
            unsafe {
                L::store_interleaved(
                    L::load(even.as_ptr()),
                    L::load(odd.as_ptr()),
                    woven.as_mut_ptr(),
                )
            };
            assert_eq!(woven[..2 * L::LANES], self.input[..2 * L::LANES]);
            assert!(woven[2 * L::LANES..].iter().all(|v| v.is_nan()));
            *self.out.borrow_mut() = (even[..L::LANES].to_vec(), odd[..L::LANES].to_vec());
        }
    }
    for isa in Isa::all_supported() {
        let task = Split {
            input: core::array::from_fn(|j| j as f32 * 1.5 - 7.0),
            out: RefCell::new((Vec::new(), Vec::new())),
        };
        run_with_lanes(isa, &task).unwrap();
        let (even, odd) = task.out.into_inner();
        assert_eq!(even.len(), isa.lanes(), "{isa:?}");
        for (j, (e, o)) in even.iter().zip(&odd).enumerate() {
            assert_eq!(*e, task.input[2 * j], "{isa:?} even {j}");
            assert_eq!(*o, task.input[2 * j + 1], "{isa:?} odd {j}");
        }
    }
    for name in ["avx512", "avx2"] {
        if let Some(isa) = Isa::from_name(name).filter(|isa| !isa.is_supported()) {
            let task = Split {
                input: [0.0; 32],
                out: RefCell::new((Vec::new(), Vec::new())),
            };
            assert!(run_with_lanes(isa, &task).is_err());
        }
    }
}

/// The weight transform split over input channels gives the serial transform's values
/// for any task count (including more tasks than input channels), and both refuse
/// mis-sized buffers.
#[test]
fn parallel_weight_transform_equals_the_serial_one() {
    use super::winograd::{transform_weights, transform_weights_parallel, transformed_weights_len};
    for (cout, cin) in [(5, 3), (1, 1), (8, 2), (3, 13)] {
        let weight = gaussian(900 + (cout * cin) as u64, cout * cin * 9);
        let mut serial = vec![f32::NAN; transformed_weights_len(cout, cin)];
        transform_weights(&weight, cout, cin, &mut serial).unwrap();
        assert!(serial.iter().all(|v| v.is_finite()));
        for threads in [1, 2, 3, 7] {
            let mut parallel = vec![f32::NAN; serial.len()];
            transform_weights_parallel(&Threads(threads), &weight, cout, cin, &mut parallel)
                .unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&parallel),
                bits(&serial),
                "{cout}x{cin}, {threads} threads"
            );
        }
        let mut short = vec![0.0; serial.len() - 1];
        assert!(transform_weights_parallel(&Threads(2), &weight, cout, cin, &mut short).is_err());
        assert!(transform_weights(&weight[1..], cout, cin, &mut serial).is_err());
    }
}
