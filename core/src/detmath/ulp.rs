//! Test support: error of an `f32` result in units in the last place (ulp) of the exact
//! (f64) value, and sweeps over bit patterns.
//!
//! The ulp of a real `y` is `2^(⌊log2 |y|⌋ − 23)` (never below `2^−149`). Conventions that
//! match the documented special cases of [`crate::detmath`]:
//! - NaN expected ⇒ only NaN scores 0; a NaN where a number is expected scores `∞`.
//! - A `±∞` result scores 0 when the exact value rounds to that infinity, otherwise it is
//!   scored as `±2^128`.
//! - A zero result where `|exact| < 2^−126 · (1 + 2^−22)` scores 0: detmath flushes
//!   results below the smallest normal number to zero (as GPUs may).

extern crate std;

use std::thread;
use std::vec::Vec;

/// Largest exact value that a flushed (zero) result may stand for: `2^−126·(1 + 2^−22)`.
const FLUSH_TOLERANCE: f64 = 1.175_494_631_081_980_4e-38;

/// ulp of a real with magnitude `magnitude ≥ 2^−126`: `2^(⌊log2 magnitude⌋ − 23)`, from the
/// f64 exponent field.
fn ulp_of(magnitude: f64) -> f64 {
    let exponent = ((magnitude.to_bits() >> 52) & 0x7FF) as i64 - 1023;
    f64::from_bits(((exponent - 23 + 1023) as u64) << 52)
}

/// Error of `got` against the exact value `want`, in ulps of `want`.
pub(crate) fn ulp_error(got: f32, want: f64) -> f64 {
    let mut got64 = got as f64;
    if got64 == want {
        return 0.0;
    }
    if want.is_nan() {
        return if got.is_nan() { 0.0 } else { f64::INFINITY };
    }
    if got.is_nan() {
        return f64::INFINITY;
    }
    if got.is_infinite() {
        if want as f32 == got {
            return 0.0;
        }
        got64 = got64.signum() * 2f64.powi(128);
    }
    if want.is_infinite() {
        return if got64 == want { 0.0 } else { f64::INFINITY };
    }
    if got == 0.0 && want.abs() < FLUSH_TOLERANCE {
        return 0.0;
    }
    let magnitude = want.abs().max(f32::MIN_POSITIVE as f64);
    (got64 - want).abs() / ulp_of(magnitude)
}

/// Worst case found by a sweep: the error in ulps and the input where it occurs.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // `input` is read through `Debug` in failure messages.
pub(crate) struct Worst {
    /// Largest error seen, in ulps.
    pub ulps: f64,
    /// Input bit pattern that produced it.
    pub input: f32,
}

/// Sweeps `f` against the reference `reference` over the bit patterns `start, start +
/// stride, …` below `end` (as `u64`), in `threads` threads; inputs where `keep` is false are
/// skipped.
pub(crate) fn sweep(
    f: fn(f32) -> f32,
    reference: fn(f64) -> f64,
    keep: fn(f32) -> bool,
    start: u64,
    end: u64,
    stride: u64,
    threads: u64,
) -> Worst {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            thread::spawn(move || {
                let mut worst = Worst {
                    ulps: 0.0,
                    input: 0.0,
                };
                let mut bits = start + t * stride;
                while bits < end {
                    let x = f32::from_bits(bits as u32);
                    if keep(x) {
                        let e = ulp_error(f(x), reference(x as f64));
                        if e.is_nan() || e > worst.ulps {
                            worst = Worst { ulps: e, input: x };
                        }
                    }
                    bits += stride * threads;
                }
                worst
            })
        })
        .collect();
    let mut worst = Worst {
        ulps: 0.0,
        input: 0.0,
    };
    for h in handles {
        let w = h.join().unwrap();
        if w.ulps.is_nan() || w.ulps > worst.ulps {
            worst = w;
        }
    }
    worst
}

/// Strided sweep over all 2^32 bit patterns (every 97th), two threads.
pub(crate) fn strided(
    f: fn(f32) -> f32,
    reference: fn(f64) -> f64,
    keep: fn(f32) -> bool,
) -> Worst {
    sweep(f, reference, keep, 0, 1 << 32, 97, 2)
}

/// Exhaustive sweep over all 2^32 bit patterns, one thread per available core.
pub(crate) fn exhaustive(
    f: fn(f32) -> f32,
    reference: fn(f64) -> f64,
    keep: fn(f32) -> bool,
) -> Worst {
    let threads = thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1);
    sweep(f, reference, keep, 0, 1 << 32, 1, threads)
}

/// Keeps every input.
pub(crate) fn all(_: f32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulp_error_conventions() {
        assert_eq!(ulp_error(1.0, 1.0), 0.0);
        assert_eq!(ulp_error(1.0, 1.0 + 2f64.powi(-23)), 1.0);
        assert_eq!(ulp_error(1.0, 1.0 - 2f64.powi(-24)), 1.0);
        assert_eq!(ulp_error(0.0, 1e-39), 0.0);
        assert_eq!(ulp_error(f32::INFINITY, 1e300), 0.0);
        assert!(ulp_error(f32::INFINITY, 1.0) > 1e30);
        assert_eq!(
            ulp_error(0.0, f32::MIN_POSITIVE as f64 * 1.01),
            2f64.powi(23) * 1.01
        );
        assert_eq!(ulp_error(f32::NAN, 1.0), f64::INFINITY);
        assert_eq!(ulp_error(1.0, f64::NAN), f64::INFINITY);
        assert_eq!(ulp_error(f32::NAN, f64::NAN), 0.0);
        assert_eq!(
            ulp_error(
                1.5 * 2f32.powi(-100),
                1.5 * 2f64.powi(-100) + 2f64.powi(-124)
            ),
            0.5
        );
    }
}
