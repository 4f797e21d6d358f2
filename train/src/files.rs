//! Small file helpers: atomic writes, `.npy` (little-endian f32, C order) and SHA-256.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// Prefix of the temporaries an atomic write of a file or directory named `name` uses
/// (`.{name}.`, then random characters and the suffix [`TEMP_SUFFIX`]), so that what a
/// killed process leaves behind can be told apart per destination.
pub fn temp_prefix(name: &str) -> String {
    format!(".{name}.")
}

/// Suffix of the temporaries of atomic writes.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Removes from `dir` what killed processes left of atomic writes of `names` (files or
/// directories named `.{name}.*.tmp`); returns how many were removed. Only the given
/// destinations' temporaries are touched, so processes writing other files of the same
/// directory (e.g. other dataset shards) are not disturbed.
///
/// # Errors
/// If `dir` exists but cannot be listed or a temporary cannot be removed.
pub fn remove_stale_temporaries(dir: &Path, names: &[&str]) -> Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot list", dir.display())),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let stale = file_name.ends_with(TEMP_SUFFIX)
            && names
                .iter()
                .any(|name| file_name.starts_with(&temp_prefix(name)));
        if !stale {
            continue;
        }
        let path = entry.path();
        let result = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        result.with_context(|| format!("{}: cannot remove a stale temporary", path.display()))?;
        removed += 1;
    }
    Ok(removed)
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync,
/// rename).
///
/// # Errors
/// If the directory is not writable; the error names `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = temp_prefix(&name);
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", path.display()))?;
    temp.write_all(bytes)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    temp.as_file()
        .sync_all()
        .with_context(|| format!("{}: cannot sync", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates 0600 files; outputs are ordinary 0644 files.
        let _ = temp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot rename into place", path.display()))?;
    Ok(())
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Encodes a little-endian f32 `.npy` (format 1.0, C order).
pub fn npy_bytes(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if shape.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Decodes a little-endian f32 (or f64, converted) C-order `.npy`; `what` names the file
/// in errors.
///
/// # Errors
/// A malformed header, another dtype, Fortran order or a truncated body.
pub fn parse_npy(bytes: &[u8], what: &str) -> Result<(Vec<usize>, Vec<f32>)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("{what}: not a .npy file (magic bytes missing)");
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => bail!("{what}: unsupported .npy version {v}"),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + header_len)
            .context(format!("{what}: truncated header"))?,
    )
    .context(format!("{what}: header is not text"))?;
    let descr = if header.contains("'<f4'") || header.contains("\"<f4\"") {
        4
    } else if header.contains("'<f8'") || header.contains("\"<f8\"") {
        8
    } else {
        bail!("{what}: dtype must be little-endian float32 or float64 ('<f4'/'<f8')");
    };
    if header.contains("'fortran_order': True") {
        bail!("{what}: Fortran-order arrays are not supported; save with C order");
    }
    let open = header
        .find("'shape':")
        .context(format!("{what}: header has no shape"))?;
    let rest = &header[open + 8..];
    let (l, r) = (
        rest.find('(').context(format!("{what}: bad shape"))?,
        rest.find(')').context(format!("{what}: bad shape"))?,
    );
    let shape: Vec<usize> = rest[l + 1..r]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .context(format!("{what}: bad shape"))?;
    let count: usize = shape.iter().product();
    let body = &bytes[start + header_len..];
    if body.len() != count * descr {
        bail!(
            "{what}: body holds {} bytes, expected {} for shape {shape:?}",
            body.len(),
            count * descr
        );
    }
    let data = if descr == 4 {
        body.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        body.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect()
    };
    Ok((shape, data))
}

/// Reads a `.npy` file.
///
/// # Errors
/// Unreadable or malformed file (named in the error).
pub fn read_npy(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_npy(&bytes, &path.display().to_string())
}

#[cfg(test)]
mod stale_tests {
    use super::*;

    /// Only the named destinations' temporaries go; other shards' temporaries, finished
    /// files and look-alikes stay.
    #[test]
    fn removes_only_the_named_destinations_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let touch = |name: &str| std::fs::write(d.join(name), b"x").unwrap();
        touch(".shard-0000.x.npy.abc123.tmp");
        std::fs::create_dir(d.join(".cell.l1_a1.q9.tmp")).unwrap();
        std::fs::write(d.join(".cell.l1_a1.q9.tmp/part"), b"x").unwrap();
        touch(".shard-0001.x.npy.def456.tmp"); // another process's shard
        touch("shard-0000.x.npy"); // a finished file
        touch(".shard-0000.x.npy.abc123.keep"); // not a temporary
        let removed = remove_stale_temporaries(d, &["shard-0000.x.npy", "cell.l1_a1"]).unwrap();
        assert_eq!(removed, 2);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".shard-0000.x.npy.abc123.keep",
                ".shard-0001.x.npy.def456.tmp",
                "shard-0000.x.npy"
            ]
        );
        // A directory that does not exist has nothing stale.
        assert_eq!(
            remove_stale_temporaries(&d.join("none"), &["a"]).unwrap(),
            0
        );
    }

    /// `write_atomic` names its temporary after the destination.
    #[test]
    fn write_atomic_leaves_no_temporary_and_uses_the_destination_prefix() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(&dir.path().join("out.bin"), b"abc").unwrap();
        assert_eq!(std::fs::read(dir.path().join("out.bin")).unwrap(), b"abc");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(temp_prefix("out.bin"), ".out.bin.");
    }
}
