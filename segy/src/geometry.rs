//! The layouts powerpost writes, and the checks that a file read back has the geometry a
//! caller expects.
//!
//! # Shot gathers ([`ShotGeometry`])
//! A 2-D line: shots at `(source_x[s], source_depth)`, every shot recorded by the same
//! receivers at `(receiver_x[r], receiver_depth)`, in metres; `samples` time samples every
//! `sample_interval_us` µs. Traces go shot by shot, receivers in order (trace
//! `k = s · receivers + r`), with these trace-header fields:
//!
//! | field (bytes)                                   | value                          |
//! |-------------------------------------------------|--------------------------------|
//! | trace sequence in line / file (1–4, 5–8)        | `k + 1`                        |
//! | field record (9–12), energy source point (17–20)| `s + 1`                        |
//! | trace number in the field record (13–16)        | `r + 1`                        |
//! | trace identification code (29–30), data use (35–36) | 1 (seismic data), 1 (production) |
//! | offset (37–40)                                  | `receiver_x − source_x`, whole metres |
//! | receiver group elevation (41–44)                | `−receiver_depth` (below the surface) |
//! | source depth (49–52)                            | `source_depth`                 |
//! | elevation scalar (69–70)                        | chosen for the two depths ([`crate::scalar`]) |
//! | coordinate scalar (71–72)                       | chosen for all x positions     |
//! | source x (73–76), group x (81–84)               | positions; y (77–80, 85–88) 0  |
//! | coordinate units (89–90)                        | 1 (length, metres)             |
//! | samples (115–116), interval (117–118)           | `samples`, `sample_interval_us` |
//!
//! The binary header has one shot's receivers as traces per ensemble, sorting code 1 (as
//! recorded) and measurement system 1 (metres). Samples are stored trace by trace; the
//! in-memory layout callers use is `[shot][time][receiver]` (powerpost's `.npy` shots), and
//! [`ShotGeometry::to_segy`] / [`ShotGeometry::shots_from_segy`] transpose.
//!
//! # Depth images ([`DepthImageGeometry`])
//! An `nz × nx` image on a grid of `dz × dx` metres is one trace per column, `nz` samples
//! each. SEG-Y has no place for a depth step, so, as is the common convention for depth
//! sections, it goes in the sample-interval fields (3217–3218, 117–118) in millimetres:
//! `dz = 12.5 m` is stored as 12500, which tools that assume time read as 12.5 ms (“1 ms =
//! 1 m”). Column `ix` has ensemble (CDP) number `ix + 1` (21–24) and `x = ix · dx` in the
//! CDP x (181–184), source x and group x fields; sorting code 2 (CDP ensemble).
//!
//! # Checks
//! Reading back, the number of traces and samples and the sample interval must match
//! exactly, and each position must lie within half a unit of the file's own scalar of the
//! expected one (the rounding the writer does). Each mismatch is an
//! [`ErrorKind::Geometry`] or [`ErrorKind::Field`] naming the trace and field.

use crate::error::{field_error, Error, ErrorKind};
use crate::file::Segy;
use crate::format::SampleFormat;
use crate::header::{binary_field, trace_field, BinaryHeader, TraceHeader};
use crate::scalar::{apply, choose_scalar, resolution, store};
use crate::text::{TextEncoding, TextualHeader};

/// The acquisition geometry of a line of shot gathers (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ShotGeometry {
    /// Source x positions (m), one per shot.
    pub source_x: Vec<f64>,
    /// Source depth below the surface (m).
    pub source_depth: f64,
    /// Receiver x positions (m), the same for every shot.
    pub receiver_x: Vec<f64>,
    /// Receiver depth below the surface (m).
    pub receiver_depth: f64,
    /// Time samples per trace.
    pub samples: usize,
    /// Time step (µs).
    pub sample_interval_us: u16,
}

/// The grid of a depth image (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthImageGeometry {
    /// Rows (depth samples).
    pub nz: usize,
    /// Columns (traces).
    pub nx: usize,
    /// Row spacing (m).
    pub dz: f64,
    /// Column spacing (m).
    pub dx: f64,
}

/// `value` as a 4-byte header integer, or a geometry error naming `what`.
fn int32(value: usize, what: &str) -> Result<i32, Error> {
    i32::try_from(value).map_err(|_| {
        ErrorKind::Geometry {
            trace: None,
            what: what.to_string(),
            found: value.to_string(),
            expected: format!("at most {}", i32::MAX),
        }
        .into()
    })
}

/// `value` as a 2-byte header integer, or an error naming the binary-header `field`.
fn int16(value: usize, field: crate::field::Field) -> Result<i16, Error> {
    i16::try_from(value)
        .map_err(|_| field_error(None, field, value, format!("at most {}", i16::MAX)))
}

/// `value` stored under `scalar` (already checked to fit by [`choose_scalar`]).
fn stored(value: f64, scalar: i16) -> i32 {
    store(value, scalar).unwrap_or(0)
}

/// True if `found` (stored under `scalar`) is the stored form of `expected`.
fn close(found: f64, expected: f64, scalar: i16) -> bool {
    let tolerance = 0.5 * resolution(scalar) * (1.0 + 1e-9) + 1e-12 * expected.abs().max(1.0);
    (found - expected).abs() <= tolerance
}

/// Checks the trace count, samples per trace and sample interval of `segy`.
fn check_layout(
    segy: &Segy,
    traces: usize,
    traces_meaning: &str,
    samples: usize,
    interval: u16,
    interval_meaning: &str,
) -> Result<(), Error> {
    if segy.traces() != traces {
        return Err(ErrorKind::Geometry {
            trace: None,
            what: "the number of traces".to_string(),
            found: segy.traces().to_string(),
            expected: format!("{traces} ({traces_meaning})"),
        }
        .into());
    }
    if segy.traces().checked_mul(segy.samples_per_trace) != Some(segy.data.len()) {
        return Err(ErrorKind::DataLength {
            traces: segy.traces(),
            samples: segy.samples_per_trace,
            found: segy.data.len(),
        }
        .into());
    }
    if segy.samples_per_trace != samples || samples == 0 {
        let expected = if samples == 0 {
            "more than 0".to_string()
        } else {
            samples.to_string()
        };
        return Err(field_error(
            None,
            binary_field::samples_per_trace,
            segy.samples_per_trace,
            expected,
        ));
    }
    if segy.sample_interval() != f64::from(interval) {
        return Err(field_error(
            None,
            binary_field::sample_interval,
            segy.sample_interval(),
            format!("{interval} ({interval_meaning})"),
        ));
    }
    if segy.binary.measurement_system == 2 {
        return Err(field_error(
            None,
            binary_field::measurement_system,
            2,
            "1 or 0 (metres)",
        ));
    }
    Ok(())
}

/// Checks one scaled position of a trace.
fn check_position(
    trace: usize,
    what: String,
    found: f64,
    expected: f64,
    scalar: i16,
) -> Result<(), Error> {
    if close(found, expected, scalar) {
        return Ok(());
    }
    Err(ErrorKind::Geometry {
        trace: Some(trace),
        what,
        found: format!("{found} m"),
        expected: format!("{expected} m"),
    }
    .into())
}

/// The name of a format in textual-header capitals.
fn format_words(format: SampleFormat) -> &'static str {
    match format {
        SampleFormat::IbmFloat => "4-BYTE IBM FLOAT",
        SampleFormat::IeeeFloat => "4-BYTE IEEE FLOAT",
        _ => "INTEGER",
    }
}

impl ShotGeometry {
    /// Number of shots.
    pub fn shots(&self) -> usize {
        self.source_x.len()
    }

    /// Number of receivers.
    pub fn receivers(&self) -> usize {
        self.receiver_x.len()
    }

    /// Number of traces (shots × receivers).
    pub fn traces(&self) -> usize {
        self.shots() * self.receivers()
    }

    /// A SEG-Y file of `shots` (`[shot][time][receiver]`) with this geometry in its
    /// headers; the textual header holds `description` (at most 32 lines of at most 76
    /// printable ASCII characters) followed by six lines on the layout.
    ///
    /// # Errors
    /// [`ErrorKind::DataLength`] if `shots` is not shots × samples × receivers long,
    /// [`ErrorKind::Geometry`] / [`ErrorKind::Field`] for positions or counts that do not
    /// fit their header fields, [`ErrorKind::TextualHeader`] for a bad description.
    pub fn to_segy(
        &self,
        shots: &[f32],
        description: &[String],
        format: SampleFormat,
        encoding: TextEncoding,
    ) -> Result<Segy, Error> {
        let (n_shots, n_receivers, ns) = (self.shots(), self.receivers(), self.samples);
        if self.traces().checked_mul(ns) != Some(shots.len()) {
            return Err(ErrorKind::DataLength {
                traces: self.traces(),
                samples: ns,
                found: shots.len(),
            }
            .into());
        }
        int32(self.traces(), "the number of traces")?;
        let xs: Vec<f64> = self
            .source_x
            .iter()
            .chain(&self.receiver_x)
            .copied()
            .collect();
        let coordinate_scalar = choose_scalar(&xs, "a source or receiver x (m)")?;
        let elevation_scalar = choose_scalar(
            &[self.source_depth, -self.receiver_depth],
            "the source or receiver depth (m)",
        )?;
        let mut lines = description.to_vec();
        lines.extend([
            format!(
                "SEG-Y REV 1, BIG-ENDIAN, FORMAT {} ({}), {} TRACES",
                format.code(),
                format_words(format),
                self.traces()
            ),
            format!(
                "{n_shots} SHOTS X {n_receivers} RECEIVERS, {ns} SAMPLES EVERY {} US",
                self.sample_interval_us
            ),
            "TRACES SHOT BY SHOT: FIELD RECORD (9-12) = SHOT + 1,".to_string(),
            "TRACE NUMBER (13-16) = RECEIVER + 1, SEQUENCE (1-4, 5-8) = TRACE + 1".to_string(),
            format!("X IN M: SOURCE 73-76, GROUP 81-84, SCALAR 71-72 = {coordinate_scalar}; Y = 0"),
            format!(
                "DEPTH IN M: SOURCE 49-52, GROUP 41-44 = -DEPTH, SCALAR 69-70 = {elevation_scalar}"
            ),
        ]);
        let text = TextualHeader::with_description(&lines, encoding)?;
        let binary = BinaryHeader {
            job_id: 1,
            line_number: 1,
            reel_number: 1,
            traces_per_ensemble: int16(n_receivers, binary_field::traces_per_ensemble)?,
            sample_interval: self.sample_interval_us,
            samples_per_trace: u16::try_from(ns).unwrap_or(u16::MAX),
            format_code: format.code(),
            ensemble_fold: 1,
            sorting_code: 1,
            measurement_system: 1,
            ..BinaryHeader::default()
        };
        let mut headers = Vec::with_capacity(self.traces());
        let mut data = vec![0.0f32; shots.len()];
        let mut k = 0;
        for (s, &sx) in self.source_x.iter().enumerate() {
            for (r, &rx) in self.receiver_x.iter().enumerate() {
                headers.push(TraceHeader {
                    trace_sequence_line: k as i32 + 1,
                    trace_sequence_file: k as i32 + 1,
                    field_record: s as i32 + 1,
                    trace_number: r as i32 + 1,
                    energy_source_point: s as i32 + 1,
                    trace_id: 1,
                    vertically_summed: 1,
                    horizontally_stacked: 1,
                    data_use: 1,
                    offset: stored(rx - sx, 1),
                    receiver_elevation: stored(-self.receiver_depth, elevation_scalar),
                    source_depth: stored(self.source_depth, elevation_scalar),
                    elevation_scalar,
                    coordinate_scalar,
                    source_x: stored(sx, coordinate_scalar),
                    group_x: stored(rx, coordinate_scalar),
                    coordinate_units: 1,
                    sample_count: binary.samples_per_trace,
                    sample_interval: self.sample_interval_us,
                    ..TraceHeader::default()
                });
                let trace = &mut data[k * ns..(k + 1) * ns];
                for (t, v) in trace.iter_mut().enumerate() {
                    *v = shots[(s * ns + t) * n_receivers + r];
                }
                k += 1;
            }
        }
        Ok(Segy {
            text,
            extended_text_headers: 0,
            binary,
            byte_order: crate::ByteOrder::Big,
            format,
            samples_per_trace: ns,
            headers,
            data,
        })
    }

    /// Checks that `segy` holds this geometry: trace count, samples, sample interval, and
    /// each trace's source and receiver x and depth (see the module docs).
    ///
    /// # Errors
    /// [`ErrorKind::Geometry`] or [`ErrorKind::Field`] for the first mismatch.
    pub fn check(&self, segy: &Segy) -> Result<(), Error> {
        check_layout(
            segy,
            self.traces(),
            &format!("{} shots × {} receivers", self.shots(), self.receivers()),
            self.samples,
            self.sample_interval_us,
            "µs",
        )?;
        let n_receivers = self.receivers();
        for (k, h) in segy.headers.iter().enumerate() {
            let (s, r) = (k / n_receivers, k % n_receivers);
            let xy = |f| format!("{f} scaled by bytes 71–72");
            let z = |f| format!("{f} scaled by bytes 69–70");
            check_position(
                k,
                format!("the source x of shot {s}: {}", xy(trace_field::source_x)),
                apply(h.source_x, h.coordinate_scalar),
                self.source_x[s],
                h.coordinate_scalar,
            )?;
            check_position(
                k,
                format!(
                    "the receiver x of receiver {r}: {}",
                    xy(trace_field::group_x)
                ),
                apply(h.group_x, h.coordinate_scalar),
                self.receiver_x[r],
                h.coordinate_scalar,
            )?;
            check_position(
                k,
                format!("the source depth: {}", z(trace_field::source_depth)),
                apply(h.source_depth, h.elevation_scalar),
                self.source_depth,
                h.elevation_scalar,
            )?;
            check_position(
                k,
                format!(
                    "the receiver depth: minus the {}",
                    z(trace_field::receiver_elevation)
                ),
                -apply(h.receiver_elevation, h.elevation_scalar),
                self.receiver_depth,
                h.elevation_scalar,
            )?;
        }
        Ok(())
    }

    /// The shots of `segy` as `[shot][time][receiver]`, after [`ShotGeometry::check`].
    ///
    /// # Errors
    /// As [`ShotGeometry::check`].
    pub fn shots_from_segy(&self, segy: &Segy) -> Result<Vec<f32>, Error> {
        self.check(segy)?;
        let (n_receivers, ns) = (self.receivers(), self.samples);
        let mut shots = vec![0.0f32; segy.data.len()];
        for (k, trace) in segy.data.chunks_exact(ns).enumerate() {
            let (s, r) = (k / n_receivers, k % n_receivers);
            for (t, &v) in trace.iter().enumerate() {
                shots[(s * ns + t) * n_receivers + r] = v;
            }
        }
        Ok(shots)
    }
}

impl DepthImageGeometry {
    /// The depth step in millimetres, as stored in the sample interval.
    ///
    /// # Errors
    /// [`ErrorKind::Geometry`] unless `dz` is a whole number of millimetres from 1 to 32767.
    pub fn dz_millimetres(&self) -> Result<u16, Error> {
        let mm = self.dz * 1000.0;
        let rounded = mm.round();
        if (mm - rounded).abs() <= 1e-6 * mm.abs() && (1.0..=f64::from(i16::MAX)).contains(&rounded)
        {
            return Ok(rounded as u16);
        }
        Err(ErrorKind::Geometry {
            trace: None,
            what: "the depth step dz, stored in mm as the sample interval".to_string(),
            found: format!("{} m", self.dz),
            expected: "a whole number of millimetres from 0.001 to 32.767 m".to_string(),
        }
        .into())
    }

    /// A SEG-Y file of `image` (`[z][x]`, row-major) with this grid in its headers; the
    /// textual header holds `description` (at most 34 lines of at most 76 printable ASCII
    /// characters) followed by four lines on the layout.
    ///
    /// # Errors
    /// [`ErrorKind::DataLength`] if `image` is not `nz · nx` long, and as
    /// [`DepthImageGeometry::dz_millimetres`] and [`ShotGeometry::to_segy`].
    pub fn to_segy(
        &self,
        image: &[f32],
        description: &[String],
        format: SampleFormat,
        encoding: TextEncoding,
    ) -> Result<Segy, Error> {
        let (nz, nx) = (self.nz, self.nx);
        if nz.checked_mul(nx) != Some(image.len()) {
            return Err(ErrorKind::DataLength {
                traces: nx,
                samples: nz,
                found: image.len(),
            }
            .into());
        }
        int32(nx, "the number of traces")?;
        let dz_mm = self.dz_millimetres()?;
        let xs: Vec<f64> = (0..nx).map(|ix| ix as f64 * self.dx).collect();
        let coordinate_scalar = choose_scalar(&xs, "a column x (m)")?;
        let mut lines = description.to_vec();
        lines.extend([
            format!(
                "SEG-Y REV 1, BIG-ENDIAN, FORMAT {} ({}), DEPTH IMAGE",
                format.code(),
                format_words(format)
            ),
            format!("{nx} TRACES (ONE PER COLUMN, CDP 21-24 = COLUMN + 1) OF {nz} DEPTH SAMPLES"),
            format!(
                "DZ = {} M STORED IN MM AS THE SAMPLE INTERVAL (3217-3218, 117-118)",
                self.dz
            ),
            format!(
                "X = COLUMN * {} M: CDP X 181-184 = SOURCE X = GROUP X, SCALAR 71-72",
                self.dx
            ),
        ]);
        let text = TextualHeader::with_description(&lines, encoding)?;
        let binary = BinaryHeader {
            job_id: 1,
            line_number: 1,
            reel_number: 1,
            traces_per_ensemble: 1,
            sample_interval: dz_mm,
            samples_per_trace: u16::try_from(nz).unwrap_or(u16::MAX),
            format_code: format.code(),
            ensemble_fold: 1,
            sorting_code: 2,
            measurement_system: 1,
            ..BinaryHeader::default()
        };
        let mut headers = Vec::with_capacity(nx);
        let mut data = vec![0.0f32; image.len()];
        for (ix, &x) in xs.iter().enumerate() {
            let x = stored(x, coordinate_scalar);
            headers.push(TraceHeader {
                trace_sequence_line: ix as i32 + 1,
                trace_sequence_file: ix as i32 + 1,
                ensemble_number: ix as i32 + 1,
                trace_in_ensemble: 1,
                trace_id: 1,
                vertically_summed: 1,
                horizontally_stacked: 1,
                data_use: 1,
                coordinate_scalar,
                source_x: x,
                group_x: x,
                cdp_x: x,
                coordinate_units: 1,
                sample_count: binary.samples_per_trace,
                sample_interval: dz_mm,
                ..TraceHeader::default()
            });
            for (iz, v) in data[ix * nz..(ix + 1) * nz].iter_mut().enumerate() {
                *v = image[iz * nx + ix];
            }
        }
        Ok(Segy {
            text,
            extended_text_headers: 0,
            binary,
            byte_order: crate::ByteOrder::Big,
            format,
            samples_per_trace: nz,
            headers,
            data,
        })
    }

    /// The image of `segy` as `[z][x]`, after checking the trace count, samples, depth step
    /// and each column's CDP x.
    ///
    /// # Errors
    /// [`ErrorKind::Geometry`] or [`ErrorKind::Field`] for the first mismatch.
    pub fn image_from_segy(&self, segy: &Segy) -> Result<Vec<f32>, Error> {
        let dz_mm = self.dz_millimetres()?;
        check_layout(segy, self.nx, "columns", self.nz, dz_mm, "dz in mm")?;
        for (ix, h) in segy.headers.iter().enumerate() {
            check_position(
                ix,
                format!(
                    "the x of column {ix}: {} scaled by bytes 71–72",
                    trace_field::cdp_x
                ),
                apply(h.cdp_x, h.coordinate_scalar),
                ix as f64 * self.dx,
                h.coordinate_scalar,
            )?;
        }
        let nz = self.nz;
        let mut image = vec![0.0f32; segy.data.len()];
        for (ix, trace) in segy.data.chunks_exact(nz).enumerate() {
            for (iz, &v) in trace.iter().enumerate() {
                image[iz * self.nx + ix] = v;
            }
        }
        Ok(image)
    }
}
