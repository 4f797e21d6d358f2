//! A SEG-Y file in memory: its headers and its samples as `f32`.

use crate::endian::ByteOrder;
use crate::format::SampleFormat;
use crate::header::{BinaryHeader, TraceHeader};
use crate::text::TextualHeader;

/// A whole SEG-Y file: what [`crate::read_file`] returns and [`crate::write_file`] takes.
///
/// Samples are stored trace after trace: trace `i` is
/// `data[i · samples_per_trace .. (i + 1) · samples_per_trace]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Segy {
    /// The textual file header.
    pub text: TextualHeader,
    /// How many extended textual headers the file had (read only: they are skipped, and
    /// the writer writes none).
    pub extended_text_headers: usize,
    /// The binary file header, as read (the writer sets the fields it owns, see
    /// [`crate::write`]).
    pub binary: BinaryHeader,
    /// The byte order the file was read in (the writer always writes big-endian).
    pub byte_order: ByteOrder,
    /// The sample format.
    pub format: SampleFormat,
    /// Samples in every trace.
    pub samples_per_trace: usize,
    /// One header per trace.
    pub headers: Vec<TraceHeader>,
    /// The samples, trace after trace.
    pub data: Vec<f32>,
}

impl Segy {
    /// Number of traces.
    pub fn traces(&self) -> usize {
        self.headers.len()
    }

    /// The samples of trace `index`, if there is such a trace.
    pub fn trace(&self, index: usize) -> Option<&[f32]> {
        let n = self.samples_per_trace;
        self.data
            .get(index.checked_mul(n)?..index.checked_add(1)?.checked_mul(n)?)
    }

    /// The sample interval in the binary header's unit (µs for time data): the rev 2
    /// extended interval (bytes 3273–3280) when the revision is 2 or later and it is
    /// positive, else bytes 3217–3218, else (when those are 0) the first trace header's.
    pub fn sample_interval(&self) -> f64 {
        let b = &self.binary;
        if b.revision_major() >= 2 && b.extended_sample_interval > 0.0 {
            b.extended_sample_interval
        } else if b.sample_interval != 0 {
            f64::from(b.sample_interval)
        } else {
            self.headers
                .first()
                .map_or(0.0, |h| f64::from(h.sample_interval))
        }
    }
}
