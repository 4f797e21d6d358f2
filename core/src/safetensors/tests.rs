//! Unit tests on hand-written headers. The cross-check against the official `safetensors`
//! crate (random files, truncation, mutation) lives in `tests/tests/safetensors.rs`.

extern crate std;

use std::format;
use std::string::ToString;
use std::vec::Vec;

use super::*;

/// A safetensors file made of `header` (JSON text, used verbatim) and `data`.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// The error kind of parsing `header` + `data`.
fn kind_of(header: &str, data: &[u8]) -> SafetensorsErrorKind {
    SafeTensors::parse(&file(header, data)).unwrap_err().kind
}

#[test]
fn any_key_order_and_whitespace() {
    let header = " \t{\n \"b\" : { \"data_offsets\" :[ 4 ,6 ] ,\"shape\":[ ],\"dtype\":\"U16\"} ,\r\n\
                  \"a\":{\"shape\":[2],\"dtype\":\"U8\",\"data_offsets\":[0,2]},\"__metadata__\":{},\
                  \"c\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[2,4]}}   \n";
    // A leading space is not `{`: the spec says the header MUST begin with `{`.
    assert!(matches!(
        kind_of(header, &[0; 6]),
        SafetensorsErrorKind::Json { offset: 0, .. }
    ));
    let bytes = file(header.trim_start(), &[1, 2, 3, 4, 5, 6]);
    let st = SafeTensors::parse(&bytes).unwrap();
    let names: Vec<_> = st.tensors().map(|t| t.name).collect();
    assert_eq!(names, ["b", "a", "c"]);
    let b = st.get("b").unwrap();
    assert_eq!(
        (b.dtype, b.shape(), b.data, b.numel()),
        (Dtype::U16, &[][..], &[5u8, 6][..], 1)
    );
    assert_eq!(st.get("a").unwrap().data, &[1, 2]);
    assert_eq!(st.get("c").unwrap().data_offsets(), (2, 4));
    assert_eq!(st.metadata_entries().count(), 0);
}

#[test]
fn empty_file_and_empty_tensors() {
    let empty = file("{}", &[]);
    let st = SafeTensors::parse(&empty).unwrap();
    assert!(st.is_empty());
    let header = r#"{"z":{"dtype":"F32","shape":[3,0,2],"data_offsets":[0,0]},"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}"#;
    let bytes = file(header, &1.5f64.to_le_bytes());
    let st = SafeTensors::parse(&bytes).unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(st.get("z").unwrap().numel(), 0);
    assert_eq!(
        st.expect("s", Dtype::F64, &[]).unwrap().data,
        &1.5f64.to_le_bytes()
    );
}

#[test]
fn metadata_with_and_without_escapes() {
    let header = r#"{"__metadata__":{"format":"pt","q\"k":"a\"b\u00e9\ud83d\ude00","format":"np"},"t":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}"#;
    let bytes = file(header, &[1]);
    let st = SafeTensors::parse(&bytes).unwrap();
    assert_eq!(st.metadata("format"), Some("np"), "last repeated key wins");
    assert_eq!(
        st.metadata("q\"k"),
        None,
        "escaped values are not borrowable"
    );
    let value = st.metadata_entry("q\"k").unwrap();
    assert_eq!(value.raw(), r#"a\"b\u00e9\ud83d\ude00"#);
    let mut buf = [0u8; 16];
    assert_eq!(value.decode_into(&mut buf).unwrap(), "a\"bé😀");
    assert_eq!(value.decoded_len(), "a\"bé😀".len());
    assert!(matches!(
        value.decode_into(&mut [0u8; 3]).unwrap_err().kind,
        SafetensorsErrorKind::BufferLength {
            expected: 9,
            actual: 3
        }
    ));
    assert_eq!(st.metadata_entries().count(), 3);
    assert_eq!(st.metadata("missing"), None);
}

#[test]
fn typed_errors() {
    use SafetensorsErrorKind as K;
    let t = |body: &str| format!("{{\"t\":{body}}}");
    assert_eq!(
        SafeTensors::parse(&[1, 2, 3]).unwrap_err().kind,
        K::TooShort {
            needed: 8,
            available: 3
        }
    );
    let mut long = file("{}", &[]);
    long[..8].copy_from_slice(&1000u64.to_le_bytes());
    assert_eq!(
        SafeTensors::parse(&long).unwrap_err().kind,
        K::TooShort {
            needed: 1008,
            available: 10
        }
    );
    long[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(
        SafeTensors::parse(&long).unwrap_err().kind,
        K::HeaderTooLarge {
            header_len: u64::MAX
        }
    );
    let mut bad_utf8 = file("{\"\u{e9}\":1}", &[]);
    bad_utf8[11] = 0xFF;
    assert_eq!(
        SafeTensors::parse(&bad_utf8).unwrap_err().kind,
        K::InvalidUtf8 { offset: 2 }
    );

    let ok = r#"{"dtype":"F16","shape":[2],"data_offsets":[0,4]}"#;
    assert!(SafeTensors::parse(&file(&t(ok), &[0; 4])).is_ok());
    let cases: &[(&str, K)] = &[
        (
            r#"{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,4]}"#,
            K::UnknownDtype,
        ),
        (
            r#"{"dtype":"f16","shape":[2],"data_offsets":[0,4]}"#,
            K::UnknownDtype,
        ),
        (
            r#"{"dtype":"F16","shape":[1,1,1,1,2],"data_offsets":[0,4]}"#,
            K::TooManyDims,
        ),
        (
            r#"{"dtype":"F16","dtype":"F16","shape":[2],"data_offsets":[0,4]}"#,
            K::DuplicateField("dtype"),
        ),
        (
            r#"{"dtype":"F16","shape":[2],"data_offsets":[0,4],"x":1}"#,
            K::UnknownField,
        ),
        (
            r#"{"dtype":"F16","data_offsets":[0,4]}"#,
            K::MissingField("shape"),
        ),
        (
            r#"{"dtype":"F16","shape":[2]}"#,
            K::MissingField("data_offsets"),
        ),
        (
            r#"{"shape":[2],"data_offsets":[0,4]}"#,
            K::MissingField("dtype"),
        ),
        (
            r#"{"dtype":"F16","shape":[4294967296,4294967296],"data_offsets":[0,4]}"#,
            K::ShapeOverflow,
        ),
        (
            r#"{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}"#,
            K::ShapeOverflow,
        ),
        (
            r#"{"dtype":"F16","shape":[2],"data_offsets":[4,0]}"#,
            K::OffsetsReversed { begin: 4, end: 0 },
        ),
        (
            r#"{"dtype":"F16","shape":[3],"data_offsets":[0,4]}"#,
            K::OffsetsMismatchShape {
                expected_bytes: 6,
                found_bytes: 4,
            },
        ),
        (
            r#"{"dtype":"F16","shape":[2],"data_offsets":[2,6]}"#,
            K::OffsetsOutOfBounds {
                end: 6,
                data_len: 4,
            },
        ),
        (
            r#"{"dtype":"F16","shape":[1],"data_offsets":[2,4]}"#,
            K::OverlappingOrGappedData {
                expected_begin: 0,
                found_begin: 2,
            },
        ),
        (
            r#"{"dtype":"F16","shape":[1],"data_offsets":[0,2]}"#,
            K::UncoveredTrailingData {
                covered: 2,
                data_len: 4,
            },
        ),
    ];
    for (body, kind) in cases {
        let error = SafeTensors::parse(&file(&t(body), &[0; 4])).unwrap_err();
        assert_eq!(error.kind, *kind, "{body}");
        if !matches!(kind, K::UncoveredTrailingData { .. }) {
            assert_eq!(error.name(), Some("t"), "{body}");
        }
    }
    let json_cases = [
        r#"{"dtype":"F16","shape":[2.0],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16","shape":[2e0],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16","shape":[-2],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16","shape":[-0,2],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16","shape":[02],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16","shape":[18446744073709551616],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16","shape":[2,],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16","shape":[2],"data_offsets":[0,4,4]}"#,
        r#"{"dtype":"F16","shape":[2],"data_offsets":[0]}"#,
        r#"{"dtype":F16,"shape":[2],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16" "shape":[2],"data_offsets":[0,4]}"#,
        r#"["F16",[2],[0,4]]"#,
        r#"{"dtype":"F16\x","shape":[2],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16\ud800","shape":[2],"data_offsets":[0,4]}"#,
        r#"{"dtype":"F16\udc00","shape":[2],"data_offsets":[0,4]}"#,
    ];
    for body in json_cases {
        let error = SafeTensors::parse(&file(&t(body), &[0; 4])).unwrap_err();
        assert!(matches!(error.kind, K::Json { .. }), "{body}: {error}");
    }
    // Field names and dtype strings may be escaped (serde_json decodes them too).
    let escaped = r#"{"\u0064type":"F\u0031\u0036","shape":[2],"data_offsets":[0,4]}"#;
    assert_eq!(
        SafeTensors::parse(&file(&t(escaped), &[0; 4]))
            .unwrap()
            .get("t")
            .unwrap()
            .dtype,
        Dtype::F16
    );
    // Header-level problems.
    assert_eq!(kind_of(r#"{"t\n":{}}"#, &[]), K::EscapedName);
    let twice = format!("{{\"t\":{ok},\"t\":{ok}}}");
    assert_eq!(kind_of(&twice, &[0; 4]), K::DuplicateName);
    assert_eq!(
        kind_of(r#"{"__metadata__":{},"__metadata__":{}}"#, &[]),
        K::DuplicateName
    );
    for bad in [
        r#"{"__metadata__":{"a":1}}"#,
        r#"{"__metadata__":null}"#,
        r#"{"__metadata__":{"a":"\u12"}}"#,
        r#"{"t":1}"#,
        "{\"a\u{1}\":{}}",
        "{} x",
        "{}}",
        "{",
        "{,}",
        "",
    ] {
        assert!(matches!(kind_of(bad, &[]), K::Json { .. }), "{bad}");
    }
}

#[test]
fn too_many_tensors() {
    let mut header = std::string::String::from("{");
    for i in 0..=MAX_TENSORS {
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!(
            "\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[{i},{}]}}",
            i + 1
        ));
    }
    header.push('}');
    let data = [0u8; MAX_TENSORS + 1];
    let error = SafeTensors::parse(&file(&header, &data)).unwrap_err();
    assert_eq!(
        (error.kind, error.name()),
        (SafetensorsErrorKind::TooManyTensors, Some("t512"))
    );
    // Exactly MAX_TENSORS is fine.
    let cut = header.find(",\"t512\"").unwrap();
    let header = format!("{}}}", &header[..cut]);
    assert_eq!(
        SafeTensors::parse(&file(&header, &data[..MAX_TENSORS]))
            .unwrap()
            .len(),
        MAX_TENSORS
    );
}

/// Independent f16 → f64 decoding from the IEEE 754 binary16 definition.
fn f16_reference(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1F);
    let mantissa = f64::from(bits & 0x3FF);
    match exponent {
        0 => sign * mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + mantissa / 1024.0) * 2f64.powi(e - 15),
    }
}

#[test]
fn f16_widening_is_exact_for_every_bit_pattern() {
    let data: Vec<u8> = (0..=u16::MAX).flat_map(u16::to_le_bytes).collect();
    let header = r#"{"h":{"dtype":"F16","shape":[256,256],"data_offsets":[0,131072]}}"#;
    let bytes = file(header, &data);
    let st = SafeTensors::parse(&bytes).unwrap();
    let mut out = std::vec![0f32; 65536];
    st.get("h").unwrap().read_f16_to_f32(&mut out).unwrap();
    for (bits, value) in (0..=u16::MAX).zip(&out) {
        let reference = f16_reference(bits);
        if reference.is_nan() {
            assert!(value.is_nan(), "{bits:#06x}");
        } else {
            // Equal as f64 and same sign (distinguishes ±0): the widening is exact.
            assert_eq!(f64::from(*value), reference, "{bits:#06x}");
            assert_eq!(value.is_sign_negative(), bits & 0x8000 != 0, "{bits:#06x}");
        }
    }
    // Non-finite values are reported at their flat index: 0x7C00 is +inf.
    let error = st.expect("h", Dtype::F16, &[256, 256]).unwrap_err();
    assert_eq!(
        (error.kind, error.name()),
        (SafetensorsErrorKind::NonFinite { index: 0x7C00 }, Some("h"))
    );
    let view = st.get("h").unwrap();
    assert_eq!(
        view.read_f16_to_f32(&mut out[..3]).unwrap_err().kind,
        SafetensorsErrorKind::BufferLength {
            expected: 65536,
            actual: 3
        }
    );
    assert_eq!(
        view.read_f32(&mut out).unwrap_err().kind,
        SafetensorsErrorKind::WrongDtype {
            expected: Dtype::F32,
            found: Dtype::F16
        }
    );
}

#[test]
fn bf16_and_f32_readers_and_finiteness() {
    let values = [1.0f32, -2.5, 3.0e-38, 0.0];
    let mut data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    data.extend(
        values
            .iter()
            .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes()),
    );
    let header = r#"{"f":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]}}"#;
    let bytes = file(header, &data);
    let st = SafeTensors::parse(&bytes).unwrap();
    let mut out = [0f32; 4];
    st.expect("f", Dtype::F32, &[2, 2])
        .unwrap()
        .read_f32(&mut out)
        .unwrap();
    assert_eq!(out, values);
    st.expect("b", Dtype::BF16, &[4])
        .unwrap()
        .read_bf16_to_f32(&mut out)
        .unwrap();
    for (got, want) in out.iter().zip(values) {
        assert_eq!(got.to_bits(), want.to_bits() & 0xFFFF_0000);
    }
    let mut with_nan = bytes.clone();
    let at = bytes.len() - 16; // third f32 (data starts 24 bytes before the end)
    with_nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let st = SafeTensors::parse(&with_nan).unwrap();
    assert_eq!(
        st.expect("f", Dtype::F32, &[2, 2]).unwrap_err().kind,
        SafetensorsErrorKind::NonFinite { index: 2 }
    );
}

#[test]
fn display_names_tensor_and_problem() {
    let header =
        r#"{"enc.0.conv0.weight":{"dtype":"F16","shape":[32,3,3,3],"data_offsets":[0,1728]}}"#;
    let bytes = file(header, &[0; 1728]);
    let st = SafeTensors::parse(&bytes).unwrap();
    let error = st
        .expect("enc.0.conv0.weight", Dtype::F16, &[32, 2, 3, 3])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "tensor `enc.0.conv0.weight`: shape [32, 2, 3, 3] expected, found [32, 3, 3, 3]"
    );
    let error = st
        .expect("enc.0.conv0.weight", Dtype::F32, &[32, 3, 3, 3])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "tensor `enc.0.conv0.weight`: dtype F32 expected, found F16"
    );
    let error = st
        .expect("enc.0.conv0.weight", Dtype::F16, &[1, 2, 3, 4, 5, 6])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "tensor `enc.0.conv0.weight`: shape [1, 2, 3, 4, … (6 dims)] expected, found [32, 3, 3, 3]"
    );
    assert_eq!(
        st.expect("nope", Dtype::F16, &[]).unwrap_err().to_string(),
        "tensor `nope`: not found"
    );
    let core_error: crate::Error = error.into();
    assert!(core_error
        .to_string()
        .starts_with("weights: tensor `enc.0.conv0.weight`: shape"));
}

#[test]
fn long_names_are_truncated_at_char_boundaries() {
    let name: std::string::String = "é".repeat(40); // 80 bytes
    let short = ShortName::new(&name);
    assert!(short.as_str().len() <= SHORT_NAME_CAPACITY);
    // 56 bytes: 26 two-byte chars (52) + the 3-byte ellipsis; a 27th would not fit.
    assert_eq!(short.as_str(), format!("{}…", "é".repeat(26)));
    let exact = "x".repeat(SHORT_NAME_CAPACITY);
    assert_eq!(ShortName::new(&exact).as_str(), exact);
    let error = SafetensorsError::named(SafetensorsErrorKind::NotFound, &name);
    assert_eq!(
        error.to_string(),
        format!("tensor `{}…`: not found", "é".repeat(26))
    );
}

#[test]
fn errors_stay_small_and_huge_extents_saturate() {
    assert!(core::mem::size_of::<SafetensorsError>() <= 112);
    assert!(core::mem::size_of::<crate::Error>() < 128);
    let dims = Dims::new(&[usize::MAX, 3]);
    assert_eq!(format!("{dims}"), "[4294967295+, 3]");
    assert_eq!(dims.rank(), 2);
}
