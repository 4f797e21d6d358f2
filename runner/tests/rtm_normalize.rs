//! `--rtm-normalize` and the RTM amplitude warning of `sample` and `sweep`, end to end on
//! seeded random weights (RTM scale 1) at 16 × 32: an image scaled by a power of two gives
//! exactly the samples of the original once normalised; a normalised image gives the
//! samples of the image divided by its own standard deviation (computed here
//! independently); the gain is recorded and `--from` reproduces the bits; a constant image
//! is refused without output; a sweep directory made with normalisation refuses a rerun
//! without it. With the shipped weights, an image far from the training amplitude draws a
//! warning naming the file, the shipped example does not; `powerpost info` reports the
//! weights' digest and the raw RTM amplitude they expect.

use std::path::{Path, PathBuf};

mod common;
use common::{assert_user_error, ok, population_std, powerpost, read_npy, write_npy};

const H: usize = 16;
const W: usize = 32;

/// Reflector-like synthetic RTM values (standard deviation ≈ 0.7, inside the training band
/// at RTM scale 1).
fn rtm_values() -> Vec<f32> {
    (0..H * W)
        .map(|k| ((k / W) as f32 * 0.9).sin() * (1.0 + 0.2 * ((k % W) as f32 * 0.3).cos()))
        .collect()
}

fn write(dir: &Path, name: &str, values: &[f32]) -> PathBuf {
    let p = dir.join(name);
    write_npy(&p, &[H, W], values);
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `sample` (2 samples, 3 DPM-Solver++ steps, random:7) and returns the samples and
/// stderr.
fn sample(rtm: &Path, out: &Path, extra: &[&str]) -> (Vec<f32>, String) {
    let mut args = vec![
        "sample",
        "--rtm",
        s(rtm),
        "--n",
        "2",
        "--steps",
        "3",
        "--weights",
        "random:7",
        "--threads",
        "1",
        "-q",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    let o = ok(&args);
    let (_, samples) = read_npy(&out.join("samples.npy"));
    (samples, String::from_utf8_lossy(&o.stderr).to_string())
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn normalised_samples_do_not_depend_on_the_image_unit() {
    let dir = tempfile::tempdir().unwrap();
    let base = rtm_values();
    let original = write(dir.path(), "rtm.npy", &base);
    // ×2^20 is exact in f32, so the normalised network input must be the same bits.
    let big: Vec<f32> = base.iter().map(|v| v * 1_048_576.0).collect();
    let scaled = write(dir.path(), "rtm_big.npy", &big);

    let (plain, _) = sample(&original, &dir.path().join("plain"), &[]);
    let (unnormalised_big, stderr) = sample(&scaled, &dir.path().join("big"), &[]);
    // Random weights have no training amplitude to warn about.
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_ne!(bits(&plain), bits(&unnormalised_big));

    let (a, stderr) = sample(&original, &dir.path().join("na"), &["--rtm-normalize"]);
    assert!(!stderr.contains("warning"), "{stderr}");
    let (b, stderr) = sample(&scaled, &dir.path().join("nb"), &["--rtm-normalize"]);
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(
        bits(&a),
        bits(&b),
        "normalised runs differ with the image unit"
    );

    // Independent reference: divide by the population standard deviation in f64 here and
    // sample that image without normalisation.
    let std = population_std(&base);
    let gain = (1.0 / std) as f32;
    let unit: Vec<f32> = base.iter().map(|v| v * gain).collect();
    let unit_path = write(dir.path(), "rtm_unit.npy", &unit);
    let (reference, _) = sample(&unit_path, &dir.path().join("unit"), &[]);
    assert_eq!(bits(&a), bits(&reference));
    assert_ne!(bits(&a), bits(&plain), "normalisation changed nothing");

    // The gain is recorded exactly and --from redraws the same bits.
    let json = std::fs::read_to_string(dir.path().join("nb/sample.json")).unwrap();
    let recorded: serde_json::Value = serde_json::from_str(&json).unwrap();
    let big_gain = (1.0 / (std * 1_048_576.0)) as f32;
    assert_eq!(
        recorded["rtm_gain"].as_f64().map(|g| g as f32),
        Some(big_gain),
        "{json}"
    );
    let plain_json = std::fs::read_to_string(dir.path().join("plain/sample.json")).unwrap();
    assert!(!plain_json.contains("rtm_gain"), "{plain_json}");
    let again = dir.path().join("again");
    ok(&[
        "sample",
        "--from",
        s(&dir.path().join("nb/sample.json")),
        "--threads",
        "2",
        "-q",
        "--out",
        s(&again),
    ]);
    let (_, redrawn) = read_npy(&again.join("samples.npy"));
    assert_eq!(bits(&redrawn), bits(&b));
}

#[test]
fn constant_image_and_conflicting_options_are_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let flat = write(dir.path(), "flat.npy", &vec![3.5; H * W]);
    let out = dir.path().join("out");
    let o = powerpost(&[
        "sample",
        "--rtm",
        s(&flat),
        "--rtm-normalize",
        "--weights",
        "random:7",
        "--out",
        s(&out),
    ]);
    assert_user_error(
        &o,
        &["--rtm-normalize", "flat.npy", "same value everywhere"],
    );
    assert!(!out.exists());

    let o = powerpost(&[
        "sample",
        "--prior",
        "--rtm-normalize",
        "--weights",
        "random:7",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());

    // A sidecar whose gain is not a positive number is refused naming the field.
    let rtm = write(dir.path(), "rtm.npy", &rtm_values());
    let first = dir.path().join("first");
    sample(&rtm, &first, &["--rtm-normalize"]);
    let json = std::fs::read_to_string(first.join("sample.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["rtm_gain"] = serde_json::json!(-1.0);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    let o = powerpost(&["sample", "--from", s(&bad), "--out", s(&out)]);
    assert_user_error(&o, &["bad.json", "rtm_gain", "> 0"]);
    assert!(!out.exists());
}

#[test]
fn sweep_records_the_gain_and_refuses_a_mixed_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<f32> = rtm_values().iter().map(|v| v * 1_048_576.0).collect();
    let rtm = write(dir.path(), "rtm_big.npy", &big);
    let out = dir.path().join("sweep");
    let args = |normalize: bool| {
        let mut a = vec![
            "sweep",
            "--lambda",
            "0,1",
            "--n",
            "1",
            "--steps",
            "2",
            "--weights",
            "random:7",
            "--rtm",
            s(&rtm),
            "-q",
            "--out",
            s(&out),
        ];
        if normalize {
            a.push("--rtm-normalize");
        }
        a
    };
    let o = ok(&args(true));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let plan = std::fs::read_to_string(out.join("sweep.json")).unwrap();
    assert!(plan.contains("\"rtm_gain\""), "{plan}");
    // The normalised sweep's λ = 1 cell equals `sample --rtm-normalize` of the same image.
    let single = dir.path().join("single");
    let (samples, _) = {
        let o = ok(&[
            "sample",
            "--rtm",
            s(&rtm),
            "--rtm-normalize",
            "--n",
            "1",
            "--steps",
            "2",
            "--weights",
            "random:7",
            "-q",
            "--out",
            s(&single),
        ]);
        let (_, v) = read_npy(&single.join("samples.npy"));
        (v, o)
    };
    let cell = std::fs::read_dir(out.join("cells"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("l1_"))
        .unwrap();
    let (_, cell_samples) = read_npy(&cell.join("samples.npy"));
    assert_eq!(bits(&cell_samples), bits(&samples));
    let cell_json = std::fs::read_to_string(cell.join("cell.json")).unwrap();
    assert!(cell_json.contains("\"rtm_gain\""), "{cell_json}");

    // The same directory without normalisation: the complete cells were made with another
    // RTM gain, so the rerun is refused and nothing changes.
    let before = common::tree(&out, &[]);
    let o = powerpost(&args(false));
    assert_user_error(&o, &["cell.json", "`rtm_gain` recorded", "fresh --out"]);
    assert_eq!(common::tree(&out, &[]), before);
}

/// The shipped weights and example (64 × 128): the example is inside the training
/// amplitudes (no warning); the same image × 1024 (another unit) draws a warning that names
/// the file and the option, and `--rtm-normalize` silences it.
#[test]
fn amplitude_warning_with_the_shipped_weights() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let weights = root.join("weights/powerpost-edge.safetensors");
    let example = root.join("examples/edge-2016/rtm.npy");
    let background = root.join("examples/edge-2016/background.npy");
    let dir = tempfile::tempdir().unwrap();
    let (shape, values) = read_npy(&example);
    assert!(shape.contains("64, 128"), "{shape}");
    let loud: Vec<f32> = values.iter().map(|v| v * 1024.0).collect();
    let loud_path = dir.path().join("loud.npy");
    write_npy(&loud_path, &[64, 128], &loud);
    let run = |rtm: &Path, out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        let mut args = vec![
            "sample",
            "--rtm",
            s(rtm),
            "--n",
            "1",
            "--steps",
            "2",
            "--weights",
            s(&weights),
            "--background",
            s(&background),
            "-q",
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        String::from_utf8_lossy(&ok(&args).stderr).to_string()
    };
    let stderr = run(&example, "example", &[]);
    assert!(!stderr.contains("warning"), "{stderr}");
    let stderr = run(&loud_path, "loud", &[]);
    assert!(
        stderr.contains("warning: --rtm")
            && stderr.contains("loud.npy")
            && stderr.contains("--rtm-normalize"),
        "{stderr}"
    );
    let stderr = run(&loud_path, "loud-normalised", &["--rtm-normalize"]);
    assert!(!stderr.contains("warning"), "{stderr}");
    // The training images are zero above the seabed: an unmuted image (here, the example
    // with its top row filled in from the row below the water) draws a warning that names
    // the file and the mute, normalised or not.
    let mut unmuted = values.clone();
    let deepest_muted = (0..64)
        .take_while(|&r| values[r * 128..(r + 1) * 128].iter().all(|&v| v == 0.0))
        .count();
    assert!(deepest_muted >= 4, "{deepest_muted} muted rows");
    let source = deepest_muted * 128;
    unmuted.copy_within(source..source + 128, 0);
    let unmuted_path = dir.path().join("unmuted.npy");
    write_npy(&unmuted_path, &[64, 128], &unmuted);
    for extra in [&[][..], &["--rtm-normalize"][..]] {
        let stderr = run(&unmuted_path, &format!("unmuted{}", extra.len()), extra);
        assert!(
            stderr.contains("warning: --rtm")
                && stderr.contains("unmuted.npy")
                && stderr.contains("top row is not zero")
                && stderr.contains("--mute-model"),
            "{stderr}"
        );
    }
}

/// `powerpost info` describes the shipped weights: the SHA-256 it prints is the file's
/// (computed here independently), and the raw RTM amplitude it says the weights expect
/// (1 / RTM scale) is, after the scale, inside the training band for the shipped example
/// image; `--weights random:SEED` is flagged as noise; a missing file is a clean error
/// with nothing on stdout.
#[test]
fn info_describes_the_weights() {
    use sha2::{Digest, Sha256};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let file = root.join("weights/powerpost-edge.safetensors");
    let want = format!("{:x}", Sha256::digest(std::fs::read(&file).unwrap()));
    let out = ok(&["info"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains(&format!("sha256: {want}")), "{text}");
    let expected_std: f64 = text
        .lines()
        .find_map(|l| l.split("standard deviation near ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no amplitude line in {text}"));
    let (_, example) = read_npy(&root.join("examples/edge-2016/rtm.npy"));
    let std = population_std(&example);
    let ratio = std / expected_std;
    assert!(
        (0.55..=2.15).contains(&ratio),
        "example std / expected = {ratio}"
    );

    let out = ok(&["info", "--weights", "random:3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("weights: random:3") && text.contains("noise"),
        "{text}"
    );

    let out = powerpost(&["info", "--weights", "/nonexistent/w.safetensors"]);
    assert_user_error(&out, &["/nonexistent/w.safetensors", "cannot read"]);
    assert!(out.stdout.is_empty());
}
