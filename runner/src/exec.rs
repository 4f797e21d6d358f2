//! A persistent thread pool implementing the core's [`Executor`].
//!
//! The pool (rayon) is created once and reused by every call, so handing a batch of tasks
//! to it costs a wake-up, not a thread spawn. With one thread, or a single task, the tasks
//! run inline on the caller. Results never depend on the thread count: the core's kernels
//! make each task write its own part of the output.

use anyhow::{Context, Result};
use powerpost_core::exec::Executor;
use rayon::prelude::*;

/// The number of threads to use: `requested`, or every available core when `None` or 0.
pub fn resolve_threads(requested: Option<usize>) -> usize {
    match requested {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    }
}

/// A fixed-size pool of worker threads.
#[derive(Debug)]
pub struct PoolExecutor {
    pool: rayon::ThreadPool,
    threads: usize,
}

impl PoolExecutor {
    /// A pool of `threads` workers (at least 1).
    ///
    /// # Errors
    /// If the operating system refuses to start the threads.
    pub fn new(threads: usize) -> Result<Self> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("powerpost-worker-{i}"))
            .build()
            .with_context(|| format!("cannot start {threads} worker threads"))?;
        Ok(Self { pool, threads })
    }
}

impl Executor for PoolExecutor {
    fn for_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        if n == 0 {
            return;
        }
        if self.threads == 1 || n == 1 {
            (0..n).for_each(task);
            return;
        }
        // One task per split: the kernels already size their tasks.
        self.pool
            .install(|| (0..n).into_par_iter().with_max_len(1).for_each(task));
    }

    fn threads(&self) -> usize {
        self.threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_task_runs_exactly_once() {
        for threads in [1, 2, 3] {
            let pool = PoolExecutor::new(threads).unwrap();
            assert_eq!(pool.threads(), threads);
            for n in [0, 1, 2, 7, 1000] {
                let counts: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                pool.for_each(n, &|i| {
                    counts[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                    "threads {threads}, n {n}"
                );
            }
        }
    }

    #[test]
    fn nested_calls_complete() {
        let pool = PoolExecutor::new(2).unwrap();
        let total = AtomicUsize::new(0);
        pool.for_each(4, &|_| {
            pool.for_each(5, &|_| {
                total.fetch_add(1, Ordering::Relaxed);
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 20);
    }

    /// Prints the median cost of one `for_each` call with trivial tasks (not a timing
    /// assert: run with `cargo test --release -p powerpost call_overhead -- --ignored --nocapture`).
    #[test]
    #[ignore = "measurement"]
    fn call_overhead() {
        for threads in [1, 2] {
            let pool = PoolExecutor::new(threads).unwrap();
            let sink = AtomicUsize::new(0);
            let mut samples = Vec::new();
            for _ in 0..21 {
                let start = std::time::Instant::now();
                for _ in 0..1000 {
                    pool.for_each(8, &|i| {
                        sink.fetch_add(i, Ordering::Relaxed);
                    });
                }
                samples.push(start.elapsed().as_secs_f64() / 1000.0 * 1e6);
            }
            samples.sort_by(f64::total_cmp);
            println!(
                "threads {threads}: median {:.2} µs per for_each(8 tasks)",
                samples[10]
            );
        }
    }
}
