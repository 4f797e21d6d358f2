//! The dataset builder's sharding, resume, digests, manifest and reader (with a cheap
//! stand-in for the RTM physics), plus one real pair (ignored: about a minute).

use powerpost_train::dataset::{build, build_with, BuildOptions, Dataset};
use powerpost_train::npy;

fn opts(out: std::path::PathBuf, pairs: usize) -> BuildOptions {
    BuildOptions {
        out,
        pairs,
        seed: 3,
        shard_size: 4,
        held_out: None,
        part: (0, 1),
        models: None,
        snr_db: 10.0,
        smooth_sigma: 10.0,
        background_error: 0.0,
        threads: 2,
    }
}

/// Stand-in image: vertical derivative of the velocity plus the pair index.
fn fake(v: &[f32], i: usize) -> anyhow::Result<Vec<f32>> {
    Ok((0..v.len())
        .map(|k| {
            if k >= 128 {
                v[k] - v[k - 128] + i as f32 * 1e-3
            } else {
                0.0
            }
        })
        .collect())
}

#[test]
fn shards_resume_split_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let r = build_with(&opts(whole.clone(), 10), &|_| {}, &fake).unwrap();
    assert_eq!((r.built, r.pairs_built, r.manifest_written), (3, 10, true));
    let data = Dataset::load(&whole, 1).unwrap();
    assert_eq!(
        (
            data.manifest.pairs,
            data.train_pairs,
            data.manifest.held_out_pairs
        ),
        (10, 9, 1)
    );
    // Pairs are the generator's models, normalised.
    let mut v = vec![0.0; 64 * 128];
    let params = powerpost_core::geology::GeologyParams::new(64, 128, 25.0);
    powerpost_core::geology::generate(&params, 3, 7, &mut v).unwrap();
    let (x7, y7) = data.pair(7);
    assert!(x7
        .iter()
        .zip(&v)
        .all(|(a, b)| *a == (b - 3.0) * (1.0 / 1.5)));
    let raw7 = fake(&v, 7).unwrap();
    assert!(y7
        .iter()
        .zip(&raw7)
        .all(|(a, b)| *a == b * data.manifest.rtm_scale));
    // RTM scale: 1/std of shard 0's images.
    let y0 = npy::read_f32(&whole.join("y_0000.npy")).unwrap().data;
    let mean = y0.iter().map(|&v| v as f64).sum::<f64>() / y0.len() as f64;
    let std = (y0.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / y0.len() as f64).sqrt();
    assert!(((data.manifest.rtm_scale as f64) * std - 1.0).abs() < 1e-6);
    // A rerun skips everything; a corrupted shard is rebuilt, identically.
    let r = build_with(&opts(whole.clone(), 10), &|_| {}, &fake).unwrap();
    assert_eq!((r.built, r.skipped), (0, 3));
    let before = std::fs::read(whole.join("x_0001.npy")).unwrap();
    std::fs::write(whole.join("x_0001.npy"), b"garbage").unwrap();
    assert!(Dataset::load(&whole, 1)
        .unwrap_err()
        .to_string()
        .contains("x_0001.npy"));
    let r = build_with(&opts(whole.clone(), 10), &|_| {}, &fake).unwrap();
    assert_eq!((r.built, r.skipped), (1, 2));
    assert_eq!(std::fs::read(whole.join("x_0001.npy")).unwrap(), before);
    // A rerun with another recipe would mix pairs under one manifest: refused, by name,
    // and nothing is rebuilt.
    for (other, option) in [
        (
            BuildOptions {
                background_error: 0.1,
                ..opts(whole.clone(), 10)
            },
            "--background-error 0, not 0.1",
        ),
        (
            BuildOptions {
                seed: 4,
                ..opts(whole.clone(), 10)
            },
            "--seed 3, not 4",
        ),
        (
            BuildOptions {
                snr_db: 5.0,
                ..opts(whole.clone(), 10)
            },
            "--snr-db 10, not 5",
        ),
        (opts(whole.clone(), 12), "--pairs 10, not 12"),
    ] {
        let err = build_with(&other, &|_| {}, &fake).unwrap_err().to_string();
        assert!(err.contains("build.json") && err.contains(option), "{err}");
    }
    assert_eq!(std::fs::read(whole.join("x_0001.npy")).unwrap(), before);
    // Two machines (`--shard 0/2`, `--shard 1/2`) give the same files.
    let split = dir.path().join("split");
    let r0 = build_with(
        &BuildOptions {
            part: (0, 2),
            ..opts(split.clone(), 10)
        },
        &|_| {},
        &fake,
    )
    .unwrap();
    assert!(!r0.manifest_written);
    let r1 = build_with(
        &BuildOptions {
            part: (1, 2),
            ..opts(split.clone(), 10)
        },
        &|_| {},
        &fake,
    )
    .unwrap();
    assert!(r1.manifest_written);
    for f in ["x_0000.npy", "y_0002.npy", "manifest.json"] {
        assert_eq!(
            std::fs::read(whole.join(f)).unwrap(),
            std::fs::read(split.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn user_models_are_the_prior_source_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let models: Vec<f32> = (0..3 * 64 * 128)
        .map(|i| 1500.0 + (i % 8192) as f32 * 0.3)
        .collect();
    let path = dir.path().join("stack.npy");
    std::fs::write(&path, npy::to_bytes(&[3, 64, 128], &models).unwrap()).unwrap();
    let out = dir.path().join("ds");
    build_with(
        &BuildOptions {
            models: Some(path.clone()),
            held_out: Some(1),
            ..opts(out.clone(), 0)
        },
        &|_| {},
        &fake,
    )
    .unwrap();
    let data = Dataset::load(&out, 1).unwrap();
    assert_eq!(
        (data.manifest.pairs, data.manifest.prior.as_str()),
        (3, "stack.npy")
    );
    // m/s were converted to km/s before normalising.
    let (x1, _) = data.pair(1);
    assert!((x1[0] - (models[64 * 128] * 1e-3 - 3.0) / 1.5).abs() < 1e-6);
    std::fs::write(
        &path,
        npy::to_bytes(&[3, 32, 128], &models[..3 * 32 * 128]).unwrap(),
    )
    .unwrap();
    let err = build_with(
        &BuildOptions {
            models: Some(path),
            ..opts(dir.path().join("bad"), 0)
        },
        &|_| {},
        &fake,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("stack.npy") && err.contains("expected [N, 64, 128]"),
        "{err}"
    );
}

/// One real pair through the `edge` physics (≈ 40–80 core-seconds).
#[test]
#[ignore = "slow: full RTM of 16 shots"]
fn real_pair_has_a_muted_water_layer_and_reflectivity_below() {
    let dir = tempfile::tempdir().unwrap();
    build(
        &BuildOptions {
            shard_size: 2,
            held_out: Some(1),
            ..opts(dir.path().join("real"), 2)
        },
        &|_| {},
    )
    .unwrap();
    let data = Dataset::load(&dir.path().join("real"), 1).unwrap();
    let (x, y) = data.pair(0);
    // Water (v ≤ 1.51 km/s) is muted; the image below has energy.
    let water: Vec<usize> = (0..x.len()).filter(|&k| x[k] * 1.5 + 3.0 <= 1.51).collect();
    assert!(!water.is_empty() && water.iter().all(|&k| y[k] == 0.0));
    assert!(y.iter().map(|v| v * v).sum::<f32>() > 0.0);
}
