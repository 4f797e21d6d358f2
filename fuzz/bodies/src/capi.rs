//! Target `capi`: the C ABI entry points that take byte buffers —
//! `powerpost_weights_inspect` and `powerpost_network_load_weights` — called as C calls
//! them, through raw pointers.
//!
//! Properties:
//! - they return a status code, never abort: in particular never `POWERPOST_INTERNAL`
//!   (a panic caught by the entry point's guard, i.e. a bug);
//! - the error record, when asked for, carries the same status, and a non-empty message
//!   for every failure;
//! - the C ABI agrees with the Rust API: `load_weights` succeeds exactly when the core's
//!   `load_params` does (same parameter bits), and fails with the status of the core's
//!   error; `inspect` reports the preset whose description the metadata holds;
//! - buffer rules hold whatever the bytes: NULL with a non-zero length is
//!   `POWERPOST_NULL_POINTER`, a misaligned parameter buffer `POWERPOST_INVALID_ARGUMENT`,
//!   a mis-sized one `POWERPOST_BUFFER_LENGTH`, an unknown preset
//!   `POWERPOST_INVALID_ARGUMENT`.
//!
//! The first input byte picks the preset and the buffer variant; the rest is the file.

use powerpost_capi::network::{
    network_config, powerpost_network_load_weights, powerpost_network_params_len,
    powerpost_weights_info, powerpost_weights_inspect,
};
use powerpost_capi::status::{powerpost_error, powerpost_status as S, status_of_error};
use powerpost_core::safetensors::SafeTensors;
use powerpost_core::unet::{load_params, params_len, UNetConfig, ARCHITECTURE_KEY};

/// The body of the `capi` target.
pub fn fuzz(data: &[u8]) {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    inspect(file);
    // Presets: 1 (tiny) mostly; 0 (default, 1.8 M parameters) when the file says so.
    let preset = match selector % 8 {
        7 => 5, // unknown
        _ if says_default(file) => 0,
        _ => 1,
    };
    load(preset, file, (selector / 8) % 4);
}

/// Whether the file's architecture metadata names the default network.
fn says_default(file: &[u8]) -> bool {
    SafeTensors::parse(file).is_ok_and(|f| {
        f.metadata(ARCHITECTURE_KEY) == Some(UNetConfig::DEFAULT.describe().as_str())
    })
}

/// A fresh error record (status deliberately not OK, texts non-empty) so that the call
/// must overwrite it.
fn record() -> powerpost_error {
    let mut e = powerpost_error::empty(S::POWERPOST_DEVICE);
    e.name[0] = b'?' as _;
    e.message[0] = b'?' as _;
    e
}

/// Checks the record the call left for `status`.
fn check_record(status: S, e: &powerpost_error) {
    assert_ne!(
        status,
        S::POWERPOST_INTERNAL,
        "a panic was caught: {}",
        e.message_str()
    );
    assert_eq!(e.status, status);
    if status == S::POWERPOST_OK {
        assert!(e.message_str().is_empty() && e.name_str().is_empty());
    } else {
        assert!(!e.message_str().is_empty());
    }
}

/// `powerpost_weights_inspect` on `file`.
fn inspect(file: &[u8]) {
    let mut info = powerpost_weights_info {
        preset: -1,
        normalization: powerpost_capi::network::powerpost_normalization_default(),
    };
    let mut e = record();
    // SAFETY: the pointers are valid for the lengths given.
    let status = unsafe { powerpost_weights_inspect(file.as_ptr(), file.len(), &mut info, &mut e) };
    check_record(status, &e);
    // Without an error record, the same status.
    // SAFETY: as above; a NULL error record is allowed.
    let again = unsafe {
        powerpost_weights_inspect(file.as_ptr(), file.len(), &mut info, std::ptr::null_mut())
    };
    assert_eq!(again, status);
    match SafeTensors::parse(file) {
        Err(_) => assert_eq!(status, S::POWERPOST_WEIGHTS),
        Ok(parsed) => {
            if status == S::POWERPOST_OK {
                let config = network_config(info.preset).expect("a known preset");
                assert_eq!(
                    parsed.metadata(ARCHITECTURE_KEY),
                    Some(config.describe().as_str())
                );
            } else {
                assert!(matches!(
                    status,
                    S::POWERPOST_ARCHITECTURE_MISMATCH | S::POWERPOST_INVALID_ARGUMENT
                ));
            }
        }
    }
    // NULL with a non-zero length.
    let mut e = record();
    // SAFETY: NULL is checked by the callee before use.
    let status =
        unsafe { powerpost_weights_inspect(std::ptr::null(), file.len() + 1, &mut info, &mut e) };
    check_record(status, &e);
    assert_eq!(status, S::POWERPOST_NULL_POINTER);
}

/// `powerpost_network_load_weights` for `preset` on `file`, with buffer `variant`
/// (0: right, 1: one float short, 2: misaligned, 3: NULL bytes with the file's length).
fn load(preset: i32, file: &[u8], variant: u8) {
    let n = powerpost_network_params_len(preset);
    let config = network_config(preset).ok();
    assert_eq!(n, config.map_or(0, |c| params_len(&c)));
    // One spare float so that a misaligned view of n floats stays inside the allocation.
    let mut buffer = vec![0f32; n + 1];
    let (params, params_len): (*mut f32, usize) = match variant {
        1 => (buffer.as_mut_ptr(), n.saturating_sub(1)),
        // SAFETY: one byte into an allocation of n + 1 floats: n floats fit.
        2 => (unsafe { buffer.as_mut_ptr().cast::<u8>().add(1).cast() }, n),
        _ => (buffer.as_mut_ptr(), n),
    };
    let bytes = if variant == 3 {
        std::ptr::null()
    } else {
        file.as_ptr()
    };
    let mut e = record();
    // SAFETY: `params` points to `params_len` floats of `buffer` (possibly misaligned, which
    // the callee checks before use); `bytes` is NULL or the file.
    let status = unsafe {
        powerpost_network_load_weights(preset, bytes, file.len(), params, params_len, &mut e)
    };
    check_record(status, &e);
    let Some(config) = config else {
        assert_eq!(status, S::POWERPOST_INVALID_ARGUMENT);
        return;
    };
    match variant {
        1 if n > 0 => assert_eq!(status, S::POWERPOST_BUFFER_LENGTH),
        2 if n > 0 => assert_eq!(status, S::POWERPOST_INVALID_ARGUMENT),
        3 if !file.is_empty() => assert_eq!(status, S::POWERPOST_NULL_POINTER),
        _ => {
            // The Rust API on the same bytes.
            let mut expected = vec![0f32; n];
            match load_params(&config, file, &mut expected) {
                Ok(()) => {
                    assert_eq!(status, S::POWERPOST_OK);
                    for (a, b) in buffer[..n].iter().zip(&expected) {
                        assert_eq!(a.to_bits(), b.to_bits());
                    }
                }
                Err(err) => assert_eq!(status, status_of_error(&err), "{err}"),
            }
        }
    }
}

/// Seeds (first byte: preset and buffer variant): complete `tiny` weights are too large
/// for the committed corpus (the replay test generates them); these are files with the
/// tiny and default architecture metadata, a foreign architecture and a broken header.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let file = |arch: &str, tensors: &str, data: &[u8]| {
        let header = format!(
            "{{\"__metadata__\":{{\"{ARCHITECTURE_KEY}\":\"{arch}\",\"powerpost.rtm_scale\":\"2.5\"}}{tensors}}}"
        );
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    };
    let tensor = ",\"head.bias\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}";
    let with = |selector: u8, bytes: Vec<u8>| {
        let mut out = vec![selector];
        out.extend(bytes);
        out
    };
    let tiny = UNetConfig::TINY.describe();
    let default = UNetConfig::DEFAULT.describe();
    vec![
        (
            "tiny_one_tensor.bin".into(),
            with(0, file(&tiny, tensor, &[0, 0x3C])),
        ),
        ("tiny_misaligned.bin".into(), with(16, file(&tiny, "", &[]))),
        (
            "default_short_buffer.bin".into(),
            with(8, file(&default, "", &[])),
        ),
        (
            "foreign.bin".into(),
            with(24, file("resnet-50", tensor, &[0, 0x7C])),
        ),
        (
            "broken.bin".into(),
            with(3, b"\x10\0\0\0\0\0\0\0{\"a\":{\"dtype\":".to_vec()),
        ),
    ]
}

/// Complete weights of the `tiny` preset (≈ 60 KB, so generated, not committed), with
/// the selector byte for a correct buffer.
pub fn tiny_weights() -> Vec<u8> {
    let config = UNetConfig::TINY;
    let params: Vec<f32> = (0..params_len(&config))
        .map(|i| ((i * 7919) % 61) as f32 / 64.0 - 0.5)
        .collect();
    let mut out = vec![0u8];
    out.extend(powerpost_train::export::safetensors_f16(
        &config,
        &params,
        &[],
    ));
    out
}
