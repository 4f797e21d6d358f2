//! A persistent thread pool implementing the core's [`Executor`].
//!
//! The wave kernels hand the pool two small batches of tasks per time step (thousands of
//! calls per shot, each worth tens of microseconds), so the cost of one call matters. The
//! pool is therefore built for short, back-to-back batches:
//!
//! - `threads − 1` workers are started once; the calling thread runs tasks too, so a
//!   batch needs no hand-off when the workers are slow to arrive;
//! - tasks are claimed from one atomic counter (any order, each exactly once);
//! - after a batch, workers spin for [`SPIN`] watching for the next one, then park on a
//!   condition variable (no CPU used between long-separated calls); the caller likewise
//!   spins, then parks, while the last tasks finish;
//! - wake-ups cost a system call only when somebody is actually parked.
//!
//! With one thread, a single task, or a call made while the pool is busy (a task calling
//! `for_each` again, or two threads sharing the pool), the tasks run inline on the caller.
//! A panicking task is caught, the batch is finished, and the panic is resumed on the
//! caller. Results never depend on the thread count: the core's kernels make each task
//! write its own part of the output.

use anyhow::{Context, Result};
use powerpost_core::exec::Executor;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long an idle worker (or a waiting caller) spins before parking.
pub const SPIN: Duration = Duration::from_micros(50);

/// The number of threads to use: `requested`, or every available core when `None` or 0.
pub fn resolve_threads(requested: Option<usize>) -> usize {
    match requested {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    }
}

type Task<'a> = dyn Fn(usize) + Sync + 'a;
type Panic = Box<dyn std::any::Any + Send>;

/// One batch: the task (lifetime erased, see [`PoolExecutor::for_each`]) and its counters.
struct Job {
    task: *const Task<'static>,
    n: usize,
    next: AtomicUsize,
    done: AtomicUsize,
    panic: Mutex<Option<Panic>>,
    caller_parked: AtomicBool,
    finished: Mutex<()>,
    finished_cv: Condvar,
}

// SAFETY: `task` points to a `Sync` closure; it is only called while the submitting
// `for_each` call keeps it alive (see there). Everything else is thread-safe.
unsafe impl Send for Job {}
// SAFETY: as above.
unsafe impl Sync for Job {}

impl Job {
    /// Claims and runs tasks until none are left; returns after its last claimed task.
    fn run(&self) {
        loop {
            let i = self.next.fetch_add(1, SeqCst);
            if i >= self.n {
                return;
            }
            // SAFETY: `i < n` was claimed from this job's counter, so the submitting
            // `for_each` has not returned (it waits for `done == n`) and the closure lives.
            let task = unsafe { &*self.task };
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| task(i))) {
                lock(&self.panic).get_or_insert(p);
            }
            if self.done.fetch_add(1, SeqCst) + 1 == self.n && self.caller_parked.load(SeqCst) {
                let _g = lock(&self.finished);
                self.finished_cv.notify_all();
            }
        }
    }
}

/// State shared by the caller and the workers.
struct Shared {
    /// Bumped for every new job and at shutdown.
    epoch: AtomicUsize,
    job: Mutex<Option<Arc<Job>>>,
    stop: AtomicBool,
    parked: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

/// Locks a mutex, ignoring poisoning (no lock here guards an invariant a panic can break).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A worker's loop. `seen` starts at the epoch the pool was created with (not the epoch
/// when this thread happens to start running): a job submitted before the thread first
/// ran is still picked up, instead of being left to the caller alone.
fn worker(shared: &Shared, mut seen: usize) {
    // `stop` is checked too: the pool may be dropped before this thread first runs.
    let idle = |seen: usize| shared.epoch.load(SeqCst) == seen && !shared.stop.load(SeqCst);
    loop {
        let start = Instant::now();
        let mut spins = 0u32;
        while idle(seen) {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > SPIN {
                let mut g = lock(&shared.sleep);
                shared.parked.fetch_add(1, SeqCst);
                while idle(seen) {
                    g = shared.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                shared.parked.fetch_sub(1, SeqCst);
                break;
            }
            std::hint::spin_loop();
        }
        seen = shared.epoch.load(SeqCst);
        if shared.stop.load(SeqCst) {
            return;
        }
        let job = lock(&shared.job).clone();
        if let Some(job) = job {
            job.run();
        }
    }
}

/// A fixed-size pool of worker threads (the caller counts as one).
pub struct PoolExecutor {
    threads: usize,
    shared: Arc<Shared>,
    submit: Mutex<()>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for PoolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolExecutor")
            .field("threads", &self.threads)
            .finish()
    }
}

impl PoolExecutor {
    /// A pool of `threads` threads (at least 1): the caller plus `threads − 1` workers.
    ///
    /// # Errors
    /// If the operating system refuses to start the threads.
    pub fn new(threads: usize) -> Result<Self> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            epoch: AtomicUsize::new(0),
            job: Mutex::new(None),
            stop: AtomicBool::new(false),
            parked: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        });
        let mut pool = Self {
            threads,
            shared,
            submit: Mutex::new(()),
            handles: Vec::new(),
        };
        for i in 1..threads {
            let sh = pool.shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("powerpost-worker-{i}"))
                .spawn(move || worker(&sh, 0))
                .with_context(|| format!("cannot start {threads} worker threads"))?;
            pool.handles.push(handle);
        }
        Ok(pool)
    }

    /// Publishes a new epoch and wakes parked workers.
    fn bump(&self) {
        let sh = &self.shared;
        sh.epoch.fetch_add(1, SeqCst);
        if sh.parked.load(SeqCst) > 0 {
            let _g = lock(&sh.sleep);
            sh.wake.notify_all();
        }
    }
}

impl Executor for PoolExecutor {
    fn for_each(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        if n == 0 {
            return;
        }
        // One batch at a time; a nested or concurrent call runs inline.
        let _guard = match self.submit.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                (0..n).for_each(task);
                return;
            }
        };
        if self.threads == 1 || n == 1 {
            (0..n).for_each(task);
            return;
        }
        // SAFETY: only the lifetime is erased. The pointer is dereferenced only by
        // `Job::run` for indices below `n` claimed from this job's counter, each call is
        // counted in `done` (panics are caught), and this function returns only after
        // `done == n`, i.e. after every such call has returned; later claims find no
        // index left and never touch the pointer.
        let erased = unsafe {
            std::mem::transmute::<*const Task<'_>, *const Task<'static>>(task as *const Task<'_>)
        };
        let job = Arc::new(Job {
            task: erased,
            n,
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            panic: Mutex::new(None),
            caller_parked: AtomicBool::new(false),
            finished: Mutex::new(()),
            finished_cv: Condvar::new(),
        });
        *lock(&self.shared.job) = Some(job.clone());
        self.bump();
        job.run();
        let start = Instant::now();
        let mut spins = 0u32;
        while job.done.load(SeqCst) < n {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > SPIN {
                let mut g = lock(&job.finished);
                job.caller_parked.store(true, SeqCst);
                while job.done.load(SeqCst) < n {
                    g = job.finished_cv.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                break;
            }
            std::hint::spin_loop();
        }
        *lock(&self.shared.job) = None;
        let panic = lock(&job.panic).take();
        if let Some(p) = panic {
            resume_unwind(p);
        }
    }

    fn threads(&self) -> usize {
        self.threads
    }
}

impl Drop for PoolExecutor {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        self.bump();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
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
    fn a_job_submitted_before_the_workers_run_still_uses_them() {
        // Two tasks that each wait (up to 10 s) for the other to start can only both
        // start promptly if they run on two threads, even when the job is submitted the
        // moment the pool exists (before the worker thread may have run at all).
        for _ in 0..20 {
            let pool = PoolExecutor::new(2).unwrap();
            let started = AtomicUsize::new(0);
            let waited_out = AtomicUsize::new(0);
            pool.for_each(2, &|_| {
                started.fetch_add(1, Ordering::SeqCst);
                let t0 = Instant::now();
                while started.load(Ordering::SeqCst) < 2 {
                    if t0.elapsed() > Duration::from_secs(10) {
                        waited_out.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    std::thread::yield_now();
                }
            });
            assert_eq!(
                waited_out.load(Ordering::SeqCst),
                0,
                "the two tasks ran one after the other"
            );
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

    #[test]
    fn pools_dropped_before_their_workers_start_shut_down() {
        // The workers may not have run yet when the pool is dropped.
        for _ in 0..200 {
            let pool = PoolExecutor::new(3).unwrap();
            pool.for_each(2, &|_| {});
        }
    }

    #[test]
    fn many_short_batches_and_parked_workers() {
        // Back-to-back batches (workers spinning) and batches after a pause (workers parked).
        let pool = PoolExecutor::new(3).unwrap();
        let total = AtomicUsize::new(0);
        for round in 0..2000 {
            if round % 500 == 0 {
                std::thread::sleep(SPIN * 4);
            }
            pool.for_each(3, &|i| {
                total.fetch_add(i + 1, Ordering::Relaxed);
            });
        }
        assert_eq!(total.load(Ordering::Relaxed), 2000 * 6);
    }

    #[test]
    fn a_panicking_task_reaches_the_caller_after_the_batch() {
        let pool = PoolExecutor::new(2).unwrap();
        let ran = AtomicUsize::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            pool.for_each(8, &|i| {
                std::thread::sleep(Duration::from_millis(1));
                ran.fetch_add(1, Ordering::Relaxed);
                assert!(i != 5, "task 5 fails");
            })
        }));
        assert!(result.is_err());
        assert_eq!(ran.load(Ordering::Relaxed), 8);
        // The pool is still usable.
        let total = AtomicUsize::new(0);
        pool.for_each(4, &|_| {
            total.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(total.load(Ordering::Relaxed), 4);
    }

    /// Prints the median cost of one `for_each` call with trivial tasks, this pool next to
    /// rayon's (not a timing assert: run with
    /// `cargo test --release -p powerpost call_overhead -- --ignored --nocapture`).
    #[test]
    #[ignore = "measurement"]
    fn call_overhead() {
        use rayon::prelude::*;
        fn median_us(mut f: impl FnMut()) -> f64 {
            let mut samples = Vec::new();
            for _ in 0..21 {
                let start = std::time::Instant::now();
                for _ in 0..1000 {
                    f();
                }
                samples.push(start.elapsed().as_secs_f64() / 1000.0 * 1e6);
            }
            samples.sort_by(f64::total_cmp);
            samples[10]
        }
        for threads in [1, 2] {
            let pool = PoolExecutor::new(threads).unwrap();
            let sink = AtomicUsize::new(0);
            let ours = median_us(|| {
                pool.for_each(8, &|i| {
                    sink.fetch_add(i, Ordering::Relaxed);
                })
            });
            let rayon_pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let theirs = median_us(|| {
                rayon_pool.install(|| {
                    (0..8usize).into_par_iter().with_max_len(1).for_each(|i| {
                        sink.fetch_add(i, Ordering::Relaxed);
                    })
                })
            });
            println!(
                "threads {threads}: median µs per for_each(8 tasks): PoolExecutor {ours:.2}, rayon {theirs:.2}"
            );
        }
    }
}
