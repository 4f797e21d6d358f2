//! CPU time of this process, all threads together: what the training budget is counted
//! in (CPU-hours), beside wall-clock time.

/// CPU seconds (user + system, every thread) this process has used so far; `None` where
/// the platform does not say.
pub fn process_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid, writable timespec; the clock id is a constant.
        let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
        (status == 0).then_some(t.tv_sec as f64 + 1e-9 * t.tv_nsec as f64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::process_cpu_seconds;

    /// A fixed amount of busy work.
    fn work() -> u64 {
        let mut x = 1u64;
        for _ in 0..150_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        x
    }

    /// The same work on two threads costs about twice the CPU time of one thread's (a
    /// clock of the calling thread alone would give about the same): CPU time counts only
    /// while a thread runs, so this holds on a shared machine too. The clock never runs
    /// backwards.
    #[test]
    fn counts_every_thread() {
        let clock = || process_cpu_seconds().expect("unix has a process CPU clock");
        let t0 = clock();
        work();
        let t1 = clock();
        std::thread::scope(|s| {
            let other = s.spawn(work);
            work();
            other.join().unwrap();
        });
        let t2 = clock();
        let (one, two) = (t1 - t0, t2 - t1);
        assert!(one > 0.0, "{one}");
        let ratio = two / one;
        assert!(
            (1.4..=2.8).contains(&ratio),
            "one thread {one} s, two threads {two} s"
        );
    }
}
