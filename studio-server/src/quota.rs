// SPDX-License-Identifier: MPL-2.0
//! Storage quotas. Each user's stored bytes are one counter in the database
//! (`users.bytes_used`), and a file is charged before it is published by one conditional
//! UPDATE that adds its size only while the sum stays within the quota. Checking and
//! charging are then a single step, so parallel uploads and jobs (in any number of server
//! and worker processes, on SQLite or PostgreSQL) cannot together pass the quota.
//! Removing a file gives its bytes back; so does a store that failed.
//!
//! A counter that was never set (accounts from before it existed, new accounts) is set
//! from what the storage holds for the user the first time it is needed.

use std::path::PathBuf;

use sqlx::AnyPool;

use crate::storage::{Storage, StorageError};

/// Why bytes could not be charged.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("storage quota of {} would be exceeded ({} stored, {} more asked for)", mb(*quota), mb(*used), mb(*wanted))]
    Exceeded { quota: u64, used: u64, wanted: u64 },
    #[error("the account no longer exists")]
    NoAccount,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// `bytes` in megabytes for messages: whole numbers as such, others to two places.
fn mb(bytes: u64) -> String {
    if bytes.is_multiple_of(1_000_000) {
        format!("{} MB", bytes / 1_000_000)
    } else {
        format!("{:.2} MB", bytes as f64 / 1e6)
    }
}

/// Bytes set aside on a user's quota for files about to be stored. [`Reservation::keep`]
/// once they are stored; [`Reservation::release`] (or dropping it) gives them back.
#[derive(Debug)]
#[must_use = "a reservation is given back when dropped; keep it once the files are stored"]
pub struct Reservation {
    db: AnyPool,
    user: String,
    bytes: u64,
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The files are stored: their bytes stay charged.
    pub fn keep(mut self) {
        self.bytes = 0;
    }

    /// Gives the bytes back now.
    pub async fn release(mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        give_back(&self.db, &self.user, bytes).await;
    }
}

impl Drop for Reservation {
    /// A reservation left behind by an early return: given back in the background.
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        if bytes == 0 {
            return;
        }
        let (db, user) = (self.db.clone(), std::mem::take(&mut self.user));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { give_back(&db, &user, bytes).await });
            }
            Err(_) => tracing::warn!(%user, bytes, "reservation dropped outside the runtime; its bytes stay charged"),
        }
    }
}

/// Charges `bytes` to `user` if their stored bytes stay within `quota`.
pub async fn reserve(
    db: &AnyPool,
    storage: &Storage,
    user: &str,
    bytes: u64,
    quota: u64,
) -> Result<Reservation, QuotaError> {
    // Within i64 (the column's type) and far from overflowing in the sum below.
    let quota = quota.min(i64::MAX as u64 / 2);
    let exceeded = |used: u64| QuotaError::Exceeded { quota, used, wanted: bytes };
    if bytes > quota {
        return Err(exceeded(used(db, storage, user).await?));
    }
    // At most twice: the second time after setting a counter that was not yet set.
    for _ in 0..2 {
        let done = sqlx::query("UPDATE users SET bytes_used = bytes_used + $1 WHERE id = $2 AND bytes_used + $1 <= $3")
            .bind(bytes as i64)
            .bind(user)
            .bind(quota as i64)
            .execute(db)
            .await?;
        if done.rows_affected() == 1 {
            return Ok(Reservation { db: db.clone(), user: user.to_owned(), bytes });
        }
        match counter(db, user).await? {
            None => return Err(QuotaError::NoAccount),
            Some(None) => start_counter(db, storage, user).await?,
            Some(Some(used)) => return Err(exceeded(used)),
        }
    }
    Err(exceeded(used(db, storage, user).await?))
}

/// The bytes charged to `user`.
pub async fn used(db: &AnyPool, storage: &Storage, user: &str) -> Result<u64, QuotaError> {
    match counter(db, user).await? {
        None => Err(QuotaError::NoAccount),
        Some(Some(used)) => Ok(used),
        Some(None) => {
            start_counter(db, storage, user).await?;
            counter(db, user).await?.flatten().ok_or(QuotaError::NoAccount)
        }
    }
}

/// Gives `bytes` back to `user` (never below zero). A failure is logged: the counter then
/// shows more than is stored, which errs on the safe side.
pub async fn give_back(db: &AnyPool, user: &str, bytes: u64) {
    if bytes == 0 {
        return;
    }
    let bytes = bytes.min(i64::MAX as u64) as i64;
    let done = sqlx::query(
        "UPDATE users SET bytes_used = CASE WHEN bytes_used > $1 THEN bytes_used - $1 ELSE 0 END \
         WHERE id = $2 AND bytes_used IS NOT NULL",
    )
    .bind(bytes)
    .bind(user)
    .execute(db)
    .await;
    if let Err(err) = done {
        tracing::error!(%user, bytes, %err, "storage quota: bytes not given back");
    }
}

/// Publishes every `(temporary file, key)` pair as `user`'s, or none: their total is
/// charged first, so a set that would pass `quota` stores nothing. The reservation is
/// the caller's to keep once its records are written (or to release after [`unstore`]).
pub async fn store_all(
    db: &AnyPool,
    storage: &Storage,
    user: &str,
    quota: u64,
    files: &[(PathBuf, String)],
) -> Result<Reservation, QuotaError> {
    let mut bytes = 0;
    for (file, key) in files {
        let meta = tokio::fs::metadata(file).await.map_err(|source| StorageError::Io { key: key.clone(), source })?;
        bytes += meta.len();
    }
    let reservation = reserve(db, storage, user, bytes, quota).await?;
    if let Err(err) = storage.commit_all(files).await {
        reservation.release().await;
        return Err(err.into());
    }
    Ok(reservation)
}

/// Takes back files [`store_all`] published, when what should record them failed.
pub async fn unstore(storage: &Storage, files: &[(PathBuf, String)], reservation: Reservation) {
    for (_, key) in files {
        let _ = storage.remove(key).await;
    }
    reservation.release().await;
}

/// Removes the stored file `key` of `user` and gives its bytes back.
pub async fn remove(db: &AnyPool, storage: &Storage, user: &str, key: &str) -> Result<(), StorageError> {
    let bytes = storage.size(key).await?.unwrap_or(0);
    storage.remove(key).await?;
    give_back(db, user, bytes).await;
    Ok(())
}

/// Removes every stored file of a project and gives their bytes back.
pub async fn remove_project(db: &AnyPool, storage: &Storage, user: &str, project: &str) -> Result<(), StorageError> {
    let bytes = storage.remove_project(user, project).await?;
    give_back(db, user, bytes).await;
    Ok(())
}

/// `None` without such a user; `Some(None)` while their counter is not set.
async fn counter(db: &AnyPool, user: &str) -> sqlx::Result<Option<Option<u64>>> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT bytes_used FROM users WHERE id = $1").bind(user).fetch_optional(db).await?;
    Ok(row.map(|(used,)| used.map(|u| u.max(0) as u64)))
}

/// Sets a counter that is not yet set from what the storage holds for the user. Stores
/// wait for it (they cannot charge an unset counter), and only the first setting counts.
async fn start_counter(db: &AnyPool, storage: &Storage, user: &str) -> Result<(), QuotaError> {
    let stored = storage.user_bytes(user).await?;
    sqlx::query("UPDATE users SET bytes_used = $1 WHERE id = $2 AND bytes_used IS NULL")
        .bind(stored.min(i64::MAX as u64) as i64)
        .bind(user)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::mb;

    #[test]
    fn sizes_read_as_megabytes() {
        assert_eq!(mb(1_000_000), "1 MB");
        assert_eq!(mb(20_000_000_000), "20000 MB");
        assert_eq!(mb(1_234_567), "1.23 MB");
        assert_eq!(mb(0), "0 MB");
    }
}
