//! Writing: a [`Segy`] to bytes or to a file, as SEG-Y rev 1, big-endian.
//!
//! The writer owns the fields that describe the layout and sets them from the [`Segy`]:
//! in the binary header the data sample format code, samples per trace, revision (0x0100),
//! fixed-length flag (1) and extended textual header count (0), with every rev 2 field
//! (bytes 3261–3300, 3507–3532) zeroed; in each trace header the sample count and the
//! sample interval (copied from the binary header). Everything else is written as given.
//! The textual header is written in its own encoding (EBCDIC by default).
//!
//! Samples are written in format 5 (IEEE, bit for bit) or 1 (IBM, rounded to nearest,
//! see [`crate::ibm`]). Checks come first, so a refused file leaves nothing on disk:
//! the format must be 1 or 5, samples per trace and the sample interval from 1 to 32767
//! (2-byte fields that rev 1 reads as signed), the data exactly traces × samples long,
//! and every sample finite.

use std::path::Path;

use crate::atomic::write_atomic;
use crate::endian::ByteOrder;
use crate::error::{field_error, Error, ErrorKind};
use crate::file::Segy;
use crate::header::{binary_field, BinaryHeader};
use crate::{HEADERS_END, TRACE_HEADER_LEN};

/// The largest value of a 2-byte field that readers may take as signed.
const MAX_I16: usize = i16::MAX as usize;

/// The binary header as written (see the module docs).
fn binary_to_write(segy: &Segy) -> BinaryHeader {
    BinaryHeader {
        format_code: segy.format.code(),
        samples_per_trace: segy.samples_per_trace as u16,
        revision: 0x0100,
        fixed_length_flag: 1,
        extended_textual_headers: 0,
        extended_traces_per_ensemble: 0,
        extended_aux_traces_per_ensemble: 0,
        extended_samples_per_trace: 0,
        extended_sample_interval: 0.0,
        extended_original_sample_interval: 0.0,
        extended_original_samples_per_trace: 0,
        extended_ensemble_fold: 0,
        byte_order_word: 0,
        additional_trace_headers: 0,
        time_basis_code: 0,
        number_of_traces: 0,
        first_trace_offset: 0,
        trailer_records: 0,
        ..segy.binary
    }
}

/// Checks what the writer needs (see the module docs).
fn check(segy: &Segy) -> Result<(), Error> {
    if !segy.format.is_writable() {
        return Err(field_error(
            None,
            binary_field::format_code,
            segy.format.code(),
            "1 (IBM float) or 5 (IEEE float) for writing",
        ));
    }
    if !(1..=MAX_I16).contains(&segy.samples_per_trace) {
        return Err(field_error(
            None,
            binary_field::samples_per_trace,
            segy.samples_per_trace,
            format!("1 to {MAX_I16} in a rev 1 file"),
        ));
    }
    if !(1..=MAX_I16).contains(&usize::from(segy.binary.sample_interval)) {
        return Err(field_error(
            None,
            binary_field::sample_interval,
            segy.binary.sample_interval,
            format!("1 to {MAX_I16}"),
        ));
    }
    let expected = segy.headers.len().checked_mul(segy.samples_per_trace);
    if expected != Some(segy.data.len()) {
        return Err(ErrorKind::DataLength {
            traces: segy.headers.len(),
            samples: segy.samples_per_trace,
            found: segy.data.len(),
        }
        .into());
    }
    if let Some(k) = segy.data.iter().position(|v| !v.is_finite()) {
        return Err(ErrorKind::NonFiniteSample {
            trace: k / segy.samples_per_trace,
            sample: k % segy.samples_per_trace,
            value: segy.data[k],
        }
        .into());
    }
    Ok(())
}

/// The file's bytes: SEG-Y rev 1, big-endian (see the module docs).
///
/// # Errors
/// [`ErrorKind::Field`] for a format other than 1 or 5 or a sample count or interval out
/// of range, [`ErrorKind::DataLength`], [`ErrorKind::NonFiniteSample`].
pub fn to_bytes(segy: &Segy) -> Result<Vec<u8>, Error> {
    check(segy)?;
    let order = ByteOrder::Big;
    let binary = binary_to_write(segy);
    let ns = segy.samples_per_trace;
    let trace_len = TRACE_HEADER_LEN + ns * 4;
    let mut out = Vec::with_capacity(HEADERS_END + segy.headers.len() * trace_len);
    out.extend_from_slice(&segy.text.to_bytes());
    out.extend_from_slice(&binary.to_bytes(order));
    for (header, samples) in segy.headers.iter().zip(segy.data.chunks_exact(ns)) {
        let mut header = *header;
        header.sample_count = binary.samples_per_trace;
        header.sample_interval = binary.sample_interval;
        out.extend_from_slice(&header.to_bytes(order));
        segy.format.encode_big_endian(samples, &mut out);
    }
    Ok(out)
}

/// Writes `segy` to `path` atomically (temporary file in the same directory, then rename).
///
/// # Errors
/// Those of [`to_bytes`] (then nothing is created) and [`ErrorKind::Io`]; all name `path`.
pub fn write_file(path: &Path, segy: &Segy) -> Result<(), Error> {
    let bytes = to_bytes(segy).map_err(|e| e.in_file(path))?;
    write_atomic(path, &bytes)
}
