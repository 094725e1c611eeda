// SPDX-License-Identifier: MPL-2.0
//! Clips: media accepted into a project, with what discovery found in them.

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct ClipRow {
    pub id: String,
    pub project_id: String,
    pub owner_id: String,
    pub original_name: String,
    pub storage_key: String,
    pub bytes: i64,
    pub container: String,
    pub duration_s: f64,
    pub width: i64,
    pub height: i64,
    pub fps: f64,
    pub video_codec: String,
    pub audio_codec: Option<String>,
    pub created_at: i64,
}

/// Who owns a clip and where it is stored: what a [`ClipRow`] holds besides discovery's findings.
#[derive(Debug, Clone)]
pub struct ClipPlace {
    pub id: String,
    pub project_id: String,
    pub owner_id: String,
    pub original_name: String,
    pub storage_key: String,
    pub bytes: i64,
}

impl ClipRow {
    /// The row of a clip at `place` that discovery described as `info`; `None` without video.
    pub fn discovered(place: ClipPlace, info: &reenact_engine::MediaInfo) -> Option<Self> {
        let video = info.video.as_ref()?;
        Some(ClipRow {
            id: place.id,
            project_id: place.project_id,
            owner_id: place.owner_id,
            original_name: place.original_name,
            storage_key: place.storage_key,
            bytes: place.bytes,
            container: info.container.clone().unwrap_or_else(|| "unknown".into()),
            duration_s: info.duration_s,
            width: i64::from(video.width),
            height: i64::from(video.height),
            fps: video.fps(),
            video_codec: video.codec.clone(),
            audio_codec: info.audio.as_ref().map(|a| a.codec.clone()),
            created_at: crate::db::now(),
        })
    }
}

const COLUMNS: &str = "id, project_id, owner_id, original_name, storage_key, bytes, container, duration_s, \
                       width, height, fps, video_codec, audio_codec, created_at";

pub async fn insert(db: &AnyPool, c: &ClipRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO clips ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(&c.id)
    .bind(&c.project_id)
    .bind(&c.owner_id)
    .bind(&c.original_name)
    .bind(&c.storage_key)
    .bind(c.bytes)
    .bind(&c.container)
    .bind(c.duration_s)
    .bind(c.width)
    .bind(c.height)
    .bind(c.fps)
    .bind(&c.video_codec)
    .bind(&c.audio_codec)
    .bind(c.created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn list(db: &AnyPool, owner: &str, project: &str) -> sqlx::Result<Vec<ClipRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM clips WHERE owner_id = $1 AND project_id = $2 ORDER BY created_at, id"
    ))
    .bind(owner)
    .bind(project)
    .fetch_all(db)
    .await
}

pub async fn get(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<ClipRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM clips WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Deletes a clip of `owner`; false when there was none.
pub async fn delete(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM clips WHERE owner_id = $1 AND id = $2").bind(owner).bind(id).execute(db).await?;
    Ok(done.rows_affected() == 1)
}
