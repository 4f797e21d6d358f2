//! Loading network weights from safetensors files written by the official `safetensors`
//! crate (the peer implementation of the format).

use powerpost_core::safetensors::SafetensorsErrorKind;
use powerpost_core::unet::params::for_each_tensor;
use powerpost_core::unet::{init_random, load_params, params_len, UNetConfig, ARCHITECTURE_KEY};
use powerpost_core::Error;
use safetensors::tensor::{serialize, Dtype, TensorView};
use std::collections::HashMap;

/// Serialises `params` as f16 tensors with the given metadata, optionally tampering with
/// one tensor's shape or values.
fn write(
    config: &UNetConfig,
    params: &[f32],
    arch: Option<&str>,
    tamper: impl Fn(&str, &mut Vec<usize>, &mut Vec<u8>),
) -> Vec<u8> {
    let mut blobs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for_each_tensor(config, |t| {
        let mut bytes: Vec<u8> = params[t.offset..t.offset + t.len]
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        let mut shape = t.shape().to_vec();
        tamper(&t.name, &mut shape, &mut bytes);
        blobs.push((t.name.to_string(), shape, bytes));
    });
    let views: Vec<(String, TensorView<'_>)> = blobs
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F16, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let metadata = arch.map(|a| HashMap::from([(ARCHITECTURE_KEY.to_string(), a.to_string())]));
    serialize(views, metadata).unwrap()
}

#[test]
fn round_trip_is_exact() {
    let config = UNetConfig::DEFAULT;
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 9, &mut params).unwrap(); // already f16-representable
    let bytes = write(&config, &params, Some(&config.describe()), |_, _, _| {});
    let mut loaded = vec![f32::NAN; params.len()];
    load_params(&config, &bytes, &mut loaded).unwrap();
    assert_eq!(
        params.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        loaded.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn wrong_architecture_is_refused() {
    let config = UNetConfig::TINY;
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 9, &mut params).unwrap();
    let mut out = vec![0.0; params.len()];
    let no_meta = write(&config, &params, None, |_, _, _| {});
    assert_eq!(
        load_params(&config, &no_meta, &mut out),
        Err(Error::ArchitectureMismatch)
    );
    let other = write(
        &config,
        &params,
        Some(&UNetConfig::DEFAULT.describe()),
        |_, _, _| {},
    );
    assert_eq!(
        load_params(&config, &other, &mut out),
        Err(Error::ArchitectureMismatch)
    );
}

#[test]
fn bad_tensors_are_named() {
    let config = UNetConfig::TINY;
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 9, &mut params).unwrap();
    let mut out = vec![0.0; params.len()];
    let arch = config.describe();
    let bad_shape = write(&config, &params, Some(&arch), |name, shape, _| {
        if name == "enc.0.0.conv0.weight" {
            shape.swap(1, 2);
        }
    });
    let Err(Error::Weights(e)) = load_params(&config, &bad_shape, &mut out) else {
        panic!("expected a weights error")
    };
    assert_eq!(e.name(), Some("enc.0.0.conv0.weight"));
    assert!(
        matches!(e.kind, SafetensorsErrorKind::WrongShape { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("enc.0.0.conv0.weight"), "{e}");

    let nan = write(&config, &params, Some(&arch), |name, _, bytes| {
        if name == "dec.0.0.norm1.bias" {
            bytes[2..4].copy_from_slice(&half::f16::NAN.to_le_bytes());
        }
    });
    let Err(Error::Weights(e)) = load_params(&config, &nan, &mut out) else {
        panic!("expected a weights error")
    };
    assert_eq!(e.name(), Some("dec.0.0.norm1.bias"));
    assert!(
        matches!(e.kind, SafetensorsErrorKind::NonFinite { index: 1 }),
        "{e}"
    );

    let truncated = &write(&config, &params, Some(&arch), |_, _, _| {})[..100];
    assert!(matches!(
        load_params(&config, truncated, &mut out),
        Err(Error::Weights(_))
    ));
}
