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
    /// The stored revision shown now (undo moves it back, redo forward).
    pub revision: i64,
    /// Grows with every change; the ETag an edit must match.
    pub version: i64,
    /// Commercial work (0/1): a setting of the project, not of a revision, so undo keeps it.
    pub commercial: i64,
    /// The face swaps keep what is held in front of the performer's face (0/1); a setting.
    pub occlusion_mask: i64,
}

const COLUMNS: &str =
    "id, owner_id, name, timeline, created_at, updated_at, revision, version, commercial, occlusion_mask";

/// Revisions kept behind the current one; older ones are dropped as new edits arrive.
pub const UNDO_DEPTH: i64 = 100;

/// One stored state of a project, as the revision list shows it.
#[derive(Debug, Clone, FromRow)]
pub struct RevisionRow {
    pub revision: i64,
    pub name: String,
    pub timeline: String,
    pub created_at: i64,
}

/// Why a change was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("the project changed since version {expected} (now {current}): reload and edit again")]
    Stale { expected: i64, current: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Stores a new project with its first revision (the one undo stops at).
pub async fn insert(db: &AnyPool, p: &ProjectRow) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO projects \
         (id, owner_id, name, timeline, created_at, updated_at, revision, version, commercial, occlusion_mask) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&p.id)
    .bind(&p.owner_id)
    .bind(&p.name)
    .bind(&p.timeline)
    .bind(p.created_at)
    .bind(p.updated_at)
    .bind(p.revision)
    .bind(p.version)
    .bind(p.commercial)
    .bind(p.occlusion_mask)
    .execute(&mut *tx)
    .await?;
    put_revision(&mut tx, p).await?;
    tx.commit().await
}

async fn put_revision(tx: &mut sqlx::Transaction<'_, sqlx::Any>, p: &ProjectRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO project_revisions (project_id, revision, owner_id, name, timeline, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&p.id)
    .bind(p.revision)
    .bind(&p.owner_id)
    .bind(&p.name)
    .bind(&p.timeline)
    .bind(p.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves the project from version `expected` to the state in `p` (name, timeline,
/// revision, updated_at) and bumps its version, in one statement guarded by the version:
/// a concurrent change makes it fail with [`ChangeError::Stale`] and nothing is stored.
async fn advance(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    p: &mut ProjectRow,
    expected: i64,
) -> Result<(), ChangeError> {
    let done = sqlx::query(
        "UPDATE projects SET name = $1, timeline = $2, updated_at = $3, revision = $4, version = version + 1 \
         WHERE owner_id = $5 AND id = $6 AND version = $7",
    )
    .bind(&p.name)
    .bind(&p.timeline)
    .bind(p.updated_at)
    .bind(p.revision)
    .bind(&p.owner_id)
    .bind(&p.id)
    .bind(expected)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM projects WHERE owner_id = $1 AND id = $2")
            .bind(&p.owner_id)
            .bind(&p.id)
            .fetch_optional(&mut **tx)
            .await?;
        return Err(ChangeError::Stale { expected, current: current.map_or(-1, |c| c.0) });
    }
    p.version = expected + 1;
    Ok(())
}

/// Stores an edit as a new revision after the current one: revisions that undo had left
/// for redo are dropped (a new edit starts a new branch), and so are those more than
/// [`UNDO_DEPTH`] behind.
pub async fn commit_edit(db: &AnyPool, p: &mut ProjectRow, expected: i64) -> Result<(), ChangeError> {
    let mut tx = db.begin().await?;
    commit_edit_in(&mut tx, p, expected).await?;
    tx.commit().await?;
    Ok(())
}

/// [`commit_edit`] inside the caller's transaction, for edits made together with other
/// changes (a library entry's uses detached as it is deleted).
pub async fn commit_edit_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    p: &mut ProjectRow,
    expected: i64,
) -> Result<(), ChangeError> {
    let base = p.revision;
    p.revision = base + 1;
    advance(tx, p, expected).await?;
    sqlx::query("DELETE FROM project_revisions WHERE project_id = $1 AND (revision > $2 OR revision < $3)")
        .bind(&p.id)
        .bind(base)
        .bind(p.revision - UNDO_DEPTH)
        .execute(&mut **tx)
        .await?;
    put_revision(tx, p).await?;
    Ok(())
}

/// The stored revision `revision` of a project of `owner`.
pub async fn revision(db: &AnyPool, owner: &str, id: &str, revision: i64) -> sqlx::Result<Option<RevisionRow>> {
    sqlx::query_as(
        "SELECT revision, name, timeline, created_at FROM project_revisions \
         WHERE owner_id = $1 AND project_id = $2 AND revision = $3",
    )
    .bind(owner)
    .bind(id)
    .bind(revision)
    .fetch_optional(db)
    .await
}

/// Shows stored revision `to` (undo or redo): the revisions stay as they are.
pub async fn step(db: &AnyPool, p: &mut ProjectRow, to: &RevisionRow, expected: i64) -> Result<(), ChangeError> {
    let mut tx = db.begin().await?;
    p.name = to.name.clone();
    p.timeline = to.timeline.clone();
    p.revision = to.revision;
    advance(&mut tx, p, expected).await?;
    tx.commit().await?;
    Ok(())
}

/// The stored revisions of a project of `owner`, oldest first: number, name and time
/// (timelines stay out of the list: up to a megabyte each).
pub async fn revisions(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Vec<(i64, String, i64)>> {
    sqlx::query_as(
        "SELECT revision, name, created_at FROM project_revisions \
         WHERE owner_id = $1 AND project_id = $2 ORDER BY revision",
    )
    .bind(owner)
    .bind(id)
    .fetch_all(db)
    .await
}

pub async fn list(db: &AnyPool, owner: &str) -> sqlx::Result<Vec<ProjectRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM projects WHERE owner_id = $1 ORDER BY created_at, id"))
        .bind(owner)
        .fetch_all(db)
        .await
}

pub async fn get(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<ProjectRow>> {
    get_in(&mut *db.acquire().await?, owner, id).await
}

/// [`get`] on a connection of the caller's (a transaction).
pub async fn get_in(conn: &mut sqlx::AnyConnection, owner: &str, id: &str) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM projects WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Replaces name and timeline of the current revision of an existing project of `owner`
/// without adding an undo step (the demo fills in the project it has just created).
pub async fn update(db: &AnyPool, p: &ProjectRow) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE projects SET name = $1, timeline = $2, updated_at = $3, version = version + 1 \
         WHERE owner_id = $4 AND id = $5",
    )
    .bind(&p.name)
    .bind(&p.timeline)
    .bind(p.updated_at)
    .bind(&p.owner_id)
    .bind(&p.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE project_revisions SET name = $1, timeline = $2 WHERE project_id = $3 AND revision = $4")
        .bind(&p.name)
        .bind(&p.timeline)
        .bind(&p.id)
        .bind(p.revision)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a project's settings (`commercial`, `occlusion_mask`), guarded by its version like
/// an edit but without a revision: the settings are the project's, and undo does not take
/// them back.
pub async fn set_settings(db: &AnyPool, p: &mut ProjectRow, expected: i64) -> Result<(), ChangeError> {
    let done = sqlx::query(
        "UPDATE projects SET commercial = $1, occlusion_mask = $2, updated_at = $3, version = version + 1 \
         WHERE owner_id = $4 AND id = $5 AND version = $6",
    )
    .bind(p.commercial)
    .bind(p.occlusion_mask)
    .bind(p.updated_at)
    .bind(&p.owner_id)
    .bind(&p.id)
    .bind(expected)
    .execute(db)
    .await?;
    if done.rows_affected() != 1 {
        let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM projects WHERE owner_id = $1 AND id = $2")
            .bind(&p.owner_id)
            .bind(&p.id)
            .fetch_optional(db)
            .await?;
        return Err(ChangeError::Stale { expected, current: current.map_or(-1, |c| c.0) });
    }
    p.version = expected + 1;
    Ok(())
}

pub async fn delete(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    for table in ["renders", "jobs", "clips", "project_revisions"] {
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
