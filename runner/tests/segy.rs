//! SEG-Y through the `powerpost` binary, on the `tiny` preset (16 × 32 model, 4 shots × 32
//! receivers, 401 samples): simulate → .sgy → migrate gives the same image bits as via
//! .npy, the .sgy files hold the .npy's samples and the preset's geometry (read here with a
//! separate minimal SEG-Y parser, not the crate under test), and bad SEG-Y input is a
//! clean error (exit 2, file and field named, no output).

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{powerpost, read_npy, write_npy};

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts a clean user error: exit 2, one `error:` message containing every `needle`.
fn user_error(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.starts_with("error: "), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "missing {needle:?} in: {stderr}");
    }
}

const NZ: usize = 16;
const NX: usize = 32;
const SHOTS: usize = 4;
const NT: usize = 401;

/// A layered 16 × 32 model (m/s): water, sediment, a dipping faster layer.
fn model(path: &Path) {
    let mut v = vec![0.0f32; NZ * NX];
    for iz in 0..NZ {
        for ix in 0..NX {
            v[iz * NX + ix] = if iz < 3 {
                1500.0
            } else if iz < 8 + ix / 8 {
                2000.0
            } else {
                2600.0
            };
        }
    }
    write_npy(path, &[NZ, NX], &v);
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A minimal big-endian SEG-Y reader, independent of powerpost-segy: format code, samples
/// per trace, sample interval, and per trace the header as big-endian integers at given
/// byte positions and the samples (format 5 as bits, format 1 decoded from the IBM
/// definition in f64).
struct Parsed {
    format: i16,
    interval: u16,
    headers: Vec<Vec<u8>>,
    samples: Vec<Vec<f64>>,
}

fn parse_segy(path: &Path) -> Parsed {
    let b = std::fs::read(path).unwrap();
    let be16 = |at: usize| i16::from_be_bytes([b[at], b[at + 1]]);
    let format = be16(3224);
    let ns = be16(3220) as usize;
    let interval = be16(3216) as u16;
    assert_eq!(be16(3504), 0, "no extended textual headers");
    let trace_len = 240 + 4 * ns;
    assert_eq!((b.len() - 3600) % trace_len, 0);
    let mut headers = Vec::new();
    let mut samples = Vec::new();
    for t in b[3600..].chunks_exact(trace_len) {
        headers.push(t[..240].to_vec());
        samples.push(
            t[240..]
                .chunks_exact(4)
                .map(|w| {
                    let word = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
                    match format {
                        5 => f64::from(f32::from_bits(word)),
                        1 => {
                            let sign = if word >> 31 == 1 { -1.0 } else { 1.0 };
                            let e = ((word >> 24) & 0x7F) as i32 - 64;
                            sign * f64::from(word & 0xFF_FFFF) / 16_777_216.0 * 16f64.powi(e)
                        }
                        other => panic!("format {other}"),
                    }
                })
                .collect(),
        );
    }
    Parsed {
        format,
        interval,
        headers,
        samples,
    }
}

/// A big-endian 4-byte trace header field at 1-based byte `byte`.
fn field32(h: &[u8], byte: usize) -> i32 {
    i32::from_be_bytes([h[byte - 1], h[byte], h[byte + 1], h[byte + 2]])
}

/// A big-endian 2-byte trace header field at 1-based byte `byte`.
fn field16(h: &[u8], byte: usize) -> i16 {
    i16::from_be_bytes([h[byte - 1], h[byte]])
}

/// A coordinate field applied to its scalar (bytes 71–72).
fn coordinate(h: &[u8], byte: usize) -> f64 {
    let scalar = f64::from(field16(h, 71));
    let v = f64::from(field32(h, byte));
    if scalar < 0.0 {
        v / -scalar
    } else if scalar > 0.0 {
        v * scalar
    } else {
        v
    }
}

struct Run {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Run {
    fn p(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

/// A model and its shots, as .npy and as .sgy.
fn simulated() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let run = Run {
        root: dir.path().to_path_buf(),
        _dir: dir,
    };
    model(&run.p("model.npy"));
    for out in ["shots.npy", "shots.sgy"] {
        ok(&powerpost(&[
            "simulate",
            "--preset",
            "tiny",
            "--quiet",
            "--seed",
            "3",
            "--model",
            s(&run.p("model.npy")),
            "--out",
            s(&run.p(out)),
        ]));
    }
    run
}

#[test]
fn simulate_migrate_residual_through_segy_match_npy_bit_for_bit() {
    let run = simulated();
    let (shape, shots) = read_npy(&run.p("shots.npy"));
    assert_eq!(shape, format!("{SHOTS}, {NT}, {NX}"));

    // The .sgy holds the .npy's samples, trace = (shot, receiver), and the geometry.
    let sgy = parse_segy(&run.p("shots.sgy"));
    assert_eq!((sgy.format, sgy.interval), (5, 1250));
    assert_eq!(sgy.headers.len(), SHOTS * NX);
    let width = (NX - 1) as f64 * 12.5;
    for (k, (h, trace)) in sgy.headers.iter().zip(&sgy.samples).enumerate() {
        let (shot, receiver) = (k / NX, k % NX);
        assert_eq!(field32(h, 9), shot as i32 + 1, "field record");
        assert_eq!(field32(h, 13), receiver as i32 + 1, "trace number");
        assert_eq!(coordinate(h, 81), receiver as f64 * 12.5, "group x");
        let source_x = (shot as f64 + 0.5) * width / SHOTS as f64;
        assert!((coordinate(h, 73) - source_x).abs() <= 0.5e-4, "source x");
        assert_eq!(field32(h, 49), 25, "source depth");
        assert_eq!(field32(h, 41), -25, "receiver elevation");
        assert_eq!((field16(h, 115), field16(h, 117)), (NT as i16, 1250));
        for (t, &v) in trace.iter().enumerate() {
            let want = shots[(shot * NT + t) * NX + receiver];
            assert_eq!((v as f32).to_bits(), want.to_bits(), "trace {k} sample {t}");
        }
    }
    assert!(shots.iter().any(|&v| v != 0.0));

    // Migrating either gives the same image bits; the .sgy image holds them column-wise.
    for (shots_file, out) in [
        ("shots.npy", "image.npy"),
        ("shots.sgy", "image_from_sgy.npy"),
        ("shots.sgy", "image.sgy"),
    ] {
        ok(&powerpost(&[
            "migrate",
            "--preset",
            "tiny",
            "--quiet",
            "--shots",
            s(&run.p(shots_file)),
            "--model",
            s(&run.p("model.npy")),
            "--sigma",
            "2",
            "--out",
            s(&run.p(out)),
        ]));
    }
    assert_eq!(
        std::fs::read(run.p("image.npy")).unwrap(),
        std::fs::read(run.p("image_from_sgy.npy")).unwrap()
    );
    let (shape, image) = read_npy(&run.p("image.npy"));
    assert_eq!(shape, format!("{NZ}, {NX}"));
    assert!(image.iter().any(|&v| v != 0.0));
    let img = parse_segy(&run.p("image.sgy"));
    assert_eq!((img.format, img.interval), (5, 12_500)); // dz = 12.5 m in mm
    assert_eq!(img.headers.len(), NX);
    for (ix, (h, trace)) in img.headers.iter().zip(&img.samples).enumerate() {
        assert_eq!(field32(h, 21), ix as i32 + 1, "CDP");
        assert_eq!(coordinate(h, 181), ix as f64 * 12.5, "CDP x");
        let column: Vec<u32> = (0..NZ).map(|iz| image[iz * NX + ix].to_bits()).collect();
        let got: Vec<u32> = trace.iter().map(|&v| (v as f32).to_bits()).collect();
        assert_eq!(got, column, "column {ix}");
    }

    // The data residual against either file is the same number.
    let residual = |shots_file: &str| {
        let out = powerpost(&[
            "residual",
            "--preset",
            "tiny",
            "--quiet",
            "--shots",
            s(&run.p(shots_file)),
            "--model",
            s(&run.p("model.npy")),
        ]);
        ok(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(residual("shots.npy"), residual("shots.sgy"));
}

#[test]
fn ibm_output_rounds_each_sample_to_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    model(&p("model.npy"));
    for (out, extra) in [("shots.npy", None), ("shots_ibm.segy", Some("ibm"))] {
        let mut args = vec![
            "simulate", "--preset", "tiny", "--quiet", "--clean", "--model",
        ];
        let (m, o) = (p("model.npy"), p(out));
        args.extend([s(&m), "--out", s(&o)]);
        if let Some(f) = extra {
            args.extend(["--segy-format", f]);
        }
        ok(&powerpost(&args));
    }
    let (_, shots) = read_npy(&p("shots.npy"));
    let sgy = parse_segy(&p("shots_ibm.segy"));
    assert_eq!(sgy.format, 1);
    let mut inexact = 0;
    for (k, trace) in sgy.samples.iter().enumerate() {
        let (shot, receiver) = (k / NX, k % NX);
        for (t, &v) in trace.iter().enumerate() {
            let want = f64::from(shots[(shot * NT + t) * NX + receiver]);
            // IBM keeps 21 to 24 significant bits: nearest is within 2^-21 relative.
            assert!(
                (v - want).abs() <= want.abs() * 2f64.powi(-21),
                "{v} vs {want}"
            );
            inexact += usize::from(v != want);
        }
    }
    assert!(inexact > 0, "some samples need rounding");
}

#[test]
fn bad_segy_input_is_refused_naming_file_and_field() {
    let run = simulated();
    let image = run.p("image.npy");
    let migrate = |shots: &Path, preset: &str| {
        powerpost(&[
            "migrate",
            "--preset",
            preset,
            "--quiet",
            "--shots",
            s(shots),
            "--model",
            s(&run.p("model.npy")),
            "--out",
            s(&image),
        ])
    };
    let good = std::fs::read(run.p("shots.sgy")).unwrap();

    // Truncated in the middle of the last trace.
    let truncated = run.p("truncated.sgy");
    std::fs::write(&truncated, &good[..good.len() - 100]).unwrap();
    user_error(
        &migrate(&truncated, "tiny"),
        &["truncated.sgy: the file ends inside trace index 127: expected 1844 bytes there, found 1744"],
    );

    // An unsupported sample format.
    let mut bytes = good.clone();
    bytes[3224..3226].copy_from_slice(&4i16.to_be_bytes());
    let format4 = run.p("format4.sgy");
    std::fs::write(&format4, &bytes).unwrap();
    user_error(
        &migrate(&format4, "tiny"),
        &["format4.sgy: data sample format code (binary header bytes 3225–3226) is 4"],
    );

    // The tiny preset's file is not the edge preset's acquisition.
    user_error(
        &migrate(&run.p("shots.sgy"), "edge"),
        &["shots.sgy: the number of traces is 128, expected 2048 (16 shots × 128 receivers) (preset edge)"],
    );

    // One receiver moved by 1 m (group x of trace 37 = shot 1, receiver 5).
    let mut bytes = good.clone();
    let at = 3600 + 37 * (240 + 4 * NT) + 80;
    let moved = i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) + 10_000;
    bytes[at..at + 4].copy_from_slice(&moved.to_be_bytes());
    let moved_file = run.p("moved.sgy");
    std::fs::write(&moved_file, &bytes).unwrap();
    user_error(
        &migrate(&moved_file, "tiny"),
        &["moved.sgy: trace index 37: the receiver x of receiver 5: group coordinate x (trace header bytes 81–84) scaled by bytes 71–72 is 63.5 m, expected 62.5 m"],
    );
    let out = powerpost(&[
        "residual",
        "--preset",
        "tiny",
        "--quiet",
        "--shots",
        s(&moved_file),
        "--model",
        s(&run.p("model.npy")),
        "--out",
        s(&run.p("residual.json")),
    ]);
    user_error(&out, &["moved.sgy: trace index 37", "group coordinate x"]);

    // A different time step.
    let mut bytes = good.clone();
    bytes[3216..3218].copy_from_slice(&2000u16.to_be_bytes());
    let slow = run.p("slow.sgy");
    std::fs::write(&slow, &bytes).unwrap();
    user_error(
        &migrate(&slow, "tiny"),
        &["slow.sgy: trace index 0: sample interval of this trace (µs for time data) (trace header bytes 117–118) is 1250, expected 0 or 2000"],
    );

    // --segy-format for a .npy output.
    let out = powerpost(&[
        "simulate",
        "--preset",
        "tiny",
        "--quiet",
        "--model",
        s(&run.p("model.npy")),
        "--out",
        s(&run.p("x.npy")),
        "--segy-format",
        "ibm",
    ]);
    user_error(&out, &["--segy-format", "x.npy", "not a SEG-Y output"]);

    // Nothing was written: the inputs and the files this test made are all there is.
    let mut names: Vec<String> = std::fs::read_dir(&run.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "format4.sgy",
            "model.npy",
            "moved.sgy",
            "shots.npy",
            "shots.sgy",
            "slow.sgy",
            "truncated.sgy"
        ]
    );
}
