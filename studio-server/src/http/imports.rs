// SPDX-License-Identifier: MPL-2.0
//! Imports: media from a web address into a project, as a `video_download` job that
//! yt-dlp fetches and the upload's intake checks (see `jobs::download`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::AppPath;
use super::jobs::{check_submission, submit, Job};
use super::projects::check_id;
use super::AppState;
use crate::db::projects;
use crate::jobs::download::{check_host, check_url, DownloadParams};
use crate::jobs::egress::Policy;
use crate::jobs::NewJob;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(imports_create))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateImport {
    /// An http or https address of a video (a page yt-dlp understands, or the file itself).
    url: String,
    #[serde(default)]
    priority: i64,
    idempotency_key: Option<String>,
}

/// Imports media from a web address as a `video_download` job: 202 with the queued job
/// (200 with the same job when its idempotency key was used before). The file passes the
/// same checks as an upload.
#[utoipa::path(post, path = "/projects/{project_id}/imports", tag = "media", params(("project_id" = String, Path)),
    request_body = CreateImport, responses(
        (status = 202, description = "queued", body = super::jobs::Job),
        (status = 200, description = "the job this idempotency key already made", body = super::jobs::Job),
    ))]
async fn imports_create(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    AppJson(body): AppJson<CreateImport>,
) -> Result<(StatusCode, AppJson<Job>), ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    check_url(&body.url).map_err(ApiError::BadRequest)?;
    check_host(&body.url, &Policy::for_imports(state.imports_allow_private)).await.map_err(ApiError::BadRequest)?;
    check_submission(body.priority, body.idempotency_key.as_deref())?;
    let params = DownloadParams {
        url: body.url,
        max_bytes: state.upload_limit as u64,
        quota_bytes: state.quota_bytes,
        allow_private: state.imports_allow_private,
    };
    let job = NewJob {
        owner_id: user.id,
        project_id: Some(project_id),
        kind: "video_download".into(),
        params: serde_json::to_value(params).expect("plain fields serialise"),
        priority: body.priority,
        // yt-dlp retries the network itself; what is left (no such page, not a video, too
        // large) fails the same way again.
        max_attempts: 1,
        idempotency_key: body.idempotency_key,
    };
    let owner = job.owner_id.clone();
    let (job, created) = submit(&state, &job).await?;
    if created {
        audit::record(&state.db, &owner, Action::ClipImport, Some(job.id())).await;
    }
    let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, AppJson(job)))
}
