//! The parameter table: every tensor's name, shape and place in the flat f32 buffer.
//!
//! Parameters live in one contiguous `&[f32]` of [`params_len`] values, tensor after tensor
//! in table order, each in its logical row-major layout (`[out][in][kh][kw]` for
//! convolutions, `[out][in]` for linear layers). The same order names the tensors of the
//! safetensors weights file.
//!
//! Table order: the embedding MLP (`emb.fc0.weight [E, F]`, `emb.fc0.bias [E]`,
//! `emb.fc1.weight [E, E]`, `emb.fc1.bias [E]`, `emb.null [E]`), then the blocks of the
//! [`Plan`] in order:
//! - `conv_in.weight [C, 2, 3, 3]`, `conv_in.bias [C]`;
//! - residual block `P` (`enc.{level}.{index}`, `mid.{index}`, `dec.{level}.{index}`):
//!   `P.norm0.weight [I]`, `P.norm0.bias [I]`, `P.conv0.weight [O, I, 3, 3]`,
//!   `P.conv0.bias [O]`, `P.emb.weight [O, E]`, `P.emb.bias [O]`, `P.norm1.weight [O]`,
//!   `P.norm1.bias [O]`, `P.conv1.weight [O, O, 3, 3]`, `P.conv1.bias [O]`, and when
//!   `I ≠ O`: `P.skip.weight [O, I, 1, 1]`, `P.skip.bias [O]` (`I` counts the skip
//!   connection's channels);
//! - `out.norm.weight [C]`, `out.norm.bias [C]`, `out.conv.weight [1, C, 3, 3]`,
//!   `out.conv.bias [1]`.

use super::config::{UNetConfig, FOURIER_FEATURES};
use super::plan::{Block, Plan, ResBlock, Stage};
use core::fmt::Write;

/// Longest tensor name.
pub const MAX_NAME: usize = 40;

/// A tensor name (no allocation).
pub type TensorName = heapless::String<MAX_NAME>;

/// What a tensor is, for initialisation and for the trainer's optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Convolution or linear weight with the given fan-in.
    Weight {
        /// Inputs per output.
        fan_in: usize,
    },
    /// Additive bias.
    Bias,
    /// Group-norm scale γ (initialised to 1).
    NormScale,
    /// Group-norm shift β.
    NormShift,
    /// The learned null-condition embedding.
    NullEmbedding,
}

/// One entry of the parameter table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Name in the weights file.
    pub name: TensorName,
    /// Shape (first `rank` entries).
    pub shape: [usize; 4],
    /// Number of dimensions.
    pub rank: usize,
    /// Offset of the first value in the flat buffer.
    pub offset: usize,
    /// Number of values.
    pub len: usize,
    /// Role of the tensor.
    pub kind: ParamKind,
}

impl TensorSpec {
    /// The shape as a slice.
    pub fn shape(&self) -> &[usize] {
        &self.shape[..self.rank]
    }
}

/// Calls `f(suffix, shape, kind)` for each tensor of a residual block, in table order.
fn res_tensors(c: &UNetConfig, r: &ResBlock, mut f: impl FnMut(&'static str, &[usize], ParamKind)) {
    let (i, o, e) = (r.total_in(), r.out_channels, c.embedding_channels);
    f("norm0.weight", &[i], ParamKind::NormScale);
    f("norm0.bias", &[i], ParamKind::NormShift);
    f(
        "conv0.weight",
        &[o, i, 3, 3],
        ParamKind::Weight { fan_in: i * 9 },
    );
    f("conv0.bias", &[o], ParamKind::Bias);
    f("emb.weight", &[o, e], ParamKind::Weight { fan_in: e });
    f("emb.bias", &[o], ParamKind::Bias);
    f("norm1.weight", &[o], ParamKind::NormScale);
    f("norm1.bias", &[o], ParamKind::NormShift);
    f(
        "conv1.weight",
        &[o, o, 3, 3],
        ParamKind::Weight { fan_in: o * 9 },
    );
    f("conv1.bias", &[o], ParamKind::Bias);
    if r.has_skip_conv() {
        f(
            "skip.weight",
            &[o, i, 1, 1],
            ParamKind::Weight { fan_in: i },
        );
        f("skip.bias", &[o], ParamKind::Bias);
    }
}

/// Calls `f(prefix, suffix, shape, kind)` for every tensor of `config`, in table order.
fn walk(
    config: &UNetConfig,
    mut f: impl FnMut(&dyn Fn(&mut TensorName), &'static str, &[usize], ParamKind),
) {
    let (e, ff) = (config.embedding_channels, FOURIER_FEATURES);
    let emb = |n: &mut TensorName| {
        let _ = n.push_str("emb.");
    };
    f(
        &emb,
        "fc0.weight",
        &[e, ff],
        ParamKind::Weight { fan_in: ff },
    );
    f(&emb, "fc0.bias", &[e], ParamKind::Bias);
    f(&emb, "fc1.weight", &[e, e], ParamKind::Weight { fan_in: e });
    f(&emb, "fc1.bias", &[e], ParamKind::Bias);
    f(&emb, "null", &[e], ParamKind::NullEmbedding);
    Plan::new(config).for_each(|block| match block {
        Block::ConvIn { channels } => {
            let p = |n: &mut TensorName| {
                let _ = n.push_str("conv_in.");
            };
            let cin = config.in_channels;
            f(
                &p,
                "weight",
                &[channels, cin, 3, 3],
                ParamKind::Weight { fan_in: cin * 9 },
            );
            f(&p, "bias", &[channels], ParamKind::Bias);
        }
        Block::Res(r) => {
            let p = |n: &mut TensorName| {
                let _ = match r.stage {
                    Stage::Encoder => write!(n, "enc.{}.{}.", r.level, r.index),
                    Stage::Middle => write!(n, "mid.{}.", r.index),
                    Stage::Decoder => write!(n, "dec.{}.{}.", r.level, r.index),
                };
            };
            res_tensors(config, &r, |suffix, shape, kind| f(&p, suffix, shape, kind));
        }
        Block::Down { .. } | Block::Up { .. } => {}
        Block::Out { channels } => {
            let p = |n: &mut TensorName| {
                let _ = n.push_str("out.");
            };
            f(&p, "norm.weight", &[channels], ParamKind::NormScale);
            f(&p, "norm.bias", &[channels], ParamKind::NormShift);
            f(
                &p,
                "conv.weight",
                &[config.out_channels, channels, 3, 3],
                ParamKind::Weight {
                    fan_in: channels * 9,
                },
            );
            f(&p, "conv.bias", &[config.out_channels], ParamKind::Bias);
        }
    });
}

/// Calls `f` with every tensor of the parameter table, in order.
pub fn for_each_tensor(config: &UNetConfig, mut f: impl FnMut(&TensorSpec)) {
    let mut offset = 0;
    walk(config, |prefix, suffix, shape, kind| {
        let mut name = TensorName::new();
        prefix(&mut name);
        let _ = name.push_str(suffix);
        let mut s = [0usize; 4];
        s[..shape.len()].copy_from_slice(shape);
        let len = shape.iter().product();
        let spec = TensorSpec {
            name,
            shape: s,
            rank: shape.len(),
            offset,
            len,
            kind,
        };
        offset += len;
        f(&spec);
    });
}

/// Number of f32 values in the flat parameter buffer of `config`.
pub fn params_len(config: &UNetConfig) -> usize {
    let mut n = 0;
    for_each_tensor(config, |t| n += t.len);
    n
}

/// Number of tensors in the parameter table of `config`.
pub fn tensor_count(config: &UNetConfig) -> usize {
    let mut n = 0;
    for_each_tensor(config, |_| n += 1);
    n
}

/// Hands out consecutive parameter slices in table order.
#[derive(Debug)]
pub(crate) struct Cursor<'p> {
    rest: &'p [f32],
}

impl<'p> Cursor<'p> {
    /// A cursor at the start of `params` (which must hold [`params_len`] values).
    pub(crate) fn new(params: &'p [f32]) -> Self {
        Self { rest: params }
    }

    /// The next `len` values.
    pub(crate) fn take(&mut self, len: usize) -> &'p [f32] {
        let (head, tail) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = tail;
        head
    }
}

/// The embedding MLP's parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddingParams<'p> {
    pub fc0_weight: &'p [f32],
    pub fc0_bias: &'p [f32],
    pub fc1_weight: &'p [f32],
    pub fc1_bias: &'p [f32],
    pub null: &'p [f32],
}

impl<'p> EmbeddingParams<'p> {
    /// Takes the embedding's tensors (table order, see [`walk`]).
    pub(crate) fn take(c: &UNetConfig, cur: &mut Cursor<'p>) -> Self {
        let (e, ff) = (c.embedding_channels, FOURIER_FEATURES);
        Self {
            fc0_weight: cur.take(e * ff),
            fc0_bias: cur.take(e),
            fc1_weight: cur.take(e * e),
            fc1_bias: cur.take(e),
            null: cur.take(e),
        }
    }
}

/// A residual block's parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResParams<'p> {
    pub norm0_weight: &'p [f32],
    pub norm0_bias: &'p [f32],
    pub conv0_weight: &'p [f32],
    pub conv0_bias: &'p [f32],
    pub emb_weight: &'p [f32],
    pub emb_bias: &'p [f32],
    pub norm1_weight: &'p [f32],
    pub norm1_bias: &'p [f32],
    pub conv1_weight: &'p [f32],
    pub conv1_bias: &'p [f32],
    pub skip: Option<(&'p [f32], &'p [f32])>,
}

impl<'p> ResParams<'p> {
    /// Takes a residual block's tensors (table order, see [`res_tensors`]).
    pub(crate) fn take(c: &UNetConfig, r: &ResBlock, cur: &mut Cursor<'p>) -> Self {
        let (i, o, e) = (r.total_in(), r.out_channels, c.embedding_channels);
        Self {
            norm0_weight: cur.take(i),
            norm0_bias: cur.take(i),
            conv0_weight: cur.take(o * i * 9),
            conv0_bias: cur.take(o),
            emb_weight: cur.take(o * e),
            emb_bias: cur.take(o),
            norm1_weight: cur.take(o),
            norm1_bias: cur.take(o),
            conv1_weight: cur.take(o * o * 9),
            conv1_bias: cur.take(o),
            skip: if r.has_skip_conv() {
                Some((cur.take(o * i), cur.take(o)))
            } else {
                None
            },
        }
    }
}

/// The convolution-in and output head's parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvParams<'p> {
    pub weight: &'p [f32],
    pub bias: &'p [f32],
}

/// The output head's parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutParams<'p> {
    pub norm_weight: &'p [f32],
    pub norm_bias: &'p [f32],
    pub conv: ConvParams<'p>,
}

impl<'p> ConvParams<'p> {
    /// Takes the input convolution's tensors.
    pub(crate) fn take_conv_in(c: &UNetConfig, cur: &mut Cursor<'p>) -> Self {
        Self {
            weight: cur.take(c.base_channels * c.in_channels * 9),
            bias: cur.take(c.base_channels),
        }
    }
}

impl<'p> OutParams<'p> {
    /// Takes the output head's tensors.
    pub(crate) fn take(c: &UNetConfig, channels: usize, cur: &mut Cursor<'p>) -> Self {
        Self {
            norm_weight: cur.take(channels),
            norm_bias: cur.take(channels),
            conv: ConvParams {
                weight: cur.take(c.out_channels * channels * 9),
                bias: cur.take(c.out_channels),
            },
        }
    }
}

/// Fills `params` with seeded random values: weights `N(0, 1/fan_in)`, biases and shifts
/// `N(0, 0.1²)`, scales `1 + N(0, 0.1²)`, the null embedding `N(0, 1)`; every value is
/// rounded to f16 and back, like shipped weights. Tensor `t` uses RNG stream `t` of
/// `seed`.
///
/// # Errors
/// [`crate::Error::BufferLength`] unless `params.len() == params_len(config)`.
pub fn init_random(config: &UNetConfig, seed: u64, params: &mut [f32]) -> Result<(), crate::Error> {
    crate::error::check_len("params", params.len(), params_len(config))?;
    let mut index = 0u64;
    for_each_tensor(config, |t| {
        let noise = crate::rng::NoiseStream::new(seed, index);
        let dst = &mut params[t.offset..t.offset + t.len];
        noise.fill_gaussian(0, dst);
        let (scale, shift) = match t.kind {
            ParamKind::Weight { fan_in } => (crate::detmath::rsqrt(fan_in as f32), 0.0),
            ParamKind::Bias | ParamKind::NormShift => (0.1, 0.0),
            ParamKind::NormScale => (0.1, 1.0),
            ParamKind::NullEmbedding => (1.0, 0.0),
        };
        for v in dst.iter_mut() {
            *v = half::f16::from_f32(*v * scale + shift).to_f32();
        }
        index += 1;
    });
    Ok(())
}
