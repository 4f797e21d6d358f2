//! Acquisition presets.
//!
//! - `paper`: model 256 × 256 at 12.5 m, modelled on the same grid; 16 sources and 256
//!   receivers (one per column) at 25 m depth; 15 Hz Ricker (delay 0.1 s); 1.8 s record
//!   with `Δt = 1.25 ms` (1441 samples; stable up to 5.4 km/s, 8 points per wavelength at
//!   15 Hz for 1.5 km/s water); 16-point C-PML
//!   ([`DEFAULT_PML_WIDTH`](super::config::DEFAULT_PML_WIDTH), the default of
//!   [`WaveConfig::new`]) on all sides, no free surface.
//! - `edge`: model 64 × 128 at 25 m, modelled on the 2× finer grid 127 × 255 at 12.5 m
//!   whose even points coincide with the model's points (the model is refined by bilinear
//!   interpolation, [`Acquisition::refine_model`]); 16 sources and 128 receivers (one per
//!   model column), otherwise as `paper`. Images come back on the model grid by taking
//!   the coincident points ([`Acquisition::coarsen`]).
//! - `tiny`: the `paper` set-up on a 16 × 32 model at 12.5 m with 4 sources, 32 receivers
//!   and a 0.5 s record (401 samples): thousands of times cheaper than `edge`, for smoke
//!   tests and file round trips (models this small carry little geology).
//!
//! Sources sit at `x = (i + ½)·X/n_sources` (`X` the model width), both at depth
//! `2·h_fine`.

use crate::error::{check_len, Error};

use super::config::WaveConfig;

/// A named acquisition set-up: model grid, modelling grid and geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Acquisition {
    /// Model rows.
    pub model_nz: usize,
    /// Model columns.
    pub model_nx: usize,
    /// Model spacing (m).
    pub model_spacing: f32,
    /// Modelling grid refinement factor (1 or 2).
    pub refine: usize,
    /// Modelling configuration (on the refined grid).
    pub cfg: WaveConfig,
    /// Number of sources.
    pub n_sources: usize,
    /// Number of receivers.
    pub n_receivers: usize,
    /// Source and receiver depth (m).
    pub depth: f32,
}

impl Acquisition {
    /// The `paper` preset.
    pub fn paper() -> Self {
        Self::build(256, 256, 12.5, 1, 256)
    }

    /// The `edge` preset.
    pub fn edge() -> Self {
        Self::build(64, 128, 25.0, 2, 128)
    }

    /// The `tiny` preset (smoke tests).
    pub fn tiny() -> Self {
        let mut a = Self::build_with(16, 32, 12.5, 1, 32, 401);
        a.n_sources = 4;
        a
    }

    /// A preset by name (`"paper"`, `"edge"` or `"tiny"`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for other names.
    pub fn by_name(name: &str) -> Result<Self, Error> {
        match name {
            "paper" => Ok(Self::paper()),
            "edge" => Ok(Self::edge()),
            "tiny" => Ok(Self::tiny()),
            _ => Err(Error::InvalidArgument {
                name: "preset",
                expected: "`paper`, `edge` or `tiny`",
            }),
        }
    }

    fn build(nz: usize, nx: usize, spacing: f32, refine: usize, n_receivers: usize) -> Self {
        Self::build_with(nz, nx, spacing, refine, n_receivers, 1441)
    }

    fn build_with(
        nz: usize,
        nx: usize,
        spacing: f32,
        refine: usize,
        n_receivers: usize,
        nt: usize,
    ) -> Self {
        let h = spacing / refine as f32;
        let (fz, fx) = (refine * (nz - 1) + 1, refine * (nx - 1) + 1);
        let mut cfg = WaveConfig::new(fz, fx, h, 1.25e-3, nt, 15.0);
        cfg.source_delay = 0.1;
        Self {
            model_nz: nz,
            model_nx: nx,
            model_spacing: spacing,
            refine,
            cfg,
            n_sources: 16,
            n_receivers,
            depth: 2.0 * h,
        }
    }

    /// Position `[z, x]` (m) of source `i`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `i ≥ n_sources`.
    pub fn source_position(&self, i: usize) -> Result<[f32; 2], Error> {
        if i >= self.n_sources {
            return Err(Error::InvalidArgument {
                name: "source",
                expected: "an index below n_sources",
            });
        }
        let width = (self.model_nx - 1) as f32 * self.model_spacing;
        Ok([
            self.depth,
            crate::detmath::div((i as f32 + 0.5) * width, self.n_sources as f32),
        ])
    }

    /// Position `[z, x]` (m) of receiver `j` (one per model column).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `j ≥ n_receivers`.
    pub fn receiver_position(&self, j: usize) -> Result<[f32; 2], Error> {
        if j >= self.n_receivers {
            return Err(Error::InvalidArgument {
                name: "receiver",
                expected: "an index below n_receivers",
            });
        }
        Ok([self.depth, j as f32 * self.model_spacing])
    }

    /// Refines a model-grid field (`model_nz × model_nx`) to the modelling grid by
    /// bilinear interpolation (identity when `refine = 1`).
    ///
    /// # Errors
    /// [`Error::BufferLength`] for wrong sizes.
    pub fn refine_model(&self, model: &[f32], out: &mut [f32]) -> Result<(), Error> {
        check_len("model", model.len(), self.model_nz * self.model_nx)?;
        check_len("refined", out.len(), self.cfg.nz * self.cfg.nx)?;
        let (r, nx, fnx) = (self.refine, self.model_nx, self.cfg.nx);
        for iz in 0..self.cfg.nz {
            let (z0, wz) = (iz / r, (iz % r) as f32 / r as f32);
            let z1 = (z0 + 1).min(self.model_nz - 1);
            for ix in 0..fnx {
                let (x0, wx) = (ix / r, (ix % r) as f32 / r as f32);
                let x1 = (x0 + 1).min(nx - 1);
                let top = (1.0 - wx) * model[z0 * nx + x0] + wx * model[z0 * nx + x1];
                let bottom = (1.0 - wx) * model[z1 * nx + x0] + wx * model[z1 * nx + x1];
                out[iz * fnx + ix] = (1.0 - wz) * top + wz * bottom;
            }
        }
        Ok(())
    }

    /// Takes the modelling-grid points that coincide with model-grid points.
    ///
    /// # Errors
    /// [`Error::BufferLength`] for wrong sizes.
    pub fn coarsen(&self, fine: &[f32], out: &mut [f32]) -> Result<(), Error> {
        check_len("fine", fine.len(), self.cfg.nz * self.cfg.nx)?;
        check_len("coarse", out.len(), self.model_nz * self.model_nx)?;
        for iz in 0..self.model_nz {
            for ix in 0..self.model_nx {
                out[iz * self.model_nx + ix] =
                    fine[iz * self.refine * self.cfg.nx + ix * self.refine];
            }
        }
        Ok(())
    }
}
