// SPDX-License-Identifier: MPL-2.0
//! Projects of the signed-in user. Another user's project id answers 404.

use std::collections::HashMap;
use std::path::Path;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
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
    OpenApiRouter::new()
        .routes(routes!(projects_index, projects_create))
        .routes(routes!(projects_show, projects_update, projects_delete))
        .routes(routes!(projects_revisions))
        .routes(routes!(projects_undo))
        .routes(routes!(projects_redo))
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
    /// The stored revision shown now; undo and redo move between revisions.
    revision: i64,
    /// Grows with every change; also the `ETag`. Send it back in `If-Match` so an edit
    /// made on a state that has changed since is refused (412) instead of overwriting it.
    version: i64,
    /// Commercial work: renders refuse models not cleared for commercial use, and faces or
    /// voices whose rights are non-commercial, naming them (403) before anything is queued.
    commercial: bool,
    /// The face swaps keep what the performer holds in front of their face (a cup, a glove,
    /// hair) where its colour is not their skin's; renders and previews alike.
    occlusion_mask: bool,
}

/// The stored revisions of a project (at least 50 undo steps are kept).
#[derive(Debug, Serialize, ToSchema)]
struct Revisions {
    /// The revision shown now.
    current: i64,
    version: i64,
    can_undo: bool,
    can_redo: bool,
    revisions: Vec<Revision>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Revision {
    revision: i64,
    name: String,
    created_at: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    name: String,
    #[serde(default)]
    timeline: Option<serde_json::Value>,
    /// Commercial work (default false).
    #[serde(default)]
    commercial: bool,
    /// Keep what is held in front of the performer's face (default false).
    #[serde(default)]
    occlusion_mask: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateProject {
    name: Option<String>,
    timeline: Option<serde_json::Value>,
    /// Marks the project commercial or not; a setting, not an undo step.
    commercial: Option<bool>,
    /// Keep what is held in front of the performer's face or not; a setting, not an undo step.
    occlusion_mask: Option<bool>,
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
    let name = check_name(&body.name)?;
    let row = ProjectRow {
        id,
        owner_id: user.id,
        name,
        timeline,
        created_at: now,
        updated_at: now,
        revision: 0,
        version: 0,
        commercial: body.commercial.into(),
        occlusion_mask: body.occlusion_mask.into(),
    };
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
) -> Result<(HeaderMap, AppJson<Project>), ApiError> {
    let id = check_id(&project_id)?;
    let row = projects::get(&db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    tagged(row)
}

/// Renames a project or replaces its timeline, as a new revision (an undo step), or changes
/// its settings, `commercial` and `occlusion_mask` (which undo leaves alone). The
/// timeline must pass the engine's project checks, or nothing changes and the answer (400)
/// names the field and the cause. With `If-Match` (the `version` or `ETag` last seen), an
/// edit on a project that has changed since answers 412; a change racing this one, 409.
#[utoipa::path(patch, path = "/projects/{project_id}", tag = "projects",
    params(("project_id" = String, Path), ("If-Match" = Option<String>, Header, description = "the version last seen")),
    request_body = UpdateProject, responses((status = 200, body = Project)))]
async fn projects_update(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    headers: HeaderMap,
    AppJson(body): AppJson<UpdateProject>,
) -> Result<(HeaderMap, AppJson<Project>), ApiError> {
    let id = check_id(&project_id)?;
    let mut row = projects::get(&db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    let mut expected = check_if_match(&headers, row.version)?;
    let edits = body.name.is_some() || body.timeline.is_some();
    if let Some(name) = body.name {
        row.name = check_name(&name)?;
    }
    if let Some(timeline) = body.timeline {
        row.timeline = timeline_text(&db, &user.id, &id, timeline).await?;
    }
    row.updated_at = db::now();
    // A body with only settings changes them without adding an undo step.
    let settings = body.commercial.is_some() || body.occlusion_mask.is_some();
    if edits || !settings {
        projects::commit_edit(&db, &mut row, expected).await.map_err(change_error)?;
        expected = row.version;
    }
    if settings {
        if let Some(commercial) = body.commercial {
            row.commercial = commercial.into();
        }
        if let Some(occlusion_mask) = body.occlusion_mask {
            row.occlusion_mask = occlusion_mask.into();
        }
        projects::set_settings(&db, &mut row, expected).await.map_err(change_error)?;
    }
    audit::record(&db, &user.id, Action::ProjectUpdate, Some(&id)).await;
    tagged(row)
}

/// The project's stored revisions, oldest first, and where undo and redo would go.
#[utoipa::path(get, path = "/projects/{project_id}/revisions", tag = "projects", params(("project_id" = String, Path)),
    responses((status = 200, body = Revisions)))]
async fn projects_revisions(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<AppJson<Revisions>, ApiError> {
    let id = check_id(&project_id)?;
    let row = projects::get(&db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    let list = projects::revisions(&db, &user.id, &id).await?;
    let has = |n: i64| list.iter().any(|r| r.0 == n);
    Ok(AppJson(Revisions {
        current: row.revision,
        version: row.version,
        can_undo: has(row.revision - 1),
        can_redo: has(row.revision + 1),
        revisions: list
            .into_iter()
            .map(|(revision, name, created_at)| Revision { revision, name, created_at })
            .collect(),
    }))
}

/// Goes back one revision. 409 when there is none, or when the earlier timeline no longer
/// passes the checks (a clip it cuts has been deleted; the detail names it).
#[utoipa::path(post, path = "/projects/{project_id}/undo", tag = "projects",
    params(("project_id" = String, Path), ("If-Match" = Option<String>, Header, description = "the version last seen")),
    responses((status = 200, body = Project)))]
async fn projects_undo(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    headers: HeaderMap,
) -> Result<(HeaderMap, AppJson<Project>), ApiError> {
    step(&db, &user, &project_id, &headers, -1).await
}

/// Goes forward one revision after an undo; 409 when there is none (a new edit after an
/// undo drops the revisions that were ahead).
#[utoipa::path(post, path = "/projects/{project_id}/redo", tag = "projects",
    params(("project_id" = String, Path), ("If-Match" = Option<String>, Header, description = "the version last seen")),
    responses((status = 200, body = Project)))]
async fn projects_redo(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    headers: HeaderMap,
) -> Result<(HeaderMap, AppJson<Project>), ApiError> {
    step(&db, &user, &project_id, &headers, 1).await
}

async fn step(
    db: &AnyPool,
    user: &CurrentUser,
    project_id: &str,
    headers: &HeaderMap,
    by: i64,
) -> Result<(HeaderMap, AppJson<Project>), ApiError> {
    let id = check_id(project_id)?;
    let mut row = projects::get(db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    let expected = check_if_match(headers, row.version)?;
    let what = if by < 0 { "undo" } else { "redo" };
    let to = projects::revision(db, &user.id, &id, row.revision + by)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("nothing to {what}")))?;
    let timeline = serde_json::from_str(&to.timeline).map_err(|e| ApiError::Internal(e.to_string()))?;
    timeline_text(db, &user.id, &id, timeline).await.map_err(|err| match err {
        ApiError::BadRequest(cause) | ApiError::Unprocessable(cause) => {
            ApiError::Conflict(format!("cannot {what}: {cause}"))
        }
        other => other,
    })?;
    row.updated_at = db::now();
    projects::step(db, &mut row, &to, expected).await.map_err(change_error)?;
    audit::record(db, &user.id, Action::ProjectUpdate, Some(&id)).await;
    tagged(row)
}

/// The version an edit must start from: the `If-Match` one when given (412 when it is not
/// the current one), else the version just read (a racing change then answers 409).
fn check_if_match(headers: &HeaderMap, current: i64) -> Result<i64, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(current);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(current);
    }
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    let asked: i64 = text.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "If-Match: `{}` is not a project version",
            text.chars().take(32).collect::<String>()
        ))
    })?;
    if asked != current {
        return Err(ApiError::PreconditionFailed(format!(
            "If-Match: the project is at version {current}, not {asked}: reload and edit again"
        )));
    }
    Ok(current)
}

pub(super) fn change_error(err: projects::ChangeError) -> ApiError {
    match err {
        projects::ChangeError::Stale { .. } => ApiError::Conflict(err.to_string()),
        projects::ChangeError::Db(e) => e.into(),
    }
}

/// The project with its version as `ETag`.
fn tagged(row: ProjectRow) -> Result<(HeaderMap, AppJson<Project>), ApiError> {
    let mut headers = HeaderMap::new();
    let etag = HeaderValue::from_str(&format!("\"{}\"", row.version)).map_err(|e| ApiError::Internal(e.to_string()))?;
    headers.insert(header::ETAG, etag);
    Ok((headers, AppJson(to_api(row)?)))
}

/// Deletes a project with its clips, jobs, renders and stored files. 409 while a character
/// or voice made in it is used by another project (deleting the project would delete it
/// from under that project): the detail names both.
#[utoipa::path(delete, path = "/projects/{project_id}", tag = "projects", params(("project_id" = String, Path)),
    responses((status = 204)))]
async fn projects_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = check_id(&project_id)?;
    let usage = crate::library::Usage::read(&state.db, &user.id).await?;
    let blocking = usage.outside_uses_of_project(&id);
    if let Some((entry, uses)) = blocking.first() {
        return Err(ApiError::InUse {
            detail: format!(
                "{entry} was made in this project and is used by {}: delete it from the library (with ?detach=true) or stop using it there first",
                crate::library::describe(uses)
            ),
            projects: uses.clone(),
        });
    }
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
    // A scene's character that is an id (a UUID) names a character of the owner's library,
    // made in any of their projects: another user's, or one deleted since, is refused here
    // rather than at render time, and both alike so that the answer says nothing of other
    // users. Other names (a draft's `lincoln`) are left for the render to resolve or refuse.
    for (i, id) in crate::library::timeline_characters(&text).iter().enumerate() {
        let Ok(uuid) = uuid::Uuid::parse_str(id) else { continue };
        if db::characters::get(db, owner, &uuid.to_string()).await?.is_none() {
            return Err(ApiError::Unprocessable(format!(
                "timeline.scenes[{i}].character: no character `{uuid}` in your library"
            )));
        }
    }
    Ok(text)
}

fn to_api(row: ProjectRow) -> Result<Project, ApiError> {
    let timeline = serde_json::from_str(&row.timeline).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Project {
        id: row.id,
        name: row.name,
        timeline,
        created_at: row.created_at,
        updated_at: row.updated_at,
        revision: row.revision,
        version: row.version,
        commercial: row.commercial != 0,
        occlusion_mask: row.occlusion_mask != 0,
    })
}
