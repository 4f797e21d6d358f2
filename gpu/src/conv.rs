//! The network's 2-D convolution on the device, bit-identical to
//! [`powerpost_core::nn::conv::conv2d`].
//!
//! `shaders/conv2d.comp` repeats the arithmetic contract of [`powerpost_core::nn::conv`]
//! (module docs, "the contract every backend repeats"): per output value, `acc` starts at
//! the batch item's bias, adds `weight × input` for every input channel (first source
//! first) and every tap in row-major order, each product and each sum a separate `precise`
//! f32 operation, then optionally `(acc + residual) × residual_scale`. One invocation
//! computes one value, so the order per value is exactly the scalar order whatever the
//! device's parallelism.
//!
//! The tensors use the core's padded planar layout ([`powerpost_core::nn::geometry`]);
//! there is no spatial stride (a 3×3 convolution is "same", a 1×1 one pointwise). Like the
//! core, the device reads the input's ring cells as they are (they are the zero padding)
//! and writes `+0.0` into every ring cell of the output, so the whole output buffer,
//! ring included, has the core's bits.

use vulkano::buffer::BufferContents;

use vulkano::buffer::Subbuffer;

use powerpost_core::nn::conv::{check_conv, Conv, Source};
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::winograd::{check_winograd, WinogradConv};
use powerpost_core::unet::program::{operand_channels, ConvOp};

use crate::{check_buffer, group_count, Gpu, GpuError, Kernel, Recorder};

/// Work-group size of the shader (`local_size_x`): consecutive plane cells.
const GROUP: usize = 64;

/// Output channels one invocation computes (`OUT_BLOCK` in the shader).
const OUT_BLOCK: usize = 4;

/// The shader's push constants (`Shape` in `shaders/conv2d.comp`).
#[derive(BufferContents, Clone, Copy)]
#[repr(C)]
struct Shape {
    height: u32,
    width: u32,
    batch: u32,
    kernel: u32,
    out_channels: u32,
    channels0: u32,
    channels1: u32,
    has_residual: u32,
    residual_scale: f32,
}

/// The work-group grid and push constants of one convolution: `channels` of the (up to)
/// two sources, and the residual scale when a residual is added.
fn launch(
    geometry: Geometry,
    batch: usize,
    kernel: usize,
    out_channels: usize,
    channels: [usize; 2],
    residual_scale: Option<f32>,
) -> Result<([u32; 3], Shape), GpuError> {
    let plane = geometry.plane_len();
    let groups = [
        group_count("conv plane cells / 64", plane.div_ceil(GROUP))?,
        group_count("conv output channels / 4", out_channels.div_ceil(OUT_BLOCK))?,
        group_count("conv batch", batch)?,
    ];
    // Every count below is at most a buffer length (< 2^31) or a group count.
    let shape = Shape {
        height: geometry.height as u32,
        width: geometry.width as u32,
        batch: batch as u32,
        kernel: kernel as u32,
        out_channels: out_channels as u32,
        channels0: channels[0] as u32,
        channels1: channels[1] as u32,
        has_residual: residual_scale.is_some() as u32,
        residual_scale: residual_scale.unwrap_or(1.0),
    };
    Ok((groups, shape))
}

/// Runs a convolution shader on host slices (the arguments already checked by the core's
/// `check_*`): the device's size limits, the grid and push constants from `grid` (given
/// the two sources' channel counts), upload, one dispatch, and `out` read back.
#[allow(clippy::too_many_arguments)]
fn run_on_host(
    kernel: &Kernel,
    sources: &[Source<'_>],
    (weight_name, weight): (&'static str, &[f32]),
    bias: &[f32],
    residual: Option<&[f32]>,
    out: &mut [f32],
    grid: impl FnOnce([usize; 2]) -> Result<([u32; 3], Shape), GpuError>,
) -> Result<(), GpuError> {
    if out.is_empty() {
        return Ok(());
    }
    for (what, len) in [
        ("conv input", sources[0].data.len()),
        ("conv input", sources.get(1).map_or(0, |s| s.data.len())),
        (weight_name, weight.len()),
        ("conv output", out.len()),
    ] {
        check_buffer(what, len)?;
    }
    let (groups, shape) = grid([
        sources[0].channels,
        sources.get(1).map_or(0, |s| s.channels),
    ])?;
    let inputs = [
        sources[0].data,
        sources.get(1).map_or(&[], |s| s.data),
        weight,
        bias,
        residual.unwrap_or(&[]),
    ];
    kernel.run_f32(&inputs, out, groups, shape)
}

/// The convolution shader's pipeline.
pub struct Conv2d {
    kernel: Kernel,
}

impl Conv2d {
    /// Builds the pipeline on `gpu`.
    ///
    /// # Errors
    /// [`GpuError::ShadersNotBuilt`] if the crate was built without `glslc`;
    /// [`GpuError::Vulkan`] if the driver rejects the shader.
    pub fn new(gpu: &Gpu) -> Result<Self, GpuError> {
        Ok(Self {
            kernel: Kernel::new(gpu, spirv!("conv2d"))?,
        })
    }

    /// Convolves `sources` (concatenated along channels) into `out` on the device: the
    /// arguments and result of [`powerpost_core::nn::conv::conv2d`] (without its executor
    /// and instruction set), with the same bits in every value of `out`, ring included.
    ///
    /// Uploads the inputs, runs one dispatch and reads `out` back.
    ///
    /// # Errors
    /// The core's [`Error`](powerpost_core::Error)s for the same arguments, as [`GpuError::Core`]:
    /// [`Error::InvalidArgument`](powerpost_core::Error::InvalidArgument) for a kernel other than 1 or 3, no or more than two
    /// sources, an empty geometry or batch; [`Error::BufferLength`](powerpost_core::Error::BufferLength) when a buffer does not
    /// match the geometry, batch and channel counts. [`GpuError::TooLarge`] when a buffer
    /// exceeds 2³¹ − 1 values or the batch, output channels or plane cells ÷ 64 exceed
    /// 65 535 work groups; [`GpuError::Vulkan`] if the device fails.
    pub fn run(
        &self,
        geometry: Geometry,
        batch: usize,
        sources: &[Source<'_>],
        conv: &Conv<'_>,
        out: &mut [f32],
    ) -> Result<(), GpuError> {
        let in_channels = check_conv(geometry, batch, sources, conv, out.len())?;
        let (kernel, out_channels) = (conv.kernel, conv.out_channels);
        let residual_scale = conv.residual.map(|_| conv.residual_scale);
        run_on_host(
            &self.kernel,
            sources,
            ("conv weight", conv.weight),
            conv.bias,
            conv.residual,
            out,
            |channels| {
                let launched = launch(
                    geometry,
                    batch,
                    kernel,
                    out_channels,
                    channels,
                    residual_scale,
                )?;
                debug_assert_eq!(in_channels, channels[0] + channels[1]);
                Ok(launched)
            },
        )
    }

    /// Records the convolution of `op` (the network program's operation, already
    /// checked against the slot sizes by the caller) into `recorder`. `buffers` are the
    /// shader's bindings: source 0, source 1, weight, bias, residual, output.
    pub(crate) fn record(
        &self,
        recorder: &mut Recorder,
        geometry: Geometry,
        batch: usize,
        op: &ConvOp,
        buffers: &[Subbuffer<[u32]>; 6],
    ) -> Result<(), GpuError> {
        let (groups, shape) = launch(
            geometry,
            batch,
            op.kernel,
            op.out_channels,
            operand_channels(op.sources()),
            op.residual.map(|_| op.residual_scale),
        )?;
        self.kernel.record(recorder, buffers, groups, shape)
    }
}

/// The Winograd F(2×2, 3×3) convolution shader's pipeline (`shaders/winograd3x3.comp`):
/// bit-identical to [`powerpost_core::nn::winograd::conv3x3_winograd`], whose contract it
/// repeats with one invocation per 2 × 2 output tile and four output channels.
pub struct Winograd3x3 {
    kernel: Kernel,
}

/// The work-group grid and push constants of one Winograd convolution.
fn winograd_launch(
    geometry: Geometry,
    batch: usize,
    out_channels: usize,
    channels: [usize; 2],
    residual_scale: Option<f32>,
) -> Result<([u32; 3], Shape), GpuError> {
    let tiles = geometry.height.div_ceil(2) * geometry.width.div_ceil(2);
    let (_, shape) = launch(geometry, batch, 3, out_channels, channels, residual_scale)?;
    let groups = [
        group_count("winograd tiles / 64", tiles.div_ceil(GROUP))?,
        group_count("conv output channels / 4", out_channels.div_ceil(OUT_BLOCK))?,
        group_count("conv batch", batch)?,
    ];
    Ok((groups, shape))
}

impl Winograd3x3 {
    /// Builds the pipeline on `gpu`.
    ///
    /// # Errors
    /// [`GpuError::ShadersNotBuilt`] if the crate was built without `glslc`;
    /// [`GpuError::Vulkan`] if the driver rejects the shader.
    pub fn new(gpu: &Gpu) -> Result<Self, GpuError> {
        Ok(Self {
            kernel: Kernel::new(gpu, spirv!("winograd3x3"))?,
        })
    }

    /// Convolves `sources` into `out` on the device: the arguments and result of
    /// [`powerpost_core::nn::winograd::conv3x3_winograd`] (without its executor,
    /// instruction set and scratch), with the same bits in every value of `out`, ring
    /// included.
    ///
    /// Uploads the inputs, runs one dispatch and reads `out` back.
    ///
    /// # Errors
    /// The core's [`Error`](powerpost_core::Error)s for the same arguments, as [`GpuError::Core`]; as
    /// [`Conv2d::run`] for sizes the device cannot address.
    pub fn run(
        &self,
        geometry: Geometry,
        batch: usize,
        sources: &[Source<'_>],
        conv: &WinogradConv<'_>,
        out: &mut [f32],
    ) -> Result<(), GpuError> {
        check_winograd(geometry, batch, sources, conv, out.len())?;
        let out_channels = conv.out_channels;
        let residual_scale = conv.residual.map(|_| conv.residual_scale);
        run_on_host(
            &self.kernel,
            sources,
            ("winograd transformed weight", conv.transformed_weight),
            conv.bias,
            conv.residual,
            out,
            |channels| winograd_launch(geometry, batch, out_channels, channels, residual_scale),
        )
    }

    /// Records the 3×3 convolution of `op` into `recorder`; `buffers` are the shader's
    /// bindings: source 0, source 1, transformed weights, bias, residual, output.
    pub(crate) fn record(
        &self,
        recorder: &mut Recorder,
        geometry: Geometry,
        batch: usize,
        op: &ConvOp,
        buffers: &[Subbuffer<[u32]>; 6],
    ) -> Result<(), GpuError> {
        let (groups, shape) = winograd_launch(
            geometry,
            batch,
            op.out_channels,
            operand_channels(op.sources()),
            op.residual.map(|_| op.residual_scale),
        )?;
        self.kernel.record(recorder, buffers, groups, shape)
    }
}
