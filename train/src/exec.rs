//! A persistent rayon thread pool implementing the core's [`Executor`].
//!
//! Results never depend on the thread count: every kernel (the core's and this crate's)
//! makes each task write its own part of the output, and reductions across tasks happen
//! afterwards in task-index order.

use powerpost_core::exec::Executor;
use rayon::prelude::*;

/// A fixed-size pool of worker threads.
#[derive(Debug)]
pub struct Pool {
    pool: rayon::ThreadPool,
    threads: usize,
}

impl Pool {
    /// A pool of `threads` workers (at least 1).
    ///
    /// # Errors
    /// If the operating system refuses to start the threads.
    pub fn new(threads: usize) -> anyhow::Result<Self> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("powerpost-train-{i}"))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot start {threads} worker threads: {e}"))?;
        Ok(Self { pool, threads })
    }
}

impl Executor for Pool {
    fn for_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 || n <= 1 {
            (0..n).for_each(task);
            return;
        }
        self.pool
            .install(|| (0..n).into_par_iter().with_max_len(1).for_each(task));
    }

    fn threads(&self) -> usize {
        self.threads
    }
}
