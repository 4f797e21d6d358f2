//! Target `segy`: the SEG-Y reader ([`powerpost_segy::parse`]) with its textual, binary
//! and trace headers, and the writer it round-trips through.
//!
//! Properties:
//! - never a panic; an error displays as a non-empty sentence;
//! - accepted input: at least one sample per trace; `traces × samples` values and one
//!   header per trace; the file is exactly the headers, the extended textual headers and
//!   the traces; every trace header's sample count is 0 or the file's;
//! - parse → write → parse (formats the writer takes; integer formats are re-encoded as
//!   IEEE): IEEE samples come back bit for bit; IBM samples come back as the nearest IBM
//!   value, which is the same number for every IBM value read from a file that lies in
//!   the `f32` normal range (and 0), and within 2⁻²¹ relative for any other normal `f32`;
//!   trace headers and the binary header come back with only the fields the writer owns
//!   changed; the textual header keeps its encoding and its lines (ASCII headers with
//!   characters beyond ASCII as `?`); writing the result again gives the same bytes
//!   (IEEE, and IBM in the normal range). A refused write is a non-finite sample or an
//!   out-of-range sample count or interval, nothing else;
//! - the runner's geometry checks (shot gathers, depth images) on the parsed file: an
//!   error or the samples rearranged, whatever the header values (scalars included);
//! - headers alone: the binary and trace header codecs round-trip any bytes in both byte
//!   orders, the textual header any 3200 bytes;
//! - write → parse: files built from the fuzz bytes (headers, 1–8 traces, any finite
//!   samples, IEEE or IBM, EBCDIC or ASCII text) read back as written.

use powerpost_segy::ibm::{f32_to_ibm, ibm_to_f32};
use powerpost_segy::{
    parse, to_bytes, BinaryHeader, ByteOrder, DepthImageGeometry, ErrorKind, SampleFormat, Segy,
    ShotGeometry, TextEncoding, TextualHeader, TraceHeader, HEADERS_END, TEXT_HEADER_LEN,
    TRACE_HEADER_LEN,
};

use crate::mutate::LengthField;
use crate::Bytes;

/// Sample interval, samples per trace, format code, extended sample count, revision,
/// extended textual headers, number of traces; the first trace's sample count.
pub const LENGTH_FIELDS: &[LengthField] = &[
    LengthField {
        offset: 3216,
        width: 2,
        big_endian: true,
    },
    LengthField {
        offset: 3220,
        width: 2,
        big_endian: true,
    },
    LengthField {
        offset: 3224,
        width: 2,
        big_endian: true,
    },
    LengthField {
        offset: 3268,
        width: 4,
        big_endian: true,
    },
    LengthField {
        offset: 3500,
        width: 2,
        big_endian: true,
    },
    LengthField {
        offset: 3504,
        width: 2,
        big_endian: true,
    },
    LengthField {
        offset: 3512,
        width: 8,
        big_endian: true,
    },
    LengthField {
        offset: 3600 + 114,
        width: 2,
        big_endian: true,
    },
    LengthField {
        offset: 3600 + 70,
        width: 2,
        big_endian: true,
    },
    LengthField {
        offset: 3600 + 68,
        width: 2,
        big_endian: true,
    },
    LengthField {
        offset: 3220,
        width: 2,
        big_endian: false,
    },
];

/// The body of the `segy` target.
pub fn fuzz(data: &[u8]) {
    check(data);
    headers(data);
    write_then_parse(data);
}

/// Parses `bytes` and checks the properties of the module docs.
pub fn check(bytes: &[u8]) {
    let segy = match parse(bytes) {
        Ok(segy) => segy,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let ns = segy.samples_per_trace;
    let traces = segy.traces();
    assert!(ns >= 1);
    assert_eq!(segy.data.len(), traces * ns);
    let start = HEADERS_END + segy.extended_text_headers * TEXT_HEADER_LEN;
    let trace_len = TRACE_HEADER_LEN + ns * segy.format.sample_len();
    assert_eq!(bytes.len(), start + traces * trace_len);
    assert!(segy.trace(traces).is_none());
    for (i, h) in segy.headers.iter().enumerate() {
        assert_eq!(segy.trace(i).map(<[f32]>::len), Some(ns));
        assert!(h.sample_count == 0 || usize::from(h.sample_count) == ns);
    }
    assert!(segy.sample_interval() >= 0.0 || segy.sample_interval().is_nan());
    geometry(&segy);
    round_trip(&segy, segy.format == SampleFormat::IbmFloat);
}

/// The geometry checks the runner applies to files it reads (`--shots`, images), with a
/// geometry whose layout matches the file so that the per-trace position checks run on
/// the fuzzed headers: one shot at x = 12.5 m, receivers and image columns every 25 m,
/// depths 0, the file's sample interval.
fn geometry(segy: &Segy) {
    let (ns, traces) = (segy.samples_per_trace, segy.traces());
    let interval = segy.binary.sample_interval;
    let shots = ShotGeometry {
        source_x: vec![12.5],
        source_depth: 0.0,
        receiver_x: (0..traces).map(|r| 25.0 * r as f64).collect(),
        receiver_depth: 0.0,
        samples: ns,
        sample_interval_us: interval,
    };
    match shots.shots_from_segy(segy) {
        // One shot: [time][receiver].
        Ok(data) => {
            assert_eq!(data.len(), segy.data.len());
            for (r, trace) in segy.data.chunks_exact(ns).enumerate() {
                for (t, v) in trace.iter().enumerate() {
                    assert_eq!(data[t * traces + r].to_bits(), v.to_bits());
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let image = DepthImageGeometry {
        nz: ns,
        nx: traces,
        dz: f64::from(interval) / 1000.0,
        dx: 25.0,
    };
    match image.image_from_segy(segy) {
        Ok(data) => {
            assert_eq!(data.len(), segy.data.len());
            for (ix, trace) in segy.data.chunks_exact(ns).enumerate() {
                for (iz, v) in trace.iter().enumerate() {
                    assert_eq!(data[iz * traces + ix].to_bits(), v.to_bits());
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// `segy` as the writer would take it: integer formats re-encoded as IEEE.
fn writable(segy: &Segy) -> Segy {
    let mut s = segy.clone();
    if !s.format.is_writable() {
        s.format = SampleFormat::IeeeFloat;
    }
    s
}

/// Whether IBM round trips are exact for `v` (zero or `f32` normal).
fn ibm_exact(v: f32) -> bool {
    v == 0.0 || v.is_normal()
}

/// Expected lines of a textual header written and read again.
fn rewritten_lines(text: &TextualHeader) -> Vec<String> {
    text.lines
        .iter()
        .map(|line| match text.encoding {
            TextEncoding::Ebcdic => line.clone(),
            TextEncoding::Ascii => line
                .chars()
                .map(|c| if c.is_ascii() { c } else { '?' })
                .collect(),
        })
        .collect()
}

/// parse → write → parse (see the module docs); `decoded_from_ibm`: the samples are IBM
/// values read from a file (so exactly representable), not arbitrary `f32`.
fn round_trip(segy: &Segy, decoded_from_ibm: bool) {
    let a = writable(segy);
    let written = match to_bytes(&a) {
        Ok(bytes) => bytes,
        Err(e) => {
            let non_finite = a.data.iter().any(|v| !v.is_finite());
            let range = |n: usize| (1..=32767).contains(&n);
            let refused = non_finite
                || !range(a.samples_per_trace)
                || !range(usize::from(a.binary.sample_interval));
            assert!(refused, "the writer refused a writable file: {e}");
            if let ErrorKind::NonFiniteSample { trace, sample, .. } = e.kind() {
                let k = trace * a.samples_per_trace + sample;
                assert!(!a.data[k].is_finite() && a.data[..k].iter().all(|v| v.is_finite()));
            }
            return;
        }
    };
    let b = parse(&written).unwrap_or_else(|e| panic!("a written file does not parse: {e}"));
    assert_eq!(b.format, a.format);
    assert_eq!(b.byte_order, ByteOrder::Big);
    assert_eq!(b.extended_text_headers, 0);
    assert_eq!(b.samples_per_trace, a.samples_per_trace);
    assert_eq!(b.traces(), a.traces());
    let ieee = a.format == SampleFormat::IeeeFloat;
    for (x, y) in a.data.iter().zip(&b.data) {
        if ieee {
            assert_eq!(x.to_bits(), y.to_bits());
        } else {
            assert_eq!(y.to_bits(), ibm_to_f32(f32_to_ibm(*x)).to_bits());
            if ibm_exact(*x) {
                if decoded_from_ibm {
                    assert_eq!(x, y, "IBM round trip of a value read from IBM");
                } else {
                    // Nearest IBM value: at most 3 bits of 24 are lost (ibm module docs).
                    let error = (f64::from(*x) - f64::from(*y)).abs();
                    assert!(
                        error <= f64::from(*x).abs() * 2f64.powi(-21),
                        "{x:e} -> {y:e}"
                    );
                }
            }
        }
    }
    for (ha, hb) in a.headers.iter().zip(&b.headers) {
        let mut expected = *ha;
        expected.sample_count = a.samples_per_trace as u16;
        expected.sample_interval = a.binary.sample_interval;
        assert_eq!(
            expected.to_bytes(ByteOrder::Big),
            hb.to_bytes(ByteOrder::Big)
        );
    }
    let expected_binary = BinaryHeader {
        format_code: a.format.code(),
        samples_per_trace: a.samples_per_trace as u16,
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
        ..a.binary
    };
    assert_eq!(
        expected_binary.to_bytes(ByteOrder::Big),
        b.binary.to_bytes(ByteOrder::Big)
    );
    assert_eq!(
        b.text.encoding, a.text.encoding,
        "the text keeps its encoding"
    );
    assert_eq!(b.text.lines, rewritten_lines(&a.text));
    if ieee || a.data.iter().all(|&v| ibm_exact(v)) {
        assert_eq!(to_bytes(&b).expect("writes again"), written);
    }
}

/// The header codecs alone on windows of `bytes`.
pub fn headers(bytes: &[u8]) {
    for order in [ByteOrder::Big, ByteOrder::Little] {
        if let Some(raw) = bytes.get(..BinaryHeader::LEN) {
            let raw: &[u8; BinaryHeader::LEN] = raw.try_into().expect("400 bytes");
            let h = BinaryHeader::parse(raw, order);
            let again = BinaryHeader::parse(&h.to_bytes(order), order);
            assert_eq!(h.to_bytes(order), again.to_bytes(order));
            // Assigned bytes survive; unassigned ones (3301–3500, 3533–3600) become 0.
            let out = h.to_bytes(order);
            for (i, (&x, &y)) in raw.iter().zip(&out).enumerate() {
                let unassigned = (100..300).contains(&i) || i >= 332;
                assert_eq!(y, if unassigned { 0 } else { x }, "binary header byte {i}");
            }
        }
        if let Some(raw) = bytes.get(..TRACE_HEADER_LEN) {
            let raw: &[u8; TRACE_HEADER_LEN] = raw.try_into().expect("240 bytes");
            let h = TraceHeader::parse(raw, order);
            let out = h.to_bytes(order);
            assert_eq!(&out[..232], &raw[..232]);
            assert!(out[232..].iter().all(|&b| b == 0));
            assert_eq!(TraceHeader::parse(&out, order), h);
        }
    }
    if let Some(raw) = bytes.get(..TEXT_HEADER_LEN) {
        let raw: &[u8; TEXT_HEADER_LEN] = raw.try_into().expect("3200 bytes");
        let text = TextualHeader::parse(raw);
        assert_eq!(text.lines.len(), 40);
        assert!(text.lines.iter().all(|l| l.chars().count() <= 80));
        let again = TextualHeader::parse(&text.to_bytes());
        assert_eq!(again.encoding, text.encoding, "the encoding is stable");
        assert_eq!(again.lines, rewritten_lines(&text));
    }
}

/// A file built from `data`, written and read back.
pub fn write_then_parse(data: &[u8]) {
    let mut b = Bytes::new(data);
    let encoding = if b.u8() % 2 == 0 {
        TextEncoding::Ebcdic
    } else {
        TextEncoding::Ascii
    };
    // Card images start with `C` (the standard's rule, which the reader relies on to tell
    // EBCDIC from ASCII: segy/src/text.rs); the rest is any printable ASCII.
    let lines: Vec<String> = (0..1 + b.below(40))
        .map(|_| {
            let rest: String = (0..b.below(80))
                .map(|_| char::from(b' ' + b.below(95) as u8))
                .collect();
            format!("C{rest}")
        })
        .collect();
    let text = TextualHeader::new(&lines, encoding).expect("printable ASCII lines fit");
    let format = if b.u8() % 2 == 0 {
        SampleFormat::IeeeFloat
    } else {
        SampleFormat::IbmFloat
    };
    let mut binary_raw = [0u8; BinaryHeader::LEN];
    binary_raw.iter_mut().for_each(|x| *x = b.u8());
    let mut binary = BinaryHeader::parse(&binary_raw, ByteOrder::Big);
    binary.sample_interval = 1 + (binary.sample_interval % 32767);
    let traces = 1 + b.below(8);
    let ns = 1 + b.below(8);
    let headers: Vec<TraceHeader> = (0..traces)
        .map(|_| {
            let mut raw = [0u8; TRACE_HEADER_LEN];
            raw.iter_mut().for_each(|x| *x = b.u8());
            TraceHeader::parse(&raw, ByteOrder::Big)
        })
        .collect();
    let values: Vec<f32> = (0..traces * ns)
        .map(|_| {
            let v = b.f32();
            if v.is_finite() {
                v
            } else {
                -0.0
            }
        })
        .collect();
    let segy = Segy {
        text,
        extended_text_headers: 0,
        binary,
        byte_order: ByteOrder::Big,
        format,
        samples_per_trace: ns,
        headers,
        data: values,
    };
    round_trip(&segy, false);
}

/// A small file: `traces` traces of `ns` samples in `format` and byte `order`, with a
/// rev 1 EBCDIC textual header (or ASCII), written by hand.
fn file(format: i16, order: ByteOrder, traces: usize, ns: usize, ascii: bool) -> Vec<u8> {
    let lines = vec![
        "C 1 POWERPOST FUZZ SEED".to_string(),
        "C39 SEG Y REV1".to_string(),
        "C40 END TEXTUAL HEADER".to_string(),
    ];
    let encoding = if ascii {
        TextEncoding::Ascii
    } else {
        TextEncoding::Ebcdic
    };
    let mut out = TextualHeader::new(&lines, encoding)
        .unwrap()
        .to_bytes()
        .to_vec();
    let binary = BinaryHeader {
        sample_interval: 1000,
        samples_per_trace: ns as u16,
        format_code: format,
        revision: 0x0100,
        fixed_length_flag: 1,
        measurement_system: 1,
        ..BinaryHeader::default()
    };
    out.extend_from_slice(&binary.to_bytes(order));
    let len = SampleFormat::from_code(format).map_or(4, SampleFormat::sample_len);
    for t in 0..traces {
        let header = TraceHeader {
            trace_sequence_line: t as i32 + 1,
            field_record: 1,
            trace_number: t as i32 + 1,
            coordinate_scalar: -100,
            source_x: 1250,
            group_x: 2500 * t as i32,
            cdp_x: 2500 * t as i32,
            sample_count: ns as u16,
            sample_interval: 1000,
            ..TraceHeader::default()
        };
        out.extend_from_slice(&header.to_bytes(order));
        for s in 0..ns {
            let v = (t * ns + s) as i64 - 3;
            let bytes: Vec<u8> = match (format, order) {
                (1, ByteOrder::Big) => f32_to_ibm(v as f32 * 0.5).to_be_bytes().to_vec(),
                (1, ByteOrder::Little) => f32_to_ibm(v as f32 * 0.5).to_le_bytes().to_vec(),
                (5, ByteOrder::Big) => (v as f32 * 0.5).to_be_bytes().to_vec(),
                (5, ByteOrder::Little) => (v as f32 * 0.5).to_le_bytes().to_vec(),
                (3, ByteOrder::Big) => (v as i16).to_be_bytes().to_vec(),
                (3, ByteOrder::Little) => (v as i16).to_le_bytes().to_vec(),
                (8, _) => vec![v as i8 as u8],
                (_, ByteOrder::Big) => (v as i32).to_be_bytes().to_vec(),
                (_, ByteOrder::Little) => (v as i32).to_le_bytes().to_vec(),
            };
            assert_eq!(bytes.len(), len);
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// Seeds: every readable format in both byte orders, EBCDIC and ASCII text, a rev 2 file
/// with an extended textual header and the sample count only in the trace headers.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        (
            "ieee_be.sgy".to_string(),
            file(5, ByteOrder::Big, 3, 4, false),
        ),
        (
            "ibm_be_ascii.sgy".to_string(),
            file(1, ByteOrder::Big, 2, 3, true),
        ),
        (
            "int32_le.sgy".to_string(),
            file(2, ByteOrder::Little, 2, 2, false),
        ),
        (
            "int16_be.sgy".to_string(),
            file(3, ByteOrder::Big, 2, 3, false),
        ),
        (
            "int8_le.sgy".to_string(),
            file(8, ByteOrder::Little, 1, 5, true),
        ),
    ];
    // Rev 2: byte-order word, one extended textual header ending in the EndText stanza,
    // samples per trace 0 in the binary header (taken from the first trace header).
    let mut rev2 = file(5, ByteOrder::Little, 2, 2, true);
    let mut binary = BinaryHeader::parse(
        rev2[TEXT_HEADER_LEN..HEADERS_END].try_into().unwrap(),
        ByteOrder::Little,
    );
    binary.revision = 0x0200;
    binary.byte_order_word = 0x0102_0304;
    binary.extended_textual_headers = 1;
    binary.samples_per_trace = 0;
    binary.number_of_traces = 2;
    rev2.splice(
        TEXT_HEADER_LEN..HEADERS_END,
        binary.to_bytes(ByteOrder::Little),
    );
    let mut stanza = [b' '; TEXT_HEADER_LEN];
    stanza[..16].copy_from_slice(b"((SEG: EndText))");
    rev2.splice(HEADERS_END..HEADERS_END, stanza);
    out.push(("rev2_extended_le.sgy".to_string(), rev2));
    out
}
