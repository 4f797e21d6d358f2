//! The shipped weights (`weights/powerpost-edge.safetensors`, conditioned on the RTM image
//! and the background model, and `weights/powerpost-edge-bgerr.safetensors`, the same
//! fine-tuned on backgrounds with errors) on the shipped example (`examples/edge-2016`, a held-out pair
//! no shipped weights were trained on): plain `powerpost sample` uses them and records
//! their digest, and what they draw has the properties trained weights must have and
//! random weights lack — a water layer on top, velocities inside the generator's range, a
//! posterior whose reflectors follow the true model's (the vertical velocity contrasts of
//! the posterior mean, what an RTM image images, correlate with the truth's far better than
//! the prior mean's do), and a posterior mean closer to the truth than the background model
//! the network was handed.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sample(args: &[&str], out: &Path) -> Vec<f32> {
    let output = Command::new(env!("CARGO_BIN_EXE_powerpost"))
        .args(args)
        .args([
            "--steps",
            "10",
            "--seed",
            "0",
            "--threads",
            "2",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    common::read_npy(&out.join("samples.npy")).1
}

/// Correlation (uncentred, as for reflectivity) of the vertical differences of `a` and `b`.
fn contrast_correlation(a: &[f32], b: &[f32], w: usize) -> f64 {
    let dz = |v: &[f32]| -> Vec<f64> {
        (w..v.len())
            .map(|k| v[k] as f64 - v[k - w] as f64)
            .collect()
    };
    let (x, y) = (dz(a), dz(b));
    let dot = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(u, v)| u * v).sum::<f64>();
    dot(&x, &y) / (dot(&x, &x) * dot(&y, &y)).sqrt()
}

fn mean_of(samples: &[f32], len: usize) -> Vec<f32> {
    let n = samples.len() / len;
    (0..len)
        .map(|k| (0..n).map(|i| samples[i * len + k] as f64).sum::<f64>() as f32 / n as f32)
        .collect()
}

#[test]
fn shipped_weights_draw_plausible_models_that_the_rtm_image_informs() {
    plausible_and_informed("weights/powerpost-edge.safetensors", true);
}

/// The same properties for the weights fine-tuned on erroneous backgrounds (given the
/// example's exact one here); they also say so in their metadata.
#[test]
fn background_error_weights_draw_plausible_models_that_the_rtm_image_informs() {
    let weights = "weights/powerpost-edge-bgerr.safetensors";
    plausible_and_informed(weights, false);
    let info = Command::new(env!("CARGO_BIN_EXE_powerpost"))
        .args(["info", "--weights", repo().join(weights).to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&info.stdout);
    assert!(
        stdout.contains("relative errors up to: 0.1") && stdout.contains("in=3"),
        "{stdout}"
    );
}

/// Samples of the weights at `relative` (the default of `sample` when `default`) on the
/// example pair, checked as the module docs say.
fn plausible_and_informed(relative: &str, default: bool) {
    let weights = repo().join(relative);
    let named = ["--weights", weights.to_str().unwrap()];
    let named: &[&str] = if default { &[] } else { &named };
    let example = repo().join("examples/edge-2016");
    let truth = common::read_npy(&example.join("velocity.npy")).1;
    let (h, w) = (64, 128);
    let len = h * w;
    let dir = tempfile::tempdir().unwrap();
    let rtm = example.join("rtm.npy");
    let background = example.join("background.npy");
    let posterior = sample(
        &[
            &[
                "sample",
                "--rtm",
                rtm.to_str().unwrap(),
                "--background",
                background.to_str().unwrap(),
                "--n",
                "4",
            ],
            named,
        ]
        .concat(),
        &dir.path().join("post"),
    );
    let prior = sample(
        &[
            &[
                "sample", "--prior", "--height", "64", "--width", "128", "--n", "4",
            ],
            named,
        ]
        .concat(),
        &dir.path().join("prior"),
    );

    // The sidecar names the file and its digest.
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("post/sample.json")).unwrap())
            .unwrap();
    let digest = format!("{:x}", Sha256::digest(std::fs::read(&weights).unwrap()));
    assert_eq!(
        sidecar["weights"]["sha256"].as_str(),
        Some(digest.as_str()),
        "{sidecar}"
    );

    for (name, samples) in [("posterior", &posterior), ("prior", &prior)] {
        assert_eq!(samples.len(), 4 * len);
        for (i, s) in samples.chunks_exact(len).enumerate() {
            // Water on top: the generator's models all start with ≥ 4 rows of 1.5 km/s water.
            let top: f64 = s[..3 * w].iter().map(|&v| v as f64).sum::<f64>() / (3 * w) as f64;
            assert!(
                (top - 1.5).abs() < 0.15,
                "{name} sample {i}: top rows average {top} km/s, expected water (1.5)"
            );
            // Deeper is faster on average (compaction trend).
            let bottom: f64 =
                s[len - 8 * w..].iter().map(|&v| v as f64).sum::<f64>() / (8 * w) as f64;
            assert!(
                bottom > top + 1.0,
                "{name} sample {i}: bottom {bottom} vs top {top} km/s"
            );
            assert!(
                s.iter().all(|v| v.is_finite() && (1.0..=5.0).contains(v)),
                "{name} sample {i}: velocities outside 1–5 km/s"
            );
        }
    }
    // The RTM image places the reflectors: measured 0.66 for the posterior mean against
    // 0.10 for the prior mean with the v5 weights (v1: 0.50 / 0.11; 4 samples, 10 steps).
    let post = contrast_correlation(&mean_of(&posterior, len), &truth, w);
    let prior_corr = contrast_correlation(&mean_of(&prior, len), &truth, w);
    println!(
        "contrast correlation with the truth: posterior mean {post:.3}, prior mean {prior_corr:.3}"
    );
    assert!(
        post > 0.3 && post > prior_corr + 0.15,
        "contrast correlation with the truth: posterior mean {post}, prior mean {prior_corr}"
    );
    // Both means are still within the generator's spread of the truth (≈ 0.35 km/s here).
    for (name, m) in [
        ("posterior", mean_of(&posterior, len)),
        ("prior", mean_of(&prior, len)),
    ] {
        let e = common::rmse(&m, &truth);
        assert!(e < 0.6, "{name} mean RMSE {e} km/s");
    }
    // The network is handed the background model: its posterior mean must add to it, i.e.
    // be closer to the truth than the background it was given (measured with the v5
    // weights: RMSE 0.086 against the background's 0.171 km/s; 4 samples, 10 steps).
    let background = common::read_npy(&example.join("background.npy")).1;
    let (post_rmse, background_rmse) = (
        common::rmse(&mean_of(&posterior, len), &truth),
        common::rmse(&background, &truth),
    );
    println!("RMSE against the truth: posterior mean {post_rmse:.4}, background {background_rmse:.4} km/s");
    assert!(
        post_rmse < background_rmse,
        "posterior mean RMSE {post_rmse} vs background {background_rmse} km/s"
    );
}
