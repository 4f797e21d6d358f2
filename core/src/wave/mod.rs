//! 2D constant-density acoustic wave modelling: finite differences with C-PML absorbing
//! layers, Born modelling and reverse-time migration as its exact adjoint, acquisition
//! presets, coloured noise, smoothing and data residuals.
//!
//! Everything works on caller-owned buffers sized by the `*_len()` functions, and splits
//! each time step into row ranges for the caller's [`crate::exec::Executor`]; outputs are
//! bit-identical for any thread count.
//!
//! Model convention: velocity in m/s, row-major `nz × nx` (row = depth). Positions are
//! `[z, x]` in metres from the first grid point. Shots are time-major `nt × nrec`.

// Accumulations are written `s = s + term` on purpose: the order of operations is part of
// the bit-exactness contract and reads best spelled out.
#![allow(
    clippy::assign_op_pattern,
    clippy::neg_cmp_op_on_partial_ord,
    clippy::needless_range_loop
)]

pub mod config;
mod kernel;
pub mod propagate;
pub mod ricker;
pub mod stencil;

pub use config::{
    medium_len, prepare_medium, Grid, WaveConfig, DEFAULT_PML_WIDTH, HALO, PML_PROFILE_POWER,
    PML_REFLECTION,
};
pub use propagate::{bilinear, forward_shot, state_len, Propagator};
pub use ricker::{ricker, ricker_wavelet};

pub mod born;
pub use born::{
    born_shot, born_state_len, checkpoint_interval, rtm_scratch_len, rtm_scratch_len_stored,
    rtm_shot, sum_images,
};

pub mod image;
pub mod noise;
pub mod preset;
pub mod smooth;
pub use image::{compensate_illumination, laplacian_filter, mute_water};
pub use noise::{add_colored_noise, colored_noise_scratch_len, relative_residual};
pub use preset::Acquisition;
pub use smooth::{gaussian_smooth, smooth_scratch_len};
