//! `powerpost paper` end to end on the `tiny` preset (16 × 32 models, 4 shots) with the
//! shipped weights at that size, small grids and 2 sampler steps: the four PNGs and the
//! CSVs are there and well-formed; every residual in residual.csv equals one computed here
//! with the core's modelling directly (samples) or by `powerpost residual` (means, the
//! true model); the simulated shots are `powerpost simulate`'s; 1 thread and 2 threads
//! (with the shots given by `--shots`) write the same bytes; a run that lost part of its
//! output, or was killed, and is rerun writes the uninterrupted run's bytes; other
//! parameters in a finished directory and bad inputs are clean errors that write nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{
    assert_no_temporaries, assert_user_error, csv, ok, population_std, powerpost, read_npy, tree,
    write_npy,
};

const H: usize = 16;
const W: usize = 32;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A layered true model (km/s: water, two sediments, a dipping faster layer) and, as its
/// RTM stand-in, the vertical velocity contrasts (a reflectivity image); also writes its
/// background model, `background.npy` next to them (each row's mean: a depth trend), for
/// weights conditioned on one.
fn inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let mut v = vec![0.0f32; H * W];
    for iz in 0..H {
        for ix in 0..W {
            v[iz * W + ix] = match iz {
                _ if iz < 3 => 1.5,
                _ if iz < 6 => 2.0,
                _ if iz < 9 + ix / 8 => 2.4,
                _ => 3.1,
            };
        }
    }
    let rtm: Vec<f32> = (0..H * W)
        .map(|k| if k >= W { v[k] - v[k - W] } else { 0.0 })
        .collect();
    let (r, t) = (dir.join("rtm.npy"), dir.join("truth.npy"));
    write_npy(&r, &[H, W], &rtm);
    write_npy(&t, &[H, W], &v);
    let background: Vec<f32> = v
        .chunks_exact(W)
        .flat_map(|row| {
            let mean = row.iter().map(|&x| x as f64).sum::<f64>() / W as f64;
            std::iter::repeat_n(mean as f32, W)
        })
        .collect();
    write_npy(&dir.join("background.npy"), &[H, W], &background);
    (r, t)
}

/// The arguments of a small paper run into `out` (with the background model [`inputs`]
/// wrote next to `truth`); `extra` options replace the defaults of the same name or are
/// appended, and an empty value drops the option.
fn paper_args<'a>(
    rtm: &'a Path,
    truth: &'a Path,
    out: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut options: Vec<(&str, Option<&str>)> = vec![
        ("--rtm", Some(s(rtm))),
        ("--truth", Some(s(truth))),
        ("--background", Some(background_of(truth))),
        ("--preset", Some("tiny")),
        ("--fig1-alpha", Some("0.5,1")),
        ("--fig2-lambda", Some("2,0,1")),
        ("--fig4-lambda", Some("0,1")),
        ("--fig4-alpha", Some("1,0.5")),
        ("--n", Some("2")),
        ("--fig2-n", Some("2")),
        ("--show", Some("2")),
        ("--steps", Some("2")),
        ("-q", None),
        ("--out", Some(s(out))),
    ];
    for pair in extra.chunks(2) {
        match options.iter_mut().find(|(name, _)| *name == pair[0]) {
            Some(_) if pair[1].is_empty() => options.retain(|(name, _)| *name != pair[0]),
            Some(slot) => slot.1 = Some(pair[1]),
            None => options.push((pair[0], Some(pair[1]))),
        }
    }
    let mut args = vec!["paper"];
    for (name, value) in options {
        args.push(name);
        args.extend(value);
    }
    args
}

/// The background model [`inputs`] wrote next to `truth`.
fn background_of(truth: &Path) -> &'static str {
    let path = truth.with_file_name("background.npy");
    Box::leak(path.to_str().unwrap().to_string().into_boxed_str())
}

/// `paper.json` without what may differ between runs of the same inputs: this
/// invocation's threads and timings, and paths.
fn stable_record(path: &Path) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("this_run");
                m.remove("path");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    strip(&mut v);
    v
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// ‖F(model) − d‖/‖d‖ computed here with the core's modelling (model in km/s on the
/// tiny preset's grid; shots one after another, serially).
fn core_residual(model_km_s: &[f32], observed: &[f32]) -> Result<f64, powerpost_core::Error> {
    use powerpost_core::exec::Serial;
    use powerpost_core::wave::{self, Acquisition};
    let a = Acquisition::tiny();
    let cfg = a.cfg;
    let m_s: Vec<f32> = model_km_s.iter().map(|v| v * 1000.0).collect();
    let mut fine = vec![0.0; cfg.nz * cfg.nx];
    a.refine_model(&m_s, &mut fine)?;
    let mut medium = vec![0.0; wave::medium_len(&cfg)?];
    wave::prepare_medium(&cfg, &fine, &mut medium)?;
    let receivers: Vec<[f32; 2]> = (0..a.n_receivers)
        .map(|j| a.receiver_position(j))
        .collect::<Result<_, _>>()?;
    let mut wavelet = vec![0.0; cfg.nt];
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut wavelet)?;
    let per = cfg.nt * a.n_receivers;
    let mut predicted = vec![0.0f32; per * a.n_sources];
    let mut state = vec![0.0; wave::state_len(&cfg)?];
    for (k, shot) in predicted.chunks_exact_mut(per).enumerate() {
        wave::forward_shot(
            &cfg,
            &medium,
            a.source_position(k)?,
            &receivers,
            &wavelet,
            &mut state,
            shot,
            &Serial,
        )?;
    }
    wave::relative_residual(&predicted, observed)
}

/// `powerpost residual` of a model file (its printed value, 10 significant digits).
fn cli_residual(model: &Path, shots: &Path) -> String {
    let out = ok(&[
        "residual",
        "--model",
        s(model),
        "--shots",
        s(shots),
        "--preset",
        "tiny",
        "-q",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    format!("{:.9e}", v["relative_residual"].as_f64().unwrap())
}

#[test]
fn paper_figures_residuals_threads_resume_and_kill() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let (rtm, truth) = inputs(dir.path());
    let a = p("a");
    ok(&paper_args(&rtm, &truth, &a, &["--threads", "1"]));

    // The figures are PNGs of a plausible size.
    for (name, min_w, min_h) in [
        ("fig1-prior-alpha.png", 2 * W * 8, 2 * H * 8),
        ("fig2-posterior-lambda.png", 4 * W * 8, 3 * H * 8),
        ("fig3-residual-lambda.png", 720, 400),
        ("fig4-lambda-alpha.png", 2 * W * 8, 2 * H * 8),
    ] {
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(a.join(name)).unwrap(),
        ));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert!(
            info.width as usize >= min_w && info.height as usize >= min_h,
            "{name}: {} × {}",
            info.width,
            info.height
        );
    }
    // metrics.csv: every cell of the three sweeps, in their cell order.
    let metrics = csv(&a.join("metrics.csv"));
    assert_eq!(
        metrics[0].join(","),
        "figure,sampler,lambda,alpha,n,mean_std,rmse,ssim,residual"
    );
    let cells: Vec<String> = metrics[1..]
        .iter()
        .map(|r| format!("{} {} {} {}", r[0], r[1], r[2], r[3]))
        .collect();
    assert_eq!(
        cells,
        [
            "fig1-prior exact-power 0 0.5",
            "fig1-prior exact-power 0 1",
            "fig2-lambda dpmpp-2m 2 1",
            "fig2-lambda dpmpp-2m 0 1",
            "fig2-lambda dpmpp-2m 1 1",
            "fig4-grid exact-power 0 1",
            "fig4-grid exact-power 0 0.5",
            "fig4-grid exact-power 1 1",
            "fig4-grid exact-power 1 0.5",
        ]
    );
    let (_, t) = read_npy(&truth);
    for r in &metrics[1..] {
        assert_eq!(r.len(), 9, "{r:?}");
        let cell = a.join(&r[0]).join(format!("cells/l{}_a{}", r[2], r[3]));
        let (_, mean) = read_npy(&cell.join("mean.npy"));
        assert_eq!(
            r[6].parse::<f64>().unwrap(),
            common::rmse(&mean, &t),
            "{r:?}"
        );
        let ssim: f64 = r[7].parse().unwrap();
        assert!((-1.0..=1.0).contains(&ssim), "{r:?}");
    }
    // A cell Fig. 1 made is copied into Fig. 4, not drawn again: the same bytes.
    for f in ["samples.npy", "cell.json"] {
        assert_eq!(
            std::fs::read(a.join("fig1-prior/cells/l0_a0.5").join(f)).unwrap(),
            std::fs::read(a.join("fig4-grid/cells/l0_a0.5").join(f)).unwrap()
        );
    }

    // The simulated shots are `powerpost simulate`'s (10 dB, noise seed 0).
    let shots = a.join("shots.npy");
    ok(&[
        "simulate",
        "--model",
        s(&truth),
        "--preset",
        "tiny",
        "--out",
        s(&p("sim.npy")),
        "-q",
    ]);
    assert_eq!(
        std::fs::read(&shots).unwrap(),
        std::fs::read(p("sim.npy")).unwrap()
    );

    // residual.csv against independent computations.
    let rows = csv(&a.join("residual.csv"));
    assert_eq!(rows[0].join(","), "lambda,alpha,sample,residual");
    assert_eq!(rows.len(), 1 + 3 * 3 + 2);
    let (_, observed) = read_npy(&shots);
    let mut compared = 0;
    for r in &rows[1..10] {
        let cell = a.join(format!("fig2-lambda/cells/l{}_a{}", r[0], r[1]));
        assert_eq!(r[1], "1");
        if r[2] == "mean" {
            if !r[3].is_empty() {
                let v: f64 = r[3].parse().unwrap();
                assert_eq!(
                    cli_residual(&cell.join("mean.npy"), &shots),
                    format!("{v:.9e}")
                );
                compared += 1;
            }
            continue;
        }
        let k: usize = r[2].parse().unwrap();
        let (_, samples) = read_npy(&cell.join("samples.npy"));
        let want = core_residual(&samples[k * H * W..(k + 1) * H * W], &observed);
        match want {
            Ok(want) => {
                assert_eq!(r[3].parse::<f64>().unwrap(), want, "{r:?}");
                compared += 1;
            }
            // The modelling refuses the sample (e.g. too slow for the grid): no value.
            Err(_) => assert_eq!(r[3], "", "{r:?}"),
        }
    }
    assert!(
        compared >= 5,
        "only {compared} residuals to compare: {rows:?}"
    );
    assert_eq!(rows[10][..3], ["", "", "truth"]);
    assert_eq!(
        cli_residual(&truth, &shots),
        format!("{:.9e}", rows[10][3].parse::<f64>().unwrap())
    );
    assert_eq!(rows[11][..3], ["", "", "background"]);
    let (truth_r, background_r): (f64, f64) =
        (rows[10][3].parse().unwrap(), rows[11][3].parse().unwrap());
    assert!(truth_r > 0.2 && truth_r < 0.45, "10 dB noise: {truth_r}");
    assert!(background_r > truth_r, "{background_r} vs {truth_r}");

    // 2 threads, and the same shots given with --shots: the same bytes.
    let b = p("b");
    ok(&paper_args(
        &rtm,
        &truth,
        &b,
        &["--threads", "2", "--shots", s(&shots)],
    ));
    let skip = ["paper.json", "sweep.json"];
    let mut want = tree(&a, &skip);
    want.remove("shots.npy");
    want.remove("shots.json");
    assert_eq!(
        tree(&b, &skip),
        want,
        "2 threads with --shots differ from 1 thread"
    );
    let json = std::fs::read_to_string(b.join("paper.json")).unwrap();
    assert!(
        json.contains("\"simulated\": null") && json.contains("\"threads\": 2"),
        "{json}"
    );
    let full = tree(&a, &skip);

    // Part of the output lost: the rerun restores the same bytes.
    let r = p("r");
    copy_dir(&a, &r);
    std::fs::remove_dir_all(r.join("fig2-lambda/cells/l1_a1")).unwrap();
    std::fs::remove_file(r.join("fig4-grid/cells/l1_a0.5/samples.npy")).unwrap();
    for f in [
        "fig3-residual-lambda.png",
        "metrics.csv",
        "paper.json",
        "shots.npy",
    ] {
        std::fs::remove_file(r.join(f)).unwrap();
    }
    ok(&paper_args(&rtm, &truth, &r, &["--threads", "2"]));
    assert_eq!(tree(&r, &skip), full, "resumed after losing files");
    assert_eq!(
        stable_record(&r.join("paper.json")),
        stable_record(&a.join("paper.json"))
    );

    // Killed once part-way (after its first Fig. 2 cell), then rerun.
    let k = p("k");
    let args = paper_args(&rtm, &truth, &k, &["--threads", "2"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_powerpost"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let fig2_cells = || {
        std::fs::read_dir(k.join("fig2-lambda/cells"))
            .map(|d| {
                d.filter(|e| {
                    !e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with('.')
                })
                .count()
            })
            .unwrap_or(0)
    };
    while child.try_wait().unwrap().is_none() && fig2_cells() == 0 {
        assert!(started.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    child.wait().unwrap();
    ok(&args);
    assert_eq!(tree(&k, &skip), full, "resumed after a kill");
    assert_no_temporaries(dir.path());

    // Other parameters into a finished directory: refused, nothing changed.
    let before = tree(&a, &[]);
    let out = powerpost(&paper_args(&rtm, &truth, &a, &["--seed", "9"]));
    assert_user_error(&out, &["cell.json", "seed"]);
    assert_eq!(tree(&a, &[]), before);
}

#[test]
fn bad_paper_input_is_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let (rtm, truth) = inputs(dir.path());
    write_npy(&p("small.npy"), &[8, 8], &[2.0; 64]);
    write_npy(&p("ms.npy"), &[H, W], &[2000.0; H * W]);
    write_npy(&p("shots.npy"), &[4, 10, 32], &[0.0; 4 * 10 * 32]);
    let leak = |q: PathBuf| -> &'static str {
        Box::leak(q.to_str().unwrap().to_string().into_boxed_str())
    };
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--fig2-lambda", "0,-1"], vec!["--fig2-lambda", ">= 0"]),
        (vec!["--fig4-alpha", "1,0"], vec!["--fig4-alpha", "> 0"]),
        (vec!["--fig1-alpha", "1,1"], vec!["--fig1-alpha", "twice"]),
        (vec!["--n", "0"], vec!["--n", "at least 1"]),
        (vec!["--shard", "3/2"], vec!["--shard", "K/M"]),
        (
            vec!["--truth", leak(p("small.npy"))],
            vec!["small.npy", "[16, 32]"],
        ),
        (vec!["--truth", leak(p("ms.npy"))], vec!["ms.npy", "km/s"]),
        (vec!["--truth", leak(p("none.npy"))], vec!["none.npy"]),
        (vec!["--rtm", leak(p("none.npy"))], vec!["none.npy"]),
        (
            vec!["--shots", leak(p("shots.npy"))],
            vec!["shots.npy", "[4, 401, 32]"],
        ),
        (vec!["--preset", "edge"], vec!["--preset edge", "64 × 128"]),
        (vec!["--sampler", "rk4"], vec!["--sampler", "rk4"]),
        (vec!["--weights", "random:x"], vec!["random:SEED"]),
        // A background for weights of the RTM image alone; none for weights that need one.
        (
            vec!["--weights", "random:0"],
            vec!["--background", "RTM image alone"],
        ),
        (
            vec!["--weights", leak(p("bg.safetensors")), "--background", ""],
            vec!["--background", "conditioned on the background model"],
        ),
    ];
    common::background_weights(&p("bg.safetensors"));
    for (k, (extra, needles)) in cases.iter().enumerate() {
        let out_dir = p(&format!("out{k}"));
        let args = paper_args(&rtm, &truth, &out_dir, extra);
        assert_user_error(&powerpost(&args), needles);
        assert!(!out_dir.exists(), "{extra:?} left output behind");
    }
    // Without --rtm/--truth, a missing --example directory is named.
    let out_dir = p("ex");
    let out = powerpost(&["paper", "--example", s(&p("nowhere")), "--out", s(&out_dir)]);
    assert_user_error(&out, &["nowhere", "rtm.npy"]);
    assert!(!out_dir.exists());
}

/// `paper --rtm-normalize`: the gain that makes the RTM image's standard deviation 1 after
/// the shipped weights' RTM scale (computed here independently) is recorded in paper.json
/// and in every sweep's plan, and no amplitude warning is printed (without the option the
/// tiny preset's image, 1e-9 of the training amplitude, draws one; other warnings, about
/// means outside the modelling limits at this untrained size, may appear); a constant image
/// with the option is refused without output.
#[test]
fn paper_rtm_normalize_records_the_gain() {
    let dir = tempfile::tempdir().unwrap();
    let (rtm, truth) = inputs(dir.path());
    let out_dir = dir.path().join("norm");
    let mut args = paper_args(&rtm, &truth, &out_dir, &[]);
    args.push("--rtm-normalize");
    let out = ok(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning: --rtm"), "{stderr}");

    let weights =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/powerpost-edge.safetensors");
    let file = std::fs::read(weights).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&file).unwrap();
    let scale: f64 = meta.metadata().as_ref().unwrap()["powerpost.rtm_scale"]
        .parse()
        .unwrap();
    let (_, values) = read_npy(&rtm);
    let std = population_std(&values);
    let want = (1.0 / (std * (scale as f32) as f64)) as f32;

    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("paper.json")).unwrap()).unwrap();
    assert_eq!(record["rtm_gain"].as_f64().map(|g| g as f32), Some(want));
    for sweep in ["fig1-prior", "fig2-lambda", "fig4-grid"] {
        let plan: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out_dir.join(sweep).join("sweep.json")).unwrap())
                .unwrap();
        assert_eq!(
            plan["rtm_gain"].as_f64().map(|g| g as f32),
            Some(want),
            "{sweep}"
        );
    }

    let flat = dir.path().join("flat.npy");
    write_npy(&flat, &[H, W], &[0.25; H * W]);
    let bad = dir.path().join("bad");
    let mut args = paper_args(&flat, &truth, &bad, &[]);
    args.push("--rtm-normalize");
    assert_user_error(&powerpost(&args), &["--rtm-normalize", "flat.npy"]);
    assert!(!bad.exists());
}
