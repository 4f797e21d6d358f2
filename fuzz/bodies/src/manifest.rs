//! Target `manifest`: a dataset's `manifest.json` and what the trainer and `evaluate` do
//! with it ([`RawDataset::from_manifest`], [`Manifest::validate`], [`Dataset::from_raw`]).
//!
//! The fuzz input is the manifest; the shard files it may name are a fixed in-memory set
//! ([`files`]: `x_0000.npy` … `y_0001.npy`, 2 + 1 pairs of 2 × 4 images, plus a malformed
//! one), so that mutated manifests reach the shard checks.
//!
//! Properties:
//! - never a panic; every error names the manifest or a shard file;
//! - accepted input: the manifest validates; `pairs × height × width` velocities and RTM
//!   values were loaded; every pair `i < pairs` can be taken out of the raw and of the
//!   normalised dataset (what training and `evaluate` do), `train_pairs ≤ pairs`, and the
//!   normalised values are `(v − centre)·(1/half-range)` and `rtm·scale`;
//! - parse → write → parse: the manifest serialised again loads to the same data.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use anyhow::{bail, Result};
use powerpost_train::dataset::{Dataset, Manifest, RawDataset, ShardRecord, MANIFEST_FORMAT};
use powerpost_train::files::sha256_hex;
use powerpost_train::npy;

const NAME: &str = "fuzz/manifest.json";

/// The shard files a manifest may name: `[2, 2, 4]` and `[1, 2, 4]` arrays and a file
/// that is not `.npy`.
pub fn files() -> &'static BTreeMap<String, Vec<u8>> {
    static FILES: OnceLock<BTreeMap<String, Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let array = |count: usize, base: f32| {
            let values: Vec<f32> = (0..count * 8).map(|i| base + i as f32 * 0.125).collect();
            npy::to_bytes(&[count, 2, 4], &values).expect("consistent")
        };
        BTreeMap::from([
            ("x_0000.npy".to_string(), array(2, 1.5)),
            ("y_0000.npy".to_string(), array(2, -1.0)),
            ("x_0001.npy".to_string(), array(1, 2.5)),
            ("y_0001.npy".to_string(), array(1, 0.5)),
            ("junk.npy".to_string(), b"\x93NUMPY\x01\x00junk".to_vec()),
        ])
    })
}

/// Reads a shard file of [`files`] by name.
fn read(name: &str) -> Result<(String, Vec<u8>)> {
    match files().get(name) {
        Some(bytes) => Ok((format!("fuzz/{name}"), bytes.clone())),
        None => bail!("fuzz/{name}: cannot read"),
    }
}

/// The body of the `manifest` target.
pub fn fuzz(data: &[u8]) {
    let raw = match RawDataset::from_manifest(data, NAME, &read) {
        Ok(raw) => raw,
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(msg.starts_with(NAME) || msg.starts_with("fuzz/"), "{msg}");
            return;
        }
    };
    let m = &raw.manifest;
    m.validate(NAME).expect("a loaded manifest validates");
    let len = m.height * m.width;
    assert_eq!(raw.velocity_kms.len(), m.pairs * len);
    assert_eq!(raw.rtm.len(), m.pairs * len);
    assert!(m.train_pairs <= m.pairs);
    for i in 0..m.pairs {
        let (v, y) = raw.pair(i);
        assert_eq!((v.len(), y.len()), (len, len));
    }
    // A validated manifest's smoothing and normalisation are always accepted (two planes:
    // the RTM image, then the background model).
    let data = Dataset::from_raw(m.clone(), &raw.velocity_kms, &raw.rtm, 2)
        .expect("background models of a validated manifest");
    let inv = 1.0 / m.velocity_half_range;
    for i in 0..m.pairs {
        let (x, y) = data.pair(i);
        let (v, r) = raw.pair(i);
        assert_eq!(y.len(), 2 * len);
        for k in 0..len {
            assert_eq!(x[k].to_bits(), ((v[k] - m.velocity_center) * inv).to_bits());
            assert_eq!(y[k].to_bits(), (r[k] * m.rtm_scale).to_bits());
        }
    }
    // What `evaluate` does with the split.
    let held: Vec<usize> = (m.train_pairs..m.pairs).collect();
    assert_eq!(held.len(), m.pairs - m.train_pairs);
    // Round trip of the manifest itself.
    let again = serde_json::to_vec(m).expect("serialises");
    let back = RawDataset::from_manifest(&again, NAME, &read).expect("a written manifest loads");
    assert_eq!(&back.manifest, m);
    assert_eq!(back.velocity_kms, raw.velocity_kms);
    assert_eq!(back.rtm, raw.rtm);
}

/// The manifest of the two shards of [`files`].
pub fn manifest() -> Manifest {
    let record = |k: usize, first: usize, count: usize| {
        let (x, y) = (format!("x_{k:04}.npy"), format!("y_{k:04}.npy"));
        ShardRecord {
            shard: k,
            first,
            count,
            x_sha256: sha256_hex(&files()[&x]),
            y_sha256: sha256_hex(&files()[&y]),
            x_file: x,
            y_file: y,
        }
    };
    Manifest {
        format: MANIFEST_FORMAT.to_string(),
        seed: 1,
        preset: "edge".to_string(),
        prior: "geology".to_string(),
        height: 2,
        width: 4,
        pairs: 3,
        train_pairs: 2,
        held_out_pairs: 1,
        snr_db: 10.0,
        smooth_sigma: 10.0,
        background_error: 0.0,
        velocity_center: 3.0,
        velocity_half_range: 1.5,
        rtm_scale: 0.75,
        shards: vec![record(0, 0, 2), record(1, 2, 1)],
    }
}

/// Seeds: the manifest of [`files`] as the builder writes it (pretty JSON), compact, and
/// with one shard.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let full = manifest();
    let mut one = manifest();
    one.shards.truncate(1);
    one.pairs = 2;
    one.train_pairs = 1;
    vec![
        (
            "pretty.json".into(),
            serde_json::to_vec_pretty(&full).unwrap(),
        ),
        ("compact.json".into(), serde_json::to_vec(&full).unwrap()),
        ("one_shard.json".into(), serde_json::to_vec(&one).unwrap()),
    ]
}
