//! SEG-Y files for the wave commands: a preset's acquisition as a
//! [`powerpost_segy::ShotGeometry`], shots and RTM images in and out. The format itself
//! lives in the `powerpost-segy` crate; this module only maps presets onto it.
//!
//! A path is SEG-Y when its extension is `.sgy` or `.segy` (any case). Shots are written as
//! `shots × receivers` traces with the preset's source and receiver positions (metres) and
//! time step (µs) in the headers, and read back only if the file's geometry is the
//! preset's. RTM images are one trace per model column, the depth step in millimetres in
//! the sample-interval fields (see `powerpost_segy::geometry`).

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use clap::ValueEnum;
use powerpost_core::wave::Acquisition;
use powerpost_segy::{DepthImageGeometry, SampleFormat, ShotGeometry, TextEncoding};

/// The sample format of SEG-Y output.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegyFormat {
    /// 4-byte IEEE float (format 5): the samples bit for bit.
    Ieee,
    /// 4-byte IBM float (format 1): rounded to nearest, up to 3 bits of precision lost.
    Ibm,
}

impl SegyFormat {
    /// The crate's sample format.
    fn sample_format(self) -> SampleFormat {
        match self {
            SegyFormat::Ieee => SampleFormat::IeeeFloat,
            SegyFormat::Ibm => SampleFormat::IbmFloat,
        }
    }
}

/// True if `path` names a SEG-Y file (`.sgy` or `.segy`).
pub fn is_segy(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("sgy") || e.eq_ignore_ascii_case("segy"))
}

/// The output format for `out`: `--segy-format` (default IEEE) for SEG-Y outputs; an error
/// if it was given for another kind of output.
pub fn output_format(out: &Path, asked: Option<SegyFormat>) -> Result<SegyFormat> {
    match (is_segy(out), asked) {
        (true, asked) => Ok(asked.unwrap_or(SegyFormat::Ieee)),
        (false, None) => Ok(SegyFormat::Ieee),
        (false, Some(_)) => bail!(
            "--segy-format: {} is not a SEG-Y output (expected a .sgy or .segy extension)",
            out.display()
        ),
    }
}

/// The preset's acquisition as a shot geometry (positions in metres, time step in µs).
pub fn shot_geometry(a: &Acquisition) -> Result<ShotGeometry> {
    let core = |e: powerpost_core::Error| anyhow!("acquisition: {e}");
    let source_x = (0..a.n_sources)
        .map(|i| Ok(f64::from(a.source_position(i).map_err(core)?[1])))
        .collect::<Result<_>>()?;
    let receiver_x = (0..a.n_receivers)
        .map(|j| Ok(f64::from(a.receiver_position(j).map_err(core)?[1])))
        .collect::<Result<_>>()?;
    let us = f64::from(a.cfg.dt) * 1e6;
    let rounded = us.round();
    if (us - rounded).abs() > 1e-3 || !(1.0..=f64::from(i16::MAX)).contains(&rounded) {
        bail!(
            "the time step {} s is not a whole number of µs from 1 to 32767, as SEG-Y rev 1 needs",
            a.cfg.dt
        );
    }
    Ok(ShotGeometry {
        source_x,
        source_depth: f64::from(a.depth),
        receiver_x,
        receiver_depth: f64::from(a.depth),
        samples: a.cfg.nt,
        sample_interval_us: rounded as u16,
    })
}

/// Writes shots (`[shot][time][receiver]`) of a preset as SEG-Y, with `description` in
/// the textual header.
pub fn write_shots(
    path: &Path,
    a: &Acquisition,
    shots: &[f32],
    format: SegyFormat,
    description: &[String],
) -> Result<()> {
    let segy = shot_geometry(a)?
        .to_segy(
            shots,
            description,
            format.sample_format(),
            TextEncoding::Ebcdic,
        )
        .map_err(|e| anyhow!("{}", e.in_file(path)))?;
    powerpost_segy::write_file(path, &segy).map_err(|e| anyhow!("{e}"))
}

/// Reads SEG-Y shots of preset `preset` as `[shot][time][receiver]`, refusing a file whose
/// geometry is not the preset's or that holds non-finite samples.
pub fn read_shots(path: &Path, a: &Acquisition, preset: &str) -> Result<Vec<f32>> {
    let segy = powerpost_segy::read_file(path).map_err(|e| anyhow!("{e}"))?;
    let shots = shot_geometry(a)?
        .shots_from_segy(&segy)
        .map_err(|e| anyhow!("{} (preset {preset})", e.in_file(path)))?;
    if let Some(k) = segy.data.iter().position(|v| !v.is_finite()) {
        let n = segy.samples_per_trace;
        bail!(
            "{}: trace index {}, sample {}: {} is not finite; shots must be finite",
            path.display(),
            k / n,
            k % n,
            segy.data[k]
        );
    }
    Ok(shots)
}

/// Writes an image on the preset's model grid (`[z][x]`) as a SEG-Y depth section.
pub fn write_image(
    path: &Path,
    a: &Acquisition,
    image: &[f32],
    format: SegyFormat,
    description: &[String],
) -> Result<()> {
    let spacing = f64::from(a.model_spacing);
    let grid = DepthImageGeometry {
        nz: a.model_nz,
        nx: a.model_nx,
        dz: spacing,
        dx: spacing,
    };
    let segy = grid
        .to_segy(
            image,
            description,
            format.sample_format(),
            TextEncoding::Ebcdic,
        )
        .map_err(|e| anyhow!("{}", e.in_file(path)))?;
    powerpost_segy::write_file(path, &segy).map_err(|e| anyhow!("{e}"))
}

/// `text` reduced to printable ASCII capitals, at most `max` characters, for a textual
/// header line.
pub fn header_text(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if (' '..='~').contains(&c) {
                c.to_ascii_uppercase()
            } else {
                '?'
            }
        })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_map_onto_shot_geometries() {
        for (name, receivers, spacing) in [("paper", 256, 12.5), ("edge", 128, 25.0)] {
            let a = Acquisition::by_name(name).unwrap();
            let g = shot_geometry(&a).unwrap();
            assert_eq!((g.shots(), g.receivers(), g.samples), (16, receivers, 1441));
            assert_eq!(g.sample_interval_us, 1250);
            assert_eq!(g.receiver_x[3], 3.0 * spacing);
            assert_eq!((g.source_depth, g.receiver_depth), (25.0, 25.0));
            let width = (a.model_nx - 1) as f64 * spacing;
            assert_eq!(g.source_x[0], width / 32.0);
        }
    }

    #[test]
    fn segy_paths_and_formats() {
        assert!(is_segy(Path::new("a/b.sgy")) && is_segy(Path::new("B.SEGY")));
        assert!(!is_segy(Path::new("b.npy")) && !is_segy(Path::new("sgy")));
        assert_eq!(
            output_format(Path::new("x.sgy"), None).unwrap(),
            SegyFormat::Ieee
        );
        assert_eq!(
            output_format(Path::new("x.segy"), Some(SegyFormat::Ibm)).unwrap(),
            SegyFormat::Ibm
        );
        assert!(output_format(Path::new("x.npy"), Some(SegyFormat::Ibm)).is_err());
        assert_eq!(header_text("shots µ.npy", 8), "SHOTS ?.");
    }
}
