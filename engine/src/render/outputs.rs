// SPDX-License-Identifier: MPL-2.0
//! Output files are written under a `.part` name and renamed only when the
//! whole render succeeded; anything else removes every `.part` it made.

use std::path::{Path, PathBuf};

use crate::blocks::part_path;
use crate::error::{EngineError, Result};

/// The `.part` files of one render, removed on drop unless committed.
#[derive(Debug, Default)]
pub(crate) struct PartFiles {
    files: Vec<(PathBuf, PathBuf)>,
}

impl PartFiles {
    /// Reserves `final_path`; returns the `.part` path to write instead.
    pub(crate) fn reserve(&mut self, final_path: PathBuf) -> PathBuf {
        let part = part_path(&final_path);
        self.files.push((part.clone(), final_path));
        part
    }

    /// Writes `bytes` to the `.part` of `final_path`.
    pub(crate) fn write(&mut self, final_path: PathBuf, bytes: &[u8]) -> Result<()> {
        let part = self.reserve(final_path);
        std::fs::write(&part, bytes).map_err(|e| EngineError::io(&part, e))
    }

    /// Renames every `.part` to its final name (replacing an older render).
    pub(crate) fn commit(mut self) -> Result<Vec<PathBuf>> {
        let files = std::mem::take(&mut self.files);
        let mut done = Vec::with_capacity(files.len());
        for (i, (part, fin)) in files.iter().enumerate() {
            if let Err(e) = std::fs::rename(part, fin) {
                // Whatever is still a .part goes; renamed files stay complete.
                self.files = files[i..].to_vec();
                return Err(EngineError::io(fin, e));
            }
            done.push(fin.clone());
        }
        Ok(done)
    }
}

impl Drop for PartFiles {
    fn drop(&mut self) {
        for (part, _) in &self.files {
            if let Err(err) = std::fs::remove_file(part) {
                if err.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %part.display(), %err, "could not remove partial output");
                }
            }
        }
    }
}

/// A file-name-safe form of `text` (letters, digits, `-`, `_`).
pub(crate) fn slug(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        if ch.is_alphanumeric() || ch == '_' || ch == '-' {
            out.extend(ch.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "render".into()
    } else {
        out
    }
}

/// Creates `dir` if needed and checks that it is a writable directory.
pub(crate) fn prepare_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    let probe = dir.join(".reenact-write-test");
    std::fs::write(&probe, b"").map_err(|e| EngineError::io(dir, e))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_parts_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let part;
        {
            let mut parts = PartFiles::default();
            part = parts.reserve(dir.path().join("a.mp4"));
            std::fs::write(&part, b"x").unwrap();
        }
        assert!(!part.exists());
        assert!(!dir.path().join("a.mp4").exists());
    }

    #[test]
    fn committed_parts_get_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut parts = PartFiles::default();
        parts.write(dir.path().join("a.json"), b"{}").unwrap();
        let done = parts.commit().unwrap();
        assert_eq!(done, vec![dir.path().join("a.json")]);
        assert_eq!(std::fs::read(dir.path().join("a.json")).unwrap(), b"{}");
        assert!(!dir.path().join("a.json.part").exists());
    }

    #[test]
    fn slugs_are_safe() {
        assert_eq!(slug("Lincoln at Gettysburg!"), "lincoln-at-gettysburg");
        assert_eq!(slug("../../etc"), "etc");
        assert_eq!(slug("   "), "render");
    }
}
