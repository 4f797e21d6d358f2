//! Every backward kernel against f64 central finite differences of an independent f64
//! reference forward (plain loops on unpadded tensors). Probes: random entries of every
//! gradient; relative error bound 1e-3 (against the largest gradient entry's magnitude
//! for tiny entries).

use powerpost_core::nn::conv::Source;
use powerpost_core::nn::geometry::{pad_into, Geometry};
use powerpost_core::nn::simd::Isa;
use powerpost_tests::{seeded_image, Threads};
use powerpost_train::kernels::conv::{
    conv_input_grad, conv_input_grad_scratch_len, conv_weight_grad,
};
use powerpost_train::kernels::linear::linear_backward;
use powerpost_train::kernels::norm::{forward_stats, group_norm_backward, NormSpec};
use powerpost_train::kernels::resample::{avg_pool2_backward, upsample_nearest2_backward};
use powerpost_train::kernels::winograd_grad::{
    conv3x3_weight_grad, conv3x3_weight_grad_scratch_len,
};

/// Pads `planes` unpadded planes into the padded layout.
fn pad(g: Geometry, planes: usize, data: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; planes * g.plane_len()];
    for p in 0..planes {
        pad_into(
            g,
            &data[p * g.pixels()..(p + 1) * g.pixels()],
            &mut out[p * g.plane_len()..(p + 1) * g.plane_len()],
        );
    }
    out
}

fn unpad(g: Geometry, planes: usize, data: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; planes * g.pixels()];
    for p in 0..planes {
        powerpost_core::nn::geometry::unpad_from(
            g,
            &data[p * g.plane_len()..(p + 1) * g.plane_len()],
            &mut out[p * g.pixels()..(p + 1) * g.pixels()],
        );
    }
    out
}

/// f64 reference convolution of one batch of `cin`-channel items.
#[allow(clippy::too_many_arguments)]
fn conv_f64(
    x: &[f64],
    batch: usize,
    cin: usize,
    h: usize,
    w: usize,
    weight: &[f64],
    bias: &[f64],
    k: usize,
) -> Vec<f64> {
    let cout = bias.len();
    let r = (k / 2) as isize;
    let mut out = vec![0.0; batch * cout * h * w];
    for b in 0..batch {
        for o in 0..cout {
            for y in 0..h {
                for xx in 0..w {
                    let mut acc = bias[o];
                    for i in 0..cin {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (yy, xq) =
                                    (y as isize + ky as isize - r, xx as isize + kx as isize - r);
                                if yy >= 0 && xq >= 0 && (yy as usize) < h && (xq as usize) < w {
                                    acc += weight[((o * cin + i) * k + ky) * k + kx]
                                        * x[((b * cin + i) * h + yy as usize) * w + xq as usize];
                                }
                            }
                        }
                    }
                    out[((b * cout + o) * h + y) * w + xx] = acc;
                }
            }
        }
    }
    out
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Central difference of `loss` in coordinate `i` of `v`.
fn central(v: &[f64], i: usize, h: f64, loss: &dyn Fn(&[f64]) -> f64) -> f64 {
    let mut p = v.to_vec();
    p[i] = v[i] + h;
    let lp = loss(&p);
    p[i] = v[i] - h;
    let lm = loss(&p);
    (lp - lm) / (2.0 * h)
}

/// Checks `analytic` against finite differences at `probes` coordinates of `v`.
fn check(name: &str, v: &[f64], analytic: &[f32], probes: usize, loss: &dyn Fn(&[f64]) -> f64) {
    let scale = analytic.iter().fold(0.0f64, |m, &a| m.max(a.abs() as f64));
    for k in 0..probes {
        let i = (k * 7919 + 13) % v.len();
        let numeric = central(v, i, 1e-4, loss);
        let err = (numeric - analytic[i] as f64).abs() / (numeric.abs().max(1e-2 * scale));
        assert!(
            err < 1e-3,
            "{name}[{i}]: analytic {}, numeric {numeric}, relative error {err:.2e}",
            analytic[i]
        );
    }
}

#[test]
fn convolution_gradients() {
    let (batch, c0, c1, cout, h, w) = (2, 3, 2, 5, 5, 7);
    let g = Geometry::new(h, w);
    let cin = c0 + c1;
    for k in [3, 1] {
        let x0 = seeded_image(1, 0, batch * c0 * h * w, 1.0);
        let x1 = seeded_image(1, 1, batch * c1 * h * w, 1.0);
        let weight = seeded_image(1, 2, cout * cin * k * k, 0.3);
        let bias = seeded_image(1, 3, cout, 0.3);
        let r = seeded_image(1, 4, batch * cout * h * w, 1.0);
        // Concatenate the sources per item for the reference.
        let mut xcat = Vec::new();
        for b in 0..batch {
            xcat.extend_from_slice(&x0[b * c0 * h * w..(b + 1) * c0 * h * w]);
            xcat.extend_from_slice(&x1[b * c1 * h * w..(b + 1) * c1 * h * w]);
        }
        let rr = f64s(&r);
        let loss = |x: &[f64], wt: &[f64], bs: &[f64]| {
            conv_f64(x, batch, cin, h, w, wt, bs, k)
                .iter()
                .zip(&rr)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        let (xp0, xp1, rp) = (
            pad(g, batch * c0, &x0),
            pad(g, batch * c1, &x1),
            pad(g, batch * cout, &r),
        );
        let exec = Threads(2);
        let mut dw = vec![0.0; weight.len()];
        let mut db_items = vec![0.0; batch * cout];
        conv_weight_grad(
            &exec,
            Isa::detect(),
            g,
            batch,
            &[
                Source {
                    data: &xp0,
                    channels: c0,
                },
                Source {
                    data: &xp1,
                    channels: c1,
                },
            ],
            k,
            &rp,
            &mut dw,
            &mut db_items,
        )
        .unwrap();
        let db: Vec<f32> = (0..cout)
            .map(|o| db_items[o] + db_items[cout + o])
            .collect();
        let mut dx = vec![0.0; batch * cin * g.plane_len()];
        conv_input_grad(
            &exec,
            Isa::detect(),
            g,
            batch,
            k,
            &weight,
            cout,
            cin,
            &rp,
            &mut vec![0.0; conv_input_grad_scratch_len(g, k, cout, cin)],
            &mut dx,
        )
        .unwrap();
        assert!(unpad(g, batch * cin, &dx).len() == xcat.len());
        // Ring stays zero.
        let dx_un = unpad(g, batch * cin, &dx);
        assert!(
            (dx.iter().map(|v| v.abs()).sum::<f32>() - dx_un.iter().map(|v| v.abs()).sum::<f32>())
                .abs()
                < 1e-3
        );
        let (xc, wc, bc) = (f64s(&xcat), f64s(&weight), f64s(&bias));
        check(&format!("conv{k} weight"), &wc, &dw, 40, &|v| {
            loss(&xc, v, &bc)
        });
        check(&format!("conv{k} bias"), &bc, &db, cout, &|v| {
            loss(&xc, &wc, v)
        });
        if k == 3 {
            // The network's 3 × 3 weight gradient (Winograd transforms) as well.
            let mut dw3 = vec![0.0; weight.len()];
            let mut db3_items = vec![0.0; batch * cout];
            conv3x3_weight_grad(
                &exec,
                Isa::detect(),
                g,
                batch,
                &[
                    Source {
                        data: &xp0,
                        channels: c0,
                    },
                    Source {
                        data: &xp1,
                        channels: c1,
                    },
                ],
                &rp,
                &mut vec![0.0; conv3x3_weight_grad_scratch_len(batch, c0 + c1, cout, 2)],
                &mut dw3,
                &mut db3_items,
            )
            .unwrap();
            let db3: Vec<f32> = (0..cout)
                .map(|o| db3_items[o] + db3_items[cout + o])
                .collect();
            check("conv3 weight (Winograd)", &wc, &dw3, 40, &|v| {
                loss(&xc, v, &bc)
            });
            check("conv3 bias (Winograd)", &bc, &db3, cout, &|v| {
                loss(&xc, &wc, v)
            });
        }
        check(&format!("conv{k} input"), &xc, &dx_un, 60, &|v| {
            loss(v, &wc, &bc)
        });
    }
}

fn silu64(y: f64) -> f64 {
    y / (1.0 + (-y).exp())
}

/// f64 reference group norm (+ SiLU) of one batch.
#[allow(clippy::too_many_arguments)]
fn norm_f64(
    x: &[f64],
    batch: usize,
    c: usize,
    n_pix: usize,
    groups: usize,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
    silu: bool,
) -> Vec<f64> {
    let cpg = c / groups;
    let mut out = vec![0.0; x.len()];
    for b in 0..batch {
        for g in 0..groups {
            let s = (b * c + g * cpg) * n_pix;
            let vals = &x[s..s + cpg * n_pix];
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / vals.len() as f64;
            let inv = 1.0 / (var + eps).sqrt();
            for (k, &v) in vals.iter().enumerate() {
                let ch = g * cpg + k / n_pix;
                let y = (v - mean) * inv * gamma[ch] + beta[ch];
                out[s + k] = if silu { silu64(y) } else { y };
            }
        }
    }
    out
}

#[test]
fn group_norm_gradients() {
    let (batch, c0, c1, h, w) = (2, 4, 4, 4, 6);
    let g = Geometry::new(h, w);
    let c = c0 + c1;
    for (groups, silu) in [(2, true), (4, false), (1, true)] {
        let x0: Vec<f32> = seeded_image(2, 0, batch * c0 * h * w, 1.0)
            .iter()
            .map(|v| v + 0.3)
            .collect();
        let x1 = seeded_image(2, 1, batch * c1 * h * w, 2.0);
        let gamma: Vec<f32> = seeded_image(2, 2, c, 0.2).iter().map(|v| v + 1.0).collect();
        let beta = seeded_image(2, 3, c, 0.3);
        let r = seeded_image(2, 4, batch * c * h * w, 1.0);
        let mut xcat = Vec::new();
        for b in 0..batch {
            xcat.extend_from_slice(&x0[b * c0 * h * w..(b + 1) * c0 * h * w]);
            xcat.extend_from_slice(&x1[b * c1 * h * w..(b + 1) * c1 * h * w]);
        }
        let rr = f64s(&r);
        let eps = 1e-5;
        let loss = |x: &[f64], ga: &[f64], be: &[f64]| {
            norm_f64(x, batch, c, h * w, groups, ga, be, eps, silu)
                .iter()
                .zip(&rr)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        let (xp0, xp1, rp) = (
            pad(g, batch * c0, &x0),
            pad(g, batch * c1, &x1),
            pad(g, batch * c, &r),
        );
        let mut dx = vec![0.0; batch * c * g.plane_len()];
        let (mut dg, mut dbeta) = (vec![0.0; c], vec![0.0; c]);
        let spec = NormSpec {
            groups,
            gamma: &gamma,
            beta: &beta,
            silu,
        };
        let sources = [
            Source {
                data: &xp0,
                channels: c0,
            },
            Source {
                data: &xp1,
                channels: c1,
            },
        ];
        // The forward's statistics, as the trainer keeps them.
        let stats = forward_stats(
            &Threads(2),
            Isa::detect(),
            g,
            batch,
            &sources,
            &spec,
            eps as f32,
        )
        .unwrap();
        group_norm_backward(
            &Threads(2),
            Isa::detect(),
            g,
            batch,
            &sources,
            &spec,
            &stats,
            &rp,
            &mut dx,
            &mut dg,
            &mut dbeta,
        )
        .unwrap();
        let dx_un = unpad(g, batch * c, &dx);
        let (xc, gc, bc) = (f64s(&xcat), f64s(&gamma), f64s(&beta));
        check("norm input", &xc, &dx_un, 80, &|v| loss(v, &gc, &bc));
        check("norm gamma", &gc, &dg, c, &|v| loss(&xc, v, &bc));
        check("norm beta", &bc, &dbeta, c, &|v| loss(&xc, &gc, v));
    }
}

#[test]
fn resampling_gradients() {
    let (planes, h, w) = (3, 4, 6);
    let fine = Geometry::new(h, w);
    let coarse = fine.half();
    // Pool: L = Σ r · pool(x).
    let x = seeded_image(3, 0, planes * h * w, 1.0);
    let r = seeded_image(3, 1, planes * coarse.pixels(), 1.0);
    let mut dx = vec![0.0; planes * fine.plane_len()];
    avg_pool2_backward(&Threads(2), fine, planes, &pad(coarse, planes, &r), &mut dx);
    let rr = f64s(&r);
    let pool_loss = |v: &[f64]| {
        let mut s = 0.0;
        for p in 0..planes {
            for y in 0..h / 2 {
                for xx in 0..w / 2 {
                    let at = |a: usize, b: usize| v[(p * h + a) * w + b];
                    s += rr[(p * (h / 2) + y) * (w / 2) + xx]
                        * 0.25
                        * (at(2 * y, 2 * xx)
                            + at(2 * y, 2 * xx + 1)
                            + at(2 * y + 1, 2 * xx)
                            + at(2 * y + 1, 2 * xx + 1));
                }
            }
        }
        s
    };
    check("pool", &f64s(&x), &unpad(fine, planes, &dx), 40, &pool_loss);
    // Up-sampling: L = Σ r · up(x).
    let xc = seeded_image(3, 2, planes * coarse.pixels(), 1.0);
    let rf = f64s(&seeded_image(3, 3, planes * h * w, 1.0));
    let mut dxc = vec![0.0; planes * coarse.plane_len()];
    let rf32: Vec<f32> = rf.iter().map(|&v| v as f32).collect();
    upsample_nearest2_backward(
        &Threads(2),
        coarse,
        planes,
        &pad(fine, planes, &rf32),
        &mut dxc,
    );
    let up_loss = |v: &[f64]| {
        let mut s = 0.0;
        for p in 0..planes {
            for y in 0..h {
                for xx in 0..w {
                    s += rf[(p * h + y) * w + xx] * v[(p * (h / 2) + y / 2) * (w / 2) + xx / 2];
                }
            }
        }
        s
    };
    check(
        "upsample",
        &f64s(&xc),
        &unpad(coarse, planes, &dxc),
        18,
        &up_loss,
    );
}

#[test]
fn linear_gradients() {
    let (n_in, n_out) = (7, 5);
    let weight = seeded_image(4, 0, n_in * n_out, 0.5);
    let bias = seeded_image(4, 1, n_out, 0.5);
    let input = seeded_image(4, 2, n_in, 1.0);
    let r = f64s(&seeded_image(4, 3, n_out, 1.0));
    let r32: Vec<f32> = r.iter().map(|&v| v as f32).collect();
    let (mut dw, mut db, mut dx) = (vec![0.0; weight.len()], vec![0.0; n_out], vec![0.0; n_in]);
    linear_backward(&weight, &input, &r32, &mut dw, &mut db, Some(&mut dx));
    let loss = |w: &[f64], b: &[f64], x: &[f64]| {
        (0..n_out)
            .map(|o| r[o] * (b[o] + (0..n_in).map(|i| w[o * n_in + i] * x[i]).sum::<f64>()))
            .sum::<f64>()
    };
    let (wc, bc, xc) = (f64s(&weight), f64s(&bias), f64s(&input));
    check("linear weight", &wc, &dw, 35, &|v| loss(v, &bc, &xc));
    check("linear bias", &bc, &db, n_out, &|v| loss(&wc, v, &xc));
    check("linear input", &xc, &dx, n_in, &|v| loss(&wc, &bc, v));
}
