//! Small file helpers: atomic writes and SHA-256 (`.npy` files: [`crate::npy`]).

use anyhow::{Context, Result};
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
