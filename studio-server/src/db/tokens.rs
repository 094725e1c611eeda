// SPDX-License-Identifier: MPL-2.0
//! Refresh tokens: each issued token is a row; using one revokes it (rotation),
//! and using a revoked one revokes every token of its user (theft response).

use sqlx::AnyPool;

/// Stores refresh token `id` of session `session_id`.
pub async fn insert(db: &AnyPool, id: &str, user_id: &str, session_id: &str, expires_at: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO refresh_tokens (id, user_id, session_id, expires_at, revoked) VALUES ($1, $2, $3, $4, 0)")
        .bind(id)
        .bind(user_id)
        .bind(session_id)
        .bind(expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// What happened when a token was presented.
#[derive(Debug, PartialEq, Eq)]
pub enum Use {
    /// It was live and is now revoked.
    Consumed,
    /// It had been used or revoked before.
    Replayed,
    /// No such token for this user, or expired.
    Unknown,
}

/// Revokes token `id` of `user_id` and session `session_id` if it is live.
pub async fn consume(db: &AnyPool, id: &str, user_id: &str, session_id: &str, now: i64) -> sqlx::Result<Use> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET revoked = 1 \
         WHERE id = $1 AND user_id = $2 AND session_id = $3 AND revoked = 0 AND expires_at > $4",
    )
    .bind(id)
    .bind(user_id)
    .bind(session_id)
    .bind(now)
    .execute(db)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(Use::Consumed);
    }
    let known: Option<(i64,)> = sqlx::query_as("SELECT revoked FROM refresh_tokens WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .fetch_optional(db)
        .await?;
    Ok(match known {
        Some((1,)) => Use::Replayed,
        _ => Use::Unknown,
    })
}
