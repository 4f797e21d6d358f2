//! The `powerpost` binary on bad input: exit code 2, a message naming the file and what was
//! expected, no output file, no panic. Plus the geology command's happy path.

use std::path::{Path, PathBuf};

mod common;
use common::{assert_user_error, powerpost, raw_npy, read_npy, write_npy};

/// A fresh directory and a path in it as a string.
fn scratch() -> (tempfile::TempDir, impl Fn(&str) -> PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    (dir, move |name: &str| root.join(name))
}

#[test]
fn missing_input_file() {
    let (_dir, p) = scratch();
    let (input, png) = (p("velocity.npy"), p("out.png"));
    let out = powerpost(&[
        "plot",
        "--input",
        input.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert_user_error(&out, &["velocity.npy", "cannot open"]);
    assert!(!png.exists());
}

#[test]
fn wrong_dtype() {
    let (_dir, p) = scratch();
    let (input, png) = (p("velocity.npy"), p("out.png"));
    raw_npy(
        &input,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4, 5), }",
        &[0; 3 * 4 * 5 * 8],
    );
    let out = powerpost(&[
        "plot",
        "--input",
        input.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert_user_error(
        &out,
        &["velocity.npy: expected a 2-D or 3-D float32 array, found shape [3, 4, 5] float64"],
    );
    assert!(!png.exists());
}

#[test]
fn wrong_rank() {
    let (_dir, p) = scratch();
    let (input, png) = (p("trace.npy"), p("out.png"));
    raw_npy(
        &input,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
        &[0; 24],
    );
    let out = powerpost(&[
        "plot",
        "--input",
        input.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert_user_error(
        &out,
        &["trace.npy: expected a 2-D or 3-D float32 array, found shape [6] float32"],
    );
    assert!(!png.exists());
}

#[test]
fn truncated_and_corrupt_files() {
    let (_dir, p) = scratch();
    let png = p("out.png");
    let short = p("short.npy");
    raw_npy(
        &short,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }",
        &[0; 40],
    );
    let out = powerpost(&[
        "plot",
        "--input",
        short.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert_user_error(&out, &["short.npy", "truncated"]);
    let junk = p("junk.npy");
    std::fs::write(&junk, b"hello").unwrap();
    let out = powerpost(&[
        "plot",
        "--input",
        junk.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert_user_error(&out, &["junk.npy: not a valid .npy file"]);
    assert!(!png.exists());
}

#[test]
fn bad_geology_arguments_write_nothing() {
    let (dir, p) = scratch();
    let npy = p("models.npy");
    let out = powerpost(&["geology", "--nz", "0", "--out", npy.to_str().unwrap()]);
    assert_user_error(&out, &["nz", "at least 1 row"]);
    let out = powerpost(&["geology", "--v-min", "5", "--out", npy.to_str().unwrap()]);
    assert_user_error(&out, &["v_min, v_max"]);
    let out = powerpost(&["geology"]);
    assert_user_error(&out, &["nothing to do"]);
    let nowhere = p("no/such/dir/models.npy");
    let out = powerpost(&["geology", "--n", "1", "--out", nowhere.to_str().unwrap()]);
    assert_user_error(&out, &["no/such/dir/models.npy"]);
    // Unknown flags are clap's usage errors: exit 2 too.
    assert_eq!(powerpost(&["geology", "--bogus"]).status.code(), Some(2));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no output or temporary file may remain"
    );
}

#[test]
fn geology_models_are_the_same_for_any_threads_and_first_index() {
    let (_dir, p) = scratch();
    let (all, one, png) = (p("all.npy"), p("one.npy"), p("gallery.png"));
    let out = powerpost(&[
        "geology",
        "--n",
        "5",
        "--seed",
        "9",
        "--nz",
        "32",
        "--nx",
        "48",
        "--dx",
        "20",
        "--threads",
        "2",
        "--out",
        all.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = powerpost(&[
        "geology",
        "--n",
        "1",
        "--first",
        "3",
        "--seed",
        "9",
        "--nz",
        "32",
        "--nx",
        "48",
        "--dx",
        "20",
        "--threads",
        "1",
        "--out",
        one.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (shape_all, data_all) = read_npy(&all);
    let (shape_one, data_one) = read_npy(&one);
    assert_eq!(shape_all, "5, 32, 48");
    assert_eq!(shape_one, "1, 32, 48");
    let model3 = &data_all[3 * 32 * 48..4 * 32 * 48];
    assert!(model3
        .iter()
        .zip(&data_one)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(data_all.iter().all(|v| (1.5..=4.5).contains(v)));
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    // The .npy the command wrote plots back.
    let replot = p("replot.png");
    let out = powerpost(&[
        "plot",
        "--input",
        all.to_str().unwrap(),
        "--png",
        replot.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(replot.exists());
}

/// A little-endian f32 `.npy` of the given shape filled with `value`.
fn f32_npy(path: &Path, shape: &[usize], value: f32) {
    write_npy(path, shape, &vec![value; shape.iter().product()]);
}

/// Asserts the directory holds exactly the given input files (no output, no temporary).
fn assert_only_inputs(dir: &Path, inputs: usize) {
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        inputs,
        "no output or temporary file may remain"
    );
}

#[test]
fn wave_commands_reject_missing_files_and_wrong_ranks() {
    let (dir, p) = scratch();
    let (missing, shots_out) = (p("velocity.npy"), p("shots.npy"));
    let out = powerpost(&[
        "simulate",
        "--preset",
        "edge",
        "--quiet",
        "--model",
        missing.to_str().unwrap(),
        "--out",
        shots_out.to_str().unwrap(),
    ]);
    assert_user_error(&out, &["velocity.npy", "cannot open"]);
    let flat = p("flat.npy");
    f32_npy(&flat, &[64 * 128], 2000.0);
    let out = powerpost(&[
        "simulate",
        "--preset",
        "edge",
        "--model",
        flat.to_str().unwrap(),
        "--out",
        shots_out.to_str().unwrap(),
    ]);
    assert_user_error(
        &out,
        &["flat.npy: expected a 2-D or 3-D float32 array, found shape [8192] float32"],
    );
    let out = powerpost(&[
        "residual",
        "--preset",
        "edge",
        "--model",
        flat.to_str().unwrap(),
        "--shots",
        flat.to_str().unwrap(),
    ]);
    assert_user_error(&out, &["flat.npy: expected a 3-D float32 array"]);
    let out = powerpost(&[
        "bench-wave",
        "--model",
        flat.to_str().unwrap(),
        "--dt",
        "0.001",
        "--nt",
        "10",
        "--delay",
        "0.1",
        "--source",
        "100",
        "100",
        "--receiver-depth",
        "50",
    ]);
    assert_user_error(&out, &["flat.npy: expected a 2-D float32 array"]);
    assert_only_inputs(dir.path(), 1);
}

#[test]
fn wave_commands_reject_wrong_model_shape_and_values() {
    let (dir, p) = scratch();
    let (model, shots_out) = (p("small.npy"), p("shots.npy"));
    f32_npy(&model, &[32, 128], 2000.0);
    let out = powerpost(&[
        "simulate",
        "--preset",
        "edge",
        "--model",
        model.to_str().unwrap(),
        "--out",
        shots_out.to_str().unwrap(),
    ]);
    assert_user_error(
        &out,
        &["small.npy: shape [32, 128], expected [64, 128] ([nz, nx]) or [1, 64, 128]"],
    );
    let stack = p("stack.npy");
    f32_npy(&stack, &[2, 64, 128], 2.0);
    let out = powerpost(&[
        "simulate",
        "--preset",
        "edge",
        "--model",
        stack.to_str().unwrap(),
        "--out",
        shots_out.to_str().unwrap(),
    ]);
    assert_user_error(
        &out,
        &["stack.npy: shape [2, 64, 128], expected [64, 128] ([nz, nx]) or [1, 64, 128]"],
    );
    let negative = p("negative.npy");
    f32_npy(&negative, &[64, 128], -1.0);
    let out = powerpost(&[
        "simulate",
        "--preset",
        "edge",
        "--model",
        negative.to_str().unwrap(),
        "--out",
        shots_out.to_str().unwrap(),
    ]);
    assert_user_error(
        &out,
        &["negative.npy: velocity -1 is not a finite positive value"],
    );
    assert_only_inputs(dir.path(), 3);
}

#[test]
fn migrate_and_residual_reject_mismatched_shot_geometry() {
    let (dir, p) = scratch();
    let (shots, model, image) = (p("shots.npy"), p("model.npy"), p("image.npy"));
    // Right rank, wrong geometry for the edge preset (too few samples and receivers).
    f32_npy(&shots, &[2, 10, 5], 0.0);
    f32_npy(&model, &[64, 128], 2000.0);
    let out = powerpost(&[
        "migrate",
        "--preset",
        "edge",
        "--shots",
        shots.to_str().unwrap(),
        "--background",
        model.to_str().unwrap(),
        "--out",
        image.to_str().unwrap(),
    ]);
    assert_user_error(
        &out,
        &[
            "shots.npy: shape [2, 10, 5], expected",
            "([shots, nt, receivers]) for this preset",
        ],
    );
    let json = p("residual.json");
    let out = powerpost(&[
        "residual",
        "--preset",
        "edge",
        "--model",
        model.to_str().unwrap(),
        "--shots",
        shots.to_str().unwrap(),
        "--out",
        json.to_str().unwrap(),
    ]);
    assert_user_error(&out, &["shots.npy: shape [2, 10, 5], expected"]);
    let out = powerpost(&[
        "migrate",
        "--preset",
        "nowhere",
        "--shots",
        shots.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        image.to_str().unwrap(),
    ]);
    assert_user_error(&out, &["--preset"]);
    assert_only_inputs(dir.path(), 2);
}

#[test]
fn wave_commands_accept_km_per_s_stacks_like_m_per_s_grids() {
    // What `geology` and `sample --n 1` write ([1, nz, nx] in km/s) models the same shots as
    // the [nz, nx] model in m/s.
    let (_dir, p) = scratch();
    let (ms, kms, shots_ms, shots_kms) = (
        p("ms.npy"),
        p("kms.npy"),
        p("shots_ms.npy"),
        p("shots_kms.npy"),
    );
    f32_npy(&ms, &[64, 128], 2000.0);
    f32_npy(&kms, &[1, 64, 128], 2.0);
    for (model, shots) in [(&ms, &shots_ms), (&kms, &shots_kms)] {
        let out = powerpost(&[
            "simulate",
            "--preset",
            "edge",
            "--clean",
            "--quiet",
            "--model",
            model.to_str().unwrap(),
            "--out",
            shots.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).contains("read as km/s"),
            model == &kms
        );
    }
    assert_eq!(
        std::fs::read(&shots_ms).unwrap(),
        std::fs::read(&shots_kms).unwrap()
    );
}

/// Bad `dataset` options write nothing: `--shard` is 1-based like `sweep --shard`, and
/// `--background-error` is a fraction from 0 to 0.5 (a number).
#[test]
fn dataset_rejects_bad_options_before_writing() {
    let (dir, p) = scratch();
    let cases: [(&str, &[&str], &str); 2] = [
        ("--shard", &["0/4", "5/4", "1/0", "x/2", "2"], "1 <= k <= n"),
        (
            "--background-error",
            &["-0.1", "0.7", "NaN"],
            "fraction from 0 to 0.5",
        ),
    ];
    for (option, bad_values, expected) in cases {
        for bad in bad_values {
            let out = powerpost(&[
                "dataset",
                "--out",
                p("d").to_str().unwrap(),
                "--pairs",
                "4",
                option,
                bad,
            ]);
            assert_user_error(&out, &[option, bad, expected]);
            assert!(
                !p("d").exists(),
                "{option} {bad} created the output directory"
            );
        }
    }
    drop(dir);
}

/// `train --decay-to` outside [0, 1], or a decay with no steps after the warm-up, is
/// refused before the dataset is read or anything is written.
#[test]
fn train_rejects_bad_decay_settings() {
    let (dir, p) = scratch();
    let (data, run) = (p("no-such-dataset"), p("run"));
    for (extra, expected) in [
        (
            &["--decay-to", "1.5"][..],
            &["--decay-to", "[0, 1]", "1.5"][..],
        ),
        (&["--decay-to", "-0.1"][..], &["--decay-to", "[0, 1]"][..]),
        (
            &["--decay-to", "0.1", "--steps", "100", "--warmup", "100"][..],
            &["--steps (100) must exceed --warmup (100)"][..],
        ),
    ] {
        let mut args = vec![
            "train",
            "--data",
            data.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = powerpost(&args);
        assert_user_error(&out, expected);
        assert!(!run.exists(), "{extra:?} created the output directory");
    }
    drop(dir);
}
