//! The power-scaled denoiser: one classifier-free-guidance network, two branches, one rule.
//!
//! ## The rule
//! The power-scaled posterior `p_{λ,α}(x | y) ∝ p(y | x)^λ · p(x)^α` has the score
//! `λ·∇log p(x | y) + (α − λ)·∇log p(x)`. With EDM denoisers, `score = (D(x; σ) − x) / σ²`,
//! so the same rule in terms of the two branches of a conditional network is
//!
//! ```text
//! D_eff(x; σ) = λ·D(x; σ, y) + (α − λ)·D(x; σ, ∅) + (1 − α)·x
//! ```
//!
//! (`α = 1`: classifier-free guidance with weight `w = λ − 1`; `λ = α = 1`: the plain
//! posterior denoiser; `λ = 0`: the tempered prior `p(x)^α`).
//!
//! ## Exact operation order (bit-exact contract)
//! With `a = α − λ` and `b = 1 − α` each rounded once to f32, every element `k` is
//!
//! ```text
//! out[k] = ((λ × c[k]) + (a × u[k])) + (b × x[k])
//! ```
//!
//! where `c` is the conditional branch and `u` the unconditional one, each product rounded
//! to f32 before the additions (no fused multiply-add). When `λ = 0` the conditional branch is
//! not evaluated and the term `λ × c[k]` is taken as `+0.0`; when `α = λ` the unconditional
//! branch is not evaluated and `a × u[k]` is taken as `+0.0`. Both shortcuts give the same
//! value as the full formula would with any finite branch output (they can only turn a
//! `−0.0` into `+0.0`).
//!
//! Note that this combines denoisers, not scores: `D_eff` is the denoiser whose score is the
//! power-scaled one at that noise level. Samplers that follow it integrate the *annealed*
//! power-scaled score; see [`crate::sampler`] for what that samples and for the exact-power
//! mode that targets `p_{λ,α}` itself.

use crate::error::{check_len, Error};

/// What the score network offers: both CFG branches of one batch-of-2 evaluation.
pub trait ConditionalDenoiser {
    /// Number of values in one image (H·W).
    fn image_len(&self) -> usize;

    /// Evaluates D(x; σ, y) into `conditional` and/or D(x; σ, ∅) into `unconditional`
    /// (either may be `None` when the caller doesn't need it; when both are `Some` they come
    /// from one batch-of-2 call).
    ///
    /// # Errors
    /// Implementations return an [`Error`] for buffers whose length is not
    /// [`image_len`](Self::image_len) or for an invalid `sigma`.
    fn denoise(
        &mut self,
        x: &[f32],
        sigma: f32,
        conditional: Option<&mut [f32]>,
        unconditional: Option<&mut [f32]>,
    ) -> Result<(), Error>;
}

/// A plain denoiser D(x; σ) (what samplers consume).
pub trait Denoiser {
    /// Number of values in one image (H·W).
    fn image_len(&self) -> usize;

    /// Writes D(x; σ) into `out`.
    ///
    /// # Errors
    /// Implementations return an [`Error`] for buffers whose length is not
    /// [`image_len`](Self::image_len) or for an invalid `sigma`.
    fn denoise(&mut self, x: &[f32], sigma: f32, out: &mut [f32]) -> Result<(), Error>;

    /// The tempering exponent of the law this denoiser's score describes (1 by default).
    ///
    /// A denoiser whose score is `α·∇log q_σ` describes `q_σ^α`; the exact-power sampler
    /// moves between noise levels along `q`'s path (score divided by α) and lets its
    /// Langevin steps target `q_σ^α`. [`PowerScaled`] returns its prior power α:
    /// `p_σ(y|x)^λ·p_σ(x)^{α−λ} = q_σ^α` with `q_σ ∝ p_σ(x|y)^{λ/α}·p_σ(x)^{1−λ/α}`.
    fn tempering(&self) -> f32 {
        1.0
    }
}

impl<T: ConditionalDenoiser + ?Sized> ConditionalDenoiser for &mut T {
    fn image_len(&self) -> usize {
        (**self).image_len()
    }

    fn denoise(
        &mut self,
        x: &[f32],
        sigma: f32,
        conditional: Option<&mut [f32]>,
        unconditional: Option<&mut [f32]>,
    ) -> Result<(), Error> {
        (**self).denoise(x, sigma, conditional, unconditional)
    }
}

impl<T: Denoiser + ?Sized> Denoiser for &mut T {
    fn image_len(&self) -> usize {
        (**self).image_len()
    }

    fn denoise(&mut self, x: &[f32], sigma: f32, out: &mut [f32]) -> Result<(), Error> {
        (**self).denoise(x, sigma, out)
    }

    fn tempering(&self) -> f32 {
        (**self).tempering()
    }
}

/// Length of the scratch buffer [`PowerScaled`] needs for images of `image_len` values
/// (room for the second branch).
pub const fn power_scaled_scratch_len(image_len: usize) -> usize {
    image_len
}

/// Checks that `lambda ≥ 0` and `alpha > 0` are finite.
///
/// # Errors
/// [`Error::InvalidArgument`] naming `"lambda"` or `"alpha"`.
pub fn validate_power(lambda: f32, alpha: f32) -> Result<(), Error> {
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(Error::InvalidArgument {
            name: "lambda",
            expected: "a finite number >= 0",
        });
    }
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(Error::InvalidArgument {
            name: "alpha",
            expected: "a finite number > 0",
        });
    }
    Ok(())
}

/// The power-scaled denoiser `D_eff = λ·D(x;σ,y) + (α−λ)·D(x;σ,∅) + (1−α)·x` built on a
/// [`ConditionalDenoiser`] (module docs give the exact operation order).
#[derive(Debug)]
pub struct PowerScaled<'s, C: ConditionalDenoiser> {
    inner: C,
    lambda: f32,
    alpha: f32,
    scratch: &'s mut [f32],
}

impl<'s, C: ConditionalDenoiser> PowerScaled<'s, C> {
    /// Wraps `inner` with likelihood power `lambda` (λ) and prior power `alpha` (α);
    /// `scratch` must hold [`power_scaled_scratch_len`]`(inner.image_len())` values.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `lambda` is negative or not finite, or `alpha` is not
    /// a finite number > 0; [`Error::BufferLength`] for a wrong scratch length.
    pub fn new(inner: C, lambda: f32, alpha: f32, scratch: &'s mut [f32]) -> Result<Self, Error> {
        validate_power(lambda, alpha)?;
        check_len(
            "power-scaled scratch",
            scratch.len(),
            power_scaled_scratch_len(inner.image_len()),
        )?;
        Ok(Self {
            inner,
            lambda,
            alpha,
            scratch,
        })
    }

    /// The likelihood power λ.
    pub fn lambda(&self) -> f32 {
        self.lambda
    }

    /// The prior power α.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }

    /// The wrapped conditional denoiser.
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Gives back the wrapped conditional denoiser.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C: ConditionalDenoiser> Denoiser for PowerScaled<'_, C> {
    fn image_len(&self) -> usize {
        self.inner.image_len()
    }

    /// The prior power α (see [`Denoiser::tempering`]).
    fn tempering(&self) -> f32 {
        self.alpha
    }

    /// Writes `D_eff(x; σ)` into `out` (module docs give the exact operation order).
    ///
    /// # Errors
    /// [`Error::BufferLength`] if `x` or `out` does not hold `image_len()` values, and any
    /// error of the wrapped denoiser.
    fn denoise(&mut self, x: &[f32], sigma: f32, out: &mut [f32]) -> Result<(), Error> {
        let n = self.inner.image_len();
        check_len("x", x.len(), n)?;
        check_len("denoised", out.len(), n)?;
        // The constructor checked scratch.len() == image_len at that time; check again in
        // case the inner denoiser's image_len changed.
        check_len("power-scaled scratch", self.scratch.len(), n)?;
        let lambda = self.lambda;
        let a = self.alpha - self.lambda;
        let b = 1.0 - self.alpha;
        if lambda == 0.0 {
            // Only the unconditional branch: out = (+0 + a·u) + b·x.
            self.inner.denoise(x, sigma, None, Some(&mut *out))?;
            for (o, &xk) in out.iter_mut().zip(x) {
                *o = (0.0 + a * *o) + b * xk;
            }
        } else if a == 0.0 {
            // Only the conditional branch: out = (λ·c + +0) + b·x.
            self.inner.denoise(x, sigma, Some(&mut *out), None)?;
            for (o, &xk) in out.iter_mut().zip(x) {
                *o = (lambda * *o + 0.0) + b * xk;
            }
        } else {
            let unconditional = &mut *self.scratch;
            self.inner
                .denoise(x, sigma, Some(&mut *out), Some(&mut *unconditional))?;
            for ((o, &u), &xk) in out.iter_mut().zip(unconditional.iter()).zip(x) {
                *o = (lambda * *o + a * u) + b * xk;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake network: conditional = 2x + 1, unconditional = −x + 3; counts branch calls.
    #[derive(Debug)]
    struct Affine {
        len: usize,
        conditional_calls: usize,
        unconditional_calls: usize,
    }

    impl ConditionalDenoiser for Affine {
        fn image_len(&self) -> usize {
            self.len
        }
        fn denoise(
            &mut self,
            x: &[f32],
            _sigma: f32,
            conditional: Option<&mut [f32]>,
            unconditional: Option<&mut [f32]>,
        ) -> Result<(), Error> {
            if let Some(c) = conditional {
                self.conditional_calls += 1;
                for (o, &v) in c.iter_mut().zip(x) {
                    *o = 2.0 * v + 1.0;
                }
            }
            if let Some(u) = unconditional {
                self.unconditional_calls += 1;
                for (o, &v) in u.iter_mut().zip(x) {
                    *o = -v + 3.0;
                }
            }
            Ok(())
        }
    }

    fn affine() -> Affine {
        Affine {
            len: 3,
            conditional_calls: 0,
            unconditional_calls: 0,
        }
    }

    fn run(lambda: f32, alpha: f32) -> ([f32; 3], usize, usize) {
        let mut scratch = [0.0f32; 3];
        let mut d = PowerScaled::new(affine(), lambda, alpha, &mut scratch).unwrap();
        let x = [0.5f32, -1.25, 2.0];
        let mut out = [0.0f32; 3];
        d.denoise(&x, 1.0, &mut out).unwrap();
        let inner = d.into_inner();
        (out, inner.conditional_calls, inner.unconditional_calls)
    }

    #[test]
    fn matches_formula_in_f64() {
        let x = [0.5f64, -1.25, 2.0];
        for &(lambda, alpha) in &[
            (0.0f32, 1.0f32),
            (1.0, 1.0),
            (2.0, 1.0),
            (1.5, 0.5),
            (0.0, 0.25),
            (3.0, 1.5),
        ] {
            let (out, _, _) = run(lambda, alpha);
            for k in 0..3 {
                let (l, a) = (f64::from(lambda), f64::from(alpha));
                let expected = l * (2.0 * x[k] + 1.0) + (a - l) * (-x[k] + 3.0) + (1.0 - a) * x[k];
                assert!(
                    (f64::from(out[k]) - expected).abs() <= 1e-6 * (1.0 + expected.abs()),
                    "λ={lambda} α={alpha} k={k}: {} vs {expected}",
                    out[k]
                );
            }
        }
    }

    #[test]
    fn skips_unneeded_branch() {
        assert_eq!(
            run(0.0, 0.5).1,
            0,
            "λ = 0 must not evaluate the conditional branch"
        );
        assert_eq!(run(0.0, 0.5).2, 1);
        assert_eq!(
            run(1.0, 1.0).2,
            0,
            "α = λ must not evaluate the unconditional branch"
        );
        assert_eq!(run(1.0, 1.0).1, 1);
        assert_eq!((run(2.0, 1.0).1, run(2.0, 1.0).2), (1, 1));
    }

    #[test]
    fn lambda_alpha_one_is_the_conditional_branch_exactly() {
        let (out, _, _) = run(1.0, 1.0);
        assert_eq!(out, [2.0, -1.5, 5.0]);
    }

    #[test]
    fn rejects_bad_parameters_and_buffers() {
        let mut s = [0.0f32; 3];
        for &(l, a, name) in &[
            (-0.1f32, 1.0f32, "lambda"),
            (f32::NAN, 1.0, "lambda"),
            (f32::INFINITY, 1.0, "lambda"),
            (1.0, 0.0, "alpha"),
            (1.0, -1.0, "alpha"),
            (1.0, f32::NAN, "alpha"),
        ] {
            match PowerScaled::new(affine(), l, a, &mut s) {
                Err(Error::InvalidArgument { name: n, .. }) => assert_eq!(n, name),
                other => panic!("λ={l} α={a}: {other:?}"),
            }
        }
        let mut short = [0.0f32; 2];
        assert!(matches!(
            PowerScaled::new(affine(), 1.0, 1.0, &mut short),
            Err(Error::BufferLength {
                expected: 3,
                actual: 2,
                ..
            })
        ));
        let mut d = PowerScaled::new(affine(), 1.0, 1.0, &mut s).unwrap();
        let mut out = [0.0f32; 4];
        assert!(matches!(
            d.denoise(&[0.0; 3], 1.0, &mut out),
            Err(Error::BufferLength { .. })
        ));
        assert!(matches!(
            d.denoise(&[0.0; 2], 1.0, &mut out[..3]),
            Err(Error::BufferLength { .. })
        ));
    }
}
