//! The bodies of powerpost's fuzz targets.
//!
//! Every parser of user-supplied bytes has one target here: a function `fn(&[u8])` that
//! feeds the bytes to the parser and **asserts properties** of what it returns — never a
//! panic, accepted input satisfies the parser's invariants, and round trips hold (parse →
//! write → parse gives the same value; arbitrary valid values built from the bytes survive
//! write → parse). A failed assertion or a panic in the parser is a finding.
//!
//! The same functions run in two places:
//! - `fuzz/fuzz_targets/*.rs`: one-line `libfuzzer-sys` wrappers for coverage-guided
//!   fuzzing with `cargo +nightly fuzz run <target>` (`scripts/fuzz.sh`);
//! - `tests/replay.rs` of this crate (stable, part of `cargo test --workspace`): replays the
//!   committed seed corpus (`fuzz/corpus/<target>/`) and every crash-regression input
//!   (`fuzz/regressions/<target>/`), then runs a deterministic mutation loop ([`mutate`])
//!   over the seeds.
//!
//! [`TARGETS`] lists them; [`seeds`] generates the committed seed corpus.

// `x % n == 0` is kept over `is_multiple_of` (workspace MSRV 1.80).
#![allow(clippy::manual_is_multiple_of)]

pub mod capi;
pub mod checkpoint;
pub mod manifest;
pub mod mutate;
pub mod npy;
pub mod safetensors;
pub mod segy;
pub mod sidecars;
pub mod weights;

use mutate::LengthField;

/// A fuzz target: its name (the file name under `fuzz/fuzz_targets/` and the corpus
/// directory), its body and where its seeds keep length fields worth mutating.
pub struct Target {
    /// Name of the cargo-fuzz target and of its corpus directories.
    pub name: &'static str,
    /// The body: panics (or fails an assertion) on a finding.
    pub body: fn(&[u8]),
    /// Length and count fields of the format, for the mutation loop.
    pub length_fields: &'static [LengthField],
    /// What the target covers (one line).
    pub covers: &'static str,
}

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "safetensors",
        body: safetensors::fuzz,
        length_fields: safetensors::LENGTH_FIELDS,
        covers: "core SafeTensors::parse (no_std, no alloc) against the official safetensors crate",
    },
    Target {
        name: "weights",
        body: weights::fuzz,
        length_fields: safetensors::LENGTH_FIELDS,
        covers:
            "core unet::load_params and Normalization::from_safetensors (architecture metadata)",
    },
    Target {
        name: "npy",
        body: npy::fuzz,
        length_fields: npy::LENGTH_FIELDS,
        covers: "train::npy (the reader train and the powerpost binary share) against npyz",
    },
    Target {
        name: "segy",
        body: segy::fuzz,
        length_fields: segy::LENGTH_FIELDS,
        covers: "powerpost-segy parse: textual, binary and trace headers, samples",
    },
    Target {
        name: "checkpoint",
        body: checkpoint::fuzz,
        length_fields: checkpoint::LENGTH_FIELDS,
        covers: "train::checkpoint::parse",
    },
    Target {
        name: "manifest",
        body: manifest::fuzz,
        length_fields: &[],
        covers: "train dataset manifest.json (RawDataset::from_manifest, Manifest::validate)",
    },
    Target {
        name: "sidecars",
        body: sidecars::fuzz,
        length_fields: &[],
        covers: "runner sample.json, sweep.json (and sweep-merge's shard order), cell.json",
    },
    Target {
        name: "capi",
        body: capi::fuzz,
        length_fields: safetensors::LENGTH_FIELDS,
        covers:
            "C ABI powerpost_weights_inspect and powerpost_network_load_weights on byte buffers",
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The seed corpus: `(target, file name, bytes)` — small valid files of each format (and
/// a few near misses), written to `fuzz/corpus/<target>/<file name>` by
/// `cargo run -p powerpost-fuzz-bodies --example write_seeds`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut add = |target: &'static str, list: Vec<(String, Vec<u8>)>| {
        out.extend(list.into_iter().map(|(name, bytes)| (target, name, bytes)));
    };
    add("safetensors", safetensors::seeds());
    add("weights", weights::seeds());
    add("npy", npy::seeds());
    add("segy", segy::seeds());
    add("checkpoint", checkpoint::seeds());
    add("manifest", manifest::seeds());
    add("sidecars", sidecars::seeds());
    add("capi", capi::seeds());
    out
}

/// Reads a little-endian integer of `N ≤ 8` bytes from `bytes` at `at` (missing bytes
/// read as 0): how the structured halves of the bodies turn fuzz bytes into values.
pub(crate) struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    /// The next byte (0 once the data are used up).
    pub(crate) fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// The next `n` bytes as a little-endian integer (`n ≤ 8`).
    pub(crate) fn uint(&mut self, n: usize) -> u64 {
        (0..n).fold(0u64, |acc, k| acc | (u64::from(self.u8()) << (8 * k)))
    }

    /// The next 4 bytes as `f32` bits.
    pub(crate) fn f32(&mut self) -> f32 {
        f32::from_bits(self.uint(4) as u32)
    }

    /// A value below `n` (`n ≥ 1`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    /// The next `n` bytes (fewer if the data end).
    pub(crate) fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.at.min(self.data.len());
        let end = self.at.saturating_add(n).min(self.data.len());
        self.at = self.at.saturating_add(n);
        &self.data[start..end]
    }
}
