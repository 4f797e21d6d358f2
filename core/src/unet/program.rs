//! The forward pass as a program: the layer operations of one network evaluation, in
//! order, over a handful of workspace slots.
//!
//! [`Plan`] says which blocks the network has; the program says what each block computes,
//! operation by operation — which tensors (slots) every convolution, group norm and
//! resampling reads and writes, and which parameter tensors it uses (as ranges of the flat
//! parameter buffer, found by name in the parameter table, so the table order is written
//! once, in [`super::params`]). The CPU forward pass ([`super::forward`]) and the Vulkan
//! backend (`gpu/`) both execute this one program, so the two cannot drift apart.
//!
//! ```text
//! before the ops:  slot INPUT_SLOT = [c_in·x, y or 0] per batch item;
//!                  emb[b] = embedding(c_noise) (+ null for the unconditional item)
//! ConvIn           Conv3×3(INPUT_SLOT) + conv_in.bias                  → X0
//! Res block r      GroupNorm0+SiLU(concat(h, skip))                    → T
//!                  Conv3×3_0(T) + (conv0.bias + emb.bias + emb.weight·emb[b]) → H
//!                  GroupNorm1+SiLU(H)                                  → T
//!                  Conv1×1_skip(concat(h, skip)) + skip.bias            → H   (if in ≠ out)
//!                  (Conv3×3_1(T) + conv1.bias + (H or h)) × 1/√2        → X0/X1, or SKIP[level]
//! Down / Up        avg_pool2 / upsample_nearest2                       → the other of X0/X1
//! Out              GroupNorm+SiLU                                      → T
//!                  Conv3×3(T) + out.conv.bias                          → H = OUTPUT_SLOT
//! after the ops:   D = c_skip·x + c_out·H per batch item
//! ```
//!
//! No operation writes a slot it reads (checked by the tests), so every backend may run
//! an operation's reads and writes in any order.

use super::config::{UNetConfig, MAX_LEVELS};
use super::params::{block_tensors, embedding_tensors};
use super::plan::{Block, Plan};

/// Ping-pong slot 0 (the input convolution's output).
pub const X0: usize = 0;
/// Ping-pong slot 1 (holds the network input before the first operation).
pub const X1: usize = 1;
/// Scratch slot of the normalised activations.
pub const T: usize = 2;
/// Scratch slot of a block's first convolution and skip path; holds the raw output last.
pub const H: usize = 3;
/// The skip connection of level `l` is slot `SKIP0 + l`.
pub const SKIP0: usize = 4;
/// Number of slots.
pub const SLOTS: usize = SKIP0 + MAX_LEVELS;
/// The slot the network input (`[c_in·x, y]` per batch item) is written into.
pub const INPUT_SLOT: usize = X1;
/// The slot holding the raw network output `F` after the last operation.
pub const OUTPUT_SLOT: usize = H;

/// A tensor of the flat parameter buffer: `len` values from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParamRange {
    /// Index of the first value.
    pub offset: usize,
    /// Number of values.
    pub len: usize,
}

impl ParamRange {
    /// The values of this tensor in `params` (empty if `params` is too short).
    pub fn of<'p>(&self, params: &'p [f32]) -> &'p [f32] {
        params
            .get(self.offset..self.offset + self.len)
            .unwrap_or(&[])
    }
}

/// One operand of a convolution or group norm: `channels` channels of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operand {
    /// Workspace slot.
    pub slot: usize,
    /// Channels read from it.
    pub channels: usize,
}

/// The channels of up to two operands, `0` for an absent second one (what the shaders'
/// `channels0` / `channels1` take).
pub fn operand_channels(sources: &[Operand]) -> [usize; 2] {
    [
        sources.first().map_or(0, |s| s.channels),
        sources.get(1).map_or(0, |s| s.channels),
    ]
}

/// The slots of up to two operands, the first repeated for an absent second one.
fn operand_slots(sources: &[Operand]) -> [usize; 2] {
    let first = sources.first().map_or(X0, |s| s.slot);
    [first, sources.get(1).map_or(first, |s| s.slot)]
}

/// The per-item bias of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bias {
    /// The same parameter vector for every batch item.
    Shared(ParamRange),
    /// A residual block's first convolution: for item `b`,
    /// `conv_bias + (emb_bias + emb_weight · emb[b])` (the noise-embedding projection;
    /// see [`super::forward::conv_bias`]).
    Conditioned {
        /// `conv0.bias`.
        conv_bias: ParamRange,
        /// `emb.weight`, `[out, E]`.
        emb_weight: ParamRange,
        /// `emb.bias`.
        emb_bias: ParamRange,
    },
}

/// A convolution (see [`crate::nn::conv::conv2d`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvOp {
    /// Resolution level (0 = full size).
    pub level: usize,
    /// Inputs, concatenated along channels (the first `source_count` entries).
    pub sources: [Operand; 2],
    /// Number of inputs (1 or 2).
    pub source_count: usize,
    /// Kernel size (1 or 3).
    pub kernel: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Weights `[out][in][k][k]`.
    pub weight: ParamRange,
    /// Bias per batch item.
    pub bias: Bias,
    /// Slot added before scaling, shaped like the output (residual blocks' last
    /// convolution).
    pub residual: Option<usize>,
    /// Scale applied after adding the residual.
    pub residual_scale: f32,
    /// Output slot.
    pub dst: usize,
}

impl ConvOp {
    /// The inputs in use.
    pub fn sources(&self) -> &[Operand] {
        &self.sources[..self.source_count]
    }
}

/// Group normalisation with SiLU (see [`crate::nn::norm::group_norm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormOp {
    /// Resolution level.
    pub level: usize,
    /// Inputs, concatenated along channels (the first `source_count` entries).
    pub sources: [Operand; 2],
    /// Number of inputs (1 or 2).
    pub source_count: usize,
    /// Number of groups.
    pub groups: usize,
    /// Scale γ per channel.
    pub gamma: ParamRange,
    /// Shift β per channel.
    pub beta: ParamRange,
    /// Output slot.
    pub dst: usize,
}

impl NormOp {
    /// The inputs in use.
    pub fn sources(&self) -> &[Operand] {
        &self.sources[..self.source_count]
    }

    /// Channels of the concatenated input (and of the output).
    pub fn channels(&self) -> usize {
        self.sources().iter().map(|s| s.channels).sum()
    }
}

/// A resampling step between levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResampleOp {
    /// Level of the input.
    pub level: usize,
    /// Channels (unchanged).
    pub channels: usize,
    /// Input slot.
    pub src: usize,
    /// Output slot.
    pub dst: usize,
}

/// One operation of the program.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// A 1×1 or 3×3 convolution.
    Conv(ConvOp),
    /// Group norm followed by SiLU.
    GroupNorm(NormOp),
    /// 2×2 average pooling from `level` to `level + 1`.
    AvgPool2(ResampleOp),
    /// Nearest up-sampling by 2 from `level` to `level − 1`.
    UpsampleNearest2(ResampleOp),
}

impl Op {
    /// The slot the operation writes.
    pub fn dst(&self) -> usize {
        match self {
            Op::Conv(c) => c.dst,
            Op::GroupNorm(n) => n.dst,
            Op::AvgPool2(r) | Op::UpsampleNearest2(r) => r.dst,
        }
    }

    /// The slots the operation reads (unused entries repeat the first).
    pub fn reads(&self) -> [usize; 3] {
        match self {
            Op::Conv(c) => {
                let [first, second] = operand_slots(c.sources());
                [first, second, c.residual.unwrap_or(first)]
            }
            Op::GroupNorm(n) => {
                let [first, second] = operand_slots(n.sources());
                [first, second, first]
            }
            Op::AvgPool2(r) | Op::UpsampleNearest2(r) => [r.src; 3],
        }
    }
}

/// The embedding MLP's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmbeddingParams {
    /// `emb.fc0.weight`, `[E, F]`.
    pub fc0_weight: ParamRange,
    /// `emb.fc0.bias`.
    pub fc0_bias: ParamRange,
    /// `emb.fc1.weight`, `[E, E]`.
    pub fc1_weight: ParamRange,
    /// `emb.fc1.bias`.
    pub fc1_bias: ParamRange,
    /// `emb.null`, the learned null-condition embedding.
    pub null: ParamRange,
}

/// The parameter ranges of one block, by the suffix of their table names.
struct Ranges {
    entries: heapless::Vec<(&'static str, ParamRange), 16>,
}

impl Ranges {
    /// Looks up `suffix` (an empty range if the block has no such tensor).
    fn get(&self, suffix: &str) -> ParamRange {
        self.entries
            .iter()
            .find(|(name, _)| *name == suffix)
            .map_or(ParamRange::default(), |&(_, r)| r)
    }

    /// Whether the block has a tensor named `suffix`.
    fn has(&self, suffix: &str) -> bool {
        self.entries.iter().any(|(name, _)| *name == suffix)
    }
}

/// Records the tensors that `tensors` lists, advancing `offset` past them.
fn ranges(
    offset: &mut usize,
    tensors: impl FnOnce(&mut dyn FnMut(&'static str, &[usize], super::params::ParamKind)),
) -> Ranges {
    let mut entries = heapless::Vec::new();
    tensors(&mut |suffix, shape, _| {
        let len = shape.iter().product();
        let _ = entries.push((
            suffix,
            ParamRange {
                offset: *offset,
                len,
            },
        ));
        *offset += len;
    });
    Ranges { entries }
}

/// The embedding MLP's parameter ranges (the first tensors of the table).
pub fn embedding_params(config: &UNetConfig) -> EmbeddingParams {
    let mut offset = 0;
    let r = ranges(&mut offset, |f| embedding_tensors(config, f));
    EmbeddingParams {
        fc0_weight: r.get("fc0.weight"),
        fc0_bias: r.get("fc0.bias"),
        fc1_weight: r.get("fc1.weight"),
        fc1_bias: r.get("fc1.bias"),
        null: r.get("null"),
    }
}

/// Calls `f` on every operation of one network evaluation of `config` (assumed
/// validated), in order.
pub fn for_each_op(config: &UNetConfig, mut f: impl FnMut(Op)) {
    let c = config;
    let mut offset = 0;
    let _ = ranges(&mut offset, |f| embedding_tensors(c, f));
    let mut cur = INPUT_SLOT;
    let mut skip_of_level = [X0; MAX_LEVELS];
    let other = |slot: usize| if slot == X0 { X1 } else { X0 };
    let one = |slot: usize, channels: usize| Operand { slot, channels };
    Plan::new(c).for_each(|block| {
        let p = ranges(&mut offset, |f| block_tensors(c, block, f));
        match block {
            Block::ConvIn { channels } => {
                f(Op::Conv(ConvOp {
                    level: 0,
                    sources: [one(cur, c.in_channels); 2],
                    source_count: 1,
                    kernel: 3,
                    out_channels: channels,
                    weight: p.get("weight"),
                    bias: Bias::Shared(p.get("bias")),
                    residual: None,
                    residual_scale: 1.0,
                    dst: X0,
                }));
                cur = X0;
            }
            Block::Res(r) => {
                let level = r.level;
                let input = [
                    one(cur, r.in_channels),
                    one(skip_of_level[level], r.skip_channels),
                ];
                let count = if r.skip_channels > 0 { 2 } else { 1 };
                let (total, out) = (r.total_in(), r.out_channels);
                f(Op::GroupNorm(NormOp {
                    level,
                    sources: input,
                    source_count: count,
                    groups: c.groups(total),
                    gamma: p.get("norm0.weight"),
                    beta: p.get("norm0.bias"),
                    dst: T,
                }));
                f(Op::Conv(ConvOp {
                    level,
                    sources: [one(T, total); 2],
                    source_count: 1,
                    kernel: 3,
                    out_channels: out,
                    weight: p.get("conv0.weight"),
                    bias: Bias::Conditioned {
                        conv_bias: p.get("conv0.bias"),
                        emb_weight: p.get("emb.weight"),
                        emb_bias: p.get("emb.bias"),
                    },
                    residual: None,
                    residual_scale: 1.0,
                    dst: H,
                }));
                f(Op::GroupNorm(NormOp {
                    level,
                    sources: [one(H, out); 2],
                    source_count: 1,
                    groups: c.groups(out),
                    gamma: p.get("norm1.weight"),
                    beta: p.get("norm1.bias"),
                    dst: T,
                }));
                let residual = if p.has("skip.weight") {
                    f(Op::Conv(ConvOp {
                        level,
                        sources: input,
                        source_count: count,
                        kernel: 1,
                        out_channels: out,
                        weight: p.get("skip.weight"),
                        bias: Bias::Shared(p.get("skip.bias")),
                        residual: None,
                        residual_scale: 1.0,
                        dst: H,
                    }));
                    H
                } else {
                    cur
                };
                let dst = if r.saves_skip {
                    SKIP0 + level
                } else {
                    other(cur)
                };
                f(Op::Conv(ConvOp {
                    level,
                    sources: [one(T, out); 2],
                    source_count: 1,
                    kernel: 3,
                    out_channels: out,
                    weight: p.get("conv1.weight"),
                    bias: Bias::Shared(p.get("conv1.bias")),
                    residual: Some(residual),
                    residual_scale: super::forward::RESIDUAL_SCALE,
                    dst,
                }));
                if r.saves_skip {
                    skip_of_level[level] = dst;
                }
                cur = dst;
            }
            Block::Down { level, channels } => {
                let dst = other(cur);
                f(Op::AvgPool2(ResampleOp {
                    level: level - 1,
                    channels,
                    src: cur,
                    dst,
                }));
                cur = dst;
            }
            Block::Up { level, channels } => {
                let dst = other(cur);
                f(Op::UpsampleNearest2(ResampleOp {
                    level,
                    channels,
                    src: cur,
                    dst,
                }));
                cur = dst;
            }
            Block::Out { channels } => {
                f(Op::GroupNorm(NormOp {
                    level: 0,
                    sources: [one(cur, channels); 2],
                    source_count: 1,
                    groups: c.groups(channels),
                    gamma: p.get("norm.weight"),
                    beta: p.get("norm.bias"),
                    dst: T,
                }));
                f(Op::Conv(ConvOp {
                    level: 0,
                    sources: [one(T, channels); 2],
                    source_count: 1,
                    kernel: 3,
                    out_channels: c.out_channels,
                    weight: p.get("conv.weight"),
                    bias: Bias::Shared(p.get("conv.bias")),
                    residual: None,
                    residual_scale: 1.0,
                    dst: OUTPUT_SLOT,
                }));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unet::params::{for_each_tensor, params_len};

    fn configs() -> [UNetConfig; 2] {
        [UNetConfig::DEFAULT, UNetConfig::TINY]
    }

    /// Every parameter range an operation uses is exactly one tensor of the table, and
    /// together with the embedding the program uses every tensor exactly once.
    #[test]
    fn ranges_cover_the_parameter_table_once() {
        for c in configs() {
            let mut used = [0u8; 256];
            let mut tensors: heapless::Vec<(usize, usize), 256> = heapless::Vec::new();
            for_each_tensor(&c, |t| {
                let _ = tensors.push((t.offset, t.len));
            });
            let mut mark = |r: ParamRange| {
                let i = tensors
                    .iter()
                    .position(|&(o, l)| o == r.offset && l == r.len)
                    .expect("a range that is not a tensor of the table");
                used[i] += 1;
            };
            let e = embedding_params(&c);
            for r in [e.fc0_weight, e.fc0_bias, e.fc1_weight, e.fc1_bias, e.null] {
                mark(r);
            }
            for_each_op(&c, |op| match op {
                Op::Conv(conv) => {
                    mark(conv.weight);
                    match conv.bias {
                        Bias::Shared(b) => mark(b),
                        Bias::Conditioned {
                            conv_bias,
                            emb_weight,
                            emb_bias,
                        } => {
                            mark(conv_bias);
                            mark(emb_weight);
                            mark(emb_bias);
                        }
                    }
                }
                Op::GroupNorm(n) => {
                    mark(n.gamma);
                    mark(n.beta);
                }
                Op::AvgPool2(_) | Op::UpsampleNearest2(_) => {}
            });
            assert!(used[..tensors.len()].iter().all(|&u| u == 1));
            let last = tensors[tensors.len() - 1];
            assert_eq!(last.0 + last.1, params_len(&c));
        }
    }

    /// No operation writes a slot it reads, and every read slot was written before (or
    /// is the input slot).
    #[test]
    fn reads_are_written_first_and_never_overwritten_in_place() {
        for c in configs() {
            let mut written = [false; SLOTS];
            written[INPUT_SLOT] = true;
            let mut last = usize::MAX;
            for_each_op(&c, |op| {
                for slot in op.reads() {
                    assert!(written[slot], "{op:?} reads unwritten slot {slot}");
                    assert_ne!(slot, op.dst(), "{op:?} writes a slot it reads");
                }
                written[op.dst()] = true;
                last = op.dst();
            });
            assert_eq!(last, OUTPUT_SLOT);
        }
    }

    /// Channel counts chain: each operation reads as many channels as the slot's last
    /// writer produced, at the level it produced them.
    #[test]
    fn channels_and_levels_chain() {
        for c in configs() {
            let mut shape = [(0usize, 0usize); SLOTS]; // (channels, level)
            shape[INPUT_SLOT] = (c.in_channels, 0);
            for_each_op(&c, |op| match op {
                Op::Conv(conv) => {
                    for s in conv.sources() {
                        assert_eq!(shape[s.slot], (s.channels, conv.level), "{op:?}");
                    }
                    if let Some(r) = conv.residual {
                        assert_eq!(shape[r], (conv.out_channels, conv.level), "{op:?}");
                    }
                    shape[conv.dst] = (conv.out_channels, conv.level);
                }
                Op::GroupNorm(n) => {
                    for s in n.sources() {
                        assert_eq!(shape[s.slot], (s.channels, n.level), "{op:?}");
                    }
                    shape[n.dst] = (n.channels(), n.level);
                }
                Op::AvgPool2(r) => {
                    assert_eq!(shape[r.src], (r.channels, r.level));
                    shape[r.dst] = (r.channels, r.level + 1);
                }
                Op::UpsampleNearest2(r) => {
                    assert_eq!(shape[r.src], (r.channels, r.level));
                    shape[r.dst] = (r.channels, r.level - 1);
                }
            });
            assert_eq!(shape[OUTPUT_SLOT], (c.out_channels, 0));
        }
    }
}
