// SPDX-License-Identifier: MPL-2.0
//! Media of a project: uploads (streamed to disk, validated by discovery
//! before they are accepted), listing, and downloads with HTTP ranges.

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::{AppMultipart, AppPath};
use super::files;
use super::projects::check_id;
use super::uploads::{self, internal, Upload};
use super::AppState;
use crate::db::{clips, clips::ClipRow, projects};
use crate::intake::{self, clean_name, Incoming, IntakeError};
use crate::jobs::overview;
use crate::quota::{self, QuotaError};
use crate::storage::TempFile;

pub(super) fn router(upload_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(clips_index, clips_upload).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(clips_media))
        .routes(routes!(clips_thumbnail))
        .routes(routes!(clips_waveform))
        .routes(routes!(clips_delete))
}

/// A clip as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
struct Clip {
    id: String,
    project_id: String,
    name: String,
    bytes: i64,
    container: String,
    duration_s: f64,
    width: i64,
    height: i64,
    fps: f64,
    video_codec: String,
    audio_codec: Option<String>,
    created_at: i64,
}

impl From<ClipRow> for Clip {
    fn from(c: ClipRow) -> Self {
        Clip {
            id: c.id,
            project_id: c.project_id,
            name: c.original_name,
            bytes: c.bytes,
            container: c.container,
            duration_s: c.duration_s,
            width: c.width,
            height: c.height,
            fps: c.fps,
            video_codec: c.video_codec,
            audio_codec: c.audio_codec,
            created_at: c.created_at,
        }
    }
}

/// The project's media.
#[utoipa::path(get, path = "/projects/{project_id}/clips", tag = "media", params(("project_id" = String, Path)),
    responses((status = 200, body = Vec<Clip>)))]
async fn clips_index(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<AppJson<Vec<Clip>>, ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let rows = clips::list(&state.db, &user.id, &project_id).await?;
    Ok(AppJson(rows.into_iter().map(Clip::from).collect()))
}

/// The upload form of `POST /api/projects/{id}/clips`; it only describes the form.
#[derive(ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// The media file; its content, not its name, decides whether it is accepted.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a media file; it is accepted once discovery finds a complete video stream.
/// 413 over the upload limit or the storage quota, 415 for what is not media.
#[utoipa::path(post, path = "/projects/{project_id}/clips", tag = "media", params(("project_id" = String, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data"), responses((status = 201, body = Clip)))]
async fn clips_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    AppMultipart(form): AppMultipart,
) -> Result<(StatusCode, AppJson<Clip>), ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let upload = uploads::receive(&state, &user, form, "file", &[]).await?;
    let name = clean_name(upload.file_name.as_deref().unwrap_or("upload"));
    let Upload { file, bytes, .. } = upload;
    let incoming = Incoming { owner_id: user.id, project_id, name, file, bytes };
    let row = intake::accept(&state.db, &state.storage, state.quota_bytes, incoming).await.map_err(upload_error)?;
    audit::record(&state.db, &row.owner_id, Action::ClipUpload, Some(&row.id)).await;
    Ok((StatusCode::CREATED, AppJson(Clip::from(row))))
}

/// The clip's media file, typed by the container discovery found (never by the uploaded
/// name or type); HTTP range requests are honoured.
#[utoipa::path(get, path = "/clips/{clip_id}/media", tag = "media", params(("clip_id" = String, Path)), responses(
    (status = 200, description = "the whole file", body = super::openapi::FileBytes, content_type = "application/octet-stream"),
    (status = 206, description = "the requested range", body = super::openapi::FileBytes, content_type = "application/octet-stream"),
))]
async fn clips_media(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(clip_id): AppPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let clip = owned(&state, &user, &clip_id).await?;
    let file = state.storage.fetch(&clip.storage_key).await?;
    files::serve(file, request, Some(files::media_type(&clip.container))).await
}

/// A JPEG of the clip (at one second, or the middle of a shorter clip; at most 640 pixels
/// wide), stored beside the project's other thumbnails by the clip's overview job; made on
/// this request when the job has not run yet.
#[utoipa::path(get, path = "/clips/{clip_id}/thumbnail", tag = "media", params(("clip_id" = String, Path)), responses(
    (status = 200, description = "the picture", body = super::openapi::FileBytes, content_type = "image/jpeg"),
))]
async fn clips_thumbnail(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(clip_id): AppPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let clip = owned(&state, &user, &clip_id).await?;
    let key = overview::thumbnail_key(&clip);
    let file = match state.storage.fetch(&key).await {
        Ok(file) => file,
        Err(e) if e.is_not_found() => {
            let media = state.storage.fetch(&clip.storage_key).await?;
            let jpeg = tokio::task::spawn_blocking(move || reenact_engine::thumbnail(&media, 1.0))
                .await
                .map_err(internal)?
                .map_err(|e| ApiError::Internal(format!("thumbnail of {}: {e}", clip.original_name)))?;
            match keep_if_room(&state, &user, &key, &jpeg).await? {
                None => state.storage.fetch(&key).await?,
                // The open file outlives its name.
                Some(unkept) => return files::serve(unkept.path().into(), request, Some("image/jpeg")).await,
            }
        }
        Err(e) => return Err(e.into()),
    };
    files::serve(file, request, Some("image/jpeg")).await
}

/// The peak envelope of the clip's sound (the `clip_overview` job stores it when the clip
/// comes in). `peaks[i]` is the largest absolute sample value, 0 to 1 over every channel, in
/// `[i, i + 1) / peaks_per_second` seconds of the clip: 100 per second, fewer for clips over
/// 200 s (at most 20 000 peaks). A clip without sound answers `has_audio: false` and no peaks.
/// While the job is queued or running the answer is 202 with the job and `Retry-After`; when
/// it never was queued or did not succeed, the waveform is computed on this request.
#[utoipa::path(get, path = "/clips/{clip_id}/waveform", tag = "media", params(("clip_id" = String, Path)), responses(
    (status = 200, description = "the waveform", body = Waveform),
    (status = 202, description = "the clip's overview job has not run yet: ask again after `Retry-After` seconds", body = super::jobs::Job),
))]
async fn clips_waveform(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(clip_id): AppPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let clip = owned(&state, &user, &clip_id).await?;
    let key = overview::waveform_key(&clip);
    match state.storage.fetch(&key).await {
        Ok(file) => return files::serve(file, request, Some("application/json")).await,
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(job) = overview::job_of(&state.db, &clip).await? {
        if matches!(job.state.as_str(), "queued" | "running") {
            let job = super::jobs::Job::from(job);
            let retry = [(RETRY_AFTER, WAVEFORM_RETRY_S.to_string())];
            return Ok((StatusCode::ACCEPTED, retry, AppJson(job)).into_response());
        }
    }
    // No job, or one that failed: made now, and kept when the quota has room.
    let media = state.storage.fetch(&clip.storage_key).await?;
    let json = tokio::task::spawn_blocking(move || overview::waveform_json(&media, None))
        .await
        .map_err(internal)?
        .map_err(|e| ApiError::Internal(format!("{e} ({})", clip.original_name)))?;
    keep_if_room(&state, &user, &key, &json).await?;
    Ok(([(CONTENT_TYPE, "application/json")], json).into_response())
}

/// Stores `bytes` made on a request (a thumbnail, a waveform) under `key`, charged to the
/// owner's quota. A full account still sees them, only not kept: then they come back in a
/// temporary file (`Some`); `None` when they are stored.
async fn keep_if_room(
    state: &AppState,
    user: &CurrentUser,
    key: &str,
    bytes: &[u8],
) -> Result<Option<TempFile>, ApiError> {
    let temp = TempFile::new(state.storage.temp_path());
    tokio::fs::write(temp.path(), bytes).await.map_err(internal)?;
    let files = [(temp.path().to_path_buf(), key.to_owned())];
    match quota::store_all(&state.db, &state.storage, &user.id, state.quota_bytes, &files).await {
        Ok(reservation) => {
            reservation.keep();
            temp.keep();
            Ok(None)
        }
        Err(QuotaError::Exceeded { .. }) => Ok(Some(temp)),
        Err(err) => Err(uploads::quota_error(err)),
    }
}

/// Seconds a client waits before asking again for a waveform whose job has not run yet.
const WAVEFORM_RETRY_S: u64 = 1;

/// A clip's waveform as `GET /api/clips/{id}/waveform` answers it (the engine's
/// [`reenact_engine::Waveform`], described here for the API document).
#[derive(ToSchema)]
#[allow(dead_code)]
struct Waveform {
    /// Length of the clip in seconds.
    duration_s: f64,
    /// Peaks per second of the clip: 100, or fewer for clips over 200 s.
    peaks_per_second: f64,
    /// False for a clip without sound: `peaks` is then empty.
    has_audio: bool,
    /// Sample rate of the decoded sound (0 without sound).
    sample_rate: u32,
    /// Channels of the decoded sound (0 without sound).
    channels: u32,
    /// Largest absolute sample value per interval, 0 (silence) to 1 (full scale).
    peaks: Vec<f32>,
}

/// Deletes the clip with its file, thumbnail and waveform, giving their bytes back to the
/// quota. A timeline that still names it fails to render, saying so.
#[utoipa::path(delete, path = "/clips/{clip_id}", tag = "media", params(("clip_id" = String, Path)), responses((status = 204)))]
async fn clips_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(clip_id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let clip = owned(&state, &user, &clip_id).await?;
    if !clips::delete(&state.db, &user.id, &clip.id).await? {
        return Err(ApiError::NotFound);
    }
    let (thumbnail, waveform) = (overview::thumbnail_key(&clip), overview::waveform_key(&clip));
    for key in [&clip.storage_key, &thumbnail, &waveform] {
        quota::remove(&state.db, &state.storage, &user.id, key).await?;
    }
    audit::record(&state.db, &user.id, Action::ClipDelete, Some(&clip.id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The user's clip `clip_id`; 404 for anyone else's.
async fn owned(state: &AppState, user: &CurrentUser, clip_id: &str) -> Result<ClipRow, ApiError> {
    let clip_id = check_id(clip_id)?;
    clips::get(&state.db, &user.id, &clip_id).await?.ok_or(ApiError::NotFound)
}

/// The intake's refusals as the upload answers them, naming the `file` field.
fn upload_error(err: IntakeError) -> ApiError {
    match err {
        IntakeError::Quota(cause) => ApiError::PayloadTooLarge(format!("file: {cause}")),
        IntakeError::NotMedia(cause) => ApiError::UnsupportedMedia(format!("file: {cause}")),
        IntakeError::Storage(err) => err.into(),
        IntakeError::Database(err) => err.into(),
        IntakeError::Discovery(cause) => ApiError::Internal(cause),
    }
}
