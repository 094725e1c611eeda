// SPDX-License-Identifier: MPL-2.0
//! Media of a project: uploads (streamed to disk, validated by discovery
//! before they are accepted), listing, and downloads with HTTP ranges.

use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::projects::check_id;
use super::AppState;
use crate::db::{self, clips, clips::ClipRow, projects};
use crate::storage::{Area, Storage, TempFile};

pub(super) fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/projects/{project_id}/clips",
            get(clips_index).post(clips_upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/clips/{clip_id}/media", get(clips_media))
}

/// A clip as the API shows it.
#[derive(Debug, Serialize)]
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

async fn clips_index(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(project_id): Path<String>,
) -> Result<AppJson<Vec<Clip>>, ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let rows = clips::list(&state.db, &user.id, &project_id).await?;
    Ok(AppJson(rows.into_iter().map(Clip::from).collect()))
}

async fn clips_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(project_id): Path<String>,
    mut form: Multipart,
) -> Result<(StatusCode, AppJson<Clip>), ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let mut field = loop {
        match form.next_field().await.map_err(multipart_error)? {
            Some(field) if field.name() == Some("file") => break field,
            Some(_) => continue,
            None => return Err(ApiError::BadRequest("file: the form has no `file` field".into())),
        }
    };
    let original_name = clean_name(field.file_name().unwrap_or("upload"));

    let temp = TempFile::new(state.storage.temp_path());
    let mut out = tokio::fs::File::create(temp.path()).await.map_err(internal)?;
    let mut bytes = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        bytes += chunk.len();
        if bytes > state.upload_limit {
            return Err(too_large(state.upload_limit));
        }
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    drop(out);
    if bytes == 0 {
        return Err(ApiError::BadRequest("file: the upload is empty (0 bytes)".into()));
    }
    if state.storage.user_bytes(&user.id).await? + bytes as u64 > state.quota_bytes {
        return Err(ApiError::TooManyRequests(format!(
            "storage quota of {} MB would be exceeded",
            state.quota_bytes / 1_000_000
        )));
    }

    let path = temp.path().to_path_buf();
    let info = tokio::task::spawn_blocking(move || reenact_engine::media::probe_complete(&path))
        .await
        .map_err(internal)?
        .map_err(|e| ApiError::UnsupportedMedia(format!("file: {}", media_cause(e))))?;
    let video = info.video.as_ref().expect("probe_complete guarantees video");

    let id = uuid::Uuid::new_v4().to_string();
    let key = Storage::key(&user.id, &project_id, Area::Source, &format!("{id}.{}", extension(&original_name)));
    let row = ClipRow {
        id,
        project_id,
        owner_id: user.id,
        original_name,
        storage_key: key.clone(),
        bytes: bytes as i64,
        container: info.container.clone().unwrap_or_else(|| "unknown".into()),
        duration_s: info.duration_s,
        width: video.width as i64,
        height: video.height as i64,
        fps: video.fps(),
        video_codec: video.codec.clone(),
        audio_codec: info.audio.as_ref().map(|a| a.codec.clone()),
        created_at: db::now(),
    };
    state.storage.commit(temp.path(), &key).await?;
    temp.keep();
    if let Err(err) = clips::insert(&state.db, &row).await {
        let _ = state.storage.remove(&key).await;
        return Err(err.into());
    }
    Ok((StatusCode::CREATED, AppJson(Clip::from(row))))
}

async fn clips_media(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(clip_id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let clip_id = check_id(&clip_id)?;
    let clip = clips::get(&state.db, &user.id, &clip_id).await?.ok_or(ApiError::NotFound)?;
    let file = ServeFile::new(state.storage.fetch(&clip.storage_key).await?);
    Ok(file.oneshot(request).await.map_err(internal)?.into_response())
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("file: larger than the upload limit".into())
    } else {
        ApiError::BadRequest(format!("file: {}", err.body_text()))
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("file: larger than the upload limit of {} MB", limit / 1_000_000))
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(err.to_string())
}

/// The engine's reason without the server's temporary path.
fn media_cause(err: reenact_engine::EngineError) -> String {
    match err {
        reenact_engine::EngineError::BadMedia { cause, .. } | reenact_engine::EngineError::Unreadable { cause, .. } => {
            cause
        }
        other => other.to_string(),
    }
}

/// A display name: the last path component, printable, at most 200 characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() || cleaned == "." || cleaned == ".." {
        "upload".into()
    } else {
        cleaned
    }
}

/// The stored file's extension: the original one when it is short and
/// alphanumeric, else `bin` (discovery reads content, not names).
fn extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((_, ext)) if (1..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric()) => {
            ext.to_ascii_lowercase()
        }
        _ => "bin".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_paths() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\x\\take.mp4"), "take.mp4");
        assert_eq!(clean_name(".."), "upload");
        assert_eq!(extension("take.MP4"), "mp4");
        assert_eq!(extension("x.mp4/../../a"), "bin");
        assert_eq!(extension("noext"), "bin");
    }
}
