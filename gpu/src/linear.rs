//! The network's dense layer and the noise-level Fourier features on the device,
//! bit-identical to [`powerpost_core::nn::linear::linear`] and
//! [`powerpost_core::nn::linear::fourier_features`].
//!
//! `shaders/linear.comp` repeats the arithmetic of [`powerpost_core::nn::linear`] (module
//! docs): per output `o`, `acc` starts at `bias[o]` and adds `weight[o][i] × input[i]` for
//! `i` in increasing order, each product and each sum a separate `precise` f32 operation.
//! One invocation computes one output, so the order is exactly the scalar order.
//!
//! `shaders/fourier_features.comp` computes `a = c_noise × FREQUENCIES[i]` and writes
//! `dm_cos(a)` and `dm_sin(a)` (the twins in `shaders/detmath.glsl` of
//! [`powerpost_core::detmath::cos`] and [`powerpost_core::detmath::sin`]) into the two
//! halves of the output. The frequencies are the core's
//! [`FREQUENCIES`], uploaded once as f32 bits
//! when the pipeline is built, so the shader uses the same constants, not a second
//! rounding of `2^(i/4)`.

use vulkano::buffer::{BufferContents, Subbuffer};

use powerpost_core::nn::linear::{check_fourier_features, check_linear, FREQUENCIES};

use crate::{check_buffer, group_count, Gpu, GpuError, Kernel};

/// Work-group size of both shaders (`local_size_x`).
const GROUP: usize = 64;

/// The dense layer's push constants (`Shape` in `shaders/linear.comp`).
#[derive(BufferContents, Clone, Copy)]
#[repr(C)]
struct LinearShape {
    in_len: u32,
    out_len: u32,
}

/// The Fourier features' push constants (`Shape` in `shaders/fourier_features.comp`).
#[derive(BufferContents, Clone, Copy)]
#[repr(C)]
struct FourierShape {
    half_len: u32,
    c_noise: f32,
}

/// The dense layer's pipeline.
pub struct Linear {
    kernel: Kernel,
}

impl Linear {
    /// Builds the pipeline on `gpu`.
    ///
    /// # Errors
    /// [`GpuError::ShadersNotBuilt`] if the crate was built without `glslc`;
    /// [`GpuError::Vulkan`] if the driver rejects the shader.
    pub fn new(gpu: &Gpu) -> Result<Self, GpuError> {
        Ok(Self {
            kernel: Kernel::new(gpu, spirv!("linear"))?,
        })
    }

    /// `out = weight · input + bias` on the device: the arguments and result of
    /// [`powerpost_core::nn::linear::linear`], with the same bits in every value of `out`.
    ///
    /// Uploads the inputs, runs one dispatch and reads `out` back.
    ///
    /// # Errors
    /// The core's [`Error::BufferLength`](powerpost_core::Error::BufferLength) for
    /// mis-sized buffers, as [`GpuError::Core`]. [`GpuError::TooLarge`] when a buffer
    /// exceeds 2³¹ − 1 values or `out` needs more than 65 535 work groups of 64;
    /// [`GpuError::Vulkan`] if the device fails.
    pub fn run(
        &self,
        weight: &[f32],
        bias: &[f32],
        input: &[f32],
        out: &mut [f32],
    ) -> Result<(), GpuError> {
        check_linear(weight, bias, input, out.len())?;
        if out.is_empty() {
            return Ok(());
        }
        for (what, len) in [
            ("linear weight", weight.len()),
            ("linear input", input.len()),
            ("linear output", out.len()),
        ] {
            check_buffer(what, len)?;
        }
        let groups = [
            group_count("linear outputs / 64", out.len().div_ceil(GROUP))?,
            1,
            1,
        ];
        // Both lengths were checked to be below 2^31.
        let shape = LinearShape {
            in_len: input.len() as u32,
            out_len: out.len() as u32,
        };
        self.kernel
            .run_f32(&[weight, bias, input], out, groups, shape)
    }
}

/// The Fourier features' pipeline, holding the core's frequencies on the device.
pub struct FourierFeatures {
    kernel: Kernel,
    frequencies: Subbuffer<[u32]>,
}

impl FourierFeatures {
    /// Builds the pipeline on `gpu` and uploads the frequencies.
    ///
    /// # Errors
    /// [`GpuError::ShadersNotBuilt`] if the crate was built without `glslc`;
    /// [`GpuError::Vulkan`] if the driver rejects the shader or the upload fails.
    pub fn new(gpu: &Gpu) -> Result<Self, GpuError> {
        Ok(Self {
            kernel: Kernel::new(gpu, spirv!("fourier_features"))?,
            frequencies: gpu.upload_f32(&FREQUENCIES)?,
        })
    }

    /// Writes the `2 × FREQUENCIES.len()` Fourier features of `c_noise` into `out` on the
    /// device: the arguments and result of
    /// [`powerpost_core::nn::linear::fourier_features`], with the same bits.
    ///
    /// # Errors
    /// The core's [`Error::BufferLength`](powerpost_core::Error::BufferLength) unless
    /// `out.len() == 2 × FREQUENCIES.len()`, as [`GpuError::Core`]; [`GpuError::Vulkan`]
    /// if the device fails.
    pub fn run(&self, c_noise: f32, out: &mut [f32]) -> Result<(), GpuError> {
        check_fourier_features(out.len())?;
        let half = FREQUENCIES.len();
        let shape = FourierShape {
            half_len: half as u32,
            c_noise,
        };
        let groups = [half.div_ceil(GROUP) as u32, 1, 1];
        self.kernel
            .run_uploaded(vec![self.frequencies.clone()], out, groups, shape)
    }
}
