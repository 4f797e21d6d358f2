//! # powerpost-core
//!
//! The `#![no_std]`, allocation-free, bit-exact heart of powerpost: the half-precision
//! conditional score network (EDM-preconditioned U-Net), the power-scaled samplers, the
//! counter-based RNG, deterministic transcendental math, and the seismic physics
//! (synthetic geology, acoustic modelling, Born/RTM).
//!
//! ## Ground rules (product invariants)
//! - **No allocation, no panics on bad input.** Every function that needs memory takes a
//!   caller-owned buffer whose size comes from a `*_len()` function; bad input returns a
//!   typed [`Error`].
//! - **Bit-exact.** Same inputs and seed give the same output bits for any thread count,
//!   any SIMD width and on the Vulkan backend. Every reduction has one documented order,
//!   no fused multiply-add is ever used, and all transcendental functions come from
//!   [`detmath`], built from `+ − ×`, comparisons, `floor` and bit manipulation only, so
//!   that the GLSL shaders repeat them operation for operation.
//! - **Parallelism is the caller's.** Kernels split work into independent tasks and hand
//!   them to an [`exec::Executor`] that the caller supplies; the result never depends on
//!   how tasks are scheduled.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod detmath;
pub mod error;
pub mod exec;
pub mod geology;
pub mod nn;
pub mod normalize;
pub mod posterior;
pub mod power;
pub mod reduce;
pub mod rng;
pub mod safetensors;
pub mod sampler;
pub mod unet;

pub use error::Error;
pub mod wave;

#[cfg(test)]
mod test_util;
