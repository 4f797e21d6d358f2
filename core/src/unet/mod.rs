//! The conditional score network: an EDM-preconditioned U-Net.
//!
//! ## Contract (followed by inference here, the trainer and the GPU backend)
//! - **Inputs**: the noisy normalised velocity `x` (1 channel), the condition `y` (the
//!   normalised RTM image, 1 channel; with [`UNetConfig::with_background`] followed by the
//!   normalised background velocity model, a second channel), the noise level σ, and
//!   whether the condition is present. **Output**: the denoised estimate `D(x; σ, y)`.
//! - **Preconditioning** (Karras et al. 2022, σ_data = 0.5), see
//!   [`forward::Preconditioning`]: `D = c_skip·x + c_out·F(c_in·x, y; c_noise)`.
//! - **Unconditional branch**: the condition channels are zero *and* a learned null
//!   embedding (`emb.null`) is added to the noise embedding before its final SiLU, so the
//!   prior branch is unambiguous even for an all-zero RTM image.
//! - **Noise embedding**: 64 Fourier features of `c_noise` (cos and sin of 32 fixed
//!   frequencies, [`crate::nn::linear::FREQUENCIES`]) → Linear(64→E) → SiLU →
//!   Linear(E→E) (+ null) → SiLU. Each residual block adds its own Linear(E→C) projection
//!   to its first convolution's bias.
//! - **Blocks**: see [`plan`] (layout), [`plan::ResBlock`] (residual block) and
//!   [`program`] (the operations every backend runs). Group
//!   norm uses `min(32, C/4)` groups, ε = 1e-5; down-sampling is 2×2 average pooling,
//!   up-sampling nearest-neighbour; residual outputs are scaled by 1/√2.
//! - **Fully convolutional**: any `H × W` divisible by `2^(levels−1)` works with the same
//!   weights.
//! - **Batch**: one call evaluates the conditional and the unconditional branch of the
//!   same `x` together (batch of 2), or either alone.
//! - **Parameters**: one flat f32 buffer in table order ([`params`]); shipped weights
//!   are f16 and widen exactly to f32.
//! - **Arithmetic**: every layer's operation order is written in its module
//!   ([`crate::nn::conv`], [`crate::nn::norm`], [`crate::nn::linear`],
//!   [`crate::nn::resample`]).

pub mod config;
pub mod denoiser;
pub mod forward;
pub mod params;
pub mod plan;
pub mod program;
pub mod weights;

pub use config::UNetConfig;
pub use forward::{
    prepare_transformed, transformed_len, workspace_len, DenoiseInput, DenoiseOutput,
    Preconditioning, UNet,
};
pub use params::{init_random, params_len};
pub use weights::{architecture_of, load_params, ARCHITECTURE_KEY};
