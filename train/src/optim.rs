//! AdamW with linear learning-rate warm-up, global gradient-norm clipping and an
//! exponential moving average (EMA) of the weights.
//!
//! Per step `t` (1-based), with `g` the clipped gradient (`g · min(1, clip / ‖g‖₂)`,
//! the norm summed in f64 in parameter order):
//!
//! ```text
//! lr_t = lr · min(1, t / warmup)
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
    let lr = cfg.lr * (t as f32 / cfg.warmup_steps.max(1) as f32).min(1.0);
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
