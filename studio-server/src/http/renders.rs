// SPDX-License-Identifier: MPL-2.0
//! Renders of a project: request several presets at once, follow the job,
//! download each output.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use reenact_engine::preset::{Background, CaptionMode, CropPolicy};
use reenact_engine::PlannedRender;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::AppPath;
use super::files;
use super::jobs::{submit, Job};
use super::projects::check_id;
use super::AppState;
use crate::casting;
use crate::credentials;
use crate::db::{self, projects, renders, renders::RenderRow, scenes};
use crate::jobs::effects::check_background;
use crate::jobs::{queue, JobState, NewJob};
use crate::library::{self, CastEntry, ModelChange};
use crate::quota;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(renders_create))
        .routes(routes!(renders_show, renders_delete))
        .routes(routes!(renders_file))
        .routes(routes!(renders_manifest))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateRender {
    /// Preset names (`GET /api/presets`), each once.
    presets: Vec<String>,
    #[serde(default)]
    watermark_text: Option<String>,
    /// Captions made from the timeline's speech: `burn-in` or `sidecar` (SRT and WebVTT
    /// beside each output); none when absent or `off`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "sidecar")]
    captions: Option<CaptionMode>,
    /// The background behind the performer in every output: `{"mode": "blur", "strength": 24}`
    /// or `{"mode": "color", "color": "#RRGGBB"}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    background: Option<Background>,
    /// How outputs of another aspect are cut: `center`, `face` (follows the main face) or
    /// `fit`; each preset's own policy when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "face")]
    crop: Option<CropPolicy>,
    /// A language of the project's subtitle tracks (`es`) to burn into the picture; every
    /// track is in each output as a soft track and as sidecars either way. Not with `captions`.
    #[serde(default)]
    burn_in_subtitles: Option<String>,
    /// Commercial work, also when the project is not marked so (a commercial project's
    /// renders always are): refused (403) when a character's or voice's rights are
    /// non-commercial or a model is not cleared for commercial use, named with its licence.
    #[serde(default)]
    commercial: bool,
    /// -100..100 (clamped): orders this user's own jobs, not theirs against other users'.
    #[serde(default)]
    priority: i64,
}

#[derive(Debug, Serialize, ToSchema)]
struct Render {
    id: String,
    project_id: String,
    presets: serde_json::Value,
    /// Once the job has succeeded: per preset, the file, its metadata (models,
    /// watermark, disclosure), thumbnails and size.
    outputs: Option<serde_json::Value>,
    job: Option<Job>,
    /// The characters the render played, with their voices and the models (name, version,
    /// SHA-256) each was analysed with, as they were when it was requested.
    cast: Vec<CastEntry>,
    /// Whether an installed model is no longer one the cast was analysed with (another
    /// version or other bytes, or gone): a re-render now would not reproduce this one.
    models_changed: bool,
    /// Which: the entry, the model it was analysed with and the one installed now.
    changed_models: Vec<ModelChange>,
    created_at: i64,
}

async fn render_view(state: &AppState, row: RenderRow) -> Result<Render, ApiError> {
    let job = queue::get(&state.db, &row.owner_id, &row.job_id).await?.map(Job::from);
    let cast: Vec<CastEntry> =
        row.cast_record.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
    let recorded = cast.iter().any(|c| !c.models.is_empty() || c.voice.as_ref().is_some_and(|v| !v.models.is_empty()));
    // The catalog is read only for a cast with recorded models; a catalog that cannot be
    // read says nothing about changes rather than failing the view.
    let changed_models = match recorded {
        true => tokio::task::spawn_blocking(reenact_models::Catalog::load)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map(|catalog| library::model_changes(&cast, &catalog))
            .unwrap_or_else(|err| {
                tracing::warn!(%err, "model catalog unreadable: render model changes not told");
                Vec::new()
            }),
        false => Vec::new(),
    };
    Ok(Render {
        id: row.id,
        project_id: row.project_id,
        presets: serde_json::from_str(&row.presets).unwrap_or_default(),
        outputs: row.outputs.and_then(|o| serde_json::from_str(&o).ok()),
        job,
        models_changed: !changed_models.is_empty(),
        changed_models,
        cast,
        created_at: row.created_at,
    })
}

/// 400 naming the scene when a dubbed scene's language has no subtitle track to speak.
async fn check_dubs(state: &AppState, user: &CurrentUser, project: &projects::ProjectRow) -> Result<(), ApiError> {
    let timeline: reenact_engine::project::Timeline =
        serde_json::from_str(&project.timeline).map_err(|e| ApiError::Internal(e.to_string()))?;
    let listed = scenes::list(&state.db, &user.id, &project.id).await?;
    let timed = timeline.scenes.iter().enumerate().map(|(i, s)| (format!("timeline.scenes[{i}]"), s.dub.clone()));
    let listed = listed.into_iter().map(|s| (format!("scene {}", s.id), s.dub));
    for (scene, dub) in timed.chain(listed) {
        let Some(dub) = dub else { continue };
        let field = format!("{scene}.dub");
        let lang = reenact_engine::languages::canonical_tag(&dub)
            .map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))?;
        if crate::db::subtitles::get(&state.db, &user.id, &project.id, &lang).await?.is_none() {
            return Err(ApiError::BadRequest(format!(
                "{field}: the project has no `{lang}` subtitle track for the scene to speak"
            )));
        }
    }
    Ok(())
}

/// Renders the project in every preset named, in one pass, as one job. Before anything is
/// queued, 403 naming the character or voice and the reason when its rights expired or are
/// non-commercial in commercial work, or the model and its licence when commercial work
/// would run a model not cleared for it; the job checks again when it runs.
#[utoipa::path(post, path = "/projects/{project_id}/renders", tag = "renders", params(("project_id" = String, Path)),
    request_body = CreateRender, responses((status = 201, body = Render)))]
async fn renders_create(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    AppJson(body): AppJson<CreateRender>,
) -> Result<(StatusCode, AppJson<Render>), ApiError> {
    let project_id = check_id(&project_id)?;
    let project = projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    if body.presets.is_empty() {
        return Err(ApiError::BadRequest("presets: name at least one preset".into()));
    }
    for (i, name) in body.presets.iter().enumerate() {
        state.presets.get(name).map_err(|e| ApiError::BadRequest(format!("presets[{i}]: {e}")))?;
        if body.presets[..i].contains(name) {
            return Err(ApiError::BadRequest(format!("presets[{i}]: `{name}` is given twice")));
        }
    }
    if body.watermark_text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::BadRequest("watermark_text: at most 200 characters".into()));
    }
    if let Some(background) = &body.background {
        check_background(background, "background").map_err(ApiError::BadRequest)?;
    }
    let burn_in = match &body.burn_in_subtitles {
        None => None,
        Some(_) if body.captions.is_some_and(|c| c != CaptionMode::Off) => {
            return Err(ApiError::BadRequest("burn_in_subtitles: not with `captions`; choose one".into()));
        }
        Some(lang) => {
            let lang = reenact_engine::languages::canonical_tag(lang)
                .map_err(|e| ApiError::BadRequest(format!("burn_in_subtitles: {e}")))?;
            if crate::db::subtitles::get(&state.db, &user.id, &project_id, &lang).await?.is_none() {
                return Err(ApiError::BadRequest(format!("burn_in_subtitles: the project has no `{lang}` track")));
            }
            Some(lang)
        }
    };
    check_dubs(&state, &user, &project).await?;
    let commercial = body.commercial || project.commercial != 0;
    let cast_ids = check_rights(&state, &user, &project, &body, commercial).await?;
    let cast = library::cast_record(&state.db, &user.id, &cast_ids).await?;
    let render_id = uuid::Uuid::new_v4().to_string();
    let job = NewJob {
        owner_id: user.id.clone(),
        project_id: Some(project_id.clone()),
        kind: "render".into(),
        params: serde_json::json!({
            "render_id": render_id, "presets": body.presets, "watermark_text": body.watermark_text,
            "captions": body.captions.filter(|c| *c != CaptionMode::Off),
            "background": body.background, "crop": body.crop, "burn_in_subtitles": burn_in,
            "commercial": commercial,
        }),
        priority: body.priority.clamp(-100, 100),
        max_attempts: 3,
        idempotency_key: None,
    };
    let (job, _) = submit(&state, &job).await?;
    let row = RenderRow {
        id: render_id,
        owner_id: user.id,
        project_id,
        job_id: job.id().to_string(),
        presets: serde_json::to_string(&body.presets).expect("strings serialise"),
        outputs: None,
        created_at: db::now(),
        cast_record: Some(serde_json::to_string(&cast).map_err(|e| ApiError::Internal(e.to_string()))?),
    };
    renders::insert(&state.db, &row).await?;
    audit::record(&state.db, &row.owner_id, Action::RenderRequest, Some(&row.id)).await;
    Ok((StatusCode::CREATED, AppJson(render_view(&state, row).await?)))
}

/// Refuses a render whose faces or voices may not be used today (expired, or non-commercial
/// in `commercial` work) or whose characters' own models, or the models its options will
/// run, are not cleared for `commercial` work: 403 with the reason, before it is queued.
/// Returns the ids of the characters the render plays (its scenes').
async fn check_rights(
    state: &AppState,
    user: &CurrentUser,
    project: &projects::ProjectRow,
    body: &CreateRender,
    commercial: bool,
) -> Result<Vec<String>, ApiError> {
    let mut ids = library::timeline_characters(&project.timeline);
    ids.extend(scenes::list(&state.db, &user.id, &project.id).await?.into_iter().map(|s| s.character_id));
    ids.sort();
    ids.dedup();
    let catalog = if commercial {
        Some(reenact_models::Catalog::load().map_err(|e| ApiError::Unavailable(format!("model catalog: {e}")))?)
    } else {
        None
    };
    let today = credentials::today();
    for id in &ids {
        // A character deleted since fails the job with its own message.
        let Some((row, character)) =
            casting::character(&state.db, &user.id, id).await.map_err(|e| ApiError::Internal(e.to_string()))?
        else {
            continue;
        };
        credentials::check_character(&row.name, &character, &today, catalog.as_ref()).map_err(ApiError::Forbidden)?;
    }
    let Some(catalog) = catalog else { return Ok(ids) };
    let face_crop = match body.crop {
        Some(crop) => crop == CropPolicy::Face,
        None => body.presets.iter().filter_map(|n| state.presets.get(n).ok()).any(|p| p.crop == CropPolicy::Face),
    };
    let plan = PlannedRender {
        cast: !ids.is_empty(),
        face_crop,
        background: body.background.is_some(),
        captions: body.captions.is_some_and(|c| c != CaptionMode::Off),
    };
    let names = reenact_engine::planned_models(plan).map_err(|e| ApiError::Internal(e.to_string()))?;
    credentials::check_models(names, &catalog, true).map_err(ApiError::Forbidden)?;
    Ok(ids)
}

/// A render with its job's progress and, when done, its outputs.
#[utoipa::path(get, path = "/renders/{render_id}", tag = "renders", params(("render_id" = String, Path)),
    responses((status = 200, body = Render)))]
async fn renders_show(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(render_id): AppPath<String>,
) -> Result<AppJson<Render>, ApiError> {
    let id = check_id(&render_id)?;
    let row = renders::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    Ok(AppJson(render_view(&state, row).await?))
}

/// Deletes a finished (or failed) render with every file it stored, giving their bytes back
/// to the quota; 409 while its job is queued or running (cancel it first).
#[utoipa::path(delete, path = "/renders/{render_id}", tag = "renders", params(("render_id" = String, Path)),
    responses((status = 204)))]
async fn renders_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(render_id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = check_id(&render_id)?;
    let row = renders::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    let job = queue::get(&state.db, &user.id, &row.job_id).await?;
    if job.is_some_and(|j| matches!(JobState::parse(&j.state), Some(JobState::Queued | JobState::Running))) {
        return Err(ApiError::Conflict("the render's job is queued or running: cancel it first".into()));
    }
    if !renders::delete(&state.db, &user.id, &id).await? {
        return Err(ApiError::NotFound);
    }
    let outputs: Vec<serde_json::Value> =
        row.outputs.as_deref().and_then(|o| serde_json::from_str(o).ok()).unwrap_or_default();
    for output in &outputs {
        for key in stored_keys(output) {
            quota::remove(&state.db, &state.storage, &user.id, key).await?;
        }
    }
    audit::record(&state.db, &user.id, Action::RenderDelete, Some(&id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Every key one output of a render names: file, metadata, thumbnails and sidecars.
fn stored_keys(output: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = [&output["file"], &output["metadata"]].into_iter().filter_map(|k| k.as_str()).collect();
    keys.extend(output["thumbnails"].as_array().into_iter().flatten().filter_map(|k| k.as_str()));
    keys.extend(output["sidecars"].as_object().into_iter().flat_map(|m| m.values()).filter_map(|k| k.as_str()));
    keys
}

/// The rendered file of one preset, its caption sidecar as `PRESET.srt` or `PRESET.vtt`, a
/// subtitle track's as `PRESET.LANG.srt` / `.vtt`, or (WebM) its Content Credentials sidecar
/// as `PRESET.c2pa`; HTTP range requests are honoured.
#[utoipa::path(get, path = "/renders/{render_id}/files/{preset}", tag = "renders",
    params(("render_id" = String, Path), ("preset" = String, Path)), responses(
        (status = 200, description = "the whole file", body = super::openapi::FileBytes, content_type = "video/mp4"),
        (status = 206, description = "the requested range", body = super::openapi::FileBytes, content_type = "video/mp4"),
    ))]
async fn renders_file(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((render_id, preset)): AppPath<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = check_id(&render_id)?;
    let row = renders::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    let outputs: Vec<serde_json::Value> =
        row.outputs.as_deref().and_then(|o| serde_json::from_str(o).ok()).unwrap_or_default();
    // The key comes from our own record, never from the request.
    // `PRESET.srt` is the captions' sidecar, `PRESET.es.srt` the Spanish subtitle track's.
    let (name, sidecar) = match preset.rsplit_once('.') {
        Some((name, ext @ ("srt" | "vtt"))) => match name.split_once('.') {
            Some((name, lang)) => (name, Some(format!("{lang}.{ext}"))),
            None => (name, Some(ext.to_owned())),
        },
        Some((name, "c2pa")) => (name, Some("c2pa".to_owned())),
        _ => (preset.as_str(), None),
    };
    let output = outputs.iter().find(|o| o["preset"] == name).ok_or(ApiError::NotFound)?;
    let key = match &sidecar {
        None => output["file"].as_str(),
        Some(ext) => output["sidecars"][ext.as_str()].as_str(),
    }
    .ok_or(ApiError::NotFound)?;
    let file = state.storage.fetch(key).await?;
    files::serve(file, request, Some(files::content_type(key))).await
}

/// The Content Credentials of one preset's file, read back from the stored file and checked
/// against it: the C2PA manifest store as JSON, as an attachment. 404 when the file has none.
#[utoipa::path(get, path = "/renders/{render_id}/manifests/{preset}", tag = "renders",
    params(("render_id" = String, Path), ("preset" = String, Path)), responses(
        (status = 200, description = "the manifest store as the C2PA reader reports it", content_type = "application/json"),
    ))]
async fn renders_manifest(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((render_id, preset)): AppPath<(String, String)>,
) -> Result<Response, ApiError> {
    let id = check_id(&render_id)?;
    let row = renders::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    let outputs: Vec<serde_json::Value> =
        row.outputs.as_deref().and_then(|o| serde_json::from_str(o).ok()).unwrap_or_default();
    let output = outputs.iter().find(|o| o["preset"] == preset.as_str()).ok_or(ApiError::NotFound)?;
    let file = state.storage.fetch(output["file"].as_str().ok_or(ApiError::NotFound)?).await?;
    let sidecar = match output["sidecars"]["c2pa"].as_str() {
        Some(key) => Some(state.storage.fetch(key).await?),
        None => None,
    };
    let checked = tokio::task::spawn_blocking(move || match &sidecar {
        Some(sidecar) => credentials::verify_with_sidecar(&file, sidecar),
        None => credentials::verify_file(&file, None),
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let report = match checked {
        Ok(report) => report,
        Err(credentials::VerifyError::Missing { .. }) => return Err(ApiError::NotFound),
        Err(e) => return Err(ApiError::Internal(e.to_string())),
    };
    let name = format!(
        "attachment; filename=\"{id}-{}.c2pa.json\"",
        preset.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
    );
    Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .header(axum::http::header::CONTENT_DISPOSITION, name)
        .body(axum::body::Body::from(report.manifest_json))
        .map_err(|e| ApiError::Internal(e.to_string()))
}
