//! `powerpost geology`: generate seeded synthetic velocity models.

use super::{RunArgs, MAX_GALLERY_PANELS};
use crate::exec::{resolve_threads, PoolExecutor};
use crate::figures::{ColorScale, GridFigure, Image, Panel};
use crate::npy;
use crate::progress::Progress;
use anyhow::{anyhow, bail, Result};
use clap::Args;
use powerpost_core::exec::{Executor, SharedMut};
use powerpost_core::geology::{self, GeologyParams};
use std::path::PathBuf;
use std::sync::Mutex;

/// Options of `powerpost geology`.
#[derive(Args, Debug, Clone)]
pub struct GeologyArgs {
    /// Number of models.
    #[arg(long, default_value_t = 16)]
    pub n: usize,
    /// Seed; model k of a seed is the same whatever --n and --first are.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Index of the first model.
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    /// Rows (depth samples).
    #[arg(long, default_value_t = 64)]
    pub nz: usize,
    /// Columns.
    #[arg(long, default_value_t = 128)]
    pub nx: usize,
    /// Cell size in metres.
    #[arg(long, default_value_t = 25.0)]
    pub dx: f32,
    /// Lowest velocity (km/s); every value is clamped to [--v-min, --v-max].
    #[arg(long, default_value_t = 1.5)]
    pub v_min: f32,
    /// Highest velocity (km/s).
    #[arg(long, default_value_t = 4.5)]
    pub v_max: f32,
    /// Write the models as an N × nz × nx float32 .npy file (km/s).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a gallery PNG of the models (at most 64) with a colour bar.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Columns of the gallery grid.
    #[arg(long, default_value_t = 4)]
    pub gallery_cols: usize,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs `powerpost geology`.
pub fn run(args: &GeologyArgs) -> Result<()> {
    if args.out.is_none() && args.png.is_none() {
        bail!("nothing to do: give --out models.npy and/or --png gallery.png");
    }
    if args.n == 0 {
        bail!("--n: expected at least 1 model");
    }
    if args.gallery_cols == 0 {
        bail!("--gallery-cols: expected at least 1");
    }
    let mut params = GeologyParams::new(args.nz, args.nx, args.dx);
    params.v_min = args.v_min;
    params.v_max = args.v_max;
    params
        .validate()
        .map_err(|e| anyhow!("geology parameters (--nz, --nx, --dx, --v-min, --v-max): {e}"))?;
    let model_len = geology::model_len(&params);
    let Some(total) = model_len
        .checked_mul(args.n)
        .filter(|&t| t <= isize::MAX as usize / 4)
    else {
        bail!(
            "--n {} models of {} × {} do not fit in memory",
            args.n,
            args.nz,
            args.nx
        );
    };
    let mut models = vec![0.0f32; total];
    generate_all(&params, args.seed, args.first, &mut models, &args.run)?;

    if let Some(path) = &args.out {
        npy::write_f32(path, &[args.n, args.nz, args.nx], &models)?;
    }
    if let Some(path) = &args.png {
        let shown = args.n.min(MAX_GALLERY_PANELS);
        let panels = models
            .chunks_exact(model_len)
            .take(shown)
            .enumerate()
            .map(|(k, m)| {
                Ok(Panel {
                    image: Image::new(m, args.nz, args.nx)?,
                    title: format!("model {}", args.first + k as u64),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let cols = args.gallery_cols.min(shown);
        let mut figure = GridFigure::new(
            shown.div_ceil(cols),
            cols,
            panels,
            ColorScale::velocity(args.v_min, args.v_max),
        );
        figure.title = format!(
            "Synthetic geology, seed {}: {} × {} cells of {} m ({:.1} × {:.1} km)",
            args.seed,
            args.nz,
            args.nx,
            args.dx,
            args.nz as f32 * args.dx / 1000.0,
            args.nx as f32 * args.dx / 1000.0
        );
        figure.render()?.save_png(path)?;
    }
    Ok(())
}

/// Fills `models` (a multiple of one model's length) with models `first, first + 1, ...`.
pub fn generate_all(
    params: &GeologyParams,
    seed: u64,
    first: u64,
    models: &mut [f32],
    run: &RunArgs,
) -> Result<()> {
    let model_len = geology::model_len(params);
    let n = models.len() / model_len.max(1);
    let executor = PoolExecutor::new(resolve_threads(run.threads))?;
    let progress = Progress::new(n as u64, "models", run.quiet);
    let failure = Mutex::new(None);
    let shared = SharedMut::new(models);
    executor.for_each(n, &|k| {
        // SAFETY: task k alone writes model k's disjoint range, inside the buffer.
        let out = unsafe { shared.slice(k * model_len, model_len) };
        if let Err(err) = geology::generate(params, seed, first + k as u64, out) {
            failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(err);
        }
        progress.inc(1);
    });
    progress.finish();
    if let Some(err) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        bail!("geology generator: {err}");
    }
    Ok(())
}
