//! AdamW with linear learning-rate warm-up, an optional linear decay, global
//! gradient-norm clipping and an exponential moving average (EMA) of the weights.
//!
//! Per step `t` (1-based), with `g` the clipped gradient (`g · min(1, clip / ‖g‖₂)`,
//! the norm summed in f64 in parameter order):
//!
//! ```text
//! lr_t = lr · min(1, t / warmup)                                   (no decay: decay_end = 0)
//! lr_t = lr · min(1, t / warmup) · (1 − (1 − f) · min(1, max(0, t − warmup) / (decay_end − warmup)))
//!                                   (linear decay to f = final_lr_fraction at decay_end)
//! m    = β1·m + (1 − β1)·g          v = β2·v + (1 − β2)·g²
//! θ    = θ − lr_t · ( (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε) + wd·θ )   (wd on weights only)
//! ema  = d·ema + (1 − d)·θ,   d = min(ema_decay, (1 + t) / (10 + t))
//! ```

use serde::{Deserialize, Serialize};

/// Optimiser hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// Peak learning rate.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator epsilon.
    pub eps: f32,
    /// Decoupled weight decay (convolution and linear weights only).
    pub weight_decay: f32,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// Global gradient-norm clip (0: off).
    pub clip_norm: f32,
    /// EMA decay.
    pub ema_decay: f32,
    /// Learning rate reached at `decay_end`, as a fraction of `lr` (linear decay from the
    /// end of the warm-up); 1 without decay.
    #[serde(default = "no_decay")]
    pub final_lr_fraction: f32,
    /// Step at which the linear decay reaches `final_lr_fraction` (the run's total
    /// steps); 0 (or a step not past the warm-up): no decay, the learning rate stays at
    /// `lr` after the warm-up.
    #[serde(default)]
    pub decay_end: u64,
}

/// `final_lr_fraction` of checkpoints written before the decay existed.
fn no_decay() -> f32 {
    1.0
}

impl AdamWConfig {
    /// Checks the learning-rate decay settings, naming the `powerpost train` flags:
    /// `final_lr_fraction` in [0, 1], and a decay (fraction below 1) that ends after the
    /// warm-up.
    ///
    /// # Errors
    /// A message saying which setting is wrong and what was expected.
    pub fn validate(&self) -> anyhow::Result<()> {
        let f = self.final_lr_fraction;
        if !(0.0..=1.0).contains(&f) {
            anyhow::bail!("--decay-to: expected a fraction of --lr in [0, 1], got {f}");
        }
        if f < 1.0 && self.decay_end <= self.warmup_steps {
            anyhow::bail!(
                "--decay-to {f}: the decay runs from the end of the warm-up to --steps, so --steps ({}) must exceed --warmup ({})",
                self.decay_end,
                self.warmup_steps
            );
        }
        Ok(())
    }

    /// The learning rate of step `t` (1-based; see the module docs).
    pub fn learning_rate(&self, t: u64) -> f32 {
        let warm = self.lr * (t as f32 / self.warmup_steps.max(1) as f32).min(1.0);
        if self.decay_end == 0 || self.decay_end <= self.warmup_steps {
            return warm;
        }
        let span = (self.decay_end - self.warmup_steps) as f32;
        let progress = (t.saturating_sub(self.warmup_steps) as f32 / span).min(1.0);
        warm * (1.0 - (1.0 - self.final_lr_fraction) * progress)
    }
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 2e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            warmup_steps: 500,
            clip_norm: 1.0,
            ema_decay: 0.999,
            final_lr_fraction: 1.0,
            decay_end: 0,
        }
    }
}

/// Optimiser state (everything a resumed run needs besides the parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimState {
    /// Completed steps.
    pub step: u64,
    /// First moments.
    pub m: Vec<f32>,
    /// Second moments.
    pub v: Vec<f32>,
    /// EMA of the parameters.
    pub ema: Vec<f32>,
    /// β1^step.
    pub beta1_power: f64,
    /// β2^step.
    pub beta2_power: f64,
}

/// What one update did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateInfo {
    /// Learning rate used.
    pub lr: f32,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
}

impl OptimState {
    /// Fresh state for `params` (EMA starts at the parameters).
    pub fn new(params: &[f32]) -> Self {
        Self {
            step: 0,
            m: vec![0.0; params.len()],
            v: vec![0.0; params.len()],
            ema: params.to_vec(),
            beta1_power: 1.0,
            beta2_power: 1.0,
        }
    }
}

/// Applies one AdamW step to `params` with gradient `grads` (clipped in place).
pub fn adamw_step(
    cfg: &AdamWConfig,
    state: &mut OptimState,
    params: &mut [f32],
    grads: &mut [f32],
    weight_mask: &[bool],
) -> UpdateInfo {
    let norm = grads
        .iter()
        .map(|&g| g as f64 * g as f64)
        .sum::<f64>()
        .sqrt();
    if cfg.clip_norm > 0.0 && norm > cfg.clip_norm as f64 {
        let s = (cfg.clip_norm as f64 / norm) as f32;
        grads.iter_mut().for_each(|g| *g *= s);
    }
    state.step += 1;
    let t = state.step;
    state.beta1_power *= cfg.beta1 as f64;
    state.beta2_power *= cfg.beta2 as f64;
    let lr = cfg.learning_rate(t);
    let c1 = (1.0 / (1.0 - state.beta1_power)) as f32;
    let c2 = (1.0 / (1.0 - state.beta2_power)) as f32;
    let (b1, b2) = (cfg.beta1, cfg.beta2);
    let d = cfg.ema_decay.min((1.0 + t as f32) / (10.0 + t as f32));
    for i in 0..params.len() {
        let g = grads[i];
        let m = b1 * state.m[i] + (1.0 - b1) * g;
        let v = b2 * state.v[i] + (1.0 - b2) * (g * g);
        state.m[i] = m;
        state.v[i] = v;
        let mut update = (m * c1) / ((v * c2).sqrt() + cfg.eps);
        if weight_mask[i] {
            update += cfg.weight_decay * params[i];
        }
        params[i] -= lr * update;
        state.ema[i] = d * state.ema[i] + (1.0 - d) * params[i];
    }
    UpdateInfo {
        lr,
        grad_norm: norm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without decay the schedule is the warm-up ramp and then `lr`, bit for bit the
    /// expression the trainer used before the decay existed.
    #[test]
    fn without_decay_the_rate_is_the_warm_up_ramp() {
        let cfg = AdamWConfig {
            lr: 3e-4,
            warmup_steps: 7,
            ..AdamWConfig::default()
        };
        for t in 1..40 {
            let old = cfg.lr * (t as f32 / cfg.warmup_steps.max(1) as f32).min(1.0);
            assert_eq!(cfg.learning_rate(t).to_bits(), old.to_bits(), "step {t}");
        }
    }

    /// With decay: the warm-up ramp, `lr` at its end, a straight line down to
    /// `lr · final_lr_fraction` at `decay_end` (checked in f64 at every step), flat after.
    #[test]
    fn linear_decay_reaches_the_final_fraction_at_decay_end() {
        let (lr, warmup, end, f) = (5e-4f32, 10u64, 110u64, 0.05f32);
        let cfg = AdamWConfig {
            lr,
            warmup_steps: warmup,
            final_lr_fraction: f,
            decay_end: end,
            ..AdamWConfig::default()
        };
        for t in 1..=150u64 {
            let want = if t <= warmup {
                lr as f64 * t as f64 / warmup as f64
            } else {
                let progress = ((t - warmup) as f64 / (end - warmup) as f64).min(1.0);
                lr as f64 * (1.0 - (1.0 - f as f64) * progress)
            };
            let got = cfg.learning_rate(t) as f64;
            assert!(
                (got - want).abs() <= 1e-6 * lr as f64,
                "step {t}: {got} vs {want}"
            );
            if t > warmup {
                assert!(
                    cfg.learning_rate(t) <= cfg.learning_rate(t - 1),
                    "step {t} rose"
                );
            }
        }
        assert_eq!(cfg.learning_rate(warmup), lr);
        assert!((cfg.learning_rate(end) - lr * f).abs() <= 1e-6 * lr);
        assert_eq!(cfg.learning_rate(end), cfg.learning_rate(end + 100));
        // Decay to zero ends at exactly zero.
        let to_zero = AdamWConfig {
            final_lr_fraction: 0.0,
            ..cfg
        };
        assert_eq!(to_zero.learning_rate(end), 0.0);
    }

    /// `validate` accepts no decay and decays in range, and refuses fractions outside
    /// [0, 1] or a decay that would end inside the warm-up.
    #[test]
    fn validate_checks_the_decay_settings() {
        let base = AdamWConfig {
            warmup_steps: 10,
            ..AdamWConfig::default()
        };
        assert!(base.validate().is_ok());
        let decay = |f: f32, end: u64| AdamWConfig {
            final_lr_fraction: f,
            decay_end: end,
            ..base
        };
        assert!(decay(0.0, 11).validate().is_ok());
        assert!(decay(0.5, 100).validate().is_ok());
        for bad in [
            decay(1.5, 100),
            decay(-0.1, 100),
            decay(f32::NAN, 100),
            decay(0.5, 10),
        ] {
            assert!(bad
                .validate()
                .unwrap_err()
                .to_string()
                .contains("--decay-to"));
        }
    }

    /// A checkpoint header written before the decay fields existed reads as "no decay".
    #[test]
    fn settings_without_decay_fields_read_as_no_decay() {
        let old = r#"{"lr":0.0005,"beta1":0.9,"beta2":0.999,"eps":1e-8,"weight_decay":0.01,"warmup_steps":200,"clip_norm":1.0,"ema_decay":0.999}"#;
        let cfg: AdamWConfig = serde_json::from_str(old).unwrap();
        assert_eq!(cfg.final_lr_fraction, 1.0);
        assert_eq!(cfg.decay_end, 0);
        assert_eq!(cfg.learning_rate(10_000), 0.0005);
    }
}
