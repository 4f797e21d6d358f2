//! The forward pass: EDM preconditioning around the raw U-Net `F`, batch of one or two
//! (the conditional and the unconditional branch of the same `x`).

use super::config::{UNetConfig, FOURIER_FEATURES, MAX_LEVELS};
use super::params::{params_len, ConvParams, Cursor, EmbeddingParams, OutParams, ResParams};
use super::plan::{Block, Plan, ResBlock};
use crate::detmath;
use crate::error::{check_len, Error};
use crate::exec::Executor;
use crate::nn::conv::{conv2d, Conv, Source};
use crate::nn::geometry::{pad_into, Geometry};
use crate::nn::linear::{fourier_features, linear};
use crate::nn::norm::{group_norm, GroupNorm};
use crate::nn::resample::{avg_pool2, upsample_nearest2};
use crate::nn::simd::Isa;

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
    /// The condition y (normalised RTM image), `height × width`; used by the conditional
    /// branch only.
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

/// Index of the ping-pong, scratch and skip buffers inside the workspace.
const X0: usize = 0;
const X1: usize = 1;
const T: usize = 2;
const H: usize = 3;
const SKIP0: usize = 4;
const BUFFERS: usize = SKIP0 + MAX_LEVELS;

/// Sizes of the workspace's parts for one geometry and batch.
#[derive(Debug, Clone, Copy)]
struct Layout {
    sizes: [usize; BUFFERS],
    vectors: usize,
}

impl Layout {
    fn new(config: &UNetConfig, geometry: Geometry, batch: usize) -> Self {
        let mut sizes = [0usize; BUFFERS];
        let mut max_channels = config.in_channels.max(config.out_channels);
        let geom = |level: usize| {
            let mut g = geometry;
            for _ in 0..level {
                g = g.half();
            }
            g
        };
        let mut grow = |slot: usize, channels: usize, level: usize| {
            let n = batch * geom(level).tensor_len(channels);
            sizes[slot] = sizes[slot].max(n);
        };
        grow(X0, config.in_channels, 0);
        grow(X1, config.in_channels, 0);
        grow(H, config.out_channels, 0);
        Plan::new(config).for_each(|block| match block {
            Block::ConvIn { channels } | Block::Out { channels } => {
                grow(X0, channels, 0);
                grow(X1, channels, 0);
                grow(T, channels, 0);
                max_channels = max_channels.max(channels);
            }
            Block::Res(r) => {
                grow(X0, r.in_channels.max(r.out_channels), r.level);
                grow(X1, r.in_channels.max(r.out_channels), r.level);
                grow(T, r.total_in().max(r.out_channels), r.level);
                grow(H, r.out_channels, r.level);
                if r.saves_skip {
                    grow(SKIP0 + r.level, r.out_channels, r.level);
                }
                max_channels = max_channels.max(r.total_in()).max(r.out_channels);
            }
            Block::Down { level, channels } => {
                grow(X0, channels, level);
                grow(X1, channels, level);
            }
            Block::Up { level, channels } => {
                grow(X0, channels, level - 1);
                grow(X1, channels, level - 1);
            }
        });
        let e = config.embedding_channels;
        // feat, hidden, emb[batch], projection, bias_a[batch], bias_b[batch]
        let vectors = FOURIER_FEATURES + e + batch * e + max_channels + 2 * batch * max_channels;
        Self { sizes, vectors }
    }

    fn total(&self) -> usize {
        self.sizes.iter().sum::<usize>() + self.vectors
    }
}

/// Workspace values (f32) that [`UNet::denoise`] needs for an image of
/// `height × width` and `batch` branches (1 or 2).
pub fn workspace_len(config: &UNetConfig, height: usize, width: usize, batch: usize) -> usize {
    Layout::new(config, Geometry::new(height, width), batch).total()
}

/// Borrows two buffers for reading and one for writing from the buffer table.
///
/// `write` must differ from both `read` indices (which may be equal).
fn split<'a>(
    bufs: &'a mut [&mut [f32]; BUFFERS],
    read: [usize; 2],
    write: usize,
) -> ([&'a [f32]; 2], &'a mut [f32]) {
    let mut r: [&'a [f32]; 2] = [&[], &[]];
    let mut w: &'a mut [f32] = &mut [];
    for (i, b) in bufs.iter_mut().enumerate() {
        if i == write {
            w = &mut **b;
        } else if read.contains(&i) {
            let s: &'a [f32] = &**b;
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
    isa: Isa,
}

/// The small per-call vectors carved from the end of the workspace.
struct Vectors<'w> {
    features: &'w mut [f32],
    hidden: &'w mut [f32],
    emb: &'w mut [f32],
    projection: &'w mut [f32],
    bias_a: &'w mut [f32],
    bias_b: &'w mut [f32],
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
            isa: Isa::detect(),
        })
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

    /// Evaluates the denoiser D(x; σ, y) and/or D(x; σ, ∅) in one batched pass.
    ///
    /// The conditional branch (if requested) is batch item 0 and sees `condition`; the
    /// unconditional branch sees a zero condition and the learned null embedding.
    /// `workspace` must hold [`workspace_len`]`(config, height, width, batch)` values,
    /// `batch` being the number of requested branches.
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
            check_len("condition", input.condition.len(), n)?;
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
        let geometry = Geometry::new(h, w);
        let layout = Layout::new(c, geometry, batch);
        check_len("workspace", workspace.len(), layout.total())?;

        // Carve the workspace.
        let mut rest: &mut [f32] = workspace;
        let mut bufs: [&mut [f32]; BUFFERS] = Default::default();
        for (slot, &size) in bufs.iter_mut().zip(layout.sizes.iter()) {
            let (head, tail) = rest.split_at_mut(size);
            *slot = head;
            rest = tail;
        }
        let e = c.embedding_channels;
        let (features, rest) = rest.split_at_mut(FOURIER_FEATURES);
        let (hidden, rest) = rest.split_at_mut(e);
        let (emb, rest) = rest.split_at_mut(batch * e);
        let bias_len = rest.len() / (1 + 2 * batch);
        let (projection, rest) = rest.split_at_mut(bias_len);
        let (bias_a, bias_b) = rest.split_at_mut(batch * bias_len);
        let mut v = Vectors {
            features,
            hidden,
            emb,
            projection,
            bias_a,
            bias_b,
        };

        let pre = Preconditioning::new(input.sigma, c.sigma_data);
        // Input tensor: channel 0 = c_in · x, channel 1 = y (conditional) or 0.
        {
            let plane = geometry.plane_len();
            let x_in = &mut bufs[X1][..batch * 2 * plane];
            for b in 0..batch {
                let item = &mut x_in[b * 2 * plane..(b + 1) * 2 * plane];
                let (ch0, ch1) = item.split_at_mut(plane);
                pad_into(geometry, input.x, ch0);
                for value in ch0.iter_mut() {
                    *value *= pre.c_in;
                }
                if b == 0 && want_cond {
                    pad_into(geometry, input.condition, ch1);
                } else {
                    ch1.fill(0.0);
                }
            }
        }

        let mut cursor = Cursor::new(self.params);
        let emb_params = EmbeddingParams::take(c, &mut cursor);
        self.embedding(&emb_params, pre.c_noise, batch, want_cond, &mut v)?;

        let mut cur = X1;
        let mut level = 0usize;
        let mut result: Result<(), Error> = Ok(());
        let levels_geometry = |level: usize| {
            let mut g = geometry;
            for _ in 0..level {
                g = g.half();
            }
            g
        };
        let mut skip_of_level = [usize::MAX; MAX_LEVELS];
        Plan::new(c).for_each(|block| {
            if result.is_err() {
                return;
            }
            result = (|| -> Result<(), Error> {
                match block {
                    Block::ConvIn { channels } => {
                        let p = ConvParams::take_conv_in(c, &mut cursor);
                        replicate(p.bias, batch, v.bias_b);
                        let g = geometry;
                        let ([xin, _], out) = split(&mut bufs, [cur, cur], X0);
                        conv2d(
                            exec,
                            self.isa,
                            g,
                            batch,
                            &[Source {
                                data: &xin[..batch * g.tensor_len(c.in_channels)],
                                channels: c.in_channels,
                            }],
                            &Conv {
                                kernel: 3,
                                out_channels: channels,
                                weight: p.weight,
                                bias: &v.bias_b[..batch * channels],
                                residual: None,
                                residual_scale: 1.0,
                            },
                            &mut out[..batch * g.tensor_len(channels)],
                        )?;
                        cur = X0;
                    }
                    Block::Res(r) => {
                        let p = ResParams::take(c, &r, &mut cursor);
                        let g = levels_geometry(r.level);
                        let dst = if r.saves_skip {
                            SKIP0 + r.level
                        } else if cur == X0 {
                            X1
                        } else {
                            X0
                        };
                        let skip = if r.skip_channels > 0 {
                            skip_of_level[r.level]
                        } else {
                            cur
                        };
                        self.res_block(exec, g, batch, &r, &p, &mut bufs, cur, skip, dst, &mut v)?;
                        if r.saves_skip {
                            skip_of_level[r.level] = dst;
                        }
                        cur = dst;
                    }
                    Block::Down {
                        level: to,
                        channels,
                    } => {
                        let fine = levels_geometry(to - 1);
                        let dst = if cur == X0 { X1 } else { X0 };
                        let ([xin, _], out) = split(&mut bufs, [cur, cur], dst);
                        avg_pool2(
                            exec,
                            fine,
                            batch * channels,
                            &xin[..batch * fine.tensor_len(channels)],
                            &mut out[..batch * fine.half().tensor_len(channels)],
                        )?;
                        cur = dst;
                        level = to;
                    }
                    Block::Up {
                        level: from,
                        channels,
                    } => {
                        let coarse = levels_geometry(from);
                        let dst = if cur == X0 { X1 } else { X0 };
                        let ([xin, _], out) = split(&mut bufs, [cur, cur], dst);
                        upsample_nearest2(
                            exec,
                            coarse,
                            batch * channels,
                            &xin[..batch * coarse.tensor_len(channels)],
                            &mut out[..batch * coarse.double().tensor_len(channels)],
                        )?;
                        cur = dst;
                        level = from - 1;
                    }
                    Block::Out { channels } => {
                        let p = OutParams::take(c, channels, &mut cursor);
                        let g = geometry;
                        let len = batch * g.tensor_len(channels);
                        {
                            let ([xin, _], t) = split(&mut bufs, [cur, cur], T);
                            let norm = GroupNorm {
                                groups: c.groups(channels),
                                gamma: p.norm_weight,
                                beta: p.norm_bias,
                                eps: c.eps,
                                silu: true,
                            };
                            group_norm(
                                exec,
                                self.isa,
                                g,
                                batch,
                                &[Source {
                                    data: &xin[..len],
                                    channels,
                                }],
                                &norm,
                                &mut t[..len],
                            )?;
                        }
                        replicate(p.conv.bias, batch, v.bias_b);
                        let ([t, _], out) = split(&mut bufs, [T, T], H);
                        let oc = c.out_channels;
                        conv2d(
                            exec,
                            self.isa,
                            g,
                            batch,
                            &[Source {
                                data: &t[..len],
                                channels,
                            }],
                            &Conv {
                                kernel: 3,
                                out_channels: oc,
                                weight: p.conv.weight,
                                bias: &v.bias_b[..batch * oc],
                                residual: None,
                                residual_scale: 1.0,
                            },
                            &mut out[..batch * g.tensor_len(oc)],
                        )?;
                    }
                }
                Ok(())
            })();
        });
        result?;
        let _ = level;

        // D = c_skip · x + c_out · F.
        let raw = &bufs[H];
        let plane = geometry.plane_len();
        let mut item = 0;
        for out in [output.conditional, output.unconditional]
            .into_iter()
            .flatten()
        {
            let f = &raw[item * plane..(item + 1) * plane];
            for (y, row) in out.chunks_exact_mut(w).enumerate() {
                let start = geometry.index(y, 0);
                let xs = &input.x[y * w..(y + 1) * w];
                for ((o, &fx), &xv) in row.iter_mut().zip(&f[start..start + w]).zip(xs) {
                    *o = pre.c_skip * xv + pre.c_out * fx;
                }
            }
            item += 1;
        }
        Ok(())
    }

    /// Computes the noise embedding of every batch item into `v.emb`:
    /// `emb = SiLU(fc1 · SiLU(fc0 · fourier(c_noise) + b0) + b1 [+ null])`, the null
    /// embedding being added for the unconditional item.
    fn embedding(
        &self,
        p: &EmbeddingParams<'_>,
        c_noise: f32,
        batch: usize,
        want_cond: bool,
        v: &mut Vectors<'_>,
    ) -> Result<(), Error> {
        let e = self.config.embedding_channels;
        fourier_features(c_noise, v.features)?;
        linear(p.fc0_weight, p.fc0_bias, v.features, v.hidden)?;
        for value in v.hidden.iter_mut() {
            *value = detmath::silu(*value);
        }
        for b in 0..batch {
            let item = &mut v.emb[b * e..(b + 1) * e];
            linear(p.fc1_weight, p.fc1_bias, v.hidden, item)?;
            let unconditional = !(b == 0 && want_cond);
            for (value, &null) in item.iter_mut().zip(p.null) {
                if unconditional {
                    *value += null;
                }
                *value = detmath::silu(*value);
            }
        }
        Ok(())
    }

    /// Runs one residual block from buffer `cur` (and `skip`) into buffer `dst`.
    #[allow(clippy::too_many_arguments)]
    fn res_block(
        &self,
        exec: &dyn Executor,
        g: Geometry,
        batch: usize,
        r: &ResBlock,
        p: &ResParams<'_>,
        bufs: &mut [&mut [f32]; BUFFERS],
        cur: usize,
        skip: usize,
        dst: usize,
        v: &mut Vectors<'_>,
    ) -> Result<(), Error> {
        let c = &self.config;
        let (cin, cs, cout) = (r.in_channels, r.skip_channels, r.out_channels);
        let total = cin + cs;
        let in_len = batch * g.tensor_len(cin);
        let skip_len = batch * g.tensor_len(cs);
        let total_len = batch * g.tensor_len(total);
        let out_len = batch * g.tensor_len(cout);
        // 1. t = SiLU(GroupNorm0(concat(x, skip)))
        {
            let ([x, s], t) = split(bufs, [cur, skip], T);
            let mut sources = [
                Source {
                    data: &x[..in_len],
                    channels: cin,
                },
                Source {
                    data: &s[..skip_len],
                    channels: cs,
                },
            ];
            let count = if cs > 0 { 2 } else { 1 };
            sources[1].data = &s[..skip_len];
            let norm = GroupNorm {
                groups: c.groups(total),
                gamma: p.norm0_weight,
                beta: p.norm0_bias,
                eps: c.eps,
                silu: true,
            };
            group_norm(
                exec,
                self.isa,
                g,
                batch,
                &sources[..count],
                &norm,
                &mut t[..total_len],
            )?;
        }
        // 2. bias_a[b] = conv0.bias + (emb.bias + emb.weight · emb[b])
        let e = c.embedding_channels;
        for b in 0..batch {
            let proj = &mut v.projection[..cout];
            linear(p.emb_weight, p.emb_bias, &v.emb[b * e..(b + 1) * e], proj)?;
            for ((dst_bias, &b0), &pj) in v.bias_a[b * cout..(b + 1) * cout]
                .iter_mut()
                .zip(p.conv0_bias)
                .zip(proj.iter())
            {
                *dst_bias = b0 + pj;
            }
        }
        // 3. u = Conv0(t) + bias_a
        {
            let ([t, _], u) = split(bufs, [T, T], H);
            conv2d(
                exec,
                self.isa,
                g,
                batch,
                &[Source {
                    data: &t[..total_len],
                    channels: total,
                }],
                &Conv {
                    kernel: 3,
                    out_channels: cout,
                    weight: p.conv0_weight,
                    bias: &v.bias_a[..batch * cout],
                    residual: None,
                    residual_scale: 1.0,
                },
                &mut u[..out_len],
            )?;
        }
        // 4. t = SiLU(GroupNorm1(u))
        {
            let ([u, _], t) = split(bufs, [H, H], T);
            let norm = GroupNorm {
                groups: c.groups(cout),
                gamma: p.norm1_weight,
                beta: p.norm1_bias,
                eps: c.eps,
                silu: true,
            };
            group_norm(
                exec,
                self.isa,
                g,
                batch,
                &[Source {
                    data: &u[..out_len],
                    channels: cout,
                }],
                &norm,
                &mut t[..out_len],
            )?;
        }
        // 5. residual path: s = Conv1×1_skip(concat(x, skip)) into H, or x itself.
        let residual_slot = if let Some((weight, bias)) = p.skip {
            replicate(bias, batch, v.bias_b);
            let ([x, s], out) = split(bufs, [cur, skip], H);
            let sources = [
                Source {
                    data: &x[..in_len],
                    channels: cin,
                },
                Source {
                    data: &s[..skip_len],
                    channels: cs,
                },
            ];
            let count = if cs > 0 { 2 } else { 1 };
            conv2d(
                exec,
                self.isa,
                g,
                batch,
                &sources[..count],
                &Conv {
                    kernel: 1,
                    out_channels: cout,
                    weight,
                    bias: &v.bias_b[..batch * cout],
                    residual: None,
                    residual_scale: 1.0,
                },
                &mut out[..out_len],
            )?;
            H
        } else {
            cur
        };
        // 6. out = (Conv1(t) + s) × 1/√2
        replicate(p.conv1_bias, batch, v.bias_b);
        let ([t, s], out) = split(bufs, [T, residual_slot], dst);
        conv2d(
            exec,
            self.isa,
            g,
            batch,
            &[Source {
                data: &t[..out_len],
                channels: cout,
            }],
            &Conv {
                kernel: 3,
                out_channels: cout,
                weight: p.conv1_weight,
                bias: &v.bias_b[..batch * cout],
                residual: Some(&s[..out_len]),
                residual_scale: RESIDUAL_SCALE,
            },
            &mut out[..out_len],
        )?;
        Ok(())
    }
}

/// Writes `bias` once per batch item into the front of `dst`.
fn replicate(bias: &[f32], batch: usize, dst: &mut [f32]) {
    for b in 0..batch {
        dst[b * bias.len()..(b + 1) * bias.len()].copy_from_slice(bias);
    }
}
