//! Training pairs (velocity x, RTM image y): the builder and the reader.
//!
//! ## Pairs
//! Pair `i` of seed `s`: the velocity model is `geology::generate(64 × 128 at 25 m, s, i)`
//! (km/s) — or model `i` of a user's `.npy` stack — and its RTM image comes from the `edge`
//! acquisition: 16 shots forward-modelled in the true model, coloured noise at `snr_db`
//! (10 dB) added to each shot (`add_colored_noise(seed = s, shot index = 16·i + shot)`),
//! migrated shot by shot in the Gaussian-smoothed (σ = 10 grid points) true model (stored
//! background wavefield: one forward and one adjoint propagation per shot), the
//! shot images summed in shot order, taken back to the model grid and muted in the water
//! (velocity ≤ 1510 m/s). Every pair is a pure function of `(seed, i)`.
//!
//! ## Background errors (`background_error` e > 0)
//! A real migration velocity model is never the smoothed true model. With e > 0 each
//! pair is migrated in, and its network is conditioned on, the smoothed model times a
//! smooth error field ([`background_error_field`]): below the seabed of each column (the
//! rows under the water layer, velocity ≤ 1510 m/s, found from the top as the mute does)
//! `f = 1 + a·τ·(0.5·u₁ + 0.3·u₂·(2ζ − 1) + 0.2·u₃·cos(2π·k·x/width + φ))`, with `a = e·u₀`
//! the pair's error size (uniform in 0..e, so near-exact backgrounds are drawn too),
//! `u₁, u₂, u₃` uniform in −1..1 (a bulk shift, a depth trend, a lateral swing of `k` =
//! 1 or 2 cycles at phase φ), `ζ` the depth below the seabed as a fraction of the rows
//! there, and `τ` a ramp over the first 4 rows below the seabed; `f = 1` in the water
//! (its velocity is known). So `|f − 1| ≤ e`. The draws are uniform numbers 0..5 of the
//! Philox stream `(seed, 2⁶² + i)` (the shot noise uses streams `16·i + shot`); the cosine
//! is `detmath::cos`, every product in a fixed order, so the field is the same on any
//! machine. With e = 0 (the default) pairs are exactly as before, and the manifest has no
//! `background_error` field.
//!
//! ## Files
//! `x_KKKK.npy` / `y_KKKK.npy` (`[count, 64, 128]` f32: velocity in km/s, raw RTM image) per
//! shard of `shard_size` pairs, `shard_KKKK.json` (written last: its presence marks the
//! shard complete; it holds the SHA-256 of both arrays), and `manifest.json` once every
//! shard is there: seed, preset, counts, digests, held-out split (the last pairs) and
//! the normalisation constants `velocity_center` (3.0), `velocity_half_range` (1.5) and
//! `rtm_scale` = 1 / standard deviation of the RTM values of shard 0.
//! Normalised data: `x = (v − center) / half_range`, `y = rtm · rtm_scale`.
//!
//! A rerun skips shards whose digests verify; `--shard k/n` builds shards `j ≡ k (mod n)`.
//! `build.json`, written when a build starts, records what the pairs are a function of
//! (seed, prior, counts, shard size, noise, smoothing, background error): a rerun with
//! other options is refused, naming the option, instead of mixing two recipes.

use crate::files::{remove_stale_temporaries, sha256_hex, write_atomic};
use crate::npy::{self, Dtypes};
use anyhow::{bail, Context, Result};
use powerpost_core::detmath;
use powerpost_core::exec::Serial;
use powerpost_core::geology::{self, GeologyParams};
use powerpost_core::normalize::Normalization;
use powerpost_core::rng::NoiseStream;
use powerpost_core::wave::{self, Acquisition};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Velocity normalisation centre (km/s).
pub const VELOCITY_CENTER: f32 = 3.0;
/// Velocity normalisation half-range (km/s).
pub const VELOCITY_HALF_RANGE: f32 = 1.5;
/// Water-mute threshold (m/s).
pub const WATER_VELOCITY: f32 = 1510.0;
/// Largest accepted `background_error` (a relative error of 50 %).
pub const MAX_BACKGROUND_ERROR: f32 = 0.5;
/// Philox stream offset of the background-error draws (pair `i` uses `2⁶² + i`).
const BACKGROUND_ERROR_STREAM: u64 = 1 << 62;
/// Rows below the seabed over which the background error ramps in.
const BACKGROUND_ERROR_RAMP_ROWS: f32 = 4.0;

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

/// Whether `e` is an accepted `background_error`: 0 to [`MAX_BACKGROUND_ERROR`] (not NaN).
fn background_error_is_valid(e: f32) -> bool {
    (0.0..=MAX_BACKGROUND_ERROR).contains(&e)
}

/// The manifest's `format` tag.
pub const MANIFEST_FORMAT: &str = "powerpost-dataset-v1";

/// Options of [`build`].
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Number of pairs.
    pub pairs: usize,
    /// Seed of the geology and the noise.
    pub seed: u64,
    /// Pairs per shard.
    pub shard_size: usize,
    /// Held-out pairs (the last ones); default 2 % (at least 1).
    pub held_out: Option<usize>,
    /// This machine's part: shards `j` with `j % of == index`.
    pub part: (usize, usize),
    /// A user's velocity models `[N, 64, 128]` (km/s, or m/s if above 100) instead of the
    /// geology generator.
    pub models: Option<PathBuf>,
    /// Signal-to-noise ratio of the shot noise (dB).
    pub snr_db: f32,
    /// Background smoothing σ (model grid points).
    pub smooth_sigma: f32,
    /// Largest relative error of the migration background (0: the smoothed true model;
    /// see the module docs).
    pub background_error: f32,
    /// Worker threads (pairs run in parallel, each pair serially).
    pub threads: usize,
}

/// Record of one complete shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Shard number.
    pub shard: usize,
    /// First pair index.
    pub first: usize,
    /// Number of pairs.
    pub count: usize,
    /// Velocity file name.
    pub x_file: String,
    /// RTM file name.
    pub y_file: String,
    /// SHA-256 of the velocity file.
    pub x_sha256: String,
    /// SHA-256 of the RTM file.
    pub y_sha256: String,
}

/// The dataset manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format tag.
    pub format: String,
    /// Seed.
    pub seed: u64,
    /// Acquisition preset.
    pub preset: String,
    /// Prior source: `"geology"` or the user's models file name.
    pub prior: String,
    /// Image rows.
    pub height: usize,
    /// Image columns.
    pub width: usize,
    /// Total pairs.
    pub pairs: usize,
    /// Training pairs (the first ones).
    pub train_pairs: usize,
    /// Held-out pairs (the last ones).
    pub held_out_pairs: usize,
    /// Shot noise SNR (dB).
    pub snr_db: f32,
    /// Background smoothing σ (grid points).
    pub smooth_sigma: f32,
    /// Largest relative error of the migration backgrounds (absent: 0, the smoothed true
    /// models; see the module docs).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub background_error: f32,
    /// Velocity normalisation centre (km/s).
    pub velocity_center: f32,
    /// Velocity normalisation half-range (km/s).
    pub velocity_half_range: f32,
    /// RTM normalisation factor.
    pub rtm_scale: f32,
    /// Shards.
    pub shards: Vec<ShardRecord>,
}

impl Manifest {
    /// Checks what readers rely on: the format tag, positive image sides, a pair count
    /// that fits in memory, `train_pairs + held_out_pairs = pairs`, shards numbered
    /// `0, 1, …` that tile the pairs in order (each at least one pair) with plain file
    /// names (no directories), and usable normalisation constants. `what` names the
    /// manifest in errors.
    ///
    /// # Errors
    /// The first field that fails, named.
    pub fn validate(&self, what: &str) -> Result<()> {
        let field = |name: &str, value: &dyn std::fmt::Display, expected: &str| {
            anyhow::anyhow!("{what}: field `{name}` is {value}, expected {expected}")
        };
        if self.format != MANIFEST_FORMAT {
            return Err(field("format", &self.format, MANIFEST_FORMAT));
        }
        for (name, side) in [("height", self.height), ("width", self.width)] {
            if side == 0 {
                return Err(field(name, &side, "at least 1"));
            }
        }
        let values = self
            .pairs
            .checked_mul(self.height)
            .and_then(|v| v.checked_mul(self.width))
            .filter(|&v| v <= isize::MAX as usize / 4);
        if values.is_none() {
            return Err(field(
                "pairs",
                &self.pairs,
                "a count whose images fit in memory",
            ));
        }
        if self.train_pairs.checked_add(self.held_out_pairs) != Some(self.pairs) {
            return Err(field(
                "train_pairs",
                &self.train_pairs,
                &format!(
                    "pairs − held_out_pairs = {} − {}",
                    self.pairs, self.held_out_pairs
                ),
            ));
        }
        let mut next = 0usize;
        for (k, r) in self.shards.iter().enumerate() {
            let name = |f: &str| format!("shards[{k}].{f}");
            if r.shard != k {
                return Err(field(&name("shard"), &r.shard, &k.to_string()));
            }
            if r.first != next {
                return Err(field(&name("first"), &r.first, &next.to_string()));
            }
            if r.count == 0 || r.count > self.pairs - next {
                return Err(field(
                    &name("count"),
                    &r.count,
                    &format!("1 to {} (the pairs left)", self.pairs - next),
                ));
            }
            next += r.count;
            for (f, file) in [("x_file", &r.x_file), ("y_file", &r.y_file)] {
                let plain = !file.is_empty()
                    && file != "."
                    && file != ".."
                    && !file.contains(['/', '\\', '\0']);
                if !plain {
                    return Err(field(
                        &name(f),
                        &format!("`{file}`"),
                        "a file name in the dataset directory",
                    ));
                }
            }
        }
        if next != self.pairs {
            return Err(field(
                "pairs",
                &self.pairs,
                &format!("{next} (the pairs the shards hold)"),
            ));
        }
        if wave::smooth_scratch_len(1, 1, self.smooth_sigma).is_err() {
            return Err(field(
                "smooth_sigma",
                &self.smooth_sigma,
                "a background smoothing of 0 to 1000 grid points",
            ));
        }
        if !background_error_is_valid(self.background_error) {
            return Err(field(
                "background_error",
                &self.background_error,
                &format!("a fraction from 0 to {MAX_BACKGROUND_ERROR}"),
            ));
        }
        // The range the core's normalisation accepts (it maps the background models).
        let half_range_ok = Normalization {
            velocity_half_range_km_s: self.velocity_half_range,
            ..Normalization::default()
        }
        .validate()
        .is_ok();
        if !half_range_ok {
            return Err(field(
                "velocity_half_range",
                &self.velocity_half_range,
                "a finite number > 0 (2^-126 to 1e30)",
            ));
        }
        if !self.velocity_center.is_finite() {
            return Err(field(
                "velocity_center",
                &self.velocity_center,
                "a finite number",
            ));
        }
        if !(self.rtm_scale.is_finite() && self.rtm_scale != 0.0) {
            return Err(field("rtm_scale", &self.rtm_scale, "a finite number ≠ 0"));
        }
        Ok(())
    }
}

/// What [`build`] did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// Shards computed now.
    pub built: usize,
    /// Shards found complete and verified.
    pub skipped: usize,
    /// Pairs computed now.
    pub pairs_built: usize,
    /// Wall seconds spent computing pairs.
    pub seconds: f64,
    /// Whether the manifest was written (all shards present).
    pub manifest_written: bool,
}

fn core_err(what: String) -> impl Fn(powerpost_core::Error) -> anyhow::Error {
    move |e| anyhow::anyhow!("{what}: {e}")
}

/// The RTM image (model grid, raw units) of velocity model `velocity_kms` as pair `index`,
/// migrated in its smoothed model with `background_error` (module docs).
///
/// # Errors
/// Physics errors (e.g. an unstable velocity), naming the pair.
pub fn rtm_image(
    acq: &Acquisition,
    velocity_kms: &[f32],
    seed: u64,
    index: usize,
    snr_db: f32,
    smooth_sigma: f32,
    background_error: f32,
) -> Result<Vec<f32>> {
    let what = || format!("pair {index}");
    let (nz, nx) = (acq.model_nz, acq.model_nx);
    let cfg = acq.cfg;
    let velocity: Vec<f32> = velocity_kms.iter().map(|v| v * 1000.0).collect();
    let refine = |m: &[f32]| -> Result<Vec<f32>> {
        let mut fine = vec![0.0; cfg.nz * cfg.nx];
        acq.refine_model(m, &mut fine).map_err(core_err(what()))?;
        Ok(fine)
    };
    let medium_of = |m: &[f32]| -> Result<Vec<f32>> {
        let mut medium = vec![0.0; wave::medium_len(&cfg).map_err(core_err(what()))?];
        wave::prepare_medium(&cfg, &refine(m)?, &mut medium).map_err(core_err(what()))?;
        Ok(medium)
    };
    let receivers: Vec<[f32; 2]> = (0..acq.n_receivers)
        .map(|j| acq.receiver_position(j))
        .collect::<Result<_, _>>()
        .map_err(core_err(what()))?;
    let mut wavelet = vec![0.0; cfg.nt];
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut wavelet)
        .map_err(core_err(what()))?;
    let filter_len = cfg.noise_filter_len();
    let true_medium = medium_of(&velocity)?;
    let mut smooth_scratch =
        vec![0.0; wave::smooth_scratch_len(nz, nx, smooth_sigma).map_err(core_err(what()))?];
    let mut background = vec![0.0; nz * nx];
    wave::gaussian_smooth(
        &velocity,
        nz,
        nx,
        smooth_sigma,
        &mut smooth_scratch,
        &mut background,
    )
    .map_err(core_err(what()))?;
    if background_error > 0.0 {
        let field = background_error_field(
            &velocity,
            nz,
            nx,
            WATER_VELOCITY,
            background_error,
            seed,
            index,
        );
        for (b, f) in background.iter_mut().zip(&field) {
            *b *= f;
        }
    }
    let bg_medium = medium_of(&background)?;
    let per = cfg.nt * acq.n_receivers;
    let np = cfg.nz * cfg.nx;
    let mut state = vec![0.0; wave::state_len(&cfg).map_err(core_err(what()))?];
    // The stored background wavefield (~190 MB per worker) saves one propagation per shot;
    // the image is bit-identical to the checkpointed scheme's.
    let mut rtm_scratch = vec![0.0; wave::rtm_scratch_len_stored(&cfg).map_err(core_err(what()))?];
    let mut noise_scratch =
        vec![0.0; wave::colored_noise_scratch_len(cfg.nt, acq.n_receivers, filter_len)];
    let mut images = vec![0.0; acq.n_sources * np];
    let mut shot = vec![0.0; per];
    for s in 0..acq.n_sources {
        let src = acq.source_position(s).map_err(core_err(what()))?;
        wave::forward_shot(
            &cfg,
            &true_medium,
            src,
            &receivers,
            &wavelet,
            &mut state,
            &mut shot,
            &Serial,
        )
        .map_err(core_err(what()))?;
        wave::add_colored_noise(
            &mut shot,
            cfg.nt,
            acq.n_receivers,
            &wavelet[..filter_len],
            snr_db,
            seed,
            (index * acq.n_sources + s) as u64,
            &mut noise_scratch,
        )
        .map_err(core_err(what()))?;
        wave::rtm_shot(
            &cfg,
            &bg_medium,
            src,
            &receivers,
            &wavelet,
            &shot,
            &mut rtm_scratch,
            &mut images[s * np..(s + 1) * np],
            None,
            &Serial,
        )
        .map_err(core_err(what()))?;
    }
    let mut image = vec![0.0; np];
    wave::sum_images(&images, &mut image).map_err(core_err(what()))?;
    let mut coarse = vec![0.0; nz * nx];
    acq.coarsen(&image, &mut coarse).map_err(core_err(what()))?;
    wave::mute_water(&mut coarse, &velocity, nz, nx, WATER_VELOCITY, 0)
        .map_err(core_err(what()))?;
    Ok(coarse)
}

fn shard_names(k: usize) -> (String, String, String) {
    (
        format!("x_{k:04}.npy"),
        format!("y_{k:04}.npy"),
        format!("shard_{k:04}.json"),
    )
}

/// Reads and verifies a complete shard's record, if there is one.
fn verified_shard(dir: &Path, k: usize) -> Option<ShardRecord> {
    let (_, _, rec) = shard_names(k);
    let record: ShardRecord = serde_json::from_slice(&std::fs::read(dir.join(rec)).ok()?).ok()?;
    let ok = |f: &str, digest: &str| {
        std::fs::read(dir.join(f))
            .map(|b| sha256_hex(&b) == digest)
            .unwrap_or(false)
    };
    (ok(&record.x_file, &record.x_sha256) && ok(&record.y_file, &record.y_sha256)).then_some(record)
}

/// Builds (or continues) a dataset; see the module docs.
///
/// # Errors
/// Bad options, an unreadable models file, physics or I/O failures.
pub fn build(opts: &BuildOptions, progress: &(dyn Fn(usize) + Sync)) -> Result<BuildReport> {
    let acq = Acquisition::edge();
    build_with(opts, progress, &|v, i| {
        rtm_image(
            &acq,
            v,
            opts.seed,
            i,
            opts.snr_db,
            opts.smooth_sigma,
            opts.background_error,
        )
    })
}

/// Per-pair image function: `(velocity in km/s, pair index) → RTM image`.
pub type PairImage<'a> = dyn Fn(&[f32], usize) -> Result<Vec<f32>> + Sync + 'a;

/// [`build`] with another image function (the shard, resume and manifest logic alone;
/// tests use a cheap stand-in for the physics).
///
/// # Errors
/// As [`build`].
pub fn build_with(
    opts: &BuildOptions,
    progress: &(dyn Fn(usize) + Sync),
    image: &PairImage<'_>,
) -> Result<BuildReport> {
    let acq = Acquisition::edge();
    let (nz, nx) = (acq.model_nz, acq.model_nx);
    let (part, parts) = opts.part;
    if parts == 0 || part >= parts {
        bail!("shard part {part} of {parts}: expected a part index below the part count");
    }
    if opts.shard_size == 0 {
        bail!("--shard-size: expected at least 1");
    }
    if !background_error_is_valid(opts.background_error) {
        bail!(
            "--background-error {}: expected a fraction from 0 to {MAX_BACKGROUND_ERROR}",
            opts.background_error
        );
    }
    let models = match &opts.models {
        Some(path) => {
            let npy::Array { shape, data } = npy::read(path, Dtypes::F32OrF64, &[])?;
            if shape.len() != 3 || shape[1] != nz || shape[2] != nx {
                bail!("{}: shape {shape:?}, expected [N, {nz}, {nx}] (velocity models on the edge grid)", path.display());
            }
            if let Some(v) = data.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
                bail!(
                    "{}: velocity {v} is not a finite positive value",
                    path.display()
                );
            }
            let to_kms = if data.iter().cloned().fold(0.0f32, f32::max) > 100.0 {
                1e-3
            } else {
                1.0
            };
            Some((
                shape[0],
                data.iter().map(|v| v * to_kms).collect::<Vec<f32>>(),
            ))
        }
        None => None,
    };
    let pairs = match &models {
        Some((n, _)) if opts.pairs == 0 || opts.pairs > *n => *n,
        _ => opts.pairs,
    };
    if pairs < 2 {
        bail!("--pairs: expected at least 2 pairs");
    }
    let held_out = opts.held_out.unwrap_or((pairs / 50).max(1));
    if held_out >= pairs {
        bail!("--held-out: {held_out} leaves no training pairs out of {pairs}");
    }
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("{}: cannot create directory", opts.out.display()))?;
    let recipe = BuildRecipe {
        seed: opts.seed,
        prior: prior_name(opts),
        pairs,
        held_out,
        shard_size: opts.shard_size,
        snr_db: opts.snr_db,
        smooth_sigma: opts.smooth_sigma,
        background_error: opts.background_error,
    };
    recipe.check_or_record(&opts.out)?;
    let params = GeologyParams::new(nz, nx, acq.model_spacing);
    let velocity_of = |i: usize| -> Result<Vec<f32>> {
        match &models {
            Some((_, data)) => Ok(data[i * nz * nx..(i + 1) * nz * nx].to_vec()),
            None => {
                let mut v = vec![0.0; nz * nx];
                geology::generate(&params, opts.seed, i as u64, &mut v)
                    .map_err(core_err(format!("geology model {i}")))?;
                Ok(v)
            }
        }
    };
    let shards = pairs.div_ceil(opts.shard_size);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()?;
    // What killed runs left of this process's own shards (other machines may be writing
    // the other parts into the same directory), and of the manifest when unsharded.
    for k in (0..shards).filter(|k| k % parts == part) {
        let (xf, yf, rf) = shard_names(k);
        remove_stale_temporaries(&opts.out, &[&xf, &yf, &rf])?;
    }
    if parts == 1 {
        remove_stale_temporaries(&opts.out, &["manifest.json", "powerpost"])?;
    }
    let mut report = BuildReport {
        built: 0,
        skipped: 0,
        pairs_built: 0,
        seconds: 0.0,
        manifest_written: false,
    };
    for k in (0..shards).filter(|k| k % parts == part) {
        let first = k * opts.shard_size;
        let count = opts.shard_size.min(pairs - first);
        if let Some(r) = verified_shard(&opts.out, k) {
            if r.first == first && r.count == count {
                report.skipped += 1;
                progress(count);
                continue;
            }
        }
        let t0 = std::time::Instant::now();
        let results: Vec<Result<(Vec<f32>, Vec<f32>)>> = pool.install(|| {
            (first..first + count)
                .into_par_iter()
                .with_max_len(1)
                .map(|i| {
                    let v = velocity_of(i)?;
                    let y = image(&v, i)?;
                    progress(1);
                    Ok((v, y))
                })
                .collect()
        });
        report.seconds += t0.elapsed().as_secs_f64();
        let mut xs = Vec::with_capacity(count * nz * nx);
        let mut ys = Vec::with_capacity(count * nz * nx);
        for r in results {
            let (v, y) = r?;
            xs.extend(v);
            ys.extend(y);
        }
        let (xf, yf, rf) = shard_names(k);
        let (xb, yb) = (
            npy::to_bytes(&[count, nz, nx], &xs)?,
            npy::to_bytes(&[count, nz, nx], &ys)?,
        );
        write_atomic(&opts.out.join(&xf), &xb)?;
        write_atomic(&opts.out.join(&yf), &yb)?;
        let record = ShardRecord {
            shard: k,
            first,
            count,
            x_file: xf,
            y_file: yf,
            x_sha256: sha256_hex(&xb),
            y_sha256: sha256_hex(&yb),
        };
        write_atomic(&opts.out.join(rf), &serde_json::to_vec_pretty(&record)?)?;
        report.built += 1;
        report.pairs_built += count;
    }
    // The manifest, once every shard is complete.
    let records: Vec<Option<ShardRecord>> =
        (0..shards).map(|k| verified_shard(&opts.out, k)).collect();
    if records.iter().all(Option::is_some) {
        let records: Vec<ShardRecord> = records.into_iter().flatten().collect();
        let y0 = npy::read_f32(&opts.out.join(&records[0].y_file))?.data;
        let n = y0.len() as f64;
        let mean = y0.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = y0.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        if !(var > 0.0 && var.is_finite()) {
            bail!("shard 0: RTM images have zero or non-finite variance; cannot normalise");
        }
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            seed: opts.seed,
            preset: "edge".into(),
            prior: prior_name(opts),
            height: nz,
            width: nx,
            pairs,
            train_pairs: pairs - held_out,
            held_out_pairs: held_out,
            snr_db: opts.snr_db,
            smooth_sigma: opts.smooth_sigma,
            background_error: opts.background_error,
            velocity_center: VELOCITY_CENTER,
            velocity_half_range: VELOCITY_HALF_RANGE,
            rtm_scale: (1.0 / var.sqrt()) as f32,
            shards: records,
        };
        write_atomic(
            &opts.out.join("manifest.json"),
            &serde_json::to_vec_pretty(&manifest)?,
        )?;
        report.manifest_written = true;
    }
    Ok(report)
}

/// The manifest's `prior`: `"geology"` or the user's models file name.
fn prior_name(opts: &BuildOptions) -> String {
    opts.models.as_ref().map_or("geology".into(), |p| {
        p.file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned())
    })
}

/// What a dataset directory's pairs are a function of (`build.json`, written when the
/// build starts): a rerun with other options would mix pairs of two recipes under one
/// manifest, so it is refused, naming the option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BuildRecipe {
    seed: u64,
    prior: String,
    pairs: usize,
    held_out: usize,
    shard_size: usize,
    snr_db: f32,
    smooth_sigma: f32,
    background_error: f32,
}

impl BuildRecipe {
    /// Each field as the `dataset` option that sets it and its value.
    fn options(&self) -> [(&'static str, String); 8] {
        [
            ("--seed", self.seed.to_string()),
            ("--models", self.prior.clone()),
            ("--pairs", self.pairs.to_string()),
            ("--held-out", self.held_out.to_string()),
            ("--shard-size", self.shard_size.to_string()),
            ("--snr-db", self.snr_db.to_string()),
            ("--smooth-sigma", self.smooth_sigma.to_string()),
            ("--background-error", self.background_error.to_string()),
        ]
    }

    /// Compares with `dir/build.json` if there is one, else writes it (directories built
    /// before the file existed get it on their next run).
    fn check_or_record(&self, dir: &Path) -> Result<()> {
        let path = dir.join("build.json");
        let Ok(bytes) = std::fs::read(&path) else {
            return write_atomic(&path, &serde_json::to_vec_pretty(self)?);
        };
        let old: Self = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: malformed build record", path.display()))?;
        let pairs = old.options().into_iter().zip(self.options());
        for ((option, was), (_, now)) in pairs {
            if was != now {
                bail!(
                    "{}: this dataset was started with {option} {was}, not {now}; rerun with \
                     the same options to continue it, or build into another --out",
                    path.display()
                );
            }
        }
        Ok(())
    }
}

/// A loaded, normalised dataset, with the network's condition planes of every pair.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Image rows.
    pub height: usize,
    /// Image columns.
    pub width: usize,
    /// Normalised velocities, `pairs × height × width`.
    pub velocity: Vec<f32>,
    /// Condition planes per pair: 1 (the RTM image) or 2 (then the background model).
    pub condition_planes: usize,
    /// Per pair its condition planes, `pairs × condition_planes × height × width`: the
    /// normalised RTM image, then (2 planes) the normalised background model
    /// ([`pair_background`]: the model its RTM image was migrated in).
    pub condition: Vec<f32>,
    /// Training pairs (the first ones).
    pub train_pairs: usize,
    /// The manifest (constants for export).
    pub manifest: Manifest,
    /// SHA-256 of the manifest file (identifies the dataset in checkpoints).
    pub digest: String,
}

impl Dataset {
    /// Normalised pair `i`: (velocity, its condition planes).
    pub fn pair(&self, i: usize) -> (&[f32], &[f32]) {
        let n = self.height * self.width;
        let c = self.condition_planes * n;
        (
            &self.velocity[i * n..(i + 1) * n],
            &self.condition[i * c..(i + 1) * c],
        )
    }

    /// A dataset from raw arrays (velocity in km/s, raw RTM), normalised with `manifest`,
    /// with `condition_planes` condition planes per pair (the background models are
    /// computed only for 2).
    ///
    /// # Errors
    /// `condition_planes` other than 1 or 2; a `smooth_sigma` or image size the
    /// background smoothing refuses.
    pub fn from_raw(
        manifest: Manifest,
        velocity_kms: &[f32],
        rtm: &[f32],
        condition_planes: usize,
    ) -> Result<Self> {
        let (height, width) = (manifest.height, manifest.width);
        let n = height * width;
        let rtm_plane =
            |r: &[f32]| -> Vec<f32> { r.iter().map(|v| v * manifest.rtm_scale).collect() };
        let condition = match condition_planes {
            1 => rtm_plane(rtm),
            2 => {
                // The background as the runner hands it to the network (the core's
                // normalisation).
                let normalization = Normalization {
                    velocity_center_km_s: manifest.velocity_center,
                    velocity_half_range_km_s: manifest.velocity_half_range,
                    rtm_scale: manifest.rtm_scale,
                };
                let mut condition = Vec::with_capacity(2 * rtm.len());
                let mut plane = vec![0.0; n];
                let pairs = velocity_kms.chunks_exact(n.max(1)).zip(rtm.chunks_exact(n.max(1)));
                for (index, (model, r)) in pairs.enumerate() {
                    condition.extend(rtm_plane(r));
                    let background = pair_background(&manifest, index, model)?;
                    normalization
                        .velocity_to_network(&background, &mut plane)
                        .map_err(|e| anyhow::anyhow!("background normalisation: {e}"))?;
                    condition.extend_from_slice(&plane);
                }
                condition
            }
            _ => bail!(
                "the network takes {condition_planes} condition planes; a dataset gives 1 (RTM) or 2 (RTM, background)"
            ),
        };
        let inv = 1.0 / manifest.velocity_half_range;
        Ok(Self {
            height,
            width,
            velocity: velocity_kms
                .iter()
                .map(|v| (v - manifest.velocity_center) * inv)
                .collect(),
            condition_planes,
            condition,
            train_pairs: manifest.train_pairs,
            digest: sha256_hex(&serde_json::to_vec(&manifest).unwrap_or_default()),
            manifest,
        })
    }

    /// Loads `dir/manifest.json` and its shards, verifying every digest, with
    /// `condition_planes` condition planes per pair (as [`from_raw`](Self::from_raw)).
    ///
    /// # Errors
    /// Missing or corrupt files, named; as [`from_raw`](Self::from_raw).
    pub fn load(dir: &Path, condition_planes: usize) -> Result<Self> {
        let raw = RawDataset::load(dir)?;
        let mut d = Self::from_raw(raw.manifest, &raw.velocity_kms, &raw.rtm, condition_planes)
            .with_context(|| format!("{}", dir.display()))?;
        d.digest = raw.digest;
        Ok(d)
    }
}

/// The background model of a `height × width` velocity model (km/s): the model
/// Gaussian-smoothed with σ = `smooth_sigma` grid points, as the dataset's RTM images
/// were migrated in (smoothed in km/s; the builder smooths m/s, which differs only in
/// rounding). `powerpost evaluate` compares posterior means against it, and a network
/// that [takes the background](powerpost_core::unet::UNetConfig::takes_background) is
/// conditioned on it.
///
/// # Errors
/// A σ or size the core's smoothing refuses.
pub fn background_model(
    velocity_kms: &[f32],
    height: usize,
    width: usize,
    smooth_sigma: f32,
) -> Result<Vec<f32>> {
    let what = || "background smoothing".to_string();
    let mut scratch =
        vec![0.0; wave::smooth_scratch_len(height, width, smooth_sigma).map_err(core_err(what()))?];
    let mut out = vec![0.0; height * width];
    wave::gaussian_smooth(
        velocity_kms,
        height,
        width,
        smooth_sigma,
        &mut scratch,
        &mut out,
    )
    .map_err(core_err(what()))?;
    Ok(out)
}

/// The background model pair `index` of the dataset of `manifest` was migrated in (km/s):
/// [`background_model`] of its velocity model with the manifest's `smooth_sigma`, times
/// its [`background_error_field`] when the manifest has a `background_error`.
///
/// # Errors
/// As [`background_model`].
pub fn pair_background(
    manifest: &Manifest,
    index: usize,
    velocity_kms: &[f32],
) -> Result<Vec<f32>> {
    let (height, width) = (manifest.height, manifest.width);
    let mut background = background_model(velocity_kms, height, width, manifest.smooth_sigma)?;
    if manifest.background_error > 0.0 {
        let field = background_error_field(
            velocity_kms,
            height,
            width,
            WATER_VELOCITY * 1e-3,
            manifest.background_error,
            manifest.seed,
            index,
        );
        for (b, f) in background.iter_mut().zip(&field) {
            *b *= f;
        }
    }
    Ok(background)
}

/// The multiplicative error field of pair `index`'s migration background (module docs,
/// "Background errors"): 1 in the water layer of `velocity` (values ≤ `water_velocity`,
/// in the same unit, from the top of each column), within `1 ± error` below it.
/// `velocity` is `height × width`, row-major.
pub fn background_error_field(
    velocity: &[f32],
    height: usize,
    width: usize,
    water_velocity: f32,
    error: f32,
    seed: u64,
    index: usize,
) -> Vec<f32> {
    let stream = NoiseStream::new(seed, BACKGROUND_ERROR_STREAM + index as u64);
    let signed = |k: u64| 2.0 * stream.uniform(k) - 1.0;
    let size = error * stream.uniform(0);
    let (bulk, trend, swing) = (signed(1), signed(2), signed(3));
    let cycles = if stream.uniform(4) < 0.5 { 1.0 } else { 2.0 };
    let phase = stream.uniform(5);
    let mut field = vec![1.0; height * width];
    for x in 0..width {
        let seabed = (0..height)
            .position(|z| velocity[z * width + x] > water_velocity)
            .unwrap_or(height);
        // cos(2π·(k·x/width + φ)) through the core's portable cosine.
        let turn = cycles * x as f32 / width as f32 + phase;
        let lateral = 0.2 * swing * detmath::cos(core::f32::consts::TAU * turn);
        let rows = (height - seabed) as f32;
        for z in seabed..height {
            let below = (z - seabed) as f32;
            let zeta = below / rows;
            let ramp = ((below + 1.0) / BACKGROUND_ERROR_RAMP_ROWS).min(1.0);
            let shape = 0.5 * bulk + 0.3 * trend * (2.0 * zeta - 1.0) + lateral;
            field[z * width + x] = 1.0 + size * ramp * shape;
        }
    }
    field
}

/// Reads a shard file by name: how to name it in errors, and its bytes.
pub type ReadShard<'a> = dyn Fn(&str) -> Result<(String, Vec<u8>)> + 'a;

/// A dataset as stored: velocities in km/s and raw RTM images, before normalisation.
#[derive(Debug, Clone)]
pub struct RawDataset {
    /// The manifest.
    pub manifest: Manifest,
    /// Velocities (km/s), `pairs × height × width`.
    pub velocity_kms: Vec<f32>,
    /// Raw RTM images, `pairs × height × width`.
    pub rtm: Vec<f32>,
    /// SHA-256 of the manifest file.
    pub digest: String,
}

impl RawDataset {
    /// Loads `dir/manifest.json` and its shards, verifying every digest.
    ///
    /// # Errors
    /// Missing or corrupt files, named.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("manifest.json");
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "{}: cannot read (build the dataset first: powerpost dataset)",
                path.display()
            )
        })?;
        Self::from_manifest(&bytes, &path.display().to_string(), &|file| {
            let p = dir.join(file);
            let b = std::fs::read(&p).with_context(|| format!("{}: cannot read", p.display()))?;
            Ok((p.display().to_string(), b))
        })
    }

    /// [`load`](Self::load) from the manifest's bytes (`what` names it in errors) and a
    /// function that reads a shard file by name and returns how to name it in errors and
    /// its bytes.
    ///
    /// # Errors
    /// A malformed manifest ([`Manifest::validate`]), shard files that cannot be read,
    /// differ from their digests or are not `[count, height, width]` float32 arrays.
    pub fn from_manifest(bytes: &[u8], what: &str, read_file: &ReadShard<'_>) -> Result<Self> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).with_context(|| format!("{what}: malformed manifest"))?;
        manifest.validate(what)?;
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for r in &manifest.shards {
            for (file, digest, dst) in [
                (&r.x_file, &r.x_sha256, &mut xs),
                (&r.y_file, &r.y_sha256, &mut ys),
            ] {
                let (name, b) = read_file(file)?;
                if &sha256_hex(&b) != digest {
                    bail!("{name}: SHA-256 differs from the manifest (corrupt or replaced shard)");
                }
                let npy::Array { shape, data } = npy::parse_f32(&b, &name, &[])?;
                if shape != [r.count, manifest.height, manifest.width] {
                    bail!(
                        "{name}: shape {shape:?}, expected [{}, {}, {}]",
                        r.count,
                        manifest.height,
                        manifest.width
                    );
                }
                dst.extend(data);
            }
        }
        // Validated: the shards tile the pairs, and each file had its shard's shape.
        debug_assert_eq!(xs.len(), manifest.pairs * manifest.height * manifest.width);
        Ok(Self {
            manifest,
            velocity_kms: xs,
            rtm: ys,
            digest: sha256_hex(bytes),
        })
    }

    /// Pair `i`: (velocity in km/s, raw RTM image).
    pub fn pair(&self, i: usize) -> (&[f32], &[f32]) {
        let n = self.manifest.height * self.manifest.width;
        (
            &self.velocity_kms[i * n..(i + 1) * n],
            &self.rtm[i * n..(i + 1) * n],
        )
    }
}

#[cfg(test)]
mod manifest_tests {
    use super::*;

    /// A valid manifest of 3 pairs in shards of 2 and 1.
    pub(super) fn manifest() -> Manifest {
        let shard = |k: usize, first: usize, count: usize| ShardRecord {
            shard: k,
            first,
            count,
            x_file: format!("x_{k:04}.npy"),
            y_file: format!("y_{k:04}.npy"),
            x_sha256: String::new(),
            y_sha256: String::new(),
        };
        Manifest {
            format: MANIFEST_FORMAT.into(),
            seed: 0,
            preset: "edge".into(),
            prior: "geology".into(),
            height: 2,
            width: 4,
            pairs: 3,
            train_pairs: 2,
            held_out_pairs: 1,
            snr_db: 10.0,
            smooth_sigma: 10.0,
            background_error: 0.0,
            velocity_center: 3.0,
            velocity_half_range: 1.5,
            rtm_scale: 1.0,
            shards: vec![shard(0, 0, 2), shard(1, 2, 1)],
        }
    }

    #[test]
    fn validate_names_the_first_bad_field() {
        manifest().validate("m.json").unwrap();
        type Corrupt = fn(&mut Manifest);
        let cases: Vec<(Corrupt, &str)> = vec![
            (|m| m.format = "v0".into(), "field `format` is v0"),
            (|m| m.width = 0, "field `width` is 0"),
            (|m| m.pairs = usize::MAX, "field `pairs`"),
            // `evaluate` took pairs − train_pairs and the trainer indexed pairs below
            // train_pairs: both overflowed or went out of range with train_pairs > pairs.
            (|m| m.train_pairs = 5, "field `train_pairs` is 5"),
            (
                |m| m.shards[1].first = 3,
                "field `shards[1].first` is 3, expected 2",
            ),
            (|m| m.shards[1].shard = 0, "field `shards[1].shard` is 0"),
            (
                |m| m.shards[1].count = 2,
                "field `shards[1].count` is 2, expected 1 to 1",
            ),
            (|m| m.shards.truncate(1), "field `pairs` is 3, expected 2"),
            (
                |m| m.shards[0].x_file = "/etc/passwd".into(),
                "shards[0].x_file",
            ),
            (|m| m.shards[0].y_file = "..".into(), "shards[0].y_file"),
            (|m| m.velocity_half_range = 0.0, "velocity_half_range"),
            (|m| m.velocity_half_range = 1e-40, "velocity_half_range"),
            (|m| m.smooth_sigma = f32::NAN, "field `smooth_sigma` is NaN"),
            (|m| m.rtm_scale = f32::INFINITY, "rtm_scale"),
            (
                |m| m.background_error = -0.1,
                "field `background_error` is -0.1, expected a fraction from 0 to 0.5",
            ),
            (
                |m| m.background_error = 0.6,
                "field `background_error` is 0.6",
            ),
            (
                |m| m.background_error = f32::NAN,
                "field `background_error` is NaN",
            ),
        ];
        for (corrupt, expected) in cases {
            let mut m = manifest();
            corrupt(&mut m);
            let msg = m.validate("m.json").unwrap_err().to_string();
            assert!(
                msg.starts_with("m.json: ") && msg.contains(expected),
                "{msg}"
            );
        }
    }

    /// Datasets without background errors keep their manifests byte for byte (the field is
    /// left out, so their digests, which trained weights record, do not change), and
    /// manifests written before the field existed read as error 0.
    #[test]
    fn background_error_field_is_optional_in_the_manifest() {
        let exact = serde_json::to_string(&manifest()).unwrap();
        assert!(!exact.contains("background_error"), "{exact}");
        let back: Manifest = serde_json::from_str(&exact).unwrap();
        assert_eq!(back, manifest());
        let mut m = manifest();
        m.background_error = 0.08;
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains("\"background_error\":0.08"), "{text}");
        assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), m);
    }

    #[test]
    fn from_manifest_checks_before_reading_shards() {
        let mut m = manifest();
        m.train_pairs = 7;
        let bytes = serde_json::to_vec(&m).unwrap();
        let read = |_: &str| -> Result<(String, Vec<u8>)> { panic!("no shard is read") };
        let e = RawDataset::from_manifest(&bytes, "m.json", &read).unwrap_err();
        assert!(e.to_string().contains("train_pairs"), "{e}");
    }
}

#[cfg(test)]
mod background_error_tests {
    use super::*;

    const H: usize = 64;
    const W: usize = 128;

    /// A geology model of the edge grid (km/s) and its seabed row per column.
    fn model(index: u64) -> (Vec<f32>, Vec<usize>) {
        let params = GeologyParams::new(H, W, 25.0);
        let mut v = vec![0.0; H * W];
        geology::generate(&params, 0, index, &mut v).unwrap();
        let seabed = (0..W)
            .map(|x| (0..H).position(|z| v[z * W + x] > 1.51).unwrap())
            .collect();
        (v, seabed)
    }

    /// The field is 1 in the water, within `1 ± e` below it, reaches a sizeable part of
    /// `e` somewhere for most pairs, is smooth (no step larger than a small part of `e`
    /// between neighbours below the ramp), and is a pure function of (seed, pair).
    #[test]
    fn error_field_is_bounded_smooth_and_zero_in_the_water() {
        let e = 0.08;
        let mut largest = Vec::new();
        for index in 0..16 {
            let (v, seabed) = model(index);
            let f = background_error_field(&v, H, W, 1.51, e, 7, index as usize);
            assert_eq!(
                f,
                background_error_field(&v, H, W, 1.51, e, 7, index as usize)
            );
            let mut worst: f32 = 0.0;
            for x in 0..W {
                for z in 0..H {
                    let d = f[z * W + x] - 1.0;
                    if z < seabed[x] {
                        assert_eq!(d, 0.0, "pair {index}: water at ({z}, {x}) perturbed");
                    }
                    assert!(
                        d.abs() <= e * (1.0 + 1e-5),
                        "pair {index}: {d} at ({z}, {x})"
                    );
                    worst = worst.max(d.abs());
                    // Lateral neighbours: at most the swing's slope, 0.2·e·2π·2/W per column
                    // (×1.5 for seabed-depth changes between the columns' depth fractions).
                    if x + 1 < W && z >= seabed[x] + 4 && z >= seabed[x + 1] + 4 {
                        let step = (f[z * W + x + 1] - f[z * W + x]).abs();
                        assert!(step < 0.02 * e + 0.3 * e * 2.0 / (H - seabed[x]) as f32 * 4.0);
                    }
                }
            }
            largest.push(worst);
        }
        // Sizes are uniform in 0..e and the three terms rarely add up to their full 1:
        // a spread of largest errors, some near-exact backgrounds, some well off.
        assert!(
            largest.iter().filter(|&&w| w > 0.25 * e).count() >= 4,
            "{largest:?}"
        );
        assert!(
            largest.iter().filter(|&&w| w < 0.1 * e).count() >= 2,
            "{largest:?}"
        );
        assert!(largest.iter().any(|&w| w > 0.5 * e), "{largest:?}");
        // Another pair or seed: another field.
        let (v, _) = model(0);
        let a = background_error_field(&v, H, W, 1.51, e, 7, 0);
        assert_ne!(a, background_error_field(&v, H, W, 1.51, e, 7, 1));
        assert_ne!(a, background_error_field(&v, H, W, 1.51, e, 8, 0));
        // No error, no field.
        assert!(background_error_field(&v, H, W, 1.51, 0.0, 7, 0)
            .iter()
            .all(|&f| f == 1.0));
    }

    /// `pair_background` is the smoothed model where the manifest has no error, and that
    /// model times the pair's field where it has one; the condition planes of a
    /// background-conditioned dataset hold exactly that background, pair by pair.
    #[test]
    fn pair_background_and_condition_planes_carry_the_error() {
        // Three pairs of the edge grid.
        let mut manifest = Manifest {
            seed: 5,
            height: H,
            width: W,
            ..super::manifest_tests::manifest()
        };
        let velocity: Vec<f32> = (0..3).flat_map(|i| model(i).0).collect();
        let rtm = vec![0.5; velocity.len()];
        let n = H * W;
        let exact: Vec<Vec<f32>> = (0..3)
            .map(|i| background_model(&velocity[i * n..(i + 1) * n], H, W, 10.0).unwrap())
            .collect();
        for i in 0..3 {
            let got = pair_background(&manifest, i, &velocity[i * n..(i + 1) * n]).unwrap();
            assert_eq!(got, exact[i]);
        }
        manifest.background_error = 0.1;
        let data = Dataset::from_raw(manifest.clone(), &velocity, &rtm, 2).unwrap();
        for (i, exact) in exact.iter().enumerate() {
            let v = &velocity[i * n..(i + 1) * n];
            let got = pair_background(&manifest, i, v).unwrap();
            let field = background_error_field(v, H, W, 1.51, 0.1, 5, i);
            for k in 0..n {
                assert_eq!(got[k].to_bits(), (exact[k] * field[k]).to_bits());
            }
            assert_ne!(&got, exact, "pair {i}: no error applied");
            let (_, condition) = data.pair(i);
            for k in 0..n {
                let want = (got[k] - VELOCITY_CENTER) / VELOCITY_HALF_RANGE;
                assert!(
                    (condition[n + k] - want).abs() < 1e-6,
                    "pair {i}, point {k}"
                );
            }
        }
    }
}
