//! Shared helpers for the wave tests (included with `mod`).
#![allow(dead_code)]

use powerpost_core::exec::{Executor, Serial};
use powerpost_core::wave::{self, WaveConfig};

/// A tiny std-thread executor: task i runs on thread i % threads.
pub struct Threads(pub usize);

impl Executor for Threads {
    fn for_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        std::thread::scope(|s| {
            for t in 0..self.0 {
                s.spawn(move || {
                    let mut i = t;
                    while i < n {
                        task(i);
                        i += self.0;
                    }
                });
            }
        });
    }
    fn threads(&self) -> usize {
        self.0
    }
}

/// Forward-models one shot with a homogeneous or given model.
pub fn model_shot(
    cfg: &WaveConfig,
    velocity: &[f32],
    source: [f32; 2],
    receivers: &[[f32; 2]],
    exec: &dyn Executor,
) -> Vec<f32> {
    let mut medium = vec![0.0; wave::medium_len(cfg).unwrap()];
    wave::prepare_medium(cfg, velocity, &mut medium).unwrap();
    let mut wavelet = vec![0.0; cfg.nt];
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut wavelet).unwrap();
    let mut state = vec![0.0; wave::state_len(cfg).unwrap()];
    let mut shot = vec![0.0; cfg.nt * receivers.len()];
    wave::forward_shot(
        cfg, &medium, source, receivers, &wavelet, &mut state, &mut shot, exec,
    )
    .unwrap();
    shot
}

/// Serial shorthand.
pub fn model_shot_serial(
    cfg: &WaveConfig,
    velocity: &[f32],
    source: [f32; 2],
    receivers: &[[f32; 2]],
) -> Vec<f32> {
    model_shot(cfg, velocity, source, receivers, &Serial)
}

/// Relative L2 difference ‖a − b‖ / ‖b‖ in f64.
pub fn rel_l2(a: &[f32], b: &[f64]) -> f64 {
    let mut num = 0.0;
    let mut den = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        num += (x as f64 - y) * (x as f64 - y);
        den += y * y;
    }
    (num / den).sqrt()
}

/// Ricker wavelet in f64.
pub fn ricker64(f: f64, delay: f64, t: f64) -> f64 {
    let r = std::f64::consts::PI * f * (t - delay);
    (1.0 - 2.0 * r * r) * (-r * r).exp()
}
