//! Output files replace old ones atomically: written to a temporary file in the same
//! directory, then renamed over the target, so a reader (a textfile collector, a nightly
//! script) sees the old file or the new one, never half of one.
//!
//! Only a regular file (or a path not there yet) is replaced. A device, a FIFO or a
//! socket (`/dev/null`, `/dev/stdout`, a named pipe) is written in place: renaming over
//! it would, when run as root, turn `/dev/null` into an ordinary file. A symbolic link
//! is followed, so the file it points at is replaced and the link stays.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically.
///
/// # Errors
/// The directory cannot take a temporary file, or writing or renaming fails; nothing
/// half-written is left at `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.display();
    let resolved;
    let path = match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("{name}: cannot open for writing"))?;
            return f
                .write_all(bytes)
                .and_then(|()| f.flush())
                .with_context(|| format!("{name}: cannot write"));
        }
        Ok(_) if path.is_symlink() => {
            resolved = std::fs::canonicalize(path)
                .with_context(|| format!("{name}: cannot follow the link"))?;
            resolved.as_path()
        }
        _ => path,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".rdbscope-")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "{name}: cannot create a temporary file in {}",
                dir.display()
            )
        })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("{name}: cannot write"))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{name}: cannot replace"))?;
    Ok(())
}

/// Writes `text` to `path`, or to standard output for `-`.
///
/// # Errors
/// As [`write_atomic`], or standard output is closed.
pub fn emit(path: &str, text: &str) -> Result<()> {
    if path == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    } else {
        write_atomic(path.as_ref(), text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        std::fs::write(&p, "old").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no/such/dir/r.json");
        let e = write_atomic(&missing, b"x").unwrap_err();
        assert!(
            format!("{e:#}").contains("cannot create a temporary file"),
            "{e:#}"
        );
    }

    #[test]
    fn a_fifo_is_written_in_place_and_a_link_is_kept() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo (coreutils) is needed by this test");
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "the FIFO was replaced: {kind:?}");

        let target = dir.path().join("real.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("latest.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }
}
