// SPDX-License-Identifier: MPL-2.0
//! Subtitle tracks: one per project and language, the cues as JSON text.

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct TrackRow {
    pub project_id: String,
    /// BCP 47 tag, canonical case.
    pub lang: String,
    pub owner_id: String,
    /// JSON list of cues.
    pub cues: String,
    pub updated_at: i64,
}

const COLUMNS: &str = "project_id, lang, owner_id, cues, updated_at";

/// Writes the track, replacing the project's track of the same language.
pub async fn upsert(db: &AnyPool, t: &TrackRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO subtitle_tracks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (project_id, lang) DO UPDATE SET cues = excluded.cues, updated_at = excluded.updated_at"
    ))
    .bind(&t.project_id)
    .bind(&t.lang)
    .bind(&t.owner_id)
    .bind(&t.cues)
    .bind(t.updated_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get(db: &AnyPool, owner: &str, project: &str, lang: &str) -> sqlx::Result<Option<TrackRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM subtitle_tracks WHERE owner_id = $1 AND project_id = $2 AND lang = $3"
    ))
    .bind(owner)
    .bind(project)
    .bind(lang)
    .fetch_optional(db)
    .await
}

/// The project's tracks, by language.
pub async fn list(db: &AnyPool, owner: &str, project: &str) -> sqlx::Result<Vec<TrackRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM subtitle_tracks WHERE owner_id = $1 AND project_id = $2 ORDER BY lang"
    ))
    .bind(owner)
    .bind(project)
    .fetch_all(db)
    .await
}

pub async fn delete(db: &AnyPool, owner: &str, project: &str, lang: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM subtitle_tracks WHERE owner_id = $1 AND project_id = $2 AND lang = $3")
        .bind(owner)
        .bind(project)
        .bind(lang)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
