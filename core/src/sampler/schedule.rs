//! The Karras (EDM) noise-level schedule.
//!
//! `steps = N` positive noise levels, spaced uniformly in `σ^{1/ρ}`, followed by σ_N = 0
//! (Karras et al. 2022, eq. 5):
//!
//! ```text
//! σ_i = (σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ   for i = 0 … N−1,   σ_N = 0.
//! ```
//!
//! ## Exact f32 evaluation (bit-exact contract)
//! - `σ_0 = σ_max` and `σ_{N−1} = σ_min` exactly (no round trip through exp/ln); with
//!   `N = 1` the only positive level is σ_max.
//! - `r_max = exp(ln(σ_max) × recip(ρ))`, `r_min = exp(ln(σ_min) × recip(ρ))`.
//! - For `0 < i < N−1`: `f = div(i, N−1)` (both converted to f32 first),
//!   `r = r_max + f × (r_min − r_max)`, `σ_i = exp(ρ × ln(r))`.
//!
//! All transcendental functions are [`crate::detmath`]'s.

use crate::detmath;
use crate::error::{check_len, Error};

/// Largest number of steps a schedule (and so a sampler) accepts.
pub const MAX_STEPS: usize = 100_000;

/// The Karras σ schedule: `steps` positive levels from σ_max down to σ_min, then 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KarrasSchedule {
    steps: usize,
    sigma_min: f32,
    sigma_max: f32,
    rho: f32,
    root_min: f32,
    root_max: f32,
}

impl KarrasSchedule {
    /// The schedule with `steps` positive levels between `sigma_max` and `sigma_min`
    /// (exponent `rho`), followed by σ = 0.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `1 ≤ steps ≤ MAX_STEPS`,
    /// `0 < sigma_min < sigma_max` are finite and `rho` is a finite number > 0.
    pub fn new(steps: usize, sigma_min: f32, sigma_max: f32, rho: f32) -> Result<Self, Error> {
        if !(1..=MAX_STEPS).contains(&steps) {
            return Err(Error::InvalidArgument {
                name: "steps",
                expected: "1 to 100000",
            });
        }
        if !(sigma_min.is_finite() && sigma_min > 0.0) {
            return Err(Error::InvalidArgument {
                name: "sigma_min",
                expected: "a finite number > 0",
            });
        }
        if !(sigma_max.is_finite() && sigma_max > sigma_min) {
            return Err(Error::InvalidArgument {
                name: "sigma_max",
                expected: "a finite number > sigma_min",
            });
        }
        if !(rho.is_finite() && rho > 0.0) {
            return Err(Error::InvalidArgument {
                name: "rho",
                expected: "a finite number > 0",
            });
        }
        let inv_rho = detmath::recip(rho);
        let root_max = detmath::exp(detmath::ln(sigma_max) * inv_rho);
        let root_min = detmath::exp(detmath::ln(sigma_min) * inv_rho);
        Ok(Self {
            steps,
            sigma_min,
            sigma_max,
            rho,
            root_min,
            root_max,
        })
    }

    /// Number of steps N (positive levels); the schedule has N + 1 entries.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// σ_i for `i = 0 … steps` (σ_steps = 0; any larger `i` also gives 0).
    pub fn sigma(&self, i: usize) -> f32 {
        if i >= self.steps {
            0.0
        } else if i == 0 {
            self.sigma_max
        } else if i == self.steps - 1 {
            self.sigma_min
        } else {
            let fraction = detmath::div(i as f32, (self.steps - 1) as f32);
            let root = self.root_max + fraction * (self.root_min - self.root_max);
            detmath::exp(self.rho * detmath::ln(root))
        }
    }

    /// Writes σ_0 … σ_N into `out` (`steps + 1` values).
    ///
    /// # Errors
    /// [`Error::BufferLength`] if `out` does not hold `steps + 1` values.
    pub fn fill(&self, out: &mut [f32]) -> Result<(), Error> {
        check_len("schedule", out.len(), self.steps + 1)?;
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.sigma(i);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_edm_formula_in_f64() {
        let s = KarrasSchedule::new(18, 0.002, 80.0, 7.0).unwrap();
        let mut out = [0.0f32; 19];
        s.fill(&mut out).unwrap();
        let (a, b) = (80f64.powf(1.0 / 7.0), 0.002f64.powf(1.0 / 7.0));
        for (i, &sigma) in out.iter().enumerate().take(18) {
            let exact = (a + i as f64 / 17.0 * (b - a)).powf(7.0);
            assert!(
                ((f64::from(sigma) - exact) / exact).abs() < 2e-6,
                "σ_{i} = {sigma}, expected {exact}"
            );
        }
        assert_eq!((out[0], out[17], out[18]), (80.0, 0.002, 0.0));
        assert!(
            out.windows(2).all(|w| w[1] < w[0]),
            "strictly decreasing: {out:?}"
        );
    }

    #[test]
    fn one_step_and_errors() {
        let s = KarrasSchedule::new(1, 0.002, 80.0, 7.0).unwrap();
        assert_eq!((s.sigma(0), s.sigma(1), s.sigma(7)), (80.0, 0.0, 0.0));
        assert!(KarrasSchedule::new(0, 0.002, 80.0, 7.0).is_err());
        assert!(KarrasSchedule::new(MAX_STEPS + 1, 0.002, 80.0, 7.0).is_err());
        assert!(KarrasSchedule::new(5, 0.0, 80.0, 7.0).is_err());
        assert!(KarrasSchedule::new(5, 1.0, 1.0, 7.0).is_err());
        assert!(KarrasSchedule::new(5, 0.1, f32::INFINITY, 7.0).is_err());
        assert!(KarrasSchedule::new(5, 0.1, 1.0, 0.0).is_err());
        assert!(KarrasSchedule::new(5, 0.1, 1.0, f32::NAN).is_err());
        let mut wrong = [0.0f32; 5];
        assert!(matches!(
            s.fill(&mut wrong),
            Err(Error::BufferLength { expected: 2, .. })
        ));
    }
}
