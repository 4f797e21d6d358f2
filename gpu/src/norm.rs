//! The network's group normalisation (optionally followed by SiLU) on the device,
//! bit-identical to [`powerpost_core::nn::norm::group_norm`].
//!
//! `shaders/group_norm.comp` repeats the arithmetic contract of
//! [`powerpost_core::nn::norm`] (module docs): the statistics of each group are the
//! order-defined sums of [`powerpost_core::nn::norm::Sum8`] — eight interleaved partial
//! sums, value `k` of the group (order channel, row, column) into partial sum `k mod 8`,
//! each accumulated in increasing `k`, combined as
//! `((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`. One work group handles one
//! (batch item, group): its first eight invocations accumulate one partial sum each,
//! serially in the core's order, and the first combines them; `inv_n`, `rsqrt` and SiLU
//! are the GLSL twins of [`powerpost_core::detmath`] (`shaders/detmath.glsl`). All 64
//! invocations then write the group's planes.
//!
//! As in the core, every ring cell of the output is written `+0.0`, so the whole output
//! buffer has the core's bits. `inv_n = recip(n as f32)` converts the group size on the
//! device: Vulkan leaves the rounding of an inexact integer-to-float conversion (groups of
//! more than 2²⁴ values) to the implementation, so the shader converts the two 16-bit
//! halves exactly and adds them, one correctly rounded addition, which rounds to nearest
//! even like Rust's `as f32`.
//!
//! This first version favours clarity over speed: the statistics use eight invocations
//! per group.

use vulkano::buffer::BufferContents;

use powerpost_core::nn::conv::Source;
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::norm::{check_group_norm, GroupNorm};
use powerpost_core::unet::program::{operand_channels, NormOp};
use vulkano::buffer::Subbuffer;

use crate::{check_buffer, group_count, Gpu, GpuError, Kernel, Recorder};

/// The shader's push constants (`Shape` in `shaders/group_norm.comp`).
#[derive(BufferContents, Clone, Copy)]
#[repr(C)]
struct Shape {
    height: u32,
    width: u32,
    batch: u32,
    channels0: u32,
    channels1: u32,
    groups: u32,
    silu: u32,
    eps: f32,
}

/// The work-group grid and push constants of one group norm over the (up to) two
/// sources' `channels`.
fn launch(
    geometry: Geometry,
    batch: usize,
    channels: [usize; 2],
    groups: usize,
    silu: bool,
    eps: f32,
) -> Result<([u32; 3], Shape), GpuError> {
    let grid = [
        group_count("group-norm groups", groups)?,
        group_count("group-norm batch", batch)?,
        1,
    ];
    // Every count below is at most a buffer length (< 2^31) or a group count.
    let shape = Shape {
        height: geometry.height as u32,
        width: geometry.width as u32,
        batch: batch as u32,
        channels0: channels[0] as u32,
        channels1: channels[1] as u32,
        groups: groups as u32,
        silu: silu as u32,
        eps,
    };
    Ok((grid, shape))
}

/// The group-normalisation shader's pipeline.
pub struct GroupNormPipeline {
    kernel: Kernel,
}

impl GroupNormPipeline {
    /// Builds the pipeline on `gpu`.
    ///
    /// # Errors
    /// [`GpuError::ShadersNotBuilt`] if the crate was built without `glslc`;
    /// [`GpuError::Vulkan`] if the driver rejects the shader.
    pub fn new(gpu: &Gpu) -> Result<Self, GpuError> {
        Ok(Self {
            kernel: Kernel::new(gpu, spirv!("group_norm"))?,
        })
    }

    /// Normalises `sources` (concatenated along channels) group by group into `out` on
    /// the device: the arguments and result of
    /// [`powerpost_core::nn::norm::group_norm`] (without its executor and instruction
    /// set), with the same bits in every value of `out`, ring included.
    ///
    /// Uploads the inputs, runs one dispatch and reads `out` back.
    ///
    /// # Errors
    /// The core's [`Error`](powerpost_core::Error)s for the same arguments, as [`GpuError::Core`]:
    /// [`Error::InvalidArgument`](powerpost_core::Error::InvalidArgument) for no or more than two sources, an empty geometry, or
    /// `groups` zero or not dividing the channel count; [`Error::BufferLength`](powerpost_core::Error::BufferLength) for
    /// mis-sized buffers. [`GpuError::TooLarge`] when a buffer exceeds 2³¹ − 1 values or
    /// the groups or batch exceed 65 535 work groups; [`GpuError::Vulkan`] if the device
    /// fails.
    pub fn run(
        &self,
        geometry: Geometry,
        batch: usize,
        sources: &[Source<'_>],
        norm: &GroupNorm<'_>,
        out: &mut [f32],
    ) -> Result<(), GpuError> {
        check_group_norm(geometry, batch, sources, norm, out.len())?;
        if out.is_empty() {
            return Ok(());
        }
        for (what, len) in [
            ("group-norm input", sources[0].data.len()),
            (
                "group-norm input",
                sources.get(1).map_or(0, |s| s.data.len()),
            ),
            ("group-norm output", out.len()),
        ] {
            check_buffer(what, len)?;
        }
        let channels = [
            sources[0].channels,
            sources.get(1).map_or(0, |s| s.channels),
        ];
        let (groups, shape) = launch(geometry, batch, channels, norm.groups, norm.silu, norm.eps)?;
        let inputs = [
            sources[0].data,
            sources.get(1).map_or(&[], |s| s.data),
            norm.gamma,
            norm.beta,
        ];
        self.kernel.run_f32(&inputs, out, groups, shape)
    }

    /// Records the group norm (with SiLU) of `op` (the network program's operation,
    /// already checked against the slot sizes by the caller) into `recorder`. `buffers`
    /// are the shader's bindings: source 0, source 1, γ, β, output.
    pub(crate) fn record(
        &self,
        recorder: &mut Recorder,
        geometry: Geometry,
        batch: usize,
        op: &NormOp,
        eps: f32,
        buffers: &[Subbuffer<[u32]>; 5],
    ) -> Result<(), GpuError> {
        let channels = operand_channels(op.sources());
        let (groups, shape) = launch(geometry, batch, channels, op.groups, true, eps)?;
        self.kernel.record(recorder, buffers, groups, shape)
    }
}
