// SPDX-License-Identifier: MPL-2.0
//! The clip effect jobs: `face_transform` (a character's face, and voice when it has one,
//! over a whole clip), `lip_sync` (the character's portrait speaking the clip's sound) and
//! `background_replace` (the background blurred or replaced around the person). Each renders
//! one clip through the engine at source size and stores the result as a new clip of the same
//! project, so it can go on the timeline like any other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reenact_engine::preset::Background;
use reenact_engine::project::{Clip, Project, Scene, Source, Track};
use reenact_engine::{PresetLibrary, RenderRequest};
use serde::Deserialize;
use sqlx::AnyPool;

use super::queue::JobRow;
use super::worker::{Handler, JobContext};
use crate::db::clips::{self, ClipRow};
use crate::storage::Storage;

/// What a clip effect job is given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectParams {
    pub clip_id: String,
    /// The character (`face_transform`, `lip_sync`).
    #[serde(default)]
    pub character_id: Option<String>,
    /// `{"mode": "blur", "strength": N}` or `{"mode": "color", "color": "#RRGGBB"}`
    /// (`background_replace`).
    #[serde(default)]
    pub background: Option<Background>,
}

/// Checks a background the server takes: blur or a colour, not an image (files reach a render
/// only as stored clips, never by a path from the request); errors name `field`.
pub fn check_background(background: &Background, field: &str) -> Result<(), String> {
    if let Background::Image { .. } = background {
        return Err(format!("{field}.mode: `image` is not taken here; use `blur` or `color`"));
    }
    background.validate().map_err(|cause| format!("{field}: {cause}"))
}

/// The three kinds, with what each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    FaceTransform,
    LipSync,
    BackgroundReplace,
}

impl Effect {
    pub const KINDS: [&'static str; 3] = ["face_transform", "lip_sync", "background_replace"];

    pub fn of_kind(kind: &str) -> Option<Self> {
        match kind {
            "face_transform" => Some(Effect::FaceTransform),
            "lip_sync" => Some(Effect::LipSync),
            "background_replace" => Some(Effect::BackgroundReplace),
            _ => None,
        }
    }

    /// Checks `params` has what this effect needs, before the job is queued.
    pub fn check(self, params: &EffectParams) -> Result<(), String> {
        match (self, &params.character_id, &params.background) {
            (Effect::BackgroundReplace, _, None) => Err("params.background: give the background to put in".into()),
            (Effect::BackgroundReplace, Some(_), _) => {
                Err("params.character_id: background_replace takes no character".into())
            }
            (Effect::BackgroundReplace, None, Some(b)) => check_background(b, "params.background"),
            (_, None, _) => Err("params.character_id: give the character to play".into()),
            (_, Some(_), Some(_)) => Err("params.background: only background_replace takes a background".into()),
            (_, Some(_), None) => Ok(()),
        }
    }

    fn stage(self) -> &'static str {
        match self {
            Effect::FaceTransform => "transforming the face",
            Effect::LipSync => "animating the portrait",
            Effect::BackgroundReplace => "replacing the background",
        }
    }
}

/// Runs the clip effect jobs.
pub(super) struct ClipEffect {
    pub(super) effect: Effect,
    pub(super) db: AnyPool,
    pub(super) storage: Arc<Storage>,
    pub(super) runtime: tokio::runtime::Handle,
}

impl Handler for ClipEffect {
    fn run(&self, job: &JobRow, ctx: &JobContext) -> Result<serde_json::Value, String> {
        let params: EffectParams = serde_json::from_str(&job.params).map_err(|e| format!("params: {e}"))?;
        self.effect.check(&params)?;
        let source = self
            .runtime
            .block_on(clips::get(&self.db, &job.owner_id, &params.clip_id))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("params.clip_id: no clip {}", params.clip_id))?;
        let work = self.storage.temp_path().with_extension("dir");
        let result = self.render(job, ctx, &params, &source, &work);
        let _ = std::fs::remove_dir_all(&work);
        result
    }
}

impl ClipEffect {
    fn render(
        &self,
        job: &JobRow,
        ctx: &JobContext,
        params: &EffectParams,
        source: &ClipRow,
        work: &Path,
    ) -> Result<serde_json::Value, String> {
        std::fs::create_dir_all(work).map_err(|e| format!("work folder: {e}"))?;
        let path = self.runtime.block_on(self.storage.fetch(&source.storage_key)).map_err(|e| e.to_string())?;
        let mut project = Project {
            title: format!("{}-{}", source.id, job.id),
            author: String::new(),
            sources: vec![Source { id: "source".into(), path }],
            tracks: vec![Track {
                clips: vec![Clip { source: "source".into(), in_s: 0.0, out_s: None, position: None }],
            }],
            scenes: Vec::new(),
            characters: BTreeMap::new(),
            subtitles: BTreeMap::new(),
            occlusion_mask: false,
        };
        let mut name = format!("{} [{}]", source.original_name, job.kind.replace('_', " "));
        if let Some(id) = &params.character_id {
            let (character, file) = self.cast(job, id, work)?;
            project.scenes.push(Scene {
                start: 0.0,
                end: source.duration_s,
                character: id.clone(),
                voice_over: self.effect == Effect::LipSync,
                dub: None,
            });
            project.characters.insert(id.clone(), file);
            name = format!("{} [{} as {character}]", source.original_name, job.kind.replace('_', " "));
        }
        let preset = PresetLibrary::builtin().and_then(|l| l.get("master").cloned()).map_err(|e| e.to_string())?;
        let out = work.join("out");
        let mut request = RenderRequest::new(project, PathBuf::from("params"), vec![preset], out);
        request.background = params.background.clone();
        ctx.progress(0.0, self.effect.stage());
        let report = reenact_engine::render(&request, ctx.cancel_token(), &mut |p| {
            ctx.progress(p.fraction * 95.0, self.effect.stage());
        })
        .map_err(|e| {
            e.to_string().replace(&request.project.sources[0].path.display().to_string(), &source.original_name)
        })?;
        let output = report.outputs.into_iter().next().ok_or("no output")?;
        ctx.progress(97.0, "storing");
        let mut stored = self.runtime.block_on(super::handlers::store_clip(
            &self.db,
            &self.storage,
            job,
            ctx,
            source,
            &name,
            &output.file,
        ))?;
        stored["models"] = serde_json::to_value(&output.metadata.models).unwrap_or_default();
        stored["scenes"] = serde_json::to_value(&output.metadata.scenes).unwrap_or_default();
        Ok(stored)
    }

    /// The character `id` of the job owner's library (made in any of their projects),
    /// written as a character file into `work`; returns its name and the file.
    fn cast(&self, job: &JobRow, id: &str, work: &Path) -> Result<(String, PathBuf), String> {
        let found =
            self.runtime.block_on(crate::casting::character(&self.db, &job.owner_id, id)).map_err(|e| e.to_string())?;
        let Some((_, character)) = found else {
            return Err(format!("params.character_id: `{id}` is not a character of your library"));
        };
        let file = work.join(format!("{id}{}", gstreenact::character::FILE_SUFFIX));
        character.save(&file).map_err(|e| e.to_string())?;
        Ok((character.name, file))
    }
}
