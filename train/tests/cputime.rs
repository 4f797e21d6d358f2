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
