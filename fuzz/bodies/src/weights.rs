//! Target `weights`: loading network weights on top of the safetensors parser
//! ([`load_params`], the `powerpost.architecture` metadata, [`Normalization::from_safetensors`]).
//!
//! Properties:
//! - never a panic; a parameter buffer of the wrong length is always
//!   [`Error::BufferLength`];
//! - accepted input: the file's architecture metadata is exactly the configuration's
//!   description, it holds exactly the parameter table's tensors, and every parameter is
//!   finite and equals the f16 value of its tensor widened to f32 (bit for bit);
//! - an accepted normalisation passes its own validation and equals the metadata values;
//! - write → parse: parameters built from the fuzz bytes (any finite f16), exported by
//!   the trainer's writer with normalisation metadata, load back bit for bit.
//!
//! It runs on [`MICRO`], a one-level network small enough that a complete weights file is
//! a seed of a few kilobytes, and on the `tiny` preset.

use half::f16;
use powerpost_core::error::Error;
use powerpost_core::normalize::{
    Normalization, RTM_SCALE_KEY, VELOCITY_CENTER_KEY, VELOCITY_HALF_RANGE_KEY,
};
use powerpost_core::safetensors::{Dtype, SafeTensors};
use powerpost_core::unet::params::for_each_tensor;
use powerpost_core::unet::{load_params, params_len, UNetConfig, ARCHITECTURE_KEY};
use powerpost_train::export::safetensors_f16;

use crate::Bytes;

/// A one-level network with 4 base channels (a valid configuration, ≈ 1 700 parameters).
pub const MICRO: UNetConfig = UNetConfig {
    base_channels: 4,
    levels: 1,
    channel_mult: [1, 0, 0, 0],
    embedding_channels: 4,
    ..UNetConfig::TINY
};

/// The body of the `weights` target.
pub fn fuzz(data: &[u8]) {
    for config in [MICRO, UNetConfig::TINY] {
        check(&config, data);
    }
    check_normalization(data);
    write_then_load(data);
}

/// Loads `bytes` for `config` and checks the properties of the module docs.
pub fn check(config: &UNetConfig, bytes: &[u8]) {
    let n = params_len(config);
    let mut short = vec![0f32; n - 1];
    assert!(matches!(
        load_params(config, bytes, &mut short),
        Err(Error::BufferLength { .. })
    ));
    let mut params = vec![f32::NAN; n];
    match load_params(config, bytes, &mut params) {
        Ok(()) => {
            let file = SafeTensors::parse(bytes).expect("loaded files parse");
            assert_eq!(
                file.metadata(ARCHITECTURE_KEY),
                Some(config.describe().as_str())
            );
            let mut count = 0;
            for_each_tensor(config, |t| {
                count += 1;
                let view = file
                    .get(&t.name)
                    .expect("every table tensor is in the file");
                assert_eq!((view.dtype, view.shape()), (Dtype::F16, t.shape()));
                let loaded = &params[t.offset..t.offset + t.len];
                for (v, raw) in loaded.iter().zip(view.data.chunks_exact(2)) {
                    let widened = f16::from_le_bytes([raw[0], raw[1]]).to_f32();
                    assert_eq!(v.to_bits(), widened.to_bits(), "{}", t.name);
                    assert!(v.is_finite());
                }
            });
            assert_eq!(file.len(), count);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// The normalisation of a parsed file: accepted values are valid and are the metadata's.
pub fn check_normalization(bytes: &[u8]) {
    let Ok(file) = SafeTensors::parse(bytes) else {
        return;
    };
    let Ok(n) = Normalization::from_safetensors(&file) else {
        return;
    };
    n.validate().expect("an accepted normalisation is valid");
    let defaults = Normalization::default();
    for (key, value, default) in [
        (
            VELOCITY_CENTER_KEY,
            n.velocity_center_km_s,
            defaults.velocity_center_km_s,
        ),
        (
            VELOCITY_HALF_RANGE_KEY,
            n.velocity_half_range_km_s,
            defaults.velocity_half_range_km_s,
        ),
        (RTM_SCALE_KEY, n.rtm_scale, defaults.rtm_scale),
    ] {
        let expected = match file.metadata(key) {
            Some(text) => text.trim().parse::<f32>().expect("accepted values parse"),
            None => default,
        };
        assert_eq!(value.to_bits(), expected.to_bits(), "{key}");
    }
}

/// Texts for the normalisation metadata (valid, malformed, out of range).
const VALUES: &[&str] = &[
    "3.0", "1.5", " 2.5e-3 ", "-0", "0", "nan", "inf", "1e39", "x", "",
];

/// Exports parameters and metadata built from `data` and loads them back.
pub fn write_then_load(data: &[u8]) {
    let mut b = Bytes::new(data);
    // MICRO only: exporting the tiny preset (≈ 30 000 values) for every input made the
    // target ten times slower; the replay test writes and loads tiny weights too.
    let config = MICRO;
    let n = params_len(&config);
    // Any finite f16 value (non-finite bit patterns become 0).
    let params: Vec<f32> = (0..n)
        .map(|_| {
            let v = f16::from_bits(b.uint(2) as u16).to_f32();
            if v.is_finite() {
                v
            } else {
                0.0
            }
        })
        .collect();
    let keys = [VELOCITY_CENTER_KEY, VELOCITY_HALF_RANGE_KEY, RTM_SCALE_KEY];
    let mut extra: Vec<(&str, String)> = Vec::new();
    for key in keys {
        if b.u8() % 2 == 0 {
            extra.push((key, VALUES[b.below(VALUES.len())].to_string()));
        }
    }
    let file = safetensors_f16(&config, &params, &extra);
    let mut back = vec![0f32; n];
    load_params(&config, &file, &mut back).expect("exported weights load");
    for (a, b) in params.iter().zip(&back) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
    let parsed = SafeTensors::parse(&file).expect("loaded above");
    let valid = extra
        .iter()
        .all(|(_, v)| v.trim().parse::<f32>().is_ok_and(f32::is_finite));
    if Normalization::from_safetensors(&parsed).is_ok() {
        assert!(valid, "normalisation accepted from {extra:?}");
    }
    check(&config, &file);
    check_normalization(&file);
}

/// Seeds: a complete `MICRO` weights file with normalisation metadata, one with a
/// non-finite value, and one made for the `tiny` architecture (tensors missing).
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let n = params_len(&MICRO);
    let params: Vec<f32> = (0..n).map(|i| (i % 13) as f32 * 0.125 - 0.75).collect();
    let extra = [
        (VELOCITY_CENTER_KEY, "3.0".to_string()),
        (VELOCITY_HALF_RANGE_KEY, "1.5".to_string()),
        (RTM_SCALE_KEY, "0.25".to_string()),
    ];
    let good = safetensors_f16(&MICRO, &params, &extra);
    let mut inf = params.clone();
    inf[n / 2] = f32::INFINITY;
    let tiny_meta = {
        let mut h = String::from("{\"__metadata__\":{\"");
        h.push_str(ARCHITECTURE_KEY);
        h.push_str("\":\"");
        h.push_str(UNetConfig::TINY.describe().as_str());
        h.push_str("\"},\"x\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}");
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&[0, 0x3C]);
        out
    };
    vec![
        ("micro.safetensors".into(), good),
        (
            "micro_inf.safetensors".into(),
            safetensors_f16(&MICRO, &inf, &[]),
        ),
        ("tiny_metadata_only.safetensors".into(), tiny_meta),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_is_a_valid_small_configuration() {
        MICRO.validate().unwrap();
        assert!(params_len(&MICRO) < 3000, "{}", params_len(&MICRO));
        assert_ne!(MICRO.describe(), UNetConfig::TINY.describe());
    }
}
