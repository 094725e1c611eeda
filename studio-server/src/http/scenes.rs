// SPDX-License-Identifier: MPL-2.0
//! Scenes of a project: a stretch of its timeline, in seconds, played by a character of
//! the user's library, whatever project it was made in (`voice_over`: the character's portrait speaks the scene's sound instead of
//! the performer's face becoming the character's; `dub`: the project's subtitles in that language
//! are spoken in its place, in the character's voice).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::AppPath;
use super::projects::check_id;
use super::AppState;
use crate::db::scenes::{self, SceneRow};
use crate::db::{self, characters, projects};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scenes_index, scenes_create)).routes(routes!(scenes_delete))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateScene {
    start: f64,
    end: f64,
    character_id: String,
    #[serde(default)]
    voice_over: bool,
    /// Dub the scene into this language (a BCP 47 tag): the project's subtitle track of that
    /// language is spoken in place of the scene's sound, in the character's voice.
    #[serde(default)]
    dub: Option<String>,
}

/// A scene as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
struct Scene {
    id: String,
    project_id: String,
    character_id: String,
    start: f64,
    end: f64,
    voice_over: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    dub: Option<String>,
    created_at: i64,
}

impl From<SceneRow> for Scene {
    fn from(s: SceneRow) -> Self {
        Scene {
            id: s.id,
            project_id: s.project_id,
            character_id: s.character_id,
            start: s.start_s,
            end: s.end_s,
            voice_over: s.voice_over != 0,
            dub: s.dub,
            created_at: s.created_at,
        }
    }
}

/// The project's scenes: which character plays which stretch of the timeline.
#[utoipa::path(get, path = "/projects/{project_id}/scenes", tag = "projects", params(("project_id" = String, Path)), responses((status = 200, body = Vec<Scene>)))]
async fn scenes_index(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<AppJson<Vec<Scene>>, ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let rows = scenes::list(&state.db, &user.id, &project_id).await?;
    Ok(AppJson(rows.into_iter().map(Scene::from).collect()))
}

/// Gives a stretch of the timeline (seconds) to a character of the user's library (made in
/// any of their projects); another user's character is refused (422 naming `character_id`).
#[utoipa::path(post, path = "/projects/{project_id}/scenes", tag = "projects", params(("project_id" = String, Path)), request_body = CreateScene,
    responses((status = 201, body = Scene)))]
async fn scenes_create(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    AppJson(body): AppJson<CreateScene>,
) -> Result<(StatusCode, AppJson<Scene>), ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    check_times(body.start, body.end)?;
    let dub = match body.dub.as_deref().filter(|d| !d.is_empty()) {
        Some(tag) => Some(
            reenact_engine::languages::canonical_tag(tag).map_err(|e| ApiError::Unprocessable(format!("dub: {e}")))?,
        ),
        None => None,
    };
    // The id is only ever compared, so a malformed one is simply not found.
    if characters::get(&state.db, &user.id, &body.character_id).await?.is_none() {
        return Err(ApiError::Unprocessable("character_id: no such character in your library".into()));
    }
    let row = SceneRow {
        id: uuid::Uuid::new_v4().to_string(),
        owner_id: user.id,
        project_id,
        character_id: body.character_id,
        start_s: body.start,
        end_s: body.end,
        voice_over: i64::from(body.voice_over),
        dub,
        created_at: db::now(),
    };
    scenes::insert(&state.db, &row).await?;
    audit::record(&state.db, &row.owner_id, Action::SceneCreate, Some(&row.id)).await;
    Ok((StatusCode::CREATED, AppJson(Scene::from(row))))
}

/// Deletes a scene.
#[utoipa::path(delete, path = "/scenes/{scene_id}", tag = "projects", params(("scene_id" = String, Path)), responses((status = 204)))]
async fn scenes_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(scene_id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = check_id(&scene_id)?;
    if !scenes::delete(&state.db, &user.id, &id).await? {
        return Err(ApiError::NotFound);
    }
    audit::record(&state.db, &user.id, Action::SceneDelete, Some(&id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A scene is a time range of the timeline: finite seconds, starting at 0 or later, not empty.
fn check_times(start: f64, end: f64) -> Result<(), ApiError> {
    if !(start.is_finite() && start >= 0.0) {
        return Err(ApiError::BadRequest("start: must be a number of seconds, 0 or more".into()));
    }
    if !(end.is_finite() && end > start) {
        return Err(ApiError::BadRequest("end: must be a number of seconds after start".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_times_must_form_a_range() {
        assert!(check_times(0.0, 0.5).is_ok());
        assert!(check_times(-0.1, 2.0).unwrap_err().to_string().starts_with("start:"));
        assert!(check_times(f64::NAN, 2.0).unwrap_err().to_string().starts_with("start:"));
        assert!(check_times(2.0, 2.0).unwrap_err().to_string().starts_with("end:"));
        assert!(check_times(2.0, f64::INFINITY).unwrap_err().to_string().starts_with("end:"));
    }
}
