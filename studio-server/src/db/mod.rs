// SPDX-License-Identifier: MPL-2.0
//! The database: one pool for SQLite (default) or PostgreSQL (`DATABASE_URL`),
//! one set of migrations for both, queries per entity.

pub mod audit;
pub mod characters;
pub mod clips;
pub mod projects;
pub mod renders;
pub mod scenes;
pub mod sessions;
pub mod subtitles;
pub mod tokens;
pub mod users;
pub mod voices;

use std::path::Path;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::AnyPool;

/// Errors of opening or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// SQLite URL of `reenact.db` in `data_dir` (created if missing).
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("reenact.db").display())
}

/// Connects to `url` and brings the schema up to date.
pub async fn connect(url: &str) -> Result<AnyPool, DbError> {
    install_default_drivers();
    // SQLite serialises writers anyway; a small pool avoids busy errors.
    let max = if url.starts_with("sqlite:") { 4 } else { 16 };
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .connect(url)
        .await
        .map_err(|source| DbError::Open { url: redact(url), source })?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// `url` without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Current time as Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(super::redact("postgres://me:secret@db:5432/x"), "postgres://me:***@db:5432/x");
        assert_eq!(super::redact("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }
}
