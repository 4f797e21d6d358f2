//! `POWERPOST_ISA`: every instruction set the CPU has gives the same output files, bit for
//! bit (network and wave physics); an unknown or unsupported name is a user error.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{assert_user_error, write_npy};

/// Runs the binary with `POWERPOST_ISA` set to `isa` (unset for `None`).
fn run_with(isa: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_powerpost"));
    cmd.args(args).env("RUST_BACKTRACE", "1");
    match isa {
        Some(name) => cmd.env("POWERPOST_ISA", name),
        None => cmd.env_remove("POWERPOST_ISA"),
    };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "POWERPOST_ISA={isa:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The instruction sets `powerpost info` lists for this CPU.
fn supported() -> Vec<String> {
    let out = run_with(None, &["info"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("instruction sets: "))
        .expect("info prints the instruction sets");
    let list = line.split(" (using").next().unwrap();
    list.split(", ").map(str::to_owned).collect()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_instruction_set_writes_the_same_files() {
    let isas = supported();
    assert!(isas.iter().any(|i| i == "scalar"), "{isas:?}");
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    // A small layered model for the wave physics, a smooth image for the network.
    let (h, w) = (16, 32);
    let model: Vec<f32> = (0..h * w)
        .map(|i| {
            if i / w < 4 {
                1500.0
            } else {
                2000.0 + 10.0 * (i / w) as f32
            }
        })
        .collect();
    write_npy(Path::new(&p("model.npy")), &[h, w], &model);
    let rtm: Vec<f32> = (0..16 * 32)
        .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
        .collect();
    write_npy(Path::new(&p("rtm.npy")), &[16, 32], &rtm);
    let mut first: Option<(Vec<u8>, Vec<u8>)> = None;
    for isa in &isas {
        let info = String::from_utf8(run_with(Some(isa), &["info"]).stdout).unwrap();
        assert!(info.contains(&format!("(using {isa})")), "{info}");
        let shots = p(&format!("shots-{isa}.npy"));
        run_with(
            Some(isa),
            &[
                "simulate",
                "--model",
                &p("model.npy"),
                "--preset",
                "tiny",
                "--out",
                &shots,
                "-q",
            ],
        );
        let samples = p(&format!("s-{isa}"));
        run_with(
            Some(isa),
            &[
                "sample",
                "--rtm",
                &p("rtm.npy"),
                "--weights",
                "random:3",
                "--n",
                "2",
                "--steps",
                "3",
                "--seed",
                "1",
                "--out",
                &samples,
                "-q",
            ],
        );
        let got = (
            read(Path::new(&shots)),
            read(&Path::new(&samples).join("samples.npy")),
        );
        match &first {
            None => first = Some(got),
            Some(want) => {
                assert!(got.0 == want.0, "shots differ with {isa}");
                assert!(got.1 == want.1, "samples differ with {isa}");
            }
        }
    }
}

#[test]
fn unknown_instruction_set_is_a_user_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_powerpost"))
        .arg("info")
        .env("POWERPOST_ISA", "avx3")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_user_error(
        &out,
        &["POWERPOST_ISA", "avx3", "expected one of", "scalar"],
    );
}
