// SPDX-License-Identifier: MPL-2.0
//! Sign-in sessions: one row per sign-in, named by every token issued for it.
//! Ending the row ends its access and refresh tokens at once.

use sqlx::AnyPool;

/// Opens a session of `user_id` that ends at `expires_at` whatever happens.
pub async fn open(db: &AnyPool, id: &str, user_id: &str, now: i64, expires_at: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sessions (id, user_id, created_at, expires_at, revoked) VALUES ($1, $2, $3, $4, 0)")
        .bind(id)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(db)
        .await?;
    Ok(())
}

/// The end time of session `id` of `user_id` while it is live (not revoked, not expired).
pub async fn live_until(db: &AnyPool, id: &str, user_id: &str, now: i64) -> sqlx::Result<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT expires_at FROM sessions WHERE id = $1 AND user_id = $2 AND revoked = 0 AND expires_at > $3",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(t,)| t))
}

/// Ends session `id` of `user_id` and its refresh tokens.
pub async fn revoke(db: &AnyPool, id: &str, user_id: &str) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE sessions SET revoked = 1 WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE session_id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Ends every session of a user (a replayed refresh token).
pub async fn revoke_all(db: &AnyPool, user_id: &str) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE sessions SET revoked = 1 WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    tx.commit().await
}

/// Forgets sessions that ended before `before` (expired or revoked long enough ago).
pub async fn prune(db: &AnyPool, before: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(before).execute(db).await?;
    sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1").bind(before).execute(db).await?;
    Ok(done.rows_affected())
}
