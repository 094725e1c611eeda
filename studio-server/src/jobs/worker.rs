// SPDX-License-Identifier: MPL-2.0
//! Workers: claim a job, run its handler off the async threads, keep the
//! lease alive with progress, and record how it ended.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reenact_engine::CancelToken;
use sqlx::AnyPool;

use super::queue::{self, JobRow};

/// Runs one kind of job. Handlers block (media work); they report progress
/// through the context and stop soon after its token is cancelled.
pub trait Handler: Send + Sync {
    fn run(&self, job: &JobRow, ctx: &JobContext) -> Result<serde_json::Value, String>;
}

/// What a running handler can see and say.
#[derive(Debug, Default)]
pub struct JobContext {
    progress: Mutex<(f64, String)>,
    cancel: CancelToken,
    /// Set when the job failed for a reason another attempt would meet again.
    final_failure: AtomicBool,
}

impl JobContext {
    /// Reports `percent` (0..100) done and what is happening.
    pub fn progress(&self, percent: f64, stage: &str) {
        *self.progress.lock().unwrap_or_else(|p| p.into_inner()) = (percent, stage.to_string());
    }

    /// Set when the job was cancelled, timed out or lost its lease.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// The failure the handler is about to return is final: trying again would end the
    /// same way (its outputs do not fit the owner's storage quota), so the job is not retried.
    pub fn fail_for_good(&self) {
        self.final_failure.store(true, Ordering::Relaxed);
    }

    fn snapshot(&self) -> (f64, String) {
        self.progress.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A worker with its handlers and timing settings.
#[derive(Clone)]
pub struct Worker {
    db: AnyPool,
    name: String,
    handlers: HashMap<String, Arc<dyn Handler>>,
    timeouts: HashMap<String, Duration>,
    /// A job whose worker stops renewing this long is taken by another.
    pub lease: Duration,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    /// First retry delay; doubles per attempt.
    pub backoff_base: Duration,
    /// Time limit of a job kind without its own.
    pub default_timeout: Duration,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("name", &self.name).field("kinds", &self.handlers.keys()).finish()
    }
}

/// How a run ended, from the worker's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    None,
    Cancelled,
    TimedOut,
    Lost,
}

impl Worker {
    pub fn new(db: AnyPool, name: impl Into<String>) -> Self {
        Worker {
            db,
            name: name.into(),
            handlers: HashMap::new(),
            timeouts: HashMap::new(),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            backoff_base: Duration::from_secs(2),
            default_timeout: Duration::from_secs(3600),
        }
    }

    /// Adds the handler of `kind`, with its time limit if it has one.
    pub fn handle(mut self, kind: &str, handler: Arc<dyn Handler>, timeout: Option<Duration>) -> Self {
        self.handlers.insert(kind.to_string(), handler);
        if let Some(t) = timeout {
            self.timeouts.insert(kind.to_string(), t);
        }
        self
    }

    /// Claims one runnable job and runs it to its end; `None` when there was none.
    pub async fn run_once(&self) -> sqlx::Result<Option<String>> {
        let kinds: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        let lease_ms = self.lease.as_millis() as i64;
        let Some(job) = queue::claim(&self.db, &self.name, &kinds, lease_ms).await? else {
            return Ok(None);
        };
        tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, worker = %self.name, "job started");
        if job.attempts > job.max_attempts {
            // Its last attempt's worker died: nothing more to try.
            queue::fail(&self.db, &job, &self.name, "worker lost on the last attempt", 0).await?;
            return Ok(Some(job.id));
        }
        let handler = self.handlers[&job.kind].clone();
        let ctx = Arc::new(JobContext::default());
        let started = Instant::now();
        // The handler says when it ends, so the next job is claimed at once rather than at the next beat.
        let (ended, mut end) = tokio::sync::oneshot::channel::<()>();
        let task = {
            let (job, ctx) = (job.clone(), ctx.clone());
            tokio::task::spawn_blocking(move || {
                let outcome = handler.run(&job, &ctx);
                let _ = ended.send(());
                outcome
            })
        };
        let stop = self.watch(&job, &ctx, &task, &mut end).await?;
        let outcome = task.await.unwrap_or_else(|e| Err(format!("job handler crashed: {e}")));
        let succeeded = stop == Stop::None && outcome.is_ok();
        self.record(&job, &ctx, stop, outcome).await?;
        crate::http::metrics::job_finished(&job.kind, succeeded, started.elapsed());
        Ok(Some(job.id))
    }

    /// Renews the lease with progress until the handler ends; cancels it on
    /// request, on timeout, or when the lease was lost.
    async fn watch(
        &self,
        job: &JobRow,
        ctx: &JobContext,
        task: &tokio::task::JoinHandle<Result<serde_json::Value, String>>,
        end: &mut tokio::sync::oneshot::Receiver<()>,
    ) -> sqlx::Result<Stop> {
        let started = Instant::now();
        let timeout = self.timeouts.get(&job.kind).copied().unwrap_or(self.default_timeout);
        let beat = (self.lease / 3).max(Duration::from_millis(50));
        let mut stop = Stop::None;
        while !task.is_finished() {
            tokio::select! {
                // Ended (or the sender went with a panicking handler).
                _ = &mut *end => break,
                _ = tokio::time::sleep(beat.min(Duration::from_millis(200))) => {}
            }
            if task.is_finished() {
                break;
            }
            let (progress, stage) = ctx.snapshot();
            let alive =
                queue::heartbeat(&self.db, &job.id, &self.name, progress, &stage, self.lease.as_millis() as i64)
                    .await?;
            let why = match alive {
                None => Stop::Lost,
                Some(true) => Stop::Cancelled,
                Some(false) if started.elapsed() > timeout => Stop::TimedOut,
                Some(false) => Stop::None,
            };
            if why != Stop::None && stop == Stop::None {
                stop = why;
                ctx.cancel_token().cancel();
            }
        }
        Ok(stop)
    }

    async fn record(
        &self,
        job: &JobRow,
        ctx: &JobContext,
        stop: Stop,
        outcome: Result<serde_json::Value, String>,
    ) -> sqlx::Result<()> {
        let backoff = self.backoff_base.as_millis() as i64;
        match (stop, outcome) {
            (Stop::Lost, _) => tracing::warn!(job = %job.id, "lease lost; another worker owns the job now"),
            (Stop::Cancelled, _) => queue::cancelled(&self.db, &job.id, &self.name).await?,
            (Stop::TimedOut, _) => {
                let limit = self.timeouts.get(&job.kind).copied().unwrap_or(self.default_timeout);
                queue::fail(&self.db, job, &self.name, &format!("timed out after {} s", limit.as_secs()), backoff)
                    .await?
            }
            (Stop::None, Ok(result)) => {
                queue::succeed(&self.db, &job.id, &self.name, &result).await?;
                tracing::info!(job = %job.id, "job succeeded");
            }
            (Stop::None, Err(error)) => {
                tracing::warn!(job = %job.id, %error, attempt = job.attempts, "job failed");
                let mut job = job.clone();
                if ctx.final_failure.load(Ordering::Relaxed) {
                    // Recorded as its last attempt: dead now rather than queued again.
                    job.max_attempts = job.attempts;
                }
                queue::fail(&self.db, &job, &self.name, &error, backoff).await?
            }
        }
        Ok(())
    }

    /// Runs jobs until `shutdown` resolves; a job in hand is finished first.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.run_once().await {
                Ok(Some(_)) => {}
                Ok(None) => tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(self.poll) => {}
                },
                Err(err) => {
                    tracing::error!(%err, "job queue unreachable");
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = tokio::time::sleep(self.poll * 4) => {}
                    }
                }
            }
            if futures_ready(&mut shutdown).await {
                return;
            }
        }
    }
}

/// True when `fut` has already completed (polled once, without waiting).
async fn futures_ready(fut: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>) -> bool {
    tokio::select! {
        biased;
        _ = fut.as_mut() => true,
        _ = std::future::ready(()) => false,
    }
}
