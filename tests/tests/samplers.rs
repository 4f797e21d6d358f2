//! Samplers and the power-scaled denoiser on an analytic Gaussian case with a known answer.
//!
//! Every pixel j has a prior N(μ_j, s_j²) and a likelihood N(y_j; x_j, t²). At noise level σ
//! the noised prior is N(μ, s² + σ²) and the noised posterior N(m_p, v_p + σ²), with
//! v_p = (1/s² + 1/t²)⁻¹ and m_p = v_p(μ/s² + y/t²), so both denoisers are affine in x:
//! D(x; σ, y) = (v_p·x + σ²·m_p)/(v_p + σ²) and D(x; σ, ∅) = (s²·x + σ²·μ)/(s² + σ²).
//! The true power-scaled posterior p(y|x)^λ·p(x)^α is N with precision α/s² + λ/t² and mean
//! (αμ/s² + λy/t²)/(α/s² + λ/t²).
//!
//! References (all f64, written from the papers' formulas, not from the core's code):
//! - the exact probability-flow ODE: the affine map x_T ↦ x(σ_min) integrated with
//!   classical RK4 in u = ln σ (100 000 steps; its homogeneous part is checked against the
//!   closed form Φ(σ) = (v_p+σ²)^{λ/2}·(s²+σ²)^{(α−λ)/2}), followed by the denoising step
//!   x ← D(x; σ_min) that every ODE sampler ends with;
//! - the exact output law of each sampler's discrete recursion with this denoiser: every
//!   sampler is linear-Gaussian here (except the Langevin step-size rule), so the law is
//!   N(mean, var) obtained by running an f64 replica on x_T = 0 and 1 (deterministic
//!   samplers) or propagating mean and variance step by step (stochastic ones).
//!
//! Measurements for docs/sampling.md:
//! `cargo test -p powerpost-tests --test samplers -- --ignored --nocapture power_posterior_table`.

// The f32 reference transcribes the documented formulas index by index, on purpose.
#![allow(clippy::needless_range_loop, clippy::assign_op_pattern)]

use powerpost_core::detmath;
use powerpost_core::power::{power_scaled_scratch_len, ConditionalDenoiser, Denoiser, PowerScaled};
use powerpost_core::reduce::sum_squares;
use powerpost_core::rng::NoiseStream;
use powerpost_core::sampler::{
    network_evaluations, sample, sample_with_progress, sampler_scratch_len, KarrasSchedule,
    Predictor, SamplerConfig, SamplerKind,
};
use powerpost_core::Error;

const SEED: u64 = 0x5EED_0FB0;
/// Distinct pixel parameter sets; the image repeats them [`COPIES`] times.
const UNIQUE: usize = 32;
/// Copies of the distinct pixels in the 256-value test image.
const COPIES: usize = 8;

// ---------------------------------------------------------------------------------------
// The analytic Gaussian model
// ---------------------------------------------------------------------------------------

/// One pixel's prior N(mu, s²), likelihood N(y; x, t²).
#[derive(Debug, Clone, Copy)]
struct Pixel {
    mu: f64,
    s: f64,
    t: f64,
    y: f64,
}

impl Pixel {
    fn prior_var(&self) -> f64 {
        self.s * self.s
    }
    fn post_var(&self) -> f64 {
        1.0 / (1.0 / self.prior_var() + 1.0 / (self.t * self.t))
    }
    fn post_mean(&self) -> f64 {
        self.post_var() * (self.mu / self.prior_var() + self.y / (self.t * self.t))
    }
    /// The true power-scaled posterior p(y|x)^λ p(x)^α: (mean, variance).
    fn power_law(&self, lambda: f64, alpha: f64) -> (f64, f64) {
        let precision = alpha / self.prior_var() + lambda / (self.t * self.t);
        let mean =
            (alpha * self.mu / self.prior_var() + lambda * self.y / (self.t * self.t)) / precision;
        (mean, 1.0 / precision)
    }
    /// Conditional denoiser D(x; σ, y) = g·x + h: (g, h).
    fn conditional(&self, sigma: f64) -> (f64, f64) {
        let (v, m, s2) = (self.post_var(), self.post_mean(), sigma * sigma);
        (v / (v + s2), s2 * m / (v + s2))
    }
    /// Unconditional denoiser D(x; σ, ∅) = g·x + h: (g, h).
    fn unconditional(&self, sigma: f64) -> (f64, f64) {
        let (v, s2) = (self.prior_var(), sigma * sigma);
        (v / (v + s2), s2 * self.mu / (v + s2))
    }
    /// Power-scaled denoiser λ·D(y) + (α−λ)·D(∅) + (1−α)·x = g·x + h: (g, h).
    fn effective(&self, sigma: f64, lambda: f64, alpha: f64) -> (f64, f64) {
        let (gc, hc) = self.conditional(sigma);
        let (gu, hu) = self.unconditional(sigma);
        (
            lambda * gc + (alpha - lambda) * gu + (1.0 - alpha),
            lambda * hc + (alpha - lambda) * hu,
        )
    }
    /// D_eff(x; σ) in f64.
    fn denoise(&self, x: f64, sigma: f64, lambda: f64, alpha: f64) -> f64 {
        let (g, h) = self.effective(sigma, lambda, alpha);
        g * x + h
    }
    /// The affine map x(σ_max) ↦ x(σ_min) of the probability-flow ODE
    /// dx/dσ = σ·(P(σ)·x − q(σ)) of the power-scaled score, by RK4 in u = ln σ.
    fn ode_map(&self, lambda: f64, alpha: f64, sigma_max: f64, sigma_min: f64) -> (f64, f64) {
        let (vp, mp, v, mu) = (self.post_var(), self.post_mean(), self.prior_var(), self.mu);
        // dx/du = σ²(P x − q) with P, q from the two Gaussian scores.
        let rhs = |u: f64, a: f64, b: f64| -> (f64, f64) {
            let s2 = (2.0 * u).exp();
            let p = lambda / (vp + s2) + (alpha - lambda) / (v + s2);
            let q = lambda * mp / (vp + s2) + (alpha - lambda) * mu / (v + s2);
            (s2 * p * a, s2 * (p * b - q))
        };
        let steps = 100_000;
        let (u0, u1) = (sigma_max.ln(), sigma_min.ln());
        let h = (u1 - u0) / steps as f64;
        let (mut a, mut b) = (1.0, 0.0);
        for k in 0..steps {
            let u = u0 + k as f64 * h;
            let k1 = rhs(u, a, b);
            let k2 = rhs(u + h / 2.0, a + h / 2.0 * k1.0, b + h / 2.0 * k1.1);
            let k3 = rhs(u + h / 2.0, a + h / 2.0 * k2.0, b + h / 2.0 * k2.1);
            let k4 = rhs(u + h, a + h * k3.0, b + h * k3.1);
            a += h / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
            b += h / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
        }
        (a, b)
    }
    /// The affine map x_T ↦ x_0 of the exact ODE from σ_max to σ_min followed by the final
    /// denoising step x ← D_eff(x; σ_min) shared by all ODE samplers.
    fn ode_sampler_limit(
        &self,
        lambda: f64,
        alpha: f64,
        sigma_max: f64,
        sigma_min: f64,
    ) -> (f64, f64) {
        let (a, b) = self.ode_map(lambda, alpha, sigma_max, sigma_min);
        let (g, h) = self.effective(sigma_min, lambda, alpha);
        (g * a, g * b + h)
    }
}

/// 256 pixels: [`COPIES`] copies of the [`UNIQUE`] combinations s ∈ {0.4 … 0.7} ×
/// μ ∈ {−0.5 … 1} × y ∈ {−0.3, 0.8}, t = 0.5. Precisions stay within a factor ~3 of each
/// other, so one image-wide Langevin step size suits every pixel, and 256 values keep the
/// snr rule's small-image variance bias (≈ 2/d, see docs/sampling.md) below 1 %.
fn pixels() -> Vec<Pixel> {
    let mut unique = Vec::new();
    for &y in &[-0.3, 0.8] {
        for &mu in &[-0.5, 0.0, 0.5, 1.0] {
            for &s in &[0.4, 0.5, 0.6, 0.7] {
                unique.push(Pixel { mu, s, t: 0.5, y });
            }
        }
    }
    assert_eq!(unique.len(), UNIQUE);
    unique
        .iter()
        .cycle()
        .take(UNIQUE * COPIES)
        .copied()
        .collect()
}

/// The analytic conditional denoiser (computed in f64, rounded to f32).
struct Gaussian {
    pixels: Vec<Pixel>,
    /// Per pixel: (v_p, m_p, s², μ).
    moments: Vec<(f64, f64, f64, f64)>,
    calls: usize,
}

impl Gaussian {
    fn new() -> Self {
        let pixels = pixels();
        let moments = pixels
            .iter()
            .map(|p| (p.post_var(), p.post_mean(), p.prior_var(), p.mu))
            .collect();
        Self {
            pixels,
            moments,
            calls: 0,
        }
    }
}

impl ConditionalDenoiser for Gaussian {
    fn image_len(&self) -> usize {
        self.pixels.len()
    }
    fn denoise(
        &mut self,
        x: &[f32],
        sigma: f32,
        conditional: Option<&mut [f32]>,
        unconditional: Option<&mut [f32]>,
    ) -> Result<(), Error> {
        self.calls += 1;
        let s2 = f64::from(sigma) * f64::from(sigma);
        if let Some(c) = conditional {
            for ((o, &xk), &(vp, mp, _, _)) in c.iter_mut().zip(x).zip(&self.moments) {
                *o = ((vp * f64::from(xk) + s2 * mp) / (vp + s2)) as f32;
            }
        }
        if let Some(u) = unconditional {
            for ((o, &xk), &(_, _, v, mu)) in u.iter_mut().zip(x).zip(&self.moments) {
                *o = ((v * f64::from(xk) + s2 * mu) / (v + s2)) as f32;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------

/// Per-pixel (mean, variance) over `samples` samples (streams 0 … samples−1) with power
/// (λ, α).
fn sample_law(config: &SamplerConfig, lambda: f64, alpha: f64, samples: usize) -> Vec<(f64, f64)> {
    let mut gaussian = Gaussian::new();
    let n = gaussian.image_len();
    let mut power_scratch = vec![0.0f32; power_scaled_scratch_len(n)];
    let mut den = PowerScaled::new(
        &mut gaussian,
        lambda as f32,
        alpha as f32,
        &mut power_scratch,
    )
    .unwrap();
    let mut scratch = vec![0.0f32; sampler_scratch_len(config.kind, n)];
    let mut x = vec![0.0f32; n];
    let mut sum = vec![0.0f64; n];
    let mut sum_sq = vec![0.0f64; n];
    for i in 0..samples {
        sample(
            &mut den,
            config,
            NoiseStream::new(SEED, i as u64),
            &mut x,
            &mut scratch,
        )
        .unwrap();
        for k in 0..n {
            let v = f64::from(x[k]);
            sum[k] += v;
            sum_sq[k] += v * v;
        }
    }
    let m = samples as f64;
    (0..n)
        .map(|k| {
            let mean = sum[k] / m;
            (mean, (sum_sq[k] - m * mean * mean) / (m - 1.0))
        })
        .collect()
}

/// Largest |z-score| over pixels of sample means and variances against the Gaussian laws
/// `expected` (standard errors √(v/n) and v·√(2/(n−1))).
fn max_z(measured: &[(f64, f64)], expected: &[(f64, f64)], samples: usize) -> (f64, f64) {
    let m = samples as f64;
    let mut worst = (0.0f64, 0.0f64);
    for (&(mean, var), &(em, ev)) in measured.iter().zip(expected) {
        worst.0 = worst.0.max(((mean - em) / (ev / m).sqrt()).abs());
        worst.1 = worst
            .1
            .max(((var - ev) / (ev * (2.0 / (m - 1.0)).sqrt())).abs());
    }
    worst
}

/// Aggregate distance of a measured per-pixel law from `truth`:
/// (mean bias = RMS over pixels of (mean − true mean)/true std with the sampling noise
/// v̂/n removed, std ratio = √(mean over pixels of v̂ / true v)).
fn aggregate(measured: &[(f64, f64)], truth: &[(f64, f64)], samples: usize) -> (f64, f64) {
    let n = measured.len() as f64;
    let mut bias_sq = 0.0;
    let mut var_ratio = 0.0;
    for (&(m, v), &(tm, tv)) in measured.iter().zip(truth) {
        bias_sq += (m - tm) * (m - tm) / tv - v / (tv * samples as f64);
        var_ratio += v / tv;
    }
    ((bias_sq / n).max(0.0).sqrt(), (var_ratio / n).sqrt())
}

// ---------------------------------------------------------------------------------------
// f64 references of the discrete samplers
// ---------------------------------------------------------------------------------------

/// The f32 σ schedule of `config`, as f64.
fn sigmas(config: &SamplerConfig) -> Vec<f64> {
    let s =
        KarrasSchedule::new(config.steps, config.sigma_min, config.sigma_max, config.rho).unwrap();
    (0..=config.steps).map(|i| f64::from(s.sigma(i))).collect()
}

/// Affine coefficients (a, b) of a scalar map f(x) = a·x + b.
fn affine(f: impl Fn(f64) -> f64) -> (f64, f64) {
    let b = f(0.0);
    (f(1.0) - b, b)
}

/// Exact law when every step is x ← a·x + b + c·z with fresh z: `steps` yields (a, b, c²);
/// starts from x_T ~ N(0, σ_max²).
fn propagate(sigma_max: f64, steps: impl IntoIterator<Item = (f64, f64, f64)>) -> (f64, f64) {
    let (mut mean, mut var) = (0.0, sigma_max * sigma_max);
    for (a, b, c2) in steps {
        mean = a * mean + b;
        var = a * a * var + c2;
    }
    (mean, var)
}

/// EDM Algorithm 1 Heun step from t to t_next with denoiser `d` (last step: x ← d(x, t)).
fn heun_f64(x: f64, t: f64, t_next: f64, d: &impl Fn(f64, f64) -> f64) -> f64 {
    if t_next == 0.0 {
        return d(x, t);
    }
    let slope = (x - d(x, t)) / t;
    let x1 = x + (t_next - t) * slope;
    let slope1 = (x1 - d(x1, t_next)) / t_next;
    x + (t_next - t) * 0.5 * (slope + slope1)
}

/// f64 replica of a deterministic sampler (Heun, Euler, DPM-Solver++(2M)) from x_T.
fn ode_sampler_f64(config: &SamplerConfig, p: &Pixel, lambda: f64, alpha: f64, x_t: f64) -> f64 {
    let t = sigmas(config);
    let d = |x: f64, s: f64| p.denoise(x, s, lambda, alpha);
    let mut x = x_t;
    let mut previous: Option<f64> = None;
    for i in 0..config.steps {
        x = match config.kind {
            SamplerKind::Heun => heun_f64(x, t[i], t[i + 1], &d),
            SamplerKind::Euler => x + (t[i + 1] - t[i]) * (x - d(x, t[i])) / t[i],
            SamplerKind::DpmSolverPp2M => {
                // k-diffusion sample_dpmpp_2m with t = −ln σ.
                let denoised = d(x, t[i]);
                let next = if t[i + 1] == 0.0 {
                    denoised
                } else {
                    let h = t[i].ln() - t[i + 1].ln();
                    let target = match previous {
                        None => denoised,
                        Some(old) => {
                            let r = (t[i - 1].ln() - t[i].ln()) / h;
                            (1.0 + 1.0 / (2.0 * r)) * denoised - old / (2.0 * r)
                        }
                    };
                    (t[i + 1] / t[i]) * x - (-h).exp_m1() * target
                };
                previous = Some(denoised);
                next
            }
            other => panic!("{other:?} is not deterministic"),
        };
    }
    x
}

/// Exact output law of a deterministic sampler: N(b, a²σ_max²) for x_0 = a·x_T + b.
fn ode_sampler_law(config: &SamplerConfig, p: &Pixel, lambda: f64, alpha: f64) -> (f64, f64) {
    let (a, b) = affine(|x| ode_sampler_f64(config, p, lambda, alpha, x));
    let sigma_max = f64::from(config.sigma_max);
    (b, a * a * sigma_max * sigma_max)
}

/// Exact output law of EDM Algorithm 2.
fn edm_stochastic_law(config: &SamplerConfig, p: &Pixel, lambda: f64, alpha: f64) -> (f64, f64) {
    let t = sigmas(config);
    let n = config.steps;
    let d = |x: f64, s: f64| p.denoise(x, s, lambda, alpha);
    let gamma_max = (f64::from(config.s_churn) / n as f64).min(2f64.sqrt() - 1.0);
    let steps = (0..n).flat_map(|i| {
        let churn = f64::from(config.s_tmin) <= t[i] && t[i] <= f64::from(config.s_tmax);
        let gamma = if churn { gamma_max } else { 0.0 };
        let t_hat = t[i] + gamma * t[i];
        let noise = f64::from(config.s_noise).powi(2) * (t_hat * t_hat - t[i] * t[i]);
        let (a, b) = affine(|x| heun_f64(x, t_hat, t[i + 1], &d));
        [(1.0, 0.0, noise), (a, b, 0.0)]
    });
    propagate(t[0], steps)
}

/// Exact output law of reverse-SDE Euler–Maruyama
/// (x ← x − 2σ_iΔ·score + √(2σ_iΔ)·z, Δ = σ_i − σ_{i+1}; last step x ← D).
fn euler_maruyama_law(config: &SamplerConfig, p: &Pixel, lambda: f64, alpha: f64) -> (f64, f64) {
    let t = sigmas(config);
    let steps = (0..config.steps).map(|i| {
        let (g, h) = p.effective(t[i], lambda, alpha);
        if t[i + 1] == 0.0 {
            return (g, h, 0.0);
        }
        let delta = t[i] - t[i + 1];
        // score = (D − x)/σ² = ((g − 1)x + h)/σ².
        let step = 2.0 * t[i] * delta / (t[i] * t[i]);
        (1.0 + step * (g - 1.0), step * h, 2.0 * t[i] * delta)
    });
    propagate(t[0], steps)
}

/// Largest relative deviation of a law from the posterior: max(|mean − m_p|/√v_p, |std/√v_p − 1|).
fn deviation_from_posterior(law: (f64, f64), p: &Pixel) -> f64 {
    let (m, v) = law;
    ((m - p.post_mean()).abs() / p.post_var().sqrt()).max(((v / p.post_var()).sqrt() - 1.0).abs())
}

fn unique_pixels() -> Vec<Pixel> {
    pixels()[..UNIQUE].to_vec()
}

// ---------------------------------------------------------------------------------------
// Deterministic samplers
// ---------------------------------------------------------------------------------------

#[test]
fn ode_reference_matches_closed_form_homogeneous_part() {
    let (lambda, alpha) = (1.5, 0.75);
    for p in unique_pixels().iter().step_by(5) {
        let (a, _) = p.ode_map(lambda, alpha, 80.0, f64::from(0.002f32));
        let phi = |s: f64| {
            (p.post_var() + s * s).powf(lambda / 2.0)
                * (p.prior_var() + s * s).powf((alpha - lambda) / 2.0)
        };
        let closed = phi(f64::from(0.002f32)) / phi(80.0);
        assert!(
            ((a - closed) / closed).abs() < 1e-10,
            "RK4 {a} vs closed form {closed}"
        );
    }
    // With λ = 0 the mean stays at μ.
    let p = unique_pixels()[5];
    let (a, b) = p.ode_map(0.0, 0.5, 80.0, 0.002);
    assert!((a * p.mu + b - p.mu).abs() < 1e-12);
}

/// Max |sampler − exact ODE| over pixels and 4 streams, with power (λ, α).
fn ode_error(kind: SamplerKind, steps: usize, maps: &[(f64, f64)], lambda: f64, alpha: f64) -> f64 {
    let config = SamplerConfig {
        kind,
        steps,
        ..SamplerConfig::default()
    };
    let mut gaussian = Gaussian::new();
    let n = gaussian.image_len();
    let mut power_scratch = vec![0.0f32; n];
    let mut den = PowerScaled::new(
        &mut gaussian,
        lambda as f32,
        alpha as f32,
        &mut power_scratch,
    )
    .unwrap();
    let mut scratch = vec![0.0f32; sampler_scratch_len(kind, n)];
    let mut x = vec![0.0f32; n];
    let mut z = vec![0.0f32; n];
    let mut worst = 0.0f64;
    for stream in 0..4 {
        let noise = NoiseStream::new(SEED, stream);
        sample(&mut den, &config, noise, &mut x, &mut scratch).unwrap();
        noise.fill_gaussian(0, &mut z);
        for k in 0..n {
            let x_t = f64::from(80.0f32 * z[k]);
            let (a, b) = maps[k % UNIQUE];
            worst = worst.max((f64::from(x[k]) - (a * x_t + b)).abs());
        }
    }
    worst
}

/// Least-squares slope of −ln(error) against ln(N − 1) (the schedule's step is 1/(N − 1)).
fn observed_order(steps: &[usize], errors: &[f64]) -> f64 {
    let xs: Vec<f64> = steps.iter().map(|&n| ((n - 1) as f64).ln()).collect();
    let ys: Vec<f64> = errors.iter().map(|e| -e.ln()).collect();
    let (mx, my) = (
        xs.iter().sum::<f64>() / xs.len() as f64,
        ys.iter().sum::<f64>() / ys.len() as f64,
    );
    let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    cov / var
}

#[test]
fn ode_samplers_converge_at_their_order() {
    let (lambda, alpha) = (1.5, 0.75);
    let maps: Vec<(f64, f64)> = unique_pixels()
        .iter()
        .map(|p| p.ode_sampler_limit(lambda, alpha, 80.0, f64::from(0.002f32)))
        .collect();
    let steps = [33, 65, 129, 257];
    for (kind, order) in [
        (SamplerKind::Euler, 1.0),
        (SamplerKind::Heun, 2.0),
        (SamplerKind::DpmSolverPp2M, 2.0),
    ] {
        let errors: Vec<f64> = steps
            .iter()
            .map(|&n| ode_error(kind, n, &maps, lambda, alpha))
            .collect();
        let observed = observed_order(&steps, &errors);
        let shown: Vec<String> = errors.iter().map(|e| format!("{e:.3e}")).collect();
        println!("{kind:?}: steps {steps:?} max errors {shown:?} observed order {observed:.2}");
        assert!(
            (observed - order).abs() < 0.2,
            "{kind:?}: observed order {observed:.3}, expected {order} (errors {errors:?})"
        );
        assert!(
            errors.windows(2).all(|w| w[1] < w[0]),
            "{kind:?}: errors must shrink: {errors:?}"
        );
    }
}

#[test]
fn deterministic_samplers_match_their_exact_law() {
    // Sample statistics against the exact law of the discrete map x_T ↦ x_0, including
    // λ = 0 (where the law is the annealed one, not p^α) and a guided posterior.
    let samples = 500;
    for kind in [
        SamplerKind::Heun,
        SamplerKind::Euler,
        SamplerKind::DpmSolverPp2M,
    ] {
        for &(lambda, alpha) in &[(1.0, 1.0), (0.0, 0.5), (0.0, 1.5), (2.0, 0.5)] {
            let config = SamplerConfig::with_kind(kind);
            let law = sample_law(&config, lambda, alpha, samples);
            let exact: Vec<(f64, f64)> = pixels()
                .iter()
                .map(|p| ode_sampler_law(&config, p, lambda, alpha))
                .collect();
            let (zm, zv) = max_z(&law, &exact, samples);
            assert!(
                zm < 5.0 && zv < 5.0,
                "{kind:?} λ={lambda} α={alpha}: max |z| mean {zm}, variance {zv}"
            );
        }
    }
}

#[test]
fn deterministic_samplers_at_lambda_alpha_one_sample_the_posterior() {
    // The exact ODE maps N(m_p, v_p + σ_max²) onto the posterior; started from N(0, σ_max²)
    // instead, its output mean is off by ≈ m_p·√v_p/σ_max (≤ 1.2 % of the std here).
    let limits: Vec<(f64, f64)> = unique_pixels()
        .iter()
        .map(|p| p.ode_sampler_limit(1.0, 1.0, 80.0, f64::from(0.002f32)))
        .collect();
    for (p, &(a, b)) in unique_pixels().into_iter().zip(&limits) {
        let exact_ode = (b, a * a * 6400.0);
        let floor = p.post_mean().abs() / 80.0 + 1e-4;
        assert!(
            deviation_from_posterior(exact_ode, &p) < floor,
            "{exact_ode:?} vs {p:?}"
        );
    }
    // The discrete laws converge to the exact ODE's law at second order (f64) ...
    for kind in [SamplerKind::Heun, SamplerKind::DpmSolverPp2M] {
        let dev = |steps| {
            let config = SamplerConfig {
                kind,
                steps,
                ..SamplerConfig::default()
            };
            unique_pixels()
                .iter()
                .zip(&limits)
                .map(|(p, &(a, b))| {
                    let (m, v) = ode_sampler_law(&config, p, 1.0, 1.0);
                    ((m - b).abs() / p.post_var().sqrt())
                        .max(((v / (a * a * 6400.0)).sqrt() - 1.0).abs())
                })
                .fold(0.0, f64::max)
        };
        let devs = [dev(18), dev(64), dev(256)];
        println!("{kind:?} λ=α=1: law's max deviation from the exact ODE law at 18/64/256 steps {devs:.5?}");
        assert!(
            devs[0] < 0.1 && devs[1] < devs[0] / 8.0 && devs[2] < devs[1] / 8.0,
            "{kind:?}: {devs:?}"
        );
        // ... and the samples at 64 steps are posterior samples within statistical error.
        let samples = 500;
        let config = SamplerConfig {
            kind,
            steps: 64,
            ..SamplerConfig::default()
        };
        let law = sample_law(&config, 1.0, 1.0, samples);
        let posterior: Vec<(f64, f64)> = pixels()
            .iter()
            .map(|p| (p.post_mean(), p.post_var()))
            .collect();
        let (zm, zv) = max_z(&law, &posterior, samples);
        assert!(
            zm < 5.0 && zv < 5.0,
            "{kind:?}: max |z| mean {zm}, variance {zv}"
        );
    }
}

#[test]
fn ode_spread_is_the_annealed_one_not_the_tempered_prior() {
    // λ = 0 (prior only): the exact ODE output spread is v^{α/2}(v + σ_max²)^{(1−α)/2}, and
    // the Heun law tends to it; the tempered prior p(x)^α has spread √(v/α).
    for &alpha in &[0.5f64, 1.5] {
        for p in unique_pixels().iter().take(4) {
            let v = p.prior_var();
            let annealed = v.powf(alpha / 2.0) * (v + 80.0 * 80.0).powf((1.0 - alpha) / 2.0);
            let tempered = (v / alpha).sqrt();
            let (a, _) = p.ode_sampler_limit(0.0, alpha, 80.0, f64::from(0.002f32));
            let exact_spread = a.abs() * 80.0;
            assert!(
                (exact_spread / annealed - 1.0).abs() < 1e-4,
                "{exact_spread} vs {annealed}"
            );
            let config = SamplerConfig {
                steps: 512,
                ..SamplerConfig::default()
            };
            let heun_spread = ode_sampler_law(&config, p, 0.0, alpha).1.sqrt();
            assert!(
                (heun_spread / annealed - 1.0).abs() < 0.01,
                "{heun_spread} vs {annealed}"
            );
            assert!(
                (annealed / tempered).ln().abs() > 1.5,
                "α={alpha}: {annealed} vs {tempered}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Stochastic samplers
// ---------------------------------------------------------------------------------------

#[test]
fn edm_stochastic_matches_its_exact_law_and_the_posterior() {
    let samples = 1000;
    let config = SamplerConfig {
        kind: SamplerKind::EdmStochastic,
        s_noise: 1.0,
        ..SamplerConfig::default()
    };
    for &(lambda, alpha) in &[(1.0, 1.0), (2.0, 0.5)] {
        let law = sample_law(&config, lambda, alpha, samples);
        let exact: Vec<(f64, f64)> = pixels()
            .iter()
            .map(|p| edm_stochastic_law(&config, p, lambda, alpha))
            .collect();
        let (zm, zv) = max_z(&law, &exact, samples);
        println!("EDM stochastic λ={lambda} α={alpha}: vs exact law max |z| mean {zm:.2}, variance {zv:.2}");
        assert!(
            zm < 5.0 && zv < 5.0,
            "λ={lambda} α={alpha}: max |z| mean {zm}, variance {zv}"
        );
    }
    // At λ = α = 1 the discrete law converges to the posterior as steps grow.
    let dev = |steps| {
        let c = SamplerConfig { steps, ..config };
        unique_pixels()
            .iter()
            .map(|p| deviation_from_posterior(edm_stochastic_law(&c, p, 1.0, 1.0), p))
            .fold(0.0, f64::max)
    };
    let devs = [dev(18), dev(64), dev(256)];
    println!("EDM stochastic λ=α=1: law's max deviation from the posterior at 18/64/256 steps {devs:.4?}");
    assert!(
        devs[0] < 0.2 && devs[1] < 0.03 && devs[2] < 0.005,
        "{devs:?}"
    );
}

#[test]
fn euler_maruyama_matches_its_exact_law_and_the_posterior() {
    let samples = 400;
    let config = SamplerConfig {
        kind: SamplerKind::EulerMaruyama,
        steps: 64,
        ..SamplerConfig::default()
    };
    for &(lambda, alpha) in &[(1.0, 1.0), (0.0, 1.5)] {
        let law = sample_law(&config, lambda, alpha, samples);
        let exact: Vec<(f64, f64)> = pixels()
            .iter()
            .map(|p| euler_maruyama_law(&config, p, lambda, alpha))
            .collect();
        let (zm, zv) = max_z(&law, &exact, samples);
        println!("Euler–Maruyama λ={lambda} α={alpha}: vs exact law max |z| mean {zm:.2}, variance {zv:.2}");
        assert!(
            zm < 5.0 && zv < 5.0,
            "λ={lambda} α={alpha}: max |z| mean {zm}, variance {zv}"
        );
    }
    // First order: the deviation of the discrete law from the posterior shrinks ~4× per 4× steps.
    let dev = |steps| {
        let c = SamplerConfig { steps, ..config };
        unique_pixels()
            .iter()
            .map(|p| deviation_from_posterior(euler_maruyama_law(&c, p, 1.0, 1.0), p))
            .fold(0.0, f64::max)
    };
    let devs = [dev(64), dev(256), dev(1024)];
    println!("Euler–Maruyama λ=α=1: law's max deviation from the posterior at 64/256/1024 steps {devs:.4?}");
    assert!(
        devs[1] < devs[0] / 3.0 && devs[2] < devs[1] / 3.0 && devs[2] < 0.01,
        "{devs:?}"
    );
}

#[test]
fn predictor_corrector_samples_the_posterior() {
    let samples = 120;
    let posterior: Vec<(f64, f64)> = pixels()
        .iter()
        .map(|p| (p.post_mean(), p.post_var()))
        .collect();
    for predictor in [Predictor::ReverseDiffusion, Predictor::EulerMaruyama] {
        let config = SamplerConfig {
            kind: SamplerKind::PredictorCorrector,
            predictor,
            steps: 64,
            corrector_steps: 2,
            ..SamplerConfig::default()
        };
        let law = sample_law(&config, 1.0, 1.0, samples);
        let (mean_bias, std_ratio) = aggregate(&law, &posterior, samples);
        println!("PC {predictor:?} λ=α=1: mean bias {mean_bias:.4} std, std ratio {std_ratio:.4}");
        // Statistical error of these pooled figures ≈ 0.5 %; the Langevin step-size bias
        // inflates the variance by ≈ snr² + 2/d ≈ 3.4 % (1.7 % in std).
        // The mean-bias estimate's noise (n = 120, d = 256): std of bias² ≈ √2/(16n), so
        // values up to ≈ 0.05 (3σ) are noise.
        assert!(mean_bias < 0.06, "{predictor:?}: mean bias {mean_bias}");
        assert!(
            (std_ratio - 1.0).abs() < 0.035,
            "{predictor:?}: std ratio {std_ratio}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The true power posterior: annealed samplers vs exact-power mode
// ---------------------------------------------------------------------------------------

/// One row of the measurement table.
struct Row {
    label: String,
    evaluations: usize,
    mean_bias: f64,
    std_ratio: f64,
}

impl Row {
    /// Distance from the power posterior: max(mean bias, |ln std ratio|).
    fn error(&self) -> f64 {
        self.mean_bias.max(self.std_ratio.ln().abs())
    }
}

fn measure(label: &str, config: SamplerConfig, lambda: f64, alpha: f64, samples: usize) -> Row {
    let truth: Vec<(f64, f64)> = pixels()
        .iter()
        .map(|p| p.power_law(lambda, alpha))
        .collect();
    let law = sample_law(&config, lambda, alpha, samples);
    let (mean_bias, std_ratio) = aggregate(&law, &truth, samples);
    Row {
        label: label.to_string(),
        evaluations: network_evaluations(&config),
        mean_bias,
        std_ratio,
    }
}

#[test]
fn exact_power_transport_is_exact_for_a_tempered_prior() {
    // For λ = 0 the target p_σ(x)^α is q_σ^α with q_σ the prior's own diffusion path, so
    // moving along q's path from N(0, σ_max²/α) is exact without any corrector step: the
    // output law is the Heun sampler's for the untempered prior, spread by 1/√α.
    let samples = 48;
    let untempered = measure("Heun", SamplerConfig::default(), 0.0, 1.0, samples);
    for alpha in [0.5, 1.5] {
        let config = SamplerConfig {
            kind: SamplerKind::ExactPower,
            corrector_steps: 0,
            ..SamplerConfig::default()
        };
        let row = measure("M=0", config, 0.0, alpha, samples);
        assert!(
            row.mean_bias < 0.09 && (row.std_ratio - untempered.std_ratio).abs() < 1e-3,
            "α={alpha}: M=0 mean bias {}, std ratio {} vs untempered Heun {}",
            row.mean_bias,
            row.std_ratio,
            untempered.std_ratio
        );
    }
}

#[test]
fn exact_power_converges_to_the_power_posterior() {
    // 48 samples × 256 pixels: pooled statistical error ≈ 0.6 % in the std ratio; the
    // mean-bias estimate's noise reaches ≈ 0.075 std (3σ), so errors below 0.08 count as
    // converged in the monotone check.
    let samples = 48;
    for &(lambda, alpha) in &[(0.0, 0.5), (1.0, 0.5), (4.0, 1.0)] {
        // The annealed ODE misses the power posterior (it is exact only at λ = α = 1) ...
        let heun = measure("Heun", SamplerConfig::default(), lambda, alpha, samples);
        assert!(
            heun.error() > 0.3,
            "λ={lambda} α={alpha}: Heun error {}",
            heun.error()
        );
        // ... and exact-power mode converges to it as the corrector steps grow, down to the
        // Langevin step-size floor (≈ 3 % in std at snr 0.16).
        let rows: Vec<Row> = [1usize, 4, 16, 64]
            .iter()
            .map(|&m| {
                let config = SamplerConfig {
                    kind: SamplerKind::ExactPower,
                    corrector_steps: m,
                    ..SamplerConfig::default()
                };
                measure(&format!("M={m}"), config, lambda, alpha, samples)
            })
            .collect();
        let errors: Vec<f64> = rows.iter().map(Row::error).collect();
        println!("exact-power λ={lambda} α={alpha}: errors at M = 1, 4, 16, 64: {errors:.3?}");
        assert!(
            errors.windows(2).all(|w| w[1] < w[0] || w[1] < 0.08),
            "λ={lambda} α={alpha}: exact-power errors must decrease: {errors:?}"
        );
        let last = rows.last().unwrap();
        assert!(
            last.mean_bias < 0.09 && (last.std_ratio - 1.0).abs() < 0.045,
            "λ={lambda} α={alpha}: exact-power M=64: mean bias {}, std ratio {}",
            last.mean_bias,
            last.std_ratio
        );
    }
}

/// The measurement table of docs/sampling.md (≈ 1 min; run on demand with
/// `cargo test -p powerpost-tests --release --test samplers -- --ignored --nocapture power_posterior_table`).
#[test]
#[ignore]
fn power_posterior_table() {
    // All rows: default 18-step schedule unless stated, 200 samples × 256 pixels (pooled
    // statistical error ≈ 0.3 % in the std ratio, mean-bias noise floor ≈ 0.02).
    let samples = 200;
    let settings = [(0.0, 0.5), (0.0, 1.5), (1.0, 0.5), (4.0, 1.0), (1.0, 1.0)];
    let mut table = String::from(
        "| λ | α | sampler | network evaluations | mean bias (in true std) | std / true std |\n|---|---|---|---|---|---|\n",
    );
    for &(lambda, alpha) in &settings {
        let mut rows = vec![
            measure(
                "Heun (default)",
                SamplerConfig::default(),
                lambda,
                alpha,
                samples,
            ),
            measure(
                "DPM-Solver++(2M)",
                SamplerConfig::with_kind(SamplerKind::DpmSolverPp2M),
                lambda,
                alpha,
                samples,
            ),
            measure(
                "Heun, 64 steps",
                SamplerConfig {
                    steps: 64,
                    ..SamplerConfig::default()
                },
                lambda,
                alpha,
                samples,
            ),
            measure(
                "EDM stochastic",
                SamplerConfig::with_kind(SamplerKind::EdmStochastic),
                lambda,
                alpha,
                samples,
            ),
            measure(
                "PC (reverse diffusion + 1 Langevin)",
                SamplerConfig::with_kind(SamplerKind::PredictorCorrector),
                lambda,
                alpha,
                samples,
            ),
        ];
        for m in [0usize, 1, 4, 16, 64] {
            let config = SamplerConfig {
                kind: SamplerKind::ExactPower,
                corrector_steps: m,
                ..SamplerConfig::default()
            };
            rows.push(measure(
                &format!("exact-power M={m}"),
                config,
                lambda,
                alpha,
                samples,
            ));
        }
        if (lambda, alpha) == (0.0, 0.5) {
            let config = SamplerConfig {
                kind: SamplerKind::ExactPower,
                corrector_steps: 256,
                snr: 0.08,
                ..SamplerConfig::default()
            };
            rows.push(measure(
                "exact-power M=256, snr 0.08",
                config,
                lambda,
                alpha,
                samples,
            ));
        }
        for r in &rows {
            table.push_str(&format!(
                "| {lambda} | {alpha} | {} | {} | {:.3} | {:.3} |\n",
                r.label, r.evaluations, r.mean_bias, r.std_ratio
            ));
        }
    }
    println!("{table}");
}

// ---------------------------------------------------------------------------------------
// Determinism and the documented operation order
// ---------------------------------------------------------------------------------------

fn one_sample(config: &SamplerConfig, stream: u64) -> Vec<u32> {
    let mut gaussian = Gaussian::new();
    let n = gaussian.image_len();
    let mut power_scratch = vec![0.0f32; n];
    let mut den = PowerScaled::new(&mut gaussian, 2.0, 0.75, &mut power_scratch).unwrap();
    let mut scratch = vec![0.0f32; sampler_scratch_len(config.kind, n)];
    let mut x = vec![f32::NAN; n];
    sample(
        &mut den,
        config,
        NoiseStream::new(SEED, stream),
        &mut x,
        &mut scratch,
    )
    .unwrap();
    x.iter().map(|v| v.to_bits()).collect()
}

fn all_kinds() -> Vec<SamplerConfig> {
    SamplerKind::ALL
        .into_iter()
        .map(|kind| SamplerConfig {
            kind,
            steps: 12,
            corrector_steps: 2,
            ..SamplerConfig::default()
        })
        .collect()
}

#[test]
fn same_stream_same_bits_and_streams_are_independent_of_the_loop() {
    for config in all_kinds() {
        assert_eq!(
            one_sample(&config, 3),
            one_sample(&config, 3),
            "{:?}",
            config.kind
        );
        // Sample i of a loop (one denoiser, one scratch reused) equals sample i alone.
        let mut gaussian = Gaussian::new();
        let n = gaussian.image_len();
        let mut power_scratch = vec![0.0f32; n];
        let mut den = PowerScaled::new(&mut gaussian, 2.0, 0.75, &mut power_scratch).unwrap();
        let mut scratch = vec![0.0f32; sampler_scratch_len(config.kind, n)];
        let mut x = vec![0.0f32; n];
        let mut looped = Vec::new();
        for i in 0..5u64 {
            sample(
                &mut den,
                &config,
                NoiseStream::new(SEED, i),
                &mut x,
                &mut scratch,
            )
            .unwrap();
            looped.push(x.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        }
        for (i, bits) in looped.iter().enumerate().rev() {
            assert_eq!(
                *bits,
                one_sample(&config, i as u64),
                "{:?} stream {i}",
                config.kind
            );
        }
        assert_ne!(
            looped[0], looped[1],
            "{:?}: different streams must differ",
            config.kind
        );
    }
}

/// Naive f32 transcription of every sampler's documented formulas and draw numbering,
/// with noise read element by element through `NoiseStream::gaussian`.
fn documented_reference(config: &SamplerConfig, stream: u64) -> Vec<u32> {
    let mut gaussian = Gaussian::new();
    let n = gaussian.image_len();
    let mut power_scratch = vec![0.0f32; n];
    let mut den = PowerScaled::new(&mut gaussian, 2.0, 0.75, &mut power_scratch).unwrap();
    let noise = NoiseStream::new(SEED, stream);
    let z = |draw: u64, k: usize| noise.gaussian(draw * n as u64 + k as u64);
    let sched =
        KarrasSchedule::new(config.steps, config.sigma_min, config.sigma_max, config.rho).unwrap();
    let sig = |i: usize| sched.sigma(i);
    let mut d = |x: &[f32], s: f32| {
        let mut out = vec![0.0f32; n];
        den.denoise(x, s, &mut out).unwrap();
        out
    };
    let mut x: Vec<f32> = (0..n).map(|k| config.sigma_max * z(0, k)).collect();
    let steps = config.steps;
    let m = config.corrector_steps as u64;
    let snr = config.snr;
    let heun = |x: &mut Vec<f32>, t: f32, tn: f32, d: &mut dyn FnMut(&[f32], f32) -> Vec<f32>| {
        let dx = d(x, t);
        if tn == 0.0 {
            *x = dx;
            return;
        }
        let h = tn - t;
        let slope: Vec<f32> = (0..n).map(|k| (x[k] - dx[k]) * detmath::recip(t)).collect();
        let x1: Vec<f32> = (0..n).map(|k| x[k] + h * slope[k]).collect();
        let dx1 = d(&x1, tn);
        for k in 0..n {
            let s1 = (x1[k] - dx1[k]) * detmath::recip(tn);
            x[k] = x[k] + h * ((0.5 * slope[k]) + (0.5 * s1));
        }
    };
    let langevin =
        |x: &mut Vec<f32>, s: f32, draw: u64, d: &mut dyn FnMut(&[f32], f32) -> Vec<f32>| {
            let dx = d(x, s);
            let score: Vec<f32> = (0..n)
                .map(|k| (dx[k] - x[k]) * detmath::recip(s * s))
                .collect();
            let zs: Vec<f32> = (0..n).map(|k| z(draw, k)).collect();
            let (ss, zz) = (sum_squares(&score), sum_squares(&zs));
            let eps = 2.0 * ((snr * snr) * detmath::div(zz, ss));
            let c = detmath::sqrt(2.0 * eps);
            for k in 0..n {
                x[k] = (x[k] + eps * score[k]) + c * zs[k];
            }
        };
    match config.kind {
        SamplerKind::Heun => (0..steps).for_each(|i| heun(&mut x, sig(i), sig(i + 1), &mut d)),
        SamplerKind::Euler => {
            for i in 0..steps {
                let dx = d(&x, sig(i));
                if sig(i + 1) == 0.0 {
                    x = dx;
                } else {
                    let h = sig(i + 1) - sig(i);
                    for k in 0..n {
                        x[k] = x[k] + h * ((x[k] - dx[k]) * detmath::recip(sig(i)));
                    }
                }
            }
        }
        SamplerKind::EdmStochastic => {
            let g = detmath::div(config.s_churn, steps as f32).min(std::f32::consts::SQRT_2 - 1.0);
            for i in 0..steps {
                let t = sig(i);
                let gamma = if config.s_tmin <= t && t <= config.s_tmax {
                    g
                } else {
                    0.0
                };
                let th = t + gamma * t;
                if gamma > 0.0 {
                    let c = config.s_noise * detmath::sqrt(th * th - t * t);
                    for k in 0..n {
                        x[k] = x[k] + c * z(1 + i as u64, k);
                    }
                }
                heun(&mut x, th, sig(i + 1), &mut d);
            }
        }
        SamplerKind::DpmSolverPp2M => {
            let mut prev: Vec<f32> = Vec::new();
            for i in 0..steps {
                let dx = d(&x, sig(i));
                if sig(i + 1) == 0.0 {
                    x = dx;
                    break;
                }
                let ratio = detmath::div(sig(i + 1), sig(i));
                let h = detmath::ln(sig(i)) - detmath::ln(sig(i + 1));
                for k in 0..n {
                    let target = if i == 0 {
                        dx[k]
                    } else {
                        let h_last = detmath::ln(sig(i - 1)) - detmath::ln(sig(i));
                        let c_old = 0.5 * detmath::div(h, h_last);
                        ((1.0 + c_old) * dx[k]) - (c_old * prev[k])
                    };
                    x[k] = (ratio * x[k]) + ((1.0 - ratio) * target);
                }
                prev = dx;
            }
        }
        SamplerKind::EulerMaruyama | SamplerKind::PredictorCorrector => {
            let pc = config.kind == SamplerKind::PredictorCorrector;
            let (m, stride) = if pc { (m, m + 1) } else { (0, 1) };
            for i in 0..steps {
                for j in 0..m {
                    langevin(&mut x, sig(i), 1 + i as u64 * stride + j, &mut d);
                }
                let dx = d(&x, sig(i));
                if sig(i + 1) == 0.0 {
                    x = dx;
                    continue;
                }
                let (c, g) = if pc && config.predictor == Predictor::ReverseDiffusion {
                    let r = detmath::div(sig(i + 1), sig(i));
                    let c = 1.0 - r * r;
                    (c, sig(i) * detmath::sqrt(c))
                } else {
                    let delta = sig(i) - sig(i + 1);
                    (
                        2.0 * detmath::div(delta, sig(i)),
                        detmath::sqrt((2.0 * sig(i)) * delta),
                    )
                };
                let draw = 1 + i as u64 * stride + m;
                for k in 0..n {
                    x[k] = (x[k] + c * (dx[k] - x[k])) + g * z(draw, k);
                }
            }
        }
        SamplerKind::ExactPower => {
            // α = 0.75: start at σ_max·z × recip(sqrt(α)); predictor denoiser
            // x + (D − x) × recip(α).
            let alpha = 0.75f32;
            let widen = detmath::recip(detmath::sqrt(alpha));
            x.iter_mut().for_each(|v| *v *= widen);
            let inv_alpha = detmath::recip(alpha);
            for i in 0..steps {
                for j in 0..m {
                    langevin(&mut x, sig(i), 1 + i as u64 * m + j, &mut d);
                }
                let mut transport = |x: &[f32], s: f32| -> Vec<f32> {
                    let dx = d(x, s);
                    (0..n).map(|k| x[k] + (dx[k] - x[k]) * inv_alpha).collect()
                };
                heun(&mut x, sig(i), sig(i + 1), &mut transport);
            }
        }
    }
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn every_sampler_follows_its_documented_formulas_bit_for_bit() {
    let mut configs = all_kinds();
    configs.push(SamplerConfig {
        kind: SamplerKind::PredictorCorrector,
        predictor: Predictor::EulerMaruyama,
        steps: 12,
        corrector_steps: 2,
        ..SamplerConfig::default()
    });
    configs.push(SamplerConfig {
        steps: 1,
        ..SamplerConfig::default()
    });
    configs.push(SamplerConfig {
        kind: SamplerKind::DpmSolverPp2M,
        steps: 2,
        ..SamplerConfig::default()
    });
    for config in configs {
        for stream in [0u64, 7] {
            assert_eq!(
                one_sample(&config, stream),
                documented_reference(&config, stream),
                "{config:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Interface: evaluations, progress, errors
// ---------------------------------------------------------------------------------------

#[test]
fn network_evaluation_count_and_progress_are_honest() {
    for mut config in all_kinds() {
        for &lambda in &[0.0f32, 1.0, 2.0] {
            config.steps = 7;
            let mut gaussian = Gaussian::new();
            let n = gaussian.image_len();
            let mut power_scratch = vec![0.0f32; n];
            // α = 1: λ = 0 and λ = 1 use one branch, λ = 2 both (one call either way).
            let mut den = PowerScaled::new(&mut gaussian, lambda, 1.0, &mut power_scratch).unwrap();
            let mut scratch = vec![0.0f32; sampler_scratch_len(config.kind, n)];
            let mut x = vec![0.0f32; n];
            let mut calls = Vec::new();
            sample_with_progress(
                &mut den,
                &config,
                NoiseStream::new(1, 2),
                &mut x,
                &mut scratch,
                &mut |done, total| calls.push((done, total)),
            )
            .unwrap();
            let gaussian = den.into_inner();
            assert_eq!(
                gaussian.calls,
                network_evaluations(&config),
                "{:?} λ={lambda}",
                config.kind
            );
            assert_eq!(calls, (1..=7).map(|i| (i, 7)).collect::<Vec<_>>());
        }
    }
}

/// A denoiser that returns NaN or an error.
struct Broken {
    fail: bool,
}

impl Denoiser for Broken {
    fn image_len(&self) -> usize {
        4
    }
    fn denoise(&mut self, _x: &[f32], _sigma: f32, out: &mut [f32]) -> Result<(), Error> {
        if self.fail {
            return Err(Error::InvalidArgument {
                name: "sigma",
                expected: "test failure",
            });
        }
        out.fill(f32::NAN);
        Ok(())
    }
}

#[test]
fn errors_are_typed_and_nothing_panics() {
    let config = SamplerConfig::default();
    let noise = NoiseStream::new(0, 0);
    let mut x = [0.0f32; 4];
    let mut scratch = [0.0f32; 12];
    assert_eq!(
        sample(
            &mut Broken { fail: false },
            &config,
            noise,
            &mut x,
            &mut scratch
        ),
        Err(Error::NonFinite { name: "sample" })
    );
    assert_eq!(
        sample(
            &mut Broken { fail: true },
            &config,
            noise,
            &mut x,
            &mut scratch
        ),
        Err(Error::InvalidArgument {
            name: "sigma",
            expected: "test failure"
        })
    );
    assert!(matches!(
        sample(
            &mut Broken { fail: false },
            &config,
            noise,
            &mut x,
            &mut scratch[..11]
        ),
        Err(Error::BufferLength {
            expected: 12,
            actual: 11,
            ..
        })
    ));
    assert!(matches!(
        sample(
            &mut Broken { fail: false },
            &config,
            noise,
            &mut x[..3],
            &mut scratch
        ),
        Err(Error::BufferLength {
            expected: 4,
            actual: 3,
            ..
        })
    ));
    let bad = SamplerConfig {
        rho: -1.0,
        ..config
    };
    assert!(matches!(
        sample(
            &mut Broken { fail: false },
            &bad,
            noise,
            &mut x,
            &mut scratch
        ),
        Err(Error::InvalidArgument { name: "rho", .. })
    ));
    // An empty image is valid and gives an empty sample.
    struct Empty;
    impl Denoiser for Empty {
        fn image_len(&self) -> usize {
            0
        }
        fn denoise(&mut self, _: &[f32], _: f32, _: &mut [f32]) -> Result<(), Error> {
            Ok(())
        }
    }
    for kind in SamplerKind::ALL {
        let c = SamplerConfig {
            kind,
            steps: 3,
            ..config
        };
        assert_eq!(sample(&mut Empty, &c, noise, &mut [], &mut []), Ok(()));
    }
}

#[test]
fn power_scaled_gaussian_denoiser_is_the_power_scaled_score() {
    // D_eff from the two f32 branches equals the analytic λ·D(y) + (α−λ)·D(∅) + (1−α)·x.
    let mut gaussian = Gaussian::new();
    let n = gaussian.image_len();
    let pix = gaussian.pixels.clone();
    let mut scratch = vec![0.0f32; n];
    let mut den = PowerScaled::new(&mut gaussian, 3.0, 0.5, &mut scratch).unwrap();
    let x: Vec<f32> = (0..n).map(|k| k as f32 * 0.25 - 3.0).collect();
    let mut out = vec![0.0f32; n];
    for &sigma in &[80.0f32, 1.0, 0.002] {
        den.denoise(&x, sigma, &mut out).unwrap();
        for k in 0..n {
            let (g, h) = pix[k].effective(f64::from(sigma), 3.0, 0.5);
            let exact = g * f64::from(x[k]) + h;
            assert!(
                (f64::from(out[k]) - exact).abs() < 1e-5 * (1.0 + exact.abs()),
                "σ={sigma} k={k}"
            );
        }
    }
}
