//! `powerpost-train`: trains exactly the network that `powerpost-core` runs.
//!
//! - [`network`]: the core's U-Net forward pass with stored activations (bit-identical to
//!   [`powerpost_core::unet::UNet::denoise`]) and its backward pass, both running the
//!   core's operation program ([`powerpost_core::unet::program`]); backward kernels in
//!   [`kernels`].
//! - [`loss`]: the EDM loss with classifier-free guidance and flip augmentation, every
//!   random draw a pure function of `(seed, stream, index)`.
//! - [`optim`]: AdamW, warm-up, gradient clipping, EMA.
//! - [`checkpoint`], [`trainer`]: the training loop with atomic checkpoints and exact
//!   resume, CSV log and loss-curve PNG.
//! - [`export`]: EMA weights as f16 safetensors the core loads.
//! - [`dataset`]: the (velocity, RTM) pair builder and reader.
//! - [`npy`]: `.npy` reading and writing (also the `powerpost` binary's).
//!
//! Everything is deterministic: the same inputs and seed give the same bits for any
//! thread count.

pub mod checkpoint;
pub mod cputime;
pub mod dataset;
pub mod exec;
pub mod export;
pub mod files;
pub mod kernels;
pub mod loss;
pub mod network;
pub mod npy;
pub mod optim;
pub mod plot;
pub mod trainer;
