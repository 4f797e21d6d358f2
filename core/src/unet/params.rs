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

/// Calls `f(suffix, shape, kind)` for each tensor of the embedding MLP, in table order.
pub(crate) fn embedding_tensors(
    config: &UNetConfig,
    mut f: impl FnMut(&'static str, &[usize], ParamKind),
) {
    let (e, ff) = (config.embedding_channels, FOURIER_FEATURES);
    f("fc0.weight", &[e, ff], ParamKind::Weight { fan_in: ff });
    f("fc0.bias", &[e], ParamKind::Bias);
    f("fc1.weight", &[e, e], ParamKind::Weight { fan_in: e });
    f("fc1.bias", &[e], ParamKind::Bias);
    f("null", &[e], ParamKind::NullEmbedding);
}

/// Calls `f(suffix, shape, kind)` for each tensor of `block`, in table order (none for
/// the resampling blocks).
pub(crate) fn block_tensors(
    config: &UNetConfig,
    block: Block,
    mut f: impl FnMut(&'static str, &[usize], ParamKind),
) {
    match block {
        Block::ConvIn { channels } => {
            let cin = config.in_channels;
            f(
                "weight",
                &[channels, cin, 3, 3],
                ParamKind::Weight { fan_in: cin * 9 },
            );
            f("bias", &[channels], ParamKind::Bias);
        }
        Block::Res(r) => res_tensors(config, &r, f),
        Block::Down { .. } | Block::Up { .. } => {}
        Block::Out { channels } => {
            f("norm.weight", &[channels], ParamKind::NormScale);
            f("norm.bias", &[channels], ParamKind::NormShift);
            f(
                "conv.weight",
                &[config.out_channels, channels, 3, 3],
                ParamKind::Weight {
                    fan_in: channels * 9,
                },
            );
            f("conv.bias", &[config.out_channels], ParamKind::Bias);
        }
    }
}

/// Calls `f(prefix, suffix, shape, kind)` for every tensor of `config`, in table order.
fn walk(
    config: &UNetConfig,
    mut f: impl FnMut(&dyn Fn(&mut TensorName), &'static str, &[usize], ParamKind),
) {
    let emb = |n: &mut TensorName| {
        let _ = n.push_str("emb.");
    };
    embedding_tensors(config, |suffix, shape, kind| f(&emb, suffix, shape, kind));
    Plan::new(config).for_each(|block| {
        let prefix = |n: &mut TensorName| {
            let _ = match block {
                Block::ConvIn { .. } => n.push_str("conv_in.").map_err(|_| core::fmt::Error),
                Block::Res(r) => match r.stage {
                    Stage::Encoder => write!(n, "enc.{}.{}.", r.level, r.index),
                    Stage::Middle => write!(n, "mid.{}.", r.index),
                    Stage::Decoder => write!(n, "dec.{}.{}.", r.level, r.index),
                },
                Block::Out { .. } => n.push_str("out.").map_err(|_| core::fmt::Error),
                Block::Down { .. } | Block::Up { .. } => Ok(()),
            };
        };
        block_tensors(config, block, |suffix, shape, kind| {
            f(&prefix, suffix, shape, kind)
        });
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
