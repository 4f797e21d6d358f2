//! Atomic file output: every file powerpost writes appears whole or not at all.
//!
//! The content goes to a temporary file in the destination's directory (so the final
//! rename never crosses file systems), is flushed and fsynced, and is then renamed over the
//! destination; on Unix the directory is fsynced too so the rename survives a crash. If
//! anything fails, the temporary file is deleted and the destination is left untouched.

use anyhow::{Context, Result};
pub use powerpost_train::files::remove_stale_temporaries;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A temporary-file (or directory, `dir = true`) builder whose result gets the usual
/// permissions of a new output — `0666` (`0777` for directories) minus the umask, like
/// `File::create` — rather than tempfile's private `0600`, so that the renamed output is
/// readable like any other file.
pub fn temp_builder<'a, 'b>(
    prefix: &'a str,
    suffix: &'b str,
    dir: bool,
) -> tempfile::Builder<'a, 'b> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(if dir {
            0o777
        } else {
            0o666
        }));
    }
    #[cfg(not(unix))]
    let _ = dir;
    builder
}

/// Writes `path` atomically with whatever `write` puts into the writer it is given.
///
/// # Errors
/// If the directory is not writable, `write` fails, or the data cannot be flushed or
/// renamed; the error names `path`.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> Result<()>,
{
    let dir = directory_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut temp = temp_builder(&prefix, ".tmp", false)
        .tempfile_in(&dir)
        .with_context(|| {
            format!(
                "{}: cannot create a temporary file in {}",
                path.display(),
                dir.display()
            )
        })?;
    {
        let mut writer = BufWriter::new(temp.as_file_mut());
        write(&mut writer).with_context(|| format!("{}: cannot write", path.display()))?;
        writer
            .flush()
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    temp.as_file()
        .sync_all()
        .with_context(|| format!("{}: cannot sync to disk", path.display()))?;
    temp.persist(path).map_err(|e| e.error).with_context(|| {
        format!(
            "{}: cannot rename the finished file into place",
            path.display()
        )
    })?;
    sync_directory(&dir);
    Ok(())
}

/// Writes `bytes` to `path` atomically.
///
/// # Errors
/// As [`write_atomic`].
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| Ok(w.write_all(bytes)?))
}

/// The directory a path lives in (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Fsyncs a directory so that a rename in it is durable (best effort; a no-op off Unix).
fn sync_directory(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = (dir, File::open);
}

#[cfg(test)]
mod permission_tests {
    #[cfg(unix)]
    #[test]
    fn outputs_get_ordinary_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // What a plain `File::create` gets under this process's umask.
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let expected = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        let out = dir.path().join("out.bin");
        super::write_bytes(&out, b"x").unwrap();
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            expected
        );
        let made = super::temp_builder(".d.", ".tmp", true)
            .tempdir_in(dir.path())
            .unwrap();
        let plain_dir = dir.path().join("plain_dir");
        std::fs::create_dir(&plain_dir).unwrap();
        let expected_dir = std::fs::metadata(&plain_dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            std::fs::metadata(made.path()).unwrap().permissions().mode() & 0o777,
            expected_dir
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write_bytes(&path, b"hello").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        // Overwrites atomically too.
        write_bytes(&path, b"bye").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"bye");
    }

    #[test]
    fn failure_leaves_no_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            anyhow::bail!("generator failed")
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("out.bin"));
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "temporary file left behind"
        );
    }

    #[test]
    fn failure_keeps_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keep.txt");
        write_bytes(&path, b"old").unwrap();
        let _ = write_atomic(&path, |w| {
            w.write_all(b"new but broken")?;
            anyhow::bail!("boom")
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }
}
