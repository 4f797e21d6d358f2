//! `powerpost simulate | migrate | residual | bench-wave`: acoustic modelling, RTM and
//! data residuals with the acquisition presets (`paper`, `edge`).
//!
//! Shots are processed in parallel (one shot per task, each shot computed serially, so
//! results do not depend on the thread count); images are summed in shot order.
//!
//! Shots and RTM images are `.npy`, or SEG-Y when the path ends in `.sgy` / `.segy`
//! ([`crate::segy_io`]): shots as shots × receivers traces with the preset's geometry in
//! the trace headers (checked on input), images as one trace per model column.
//!
//! RTM keeps each shot's whole background wavefield in memory (one propagation fewer, see
//! `powerpost_core::wave::born`) when all concurrent shots fit in [`RTM_STORED_BUDGET`]
//! bytes, and checkpoints otherwise; the image bits are the same either way.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Result};
use clap::Args;
use powerpost_core::exec::{Executor, Serial};
use powerpost_core::wave::{self, Acquisition, WaveConfig};
use powerpost_train::dataset::background_model;

use super::RunArgs;
use crate::atomic::write_bytes;
use crate::exec::{resolve_threads, PoolExecutor};
use crate::npy::{read_f32_ranks, write_f32};
use crate::progress::Progress;
use crate::segy_io::{self, SegyFormat};

/// Memory (bytes) that `migrate` may spend on stored background wavefields, all
/// concurrent shots together; above it, shots use checkpointing.
pub const RTM_STORED_BUDGET: usize = 4 << 30;

/// Options shared by the wave commands.
#[derive(Args, Debug, Clone)]
pub struct PresetArgs {
    /// Acquisition preset: `paper` (256×256 at 12.5 m), `edge` (64×128 at 25 m,
    /// modelled on a 2× finer grid) or `tiny` (16×32 at 12.5 m, 4 shots, 0.5 s; for smoke
    /// tests).
    #[arg(long, default_value = "paper")]
    pub preset: String,
    #[command(flatten)]
    pub run: RunArgs,
    /// Time scheme order for forward modelling (2 or 4; RTM always uses 2).
    #[arg(long, default_value_t = 2)]
    pub time_order: usize,
}

/// `powerpost simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Velocity model `.npy` in m/s or km/s, shape [nz, nx] (or [1, nz, nx]) of the preset's model grid.
    #[arg(long)]
    pub model: PathBuf,
    /// Output shots: `.npy` of shape [shots, nt, receivers], or SEG-Y (`.sgy`/`.segy`:
    /// shots × receivers traces, the preset's geometry in the trace headers).
    #[arg(long)]
    pub out: PathBuf,
    /// Sample format of a SEG-Y `--out`: `ieee` (format 5, exact; default) or `ibm`
    /// (format 1, rounded to nearest).
    #[arg(long, value_enum)]
    pub segy_format: Option<SegyFormat>,
    #[command(flatten)]
    pub preset: PresetArgs,
    /// Signal-to-noise ratio of the added coloured noise in dB.
    #[arg(long, default_value_t = 10.0)]
    pub snr_db: f32,
    /// Do not add noise.
    #[arg(long)]
    pub clean: bool,
    /// Noise seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `powerpost migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Shots: `.npy` of shape [shots, nt, receivers], or SEG-Y (`.sgy`/`.segy`) whose
    /// geometry must be the preset's.
    #[arg(long)]
    pub shots: PathBuf,
    /// Migration velocity `.npy` (used as is).
    #[arg(long, conflicts_with = "model")]
    pub background: Option<PathBuf>,
    /// Velocity model `.npy` to smooth into the background (see `--sigma`).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Gaussian smoothing σ in model grid points (with `--model`).
    #[arg(long, default_value_t = 10.0)]
    pub sigma: f32,
    /// Output RTM image: `.npy` of shape [nz, nx] of the model grid, or SEG-Y
    /// (`.sgy`/`.segy`: one trace per column, dz in mm as the sample interval).
    #[arg(long)]
    pub out: PathBuf,
    /// Sample format of a SEG-Y `--out`: `ieee` (default) or `ibm`.
    #[arg(long, value_enum)]
    pub segy_format: Option<SegyFormat>,
    #[command(flatten)]
    pub preset: PresetArgs,
    /// Mute the image where the velocity is at most this (the water layer), m/s.
    #[arg(long, default_value_t = 1510.0)]
    pub water_velocity: f32,
    /// Velocity model `.npy` whose water layer (from the top of each column, velocities
    /// at most `--water-velocity`) sets the mute [default: `--model`, else
    /// `--background`]. A smoothed background is usually faster than water all the way
    /// up, so with `--background` alone nothing is muted, while the training images of
    /// the shipped weights were muted by the true water layer: give a model with the
    /// right seabed here.
    #[arg(long)]
    pub mute_model: Option<PathBuf>,
    /// Divide by the source illumination with this stabilising fraction (e.g. 0.01).
    #[arg(long)]
    pub illumination_eps: Option<f32>,
    /// Apply the Laplacian filter to the image.
    #[arg(long)]
    pub laplacian: bool,
}

/// `powerpost smooth`.
#[derive(Args, Debug)]
pub struct SmoothArgs {
    /// Velocity model `.npy` [nz, nx] or [1, nz, nx] (any unit; the output keeps it).
    #[arg(long)]
    pub model: PathBuf,
    /// Gaussian smoothing σ in grid points (as `migrate --model --sigma` and `dataset
    /// --smooth-sigma`).
    #[arg(long, default_value_t = 10.0)]
    pub sigma: f32,
    /// Output `.npy` [nz, nx]: the background model.
    #[arg(long)]
    pub out: PathBuf,
}

/// `powerpost residual`.
#[derive(Args, Debug)]
pub struct ResidualArgs {
    /// Velocity model `.npy` whose predicted shots are compared.
    #[arg(long)]
    pub model: PathBuf,
    /// Observed shots: `.npy` of shape [shots, nt, receivers], or SEG-Y (`.sgy`/`.segy`)
    /// whose geometry must be the preset's.
    #[arg(long)]
    pub shots: PathBuf,
    #[command(flatten)]
    pub preset: PresetArgs,
    /// Also write the JSON result to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `powerpost bench-wave`: time forward modelling and one RTM shot.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Velocity model `.npy` [nz, nx] or [1, nz, nx], m/s or km/s.
    #[arg(long)]
    pub model: PathBuf,
    /// Grid spacing (m).
    #[arg(long, default_value_t = 12.5)]
    pub spacing: f32,
    /// Time step (s).
    #[arg(long)]
    pub dt: f32,
    /// Time samples.
    #[arg(long)]
    pub nt: usize,
    /// Ricker peak frequency (Hz).
    #[arg(long, default_value_t = 15.0)]
    pub f0: f32,
    /// Ricker delay (s).
    #[arg(long)]
    pub delay: f32,
    /// Absorbing layer width (points).
    #[arg(long, default_value_t = 40)]
    pub pml: usize,
    /// Space order.
    #[arg(long, default_value_t = 8)]
    pub space_order: usize,
    /// Time order.
    #[arg(long, default_value_t = 2)]
    pub time_order: usize,
    /// Source position z, x (m).
    #[arg(long, num_args = 2)]
    pub source: Vec<f32>,
    /// Receiver depth (m); receivers at every grid column.
    #[arg(long)]
    pub receiver_depth: f32,
    /// Thread counts to time.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// Repeats per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Also time one RTM shot.
    #[arg(long)]
    pub rtm: bool,
    /// Write the shot record [nt, receivers] here.
    #[arg(long)]
    pub out_shot: Option<PathBuf>,
}

fn preset(args: &PresetArgs) -> Result<Acquisition> {
    let mut a = Acquisition::by_name(&args.preset).map_err(|e| anyhow::anyhow!("--preset: {e}"))?;
    if args.time_order != 2 && args.time_order != 4 {
        bail!("--time-order: expected 2 or 4, got {}", args.time_order);
    }
    a.cfg.time_order = args.time_order;
    Ok(a)
}

/// Reads a model-grid velocity `.npy` and checks its shape.
///
/// Accepts `[nz, nx]` or a stack of one model `[1, nz, nx]` (what `powerpost geology` and
/// `powerpost sample --n 1` write), in m/s or km/s: a model whose largest value is below
/// 100 cannot be in m/s and is read as km/s (× 1000, exact for the stored f32 values'
/// purposes; a note says so).
fn read_model(path: &Path, a: &Acquisition) -> Result<Vec<f32>> {
    let m = read_f32_ranks(path, &[2, 3])?;
    let shape: Vec<usize> = if m.shape.len() == 3 && m.shape[0] == 1 {
        m.shape[1..].to_vec()
    } else {
        m.shape.clone()
    };
    if shape != [a.model_nz, a.model_nx] {
        bail!(
            "{}: shape {:?}, expected [{}, {}] ([nz, nx]) or [1, {}, {}] for this preset",
            path.display(),
            m.shape,
            a.model_nz,
            a.model_nx,
            a.model_nz,
            a.model_nx
        );
    }
    if let Some(v) = m.data.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
        bail!(
            "{}: velocity {v} is not a finite positive value",
            path.display()
        );
    }
    let mut data = m.data;
    if data.iter().cloned().fold(0.0f32, f32::max) < 100.0 {
        eprintln!(
            "note: {}: velocities below 100, read as km/s",
            path.display()
        );
        for v in &mut data {
            *v *= 1000.0;
        }
    }
    Ok(data)
}

/// Reads shots (`.npy` or SEG-Y) and checks their shape or geometry against the preset.
fn read_shots(path: &Path, a: &Acquisition, preset: &str) -> Result<Vec<f32>> {
    if segy_io::is_segy(path) {
        return segy_io::read_shots(path, a, preset);
    }
    let s = read_f32_ranks(path, &[3])?;
    let want = [a.n_sources, a.cfg.nt, a.n_receivers];
    if s.shape != want {
        bail!(
            "{}: shape {:?}, expected {:?} ([shots, nt, receivers]) for this preset",
            path.display(),
            s.shape,
            want
        );
    }
    if s.data.iter().any(|v| !v.is_finite()) {
        bail!("{}: shots contain non-finite values", path.display());
    }
    Ok(s.data)
}

fn core_err(what: &str) -> impl Fn(powerpost_core::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{what}: {e}")
}

fn receivers(a: &Acquisition) -> Result<Vec<[f32; 2]>> {
    (0..a.n_receivers)
        .map(|j| a.receiver_position(j).map_err(core_err("receivers")))
        .collect()
}

fn wavelet(cfg: &WaveConfig) -> Result<Vec<f32>> {
    let mut w = vec![0.0; cfg.nt];
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut w)
        .map_err(core_err("wavelet"))?;
    Ok(w)
}

/// Forward-models every shot of the preset through `model_m_s` (model grid, m/s; refined
/// to the modelling grid here): shots in parallel on `exec`, each shot serial, so the bits
/// do not depend on the thread count. Shots `[shots, nt, receivers]` in shot order.
///
/// # Errors
/// A model the finite differences refuse (naming the core's check), or the first failing
/// shot by index.
pub fn forward_all_shots(
    a: &Acquisition,
    model_m_s: &[f32],
    exec: &dyn Executor,
    progress: &Progress,
) -> Result<Vec<f32>> {
    let fine = refine(a, model_m_s)?;
    let cfg = a.cfg;
    let mut medium = vec![0.0; wave::medium_len(&cfg).map_err(core_err("config"))?];
    wave::prepare_medium(&cfg, &fine, &mut medium).map_err(core_err("velocity model"))?;
    let recs = receivers(a)?;
    let w = wavelet(&cfg)?;
    let per = cfg.nt * a.n_receivers;
    let shots: Vec<Mutex<std::result::Result<Vec<f32>, powerpost_core::Error>>> = (0..a.n_sources)
        .map(|_| Mutex::new(Ok(Vec::new())))
        .collect();
    exec.for_each(a.n_sources, &|s| {
        *shots[s].lock().unwrap_or_else(|p| p.into_inner()) =
            forward_one_shot(a, &medium, &recs, &w, s);
        progress.inc(1);
    });
    progress.finish();
    let mut out = Vec::with_capacity(per * a.n_sources);
    for (s, m) in shots.into_iter().enumerate() {
        out.extend(
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .map_err(|e| anyhow::anyhow!("shot {s}: {e}"))?,
        );
    }
    Ok(out)
}

/// Forward-models shot `s` serially on a prepared `medium`: its `[nt, receivers]` traces.
fn forward_one_shot(
    a: &Acquisition,
    medium: &[f32],
    receivers: &[[f32; 2]],
    wavelet: &[f32],
    s: usize,
) -> std::result::Result<Vec<f32>, powerpost_core::Error> {
    let cfg = a.cfg;
    let mut state = vec![0.0; wave::state_len(&cfg)?];
    let mut shot = vec![0.0; cfg.nt * a.n_receivers];
    wave::forward_shot(
        &cfg,
        medium,
        a.source_position(s)?,
        receivers,
        wavelet,
        &mut state,
        &mut shot,
        &Serial,
    )?;
    Ok(shot)
}

/// Adds band-limited noise at `snr_db` to every shot (the wavelet's first
/// `noise_filter_len` samples as the colouring filter; shot `s` draws stream `s` of
/// `seed`), as `simulate` does.
///
/// # Errors
/// Errors of the core (e.g. a shot of zero energy), naming the shot.
pub fn add_noise(a: &Acquisition, shots: &mut [f32], snr_db: f32, seed: u64) -> Result<()> {
    let cfg = a.cfg;
    let filter_len = cfg.noise_filter_len();
    let w = wavelet(&cfg)?;
    let filter = &w[..filter_len];
    let per = cfg.nt * a.n_receivers;
    let mut scratch = vec![0.0; wave::colored_noise_scratch_len(cfg.nt, a.n_receivers, filter_len)];
    for (s, shot) in shots.chunks_exact_mut(per).enumerate() {
        wave::add_colored_noise(
            shot,
            cfg.nt,
            a.n_receivers,
            filter,
            snr_db,
            seed,
            s as u64,
            &mut scratch,
        )
        .map_err(core_err(&format!("noise for shot {s}")))?;
    }
    Ok(())
}

fn refine(a: &Acquisition, model: &[f32]) -> Result<Vec<f32>> {
    let mut fine = vec![0.0; a.cfg.nz * a.cfg.nx];
    a.refine_model(model, &mut fine)
        .map_err(core_err("model"))?;
    Ok(fine)
}

/// [`forward_all_shots`] on a pool of the `--threads` workers, with a progress bar.
fn forward_with(
    a: &Acquisition,
    model_m_s: &[f32],
    run: &RunArgs,
    label: &str,
) -> Result<Vec<f32>> {
    let pool = PoolExecutor::new(resolve_threads(run.threads))?;
    let progress = Progress::new(a.n_sources as u64, label, run.quiet);
    forward_all_shots(a, model_m_s, &pool, &progress)
}

/// Runs `powerpost simulate`.
pub fn simulate(args: SimulateArgs) -> Result<()> {
    let a = preset(&args.preset)?;
    let segy_format = segy_io::output_format(&args.out, args.segy_format)?;
    let model = read_model(&args.model, &a)?;
    let mut shots = forward_with(&a, &model, &args.preset.run, "simulate")?;
    if !args.clean {
        add_noise(&a, &mut shots, args.snr_db, args.seed)?;
    }
    if segy_io::is_segy(&args.out) {
        let cfg = a.cfg;
        let noise = if args.clean {
            "NONE (CLEAN)".to_string()
        } else {
            format!("{} DB COLOURED, SEED {}", args.snr_db, args.seed)
        };
        let description = [
            format!(
                "POWERPOST {}: SYNTHETIC SHOT GATHERS, 2-D ACOUSTIC FINITE DIFFERENCES",
                env!("CARGO_PKG_VERSION")
            ),
            format!(
                "PRESET {}: MODEL {} X {} AT {} M, MODELLED ON {} X {} AT {} M",
                args.preset.preset, a.model_nz, a.model_nx, a.model_spacing, cfg.nz, cfg.nx, cfg.dz
            ),
            format!(
                "RICKER {} HZ, DELAY {} S; SPACE ORDER {}, TIME ORDER {}",
                cfg.peak_frequency, cfg.source_delay, cfg.space_order, cfg.time_order
            ),
            format!("NOISE: {noise}"),
            format!("MODEL: {}", file_name(&args.model)),
        ]
        .map(|line| segy_io::header_text(&line, 76));
        return segy_io::write_shots(&args.out, &a, &shots, segy_format, &description);
    }
    write_f32(&args.out, &[a.n_sources, a.cfg.nt, a.n_receivers], &shots)
}

/// The file name of a path, for textual headers.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs `powerpost smooth`: the background model of a velocity model, the input of
/// `migrate --background` and of `sample --background` for weights conditioned on it.
/// Smoothing a km/s model gives the bits `evaluate` and the trainer use for a dataset's
/// backgrounds.
///
/// # Errors
/// An unreadable file, a shape that is not one 2-D model, values that are not finite
/// positive velocities, a σ outside 0–1000 grid points.
pub fn smooth(args: SmoothArgs) -> Result<()> {
    let (nz, nx, model) = super::posterior_io::read_velocity_model(&args.model, "--model")?;
    let background = background_model(&model, nz, nx, args.sigma)?;
    write_f32(&args.out, &[nz, nx], &background)
}

/// Runs `powerpost migrate`.
pub fn migrate(args: MigrateArgs) -> Result<()> {
    let mut a = preset(&args.preset)?;
    a.cfg.time_order = 2;
    let segy_format = segy_io::output_format(&args.out, args.segy_format)?;
    let shots = read_shots(&args.shots, &a, &args.preset.preset)?;
    let (background, mute_velocity, mute_source) = match (&args.background, &args.model) {
        (Some(b), None) => {
            let bg = read_model(b, &a)?;
            (bg.clone(), bg, b)
        }
        (None, Some(m)) => {
            let model = read_model(m, &a)?;
            let bg = background_model(&model, a.model_nz, a.model_nx, args.sigma)?;
            (bg, model, m)
        }
        _ => bail!("give exactly one of --background or --model"),
    };
    let (mute_velocity, mute_source) = match &args.mute_model {
        Some(m) => (read_model(m, &a)?, m),
        None => (mute_velocity, mute_source),
    };
    // Nothing to mute when no column starts in water (every value of the top row is
    // faster): say so, since the training images were muted.
    if mute_velocity[..a.model_nx]
        .iter()
        .all(|&v| v > args.water_velocity)
    {
        eprintln!(
            "warning: {}: no water at the surface (every top-row velocity exceeds --water-velocity {} m/s), so the image is not muted; the training images of the shipped weights were muted by the true water layer (give --mute-model with the right seabed)",
            mute_source.display(),
            args.water_velocity
        );
    }
    let fine_bg = refine(&a, &background)?;
    let cfg = a.cfg;
    let mut medium = vec![0.0; wave::medium_len(&cfg).map_err(core_err("config"))?];
    wave::prepare_medium(&cfg, &fine_bg, &mut medium).map_err(core_err("background model"))?;
    let recs = receivers(&a)?;
    let w = wavelet(&cfg)?;
    let per = cfg.nt * a.n_receivers;
    let np = cfg.nz * cfg.nx;
    let want_illum = args.illumination_eps.is_some();
    let images: Vec<Mutex<(Vec<f32>, Vec<f32>)>> = (0..a.n_sources)
        .map(|_| Mutex::new((Vec::new(), Vec::new())))
        .collect();
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let threads = resolve_threads(args.preset.run.threads);
    let stored_len = wave::rtm_scratch_len_stored(&cfg).map_err(core_err("config"))?;
    let concurrent = threads.min(a.n_sources);
    let scratch_len = if stored_len.saturating_mul(4 * concurrent) <= RTM_STORED_BUDGET {
        stored_len
    } else {
        wave::rtm_scratch_len(&cfg).map_err(core_err("config"))?
    };
    let progress = Progress::new(a.n_sources as u64, "migrate", args.preset.run.quiet);
    let pool = PoolExecutor::new(threads)?;
    pool.for_each(a.n_sources, &|s| {
        let run = || -> std::result::Result<(Vec<f32>, Vec<f32>), powerpost_core::Error> {
            let mut scratch = vec![0.0; scratch_len];
            let mut image = vec![0.0; np];
            let mut illum = if want_illum {
                vec![0.0; np]
            } else {
                Vec::new()
            };
            let il = if want_illum {
                Some(&mut illum[..])
            } else {
                None
            };
            wave::rtm_shot(
                &cfg,
                &medium,
                a.source_position(s)?,
                &recs,
                &w,
                &shots[s * per..(s + 1) * per],
                &mut scratch,
                &mut image,
                il,
                &Serial,
            )?;
            Ok((image, illum))
        };
        match run() {
            Ok(v) => *images[s].lock().unwrap_or_else(|p| p.into_inner()) = v,
            Err(e) => errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("shot {s}: {e}")),
        }
        progress.inc(1);
    });
    progress.finish();
    if let Some(e) = errors.into_inner().unwrap_or_default().first() {
        bail!("{e}");
    }
    let parts: Vec<(Vec<f32>, Vec<f32>)> = images
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_default())
        .collect();
    let all: Vec<f32> = parts.iter().flat_map(|p| p.0.iter().copied()).collect();
    let mut image = vec![0.0; np];
    wave::sum_images(&all, &mut image).map_err(core_err("image sum"))?;
    if let Some(eps) = args.illumination_eps {
        let all: Vec<f32> = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
        let mut illum = vec![0.0; np];
        wave::sum_images(&all, &mut illum).map_err(core_err("illumination sum"))?;
        wave::compensate_illumination(&mut image, &illum, eps)
            .map_err(core_err("--illumination-eps"))?;
    }
    let mut coarse = vec![0.0; a.model_nz * a.model_nx];
    a.coarsen(&image, &mut coarse).map_err(core_err("image"))?;
    if args.laplacian {
        let mut f = vec![0.0; coarse.len()];
        wave::laplacian_filter(&coarse, a.model_nz, a.model_nx, &mut f)
            .map_err(core_err("laplacian"))?;
        coarse = f;
    }
    wave::mute_water(
        &mut coarse,
        &mute_velocity,
        a.model_nz,
        a.model_nx,
        args.water_velocity,
        0,
    )
    .map_err(core_err("mute"))?;
    if segy_io::is_segy(&args.out) {
        let background = match (&args.background, &args.model) {
            (Some(b), _) => format!("BACKGROUND {}", file_name(b)),
            (None, Some(m)) => format!("{} SMOOTHED, SIGMA {}", file_name(m), args.sigma),
            _ => String::new(),
        };
        let description = [
            format!(
                "POWERPOST {}: REVERSE-TIME MIGRATION IMAGE IN DEPTH, PRESET {}",
                env!("CARGO_PKG_VERSION"),
                args.preset.preset
            ),
            format!("SHOTS: {}", file_name(&args.shots)),
            format!("VELOCITY: {background}"),
            format!(
                "WATER MUTE AT {} M/S; LAPLACIAN {}; ILLUMINATION EPS {}",
                args.water_velocity,
                if args.laplacian { "YES" } else { "NO" },
                args.illumination_eps
                    .map_or("NONE".to_string(), |e| e.to_string())
            ),
        ]
        .map(|line| segy_io::header_text(&line, 76));
        return segy_io::write_image(&args.out, &a, &coarse, segy_format, &description);
    }
    write_f32(&args.out, &[a.model_nz, a.model_nx], &coarse)
}

/// Runs `powerpost residual`.
pub fn residual(args: ResidualArgs) -> Result<()> {
    let a = preset(&args.preset)?;
    let observed = read_shots(&args.shots, &a, &args.preset.preset)?;
    let model = read_model(&args.model, &a)?;
    let predicted = forward_with(&a, &model, &args.preset.run, "residual")?;
    let r = wave::relative_residual(&predicted, &observed)
        .map_err(core_err(&args.shots.display().to_string()))?;
    let json = format!(
        "{{\"relative_residual\": {r:.9e}, \"preset\": \"{}\", \"shots\": {}, \"nt\": {}, \"receivers\": {}}}",
        args.preset.preset, a.n_sources, a.cfg.nt, a.n_receivers
    );
    println!("{json}");
    if let Some(out) = &args.out {
        write_bytes(out, format!("{json}\n").as_bytes())?;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU seconds used by this process so far, all threads (Linux `/proc/self/stat`, 10 ms
/// ticks; `None` elsewhere). The machine may be shared, so the bench reports it next to
/// the wall-clock time.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Median wall seconds and mean CPU seconds of `repeats` runs of `f`.
fn time_runs(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<(f64, Option<f64>)> {
    let mut wall = Vec::new();
    let cpu0 = process_cpu_seconds();
    for _ in 0..repeats.max(1) {
        let t0 = std::time::Instant::now();
        f()?;
        wall.push(t0.elapsed().as_secs_f64());
    }
    let cpu = match (cpu0, process_cpu_seconds()) {
        (Some(a), Some(b)) => Some((b - a) / repeats.max(1) as f64),
        _ => None,
    };
    Ok((median(wall), cpu))
}

fn json_opt(v: Option<f64>) -> String {
    v.map_or("null".to_string(), |v| format!("{v:.6}"))
}

/// Runs `powerpost bench-wave`.
pub fn bench(args: BenchArgs) -> Result<()> {
    let m = read_f32_ranks(&args.model, &[2])?;
    let (nz, nx) = (m.shape[0], m.shape[1]);
    let mut cfg = WaveConfig::new(nz, nx, args.spacing, args.dt, args.nt, args.f0);
    cfg.source_delay = args.delay;
    cfg.pml_width = args.pml;
    cfg.space_order = args.space_order;
    cfg.time_order = args.time_order;
    cfg.min_points_per_wavelength = 0.0;
    let mut medium = vec![0.0; wave::medium_len(&cfg).map_err(core_err("config"))?];
    wave::prepare_medium(&cfg, &m.data, &mut medium)
        .map_err(core_err(&args.model.display().to_string()))?;
    if args.source.len() != 2 {
        bail!("--source: expected z and x in metres");
    }
    let src = [args.source[0], args.source[1]];
    let recs: Vec<[f32; 2]> = (0..nx)
        .map(|j| [args.receiver_depth, j as f32 * args.spacing])
        .collect();
    let w = wavelet(&cfg)?;
    let g = cfg.grid().map_err(core_err("config"))?;
    let points = (g.nzp * g.nxp) as f64 * (cfg.nt - 1) as f64;
    let mut state = vec![0.0; wave::state_len(&cfg).map_err(core_err("config"))?];
    let mut shot = vec![0.0; cfg.nt * nx];
    let mut results = Vec::new();
    for &t in &args.threads {
        let pool = PoolExecutor::new(t)?;
        let (fwd, fwd_cpu) = time_runs(args.repeats, || {
            wave::forward_shot(&cfg, &medium, src, &recs, &w, &mut state, &mut shot, &pool)
                .map_err(core_err("forward"))
        })?;
        let mut rtm = [(None, None), (None, None)];
        if args.rtm && cfg.time_order == 2 {
            let lens = [
                wave::rtm_scratch_len_stored(&cfg).map_err(core_err("config"))?,
                wave::rtm_scratch_len(&cfg).map_err(core_err("config"))?,
            ];
            for (slot, len) in rtm.iter_mut().zip(lens) {
                let mut scratch = vec![0.0; len];
                let mut image = vec![0.0; nz * nx];
                let (s, c) = time_runs(args.repeats, || {
                    wave::rtm_shot(
                        &cfg,
                        &medium,
                        src,
                        &recs,
                        &w,
                        &shot,
                        &mut scratch,
                        &mut image,
                        None,
                        &pool,
                    )
                    .map_err(core_err("rtm"))
                })?;
                *slot = (Some(s), c);
            }
        }
        results.push(format!(
            "{{\"threads\": {t}, \"forward_s\": {fwd:.6}, \"forward_cpu_s\": {}, \"gpts\": {:.4}, \"gpts_per_cpu_s\": {}, \
             \"rtm_s\": {}, \"rtm_cpu_s\": {}, \"rtm_checkpoint_s\": {}, \"rtm_checkpoint_cpu_s\": {}, \"grid\": [{}, {}], \"steps\": {}}}",
            json_opt(fwd_cpu),
            points / fwd * 1e-9,
            json_opt(fwd_cpu.map(|c| points / c * 1e-9)),
            json_opt(rtm[0].0),
            json_opt(rtm[0].1),
            json_opt(rtm[1].0),
            json_opt(rtm[1].1),
            g.nzp,
            g.nxp,
            cfg.nt - 1
        ));
    }
    if let Some(p) = &args.out_shot {
        write_f32(p, &[cfg.nt, nx], &shot)?;
    }
    println!("[{}]", results.join(", "));
    Ok(())
}
