// SPDX-License-Identifier: MPL-2.0
//! Background jobs: a queue in the database and workers that run them.
//!
//! Why a small SQL queue rather than a queue crate: jobs must share the
//! database (and its owner scoping, deletion and backups) with the rest of
//! the studio on both SQLite and PostgreSQL, and need leases, idempotency
//! keys, cancellation and dead-lettering together; apalis's SQL backends
//! cover each database separately with their own schema. On PostgreSQL a job
//! is claimed with `FOR UPDATE SKIP LOCKED`, so many `reenact worker`
//! processes never take the same job; SQLite serialises writers, so its
//! claim needs no lock clause.

pub mod download;
pub mod effects;
pub mod egress;
pub mod handlers;
pub mod overview;
pub mod queue;
mod soft_subtitles;
pub mod subtitles;
pub mod worker;

pub use queue::{JobRow, JobState, NewJob};
pub use worker::{Handler, JobContext, Worker};

/// Every job type the studio knows.
pub const KINDS: &[&str] = &[
    "video_download",
    "clip_edit",
    "face_transform",
    "voice_clone",
    "lip_sync",
    "subtitle_generate",
    "background_replace",
    "render",
];

/// Job types the server queues by itself, never a user: not submittable, not listed in a
/// user's jobs or events, and not counted against their queued-job limit.
pub const SERVER_KINDS: &[&str] = &[overview::KIND];

/// Current time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
