//! The whole score network on the device, bit-identical to
//! [`powerpost_core::unet::UNet::denoise`].
//!
//! [`GpuUNet`] runs the core's [program](powerpost_core::unet::program) — the same list of
//! convolutions, group norms and resampling steps over the same workspace slots that the
//! CPU forward pass runs — as one command buffer of dispatches on tensors that stay on the
//! device between layers. The parameters are uploaded once; the command buffer is recorded
//! once per image size and batch and then re-submitted.
//!
//! What runs on the host, with the core's own functions (so those bits are the CPU's by
//! construction): the argument checks ([`UNet::check_denoise`]), the preconditioning
//! coefficients, the padded network input ([`network_input`]), the noise embedding and every
//! convolution's per-item bias ([`embedding`], [`conv_bias`]: a few thousand values, less
//! than one dispatch would cost), and the final `D = c_skip·x + c_out·F`
//! ([`combine_branches`]). Everything per pixel runs on the device.
//!
//! Per call: the host writes the input and the biases into two small host-visible staging
//! buffers and reads the raw output from a third; one submission copies the staging
//! buffers into device-local memory, runs every layer there and copies the raw output
//! back (so on a discrete GPU the activations never cross the bus).

use std::collections::HashMap;
use std::sync::Arc;

use vulkano::buffer::Subbuffer;
use vulkano::command_buffer::PrimaryAutoCommandBuffer;

use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::winograd::{transform_weights, transformed_weights_len};
use powerpost_core::unet::forward::{
    combine_branches, conv_bias, embedding, embedding_scratch_len, level_geometry, network_input,
    slot_lens,
};
use powerpost_core::unet::params::for_each_tensor;
use powerpost_core::unet::program::{for_each_op, Op, ParamRange, INPUT_SLOT, OUTPUT_SLOT, SLOTS};
use powerpost_core::unet::{DenoiseInput, DenoiseOutput, Preconditioning, UNet, UNetConfig};

use crate::conv::{Conv2d, Winograd3x3};
use crate::norm::GroupNormPipeline;
use crate::resample::{AvgPool2, UpsampleNearest2};
use crate::{check_buffer, read_f32, Gpu, GpuError};

/// The conditional score network with its parameters on a Vulkan device.
pub struct GpuUNet {
    gpu: Gpu,
    config: UNetConfig,
    params: Vec<f32>,
    /// Every parameter tensor, each starting at a multiple of the device's offset
    /// alignment.
    weights: Subbuffer<[u32]>,
    /// Offset in `weights` of the tensor at each offset of the flat parameter buffer.
    weight_offsets: HashMap<usize, usize>,
    /// The 3×3 convolutions' weights transformed by the core
    /// ([`transform_weights`]), each at a multiple of the offset alignment.
    transformed: Subbuffer<[u32]>,
    /// `(offset in transformed, length)` for the 3×3 weight tensor at each offset of the
    /// flat parameter buffer.
    transformed_offsets: HashMap<usize, (usize, usize)>,
    conv: Conv2d,
    winograd: Winograd3x3,
    norm: GroupNormPipeline,
    pool: AvgPool2,
    upsample: UpsampleNearest2,
    prepared: Option<Prepared>,
}

/// The buffers and recorded commands for one image size and batch.
struct Prepared {
    height: usize,
    width: usize,
    batch: usize,
    /// Host-visible staging of the network input (copied into the input slot).
    input: Subbuffer<[u32]>,
    /// Host-visible copy of the raw output (from the output slot).
    output: Subbuffer<[u32]>,
    /// Host-visible staging of the per-item biases of every convolution, one aligned
    /// segment each, in op order (copied into `biases`).
    bias_staging: Subbuffer<[u32]>,
    /// `(offset, len)` of each convolution's segment in `biases`, in op order.
    bias_segments: Vec<(usize, usize)>,
    commands: Arc<PrimaryAutoCommandBuffer>,
}

/// `n` rounded up to a multiple of `align`.
fn align_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

impl GpuUNet {
    /// Uploads a network of architecture `config` with the flat parameters `params` (see
    /// [`powerpost_core::unet::params`]) to `gpu` and builds its pipelines.
    ///
    /// # Errors
    /// The core's errors of [`UNet::new`] (invalid `config`, mis-sized `params`) as
    /// [`GpuError::Core`]; [`GpuError::ShadersNotBuilt`] without compiled shaders;
    /// [`GpuError::Vulkan`] if the device fails.
    pub fn new(gpu: &Gpu, config: UNetConfig, params: &[f32]) -> Result<Self, GpuError> {
        UNet::new(config, params)?;
        let align = gpu.offset_alignment();
        let mut padded = Vec::with_capacity(params.len() + 256 * align);
        let mut weight_offsets = HashMap::new();
        for_each_tensor(&config, |t| {
            let at = align_up(padded.len(), align);
            padded.resize(at, 0u32);
            weight_offsets.insert(t.offset, at);
            padded.extend(
                params[t.offset..t.offset + t.len]
                    .iter()
                    .map(|v| v.to_bits()),
            );
        });
        check_buffer("network parameters", padded.len())?;
        let mut transformed = Vec::new();
        let mut transformed_offsets = HashMap::new();
        let mut result = Ok(());
        for_each_op(&config, |op| {
            if let Op::Conv(conv) = op {
                if conv.kernel != 3 || result.is_err() {
                    return;
                }
                let in_channels = conv.sources().iter().map(|s| s.channels).sum();
                let len = transformed_weights_len(conv.out_channels, in_channels);
                let mut u = vec![0.0; len];
                result = transform_weights(
                    conv.weight.of(params),
                    conv.out_channels,
                    in_channels,
                    &mut u,
                );
                let at = align_up(transformed.len(), align);
                transformed.resize(at, 0u32);
                transformed.extend(u.iter().map(|v| v.to_bits()));
                transformed_offsets.insert(conv.weight.offset, (at, len));
            }
        });
        result?;
        check_buffer("transformed weights", transformed.len())?;
        transformed.resize(transformed.len().max(1), 0);
        Ok(Self {
            weights: gpu.upload(&padded)?,
            weight_offsets,
            transformed: gpu.upload(&transformed)?,
            transformed_offsets,
            conv: Conv2d::new(gpu)?,
            winograd: Winograd3x3::new(gpu)?,
            norm: GroupNormPipeline::new(gpu)?,
            pool: AvgPool2::new(gpu)?,
            upsample: UpsampleNearest2::new(gpu)?,
            gpu: gpu.clone(),
            config,
            params: params.to_vec(),
            prepared: None,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// The device.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Evaluates the denoiser D(x; σ, y) and/or D(x; σ, ∅) in one batched pass on the
    /// device: the arguments and result of [`UNet::denoise`] (without its executor and
    /// workspace), with the same bits.
    ///
    /// # Errors
    /// The core's errors for the same arguments, as [`GpuError::Core`];
    /// [`GpuError::TooLarge`] when a tensor exceeds 2³¹ − 1 values or a dispatch 65 535
    /// work groups per dimension; [`GpuError::Vulkan`] if the device fails.
    pub fn denoise(
        &mut self,
        input: DenoiseInput<'_>,
        output: DenoiseOutput<'_>,
    ) -> Result<(), GpuError> {
        let net = UNet::new(self.config, &self.params)?;
        let batch = net.check_denoise(&input, &output)?;
        let want_cond = output.conditional.is_some();
        let (height, width) = (input.height, input.width);
        let geometry = Geometry::new(height, width);
        let fresh = self
            .prepared
            .as_ref()
            .is_none_or(|p| (p.height, p.width, p.batch) != (height, width, batch));
        if fresh {
            self.prepared = Some(self.prepare(height, width, batch)?);
        }
        let Some(prepared) = &self.prepared else {
            return Err(GpuError::NoDevice);
        };

        let c = &self.config;
        let pre = Preconditioning::new(input.sigma, c.sigma_data);
        let plane = geometry.plane_len();
        let mut tensor = vec![0.0f32; batch * c.in_channels * plane];
        network_input(
            geometry,
            c.in_channels,
            pre.c_in,
            input.x,
            want_cond.then_some(input.condition),
            &mut tensor,
        )?;
        write_f32(&prepared.input, &tensor)?;

        let mut scratch = vec![0.0f32; embedding_scratch_len(c)];
        let mut emb = vec![0.0f32; batch * c.embedding_channels];
        embedding(
            c,
            &self.params,
            pre.c_noise,
            want_cond,
            &mut scratch,
            &mut emb,
        )?;
        let mut biases = vec![0.0f32; prepared.bias_staging.len() as usize];
        let mut projection = Vec::new();
        let mut segments = prepared.bias_segments.iter();
        let mut result = Ok(());
        for_each_op(c, |op| {
            if let (Op::Conv(conv), Ok(())) = (op, &result) {
                let Some(&(offset, len)) = segments.next() else {
                    return;
                };
                projection.resize(conv.out_channels, 0.0);
                result = conv_bias(
                    c,
                    &self.params,
                    &conv.bias,
                    &emb,
                    &mut projection,
                    &mut biases[offset..offset + len],
                );
            }
        });
        result?;
        write_f32(&prepared.bias_staging, &biases)?;

        self.gpu.execute(&prepared.commands)?;

        let mut raw = vec![0.0f32; batch * plane];
        read_f32(&prepared.output, &mut raw)?;
        combine_branches(&pre, geometry, input.x, &raw, output)?;
        Ok(())
    }

    /// The parameter tensor `range` as a slice of the uploaded weights.
    fn weight(&self, range: ParamRange) -> Result<Subbuffer<[u32]>, GpuError> {
        let at = self
            .weight_offsets
            .get(&range.offset)
            .copied()
            .ok_or(GpuError::Vulkan {
                what: "finding a parameter tensor",
                message: format!("no tensor starts at offset {}", range.offset),
            })?;
        Ok(self
            .weights
            .clone()
            .slice(at as u64..(at + range.len.max(1)) as u64))
    }

    /// The transformed weights of the 3×3 convolution whose weights are `range`.
    fn transformed_weight(&self, range: ParamRange) -> Result<Subbuffer<[u32]>, GpuError> {
        let (at, len) =
            self.transformed_offsets
                .get(&range.offset)
                .copied()
                .ok_or(GpuError::Vulkan {
                    what: "finding transformed weights",
                    message: format!("no 3x3 convolution has weights at offset {}", range.offset),
                })?;
        Ok(self
            .transformed
            .clone()
            .slice(at as u64..(at + len.max(1)) as u64))
    }

    /// Allocates the slots and records the program for `height × width` and `batch`.
    fn prepare(&self, height: usize, width: usize, batch: usize) -> Result<Prepared, GpuError> {
        let c = &self.config;
        let geometry = Geometry::new(height, width);
        let lens = slot_lens(c, geometry, batch);
        let mut slots = Vec::with_capacity(SLOTS);
        for &len in &lens {
            check_buffer("network activations", len)?;
            slots.push(self.gpu.device_buffer(len)?);
        }
        let plane = geometry.plane_len();
        let input = self.gpu.host_buffer(batch * c.in_channels * plane)?;
        let output = self.gpu.host_buffer(batch * plane)?;
        let align = self.gpu.offset_alignment();
        let mut bias_segments = Vec::new();
        let mut bias_len = 0;
        for_each_op(c, |op| {
            if let Op::Conv(conv) = op {
                let at = align_up(bias_len, align);
                let len = batch * conv.out_channels;
                bias_segments.push((at, len));
                bias_len = at + len;
            }
        });
        check_buffer("network biases", bias_len)?;
        let bias_staging = self.gpu.host_buffer(bias_len)?;
        let biases = self.gpu.device_buffer(bias_len)?;
        let unused = self.gpu.device_buffer(1)?;

        let mut recorder = self.gpu.recorder(true)?;
        recorder.copy(&input, &slots[INPUT_SLOT])?;
        recorder.copy(&bias_staging, &biases)?;
        let mut segments = bias_segments.iter();
        let mut result = Ok(());
        for_each_op(c, |op| {
            if result.is_ok() {
                result = self.record_op(
                    &mut recorder,
                    geometry,
                    batch,
                    &op,
                    &slots,
                    &biases,
                    &mut segments,
                    &unused,
                );
            }
        });
        result?;
        recorder.copy(&slots[OUTPUT_SLOT], &output)?;
        Ok(Prepared {
            height,
            width,
            batch,
            commands: recorder.finish()?,
            input,
            output,
            bias_staging,
            bias_segments,
        })
    }

    /// Records one operation of the program.
    #[allow(clippy::too_many_arguments)]
    fn record_op<'s>(
        &self,
        recorder: &mut crate::Recorder,
        geometry: Geometry,
        batch: usize,
        op: &Op,
        slots: &[Subbuffer<[u32]>],
        biases: &Subbuffer<[u32]>,
        segments: &mut impl Iterator<Item = &'s (usize, usize)>,
        unused: &Subbuffer<[u32]>,
    ) -> Result<(), GpuError> {
        let slot = |i: usize| slots[i].clone();
        match op {
            Op::Conv(conv) => {
                let &(at, len) = segments.next().ok_or(GpuError::Vulkan {
                    what: "recording the network",
                    message: "more convolutions than bias segments".into(),
                })?;
                let second = if conv.source_count > 1 {
                    slot(conv.sources[1].slot)
                } else {
                    unused.clone()
                };
                let weight = if conv.kernel == 3 {
                    self.transformed_weight(conv.weight)?
                } else {
                    self.weight(conv.weight)?
                };
                let buffers = [
                    slot(conv.sources[0].slot),
                    second,
                    weight,
                    biases.clone().slice(at as u64..(at + len) as u64),
                    conv.residual.map_or_else(|| unused.clone(), slot),
                    slot(conv.dst),
                ];
                let g = level_geometry(geometry, conv.level);
                if conv.kernel == 3 {
                    // The core's network convolution: Winograd for 3×3
                    // (powerpost_core::nn::winograd::network_conv).
                    self.winograd.record(recorder, g, batch, conv, &buffers)
                } else {
                    self.conv.record(recorder, g, batch, conv, &buffers)
                }
            }
            Op::GroupNorm(norm) => {
                let second = if norm.source_count > 1 {
                    slot(norm.sources[1].slot)
                } else {
                    unused.clone()
                };
                let buffers = [
                    slot(norm.sources[0].slot),
                    second,
                    self.weight(norm.gamma)?,
                    self.weight(norm.beta)?,
                    slot(norm.dst),
                ];
                let g = level_geometry(geometry, norm.level);
                self.norm
                    .record(recorder, g, batch, norm, self.config.eps, &buffers)
            }
            Op::AvgPool2(r) => self.pool.record(
                recorder,
                level_geometry(geometry, r.level),
                batch * r.channels,
                &[slot(r.src), slot(r.dst)],
            ),
            Op::UpsampleNearest2(r) => self.upsample.record(
                recorder,
                level_geometry(geometry, r.level),
                batch * r.channels,
                &[slot(r.src), slot(r.dst)],
            ),
        }
    }
}

/// Writes the bits of `values` to the front of the host-visible `buffer`.
fn write_f32(buffer: &Subbuffer<[u32]>, values: &[f32]) -> Result<(), GpuError> {
    let mut guard = buffer
        .write()
        .map_err(crate::error::vk("writing the inputs"))?;
    for (dst, v) in guard.iter_mut().zip(values) {
        *dst = v.to_bits();
    }
    Ok(())
}

/// A [`GpuUNet`] bound to an image size and a condition, as a
/// [`ConditionalDenoiser`](powerpost_core::power::ConditionalDenoiser) for the core's
/// samplers ([`powerpost_core::posterior::draw_sample_with`]): the device's counterpart
/// of [`powerpost_core::unet::denoiser::NetworkDenoiser`].
///
/// The sampler trait speaks the core's [`Error`](powerpost_core::Error); a device failure
/// reaches the sampler as [`Error::Device`](powerpost_core::Error::Device) and the full
/// [`GpuError`] waits in [`GpuDenoiser::take_failure`].
pub struct GpuDenoiser<'a> {
    net: &'a mut GpuUNet,
    height: usize,
    width: usize,
    condition: &'a [f32],
    failure: Option<GpuError>,
}

impl<'a> GpuDenoiser<'a> {
    /// Binds `net` to `height × width` images and a condition (the normalised RTM image,
    /// followed by the normalised background model when the network
    /// [takes it](UNetConfig::takes_background); or an empty slice when only the
    /// unconditional branch will be asked for).
    ///
    /// # Errors
    /// [`Error::BufferLength`](powerpost_core::Error::BufferLength) for a mis-sized
    /// condition.
    pub fn new(
        net: &'a mut GpuUNet,
        height: usize,
        width: usize,
        condition: &'a [f32],
    ) -> Result<Self, powerpost_core::Error> {
        if !condition.is_empty() {
            powerpost_core::error::check_len(
                "condition",
                condition.len(),
                net.config.condition_len(height, width),
            )?;
        }
        Ok(Self {
            net,
            height,
            width,
            condition,
            failure: None,
        })
    }

    /// The device error behind the last [`Error::Device`](powerpost_core::Error::Device),
    /// if any (taken: a second call returns `None`).
    pub fn take_failure(&mut self) -> Option<GpuError> {
        self.failure.take()
    }
}

impl powerpost_core::power::ConditionalDenoiser for GpuDenoiser<'_> {
    fn image_len(&self) -> usize {
        self.height * self.width
    }

    fn denoise(
        &mut self,
        x: &[f32],
        sigma: f32,
        conditional: Option<&mut [f32]>,
        unconditional: Option<&mut [f32]>,
    ) -> Result<(), powerpost_core::Error> {
        if conditional.is_some() && self.condition.is_empty() {
            return Err(powerpost_core::Error::InvalidArgument {
                name: "condition",
                expected: "an RTM image for the conditional branch (λ > 0)",
            });
        }
        let input = DenoiseInput {
            height: self.height,
            width: self.width,
            x,
            sigma,
            condition: self.condition,
        };
        match self.net.denoise(
            input,
            DenoiseOutput {
                conditional,
                unconditional,
            },
        ) {
            Ok(()) => Ok(()),
            Err(GpuError::Core(e)) => Err(e),
            Err(e) => {
                self.failure = Some(e);
                Err(powerpost_core::Error::Device {
                    what: "evaluating the network",
                })
            }
        }
    }
}
