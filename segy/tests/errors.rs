//! Bad input: every malformed or unsupported file is a typed error naming the part, the
//! trace and the header field, never a panic; and the rev 2 basics the reader supports.

use std::path::{Path, PathBuf};

use powerpost_segy::header::{binary_field, trace_field};
use powerpost_segy::{
    parse, read_file, to_bytes, write_file, ByteOrder, ErrorKind, Part, SampleFormat, Segy,
    TextEncoding, TextualHeader,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `segyio_ieee_ext` without its extended textual header: 6 traces of 40 IEEE samples.
fn ieee_bytes() -> Vec<u8> {
    let mut b = std::fs::read(fixture("segyio_ieee_ext.sgy")).unwrap();
    b.drain(3600..6800);
    b[3504..3506].copy_from_slice(&0i16.to_be_bytes());
    b
}

const TRACE_LEN: usize = 240 + 40 * 4;

fn put_i16(b: &mut [u8], at: usize, v: i16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn the_base_file_reads() {
    let s = parse(&ieee_bytes()).unwrap();
    assert_eq!((s.traces(), s.samples_per_trace), (6, 40));
}

#[test]
fn truncated_files_say_where_they_end() {
    let full = ieee_bytes();
    let cases = [
        (0, Part::TextualHeader, 3200, 0),
        (3199, Part::TextualHeader, 3200, 3199),
        (3200, Part::BinaryHeader, 400, 0),
        (3599, Part::BinaryHeader, 400, 399),
        (3600 + 239, Part::Trace(0), TRACE_LEN as u64, 239),
        (
            full.len() - 1,
            Part::Trace(5),
            TRACE_LEN as u64,
            TRACE_LEN as u64 - 1,
        ),
    ];
    for (len, part, expected, found) in cases {
        let e = parse(&full[..len]).unwrap_err();
        match e.kind() {
            ErrorKind::Truncated {
                part: p,
                expected: x,
                found: f,
            } => assert_eq!((*p, *x, *f), (part, expected, found), "{len}"),
            other => panic!("{len}: {other}"),
        }
    }
    let e = parse(&full[..full.len() - 10]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the file ends inside trace index 5: expected 400 bytes there, found 390"
    );
    // An extended textual header promised but missing.
    let ext = std::fs::read(fixture("segyio_ieee_ext.sgy")).unwrap();
    let e = parse(&ext[..5000]).unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::Truncated {
            part: Part::ExtendedTextualHeader(0),
            ..
        }
    ));
}

#[test]
fn read_file_names_the_file() {
    let dir = tempdir("truncated");
    let path = dir.join("shots.sgy");
    std::fs::write(&path, &ieee_bytes()[..3300]).unwrap();
    let e = read_file(&path).unwrap_err();
    assert_eq!(e.path(), Some(path.as_path()));
    assert!(
        e.to_string().starts_with(&format!(
            "{}: the file ends inside the binary header",
            path.display()
        )),
        "{e}"
    );
    let missing = dir.join("missing.sgy");
    let e = read_file(&missing).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read", missing.display())),
        "{e}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unsupported_formats_name_the_field_and_value() {
    for code in [4i16, 6, 7, 9, 10, 11, 12, 15, 16] {
        let mut b = ieee_bytes();
        put_i16(&mut b, 3224, code);
        let e = parse(&b).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::UnsupportedFormat { code: c } if *c == code));
        assert!(
            e.to_string().starts_with(&format!(
                "data sample format code (binary header bytes 3225–3226) is {code} ("
            )),
            "{e}"
        );
    }
    // A code that is no format in either byte order, no byte-order word: cannot tell.
    let mut b = ieee_bytes();
    put_i16(&mut b, 3224, 0x0909);
    let e = parse(&b).unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::UnknownByteOrder {
            big_endian: 0x0909,
            little_endian: 0x0909,
            word: 0
        }
    ));
    // The byte-order word decides when present: big-endian here, whatever else.
    let mut b = ieee_bytes();
    b[3296..3300].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    assert_eq!(parse(&b).unwrap().byte_order, ByteOrder::Big);
    b[3296..3300].copy_from_slice(&0x0102_0304u32.to_le_bytes());
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::UnsupportedFormat { code: 0x0500 }),
        "{e}"
    );
}

#[test]
fn inconsistent_trace_headers_name_the_trace_and_field() {
    let mut b = ieee_bytes();
    let at = 3600 + 2 * TRACE_LEN + 114;
    b[at..at + 2].copy_from_slice(&39u16.to_be_bytes());
    let e = parse(&b).unwrap_err();
    match e.kind() {
        ErrorKind::Field {
            trace: Some(2),
            field,
            found,
            ..
        } => {
            assert_eq!(*field, trace_field::sample_count);
            assert_eq!(found, "39");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().starts_with(
        "trace index 2: number of samples in this trace (trace header bytes 115–116) is 39, expected 0 or 40"
    ), "{e}");
    // A zero count is "not given" and reads.
    b[at..at + 2].copy_from_slice(&0u16.to_be_bytes());
    assert!(parse(&b).is_ok());
    // A different sample interval.
    let at = 3600 + 4 * TRACE_LEN + 116;
    b[at..at + 2].copy_from_slice(&4000u16.to_be_bytes());
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Field { trace: Some(4), field, .. } if *field == trace_field::sample_interval)
    );
}

#[test]
fn sample_count_comes_from_the_first_trace_when_the_binary_header_has_none() {
    let mut b = ieee_bytes();
    b[3220..3222].copy_from_slice(&0u16.to_be_bytes());
    let s = parse(&b).unwrap();
    assert_eq!(s.samples_per_trace, 40);
    assert_eq!(s.data, parse(&ieee_bytes()).unwrap().data);
    // Neither: refused, naming the binary field.
    let at = 3600 + 114;
    b[at..at + 2].copy_from_slice(&0u16.to_be_bytes());
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Field { trace: None, field, .. } if *field == binary_field::samples_per_trace)
    );
}

/// The base file as rev 2.0, with `edit` applied to its bytes.
fn rev2(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = ieee_bytes();
    b[3500..3502].copy_from_slice(&[2, 0]);
    edit(&mut b);
    b
}

#[test]
fn rev2_basics() {
    let base = parse(&ieee_bytes()).unwrap();
    // Extended sample count overrides bytes 3221–3222; byte offset and trace count agree.
    let b = rev2(|b| {
        b[3220..3222].copy_from_slice(&0u16.to_be_bytes());
        b[3268..3272].copy_from_slice(&40i32.to_be_bytes());
        b[3512..3520].copy_from_slice(&6u64.to_be_bytes());
        b[3520..3528].copy_from_slice(&3600u64.to_be_bytes());
        b[3272..3280].copy_from_slice(&2000.5f64.to_be_bytes());
    });
    let s = parse(&b).unwrap();
    assert_eq!((s.samples_per_trace, s.traces()), (40, 6));
    assert_eq!(s.data, base.data);
    assert_eq!(s.sample_interval(), 2000.5);
    // Refused: additional trace headers, trailers, wrong offsets and counts.
    let refused = [
        (
            rev2(|b| b[3506..3510].copy_from_slice(&1i32.to_be_bytes())),
            binary_field::additional_trace_headers,
        ),
        (
            rev2(|b| b[3528..3532].copy_from_slice(&2i32.to_be_bytes())),
            binary_field::trailer_records,
        ),
        (
            rev2(|b| b[3520..3528].copy_from_slice(&4000u64.to_be_bytes())),
            binary_field::first_trace_offset,
        ),
        (
            rev2(|b| b[3512..3520].copy_from_slice(&7u64.to_be_bytes())),
            binary_field::number_of_traces,
        ),
        (
            rev2(|b| b[3268..3272].copy_from_slice(&(-1i32).to_be_bytes())),
            binary_field::extended_samples_per_trace,
        ),
    ];
    for (bytes, want) in refused {
        let e = parse(&bytes).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Field { field, .. } if *field == want),
            "{e}"
        );
        assert!(e.to_string().starts_with(&want.to_string()), "{e}");
    }
    // In rev 1 those bytes are unassigned and ignored.
    let mut b = ieee_bytes();
    b[3506..3510].copy_from_slice(&1i32.to_be_bytes());
    assert!(parse(&b).is_ok());
}

#[test]
fn a_variable_number_of_extended_headers_ends_at_the_endtext_stanza() {
    let block = |text: &str| {
        TextualHeader::new(&[text.to_string()], TextEncoding::Ebcdic)
            .unwrap()
            .to_bytes()
    };
    let base = ieee_bytes();
    let mut b = base[..3600].to_vec();
    b.extend_from_slice(&block("((SEG: Some stanza ))"));
    b.extend_from_slice(&block("((SEG: EndText))"));
    b.extend_from_slice(&base[3600..]);
    put_i16(&mut b, 3504, -1);
    b[3500..3502].copy_from_slice(&[2, 0]);
    let s = parse(&b).unwrap();
    assert_eq!(s.extended_text_headers, 2);
    assert_eq!(s.data, parse(&base).unwrap().data);
    // Without the stanza the headers never end.
    let mut b = base[..3600].to_vec();
    b.extend_from_slice(&block("no end"));
    put_i16(&mut b, 3504, -1);
    b[3500..3502].copy_from_slice(&[2, 0]);
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Truncated {
                part: Part::ExtendedTextualHeader(1),
                ..
            }
        ),
        "{e}"
    );
    // Other negative counts are refused.
    let mut b = ieee_bytes();
    put_i16(&mut b, 3504, -2);
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Field { field, .. } if *field == binary_field::extended_textual_headers)
    );
}

/// A small deterministic generator (SplitMix64) for the corruption test.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn corrupted_headers_and_lengths_never_panic() {
    let files = [
        ieee_bytes(),
        std::fs::read(fixture("segyio_ibm.sgy")).unwrap(),
        std::fs::read(fixture("segyio_ieee_le.sgy")).unwrap(),
        std::fs::read(fixture("segyio_int8.sgy")).unwrap(),
    ];
    let mut state = 7u64;
    let mut errors = 0;
    for round in 0..3000 {
        let mut b = files[round % files.len()].clone();
        // Corrupt a few bytes among the binary header and the first trace headers.
        for _ in 0..1 + splitmix(&mut state) % 4 {
            let at = 3200 + (splitmix(&mut state) % 1000) as usize;
            if at < b.len() {
                b[at] = splitmix(&mut state) as u8;
            }
        }
        let len = if round % 3 == 0 {
            (splitmix(&mut state) % b.len() as u64) as usize
        } else {
            b.len()
        };
        match parse(&b[..len]) {
            Ok(s) => assert_eq!(s.data.len(), s.traces() * s.samples_per_trace),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                errors += 1;
            }
        }
    }
    assert!(
        errors > 500,
        "{errors}: the corruptions should often be caught"
    );
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("powerpost-segy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn small() -> Segy {
    let mut s = parse(&ieee_bytes()).unwrap();
    s.headers.truncate(2);
    s.data.truncate(80);
    s
}

#[test]
fn the_writer_refuses_what_it_cannot_write_and_leaves_no_file() {
    let dir = tempdir("writer");
    let path = dir.join("out.sgy");
    let mut nan = small();
    nan.data[45] = f32::NAN;
    let mut long = small();
    long.data.push(1.0);
    let mut int16 = small();
    int16.format = SampleFormat::Int16;
    let mut zero_interval = small();
    zero_interval.binary.sample_interval = 0;
    let mut too_many_samples = small();
    too_many_samples.samples_per_trace = 40_000;
    too_many_samples.data = vec![0.0; 80_000];
    let cases: [(Segy, &str); 5] = [
        (nan, "trace index 1, sample 5: NaN is not finite"),
        (long, "81 samples given, expected 2 traces × 40 samples = 80"),
        (int16, "data sample format code (binary header bytes 3225–3226) is 3, expected 1 (IBM float) or 5 (IEEE float) for writing"),
        (zero_interval, "sample interval (µs for time data) (binary header bytes 3217–3218) is 0, expected 1 to 32767"),
        (too_many_samples, "number of samples per data trace (binary header bytes 3221–3222) is 40000, expected 1 to 32767 in a rev 1 file"),
    ];
    for (segy, message) in cases {
        let e = write_file(&path, &segy).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("{}: {message}", path.display())),
            "{e}"
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "{message}");
    }
    // What it can write, it writes; reading gives back the samples and headers.
    write_file(&path, &small()).unwrap();
    let back = read_file(&path).unwrap();
    assert_eq!(back.data, small().data);
    assert_eq!(back.headers, small().headers);
    assert_eq!(back.binary.revision, 0x0100);
    assert_eq!(std::fs::read(&path).unwrap(), to_bytes(&small()).unwrap());
    std::fs::remove_dir_all(dir).unwrap();
}
