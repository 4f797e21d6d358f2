//! Training checkpoints: one file, written atomically.
//!
//! Layout: `b"PPCKPT01"`, a little-endian `u64` header length, the JSON [`Header`], then
//! four little-endian f32 arrays of `params_len` values: parameters, EMA, first and
//! second Adam moments. Together with the step number (which fixes the data order and
//! every random draw, see [`crate::loss`]) this is the whole training state, so a resumed
//! run continues bit for bit.

use crate::files::write_atomic;
use crate::optim::{AdamWConfig, OptimState};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 8] = b"PPCKPT01";

/// Checkpoint metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// `UNetConfig::describe()` of the network.
    pub architecture: String,
    /// Training seed.
    pub seed: u64,
    /// Batch size.
    pub batch: usize,
    /// Completed steps.
    pub step: u64,
    /// β1^step.
    pub beta1_power: f64,
    /// β2^step.
    pub beta2_power: f64,
    /// Optimiser settings.
    pub optimizer: AdamWConfig,
    /// Loss settings.
    pub loss: crate::loss::LossConfig,
    /// Dataset identity (manifest digest).
    pub dataset: String,
    /// Number of parameters.
    pub params_len: usize,
    /// Wall-clock seconds of training so far.
    pub elapsed_secs: f64,
    /// Where the initial weights came from: `random:SEED`, or `file:SHA256` of the
    /// `--init-from` file (fine-tuning). Empty in checkpoints written before this field.
    #[serde(default)]
    pub init: String,
}

/// Writes a checkpoint atomically.
///
/// # Errors
/// I/O failures (naming `path`).
pub fn save(path: &Path, header: &Header, params: &[f32], state: &OptimState) -> Result<()> {
    let json = serde_json::to_vec(header)?;
    let mut bytes = Vec::with_capacity(16 + json.len() + 16 * params.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    for array in [params, &state.ema, &state.m, &state.v] {
        for v in array {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    write_atomic(path, &bytes)
}

/// Reads a checkpoint: header, parameters and optimiser state.
///
/// # Errors
/// Unreadable or malformed files, named with the failing part.
pub fn load(path: &Path) -> Result<(Header, Vec<f32>, OptimState)> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: cannot read checkpoint", path.display()))?;
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        bail!(
            "{}: not a powerpost checkpoint (magic bytes missing)",
            path.display()
        );
    }
    let n = u64::from_le_bytes(bytes[8..16].try_into()?) as usize;
    let json = bytes
        .get(16..16 + n)
        .with_context(|| format!("{}: truncated header", path.display()))?;
    let header: Header =
        serde_json::from_slice(json).with_context(|| format!("{}: bad header", path.display()))?;
    let body = &bytes[16 + n..];
    let p = header.params_len;
    if body.len() != 16 * p {
        bail!(
            "{}: body holds {} bytes, expected {} for {p} parameters",
            path.display(),
            body.len(),
            16 * p
        );
    }
    let arr = |k: usize| -> Vec<f32> {
        body[k * 4 * p..(k + 1) * 4 * p]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let state = OptimState {
        step: header.step,
        ema: arr(1),
        m: arr(2),
        v: arr(3),
        beta1_power: header.beta1_power,
        beta2_power: header.beta2_power,
    };
    Ok((header.clone(), arr(0), state))
}
