//! Weights conditioned on the background model as well as the RTM image
//! (`--network default-background`): `sample`, `sweep`, `evaluate` and `info` hand the
//! background to the network, record it, refuse it where it does not belong, and give the
//! same bits for the same model in km/s or m/s.

use std::path::{Path, PathBuf};

mod common;
use common::{assert_user_error, ok, powerpost, read_npy, write_npy};

const H: usize = 16;
const W: usize = 32;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A smooth background (km/s, multiples of 1/8 so that ×1000 and ÷1000 are exact) and
/// an RTM-like image.
fn inputs(dir: &Path) -> (PathBuf, PathBuf, Vec<f32>) {
    let background: Vec<f32> = (0..H * W)
        .map(|k| 1.5 + (k / W) as f32 * 0.125 + ((k % W) / 8) as f32 * 0.25)
        .collect();
    let rtm: Vec<f32> = (0..H * W)
        .map(|k| if (k / W) % 5 == 2 { 1.0 } else { -0.2 })
        .collect();
    let (b, r) = (dir.join("background.npy"), dir.join("rtm.npy"));
    write_npy(&b, &[H, W], &background);
    write_npy(&r, &[H, W], &rtm);
    (b, r, background)
}

/// `sample` of `weights` with 2 samples of 2 steps, then `extra`.
fn sample(weights: &Path, rtm: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sample",
        "--rtm",
        s(rtm),
        "--weights",
        s(weights),
        "--n",
        "2",
        "--steps",
        "2",
        "--out",
        s(out),
        "-q",
    ];
    args.extend_from_slice(extra);
    powerpost(&args)
}

/// [`sample`], asserting success.
fn sample_ok(weights: &Path, rtm: &Path, out: &Path, extra: &[&str]) {
    let output = sample(weights, rtm, out, extra);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn samples(out: &Path) -> Vec<u32> {
    read_npy(&out.join("samples.npy"))
        .1
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn sample_hands_the_background_to_weights_that_take_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    common::background_weights(&p("bg.safetensors"));
    let (background, rtm, values) = inputs(dir.path());
    let weights = p("bg.safetensors");

    // Missing: refused before anything is written, naming the option.
    let out = sample(&weights, &rtm, &p("none"), &[]);
    assert_user_error(&out, &["--background", "bg.safetensors"]);
    assert!(!p("none").exists());

    sample_ok(&weights, &rtm, &p("a"), &["--background", s(&background)]);
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("a/sample.json")).unwrap()).unwrap();
    assert_eq!(
        sidecar["background"]["sha256"].as_str().unwrap(),
        sha256_hex(&std::fs::read(&background).unwrap())
    );

    // The same model in m/s: the same network input, so the same bits.
    let mps: Vec<f32> = values.iter().map(|v| v * 1000.0).collect();
    write_npy(&p("background_mps.npy"), &[1, H, W], &mps);
    sample_ok(
        &weights,
        &rtm,
        &p("mps"),
        &["--background", s(&p("background_mps.npy"))],
    );
    assert_eq!(samples(&p("a")), samples(&p("mps")));

    // Another background changes the posterior.
    let other: Vec<f32> = values.iter().map(|v| v + 0.5).collect();
    write_npy(&p("other.npy"), &[H, W], &other);
    sample_ok(
        &weights,
        &rtm,
        &p("other"),
        &["--background", s(&p("other.npy"))],
    );
    assert_ne!(samples(&p("a")), samples(&p("other")));

    // Redrawn from the sidecar: the same bits; another file under the recorded name is
    // refused.
    ok(&[
        "sample",
        "--from",
        s(&p("a/sample.json")),
        "--out",
        s(&p("again")),
        "-q",
    ]);
    assert_eq!(samples(&p("a")), samples(&p("again")));
    let out = powerpost(&[
        "sample",
        "--from",
        s(&p("a/sample.json")),
        "--background",
        s(&p("other.npy")),
        "--out",
        s(&p("wrong")),
        "-q",
    ]);
    assert_user_error(&out, &["background.sha256", "other.npy"]);
    assert!(!p("wrong").exists());

    // Bad background files name the file and what was expected.
    write_npy(&p("small.npy"), &[H, W / 2], &values[..H * W / 2]);
    let mut negative = values.clone();
    negative[W + 3] = -1.0;
    write_npy(&p("negative.npy"), &[H, W], &negative);
    for (file, needles) in [
        ("small.npy", vec!["small.npy", "expected [16, 32]"]),
        ("negative.npy", vec!["negative.npy", "row 1, column 3"]),
        ("missing.npy", vec!["missing.npy"]),
    ] {
        let out = sample(&weights, &rtm, &p("bad"), &["--background", s(&p(file))]);
        assert_user_error(&out, &needles);
        assert!(!p("bad").exists(), "{file}");
    }

    // Weights of the RTM image alone refuse a background; the prior takes none.
    let out = powerpost(&[
        "sample",
        "--rtm",
        s(&rtm),
        "--weights",
        "random:5",
        "--background",
        s(&background),
        "--out",
        s(&p("plain")),
        "-q",
    ]);
    assert_user_error(&out, &["--background", "RTM image alone"]);
    let out = powerpost(&[
        "sample",
        "--prior",
        "--weights",
        s(&weights),
        "--background",
        s(&background),
        "--out",
        s(&p("prior")),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!p("plain").exists() && !p("prior").exists());
    // The prior of background weights needs no background.
    ok(&[
        "sample",
        "--prior",
        "--height",
        "16",
        "--width",
        "32",
        "--weights",
        s(&weights),
        "--n",
        "1",
        "--steps",
        "2",
        "--out",
        s(&p("prior")),
        "-q",
    ]);

    let info = ok(&["info", "--weights", s(&weights)]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("conditioned on: the RTM image and the background model"),
        "{text}"
    );
    assert!(text.contains("smoothed with σ (grid points): 10"), "{text}");
}

#[test]
fn sweep_cells_are_the_samples_with_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    common::background_weights(&p("bg.safetensors"));
    let (background, rtm, _) = inputs(dir.path());
    let weights = p("bg.safetensors");
    let sweep = |out: &str, extra: &[&str]| {
        let out = p(out);
        let mut args = vec![
            "sweep",
            "--rtm",
            s(&rtm),
            "--weights",
            s(&weights),
            "--lambda",
            "1",
            "--alpha",
            "1",
            "--n",
            "2",
            "--steps",
            "2",
            "--out",
            s(&out),
            "-q",
        ];
        args.extend_from_slice(extra);
        powerpost(&args)
    };
    assert_user_error(&sweep("none", &[]), &["--background"]);
    assert!(!p("none").exists());
    let out = sweep("grid", &["--background", s(&background)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("grid/sweep.json")).unwrap()).unwrap();
    assert!(plan["background"]["sha256"].is_string(), "{plan}");
    sample_ok(&weights, &rtm, &p("one"), &["--background", s(&background)]);
    assert_eq!(samples(&p("grid/cells/l1_a1")), samples(&p("one")));
}

#[test]
fn evaluate_conditions_background_weights_on_the_pair_s_background() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    common::stand_in_dataset(&p("data"), 4, 3, 2, 1);
    common::background_weights(&p("bg.safetensors"));
    ok(&[
        "evaluate",
        "--data",
        s(&p("data")),
        "--weights",
        s(&p("bg.safetensors")),
        "--out",
        s(&p("ev")),
        "--samples",
        "2",
        "--steps",
        "2",
        "--prior-samples",
        "0",
        "-q",
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("ev/evaluate.json")).unwrap()).unwrap();
    let pair = &report["pairs"][0];
    assert_eq!(pair["pair"], 3);
    // The same pair by hand: its RTM image and its background model (the true model
    // smoothed with the manifest's σ), through `sample`.
    let data = powerpost_train::dataset::RawDataset::load(&p("data")).unwrap();
    let (truth, rtm) = data.pair(3);
    let background = powerpost_train::dataset::background_model(truth, 64, 128, 10.0).unwrap();
    write_npy(&p("rtm3.npy"), &[64, 128], rtm);
    write_npy(&p("bg3.npy"), &[64, 128], &background);
    sample_ok(
        &p("bg.safetensors"),
        &p("rtm3.npy"),
        &p("by_hand"),
        &["--background", s(&p("bg3.npy")), "--seed", "0"],
    );
    let mean = read_npy(&p("by_hand/mean.npy")).1;
    let by_hand = common::rmse(&mean, truth);
    let reported = pair["rmse_mean"].as_f64().unwrap();
    assert!(
        (by_hand - reported).abs() <= 1e-9 * by_hand,
        "{by_hand} vs {reported}"
    );
}

#[test]
fn smooth_writes_the_background_model() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = repo.join("examples/edge-2016");
    let (shape, velocity) = read_npy(&example.join("velocity.npy"));
    assert_eq!(shape, "64, 128");
    ok(&[
        "smooth",
        "--model",
        s(&example.join("velocity.npy")),
        "--out",
        s(&p("bg.npy")),
    ]);
    let (shape, background) = read_npy(&p("bg.npy"));
    assert_eq!(shape, "64, 128");
    for (got, want) in background
        .iter()
        .zip(powerpost_tests::reference_gaussian_smooth(
            &velocity, 64, 128, 10.0,
        ))
    {
        assert!((*got as f64 - want).abs() < 1e-5 * want, "{got} vs {want}");
    }
    // The shipped example's background model is exactly this file.
    assert_eq!(
        std::fs::read(p("bg.npy")).unwrap(),
        std::fs::read(example.join("background.npy")).unwrap()
    );
    // Bad input: named, exit 2, no output.
    let mut bad = velocity.clone();
    bad[130] = f32::NAN;
    write_npy(&p("nan.npy"), &[64, 128], &bad);
    write_npy(&p("stack.npy"), &[2, 8, 8], &[2.0; 128]);
    for (file, needles) in [
        ("nan.npy", vec!["nan.npy", "row 1, column 2"]),
        ("stack.npy", vec!["stack.npy", "[2, 8, 8]"]),
    ] {
        let out = powerpost(&["smooth", "--model", s(&p(file)), "--out", s(&p("out.npy"))]);
        assert_user_error(&out, &needles);
        assert!(!p("out.npy").exists(), "{file}");
    }
    let out = powerpost(&[
        "smooth",
        "--model",
        s(&p("bg.npy")),
        "--sigma=-1",
        "--out",
        s(&p("out.npy")),
    ]);
    assert_user_error(&out, &["sigma"]);
    assert!(!p("out.npy").exists());
}

/// `train --init-from` without `--network` trains the initial weights' own architecture
/// (so fine-tuning the shipped, background-conditioned weights needs nothing more), from
/// a weights file or a checkpoint; a `--network` that disagrees with them is refused,
/// naming the file and the architectures.
#[test]
fn fine_tuning_takes_the_architecture_of_its_initial_weights() {
    use powerpost_core::unet::{architecture_of, UNetConfig};
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    common::stand_in_dataset(&p("data"), 4, 3, 2, 1);
    let data = p("data");
    let train = |out: &str, extra: &[&str]| {
        let out = p(out);
        let mut args = vec![
            "train",
            "--data",
            s(&data),
            "--batch",
            "2",
            "--steps",
            "1",
            "--warmup",
            "1",
            "--threads",
            "1",
            "-q",
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        powerpost(&args)
    };
    let architecture = |out: &str| {
        architecture_of(&std::fs::read(p(out).join("weights.safetensors")).unwrap()).unwrap()
    };
    assert!(train("base", &["--network", "tiny-background"])
        .status
        .success());
    let base_weights = p("base/weights.safetensors");
    let base_checkpoint = p("base/checkpoint.bin");
    for (out, init) in [("ft", &base_weights), ("ftc", &base_checkpoint)] {
        let o = train(out, &["--init-from", s(init)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(architecture(out), UNetConfig::TINY.with_background());
    }
    // Without either, the default network.
    assert!(train("plain", &[]).status.success());
    assert_eq!(architecture("plain"), UNetConfig::DEFAULT);
    assert_user_error(
        &train(
            "bad",
            &["--init-from", s(&base_weights), "--network", "tiny"],
        ),
        &["--init-from", "weights.safetensors", "architecture"],
    );
}

/// `migrate --background B --mute-model M` is `migrate --model M` when B is M smoothed (the
/// training images' pipeline: migrated in the smooth model, muted by the true water
/// layer), byte for byte; with `--background` alone a smoothed background has no water
/// at the surface, so nothing is muted and a warning says so.
#[test]
fn migrate_mutes_by_the_mute_model() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    // The tiny preset's 16 × 32 grid in m/s: three rows of water over two sediments.
    let model: Vec<f32> = (0..16 * 32)
        .map(|k| match k / 32 {
            0..=2 => 1500.0,
            3..=8 => 2000.0,
            _ => 2600.0,
        })
        .collect();
    write_npy(&p("model.npy"), &[16, 32], &model);
    let (model_path, shots, bg) = (p("model.npy"), p("shots.npy"), p("bg.npy"));
    // `command` on the tiny preset with one thread, quietly.
    let run = |command: &str, args: &[&str]| {
        let mut all = vec![command, "--preset", "tiny", "--threads", "1", "-q"];
        all.extend_from_slice(args);
        ok(&all)
    };
    run("simulate", &["--model", s(&model_path), "--out", s(&shots)]);
    ok(&["smooth", "--model", s(&model_path), "--out", s(&bg)]);
    let migrate = |out: &str, extra: &[&str]| {
        let out = p(out);
        let mut args = vec!["--shots", s(&shots), "--out", s(&out)];
        args.extend_from_slice(extra);
        run("migrate", &args)
    };
    migrate("by_model.npy", &["--model", s(&p("model.npy"))]);
    migrate(
        "by_mute_model.npy",
        &[
            "--background",
            s(&p("bg.npy")),
            "--mute-model",
            s(&p("model.npy")),
        ],
    );
    let by_model = std::fs::read(p("by_model.npy")).unwrap();
    assert_eq!(by_model, std::fs::read(p("by_mute_model.npy")).unwrap());
    let muted = read_npy(&p("by_model.npy")).1;
    assert!(
        muted[..3 * 32].iter().all(|&v| v == 0.0),
        "water rows muted"
    );
    assert!(muted[3 * 32..].iter().any(|&v| v != 0.0));
    // Background alone: the smoothed top rows are faster than water; not muted, warned.
    let smooth = read_npy(&bg).1;
    assert!(
        smooth[..32].iter().all(|&v| v > 1510.0),
        "{:?}",
        &smooth[..4]
    );
    let out = migrate("by_background.npy", &["--background", s(&bg)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("bg.npy") && stderr.contains("--mute-model"),
        "{stderr}"
    );
    let unmuted = read_npy(&p("by_background.npy")).1;
    assert!(unmuted[..3 * 32].iter().any(|&v| v != 0.0));
}
