// SPDX-License-Identifier: MPL-2.0
//! `subtitle_generate`: subtitles for the speech of one clip of a project, made the way
//! `reenact captions` makes them (Silero VAD + whisper through `reenactcaptions`). The SRT
//! and WebVTT files go to the project's `metadata/` area and are named in the job's result
//! under `files`, where `GET /api/jobs/{id}/files/{name}` serves them.

use std::path::Path;
use std::sync::Arc;

use reenact_engine::subtitles::Format;
use reenact_engine::transcribe::write_subtitles;
use reenact_engine::TranscribeRequest;
use serde::Deserialize;
use sqlx::AnyPool;

use super::queue::JobRow;
use super::worker::{Handler, JobContext};
use crate::db::clips;
use crate::quota;
use crate::storage::{Area, Storage};

/// What a `subtitle_generate` job is given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubtitleParams {
    pub clip_id: String,
    /// Spoken language (whisper code, or `auto` to detect it).
    #[serde(default = "english")]
    pub language: String,
    /// Translate into English (multilingual models only).
    #[serde(default)]
    pub translate: bool,
}

fn english() -> String {
    "en".into()
}

impl SubtitleParams {
    /// Checks what can be checked before the job is queued.
    pub fn check(&self) -> Result<(), String> {
        reenact_engine::languages::check_speech_language(&self.language)
            .map_err(|err| format!("params.language: {err}"))
    }
}

/// Runs `subtitle_generate` jobs.
pub(super) struct SubtitleGenerate {
    pub(super) db: AnyPool,
    pub(super) storage: Arc<Storage>,
    pub(super) runtime: tokio::runtime::Handle,
}

impl Handler for SubtitleGenerate {
    fn run(&self, job: &JobRow, ctx: &JobContext) -> Result<serde_json::Value, String> {
        let params: SubtitleParams = serde_json::from_str(&job.params).map_err(|e| format!("params: {e}"))?;
        params.check()?;
        let clip = self
            .runtime
            .block_on(clips::get(&self.db, &job.owner_id, &params.clip_id))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("params.clip_id: no clip {}", params.clip_id))?;
        let media = self.runtime.block_on(self.storage.fetch(&clip.storage_key)).map_err(|e| e.to_string())?;
        let mut request = TranscribeRequest::new(media);
        request.language = params.language.clone();
        request.translate = params.translate;
        ctx.progress(0.0, "transcribing");
        let transcript = reenact_engine::transcribe(&request, ctx.cancel_token(), &mut |p| {
            ctx.progress(p.fraction * 90.0, "transcribing");
        })
        // The engine names the server's cached copy; the clip's own name means more to the user.
        .map_err(|e| e.to_string().replace(&request.media.display().to_string(), &clip.original_name))?;

        ctx.progress(92.0, "storing");
        let work = self.storage.temp_path().with_extension("dir");
        let stored = self.store(job, ctx, &clip.project_id, &transcript.cues, &work);
        let _ = std::fs::remove_dir_all(&work);
        let files = stored?;
        Ok(serde_json::json!({
            "clip_id": clip.id,
            "cues": transcript.cues.len(),
            "duration_s": transcript.duration_s,
            "utterances": transcript.utterances,
            "realtime_factor": transcript.realtime_factor,
            "models": transcript.models,
            "language": transcript.language,
            "translated": transcript.translated,
            "files": files,
        }))
    }
}

impl SubtitleGenerate {
    /// Writes both formats and stores them, charged to the owner's quota; the `files` map of
    /// the result.
    fn store(
        &self,
        job: &JobRow,
        ctx: &JobContext,
        project_id: &str,
        cues: &[reenact_engine::subtitles::Cue],
        work: &Path,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        std::fs::create_dir_all(work).map_err(|e| format!("work folder: {e}"))?;
        let mut stored = Vec::new();
        for (format, name) in [(Format::Srt, "captions.srt"), (Format::Vtt, "captions.vtt")] {
            let file = work.join(name);
            write_subtitles(cues, format, &file).map_err(|e| e.to_string())?;
            let key = Storage::key(&job.owner_id, project_id, Area::Metadata, &format!("{}-{name}", job.id));
            stored.push((file, key));
        }
        let charged = quota::store_all(&self.db, &self.storage, &job.owner_id, job.quota(), &stored);
        self.runtime.block_on(charged).map_err(|e| super::handlers::storing_error(ctx, "the subtitles", e))?.keep();
        let files = stored
            .into_iter()
            .map(|(file, key)| (file.file_name().unwrap_or_default().to_string_lossy().into_owned(), key.into()))
            .collect();
        Ok(files)
    }
}
