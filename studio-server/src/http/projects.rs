// SPDX-License-Identifier: MPL-2.0
//! Projects of the signed-in user. Another user's project id answers 404.

use std::collections::HashMap;
use std::path::Path;

use axum::extract::State;
use axum::http::StatusCode;
use reenact_engine::project::Timeline;
use reenact_engine::EngineError;
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::AppPath;
use super::AppState;
use crate::db::{self, clips, projects, projects::ProjectRow};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(projects_index, projects_create)).routes(routes!(
        projects_show,
        projects_update,
        projects_delete
    ))
}

/// A project as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Project {
    id: String,
    name: String,
    /// Tracks of clips with in/out points and scenes, as in a project file.
    timeline: serde_json::Value,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    name: String,
    #[serde(default)]
    timeline: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateProject {
    name: Option<String>,
    timeline: Option<serde_json::Value>,
}

/// The signed-in user's projects.
#[utoipa::path(get, path = "/projects", tag = "projects", responses((status = 200, body = Vec<Project>)))]
async fn projects_index(State(db): State<AnyPool>, user: CurrentUser) -> Result<AppJson<Vec<Project>>, ApiError> {
    let rows = projects::list(&db, &user.id).await?;
    Ok(AppJson(rows.into_iter().map(to_api).collect::<Result<_, _>>()?))
}

/// Creates a project (an empty timeline unless one is given).
#[utoipa::path(post, path = "/projects", tag = "projects", request_body = CreateProject, responses((status = 201, body = Project)))]
async fn projects_create(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppJson(body): AppJson<CreateProject>,
) -> Result<(StatusCode, AppJson<Project>), ApiError> {
    let now = db::now();
    let id = uuid::Uuid::new_v4().to_string();
    let timeline = timeline_text(&db, &user.id, &id, body.timeline.unwrap_or_else(empty_timeline)).await?;
    let row =
        ProjectRow { id, owner_id: user.id, name: check_name(&body.name)?, timeline, created_at: now, updated_at: now };
    projects::insert(&db, &row).await?;
    audit::record(&db, &row.owner_id, Action::ProjectCreate, Some(&row.id)).await;
    Ok((StatusCode::CREATED, AppJson(to_api(row)?)))
}

/// One project; another user's id answers 404.
#[utoipa::path(get, path = "/projects/{project_id}", tag = "projects", params(("project_id" = String, Path)),
    responses((status = 200, body = Project)))]
async fn projects_show(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<AppJson<Project>, ApiError> {
    let id = check_id(&project_id)?;
    let row = projects::get(&db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    Ok(AppJson(to_api(row)?))
}

/// Renames a project or replaces its timeline.
#[utoipa::path(patch, path = "/projects/{project_id}", tag = "projects", params(("project_id" = String, Path)),
    request_body = UpdateProject, responses((status = 200, body = Project)))]
async fn projects_update(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    AppJson(body): AppJson<UpdateProject>,
) -> Result<AppJson<Project>, ApiError> {
    let id = check_id(&project_id)?;
    let mut row = projects::get(&db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    if let Some(name) = body.name {
        row.name = check_name(&name)?;
    }
    if let Some(timeline) = body.timeline {
        row.timeline = timeline_text(&db, &user.id, &id, timeline).await?;
    }
    row.updated_at = db::now();
    if !projects::update(&db, &row).await? {
        return Err(ApiError::NotFound);
    }
    audit::record(&db, &user.id, Action::ProjectUpdate, Some(&id)).await;
    Ok(AppJson(to_api(row)?))
}

/// Deletes a project with its clips, jobs, renders and stored files.
#[utoipa::path(delete, path = "/projects/{project_id}", tag = "projects", params(("project_id" = String, Path)),
    responses((status = 204)))]
async fn projects_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = check_id(&project_id)?;
    if projects::delete(&state.db, &user.id, &id).await? {
        crate::quota::remove_project(&state.db, &state.storage, &user.id, &id)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        audit::record(&state.db, &user.id, Action::ProjectDelete, Some(&id)).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Ids are UUIDs; anything else (a path, `..`) is refused before any lookup.
pub(super) fn check_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::BadRequest(format!("id: `{}` is not a UUID", id.chars().take(64).collect::<String>())))
}

pub(super) fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::BadRequest("name: must not be empty".into()));
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest("name: at most 200 printable characters".into()));
    }
    Ok(name.to_string())
}

fn empty_timeline() -> serde_json::Value {
    serde_json::json!({ "tracks": [], "scenes": [] })
}

/// The timeline as stored: a JSON object of at most 1 MB that the engine's own checks accept,
/// every clip cutting within one of the project's clips (by the durations discovery found).
/// Errors name the field, e.g. `timeline.tracks[0].clips[1].in`.
async fn timeline_text(
    db: &AnyPool,
    owner: &str,
    project_id: &str,
    timeline: serde_json::Value,
) -> Result<String, ApiError> {
    if !timeline.is_object() {
        return Err(ApiError::BadRequest("timeline: must be a JSON object".into()));
    }
    let text = timeline.to_string();
    if text.len() > 1 << 20 {
        return Err(ApiError::BadRequest("timeline: larger than 1 MB".into()));
    }
    let lengths: HashMap<String, f64> =
        clips::list(db, owner, project_id).await?.into_iter().map(|c| (c.id, c.duration_s)).collect();
    let length = |id: &str| lengths.get(id).copied();
    Timeline::from_json(Path::new("timeline"), timeline, &length).map_err(|err| match err {
        EngineError::Invalid { field, cause, .. } if field == "timeline" => {
            ApiError::BadRequest(format!("timeline: {cause}"))
        }
        EngineError::Invalid { field, cause, .. } => ApiError::BadRequest(format!("timeline.{field}: {cause}")),
        other => ApiError::BadRequest(format!("timeline: {other}")),
    })?;
    Ok(text)
}

fn to_api(row: ProjectRow) -> Result<Project, ApiError> {
    let timeline = serde_json::from_str(&row.timeline).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Project { id: row.id, name: row.name, timeline, created_at: row.created_at, updated_at: row.updated_at })
}
