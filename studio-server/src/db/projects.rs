// SPDX-License-Identifier: MPL-2.0
//! Projects, always read and written through their owner.

use sqlx::{AnyPool, FromRow};

/// A stored project; `timeline` is JSON text.
#[derive(Debug, Clone, FromRow)]
pub struct ProjectRow {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub timeline: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, owner_id, name, timeline, created_at, updated_at";

pub async fn insert(db: &AnyPool, p: &ProjectRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO projects (id, owner_id, name, timeline, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&p.id)
    .bind(&p.owner_id)
    .bind(&p.name)
    .bind(&p.timeline)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn list(db: &AnyPool, owner: &str) -> sqlx::Result<Vec<ProjectRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM projects WHERE owner_id = $1 ORDER BY created_at, id"))
        .bind(owner)
        .fetch_all(db)
        .await
}

pub async fn get(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM projects WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Stores name and timeline of an existing project of `owner`.
pub async fn update(db: &AnyPool, p: &ProjectRow) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE projects SET name = $1, timeline = $2, updated_at = $3 WHERE owner_id = $4 AND id = $5")
            .bind(&p.name)
            .bind(&p.timeline)
            .bind(p.updated_at)
            .bind(&p.owner_id)
            .bind(&p.id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    for table in ["renders", "jobs", "clips"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE owner_id = $1 AND project_id = $2"))
            .bind(owner)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let done = sqlx::query("DELETE FROM projects WHERE owner_id = $1 AND id = $2")
        .bind(owner)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}
