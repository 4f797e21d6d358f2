//! Target `checkpoint`: the training checkpoint reader ([`checkpoint::parse`]).
//!
//! Properties:
//! - never a panic; every error starts with the file's name;
//! - accepted input: parameters, EMA and both Adam moments each hold `params_len` values,
//!   the optimiser state carries the header's step and β powers, the powers lie in
//!   [0, 1];
//! - parse → write → parse gives the same header and the same value bits, and writing
//!   again gives the same bytes;
//! - write → parse: headers with any finite values and strings, and arrays of any bits,
//!   built from the fuzz bytes, read back exactly (this is what `--resume` relies on:
//!   a resumed run compares the optimiser and loss settings for equality).

use powerpost_train::checkpoint::{self, Header};
use powerpost_train::loss::LossConfig;
use powerpost_train::optim::{AdamWConfig, OptimState};

use crate::mutate::LengthField;
use crate::Bytes;

/// The 8-byte little-endian header length after the magic.
pub const LENGTH_FIELDS: &[LengthField] = &[LengthField {
    offset: 8,
    width: 8,
    big_endian: false,
}];

const NAME: &str = "fuzz/checkpoint.bin";

/// The body of the `checkpoint` target.
pub fn fuzz(data: &[u8]) {
    check(data);
    write_then_parse(data);
}

/// Same header, same value bits.
fn same(a: &(Header, Vec<f32>, OptimState), b: &(Header, Vec<f32>, OptimState)) -> bool {
    let bits = |x: &[f32], y: &[f32]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
    };
    a.0 == b.0
        && bits(&a.1, &b.1)
        && bits(&a.2.ema, &b.2.ema)
        && bits(&a.2.m, &b.2.m)
        && bits(&a.2.v, &b.2.v)
        && a.2.step == b.2.step
        && a.2.beta1_power.to_bits() == b.2.beta1_power.to_bits()
        && a.2.beta2_power.to_bits() == b.2.beta2_power.to_bits()
}

/// Parses `bytes` and checks the properties of the module docs.
pub fn check(bytes: &[u8]) {
    let parsed = match checkpoint::parse(bytes, NAME) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert!(format!("{e:#}").starts_with(NAME), "{e:#}");
            return;
        }
    };
    let (header, params, state) = &parsed;
    let p = header.params_len;
    assert_eq!(
        [params.len(), state.ema.len(), state.m.len(), state.v.len()],
        [p; 4]
    );
    assert_eq!(state.step, header.step);
    assert_eq!(
        (state.beta1_power, state.beta2_power),
        (header.beta1_power, header.beta2_power)
    );
    for power in [state.beta1_power, state.beta2_power] {
        assert!((0.0..=1.0).contains(&power));
    }
    round_trip(&parsed);
}

/// write → parse → write.
fn round_trip(parsed: &(Header, Vec<f32>, OptimState)) {
    let (header, params, state) = parsed;
    let written = checkpoint::to_bytes(header, params, state).expect("a parsed checkpoint writes");
    let back = checkpoint::parse(&written, NAME)
        .unwrap_or_else(|e| panic!("a written checkpoint does not parse: {e:#}"));
    assert!(same(parsed, &back), "{:?}\n{:?}", parsed.0, back.0);
    assert_eq!(
        checkpoint::to_bytes(&back.0, &back.1, &back.2).expect("writes"),
        written
    );
}

/// Strings with JSON escapes and multi-byte characters.
const TEXTS: &[&str] = &[
    "",
    "powerpost-unet-v1 in=2",
    "random:7",
    "file:\"q\"\\\n\t",
    "é\u{0}𝄞",
];

/// A finite `f32` from the bytes (non-finite bit patterns become their exponent-less twin).
fn finite32(b: &mut Bytes<'_>) -> f32 {
    let v = b.f32();
    if v.is_finite() {
        v
    } else {
        f32::from_bits(v.to_bits() & 0x807F_FFFF)
    }
}

/// A finite `f64` from the bytes.
fn finite64(b: &mut Bytes<'_>) -> f64 {
    let v = f64::from_bits(b.uint(8));
    if v.is_finite() {
        v
    } else {
        f64::from_bits(v.to_bits() & 0x800F_FFFF_FFFF_FFFF)
    }
}

/// A checkpoint built from `data`, written and parsed back.
pub fn write_then_parse(data: &[u8]) {
    let mut b = Bytes::new(data);
    let p = b.below(9);
    let power = |b: &mut Bytes<'_>| (finite64(b).abs() % 1.0).min(1.0);
    let header = Header {
        architecture: TEXTS[b.below(TEXTS.len())].to_string(),
        seed: b.uint(8),
        batch: b.uint(8) as usize,
        step: b.uint(8),
        beta1_power: power(&mut b),
        beta2_power: power(&mut b),
        optimizer: AdamWConfig {
            lr: finite32(&mut b),
            beta1: finite32(&mut b),
            beta2: finite32(&mut b),
            eps: finite32(&mut b),
            weight_decay: finite32(&mut b),
            warmup_steps: b.uint(8),
            clip_norm: finite32(&mut b),
            ema_decay: finite32(&mut b),
            final_lr_fraction: finite32(&mut b),
            decay_end: b.uint(8),
        },
        loss: LossConfig {
            p_mean: finite32(&mut b),
            p_std: finite32(&mut b),
            sigma_data: finite32(&mut b),
            p_uncond: finite32(&mut b),
            flip: b.u8() % 2 == 0,
        },
        dataset: TEXTS[b.below(TEXTS.len())].to_string(),
        params_len: p,
        elapsed_secs: finite64(&mut b).abs(),
        cpu_secs: finite64(&mut b).abs(),
        init: TEXTS[b.below(TEXTS.len())].to_string(),
    };
    let array = |b: &mut Bytes<'_>| (0..p).map(|_| b.f32()).collect::<Vec<f32>>();
    let params = array(&mut b);
    let state = OptimState {
        step: header.step,
        m: array(&mut b),
        v: array(&mut b),
        ema: array(&mut b),
        beta1_power: header.beta1_power,
        beta2_power: header.beta2_power,
    };
    let built = (header, params, state);
    round_trip(&built);
    let mut wrong = built.0.clone();
    wrong.params_len = p + 1;
    assert!(checkpoint::to_bytes(&wrong, &built.1, &built.2).is_err());
}

/// Seeds: a small checkpoint as the trainer writes it (default settings), one written
/// before the `init` field existed, and one with a non-finite parameter.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let header = |p: usize| Header {
        architecture: "powerpost-unet-v1 in=2 out=1 base=8".to_string(),
        seed: 3,
        batch: 4,
        step: 12,
        beta1_power: 0.9f64.powi(12),
        beta2_power: 0.999f64.powi(12),
        optimizer: AdamWConfig::default(),
        loss: LossConfig::default(),
        dataset: "0".repeat(64),
        params_len: p,
        elapsed_secs: 1.25,
        cpu_secs: 2.5,
        init: "random:0".to_string(),
    };
    let state = |p: usize| OptimState {
        step: 12,
        m: vec![0.001; p],
        v: vec![1e-6; p],
        ema: vec![0.5; p],
        beta1_power: 0.9f64.powi(12),
        beta2_power: 0.999f64.powi(12),
    };
    let params: Vec<f32> = (0..5).map(|i| i as f32 - 2.0).collect();
    let good = checkpoint::to_bytes(&header(5), &params, &state(5)).unwrap();
    // The same without `init` (older checkpoints): drop the field from the JSON.
    let json_len = u64::from_le_bytes(good[8..16].try_into().unwrap()) as usize;
    let json = std::str::from_utf8(&good[16..16 + json_len]).unwrap();
    let old_json = json.replace(",\"init\":\"random:0\"", "");
    let mut old = b"PPCKPT01".to_vec();
    old.extend_from_slice(&(old_json.len() as u64).to_le_bytes());
    old.extend_from_slice(old_json.as_bytes());
    old.extend_from_slice(&good[16 + json_len..]);
    let mut nan = params.clone();
    nan[1] = f32::NAN;
    vec![
        ("trainer.ckpt".into(), good),
        ("without_init.ckpt".into(), old),
        (
            "nan_param.ckpt".into(),
            checkpoint::to_bytes(&header(5), &nan, &state(5)).unwrap(),
        ),
        (
            "empty.ckpt".into(),
            checkpoint::to_bytes(&header(0), &[], &state(0)).unwrap(),
        ),
    ]
}
