//! The forward pass: EDM preconditioning around the raw U-Net `F`, batch of one or two
//! (the conditional and the unconditional branch of the same `x`), running the operations
//! of the [program](super::program) with the core's kernels.
//!
//! The pieces around the program — [`network_input`], [`embedding`], [`conv_bias`] and
//! [`combine`] — are public so that other backends run exactly these on the host.

use super::config::{UNetConfig, FOURIER_FEATURES};
use super::params::params_len;
use super::program::{embedding_params, for_each_op, Bias, Op, INPUT_SLOT, OUTPUT_SLOT, SLOTS};
use crate::detmath;
use crate::error::{check_len, Error};
use crate::exec::Executor;
use crate::nn::conv::{Conv, Source};
use crate::nn::geometry::{pad_into, Geometry};
use crate::nn::linear::{fourier_features, linear};
use crate::nn::norm::{group_norm, GroupNorm};
use crate::nn::resample::{avg_pool2, upsample_nearest2};
use crate::nn::simd::Isa;
use crate::nn::winograd::{
    conv3x3_winograd, network_conv, network_conv_scratch_len, transform_weights,
    transformed_weights_len, winograd_scratch_len, WinogradConv,
};

/// Scale of a residual block's output: 1/√2 (rounded to f32).
pub const RESIDUAL_SCALE: f32 = core::f32::consts::FRAC_1_SQRT_2;

/// The EDM preconditioning coefficients for a noise level σ.
///
/// ```text
/// c_skip  = σd² × recip(σ² + σd²)
/// c_out   = (σ × σd) × rsqrt(σ² + σd²)
/// c_in    = rsqrt(σ² + σd²)
/// c_noise = ln(σ) × 0.25
/// D(x; σ) = c_skip × x + c_out × F(c_in × x, y; c_noise)
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preconditioning {
    /// Weight of the noisy input in the output.
    pub c_skip: f32,
    /// Weight of the network output.
    pub c_out: f32,
    /// Input scale.
    pub c_in: f32,
    /// Noise-level input of the embedding.
    pub c_noise: f32,
}

impl Preconditioning {
    /// The coefficients at `sigma` for data standard deviation `sigma_data`.
    pub fn new(sigma: f32, sigma_data: f32) -> Self {
        let sd2 = sigma_data * sigma_data;
        let total = sigma * sigma + sd2;
        Self {
            c_skip: sd2 * detmath::recip(total),
            c_out: (sigma * sigma_data) * detmath::rsqrt(total),
            c_in: detmath::rsqrt(total),
            c_noise: detmath::ln(sigma) * 0.25,
        }
    }
}

/// One evaluation request: the noisy image, its noise level and the condition.
#[derive(Debug, Clone, Copy)]
pub struct DenoiseInput<'a> {
    /// Image rows.
    pub height: usize,
    /// Image columns.
    pub width: usize,
    /// The noisy (normalised) velocity, `height × width` row-major.
    pub x: &'a [f32],
    /// Noise level σ > 0.
    pub sigma: f32,
    /// The condition y: the normalised RTM image, then (for a network that
    /// [takes the background](UNetConfig::takes_background)) the normalised background
    /// velocity, each `height × width`; used by the conditional branch only.
    pub condition: &'a [f32],
}

/// Where the denoised estimates go: either or both branches.
#[derive(Debug, Default)]
pub struct DenoiseOutput<'a> {
    /// D(x; σ, y), `height × width`.
    pub conditional: Option<&'a mut [f32]>,
    /// D(x; σ, ∅), `height × width`.
    pub unconditional: Option<&'a mut [f32]>,
}

/// Concurrent tasks the workspace has convolution scratch for: up to 16 threads stay busy
/// in the 3×3 convolutions, and on fewer threads the extra tasks balance the load (the
/// bits do not depend on it; each slot costs ≈ 0.47 MiB at 64 × 128).
pub const CONV_SLOTS: usize = 16;

/// Scratch values the program's convolutions need ([`network_conv_scratch_len`] of the
/// largest, with [`CONV_SLOTS`] slots).
pub fn conv_scratch_len(config: &UNetConfig, geometry: Geometry) -> usize {
    let mut len = 0usize;
    for_each_op(config, |op| {
        if let Op::Conv(conv) = op {
            let in_channels = conv.sources().iter().map(|s| s.channels).sum();
            len = len.max(network_conv_scratch_len(
                level_geometry(geometry, conv.level),
                in_channels,
                conv.out_channels,
                conv.kernel,
                CONV_SLOTS,
            ));
        }
    });
    len
}

/// Sizes of the workspace's parts for one geometry and batch.
#[derive(Debug, Clone, Copy)]
struct Layout {
    slots: [usize; SLOTS],
    conv_scratch: usize,
    vectors: usize,
}

impl Layout {
    fn new(config: &UNetConfig, geometry: Geometry, batch: usize) -> Self {
        let mut max_out = 0usize;
        for_each_op(config, |op| {
            if let Op::Conv(conv) = op {
                max_out = max_out.max(conv.out_channels);
            }
        });
        let e = config.embedding_channels;
        // embedding scratch (features, hidden), emb[batch], projection, bias[batch]
        let vectors = embedding_scratch_len(config) + batch * e + max_out + batch * max_out;
        Self {
            slots: slot_lens(config, geometry, batch),
            conv_scratch: conv_scratch_len(config, geometry),
            vectors,
        }
    }

    fn total(&self) -> usize {
        self.slots.iter().sum::<usize>() + self.conv_scratch + self.vectors
    }
}

/// The geometry of resolution level `level` of an image of geometry `geometry`.
pub fn level_geometry(geometry: Geometry, level: usize) -> Geometry {
    let mut g = geometry;
    for _ in 0..level {
        g = g.half();
    }
    g
}

/// Values each workspace slot of the [program](super::program) needs for an image of
/// `height × width` (as `geometry`) and `batch` branches: the largest tensor any
/// operation writes there (the network input for [`INPUT_SLOT`]).
pub fn slot_lens(config: &UNetConfig, geometry: Geometry, batch: usize) -> [usize; SLOTS] {
    let mut lens = [0usize; SLOTS];
    let mut grow = |slot: usize, channels: usize, level: usize| {
        let n = batch * level_geometry(geometry, level).tensor_len(channels);
        lens[slot] = lens[slot].max(n);
    };
    grow(INPUT_SLOT, config.in_channels, 0);
    for_each_op(config, |op| match op {
        Op::Conv(c) => grow(c.dst, c.out_channels, c.level),
        Op::GroupNorm(n) => grow(n.dst, n.channels(), n.level),
        Op::AvgPool2(r) => grow(r.dst, r.channels, r.level + 1),
        Op::UpsampleNearest2(r) => grow(r.dst, r.channels, r.level - 1),
    });
    lens
}

/// Workspace values (f32) that [`UNet::denoise`] needs for an image of
/// `height × width` and `batch` branches (1 or 2).
pub fn workspace_len(config: &UNetConfig, height: usize, width: usize, batch: usize) -> usize {
    Layout::new(config, Geometry::new(height, width), batch).total()
}

/// Borrows `N` buffers for reading and one for writing from the slot table.
///
/// `write` must differ from every `read` index (which may repeat); the program never
/// writes a slot it reads.
fn split<'a, const N: usize>(
    bufs: &'a mut [&mut [f32]; SLOTS],
    read: [usize; N],
    write: usize,
) -> ([&'a [f32]; N], &'a mut [f32]) {
    let mut r: [&'a [f32]; N] = [&[]; N];
    let mut w: &'a mut [f32] = &mut [];
    for (i, b) in bufs.iter_mut().enumerate() {
        if i == write {
            w = &mut **b;
        } else if read.contains(&i) {
            let s: &'a [f32] = b;
            for (slot, &want) in r.iter_mut().zip(read.iter()) {
                if want == i {
                    *slot = s;
                }
            }
        }
    }
    (r, w)
}

/// The conditional score network with its parameters.
#[derive(Debug, Clone, Copy)]
pub struct UNet<'p> {
    config: UNetConfig,
    params: &'p [f32],
    /// The 3×3 convolutions' Winograd-transformed weights ([`prepare_transformed`]), or
    /// `None` to transform them in every call.
    transformed: Option<&'p [f32]>,
    isa: Isa,
}

/// Values [`prepare_transformed`] writes: the Winograd-transformed weights of every 3×3
/// convolution of the program, in program order.
pub fn transformed_len(config: &UNetConfig) -> usize {
    let mut len = 0;
    for_each_op(config, |op| {
        if let Op::Conv(conv) = op {
            if conv.kernel == 3 {
                let in_channels = conv.sources().iter().map(|s| s.channels).sum();
                len += transformed_weights_len(conv.out_channels, in_channels);
            }
        }
    });
    len
}

/// Transforms the weights of every 3×3 convolution of the program (in program order) into
/// `out`, once, for [`UNet::with_transformed`]: a network evaluation then skips the
/// transform (≈ 10 % of a CFG pair's CPU time at 64 × 128). Same bits either way.
///
/// # Errors
/// [`Error::BufferLength`] unless `params` has [`params_len`] and `out`
/// [`transformed_len`] values.
pub fn prepare_transformed(
    config: &UNetConfig,
    params: &[f32],
    out: &mut [f32],
) -> Result<(), Error> {
    check_len("params", params.len(), params_len(config))?;
    check_len("transformed weights", out.len(), transformed_len(config))?;
    let mut at = 0;
    let mut result = Ok(());
    for_each_op(config, |op| {
        if let Op::Conv(conv) = op {
            if conv.kernel == 3 && result.is_ok() {
                let in_channels = conv.sources().iter().map(|s| s.channels).sum();
                let len = transformed_weights_len(conv.out_channels, in_channels);
                result = transform_weights(
                    conv.weight.of(params),
                    conv.out_channels,
                    in_channels,
                    &mut out[at..at + len],
                );
                at += len;
            }
        }
    });
    result
}

/// The small per-call vectors carved from the end of the workspace, and the
/// convolutions' scratch.
struct Vectors<'w> {
    conv_scratch: &'w mut [f32],
    emb: &'w mut [f32],
    projection: &'w mut [f32],
    bias: &'w mut [f32],
}

/// Scratch values [`embedding`] needs: the Fourier features and the hidden layer.
pub fn embedding_scratch_len(config: &UNetConfig) -> usize {
    FOURIER_FEATURES + config.embedding_channels
}

/// Computes the noise embedding of every batch item into `emb` (`batch × E` values,
/// `batch = emb.len() / E`):
/// `emb[b] = SiLU(fc1 · SiLU(fc0 · fourier(c_noise) + b0) + b1 [+ null])`, the null
/// embedding being added to every item except item 0 when `conditional_first`.
///
/// # Errors
/// [`Error::BufferLength`] unless `params` has [`super::params_len`] values, `scratch`
/// [`embedding_scratch_len`] values and `emb` a multiple of `E`.
pub fn embedding(
    config: &UNetConfig,
    params: &[f32],
    c_noise: f32,
    conditional_first: bool,
    scratch: &mut [f32],
    emb: &mut [f32],
) -> Result<(), Error> {
    let e = config.embedding_channels;
    check_len("params", params.len(), super::params_len(config))?;
    check_len(
        "embedding scratch",
        scratch.len(),
        embedding_scratch_len(config),
    )?;
    if e == 0 || emb.len() % e != 0 {
        return Err(Error::BufferLength {
            buffer: "embedding",
            expected: e,
            actual: emb.len(),
        });
    }
    let p = embedding_params(config);
    let (features, hidden) = scratch.split_at_mut(FOURIER_FEATURES);
    fourier_features(c_noise, features)?;
    linear(
        p.fc0_weight.of(params),
        p.fc0_bias.of(params),
        features,
        hidden,
    )?;
    for value in hidden.iter_mut() {
        *value = detmath::silu(*value);
    }
    for (b, item) in emb.chunks_exact_mut(e).enumerate() {
        linear(p.fc1_weight.of(params), p.fc1_bias.of(params), hidden, item)?;
        let unconditional = !(b == 0 && conditional_first);
        for (value, &null) in item.iter_mut().zip(p.null.of(params)) {
            if unconditional {
                *value += null;
            }
            *value = detmath::silu(*value);
        }
    }
    Ok(())
}

/// The bias of one convolution for every batch item into `out` (`batch × out_channels`,
/// `batch = emb.len() / E`): a shared bias repeated, or a residual block's conditioned
/// bias `conv_bias + (emb_bias + emb_weight · emb[b])` (the projection computed into
/// `projection`, `out_channels` values).
///
/// # Errors
/// [`Error::BufferLength`] for mis-sized buffers.
pub fn conv_bias(
    config: &UNetConfig,
    params: &[f32],
    bias: &Bias,
    emb: &[f32],
    projection: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    let e = config.embedding_channels;
    let batch = emb.len().checked_div(e).unwrap_or(0);
    match bias {
        Bias::Shared(range) => {
            let b = range.of(params);
            check_len("conv bias", out.len(), batch * b.len())?;
            for item in out.chunks_exact_mut(b.len().max(1)) {
                item.copy_from_slice(b);
            }
        }
        Bias::Conditioned {
            conv_bias,
            emb_weight,
            emb_bias,
        } => {
            let b0 = conv_bias.of(params);
            let cout = b0.len();
            check_len("conv bias", out.len(), batch * cout)?;
            check_len("projection", projection.len(), cout)?;
            for (item, emb_b) in out.chunks_exact_mut(cout.max(1)).zip(emb.chunks_exact(e)) {
                linear(
                    emb_weight.of(params),
                    emb_bias.of(params),
                    emb_b,
                    projection,
                )?;
                for ((o, &b), &pj) in item.iter_mut().zip(b0).zip(projection.iter()) {
                    *o = b + pj;
                }
            }
        }
    }
    Ok(())
}

/// Writes the network input of every batch item into `out` (`batch × in_channels` planes
/// of `geometry`): channel 0 = `c_in · x`, channels 1.. = the `in_channels − 1` condition
/// planes for item 0 when `condition` is given, else zeros.
///
/// # Errors
/// [`Error::InvalidArgument`] for `in_channels < 2`; [`Error::BufferLength`] for
/// mis-sized buffers (`condition` must hold `in_channels − 1` images).
pub fn network_input(
    geometry: Geometry,
    in_channels: usize,
    c_in: f32,
    x: &[f32],
    condition: Option<&[f32]>,
    out: &mut [f32],
) -> Result<(), Error> {
    if in_channels < 2 {
        return Err(Error::InvalidArgument {
            name: "in_channels",
            expected: "at least 2 (x and a condition plane)",
        });
    }
    let plane = geometry.plane_len();
    let pixels = geometry.pixels();
    check_len("x", x.len(), pixels)?;
    if let Some(y) = condition {
        check_len("condition", y.len(), (in_channels - 1) * pixels)?;
    }
    let item_len = in_channels * plane;
    // `checked_rem` refuses a zero divisor (a wrapped plane length) rather than panicking.
    if out.is_empty() || out.len().checked_rem(item_len) != Some(0) {
        return Err(Error::BufferLength {
            buffer: "network input",
            expected: item_len,
            actual: out.len(),
        });
    }
    for (b, item) in out.chunks_exact_mut(item_len).enumerate() {
        let (ch0, rest) = item.split_at_mut(plane);
        pad_into(geometry, x, ch0);
        for value in ch0.iter_mut() {
            *value *= c_in;
        }
        match condition {
            Some(y) if b == 0 => {
                for (dst, src) in rest.chunks_exact_mut(plane).zip(y.chunks_exact(pixels)) {
                    pad_into(geometry, src, dst);
                }
            }
            _ => rest.fill(0.0),
        }
    }
    Ok(())
}

/// The denoised estimate `D = c_skip · x + c_out · F` of one batch item from its raw
/// network output `raw` (one padded plane of `geometry`) into `out` (`height × width`).
///
/// # Errors
/// [`Error::BufferLength`] for mis-sized buffers.
pub fn combine(
    pre: &Preconditioning,
    geometry: Geometry,
    x: &[f32],
    raw: &[f32],
    out: &mut [f32],
) -> Result<(), Error> {
    let w = geometry.width;
    check_len("x", x.len(), geometry.pixels())?;
    check_len("raw output", raw.len(), geometry.plane_len())?;
    check_len("denoised output", out.len(), geometry.pixels())?;
    if w == 0 {
        return Ok(());
    }
    for (y, (row, xs)) in out.chunks_exact_mut(w).zip(x.chunks_exact(w)).enumerate() {
        let start = geometry.index(y, 0);
        for ((o, &fx), &xv) in row.iter_mut().zip(&raw[start..start + w]).zip(xs) {
            *o = pre.c_skip * xv + pre.c_out * fx;
        }
    }
    Ok(())
}

/// [`combine`] for every requested branch of `output`, batch item after batch item of
/// the raw output `raw` (the conditional branch first when requested).
///
/// # Errors
/// [`Error::BufferLength`] for mis-sized buffers.
pub fn combine_branches(
    pre: &Preconditioning,
    geometry: Geometry,
    x: &[f32],
    raw: &[f32],
    output: DenoiseOutput<'_>,
) -> Result<(), Error> {
    let plane = geometry.plane_len();
    for (item, out) in [output.conditional, output.unconditional]
        .into_iter()
        .flatten()
        .enumerate()
    {
        let raw_item = raw
            .get(item * plane..(item + 1) * plane)
            .ok_or(Error::BufferLength {
                buffer: "raw output",
                expected: (item + 1) * plane,
                actual: raw.len(),
            })?;
        combine(pre, geometry, x, raw_item, out)?;
    }
    Ok(())
}

impl<'p> UNet<'p> {
    /// A network of architecture `config` with the flat parameters `params` (see
    /// [`super::params`]), running with the fastest instruction set of this CPU.
    ///
    /// # Errors
    /// An invalid `config`; [`Error::BufferLength`] unless `params.len() ==
    /// params_len(config)`.
    pub fn new(config: UNetConfig, params: &'p [f32]) -> Result<Self, Error> {
        config.validate()?;
        check_len("params", params.len(), params_len(&config))?;
        Ok(Self {
            config,
            params,
            transformed: None,
            isa: Isa::detect(),
        })
    }

    /// The same network using the 3×3 weights `transformed` by [`prepare_transformed`]
    /// from this network's parameters (same bits, faster: no transform per call).
    ///
    /// # Errors
    /// [`Error::BufferLength`] unless `transformed` has [`transformed_len`] values.
    pub fn with_transformed(mut self, transformed: &'p [f32]) -> Result<Self, Error> {
        check_len(
            "transformed weights",
            transformed.len(),
            transformed_len(&self.config),
        )?;
        self.transformed = Some(transformed);
        Ok(self)
    }

    /// The same network running with instruction set `isa` (same bits, other speed).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if this CPU cannot run `isa`.
    pub fn with_isa(mut self, isa: Isa) -> Result<Self, Error> {
        if !isa.is_supported() {
            return Err(Error::InvalidArgument {
                name: "isa",
                expected: "an instruction set this CPU supports",
            });
        }
        self.isa = isa;
        Ok(self)
    }

    /// The architecture.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// The instruction set in use.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The flat parameters.
    pub fn params(&self) -> &'p [f32] {
        self.params
    }

    /// Checks one evaluation request as [`UNet::denoise`] does and returns the number of
    /// requested branches (the batch).
    ///
    /// # Errors
    /// As [`UNet::denoise`], except for the workspace.
    pub fn check_denoise(
        &self,
        input: &DenoiseInput<'_>,
        output: &DenoiseOutput<'_>,
    ) -> Result<usize, Error> {
        let c = &self.config;
        let (h, w) = (input.height, input.width);
        let m = c.size_multiple();
        if h == 0 || w == 0 || h % m != 0 || w % m != 0 {
            return Err(Error::InvalidArgument {
                name: "height/width",
                expected: "positive multiples of 2^(levels-1)",
            });
        }
        if !(input.sigma > 0.0 && input.sigma.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "sigma",
                expected: "a positive finite noise level",
            });
        }
        let n = h * w;
        check_len("x", input.x.len(), n)?;
        let want_cond = output.conditional.is_some();
        let batch = usize::from(want_cond) + usize::from(output.unconditional.is_some());
        if batch == 0 {
            return Err(Error::InvalidArgument {
                name: "output",
                expected: "at least one requested branch",
            });
        }
        if want_cond {
            check_len("condition", input.condition.len(), c.condition_len(h, w))?;
            if !input.condition.iter().all(|v| v.is_finite()) {
                return Err(Error::InvalidArgument {
                    name: "condition",
                    expected: "finite values",
                });
            }
        }
        if !input.x.iter().all(|v| v.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "x",
                expected: "finite values",
            });
        }
        for out in [&output.conditional, &output.unconditional]
            .into_iter()
            .flatten()
        {
            check_len("denoised output", out.len(), n)?;
        }
        Ok(batch)
    }

    /// Evaluates the denoiser D(x; σ, y) and/or D(x; σ, ∅) in one batched pass.
    ///
    /// The conditional branch (if requested) is batch item 0 and sees `condition`; the
    /// unconditional branch sees a zero condition and the learned null embedding.
    /// `workspace` must hold [`workspace_len`]`(config, height, width, batch)` values,
    /// `batch` being the number of requested branches. Runs the operations of
    /// [`for_each_op`] in order.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for sides that are zero or not multiples of
    /// `config.size_multiple()`, a non-positive or non-finite σ, non-finite inputs, or no
    /// requested branch; [`Error::BufferLength`] for mis-sized buffers.
    pub fn denoise(
        &self,
        exec: &dyn Executor,
        input: DenoiseInput<'_>,
        output: DenoiseOutput<'_>,
        workspace: &mut [f32],
    ) -> Result<(), Error> {
        let batch = self.check_denoise(&input, &output)?;
        let c = &self.config;
        let want_cond = output.conditional.is_some();
        let geometry = Geometry::new(input.height, input.width);
        let layout = Layout::new(c, geometry, batch);
        check_len("workspace", workspace.len(), layout.total())?;

        // Carve the workspace.
        let mut rest: &mut [f32] = workspace;
        let mut bufs: [&mut [f32]; SLOTS] = Default::default();
        for (slot, &size) in bufs.iter_mut().zip(layout.slots.iter()) {
            let (head, tail) = rest.split_at_mut(size);
            *slot = head;
            rest = tail;
        }
        let e = c.embedding_channels;
        let (conv_scratch, rest) = rest.split_at_mut(layout.conv_scratch);
        let (scratch, rest) = rest.split_at_mut(embedding_scratch_len(c));
        let (emb, rest) = rest.split_at_mut(batch * e);
        let max_out = rest.len() / (1 + batch);
        let (projection, bias) = rest.split_at_mut(max_out);
        let mut v = Vectors {
            conv_scratch,
            emb,
            projection,
            bias,
        };

        let pre = Preconditioning::new(input.sigma, c.sigma_data);
        let plane = geometry.plane_len();
        network_input(
            geometry,
            c.in_channels,
            pre.c_in,
            input.x,
            want_cond.then_some(input.condition),
            &mut bufs[INPUT_SLOT][..batch * c.in_channels * plane],
        )?;
        embedding(c, self.params, pre.c_noise, want_cond, scratch, v.emb)?;

        let mut result: Result<(), Error> = Ok(());
        let mut transformed_at = 0;
        for_each_op(c, |op| {
            if result.is_ok() {
                result = self.run_op(
                    exec,
                    geometry,
                    batch,
                    &op,
                    &mut bufs,
                    &mut v,
                    &mut transformed_at,
                );
            }
        });
        result?;

        combine_branches(&pre, geometry, input.x, bufs[OUTPUT_SLOT], output)
    }

    /// Runs one operation of the program on the workspace slots; `transformed_at` is the
    /// offset of the next 3×3 convolution's pre-transformed weights.
    #[allow(clippy::too_many_arguments)]
    fn run_op(
        &self,
        exec: &dyn Executor,
        geometry: Geometry,
        batch: usize,
        op: &Op,
        bufs: &mut [&mut [f32]; SLOTS],
        v: &mut Vectors<'_>,
        transformed_at: &mut usize,
    ) -> Result<(), Error> {
        let c = &self.config;
        let params = self.params;
        let reads = op.reads();
        match op {
            Op::Conv(conv) => {
                let g = level_geometry(geometry, conv.level);
                let oc = conv.out_channels;
                let out_len = batch * g.tensor_len(oc);
                let bias = &mut v.bias[..batch * oc];
                conv_bias(c, params, &conv.bias, v.emb, &mut v.projection[..oc], bias)?;
                let (inputs, out) = split(bufs, reads, conv.dst);
                let mut sources = [Source {
                    data: &[],
                    channels: 0,
                }; 2];
                for ((source, operand), data) in sources.iter_mut().zip(conv.sources()).zip(inputs)
                {
                    *source = Source {
                        data: &data[..batch * g.tensor_len(operand.channels)],
                        channels: operand.channels,
                    };
                }
                let sources = &sources[..conv.source_count];
                if let (3, Some(transformed)) = (conv.kernel, self.transformed) {
                    let in_channels = sources.iter().map(|s| s.channels).sum();
                    let len = transformed_weights_len(oc, in_channels);
                    let slot = winograd_scratch_len(g, in_channels, oc, 1);
                    let slots = (v.conv_scratch.len() / slot).min(CONV_SLOTS);
                    let result = conv3x3_winograd(
                        exec,
                        self.isa,
                        g,
                        batch,
                        sources,
                        &WinogradConv {
                            out_channels: oc,
                            transformed_weight: &transformed
                                [*transformed_at..*transformed_at + len],
                            bias,
                            residual: conv.residual.map(|_| &inputs[2][..out_len]),
                            residual_scale: conv.residual_scale,
                        },
                        &mut v.conv_scratch[..slots * slot],
                        &mut out[..out_len],
                    );
                    *transformed_at += len;
                    return result;
                }
                if conv.kernel == 3 {
                    let in_channels: usize = sources.iter().map(|s| s.channels).sum();
                    *transformed_at += transformed_weights_len(oc, in_channels);
                }
                network_conv(
                    exec,
                    self.isa,
                    g,
                    batch,
                    sources,
                    &Conv {
                        kernel: conv.kernel,
                        out_channels: oc,
                        weight: conv.weight.of(params),
                        bias,
                        residual: conv.residual.map(|_| &inputs[2][..out_len]),
                        residual_scale: conv.residual_scale,
                    },
                    v.conv_scratch,
                    &mut out[..out_len],
                )
            }
            Op::GroupNorm(n) => {
                let g = level_geometry(geometry, n.level);
                let len = batch * g.tensor_len(n.channels());
                let (inputs, out) = split(bufs, reads, n.dst);
                let mut sources = [Source {
                    data: &[],
                    channels: 0,
                }; 2];
                for ((source, operand), data) in sources.iter_mut().zip(n.sources()).zip(inputs) {
                    *source = Source {
                        data: &data[..batch * g.tensor_len(operand.channels)],
                        channels: operand.channels,
                    };
                }
                group_norm(
                    exec,
                    self.isa,
                    g,
                    batch,
                    &sources[..n.source_count],
                    &GroupNorm {
                        groups: n.groups,
                        gamma: n.gamma.of(params),
                        beta: n.beta.of(params),
                        eps: c.eps,
                        silu: true,
                    },
                    &mut out[..len],
                )
            }
            Op::AvgPool2(r) => {
                let fine = level_geometry(geometry, r.level);
                let ([src], out) = split(bufs, [r.src], r.dst);
                avg_pool2(
                    exec,
                    fine,
                    batch * r.channels,
                    &src[..batch * fine.tensor_len(r.channels)],
                    &mut out[..batch * fine.half().tensor_len(r.channels)],
                )
            }
            Op::UpsampleNearest2(r) => {
                let coarse = level_geometry(geometry, r.level);
                let ([src], out) = split(bufs, [r.src], r.dst);
                upsample_nearest2(
                    exec,
                    coarse,
                    batch * r.channels,
                    &src[..batch * coarse.tensor_len(r.channels)],
                    &mut out[..batch * coarse.double().tensor_len(r.channels)],
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::geometry::unpad_from;

    /// The interior of plane `k` of `item`.
    fn plane(geometry: Geometry, item: &[f32], k: usize) -> [f32; 6] {
        let len = geometry.plane_len();
        let mut out = [0.0; 6];
        unpad_from(geometry, &item[k * len..(k + 1) * len], &mut out);
        out
    }

    #[test]
    fn network_input_stacks_every_condition_plane_for_the_conditional_item() {
        let g = Geometry::new(2, 3);
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let rtm = [0.5; 6];
        let background = [-0.25, 0.0, 0.25, 0.5, 0.75, 1.0];
        let condition: [f32; 12] =
            core::array::from_fn(|i| if i < 6 { rtm[i] } else { background[i - 6] });
        let item = 3 * g.plane_len();
        let mut out = [f32::NAN; 2 * 3 * 64];
        let out = &mut out[..2 * item];
        network_input(g, 3, 2.0, &x, Some(&condition), out).unwrap();
        let (conditional, unconditional) = out.split_at(item);
        assert_eq!(plane(g, conditional, 0), x.map(|v| 2.0 * v));
        assert_eq!(plane(g, conditional, 1), rtm);
        assert_eq!(plane(g, conditional, 2), background);
        assert_eq!(plane(g, unconditional, 0), x.map(|v| 2.0 * v));
        assert!(unconditional[g.plane_len()..].iter().all(|&v| v == 0.0));
        // Every padding ring is zero too (no NaN left from the buffer).
        assert!(out.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn network_input_refuses_a_condition_of_the_wrong_plane_count() {
        let g = Geometry::new(2, 3);
        let x = [0.0; 6];
        let mut out = [0.0; 3 * 64];
        let out = &mut out[..3 * g.plane_len()];
        assert_eq!(
            network_input(g, 3, 1.0, &x, Some(&[0.0; 6]), out),
            Err(Error::BufferLength {
                buffer: "condition",
                expected: 12,
                actual: 6
            })
        );
        assert!(matches!(
            network_input(g, 1, 1.0, &x, None, out),
            Err(Error::InvalidArgument {
                name: "in_channels",
                ..
            })
        ));
        // A buffer sized for two planes per item is not one for three.
        assert!(matches!(
            network_input(g, 3, 1.0, &x, None, &mut out[..2 * g.plane_len()]),
            Err(Error::BufferLength {
                buffer: "network input",
                ..
            })
        ));
    }

    #[test]
    fn configurations_take_one_or_two_condition_planes() {
        for config in [UNetConfig::DEFAULT, UNetConfig::TINY] {
            assert_eq!(config.condition_channels(), 1);
            assert!(!config.takes_background());
            let with = config.with_background();
            assert_eq!((with.in_channels, with.condition_channels()), (3, 2));
            assert!(with.takes_background());
            with.validate().unwrap();
            assert_ne!(with.describe(), config.describe());
            for in_channels in [0, 1, 4] {
                let bad = UNetConfig {
                    in_channels,
                    ..config
                };
                assert!(matches!(
                    bad.validate(),
                    Err(Error::InvalidArgument {
                        name: "in_channels/out_channels",
                        ..
                    })
                ));
            }
        }
    }
}
