// SPDX-License-Identifier: MPL-2.0
//! `GET /api/events`: job changes of the signed-in user as server-sent events.
//!
//! The database is the source of truth (workers may be other processes). One
//! watcher per server reads which owners' jobs changed, twice a second and only
//! while somebody listens, and tells the streams; a stream reads its user's
//! jobs only when they changed. The token comes in the `Authorization` header
//! only (never in the URL, where it would land in logs): the browser studio
//! reaches this route through its cookie proxy, `/ui/api/events`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_util::stream::{self, Stream, StreamExt};
use sqlx::AnyPool;
use tokio::sync::broadcast;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::CurrentUser;
use super::error::ApiError;
use super::jobs::Job;
use super::AppState;
use crate::jobs::queue;

/// How often the watcher looks for changes.
const POLL: Duration = Duration::from_millis(500);

/// Open event streams one user may hold.
pub const MAX_STREAMS_PER_USER: usize = 8;

pub(super) fn router(db: AnyPool) -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events_stream)).layer(Extension(JobWatch::new(db)))
}

/// The owners whose jobs changed in one look.
type Changed = Arc<HashSet<String>>;

/// The one watcher of the jobs table for every stream of this router.
#[derive(Debug)]
struct JobWatch {
    db: AnyPool,
    changes: broadcast::Sender<Changed>,
    inner: Mutex<WatchState>,
}

#[derive(Debug, Default)]
struct WatchState {
    /// Whether the polling task runs (it stops when the last stream closes).
    running: bool,
    /// Open streams per user.
    streams: std::collections::HashMap<String, usize>,
}

/// One open stream; closing it (the client goes) gives its place back.
#[derive(Debug)]
struct StreamSlot {
    watch: Arc<JobWatch>,
    owner: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut inner = self.watch.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = inner.streams.get_mut(&self.owner) {
            *n -= 1;
            if *n == 0 {
                inner.streams.remove(&self.owner);
            }
        }
    }
}

impl JobWatch {
    fn new(db: AnyPool) -> Arc<Self> {
        Arc::new(JobWatch { db, changes: broadcast::channel(64).0, inner: Mutex::default() })
    }

    /// A place for one more stream of `owner`, listening to the watcher, or 429.
    fn open(self: &Arc<Self>, owner: &str) -> Result<(StreamSlot, broadcast::Receiver<Changed>), ApiError> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let open = inner.streams.entry(owner.to_string()).or_default();
        if *open >= MAX_STREAMS_PER_USER {
            return Err(ApiError::TooManyRequests(format!(
                "at most {MAX_STREAMS_PER_USER} event streams per account; close one first"
            )));
        }
        *open += 1;
        let listening = self.changes.subscribe();
        if !inner.running {
            inner.running = true;
            tokio::spawn(watch(Arc::downgrade(self)));
        }
        Ok((StreamSlot { watch: Arc::clone(self), owner: owner.to_string() }, listening))
    }

    /// Stops the task when nobody listens; decided under the lock `open` takes.
    fn idle(&self) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if self.changes.receiver_count() == 0 {
            inner.running = false;
            return true;
        }
        false
    }
}

/// The polling task: one light query per look, whatever the number of streams.
async fn watch(watch: Weak<JobWatch>) {
    // A second back, so nothing between a stream's first read and the first look is
    // missed; a stream reads only what is newer than it has sent, so overlap is harmless.
    let mut since_ms = crate::jobs::now_ms() - 1000;
    loop {
        let Some(this) = watch.upgrade() else { return };
        if this.idle() {
            return;
        }
        match changed_owners(&this.db, since_ms).await {
            Ok((owners, latest)) => {
                since_ms = latest.max(since_ms);
                if !owners.is_empty() {
                    let _ = this.changes.send(Arc::new(owners));
                }
            }
            Err(err) => tracing::warn!(%err, "event streams cannot read jobs"),
        }
        drop(this);
        tokio::time::sleep(POLL).await;
    }
}

/// Owners with jobs changed after `since_ms`, and the latest change seen.
async fn changed_owners(db: &AnyPool, since_ms: i64) -> sqlx::Result<(HashSet<String>, i64)> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT owner_id, MAX(updated_at) FROM jobs WHERE updated_at > $1 GROUP BY owner_id")
            .bind(since_ms)
            .fetch_all(db)
            .await?;
    let latest = rows.iter().map(|(_, t)| *t).max().unwrap_or(since_ms);
    Ok((rows.into_iter().map(|(owner, _)| owner).collect(), latest))
}

/// A stream's own place: what it has sent up to, and what it listens to.
struct Follow {
    db: AnyPool,
    owner: String,
    since: i64,
    listening: broadcast::Receiver<Changed>,
    _slot: StreamSlot,
}

impl Follow {
    /// The user's jobs changed since the last batch, as events.
    async fn batch(&mut self) -> Vec<Result<Event, Infallible>> {
        match queue::changed_since(&self.db, &self.owner, self.since).await {
            Ok(jobs) => {
                self.since = jobs.iter().map(|j| j.updated_at).max().unwrap_or(self.since);
                jobs.into_iter()
                    .map(|j| Ok(Event::default().event("job").json_data(Job::from(j)).unwrap_or_default()))
                    .collect()
            }
            Err(err) => {
                tracing::warn!(%err, "event stream cannot read jobs");
                Vec::new()
            }
        }
    }

    /// Waits for the watcher to name this user (or to have dropped news), then reads.
    async fn next(mut self) -> Option<(Vec<Result<Event, Infallible>>, Self)> {
        loop {
            match self.listening.recv().await {
                Ok(owners) if !owners.contains(&self.owner) => continue,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    let batch = self.batch().await;
                    if !batch.is_empty() {
                        return Some((batch, self));
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// A stream of `job` events, each the job as `GET /api/jobs/{id}` shows it, whenever
/// one of the user's jobs changes (first the recent ones). At most
/// [`MAX_STREAMS_PER_USER`] streams per account.
#[utoipa::path(get, path = "/events", tag = "jobs", responses(
    (status = 200, description = "server-sent events named `job`", body = String, content_type = "text/event-stream"),
))]
async fn events_stream(
    State(db): State<AnyPool>,
    Extension(watch): Extension<Arc<JobWatch>>,
    user: CurrentUser,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (slot, listening) = watch.open(&user.id)?;
    let mut follow = Follow { db, owner: user.id, since: 0, listening, _slot: slot };
    let first = follow.batch().await;
    let rest = stream::unfold(follow, Follow::next);
    let events = stream::iter(first).chain(rest.flat_map(stream::iter));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
