//! `powerpost evaluate` end to end on a small dataset (real geology models, a cheap
//! stand-in for the RTM images) with seeded random weights: the held-out figures are
//! those of the samples `powerpost sample` draws, recomputed here independently.

use std::path::Path;

mod common;
use common::{ok, powerpost, write_npy};

/// Data of an `f32` `.npy`.
fn read_npy(path: &Path) -> Vec<f32> {
    common::read_npy(path).1
}

/// A stand-in dataset of 5 pairs (3 training, 2 held out, shards of 2) in `dir/data`.
fn stand_in(dir: &Path) {
    common::stand_in_dataset(&dir.join("data"), 5, 3, 2, 2);
}

/// `powerpost evaluate` of seeded random weights on [`stand_in`]'s dataset into
/// `dir/out`, 2 posterior samples of 2 steps per pair, then `extra`: its stdout and
/// `evaluate.json`.
fn evaluate(dir: &Path, out: &str, extra: &[&str]) -> (String, serde_json::Value) {
    let s = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let mut args = vec![
        "evaluate".to_string(),
        "--data".into(),
        s("data"),
        "--weights".into(),
        "random:5".into(),
        "--out".into(),
        s(out),
        "--samples".into(),
        "2".into(),
        "--steps".into(),
        "2".into(),
        "-q".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let output = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let report = std::fs::read(dir.join(out).join("evaluate.json")).unwrap();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        serde_json::from_slice(&report).unwrap(),
    )
}

/// The dataset indices of the pairs a report scored.
fn pair_indices(report: &serde_json::Value) -> Vec<u64> {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pair"].as_u64().unwrap())
        .collect()
}

/// RMSE against `truth` of the mean of the 2 samples (2 steps, seed 0) that `powerpost
/// sample` draws from `rtm` with the same random weights as [`evaluate`], and the
/// fraction of pixels where `truth` lies between the two samples.
fn sample_mean_rmse(dir: &Path, name: &str, rtm: &[f32], truth: &[f32]) -> (f64, f64) {
    let rtm_path = dir.join(format!("{name}.npy"));
    write_npy(&rtm_path, &[64, 128], rtm);
    let out = dir.join(name);
    ok(&[
        "sample",
        "--rtm",
        rtm_path.to_str().unwrap(),
        "--weights",
        "random:5",
        "--n",
        "2",
        "--steps",
        "2",
        "--seed",
        "0",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    let samples = read_npy(&out.join("samples.npy"));
    let (a, b) = samples.split_at(truth.len());
    let inside = truth
        .iter()
        .zip(a.iter().zip(b))
        .filter(|(&t, (&a, &b))| a.min(b) <= t && t <= a.max(b))
        .count();
    (
        common::rmse(&read_npy(&out.join("mean.npy")), truth),
        inside as f64 / truth.len() as f64,
    )
}

#[test]
fn evaluate_reports_the_samples_that_sample_draws() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let s = |q: &Path| q.to_str().unwrap().to_string();
    stand_in(dir.path());
    let (stdout, report) = evaluate(
        dir.path(),
        "ev",
        &["--prior-samples", "2", "--threads", "2"],
    );
    assert!(stdout.contains("held-out pairs: 2"), "{stdout}");
    for f in [
        "evaluate.json",
        "heldout.csv",
        "depth.csv",
        "depth.png",
        "heldout.png",
        "prior.png",
    ] {
        assert!(p("ev").join(f).is_file(), "{f} missing");
    }
    let pairs = report["pairs"].as_array().unwrap();
    assert_eq!(
        pair_indices(&report),
        [3, 4],
        "the held-out pairs are the last two"
    );
    // By depth: every row of the 64 has its RMSEs, and since every row has the same
    // width, the mean over rows of a squared row RMSE is the mean over pairs of the
    // squared pair RMSE (for the posterior mean and for the background).
    let csv = std::fs::read_to_string(p("ev/depth.csv")).unwrap();
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 64, "{csv}");
    // The edge preset's 25 m rows.
    assert!(rows.iter().all(|r| r[1] == r[0] * 25.0), "{csv}");
    assert_eq!(report["depth"]["row_spacing_m"].as_f64(), Some(25.0));
    for (column, key) in [(2, "rmse_mean"), (3, "rmse_background")] {
        let by_rows = rows.iter().map(|r| r[column] * r[column]).sum::<f64>() / 64.0;
        let by_pairs = pairs
            .iter()
            .map(|r| r[key].as_f64().unwrap().powi(2))
            .sum::<f64>()
            / pairs.len() as f64;
        assert!(
            (by_rows - by_pairs).abs() <= 1e-5 * by_pairs,
            "{key}: {by_rows} by rows, {by_pairs} by pairs"
        );
    }
    assert!(rows.iter().all(|r| r[4] > 0.0), "posterior spread: {csv}");
    // The summary counts the rows where the mean's RMSE is below the background's.
    let count = rows.iter().filter(|r| r[2] < r[3]).count();
    assert!(
        stdout.contains(&format!(
            "by depth: the mean's RMSE is below the background's in {count} of 64 rows"
        )),
        "{stdout}"
    );

    // Pair 3 again through `powerpost sample`, and its RMSE recomputed here.
    let xs = read_npy(&p("data/x_0001.npy"));
    let ys = read_npy(&p("data/y_0001.npy"));
    let n = 64 * 128;
    let (expected, coverage) = sample_mean_rmse(dir.path(), "s3", &ys[n..2 * n], &xs[n..2 * n]);
    assert_eq!(pairs[0]["range_coverage"].as_f64(), Some(coverage));
    // Two samples: a calibrated posterior puts the truth between them a third of the time.
    assert_eq!(
        report["held_out"]["calibrated_range_coverage"].as_f64(),
        Some(1.0 / 3.0)
    );
    let reported = pairs[0]["rmse_mean"].as_f64().unwrap();
    assert!(
        (reported - expected).abs() <= 1e-12 * expected.max(1.0),
        "reported {reported}, recomputed {expected}"
    );
    // Random weights cannot beat the background.
    assert_eq!(
        report["held_out"]["pairs_beating_background"].as_u64(),
        Some(0)
    );
    // Held-out truths are fresh generator draws: not identical to any training model.
    let prior = &report["prior"];
    assert!(
        prior["held_out_nearest_rmse"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d.as_f64().unwrap() > 0.01),
        "{prior}"
    );

    // Steps study: an entry equal to the reference schedule reproduces it exactly; another
    // sampler on the same schedule does not; the reference row carries the standard error.
    evaluate(
        dir.path(),
        "study",
        &[
            "--prior-samples",
            "0",
            "--sampler",
            "heun",
            "--steps-study",
            "3,euler:3",
            "--reference-steps",
            "3",
            "--study-pairs",
            "1",
            "--study-samples",
            "2",
        ],
    );
    let csv = std::fs::read_to_string(p("study/steps.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][..3], ["sampler", "steps", "evaluations"], "{csv}");
    assert_eq!(rows.len(), 4, "{csv}");
    assert_eq!(
        (rows[1][0], rows[1][1], rows[1][2]),
        ("heun", "3", "5"),
        "{csv}"
    );
    assert!(
        rows[1][6].parse::<f64>().unwrap() > 0.0,
        "standard error: {csv}"
    );
    assert_eq!(
        (rows[2][0], rows[2][4], rows[2][5]),
        ("heun", "0.000000", "0.000000"),
        "{csv}"
    );
    assert_eq!((rows[3][0], rows[3][2]), ("euler", "3"), "{csv}");
    assert!(rows[3][5].parse::<f64>().unwrap() > 0.0, "{csv}");
    let out = powerpost(&[
        "evaluate",
        "--data",
        &s(&p("data")),
        "--weights",
        "random:5",
        "--out",
        &s(&p("bad")),
        "--steps-study",
        "nosuch:4",
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--steps-study `nosuch:4`") && stderr.contains("dpmpp-2m"),
        "{stderr}"
    );
    assert!(!p("bad").exists());
}

/// On a dataset with background errors, `evaluate` scores against (and conditions on)
/// each pair's own erroneous background, the one its image was migrated in: the reported
/// background RMSE is that of `pair_background`, not of the smoothed true model.
#[test]
fn evaluate_uses_each_pairs_erroneous_background() {
    let dir = tempfile::tempdir().unwrap();
    common::stand_in_dataset_with_error(&dir.path().join("data"), 5, 3, 2, 2, 0.2);
    let (_, report) = evaluate(dir.path(), "ev", &["--prior-samples", "0"]);
    let raw = powerpost_train::dataset::RawDataset::load(&dir.path().join("data")).unwrap();
    assert_eq!(raw.manifest.background_error, 0.2);
    let rmse = |a: &[f32], b: &[f32]| {
        (a.iter()
            .zip(b)
            .map(|(x, y)| ((x - y) as f64).powi(2))
            .sum::<f64>()
            / a.len() as f64)
            .sqrt()
    };
    for pair in report["pairs"].as_array().unwrap() {
        let i = pair["pair"].as_u64().unwrap() as usize;
        let (truth, _) = raw.pair(i);
        let with_error =
            powerpost_train::dataset::pair_background(&raw.manifest, i, truth).unwrap();
        let exact = powerpost_train::dataset::background_model(truth, 64, 128, 10.0).unwrap();
        let reported = pair["rmse_background"].as_f64().unwrap();
        let expected = rmse(&with_error, truth);
        assert!(
            (reported - expected).abs() <= 1e-9 * expected,
            "pair {i}: {reported} vs {expected}"
        );
        assert!(
            (reported - rmse(&exact, truth)).abs() > 1e-4,
            "pair {i}: the exact background's RMSE"
        );
    }
}

/// `--split train` scores the last training pairs (as many as are held out) the same
/// way, with the held-out models still the scale of the prior check.
#[test]
fn evaluate_split_train_scores_the_last_training_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    stand_in(dir.path());
    let (stdout, report) = evaluate(
        dir.path(),
        "ev",
        &["--split", "train", "--prior-samples", "1"],
    );
    assert!(stdout.contains("training pairs: 2"), "{stdout}");
    assert_eq!(report["split"], "train");
    let pairs = report["pairs"].as_array().unwrap();
    assert_eq!(
        pair_indices(&report),
        [1, 2],
        "the last two of the three training pairs"
    );
    // Pair 2 (the first of shard 1) through `powerpost sample`, its RMSE recomputed here.
    let n = 64 * 128;
    let (xs, ys) = (
        read_npy(&p("data/x_0001.npy")),
        read_npy(&p("data/y_0001.npy")),
    );
    let (expected, _) = sample_mean_rmse(dir.path(), "s2", &ys[..n], &xs[..n]);
    let reported = pairs[1]["rmse_mean"].as_f64().unwrap();
    assert!(
        (reported - expected).abs() <= 1e-12 * expected.max(1.0),
        "reported {reported}, recomputed {expected}"
    );
    // The scale of the prior check stays the held-out models (not training models,
    // whose nearest training model is themselves).
    let scale = report["prior"]["held_out_nearest_rmse"].as_array().unwrap();
    assert_eq!(scale.len(), 2);
    assert!(
        scale.iter().all(|d| d.as_f64().unwrap() > 0.01),
        "{scale:?}"
    );
}

#[test]
fn evaluate_rejects_a_missing_dataset_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = powerpost(&[
        "evaluate",
        "--data",
        dir.path().join("nope").to_str().unwrap(),
        "--weights",
        "random:1",
        "--out",
        dir.path().join("ev").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("manifest.json") && stderr.contains("powerpost dataset"),
        "{stderr}"
    );
    assert!(!dir.path().join("ev").exists());
}
