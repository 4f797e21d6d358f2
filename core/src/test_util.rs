//! Test helpers (compiled for tests only): a multi-threaded executor and seeded data.

extern crate std;

use crate::exec::Executor;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Runs tasks on `threads` scoped std threads pulling indices from a shared counter.
pub struct Threads(pub usize);

impl Executor for Threads {
    fn for_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..self.0 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    task(i);
                });
            }
        });
    }
    fn threads(&self) -> usize {
        self.0
    }
}

/// `n` seeded standard normal values.
pub fn gaussian(seed: u64, n: usize) -> std::vec::Vec<f32> {
    let mut v = std::vec![0.0; n];
    crate::rng::NoiseStream::new(seed, 0).fill_gaussian(0, &mut v);
    v
}
