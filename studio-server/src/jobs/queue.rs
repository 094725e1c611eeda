// SPDX-License-Identifier: MPL-2.0
//! Queue operations. Every state change names the worker that holds the job,
//! so a worker whose lease ran out cannot overwrite the next attempt.

use serde::Serialize;
use sqlx::{AnyPool, FromRow};

use super::{now_ms, SERVER_KINDS};

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Cancelled,
    /// Failed on its last allowed attempt.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Cancelled => "cancelled",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [JobState::Queued, JobState::Running, JobState::Succeeded, JobState::Cancelled, JobState::Dead]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// A job as stored.
#[derive(Debug, Clone, FromRow)]
pub struct JobRow {
    pub id: String,
    pub owner_id: String,
    pub project_id: Option<String>,
    pub kind: String,
    pub params: String,
    pub priority: i64,
    pub state: String,
    pub progress: f64,
    pub stage: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: i64,
    pub lease_until: Option<i64>,
    pub worker: Option<String>,
    pub error: Option<String>,
    pub result: Option<String>,
    pub idempotency_key: Option<String>,
    pub cancel_requested: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The owner's storage quota when the job was queued: its outputs are charged against it
    /// (`None`: queued without one, not charged).
    pub quota_bytes: Option<i64>,
    /// When a worker last claimed the job (milliseconds).
    pub claimed_at: Option<i64>,
}

impl JobRow {
    /// The storage quota the job's outputs are charged against.
    pub fn quota(&self) -> u64 {
        self.quota_bytes.map_or(u64::MAX, |q| q.max(0) as u64)
    }
}

/// The SQL condition that leaves out the kinds the server queues itself ([`SERVER_KINDS`]).
fn user_kinds() -> String {
    let kinds = SERVER_KINDS.iter().map(|k| format!("'{}'", k.replace('\'', ""))).collect::<Vec<_>>().join(", ");
    format!("kind NOT IN ({kinds})")
}

const COLUMNS: &str = "id, owner_id, project_id, kind, params, priority, state, progress, stage, attempts, \
                       max_attempts, run_after, lease_until, worker, error, result, idempotency_key, \
                       cancel_requested, created_at, updated_at, quota_bytes, claimed_at";

/// What a caller asks for.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub owner_id: String,
    pub project_id: Option<String>,
    pub kind: String,
    pub params: serde_json::Value,
    pub priority: i64,
    pub max_attempts: i64,
    pub idempotency_key: Option<String>,
}

/// What the server lets one user's jobs take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Queued plus running jobs one user may have.
    pub max_active: i64,
    /// Stored bytes allowed per user; the job's outputs are charged against it.
    pub quota_bytes: u64,
}

/// How [`enqueue_within`] answered.
#[derive(Debug)]
pub enum Admission {
    /// Queued now.
    Queued(JobRow),
    /// The job already queued under the same idempotency key.
    Existing(JobRow),
    /// The owner already has `max_active` jobs queued or running.
    Full,
}

/// Adds a job without limits; with an idempotency key already used by the same owner, the
/// existing job is returned instead (`false`) and nothing new is queued.
pub async fn enqueue(db: &AnyPool, job: &NewJob) -> sqlx::Result<(JobRow, bool)> {
    match enqueue_limited(db, job, None).await? {
        Admission::Queued(row) => Ok((row, true)),
        Admission::Existing(row) => Ok((row, false)),
        Admission::Full => unreachable!("no limit to be full against"),
    }
}

/// Adds a job within `limits`: the count of the owner's active jobs and the insert are one
/// statement, and on PostgreSQL the owner's row is locked around it, so parallel requests
/// cannot together pass `max_active` (SQLite runs one writing statement at a time).
pub async fn enqueue_within(db: &AnyPool, job: &NewJob, limits: Limits) -> sqlx::Result<Admission> {
    enqueue_limited(db, job, Some(limits)).await
}

async fn enqueue_limited(db: &AnyPool, job: &NewJob, limits: Option<Limits>) -> sqlx::Result<Admission> {
    if let Some(existing) = by_key(db, job).await? {
        return Ok(Admission::Existing(existing));
    }
    let id = uuid::Uuid::new_v4().to_string();
    match insert(db, &id, job, limits).await {
        Ok(true) => Ok(Admission::Queued(get(db, &job.owner_id, &id).await?.expect("just inserted"))),
        Ok(false) => Ok(Admission::Full),
        // Two requests with one key at once: the loser returns the winner's job.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Ok(Admission::Existing(by_key(db, job).await?.expect("unique violation means it exists")))
        }
        Err(e) => Err(e),
    }
}

/// Inserts the job unless the owner is at `limits.max_active`; false when they are.
async fn insert(db: &AnyPool, id: &str, job: &NewJob, limits: Option<Limits>) -> sqlx::Result<bool> {
    let now = now_ms();
    let max_active = limits.map_or(i64::MAX, |l| l.max_active);
    let quota = limits.map(|l| l.quota_bytes.min(i64::MAX as u64) as i64);
    let mut tx = db.begin().await?;
    if is_postgres(db) {
        // Parallel submissions of one owner queue up here; each then counts what the one
        // before it committed (READ COMMITTED reads afresh per statement).
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind(&job.owner_id)
            .fetch_optional(&mut *tx)
            .await?;
    }
    // What the server queues itself does not take a user's places.
    let user_kinds = user_kinds();
    let done = sqlx::query(&format!(
        "INSERT INTO jobs ({COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, 'queued', 0, '', 0, $7, $8, NULL, NULL, NULL, \
         NULL, $9, 0, $10, $10, $11, NULL \
         WHERE (SELECT COUNT(*) FROM jobs WHERE owner_id = $2 AND state IN ('queued', 'running') AND {user_kinds}) \
           < $12"
    ))
    .bind(id)
    .bind(&job.owner_id)
    .bind(&job.project_id)
    .bind(&job.kind)
    .bind(job.params.to_string())
    .bind(job.priority)
    .bind(job.max_attempts)
    .bind(now)
    .bind(&job.idempotency_key)
    .bind(now)
    .bind(quota)
    .bind(max_active)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

async fn by_key(db: &AnyPool, job: &NewJob) -> sqlx::Result<Option<JobRow>> {
    let Some(key) = &job.idempotency_key else { return Ok(None) };
    with_key(db, &job.owner_id, key).await
}

/// The job `owner` queued under the idempotency key `key`.
pub async fn with_key(db: &AnyPool, owner: &str, key: &str) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE owner_id = $1 AND idempotency_key = $2"))
        .bind(owner)
        .bind(key)
        .fetch_optional(db)
        .await
}

pub async fn get(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The jobs `owner` asked for (not those the server queued itself), newest first.
pub async fn list(db: &AnyPool, owner: &str, state: Option<JobState>) -> sqlx::Result<Vec<JobRow>> {
    let user_kinds = user_kinds();
    match state {
        Some(state) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE owner_id = $1 AND state = $2 AND {user_kinds} \
                 ORDER BY created_at DESC, id"
            ))
            .bind(owner)
            .bind(state.as_str())
            .fetch_all(db)
            .await
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE owner_id = $1 AND {user_kinds} ORDER BY created_at DESC, id"
            ))
            .bind(owner)
            .fetch_all(db)
            .await
        }
    }
}

fn is_postgres(db: &AnyPool) -> bool {
    matches!(db.connect_options().database_url.scheme(), "postgres" | "postgresql")
}

/// Takes the next runnable job of `kinds` for `worker`: queued and due, or running with an
/// expired lease (its worker died). Counts an attempt.
///
/// Fair across users: first the owner with the fewest running jobs, then the one whose
/// last claim is oldest (round-robin), then the one waiting longest; only then the owner's
/// own priority and age. A user's priority thus orders their own jobs, never another's.
pub async fn claim(db: &AnyPool, worker: &str, kinds: &[&str], lease_ms: i64) -> sqlx::Result<Option<JobRow>> {
    let now = now_ms();
    let kind_list = kinds.iter().map(|k| format!("'{}'", k.replace('\'', ""))).collect::<Vec<_>>().join(", ");
    let lock = if is_postgres(db) { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, worker = $2, updated_at = $3, \
           claimed_at = $3 \
         WHERE id = (SELECT id FROM jobs c WHERE kind IN ({kind_list}) AND \
           ((state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3)) \
           ORDER BY \
             (SELECT COUNT(*) FROM jobs r WHERE r.owner_id = c.owner_id AND r.state = 'running'), \
             (SELECT COALESCE(MAX(l.claimed_at), 0) FROM jobs l WHERE l.owner_id = c.owner_id), \
             (SELECT MIN(w.created_at) FROM jobs w WHERE w.owner_id = c.owner_id AND w.state = 'queued'), \
             c.owner_id, c.priority DESC, c.created_at, c.id \
           LIMIT 1 {lock}) \
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql).bind(now + lease_ms).bind(worker).bind(now).fetch_optional(db).await
}

/// Records progress and extends the lease; returns false when the job is no
/// longer this worker's, true otherwise. The job's cancel flag is read separately.
pub async fn heartbeat(
    db: &AnyPool,
    id: &str,
    worker: &str,
    progress: f64,
    stage: &str,
    lease_ms: i64,
) -> sqlx::Result<Option<bool>> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE jobs SET progress = $1, stage = $2, lease_until = $3, updated_at = $4 \
         WHERE id = $5 AND worker = $6 AND state = 'running'",
    )
    .bind(progress.clamp(0.0, 100.0))
    .bind(stage)
    .bind(now + lease_ms)
    .bind(now)
    .bind(id)
    .bind(worker)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    let (cancel,): (i64,) =
        sqlx::query_as("SELECT cancel_requested FROM jobs WHERE id = $1").bind(id).fetch_one(db).await?;
    Ok(Some(cancel != 0))
}

/// Marks the job done with its result.
pub async fn succeed(db: &AnyPool, id: &str, worker: &str, result: &serde_json::Value) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'succeeded', progress = 100, stage = 'done', result = $1, error = NULL, \
         lease_until = NULL, updated_at = $2 WHERE id = $3 AND worker = $4 AND state = 'running'",
    )
    .bind(result.to_string())
    .bind(now_ms())
    .bind(id)
    .bind(worker)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Delay before attempt `attempt + 1`: 2 s doubling, at most 5 min.
pub fn backoff_ms(attempt: i64, base_ms: i64) -> i64 {
    let exp = (attempt - 1).clamp(0, 20) as u32;
    base_ms.saturating_mul(1i64 << exp).min(300_000)
}

/// Records a failed attempt: queued again after a backoff, or dead when it
/// was the last allowed attempt.
pub async fn fail(db: &AnyPool, job: &JobRow, worker: &str, error: &str, backoff_base_ms: i64) -> sqlx::Result<()> {
    let now = now_ms();
    let (state, run_after) = if job.attempts >= job.max_attempts {
        (JobState::Dead, job.run_after)
    } else {
        (JobState::Queued, now + backoff_ms(job.attempts, backoff_base_ms))
    };
    sqlx::query(
        "UPDATE jobs SET state = $1, run_after = $2, error = $3, lease_until = NULL, worker = NULL, updated_at = $4 \
         WHERE id = $5 AND worker = $6 AND state = 'running'",
    )
    .bind(state.as_str())
    .bind(run_after)
    .bind(error)
    .bind(now)
    .bind(&job.id)
    .bind(worker)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks a running job cancelled once its worker has stopped.
pub async fn cancelled(db: &AnyPool, id: &str, worker: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs SET state = 'cancelled', lease_until = NULL, updated_at = $1 \
         WHERE id = $2 AND worker = $3 AND state = 'running'",
    )
    .bind(now_ms())
    .bind(id)
    .bind(worker)
    .execute(db)
    .await?;
    Ok(())
}

/// Cancels a job of `owner`: a queued one at once, a running one at its next
/// heartbeat. Returns the job as it is now.
pub async fn cancel(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<JobRow>> {
    let now = now_ms();
    sqlx::query(
        "UPDATE jobs SET state = 'cancelled', updated_at = $1 WHERE owner_id = $2 AND id = $3 AND state = 'queued'",
    )
    .bind(now)
    .bind(owner)
    .bind(id)
    .execute(db)
    .await?;
    sqlx::query(
        "UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE owner_id = $2 AND id = $3 AND state = 'running'",
    )
    .bind(now)
    .bind(owner)
    .bind(id)
    .execute(db)
    .await?;
    get(db, owner, id).await
}

/// Jobs `owner` asked for changed after `since_ms`, oldest change first.
pub async fn changed_since(db: &AnyPool, owner: &str, since_ms: i64) -> sqlx::Result<Vec<JobRow>> {
    let user_kinds = user_kinds();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE owner_id = $1 AND updated_at > $2 AND {user_kinds} \
         ORDER BY updated_at, id LIMIT 200"
    ))
    .bind(owner)
    .bind(since_ms)
    .fetch_all(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(1, 2000), 2000);
        assert_eq!(backoff_ms(2, 2000), 4000);
        assert_eq!(backoff_ms(4, 2000), 16000);
        assert_eq!(backoff_ms(30, 2000), 300_000);
    }
}
