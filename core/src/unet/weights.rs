//! Loading the network's weights from a safetensors buffer.
//!
//! A weights file holds one F16 tensor per entry of the parameter table
//! ([`super::params`]), under the table's names and shapes, and a `__metadata__` entry
//! [`ARCHITECTURE_KEY`] whose value is [`UNetConfig::describe`] of the architecture it was
//! trained for. Loading checks the architecture string, the tensor count, every name,
//! dtype and shape, and that every value is finite, then widens f16 → f32 exactly into
//! the caller's parameter buffer.

use super::config::{UNetConfig, FOURIER_FEATURES};
use super::params::{for_each_tensor, params_len, tensor_count};
use crate::error::{check_len, Error};
use crate::safetensors::{Dtype, SafeTensors};
use core::fmt::Write;

/// Metadata key naming the architecture a weights file was made for.
pub const ARCHITECTURE_KEY: &str = "powerpost.architecture";

/// Longest architecture description.
pub const DESCRIBE_LEN: usize = 192;

impl UNetConfig {
    /// The preset ([`UNetConfig::PRESETS`]) whose [`describe`](Self::describe) is
    /// `description`, if any.
    pub fn from_description(description: &str) -> Option<UNetConfig> {
        UNetConfig::PRESETS
            .iter()
            .find(|(_, c)| c.describe().as_str() == description)
            .map(|&(_, c)| c)
    }

    /// A one-line description of every hyper-parameter, stored in weights files and
    /// compared on loading.
    pub fn describe(&self) -> heapless::String<DESCRIBE_LEN> {
        let mut s = heapless::String::new();
        let _ = write!(
            s,
            "powerpost-unet-v1 in={} out={} base={} mult=",
            self.in_channels, self.out_channels, self.base_channels
        );
        for level in 0..self.levels.min(super::config::MAX_LEVELS) {
            let _ = write!(
                s,
                "{}{}",
                if level > 0 { "," } else { "" },
                self.channel_mult[level]
            );
        }
        let _ = write!(
            s,
            " enc={} mid={} dec={} emb={} fourier={} groups={}/{} eps={:e} sigma_data={}",
            self.encoder_blocks,
            self.middle_blocks,
            self.decoder_blocks,
            self.embedding_channels,
            FOURIER_FEATURES,
            self.max_groups,
            self.min_group_channels,
            self.eps,
            self.sigma_data
        );
        s
    }
}

/// The preset ([`UNetConfig::PRESETS`]) whose description a weights file's
/// [`ARCHITECTURE_KEY`] metadata holds.
///
/// # Errors
/// [`Error::Weights`] for a malformed file; [`Error::ArchitectureMismatch`]
/// if the metadata is missing or names no preset.
pub fn architecture_of(bytes: &[u8]) -> Result<UNetConfig, Error> {
    let file = SafeTensors::parse(bytes)?;
    file.metadata(ARCHITECTURE_KEY)
        .and_then(UNetConfig::from_description)
        .ok_or(Error::ArchitectureMismatch)
}

/// Validates a safetensors buffer against `config` and widens its f16 tensors into
/// `params` (which must hold [`params_len`]`(config)` values).
///
/// # Errors
/// [`Error::Weights`] naming the tensor for a malformed file, a missing tensor, a wrong
/// dtype or shape, or a non-finite value; [`Error::ArchitectureMismatch`] if the file's
/// architecture metadata is missing or differs, or it holds extra tensors;
/// [`Error::BufferLength`] for a mis-sized `params`.
pub fn load_params(config: &UNetConfig, bytes: &[u8], params: &mut [f32]) -> Result<(), Error> {
    check_len("params", params.len(), params_len(config))?;
    let file = SafeTensors::parse(bytes)?;
    let expected = config.describe();
    if file.metadata(ARCHITECTURE_KEY) != Some(expected.as_str())
        || file.len() != tensor_count(config)
    {
        return Err(Error::ArchitectureMismatch);
    }
    let mut result = Ok(());
    for_each_tensor(config, |t| {
        if result.is_err() {
            return;
        }
        result = file
            .expect(&t.name, Dtype::F16, t.shape())
            .and_then(|view| view.read_f16_to_f32(&mut params[t.offset..t.offset + t.len]))
            .map_err(Error::from);
    });
    result
}
