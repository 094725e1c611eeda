// SPDX-License-Identifier: MPL-2.0
//! The job handlers this build carries. Kinds without one are refused when
//! submitted, with a reason, instead of waiting in the queue forever.

use std::path::PathBuf;
use std::sync::Arc;

use reenact_engine::project::{Clip, Project, Source, Track};
use reenact_engine::{PresetLibrary, RenderRequest};
use serde::Deserialize;
use sqlx::AnyPool;

use super::queue::JobRow;
use super::worker::{Handler, JobContext, Worker};
use crate::db::{self, clips, clips::ClipRow};
use crate::storage::{Area, Storage};

/// Kinds a worker of this build can run.
pub const AVAILABLE: &[&str] = &["clip_edit"];

/// A worker with every available handler.
pub fn worker(db: AnyPool, storage: Arc<Storage>, name: String) -> Worker {
    let runtime = tokio::runtime::Handle::current();
    let clip_edit = ClipEdit { db: db.clone(), storage, runtime };
    Worker::new(db, name).handle("clip_edit", Arc::new(clip_edit), Some(std::time::Duration::from_secs(1800)))
}

/// `clip_edit`: cuts `[in, out)` of a clip into a new clip of the same project
/// (source size and rate, high quality), through the offline renderer.
struct ClipEdit {
    db: AnyPool,
    storage: Arc<Storage>,
    runtime: tokio::runtime::Handle,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipEditParams {
    pub clip_id: String,
    #[serde(rename = "in")]
    pub in_s: f64,
    #[serde(rename = "out")]
    pub out_s: f64,
}

impl Handler for ClipEdit {
    fn run(&self, job: &JobRow, ctx: &JobContext) -> Result<serde_json::Value, String> {
        let params: ClipEditParams = serde_json::from_str(&job.params).map_err(|e| format!("params: {e}"))?;
        let source = self
            .runtime
            .block_on(clips::get(&self.db, &job.owner_id, &params.clip_id))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("params.clip_id: no clip {}", params.clip_id))?;
        let path = self.storage.path(&source.storage_key);
        let project = Project {
            title: format!("{}-{}", source.id, job.id),
            author: String::new(),
            sources: vec![Source { id: "source".into(), path: path.clone() }],
            tracks: vec![Track {
                clips: vec![Clip {
                    source: "source".into(),
                    in_s: params.in_s,
                    out_s: Some(params.out_s),
                    position: None,
                }],
            }],
            scenes: Vec::new(),
        };
        let preset = PresetLibrary::builtin().and_then(|l| l.get("master").cloned()).map_err(|e| e.to_string())?;
        let work = self.storage.temp_path().with_extension("dir");
        let request = RenderRequest::new(project, PathBuf::from("params"), vec![preset], work.clone());
        ctx.progress(0.0, "cutting");
        let rendered = reenact_engine::render(&request, ctx.cancel_token(), &mut |p| {
            ctx.progress(p.fraction * 95.0, "cutting");
        });
        let result = rendered.map_err(|e| e.to_string()).and_then(|report| {
            let out = report.outputs.into_iter().next().ok_or("no output")?;
            ctx.progress(97.0, "storing");
            self.runtime.block_on(self.store(job, &source, &params, &out.file))
        });
        let _ = std::fs::remove_dir_all(&work);
        result
    }
}

impl ClipEdit {
    async fn store(
        &self,
        job: &JobRow,
        source: &ClipRow,
        params: &ClipEditParams,
        file: &std::path::Path,
    ) -> Result<serde_json::Value, String> {
        let info = reenact_engine::probe(file).map_err(|e| e.to_string())?;
        let video = info.video.as_ref().ok_or("output has no video")?;
        let id = uuid::Uuid::new_v4().to_string();
        let key = Storage::key(&job.owner_id, &source.project_id, Area::Clips, &format!("{id}.mp4"));
        let row = ClipRow {
            id: id.clone(),
            project_id: source.project_id.clone(),
            owner_id: job.owner_id.clone(),
            original_name: format!("{} [{:.2}-{:.2}]", source.original_name, params.in_s, params.out_s),
            storage_key: key.clone(),
            bytes: std::fs::metadata(file).map(|m| m.len() as i64).unwrap_or(0),
            container: info.container.clone().unwrap_or_default(),
            duration_s: info.duration_s,
            width: video.width as i64,
            height: video.height as i64,
            fps: video.fps(),
            video_codec: video.codec.clone(),
            audio_codec: info.audio.as_ref().map(|a| a.codec.clone()),
            created_at: db::now(),
        };
        self.storage.commit(file, &key).await.map_err(|e| e.to_string())?;
        if let Err(e) = clips::insert(&self.db, &row).await {
            let _ = tokio::fs::remove_file(self.storage.path(&key)).await;
            return Err(e.to_string());
        }
        Ok(serde_json::json!({ "clip_id": id, "duration_s": info.duration_s }))
    }
}
