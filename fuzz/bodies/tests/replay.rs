//! The fuzz targets on stable, in every `cargo test`: each target's body replays the
//! committed seed corpus (`fuzz/corpus/<target>/`) and every crash-regression input
//! (`fuzz/regressions/<target>/`), then a deterministic mutation loop
//! (`powerpost_fuzz_bodies::mutate`) runs `POWERPOST_FUZZ_ITERATIONS` mutants (default
//! 2000) of those seeds through it. A mutant that fails is written to
//! `target/fuzz-replay-failures/` and named in the panic, ready to be replayed or
//! minimised with `cargo +nightly fuzz`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use powerpost_fuzz_bodies::mutate::{mutate, Rng};
use powerpost_fuzz_bodies::{seeds, target, Target, TARGETS};

/// `fuzz/<kind>/<target>`.
fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(kind)
        .join(target)
}

/// The files of a directory (none if it does not exist), sorted by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .filter(|(name, _)| !name.starts_with('.') && name != "README.md")
        .collect();
    out.sort();
    out
}

/// Runs `t`'s body on `input`; on a failure saves the input and panics naming it.
fn run_one(t: &Target, what: &str, input: &[u8]) {
    let outcome = catch_unwind(AssertUnwindSafe(|| (t.body)(input)));
    if let Err(panic) = outcome {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-replay-failures");
        std::fs::create_dir_all(&out).unwrap();
        let file: String = what
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = out.join(format!("{}-{file}", t.name));
        std::fs::write(&path, input).unwrap();
        panic!(
            "target `{}` failed on {what} (saved as {}): {message}",
            t.name,
            path.display()
        );
    }
}

/// Replays the corpus and the regressions of `name`, then the mutation loop.
fn replay(name: &str) {
    let t = target(name).unwrap();
    let mut inputs = files(&dir("corpus", name));
    assert!(!inputs.is_empty(), "no seed corpus for `{name}`");
    inputs.extend(files(&dir("regressions", name)));
    // Complete weights of the tiny preset: too large to commit, generated here.
    let tiny = powerpost_fuzz_bodies::capi::tiny_weights();
    match name {
        "capi" => inputs.push(("generated-tiny-weights".into(), tiny)),
        "weights" => inputs.push(("generated-tiny-weights".into(), tiny[1..].to_vec())),
        _ => {}
    }
    for (file, bytes) in &inputs {
        run_one(t, file, bytes);
    }
    let iterations: usize = std::env::var("POWERPOST_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // A seed per target, so that adding a target does not change the others' mutants.
    let seed = name.bytes().fold(0x5EED_u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    let mut rng = Rng::new(seed);
    for i in 0..iterations {
        let (file, base) = &inputs[i % inputs.len()];
        let other = &inputs[rng.below(inputs.len())].1;
        let mutant = mutate(base, other, t.length_fields, &mut rng);
        run_one(t, &format!("mutant {i} of {file}"), &mutant);
    }
}

#[test]
fn every_target_is_replayed_here() {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "safetensors",
            "weights",
            "npy",
            "segy",
            "checkpoint",
            "manifest",
            "sidecars",
            "capi"
        ]
    );
    // And each has its cargo-fuzz wrapper.
    for t in TARGETS {
        let wrapper = dir("fuzz_targets", &format!("{}.rs", t.name));
        let text = std::fs::read_to_string(&wrapper)
            .unwrap_or_else(|e| panic!("{}: {e}", wrapper.display()));
        assert!(
            text.contains(&format!("powerpost_fuzz_bodies::{}::fuzz", t.name)),
            "{text}"
        );
    }
}

#[test]
fn committed_seeds_are_current_and_small() {
    let mut total = 0;
    for (target, name, bytes) in seeds() {
        let path = dir("corpus", target).join(&name);
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run `cargo run -p powerpost-fuzz-bodies --example write_seeds`)",
                path.display()
            )
        });
        assert!(
            committed == bytes,
            "{} is stale: rerun the write_seeds example",
            path.display()
        );
    }
    for t in TARGETS {
        total += files(&dir("corpus", t.name))
            .iter()
            .map(|(_, b)| b.len())
            .sum::<usize>();
    }
    assert!(total < 100_000, "seed corpus of {total} bytes");
}

#[test]
fn safetensors() {
    replay("safetensors");
}

#[test]
fn weights() {
    replay("weights");
}

#[test]
fn npy() {
    replay("npy");
}

#[test]
fn segy() {
    replay("segy");
}

#[test]
fn checkpoint() {
    replay("checkpoint");
}

#[test]
fn manifest() {
    replay("manifest");
}

#[test]
fn sidecars() {
    replay("sidecars");
}

#[test]
fn capi() {
    replay("capi");
}
