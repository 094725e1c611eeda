// SPDX-License-Identifier: MPL-2.0
//! Media arriving in a project from outside — an upload, or an import from a URL — passes
//! one gate: its bytes are charged to the owner's storage quota (atomically, see
//! [`crate::quota`]), then discovery (container, codecs, duration, resolution, a picture
//! decodable at the end), then storage by id and a clip row, and the clip's overview job
//! (thumbnail and waveform, [`crate::jobs::overview`]) is queued. Both ways in call [`accept`],
//! so they take and refuse exactly the same files; a refused file is given back to the quota.

use sqlx::AnyPool;

use crate::db::clips::{self, ClipPlace, ClipRow};
use crate::quota::{self, QuotaError};
use crate::storage::{Area, Storage, StorageError, TempFile};

/// Why incoming media was not taken.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Storing it would take the owner past their quota (the message names it).
    #[error("{0}")]
    Quota(String),
    /// Discovery's reason, in plain words and without the server's paths.
    #[error("{0}")]
    NotMedia(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("media discovery stopped: {0}")]
    Discovery(String),
}

/// A file on its way into a project.
#[derive(Debug)]
pub struct Incoming {
    pub owner_id: String,
    pub project_id: String,
    /// Display name (see [`clean_name`]); never part of a storage path.
    pub name: String,
    /// The complete file; removed unless it is stored.
    pub file: TempFile,
    pub bytes: u64,
}

/// Charges `incoming` to its owner's quota and checks it by discovery, then stores it under
/// a fresh id in the project's `source/` area and records the clip.
pub async fn accept(
    db: &AnyPool,
    storage: &Storage,
    quota_bytes: u64,
    incoming: Incoming,
) -> Result<ClipRow, IntakeError> {
    let reservation = quota::reserve(db, storage, &incoming.owner_id, incoming.bytes, quota_bytes).await.map_err(
        |err| match err {
            QuotaError::Database(err) => IntakeError::Database(err),
            QuotaError::Storage(err) => IntakeError::Storage(err),
            other => IntakeError::Quota(other.to_string()),
        },
    )?;
    match store(db, storage, incoming).await {
        Ok(row) => {
            reservation.keep();
            crate::jobs::overview::queue(db, &row, quota_bytes).await;
            Ok(row)
        }
        Err(err) => {
            reservation.release().await;
            Err(err)
        }
    }
}

/// Discovery, storage and the clip row of a file whose bytes are reserved.
async fn store(db: &AnyPool, storage: &Storage, incoming: Incoming) -> Result<ClipRow, IntakeError> {
    let path = incoming.file.path().to_path_buf();
    let info = tokio::task::spawn_blocking(move || reenact_engine::media::probe_complete(&path))
        .await
        .map_err(|e| IntakeError::Discovery(e.to_string()))?
        .map_err(|e| IntakeError::NotMedia(media_cause(e)))?;

    let id = uuid::Uuid::new_v4().to_string();
    let file_name = format!("{id}.{}", extension(&incoming.name));
    let key = Storage::key(&incoming.owner_id, &incoming.project_id, Area::Source, &file_name);
    let place = ClipPlace {
        id,
        project_id: incoming.project_id,
        owner_id: incoming.owner_id,
        original_name: incoming.name,
        storage_key: key.clone(),
        bytes: incoming.bytes as i64,
    };
    let row = ClipRow::discovered(place, &info).ok_or(IntakeError::NotMedia("no video stream".into()))?;
    storage.commit(incoming.file.path(), &key).await?;
    incoming.file.keep();
    if let Err(err) = clips::insert(db, &row).await {
        let _ = storage.remove(&key).await;
        return Err(err.into());
    }
    Ok(row)
}

/// The engine's reason without the server's temporary path.
pub fn media_cause(err: reenact_engine::EngineError) -> String {
    match err {
        reenact_engine::EngineError::BadMedia { cause, .. } | reenact_engine::EngineError::Unreadable { cause, .. } => {
            cause
        }
        other => other.to_string(),
    }
}

/// A display name: the last path component, printable, at most 200 characters.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() || cleaned == "." || cleaned == ".." {
        "upload".into()
    } else {
        cleaned
    }
}

/// The stored file's extension: the original one when it is short and
/// alphanumeric, else `bin` (discovery reads content, not names).
fn extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((_, ext)) if (1..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric()) => {
            ext.to_ascii_lowercase()
        }
        _ => "bin".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_paths() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\x\\take.mp4"), "take.mp4");
        assert_eq!(clean_name(".."), "upload");
        assert_eq!(extension("take.MP4"), "mp4");
        assert_eq!(extension("x.mp4/../../a"), "bin");
        assert_eq!(extension("noext"), "bin");
    }
}
