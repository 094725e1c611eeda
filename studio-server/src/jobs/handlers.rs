// SPDX-License-Identifier: MPL-2.0
//! The job handlers this build carries. Kinds without one are refused when
//! submitted, with a reason, instead of waiting in the queue forever.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gstreenact::character::Character;
use reenact_engine::preset::{Background, CaptionMode, CropPolicy};
use reenact_engine::project::{Clip, Project, Scene, Source, Track};
use reenact_engine::{PresetLibrary, RenderRequest, VoiceCloneRequest};
use serde::Deserialize;
use sqlx::AnyPool;

use super::download::VideoDownload;
use super::effects::{ClipEffect, Effect};
use super::overview::{self, ClipOverview};
use super::queue::JobRow;
use super::subtitles::SubtitleGenerate;
use super::worker::{Handler, JobContext, Worker};
use crate::db::clips::{self, ClipPlace, ClipRow};
use crate::quota::{self, QuotaError};
use crate::storage::{Area, Storage};

/// Kinds a worker of this build can run.
pub const AVAILABLE: &[&str] = &[
    "clip_edit",
    "render",
    "voice_clone",
    "video_download",
    "subtitle_generate",
    "face_transform",
    "lip_sync",
    "background_replace",
];

/// A worker with every available handler.
pub fn worker(db: AnyPool, storage: Arc<Storage>, name: String) -> Worker {
    let runtime = tokio::runtime::Handle::current();
    let clip_edit = ClipEdit { db: db.clone(), storage: storage.clone(), runtime: runtime.clone() };
    let render = Render { db: db.clone(), storage: storage.clone(), runtime: runtime.clone() };
    let video_download = VideoDownload { db: db.clone(), storage: storage.clone(), runtime: runtime.clone() };
    let subtitles = SubtitleGenerate { db: db.clone(), storage: storage.clone(), runtime: runtime.clone() };
    let voice_clone = VoiceClone { db: db.clone(), storage: storage.clone(), runtime: runtime.clone() };
    let mut worker = Worker::new(db.clone(), name)
        .handle("clip_edit", Arc::new(clip_edit), Some(std::time::Duration::from_secs(1800)))
        .handle("render", Arc::new(render), Some(std::time::Duration::from_secs(4 * 3600)))
        .handle("voice_clone", Arc::new(voice_clone), Some(std::time::Duration::from_secs(1800)))
        .handle("video_download", Arc::new(video_download), Some(std::time::Duration::from_secs(3600)))
        .handle("subtitle_generate", Arc::new(subtitles), Some(std::time::Duration::from_secs(3600)));
    for kind in Effect::KINDS {
        let effect = Effect::of_kind(kind).expect("a known effect");
        let handler = ClipEffect { effect, db: db.clone(), storage: storage.clone(), runtime: runtime.clone() };
        worker = worker.handle(kind, Arc::new(handler), Some(std::time::Duration::from_secs(3600)));
    }
    worker
}

/// A worker for the lane of clip overviews (thumbnail and waveform of each new clip) alone:
/// seconds of work each, kept apart from the [`worker`]'s long jobs so that they never wait
/// behind a render. `reenact serve` and `reenact worker` run one beside their other workers.
pub fn overview_worker(db: AnyPool, storage: Arc<Storage>, name: String) -> Worker {
    let runtime = tokio::runtime::Handle::current();
    let handler = ClipOverview { db: db.clone(), storage, runtime };
    Worker::new(db, name).handle(overview::KIND, Arc::new(handler), Some(overview::TIMEOUT))
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
        let path = self.runtime.block_on(self.storage.fetch(&source.storage_key)).map_err(|e| e.to_string())?;
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
            characters: Default::default(),
            subtitles: Default::default(),
            occlusion_mask: false,
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
            let name = format!("{} [{:.2}-{:.2}]", source.original_name, params.in_s, params.out_s);
            self.runtime.block_on(store_clip(&self.db, &self.storage, job, ctx, &source, &name, &out.file))
        });
        let _ = std::fs::remove_dir_all(&work);
        result
    }
}

/// Stores `file` (a finished render) as a new clip named `name` in the project of `source`,
/// charged to the owner's quota; the result names the clip. The database row is only
/// written once the file is in place.
pub(super) async fn store_clip(
    db: &AnyPool,
    storage: &Storage,
    job: &JobRow,
    ctx: &JobContext,
    source: &ClipRow,
    name: &str,
    file: &Path,
) -> Result<serde_json::Value, String> {
    let info = reenact_engine::probe(file).map_err(|e| e.to_string())?;
    let id = uuid::Uuid::new_v4().to_string();
    let key = Storage::key(&source.owner_id, &source.project_id, Area::Clips, &format!("{id}.mp4"));
    let place = ClipPlace {
        id: id.clone(),
        project_id: source.project_id.clone(),
        owner_id: source.owner_id.clone(),
        original_name: name.to_string(),
        storage_key: key.clone(),
        bytes: std::fs::metadata(file).map(|m| m.len() as i64).unwrap_or(0),
    };
    let row = ClipRow::discovered(place, &info).ok_or("output has no video")?;
    let files = [(file.to_path_buf(), key)];
    let reservation = quota::store_all(db, storage, &source.owner_id, job.quota(), &files)
        .await
        .map_err(|e| storing_error(ctx, "the clip", e))?;
    if let Err(e) = clips::insert(db, &row).await {
        quota::unstore(storage, &files, reservation).await;
        return Err(e.to_string());
    }
    reservation.keep();
    overview::queue(db, &row, job.quota()).await;
    Ok(serde_json::json!({ "clip_id": id, "duration_s": info.duration_s }))
}

/// Why a job's outputs were not stored, naming `what`. Outputs over the owner's quota
/// fail the job for good: another attempt would make them again to no avail.
pub(super) fn storing_error(ctx: &JobContext, what: &str, err: QuotaError) -> String {
    if let QuotaError::Exceeded { .. } = err {
        ctx.fail_for_good();
    }
    format!("storing {what}: {err}")
}

/// `render`: the project's timeline through the offline renderer to every
/// requested preset; outputs, thumbnails and metadata move into the
/// project's `renders/` storage only when all of them are complete.
struct Render {
    db: AnyPool,
    storage: Arc<Storage>,
    runtime: tokio::runtime::Handle,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderParams {
    pub render_id: String,
    pub presets: Vec<String>,
    #[serde(default)]
    pub watermark_text: Option<String>,
    /// Captions from the timeline's speech, burned in or as sidecars.
    #[serde(default)]
    pub captions: Option<CaptionMode>,
    #[serde(default)]
    pub background: Option<Background>,
    #[serde(default)]
    pub crop: Option<CropPolicy>,
    /// The language of the project's subtitle track burned into the picture.
    #[serde(default)]
    pub burn_in_subtitles: Option<String>,
    /// Commercial work: characters with non-commercial rights and models not cleared for
    /// commercial use are refused. A project marked commercial since the job was queued
    /// makes it commercial too: the handler reads the project's setting again.
    #[serde(default)]
    pub commercial: bool,
}

/// The server's timeline: the engine's, with `source` naming a clip id.
#[derive(Debug, Deserialize)]
struct Timeline {
    #[serde(default)]
    tracks: Vec<Track>,
    #[serde(default)]
    scenes: Vec<reenact_engine::project::Scene>,
}

impl Handler for Render {
    fn run(&self, job: &JobRow, ctx: &JobContext) -> Result<serde_json::Value, String> {
        let mut params: RenderParams = serde_json::from_str(&job.params).map_err(|e| format!("params: {e}"))?;
        let project_id = job.project_id.as_deref().ok_or("project_id: a render needs a project")?;
        let started_at_ms = super::now_ms();
        let cast_dir = self.storage.temp_path().with_extension("cast");
        let project = self.engine_project(&job.owner_id, project_id, &cast_dir);
        // Rights and licences are checked again when the job runs: it may have waited in the
        // queue past an expiry, or the project may have been marked commercial meanwhile.
        let project = project.and_then(|(project, commercial)| {
            params.commercial |= commercial;
            crate::credentials::check_cast(&project.characters, params.commercial).map(|()| project)
        });
        let result = project.and_then(|project| self.render(job, ctx, &params, project_id, project));
        let _ = std::fs::remove_dir_all(&cast_dir);
        // When the handler ran, beside the engine's own time (`render_s`): what the queue and
        // the storage add to a render can be measured from the jobs themselves.
        result.map(|mut value| {
            value["started_at_ms"] = started_at_ms.into();
            value["finished_at_ms"] = super::now_ms().into();
            value
        })
    }
}

impl Render {
    fn render(
        &self,
        job: &JobRow,
        ctx: &JobContext,
        params: &RenderParams,
        project_id: &str,
        project: Project,
    ) -> Result<serde_json::Value, String> {
        let library = PresetLibrary::builtin().map_err(|e| e.to_string())?;
        let presets = params
            .presets
            .iter()
            .map(|n| library.get(n).cloned().map_err(|e| format!("params.presets: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if params.commercial {
            let plan = reenact_engine::PlannedRender {
                cast: !project.characters.is_empty(),
                face_crop: match params.crop {
                    Some(crop) => crop == CropPolicy::Face,
                    None => presets.iter().any(|p| p.crop == CropPolicy::Face),
                },
                background: params.background.is_some(),
                captions: params.captions.is_some(),
            };
            let catalog = reenact_models::Catalog::load().map_err(|e| e.to_string())?;
            let names = reenact_engine::planned_models(plan).map_err(|e| e.to_string())?;
            crate::credentials::check_models(names, &catalog, true)?;
        }
        let work = self.storage.temp_path().with_extension("dir");
        let mut request = RenderRequest::new(project, PathBuf::from("timeline"), presets, work.clone());
        request.watermark = params.watermark_text.clone().map(|text| reenact_engine::preset::Watermark {
            text: Some(text),
            image: None,
            position: Default::default(),
            opacity: 0.6,
        });
        request.background = params.background.clone();
        request.crop = params.crop;
        // Transcription takes the first share of the progress bar when captions are asked for.
        let mut share = (0.0, 95.0);
        if let Some(mode) = params.captions {
            ctx.progress(0.0, "transcribing");
            let transcript = reenact_engine::transcribe_timeline(
                &request.project,
                &request.project_file,
                "en",
                ctx.cancel_token(),
                &mut |p| ctx.progress(p.fraction * 30.0, "transcribing"),
            )
            .map_err(|e| e.to_string())?;
            request.transcript = Some(transcript);
            request.captions = Some(mode);
            share = (30.0, 65.0);
        }
        if let Some(lang) = &params.burn_in_subtitles {
            let transcript =
                self.runtime.block_on(super::soft_subtitles::burn_in(&self.db, &job.owner_id, project_id, lang))?;
            request.transcript = Some(transcript);
            request.captions = Some(CaptionMode::BurnIn);
        }
        ctx.progress(share.0, "rendering");
        let started = std::time::Instant::now();
        let rendered = reenact_engine::render(&request, ctx.cancel_token(), &mut |p| {
            ctx.progress(share.0 + p.fraction * share.1, "rendering");
        });
        if let Some(out) = rendered.as_ref().ok().and_then(|r| r.outputs.first()) {
            crate::http::metrics::render_finished(out.metadata.duration_s, started.elapsed());
        }
        let result = rendered.map_err(|e| e.to_string()).and_then(|mut report| {
            super::soft_subtitles::add_tracks(&self.db, &self.runtime, &job.owner_id, project_id, &mut report)?;
            let render_s = report.wall_s;
            if params.commercial {
                let catalog = reenact_models::Catalog::load().map_err(|e| e.to_string())?;
                let names = report.outputs.iter().flat_map(|o| o.metadata.models.iter().map(|m| m.name.as_str()));
                crate::credentials::check_models(names, &catalog, true)?;
            }
            ctx.progress(95.5, "signing");
            let signing = std::time::Instant::now();
            sign_outputs(&mut report)?;
            let signing_s = signing.elapsed().as_secs_f64();
            ctx.progress(96.0, "storing");
            let mut stored = self.runtime.block_on(self.store(job, ctx, project_id, &params.render_id, report))?;
            stored["render_s"] = render_s.into();
            stored["signing_s"] = signing_s.into();
            Ok(stored)
        });
        let _ = std::fs::remove_dir_all(&work);
        result
    }

    /// The engine's view of the project: every clip the timeline names, by its stored file,
    /// and the scenes (the timeline's and the project's scene records) with their characters
    /// written as character files under `cast_dir`.
    /// Also whether the project is marked commercial.
    fn engine_project(&self, owner: &str, project_id: &str, cast_dir: &Path) -> Result<(Project, bool), String> {
        self.runtime.block_on(engine_project(&self.db, &self.storage, owner, project_id, cast_dir))
    }

    /// Stores every output, charged to the owner's quota, or none of them.
    async fn store(
        &self,
        job: &JobRow,
        ctx: &JobContext,
        project_id: &str,
        render_id: &str,
        report: reenact_engine::RenderReport,
    ) -> Result<serde_json::Value, String> {
        let mut stored: Vec<(PathBuf, String)> = Vec::new();
        let mut outputs = Vec::new();
        let key_of =
            |area: Area, suffix: &str| Storage::key(&job.owner_id, project_id, area, &format!("{render_id}-{suffix}"));
        for out in &report.outputs {
            let preset = &out.preset;
            let ext = out.file.extension().and_then(|e| e.to_str()).unwrap_or("bin");
            let mut files = vec![(out.file.clone(), key_of(Area::Renders, &format!("{preset}.{ext}")))];
            files.push((out.metadata_file.clone(), key_of(Area::Metadata, &format!("{preset}.json"))));
            for (i, thumb) in out.thumbnails.iter().enumerate() {
                files.push((thumb.clone(), key_of(Area::Thumbnails, &format!("{preset}-{}.jpg", i + 1))));
            }
            let mut sidecars = serde_json::Map::new();
            for sidecar in &out.sidecars {
                // `name.srt` is the captions' sidecar; `name.es.srt` a subtitle track's.
                let lang = sidecar
                    .file_stem()
                    .map(Path::new)
                    .and_then(|stem| stem.extension())
                    .filter(|lang| reenact_engine::languages::canonical_tag(&lang.to_string_lossy()).is_ok());
                let ext = match lang {
                    Some(lang) => format!(
                        "{}.{}",
                        lang.to_string_lossy(),
                        sidecar.extension().and_then(|e| e.to_str()).unwrap_or("txt")
                    ),
                    None => sidecar.extension().and_then(|e| e.to_str()).unwrap_or("txt").to_owned(),
                };
                let ext = ext.as_str();
                let key = key_of(Area::Metadata, &format!("{preset}.{ext}"));
                sidecars.insert(ext.into(), key.clone().into());
                stored.push((sidecar.clone(), key));
            }
            let credential = crate::credentials::verify_file(&out.file, None)
                .map(|v| credential_summary(&v))
                .unwrap_or_else(|e| serde_json::json!({ "valid": false, "error": e.to_string() }));
            outputs.push(serde_json::json!({
                "preset": preset,
                "credential": credential,
                "file": files[0].1,
                "metadata": files[1].1,
                "thumbnails": files[2..].iter().map(|(_, k)| k).collect::<Vec<_>>(),
                "sidecars": sidecars,
                "captions": out.metadata.captions,
                "crop": out.metadata.preset.crop,
                "bytes": out.metadata.bytes,
                "duration_s": out.metadata.duration_s,
                "disclosure": out.metadata.disclosure,
                "models": out.metadata.models,
                "scenes": out.metadata.scenes.iter().map(|s| serde_json::json!({
                    "start": s.start, "end": s.end, "character": s.character, "face": s.face, "voice": s.voice,
                    "lips": s.lips, "dub": s.dub,
                })).collect::<Vec<_>>(),
                "width": out.metadata.output.video.as_ref().map(|v| v.width),
                "height": out.metadata.output.video.as_ref().map(|v| v.height),
            }));
            stored.extend(files);
        }
        let reservation = quota::store_all(&self.db, &self.storage, &job.owner_id, job.quota(), &stored)
            .await
            .map_err(|e| storing_error(ctx, "the outputs", e))?;
        let outputs = serde_json::Value::Array(outputs);
        if let Err(e) = crate::db::renders::set_outputs(&self.db, &job.owner_id, render_id, &outputs).await {
            quota::unstore(&self.storage, &stored, reservation).await;
            return Err(e.to_string());
        }
        reservation.keep();
        Ok(serde_json::json!({ "render_id": render_id, "outputs": outputs }))
    }
}

/// `voice_clone`: a script spoken by the Piper voice and converted towards the character given
/// inline (the character file's JSON document); the WAV goes to the project's `audio/` storage.
struct VoiceClone {
    db: AnyPool,
    storage: Arc<Storage>,
    runtime: tokio::runtime::Handle,
}

/// Longest script a `voice_clone` job takes, in characters.
pub const MAX_SCRIPT_CHARS: usize = 20_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceCloneParams {
    /// The character file's JSON document.
    pub character: serde_json::Value,
    pub text: String,
    #[serde(default)]
    pub pitch_semitones: f64,
    #[serde(default = "unit_ratio")]
    pub formant_shift: f64,
}

fn unit_ratio() -> f64 {
    1.0
}

impl VoiceCloneParams {
    /// Checks everything that can be checked before the job runs; returns the character.
    pub fn check(&self) -> Result<Character, String> {
        if self.text.trim().is_empty() {
            return Err("params.text: empty, nothing to say".into());
        }
        let chars = self.text.chars().count();
        if chars > MAX_SCRIPT_CHARS {
            return Err(format!("params.text: {chars} characters, at most {MAX_SCRIPT_CHARS}"));
        }
        if !(self.pitch_semitones.is_finite() && (-24.0..=24.0).contains(&self.pitch_semitones)) {
            return Err("params.pitch_semitones: must be within -24..24".into());
        }
        if !(self.formant_shift.is_finite() && (0.5..=2.0).contains(&self.formant_shift)) {
            return Err("params.formant_shift: must be within 0.5..2".into());
        }
        let character =
            Character::parse(Path::new("params.character"), &self.character.to_string()).map_err(|e| e.to_string())?;
        if character.voice.is_none() {
            return Err("params.character: the character has no voice profile (make it with a voice sample)".into());
        }
        Ok(character)
    }
}

impl Handler for VoiceClone {
    fn run(&self, job: &JobRow, ctx: &JobContext) -> Result<serde_json::Value, String> {
        let params: VoiceCloneParams = serde_json::from_str(&job.params).map_err(|e| format!("params: {e}"))?;
        let project_id = job.project_id.as_deref().ok_or("project_id: a voice clone is stored in a project")?;
        let character = params.check()?;
        let work = self.storage.temp_path().with_extension("dir");
        let result = (|| {
            std::fs::create_dir_all(&work).map_err(|e| format!("work folder: {e}"))?;
            let character_file = work.join(format!("character{}", gstreenact::character::FILE_SUFFIX));
            character.save(&character_file).map_err(|e| e.to_string())?;
            let mut request = VoiceCloneRequest::new(params.text.clone(), character_file, work.join("voice.wav"));
            request.pitch_semitones = params.pitch_semitones;
            request.formant_shift = params.formant_shift;
            ctx.progress(0.0, "synthesising");
            let report = reenact_engine::voice_clone(&request, ctx.cancel_token(), &mut |p| {
                ctx.progress(p.fraction * 95.0, p.stage.as_str());
            })
            .map_err(|e| e.to_string())?;
            ctx.progress(97.0, "storing");
            let key = Storage::key(&job.owner_id, project_id, Area::Audio, &format!("{}.wav", uuid::Uuid::new_v4()));
            let files = [(report.file.clone(), key.clone())];
            let stored = quota::store_all(&self.db, &self.storage, &job.owner_id, job.quota(), &files);
            self.runtime.block_on(stored).map_err(|e| storing_error(ctx, "the voice", e))?.keep();
            Ok(serde_json::json!({
                "files": { "voice.wav": key },
                "file": key,
                "character": report.character,
                "duration_s": report.duration_s,
                "sample_rate": report.sample_rate,
                "algorithm": report.algorithm,
                "pitch_semitones": report.pitch_semitones,
                "formant_shift": report.formant_shift,
                "f0": report.f0,
                "similarity": report.similarity,
                "similarity_raw": report.similarity_raw,
                "models": report.models,
                "disclosure": report.disclosure,
            }))
        })();
        let _ = std::fs::remove_dir_all(&work);
        result
    }
}

/// Signs every rendered file and thumbnail in place; a `.c2pa` sidecar (WebM) joins the
/// output's sidecars so it is stored beside the file.
fn sign_outputs(report: &mut reenact_engine::RenderReport) -> Result<(), String> {
    let identity = crate::credentials::process_identity().map_err(|e| e.to_string())?;
    let signed = crate::credentials::sign_render_outputs(identity, &report.outputs).map_err(|e| e.to_string())?;
    for (file, placement) in signed {
        if let crate::credentials::Placement::Sidecar(sidecar) = placement {
            if let Some(out) = report.outputs.iter_mut().find(|o| o.file == file) {
                out.sidecars.push(sidecar);
            }
        }
    }
    // Soft subtitle tracks and an embedded credential grow the file after the engine
    // measured it: what is charged and reported is what will be stored.
    for out in &mut report.outputs {
        let meta = std::fs::metadata(&out.file).map_err(|e| format!("{}: {e}", out.file.display()))?;
        out.metadata.bytes = meta.len();
    }
    Ok(())
}

/// What the render page shows of an output's credential.
pub(crate) fn credential_summary(v: &crate::credentials::Verification) -> serde_json::Value {
    let provenance = v.provenance.as_ref();
    serde_json::json!({
        "valid": v.valid,
        "trusted": v.trusted,
        "embedded": v.embedded,
        "signer": v.signer,
        "signer_common_name": v.signer_common_name,
        "title": v.title,
        "claim_generator": v.claim_generator,
        "author": provenance.and_then(|p| p.get("author")),
        "created_at": provenance.and_then(|p| p.get("created_at")),
        "characters": provenance.and_then(|p| p.get("characters")),
        "models": provenance.and_then(|p| p.get("models")),
        "failures": v.failures,
    })
}

/// The engine's project for `owner`'s `project_id`: its timeline with every clip fetched to a
/// local file and every scene's character written into `cast_dir`. What a render renders and
/// a preview plays.
pub async fn engine_project(
    db: &AnyPool,
    storage: &Storage,
    owner: &str,
    project_id: &str,
    cast_dir: &Path,
) -> Result<(Project, bool), String> {
    let row = crate::db::projects::get(db, owner, project_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the project no longer exists")?;
    let timeline: Timeline = serde_json::from_str(&row.timeline).map_err(|e| format!("project timeline: {e}"))?;
    if timeline.tracks.iter().all(|t| t.clips.is_empty()) {
        return Err("project timeline has no clips: add clips to a track first".into());
    }
    let all = clips::list(db, owner, project_id).await.map_err(|e| e.to_string())?;
    let mut sources = Vec::new();
    for clip in timeline.tracks.iter().flat_map(|t| &t.clips) {
        let stored = all
            .iter()
            .find(|c| c.id == clip.source)
            .ok_or_else(|| format!("timeline: clip `{}` is not a clip of this project", clip.source))?;
        if !sources.iter().any(|s: &Source| s.id == stored.id) {
            let path = storage.fetch(&stored.storage_key).await.map_err(|e| e.to_string())?;
            sources.push(Source { id: stored.id.clone(), path });
        }
    }
    let mut scenes = timeline.scenes;
    let records = crate::db::scenes::list(db, owner, project_id).await;
    scenes.extend(records.map_err(|e| e.to_string())?.into_iter().map(|s| Scene {
        start: s.start_s,
        end: s.end_s,
        character: s.character_id,
        voice_over: s.voice_over != 0,
        dub: s.dub,
    }));
    let characters = cast(db, owner, &scenes, cast_dir).await?;
    let subtitles = dub_lines(db, owner, project_id, &scenes, cast_dir).await?;
    let commercial = row.commercial != 0;
    let project = Project {
        title: row.name,
        author: String::new(),
        sources,
        tracks: timeline.tracks,
        scenes,
        characters,
        subtitles,
        occlusion_mask: row.occlusion_mask != 0,
    };
    Ok((project, commercial))
}

/// Writes the project's subtitle track of each language a scene is dubbed into as an SRT
/// file in `dir`: the lines those scenes speak.
async fn dub_lines(
    db: &AnyPool,
    owner: &str,
    project_id: &str,
    scenes: &[Scene],
    dir: &Path,
) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut files = BTreeMap::new();
    for language in scenes.iter().filter_map(|s| s.dub.as_deref()) {
        let tag = reenact_engine::languages::canonical_tag(language).map_err(|e| format!("scenes: dub: {e}"))?;
        if files.contains_key(&tag) {
            continue;
        }
        let row = crate::db::subtitles::get(db, owner, project_id, &tag).await.map_err(|e| e.to_string())?;
        let row = row.ok_or_else(|| {
            format!("scenes: a scene is dubbed into `{tag}` but the project has no `{tag}` subtitles to speak")
        })?;
        let cues: Vec<reenact_engine::subtitle_track::TrackCue> =
            serde_json::from_str(&row.cues).map_err(|e| format!("subtitle track {tag}: {e}"))?;
        std::fs::create_dir_all(dir).map_err(|e| format!("cast folder: {e}"))?;
        let file = dir.join(format!("dub.{tag}.srt"));
        let text = reenact_engine::subtitle_track::export(&cues, reenact_engine::subtitles::Format::Srt);
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        files.insert(tag, file);
    }
    Ok(files)
}

/// Writes the character of every scene (named by its id) into `cast_dir`: any character of
/// the owner's library, whatever project it was made in; never another user's.
async fn cast(
    db: &AnyPool,
    owner: &str,
    scenes: &[Scene],
    cast_dir: &Path,
) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut files = BTreeMap::new();
    for id in scenes.iter().map(|s| &s.character) {
        if files.contains_key(id) {
            continue;
        }
        let found = crate::casting::character(db, owner, id).await.map_err(|e| e.to_string())?;
        let Some((_, character)) = found else {
            return Err(format!("scenes: `{id}` is not a character of your library"));
        };
        std::fs::create_dir_all(cast_dir).map_err(|e| format!("cast folder: {e}"))?;
        let file = cast_dir.join(format!("{id}{}", gstreenact::character::FILE_SUFFIX));
        character.save(&file).map_err(|e| e.to_string())?;
        files.insert(id.clone(), file);
    }
    Ok(files)
}
