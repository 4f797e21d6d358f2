//! Kill-and-resume with SIGKILL: the process gets no chance to save anything, at any
//! moment — between steps, in the middle of writing a checkpoint, a log line or a sweep
//! cell. Rerunning the same command (`train --resume`, `sweep` into the same directory)
//! must then finish with exactly the bits of a run that was never interrupted, every
//! logged step once. (`train_signal.rs` covers the polite SIGTERM path.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{assert_no_temporaries, tree, write_npy};

fn powerpost(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_powerpost"));
    c.args(args)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Runs `args` to completion and asserts success.
fn finish(args: &[&str]) {
    let out = powerpost(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `args`, waits until `progress()` reaches `at_least` (or the child exits by
/// itself), then SIGKILLs it. Returns whether it was killed (false: it had finished).
fn kill_after(args: &[&str], progress: impl Fn() -> usize, at_least: usize) -> bool {
    let mut child: Child = powerpost(args).spawn().unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(
                status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return false;
        }
        if progress() >= at_least {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success());
    true
}

fn logged_steps(log: &Path) -> Vec<u64> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect()
}

#[test]
fn train_killed_at_any_moment_resumes_to_the_uninterrupted_bits() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let s = |q: &Path| q.to_str().unwrap().to_string();
    common::stand_in_dataset(&p("data"), 6, 2, 3, 1);
    let data = s(&p("data"));
    let steps = "24";
    let args = |out: &str| {
        vec![
            "train".to_string(),
            "--data".into(),
            data.clone(),
            "--out".into(),
            out.to_string(),
            "--network".into(),
            "tiny".into(),
            "--batch".into(),
            "2".into(),
            "--steps".into(),
            steps.into(),
            "--lr".into(),
            "1e-3".into(),
            "--warmup".into(),
            "2".into(),
            "--threads".into(),
            "1".into(),
            // A checkpoint after every step: kills land inside checkpoint writes too.
            "--checkpoint-every-secs".into(),
            "0".into(),
            "-q".into(),
            "--resume".into(),
        ]
    };
    let straight = s(&p("straight"));
    let a = args(&straight);
    finish(&a.iter().map(String::as_str).collect::<Vec<_>>());

    let killed = s(&p("killed"));
    let a = args(&killed);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let log = p("killed/log.csv");
    // Kill as soon as the log shows 0, 3, 6, … further steps than the last resume saw.
    let mut kills = 0;
    for round in 0.. {
        let seen = logged_steps(&log).len();
        if !kill_after(&a, || logged_steps(&log).len(), seen + 3 * (round % 3)) {
            break;
        }
        kills += 1;
        assert!(round < 40, "never finished");
    }
    assert!(
        kills >= 3,
        "only {kills} kills: the run was too short to test"
    );

    let (_, params_a, state_a) =
        powerpost_train::checkpoint::load(&p("killed/checkpoint.bin")).unwrap();
    let (_, params_b, state_b) =
        powerpost_train::checkpoint::load(&p("straight/checkpoint.bin")).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    assert_eq!(bits(&params_a), bits(&params_b), "parameters differ");
    assert_eq!(bits(&state_a.ema), bits(&state_b.ema), "EMA differs");
    assert_eq!(
        std::fs::read(p("killed/weights.safetensors")).unwrap(),
        std::fs::read(p("straight/weights.safetensors")).unwrap()
    );
    assert_eq!(logged_steps(&log), (1..=24).collect::<Vec<u64>>());
    // The loss column (all but the wall-clock rate) equals the uninterrupted run's.
    let losses = |path: PathBuf| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(losses(log.clone()), losses(p("straight/log.csv")));
    assert_no_temporaries(dir.path());
}

#[test]
fn sweep_killed_at_any_moment_resumes_to_the_uninterrupted_bits() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let (h, w) = (8usize, 16usize);
    let rtm: Vec<f32> = (0..h * w)
        .map(|k| ((k / w) as f32 * 0.9).sin() * (1.0 + 0.2 * ((k % w) as f32 * 0.3).cos()))
        .collect();
    let truth: Vec<f32> = (0..h * w)
        .map(|k| 1.5 + 3.0 * (k / w) as f32 / h as f32)
        .collect();
    write_npy(&p("rtm.npy"), &[h, w], &rtm);
    write_npy(&p("truth.npy"), &[h, w], &truth);
    let (rtm, truth) = (p("rtm.npy"), p("truth.npy"));
    let args = |out: &Path| -> Vec<String> {
        [
            "sweep",
            "--rtm",
            rtm.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
            "--weights",
            "random:7",
            "--steps",
            "2",
            "--n",
            "3",
            "--lambda",
            "0,0.5,1",
            "--alpha",
            "0.5,1,2",
            "--threads",
            "1",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let full_args = args(&p("full"));
    finish(&full_args.iter().map(String::as_str).collect::<Vec<_>>());
    let full = tree(&p("full"), &["sweep.json"]);

    let killed_args = args(&p("killed"));
    let a: Vec<&str> = killed_args.iter().map(String::as_str).collect();
    // Finished cell directories (killed runs' temporaries are dot-names).
    let cells = || {
        std::fs::read_dir(p("killed/cells"))
            .map(|d| {
                d.filter(|e| {
                    let e = e.as_ref().unwrap();
                    !e.file_name().to_string_lossy().starts_with('.')
                })
                .count()
            })
            .unwrap_or(0)
    };
    let mut kills = 0;
    for round in 0.. {
        // Kill right away, or once one more cell directory has appeared.
        let seen = cells();
        if !kill_after(&a, cells, seen + (round % 2)) {
            break;
        }
        kills += 1;
        assert!(round < 60, "never finished");
    }
    assert!(
        kills >= 2,
        "only {kills} kills: the sweep was too short to test"
    );
    assert_eq!(
        tree(&p("killed"), &["sweep.json"]),
        full,
        "a sweep killed {kills} times and resumed differs from an uninterrupted one"
    );
    // The finishing run removed what the killed ones left (temporaries of atomic writes).
    assert_no_temporaries(dir.path());
}
