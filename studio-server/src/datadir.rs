// SPDX-License-Identifier: MPL-2.0
//! The data directory holds the token signing key (`jwt-secret`), the SQLite database and
//! the stored media: only the server's own user may read any of it. The directory is made
//! `0700` and those files `0600`; ones that exist with wider modes (from an older version,
//! an archive, a careless `cp`) are tightened and a log line says so.

use std::io::Write;
use std::path::Path;

/// Mode of the data directory.
const DIR_MODE: u32 = 0o700;
/// Mode of the secret files in it.
const FILE_MODE: u32 = 0o600;

/// The data directory when none is given: `$XDG_DATA_HOME/reenact`, else `~/.local/share/reenact`.
pub fn default_dir() -> std::path::PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    base.join("reenact")
}

/// Creates `dir` (and its parents) and makes it private to this user.
pub fn prepare(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return restrict(dir, DIR_MODE);
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Makes the existing file at `path` private to this user; a missing file is left missing.
pub fn tighten(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => restrict(path, FILE_MODE),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates the file at `path` empty and private unless it exists, and tightens it if it does
/// (the SQLite database before SQLite opens it: its journals take the file's mode).
pub fn touch_private(path: &Path) -> std::io::Result<()> {
    match private_options().create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => tighten(path),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to a file only this user can read (created `0600`, never readable by
/// others in between) in place of whatever was at `path`.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    tighten(path)?;
    let mut file = private_options().create(true).truncate(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let had = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if had & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        tracing::warn!(path = %path.display(), from = format!("{had:04o}"), to = format!("{mode:04o}"),
            "permissions tightened: others could read the server's data");
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_wide_files_end_private() {
        let base = tempfile::tempdir().unwrap();
        let data = base.path().join("data");
        prepare(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let secret = data.join("jwt-secret");
        write_private(&secret, b"k").unwrap();
        assert_eq!(mode(&secret), 0o600);

        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare(&data).unwrap();
        tighten(&secret).unwrap();
        assert_eq!((mode(&data), mode(&secret)), (0o700, 0o600));

        let db = data.join("reenact.db");
        touch_private(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).unwrap();
        touch_private(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        tighten(&data.join("missing")).unwrap();
    }

    #[test]
    fn narrower_modes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).unwrap();
        tighten(&file).unwrap();
        assert_eq!(mode(&file), 0o400);
    }
}
