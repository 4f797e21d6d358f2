//! The one architecture description: a `Copy` configuration from which the block plan,
//! the parameter table, the workspace layout and the forward pass are all derived.

/// Most resolution levels a configuration may have.
pub const MAX_LEVELS: usize = 4;

/// Hyper-parameters of the EDM-preconditioned U-Net.
///
/// Everything about the network (blocks, tensor names and shapes, workspace size) follows
/// from these numbers; a smaller or larger preset is a one-line change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UNetConfig {
    /// Input channels of the raw network: the scaled noisy velocity, then the condition
    /// planes ([`condition_channels`](Self::condition_channels) of them: the RTM image,
    /// and with [`with_background`](Self::with_background) the background velocity).
    pub in_channels: usize,
    /// Output channels (the denoised velocity).
    pub out_channels: usize,
    /// Channels at the finest level.
    pub base_channels: usize,
    /// Number of resolution levels (`1..=MAX_LEVELS`); images must be divisible by
    /// `2^(levels − 1)`.
    pub levels: usize,
    /// Channel multiplier of each level (first `levels` entries are used).
    pub channel_mult: [usize; MAX_LEVELS],
    /// Residual blocks per level on the way down.
    pub encoder_blocks: usize,
    /// Residual blocks at the lowest resolution between encoder and decoder.
    pub middle_blocks: usize,
    /// Residual blocks per level on the way up (the first one of each level takes the
    /// encoder's skip connection by concatenation).
    pub decoder_blocks: usize,
    /// Width of the noise embedding.
    pub embedding_channels: usize,
    /// Upper bound on group-norm groups.
    pub max_groups: usize,
    /// Lower bound on channels per group-norm group.
    pub min_group_channels: usize,
    /// Group-norm epsilon.
    pub eps: f32,
    /// EDM's σ_data (standard deviation of the normalised training data).
    pub sigma_data: f32,
}

/// Most condition planes a network may take: the RTM image and the background model.
pub const MAX_CONDITION_CHANNELS: usize = 2;

/// Number of Fourier features of the noise level (cos and sin of 32 frequencies).
pub const FOURIER_FEATURES: usize = 2 * crate::nn::linear::FREQUENCIES.len();

impl UNetConfig {
    /// The shipped architecture: base 32 channels, multipliers (1, 2, 4), two residual
    /// blocks per level down, one in the middle, one per level up (≈ 1.8 M parameters,
    /// ≈ 3.8 GFLOP per 64 × 128 image).
    pub const DEFAULT: UNetConfig = UNetConfig {
        in_channels: 2,
        out_channels: 1,
        base_channels: 32,
        levels: 3,
        channel_mult: [1, 2, 4, 0],
        encoder_blocks: 2,
        middle_blocks: 1,
        decoder_blocks: 1,
        embedding_channels: 128,
        max_groups: 32,
        min_group_channels: 4,
        eps: 1e-5,
        sigma_data: 0.5,
    };

    /// A small preset for fast tests (base 8 channels, 2 levels).
    pub const TINY: UNetConfig = UNetConfig {
        in_channels: 2,
        out_channels: 1,
        base_channels: 8,
        levels: 2,
        channel_mult: [1, 2, 0, 0],
        encoder_blocks: 1,
        middle_blocks: 1,
        decoder_blocks: 1,
        embedding_channels: 16,
        max_groups: 32,
        min_group_channels: 4,
        eps: 1e-5,
        sigma_data: 0.5,
    };

    /// The named architectures this build runs, as `powerpost train --network` and
    /// weights files know them (`-background`: conditioned on the background model as
    /// well as the RTM image).
    pub const PRESETS: [(&'static str, UNetConfig); 4] = [
        ("default", UNetConfig::DEFAULT),
        ("default-background", UNetConfig::DEFAULT.with_background()),
        ("tiny", UNetConfig::TINY),
        ("tiny-background", UNetConfig::TINY.with_background()),
    ];

    /// The same network conditioned on the background velocity model as well: a third
    /// input plane holding the normalised background (the smooth model the RTM image was
    /// migrated in), after the RTM image.
    pub const fn with_background(self) -> UNetConfig {
        UNetConfig {
            in_channels: 3,
            ..self
        }
    }

    /// Condition planes the network takes (`in_channels − 1`): 1 for the RTM image alone,
    /// 2 for the RTM image and the background model.
    pub const fn condition_channels(&self) -> usize {
        self.in_channels.saturating_sub(1)
    }

    /// Values of a condition for `height × width` images: `condition_channels()` planes
    /// (saturating, so an absurd size cannot wrap to a small one).
    pub const fn condition_len(&self, height: usize, width: usize) -> usize {
        self.condition_channels()
            .saturating_mul(height)
            .saturating_mul(width)
    }

    /// Whether the network takes the background model as its second condition plane.
    pub const fn takes_background(&self) -> bool {
        self.condition_channels() >= 2
    }

    /// Channels at `level`.
    pub fn channels(&self, level: usize) -> usize {
        self.base_channels * self.channel_mult[level]
    }

    /// Group-norm groups for a tensor of `channels` channels:
    /// `min(max_groups, channels / min_group_channels)`, at least 1.
    pub fn groups(&self, channels: usize) -> usize {
        (channels / self.min_group_channels.max(1)).clamp(1, self.max_groups.max(1))
    }

    /// Checks that the configuration describes a buildable network.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] naming the first inconsistent field.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |name, expected| Err(crate::Error::InvalidArgument { name, expected });
        if self.levels == 0 || self.levels > MAX_LEVELS {
            return bad("levels", "1 to 4");
        }
        if !(2..=1 + MAX_CONDITION_CHANNELS).contains(&self.in_channels) || self.out_channels != 1 {
            return bad(
                "in_channels/out_channels",
                "2 inputs (x, RTM) or 3 (x, RTM, background) and 1 output",
            );
        }
        if self.base_channels == 0
            || self.embedding_channels == 0
            || self.encoder_blocks == 0
            || self.decoder_blocks == 0
        {
            return bad(
                "channels/blocks",
                "non-zero base channels, embedding width and block counts",
            );
        }
        for level in 0..self.levels {
            if self.channel_mult[level] == 0 {
                return bad("channel_mult", "a non-zero multiplier for every level");
            }
        }
        if !(self.eps > 0.0
            && self.eps.is_finite()
            && self.sigma_data > 0.0
            && self.sigma_data.is_finite())
        {
            return bad("eps/sigma_data", "positive finite values");
        }
        // Every normalised tensor must split into whole groups.
        let mut ok = true;
        crate::unet::plan::Plan::new(self).for_each(|block| {
            if let crate::unet::plan::Block::Res(r) = block {
                let cin = r.in_channels + r.skip_channels;
                ok &= cin % self.groups(cin) == 0
                    && r.out_channels % self.groups(r.out_channels) == 0;
            }
        });
        ok &= self.base_channels % self.groups(self.base_channels) == 0;
        if !ok {
            return bad(
                "channels",
                "channel counts divisible by their group-norm group counts",
            );
        }
        Ok(())
    }

    /// Smallest divisor that image sides must be multiples of: `2^(levels − 1)`.
    pub fn size_multiple(&self) -> usize {
        1 << (self.levels.max(1) - 1)
    }
}
