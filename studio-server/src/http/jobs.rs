// SPDX-License-Identifier: MPL-2.0
//! Jobs of the signed-in user: submit (idempotent by key), read, list, cancel.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::{AppPath, AppQuery};
use super::files;
use super::projects::check_id;
use super::AppState;
use crate::db::projects;
use crate::jobs::queue::Admission;
use crate::jobs::{self, handlers, queue, JobRow, JobState, NewJob};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jobs_index, jobs_create))
        .routes(routes!(jobs_show))
        .routes(routes!(jobs_cancel))
        .routes(routes!(jobs_file))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateJob {
    /// One of video_download, clip_edit, face_transform, voice_clone, lip_sync,
    /// subtitle_generate, background_replace (renders have their own route).
    #[serde(rename = "type")]
    kind: String,
    project_id: Option<String>,
    /// Parameters of the job type, checked before the job is queued.
    #[serde(default)]
    params: serde_json::Value,
    /// -100..100; higher runs first.
    #[serde(default)]
    priority: i64,
    /// The same key from the same user gives the same job back.
    idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
struct JobFilter {
    /// queued, running, succeeded, cancelled or dead.
    state: Option<String>,
}

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Job {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    project_id: Option<String>,
    params: serde_json::Value,
    priority: i64,
    /// queued, running, succeeded, cancelled or dead.
    state: String,
    /// 0 to 100.
    progress: f64,
    /// What the job is doing now, in words.
    stage: String,
    attempts: i64,
    max_attempts: i64,
    /// The worker that holds (or last held) the job.
    worker: Option<String>,
    error: Option<String>,
    result: Option<serde_json::Value>,
    idempotency_key: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl Job {
    pub(super) fn id(&self) -> &str {
        &self.id
    }
}

impl From<JobRow> for Job {
    fn from(j: JobRow) -> Self {
        Job {
            id: j.id,
            kind: j.kind,
            project_id: j.project_id,
            params: serde_json::from_str(&j.params).unwrap_or(serde_json::Value::Null),
            priority: j.priority,
            state: j.state,
            progress: j.progress,
            stage: j.stage,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            worker: j.worker,
            error: j.error,
            result: j.result.and_then(|r| serde_json::from_str(&r).ok()),
            idempotency_key: j.idempotency_key,
            created_at_ms: j.created_at,
            updated_at_ms: j.updated_at,
        }
    }
}

/// Queues a job. A known idempotency key answers 200 with the job it made before.
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = CreateJob, responses(
    (status = 201, description = "queued", body = Job),
    (status = 200, description = "the job this idempotency key already made", body = Job),
))]
async fn jobs_create(
    State(state): State<AppState>,
    user: CurrentUser,
    AppJson(body): AppJson<CreateJob>,
) -> Result<(StatusCode, AppJson<Job>), ApiError> {
    if !jobs::KINDS.contains(&body.kind.as_str()) {
        return Err(ApiError::BadRequest(format!("type: `{}` is not one of {}", body.kind, jobs::KINDS.join(", "))));
    }
    if body.kind == "render" {
        return Err(ApiError::BadRequest("type: request renders with POST /api/projects/{id}/renders".into()));
    }
    if body.kind == "video_download" {
        return Err(ApiError::BadRequest("type: import media with POST /api/projects/{id}/imports".into()));
    }
    if !handlers::AVAILABLE.contains(&body.kind.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "type: `{}` jobs are not available in this build yet (available: {})",
            body.kind,
            handlers::AVAILABLE.join(", ")
        )));
    }
    check_submission(body.priority, body.idempotency_key.as_deref())?;
    let project_id = match &body.project_id {
        Some(id) => {
            let id = check_id(id)?;
            projects::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
            Some(id)
        }
        None => None,
    };
    if body.kind == "voice_clone" && project_id.is_none() {
        return Err(ApiError::BadRequest("project_id: a voice_clone job stores its WAV in a project".into()));
    }
    check_params(&body.kind, &body.params)?;
    let job = NewJob {
        owner_id: user.id.clone(),
        project_id,
        kind: body.kind,
        params: body.params,
        priority: body.priority,
        max_attempts: 3,
        idempotency_key: body.idempotency_key,
    };
    let (job, created) = submit(&state, &job).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, AppJson(job)))
}

/// A job's priority and idempotency key, as every route that queues jobs takes them.
pub(super) fn check_submission(priority: i64, idempotency_key: Option<&str>) -> Result<(), ApiError> {
    if !(-100..=100).contains(&priority) {
        return Err(ApiError::BadRequest("priority: must be within -100..100".into()));
    }
    if idempotency_key.is_some_and(|key| key.is_empty() || key.len() > 200) {
        return Err(ApiError::BadRequest("idempotency_key: 1 to 200 characters".into()));
    }
    Ok(())
}

/// Queues a checked job: the job already under its idempotency key if there is one
/// (`false`), else a new one (`true`) while the owner has fewer than the server's
/// `max_active_jobs` queued or running (counted and inserted in one step). The job carries
/// the server's storage quota, against which the worker charges its outputs.
pub(super) async fn submit(state: &AppState, job: &NewJob) -> Result<(Job, bool), ApiError> {
    let limits = queue::Limits { max_active: state.max_active_jobs, quota_bytes: state.quota_bytes };
    match queue::enqueue_within(&state.db, job, limits).await? {
        Admission::Queued(row) => Ok((row.into(), true)),
        Admission::Existing(row) => Ok((row.into(), false)),
        Admission::Full => {
            Err(ApiError::TooManyRequests(format!("at most {} queued or running jobs per user", state.max_active_jobs)))
        }
    }
}

/// Parameters are checked before a job is queued, so mistakes come back at once.
fn check_params(kind: &str, params: &serde_json::Value) -> Result<(), ApiError> {
    if kind == "clip_edit" {
        let p: handlers::ClipEditParams =
            serde_json::from_value(params.clone()).map_err(|e| ApiError::BadRequest(format!("params: {e}")))?;
        check_id(&p.clip_id).map_err(|_| ApiError::BadRequest("params.clip_id: not a UUID".into()))?;
        if !(p.in_s.is_finite() && p.in_s >= 0.0 && p.out_s > p.in_s) {
            return Err(ApiError::BadRequest(format!("params: in {} .. out {} is not a time range", p.in_s, p.out_s)));
        }
    }
    if kind == "voice_clone" {
        let p: handlers::VoiceCloneParams =
            serde_json::from_value(params.clone()).map_err(|e| ApiError::BadRequest(format!("params: {e}")))?;
        p.check().map_err(ApiError::BadRequest)?;
    }
    if let Some(effect) = jobs::effects::Effect::of_kind(kind) {
        let p: jobs::effects::EffectParams =
            serde_json::from_value(params.clone()).map_err(|e| ApiError::BadRequest(format!("params: {e}")))?;
        check_id(&p.clip_id).map_err(|_| ApiError::BadRequest("params.clip_id: not a UUID".into()))?;
        if let Some(id) = &p.character_id {
            check_id(id).map_err(|_| ApiError::BadRequest("params.character_id: not a UUID".into()))?;
        }
        effect.check(&p).map_err(ApiError::BadRequest)?;
    }
    if kind == "subtitle_generate" {
        let p: jobs::subtitles::SubtitleParams =
            serde_json::from_value(params.clone()).map_err(|e| ApiError::BadRequest(format!("params: {e}")))?;
        check_id(&p.clip_id).map_err(|_| ApiError::BadRequest("params.clip_id: not a UUID".into()))?;
        p.check().map_err(ApiError::BadRequest)?;
    }
    Ok(())
}

/// A file a job made, by the name its result gives it under `files` (a voice clone's
/// `voice.wav`, generated subtitles' `captions.srt` and `captions.vtt`); HTTP ranges work.
#[utoipa::path(get, path = "/jobs/{job_id}/files/{name}", tag = "jobs", params(("job_id" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "the file", body = super::openapi::FileBytes, content_type = "application/octet-stream")))]
async fn jobs_file(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((job_id, name)): AppPath<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = check_id(&job_id)?;
    let job = queue::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    let result: serde_json::Value =
        job.result.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    // The key comes from the job's own record, never from the request.
    let key = result["files"][name.as_str()].as_str().ok_or(ApiError::NotFound)?;
    let file = state.storage.fetch(key).await?;
    files::serve(file, request, Some(files::content_type(&name))).await
}

/// One job of the signed-in user.
#[utoipa::path(get, path = "/jobs/{job_id}", tag = "jobs", params(("job_id" = String, Path)), responses((status = 200, body = Job)))]
async fn jobs_show(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppPath(job_id): AppPath<String>,
) -> Result<AppJson<Job>, ApiError> {
    let id = check_id(&job_id)?;
    let job = queue::get(&db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    Ok(AppJson(job.into()))
}

/// The signed-in user's jobs, newest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobFilter), responses((status = 200, body = Vec<Job>)))]
async fn jobs_index(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppQuery(filter): AppQuery<JobFilter>,
) -> Result<AppJson<Vec<Job>>, ApiError> {
    let state = match filter.state.as_deref() {
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            ApiError::BadRequest(format!("state: `{s}` is not one of queued, running, succeeded, cancelled, dead"))
        })?),
        None => None,
    };
    let rows = queue::list(&db, &user.id, state).await?;
    Ok(AppJson(rows.into_iter().map(Job::from).collect()))
}

/// Cancels a queued job at once and a running one at its next check.
#[utoipa::path(post, path = "/jobs/{job_id}/cancel", tag = "jobs", params(("job_id" = String, Path)), responses((status = 200, body = Job)))]
async fn jobs_cancel(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppPath(job_id): AppPath<String>,
) -> Result<AppJson<Job>, ApiError> {
    let id = check_id(&job_id)?;
    let job = queue::cancel(&db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    Ok(AppJson(job.into()))
}
