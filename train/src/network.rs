//! The trainable network: the core's operation program
//! ([`powerpost_core::unet::program`]) run forward with every activation kept, and run
//! backward op by op. The trainer holds no description of the network of its own: what a
//! residual block computes, which tensors each operation reads and writes and which
//! parameters it uses all come from [`for_each_op`], the program that the CPU inference
//! pass and the Vulkan backend execute too.
//!
//! ## Forward
//! Per batch item the network input and the embedding are those of the core
//! ([`network_input`]; the embedding MLP of [`embedding_params`], with its pre-activations
//! kept), then the program's operations run in order on the core's kernels with the
//! core's biases ([`conv_bias`]), and [`combine`] forms `D`. So the output equals
//! [`powerpost_core::unet::UNet::denoise`] bit for bit. Differences from inference: every
//! batch item has its own noisy image, noise level, condition and branch (conditional,
//! or unconditional: zero condition channel plus the learned null embedding).
//!
//! The program reuses a handful of workspace slots; the tape instead keeps one tensor per
//! *version* of a slot: tensor 0 is the network input, tensor `i + 1` the output of
//! operation `i`. A version that no later backward rule needs (one read only as a
//! residual, e.g. the 1×1 skip convolution's output, and the raw output `F`) goes back to
//! the buffer pool before the operation that overwrites its slot.
//!
//! ## Backward
//! From `∂L/∂D` (`∂L/∂F = c_out · ∂L/∂D`) the operations are walked in reverse, one rule
//! per [`Op`] variant, with the kernels of [`crate::kernels`]:
//!
//! - **Conv**: `g = residual_scale · ∂out` (just `∂out` without residual); weight grad and
//!   per-item bias grad from `g` and the sources; the bias grads summed in batch order
//!   into a shared bias, or for [`Bias::Conditioned`] also back through the
//!   noise-embedding projection into `∂emb[b]`; input grad over the concatenated sources,
//!   split per source; `g` itself is the residual's gradient contribution.
//! - **GroupNorm** (+ SiLU): input grad over the concatenated sources, split per source;
//!   `γ`, `β` grads.
//! - **AvgPool2 / UpsampleNearest2**: their adjoints.
//!
//! The network input (tensor 0) gets no gradient. Each parameter tensor is used by exactly
//! one operation and addressed by the operation's [`ParamRange`]; the gradient buffer has
//! the parameter buffer's layout. Finally `∂emb` runs back through the embedding MLP
//! (the null embedding collects the unconditional items' gradients).
//!
//! ## Order of gradient accumulation
//! A tensor read by several operations (a block input: by the group norm and by the skip
//! convolution or the residual add; a skip connection also by the decoder block)
//! receives one contribution per read, in the order the backward pass produces them
//! (reverse program order; a two-source operation gives its first source's part first).
//! They are added as a balanced binary tree in that order: each new contribution is
//! added to the newest partial sum of as many contributions, repeatedly (1 + 2, then
//! 3 + 4, then (1 + 2) + (3 + 4), …); when the tensor's writer is reached, what is left
//! is added from the newest partial sum into the older ones ((1 + 2) + 3 for three). For
//! a block input that is (residual or skip-convolution part) + (group-norm part); for the
//! four contributions of a skip connection read by the next block and by the decoder
//! block, (decoder's two) + (next block's two); for a skip connection followed by the
//! pooling, (decoder's two) + pooling's — the sums the block-wise backward pass this
//! module replaced formed, so the training bits did not change. Every sum inside the
//! kernels has its own documented order ([`crate::kernels`]), so the gradient bits do not
//! depend on the thread count.

use crate::kernels::conv::{conv_input_grad, conv_input_grad_scratch_len, conv_weight_grad};
use crate::kernels::linear::linear_backward;
use crate::kernels::norm::{group_norm_backward, NormSpec};
use crate::kernels::resample::{avg_pool2_backward, upsample_nearest2_backward};
use crate::kernels::silu_grad;
use crate::kernels::winograd_grad::{conv3x3_weight_grad, conv3x3_weight_grad_scratch_len};
use powerpost_core::detmath;
use powerpost_core::error::check_len;
use powerpost_core::exec::{Executor, SharedMut};
use powerpost_core::nn::conv::{Conv, Source};
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::linear::{fourier_features, linear};
use powerpost_core::nn::norm::{group_norm_stats_len, group_norm_with_stats, GroupNorm};
use powerpost_core::nn::resample::{avg_pool2, upsample_nearest2};
use powerpost_core::nn::simd::Isa;
use powerpost_core::nn::winograd::{network_conv, network_conv_scratch_len};
use powerpost_core::unet::config::FOURIER_FEATURES;
use powerpost_core::unet::forward::{
    combine, conv_bias, level_geometry, network_input, CONV_SLOTS,
};
use powerpost_core::unet::params::{for_each_tensor, params_len, ParamKind};
use powerpost_core::unet::program::{
    embedding_params, for_each_op, Bias, ConvOp, EmbeddingParams, NormOp, Op, Operand, ParamRange,
    ResampleOp, SLOTS,
};
use powerpost_core::unet::{Preconditioning, UNetConfig};
use powerpost_core::Error;

/// One training batch: `batch` items of `height × width` each.
#[derive(Debug, Clone, Copy)]
pub struct TrainBatch<'a> {
    /// Image rows.
    pub height: usize,
    /// Image columns.
    pub width: usize,
    /// Noisy normalised velocities, `batch × height × width`.
    pub noisy: &'a [f32],
    /// Noise level of every item.
    pub sigma: &'a [f32],
    /// Conditions, `batch × condition_channels × height × width` (per item the normalised
    /// RTM image, then the normalised background model for a network that takes it);
    /// ignored for unconditional items.
    pub condition: &'a [f32],
    /// Whether each item runs the conditional branch (else: zero condition + null
    /// embedding).
    pub conditional: &'a [bool],
}

impl TrainBatch<'_> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.sigma.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.sigma.is_empty()
    }
}

/// One operation of the program with the tape tensors (slot versions) it reads.
#[derive(Debug, Clone, Copy)]
struct Step {
    op: Op,
    /// The tensor of every slot in [`Op::reads`].
    reads: [usize; 3],
}

/// Everything the forward pass keeps for the backward pass.
#[derive(Debug, Default)]
pub struct Tape {
    height: usize,
    width: usize,
    batch: usize,
    pre: Vec<Preconditioning>,
    conditional: Vec<bool>,
    features: Vec<f32>,
    hidden_pre: Vec<f32>,
    hidden: Vec<f32>,
    emb_pre: Vec<f32>,
    emb: Vec<f32>,
    /// Tensor 0: the network input; tensor `i + 1`: operation `i`'s output (empty once
    /// dropped).
    tensors: Vec<Vec<f32>>,
    /// Per operation: a group norm's per-(item, group) `mean` and `inv_std` from the
    /// forward pass (empty for other operations), which its backward pass reads.
    norm_stats: Vec<Vec<f32>>,
    /// The denoised estimates `D` of the last forward pass, `batch × height × width`.
    pub denoised: Vec<f32>,
    /// Buffers kept from earlier steps for reuse (stored activations and the backward
    /// pass's gradient tensors).
    scratch: Scratch,
}

/// A pool of zero-initialised `f32` buffers, reused by exact length. Every step asks for
/// the same sequence of lengths, so after the first step no large buffer is allocated
/// (and page-faulted in) again; the pool holds at most what one step used.
#[derive(Debug, Default)]
struct Scratch(std::sync::Mutex<Vec<Vec<f32>>>);

impl Scratch {
    /// A zeroed buffer of `len` values (a kept one when available).
    fn take(&self, len: usize) -> Vec<f32> {
        match self.reuse(len) {
            Some(mut v) => {
                v.fill(0.0);
                v
            }
            None => vec![0.0; len],
        }
    }

    /// A buffer of `len` values for an output that the kernel writes completely (every
    /// value, the zero ring included): a kept one as it is, without zeroing it (the
    /// serial zero-fill cost ≈ 2 % of a step), else a fresh zeroed one. The contents
    /// never reach a result, so a resumed run (fresh buffers) and an uninterrupted one
    /// (reused buffers) stay bit-identical.
    fn take_overwritten(&self, len: usize) -> Vec<f32> {
        self.reuse(len).unwrap_or_else(|| vec![0.0; len])
    }

    /// A kept buffer of exactly `len` values, contents as left, if there is one.
    fn reuse(&self, len: usize) -> Option<Vec<f32>> {
        let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let i = pool.iter().rposition(|v| v.len() == len)?;
        Some(pool.swap_remove(i))
    }

    /// Keeps `buffer` for a later [`Scratch::take`].
    fn give(&self, buffer: Vec<f32>) {
        if !buffer.is_empty() {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(buffer);
        }
    }
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Self {
        Self::default()
    }

    /// Floats held by the stored activations.
    pub fn stored_floats(&self) -> usize {
        self.tensors.iter().map(|t| t.len()).sum()
    }
}

/// The gradient contributions to one tensor not yet added up: partial sums with their
/// tree heights (see the module docs, "Order of gradient accumulation").
#[derive(Debug, Default)]
struct Contributions(Vec<(Vec<f32>, u32)>);

impl Contributions {
    /// Adds the next contribution: two partial sums of the same height merge (the older
    /// one first).
    fn push(&mut self, exec: &dyn Executor, scratch: &Scratch, mut grad: Vec<f32>) {
        let mut height = 0;
        while let Some((top, h)) = self.0.pop() {
            if h != height {
                self.0.push((top, h));
                break;
            }
            let mut sum = top;
            par_add_into(exec, &mut sum, &grad);
            scratch.give(std::mem::replace(&mut grad, sum));
            height += 1;
        }
        self.0.push((grad, height));
    }

    /// The total gradient (`None` when nothing contributed): the remaining partial sums
    /// added from the newest into the older ones.
    fn total(&mut self, exec: &dyn Executor, scratch: &Scratch) -> Option<Vec<f32>> {
        let (mut sum, _) = self.0.pop()?;
        while let Some((mut older, _)) = self.0.pop() {
            par_add_into(exec, &mut older, &sum);
            scratch.give(std::mem::replace(&mut sum, older));
        }
        Some(sum)
    }
}

/// `acc += other`, element by element.
fn add_into(acc: &mut [f32], other: &[f32]) {
    for (a, &b) in acc.iter_mut().zip(other) {
        *a += b;
    }
}

/// Values per task of the elementwise helpers on activation-sized tensors (256 KiB).
const ELEMENTWISE_CHUNK: usize = 1 << 16;

/// Runs `f(start, chunk)` on consecutive chunks of `values` of [`ELEMENTWISE_CHUNK`]
/// values each, as tasks of `exec`: for elementwise work, whose bits do not depend on the
/// split (these tensors are megabytes; serial loops over them left the other threads
/// idle).
fn par_chunks(exec: &dyn Executor, values: &mut [f32], f: &(dyn Fn(usize, &mut [f32]) + Sync)) {
    let len = values.len();
    let shared = SharedMut::new(values);
    exec.for_each(len.div_ceil(ELEMENTWISE_CHUNK), &|t| {
        let start = t * ELEMENTWISE_CHUNK;
        // SAFETY: the tasks' chunks are disjoint and inside `values`.
        let chunk = unsafe { shared.slice(start, ELEMENTWISE_CHUNK.min(len - start)) };
        f(start, chunk);
    });
}

/// `acc += other`, element by element, on the executor ([`par_chunks`]).
///
/// # Panics
/// If the lengths differ.
fn par_add_into(exec: &dyn Executor, acc: &mut [f32], other: &[f32]) {
    assert_eq!(acc.len(), other.len());
    par_chunks(exec, acc, &|start, chunk| {
        add_into(chunk, &other[start..start + chunk.len()])
    });
}

/// Two disjoint mutable tensors of the gradient buffer.
fn two_mut(grads: &mut [f32], a: ParamRange, b: ParamRange) -> (&mut [f32], &mut [f32]) {
    if a.offset < b.offset {
        let (head, tail) = grads.split_at_mut(b.offset);
        (&mut head[a.offset..a.offset + a.len], &mut tail[..b.len])
    } else {
        let (y, x) = two_mut(grads, b, a);
        (x, y)
    }
}

/// Accumulates the gradients of one [`linear`] call with the parameters `weight`, `bias`
/// (into their tensors of `grads`) and, if given, of its `input`.
fn dense_backward(
    params: &[f32],
    grads: &mut [f32],
    weight: ParamRange,
    bias: ParamRange,
    input: &[f32],
    grad_out: &[f32],
    grad_in: Option<&mut [f32]>,
) {
    let (gw, gb) = two_mut(grads, weight, bias);
    linear_backward(weight.of(params), input, grad_out, gw, gb, grad_in);
}

/// The gradient tensor of parameter range `r`.
fn grad_of(grads: &mut [f32], r: ParamRange) -> &mut [f32] {
    &mut grads[r.offset..r.offset + r.len]
}

/// Adds the per-item bias gradients (`batch × r.len`) in batch order into tensor `r`.
fn sum_bias(items: &[f32], r: ParamRange, grads: &mut [f32]) {
    let dst = grad_of(grads, r);
    for item in items.chunks_exact(r.len.max(1)) {
        add_into(dst, item);
    }
}

/// The network of one architecture: its program with the tape tensors every operation
/// reads, the parameter layout and the kernels' ISA.
#[derive(Debug, Clone)]
pub struct Network {
    config: UNetConfig,
    isa: Isa,
    steps: Vec<Step>,
    /// Per tape tensor: whether a backward rule reads its values (a convolution's or group
    /// norm's source).
    kept: Vec<bool>,
    /// The most output channels of any convolution (sizes the per-item bias buffer).
    max_out_channels: usize,
    embedding: EmbeddingParams,
    weight_mask: Vec<bool>,
    len: usize,
}

impl Network {
    /// The network of `config`, running the core's kernels with the fastest ISA here.
    ///
    /// # Errors
    /// An invalid configuration.
    pub fn new(config: UNetConfig) -> Result<Self, Error> {
        config.validate()?;
        let mut weight_mask = vec![false; params_len(&config)];
        for_each_tensor(&config, |t| {
            if matches!(t.kind, ParamKind::Weight { .. }) {
                weight_mask[t.offset..t.offset + t.len].fill(true);
            }
        });
        let mut steps = Vec::new();
        // Every slot starts as tensor 0 (only INPUT_SLOT is read before it is written).
        let mut version = [0usize; SLOTS];
        for_each_op(&config, |op| {
            steps.push(Step {
                op,
                reads: op.reads().map(|slot| version[slot]),
            });
            version[op.dst()] = steps.len();
        });
        let mut kept = vec![false; steps.len() + 1];
        kept[0] = true; // the network input (every slot's tensor before its first write)
        let mut max_out_channels = 0;
        for step in &steps {
            for &t in &step.reads[..sources_of(&step.op).len()] {
                kept[t] = true;
            }
            if let Op::Conv(conv) = step.op {
                max_out_channels = max_out_channels.max(conv.out_channels);
            }
        }
        Ok(Self {
            config,
            isa: Isa::detect(),
            steps,
            kept,
            max_out_channels,
            embedding: embedding_params(&config),
            weight_mask,
            len: params_len(&config),
        })
    }

    /// The architecture.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// Number of parameters.
    pub fn params_len(&self) -> usize {
        self.len
    }

    /// Per parameter: whether it belongs to a convolution or linear weight (weight decay
    /// applies to these only).
    pub fn weight_mask(&self) -> &[bool] {
        &self.weight_mask
    }

    /// Runs the forward pass of `batch`, storing every activation on `tape` and the
    /// denoised estimates in `tape.denoised`.
    ///
    /// # Errors
    /// Mis-sized inputs, sides not divisible by `config.size_multiple()`, a non-positive σ.
    pub fn forward(
        &self,
        exec: &dyn Executor,
        params: &[f32],
        batch: &TrainBatch<'_>,
        tape: &mut Tape,
    ) -> Result<(), Error> {
        let c = &self.config;
        let (h, w, nb) = (batch.height, batch.width, batch.len());
        let m = c.size_multiple();
        if h == 0 || w == 0 || h % m != 0 || w % m != 0 || nb == 0 {
            return Err(Error::InvalidArgument {
                name: "height/width",
                expected: "positive multiples of 2^(levels-1)",
            });
        }
        check_len("params", params.len(), self.len)?;
        let n = h * w;
        check_len("noisy", batch.noisy.len(), nb * n)?;
        check_len(
            "condition",
            batch.condition.len(),
            nb * c.condition_len(h, w),
        )?;
        check_len("conditional", batch.conditional.len(), nb)?;
        if batch.sigma.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(Error::InvalidArgument {
                name: "sigma",
                expected: "positive finite noise levels",
            });
        }
        for t in tape.tensors.drain(..) {
            tape.scratch.give(t);
        }
        tape.height = h;
        tape.width = w;
        tape.batch = nb;
        tape.pre = batch
            .sigma
            .iter()
            .map(|&s| Preconditioning::new(s, c.sigma_data))
            .collect();
        tape.conditional = batch.conditional.to_vec();
        let geometry = Geometry::new(h, w);
        let plane = geometry.plane_len();

        // Tensor 0: [c_in · x, y or 0] per item (y: the condition planes).
        let cin = c.in_channels;
        let cond_len = c.condition_len(h, w);
        let mut input = tape.scratch.take(nb * cin * plane);
        for (b, item) in input.chunks_exact_mut(cin * plane).enumerate() {
            let condition = &batch.condition[b * cond_len..(b + 1) * cond_len];
            network_input(
                geometry,
                cin,
                tape.pre[b].c_in,
                &batch.noisy[b * n..(b + 1) * n],
                batch.conditional[b].then_some(condition),
                item,
            )?;
        }
        tape.tensors.push(input);
        self.embedding_forward(params, tape)?;

        // The program, one new tensor per operation. The tensor a slot held goes back to
        // the pool before the operation that overwrites the slot (which never reads it),
        // unless a backward rule needs it.
        let max_out = self.max_out_channels;
        let mut projection = vec![0.0; max_out];
        let mut bias = vec![0.0; nb * max_out];
        let mut in_slot = [0usize; SLOTS];
        tape.norm_stats.resize_with(self.steps.len(), Vec::new);
        for (i, step) in self.steps.iter().enumerate() {
            let overwritten = std::mem::replace(&mut in_slot[step.op.dst()], i + 1);
            if !self.kept[overwritten] {
                let dropped = std::mem::take(&mut tape.tensors[overwritten]);
                tape.scratch.give(dropped);
            }
            let mut stats = std::mem::take(&mut tape.norm_stats[i]);
            let out = self.run_op(
                exec,
                params,
                tape,
                geometry,
                step,
                &mut projection,
                &mut bias,
                &mut stats,
            )?;
            tape.norm_stats[i] = stats;
            tape.tensors.push(out);
        }

        // D = c_skip · x + c_out · F.
        tape.denoised = vec![0.0; nb * n];
        let raw = &tape.tensors[self.steps.len()];
        for (b, out) in tape.denoised.chunks_exact_mut(n).enumerate() {
            combine(
                &tape.pre[b],
                geometry,
                &batch.noisy[b * n..(b + 1) * n],
                &raw[b * plane..(b + 1) * plane],
                out,
            )?;
        }
        for t in in_slot {
            if !self.kept[t] {
                let dropped = std::mem::take(&mut tape.tensors[t]);
                tape.scratch.give(dropped);
            }
        }
        Ok(())
    }

    /// The noise embedding of every item (the core's MLP, with the pre-activations kept):
    /// `emb[b] = SiLU(fc1 · SiLU(fc0 · fourier(c_noise) + b0) + b1 [+ null])`.
    fn embedding_forward(&self, params: &[f32], tape: &mut Tape) -> Result<(), Error> {
        let (e, nb) = (self.config.embedding_channels, tape.batch);
        let p = &self.embedding;
        tape.features = vec![0.0; nb * FOURIER_FEATURES];
        tape.hidden_pre = vec![0.0; nb * e];
        tape.hidden = vec![0.0; nb * e];
        tape.emb_pre = vec![0.0; nb * e];
        tape.emb = vec![0.0; nb * e];
        for b in 0..nb {
            let f = &mut tape.features[b * FOURIER_FEATURES..(b + 1) * FOURIER_FEATURES];
            fourier_features(tape.pre[b].c_noise, f)?;
            let hp = &mut tape.hidden_pre[b * e..(b + 1) * e];
            linear(p.fc0_weight.of(params), p.fc0_bias.of(params), f, hp)?;
            for (hv, &pre) in tape.hidden[b * e..(b + 1) * e].iter_mut().zip(hp.iter()) {
                *hv = detmath::silu(pre);
            }
            let ep = &mut tape.emb_pre[b * e..(b + 1) * e];
            linear(
                p.fc1_weight.of(params),
                p.fc1_bias.of(params),
                &tape.hidden[b * e..(b + 1) * e],
                ep,
            )?;
            for ((ev, pre), &null) in tape.emb[b * e..(b + 1) * e]
                .iter_mut()
                .zip(ep.iter_mut())
                .zip(p.null.of(params))
            {
                if !tape.conditional[b] {
                    *pre += null;
                }
                *ev = detmath::silu(*pre);
            }
        }
        Ok(())
    }

    /// The sources of a convolution or group norm as kernel operands (tape tensors).
    fn sources<'t>(tape: &'t Tape, step: &Step, operands: &[Operand]) -> Vec<Source<'t>> {
        operands
            .iter()
            .zip(step.reads)
            .map(|(o, t)| Source {
                data: &tape.tensors[t],
                channels: o.channels,
            })
            .collect()
    }

    /// Runs one operation forward; returns its output tensor (a group norm also fills
    /// `stats` with its statistics).
    #[allow(clippy::too_many_arguments)]
    fn run_op(
        &self,
        exec: &dyn Executor,
        params: &[f32],
        tape: &Tape,
        geometry: Geometry,
        step: &Step,
        projection: &mut [f32],
        bias: &mut [f32],
        stats: &mut Vec<f32>,
    ) -> Result<Vec<f32>, Error> {
        let c = &self.config;
        let nb = tape.batch;
        match step.op {
            Op::Conv(conv) => {
                let g = level_geometry(geometry, conv.level);
                let oc = conv.out_channels;
                let bias = &mut bias[..nb * oc];
                conv_bias(
                    c,
                    params,
                    &conv.bias,
                    &tape.emb,
                    &mut projection[..oc],
                    bias,
                )?;
                // network_conv writes every value of its output, ring included.
                let mut out = tape.scratch.take_overwritten(nb * g.tensor_len(oc));
                let in_channels = conv.sources().iter().map(|s| s.channels).sum();
                let mut conv_scratch = tape.scratch.take_overwritten(network_conv_scratch_len(
                    g,
                    in_channels,
                    oc,
                    conv.kernel,
                    CONV_SLOTS,
                ));
                network_conv(
                    exec,
                    self.isa,
                    g,
                    nb,
                    &Self::sources(tape, step, conv.sources()),
                    &Conv {
                        kernel: conv.kernel,
                        out_channels: oc,
                        weight: conv.weight.of(params),
                        bias,
                        residual: conv.residual.map(|_| &tape.tensors[step.reads[2]][..]),
                        residual_scale: conv.residual_scale,
                    },
                    &mut conv_scratch,
                    &mut out,
                )?;
                tape.scratch.give(conv_scratch);
                Ok(out)
            }
            Op::GroupNorm(norm) => {
                let g = level_geometry(geometry, norm.level);
                // group_norm writes every value of its output, ring included.
                let mut out = tape
                    .scratch
                    .take_overwritten(nb * g.tensor_len(norm.channels()));
                stats.resize(group_norm_stats_len(nb, norm.groups), 0.0);
                group_norm_with_stats(
                    exec,
                    self.isa,
                    g,
                    nb,
                    &Self::sources(tape, step, norm.sources()),
                    &GroupNorm {
                        groups: norm.groups,
                        gamma: norm.gamma.of(params),
                        beta: norm.beta.of(params),
                        eps: c.eps,
                        silu: true,
                    },
                    &mut out,
                    stats,
                )?;
                Ok(out)
            }
            Op::AvgPool2(r) => {
                let fine = level_geometry(geometry, r.level);
                let mut out = tape.scratch.take(nb * fine.half().tensor_len(r.channels));
                let src = &tape.tensors[step.reads[0]];
                avg_pool2(exec, fine, nb * r.channels, src, &mut out)?;
                Ok(out)
            }
            Op::UpsampleNearest2(r) => {
                let coarse = level_geometry(geometry, r.level);
                let mut out = tape
                    .scratch
                    .take(nb * coarse.double().tensor_len(r.channels));
                let src = &tape.tensors[step.reads[0]];
                upsample_nearest2(exec, coarse, nb * r.channels, src, &mut out)?;
                Ok(out)
            }
        }
    }

    /// Backward pass: from `grad_denoised = ∂L/∂D` (`batch × height × width`) to the
    /// parameter gradient `grads` (written; [`Network::params_len`] values).
    ///
    /// # Errors
    /// Mis-sized buffers or a tape from another network.
    pub fn backward(
        &self,
        exec: &dyn Executor,
        params: &[f32],
        tape: &Tape,
        grad_denoised: &[f32],
        grads: &mut [f32],
    ) -> Result<(), Error> {
        let c = &self.config;
        let (h, w, nb) = (tape.height, tape.width, tape.batch);
        let n = h * w;
        check_len("tape", tape.tensors.len(), self.steps.len() + 1)?;
        check_len("tape statistics", tape.norm_stats.len(), self.steps.len())?;
        check_len("params", params.len(), self.len)?;
        check_len("grad_denoised", grad_denoised.len(), nb * n)?;
        check_len("grads", grads.len(), self.len)?;
        grads.fill(0.0);
        let geometry = Geometry::new(h, w);
        let plane = geometry.plane_len();
        let scratch = &tape.scratch;
        let mut g_emb = vec![0.0f32; nb * c.embedding_channels];
        let mut pending: Vec<Contributions> = Vec::new();
        pending.resize_with(self.steps.len() + 1, Contributions::default);
        // ∂L/∂F = c_out · ∂L/∂D.
        let mut g_raw = scratch.take(nb * plane * c.out_channels);
        for b in 0..nb {
            let c_out = tape.pre[b].c_out;
            for y in 0..h {
                let start = geometry.index(y, 0);
                for x in 0..w {
                    g_raw[b * plane + start + x] = c_out * grad_denoised[b * n + y * w + x];
                }
            }
        }
        pending[self.steps.len()].push(exec, scratch, g_raw);
        for (i, step) in self.steps.iter().enumerate().rev() {
            let Some(g_out) = pending[i + 1].total(exec, scratch) else {
                continue;
            };
            let back = Backward {
                net: self,
                exec,
                params,
                tape,
                geometry,
                step,
                index: i,
            };
            match step.op {
                Op::Conv(conv) => back.conv(&conv, g_out, grads, &mut g_emb, &mut pending)?,
                Op::GroupNorm(norm) => back.norm(&norm, g_out, grads, &mut pending)?,
                Op::AvgPool2(r) => back.pool(&r, g_out, &mut pending),
                Op::UpsampleNearest2(r) => back.upsample(&r, g_out, &mut pending),
            }
        }
        self.embedding_backward(params, tape, &g_emb, grads);
        Ok(())
    }

    /// Backward through the embedding MLP and the null embedding.
    fn embedding_backward(&self, params: &[f32], tape: &Tape, g_emb: &[f32], grads: &mut [f32]) {
        let e = self.config.embedding_channels;
        let p = &self.embedding;
        let mut g_hidden = vec![0.0f32; e];
        for b in 0..tape.batch {
            let g_pre: Vec<f32> = (0..e)
                .map(|k| g_emb[b * e + k] * silu_grad(tape.emb_pre[b * e + k]))
                .collect();
            if !tape.conditional[b] {
                add_into(grad_of(grads, p.null), &g_pre);
            }
            g_hidden.fill(0.0);
            let hidden = &tape.hidden[b * e..(b + 1) * e];
            dense_backward(
                params,
                grads,
                p.fc1_weight,
                p.fc1_bias,
                hidden,
                &g_pre,
                Some(&mut g_hidden),
            );
            let g_hpre: Vec<f32> = (0..e)
                .map(|k| g_hidden[k] * silu_grad(tape.hidden_pre[b * e + k]))
                .collect();
            let features = &tape.features[b * FOURIER_FEATURES..(b + 1) * FOURIER_FEATURES];
            dense_backward(
                params,
                grads,
                p.fc0_weight,
                p.fc0_bias,
                features,
                &g_hpre,
                None,
            );
        }
    }
}

/// The operands of a convolution or group norm (none for a resampling).
fn sources_of(op: &Op) -> &[Operand] {
    match op {
        Op::Conv(conv) => conv.sources(),
        Op::GroupNorm(norm) => norm.sources(),
        Op::AvgPool2(_) | Op::UpsampleNearest2(_) => &[],
    }
}

/// The backward rules of one operation.
struct Backward<'a> {
    net: &'a Network,
    exec: &'a dyn Executor,
    params: &'a [f32],
    tape: &'a Tape,
    geometry: Geometry,
    step: &'a Step,
    /// The step's position in the program (its entry of the tape's statistics).
    index: usize,
}

impl Backward<'_> {
    /// Hands the gradient of the operation's concatenated sources (`batch ×
    /// Σ channels × plane`) to the sources' tensors, split per source; the network input
    /// (tensor 0) takes none.
    fn to_sources(
        &self,
        g: Geometry,
        operands: &[Operand],
        grad: Vec<f32>,
        pending: &mut [Contributions],
    ) {
        let scratch = &self.tape.scratch;
        let reads = self.step.reads;
        if operands.len() == 1 {
            if reads[0] > 0 {
                pending[reads[0]].push(self.exec, scratch, grad);
            } else {
                scratch.give(grad);
            }
            return;
        }
        let nb = self.tape.batch;
        let plane = g.plane_len();
        let total: usize = operands.iter().map(|o| o.channels).sum();
        let mut first = 0;
        for (k, o) in operands.iter().enumerate() {
            let len = o.channels * plane;
            if reads[k] > 0 {
                // Every value is copied, so the buffer needs no zeroing; one task per item.
                let mut part = scratch.take_overwritten(nb * len);
                let shared = SharedMut::new(&mut part);
                self.exec.for_each(nb, &|b| {
                    let start = b * total * plane + first;
                    // SAFETY: each task writes its own item's values.
                    unsafe { shared.slice(b * len, len) }
                        .copy_from_slice(&grad[start..start + len]);
                });
                pending[reads[k]].push(self.exec, scratch, part);
            }
            first += len;
        }
        scratch.give(grad);
    }

    /// Convolution: weight, bias (and embedding-projection) grads, source grads, and the
    /// residual's share.
    fn conv(
        &self,
        conv: &ConvOp,
        g_out: Vec<f32>,
        grads: &mut [f32],
        g_emb: &mut [f32],
        pending: &mut [Contributions],
    ) -> Result<(), Error> {
        let (tape, scratch) = (self.tape, &self.tape.scratch);
        let nb = tape.batch;
        let g = level_geometry(self.geometry, conv.level);
        let oc = conv.out_channels;
        // out = (conv + bias + residual) · scale: ∂conv = ∂residual = scale · ∂out.
        let mut g_pre = g_out;
        if conv.residual.is_some() || conv.residual_scale != 1.0 {
            let scale = conv.residual_scale;
            par_chunks(self.exec, &mut g_pre, &|_, chunk| {
                for v in chunk {
                    *v *= scale;
                }
            });
        }
        let sources = Network::sources(tape, self.step, conv.sources());
        let mut bias_items = vec![0.0; nb * oc];
        if conv.kernel == 3 {
            // Through the transforms of the forward's Winograd convolution.
            let in_channels = sources.iter().map(|s| s.channels).sum();
            let mut wg_scratch = scratch.take_overwritten(conv3x3_weight_grad_scratch_len(
                nb,
                in_channels,
                oc,
                self.exec.threads(),
            ));
            conv3x3_weight_grad(
                self.exec,
                self.net.isa,
                g,
                nb,
                &sources,
                &g_pre,
                &mut wg_scratch,
                grad_of(grads, conv.weight),
                &mut bias_items,
            )?;
            scratch.give(wg_scratch);
        } else {
            conv_weight_grad(
                self.exec,
                self.net.isa,
                g,
                nb,
                &sources,
                conv.kernel,
                &g_pre,
                grad_of(grads, conv.weight),
                &mut bias_items,
            )?;
        }
        match conv.bias {
            Bias::Shared(bias) => sum_bias(&bias_items, bias, grads),
            Bias::Conditioned {
                conv_bias,
                emb_weight,
                emb_bias,
            } => {
                sum_bias(&bias_items, conv_bias, grads);
                // bias[b] = conv_bias + emb_bias + emb_weight · emb[b].
                let e = g_emb.len() / nb;
                for ((g_item, emb_item), g_emb_item) in bias_items
                    .chunks_exact(oc)
                    .zip(tape.emb.chunks_exact(e))
                    .zip(g_emb.chunks_exact_mut(e))
                {
                    dense_backward(
                        self.params,
                        grads,
                        emb_weight,
                        emb_bias,
                        emb_item,
                        g_item,
                        Some(g_emb_item),
                    );
                }
            }
        }
        if self.step.reads.iter().take(sources.len()).any(|&t| t > 0) {
            let total = sources.iter().map(|s| s.channels).sum();
            // conv_input_grad (a network_conv) writes every value, ring included.
            let mut g_in = scratch.take_overwritten(nb * g.tensor_len(total));
            let mut conv_scratch =
                scratch.take_overwritten(conv_input_grad_scratch_len(g, conv.kernel, oc, total));
            conv_input_grad(
                self.exec,
                self.net.isa,
                g,
                nb,
                conv.kernel,
                conv.weight.of(self.params),
                oc,
                total,
                &g_pre,
                &mut conv_scratch,
                &mut g_in,
            )?;
            scratch.give(conv_scratch);
            self.to_sources(g, conv.sources(), g_in, pending);
        }
        match conv.residual {
            Some(_) => pending[self.step.reads[2]].push(self.exec, scratch, g_pre),
            None => scratch.give(g_pre),
        }
        Ok(())
    }

    /// Group norm + SiLU: `γ`, `β` and source grads.
    fn norm(
        &self,
        norm: &NormOp,
        g_out: Vec<f32>,
        grads: &mut [f32],
        pending: &mut [Contributions],
    ) -> Result<(), Error> {
        let tape = self.tape;
        let g = level_geometry(self.geometry, norm.level);
        // group_norm_backward writes every value of its input gradient, ring included.
        let mut g_in = tape
            .scratch
            .take_overwritten(tape.batch * g.tensor_len(norm.channels()));
        let spec = NormSpec {
            groups: norm.groups,
            gamma: norm.gamma.of(self.params),
            beta: norm.beta.of(self.params),
            silu: true,
        };
        let (gw, gb) = two_mut(grads, norm.gamma, norm.beta);
        group_norm_backward(
            self.exec,
            self.net.isa,
            g,
            tape.batch,
            &Network::sources(tape, self.step, norm.sources()),
            &spec,
            &tape.norm_stats[self.index],
            &g_out,
            &mut g_in,
            gw,
            gb,
        )?;
        tape.scratch.give(g_out);
        self.to_sources(g, norm.sources(), g_in, pending);
        Ok(())
    }

    /// 2×2 average pooling: its adjoint.
    fn pool(&self, r: &ResampleOp, g_out: Vec<f32>, pending: &mut [Contributions]) {
        let tape = self.tape;
        let fine = level_geometry(self.geometry, r.level);
        // The kernel writes every value, ring included.
        let mut g = tape
            .scratch
            .take_overwritten(tape.batch * fine.tensor_len(r.channels));
        avg_pool2_backward(self.exec, fine, tape.batch * r.channels, &g_out, &mut g);
        tape.scratch.give(g_out);
        pending[self.step.reads[0]].push(self.exec, &tape.scratch, g);
    }

    /// Nearest up-sampling: its adjoint.
    fn upsample(&self, r: &ResampleOp, g_out: Vec<f32>, pending: &mut [Contributions]) {
        let tape = self.tape;
        let coarse = level_geometry(self.geometry, r.level);
        // The kernel writes every value, ring included.
        let mut g = tape
            .scratch
            .take_overwritten(tape.batch * coarse.tensor_len(r.channels));
        upsample_nearest2_backward(self.exec, coarse, tape.batch * r.channels, &g_out, &mut g);
        tape.scratch.give(g_out);
        pending[self.step.reads[0]].push(self.exec, &tape.scratch, g);
    }
}
