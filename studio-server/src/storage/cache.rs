// SPDX-License-Identifier: MPL-2.0
//! Local copies of objects, for readers that need a file (GStreamer, range requests).
//! Bounded in size: the least recently used copies go first, but never one used in the
//! last few minutes, since a job may be about to open the path it was handed.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Copies younger than this (by last use) are never evicted.
const IN_USE: Duration = Duration::from_secs(600);

#[derive(Debug)]
pub(super) struct Cache {
    dir: PathBuf,
    limit: u64,
    /// One trim at a time; trims walk the whole folder.
    trimming: tokio::sync::Mutex<()>,
}

impl Cache {
    pub(super) fn new(dir: PathBuf, limit: u64) -> Self {
        Cache { dir, limit, trimming: Default::default() }
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cached copy of `key`, marked as just used.
    pub(super) async fn hit(&self, key: &str) -> Option<PathBuf> {
        let path = self.dir.join(key);
        let file = tokio::fs::File::options().append(true).open(&path).await.ok()?;
        let _ = file.into_std().await.set_modified(SystemTime::now());
        Some(path)
    }

    /// Moves a complete file in as the copy of `key`; returns where it now lies, or
    /// where it still lies when the move failed (the caller's file is never lost).
    pub(super) async fn adopt(&self, file: &Path, key: &str) -> PathBuf {
        let path = self.dir.join(key);
        let moved = async {
            tokio::fs::create_dir_all(path.parent().expect("keys have folders")).await?;
            tokio::fs::rename(file, &path).await
        };
        if let Err(err) = moved.await {
            tracing::warn!(%err, key, "object cache: cannot keep a copy");
            return file.to_path_buf();
        }
        self.trim().await;
        path
    }

    /// Drops the copy of `key`.
    pub(super) async fn forget(&self, key: &str) {
        let _ = tokio::fs::remove_file(self.dir.join(key)).await;
    }

    async fn trim(&self) {
        let Ok(_one) = self.trimming.try_lock() else { return };
        let (dir, limit) = (self.dir.clone(), self.limit);
        let _ = tokio::task::spawn_blocking(move || trim(&dir, limit)).await;
    }
}

/// Removes the least recently used files under `dir` until it holds at most `limit` bytes.
fn trim(dir: &Path, limit: u64) {
    let mut files = Vec::new();
    walk(dir, &mut |path, meta| files.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len(), path)));
    let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
    if total <= limit {
        return;
    }
    files.sort();
    let now = SystemTime::now();
    for (used, len, path) in files {
        if total <= limit || now.duration_since(used).unwrap_or_default() < IN_USE {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
            tracing::debug!(path = %path.display(), "object cache: evicted");
        }
    }
}

/// Bytes of every file under `dir` (0 when it does not exist).
pub(super) fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    walk(dir, &mut |_, meta| total += meta.len());
    total
}

fn walk(dir: &Path, visit: &mut dyn FnMut(PathBuf, std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        match entry.metadata() {
            Ok(meta) if meta.is_dir() => walk(&entry.path(), visit),
            Ok(meta) => visit(entry.path(), meta),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_drops_the_least_recently_used_files_but_not_fresh_ones() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        for (name, age) in [("a", 3), ("b", 1), ("c", 2)] {
            let path = dir.path().join("users/u").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, [0u8; 100]).unwrap();
            let file = std::fs::File::options().append(true).open(&path).unwrap();
            file.set_modified(old - Duration::from_secs(age)).unwrap();
        }
        std::fs::write(dir.path().join("fresh"), [0u8; 100]).unwrap();
        trim(dir.path(), 250);
        let left = |name: &str| dir.path().join("users/u").join(name).exists();
        assert!(!left("a") && !left("c") && left("b"), "oldest two went");
        assert!(dir.path().join("fresh").exists());
        trim(dir.path(), 0);
        assert!(dir.path().join("fresh").exists(), "a file in use is never evicted");
        assert_eq!(tree_bytes(dir.path()), 100);
    }
}
