//! The block plan: the U-Net as an ordered list of blocks, derived from a [`UNetConfig`].
//!
//! ```text
//! ConvIn                                   3×3, in_channels → base
//! for level l in 0..levels:
//!     Down (l > 0)                         2×2 average pool
//!     Res × encoder_blocks                 the last one's output is skip[l]
//! Res × middle_blocks                      at the lowest level
//! for level l in levels−1 ..= 0:
//!     Res × decoder_blocks                 the first one takes concat(h, skip[l])
//!     Up (l > 0)                           nearest ×2
//! Out                                      GroupNorm, SiLU, 3×3 conv base → out_channels
//! ```
//!
//! Inference, the trainer and the GPU backend all walk this same plan.

use super::config::UNetConfig;

/// Where a residual block sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// On the way down.
    Encoder,
    /// At the lowest resolution.
    Middle,
    /// On the way up.
    Decoder,
}

/// One residual block:
///
/// ```text
/// x   = concat(h, skip)                      (skip only for the first decoder block of a level)
/// t   = SiLU(GroupNorm0(x))
/// u   = Conv3×3_0(t) + (bias0 + Linear_emb(emb))
/// t   = SiLU(GroupNorm1(u))
/// s   = x                 if in == out, else Conv1×1_skip(x)
/// out = (Conv3×3_1(t) + s) × 1/√2
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResBlock {
    /// Encoder, middle or decoder.
    pub stage: Stage,
    /// Resolution level (0 = finest).
    pub level: usize,
    /// Index of the block within its stage and level.
    pub index: usize,
    /// Channels of the main input `h`.
    pub in_channels: usize,
    /// Channels of the concatenated skip connection (0 if none).
    pub skip_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Whether the output is kept as the skip connection of its level.
    pub saves_skip: bool,
}

impl ResBlock {
    /// Total input channels (`in_channels + skip_channels`).
    pub fn total_in(&self) -> usize {
        self.in_channels + self.skip_channels
    }

    /// Whether the residual path needs a 1×1 convolution.
    pub fn has_skip_conv(&self) -> bool {
        self.total_in() != self.out_channels
    }
}

/// One step of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// The input convolution (3×3, `in_channels → channels`) at level 0.
    ConvIn {
        /// Output channels.
        channels: usize,
    },
    /// A residual block.
    Res(ResBlock),
    /// 2×2 average pooling from `level − 1` to `level`.
    Down {
        /// The level reached.
        level: usize,
        /// Channels (unchanged).
        channels: usize,
    },
    /// Nearest up-sampling from `level` to `level − 1`.
    Up {
        /// The level left.
        level: usize,
        /// Channels (unchanged).
        channels: usize,
    },
    /// Output head: GroupNorm, SiLU, 3×3 conv to `out_channels`.
    Out {
        /// Input channels.
        channels: usize,
    },
}

/// The plan of a configuration (walk it with [`Plan::for_each`] or [`Plan::blocks`]).
#[derive(Debug, Clone, Copy)]
pub struct Plan<'c> {
    config: &'c UNetConfig,
}

impl<'c> Plan<'c> {
    /// The plan of `config` (assumed validated).
    pub fn new(config: &'c UNetConfig) -> Self {
        Self { config }
    }

    /// Calls `f` on every block in order.
    pub fn for_each(&self, mut f: impl FnMut(Block)) {
        let c = self.config;
        let levels = c.levels.min(super::config::MAX_LEVELS);
        f(Block::ConvIn {
            channels: c.base_channels,
        });
        let mut ch = c.base_channels;
        let mut skip = [0usize; super::config::MAX_LEVELS];
        for (level, skip_channels) in skip.iter_mut().enumerate().take(levels) {
            if level > 0 {
                f(Block::Down {
                    level,
                    channels: ch,
                });
            }
            for index in 0..c.encoder_blocks {
                let out = c.channels(level);
                let saves_skip = index + 1 == c.encoder_blocks;
                f(Block::Res(ResBlock {
                    stage: Stage::Encoder,
                    level,
                    index,
                    in_channels: ch,
                    skip_channels: 0,
                    out_channels: out,
                    saves_skip,
                }));
                ch = out;
            }
            *skip_channels = ch;
        }
        for index in 0..c.middle_blocks {
            f(Block::Res(ResBlock {
                stage: Stage::Middle,
                level: levels - 1,
                index,
                in_channels: ch,
                skip_channels: 0,
                out_channels: ch,
                saves_skip: false,
            }));
        }
        for level in (0..levels).rev() {
            for index in 0..c.decoder_blocks {
                let out = c.channels(level);
                f(Block::Res(ResBlock {
                    stage: Stage::Decoder,
                    level,
                    index,
                    in_channels: ch,
                    skip_channels: if index == 0 { skip[level] } else { 0 },
                    out_channels: out,
                    saves_skip: false,
                }));
                ch = out;
            }
            if level > 0 {
                f(Block::Up {
                    level,
                    channels: ch,
                });
            }
        }
        f(Block::Out { channels: ch });
    }

    /// The blocks in order, collected into a fixed-capacity vector.
    pub fn blocks(&self) -> heapless::Vec<Block, 64> {
        let mut v = heapless::Vec::new();
        self.for_each(|b| {
            let _ = v.push(b);
        });
        v
    }
}

/// Multiply and add operations (2 per multiply-accumulate) of the convolutions of one
/// forward pass on an `height × width` image (the figure GFLOP/s rates are based on;
/// normalisation, activation and resampling are not counted).
pub fn conv_flops(config: &UNetConfig, height: usize, width: usize) -> u64 {
    let mut total = 0u64;
    let pixels = |level: usize| ((height >> level) * (width >> level)) as u64;
    let mac = |cin: usize, cout: usize, k: usize, level: usize| {
        2 * (cin * cout * k * k) as u64 * pixels(level)
    };
    Plan::new(config).for_each(|block| match block {
        Block::ConvIn { channels } => total += mac(config.in_channels, channels, 3, 0),
        Block::Res(r) => {
            total += mac(r.total_in(), r.out_channels, 3, r.level)
                + mac(r.out_channels, r.out_channels, 3, r.level);
            if r.has_skip_conv() {
                total += mac(r.total_in(), r.out_channels, 1, r.level);
            }
        }
        Block::Out { channels } => total += mac(channels, config.out_channels, 3, 0),
        Block::Down { .. } | Block::Up { .. } => {}
    });
    total
}
