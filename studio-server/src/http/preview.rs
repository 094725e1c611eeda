// SPDX-License-Identifier: MPL-2.0
//! The preview player of a project: its timeline played from a point through
//! the render's own graph at preview size, watched over WHEP like a live show
//! (the same shared tracks and viewers, `live/preview.rs`). Everything here is
//! the project owner's: another user's project or preview answers 404, and
//! the WHEP offer takes the owner's token too (the studio page sends it
//! through its `/ui/api` proxy).

use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, ETAG, LOCATION};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use reenact_engine::{EngineError, PreviewRequest, RenderRequest};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::{AppBytes, AppPath};
use super::live::{fragment_body, if_match, patched_response, sdp_body, viewer_address};
use super::projects::check_id;
use super::AppState;
use crate::live::preview::PreviewState;
use crate::live::{LiveError, LiveSession};

/// The box the preview's picture fits in.
const PREVIEW_BOX: (u32, u32) = (640, 360);
/// The preset previewed when the request names none: the archive master (source size).
const DEFAULT_PRESET: &str = "master";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview_start))
        .routes(routes!(preview_show, preview_update, preview_stop))
        .routes(routes!(preview_whep))
        .routes(routes!(preview_whep_stop, preview_whep_patch))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StartPreview {
    /// Timeline seconds to start from.
    at: f64,
    /// The preset whose picture is previewed (crop, captions, watermark), at preview size.
    #[serde(default)]
    preset: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdatePreview {
    playing: Option<bool>,
    /// Timeline seconds to seek to.
    at: Option<f64>,
}

/// `at` as the API takes it: finite seconds, 0 or more (the end is the engine's to check).
fn check_at(at: f64) -> Result<f64, ApiError> {
    if at.is_finite() && at >= 0.0 {
        return Ok(at);
    }
    Err(ApiError::BadRequest("at: must be a number of seconds, 0 or more".into()))
}

/// Engine errors of a preview: a point past the timeline is 422 naming `at`.
fn preview_error(err: LiveError) -> ApiError {
    match err {
        LiveError::Engine(EngineError::Invalid { field, cause, .. }) if field == "at" => {
            ApiError::Unprocessable(format!("at: {cause}"))
        }
        LiveError::Engine(EngineError::Invalid { field, cause, .. }) => {
            ApiError::BadRequest(format!("timeline.{field}: {cause}"))
        }
        other => other.into(),
    }
}

/// The caller's preview `preview_id` of their project `project_id`.
fn owned(
    state: &AppState,
    user: &CurrentUser,
    project_id: &str,
    preview_id: &str,
) -> Result<std::sync::Arc<LiveSession>, ApiError> {
    let project_id = check_id(project_id)?;
    Ok(state.live.preview(&user.id, &project_id, preview_id)?)
}

fn state_of(session: &LiveSession) -> Result<AppJson<PreviewState>, ApiError> {
    session.preview_state().map(AppJson).ok_or(ApiError::NotFound)
}

/// Starts a preview of the project at `at` seconds, playing. A user has one preview at a
/// time: this one replaces any other. It stops by itself once no viewer has been connected
/// for 10 s. The answer's `whep_url` takes the WHEP offer.
#[utoipa::path(post, path = "/projects/{project_id}/preview", tag = "projects", params(("project_id" = String, Path)),
    request_body = StartPreview, responses((status = 201, body = PreviewState)))]
async fn preview_start(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    AppJson(body): AppJson<StartPreview>,
) -> Result<(StatusCode, AppJson<PreviewState>), ApiError> {
    let project_id = check_id(&project_id)?;
    crate::db::projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let at = check_at(body.at)?;
    let preset_name = body.preset.as_deref().unwrap_or(DEFAULT_PRESET);
    let preset = state.presets.get(preset_name).map_err(|e| ApiError::BadRequest(format!("preset: {e}")))?.clone();
    let cast_dir = state.storage.temp_path().with_extension("cast");
    let project =
        crate::jobs::handlers::engine_project(&state.db, &state.storage, &user.id, &project_id, &cast_dir).await;
    let project =
        project.map(|(project, _)| project).map_err(|cause| ApiError::BadRequest(format!("project: {cause}")));
    let started = match project {
        Ok(project) => {
            let out_dir = state.storage.temp_path().with_extension("preview");
            let render = RenderRequest::new(project, "timeline".into(), vec![preset], out_dir);
            let request = PreviewRequest { render, at_s: at, max_width: PREVIEW_BOX.0, max_height: PREVIEW_BOX.1 };
            state.live.start_preview(&user.id, &project_id, request).await.map_err(preview_error)
        }
        Err(err) => Err(err),
    };
    // The characters are loaded once the graph runs.
    let _ = tokio::fs::remove_dir_all(&cast_dir).await;
    let session = started?;
    Ok((StatusCode::CREATED, state_of(&session)?))
}

/// Where the preview is (`position`, timeline seconds), whether it plays, its size.
#[utoipa::path(get, path = "/projects/{project_id}/preview/{preview_id}", tag = "projects",
    params(("project_id" = String, Path), ("preview_id" = String, Path)), responses((status = 200, body = PreviewState)))]
async fn preview_show(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, preview_id)): AppPath<(String, String)>,
) -> Result<AppJson<PreviewState>, ApiError> {
    let session = owned(&state, &user, &project_id, &preview_id)?;
    state_of(&session)
}

/// Plays or pauses (`playing`) and/or seeks (`at`, timeline seconds; 422 past the end).
#[utoipa::path(patch, path = "/projects/{project_id}/preview/{preview_id}", tag = "projects",
    params(("project_id" = String, Path), ("preview_id" = String, Path)), request_body = UpdatePreview,
    responses((status = 200, body = PreviewState)))]
async fn preview_update(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, preview_id)): AppPath<(String, String)>,
    AppJson(body): AppJson<UpdatePreview>,
) -> Result<AppJson<PreviewState>, ApiError> {
    let session = owned(&state, &user, &project_id, &preview_id)?;
    if body.playing.is_none() && body.at.is_none() {
        return Err(ApiError::BadRequest("give `playing`, `at` or both".into()));
    }
    let at = body.at.map(check_at).transpose()?;
    let runner = session.preview().ok_or(ApiError::NotFound)?;
    let playing = body.playing;
    // Seeking waits for the graph's streaming threads to flush: off the async threads.
    tokio::task::spawn_blocking(move || -> Result<(), EngineError> {
        if let Some(at) = at {
            runner.seek(at)?;
        }
        if let Some(playing) = playing {
            runner.set_playing(playing)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("preview update panicked: {e}")))?
    .map_err(|e| preview_error(e.into()))?;
    state_of(&session)
}

/// Stops the preview and closes its viewers.
#[utoipa::path(delete, path = "/projects/{project_id}/preview/{preview_id}", tag = "projects",
    params(("project_id" = String, Path), ("preview_id" = String, Path)), responses((status = 204)))]
async fn preview_stop(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, preview_id)): AppPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project_id = check_id(&project_id)?;
    state.live.stop_preview(&user.id, &project_id, &preview_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// WHEP for the preview, as for a live show: an SDP offer in, `201 Created` with the answer
/// and the viewer's resource in `Location` out.
#[utoipa::path(post, path = "/projects/{project_id}/preview/{preview_id}/whep", tag = "projects",
    params(("project_id" = String, Path), ("preview_id" = String, Path)),
    request_body(content = String, content_type = "application/sdp"),
    responses((status = 201, description = "the SDP answer", body = String, content_type = "application/sdp")))]
async fn preview_whep(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, preview_id)): AppPath<(String, String)>,
    headers: HeaderMap,
    extensions: Extensions,
    AppBytes(body): AppBytes,
) -> Result<Response, ApiError> {
    let session = owned(&state, &user, &project_id, &preview_id)?;
    let offer = sdp_body(&headers, &body, "WHEP")?;
    let (viewer, answer) = session.add_viewer(offer, viewer_address(&extensions), true).await?;
    let etag = session.viewer_etag(viewer.split('.').next().unwrap_or_default()).unwrap_or_default();
    let location = format!("/api/projects/{project_id}/preview/{preview_id}/whep/{viewer}");
    let headers = [(CONTENT_TYPE, "application/sdp".to_owned()), (LOCATION, location), (ETAG, etag)];
    Ok((StatusCode::CREATED, headers, answer).into_response())
}

/// Ends one viewer of the preview.
#[utoipa::path(delete, path = "/projects/{project_id}/preview/{preview_id}/whep/{viewer}", tag = "projects",
    params(("project_id" = String, Path), ("preview_id" = String, Path), ("viewer" = String, Path)),
    responses((status = 204)))]
async fn preview_whep_stop(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, preview_id, resource)): AppPath<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let session = owned(&state, &user, &project_id, &preview_id)?;
    let viewer = session.viewer_for(&resource, true)?;
    session.remove_viewer(&viewer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Trickle ICE and ICE restart for one viewer of the preview, as for a live show's.
#[utoipa::path(patch, path = "/projects/{project_id}/preview/{preview_id}/whep/{viewer}", tag = "projects",
    params(("project_id" = String, Path), ("preview_id" = String, Path), ("viewer" = String, Path)),
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag"),
    responses((status = 204, description = "candidates added"),
        (status = 200, description = "ICE restarted: the answer's fragment", body = String,
            content_type = "application/trickle-ice-sdpfrag")))]
async fn preview_whep_patch(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, preview_id, resource)): AppPath<(String, String, String)>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> Result<Response, ApiError> {
    let session = owned(&state, &user, &project_id, &preview_id)?;
    let viewer = session.viewer_for(&resource, true)?;
    let fragment = fragment_body(&headers, &body)?;
    let patched = session.patch_viewer(&viewer, &fragment, if_match(&headers)).await?;
    Ok(patched_response(patched))
}
