//! `powerpost plot`: draw velocity models or seismic images from a `.npy` file.

use super::MAX_GALLERY_PANELS;
use crate::figures::{ColorScale, Colormap, GridFigure, Image, Panel};
use crate::npy;
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// What the array holds.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Velocities in km/s (viridis between --v-min and --v-max).
    Velocity,
    /// Seismic amplitudes (red–white–blue, clipped at the --clip percentile).
    Seismic,
}

/// Options of `powerpost plot`.
#[derive(Args, Debug, Clone)]
pub struct PlotArgs {
    /// A 2-D (nz × nx) or 3-D (N × nz × nx) float32 .npy file.
    #[arg(long)]
    pub input: PathBuf,
    /// The PNG to write.
    #[arg(long)]
    pub png: PathBuf,
    /// What the array holds.
    #[arg(long, value_enum, default_value_t = Kind::Velocity)]
    pub kind: Kind,
    /// Lowest velocity of the colour scale (km/s).
    #[arg(long, default_value_t = 1.5)]
    pub v_min: f32,
    /// Highest velocity of the colour scale (km/s).
    #[arg(long, default_value_t = 4.5)]
    pub v_max: f32,
    /// Percentile of |amplitude| at which seismic images clip.
    #[arg(long, default_value_t = 98.0)]
    pub clip: f32,
    /// Columns of the grid for 3-D input.
    #[arg(long, default_value_t = 4)]
    pub cols: usize,
    /// Figure title.
    #[arg(long, default_value = "")]
    pub title: String,
}

/// Runs `powerpost plot`.
pub fn run(args: &PlotArgs) -> Result<()> {
    if args.cols == 0 {
        bail!("--cols: expected at least 1");
    }
    if !(0.0..=100.0).contains(&args.clip) {
        bail!(
            "--clip: expected a percentile within 0..=100, got {}",
            args.clip
        );
    }
    let array = npy::read_f32_ranks(&args.input, &[2, 3])?;
    let (n, nz, nx) = match array.shape[..] {
        [nz, nx] => (1, nz, nx),
        [n, nz, nx] => (n, nz, nx),
        _ => unreachable!("rank checked by read_f32_ranks"),
    };
    if n == 0 || nz == 0 || nx == 0 {
        bail!(
            "{}: expected a non-empty array, found shape {:?}",
            args.input.display(),
            array.shape
        );
    }
    let shown = n.min(MAX_GALLERY_PANELS);
    let panels = array
        .data
        .chunks_exact(nz * nx)
        .take(shown)
        .enumerate()
        .map(|(k, m)| {
            Ok(Panel {
                image: Image::new(m, nz, nx)?,
                title: if n > 1 {
                    format!("#{k}")
                } else {
                    String::new()
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let scale = match args.kind {
        Kind::Velocity => ColorScale::velocity(args.v_min, args.v_max),
        Kind::Seismic => {
            ColorScale::symmetric_percentile(&array.data, args.clip, Colormap::Seismic, "amplitude")
        }
    };
    let cols = args.cols.min(shown);
    let mut figure = GridFigure::new(shown.div_ceil(cols), cols, panels, scale);
    figure.title = args.title.clone();
    figure.render()?.save_png(&args.png)
}
