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
    /// CPU seconds (all threads) of training so far, the unit of the training budget. 0 in
    /// checkpoints written before this field (their runs count from their next resume).
    #[serde(default)]
    pub cpu_secs: f64,
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
    for (field, value) in [
        ("elapsed_secs", header.elapsed_secs),
        ("cpu_secs", header.cpu_secs),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            bail!("{what}: header field `{field}` is {value}, expected a finite number >= 0");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header(p: usize) -> Header {
        Header {
            architecture: "a".into(),
            seed: 1,
            batch: 2,
            step: 3,
            beta1_power: 0.729,
            beta2_power: 0.997,
            optimizer: AdamWConfig::default(),
            loss: crate::loss::LossConfig::default(),
            dataset: "d".into(),
            params_len: p,
            elapsed_secs: 0.5,
            cpu_secs: 0.75,
            init: String::new(),
        }
    }

    fn state(p: usize) -> OptimState {
        OptimState {
            step: 3,
            m: vec![1.0; p],
            v: vec![2.0; p],
            ema: vec![3.0; p],
            beta1_power: 0.729,
            beta2_power: 0.997,
        }
    }

    /// The checkpoint of `header` with its JSON replaced by `json` (same body).
    fn with_json(json: &str, body: &[u8]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(json.as_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn round_trips_and_refuses_inconsistent_writes() {
        let bytes = to_bytes(&header(2), &[0.5, -1.0], &state(2)).unwrap();
        let (h, p, s) = parse(&bytes, "c").unwrap();
        assert_eq!((h, p, s), (header(2), vec![0.5, -1.0], state(2)));
        // Checkpoints written before `cpu_secs` existed load with 0 CPU seconds.
        let json_len = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
        let json = std::str::from_utf8(&bytes[16..16 + json_len]).unwrap();
        assert!(json.contains("\"cpu_secs\":0.75,"), "{json}");
        let old = with_json(
            &json.replace("\"cpu_secs\":0.75,", ""),
            &bytes[16 + json_len..],
        );
        let (h, _, _) = parse(&old, "c").unwrap();
        assert_eq!(h.cpu_secs, 0.0);
        assert_eq!(h.elapsed_secs, 0.5);
        let e = to_bytes(&header(3), &[0.5, -1.0], &state(2)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "parameters: 2 values, the header says 3 parameters"
        );
    }

    #[test]
    fn corrupt_lengths_are_errors_not_panics() {
        let good = to_bytes(&header(1), &[0.5], &state(1)).unwrap();
        let json_len = u64::from_le_bytes(good[8..16].try_into().unwrap()) as usize;
        let json = std::str::from_utf8(&good[16..16 + json_len]).unwrap();
        let body = &good[16 + json_len..];
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PPCKPT0".to_vec(), "not a powerpost checkpoint"),
            (b"PPCKPT01\x05".to_vec(), "file ends inside its length"),
            // A header length far beyond the file (and beyond usize on 32-bit targets).
            (
                [&good[..8], &u64::MAX.to_le_bytes()[..], &good[16..]].concat(),
                "its length field says 18446744073709551615 bytes",
            ),
            // 16 × params_len overflows usize.
            (
                with_json(
                    &json.replace("\"params_len\":1", "\"params_len\":2305843009213693952"),
                    body,
                ),
                "more than fit in memory",
            ),
            (
                with_json(&json.replace("\"params_len\":1", "\"params_len\":2"), body),
                "body holds 16 bytes, expected 32 for 2 parameters",
            ),
            (
                with_json(
                    &json.replace("\"beta1_power\":0.729", "\"beta1_power\":1.5"),
                    body,
                ),
                "`beta1_power` is 1.5, expected a number from 0 to 1",
            ),
            (
                with_json(
                    &json.replace("\"elapsed_secs\":0.5", "\"elapsed_secs\":-1.0"),
                    body,
                ),
                "`elapsed_secs` is -1",
            ),
            (
                with_json(
                    &json.replace("\"cpu_secs\":0.75", "\"cpu_secs\":-2.0"),
                    body,
                ),
                "`cpu_secs` is -2",
            ),
            (with_json("{", body), "bad header"),
        ];
        for (bytes, expected) in cases {
            let msg = format!("{:#}", parse(&bytes, "run/checkpoint.bin").unwrap_err());
            assert!(
                msg.starts_with("run/checkpoint.bin: ") && msg.contains(expected),
                "{msg}"
            );
        }
    }
}
