// SPDX-License-Identifier: MPL-2.0
//! SHA-256 of model files, and the checksum cache that lets an unchanged file be hashed once.
//!
//! The cache is a JSON file (`model-sha256.json` in `<user cache dir>/reenact`) mapping a file's
//! absolute path to its size, modification time and SHA-256. A hit needs all three to match;
//! any change re-hashes. A cache that cannot be read or written costs a re-hash and a log
//! line, never a failed verification.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Name of the checksum cache file inside the cache directory.
pub const CACHE_FILE_NAME: &str = "model-sha256.json";

/// Bumped when the cache layout changes; other versions are ignored.
const CACHE_VERSION: u32 = 1;

/// SHA-256 of the file at `path`, as 64 lowercase hex digits.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(to_hex(&hasher.finalize()))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut hex, byte| {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// The default checksum cache directory: `$XDG_CACHE_HOME/reenact`, else `~/.cache/reenact`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("reenact"))
}

/// What identifies one version of a file: its size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_secs: u64,
    mtime_nanos: u32,
}

impl Stamp {
    /// `None` when the platform gives no usable modification time; such files are not cached.
    fn of(meta: &Metadata) -> Option<Self> {
        let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        Some(Self { size: meta.len(), mtime_secs: mtime.as_secs(), mtime_nanos: mtime.subsec_nanos() })
    }
}

/// One cache entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedSum {
    #[serde(flatten)]
    stamp: Stamp,
    sha256: String,
}

/// The cache file as stored.
#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    files: BTreeMap<String, CachedSum>,
}

/// SHA-256 lookups through the cache; the file is read on first use and rewritten after each
/// new hash.
#[derive(Debug)]
pub(crate) struct ChecksumCache {
    /// Cache file; `None` keeps the cache in memory only.
    file: Option<PathBuf>,
    /// Entries by absolute path; `None` until the cache file has been read.
    entries: Option<BTreeMap<String, CachedSum>>,
    /// How many files this cache actually hashed (cache misses).
    hashed: usize,
}

impl ChecksumCache {
    /// A cache stored in `dir` (created when first written).
    pub(crate) fn in_dir(dir: &Path) -> Self {
        Self { file: Some(dir.join(CACHE_FILE_NAME)), entries: None, hashed: 0 }
    }

    /// A cache that lives in memory only, so every file is hashed once per process.
    pub(crate) fn in_memory() -> Self {
        Self { file: None, entries: None, hashed: 0 }
    }

    /// The cache file, if the cache is stored on disk.
    pub(crate) fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// How many files were hashed rather than answered from the cache.
    pub(crate) fn hashed(&self) -> usize {
        self.hashed
    }

    /// SHA-256 of `path`, whose current metadata is `meta`; hashes only on a cache miss.
    pub(crate) fn sha256(&mut self, path: &Path, meta: &Metadata) -> io::Result<String> {
        let key = cache_key(path);
        let stamp = Stamp::of(meta);
        if let (Some(key), Some(stamp)) = (&key, stamp) {
            if let Some(hit) = self.entries().get(key).filter(|cached| cached.stamp == stamp) {
                tracing::trace!(file = %path.display(), "sha256 from cache");
                return Ok(hit.sha256.clone());
            }
        }
        tracing::debug!(file = %path.display(), "hashing model file");
        let sha256 = sha256_file(path)?;
        self.hashed += 1;
        if let (Some(key), Some(stamp)) = (key, stamp) {
            self.entries().insert(key, CachedSum { stamp, sha256: sha256.clone() });
            self.save();
        }
        Ok(sha256)
    }

    fn entries(&mut self) -> &mut BTreeMap<String, CachedSum> {
        let file = self.file.as_deref();
        self.entries.get_or_insert_with(|| file.map(load).unwrap_or_default())
    }

    fn save(&self) {
        let (Some(file), Some(entries)) = (&self.file, &self.entries) else { return };
        let data = CacheFile { version: CACHE_VERSION, files: entries.clone() };
        if let Err(err) = write_replacing(file, &data) {
            tracing::warn!(cache = %file.display(), "cannot write the model checksum cache: {err}");
        }
    }
}

/// Absolute path of `path` as a string, or `None` for a path that is not UTF-8.
fn cache_key(path: &Path) -> Option<String> {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    path.to_str().map(str::to_owned)
}

/// Reads the cache file; anything unusable gives an empty cache.
fn load(file: &Path) -> BTreeMap<String, CachedSum> {
    let bytes = match fs::read(file) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(err) => {
            tracing::warn!(cache = %file.display(), "cannot read the model checksum cache: {err}");
            return BTreeMap::new();
        }
    };
    match serde_json::from_slice::<CacheFile>(&bytes) {
        Ok(data) if data.version == CACHE_VERSION => data.files,
        Ok(data) => {
            tracing::debug!(cache = %file.display(), version = data.version, "ignoring other cache version");
            BTreeMap::new()
        }
        Err(err) => {
            tracing::warn!(cache = %file.display(), "ignoring unreadable model checksum cache: {err}");
            BTreeMap::new()
        }
    }
}

/// Writes `data` beside `file` then renames it over, so readers never see half a file.
fn write_replacing(file: &Path, data: &CacheFile) -> io::Result<()> {
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_vec_pretty(data).map_err(io::Error::other)?;
    let tmp = file.with_extension(format!("json.{}.tmp", std::process::id()));
    fs::write(&tmp, json)?;
    fs::rename(&tmp, file).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, data).expect("write test file");
        path
    }

    fn set_mtime(path: &Path, time: SystemTime) {
        File::options().write(true).open(path).and_then(|f| f.set_modified(time)).expect("set mtime");
    }

    fn cached_sha(cache: &mut ChecksumCache, path: &Path) -> String {
        let meta = fs::metadata(path).expect("metadata");
        cache.sha256(path, &meta).expect("hash")
    }

    #[test]
    fn hashes_known_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(dir.path(), "abc", b"abc");
        assert_eq!(sha256_file(&path).expect("hash"), ABC_SHA256);
    }

    #[test]
    fn unchanged_file_is_hashed_once_and_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(dir.path(), "abc", b"abc");
        let mut cache = ChecksumCache::in_dir(&dir.path().join("cache"));
        assert_eq!(cached_sha(&mut cache, &path), ABC_SHA256);
        assert_eq!(cached_sha(&mut cache, &path), ABC_SHA256);
        assert_eq!(cache.hashed(), 1);

        let stored = fs::read_to_string(cache.file().expect("on disk")).expect("cache file written");
        assert!(stored.contains(ABC_SHA256), "{stored}");
        let mut reopened = ChecksumCache::in_dir(&dir.path().join("cache"));
        assert_eq!(cached_sha(&mut reopened, &path), ABC_SHA256);
        assert_eq!(reopened.hashed(), 0, "a new process reuses the stored sum");
    }

    #[test]
    fn changed_mtime_invalidates_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(dir.path(), "abc", b"abc");
        let mut cache = ChecksumCache::in_dir(dir.path());
        cached_sha(&mut cache, &path);
        fs::write(&path, b"xyz").expect("rewrite");
        set_mtime(&path, SystemTime::now() + Duration::from_secs(5));
        assert_ne!(cached_sha(&mut cache, &path), ABC_SHA256);
        assert_eq!(cache.hashed(), 2);
    }

    #[test]
    fn unwritable_cache_still_hashes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(dir.path(), "abc", b"abc");
        let not_a_dir = write_file(dir.path(), "blocker", b"");
        let mut cache = ChecksumCache::in_dir(&not_a_dir);
        assert_eq!(cached_sha(&mut cache, &path), ABC_SHA256);
    }

    #[test]
    fn garbage_cache_file_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(dir.path(), "abc", b"abc");
        write_file(dir.path(), CACHE_FILE_NAME, b"{ not json");
        let mut cache = ChecksumCache::in_dir(dir.path());
        assert_eq!(cached_sha(&mut cache, &path), ABC_SHA256);
        assert_eq!(cache.hashed(), 1);
    }
}
