//! Vulkan compute backend for powerpost.
//!
//! The core's kernels are repeated as GLSL compute shaders (`shaders/` at the workspace
//! root), operation for operation, so that a Vulkan GPU returns the same bits as the CPU:
//! every float operation in the shaders is `precise` (no contraction into `fma`, no
//! reassociation), transcendental functions are the GLSL twins of
//! [`powerpost_core::detmath`], and each shader's reductions follow the core's documented
//! order. Shaders are compiled to SPIR-V by `glslc` at build time (see `build.rs`).
//!
//! Layout, after vulkano's compute examples: [`Gpu`] owns the device, its compute queue and
//! the allocators; each shader is one pipeline struct with `new(&Gpu)` and a method that
//! dispatches it. The device is chosen by the features it must have (a compute queue,
//! Vulkan 1.1), preferring discrete over integrated over virtual GPUs over CPU
//! implementations such as Mesa's lavapipe, which is what CI runs.
//!
//! What runs on the device so far, each checked bit for bit against the core:
//! - [`detmath::DetmathCheck`]: the deterministic math (`shaders/detmath.glsl`).
//! - [`conv::Conv2d`]: the direct 1×1 and 3×3 convolutions (`shaders/conv2d.comp`),
//!   the contract of [`powerpost_core::nn::conv`]: one invocation per output value, taps
//!   summed in the core's order, optional residual. The network runs its 1×1 layers here.
//! - [`conv::Winograd3x3`]: the network's 3×3 convolutions by Winograd's F(2×2, 3×3)
//!   (`shaders/winograd3x3.comp`), the contract of [`powerpost_core::nn::winograd`]: one
//!   invocation per 2 × 2 output tile and four output channels, the weights transformed
//!   on the host by the core's own [`transform_weights`](powerpost_core::nn::winograd::transform_weights).
//! - [`norm::GroupNormPipeline`]: group normalisation with optional SiLU
//!   (`shaders/group_norm.comp`), the contract of [`powerpost_core::nn::norm`]: one work
//!   group per (batch item, group), its eight interleaved partial sums accumulated by eight
//!   invocations in the core's order and combined pairwise as the core does.
//! - [`linear::Linear`]: the dense layer (`shaders/linear.comp`), the contract of
//!   [`powerpost_core::nn::linear::linear`]: one invocation per output, summed in order.
//! - [`linear::FourierFeatures`]: the noise level's Fourier features
//!   (`shaders/fourier_features.comp`), the core's frequencies and detmath `cos` / `sin`.
//! - [`resample::AvgPool2`]: 2×2 average pooling (`shaders/avg_pool2.comp`), the
//!   contract of [`powerpost_core::nn::resample::avg_pool2`]: `((a + b) + (c + d)) × 0.25`.
//! - [`resample::UpsampleNearest2`]: nearest-neighbour up-sampling by 2
//!   (`shaders/upsample_nearest2.comp`), a bit copy as in
//!   [`powerpost_core::nn::resample::upsample_nearest2`].
//!
//! - [`unet::GpuUNet`]: the whole score network, the core's
//!   [program](powerpost_core::unet::program) recorded once as one command buffer of the
//!   pipelines above, tensors kept on the device between layers; bit-identical to
//!   [`powerpost_core::unet::UNet::denoise`].
//!
//! The layer pipelines' `run` methods take and return host slices in the core's padded
//! planar layout ([`powerpost_core::nn::geometry`]) with the core's signatures and
//! validation (same [`powerpost_core::Error`]s), so a caller can swap one for the other;
//! each such call uploads its inputs and reads its output back. The network records the
//! same pipelines into one submission instead.

#![deny(missing_docs)]

/// The SPIR-V of `shaders/<name>.comp` as build.rs compiled it, or `None` where the crate
/// was built without glslc.
macro_rules! spirv {
    ($name:literal) => {{
        #[cfg(not(powerpost_no_shaders))]
        let code: Option<&'static [u8]> =
            Some(include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".spv")));
        #[cfg(powerpost_no_shaders)]
        let code: Option<&'static [u8]> = None;
        code
    }};
}

pub mod conv;
pub mod detmath;
mod error;
pub mod linear;
pub mod norm;
pub mod resample;
pub mod unet;

use std::sync::Arc;

use vulkano::buffer::{Buffer, BufferContents, BufferCreateInfo, BufferUsage, Subbuffer};
use vulkano::command_buffer::allocator::StandardCommandBufferAllocator;
use vulkano::command_buffer::{
    AutoCommandBufferBuilder, CommandBufferUsage, CopyBufferInfo, PrimaryAutoCommandBuffer,
};
use vulkano::descriptor_set::allocator::StandardDescriptorSetAllocator;
use vulkano::descriptor_set::{DescriptorSet, WriteDescriptorSet};
use vulkano::device::physical::{PhysicalDevice, PhysicalDeviceType};
use vulkano::device::{Device, DeviceCreateInfo, Queue, QueueCreateInfo, QueueFlags};
use vulkano::instance::{Instance, InstanceCreateFlags, InstanceCreateInfo};
use vulkano::memory::allocator::{AllocationCreateInfo, MemoryTypeFilter, StandardMemoryAllocator};
use vulkano::pipeline::compute::ComputePipelineCreateInfo;
use vulkano::pipeline::layout::PipelineDescriptorSetLayoutCreateInfo;
use vulkano::pipeline::{
    ComputePipeline, Pipeline, PipelineBindPoint, PipelineLayout, PipelineShaderStageCreateInfo,
};
use vulkano::shader::{ShaderModule, ShaderModuleCreateInfo};
use vulkano::sync::GpuFuture;
use vulkano::{Version, VulkanLibrary};

use error::vk;
pub use error::GpuError;
pub use unet::{GpuDenoiser, GpuUNet};

/// A Vulkan device with a compute queue and the allocators the pipelines share.
///
/// Cloning is cheap (reference-counted handles).
#[derive(Clone)]
pub struct Gpu {
    device: Arc<Device>,
    queue: Arc<Queue>,
    memory: Arc<StandardMemoryAllocator>,
    descriptors: Arc<StandardDescriptorSetAllocator>,
    commands: Arc<StandardCommandBufferAllocator>,
}

/// Preference of a device type: lower is better.
fn type_rank(t: PhysicalDeviceType) -> u32 {
    match t {
        PhysicalDeviceType::DiscreteGpu => 0,
        PhysicalDeviceType::IntegratedGpu => 1,
        PhysicalDeviceType::VirtualGpu => 2,
        PhysicalDeviceType::Cpu => 3,
        _ => 4,
    }
}

/// The first queue family of `p` with compute support, if `p` has Vulkan 1.1.
fn compute_family(p: &PhysicalDevice) -> Option<u32> {
    if p.api_version() < Version::V1_1 {
        return None;
    }
    p.queue_family_properties()
        .iter()
        .position(|q| q.queue_flags.intersects(QueueFlags::COMPUTE))
        .map(|i| i as u32)
}

/// The Vulkan instance (portability devices included).
fn instance() -> Result<Arc<Instance>, GpuError> {
    let library = VulkanLibrary::new().map_err(|e| GpuError::NoLoader(e.to_string()))?;
    Instance::new(
        library,
        InstanceCreateInfo {
            flags: InstanceCreateFlags::ENUMERATE_PORTABILITY,
            ..Default::default()
        },
    )
    .map_err(vk("creating the instance"))
}

/// Physical devices usable for compute, best first.
fn usable_devices() -> Result<Vec<(Arc<PhysicalDevice>, u32)>, GpuError> {
    let mut found: Vec<_> = instance()?
        .enumerate_physical_devices()
        .map_err(vk("enumerating devices"))?
        .filter_map(|p| compute_family(&p).map(|q| (p, q)))
        .collect();
    found.sort_by_key(|(p, _)| type_rank(p.properties().device_type));
    Ok(found)
}

impl Gpu {
    /// Opens the best usable device: discrete, then integrated, virtual, CPU.
    ///
    /// # Errors
    /// [`GpuError::NoLoader`] without a Vulkan loader, [`GpuError::NoDevice`] without a
    /// usable device, [`GpuError::Vulkan`] if the device cannot be opened.
    pub fn new() -> Result<Self, GpuError> {
        let (physical, family) = usable_devices()?
            .into_iter()
            .next()
            .ok_or(GpuError::NoDevice)?;
        Self::open(physical, family)
    }

    /// Opens the first usable device (in the order of [`Gpu::new`]) whose name contains
    /// `name` (case-insensitive).
    ///
    /// # Errors
    /// As [`Gpu::new`], and [`GpuError::DeviceNotFound`] if no name matches.
    pub fn with_device(name: &str) -> Result<Self, GpuError> {
        let devices = usable_devices()?;
        let wanted = name.to_lowercase();
        let pick = devices
            .iter()
            .find(|(p, _)| p.properties().device_name.to_lowercase().contains(&wanted));
        match pick {
            Some((p, q)) => Self::open(p.clone(), *q),
            None => Err(GpuError::DeviceNotFound {
                wanted: name.to_string(),
                available: devices
                    .iter()
                    .map(|(p, _)| p.properties().device_name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Names of the usable devices, best first.
    ///
    /// # Errors
    /// [`GpuError::NoLoader`] or [`GpuError::Vulkan`].
    pub fn device_names() -> Result<Vec<String>, GpuError> {
        Ok(usable_devices()?
            .iter()
            .map(|(p, _)| p.properties().device_name.clone())
            .collect())
    }

    fn open(physical: Arc<PhysicalDevice>, family: u32) -> Result<Self, GpuError> {
        let (device, mut queues) = Device::new(
            physical,
            DeviceCreateInfo {
                queue_create_infos: vec![QueueCreateInfo {
                    queue_family_index: family,
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .map_err(vk("opening the device"))?;
        let queue = queues.next().ok_or(GpuError::NoDevice)?;
        Ok(Self {
            memory: Arc::new(StandardMemoryAllocator::new_default(device.clone())),
            descriptors: Arc::new(StandardDescriptorSetAllocator::new(
                device.clone(),
                Default::default(),
            )),
            commands: Arc::new(StandardCommandBufferAllocator::new(
                device.clone(),
                Default::default(),
            )),
            device,
            queue,
        })
    }

    /// The device's name, as its driver reports it.
    pub fn device_name(&self) -> &str {
        &self.device.physical_device().properties().device_name
    }

    /// Whether the device is a CPU implementation of Vulkan (such as Mesa's lavapipe):
    /// right for testing the backend, slower than the core's own CPU kernels.
    pub fn is_cpu_implementation(&self) -> bool {
        self.device.physical_device().properties().device_type == PhysicalDeviceType::Cpu
    }

    /// The driver's name and version information, as reported.
    pub fn driver_info(&self) -> String {
        let p = self.device.physical_device().properties();
        format!(
            "{} {}",
            p.driver_name.as_deref().unwrap_or("?"),
            p.driver_info.as_deref().unwrap_or("")
        )
    }

    /// The compute pipeline of SPIR-V module `spirv` (entry point `main`).
    pub(crate) fn pipeline(&self, spirv: &[u8]) -> Result<Arc<ComputePipeline>, GpuError> {
        let words =
            vulkano::shader::spirv::bytes_to_words(spirv).map_err(vk("reading the SPIR-V"))?;
        // SAFETY: the SPIR-V comes from glslc at build time (validated by it).
        let module =
            unsafe { ShaderModule::new(self.device.clone(), ShaderModuleCreateInfo::new(&words)) }
                .map_err(vk("creating the shader module"))?;
        let entry = module.entry_point("main").ok_or(GpuError::Vulkan {
            what: "finding the entry point",
            message: "no `main` in the shader".into(),
        })?;
        let stage = PipelineShaderStageCreateInfo::new(entry);
        let layout = PipelineLayout::new(
            self.device.clone(),
            PipelineDescriptorSetLayoutCreateInfo::from_stages([&stage])
                .into_pipeline_layout_create_info(self.device.clone())
                .map_err(|e| GpuError::Vulkan {
                    what: "deriving the pipeline layout",
                    message: format!("{e:?}"),
                })?,
        )
        .map_err(vk("creating the pipeline layout"))?;
        ComputePipeline::new(
            self.device.clone(),
            None,
            ComputePipelineCreateInfo::stage_layout(stage, layout),
        )
        .map_err(vk("creating the compute pipeline"))
    }

    /// A host-visible storage buffer holding `values`; `host_reads` when the host reads it
    /// back after a dispatch (outputs), otherwise it is only written by the host (inputs).
    fn storage_buffer(
        &self,
        values: impl ExactSizeIterator<Item = u32>,
        host_reads: bool,
    ) -> Result<Subbuffer<[u32]>, GpuError> {
        let (access, what) = if host_reads {
            (
                MemoryTypeFilter::HOST_RANDOM_ACCESS,
                "allocating an output buffer",
            )
        } else {
            (
                MemoryTypeFilter::HOST_SEQUENTIAL_WRITE,
                "allocating an input buffer",
            )
        };
        Buffer::from_iter(
            self.memory.clone(),
            BufferCreateInfo {
                usage: BufferUsage::STORAGE_BUFFER
                    | BufferUsage::TRANSFER_SRC
                    | BufferUsage::TRANSFER_DST,
                ..Default::default()
            },
            AllocationCreateInfo {
                memory_type_filter: MemoryTypeFilter::PREFER_DEVICE | access,
                ..Default::default()
            },
            values,
        )
        .map_err(vk(what))
    }

    /// A host-visible storage buffer holding `data`.
    pub(crate) fn upload(&self, data: &[u32]) -> Result<Subbuffer<[u32]>, GpuError> {
        self.storage_buffer(data.iter().copied(), false)
    }

    /// A storage buffer of `len` zeros that the host reads back.
    pub(crate) fn output(&self, len: usize) -> Result<Subbuffer<[u32]>, GpuError> {
        self.storage_buffer((0..len).map(|_| 0u32), true)
    }

    /// An output buffer that starts with the bits of `out` (so a shader that misses a cell
    /// leaves the caller's value there, as the core would, instead of whatever the fresh
    /// allocation held).
    pub(crate) fn output_from(&self, out: &[f32]) -> Result<Subbuffer<[u32]>, GpuError> {
        self.storage_buffer(out.iter().map(|v| v.to_bits()), true)
    }

    /// A host-visible storage buffer holding the bits of `data`, or one `+0.0` where `data`
    /// is empty (Vulkan has no empty buffers; the shaders never read that value).
    pub(crate) fn upload_f32(&self, data: &[f32]) -> Result<Subbuffer<[u32]>, GpuError> {
        if data.is_empty() {
            return self.upload(&[0]);
        }
        self.storage_buffer(data.iter().map(|v| v.to_bits()), false)
    }

    /// Runs `pipeline` once over `groups` work groups with `buffers` bound to set 0,
    /// bindings 0, 1, …, and waits for it to finish.
    pub(crate) fn dispatch(
        &self,
        pipeline: &Arc<ComputePipeline>,
        buffers: &[Subbuffer<[u32]>],
        groups: u32,
    ) -> Result<(), GpuError> {
        self.submit::<[u32; 1]>(pipeline, buffers, [groups, 1, 1], None)
    }

    /// As [`Gpu::dispatch`] over a grid of `groups` (x, y, z) work groups, with `push`
    /// as the shader's push constants (offset 0; its layout must match the shader's
    /// `push_constant` block).
    pub(crate) fn dispatch_with<Pc: BufferContents>(
        &self,
        pipeline: &Arc<ComputePipeline>,
        buffers: &[Subbuffer<[u32]>],
        groups: [u32; 3],
        push: Pc,
    ) -> Result<(), GpuError> {
        self.submit(pipeline, buffers, groups, Some(push))
    }

    /// Records, submits and waits for one dispatch.
    fn submit<Pc: BufferContents>(
        &self,
        pipeline: &Arc<ComputePipeline>,
        buffers: &[Subbuffer<[u32]>],
        groups: [u32; 3],
        push: Option<Pc>,
    ) -> Result<(), GpuError> {
        let mut recorder = self.recorder(false)?;
        recorder.dispatch(pipeline, buffers, groups, push)?;
        let commands = recorder.finish()?;
        self.execute(&commands)
    }

    /// A command recorder on this device's compute queue; `reusable` command buffers may
    /// be executed many times (one at a time).
    pub(crate) fn recorder(&self, reusable: bool) -> Result<Recorder, GpuError> {
        let usage = if reusable {
            CommandBufferUsage::MultipleSubmit
        } else {
            CommandBufferUsage::OneTimeSubmit
        };
        let builder = AutoCommandBufferBuilder::primary(
            self.commands.clone(),
            self.queue.queue_family_index(),
            usage,
        )
        .map_err(vk("creating a command buffer"))?;
        Ok(Recorder {
            gpu: self.clone(),
            builder,
        })
    }

    /// Submits `commands` and waits for them to finish.
    pub(crate) fn execute(&self, commands: &Arc<PrimaryAutoCommandBuffer>) -> Result<(), GpuError> {
        vulkano::sync::now(self.device.clone())
            .then_execute(self.queue.clone(), commands.clone())
            .map_err(vk("submitting"))?
            .then_signal_fence_and_flush()
            .map_err(vk("flushing"))?
            .wait(None)
            .map_err(vk("waiting for the device"))
    }

    /// The device's alignment of storage-buffer offsets, in f32 values.
    pub(crate) fn offset_alignment(&self) -> usize {
        let bytes = self
            .device
            .physical_device()
            .properties()
            .min_storage_buffer_offset_alignment
            .as_devicesize() as usize;
        bytes.div_ceil(4).max(1)
    }

    /// A storage buffer of `len` values (at least one) that only the device uses.
    pub(crate) fn device_buffer(&self, len: usize) -> Result<Subbuffer<[u32]>, GpuError> {
        Buffer::new_slice::<u32>(
            self.memory.clone(),
            BufferCreateInfo {
                usage: BufferUsage::STORAGE_BUFFER
                    | BufferUsage::TRANSFER_SRC
                    | BufferUsage::TRANSFER_DST,
                ..Default::default()
            },
            AllocationCreateInfo {
                memory_type_filter: MemoryTypeFilter::PREFER_DEVICE,
                ..Default::default()
            },
            len.max(1) as u64,
        )
        .map_err(vk("allocating a device buffer"))
    }

    /// A storage buffer of `len` values (at least one) that the host writes, reads or
    /// both between dispatches.
    pub(crate) fn host_buffer(&self, len: usize) -> Result<Subbuffer<[u32]>, GpuError> {
        self.storage_buffer((0..len.max(1)).map(|_| 0u32), true)
    }
}

/// Commands being recorded for one submission: dispatches in order, with the barriers
/// between them that vulkano derives from the buffers each one reads and writes.
pub(crate) struct Recorder {
    gpu: Gpu,
    builder: AutoCommandBufferBuilder<PrimaryAutoCommandBuffer>,
}

impl Recorder {
    /// Records one dispatch of `pipeline` over a `groups` grid with `buffers` bound to
    /// set 0, bindings 0, 1, …, and optional push constants (offset 0).
    pub(crate) fn dispatch<Pc: BufferContents>(
        &mut self,
        pipeline: &Arc<ComputePipeline>,
        buffers: &[Subbuffer<[u32]>],
        groups: [u32; 3],
        push: Option<Pc>,
    ) -> Result<(), GpuError> {
        let layout = pipeline.layout().set_layouts()[0].clone();
        let set = DescriptorSet::new(
            self.gpu.descriptors.clone(),
            layout,
            buffers
                .iter()
                .enumerate()
                .map(|(i, b)| WriteDescriptorSet::buffer(i as u32, b.clone())),
            [],
        )
        .map_err(vk("creating the descriptor set"))?;
        self.builder
            .bind_pipeline_compute(pipeline.clone())
            .map_err(vk("binding the pipeline"))?
            .bind_descriptor_sets(
                PipelineBindPoint::Compute,
                pipeline.layout().clone(),
                0,
                set,
            )
            .map_err(vk("binding the buffers"))?;
        if let Some(push) = push {
            self.builder
                .push_constants(pipeline.layout().clone(), 0, push)
                .map_err(vk("setting the push constants"))?;
        }
        // SAFETY: the shaders index their buffers only below their lengths
        // (`.length()` checks in every shader).
        unsafe { self.builder.dispatch(groups) }.map_err(vk("recording the dispatch"))?;
        Ok(())
    }

    /// Records a copy of `src` into `dst` (as many values as the shorter holds).
    pub(crate) fn copy(
        &mut self,
        src: &Subbuffer<[u32]>,
        dst: &Subbuffer<[u32]>,
    ) -> Result<(), GpuError> {
        self.builder
            .copy_buffer(CopyBufferInfo::buffers(src.clone(), dst.clone()))
            .map_err(vk("recording a copy"))?;
        Ok(())
    }

    /// The recorded command buffer.
    pub(crate) fn finish(self) -> Result<Arc<PrimaryAutoCommandBuffer>, GpuError> {
        self.builder
            .build()
            .map_err(vk("building the command buffer"))
    }
}

/// Vulkan's guaranteed minimum of `maxComputeWorkGroupCount` in each dimension.
pub(crate) const MAX_GROUPS: usize = 65_535;

/// `n` as a `u32` work-group count, or [`GpuError::TooLarge`] above [`MAX_GROUPS`].
pub(crate) fn group_count(what: &'static str, n: usize) -> Result<u32, GpuError> {
    if n > MAX_GROUPS {
        return Err(GpuError::TooLarge {
            what,
            len: n,
            max: MAX_GROUPS,
        });
    }
    Ok(n as u32)
}

/// Most values one buffer may hold: the shaders index with 32-bit integers and compare
/// with GLSL's signed `.length()`.
pub(crate) const MAX_BUFFER_VALUES: usize = i32::MAX as usize;

/// Refuses a buffer of `len` values above [`MAX_BUFFER_VALUES`].
pub(crate) fn check_buffer(what: &'static str, len: usize) -> Result<(), GpuError> {
    if len > MAX_BUFFER_VALUES {
        return Err(GpuError::TooLarge {
            what,
            len,
            max: MAX_BUFFER_VALUES,
        });
    }
    Ok(())
}

/// Copies the f32 bits of `buffer` (as long as `out` or longer) into `out`.
pub(crate) fn read_f32(buffer: &Subbuffer<[u32]>, out: &mut [f32]) -> Result<(), GpuError> {
    let guard = buffer.read().map_err(vk("reading the results back"))?;
    for (o, &bits) in out.iter_mut().zip(guard.iter()) {
        *o = f32::from_bits(bits);
    }
    Ok(())
}

/// A compiled shader on its device: what every pipeline struct holds, and the one way
/// the network pipelines run (upload the inputs, start the output from the caller's
/// values, dispatch, read the output back).
pub(crate) struct Kernel {
    gpu: Gpu,
    pipeline: Arc<ComputePipeline>,
}

impl Kernel {
    /// The pipeline of a shader from [`spirv!`] on `gpu` (entry point `main`).
    ///
    /// # Errors
    /// [`GpuError::ShadersNotBuilt`] for `None`; [`GpuError::Vulkan`] if the driver rejects
    /// the shader.
    pub(crate) fn new(gpu: &Gpu, spirv: Option<&[u8]>) -> Result<Self, GpuError> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: gpu.pipeline(spirv.ok_or(GpuError::ShadersNotBuilt)?)?,
        })
    }

    /// The device.
    pub(crate) fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Runs the shader over a `groups` grid with push constants `push`, `inputs` bound
    /// to bindings 0, 1, … and `out` to the binding after them; `out` starts with its
    /// current values and holds the result afterwards.
    pub(crate) fn run_f32<Pc: BufferContents>(
        &self,
        inputs: &[&[f32]],
        out: &mut [f32],
        groups: [u32; 3],
        push: Pc,
    ) -> Result<(), GpuError> {
        let inputs = inputs
            .iter()
            .map(|data| self.gpu.upload_f32(data))
            .collect::<Result<Vec<_>, _>>()?;
        self.run_uploaded(inputs, out, groups, push)
    }

    /// As [`Kernel::run_f32`] with inputs already on the device.
    pub(crate) fn run_uploaded<Pc: BufferContents>(
        &self,
        mut buffers: Vec<Subbuffer<[u32]>>,
        out: &mut [f32],
        groups: [u32; 3],
        push: Pc,
    ) -> Result<(), GpuError> {
        let output = self.gpu.output_from(out)?;
        buffers.push(output.clone());
        self.gpu
            .dispatch_with(&self.pipeline, &buffers, groups, push)?;
        read_f32(&output, out)
    }

    /// Records one dispatch of the shader into `recorder` (see [`Recorder::dispatch`]).
    pub(crate) fn record<Pc: BufferContents>(
        &self,
        recorder: &mut Recorder,
        buffers: &[Subbuffer<[u32]>],
        groups: [u32; 3],
        push: Pc,
    ) -> Result<(), GpuError> {
        recorder.dispatch(&self.pipeline, buffers, groups, Some(push))
    }

    /// Runs the shader once over `groups` work groups without push constants.
    pub(crate) fn dispatch(
        &self,
        buffers: &[Subbuffer<[u32]>],
        groups: u32,
    ) -> Result<(), GpuError> {
        self.gpu.dispatch(&self.pipeline, buffers, groups)
    }
}
