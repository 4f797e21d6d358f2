//! Development aid: CPU-time throughput of single convolution layers and of a register-only
//! loop of separate multiplies and adds (the machine's peak without FMA), single thread.
use powerpost_core::exec::Serial;
use powerpost_core::nn::conv::{conv2d, Conv, Source};
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::norm::{group_norm, GroupNorm};
use powerpost_core::nn::simd::{Avx2, Isa, Lanes};

fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Mul and add chains in the register-only peak loops: 7 `x = x · one` and 7
/// `s = s + zero` per iteration (`one`, `zero` opaque, so nothing folds), enough chains to
/// cover 2–4 pipes × 3–4 cycles of latency on Zen 3 and recent Intel cores.
const CHAINS: usize = 7;

/// Separate multiplies and adds on vectors of `L`; returns a checksum.
///
/// # Safety
/// The CPU must run `L`; only called from the target-feature wrappers below.
#[inline(always)]
unsafe fn peak_loop<L: Lanes>(iters: usize, one: f32, zero: f32) -> f32 {
    let (m, z) = (L::splat(one), L::splat(zero));
    let (mut x, mut s) = ([m; CHAINS], [z; CHAINS]);
    for _ in 0..iters {
        for c in 0..CHAINS {
            x[c] = x[c].mul(m);
            s[c] = s[c].add(z);
        }
    }
    let mut sum = x[0].add(s[0]);
    for c in 1..CHAINS {
        sum = sum.add(x[c].add(s[c]));
    }
    let mut out = [0.0f32; 16];
    // SAFETY: `out` holds at least `LANES` values.
    unsafe { sum.store(out.as_mut_ptr()) };
    out[0]
}

/// [`peak_loop`] with 8-lane AVX vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2")]
unsafe fn peak_loop_avx2(iters: usize, one: f32, zero: f32) -> f32 {
    // SAFETY: forwarded.
    unsafe { peak_loop::<Avx2>(iters, one, zero) }
}

/// [`peak_loop`] with 16-lane AVX-512 vectors (built with Rust ≥ 1.89, see `build.rs`).
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[target_feature(enable = "avx,avx2,avx512f")]
unsafe fn peak_loop_avx512(iters: usize, one: f32, zero: f32) -> f32 {
    // SAFETY: forwarded.
    unsafe { peak_loop::<powerpost_core::nn::simd::Avx512>(iters, one, zero) }
}

/// Best-of-five GFLOP/s of a peak loop with `lanes`-wide vectors (one flop per lane per
/// multiply or add).
fn peak_gflops(lanes: usize, run: impl Fn(usize, f32, f32) -> f32) -> f64 {
    let iters = 20_000_000;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = cpu_time();
        let r = run(iters, std::hint::black_box(1.0), std::hint::black_box(0.0));
        best = best.min(cpu_time() - t);
        std::hint::black_box(r);
    }
    (iters * 2 * CHAINS * lanes) as f64 / best / 1e9
}

fn main() {
    // `POWERPOST_ISA=avx2` etc. caps the instruction set, as for the `powerpost` binary.
    if let Ok(name) = std::env::var("POWERPOST_ISA") {
        let isa = Isa::from_name(&name).filter(|isa| isa.is_supported());
        Isa::set_cap(Some(isa.expect("POWERPOST_ISA: unknown or unsupported")));
    }
    println!("instruction set: {}", Isa::detect().name());
    // SAFETY: AVX is available wherever AVX2 was detected; the example needs it anyway.
    let mut peak = peak_gflops(8, |n, one, zero| unsafe { peak_loop_avx2(n, one, zero) });
    println!("peak mul+add (1 thread, AVX): {peak:.1} GFLOP/s");
    #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
    if Isa::detect().lanes() == 16 {
        // SAFETY: AVX-512F was detected.
        peak = peak_gflops(16, |n, one, zero| unsafe { peak_loop_avx512(n, one, zero) });
        println!("peak mul+add (1 thread, AVX-512): {peak:.1} GFLOP/s");
    }
    for &(h, w, cin, cout, k) in &[
        (64, 128, 96, 32, 3),
        (64, 128, 32, 32, 3),
        (32, 64, 64, 64, 3),
        (16, 32, 128, 128, 3),
        (16, 32, 256, 128, 3),
        (64, 128, 96, 32, 1),
    ] {
        let g = Geometry::new(h, w);
        let batch = 2;
        let x = vec![0.5f32; batch * g.tensor_len(cin)];
        let wgt = vec![0.01f32; cout * cin * k * k];
        let bias = vec![0.0f32; batch * cout];
        let mut out = vec![0.0f32; batch * g.tensor_len(cout)];
        let conv = Conv {
            kernel: k,
            out_channels: cout,
            weight: &wgt,
            bias: &bias,
            residual: None,
            residual_scale: 1.0,
        };
        let mut best = f64::INFINITY;
        for _ in 0..7 {
            let t = cpu_time();
            conv2d(
                &Serial,
                Isa::detect(),
                g,
                batch,
                &[Source {
                    data: &x,
                    channels: cin,
                }],
                &conv,
                &mut out,
            )
            .unwrap();
            best = best.min(cpu_time() - t);
        }
        let flops = 2.0 * (batch * cin * cout * k * k * h * w) as f64;
        println!(
            "conv {h}x{w} {cin}->{cout} k{k}: {:.2} ms, {:.1} GFLOP/s ({:.0}% of peak)",
            best * 1e3,
            flops / best / 1e9,
            100.0 * flops / best / 1e9 / peak
        );
    }

    for silu in [false, true] {
        let g = Geometry::new(64, 128);
        let (batch, c) = (2, 32);
        let x: Vec<f32> = (0..batch * g.tensor_len(c))
            .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
            .collect();
        let (gamma, beta) = (vec![1.0f32; c], vec![0.0f32; c]);
        let mut out = vec![0.0f32; x.len()];
        let norm = GroupNorm {
            groups: 8,
            gamma: &gamma,
            beta: &beta,
            eps: 1e-5,
            silu,
        };
        let mut best = f64::INFINITY;
        for _ in 0..7 {
            let t = cpu_time();
            group_norm(
                &Serial,
                Isa::detect(),
                g,
                batch,
                &[Source {
                    data: &x,
                    channels: c,
                }],
                &norm,
                &mut out,
            )
            .unwrap();
            best = best.min(cpu_time() - t);
        }
        let n = (batch * c * g.pixels()) as f64;
        println!(
            "group norm (silu {silu}) 2x32x64x128: {:.2} ms, {:.2} ns/element",
            best * 1e3,
            best * 1e9 / n
        );
    }
}
