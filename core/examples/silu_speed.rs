//! Development aid: throughput of detmath::silu_in_place (AVX2 and baseline builds).
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
#[target_feature(enable = "avx,avx2")]
unsafe fn run_avx2(v: &mut [f32]) {
    powerpost_core::detmath::silu_in_place(v);
}
#[target_feature(enable = "avx,avx2")]
unsafe fn run_exp(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = powerpost_core::detmath::exp(-(x.abs()));
    }
}
#[target_feature(enable = "avx,avx2")]
unsafe fn run_recip(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = powerpost_core::detmath::recip(*x);
    }
}
#[target_feature(enable = "avx,avx2")]
unsafe fn run_affine_avx2(v: &mut [f32], out: &mut [f32]) {
    powerpost_core::detmath::silu_affine(v, 1.25, -0.5, out);
}
fn main() {
    let n = 1 << 20;
    let base: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    for (name, f) in [
        ("exp", run_exp as unsafe fn(&mut [f32])),
        ("recip", run_recip),
    ] {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let mut v = base.clone();
            let t = cpu_time();
            unsafe { f(&mut v) };
            best = best.min(cpu_time() - t);
            std::hint::black_box(&v);
        }
        println!("{name} avx2 loop: {:.2} ns/element", best * 1e9 / n as f64);
    }
    for avx in [false, true] {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let mut v = base.clone();
            let t = cpu_time();
            if avx {
                unsafe { run_avx2(&mut v) }
            } else {
                powerpost_core::detmath::silu_in_place(&mut v)
            }
            best = best.min(cpu_time() - t);
            std::hint::black_box(&v);
        }
        println!(
            "silu_in_place avx2={avx}: {:.2} ns/element",
            best * 1e9 / n as f64
        );
    }
    let mut best = f64::INFINITY;
    let mut out = vec![0.0f32; n];
    for _ in 0..5 {
        let mut v = base.clone();
        let t = cpu_time();
        unsafe { run_affine_avx2(&mut v, &mut out) };
        best = best.min(cpu_time() - t);
        std::hint::black_box(&out);
    }
    println!("silu_affine avx2: {:.2} ns/element", best * 1e9 / n as f64);
}
