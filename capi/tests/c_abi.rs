//! The C ABI from C: `tests/c/smoke.c` is compiled with the system C compiler (`$CC`, else
//! `cc`) against the static library cargo built for this test run, and what it writes is
//! compared bit for bit with the Rust core's results for the same inputs, computed here
//! with `powerpost_core` alone (never through the C ABI):
//! - a posterior sample (λ = 1.5, α = 1, DPM-Solver++(2M), 2 steps) with the shipped
//!   weights on the 64 × 128 RTM image of `examples/edge-2016`, in network units and in
//!   km/s, and a power-scaled prior sample (no RTM image, λ = 0, α = 1.25, Euler, 2 steps)
//!   on a 32 × 64 grid;
//! - geology model 2016 of seed 0, which is also the example's `velocity.npy`;
//! - shot 0 of the training-pair pipeline of that model (`train/src/dataset.rs`): the
//!   clean shot, the shot with coloured noise, its RTM image, and the summed, coarsened,
//!   muted image;
//! - the error paths: NULL pointers, short buffers, NaN parameters, wrong weights, bad
//!   physics (the C program asserts statuses, names and lengths itself).
//!
//! An ignored test runs all 16 shots of the pipeline from C and requires the example's
//! `rtm.npy` (written by the dataset builder) bit for bit; it needs ~45 s of CPU in the test
//! profile, ~11 s in release:
//! `cargo test --release -p powerpost-capi --test c_abi -- --ignored`.
//!
//! The C program runs while the Rust reference is computed, so each test costs about one
//! side's time on two cores. Linux only (the link line names glibc's libraries); needs a C
//! compiler (Debian package `gcc`).

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use powerpost_core::exec::Serial;
use powerpost_core::geology::{self, GeologyParams};
use powerpost_core::normalize::Normalization;
use powerpost_core::posterior::{draw_sample, posterior_scratch_len, PosteriorRequest};
use powerpost_core::safetensors::SafeTensors;
use powerpost_core::sampler::{SamplerConfig, SamplerKind};
use powerpost_core::unet::{architecture_of, load_params, params_len, UNet, UNetConfig};
use powerpost_core::wave::{self, Acquisition};

const HEIGHT: usize = 64;
const WIDTH: usize = 128;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn weights_path() -> PathBuf {
    repo().join("weights/powerpost-edge.safetensors")
}

/// A fresh scratch directory under cargo's per-test temporary directory.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("capi-c-abi")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `libpowerpost_capi.a` of this build. For `cargo test`, cargo writes it to the `deps/`
/// directory beside this test executable (whatever the target directory and profile);
/// a `cargo build` of the same profile copies one into the profile directory above. The
/// newer of the two is this source's.
fn static_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let candidates = [
        deps.join("libpowerpost_capi.a"),
        deps.parent().unwrap().join("libpowerpost_capi.a"),
    ];
    candidates
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| panic!("no static library at {candidates:?}"))
}

/// Compiles and links `tests/c/{name}.c` against the static library into the scratch
/// directory `build-{name}`.
fn compile(name: &str) -> PathBuf {
    let dir = scratch_dir(&format!("build-{name}"));
    let out = dir.join(name);
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(&compiler)
        .args([
            "-std=c99",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
        ])
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join(format!("tests/c/{name}.c")))
        .arg(static_library())
        // What `rustc --print native-static-libs` lists for the staticlib on Linux.
        .args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ])
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run the C compiler `{compiler}` ({e}); install gcc or set CC")
        });
    assert!(status.success(), "compiling tests/c/{name}.c failed");
    out
}

/// The C program, compiled once per test process.
fn smoke_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| compile("smoke"))
}

/// Starts the C program.
fn spawn_smoke(args: &[&std::ffi::OsStr]) -> Child {
    Command::new(smoke_binary())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the C program; panics with its output unless it exits with 0.
fn finish_smoke(child: Child, args: &[&std::ffi::OsStr]) -> String {
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "smoke {args:?} failed ({})\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn write_f32(path: &Path, data: &[f32]) {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// The float32 data of a C-order `.npy` file of shape `shape`.
fn read_npy(path: &Path, shape: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{}", path.display());
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    assert!(
        header.contains("'<f4'")
            && header.contains("'fortran_order': False")
            && header.contains(shape),
        "{}: {header}",
        path.display()
    );
    bytes[start + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Asserts two arrays have identical bits, naming the first difference.
fn assert_same_bits(what: &str, c: &[f32], rust: &[f32]) {
    assert_eq!(c.len(), rust.len(), "{what}: lengths");
    if let Some(i) = (0..c.len()).find(|&i| c[i].to_bits() != rust[i].to_bits()) {
        let differing = (0..c.len())
            .filter(|&i| c[i].to_bits() != rust[i].to_bits())
            .count();
        panic!(
            "{what}: {differing} of {} values differ; first at {i}: C {} vs Rust {}",
            c.len(),
            c[i],
            rust[i]
        );
    }
}

/// The shipped network, loaded with the core: configuration, parameters, normalisation.
fn rust_network() -> (UNetConfig, Vec<f32>, Normalization) {
    let bytes = std::fs::read(weights_path()).unwrap();
    let file = SafeTensors::parse(&bytes).unwrap();
    let normalization = Normalization::from_safetensors(&file).unwrap();
    let config = architecture_of(&bytes).unwrap();
    let mut params = vec![0.0; params_len(&config)];
    load_params(&config, &bytes, &mut params).unwrap();
    (config, params, normalization)
}

/// One sample drawn with the core's Rust API.
fn rust_sample(
    net: &UNet<'_>,
    (height, width): (usize, usize),
    rtm_image: Option<&[f32]>,
    (lambda, alpha): (f32, f32),
    sampler: SamplerConfig,
    (seed, sample_index): (u64, u64),
) -> Vec<f32> {
    let request = PosteriorRequest {
        height,
        width,
        condition: rtm_image,
        lambda,
        alpha,
        sampler,
        seed,
        sample_index,
    };
    let mut x = vec![0.0; height * width];
    let mut scratch = vec![0.0; posterior_scratch_len(net, height, width, &sampler)];
    draw_sample(net, &Serial, &request, &mut x, &mut scratch, &mut |_, _| {}).unwrap();
    x
}

#[test]
fn c_samples_have_the_rust_bits() {
    let dir = scratch_dir("sample");
    let rtm = read_npy(&repo().join("examples/edge-2016/rtm.npy"), "(64, 128)");
    let background = read_npy(
        &repo().join("examples/edge-2016/background.npy"),
        "(64, 128)",
    );
    let (rtm_path, background_path) = (dir.join("rtm.bin"), dir.join("background.bin"));
    write_f32(&rtm_path, &rtm);
    write_f32(&background_path, &background);
    let weights = weights_path();
    let args = [
        "sample".as_ref(),
        weights.as_os_str(),
        rtm_path.as_os_str(),
        background_path.as_os_str(),
        dir.as_os_str(),
    ];
    let child = spawn_smoke(&args);

    // The condition: the RTM image, then (for weights that take it) the background model.
    let (config, params, normalization) = rust_network();
    let net = UNet::new(config, &params).unwrap();
    let n = HEIGHT * WIDTH;
    let mut condition = vec![0.0; config.condition_len(HEIGHT, WIDTH)];
    normalization
        .rtm_to_network(&rtm, &mut condition[..n])
        .unwrap();
    if config.takes_background() {
        normalization
            .velocity_to_network(&background, &mut condition[n..])
            .unwrap();
    }
    let posterior = rust_sample(
        &net,
        (HEIGHT, WIDTH),
        Some(&condition),
        (1.5, 1.0),
        SamplerConfig {
            steps: 2,
            ..SamplerConfig::with_kind(SamplerKind::DpmSolverPp2M)
        },
        (7, 3),
    );
    let mut km_s = vec![0.0; HEIGHT * WIDTH];
    normalization
        .network_to_velocity(&posterior, &mut km_s)
        .unwrap();
    let prior = rust_sample(
        &net,
        (32, 64),
        None,
        (0.0, 1.25),
        SamplerConfig {
            steps: 2,
            ..SamplerConfig::with_kind(SamplerKind::Euler)
        },
        (11, 0),
    );
    finish_smoke(child, &args);

    assert_same_bits(
        "posterior",
        &read_f32(&dir.join("posterior.bin")),
        &posterior,
    );
    assert_same_bits(
        "posterior (km/s)",
        &read_f32(&dir.join("posterior_km_s.bin")),
        &km_s,
    );
    // Not a constant or a copy of the input: a sample with spread on the velocity scale.
    let (lo, hi) = km_s
        .iter()
        .fold((f32::INFINITY, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
    assert!(hi - lo > 0.5, "sample range {lo}..{hi} km/s");
    assert_same_bits("prior", &read_f32(&dir.join("prior.bin")), &prior);
}

#[test]
fn c_geology_has_the_rust_bits() {
    let dir = scratch_dir("geology");
    let args = ["geology".as_ref(), dir.as_os_str()];
    finish_smoke(spawn_smoke(&args), &args);
    let c = read_f32(&dir.join("geology.bin"));
    let mut rust = vec![0.0; HEIGHT * WIDTH];
    geology::generate(&GeologyParams::new(HEIGHT, WIDTH, 25.0), 0, 2016, &mut rust).unwrap();
    assert_same_bits("geology model 2016", &c, &rust);
    // The example's velocity model is this model (pair 2016 of the seed-0 dataset).
    let example = read_npy(&repo().join("examples/edge-2016/velocity.npy"), "(64, 128)");
    assert_same_bits("examples/edge-2016/velocity.npy", &c, &example);
}

/// Shot 0 of the Rust reference pipeline.
struct RustShot {
    clean: Vec<f32>,
    noisy: Vec<f32>,
    image: Vec<f32>,
    rtm: Vec<f32>,
}

/// Shot 0 of training pair 2016 of seed 0, with the core's Rust API as
/// `train/src/dataset.rs` calls it: the clean and noisy shot, its RTM image on the
/// modelling grid, and the image summed (over this one shot), coarsened and muted.
fn rust_shot0(velocity_km_s: &[f32]) -> RustShot {
    let acq = Acquisition::edge();
    let cfg = acq.cfg;
    let (nz, nx) = (acq.model_nz, acq.model_nx);
    let velocity: Vec<f32> = velocity_km_s.iter().map(|v| v * 1000.0).collect();
    let medium_of = |m: &[f32]| {
        let mut fine = vec![0.0; cfg.nz * cfg.nx];
        acq.refine_model(m, &mut fine).unwrap();
        let mut medium = vec![0.0; wave::medium_len(&cfg).unwrap()];
        wave::prepare_medium(&cfg, &fine, &mut medium).unwrap();
        medium
    };
    let receivers: Vec<[f32; 2]> = (0..acq.n_receivers)
        .map(|j| acq.receiver_position(j).unwrap())
        .collect();
    let mut wavelet = vec![0.0; cfg.nt];
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut wavelet).unwrap();
    let filter_len = ((2.0 * cfg.source_delay / cfg.dt).ceil() as usize + 1).min(cfg.nt);
    let mut smooth_scratch = vec![0.0; wave::smooth_scratch_len(nz, nx, 10.0).unwrap()];
    let mut background = vec![0.0; nz * nx];
    wave::gaussian_smooth(
        &velocity,
        nz,
        nx,
        10.0,
        &mut smooth_scratch,
        &mut background,
    )
    .unwrap();
    let source = acq.source_position(0).unwrap();

    let mut state = vec![0.0; wave::state_len(&cfg).unwrap()];
    let mut clean = vec![0.0; cfg.nt * acq.n_receivers];
    wave::forward_shot(
        &cfg,
        &medium_of(&velocity),
        source,
        &receivers,
        &wavelet,
        &mut state,
        &mut clean,
        &Serial,
    )
    .unwrap();
    let mut noisy = clean.clone();
    let mut noise_scratch =
        vec![0.0; wave::colored_noise_scratch_len(cfg.nt, acq.n_receivers, filter_len)];
    wave::add_colored_noise(
        &mut noisy,
        cfg.nt,
        acq.n_receivers,
        &wavelet[..filter_len],
        10.0,
        0,
        (2016 * acq.n_sources) as u64,
        &mut noise_scratch,
    )
    .unwrap();
    let mut image = vec![0.0; cfg.nz * cfg.nx];
    let mut rtm_scratch = vec![0.0; wave::rtm_scratch_len_stored(&cfg).unwrap()];
    wave::rtm_shot(
        &cfg,
        &medium_of(&background),
        source,
        &receivers,
        &wavelet,
        &noisy,
        &mut rtm_scratch,
        &mut image,
        None,
        &Serial,
    )
    .unwrap();
    let mut summed = vec![0.0; image.len()];
    wave::sum_images(&image, &mut summed).unwrap();
    let mut rtm = vec![0.0; nz * nx];
    acq.coarsen(&summed, &mut rtm).unwrap();
    wave::mute_water(&mut rtm, &velocity, nz, nx, 1510.0, 0).unwrap();
    RustShot {
        clean,
        noisy,
        image,
        rtm,
    }
}

/// Writes the example's velocity model for the C program and returns it with the path.
fn example_velocity(dir: &Path) -> (Vec<f32>, PathBuf) {
    let velocity = read_npy(&repo().join("examples/edge-2016/velocity.npy"), "(64, 128)");
    let path = dir.join("velocity.bin");
    write_f32(&path, &velocity);
    (velocity, path)
}

#[test]
fn c_wave_shot_has_the_rust_bits() {
    let dir = scratch_dir("wave");
    let (velocity, velocity_path) = example_velocity(&dir);
    let args = [
        "wave".as_ref(),
        velocity_path.as_os_str(),
        "1".as_ref(),
        dir.as_os_str(),
    ];
    let child = spawn_smoke(&args);
    let rust = rust_shot0(&velocity);
    finish_smoke(child, &args);
    assert_same_bits(
        "clean shot 0",
        &read_f32(&dir.join("shot0_clean.bin")),
        &rust.clean,
    );
    assert_same_bits(
        "noisy shot 0",
        &read_f32(&dir.join("shot0.bin")),
        &rust.noisy,
    );
    assert!(rust.clean != rust.noisy, "noise was added");
    assert_same_bits(
        "RTM image of shot 0",
        &read_f32(&dir.join("image0.bin")),
        &rust.image,
    );
    assert_same_bits(
        "muted model-grid image",
        &read_f32(&dir.join("rtm.bin")),
        &rust.rtm,
    );
    assert!(rust.rtm.iter().any(|&v| v != 0.0), "a non-trivial image");
}

#[test]
#[ignore = "16 shots: ~45 s of CPU in the test profile; run with --release -- --ignored"]
fn c_wave_pipeline_reproduces_the_example_rtm_image() {
    let dir = scratch_dir("wave16");
    let (_, velocity_path) = example_velocity(&dir);
    let shots = Acquisition::edge().n_sources.to_string();
    let args = [
        "wave".as_ref(),
        velocity_path.as_os_str(),
        shots.as_ref(),
        dir.as_os_str(),
    ];
    finish_smoke(spawn_smoke(&args), &args);
    // The dataset builder's image of this pair, committed with the example.
    let example = read_npy(&repo().join("examples/edge-2016/rtm.npy"), "(64, 128)");
    assert_same_bits(
        "examples/edge-2016/rtm.npy",
        &read_f32(&dir.join("rtm.bin")),
        &example,
    );
}

#[test]
fn c_error_paths_report_the_right_statuses() {
    let weights = weights_path();
    let args = ["errors".as_ref(), weights.as_os_str()];
    let stdout = finish_smoke(spawn_smoke(&args), &args);
    assert!(stdout.contains("all error paths behaved"), "{stdout}");
    // The messages the C side saw are the core's texts.
    assert!(
        stdout.contains("invalid argument `lambda`: expected a finite number >= 0"),
        "{stdout}"
    );
    assert!(stdout.contains("buffer `scratch` has length"), "{stdout}");
}

#[test]
fn readme_example_is_minimal_c_and_compiles() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(crate_dir.join("tests/c/minimal.c")).unwrap();
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
    assert!(
        readme.contains(&example),
        "capi/README.md must quote tests/c/minimal.c verbatim"
    );
    let binary = compile("minimal");
    // Wrong usage is reported without touching the library.
    let output = Command::new(&binary).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn header_compiles_as_cpp() {
    let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let dir = scratch_dir("cpp");
    let source = dir.join("header.cpp");
    std::fs::write(
        &source,
        "#include \"powerpost.h\"\n\
         int main() { powerpost_error e = powerpost_error(); (void)e;\n\
         return powerpost_abi_version() == POWERPOST_ABI_VERSION ? 0 : 1; }\n",
    )
    .unwrap();
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    match Command::new(&compiler)
        .args([
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
        ])
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(&source)
        .status()
    {
        Ok(status) => assert!(
            status.success(),
            "include/powerpost.h does not compile as C++"
        ),
        Err(e) => eprintln!("note: no C++ compiler `{compiler}` ({e}); C++ check skipped"),
    }
}
