//! Peak f32 throughput of this machine: separate AVX multiplies and adds (what powerpost's
//! kernels may use, having no fused multiply-add), and AVX FMA (what BLAS-backed peers use);
//! on CPUs with AVX-512 the same two loops on 16-lane registers too, and the reported peak
//! is the faster width (some AVX-512 parts issue 512-bit operations on two ports, doubling
//! the 8-lane peak; others on one, where both widths give the same flop/s).
//!
//! Each of N threads is pinned to CPU `i mod cpus` and runs a loop of 8-lane vector
//! operations on many independent accumulators (enough to cover latency × throughput on
//! current cores), with operands hidden from the optimiser by `black_box`:
//! - mul+add: per iteration 7 `vmulps` chains (`a = a × 1`) and 7 `vaddps` chains
//!   (`b = b + 0`): 14 instructions × 8 lanes = 112 flop;
//! - FMA: per iteration 14 `vfmadd` chains (`a = a × 1 + 0`): 14 × 8 × 2 = 224 flop.
//!
//! On Zen 2/3 (this machine: AMD EPYC, AVX2, no AVX-512) multiplies and adds issue on
//! separate pipe pairs, so mul+add and FMA peaks are both 32 flop/cycle; on Intel cores
//! without AVX-512 mul+add is half the FMA peak.
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
///
/// 7 multiply chains + 7 add chains + 2 operands = all 16 ymm registers (no spills);
/// 14 chains in flight cover 2 multiply + 2 add pipes × 3 cycles of latency (Zen) or
/// 2 shared pipes × 4 cycles (Intel).
#[target_feature(enable = "avx")]
unsafe fn mul_add_loop(calls: u64, one: f32, zero: f32) -> f32 {
    let m = _mm256_set1_ps(one);
    let z = _mm256_set1_ps(zero);
    let (mut a0, mut a1, mut a2, mut a3, mut a4, mut a5, mut a6) = (m, m, m, m, m, m, m);
    let (mut b0, mut b1, mut b2, mut b3, mut b4, mut b5, mut b6) = (m, m, m, m, m, m, m);
    for _ in 0..calls {
        for _ in 0..INNER {
            a0 = _mm256_mul_ps(a0, m);
            b0 = _mm256_add_ps(b0, z);
            a1 = _mm256_mul_ps(a1, m);
            b1 = _mm256_add_ps(b1, z);
            a2 = _mm256_mul_ps(a2, m);
            b2 = _mm256_add_ps(b2, z);
            a3 = _mm256_mul_ps(a3, m);
            b3 = _mm256_add_ps(b3, z);
            a4 = _mm256_mul_ps(a4, m);
            b4 = _mm256_add_ps(b4, z);
            a5 = _mm256_mul_ps(a5, m);
            b5 = _mm256_add_ps(b5, z);
            a6 = _mm256_mul_ps(a6, m);
            b6 = _mm256_add_ps(b6, z);
        }
    }
    checksum(&[a0, a1, a2, a3, a4, a5, a6, b0, b1, b2, b3, b4, b5, b6])
}

/// Runs `calls × INNER` iterations of the FMA loop; returns a checksum.
///
/// 14 FMA chains + 2 operands = 16 ymm registers; 14 chains cover 2 FMA pipes × 4–5
/// cycles of latency.
#[target_feature(enable = "avx,fma")]
unsafe fn fma_loop(calls: u64, one: f32, zero: f32) -> f32 {
    let m = _mm256_set1_ps(one);
    let z = _mm256_set1_ps(zero);
    let (mut a0, mut a1, mut a2, mut a3, mut a4, mut a5, mut a6) = (m, m, m, m, m, m, m);
    let (mut b0, mut b1, mut b2, mut b3, mut b4, mut b5, mut b6) = (m, m, m, m, m, m, m);
    for _ in 0..calls {
        for _ in 0..INNER {
            a0 = _mm256_fmadd_ps(a0, m, z);
            b0 = _mm256_fmadd_ps(b0, m, z);
            a1 = _mm256_fmadd_ps(a1, m, z);
            b1 = _mm256_fmadd_ps(b1, m, z);
            a2 = _mm256_fmadd_ps(a2, m, z);
            b2 = _mm256_fmadd_ps(b2, m, z);
            a3 = _mm256_fmadd_ps(a3, m, z);
            b3 = _mm256_fmadd_ps(b3, m, z);
            a4 = _mm256_fmadd_ps(a4, m, z);
            b4 = _mm256_fmadd_ps(b4, m, z);
            a5 = _mm256_fmadd_ps(a5, m, z);
            b5 = _mm256_fmadd_ps(b5, m, z);
            a6 = _mm256_fmadd_ps(a6, m, z);
            b6 = _mm256_fmadd_ps(b6, m, z);
        }
    }
    checksum(&[a0, a1, a2, a3, a4, a5, a6, b0, b1, b2, b3, b4, b5, b6])
}

/// One 16-lane loop: 12 mul chains (`a = a × 1`) and 12 add chains
/// (`b = b + 0`) when `fma` is false (24 chains × 16 lanes = 384 flop per iteration), or
/// 24 FMA chains (`a = a × 1 + 0`, 768 flop) when it is true. 24 chains of the 32 zmm
/// registers cover 2 ports × 4 cycles of latency with room to spare.
macro_rules! avx512_loop {
    ($name:ident, $fma:expr) => {
        #[target_feature(enable = "avx512f")]
        unsafe fn $name(calls: u64, one: f32, zero: f32) -> f32 {
            let m = _mm512_set1_ps(one);
            let z = _mm512_set1_ps(zero);
            let mut a = [m; 12];
            let mut b = [m; 12];
            for _ in 0..calls {
                for _ in 0..INNER {
                    // Fully unrolled by the compiler (constant trip counts); every chain
                    // stays in its register.
                    for i in 0..12 {
                        if $fma {
                            a[i] = _mm512_fmadd_ps(a[i], m, z);
                            b[i] = _mm512_fmadd_ps(b[i], m, z);
                        } else {
                            a[i] = _mm512_mul_ps(a[i], m);
                            b[i] = _mm512_add_ps(b[i], z);
                        }
                    }
                }
            }
            let mut s = _mm512_setzero_ps();
            for v in a.iter().chain(&b) {
                s = _mm512_add_ps(s, *v);
            }
            _mm512_reduce_add_ps(s)
        }
    };
}
avx512_loop!(mul_add_loop_avx512, false);
avx512_loop!(fma_loop_avx512, true);

/// Sum of all lanes of `v` (keeps the loops' results alive).
#[target_feature(enable = "avx")]
unsafe fn checksum(v: &[__m256]) -> f32 {
    let mut s = _mm256_setzero_ps();
    for &x in v {
        s = _mm256_add_ps(s, x);
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
    // Best of three: the machine is shared, the peak is what the hardware can do.
    let best = |flop, k| {
        let calls = calibrate(seconds, k);
        (0..3).map(|_| measure(threads, calls, flop, k)).fold(0.0f64, f64::max)
    };
    let (avx_mul_add, avx_fma) = (best(112.0, mul_add), best(224.0, fma));
    let (mut wide_mul_add, mut wide_fma) = (f64::NAN, f64::NAN);
    if is_x86_feature_detected!("avx512f") {
        // SAFETY (both): AVX-512F was detected just above.
        let mul_add: fn(u64, f32, f32) -> f32 = |c, x, y| unsafe { mul_add_loop_avx512(c, x, y) };
        let fma: fn(u64, f32, f32) -> f32 = |c, x, y| unsafe { fma_loop_avx512(c, x, y) };
        wide_mul_add = best(384.0, mul_add);
        wide_fma = best(768.0, fma);
    }
    let line = format!(
        r#"{{"peer":"peak","threads":{threads},"peak_mul_add_gflops":{},"peak_fma_gflops":{},"avx_mul_add_gflops":{},"avx_fma_gflops":{},"avx512_mul_add_gflops":{},"avx512_fma_gflops":{}}}"#,
        crate::files::json(avx_mul_add.max(wide_mul_add)),
        crate::files::json(avx_fma.max(wide_fma)),
        crate::files::json(avx_mul_add),
        crate::files::json(avx_fma),
        crate::files::json(wide_mul_add),
        crate::files::json(wide_fma),
    );
    println!("{line}");
    Ok(())
}
