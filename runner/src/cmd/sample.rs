//! `powerpost sample`: draw velocity models from the power-scaled posterior
//! p(y|x)^λ·p(x)^α (or the power-scaled prior) and write them with their pointwise
//! statistics, a figure and a JSON sidecar that reproduces them bit for bit.
//!
//! ## Output directory (`--out DIR`)
//! - `samples.npy`: N × H × W float32, km/s; sample k of the file is sample index
//!   `first + k` of the seed (its own RNG stream: the same bits whatever N is);
//! - `mean.npy`, `std.npy`: H × W pointwise mean and standard deviation (population,
//!   divide by N) in f64, summed in sample-index order;
//! - `samples.png`: up to 8 samples and the mean on the velocity scale (centre ± half-range
//!   of the normalisation, km/s), and the standard deviation on its own scale;
//! - `sample.json`: every parameter (λ, α, N, first, seed, all sampler fields, image size,
//!   normalisation, weights path + SHA-256, RTM path + SHA-256, the `--rtm-normalize` gain
//!   if any, the `--background` model's path + SHA-256 if any, version) and the SHA-256 of
//!   the three `.npy` files.
//!
//! Everything is written into a temporary directory beside DIR first; a new DIR then
//! appears whole by one rename, an existing DIR has each file replaced atomically. Bad
//! input is refused before anything is written.
//!
//! `powerpost sample --from DIR/sample.json --out DIR2` redraws the same bits: it reads
//! every parameter from the sidecar, checks the digests of the weights, the RTM image and
//! the background model (which may be given again with `--weights`/`--rtm`/`--background`
//! if they moved) and warns if the powerpost version differs.
//!
//! ## Background model
//! Weights trained with `--network default-background` are conditioned on the background
//! velocity model as well as the RTM image (`powerpost info` says which): give it with
//! `--background` (km/s; the model the image was migrated in). Other weights refuse it.

use super::posterior_io::{
    check_background, check_power, check_size, check_weights, evaluations, load_weights,
    mean_and_std, read_background, read_rtm, sha256_file, Engine, ExactF32, FileRecord,
    NormalizationRecord, SampleProgress, SamplerRecord, Sampling, WeightsRecord,
};
use super::RunArgs;
use crate::atomic;
use crate::figures::{Canvas, ColorScale, GridFigure, Image, Panel};
use crate::npy;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Samples shown in `samples.png`.
pub const MAX_SHOWN: usize = 8;

/// Options of `powerpost sample`.
#[derive(Args, Debug, Clone)]
pub struct SampleArgs {
    /// RTM image: 2-D [H, W] float32 .npy in the units the network was trained on (it is
    /// multiplied by the weights' RTM scale). H and W must be multiples of 4.
    #[arg(long, required_unless_present_any = ["prior", "from"], conflicts_with = "prior")]
    pub rtm: Option<PathBuf>,
    /// Rescale the RTM image so that its standard deviation after the weights' RTM scale is
    /// 1, the training images' pooled value: for images from another migration code,
    /// acquisition or unit. The gain is recorded in sample.json.
    #[arg(long, conflicts_with_all = ["prior", "from"])]
    pub rtm_normalize: bool,
    /// Background model: the smooth velocity model the RTM image was migrated in, 2-D
    /// [H, W] float32 .npy in km/s (m/s if its largest value is 100 or more). Required by
    /// weights conditioned on it (`powerpost info` says), refused by the others.
    #[arg(long, conflicts_with = "prior")]
    pub background: Option<PathBuf>,
    /// Sample the power-scaled prior p(x)^α instead (no RTM; λ = 0).
    #[arg(long)]
    pub prior: bool,
    /// Image rows for --prior.
    #[arg(long, requires = "prior")]
    pub height: Option<usize>,
    /// Image columns for --prior.
    #[arg(long, requires = "prior")]
    pub width: Option<usize>,
    /// Likelihood power λ ≥ 0 (default 1; 0 with --prior).
    #[arg(long)]
    pub lambda: Option<f32>,
    /// Prior power α > 0 (default 1).
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Number of samples (default 16).
    #[arg(long)]
    pub n: Option<usize>,
    /// Run seed (default 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Index of the first sample (default 0): sample i is the same bits in every run.
    #[arg(long)]
    pub first: Option<u64>,
    #[command(flatten)]
    pub sampling: super::SamplerArgs,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Redraw the run recorded in this sample.json (bit for bit).
    #[arg(long, conflicts_with_all = ["prior", "height", "width", "lambda", "alpha", "n", "seed", "first", "steps", "sampler", "exact_power"])]
    pub from: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

/// The JSON sidecar `sample.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleSidecar {
    /// Always `"sample"`.
    pub kind: String,
    /// `powerpost` version that wrote it.
    pub powerpost_version: String,
    /// λ.
    #[serde(with = "super::posterior_io::exact_f32")]
    pub lambda: f32,
    /// α.
    #[serde(with = "super::posterior_io::exact_f32")]
    pub alpha: f32,
    /// Number of samples.
    pub n: usize,
    /// Index of the first sample.
    pub first: u64,
    /// Run seed.
    pub seed: u64,
    /// Image rows.
    pub height: usize,
    /// Image columns.
    pub width: usize,
    /// Sampler configuration.
    pub sampler: SamplerRecord,
    /// Network evaluations per sample (informative).
    pub network_evaluations_per_sample: usize,
    /// Normalisation used (from the weights).
    pub normalization: NormalizationRecord,
    /// Weights.
    pub weights: WeightsRecord,
    /// RTM image (`null`: prior).
    pub rtm: Option<FileRecord>,
    /// Gain applied to the RTM image's values (`--rtm-normalize`; absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtm_gain: Option<ExactF32>,
    /// Background model (`--background`; absent: weights conditioned on the RTM image
    /// alone, or the prior).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<FileRecord>,
    /// SHA-256 of each output `.npy`.
    pub outputs: BTreeMap<String, String>,
}

/// Runs `powerpost sample`.
pub fn run(args: &SampleArgs) -> Result<()> {
    let recorded = match &args.from {
        Some(path) => Some(read_sidecar(path)?),
        None => None,
    };
    let weights_spec = args
        .sampling
        .weights
        .clone()
        .or_else(|| recorded.as_ref().map(|r| r.weights.path.clone()));
    let weights = load_weights(weights_spec.as_deref())?;
    let multiple = weights.config.size_multiple();

    let (lambda, alpha, n, first, seed, sampler, rtm, height, width);
    if let (Some(r), Some(from)) = (&recorded, &args.from) {
        check_weights(&weights, &r.weights, from)?;
        lambda = r.lambda;
        alpha = r.alpha;
        n = r.n;
        first = r.first;
        seed = r.seed;
        sampler = r
            .sampler
            .config()
            .with_context(|| format!("{}", from.display()))?;
        rtm = match &r.rtm {
            Some(rec) => {
                let path = args.rtm.clone().unwrap_or_else(|| PathBuf::from(&rec.path));
                let mut input = read_rtm(&path, multiple)?;
                if input.record.sha256 != rec.sha256 {
                    bail!(
                        "{}: field `rtm.sha256` is {}, but {} has SHA-256 {}: not the RTM image this run was made with",
                        from.display(),
                        rec.sha256,
                        path.display(),
                        input.record.sha256
                    );
                }
                if let Some(gain) = r.rtm_gain {
                    input.apply_gain(gain.0);
                }
                Some(input)
            }
            None if args.rtm.is_some() => bail!(
                "{}: the recorded run sampled the prior; --rtm does not apply",
                from.display()
            ),
            None => None,
        };
        (height, width) = (r.height, r.width);
        if let Some(input) = &rtm {
            if (input.height, input.width) != (height, width) {
                bail!(
                    "{}: fields `height`, `width` are {height} × {width}, the RTM image is {} × {}",
                    from.display(),
                    input.height,
                    input.width
                );
            }
        }
        check_size(&from.display().to_string(), height, width, multiple)?;
    } else {
        lambda = args.lambda.unwrap_or(if args.prior { 0.0 } else { 1.0 });
        alpha = args.alpha.unwrap_or(1.0);
        sampler = args.sampling.config(&[alpha])?;
        n = args.n.unwrap_or(16);
        first = args.first.unwrap_or(0);
        seed = args.seed.unwrap_or(0);
        if args.prior {
            (height, width) = (args.height.unwrap_or(64), args.width.unwrap_or(128));
            check_size("--height/--width", height, width, multiple)?;
            rtm = None;
        } else {
            let path = args
                .rtm
                .as_ref()
                .ok_or_else(|| anyhow!("give --rtm IMAGE.npy or --prior"))?;
            let mut input = read_rtm(path, multiple)?;
            if args.rtm_normalize {
                input.normalize(weights.normalization.rtm_scale)?;
            }
            (height, width) = (input.height, input.width);
            rtm = Some(input);
        }
    }
    // The background model: given again or found at its recorded path, or from --background.
    let background_path = match (&recorded, &args.from) {
        (Some(r), Some(from)) => match (&r.background, &args.background) {
            (Some(rec), given) => Some((
                given.clone().unwrap_or_else(|| PathBuf::from(&rec.path)),
                Some((from, rec)),
            )),
            (None, Some(_)) => bail!(
                "{}: the recorded run used no background model; --background does not apply",
                from.display()
            ),
            (None, None) => None,
        },
        _ => args.background.clone().map(|p| (p, None)),
    };
    check_background(&weights, rtm.is_some(), background_path.is_some())?;
    let background = match &background_path {
        Some((path, recorded)) => {
            let input = read_background(path, height, width)?;
            if let Some((from, rec)) = recorded {
                if input.record.sha256 != rec.sha256 {
                    bail!(
                        "{}: field `background.sha256` is {}, but {} has SHA-256 {}: not the background model this run was made with",
                        from.display(),
                        rec.sha256,
                        path.display(),
                        input.record.sha256
                    );
                }
            }
            Some(input)
        }
        None => None,
    };
    check_power(lambda, alpha)?;
    if rtm.is_none() && lambda != 0.0 {
        bail!("--lambda: the prior has no likelihood; expected 0 with --prior, got {lambda}");
    }
    if n == 0 {
        bail!("--n: expected at least 1 sample");
    }
    if first.checked_add(n as u64).is_none() {
        bail!("--first {first} + --n {n} overflows the sample index");
    }
    if n.checked_mul(height * width)
        .is_none_or(|t| t > isize::MAX as usize / 8)
    {
        bail!("--n {n} samples of {height} × {width} do not fit in memory");
    }
    if let Some(r) = &recorded {
        if r.powerpost_version != env!("CARGO_PKG_VERSION") {
            eprintln!(
                "warning: the run was recorded by powerpost {}, this is {}; bits may differ",
                r.powerpost_version,
                env!("CARGO_PKG_VERSION")
            );
        }
    }
    if let Some(input) = &rtm {
        input.warn_amplitude(&weights);
    }
    let out_dir = prepare_output(&args.out)?;
    let quiet_note = recorded.is_some() || args.run.quiet;
    args.sampling.announce(&[alpha], &sampler, quiet_note);

    let engine = Engine::new(args.run.threads, &args.device)?;
    engine.announce_device(args.run.quiet);
    let sampling = Sampling {
        weights: &weights,
        height,
        width,
        rtm: rtm.as_ref().map(|r| r.raw.as_slice()),
        background: background.as_ref().map(|b| b.velocity_km_s.as_slice()),
        lambda,
        alpha,
        sampler,
        seed,
    };
    let progress = SampleProgress::new(n as u64, sampler.steps as u64, args.run.quiet);
    let samples = engine.draw(&sampling, first, n, &progress)?;
    progress.finish();
    let (mean, std) = mean_and_std(&samples, height * width);

    let temp = out_dir.temp.path();
    npy::write_f32(&temp.join("samples.npy"), &[n, height, width], &samples)?;
    npy::write_f32(&temp.join("mean.npy"), &[height, width], &mean)?;
    npy::write_f32(&temp.join("std.npy"), &[height, width], &std)?;
    let mut outputs = BTreeMap::new();
    for name in ["samples.npy", "mean.npy", "std.npy"] {
        outputs.insert(name.to_string(), sha256_file(&temp.join(name))?);
    }
    let title = format!(
        "{} λ={lambda} α={alpha} seed {seed}: samples {first}..{} ({})",
        if rtm.is_some() { "Posterior" } else { "Prior" },
        first + n as u64 - 1,
        super::posterior_io::sampler_label(&sampler)
    );
    samples_figure(
        &samples,
        &mean,
        &std,
        height,
        width,
        first,
        &weights.normalization,
        &title,
    )?
    .save_png(&temp.join("samples.png"))?;
    let sidecar = SampleSidecar {
        kind: "sample".to_string(),
        powerpost_version: env!("CARGO_PKG_VERSION").to_string(),
        lambda,
        alpha,
        n,
        first,
        seed,
        height,
        width,
        sampler: SamplerRecord::of(&sampler),
        network_evaluations_per_sample: evaluations(&sampler),
        normalization: weights.normalization.into(),
        weights: weights.record.clone(),
        rtm_gain: rtm.as_ref().and_then(|r| r.gain).map(ExactF32),
        background: background.as_ref().map(|b| b.record.clone()),
        rtm: rtm.map(|r| r.record),
        outputs,
    };
    let json = serde_json::to_string_pretty(&sidecar)? + "\n";
    atomic::write_bytes(&temp.join("sample.json"), json.as_bytes())?;
    out_dir.finish(&[
        "samples.npy",
        "mean.npy",
        "std.npy",
        "samples.png",
        "sample.json",
    ])
}

/// Reads and checks a `sample.json` ([`SampleSidecar::parse`]).
///
/// # Errors
/// Unreadable file, and those of [`SampleSidecar::parse`], naming the file.
pub fn read_sidecar(path: &Path) -> Result<SampleSidecar> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--from {}: cannot read", path.display()))?;
    SampleSidecar::parse(&text, &path.display().to_string())
}

impl SampleSidecar {
    /// Parses a `sample.json` and checks every recorded parameter as a new run's would be
    /// checked (`what` names the file in errors): the kind, the sampler configuration,
    /// λ ≥ 0 and α > 0 (λ = 0 for a prior run), at least one sample, sample indices that
    /// do not overflow, an image size the runner accepts, samples that fit in memory.
    /// What needs the weights (the architecture's size multiple, the digests) is checked
    /// when they are loaded.
    ///
    /// # Errors
    /// Malformed JSON, missing or unknown fields, or the first invalid field, named.
    pub fn parse(text: &str, what: &str) -> Result<Self> {
        let sidecar: SampleSidecar = serde_json::from_str(text)
            .map_err(|e| anyhow!("{what}: not a powerpost sample.json: {e}"))?;
        sidecar.validate(what)?;
        Ok(sidecar)
    }

    /// The checks of [`parse`](Self::parse) after deserialising.
    ///
    /// # Errors
    /// The first invalid field, named, after `what`.
    pub fn validate(&self, what: &str) -> Result<()> {
        if self.kind != "sample" {
            bail!("{what}: field `kind` is `{}`, expected `sample`", self.kind);
        }
        self.sampler.config().with_context(|| what.to_string())?;
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            bail!(
                "{what}: field `lambda` is {}, expected a finite number >= 0",
                self.lambda
            );
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            bail!(
                "{what}: field `alpha` is {}, expected a finite number > 0",
                self.alpha
            );
        }
        if self.rtm.is_none() && self.lambda != 0.0 {
            bail!(
                "{what}: field `lambda` is {}, expected 0 for a prior run (`rtm` is null)",
                self.lambda
            );
        }
        if let Some(gain) = self.rtm_gain {
            if self.rtm.is_none() {
                bail!("{what}: field `rtm_gain` is set for a prior run (`rtm` is null); expected it absent");
            }
            if !(gain.0.is_finite() && gain.0 > 0.0) {
                bail!(
                    "{what}: field `rtm_gain` is {}, expected a finite number > 0",
                    gain.0
                );
            }
        }
        if self.n == 0 {
            bail!("{what}: field `n` is 0, expected at least 1 sample");
        }
        if self.first.checked_add(self.n as u64).is_none() {
            bail!(
                "{what}: fields `first` {} + `n` {} overflow the sample index",
                self.first,
                self.n
            );
        }
        check_size(what, self.height, self.width, 1)?;
        if self
            .n
            .checked_mul(self.height * self.width)
            .is_none_or(|t| t > isize::MAX as usize / 8)
        {
            bail!(
                "{what}: {} samples of {} × {} do not fit in memory",
                self.n,
                self.height,
                self.width
            );
        }
        Ok(())
    }
}

/// An output directory being written: files go to a temporary directory beside it.
pub struct OutputDir {
    /// The temporary directory.
    pub temp: tempfile::TempDir,
    dest: PathBuf,
}

/// Creates the temporary directory for `dest` (creating `dest`'s parent if needed).
///
/// # Errors
/// If `dest` is a file or the parent is not writable.
pub fn prepare_output(dest: &Path) -> Result<OutputDir> {
    if dest.exists() && !dest.is_dir() {
        bail!("--out {}: exists and is not a directory", dest.display());
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| {
        format!(
            "--out {}: cannot create {}",
            dest.display(),
            parent.display()
        )
    })?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // What killed runs left beside the destination.
    crate::atomic::remove_stale_temporaries(&parent, &[&name])?;
    let prefix = format!(".{name}.");
    let temp = crate::atomic::temp_builder(&prefix, ".tmp", true)
        .tempdir_in(&parent)
        .with_context(|| {
            format!(
                "--out {}: cannot create a temporary directory in {}",
                dest.display(),
                parent.display()
            )
        })?;
    Ok(OutputDir {
        temp,
        dest: dest.to_path_buf(),
    })
}

impl OutputDir {
    /// Moves the finished files into place: a new directory by one rename, an existing
    /// one file by file (each rename atomic).
    ///
    /// # Errors
    /// If a rename fails.
    pub fn finish(self, files: &[&str]) -> Result<()> {
        let dest = &self.dest;
        if !dest.exists() {
            let temp = self.temp.keep();
            match std::fs::rename(&temp, dest) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&temp);
                    return Err(e).with_context(|| {
                        format!(
                            "--out {}: cannot move the finished directory into place",
                            dest.display()
                        )
                    });
                }
            }
        }
        for name in files {
            std::fs::rename(self.temp.path().join(name), dest.join(name)).with_context(|| {
                format!(
                    "{}: cannot move the finished file into place",
                    dest.join(name).display()
                )
            })?;
        }
        Ok(())
    }
}

/// Up to [`MAX_SHOWN`] samples and the mean on the velocity scale, the standard
/// deviation below on its own scale.
#[allow(clippy::too_many_arguments)]
pub fn samples_figure(
    samples: &[f32],
    mean: &[f32],
    std: &[f32],
    height: usize,
    width: usize,
    first: u64,
    norm: &powerpost_core::normalize::Normalization,
    title: &str,
) -> Result<Canvas> {
    let len = height * width;
    let shown = (samples.len() / len).min(MAX_SHOWN);
    let mut panels = Vec::new();
    for k in 0..shown {
        panels.push(Panel {
            image: Image::new(&samples[k * len..(k + 1) * len], height, width)?,
            title: format!("sample {}", first + k as u64),
        });
    }
    panels.push(Panel {
        image: Image::new(mean, height, width)?,
        title: "mean".into(),
    });
    let cols = panels.len().min(5);
    let v_min = norm.velocity_center_km_s - norm.velocity_half_range_km_s;
    let v_max = norm.velocity_center_km_s + norm.velocity_half_range_km_s;
    let mut top = GridFigure::new(
        panels.len().div_ceil(cols),
        cols,
        panels,
        ColorScale::velocity(v_min, v_max),
    );
    top.title = title.to_string();
    let top = top.render()?;
    let scale = ColorScale::deviation(std.iter().copied());
    let mut bottom = GridFigure::new(
        1,
        1,
        vec![Panel {
            image: Image::new(std, height, width)?,
            title: "std".into(),
        }],
        scale,
    );
    bottom.cell_pixels = top_cell_pixels(width);
    Ok(stack(&[top, bottom.render()?]))
}

/// The automatic cell size of [`GridFigure`] for images of `width` columns.
fn top_cell_pixels(width: usize) -> usize {
    256usize.div_ceil(width).max(1)
}

/// Canvases one below the other, left-aligned, on white.
pub fn stack(parts: &[Canvas]) -> Canvas {
    let width = parts.iter().map(Canvas::width).max().unwrap_or(1);
    let height = parts.iter().map(Canvas::height).sum::<usize>().max(1);
    let mut out = Canvas::new(width, height, [255, 255, 255]);
    let mut y0 = 0;
    for part in parts {
        for y in 0..part.height() {
            for x in 0..part.width() {
                out.set(x, y0 + y, part.pixel(x, y));
            }
        }
        y0 += part.height();
    }
    out
}
