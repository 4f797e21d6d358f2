//! `.npy` helpers shared by the binary's integration tests (an independent writer and
//! reader, so the tests do not trust the code under test).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary with `args` (backtraces on, so a panic would show).
pub fn powerpost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_powerpost"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// Runs the binary and asserts success.
pub fn ok(args: &[&str]) -> Output {
    let out = powerpost(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Population standard deviation in f64 (two passes): the tests' own reference for the
/// RTM amplitude the runner normalises.
pub fn population_std(v: &[f32]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Asserts a clean user error: exit 2, one `error:` message containing every `needle`
/// (after nothing but `warning:` lines, e.g. about an input's amplitude), no panic or
/// backtrace.
pub fn assert_user_error(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let only_warnings_before = stderr
        .find("error: ")
        .map_or("", |at| &stderr[..at])
        .lines()
        .all(|l| l.starts_with("warning: "));
    assert!(
        stderr.starts_with("error: ") || (only_warnings_before && stderr.contains("\nerror: ")),
        "stderr: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "stderr: {stderr}"
    );
    for needle in needles {
        assert!(stderr.contains(needle), "missing {needle:?} in: {stderr}");
    }
}

/// Every file under `root` (relative path → bytes), skipping files named in `skip`.
pub fn tree(root: &Path, skip: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                stack.push(path);
            } else if !skip.contains(&name.as_str()) {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The rows of a CSV file without quoting, split at commas.
pub fn csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// Panics if any `.tmp` file or directory (an atomic write's temporary) is left under
/// `root`.
pub fn assert_no_temporaries(root: &Path) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            assert!(
                !path.to_string_lossy().ends_with(".tmp"),
                "{} left behind",
                path.display()
            );
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
}

/// A `.npy` file (format 1.0) with the given header dict and raw data bytes (also for
/// deliberately malformed files).
pub fn raw_npy(path: &Path, dict: &str, data: &[u8]) {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

/// Writes an `f32` `.npy` (format 1.0).
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if shape.len() == 1 {
        format!("{},", dims[0])
    } else {
        dims.join(", ")
    };
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    raw_npy(
        path,
        &format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({shape_text}), }}"),
        &bytes,
    );
}

/// Shape text and data of a little-endian `f32` C-order `.npy` (version 1.0 header).
pub fn read_npy(path: &Path) -> (String, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "{}", path.display());
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8(bytes[10..10 + len].to_vec()).unwrap();
    assert!(
        header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"),
        "{header}"
    );
    let shape = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .trim_end_matches([',', ' '])
        .to_string();
    let data = bytes[10 + len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (shape, data)
}

/// A small real dataset under `out`: `pairs` geology models of `seed` (64 × 128) with a
/// cheap stand-in for the RTM images — the velocity's vertical difference (deterministic,
/// structured, no wave physics) — in shards of `shard_size`, the last `held_out` held out.
pub fn stand_in_dataset(out: &Path, pairs: usize, seed: u64, shard_size: usize, held_out: usize) {
    stand_in_dataset_with_error(out, pairs, seed, shard_size, held_out, 0.0);
}

/// [`stand_in_dataset`] whose manifest records migration backgrounds with relative errors
/// up to `background_error` (the stand-in images do not depend on them).
pub fn stand_in_dataset_with_error(
    out: &Path,
    pairs: usize,
    seed: u64,
    shard_size: usize,
    held_out: usize,
    background_error: f32,
) {
    let opts = powerpost_train::dataset::BuildOptions {
        out: out.to_path_buf(),
        pairs,
        seed,
        shard_size,
        held_out: Some(held_out),
        part: (0, 1),
        models: None,
        snr_db: 10.0,
        smooth_sigma: 10.0,
        background_error,
        threads: 1,
    };
    powerpost_train::dataset::build_with(&opts, &|_| {}, &|v, _| {
        Ok((0..v.len())
            .map(|k| if k >= 128 { v[k] - v[k - 128] } else { 0.0 })
            .collect())
    })
    .unwrap();
}

/// Root-mean-square difference of two equal-length arrays (f64 accumulation).
pub fn rmse(a: &[f32], b: &[f32]) -> f64 {
    (a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64)
        .sqrt()
}

/// Seeded random weights of the default network with the background plane, as the
/// trainer exports them.
pub fn background_weights(path: &Path) {
    use powerpost_core::unet::{init_random, params_len, UNetConfig};
    use powerpost_train::export::{
        safetensors_f16, BACKGROUND_SIGMA_KEY, RTM_SCALE_KEY, VELOCITY_CENTER_KEY,
        VELOCITY_HALF_RANGE_KEY,
    };
    let config = UNetConfig::DEFAULT.with_background();
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 5, &mut params).unwrap();
    let meta = [
        (VELOCITY_CENTER_KEY, "3".to_string()),
        (VELOCITY_HALF_RANGE_KEY, "1.5".to_string()),
        (RTM_SCALE_KEY, "1".to_string()),
        (BACKGROUND_SIGMA_KEY, "10".to_string()),
    ];
    std::fs::write(path, safetensors_f16(&config, &params, &meta)).unwrap();
}
