//! Reading: bytes (or a file) to a [`Segy`].
//!
//! 1. Textual header: 3200 bytes, encoding detected ([`crate::text`]).
//! 2. Byte order: the rev 2 byte-order word (bytes 3297–3300) when it is exactly
//!    `0x01020304` read one way; otherwise the order in which the data sample format code
//!    is an assigned code (1–12, 15, 16): a big-endian code `c` reads as `c · 256` in
//!    little-endian, which no assigned code is, so at most one order is plausible.
//!    Big-endian wins if both were.
//! 3. Binary header in that order; the format must be one of 1, 2, 3, 5, 8.
//! 4. Extended textual headers (revision 1 or later): skipped, `n` blocks of 3200 bytes
//!    (bytes 3505–3506), or with `−1` (rev 2) up to and including the block holding the
//!    `((SEG: EndText))` stanza.
//! 5. Rev 2 and later: refuses additional trace headers and data trailers; checks the
//!    first-trace offset and the trace count when set; the extended sample count
//!    (bytes 3269–3272), when positive, overrides bytes 3221–3222.
//! 6. Samples per trace from the binary header, or from the first trace header when the
//!    binary header says 0. The traces must fill the rest of the file exactly, each trace
//!    header's sample count must be 0 or that number (traces of different lengths are
//!    refused), and its sample interval 0 or the binary header's.

use std::path::Path;

use crate::endian::{ByteOrder, Number};
use crate::error::{field_error, Error, ErrorKind, Part};
use crate::file::Segy;
use crate::format::{is_assigned_code, SampleFormat};
use crate::header::{binary_field, trace_field, BinaryHeader, TraceHeader};
use crate::text::TextualHeader;
use crate::{HEADERS_END, TEXT_HEADER_LEN, TRACE_HEADER_LEN};

/// The `N` bytes at `at`, if the buffer holds them.
fn block<const N: usize>(bytes: &[u8], at: usize) -> Option<&[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// A truncation error for `part`, which needs `expected` bytes from `at`.
fn truncated(bytes: &[u8], part: Part, at: usize, expected: usize) -> Error {
    ErrorKind::Truncated {
        part,
        expected: expected as u64,
        found: bytes.len().saturating_sub(at) as u64,
    }
    .into()
}

/// The byte order of a file whose first 3600 bytes are `headers` (see the module docs).
///
/// # Errors
/// [`ErrorKind::UnknownByteOrder`] if neither order gives an assigned format code and the
/// byte-order word is not set.
pub fn detect_byte_order(headers: &[u8; HEADERS_END]) -> Result<ByteOrder, Error> {
    let word = u32::read(&headers[3296..], ByteOrder::Big);
    match word {
        0x0102_0304 => return Ok(ByteOrder::Big),
        0x0403_0201 => return Ok(ByteOrder::Little),
        _ => {}
    }
    let big = i16::read(&headers[3224..], ByteOrder::Big);
    let little = i16::read(&headers[3224..], ByteOrder::Little);
    if is_assigned_code(big) {
        Ok(ByteOrder::Big)
    } else if is_assigned_code(little) {
        Ok(ByteOrder::Little)
    } else {
        Err(ErrorKind::UnknownByteOrder {
            big_endian: big,
            little_endian: little,
            word,
        }
        .into())
    }
}

/// Bytes taken by extended textual headers starting at `at` (see the module docs).
fn extended_headers(bytes: &[u8], binary: &BinaryHeader) -> Result<usize, Error> {
    let count = binary.extended_textual_headers;
    if binary.revision_major() == 0 || count == 0 {
        return Ok(0);
    }
    if count > 0 {
        let count = count as usize;
        let needed = count * TEXT_HEADER_LEN;
        if bytes.len() < HEADERS_END + needed {
            let k = (bytes.len() - HEADERS_END) / TEXT_HEADER_LEN;
            return Err(truncated(
                bytes,
                Part::ExtendedTextualHeader(k),
                HEADERS_END + k * TEXT_HEADER_LEN,
                TEXT_HEADER_LEN,
            ));
        }
        return Ok(count);
    }
    if count != -1 {
        return Err(field_error(
            None,
            binary_field::extended_textual_headers,
            count,
            "-1 (a variable number, rev 2) or a count from 0",
        ));
    }
    let mut k = 0;
    loop {
        let at = HEADERS_END + k * TEXT_HEADER_LEN;
        let Some(block) = block::<TEXT_HEADER_LEN>(bytes, at) else {
            return Err(truncated(
                bytes,
                Part::ExtendedTextualHeader(k),
                at,
                TEXT_HEADER_LEN,
            ));
        };
        k += 1;
        let text = TextualHeader::parse(block)
            .lines
            .concat()
            .to_ascii_uppercase();
        if text.replace(' ', "").contains("((SEG:ENDTEXT))") {
            return Ok(k);
        }
    }
}

/// Checks the rev 2 fields this reader acts on; `start` is where the traces begin.
fn check_rev2(binary: &BinaryHeader, start: usize) -> Result<(), Error> {
    if binary.revision_major() < 2 {
        return Ok(());
    }
    if binary.additional_trace_headers != 0 {
        return Err(field_error(
            None,
            binary_field::additional_trace_headers,
            binary.additional_trace_headers,
            "0 (additional trace headers are not supported)",
        ));
    }
    if binary.trailer_records != 0 {
        return Err(field_error(
            None,
            binary_field::trailer_records,
            binary.trailer_records,
            "0 (data trailers are not supported)",
        ));
    }
    if binary.first_trace_offset != 0 && binary.first_trace_offset != start as u64 {
        return Err(field_error(
            None,
            binary_field::first_trace_offset,
            binary.first_trace_offset,
            format!("0 or {start} (after the headers)"),
        ));
    }
    if binary.extended_samples_per_trace < 0 {
        return Err(field_error(
            None,
            binary_field::extended_samples_per_trace,
            binary.extended_samples_per_trace,
            "0 or a positive number",
        ));
    }
    Ok(())
}

/// Parses a whole SEG-Y file held in memory.
///
/// # Errors
/// [`ErrorKind::Truncated`] for a file that ends inside a header or trace,
/// [`ErrorKind::UnknownByteOrder`], [`ErrorKind::UnsupportedFormat`], and
/// [`ErrorKind::Field`] naming the header field (and trace) that holds a value this reader
/// cannot accept. The error carries no path; [`read_file`] adds it.
pub fn parse(bytes: &[u8]) -> Result<Segy, Error> {
    let Some(text) = block::<TEXT_HEADER_LEN>(bytes, 0) else {
        return Err(truncated(bytes, Part::TextualHeader, 0, TEXT_HEADER_LEN));
    };
    let Some(headers) = block::<HEADERS_END>(bytes, 0) else {
        return Err(truncated(
            bytes,
            Part::BinaryHeader,
            TEXT_HEADER_LEN,
            BinaryHeader::LEN,
        ));
    };
    let text = TextualHeader::parse(text);
    let order = detect_byte_order(headers)?;
    let Some(binary_bytes) = block::<{ BinaryHeader::LEN }>(bytes, TEXT_HEADER_LEN) else {
        return Err(truncated(
            bytes,
            Part::BinaryHeader,
            TEXT_HEADER_LEN,
            BinaryHeader::LEN,
        ));
    };
    let binary = BinaryHeader::parse(binary_bytes, order);
    let format =
        SampleFormat::from_code(binary.format_code).ok_or(ErrorKind::UnsupportedFormat {
            code: binary.format_code,
        })?;
    let extended = extended_headers(bytes, &binary)?;
    let start = HEADERS_END + extended * TEXT_HEADER_LEN;
    check_rev2(&binary, start)?;

    let mut samples = usize::from(binary.samples_per_trace);
    if binary.revision_major() >= 2 && binary.extended_samples_per_trace > 0 {
        samples = binary.extended_samples_per_trace as usize;
    }
    if samples == 0 {
        if let Some(first) = block::<TRACE_HEADER_LEN>(bytes, start) {
            samples = usize::from(TraceHeader::parse(first, order).sample_count);
        }
    }
    if samples == 0 {
        return Err(field_error(
            None,
            binary_field::samples_per_trace,
            0,
            "a positive number of samples (there or in the first trace header)",
        ));
    }

    let trace_len = samples
        .checked_mul(format.sample_len())
        .and_then(|n| n.checked_add(TRACE_HEADER_LEN))
        .unwrap_or(usize::MAX);
    let body = bytes.len() - start;
    let traces = body / trace_len;
    if !body.is_multiple_of(trace_len) {
        return Err(truncated(
            bytes,
            Part::Trace(traces),
            start + traces * trace_len,
            trace_len,
        ));
    }
    if binary.revision_major() >= 2
        && binary.number_of_traces != 0
        && binary.number_of_traces != traces as u64
    {
        return Err(field_error(
            None,
            binary_field::number_of_traces,
            binary.number_of_traces,
            format!("0 or {traces} (the traces the file holds)"),
        ));
    }

    let mut headers = Vec::with_capacity(traces);
    let mut data = vec![0.0f32; traces * samples];
    for (i, (chunk, out)) in bytes[start..]
        .chunks_exact(trace_len)
        .zip(data.chunks_exact_mut(samples))
        .enumerate()
    {
        let Some(raw) = block::<TRACE_HEADER_LEN>(chunk, 0) else {
            return Err(truncated(
                bytes,
                Part::Trace(i),
                start + i * trace_len,
                trace_len,
            ));
        };
        let header = TraceHeader::parse(raw, order);
        if header.sample_count != 0 && usize::from(header.sample_count) != samples {
            return Err(field_error(
                Some(i),
                trace_field::sample_count,
                header.sample_count,
                format!("0 or {samples} (the samples per trace of the binary header; traces of different lengths are not supported)"),
            ));
        }
        if header.sample_interval != 0
            && binary.sample_interval != 0
            && header.sample_interval != binary.sample_interval
        {
            return Err(field_error(
                Some(i),
                trace_field::sample_interval,
                header.sample_interval,
                format!(
                    "0 or {} (the binary header's sample interval)",
                    binary.sample_interval
                ),
            ));
        }
        format.decode(&chunk[TRACE_HEADER_LEN..], order, out);
        headers.push(header);
    }
    Ok(Segy {
        text,
        extended_text_headers: extended,
        binary,
        byte_order: order,
        format,
        samples_per_trace: samples,
        headers,
        data,
    })
}

/// Reads and parses a SEG-Y file.
///
/// # Errors
/// [`ErrorKind::Io`] if the file cannot be read, and the errors of [`parse`]; every error
/// names `path`.
pub fn read_file(path: &Path) -> Result<Segy, Error> {
    let bytes = std::fs::read(path).map_err(|error| {
        Error::from(ErrorKind::Io {
            action: "read".to_string(),
            error,
        })
        .in_file(path)
    })?;
    parse(&bytes).map_err(|e| e.in_file(path))
}
