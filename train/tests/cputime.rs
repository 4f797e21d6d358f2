//! The process CPU clock of `train::cputime`, alone in its test binary: the clock counts
//! every thread of the process, so tests running beside it in the same binary would add
//! their own CPU time to its measurement.

#![cfg(unix)]
use powerpost_train::cputime::process_cpu_seconds;

/// A fixed amount of busy work.
fn work() -> u64 {
    let mut x = 1u64;
    for _ in 0..150_000_000u64 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    x
}

/// CPU seconds of the calling thread alone.
fn thread_cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the clock id is a constant.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(status, 0);
    t.tv_sec as f64 + 1e-9 * t.tv_nsec as f64
}

/// The process clock counts every thread: over two threads doing the same work, it
/// advances by the sum of their own thread clocks (a clock of the calling thread alone,
/// which only waits, would hardly move). Compared CPU time with CPU time, not with a
/// ratio of two runs, so it holds however the machine is shared (sibling hyperthreads
/// make the same work cost more CPU time, for both clocks alike). The clock never runs
/// backwards.
#[test]
fn counts_every_thread() {
    let clock = || process_cpu_seconds().expect("unix has a process CPU clock");
    let t0 = clock();
    let spent: f64 = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let start = thread_cpu_seconds();
                    work();
                    thread_cpu_seconds() - start
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    let t1 = clock();
    let process = t1 - t0;
    assert!(spent > 0.05, "{spent}");
    // At least the threads' own time; at most that plus a little of the waiting thread's
    // (spawning and joining).
    assert!(
        process >= 0.999 * spent && process <= spent + 0.05,
        "process clock {process} s, the two threads' own clocks {spent} s"
    );
}
