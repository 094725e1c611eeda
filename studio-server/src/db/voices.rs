// SPDX-License-Identifier: MPL-2.0
//! Voices: a project's speech sample and the voice profile measured on it.

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct VoiceRow {
    pub id: String,
    pub owner_id: String,
    pub project_id: String,
    pub name: String,
    pub sample_key: String,
    /// The character file's `voice` object as JSON.
    pub profile: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, owner_id, project_id, name, sample_key, profile, created_at";

pub async fn insert(db: &AnyPool, v: &VoiceRow) -> sqlx::Result<()> {
    sqlx::query(&format!("INSERT INTO voices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
        .bind(&v.id)
        .bind(&v.owner_id)
        .bind(&v.project_id)
        .bind(&v.name)
        .bind(&v.sample_key)
        .bind(&v.profile)
        .bind(v.created_at)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn list(db: &AnyPool, owner: &str, project: &str) -> sqlx::Result<Vec<VoiceRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM voices WHERE owner_id = $1 AND project_id = $2 ORDER BY created_at, id"
    ))
    .bind(owner)
    .bind(project)
    .fetch_all(db)
    .await
}

/// The owner's voices across all their projects: their voice library.
pub async fn library(db: &AnyPool, owner: &str) -> sqlx::Result<Vec<VoiceRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM voices WHERE owner_id = $1 ORDER BY created_at, id"))
        .bind(owner)
        .fetch_all(db)
        .await
}

pub async fn get(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<VoiceRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM voices WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Deletes a voice; characters that had it keep their face and lose the voice.
pub async fn delete(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    // Explicit as well as ON DELETE SET NULL, like the other deletes.
    sqlx::query("UPDATE characters SET voice_id = NULL WHERE owner_id = $1 AND voice_id = $2")
        .bind(owner)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM voices WHERE owner_id = $1 AND id = $2")
        .bind(owner)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}
