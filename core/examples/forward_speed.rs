//! Quick single-thread timing of one CFG-pair forward pass (development aid; the real
//! benchmark is `powerpost bench`).
use powerpost_core::exec::Serial;
use powerpost_core::nn::simd::Isa;
use powerpost_core::unet::{
    init_random, params_len, plan::conv_flops, workspace_len, DenoiseInput, DenoiseOutput, UNet,
    UNetConfig,
};

/// CPU time of this thread in seconds (robust against other processes on a busy machine).
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let c = UNetConfig::DEFAULT;
    let (h, w) = (64, 128);
    let mut params = vec![0.0; params_len(&c)];
    init_random(&c, 1, &mut params).unwrap();
    let x: Vec<f32> = (0..h * w)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let y: Vec<f32> = (0..h * w)
        .map(|i| ((i * 104729) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let mut ws = vec![0.0; workspace_len(&c, h, w, 2)];
    let (mut a, mut b) = (vec![0.0; h * w], vec![0.0; h * w]);
    println!(
        "params {} workspace {} floats, {:.3} GFLOP/image",
        params_len(&c),
        ws.len(),
        conv_flops(&c, h, w) as f64 / 1e9
    );
    let only = std::env::args().nth(1);
    for isa in Isa::all_supported().filter(|i| only.as_deref().map_or(true, |o| o == i.name())) {
        let net = UNet::new(c, &params).unwrap().with_isa(isa).unwrap();
        let mut times = vec![];
        for _ in 0..5 {
            let t = cpu_time();
            net.denoise(
                &Serial,
                DenoiseInput {
                    height: h,
                    width: w,
                    x: &x,
                    sigma: 1.3,
                    condition: &y,
                },
                DenoiseOutput {
                    conditional: Some(&mut a),
                    unconditional: Some(&mut b),
                },
                &mut ws,
            )
            .unwrap();
            times.push(cpu_time() - t);
        }
        times.sort_by(|p, q| p.partial_cmp(q).unwrap());
        let med = times[2];
        println!(
            "{:6}: {:.1} ms per CFG pair, {:.1} GFLOP/s  (a[0]={} b[0]={})",
            isa.name(),
            med * 1e3,
            2.0 * conv_flops(&c, h, w) as f64 / med / 1e9,
            a[0],
            b[0]
        );
    }
}
