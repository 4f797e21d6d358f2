//! Peak f32 throughput of this machine: separate AVX multiplies and adds (what powerpost's
//! kernels may use, having no fused multiply-add), and AVX FMA (what BLAS-backed peers use).
//!
//! Each of N threads is pinned to CPU `i mod cpus` and runs a loop of 8-lane vector
//! operations on many independent accumulators (enough to cover latency × throughput on
//! current cores), with operands hidden from the optimiser by `black_box`:
//! - mul+add: per iteration 8 `vmulps` chains (`a = a × 1`) and 8 `vaddps` chains
//!   (`b = b + 0`): 16 instructions × 8 lanes = 128 flop;
//! - FMA: per iteration 16 `vfmadd` chains (`a = a × 1 + 0`): 16 × 8 × 2 = 256 flop.
//!
//! GFLOP/s = all threads' flop / wall time between a common start barrier and the last
//! thread's end.

use anyhow::{ensure, Result};
use std::arch::x86_64::*;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

/// Iterations of the inner loop per call.
const INNER: u64 = 1 << 16;

/// Runs `calls × INNER` iterations of the mul+add loop; returns a checksum.
#[target_feature(enable = "avx")]
unsafe fn mul_add_loop(calls: u64, one: f32, zero: f32) -> f32 {
    let m = _mm256_set1_ps(one);
    let z = _mm256_set1_ps(zero);
    let mut a = [_mm256_set1_ps(1.0); 8];
    let mut b = [_mm256_set1_ps(1.0); 8];
    for _ in 0..calls {
        for _ in 0..INNER {
            a[0] = _mm256_mul_ps(a[0], m);
            b[0] = _mm256_add_ps(b[0], z);
            a[1] = _mm256_mul_ps(a[1], m);
            b[1] = _mm256_add_ps(b[1], z);
            a[2] = _mm256_mul_ps(a[2], m);
            b[2] = _mm256_add_ps(b[2], z);
            a[3] = _mm256_mul_ps(a[3], m);
            b[3] = _mm256_add_ps(b[3], z);
            a[4] = _mm256_mul_ps(a[4], m);
            b[4] = _mm256_add_ps(b[4], z);
            a[5] = _mm256_mul_ps(a[5], m);
            b[5] = _mm256_add_ps(b[5], z);
            a[6] = _mm256_mul_ps(a[6], m);
            b[6] = _mm256_add_ps(b[6], z);
            a[7] = _mm256_mul_ps(a[7], m);
            b[7] = _mm256_add_ps(b[7], z);
        }
    }
    let mut s = _mm256_setzero_ps();
    for i in 0..8 {
        s = _mm256_add_ps(s, _mm256_add_ps(a[i], b[i]));
    }
    let mut lanes = [0.0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), s);
    lanes.iter().sum()
}

/// Runs `calls × INNER` iterations of the FMA loop; returns a checksum.
#[target_feature(enable = "avx,fma")]
unsafe fn fma_loop(calls: u64, one: f32, zero: f32) -> f32 {
    let m = _mm256_set1_ps(one);
    let z = _mm256_set1_ps(zero);
    let mut a = [_mm256_set1_ps(1.0); 16];
    for _ in 0..calls {
        for _ in 0..INNER {
            for acc in a.iter_mut() {
                *acc = _mm256_fmadd_ps(*acc, m, z);
            }
        }
    }
    let mut s = _mm256_setzero_ps();
    for v in a {
        s = _mm256_add_ps(s, v);
    }
    let mut lanes = [0.0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), s);
    lanes.iter().sum()
}

/// Pins the calling thread to one CPU (best effort).
fn pin(cpu: usize) {
    // SAFETY: plain libc calls on a zeroed cpu_set_t for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// GFLOP/s of `threads` pinned threads each running `kernel(calls)` worth `flop_per_iter`.
fn measure(threads: usize, calls: u64, flop_per_iter: f64, kernel: fn(u64, f32, f32) -> f32) -> f64 {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let barrier = Barrier::new(threads + 1);
    let start = std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                pin(t % cpus);
                barrier.wait();
                black_box(kernel(calls, black_box(1.0), black_box(0.0)));
            });
        }
        barrier.wait();
        Instant::now()
    });
    let seconds = start.elapsed().as_secs_f64();
    threads as f64 * calls as f64 * INNER as f64 * flop_per_iter / seconds * 1e-9
}

/// Calls of the inner loop that take about `seconds` on one thread.
fn calibrate(seconds: f64, kernel: fn(u64, f32, f32) -> f32) -> u64 {
    let start = Instant::now();
    black_box(kernel(4, black_box(1.0), black_box(0.0)));
    let per_call = start.elapsed().as_secs_f64() / 4.0;
    ((seconds / per_call) as u64).max(1)
}

/// `peers peak`: prints one JSON line.
pub fn run(threads: usize, seconds: f64) -> Result<()> {
    ensure!(threads >= 1, "--threads must be at least 1");
    ensure!(is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma"), "this CPU lacks AVX or FMA");
    // SAFETY (both): AVX and FMA were detected above.
    let mul_add: fn(u64, f32, f32) -> f32 = |c, x, y| unsafe { mul_add_loop(c, x, y) };
    let fma: fn(u64, f32, f32) -> f32 = |c, x, y| unsafe { fma_loop(c, x, y) };
    let calls_mul_add = calibrate(seconds, mul_add);
    let calls_fma = calibrate(seconds, fma);
    // Best of three: the machine is shared, the peak is what the hardware can do.
    let best = |calls, flop, k| (0..3).map(|_| measure(threads, calls, flop, k)).fold(0.0f64, f64::max);
    let line = format!(
        r#"{{"peer":"peak","threads":{threads},"peak_mul_add_gflops":{},"peak_fma_gflops":{}}}"#,
        crate::files::json(best(calls_mul_add, 128.0, mul_add)),
        crate::files::json(best(calls_fma, 256.0, fma)),
    );
    println!("{line}");
    Ok(())
}
