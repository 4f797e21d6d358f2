//! Target `safetensors`: the core's allocation-free parser ([`SafeTensors::parse`]).
//!
//! Properties checked on any bytes:
//! - never a panic; an error displays as a non-empty sentence;
//! - accepted input: the length prefix is the header length; every tensor's bytes are
//!   `product(shape) × dtype size` long and are exactly the slice of the input its
//!   `data_offsets` name (so they lie inside the buffer); the tensors tile the data
//!   buffer (sorted by offsets, no gap, no overlap, nothing left over); names are unique
//!   and `get` finds each; metadata entries decode, and decoded and raw lookups agree;
//!   the typed readers and `check_finite` agree with the bytes;
//! - differential: whatever this parser accepts, the official `safetensors` crate (0.7)
//!   accepts with the same tensors (names, dtypes, shapes, bytes) and metadata — this
//!   parser is documented to be stricter, never looser;
//! - write → parse: a file the official crate serialises from values built out of the
//!   fuzz bytes (any dtype, rank 0–4, metadata with escapes) parses back to those values.

use std::collections::{BTreeMap, HashMap};

use powerpost_core::safetensors::{Dtype, SafeTensors, MAX_DIMS, PREFIX_LEN};

use crate::mutate::LengthField;
use crate::Bytes;

/// The 8-byte little-endian header length.
pub const LENGTH_FIELDS: &[LengthField] = &[LengthField {
    offset: 0,
    width: 8,
    big_endian: false,
}];

/// The body of the `safetensors` target.
pub fn fuzz(data: &[u8]) {
    check(data);
    write_then_parse(data);
}

/// The official crate's dtype of ours.
fn official(dtype: Dtype) -> safetensors::Dtype {
    use safetensors::Dtype as D;
    match dtype {
        Dtype::F16 => D::F16,
        Dtype::BF16 => D::BF16,
        Dtype::F32 => D::F32,
        Dtype::F64 => D::F64,
        Dtype::I8 => D::I8,
        Dtype::U8 => D::U8,
        Dtype::I16 => D::I16,
        Dtype::I32 => D::I32,
        Dtype::I64 => D::I64,
        Dtype::U16 => D::U16,
        Dtype::U32 => D::U32,
        Dtype::U64 => D::U64,
        Dtype::Bool => D::BOOL,
    }
}

/// Parses `bytes` and checks every property of an accepted buffer (module docs).
pub fn check(bytes: &[u8]) {
    let file = match SafeTensors::parse(bytes) {
        Ok(file) => file,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let header_len = file.header_len();
    let prefix: [u8; 8] = bytes[..PREFIX_LEN]
        .try_into()
        .expect("accepted input has a prefix");
    assert_eq!(u64::from_le_bytes(prefix), header_len as u64);
    let data_start = PREFIX_LEN + header_len;
    let data_len = bytes.len() - data_start;
    let base = bytes.as_ptr() as usize + data_start;

    let mut spans = Vec::new();
    let mut names = std::collections::HashSet::new();
    for t in file.tensors() {
        assert!(names.insert(t.name), "duplicate name {}", t.name);
        assert!(t.shape().len() <= MAX_DIMS);
        let numel: usize = t.shape().iter().product();
        assert_eq!(t.numel(), numel);
        assert_eq!(t.data.len(), numel * t.dtype.size_in_bytes(), "{}", t.name);
        let (begin, end) = t.data_offsets();
        assert!(begin <= end && end <= data_len, "{}", t.name);
        // The view is the very slice the offsets name, inside the buffer.
        assert_eq!(t.data.as_ptr() as usize, base + begin, "{}", t.name);
        assert_eq!(t.data, &bytes[data_start + begin..data_start + end]);
        spans.push((begin, end));
        let got = file.get(t.name).expect("get finds every tensor");
        assert_eq!(got.data_offsets(), t.data_offsets());
        // Typed readers: the right dtype reads numel values, any other is refused.
        let mut out = vec![0f32; numel];
        let reads = [
            (Dtype::F16, t.read_f16_to_f32(&mut out).is_ok()),
            (Dtype::BF16, t.read_bf16_to_f32(&mut out).is_ok()),
            (Dtype::F32, t.read_f32(&mut out).is_ok()),
        ];
        for (dtype, ok) in reads {
            assert_eq!(ok, dtype == t.dtype, "{}", t.name);
        }
        let finite = t.check_finite().is_ok();
        if t.dtype == Dtype::F16 {
            t.read_f16_to_f32(&mut out).expect("F16 reads");
            assert_eq!(finite, out.iter().all(|v| v.is_finite()));
        }
        assert_eq!(file.expect(t.name, t.dtype, t.shape()).is_ok(), finite);
        if let Some(other) = Dtype::ALL.into_iter().find(|d| *d != t.dtype) {
            assert!(file.expect(t.name, other, t.shape()).is_err());
        }
    }
    assert_eq!(file.len(), spans.len());
    spans.sort_unstable();
    let mut covered = 0;
    for (begin, end) in spans {
        assert_eq!(begin, covered, "tensors must tile the data buffer");
        covered = end;
    }
    assert_eq!(covered, data_len, "no trailing bytes");

    // Metadata: every entry decodes; lookups by decoded key agree with the last entry.
    let mut decoded: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in file.metadata_entries() {
        let decode = |s: powerpost_core::safetensors::JsonStr<'_>| {
            let mut buf = vec![0u8; s.decoded_len()];
            let text = s
                .decode_into(&mut buf)
                .expect("sized by decoded_len")
                .to_string();
            assert_eq!(text, s.chars().collect::<String>());
            assert!(s.eq_str(&text));
            if !s.has_escapes() {
                assert_eq!(s.as_str(), Some(s.raw()));
                assert_eq!(text, s.raw());
            }
            text
        };
        let (k, v) = (decode(key), decode(value));
        decoded.insert(k, v);
    }
    for (k, v) in &decoded {
        let entry = file.metadata_entry(k).expect("decoded key finds its entry");
        assert_eq!(&entry.chars().collect::<String>(), v);
        assert_eq!(file.metadata(k), entry.as_str());
    }

    // The official crate accepts what this parser accepts, with the same content.
    let theirs = safetensors::SafeTensors::deserialize(bytes)
        .unwrap_or_else(|e| panic!("the official crate refuses an accepted file: {e}"));
    let their_tensors = theirs.tensors();
    assert_eq!(their_tensors.len(), file.len());
    for (name, view) in their_tensors {
        let ours = file.get(&name).expect("same names");
        assert_eq!(view.dtype(), official(ours.dtype), "{name}");
        assert_eq!(view.shape(), ours.shape(), "{name}");
        assert_eq!(view.data(), ours.data, "{name}");
    }
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).expect("accepted above");
    let their_meta: BTreeMap<String, String> = meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    assert_eq!(their_meta, decoded, "metadata");
}

/// Characters of generated tensor names (no quote, backslash or control character).
const NAME_CHARS: &[u8] = b"abcz._-09/ ";

/// Metadata strings that need JSON escapes or are multi-byte.
const META_TEXTS: &[&str] = &[
    "",
    "1.5",
    "a\"b",
    "back\\slash",
    "tab\tnew\nline",
    "\u{1}",
    "é€𝄞",
    "powerpost-unet-v1",
];

/// Builds tensors and metadata from `data`, serialises them with the official crate and
/// checks that the core parses exactly them back.
pub fn write_then_parse(data: &[u8]) {
    let mut b = Bytes::new(data);
    let count = b.below(6);
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for k in 0..count {
        let name_len = b.below(6);
        let mut name: String = (0..name_len)
            .map(|_| char::from(NAME_CHARS[b.below(NAME_CHARS.len())]))
            .collect();
        name.push_str(&k.to_string()); // unique
        let dtype = Dtype::ALL[b.below(Dtype::ALL.len())];
        let rank = b.below(MAX_DIMS + 1);
        let shape: Vec<usize> = (0..rank).map(|_| b.below(4)).collect();
        let len = shape.iter().product::<usize>() * dtype.size_in_bytes();
        let mut bytes = b.take(len).to_vec();
        bytes.resize(len, 0x3C);
        tensors.push((name, dtype, shape, bytes));
    }
    let mut metadata = HashMap::new();
    for k in 0..b.below(4) {
        let key = format!("{}{k}", META_TEXTS[b.below(META_TEXTS.len())]);
        let value = META_TEXTS[b.below(META_TEXTS.len())].to_string();
        metadata.insert(key, value);
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            let view = safetensors::tensor::TensorView::new(official(*dtype), shape.clone(), bytes)
                .expect("sizes match");
            (name.clone(), view)
        })
        .collect();
    let meta = (!metadata.is_empty()).then(|| metadata.clone());
    let file = safetensors::serialize(views, meta).expect("the official writer accepts");
    let parsed = SafeTensors::parse(&file)
        .unwrap_or_else(|e| panic!("a file of the official writer is refused: {e}"));
    assert_eq!(parsed.len(), tensors.len());
    for (name, dtype, shape, bytes) in &tensors {
        let t = parsed.get(name).expect("every tensor is there");
        assert_eq!(
            (t.dtype, t.shape(), t.data),
            (*dtype, shape.as_slice(), bytes.as_slice())
        );
    }
    for (key, value) in &metadata {
        let entry = parsed
            .metadata_entry(key)
            .expect("every metadata key is there");
        assert_eq!(&entry.chars().collect::<String>(), value);
    }
    assert_eq!(parsed.metadata_entries().count(), metadata.len());
    check(&file);
}

/// Seeds: small valid files (every dtype, a scalar, an empty tensor, metadata with
/// escapes) and a few near misses.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let raw = |header: &str, data: &[u8]| {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    };
    vec![
        (
            "two_tensors.safetensors".into(),
            raw(
                r#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]}}"#,
                &[0, 0x3C, 0, 0xC0, 0, 0, 0x80, 0x3F],
            ),
        ),
        (
            "metadata.safetensors".into(),
            raw(
                r#"{"__metadata__":{"powerpost.architecture":"x","k\u00e9y":"v\"\n\ud834\udd1e"},"w":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}   "#,
                &[0x80, 0x3F],
            ),
        ),
        (
            "every_dtype.safetensors".into(),
            raw(
                r#"{"z":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]},"u8":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"i8":{"dtype":"I8","shape":[0,3],"data_offsets":[2,2]},"i16":{"dtype":"I16","shape":[1],"data_offsets":[2,4]},"u16":{"dtype":"U16","shape":[1],"data_offsets":[4,6]},"i32":{"dtype":"I32","shape":[1],"data_offsets":[6,10]},"u32":{"dtype":"U32","shape":[1],"data_offsets":[10,14]},"i64":{"dtype":"I64","shape":[1],"data_offsets":[14,22]},"u64":{"dtype":"U64","shape":[1],"data_offsets":[22,30]},"f64":{"dtype":"F64","shape":[1,1,1,1],"data_offsets":[30,38]}}"#,
                &[1; 38],
            ),
        ),
        (
            "non_finite.safetensors".into(),
            raw(
                r#"{"nan":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#,
                &[0, 0x7C, 0, 0x7E],
            ),
        ),
        (
            "overlap.safetensors".into(),
            raw(
                r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
                &[1, 2],
            ),
        ),
        ("empty_header.safetensors".into(), raw("{}", &[])),
    ]
}
