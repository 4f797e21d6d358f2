//! Atomic output: a file appears whole or not at all.
//!
//! The bytes go to a new temporary file `.<name>.<pid>.<n>.tmp` in the destination's
//! directory (so the rename never crosses file systems), are synced to disk, and the file
//! is renamed over the destination; the directory is then synced (best effort, Unix) so
//! the rename survives a crash. On any failure the temporary file is removed and the
//! destination is untouched. (The same pattern as the runner's `atomic` module, without
//! its `tempfile` dependency.)

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};

/// An I/O error while writing `path`.
fn io_error(path: &Path, action: String, error: std::io::Error) -> Error {
    Error::from(ErrorKind::Io { action, error }).in_file(path)
}

/// The directory a path lives in (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates a fresh temporary file next to `path`.
fn create_temporary(path: &Path, dir: &Path) -> Result<(File, PathBuf), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut last = None;
    for n in 0..1000 {
        let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(io_error(
                    path,
                    format!("create a temporary file in {}", dir.display()),
                    e,
                ))
            }
        }
    }
    Err(io_error(
        path,
        format!("create a temporary file in {}", dir.display()),
        last.unwrap_or_else(|| std::io::Error::other("no free temporary name")),
    ))
}

/// Writes `bytes` to `path` atomically.
///
/// # Errors
/// [`ErrorKind::Io`] naming `path` if the directory is not writable or the data cannot be
/// written, synced or renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = directory_of(path);
    let (mut file, temp) = create_temporary(path, &dir)?;
    let written = file
        .write_all(bytes)
        .map_err(|e| io_error(path, "write".to_string(), e))
        .and_then(|()| {
            file.sync_all()
                .map_err(|e| io_error(path, "sync to disk".to_string(), e))
        })
        .and_then(|()| {
            drop(file);
            std::fs::rename(&temp, path)
                .map_err(|e| io_error(path, "rename the finished file into place".to_string(), e))
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    #[cfg(unix)]
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "powerpost-segy-atomic-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_and_overwrites_leaving_no_temporary() {
        let dir = scratch("ok");
        let path = dir.join("a.sgy");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_names_the_file_and_leaves_nothing() {
        let dir = scratch("fail");
        // The destination is a non-empty directory: the rename fails.
        let path = dir.join("out.sgy");
        std::fs::create_dir_all(path.join("inside")).unwrap();
        let e = write_atomic(&path, b"data").unwrap_err();
        assert!(e.to_string().contains("out.sgy: cannot rename"), "{e}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let e = write_atomic(&dir.join("missing/x.sgy"), b"data").unwrap_err();
        assert!(
            e.to_string()
                .contains("x.sgy: cannot create a temporary file"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
