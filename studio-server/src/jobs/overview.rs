// SPDX-License-Identifier: MPL-2.0
//! `clip_overview`: what the editor draws of a clip (its thumbnail JPEG and the peak
//! envelope of its sound), computed once per clip in the background and stored beside the
//! project's other thumbnails. Every way a clip comes in (upload, import, a clip job's new
//! clip) queues one; the server queues it itself, so users neither submit nor see it in
//! their job list, and it does not count against their queued-job limit.
//!
//! It runs in a lane of its own ([`super::handlers::overview_worker`]): a clip's waveform is
//! a second's work and never waits behind an hour-long render.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use sqlx::AnyPool;

use super::handlers::storing_error;
use super::queue::{self, JobRow, Limits, NewJob};
use super::worker::{Handler, JobContext};
use crate::db::clips::{self, ClipRow};
use crate::quota;
use crate::storage::{Area, Storage};

/// The job's kind.
pub const KIND: &str = "clip_overview";

/// How long one overview may run.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewParams {
    pub clip_id: String,
}

/// The idempotency key of `clip`'s overview job: one job per clip, however often queued.
pub fn job_key(clip_id: &str) -> String {
    format!("clip-overview:{clip_id}")
}

/// Where `clip`'s thumbnail is stored.
pub fn thumbnail_key(clip: &ClipRow) -> String {
    Storage::key(&clip.owner_id, &clip.project_id, Area::Thumbnails, &format!("clip-{}.jpg", clip.id))
}

/// Where `clip`'s waveform (the engine's [`reenact_engine::Waveform`] as JSON) is stored.
pub fn waveform_key(clip: &ClipRow) -> String {
    Storage::key(&clip.owner_id, &clip.project_id, Area::Thumbnails, &format!("clip-{}.waveform.json", clip.id))
}

/// Queues the overview of a clip that just came in; its outputs are charged to the owner's
/// `quota_bytes`. A failure is logged, not returned: the clip is stored already, and the
/// thumbnail and waveform routes compute what is missing on request.
pub async fn queue(db: &AnyPool, clip: &ClipRow, quota_bytes: u64) {
    let job = NewJob {
        owner_id: clip.owner_id.clone(),
        project_id: Some(clip.project_id.clone()),
        kind: KIND.into(),
        params: serde_json::json!({ "clip_id": clip.id }),
        priority: 0,
        max_attempts: 3,
        idempotency_key: Some(job_key(&clip.id)),
    };
    // Server-queued kinds are not counted against `max_active` (see `queue::insert`).
    let limits = Limits { max_active: i64::MAX, quota_bytes };
    if let Err(err) = queue::enqueue_within(db, &job, limits).await {
        tracing::warn!(clip = %clip.id, %err, "clip overview not queued; computed on request instead");
    }
}

/// `clip`'s overview job, if one was queued.
pub async fn job_of(db: &AnyPool, clip: &ClipRow) -> sqlx::Result<Option<JobRow>> {
    let job = queue::with_key(db, &clip.owner_id, &job_key(&clip.id)).await?;
    Ok(job.filter(|j| j.kind == KIND))
}

/// The waveform of the media file `media`, as stored: the engine's JSON.
pub fn waveform_json(media: &std::path::Path, ctx: Option<&JobContext>) -> Result<Vec<u8>, String> {
    let cancel = ctx.map(|c| c.cancel_token().clone()).unwrap_or_default();
    let waveform = reenact_engine::waveform(media, &cancel, &mut |fraction| {
        if let Some(ctx) = ctx {
            ctx.progress(10.0 + fraction * 85.0, "waveform");
        }
    })
    .map_err(|e| format!("waveform: {}", crate::intake::media_cause(e)))?;
    serde_json::to_vec(&waveform).map_err(|e| format!("waveform: {e}"))
}

/// Runs `clip_overview` jobs.
pub(super) struct ClipOverview {
    pub(super) db: AnyPool,
    pub(super) storage: Arc<Storage>,
    pub(super) runtime: tokio::runtime::Handle,
}

impl Handler for ClipOverview {
    fn run(&self, job: &JobRow, ctx: &JobContext) -> Result<serde_json::Value, String> {
        let params: OverviewParams = serde_json::from_str(&job.params).map_err(|e| format!("params: {e}"))?;
        let found = self.runtime.block_on(clips::get(&self.db, &job.owner_id, &params.clip_id));
        let Some(clip) = found.map_err(|e| e.to_string())? else {
            // Deleted before its overview ran: nothing left to draw.
            return Ok(serde_json::json!({ "clip_id": params.clip_id, "skipped": "the clip was deleted" }));
        };
        let work = self.storage.temp_path().with_extension("dir");
        let result = std::fs::create_dir_all(&work)
            .map_err(|e| format!("work folder: {e}"))
            .and_then(|()| self.overview(job, ctx, &clip, &work));
        let _ = std::fs::remove_dir_all(&work);
        result
    }
}

impl ClipOverview {
    fn overview(
        &self,
        job: &JobRow,
        ctx: &JobContext,
        clip: &ClipRow,
        work: &std::path::Path,
    ) -> Result<serde_json::Value, String> {
        let (thumbnail, waveform) = (thumbnail_key(clip), waveform_key(clip));
        // Either may exist already: a route asked for it before the job ran and made it.
        let stored = |key: &str| self.runtime.block_on(self.storage.size(key)).map(|s| s.is_some());
        let has_thumbnail = stored(&thumbnail).map_err(|e| e.to_string())?;
        let has_waveform = stored(&waveform).map_err(|e| e.to_string())?;
        let media = self.runtime.block_on(self.storage.fetch(&clip.storage_key)).map_err(|e| e.to_string())?;
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        if !has_thumbnail {
            ctx.progress(0.0, "thumbnail");
            let jpeg = reenact_engine::thumbnail(&media, 1.0)
                .map_err(|e| format!("thumbnail: {}", crate::intake::media_cause(e)))?;
            let file = work.join("thumbnail.jpg");
            std::fs::write(&file, jpeg).map_err(|e| format!("thumbnail: {e}"))?;
            files.push((file, thumbnail.clone()));
        }
        if !has_waveform {
            ctx.progress(10.0, "waveform");
            let json = waveform_json(&media, Some(ctx))?;
            let file = work.join("waveform.json");
            std::fs::write(&file, json).map_err(|e| format!("waveform: {e}"))?;
            files.push((file, waveform.clone()));
        }
        ctx.progress(96.0, "storing");
        if !files.is_empty() {
            let stored = quota::store_all(&self.db, &self.storage, &job.owner_id, job.quota(), &files);
            self.runtime.block_on(stored).map_err(|e| storing_error(ctx, "the thumbnail and waveform", e))?.keep();
        }
        // Deleted while the job ran: its delete could not see these files yet.
        let still_there = self.runtime.block_on(clips::get(&self.db, &job.owner_id, &clip.id));
        if matches!(still_there, Ok(None)) {
            for (_, key) in &files {
                let _ = self.runtime.block_on(quota::remove(&self.db, &self.storage, &job.owner_id, key));
            }
            return Ok(serde_json::json!({ "clip_id": clip.id, "skipped": "the clip was deleted" }));
        }
        Ok(serde_json::json!({ "clip_id": clip.id, "thumbnail": thumbnail, "waveform": waveform }))
    }
}
