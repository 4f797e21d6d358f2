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
