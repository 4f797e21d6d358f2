//! Kill-and-resume: `powerpost train` stopped by SIGTERM (what Slurm sends before it
//! pre-empts a job; Ctrl-C's SIGINT takes the same path) writes its checkpoint after the
//! current step and exits 130; `--resume` then reaches exactly the bits of a run that was
//! never interrupted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

fn powerpost() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_powerpost"));
    c.env("RUST_BACKTRACE", "1");
    c
}

fn train_args<'a>(data: &'a str, out: &'a str, steps: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        data,
        "--out",
        out,
        "--network",
        "tiny",
        "--batch",
        "2",
        "--steps",
        steps,
        "--lr",
        "1e-3",
        "--warmup",
        "2",
        "--threads",
        "1",
        "--checkpoint-every-secs",
        "100000",
        "-q",
        "--resume",
    ]
}

fn logged_steps(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn sigterm_checkpoints_and_resume_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let s = |q: &Path| q.to_str().unwrap().to_string();
    common::stand_in_dataset(&p("data"), 6, 2, 3, 1);
    let (data, stopped_dir) = (s(&p("data")), s(&p("stopped")));

    // A run far too long to finish, stopped by SIGTERM once it has logged 3 steps.
    let mut child = powerpost()
        .args(train_args(&data, &stopped_dir, "1000000"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while logged_steps(&p("stopped/log.csv")) < 3 {
        assert!(start.elapsed() < Duration::from_secs(300), "no progress");
        assert!(child.try_wait().unwrap().is_none(), "train exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted at step") && stderr.contains("--resume"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (header, _, _) = powerpost_train::checkpoint::load(&p("stopped/checkpoint.bin")).unwrap();
    let k = header.step;
    assert!(k >= 3, "stopped at step {k}");
    assert_eq!(
        logged_steps(&p("stopped/log.csv")) as u64,
        k,
        "the log ends at the checkpoint's step"
    );

    // Resume to k + 3 steps; an uninterrupted run of k + 3 steps gives the same bits.
    let total = (k + 3).to_string();
    let resumed = powerpost()
        .args(train_args(&data, &stopped_dir, &total))
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let straight_dir = s(&p("straight"));
    let straight = powerpost()
        .args(train_args(&data, &straight_dir, &total))
        .output()
        .unwrap();
    assert!(
        straight.status.success(),
        "{}",
        String::from_utf8_lossy(&straight.stderr)
    );
    let (_, params_a, state_a) =
        powerpost_train::checkpoint::load(&p("stopped/checkpoint.bin")).unwrap();
    let (_, params_b, state_b) =
        powerpost_train::checkpoint::load(&p("straight/checkpoint.bin")).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    assert_eq!(bits(&params_a), bits(&params_b));
    assert_eq!(bits(&state_a.ema), bits(&state_b.ema));
    assert_eq!(
        std::fs::read(p("stopped/weights.safetensors")).unwrap(),
        std::fs::read(p("straight/weights.safetensors")).unwrap()
    );
    // The resumed log holds every step once.
    let log = std::fs::read_to_string(p("stopped/log.csv")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(steps, (1..=k + 3).collect::<Vec<_>>());
}
