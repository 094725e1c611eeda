// SPDX-License-Identifier: MPL-2.0
//! Renders: what was asked for, and the stored outputs once done.

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct RenderRow {
    pub id: String,
    pub owner_id: String,
    pub project_id: String,
    pub job_id: String,
    /// JSON list of preset names.
    pub presets: String,
    /// JSON list of outputs, set when the render job succeeded.
    pub outputs: Option<String>,
    pub created_at: i64,
    /// JSON list of the cast as requested: characters, their voices and the models each
    /// was analysed with (`library::CastEntry`).
    pub cast_record: Option<String>,
}

const COLUMNS: &str = "id, owner_id, project_id, job_id, presets, outputs, created_at, cast_record";

pub async fn insert(db: &AnyPool, r: &RenderRow) -> sqlx::Result<()> {
    sqlx::query(&format!("INSERT INTO renders ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)"))
        .bind(&r.id)
        .bind(&r.owner_id)
        .bind(&r.project_id)
        .bind(&r.job_id)
        .bind(&r.presets)
        .bind(r.created_at)
        .bind(&r.cast_record)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn get(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<RenderRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM renders WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn set_outputs(db: &AnyPool, owner: &str, id: &str, outputs: &serde_json::Value) -> sqlx::Result<()> {
    sqlx::query("UPDATE renders SET outputs = $1 WHERE owner_id = $2 AND id = $3")
        .bind(outputs.to_string())
        .bind(owner)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes a render of `owner`; false when there was none.
pub async fn delete(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM renders WHERE owner_id = $1 AND id = $2").bind(owner).bind(id).execute(db).await?;
    Ok(done.rows_affected() == 1)
}
