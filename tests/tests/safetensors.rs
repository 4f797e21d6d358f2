//! `powerpost_core::safetensors` against the official `safetensors` crate (independent
//! reference, serde_json-based).
//!
//! - Random files written by the official crate, and random files written by a hand-rolled
//!   writer here (random key order, whitespace, tensor order, escaped metadata), parse to the
//!   same tensor table, bytes and metadata in both parsers and match what was generated.
//! - Every truncation of valid files, and a corpus of malformed files, give the expected typed
//!   error and are rejected by the official crate too.
//! - 20 000 seeded random mutations: no panic, and the parsers agree on accept/reject except
//!   for the documented differences (see `known_difference`).

use std::collections::{HashMap, HashSet};

use powerpost_core::safetensors::{Dtype, SafeTensors, SafetensorsErrorKind as K, MAX_DIMS};
use safetensors as official;

/// SplitMix64: a tiny seeded generator, enough for test-case generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn to_official(dtype: Dtype) -> official::Dtype {
    match dtype {
        Dtype::F16 => official::Dtype::F16,
        Dtype::BF16 => official::Dtype::BF16,
        Dtype::F32 => official::Dtype::F32,
        Dtype::F64 => official::Dtype::F64,
        Dtype::I8 => official::Dtype::I8,
        Dtype::U8 => official::Dtype::U8,
        Dtype::I16 => official::Dtype::I16,
        Dtype::I32 => official::Dtype::I32,
        Dtype::I64 => official::Dtype::I64,
        Dtype::U16 => official::Dtype::U16,
        Dtype::U32 => official::Dtype::U32,
        Dtype::U64 => official::Dtype::U64,
        Dtype::Bool => official::Dtype::BOOL,
    }
}

/// One generated tensor.
#[derive(Debug, Clone, PartialEq)]
struct Tensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// Characters for tensor names: no `"`, `\` or control characters (those need escapes).
const NAME_CHARS: &[&str] = &[
    "a", "b", "z", "0", "7", ".", "_", "-", "/", ":", " ", "é", "中", "😀",
];
/// Characters for metadata, including ones JSON must escape.
const TEXT_CHARS: &[&str] = &[
    "a", "Q", "1", " ", "é", "😀", "\"", "\\", "\n", "\t", "\u{1}", "/", "{", "}",
];

fn random_string(rng: &mut Rng, chars: &[&str], max_len: usize) -> String {
    (0..rng.below(max_len + 1))
        .map(|_| *rng.pick(chars))
        .collect()
}

fn random_tensors(rng: &mut Rng) -> (Vec<Tensor>, HashMap<String, String>) {
    let mut names = HashSet::new();
    let mut tensors = Vec::new();
    for _ in 0..rng.below(7) {
        let name = format!("{}{}", random_string(rng, NAME_CHARS, 12), rng.below(100));
        if name == "__metadata__" || !names.insert(name.clone()) {
            continue;
        }
        let dtype = *rng.pick(&Dtype::ALL);
        let rank = rng.below(MAX_DIMS + 1);
        let shape: Vec<usize> = (0..rank)
            .map(|_| {
                if rng.below(10) == 0 {
                    0
                } else {
                    1 + rng.below(4)
                }
            })
            .collect();
        let bytes = shape.iter().product::<usize>() * dtype.size_in_bytes();
        let data = (0..bytes).map(|_| rng.next() as u8).collect();
        tensors.push(Tensor {
            name,
            dtype,
            shape,
            data,
        });
    }
    let metadata = (0..rng.below(4))
        .map(|_| {
            (
                random_string(rng, TEXT_CHARS, 6),
                random_string(rng, TEXT_CHARS, 10),
            )
        })
        .collect();
    (tensors, metadata)
}

/// Serialises with the official crate.
fn official_file(tensors: &[Tensor], metadata: &HashMap<String, String>) -> Vec<u8> {
    let views: Vec<(String, official::tensor::TensorView)> = tensors
        .iter()
        .map(|t| {
            let view =
                official::tensor::TensorView::new(to_official(t.dtype), t.shape.clone(), &t.data)
                    .unwrap();
            (t.name.clone(), view)
        })
        .collect();
    let metadata = if metadata.is_empty() {
        None
    } else {
        Some(metadata.clone())
    };
    official::serialize(views, metadata).unwrap()
}

/// JSON string literal, escaping with a random mix of short and `\u` escapes.
fn json_string(rng: &mut Rng, s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str(if rng.below(2) == 0 { "\\\"" } else { "\\u0022" }),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) > 0xFFFF && rng.below(2) == 0 => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Serialises by hand: data in a random order, header entries and fields in random orders,
/// random whitespace, random padding.
fn hand_file(rng: &mut Rng, tensors: &[Tensor], metadata: &HashMap<String, String>) -> Vec<u8> {
    let ws = |rng: &mut Rng| (*rng.pick(&["", "", " ", "\n", "\t", "\r\n  "])).to_string();
    let mut data_order: Vec<usize> = (0..tensors.len()).collect();
    let mut header_order = data_order.clone();
    for order in [&mut data_order, &mut header_order] {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
    }
    let mut offsets = vec![(0, 0); tensors.len()];
    let mut data = Vec::new();
    for &i in &data_order {
        offsets[i] = (data.len(), data.len() + tensors[i].data.len());
        data.extend_from_slice(&tensors[i].data);
    }
    let mut entries: Vec<String> = header_order
        .iter()
        .map(|&i| {
            let t = &tensors[i];
            let shape: Vec<String> = t
                .shape
                .iter()
                .map(|d| format!("{}{d}{}", ws(rng), ws(rng)))
                .collect();
            let mut fields = [
                format!("\"dtype\"{}:{}\"{}\"", ws(rng), ws(rng), t.dtype.as_str()),
                format!("\"shape\":{}[{}]", ws(rng), shape.join(",")),
                format!(
                    "\"data_offsets\":[{},{}{}]",
                    offsets[i].0,
                    ws(rng),
                    offsets[i].1
                ),
            ];
            for j in (1..fields.len()).rev() {
                fields.swap(j, rng.below(j + 1));
            }
            format!(
                "\"{}\"{}:{}{{{}}}",
                t.name,
                ws(rng),
                ws(rng),
                fields.join(&format!(",{}", ws(rng)))
            )
        })
        .collect();
    if !metadata.is_empty() || rng.below(2) == 0 {
        let pairs: Vec<String> = metadata
            .iter()
            .map(|(k, v)| format!("{}:{}{}", json_string(rng, k), ws(rng), json_string(rng, v)))
            .collect();
        let at = rng.below(entries.len() + 1);
        entries.insert(at, format!("\"__metadata__\":{{{}}}", pairs.join(",")));
    }
    let mut header = format!("{{{}{}}}", ws(rng), entries.join(&format!("{},", ws(rng))));
    header.push_str(&" ".repeat(rng.below(9)));
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    bytes
}

/// Asserts that our parse of `bytes` equals the official one (tensor table, bytes, metadata).
fn assert_same_as_official(bytes: &[u8]) {
    let ours = SafeTensors::parse(bytes).unwrap();
    let theirs = official::SafeTensors::deserialize(bytes).unwrap();
    let (_, their_meta) = official::SafeTensors::read_metadata(bytes).unwrap();
    assert_eq!(ours.len(), theirs.len());
    for (name, view) in theirs.tensors() {
        let mine = ours
            .get(&name)
            .unwrap_or_else(|| panic!("missing {name:?}"));
        assert_eq!(to_official(mine.dtype), view.dtype(), "{name}");
        assert_eq!(mine.shape(), view.shape(), "{name}");
        assert_eq!(mine.data, view.data(), "{name}");
        assert_eq!(
            mine.data.as_ptr(),
            view.data().as_ptr(),
            "{name}: same bytes of the buffer"
        );
    }
    let empty = HashMap::new();
    let their_meta = their_meta.metadata().as_ref().unwrap_or(&empty);
    let our_keys: HashSet<String> = ours.metadata_entries().map(|(k, _)| decode(k)).collect();
    assert_eq!(our_keys, their_meta.keys().cloned().collect::<HashSet<_>>());
    for (key, value) in their_meta {
        assert_eq!(decode(ours.metadata_entry(key).unwrap()), *value, "{key:?}");
        let borrowed = ours.metadata(key);
        assert!(
            borrowed.is_none() || borrowed == Some(value.as_str()),
            "{key:?}"
        );
    }
}

fn decode(s: powerpost_core::safetensors::JsonStr) -> String {
    let mut buf = vec![0u8; s.decoded_len()];
    s.decode_into(&mut buf).unwrap().to_string()
}

/// Asserts our parse of `bytes` holds exactly `tensors` and `metadata`.
fn assert_matches_generated(bytes: &[u8], tensors: &[Tensor], metadata: &HashMap<String, String>) {
    let ours = SafeTensors::parse(bytes).unwrap();
    assert_eq!(ours.len(), tensors.len());
    for t in tensors {
        let view = ours
            .expect(&t.name, t.dtype, &t.shape)
            .map(|v| v.data)
            .or_else(|e| match e.kind {
                K::NonFinite { .. } => Ok(ours.get(&t.name).unwrap().data),
                _ => Err(e),
            });
        assert_eq!(view.unwrap(), &t.data[..], "{}", t.name);
    }
    for (key, value) in metadata {
        assert_eq!(decode(ours.metadata_entry(key).unwrap()), *value);
    }
}

#[test]
fn random_files_match_official_crate() {
    let mut rng = Rng(1);
    for _ in 0..400 {
        let (tensors, metadata) = random_tensors(&mut rng);
        let written = official_file(&tensors, &metadata);
        assert_matches_generated(&written, &tensors, &metadata);
        assert_same_as_official(&written);
        let handmade = hand_file(&mut rng, &tensors, &metadata);
        assert_matches_generated(&handmade, &tensors, &metadata);
        assert_same_as_official(&handmade);
    }
}

fn sample_files() -> Vec<Vec<u8>> {
    let mut rng = Rng(2);
    let mut files = Vec::new();
    while files.len() < 8 {
        let (tensors, metadata) = random_tensors(&mut rng);
        if tensors.is_empty() {
            continue;
        }
        files.push(official_file(&tensors, &metadata));
        files.push(hand_file(&mut rng, &tensors, &metadata));
    }
    files
}

#[test]
fn every_truncation_is_rejected() {
    for file in sample_files() {
        let header_end = 8 + u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
        for len in 0..file.len() {
            let cut = &file[..len];
            let error = SafeTensors::parse(cut).unwrap_err();
            assert!(official::SafeTensors::deserialize(cut).is_err());
            match error.kind {
                K::TooShort { needed, available } => {
                    assert!(len < header_end);
                    assert_eq!(
                        (needed, available),
                        (if len < 8 { 8 } else { header_end as u64 }, len)
                    );
                }
                K::OffsetsOutOfBounds { data_len, .. } => {
                    assert!(len >= header_end);
                    assert_eq!(data_len, len - header_end);
                }
                other => panic!("truncated to {len}: {other:?}"),
            }
        }
        let mut longer = file.clone();
        longer.push(0);
        let kind = SafeTensors::parse(&longer).unwrap_err().kind;
        let data_len = file.len() - header_end;
        assert_eq!(
            kind,
            K::UncoveredTrailingData {
                covered: data_len,
                data_len: data_len + 1
            }
        );
        assert!(official::SafeTensors::deserialize(&longer).is_err());
    }
}

/// A file from a header string and data.
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

#[test]
fn malformed_corpus_gives_typed_errors() {
    let entry = |dtype: &str, shape: &str, offsets: &str| {
        format!(r#"{{"w":{{"dtype":"{dtype}","shape":{shape},"data_offsets":{offsets}}}}}"#)
    };
    let two = |a: &str, b: &str| {
        format!(
            r#"{{"a":{{"dtype":"U8","shape":[4],"data_offsets":{a}}},"b":{{"dtype":"U8","shape":[4],"data_offsets":{b}}}}}"#
        )
    };
    let mut beyond = raw_file("{}", &[]);
    beyond[..8].copy_from_slice(&3u64.to_le_bytes());
    let mut huge = raw_file("{}", &[]);
    huge[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let mut not_utf8 = raw_file(&entry("F16", "[2]", "[0,4]"), &[0; 4]);
    not_utf8[12] = 0xC0;
    let cases: Vec<(&str, Vec<u8>, K)> = vec![
        (
            "header length beyond buffer",
            beyond,
            K::TooShort {
                needed: 11,
                available: 10,
            },
        ),
        (
            "header over 100 MB",
            huge,
            K::HeaderTooLarge {
                header_len: 1 << 40,
            },
        ),
        ("not UTF-8", not_utf8, K::InvalidUtf8 { offset: 4 }),
        (
            "unknown dtype",
            raw_file(&entry("F17", "[2]", "[0,4]"), &[0; 4]),
            K::UnknownDtype,
        ),
        (
            "lowercase dtype",
            raw_file(&entry("f32", "[1]", "[0,4]"), &[0; 4]),
            K::UnknownDtype,
        ),
        (
            "product overflow",
            raw_file(&entry("U8", "[4294967296,4294967296]", "[0,0]"), &[]),
            K::ShapeOverflow,
        ),
        (
            "byte size overflow",
            raw_file(&entry("I64", "[2305843009213693952]", "[0,0]"), &[]),
            K::ShapeOverflow,
        ),
        (
            "offsets disagree with shape",
            raw_file(&entry("F32", "[2]", "[0,4]"), &[0; 4]),
            K::OffsetsMismatchShape {
                expected_bytes: 8,
                found_bytes: 4,
            },
        ),
        (
            "reversed offsets",
            raw_file(&entry("U8", "[0]", "[4,0]"), &[0; 4]),
            K::OffsetsReversed { begin: 4, end: 0 },
        ),
        (
            "offsets beyond data",
            raw_file(&entry("U8", "[4]", "[1,5]"), &[0; 4]),
            K::OffsetsOutOfBounds {
                end: 5,
                data_len: 4,
            },
        ),
        (
            "overlapping",
            raw_file(&two("[0,4]", "[2,6]"), &[0; 6]),
            K::OverlappingOrGappedData {
                expected_begin: 4,
                found_begin: 2,
            },
        ),
        (
            "identical ranges",
            raw_file(&two("[0,4]", "[0,4]"), &[0; 4]),
            K::OverlappingOrGappedData {
                expected_begin: 4,
                found_begin: 0,
            },
        ),
        (
            "gap",
            raw_file(&two("[0,4]", "[5,9]"), &[0; 9]),
            K::OverlappingOrGappedData {
                expected_begin: 4,
                found_begin: 5,
            },
        ),
        (
            "trailing bytes",
            raw_file(&two("[0,4]", "[4,8]"), &[0; 9]),
            K::UncoveredTrailingData {
                covered: 8,
                data_len: 9,
            },
        ),
        (
            "float shape",
            raw_file(&entry("U8", "[4.0]", "[0,4]"), &[0; 4]),
            K::Json {
                offset: 29,
                expected: "",
            },
        ),
        (
            "negative",
            raw_file(&entry("U8", "[-4]", "[0,4]"), &[0; 4]),
            K::Json {
                offset: 28,
                expected: "",
            },
        ),
        (
            "three offsets",
            raw_file(&entry("U8", "[4]", "[0,4,4]"), &[0; 4]),
            K::Json {
                offset: 0,
                expected: "",
            },
        ),
        (
            "truncated JSON",
            raw_file(r#"{"w":{"dtype":"U8""#, &[]),
            K::Json {
                offset: 0,
                expected: "",
            },
        ),
        (
            "trailing comma",
            raw_file(r#"{"__metadata__":{"a":"b"},}"#, &[]),
            K::Json {
                offset: 0,
                expected: "",
            },
        ),
        (
            "non-string metadata",
            raw_file(r#"{"__metadata__":{"a":1}}"#, &[]),
            K::Json {
                offset: 0,
                expected: "",
            },
        ),
        (
            "bad escape",
            raw_file(r#"{"__metadata__":{"a":"\q"}}"#, &[]),
            K::Json {
                offset: 0,
                expected: "",
            },
        ),
        (
            "lone surrogate",
            raw_file(r#"{"__metadata__":{"a":"\ud800x"}}"#, &[]),
            K::Json {
                offset: 0,
                expected: "",
            },
        ),
        (
            "raw newline in string",
            raw_file("{\"__metadata__\":{\"a\":\"\n\"}}", &[]),
            K::Json {
                offset: 0,
                expected: "",
            },
        ),
        (
            "array header",
            raw_file("[]", &[]),
            K::Json {
                offset: 0,
                expected: "",
            },
        ),
        (
            "garbage after header",
            raw_file("{} {}", &[]),
            K::Json {
                offset: 0,
                expected: "",
            },
        ),
        (
            "missing shape",
            raw_file(r#"{"w":{"dtype":"U8","data_offsets":[0,0]}}"#, &[]),
            K::MissingField("shape"),
        ),
    ];
    for (what, bytes, kind) in cases {
        let error = SafeTensors::parse(&bytes).unwrap_err();
        match (error.kind, kind) {
            // Position-insensitive for JSON errors (the message says where), except where given.
            (K::Json { offset, .. }, K::Json { offset: want, .. }) => {
                assert!(want == 0 || offset == want, "{what}: {error}");
            }
            (got, want) => assert_eq!(got, want, "{what}: {error}"),
        }
        assert!(
            official::SafeTensors::deserialize(&bytes).is_err(),
            "{what}: official crate accepts it"
        );
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn expect_rejects_nan_and_inf() {
    let bytes16 = |v: [u16; 3]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let cases: [(Dtype, Vec<u8>, usize); 6] = [
        (Dtype::F16, bytes16([0x3C00, 0x7E00, 0]), 1), // NaN
        (Dtype::F16, bytes16([0, 0, 0xFC00]), 2),      // -inf
        (Dtype::BF16, bytes16([0, 0x7F80, 0]), 1),     // +inf
        (
            Dtype::F32,
            [0.0f32, f32::INFINITY, 1.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            1,
        ),
        (
            Dtype::F32,
            [0.0f32, 2.0, f32::NAN]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            2,
        ),
        (
            Dtype::F64,
            [0.0f64, f64::NEG_INFINITY, 1.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            1,
        ),
    ];
    for (dtype, data, bad_index) in cases {
        let tensor = Tensor {
            name: "w".into(),
            dtype,
            shape: vec![3],
            data,
        };
        let file = official_file(&[tensor], &HashMap::new());
        let parsed = SafeTensors::parse(&file).unwrap();
        let error = parsed.expect("w", dtype, &[3]).unwrap_err();
        assert_eq!(
            (error.kind, error.name()),
            (K::NonFinite { index: bad_index }, Some("w")),
            "{dtype}"
        );
    }
    // Integer tensors have no non-finite values.
    let tensor = Tensor {
        name: "i".into(),
        dtype: Dtype::U32,
        shape: vec![1],
        data: vec![0xFF; 4],
    };
    let file = official_file(&[tensor], &HashMap::new());
    SafeTensors::parse(&file)
        .unwrap()
        .expect("i", Dtype::U32, &[1])
        .unwrap();
}

/// Whether our rejection of a file the official crate accepts is a documented difference.
fn known_difference(kind: K, theirs: &official::SafeTensors) -> bool {
    match kind {
        // We reject names needing JSON escapes, duplicate names, more than MAX_DIMS dims,
        // unknown fields and a leading non-`{` byte; the official crate accepts them.
        K::EscapedName
        | K::DuplicateName
        | K::TooManyDims
        | K::UnknownField
        | K::Json { offset: 0, .. } => true,
        // Dtypes the official crate knows and we do not (F8_*, F4, F6_*, C64).
        K::UnknownDtype => theirs
            .tensors()
            .iter()
            .any(|(_, v)| !Dtype::ALL.iter().any(|d| to_official(*d) == v.dtype())),
        _ => false,
    }
}

#[test]
fn random_mutations_never_panic_and_agree_with_official_crate() {
    let files = sample_files();
    let mut rng = Rng(3);
    let (mut accepted, mut differences) = (0, HashMap::<String, usize>::new());
    for iteration in 0..20_000 {
        let mut bytes = rng.pick(&files).clone();
        let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        for _ in 0..1 + rng.below(3) {
            // Mostly the header; sometimes anywhere (length prefix and data included).
            let at = if rng.below(8) == 0 {
                rng.below(bytes.len())
            } else {
                8 + rng.below(header_end - 8)
            };
            let byte = match rng.below(4) {
                0 => *rng.pick(b"{}[],:\" \\0123456789-.eEuabdnFIU"),
                1 => bytes[at] ^ (1 << rng.below(8)),
                2 => bytes[at].wrapping_add(1),
                _ => rng.next() as u8,
            };
            bytes[at] = byte;
        }
        if rng.below(20) == 0 {
            bytes.truncate(rng.below(bytes.len() + 1));
        }
        let ours = SafeTensors::parse(&bytes);
        let theirs = official::SafeTensors::deserialize(&bytes);
        match (&ours, &theirs) {
            (Ok(_), Ok(_)) => {
                accepted += 1;
                assert_same_as_official(&bytes);
            }
            (Ok(_), Err(e)) => {
                panic!("iteration {iteration}: we accept, official rejects: {e}\n{bytes:?}")
            }
            (Err(e), Ok(t)) => {
                assert!(
                    known_difference(e.kind, t),
                    "iteration {iteration}: we reject ({e}), official accepts\n{bytes:?}"
                );
                *differences
                    .entry(
                        format!("{:?}", e.kind)
                            .chars()
                            .take_while(|c| c.is_alphanumeric())
                            .collect(),
                    )
                    .or_default() += 1;
            }
            (Err(e), Err(_)) => assert!(!e.to_string().is_empty()),
        }
    }
    eprintln!("mutations: {accepted} accepted by both, documented differences: {differences:?}");
    assert!(
        accepted > 100,
        "the mutation mix should keep some files valid"
    );
}

/// The documented differences: files the official crate accepts and this parser rejects.
#[test]
fn documented_differences_with_official_crate() {
    let ok = r#"{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#;
    let cases: [(&str, String, &[u8], K); 7] = [
        (
            "escaped tensor name",
            format!(r#"{{"a\nb":{ok}}}"#),
            &[0],
            K::EscapedName,
        ),
        (
            "duplicate tensor name",
            format!(r#"{{"a":{ok},"a":{ok}}}"#),
            &[0],
            K::DuplicateName,
        ),
        (
            "five dimensions",
            r#"{"a":{"dtype":"U8","shape":[1,1,1,1,1],"data_offsets":[0,1]}}"#.into(),
            &[0],
            K::TooManyDims,
        ),
        (
            "unknown field",
            r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"note":"x"}}"#.into(),
            &[0],
            K::UnknownField,
        ),
        (
            "C64 dtype",
            r#"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#.into(),
            &[0; 8],
            K::UnknownDtype,
        ),
        (
            "leading whitespace",
            format!(" {{\"a\":{ok}}}"),
            &[0],
            K::Json {
                offset: 0,
                expected: "`{` as the header's first byte",
            },
        ),
        (
            "null metadata",
            format!(r#"{{"__metadata__":null,"a":{ok}}}"#),
            &[0],
            K::Json {
                offset: 16,
                expected: "an object of string values for `__metadata__`",
            },
        ),
    ];
    for (what, header, data, kind) in cases {
        let bytes = raw_file(&header, data);
        assert!(
            official::SafeTensors::deserialize(&bytes).is_ok(),
            "{what}: official crate rejects it"
        );
        assert_eq!(SafeTensors::parse(&bytes).unwrap_err().kind, kind, "{what}");
    }
}
