//! Times the convolution weight gradient on one layer shape: the direct kernel
//! (`conv_weight_grad`) and, for K = 3, the Winograd one the network runs
//! (`conv3x3_weight_grad`), alternated call by call; median of 15 calls each, GFLOP/s of
//! direct work (2 · batch · H · W · in · out · k² flops) and a digest of the gradient bits
//! (equal digests: a change kept the bits). `ONLY=direct` or `ONLY=winograd` runs one
//! kernel (for profiling).
//!
//! `cargo run --release -p powerpost-train --example bench_weight_grad -- H W IN OUT K [BATCH] [THREADS]`
//! (batch 16 and one thread by default), e.g. `64 128 32 32 3` (level 0 of the default network) or
//! `64 128 32 32 1`.

use powerpost_core::nn::conv::Source;
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::simd::Isa;
use powerpost_train::exec::Pool;
use powerpost_train::kernels::conv::conv_weight_grad;
use powerpost_train::kernels::winograd_grad::{
    conv3x3_weight_grad, conv3x3_weight_grad_scratch_len,
};
use std::time::Instant;

fn main() {
    // `POWERPOST_ISA=avx2` etc. caps the instruction set, as for the `powerpost` binary.
    if let Ok(name) = std::env::var("POWERPOST_ISA") {
        let isa = Isa::from_name(&name).filter(|isa| isa.is_supported());
        Isa::set_cap(Some(isa.expect("POWERPOST_ISA: unknown or unsupported")));
    }
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if args.len() < 5 {
        eprintln!("usage: bench_weight_grad H W IN OUT K [BATCH] [THREADS]");
        std::process::exit(2);
    }
    let (h, w, cin, cout, k) = (args[0], args[1], args[2], args[3], args[4]);
    let batch = args.get(5).copied().unwrap_or(16);
    let threads = args.get(6).copied().unwrap_or(1);
    let pool = Pool::new(threads).expect("worker threads");
    let g = Geometry::new(h, w);
    let plane = g.plane_len();
    // Interior values from a fixed pattern, zero ring (the layout's contract).
    let fill = |planes: usize, a: usize, b: usize, m: usize| {
        let mut v = vec![0.0f32; planes * plane];
        for p in 0..planes {
            for yy in 0..h {
                for xx in 0..w {
                    v[p * plane + g.index(yy, xx)] = ((p * a + yy * b + xx) % m) as f32 * 0.1 - 0.8;
                }
            }
        }
        v
    };
    let x = fill(batch * cin, 13, 3, 17);
    let dy = fill(batch * cout, 11, 7, 19);
    let mut dw = vec![0.0f32; cout * cin * k * k];
    let mut db = vec![0.0f32; batch * cout];
    let only = std::env::var("ONLY").unwrap_or_default();
    let run_direct = only != "winograd";
    let run_winograd = k == 3 && only != "direct";
    let mut scratch = vec![0.0f32; conv3x3_weight_grad_scratch_len(batch, cin, cout, threads)];
    let sources = [Source {
        data: &x,
        channels: cin,
    }];
    let (mut direct, mut winograd) = (Vec::new(), Vec::new());
    let digest = |dw: &[f32], db: &[f32]| {
        dw.iter().chain(db).fold(0u64, |a, v| {
            a.wrapping_mul(31).wrapping_add(v.to_bits() as u64)
        })
    };
    let (mut digest_direct, mut digest_winograd) = (0, 0);
    for _ in 0..15 {
        if run_direct {
            let start = Instant::now();
            conv_weight_grad(
                &pool,
                Isa::detect(),
                g,
                batch,
                &sources,
                k,
                &dy,
                &mut dw,
                &mut db,
            )
            .expect("buffers sized for the shape");
            direct.push(start.elapsed().as_secs_f64());
            digest_direct = digest(&dw, &db);
        }
        if run_winograd {
            let start = Instant::now();
            conv3x3_weight_grad(
                &pool,
                Isa::detect(),
                g,
                batch,
                &sources,
                &dy,
                &mut scratch,
                &mut dw,
                &mut db,
            )
            .expect("buffers sized for the shape");
            winograd.push(start.elapsed().as_secs_f64());
            digest_winograd = digest(&dw, &db);
        }
    }
    let flops = 2.0 * (batch * h * w * cin * cout * k * k) as f64;
    let median = |mut times: Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let (d, wg) = (median(direct), median(winograd));
    println!(
        "{h}×{w} {cin}→{cout} k{k} batch {batch}, {threads} threads: direct median {d:.4} s, {:.1} GFLOP/s, digest {digest_direct:016x}",
        flops / d * 1e-9
    );
    if k == 3 {
        println!(
            "  Winograd median {wg:.4} s, {:.1} GFLOP/s of direct work, digest {digest_winograd:016x}; direct ÷ Winograd {:.2}",
            flops / wg * 1e-9,
            d / wg
        );
    }
}
