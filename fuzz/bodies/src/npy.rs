//! Target `npy`: the workspace's `.npy` reader and writer ([`powerpost_train::npy`]), used by
//! the trainer's datasets and by every `.npy` file of the `powerpost` binary.
//!
//! Properties:
//! - never a panic; every error starts with the file's name;
//! - accepted input: the data hold exactly `product(shape)` values; the rank filter agrees
//!   with the shape; a float32 file accepted as float32 is accepted identically when
//!   float64 is allowed too; where `npyz`'s own reader also reads the file, it reads the
//!   same shape and values;
//! - parse → write → parse: the same shape and value bits, and the written file is
//!   numpy.save's layout (data start on a multiple of 64 bytes) and writes back
//!   identically;
//! - write → parse: arrays of any rank (0–5) and any `f32` bits built from the fuzz bytes.

use powerpost_train::npy::{parse, to_bytes, Array, Dtypes};

use crate::mutate::LengthField;
use crate::Bytes;

/// The header length (u16 in format 1.0, u32 in 2.0 and 3.0).
pub const LENGTH_FIELDS: &[LengthField] = &[
    LengthField {
        offset: 8,
        width: 2,
        big_endian: false,
    },
    LengthField {
        offset: 8,
        width: 4,
        big_endian: false,
    },
];

const NAME: &str = "fuzz.npy";

/// The body of the `npy` target.
pub fn fuzz(data: &[u8]) {
    check(data);
    write_then_parse(data);
}

/// Same shape and value bits.
fn same(a: &Array, b: &Array) -> bool {
    a.shape == b.shape
        && a.data.len() == b.data.len()
        && a.data
            .iter()
            .zip(&b.data)
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Parses `bytes` both ways and checks the properties of the module docs.
pub fn check(bytes: &[u8]) {
    let f32_only = parse(bytes, NAME, Dtypes::F32, &[]);
    let either = parse(bytes, NAME, Dtypes::F32OrF64, &[]);
    for result in [&f32_only, &either] {
        match result {
            Ok(a) => {
                assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
                let rank = a.shape.len();
                assert!(parse(bytes, NAME, Dtypes::F32OrF64, &[rank, rank + 7]).is_ok());
                let other = parse(bytes, NAME, Dtypes::F32OrF64, &[rank + 1])
                    .expect_err("a rank filter without the rank refuses");
                assert!(format!("{other:#}").starts_with(NAME));
                round_trip(a);
            }
            Err(e) => assert!(format!("{e:#}").starts_with(NAME), "{e:#}"),
        }
    }
    if let Ok(a) = &f32_only {
        let b = either
            .as_ref()
            .expect("float32 files are read when float64 is allowed");
        assert!(same(a, b));
        // The peer: npyz's reader, where it reads the file as f32.
        if let Ok(file) = npyz::NpyFile::new(bytes) {
            let shape: Vec<usize> = file.shape().iter().map(|&n| n as usize).collect();
            if let Ok(values) = file.into_vec::<f32>() {
                assert_eq!(shape, a.shape);
                assert!(same(
                    a,
                    &Array {
                        shape,
                        data: values
                    }
                ));
            }
        }
    }
}

/// parse → write → parse, and the layout of what was written.
fn round_trip(a: &Array) {
    let written = to_bytes(&a.shape, &a.data).expect("a parsed array writes");
    let header_len = match written[6] {
        1 => 10 + usize::from(u16::from_le_bytes([written[8], written[9]])),
        _ => 12 + u32::from_le_bytes([written[8], written[9], written[10], written[11]]) as usize,
    };
    assert_eq!(header_len % 64, 0, "data start on a multiple of 64 bytes");
    assert_eq!(written.len(), header_len + 4 * a.data.len());
    let back = parse(&written, NAME, Dtypes::F32, &[]).expect("written files parse");
    assert!(same(a, &back));
    assert_eq!(to_bytes(&back.shape, &back.data).expect("writes"), written);
}

/// An array built from `data` (rank 0–5, extents 0–5, any bits) written and parsed back.
pub fn write_then_parse(data: &[u8]) {
    let mut b = Bytes::new(data);
    let rank = b.below(6);
    let shape: Vec<usize> = (0..rank).map(|_| b.below(6)).collect();
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| b.f32()).collect();
    let array = Array {
        shape,
        data: values,
    };
    round_trip(&array);
    let mut wrong = array.shape.clone();
    wrong.push(2);
    assert!(n == 0 || to_bytes(&wrong, &array.data).is_err());
}

/// Seeds: numpy.save layouts of several ranks, float64, version 2.0 and 3.0 headers,
/// Fortran order, big-endian and near misses.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let v1 = powerpost_train::npy::v1_file;
    let v3 = |dict: &str, data: &[u8]| {
        let header = format!("{dict}\n");
        let mut out = b"\x93NUMPY\x03\x00".to_vec();
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    };
    let values = |n: usize| -> Vec<f32> { (0..n).map(|i| i as f32 * 0.25 - 1.0).collect() };
    let f64s: Vec<u8> = [1.5f64, -0.1, 1e300]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    vec![
        ("rank2.npy".into(), to_bytes(&[2, 3], &values(6)).unwrap()),
        ("rank3.npy".into(), to_bytes(&[2, 1, 2], &values(4)).unwrap()),
        ("rank1.npy".into(), to_bytes(&[3], &values(3)).unwrap()),
        ("scalar.npy".into(), to_bytes(&[], &[f32::NAN]).unwrap()),
        ("empty.npy".into(), to_bytes(&[0, 4], &[]).unwrap()),
        (
            "float64.npy".into(),
            v1("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", &f64s),
        ),
        (
            "version3_list_shape.npy".into(),
            v3(
                "{\"shape\": [1, 2], \"fortran_order\": False, \"descr\": \"<f4\"}",
                &[0, 0, 0x80, 0x3F, 0, 0, 0, 0x40],
            ),
        ),
        (
            "fortran.npy".into(),
            v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }", &[0; 8]),
        ),
        (
            "big_endian.npy".into(),
            v1("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", &[0x3F, 0x80, 0, 0]),
        ),
        (
            "record.npy".into(),
            v1(
                "{'descr': [('a', '<f4'), ('b', '<i2', (2,))], 'fortran_order': False, 'shape': (1,), }",
                &[0; 8],
            ),
        ),
    ]
}
