//! The error type of the Vulkan backend.

use std::fmt::Display;

/// What can go wrong when setting up or running the Vulkan backend.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// The Vulkan loader (`libvulkan.so.1` / `vulkan-1.dll`) is not installed.
    #[error("the Vulkan loader could not be loaded ({0}); install a Vulkan driver (e.g. Mesa's lavapipe: apt-get install mesa-vulkan-drivers)")]
    NoLoader(String),
    /// No physical device offers a compute queue and Vulkan 1.1.
    #[error("no Vulkan device with a compute queue and Vulkan 1.1 was found")]
    NoDevice,
    /// No device name contains the requested text.
    #[error("no Vulkan device name contains {wanted:?} (available: {available})")]
    DeviceNotFound {
        /// The text asked for.
        wanted: String,
        /// The devices found, comma-separated.
        available: String,
    },
    /// The crate was compiled where `glslc` was missing, so it carries no shaders.
    #[error("powerpost-gpu was built without its shaders (glslc was not found at build time; apt-get install glslc and rebuild)")]
    ShadersNotBuilt,
    /// An input does not fit one call.
    #[error("{what}: {len} values, at most {max} per call")]
    TooLarge {
        /// The input.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The arguments were refused by the same validation as the core's kernel (the core's
    /// error, unchanged).
    #[error(transparent)]
    Core(#[from] powerpost_core::Error),
    /// A Vulkan call failed.
    #[error("Vulkan: {what}: {message}")]
    Vulkan {
        /// The step that failed.
        what: &'static str,
        /// The driver's or vulkano's message.
        message: String,
    },
}

/// Maps a vulkano error to [`GpuError::Vulkan`] naming the step `what`.
pub(crate) fn vk<E: Display>(what: &'static str) -> impl FnOnce(E) -> GpuError {
    move |e| GpuError::Vulkan {
        what,
        message: e.to_string(),
    }
}
