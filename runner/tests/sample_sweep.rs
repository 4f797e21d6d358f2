//! `powerpost sample`, `sweep` and `sweep-merge` end to end on seeded random weights at
//! 16 × 32 with a few sampler steps: bit-exact reproduction from the sidecar, per-sample
//! RNG streams, thread-count independence, shard + merge = unsharded, resume, metrics
//! against independent computations, and clean errors on bad input.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

mod common;
use common::{assert_user_error, csv, ok, powerpost, read_npy, tree, write_npy};

const H: usize = 16;
const W: usize = 32;

/// A smooth synthetic RTM image (reflectors) and a matching "truth" (km/s).
fn inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let rtm: Vec<f32> = (0..H * W)
        .map(|k| ((k / W) as f32 * 0.9).sin() * (1.0 + 0.2 * ((k % W) as f32 * 0.3).cos()))
        .collect();
    let truth: Vec<f32> = (0..H * W)
        .map(|k| 1.5 + 3.0 * (k / W) as f32 / H as f32)
        .collect();
    let (r, t) = (dir.join("rtm.npy"), dir.join("truth.npy"));
    write_npy(&r, &[H, W], &rtm);
    write_npy(&t, &[H, W], &truth);
    (r, t)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A path as a `'static` string (leaked; fine in a test).
fn leak(p: PathBuf) -> &'static str {
    Box::leak(p.to_str().unwrap().to_string().into_boxed_str())
}

const SAMPLE_FILES: [&str; 5] = [
    "samples.npy",
    "mean.npy",
    "std.npy",
    "samples.png",
    "sample.json",
];

#[test]
fn alpha_other_than_one_picks_the_exact_power_sampler() {
    let dir = tempfile::tempdir().unwrap();
    let (rtm, _) = inputs(dir.path());
    let out_dir = dir.path().join("tempered");
    let out = ok(&[
        "sample",
        "--rtm",
        s(&rtm),
        "--alpha",
        "0.5",
        "--n",
        "1",
        "--steps",
        "2",
        "--weights",
        "random:7",
        "--out",
        s(&out_dir),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: α ≠ 1")
            && stderr.contains("--exact-power 4")
            && !stderr.contains("warning"),
        "{stderr}"
    );
    let json = std::fs::read_to_string(out_dir.join("sample.json")).unwrap();
    for field in [
        "\"kind\": \"exact-power\"",
        "\"corrector_steps\": 4",
        "\"steps\": 2",
    ] {
        assert!(json.contains(field), "{field} missing in {json}");
    }
}

#[test]
fn sample_is_reproducible_from_its_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let (rtm, _) = inputs(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("nested/b"));
    let common = ["--weights", "random:7", "--steps", "3", "-q"];
    let out = ok(&[
        &[
            "sample",
            "--rtm",
            s(&rtm),
            "--lambda",
            "0.7",
            "--alpha",
            "1.3",
            "--sampler",
            "dpmpp-2m",
            "--n",
            "2",
            "--seed",
            "5",
            "--out",
            s(&a),
            "--threads",
            "2",
        ][..],
        &common,
    ]
    .concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("α = 1.3")
            && stderr.contains("annealed path")
            && stderr.contains("--exact-power"),
        "{stderr}"
    );
    let json = std::fs::read_to_string(a.join("sample.json")).unwrap();
    for field in [
        "\"lambda\": 0.7",
        "\"alpha\": 1.3",
        "\"seed\": 5",
        "\"n\": 2",
        "\"first\": 0",
        "\"kind\": \"dpmpp-2m\"",
        "\"steps\": 3",
        "\"path\": \"random:7\"",
        "\"rtm_scale\": 1.0",
        "\"height\": 16",
        "\"width\": 32",
    ] {
        assert!(json.contains(field), "{field} missing in {json}");
    }
    ok(&[
        "sample",
        "--from",
        s(&a.join("sample.json")),
        "--out",
        s(&b),
        "--threads",
        "1",
        "-q",
    ]);
    for f in SAMPLE_FILES {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    // Mean and std against a direct f64 computation from the samples.
    let (shape, samples) = read_npy(&a.join("samples.npy"));
    assert_eq!(shape, "2, 16, 32");
    let (_, mean) = read_npy(&a.join("mean.npy"));
    let (_, std) = read_npy(&a.join("std.npy"));
    for p in 0..H * W {
        let (x, y) = (samples[p] as f64, samples[H * W + p] as f64);
        let m = (x + y) / 2.0;
        assert_eq!(mean[p], m as f32);
        assert_eq!(
            std[p],
            (((x - m).powi(2) + (y - m).powi(2)) / 2.0).sqrt() as f32
        );
    }
    // A tampered RTM image is refused (its digest is recorded).
    let mut bytes = std::fs::read(&rtm).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&rtm, bytes).unwrap();
    let c = dir.path().join("c");
    let out = powerpost(&[
        "sample",
        "--from",
        s(&a.join("sample.json")),
        "--out",
        s(&c),
    ]);
    assert_user_error(&out, &["rtm.sha256", "rtm.npy"]);
    assert!(!c.exists());
}

#[test]
fn sample_i_is_the_same_whatever_n_first_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (rtm, _) = inputs(dir.path());
    let run = |name: &str, n: &str, first: &str, threads: &str| {
        let out = dir.path().join(name);
        ok(&[
            "sample",
            "--rtm",
            s(&rtm),
            "--weights",
            "random:7",
            "--steps",
            "2",
            "--n",
            n,
            "--first",
            first,
            "--threads",
            threads,
            "--out",
            s(&out),
            "-q",
        ]);
        read_npy(&out.join("samples.npy")).1
    };
    let all = run("all1", "3", "0", "1");
    let one = run("one", "1", "2", "3");
    assert_eq!(one, all[2 * H * W..]);
    let two = run("two", "2", "1", "2");
    assert_eq!(two, all[H * W..]);
    assert_ne!(
        all[..H * W],
        all[H * W..2 * H * W],
        "different samples must differ"
    );
    // 3 threads: one concurrent round; 2 threads: a round of two, then one sample alone.
    run("all3", "3", "0", "3");
    run("all2", "3", "0", "2");
    for other in ["all3", "all2"] {
        for f in ["samples.npy", "mean.npy", "std.npy", "samples.png"] {
            assert_eq!(
                std::fs::read(dir.path().join("all1").join(f)).unwrap(),
                std::fs::read(dir.path().join(other).join(f)).unwrap(),
                "{f}: 1 thread vs {other}"
            );
        }
    }
}

#[test]
fn prior_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prior");
    ok(&[
        "sample",
        "--prior",
        "--height",
        "8",
        "--width",
        "16",
        "--alpha",
        "0.5",
        "--n",
        "1",
        "--steps",
        "2",
        "--weights",
        "random:3",
        "--out",
        s(&out),
        "-q",
    ]);
    let json = std::fs::read_to_string(out.join("sample.json")).unwrap();
    assert!(
        json.contains("\"rtm\": null")
            && json.contains("\"lambda\": 0.0")
            && json.contains("\"alpha\": 0.5"),
        "{json}"
    );
    assert_eq!(read_npy(&out.join("samples.npy")).0, "1, 8, 16");
    let bad = powerpost(&[
        "sample",
        "--prior",
        "--lambda",
        "1",
        "--weights",
        "random:3",
        "--out",
        s(&dir.path().join("x")),
    ]);
    assert_user_error(&bad, &["--lambda", "prior"]);
}

#[test]
fn bad_sample_input_is_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let (rtm, _) = inputs(dir.path());
    let p = |n: &str| dir.path().join(n);
    write_npy(&p("rank3.npy"), &[1, H, W], &vec![0.0; H * W]);
    write_npy(&p("odd.npy"), &[18, W], &vec![0.0; 18 * W]);
    let mut nan = vec![0.5f32; H * W];
    nan[3 * W + 5] = f32::NAN;
    write_npy(&p("nan.npy"), &[H, W], &nan);
    std::fs::write(p("bad.json"), "{\"kind\": \"sample\"}").unwrap();
    let base = ["--weights", "random:7", "--steps", "2", "--n", "1"];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--rtm", leak(p("rank3.npy"))],
            vec!["rank3.npy", "2-D"],
        ),
        (
            vec!["--rtm", leak(p("odd.npy"))],
            vec!["odd.npy", "18 × 32", "multiples of 4"],
        ),
        (
            vec!["--rtm", leak(p("nan.npy"))],
            vec!["nan.npy", "row 3, column 5", "NaN"],
        ),
        (vec!["--rtm", leak(p("missing.npy"))], vec!["missing.npy"]),
        (
            vec!["--rtm", s(&rtm), "--lambda=-1"],
            vec!["--lambda", ">= 0"],
        ),
        (
            vec!["--rtm", s(&rtm), "--alpha", "0"],
            vec!["--alpha", "> 0"],
        ),
        (
            vec!["--rtm", s(&rtm), "--sampler", "rk4"],
            vec!["--sampler", "rk4", "heun"],
        ),
        (
            vec!["--rtm", s(&rtm), "--sampler", "euler", "--exact-power", "2"],
            vec!["--exact-power"],
        ),
        (
            vec!["--rtm", s(&rtm), "--steps", "0"],
            vec!["--steps", "1 to"],
        ),
        (
            vec!["--rtm", s(&rtm), "--n", "0"],
            vec!["--n", "at least 1"],
        ),
        (
            vec!["--from", leak(p("bad.json"))],
            vec!["bad.json", "missing field"],
        ),
    ];
    for (k, (extra, needles)) in cases.iter().enumerate() {
        let out_dir = p(&format!("out{k}"));
        // --steps 2 --n 1 unless the case sets them (or reads them --from a sidecar).
        let sampling: Vec<&str> = if extra[0] == "--from" {
            vec![]
        } else {
            base[2..]
                .chunks(2)
                .filter(|kv| !extra.contains(&kv[0]))
                .flatten()
                .copied()
                .collect()
        };
        let args = [
            &["sample"][..],
            &base[..2],
            &sampling,
            extra,
            &["--out", s(&out_dir)],
        ]
        .concat();
        assert_user_error(&powerpost(&args), needles);
        assert!(!out_dir.exists(), "{extra:?} left output behind");
    }
    let out_dir = p("w");
    assert_user_error(
        &powerpost(&[
            "sample",
            "--rtm",
            s(&rtm),
            "--weights",
            s(&p("nope.safetensors")),
            "--out",
            s(&out_dir),
        ]),
        &["nope.safetensors", "--weights"],
    );
    assert_user_error(
        &powerpost(&[
            "sample",
            "--rtm",
            s(&rtm),
            "--weights",
            "random:x",
            "--out",
            s(&out_dir),
        ]),
        &["random:SEED"],
    );
    std::fs::write(p("junk.safetensors"), b"not a weights file").unwrap();
    assert_user_error(
        &powerpost(&[
            "sample",
            "--rtm",
            s(&rtm),
            "--weights",
            s(&p("junk.safetensors")),
            "--out",
            s(&out_dir),
        ]),
        &["junk.safetensors", "safetensors"],
    );
    // Without --weights the shipped file is used; until it exists the error explains.
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/powerpost-edge.safetensors");
    if !shipped.exists() {
        assert_user_error(
            &powerpost(&["sample", "--rtm", s(&rtm), "--out", s(&out_dir)]),
            &["no trained weights are shipped yet", "random:SEED"],
        );
    }
    assert!(!out_dir.exists());
    // No temporary directories left behind either.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Weights as a real safetensors file (the `safetensors` crate) with normalisation
/// metadata give the same samples as `random:SEED` mapped through that normalisation.
#[test]
fn weights_file_with_normalisation_metadata() {
    use powerpost_core::unet::params::for_each_tensor;
    use powerpost_core::unet::{init_random, params_len, UNetConfig, ARCHITECTURE_KEY};
    use safetensors::tensor::{serialize, Dtype, TensorView};
    let dir = tempfile::tempdir().unwrap();
    let (rtm, _) = inputs(dir.path());
    let config = UNetConfig::DEFAULT;
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 7, &mut params).unwrap();
    let mut blobs = Vec::new();
    for_each_tensor(&config, |t| {
        let bytes: Vec<u8> = params[t.offset..t.offset + t.len]
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        blobs.push((t.name.to_string(), t.shape().to_vec(), bytes));
    });
    let write = |name: &str, meta: &[(&str, &str)]| {
        let views: Vec<(String, TensorView<'_>)> = blobs
            .iter()
            .map(|(n, sh, b)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F16, sh.clone(), b).unwrap(),
                )
            })
            .collect();
        let mut metadata = std::collections::HashMap::from([(
            ARCHITECTURE_KEY.to_string(),
            config.describe().to_string(),
        )]);
        metadata.extend(meta.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let path = dir.path().join(name);
        std::fs::write(&path, serialize(views, Some(metadata)).unwrap()).unwrap();
        path
    };
    let plain = write("plain.safetensors", &[]);
    let shifted = write(
        "shifted.safetensors",
        &[
            ("powerpost.velocity_center", "2.0"),
            ("powerpost.velocity_half_range", "1.0"),
        ],
    );
    let malformed = write("malformed.safetensors", &[("powerpost.rtm_scale", "big")]);
    let run = |weights: &Path, name: &str| {
        let out = dir.path().join(name);
        ok(&[
            "sample",
            "--rtm",
            s(&rtm),
            "--weights",
            s(weights),
            "--steps",
            "2",
            "--n",
            "1",
            "--out",
            s(&out),
            "-q",
        ]);
        read_npy(&out.join("samples.npy")).1
    };
    let (a, b) = (run(&plain, "a"), run(&shifted, "b"));
    // init_random values are f16-representable, so the file equals random:7; velocities map
    // back through v = x·h + c: x = (a − 3)/1.5 exactly recovers the network value.
    let r = run(Path::new("random:7"), "r");
    assert_eq!(a, r);
    for (va, vb) in a.iter().zip(&b) {
        let x = (va - 3.0) / 1.5;
        assert!(
            (vb - (x * 1.0 + 2.0)).abs() <= 1e-5 * vb.abs().max(1.0),
            "{va} {vb}"
        );
    }
    let json = std::fs::read_to_string(dir.path().join("b/sample.json")).unwrap();
    assert!(
        json.contains("\"velocity_center_km_s\": 2.0") && json.contains("shifted.safetensors"),
        "{json}"
    );
    // Refused (exit 2, the file named, no output): a malformed normalisation, and an
    // architecture this build does not know (named, with the ones it does).
    let out = dir.path().join("m");
    let refused = |weights: &Path, needles: &[&str]| {
        let args = [
            "sample",
            "--rtm",
            s(&rtm),
            "--weights",
            s(weights),
            "--out",
            s(&out),
        ];
        assert_user_error(&powerpost(&args), needles);
        assert!(!out.exists());
    };
    refused(
        &malformed,
        &["malformed.safetensors", "powerpost.rtm_scale"],
    );
    let alien = write(
        "alien.safetensors",
        &[(ARCHITECTURE_KEY, "powerpost-unet-v9 in=5 out=1")],
    );
    refused(
        &alien,
        &[
            "alien.safetensors",
            "powerpost-unet-v9 in=5 out=1",
            "cannot run",
            "default-background",
        ],
    );
}

#[test]
fn sweep_shards_merge_and_resume_give_the_unsharded_bits() {
    let dir = tempfile::tempdir().unwrap();
    let (rtm, truth) = inputs(dir.path());
    let p = |n: &str| dir.path().join(n);
    let sweep = |out: &Path, lambdas: &str, extra: &[&str]| {
        let args = [
            &[
                "sweep",
                "--rtm",
                s(&rtm),
                "--truth",
                s(&truth),
                "--weights",
                "random:7",
                "--steps",
                "2",
                "--n",
                "2",
                "--lambda",
                lambdas,
                "--alpha",
                "0.5,1",
                "--out",
                s(out),
                "-q",
            ][..],
            extra,
        ]
        .concat();
        powerpost(&args)
    };
    // Unsharded.
    assert!(sweep(&p("full"), "0,1", &["--threads", "1"])
        .status
        .success());
    let full = tree(&p("full"), &["sweep.json"]);
    assert_eq!(
        full.keys().filter(|k| k.ends_with("samples.npy")).count(),
        4
    );
    // Three shards for four cells, then merge.
    for k in 1..=3 {
        let out = sweep(
            &p(&format!("s{k}")),
            "0,1",
            &["--shard", &format!("{k}/3"), "--threads", "2"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!p(&format!("s{k}")).join("sweep.csv").exists());
    }
    assert_eq!(
        std::fs::read_dir(p("s1/cells")).unwrap().count(),
        2,
        "shard 1/3 holds cells 0 and 3"
    );
    let incomplete = powerpost(&["sweep-merge", "--out", s(&p("m")), s(&p("s1")), s(&p("s2"))]);
    assert_user_error(&incomplete, &["incomplete", "shard 3/3"]);
    assert!(!p("m").exists());
    ok(&[
        "sweep-merge",
        "--out",
        s(&p("m")),
        s(&p("s1")),
        s(&p("s2")),
        s(&p("s3")),
    ]);
    assert_eq!(
        tree(&p("m"), &["sweep.json"]),
        full,
        "merged differs from unsharded"
    );

    // Resume: a subset first, then the full grid into the same directory.
    assert!(sweep(&p("r"), "1", &[]).status.success());
    let inode = |path: PathBuf| std::fs::metadata(path).unwrap().ino();
    let before = inode(p("r/cells/l1_a1/samples.npy"));
    let resumed = sweep(&p("r"), "0,1", &[]);
    assert!(resumed.status.success());
    assert_eq!(
        inode(p("r/cells/l1_a1/samples.npy")),
        before,
        "a complete cell was recomputed"
    );
    assert_eq!(
        tree(&p("r"), &["sweep.json"]),
        full,
        "resumed run differs from an uninterrupted one"
    );
    // A cell that is not complete (files missing) is recomputed with the same bits.
    std::fs::remove_file(p("r/cells/l0_a0.5/std.npy")).unwrap();
    assert!(sweep(&p("r"), "0,1", &[]).status.success());
    assert_eq!(tree(&p("r"), &["sweep.json"]), full);
    // Other parameters in the same directory are refused.
    let other = sweep(&p("r"), "0,1", &["--seed", "9"]);
    assert_user_error(&other, &["cell.json", "seed"]);
    assert!(
        std::fs::read_to_string(p("r/sweep.json"))
            .unwrap()
            .contains("\"seed\": 0"),
        "a refused run must not rewrite the plan"
    );

    // Each cell is the same bits as `powerpost sample` with its λ and α.
    ok(&[
        "sample",
        "--rtm",
        s(&rtm),
        "--weights",
        "random:7",
        "--steps",
        "2",
        "--n",
        "2",
        "--lambda",
        "1",
        "--alpha",
        "0.5",
        "--out",
        s(&p("single")),
        "-q",
    ]);
    for f in ["samples.npy", "mean.npy", "std.npy"] {
        assert_eq!(
            std::fs::read(p("single").join(f)).unwrap(),
            full[&format!("cells/l1_a0.5/{f}")],
            "{f}"
        );
    }

    // The table: cell order, and RMSE/SSIM recomputed here from mean.npy and the truth.
    let rows = csv(&p("full/sweep.csv"));
    assert_eq!(
        rows[0],
        ["lambda", "alpha", "n", "mean_std", "rmse", "ssim", "residual"]
    );
    let order: Vec<(String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_eq!(
        order,
        [("0", "0.5"), ("0", "1"), ("1", "0.5"), ("1", "1")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let (_, t) = read_npy(&truth);
    for r in &rows[1..] {
        let cell = p(&format!("full/cells/l{}_a{}", r[0], r[1]));
        let (_, mean) = read_npy(&cell.join("mean.npy"));
        let (_, std) = read_npy(&cell.join("std.npy"));
        let rmse = (mean
            .iter()
            .zip(&t)
            .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
            .sum::<f64>()
            / (H * W) as f64)
            .sqrt();
        assert_eq!(r[4].parse::<f64>().unwrap(), rmse);
        let mean_std = std.iter().map(|&v| v as f64).sum::<f64>() / (H * W) as f64;
        assert_eq!(r[3].parse::<f64>().unwrap(), mean_std);
        let ssim: f64 = r[5].parse().unwrap();
        assert!((-1.0..1.0).contains(&ssim), "{ssim}");
        assert_eq!(r[6], "");
    }
}

#[test]
fn bad_sweep_input() {
    let dir = tempfile::tempdir().unwrap();
    let (rtm, _) = inputs(dir.path());
    let p = |n: &str| dir.path().join(n);
    write_npy(&p("small_truth.npy"), &[8, 8], &[2.0; 64]);
    write_npy(&p("ms_truth.npy"), &[H, W], &[2000.0; H * W]);
    let base = [
        "sweep",
        "--rtm",
        s(&rtm),
        "--weights",
        "random:7",
        "--steps",
        "2",
        "--n",
        "1",
    ];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--lambda", "0,-1"], vec!["--lambda", ">= 0"]),
        (
            vec!["--lambda", "1", "--alpha", "1,0"],
            vec!["--alpha", "> 0"],
        ),
        (vec!["--lambda", "1,1"], vec!["--lambda", "twice"]),
        (
            vec!["--lambda", "1", "--shard", "4/3"],
            vec!["--shard", "K/M"],
        ),
        (
            vec!["--lambda", "1", "--truth", leak(p("small_truth.npy"))],
            vec!["small_truth.npy", "[16, 32]"],
        ),
        (
            vec!["--lambda", "1", "--truth", leak(p("ms_truth.npy"))],
            vec!["ms_truth.npy", "km/s"],
        ),
        (
            vec!["--lambda", "1", "--shots", leak(p("none.npy"))],
            vec!["--preset edge", "64 × 128"],
        ),
    ];
    for (k, (extra, needles)) in cases.iter().enumerate() {
        let out_dir = p(&format!("out{k}"));
        let args = [&base[..], extra, &["--out", s(&out_dir)]].concat();
        assert_user_error(&powerpost(&args), needles);
        assert!(!out_dir.exists(), "{extra:?} left output behind");
    }
    assert_user_error(
        &powerpost(&["sweep-merge", "--out", s(&p("m")), s(&p("nothing"))]),
        &["nothing", "sweep.json"],
    );
}
