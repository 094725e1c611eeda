// SPDX-License-Identifier: MPL-2.0
//! Users: accounts with an argon2 password hash.

use sqlx::{AnyPool, FromRow};

/// A stored account.
#[derive(Debug, Clone, FromRow)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: i64,
}

/// Inserts a user; a duplicate email is a unique violation.
pub async fn insert(db: &AnyPool, user: &User) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn by_email(db: &AnyPool, email: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as("SELECT id, email, password_hash, created_at FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(db)
        .await
}

pub async fn by_id(db: &AnyPool, id: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as("SELECT id, email, password_hash, created_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Deletes the user and, through the foreign keys, every row they own.
pub async fn delete(db: &AnyPool, id: &str) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    // Explicit deletes as well as ON DELETE CASCADE: SQLite only cascades
    // when foreign keys are switched on for the connection.
    sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM renders WHERE owner_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM jobs WHERE owner_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM clips WHERE owner_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM project_revisions WHERE owner_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM projects WHERE owner_id = $1").bind(id).execute(&mut *tx).await?;
    let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}
