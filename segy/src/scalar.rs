//! Coordinate and elevation scalars.
//!
//! Trace headers store coordinates (bytes 73–88, 181–188) and depths/elevations
//! (bytes 41–68) as 4-byte integers together with a 2-byte scalar (bytes 71–72 and 69–70):
//! a positive scalar multiplies the stored integer, a negative one divides it, 0 means 1.
//! The writer picks the scalar for a set of values with [`choose_scalar`]: the smallest
//! divisor `1, 10, 100, 1000, 10000` at which every value is a whole number that fits in
//! 4 bytes, else the largest such divisor at which they all fit, rounding to nearest (so a
//! stored value is within half a unit of the scalar of the true one; [`resolution`]).

use crate::error::{Error, ErrorKind};

/// Divisors tried, smallest first, as negative scalars.
const SCALARS: [i16; 5] = [1, -10, -100, -1000, -10000];

/// The real value of `stored` under `scalar`.
pub fn apply(stored: i32, scalar: i16) -> f64 {
    match scalar {
        0 | 1 => f64::from(stored),
        s if s > 0 => f64::from(stored) * f64::from(s),
        // Negated in f64: `-s` overflows i16 for -32768 (found by fuzzing).
        s => f64::from(stored) / -f64::from(s),
    }
}

/// The smallest step representable under `scalar` (the unit of the stored integer).
pub fn resolution(scalar: i16) -> f64 {
    apply(1, scalar)
}

/// `value` stored under `scalar`, rounded to the nearest integer, if it fits in 4 bytes.
pub fn store(value: f64, scalar: i16) -> Option<i32> {
    let scaled = match scalar {
        0 | 1 => value,
        s if s > 0 => value / f64::from(s),
        s => value * -f64::from(s),
    };
    let rounded = scaled.round();
    (rounded.is_finite() && rounded.abs() <= f64::from(i32::MAX)).then_some(rounded as i32)
}

/// The scalar for a set of values (see the module docs).
///
/// # Errors
/// [`ErrorKind::Geometry`] naming `what` if a value is not finite or too large to store
/// even in whole units.
pub fn choose_scalar(values: &[f64], what: &str) -> Result<i16, Error> {
    let fits = |s: i16| values.iter().all(|&v| store(v, s).is_some());
    let exact = |s: i16| {
        values
            .iter()
            .all(|&v| store(v, s).is_some_and(|q| apply(q, s) == v))
    };
    if let Some(&s) = SCALARS.iter().find(|&&s| exact(s)) {
        return Ok(s);
    }
    SCALARS
        .iter()
        .rev()
        .find(|&&s| fits(s))
        .copied()
        .ok_or_else(|| {
            let worst = values
                .iter()
                .copied()
                .find(|&v| store(v, 1).is_none())
                .unwrap_or(f64::NAN);
            ErrorKind::Geometry {
                trace: None,
                what: what.to_string(),
                found: format!("{worst}"),
                expected: format!(
                    "a finite value of at most {} in magnitude (4-byte header field)",
                    i32::MAX
                ),
            }
            .into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_apply_as_the_standard_says() {
        assert_eq!(apply(125, -10), 12.5);
        assert_eq!(apply(125, 10), 1250.0);
        assert_eq!(apply(125, 0), 125.0);
        assert_eq!(resolution(-100), 0.01);
        assert_eq!(store(12.5, -10), Some(125));
        assert_eq!(store(1250.0, 10), Some(125));
        assert_eq!(store(-0.004, -100), Some(0));
        assert_eq!(store(3e9, 1), None);
        assert_eq!(store(f64::NAN, 1), None);
        // The most negative scalar divides by 32768 (negating it as an i16 overflowed).
        assert_eq!(apply(65536, i16::MIN), 2.0);
        assert_eq!(store(2.0, i16::MIN), Some(65536));
        assert_eq!(apply(3, i16::MAX), 98301.0);
    }

    #[test]
    fn choice_is_exact_when_possible_else_finest_that_fits() {
        assert_eq!(choose_scalar(&[0.0, 25.0, 3175.0], "x").unwrap(), 1);
        assert_eq!(choose_scalar(&[0.0, 12.5, 3187.5], "x").unwrap(), -10);
        assert_eq!(choose_scalar(&[99.609375], "x").unwrap(), -10000);
        // 99.609375 needs 10^6; 1e5 m at 10^4 = 1e9 fits; 1e6 m does not, so 10^3.
        assert_eq!(choose_scalar(&[99.609375, 1e6], "x").unwrap(), -1000);
        let e = choose_scalar(&[1.0, 1e12], "source x (m)").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("source x (m) is 1000000000000, expected"),
            "{e}"
        );
        assert!(choose_scalar(&[f64::INFINITY], "x").is_err());
    }
}
