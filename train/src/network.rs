//! The trainable network: the core's U-Net forward pass with stored activations, and its
//! backward pass, both walking [`Plan::for_each`] (the one architecture description).
//!
//! The forward pass calls exactly the core's kernels with exactly the core's arguments
//! ([`powerpost_core::unet::forward`]), per batch item, so its output equals
//! [`powerpost_core::unet::UNet::denoise`] bit for bit. Differences from inference: every
//! batch item has its own noisy image, noise level, condition and branch (conditional, or
//! unconditional: zero condition channel plus the learned null embedding), and every
//! intermediate tensor is kept on a [`Tape`] for the backward pass.
//!
//! The backward pass takes `∂L/∂D` for every item and writes `∂L/∂θ` into a flat gradient
//! buffer in parameter-table order ([`powerpost_core::unet::params`]). Its kernels are in
//! [`crate::kernels`].

use std::collections::HashMap;

use crate::kernels::conv::{conv_input_grad, conv_weight_grad};
use crate::kernels::linear::linear_backward;
use crate::kernels::norm::{group_norm_backward, NormSpec};
use crate::kernels::resample::{avg_pool2_backward, upsample_nearest2_backward};
use crate::kernels::silu_grad;
use powerpost_core::detmath;
use powerpost_core::exec::Executor;
use powerpost_core::nn::conv::{conv2d, Conv, Source};
use powerpost_core::nn::geometry::{pad_into, Geometry};
use powerpost_core::nn::linear::{fourier_features, linear};
use powerpost_core::nn::norm::{group_norm, GroupNorm};
use powerpost_core::nn::resample::{avg_pool2, upsample_nearest2};
use powerpost_core::nn::simd::Isa;
use powerpost_core::unet::config::FOURIER_FEATURES;
use powerpost_core::unet::forward::RESIDUAL_SCALE;
use powerpost_core::unet::params::{for_each_tensor, params_len, ParamKind};
use powerpost_core::unet::plan::{Block, Plan, ResBlock, Stage};
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
    /// Conditions (normalised RTM images), `batch × height × width`; ignored for
    /// unconditional items.
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

/// Where a parameter tensor lives in the flat buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: usize,
    len: usize,
}

/// What one plan block stored on the tape (tensor ids).
#[derive(Debug, Clone, Copy)]
enum Record {
    ConvIn {
        input: usize,
        channels: usize,
    },
    Res {
        block: ResBlock,
        x: usize,
        skip: Option<usize>,
        t0: usize,
        u: usize,
        t1: usize,
    },
    Down {
        level: usize,
        channels: usize,
    },
    Up {
        level: usize,
        channels: usize,
    },
    Out {
        channels: usize,
        input: usize,
        t: usize,
    },
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
    tensors: Vec<Vec<f32>>,
    records: Vec<Record>,
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
        let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match pool.iter().rposition(|v| v.len() == len) {
            Some(i) => {
                let mut v = pool.swap_remove(i);
                drop(pool);
                v.fill(0.0);
                v
            }
            None => vec![0.0; len],
        }
    }

    /// Keeps `buffer` for a later [`Scratch::take`].
    fn give(&self, buffer: Vec<f32>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(buffer);
    }
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Self {
        Self::default()
    }

    fn alloc(&mut self, len: usize) -> usize {
        let buffer = self.scratch.take(len);
        self.tensors.push(buffer);
        self.tensors.len() - 1
    }

    /// Floats held by the stored activations.
    pub fn stored_floats(&self) -> usize {
        self.tensors.iter().map(|t| t.len()).sum()
    }
}

/// The network of one architecture: the plan, the parameter table and the kernels' ISA.
#[derive(Debug, Clone)]
pub struct Network {
    config: UNetConfig,
    isa: Isa,
    slots: HashMap<String, Slot>,
    weight_mask: Vec<bool>,
    blocks: Vec<Block>,
    len: usize,
}

/// Name prefix of a residual block's tensors (as in the parameter table).
pub fn res_prefix(r: &ResBlock) -> String {
    match r.stage {
        Stage::Encoder => format!("enc.{}.{}.", r.level, r.index),
        Stage::Middle => format!("mid.{}.", r.index),
        Stage::Decoder => format!("dec.{}.{}.", r.level, r.index),
    }
}

fn geometry_at(g: Geometry, level: usize) -> Geometry {
    (0..level).fold(g, |g, _| g.half())
}

fn replicate(bias: &[f32], batch: usize) -> Vec<f32> {
    (0..batch).flat_map(|_| bias.iter().copied()).collect()
}

impl Network {
    /// The network of `config`, running the core's kernels with the fastest ISA here.
    ///
    /// # Errors
    /// An invalid configuration.
    pub fn new(config: UNetConfig) -> Result<Self, Error> {
        config.validate()?;
        let mut slots = HashMap::new();
        let mut weight_mask = vec![false; params_len(&config)];
        for_each_tensor(&config, |t| {
            slots.insert(
                t.name.to_string(),
                Slot {
                    offset: t.offset,
                    len: t.len,
                },
            );
            if matches!(t.kind, ParamKind::Weight { .. }) {
                weight_mask[t.offset..t.offset + t.len].fill(true);
            }
        });
        let mut blocks = Vec::new();
        Plan::new(&config).for_each(|b| blocks.push(b));
        Ok(Self {
            config,
            isa: Isa::detect(),
            slots,
            weight_mask,
            blocks,
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

    fn slot(&self, name: &str) -> Slot {
        self.slots[name]
    }

    fn get<'p>(&self, params: &'p [f32], name: &str) -> &'p [f32] {
        let s = self.slot(name);
        &params[s.offset..s.offset + s.len]
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
        powerpost_core::error::check_len("params", params.len(), self.len)?;
        let n = h * w;
        powerpost_core::error::check_len("noisy", batch.noisy.len(), nb * n)?;
        powerpost_core::error::check_len("condition", batch.condition.len(), nb * n)?;
        powerpost_core::error::check_len("conditional", batch.conditional.len(), nb)?;
        if batch.sigma.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(Error::InvalidArgument {
                name: "sigma",
                expected: "positive finite noise levels",
            });
        }
        for t in tape.tensors.drain(..) {
            tape.scratch.give(t);
        }
        tape.records.clear();
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
        let e = c.embedding_channels;

        // Input tensor: channel 0 = c_in · x, channel 1 = y (conditional) or 0.
        let input = tape.alloc(nb * 2 * plane);
        for b in 0..nb {
            let item = &mut tape.tensors[input][b * 2 * plane..(b + 1) * 2 * plane];
            let (ch0, ch1) = item.split_at_mut(plane);
            pad_into(geometry, &batch.noisy[b * n..(b + 1) * n], ch0);
            let c_in = tape.pre[b].c_in;
            for v in ch0.iter_mut() {
                *v *= c_in;
            }
            if batch.conditional[b] {
                pad_into(geometry, &batch.condition[b * n..(b + 1) * n], ch1);
            }
        }

        // Embedding, per item.
        tape.features = vec![0.0; nb * FOURIER_FEATURES];
        tape.hidden_pre = vec![0.0; nb * e];
        tape.hidden = vec![0.0; nb * e];
        tape.emb_pre = vec![0.0; nb * e];
        tape.emb = vec![0.0; nb * e];
        let null = self.get(params, "emb.null");
        for b in 0..nb {
            let f = &mut tape.features[b * FOURIER_FEATURES..(b + 1) * FOURIER_FEATURES];
            fourier_features(tape.pre[b].c_noise, f)?;
            let hp = &mut tape.hidden_pre[b * e..(b + 1) * e];
            linear(
                self.get(params, "emb.fc0.weight"),
                self.get(params, "emb.fc0.bias"),
                f,
                hp,
            )?;
            for (hv, &p) in tape.hidden[b * e..(b + 1) * e].iter_mut().zip(hp.iter()) {
                *hv = detmath::silu(p);
            }
            let ep = &mut tape.emb_pre[b * e..(b + 1) * e];
            linear(
                self.get(params, "emb.fc1.weight"),
                self.get(params, "emb.fc1.bias"),
                &tape.hidden[b * e..(b + 1) * e],
                ep,
            )?;
            for ((ev, p), &nv) in tape.emb[b * e..(b + 1) * e]
                .iter_mut()
                .zip(ep.iter_mut())
                .zip(null)
            {
                if !batch.conditional[b] {
                    *p += nv;
                }
                *ev = detmath::silu(*p);
            }
        }

        let mut cur = input;
        let mut skip_of_level = [usize::MAX; powerpost_core::unet::config::MAX_LEVELS];
        let mut f_id = usize::MAX;
        for &block in &self.blocks {
            match block {
                Block::ConvIn { channels } => {
                    let out = tape.alloc(nb * geometry.tensor_len(channels));
                    let bias = replicate(self.get(params, "conv_in.bias"), nb);
                    let (before, after) = tape.tensors.split_at_mut(out);
                    conv2d(
                        exec,
                        self.isa,
                        geometry,
                        nb,
                        &[Source {
                            data: &before[cur],
                            channels: c.in_channels,
                        }],
                        &Conv {
                            kernel: 3,
                            out_channels: channels,
                            weight: self.get(params, "conv_in.weight"),
                            bias: &bias,
                            residual: None,
                            residual_scale: 1.0,
                        },
                        &mut after[0],
                    )?;
                    tape.records.push(Record::ConvIn {
                        input: cur,
                        channels,
                    });
                    cur = out;
                }
                Block::Res(r) => {
                    let skip = if r.skip_channels > 0 {
                        Some(skip_of_level[r.level])
                    } else {
                        None
                    };
                    let out = self.res_forward(
                        exec,
                        params,
                        tape,
                        geometry_at(geometry, r.level),
                        &r,
                        cur,
                        skip,
                    )?;
                    if r.saves_skip {
                        skip_of_level[r.level] = out;
                    }
                    cur = out;
                }
                Block::Down { level, channels } => {
                    let fine = geometry_at(geometry, level - 1);
                    let out = tape.alloc(nb * fine.half().tensor_len(channels));
                    let (before, after) = tape.tensors.split_at_mut(out);
                    avg_pool2(exec, fine, nb * channels, &before[cur], &mut after[0])?;
                    tape.records.push(Record::Down { level, channels });
                    cur = out;
                }
                Block::Up { level, channels } => {
                    let coarse = geometry_at(geometry, level);
                    let out = tape.alloc(nb * coarse.double().tensor_len(channels));
                    let (before, after) = tape.tensors.split_at_mut(out);
                    upsample_nearest2(exec, coarse, nb * channels, &before[cur], &mut after[0])?;
                    tape.records.push(Record::Up { level, channels });
                    cur = out;
                }
                Block::Out { channels } => {
                    let len = nb * geometry.tensor_len(channels);
                    let t = tape.alloc(len);
                    {
                        let (before, after) = tape.tensors.split_at_mut(t);
                        let norm = GroupNorm {
                            groups: c.groups(channels),
                            gamma: self.get(params, "out.norm.weight"),
                            beta: self.get(params, "out.norm.bias"),
                            eps: c.eps,
                            silu: true,
                        };
                        group_norm(
                            exec,
                            self.isa,
                            geometry,
                            nb,
                            &[Source {
                                data: &before[cur],
                                channels,
                            }],
                            &norm,
                            &mut after[0],
                        )?;
                    }
                    let f = tape.alloc(nb * geometry.tensor_len(c.out_channels));
                    let bias = replicate(self.get(params, "out.conv.bias"), nb);
                    let (before, after) = tape.tensors.split_at_mut(f);
                    conv2d(
                        exec,
                        self.isa,
                        geometry,
                        nb,
                        &[Source {
                            data: &before[t],
                            channels,
                        }],
                        &Conv {
                            kernel: 3,
                            out_channels: c.out_channels,
                            weight: self.get(params, "out.conv.weight"),
                            bias: &bias,
                            residual: None,
                            residual_scale: 1.0,
                        },
                        &mut after[0],
                    )?;
                    tape.records.push(Record::Out {
                        channels,
                        input: cur,
                        t,
                    });
                    f_id = f;
                }
            }
        }

        // D = c_skip · x + c_out · F.
        tape.denoised = vec![0.0; nb * n];
        let raw = &tape.tensors[f_id];
        for b in 0..nb {
            let pre = tape.pre[b];
            let fp = &raw[b * plane..(b + 1) * plane];
            for y in 0..h {
                let start = geometry.index(y, 0);
                for x in 0..w {
                    let xv = batch.noisy[b * n + y * w + x];
                    tape.denoised[b * n + y * w + x] = pre.c_skip * xv + pre.c_out * fp[start + x];
                }
            }
        }
        Ok(())
    }

    /// One residual block forward (the core's `res_block` sequence); returns the output id.
    #[allow(clippy::too_many_arguments)]
    fn res_forward(
        &self,
        exec: &dyn Executor,
        params: &[f32],
        tape: &mut Tape,
        g: Geometry,
        r: &ResBlock,
        x: usize,
        skip: Option<usize>,
    ) -> Result<usize, Error> {
        let c = &self.config;
        let nb = tape.batch;
        let e = c.embedding_channels;
        let pf = res_prefix(r);
        let q = |s: &str| self.get(params, &format!("{pf}{s}"));
        let (cin, cs, cout) = (r.in_channels, r.skip_channels, r.out_channels);
        let total = cin + cs;
        let t0 = tape.alloc(nb * g.tensor_len(total));
        let u = tape.alloc(nb * g.tensor_len(cout));
        let t1 = tape.alloc(nb * g.tensor_len(cout));
        let out = tape.alloc(nb * g.tensor_len(cout));
        let tensors = &mut tape.tensors;
        // Disjoint borrows: inputs (x, skip) precede t0; t0 < u < t1 < out.
        let (inputs, rest) = tensors.split_at_mut(t0);
        let (t0s, rest) = rest.split_at_mut(1);
        let (us, rest) = rest.split_at_mut(1);
        let (t1s, outs) = rest.split_at_mut(1);
        let xs = &inputs[x];
        let mut sources = vec![Source {
            data: xs,
            channels: cin,
        }];
        if let Some(s) = skip {
            sources.push(Source {
                data: &inputs[s],
                channels: cs,
            });
        }
        // 1. t0 = SiLU(GroupNorm0(concat(x, skip)))
        let norm0 = GroupNorm {
            groups: c.groups(total),
            gamma: q("norm0.weight"),
            beta: q("norm0.bias"),
            eps: c.eps,
            silu: true,
        };
        group_norm(exec, self.isa, g, nb, &sources, &norm0, &mut t0s[0])?;
        // 2. bias_a[b] = conv0.bias + (emb.bias + emb.weight · emb[b])
        let mut bias_a = vec![0.0; nb * cout];
        let mut proj = vec![0.0; cout];
        for b in 0..nb {
            linear(
                q("emb.weight"),
                q("emb.bias"),
                &tape.emb[b * e..(b + 1) * e],
                &mut proj,
            )?;
            for ((d, &b0), &pj) in bias_a[b * cout..(b + 1) * cout]
                .iter_mut()
                .zip(q("conv0.bias"))
                .zip(&proj)
            {
                *d = b0 + pj;
            }
        }
        // 3. u = Conv0(t0) + bias_a
        conv2d(
            exec,
            self.isa,
            g,
            nb,
            &[Source {
                data: &t0s[0],
                channels: total,
            }],
            &Conv {
                kernel: 3,
                out_channels: cout,
                weight: q("conv0.weight"),
                bias: &bias_a,
                residual: None,
                residual_scale: 1.0,
            },
            &mut us[0],
        )?;
        // 4. t1 = SiLU(GroupNorm1(u))
        let norm1 = GroupNorm {
            groups: c.groups(cout),
            gamma: q("norm1.weight"),
            beta: q("norm1.bias"),
            eps: c.eps,
            silu: true,
        };
        group_norm(
            exec,
            self.isa,
            g,
            nb,
            &[Source {
                data: &us[0],
                channels: cout,
            }],
            &norm1,
            &mut t1s[0],
        )?;
        // 5. residual path
        let skip_out;
        let residual: &[f32] = if r.has_skip_conv() {
            let bias = replicate(q("skip.bias"), nb);
            let mut s = vec![0.0; nb * g.tensor_len(cout)];
            conv2d(
                exec,
                self.isa,
                g,
                nb,
                &sources,
                &Conv {
                    kernel: 1,
                    out_channels: cout,
                    weight: q("skip.weight"),
                    bias: &bias,
                    residual: None,
                    residual_scale: 1.0,
                },
                &mut s,
            )?;
            skip_out = s;
            &skip_out
        } else {
            xs
        };
        // 6. out = (Conv1(t1) + s) × 1/√2
        let bias1 = replicate(q("conv1.bias"), nb);
        conv2d(
            exec,
            self.isa,
            g,
            nb,
            &[Source {
                data: &t1s[0],
                channels: cout,
            }],
            &Conv {
                kernel: 3,
                out_channels: cout,
                weight: q("conv1.weight"),
                bias: &bias1,
                residual: Some(residual),
                residual_scale: RESIDUAL_SCALE,
            },
            &mut outs[0],
        )?;
        tape.records.push(Record::Res {
            block: *r,
            x,
            skip,
            t0,
            u,
            t1,
        });
        Ok(out)
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
        powerpost_core::error::check_len("grad_denoised", grad_denoised.len(), nb * n)?;
        powerpost_core::error::check_len("grads", grads.len(), self.len)?;
        grads.fill(0.0);
        let e = c.embedding_channels;
        let geometry = Geometry::new(h, w);
        let plane = geometry.plane_len();
        let mut g_emb = vec![0.0f32; nb * e];
        // ∂L/∂F = c_out · ∂L/∂D.
        let scratch = &tape.scratch;
        let mut g_cur = scratch.take(nb * plane * c.out_channels);
        for b in 0..nb {
            let c_out = tape.pre[b].c_out;
            for y in 0..h {
                let start = geometry.index(y, 0);
                for x in 0..w {
                    g_cur[b * plane + start + x] = c_out * grad_denoised[b * n + y * w + x];
                }
            }
        }
        let mut g_skip: Vec<Option<Vec<f32>>> =
            vec![None; powerpost_core::unet::config::MAX_LEVELS];
        for record in tape.records.iter().rev() {
            match *record {
                Record::Out { channels, input, t } => {
                    let oc = c.out_channels;
                    let ws = self.slot("out.conv.weight");
                    let mut bias_items = vec![0.0; nb * oc];
                    conv_weight_grad(
                        exec,
                        geometry,
                        nb,
                        &[Source {
                            data: &tape.tensors[t],
                            channels,
                        }],
                        3,
                        &g_cur,
                        &mut grads[ws.offset..ws.offset + ws.len],
                        &mut bias_items,
                    )?;
                    self.sum_bias(&bias_items, nb, "out.conv.bias", grads);
                    let mut g_t = scratch.take(nb * geometry.tensor_len(channels));
                    conv_input_grad(
                        exec,
                        self.isa,
                        geometry,
                        nb,
                        3,
                        self.get(params, "out.conv.weight"),
                        oc,
                        channels,
                        &g_cur,
                        &mut g_t,
                    )?;
                    let mut g_in = scratch.take(nb * geometry.tensor_len(channels));
                    let spec = NormSpec {
                        groups: c.groups(channels),
                        gamma: self.get(params, "out.norm.weight"),
                        beta: self.get(params, "out.norm.bias"),
                        eps: c.eps,
                        silu: true,
                    };
                    let (gw, gb) = self.two_grads(grads, "out.norm.weight", "out.norm.bias");
                    group_norm_backward(
                        exec,
                        geometry,
                        nb,
                        &[Source {
                            data: &tape.tensors[input],
                            channels,
                        }],
                        &spec,
                        &g_t,
                        &mut g_in,
                        gw,
                        gb,
                    )?;
                    scratch.give(g_t);
                    scratch.give(std::mem::replace(&mut g_cur, g_in));
                }
                Record::Up { level, channels } => {
                    let coarse = geometry_at(geometry, level);
                    let mut g = scratch.take(nb * coarse.tensor_len(channels));
                    upsample_nearest2_backward(exec, coarse, nb * channels, &g_cur, &mut g);
                    scratch.give(std::mem::replace(&mut g_cur, g));
                }
                Record::Down { level, channels } => {
                    let fine = geometry_at(geometry, level - 1);
                    let mut g = scratch.take(nb * fine.tensor_len(channels));
                    avg_pool2_backward(exec, fine, nb * channels, &g_cur, &mut g);
                    scratch.give(std::mem::replace(&mut g_cur, g));
                }
                Record::Res {
                    block,
                    x,
                    skip,
                    t0,
                    u,
                    t1,
                } => {
                    if block.saves_skip {
                        if let Some(gs) = g_skip[block.level].take() {
                            for (a, &b) in g_cur.iter_mut().zip(&gs) {
                                *a += b;
                            }
                            scratch.give(gs);
                        }
                    }
                    let (g_x, g_s) = self.res_backward(
                        exec,
                        params,
                        tape,
                        geometry_at(geometry, block.level),
                        &block,
                        x,
                        skip,
                        t0,
                        u,
                        t1,
                        &g_cur,
                        grads,
                        &mut g_emb,
                    )?;
                    if let Some(gs) = g_s {
                        g_skip[block.level] = Some(gs);
                    }
                    scratch.give(std::mem::replace(&mut g_cur, g_x));
                }
                Record::ConvIn { input, channels } => {
                    let ws = self.slot("conv_in.weight");
                    let mut bias_items = vec![0.0; nb * channels];
                    conv_weight_grad(
                        exec,
                        geometry,
                        nb,
                        &[Source {
                            data: &tape.tensors[input],
                            channels: c.in_channels,
                        }],
                        3,
                        &g_cur,
                        &mut grads[ws.offset..ws.offset + ws.len],
                        &mut bias_items,
                    )?;
                    self.sum_bias(&bias_items, nb, "conv_in.bias", grads);
                }
            }
        }
        scratch.give(g_cur);
        self.embedding_backward(params, tape, &g_emb, grads);
        Ok(())
    }

    /// Adds the per-item bias gradients (`batch × len`) in batch order into tensor `name`.
    fn sum_bias(&self, items: &[f32], nb: usize, name: &str, grads: &mut [f32]) {
        let s = self.slot(name);
        let dst = &mut grads[s.offset..s.offset + s.len];
        for b in 0..nb {
            for (d, &v) in dst.iter_mut().zip(&items[b * s.len..(b + 1) * s.len]) {
                *d += v;
            }
        }
    }

    /// Two disjoint mutable gradient tensors (the first must precede the second).
    fn two_grads<'g>(
        &self,
        grads: &'g mut [f32],
        first: &str,
        second: &str,
    ) -> (&'g mut [f32], &'g mut [f32]) {
        let (a, b) = (self.slot(first), self.slot(second));
        let (head, tail) = grads.split_at_mut(b.offset);
        (&mut head[a.offset..a.offset + a.len], &mut tail[..b.len])
    }

    /// One residual block backward; returns `(∂L/∂x, ∂L/∂skip)`.
    #[allow(clippy::too_many_arguments)]
    fn res_backward(
        &self,
        exec: &dyn Executor,
        params: &[f32],
        tape: &Tape,
        g: Geometry,
        r: &ResBlock,
        x: usize,
        skip: Option<usize>,
        t0: usize,
        u: usize,
        t1: usize,
        g_out: &[f32],
        grads: &mut [f32],
        g_emb: &mut [f32],
    ) -> Result<(Vec<f32>, Option<Vec<f32>>), Error> {
        let c = &self.config;
        let nb = tape.batch;
        let e = c.embedding_channels;
        let pf = res_prefix(r);
        let name = |s: &str| format!("{pf}{s}");
        let q = |s: &str| self.get(params, &name(s));
        let (cin, cs, cout) = (r.in_channels, r.skip_channels, r.out_channels);
        let total = cin + cs;
        let plane = g.plane_len();
        let mut sources = vec![Source {
            data: &tape.tensors[x],
            channels: cin,
        }];
        if let Some(s) = skip {
            sources.push(Source {
                data: &tape.tensors[s],
                channels: cs,
            });
        }
        // out = (acc + s)·k: ∂acc = ∂s = k·∂out.
        let scratch = &tape.scratch;
        let mut g_acc = scratch.take(g_out.len());
        for (a, &v) in g_acc.iter_mut().zip(g_out) {
            *a = v * RESIDUAL_SCALE;
        }
        // Conv1.
        let mut bias_items = vec![0.0; nb * cout];
        {
            let ws = self.slot(&name("conv1.weight"));
            conv_weight_grad(
                exec,
                g,
                nb,
                &[Source {
                    data: &tape.tensors[t1],
                    channels: cout,
                }],
                3,
                &g_acc,
                &mut grads[ws.offset..ws.offset + ws.len],
                &mut bias_items,
            )?;
            self.sum_bias(&bias_items, nb, &name("conv1.bias"), grads);
        }
        let mut g_t1 = scratch.take(nb * g.tensor_len(cout));
        conv_input_grad(
            exec,
            self.isa,
            g,
            nb,
            3,
            q("conv1.weight"),
            cout,
            cout,
            &g_acc,
            &mut g_t1,
        )?;
        // Norm1.
        let mut g_u = scratch.take(nb * g.tensor_len(cout));
        {
            let spec = NormSpec {
                groups: c.groups(cout),
                gamma: q("norm1.weight"),
                beta: q("norm1.bias"),
                eps: c.eps,
                silu: true,
            };
            let (gw, gb) = self.two_grads(grads, &name("norm1.weight"), &name("norm1.bias"));
            group_norm_backward(
                exec,
                g,
                nb,
                &[Source {
                    data: &tape.tensors[u],
                    channels: cout,
                }],
                &spec,
                &g_t1,
                &mut g_u,
                gw,
                gb,
            )?;
        }
        scratch.give(g_t1);
        // Conv0 (bias per item = conv0.bias + emb projection).
        {
            let ws = self.slot(&name("conv0.weight"));
            conv_weight_grad(
                exec,
                g,
                nb,
                &[Source {
                    data: &tape.tensors[t0],
                    channels: total,
                }],
                3,
                &g_u,
                &mut grads[ws.offset..ws.offset + ws.len],
                &mut bias_items,
            )?;
            self.sum_bias(&bias_items, nb, &name("conv0.bias"), grads);
            let (gw, gb) = self.two_grads(grads, &name("emb.weight"), &name("emb.bias"));
            for b in 0..nb {
                linear_backward(
                    q("emb.weight"),
                    &tape.emb[b * e..(b + 1) * e],
                    &bias_items[b * cout..(b + 1) * cout],
                    gw,
                    gb,
                    Some(&mut g_emb[b * e..(b + 1) * e]),
                );
            }
        }
        let mut g_t0 = scratch.take(nb * g.tensor_len(total));
        conv_input_grad(
            exec,
            self.isa,
            g,
            nb,
            3,
            q("conv0.weight"),
            cout,
            total,
            &g_u,
            &mut g_t0,
        )?;
        scratch.give(g_u);
        // Norm0 over concat(x, skip).
        let mut g_cat = scratch.take(nb * g.tensor_len(total));
        {
            let spec = NormSpec {
                groups: c.groups(total),
                gamma: q("norm0.weight"),
                beta: q("norm0.bias"),
                eps: c.eps,
                silu: true,
            };
            let (gw, gb) = self.two_grads(grads, &name("norm0.weight"), &name("norm0.bias"));
            group_norm_backward(exec, g, nb, &sources, &spec, &g_t0, &mut g_cat, gw, gb)?;
        }
        scratch.give(g_t0);
        // Residual path.
        if r.has_skip_conv() {
            let ws = self.slot(&name("skip.weight"));
            conv_weight_grad(
                exec,
                g,
                nb,
                &sources,
                1,
                &g_acc,
                &mut grads[ws.offset..ws.offset + ws.len],
                &mut bias_items,
            )?;
            self.sum_bias(&bias_items, nb, &name("skip.bias"), grads);
            let mut g_res = scratch.take(nb * g.tensor_len(total));
            conv_input_grad(
                exec,
                self.isa,
                g,
                nb,
                1,
                q("skip.weight"),
                cout,
                total,
                &g_acc,
                &mut g_res,
            )?;
            for (a, &b) in g_cat.iter_mut().zip(&g_res) {
                *a += b;
            }
            scratch.give(g_res);
        } else {
            for (a, &b) in g_cat.iter_mut().zip(&g_acc) {
                *a += b;
            }
        }
        scratch.give(g_acc);
        if cs == 0 {
            return Ok((g_cat, None));
        }
        let mut g_x = scratch.take(nb * cin * plane);
        let mut g_s = scratch.take(nb * cs * plane);
        for b in 0..nb {
            let item = &g_cat[b * total * plane..(b + 1) * total * plane];
            g_x[b * cin * plane..(b + 1) * cin * plane].copy_from_slice(&item[..cin * plane]);
            g_s[b * cs * plane..(b + 1) * cs * plane].copy_from_slice(&item[cin * plane..]);
        }
        scratch.give(g_cat);
        Ok((g_x, Some(g_s)))
    }

    /// Backward through the embedding MLP and the null embedding.
    fn embedding_backward(&self, params: &[f32], tape: &Tape, g_emb: &[f32], grads: &mut [f32]) {
        let e = self.config.embedding_channels;
        let nb = tape.batch;
        let mut g_hidden = vec![0.0f32; e];
        for b in 0..nb {
            let g_pre: Vec<f32> = (0..e)
                .map(|k| g_emb[b * e + k] * silu_grad(tape.emb_pre[b * e + k]))
                .collect();
            if !tape.conditional[b] {
                let s = self.slot("emb.null");
                for (d, &v) in grads[s.offset..s.offset + s.len].iter_mut().zip(&g_pre) {
                    *d += v;
                }
            }
            g_hidden.fill(0.0);
            {
                let (gw, gb) = self.two_grads(grads, "emb.fc1.weight", "emb.fc1.bias");
                linear_backward(
                    self.get(params, "emb.fc1.weight"),
                    &tape.hidden[b * e..(b + 1) * e],
                    &g_pre,
                    gw,
                    gb,
                    Some(&mut g_hidden),
                );
            }
            let g_hpre: Vec<f32> = (0..e)
                .map(|k| g_hidden[k] * silu_grad(tape.hidden_pre[b * e + k]))
                .collect();
            let (gw, gb) = self.two_grads(grads, "emb.fc0.weight", "emb.fc0.bias");
            linear_backward(
                self.get(params, "emb.fc0.weight"),
                &tape.features[b * FOURIER_FEATURES..(b + 1) * FOURIER_FEATURES],
                &g_hpre,
                gw,
                gb,
                None,
            );
        }
    }
}
