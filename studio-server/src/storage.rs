// SPDX-License-Identifier: MPL-2.0
//! Stored files, laid out as
//! `users/{user}/projects/{project}/{source,clips,audio,renders,thumbnails,metadata}/{file}`.
//! Every path is built from ids the server made, never from names users typed.
//! Local directory for now; object storage comes with the scale-out work.

use std::path::{Path, PathBuf};

/// The kinds of files a project holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Source,
    Clips,
    Audio,
    Renders,
    Thumbnails,
    Metadata,
}

impl Area {
    fn dir(self) -> &'static str {
        match self {
            Area::Source => "source",
            Area::Clips => "clips",
            Area::Audio => "audio",
            Area::Renders => "renders",
            Area::Thumbnails => "thumbnails",
            Area::Metadata => "metadata",
        }
    }
}

/// A directory holding every user's files.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Storage { root })
    }

    /// Key of `file` in `area` of a project. `file` must be made by the server
    /// (an id plus an extension of letters and digits).
    pub fn key(user: &str, project: &str, area: Area, file: &str) -> String {
        debug_assert!(file.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') && !file.contains(".."));
        format!("users/{user}/projects/{project}/{}/{file}", area.dir())
    }

    /// Where `key` lies on disk.
    pub fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// A fresh temporary file path for an incoming upload.
    pub fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(format!("{}.part", uuid::Uuid::new_v4()))
    }

    /// Moves a finished temporary file to `key` (atomic on one filesystem).
    pub async fn commit(&self, temp: &Path, key: &str) -> std::io::Result<()> {
        let dest = self.path(key);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(temp, dest).await
    }

    /// Removes every file of a user.
    pub async fn remove_user(&self, user: &str) -> std::io::Result<()> {
        match tokio::fs::remove_dir_all(self.root.join("users").join(user)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes every file of a project.
    pub async fn remove_project(&self, user: &str, project: &str) -> std::io::Result<()> {
        match tokio::fs::remove_dir_all(self.root.join("users").join(user).join("projects").join(project)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Bytes stored for a user (for quotas).
    pub fn user_bytes(&self, user: &str) -> u64 {
        fn walk(dir: &Path) -> u64 {
            std::fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| match e.file_type() {
                            Ok(t) if t.is_dir() => walk(&e.path()),
                            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.root.join("users").join(user))
    }
}

/// Deletes a temporary file when dropped, unless it was kept.
#[derive(Debug)]
pub struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    pub fn new(path: PathBuf) -> Self {
        TempFile { path: Some(path) }
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().expect("not yet kept")
    }

    /// The file is no longer temporary (it was moved away).
    pub fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
