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
/// I/O failures (naming `path`), and those of [`to_bytes`].
pub fn save(path: &Path, header: &Header, params: &[f32], state: &OptimState) -> Result<()> {
    let bytes = to_bytes(header, params, state)
        .with_context(|| format!("{}: cannot write checkpoint", path.display()))?;
    write_atomic(path, &bytes)
}

/// The bytes of a checkpoint (see the module docs).
///
/// # Errors
/// If `header.params_len` differs from the length of `params` or of an optimiser array.
pub fn to_bytes(header: &Header, params: &[f32], state: &OptimState) -> Result<Vec<u8>> {
    let p = header.params_len;
    for (name, len) in [
        ("parameters", params.len()),
        ("EMA", state.ema.len()),
        ("first moments", state.m.len()),
        ("second moments", state.v.len()),
    ] {
        if len != p {
            bail!("{name}: {len} values, the header says {p} parameters");
        }
    }
    let json = serde_json::to_vec(header)?;
    let mut bytes = Vec::with_capacity(16 + json.len() + 16 * p);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    for array in [params, &state.ema, &state.m, &state.v] {
        for v in array {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(bytes)
}

/// Reads a checkpoint: header, parameters and optimiser state.
///
/// # Errors
/// Unreadable or malformed files (see [`parse`]), named with the failing part.
pub fn load(path: &Path) -> Result<(Header, Vec<f32>, OptimState)> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: cannot read checkpoint", path.display()))?;
    parse(&bytes, &path.display().to_string())
}

/// Parses a checkpoint held in memory; `what` names it in errors.
///
/// Checks the magic, that the header length lies inside the buffer, the JSON header, that
/// the body holds exactly four arrays of `params_len` values (checked arithmetic), and
/// that the Adam bias-correction powers β^step lie in [0, 1] and the elapsed time is
/// finite and non-negative. The caller checks `architecture` and `params_len` against its
/// network.
///
/// # Errors
/// Each failing part, named, after `what`.
pub fn parse(bytes: &[u8], what: &str) -> Result<(Header, Vec<f32>, OptimState)> {
    if bytes.get(..8) != Some(MAGIC.as_slice()) {
        bail!("{what}: not a powerpost checkpoint (magic bytes missing)");
    }
    let Some(len_field) = bytes.get(8..16) else {
        bail!("{what}: truncated header (the file ends inside its length)");
    };
    let mut len = [0u8; 8];
    len.copy_from_slice(len_field);
    let n = u64::from_le_bytes(len);
    let json = usize::try_from(n)
        .ok()
        .and_then(|n| bytes.get(16..16usize.checked_add(n)?))
        .with_context(|| {
            format!(
                "{what}: truncated header (its length field says {n} bytes, the file has {} after it)",
                bytes.len() - 16
            )
        })?;
    let header: Header =
        serde_json::from_slice(json).with_context(|| format!("{what}: bad header"))?;
    for (field, value) in [
        ("beta1_power", header.beta1_power),
        ("beta2_power", header.beta2_power),
    ] {
        if !(0.0..=1.0).contains(&value) {
            bail!("{what}: header field `{field}` is {value}, expected a number from 0 to 1");
        }
    }
    if !(header.elapsed_secs.is_finite() && header.elapsed_secs >= 0.0) {
        bail!(
            "{what}: header field `elapsed_secs` is {}, expected a finite number >= 0",
            header.elapsed_secs
        );
    }
    let body = &bytes[16 + json.len()..];
    let p = header.params_len;
    let expected = p.checked_mul(16);
    if expected != Some(body.len()) {
        bail!(
            "{what}: body holds {} bytes, expected {} for {p} parameters",
            body.len(),
            expected.map_or("more than fit in memory".to_string(), |e| e.to_string())
        );
    }
    // `body` holds exactly four arrays of `p` values: every slice below is in range.
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
    let params = arr(0);
    Ok((header, params, state))
}
