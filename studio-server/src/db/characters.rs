// SPDX-License-Identifier: MPL-2.0
//! Characters: a project's portrait analysed into a character file. The file's JSON
//! (`document`, without a voice) is read only when a whole file is asked for; listings
//! use the small `analysis` summary.

use sqlx::{AnyPool, FromRow};

/// A stored character, without its (large) document.
#[derive(Debug, Clone, FromRow)]
pub struct CharacterRow {
    pub id: String,
    pub owner_id: String,
    pub project_id: String,
    pub name: String,
    pub portrait_key: String,
    /// JSON summary of the portrait analysis.
    pub analysis: String,
    /// The attached voice, if any.
    pub voice_id: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, owner_id, project_id, name, portrait_key, analysis, voice_id, created_at";

/// Inserts `c` with `document`, the character file's JSON.
pub async fn insert(db: &AnyPool, c: &CharacterRow, document: &str) -> sqlx::Result<()> {
    sqlx::query(&format!("INSERT INTO characters ({COLUMNS}, document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(&c.id)
        .bind(&c.owner_id)
        .bind(&c.project_id)
        .bind(&c.name)
        .bind(&c.portrait_key)
        .bind(&c.analysis)
        .bind(&c.voice_id)
        .bind(c.created_at)
        .bind(document)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn list(db: &AnyPool, owner: &str, project: &str) -> sqlx::Result<Vec<CharacterRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM characters WHERE owner_id = $1 AND project_id = $2 ORDER BY created_at, id"
    ))
    .bind(owner)
    .bind(project)
    .fetch_all(db)
    .await
}

/// The owner's characters across all their projects: their character library.
pub async fn library(db: &AnyPool, owner: &str) -> sqlx::Result<Vec<CharacterRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM characters WHERE owner_id = $1 ORDER BY created_at, id"))
        .bind(owner)
        .fetch_all(db)
        .await
}

pub async fn get(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<CharacterRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM characters WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The character file's JSON (without a voice).
pub async fn document(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT document FROM characters WHERE owner_id = $1 AND id = $2")
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|(document,)| document))
}

/// Attaches a voice to (or with `None` detaches it from) a character of `owner`.
pub async fn set_voice(db: &AnyPool, owner: &str, id: &str, voice_id: Option<&str>) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE characters SET voice_id = $1 WHERE owner_id = $2 AND id = $3")
        .bind(voice_id)
        .bind(owner)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a character and the scenes it plays.
pub async fn delete(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    // Explicit as well as ON DELETE CASCADE, like the other deletes.
    sqlx::query("DELETE FROM scenes WHERE owner_id = $1 AND character_id = $2")
        .bind(owner)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM characters WHERE owner_id = $1 AND id = $2")
        .bind(owner)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}
