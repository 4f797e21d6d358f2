//! The network's 2×2 average pooling and nearest-neighbour up-sampling on the device,
//! bit-identical to [`powerpost_core::nn::resample::avg_pool2`] and
//! [`powerpost_core::nn::resample::upsample_nearest2`].
//!
//! Both work on the core's padded planar layout ([`powerpost_core::nn::geometry`]) with
//! one invocation per output cell, ring included: ring cells are written `+0.0` (the core
//! zero-fills each output plane), so the whole output buffer has the core's bits; the
//! input's ring is never read.
//!
//! - `shaders/avg_pool2.comp`: `out(y, x) = ((a + b) + (c + d)) × 0.25` over the 2×2
//!   block `a b / c d` at `(2y, 2x)` of the fine plane, each sum and the product a
//!   separate `precise` f32 operation, as in [`powerpost_core::nn::resample`] (module
//!   docs).
//! - `shaders/upsample_nearest2.comp`: `out(y, x) = in(y / 2, x / 2)`, copied as bits
//!   (the shader reads and writes `uint`), as Rust's copy is: NaN payloads and subnormals
//!   pass unchanged.

use vulkano::buffer::{BufferContents, Subbuffer};

use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::resample::{check_avg_pool2, check_upsample_nearest2};

use crate::{check_buffer, group_count, Gpu, GpuError, Kernel, Recorder};

/// Work-group size of both shaders (`local_size_x`): consecutive plane cells.
const GROUP: usize = 64;

/// The push constants of both shaders (`Shape` in `shaders/avg_pool2.comp` and
/// `shaders/upsample_nearest2.comp`): the coarse geometry and the plane count.
#[derive(BufferContents, Clone, Copy)]
#[repr(C)]
struct Shape {
    height: u32,
    width: u32,
    planes: u32,
}

/// The work-group grid and push constants of one resampling to planes of geometry `to`;
/// `coarse` (the smaller of the two geometries) goes to the shader.
fn launch(
    what: [&'static str; 2],
    coarse: Geometry,
    to: Geometry,
    planes: usize,
) -> Result<([u32; 3], Shape), GpuError> {
    let groups = [
        group_count(what[0], to.plane_len().div_ceil(GROUP))?,
        group_count(what[1], planes)?,
        1,
    ];
    // The buffers hold fewer than 2^31 values, so the sides fit in u32.
    let shape = Shape {
        height: coarse.height as u32,
        width: coarse.width as u32,
        planes: planes as u32,
    };
    Ok((groups, shape))
}

/// Runs one resampling shader on `planes` planes: `input` into `out`, whose planes have
/// geometry `to`; `coarse` (the smaller of the two geometries) goes to the shader.
#[allow(clippy::too_many_arguments)]
fn resample(
    kernel: &Kernel,
    what: [&'static str; 4],
    coarse: Geometry,
    to: Geometry,
    planes: usize,
    input: &[f32],
    out: &mut [f32],
) -> Result<(), GpuError> {
    if out.is_empty() {
        return Ok(());
    }
    check_buffer(what[0], input.len())?;
    check_buffer(what[1], out.len())?;
    let (groups, shape) = launch([what[2], what[3]], coarse, to, planes)?;
    kernel.run_f32(&[input], out, groups, shape)
}

/// The 2×2 average-pooling shader's pipeline.
pub struct AvgPool2 {
    kernel: Kernel,
}

impl AvgPool2 {
    /// Builds the pipeline on `gpu`.
    ///
    /// # Errors
    /// [`GpuError::ShadersNotBuilt`] if the crate was built without `glslc`;
    /// [`GpuError::Vulkan`] if the driver rejects the shader.
    pub fn new(gpu: &Gpu) -> Result<Self, GpuError> {
        Ok(Self {
            kernel: Kernel::new(gpu, spirv!("avg_pool2"))?,
        })
    }

    /// Averages 2×2 blocks of `input` (`planes` planes of geometry `fine`) into `out` (half
    /// size) on the device: the arguments and result of
    /// [`powerpost_core::nn::resample::avg_pool2`] (without its executor), with the same
    /// bits in every value of `out`, ring included.
    ///
    /// # Errors
    /// The core's errors for the same arguments, as [`GpuError::Core`]:
    /// [`InvalidArgument`](powerpost_core::Error::InvalidArgument) for odd sides,
    /// [`BufferLength`](powerpost_core::Error::BufferLength) for mis-sized buffers.
    /// [`GpuError::TooLarge`] when a buffer exceeds 2³¹ − 1 values or the planes or the
    /// output plane's cells ÷ 64 exceed 65 535 work groups; [`GpuError::Vulkan`] if the
    /// device fails.
    pub fn run(
        &self,
        fine: Geometry,
        planes: usize,
        input: &[f32],
        out: &mut [f32],
    ) -> Result<(), GpuError> {
        let coarse = check_avg_pool2(fine, planes, input.len(), out.len())?;
        resample(
            &self.kernel,
            [
                "pool input",
                "pool output",
                "pool plane cells / 64",
                "pool planes",
            ],
            coarse,
            coarse,
            planes,
            input,
            out,
        )
    }
}

impl AvgPool2 {
    /// Records the pooling of `planes` planes of geometry `fine` from `buffers[0]` into
    /// `buffers[1]` (the network program's operation, checked by the caller).
    pub(crate) fn record(
        &self,
        recorder: &mut Recorder,
        fine: Geometry,
        planes: usize,
        buffers: &[Subbuffer<[u32]>; 2],
    ) -> Result<(), GpuError> {
        let coarse = fine.half();
        let (groups, shape) = launch(
            ["pool plane cells / 64", "pool planes"],
            coarse,
            coarse,
            planes,
        )?;
        self.kernel.record(recorder, buffers, groups, shape)
    }
}

/// The nearest-neighbour up-sampling shader's pipeline.
pub struct UpsampleNearest2 {
    kernel: Kernel,
}

impl UpsampleNearest2 {
    /// Builds the pipeline on `gpu`.
    ///
    /// # Errors
    /// [`GpuError::ShadersNotBuilt`] if the crate was built without `glslc`;
    /// [`GpuError::Vulkan`] if the driver rejects the shader.
    pub fn new(gpu: &Gpu) -> Result<Self, GpuError> {
        Ok(Self {
            kernel: Kernel::new(gpu, spirv!("upsample_nearest2"))?,
        })
    }

    /// Repeats every pixel of `input` (`planes` planes of geometry `coarse`) 2×2 times
    /// into `out` (double size) on the device: the arguments and result of
    /// [`powerpost_core::nn::resample::upsample_nearest2`] (without its executor), with
    /// the same bits in every value of `out`, ring included.
    ///
    /// # Errors
    /// The core's [`BufferLength`](powerpost_core::Error::BufferLength) for mis-sized
    /// buffers, as [`GpuError::Core`]. [`GpuError::TooLarge`] when a buffer exceeds
    /// 2³¹ − 1 values or the planes or the output plane's cells ÷ 64 exceed 65 535 work
    /// groups; [`GpuError::Vulkan`] if the device fails.
    pub fn run(
        &self,
        coarse: Geometry,
        planes: usize,
        input: &[f32],
        out: &mut [f32],
    ) -> Result<(), GpuError> {
        let fine = check_upsample_nearest2(coarse, planes, input.len(), out.len())?;
        resample(
            &self.kernel,
            [
                "upsample input",
                "upsample output",
                "upsample plane cells / 64",
                "upsample planes",
            ],
            coarse,
            fine,
            planes,
            input,
            out,
        )
    }
}

impl UpsampleNearest2 {
    /// Records the up-sampling of `planes` planes of geometry `coarse` from `buffers[0]`
    /// into `buffers[1]` (the network program's operation, checked by the caller).
    pub(crate) fn record(
        &self,
        recorder: &mut Recorder,
        coarse: Geometry,
        planes: usize,
        buffers: &[Subbuffer<[u32]>; 2],
    ) -> Result<(), GpuError> {
        let (groups, shape) = launch(
            ["upsample plane cells / 64", "upsample planes"],
            coarse,
            coarse.double(),
            planes,
        )?;
        self.kernel.record(recorder, buffers, groups, shape)
    }
}
