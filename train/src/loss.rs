//! The EDM training loss with classifier-free guidance and flip augmentation.
//!
//! For a clean normalised velocity `x0` with condition `y`:
//!
//! ```text
//! ln σ ~ N(P_mean = −1.2, P_std = 1.2²)        σ = exp(ln σ)
//! x    = x0 + σ · n,  n ~ N(0, I)
//! drop the condition with probability p_uncond (zero condition planes + null embedding)
//! flip x0 and y (every plane) left–right together with probability ½
//! L    = mean over items and pixels of λ(σ) · (D(x; σ, y) − x0)²,
//! λ(σ) = (σ² + σd²) / (σ · σd)²
//! ```
//!
//! ## Randomness (all from [`NoiseStream`], pure functions of `(seed, stream, index)`)
//! Sample `k = step · batch + j` (item `j` of step `step`) draws from stream
//! [`ITEM_STREAM`]` + k`: index 0 the Gaussian for ln σ, index 4 the uniform for dropping
//! the condition (`u < p_uncond`), index 8 the uniform for the flip (`u < ½`), indices
//! 16 … 16 + H·W − 1 the noise image (row-major). Its training pair is position
//! `k mod N` of epoch `k div N`'s permutation of the `N` training pairs, a Fisher–Yates
//! shuffle driven by uniform `i` of stream [`PERMUTATION_STREAM`]` + epoch` for swap `i`
//! (`i = N−1 … 1`, partner `⌊u·(i+1)⌋`). A step is therefore a pure function of
//! `(seed, step)`: resuming needs only the step number.

use powerpost_core::detmath;
use powerpost_core::rng::NoiseStream;

/// First stream of the per-sample draws.
pub const ITEM_STREAM: u64 = 1 << 40;
/// First stream of the per-epoch permutations.
pub const PERMUTATION_STREAM: u64 = 2 << 40;
/// Index of the first noise value in a sample's stream.
pub const NOISE_INDEX: u64 = 16;

/// Loss hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossConfig {
    /// Mean of ln σ.
    pub p_mean: f32,
    /// Standard deviation of ln σ.
    pub p_std: f32,
    /// σ_data of the preconditioning and the weighting.
    pub sigma_data: f32,
    /// Probability of dropping the condition.
    pub p_uncond: f32,
    /// Whether to flip left–right with probability ½.
    pub flip: bool,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            p_mean: -1.2,
            p_std: 1.2,
            sigma_data: 0.5,
            p_uncond: 0.2,
            flip: true,
        }
    }
}

/// The permutation of `n` training pairs for `epoch`.
pub fn epoch_permutation(seed: u64, epoch: u64, n: usize) -> Vec<u32> {
    let stream = NoiseStream::new(seed, PERMUTATION_STREAM + epoch);
    let mut perm: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let u = stream.uniform(i as u64) as f64;
        let j = ((u * (i + 1) as f64) as usize).min(i);
        perm.swap(i, j);
    }
    perm
}

/// One assembled training batch (all `batch × height × width` row-major; the conditions
/// `batch × planes × height × width`).
#[derive(Debug, Clone, Default)]
pub struct PreparedBatch {
    /// Clean targets x0 (after the flip).
    pub clean: Vec<f32>,
    /// Noisy inputs x0 + σ·n.
    pub noisy: Vec<f32>,
    /// Conditions (after the flip).
    pub condition: Vec<f32>,
    /// Noise levels.
    pub sigma: Vec<f32>,
    /// Whether each item keeps its condition.
    pub conditional: Vec<bool>,
    /// Training-pair index of each item.
    pub pair: Vec<usize>,
}

/// The draws of sample `k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleDraw {
    /// Noise level.
    pub sigma: f32,
    /// Whether the condition is kept.
    pub conditional: bool,
    /// Whether the pair is flipped left–right.
    pub flip: bool,
}

/// The draws of sample `k` (see the module docs).
pub fn sample_draw(seed: u64, k: u64, cfg: &LossConfig) -> SampleDraw {
    let s = NoiseStream::new(seed, ITEM_STREAM + k);
    let ln_sigma = cfg.p_mean + cfg.p_std * s.gaussian(0);
    SampleDraw {
        sigma: detmath::exp(ln_sigma),
        conditional: s.uniform(4) >= cfg.p_uncond,
        flip: cfg.flip && s.uniform(8) < 0.5,
    }
}

/// Assembles the batch of `step`: pairs come from `pair_of(index)` as (velocity,
/// condition): a normalised `height × width` velocity and its condition planes (the RTM
/// image, then the background model for a network that takes it), flipped together.
#[allow(clippy::too_many_arguments)]
pub fn assemble<'d>(
    seed: u64,
    step: u64,
    batch: usize,
    n_train: usize,
    height: usize,
    width: usize,
    cfg: &LossConfig,
    perm_cache: &mut Option<(u64, Vec<u32>)>,
    pair_of: &dyn Fn(usize) -> (&'d [f32], &'d [f32]),
) -> PreparedBatch {
    let n = height * width;
    let mut out = PreparedBatch::default();
    for j in 0..batch {
        let k = step * batch as u64 + j as u64;
        let epoch = k / n_train as u64;
        if perm_cache.as_ref().map(|c| c.0) != Some(epoch) {
            *perm_cache = Some((epoch, epoch_permutation(seed, epoch, n_train)));
        }
        let pair = perm_cache
            .as_ref()
            .map(|c| c.1[(k % n_train as u64) as usize] as usize)
            .unwrap_or(0);
        let draw = sample_draw(seed, k, cfg);
        let (x0, y) = pair_of(pair);
        let start = out.clean.len();
        let flipped =
            |row: usize, col: usize| row * width + if draw.flip { width - 1 - col } else { col };
        for row in 0..height {
            for col in 0..width {
                out.clean.push(x0[flipped(row, col)]);
            }
        }
        for plane in y.chunks_exact(n) {
            for row in 0..height {
                for col in 0..width {
                    out.condition.push(plane[flipped(row, col)]);
                }
            }
        }
        let mut noise = vec![0.0; n];
        NoiseStream::new(seed, ITEM_STREAM + k).fill_gaussian(NOISE_INDEX, &mut noise);
        out.noisy.extend(
            out.clean[start..start + n]
                .iter()
                .zip(&noise)
                .map(|(&c, &e)| c + draw.sigma * e),
        );
        out.sigma.push(draw.sigma);
        out.conditional.push(draw.conditional);
        out.pair.push(pair);
    }
    out
}

/// EDM weight λ(σ) = (σ² + σd²) / (σ·σd)².
pub fn edm_weight(sigma: f32, sigma_data: f32) -> f32 {
    let s2 = sigma * sigma;
    let sd2 = sigma_data * sigma_data;
    detmath::div(s2 + sd2, s2 * sd2)
}

/// The loss `mean_b mean_p λ(σ_b) (D − x0)²` (f64) and its gradient `∂L/∂D` (f32).
pub fn edm_loss(
    denoised: &[f32],
    clean: &[f32],
    sigma: &[f32],
    sigma_data: f32,
) -> (f64, Vec<f32>) {
    let nb = sigma.len();
    let n = denoised.len() / nb.max(1);
    let mut loss = 0.0f64;
    let mut grad = vec![0.0f32; denoised.len()];
    let scale = 1.0 / (nb * n) as f64;
    for (b, &s) in sigma.iter().enumerate() {
        let lambda = edm_weight(s, sigma_data) as f64;
        let mut item = 0.0f64;
        for p in b * n..(b + 1) * n {
            let d = denoised[p] as f64 - clean[p] as f64;
            item += d * d;
            grad[p] = (2.0 * lambda * d * scale) as f32;
        }
        loss += lambda * item * scale;
    }
    (loss, grad)
}
