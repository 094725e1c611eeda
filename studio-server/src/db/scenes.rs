// SPDX-License-Identifier: MPL-2.0
//! Scenes: stretches of a project's timeline, each played by one of its characters.

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct SceneRow {
    pub id: String,
    pub owner_id: String,
    pub project_id: String,
    pub character_id: String,
    /// Seconds on the timeline.
    pub start_s: f64,
    pub end_s: f64,
    /// 1 when the character's portrait speaks the scene's sound, 0 when the performer becomes them.
    pub voice_over: i64,
    /// The language (BCP 47 tag) a dubbed scene's lines are spoken in.
    pub dub: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, owner_id, project_id, character_id, start_s, end_s, voice_over, dub, created_at";

pub async fn insert(db: &AnyPool, s: &SceneRow) -> sqlx::Result<()> {
    sqlx::query(&format!("INSERT INTO scenes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(&s.id)
        .bind(&s.owner_id)
        .bind(&s.project_id)
        .bind(&s.character_id)
        .bind(s.start_s)
        .bind(s.end_s)
        .bind(s.voice_over)
        .bind(&s.dub)
        .bind(s.created_at)
        .execute(db)
        .await?;
    Ok(())
}

/// The scenes of a project in timeline order.
pub async fn list(db: &AnyPool, owner: &str, project: &str) -> sqlx::Result<Vec<SceneRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM scenes WHERE owner_id = $1 AND project_id = $2 ORDER BY start_s, end_s, id"
    ))
    .bind(owner)
    .bind(project)
    .fetch_all(db)
    .await
}

pub async fn delete(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM scenes WHERE owner_id = $1 AND id = $2").bind(owner).bind(id).execute(db).await?;
    Ok(done.rows_affected() == 1)
}
