//! `.npy` files of `f32` (little-endian, C order) of any rank.
//!
//! Reading and encoding are [`powerpost_train::npy`]'s (the workspace's one `.npy`
//! implementation, fuzzed in `fuzz/`); this module adds the atomic write. Every error names
//! the file and says what was expected, e.g.
//! `velocity.npy: expected a 2-D float32 array, found shape [3, 64, 128] float64`.

use crate::atomic;
use anyhow::{bail, Result};
use std::path::Path;

pub use powerpost_train::npy::{read_f32, read_f32_ranks, to_bytes, Array};

/// Writes an `f32` array atomically, as `numpy.save` writes it.
///
/// # Errors
/// If `data.len()` is not `product(shape)` or the file cannot be written.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let count = shape.iter().try_fold(1usize, |a, &n| a.checked_mul(n));
    if count != Some(data.len()) {
        bail!(
            "{}: shape {shape:?} needs {} values, got {}",
            path.display(),
            count.map_or("too many".to_string(), |c| c.to_string()),
            data.len()
        );
    }
    let bytes = to_bytes(shape, data)?;
    atomic::write_bytes(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built `.npy` file (format 1.0) with the given header dict and data bytes.
    fn raw_npy(dict: &str, data: &[u8]) -> Vec<u8> {
        powerpost_train::npy::v1_file(dict, data)
    }

    #[test]
    fn round_trip_any_rank() {
        let dir = tempfile::tempdir().unwrap();
        for shape in [vec![5], vec![2, 3], vec![2, 3, 4], vec![1, 2, 1, 3]] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
            let path = dir.path().join("a.npy");
            write_f32(&path, &shape, &data).unwrap();
            let back = read_f32(&path).unwrap();
            assert_eq!(back, Array { shape, data });
        }
    }

    #[test]
    fn written_bytes_match_numpys_layout() {
        // Independent reference: numpy.save of np.array([[1, 2]], dtype='<f4') writes this
        // header dict (version 1.0, padded to 64 bytes) followed by the raw little-endian data.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        write_f32(&path, &[1, 2], &[1.0, 2.0]).unwrap();
        let expected = raw_npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
            &[0, 0, 0x80, 0x3f, 0, 0, 0, 0x40],
        );
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        assert!(write_f32(&path, &[2, 2], &[0.0; 3]).is_err());
    }

    #[test]
    fn errors_name_the_file_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let f64_path = dir.path().join("velocity.npy");
        std::fs::write(
            &f64_path,
            raw_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 64, 128), }",
                &[],
            ),
        )
        .unwrap();
        let msg = format!("{:#}", read_f32_ranks(&f64_path, &[2]).unwrap_err());
        assert!(
            msg.contains(
                "velocity.npy: expected a 2-D float32 array, found shape [3, 64, 128] float64"
            ),
            "{msg}"
        );

        let rank_path = dir.path().join("rank.npy");
        write_f32(&rank_path, &[4], &[0.0; 4]).unwrap();
        let msg = format!("{:#}", read_f32_ranks(&rank_path, &[2, 3]).unwrap_err());
        assert!(
            msg.contains("rank.npy: expected a 2-D or 3-D float32 array, found shape [4] float32"),
            "{msg}"
        );

        let short = dir.path().join("short.npy");
        std::fs::write(
            &short,
            raw_npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                &[0; 12],
            ),
        )
        .unwrap();
        let msg = format!("{:#}", read_f32(&short).unwrap_err());
        assert!(
            msg.contains("short.npy: expected 16 data bytes") && msg.contains("truncated"),
            "{msg}"
        );

        let fortran = dir.path().join("f.npy");
        std::fs::write(
            &fortran,
            raw_npy(
                "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                &[0; 16],
            ),
        )
        .unwrap();
        assert!(format!("{:#}", read_f32(&fortran).unwrap_err())
            .contains("f.npy: expected C (row-major) order"));

        let junk = dir.path().join("junk.npy");
        std::fs::write(&junk, b"not numpy at all").unwrap();
        assert!(format!("{:#}", read_f32(&junk).unwrap_err())
            .starts_with(&format!("{}: not a valid .npy file", junk.display())));

        let missing = dir.path().join("missing.npy");
        assert!(
            format!("{:#}", read_f32(&missing).unwrap_err()).contains("missing.npy: cannot open")
        );
    }
}
