// SPDX-License-Identifier: MPL-2.0
//! Characters: made in a project, kept in the user's library. A portrait (multipart `name` +
//! `portrait`) is analysed into a character file by the code of `reenact character create`;
//! the portrait is stored under the project it was made in, the file kept in the database
//! with the models it was analysed with. Any project of the same user may use it (its
//! scenes name it, or its cast lists it for live shows); deleting one in use is refused
//! (409 naming the projects) unless `?detach=true`. Attaching a voice makes the file
//! (`GET .../file`) what a `voice_clone` job takes as its `character`.

use std::path::PathBuf;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gstreenact::character::{
    self, Character, CharacterError, CreateOptions, FaceMode, Rights, RightsBasis, VoiceModel,
};
use reenact_models::NotAVoice;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::{AppMultipart, AppPath, AppQuery};
use super::files;
use super::projects::{check_id, check_name};
use super::uploads::{self, internal};
use super::AppState;
use crate::casting;
use crate::db::characters::{self, CharacterRow};
use crate::db::{self, projects, voices};
use crate::intake::media_cause;
use crate::library::{self, ModelVersion, ProjectUse, Removal, Usage};
use crate::quota;
use crate::storage::{Area, Storage};

pub(super) fn router(upload_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(characters_index, characters_create).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(characters_library))
        .routes(routes!(characters_show, characters_update, characters_delete))
        .routes(routes!(characters_portrait))
        .routes(routes!(characters_landmarks))
        .routes(routes!(characters_file))
        .routes(routes!(cast_index))
        .routes(routes!(cast_add, cast_remove))
}

/// The form of `POST /api/projects/{id}/characters`; it only describes the form.
#[derive(ToSchema)]
#[allow(dead_code)]
struct CharacterForm {
    name: String,
    /// A still picture with one face (PNG, JPEG, WebP, GIF, BMP or TIFF).
    #[schema(value_type = String, format = Binary)]
    portrait: Vec<u8>,
    #[serde(flatten)]
    rights: RightsForm,
}

/// The rights record's fields of a character's or a voice's form; it only describes them.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) struct RightsForm {
    /// Required: `public-domain`, `consent`, `licensed` or `own-likeness`.
    #[schema(example = "consent")]
    rights_basis: String,
    /// Who granted the right (the person, their estate, the licensor).
    rights_granted_by: Option<String>,
    /// `YYYY-MM-DD`.
    rights_granted_at: Option<String>,
    /// The release, contract or archive reference.
    rights_reference: Option<String>,
    /// The signed release (any file, up to the upload limit): only its SHA-256 is kept.
    #[schema(value_type = Option<String>, format = Binary)]
    rights_document: Option<Vec<u8>>,
    /// `true` for non-commercial work only: commercial projects and shows refuse it.
    rights_non_commercial: Option<bool>,
    /// Last day of use, `YYYY-MM-DD`: renders and shows after it refuse it.
    rights_expires: Option<String>,
}

/// What the portrait analysis found, in pixels of the cropped portrait the character keeps.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct PortraitAnalysis {
    width: u32,
    height: u32,
    /// Face-mesh landmarks measured.
    landmarks: usize,
    /// Box around the landmarks: x, y, w, h.
    face_box: [f32; 4],
    /// Skin colour, CIE L*a*b* mean and standard deviation.
    skin_lab_mean: [f32; 3],
    skin_lab_std: [f32; 3],
    /// Box around the outer lips (x, y, w, h) and the gap between them at rest.
    mouth_box: [f32; 4],
    mouth_opening: f32,
}

impl PortraitAnalysis {
    fn of(character: &Character) -> Self {
        let p = &character.portrait;
        let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
        for l in &p.landmarks {
            lo = [lo[0].min(l[0]), lo[1].min(l[1])];
            hi = [hi[0].max(l[0]), hi[1].max(l[1])];
        }
        PortraitAnalysis {
            width: p.width,
            height: p.height,
            landmarks: p.landmarks.len(),
            face_box: [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]],
            skin_lab_mean: p.skin.mean,
            skin_lab_std: p.skin.std,
            mouth_box: p.mouth.bbox,
            mouth_opening: p.mouth.opening,
        }
    }
}

/// A character as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
struct CharacterView {
    id: String,
    /// The project it was made in (its portrait is stored there); any project may use it.
    project_id: String,
    name: String,
    voice_id: Option<String>,
    portrait: PortraitAnalysis,
    /// The models the portrait was analysed with, as their installed manifests named them
    /// (empty for characters made before they were recorded).
    models: Vec<ModelVersion>,
    /// The projects that use it (scenes, cast), by name.
    used_by: Vec<ProjectUse>,
    created_at: i64,
    /// How its face plays: `swap` (onto the performer's face) or `animate` (the portrait,
    /// moved by the performer's face).
    face: String,
    /// The catalog voice it speaks with, `{name, speaker_id}`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    voice_model: Option<VoiceModel>,
}

impl CharacterView {
    fn of(row: CharacterRow, usage: &Usage) -> Result<Self, ApiError> {
        Ok(CharacterView {
            portrait: serde_json::from_str(&row.analysis).map_err(internal)?,
            models: library::parse_models(&row.models),
            used_by: usage.of_character(&row.id),
            id: row.id,
            project_id: row.project_id,
            name: row.name,
            voice_id: row.voice_id,
            created_at: row.created_at,
            face: row.face,
            voice_model: row.voice_model.as_deref().map(serde_json::from_str).transpose().map_err(internal)?,
        })
    }

    fn list(rows: Vec<CharacterRow>, usage: &Usage) -> Result<Vec<Self>, ApiError> {
        rows.into_iter().map(|row| CharacterView::of(row, usage)).collect()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateCharacter {
    /// A new name.
    name: Option<String>,
    /// Any voice of the user's library; `null` detaches the voice; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    voice_id: Option<Option<String>>,
    /// How the face plays: `swap` (onto the performer's face) or `animate` (the whole portrait,
    /// moved by the performer's face; LivePortrait's modules must be in the model catalog).
    #[schema(value_type = Option<String>)]
    face: Option<FaceMode>,
    /// A neural voice from the model catalog the character speaks with,
    /// `{"name": "...", "speaker_id": 0}` (an imported RVC v2 voice); `null` removes it;
    /// absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    voice_model: Option<Option<VoiceModel>>,
}

impl UpdateCharacter {
    /// Whether the body changes the character file itself.
    fn changes_file(&self) -> bool {
        self.face.is_some() || self.voice_model.is_some()
    }
}

/// Checks `face` and `voice_model` against the model catalog: 422 naming the field.
async fn check_file_changes(face: Option<FaceMode>, voice_model: Option<VoiceModel>) -> Result<(), ApiError> {
    tokio::task::spawn_blocking(move || {
        let catalog = reenact_models::Catalog::load().map_err(|e| ApiError::Unavailable(e.to_string()))?;
        if face == Some(FaceMode::Animate) {
            let (_, missing) = catalog.portrait_animation();
            if !missing.is_empty() {
                return Err(ApiError::Unprocessable(format!(
                    "face: `animate` needs LivePortrait's {} in the model catalog (an administrator imports \
                     them as portrait-animation)",
                    missing.join(", ")
                )));
            }
        }
        if let Some(model) = voice_model {
            let cause = match catalog.voice(&model.name) {
                Ok(entry) => {
                    return entry
                        .check_speaker(model.speaker_id)
                        .map_err(|cause| ApiError::Unprocessable(format!("voice_model.speaker_id: {cause}")))
                }
                Err(NotAVoice::Task(task)) => format!("`{}` is a {task} model, not a voice", model.name),
                Err(NotAVoice::Unknown) => format!("no voice `{}` in the model catalog", model.name),
            };
            return Err(ApiError::Unprocessable(format!("voice_model.name: {cause}")));
        }
        Ok(())
    })
    .await
    .map_err(internal)?
}

/// Writes `face` and `voice_model` into the stored character file, retrying when another
/// change lands in between; 409 when it keeps changing.
async fn update_file(
    state: &AppState,
    owner: &str,
    mut row: CharacterRow,
    body: &UpdateCharacter,
) -> Result<CharacterRow, ApiError> {
    let id = row.id.clone();
    for _ in 0..3 {
        let old = characters::document(&state.db, owner, &id).await?.ok_or(ApiError::NotFound)?;
        let mut character: Character = serde_json::from_str(&old).map_err(internal)?;
        if let Some(face) = body.face {
            character.face = face;
        }
        if let Some(voice_model) = &body.voice_model {
            character.voice_model.clone_from(voice_model);
        }
        let new = serde_json::to_string(&character).map_err(internal)?;
        let voice_model = character.voice_model.as_ref().map(serde_json::to_string).transpose().map_err(internal)?;
        let face = character.face.to_string();
        if characters::replace_document(&state.db, owner, &id, (&old, &new), (&face, voice_model.as_deref())).await? {
            (row.face, row.voice_model) = (face, voice_model);
            return Ok(row);
        }
    }
    Err(ApiError::Conflict("the character changed while it was being updated; try again".into()))
}

/// A field that is present (even as `null`) is `Some`, so that absent and `null` differ.
pub(super) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `?detach=true` on a delete: remove the entry's uses with it instead of refusing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteQuery {
    /// Detach the entry from every project that uses it (in one transaction) and delete it.
    #[serde(default)]
    pub(super) detach: bool,
}

/// The project's characters with what their portraits' analysis found.
#[utoipa::path(get, path = "/projects/{project_id}/characters", tag = "characters", params(("project_id" = String, Path)),
    responses((status = 200, body = Vec<CharacterView>)))]
async fn characters_index(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<AppJson<Vec<CharacterView>>, ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let rows = characters::list(&state.db, &user.id, &project_id).await?;
    let usage = Usage::read(&state.db, &user.id).await?;
    Ok(AppJson(CharacterView::list(rows, &usage)?))
}

/// Makes a character from a portrait, analysed as `reenact character create` does: 415 for
/// what is not a picture, 400 when no face is found.
#[utoipa::path(post, path = "/projects/{project_id}/characters", tag = "characters", params(("project_id" = String, Path)),
    request_body(content = CharacterForm, content_type = "multipart/form-data"),
    responses((status = 201, body = CharacterView)))]
async fn characters_create(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    AppMultipart(form): AppMultipart,
) -> Result<(StatusCode, AppJson<CharacterView>), ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let upload = uploads::receive(&state, &user, form, "portrait", &RIGHTS_FIELDS).await?;
    let name =
        check_name(upload.text("name").ok_or(ApiError::BadRequest("name: the form has no `name` field".into()))?)?;
    let rights = rights_of(&upload, "character", "face")?;
    let ext = picture_extension(&upload.head).ok_or(ApiError::UnsupportedMedia(
        "portrait: not a picture (PNG, JPEG, WebP, GIF, BMP or TIFF expected)".into(),
    ))?;
    let (mut character, models) = analyse(name.clone(), upload.file.path().to_path_buf()).await?;
    character.rights = Some(rights);

    let reservation = uploads::reserve(&state, &user, upload.bytes).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let key = Storage::key(&user.id, &project_id, Area::Source, &format!("{id}.{ext}"));
    let document = serde_json::to_string(&character).map_err(internal)?;
    let analysis = serde_json::to_string(&PortraitAnalysis::of(&character)).map_err(internal)?;
    let row = CharacterRow {
        id,
        owner_id: user.id,
        project_id,
        name,
        portrait_key: key.clone(),
        analysis,
        voice_id: None,
        created_at: db::now(),
        models: serde_json::to_string(&models).map_err(internal)?,
        face: character.face.to_string(),
        voice_model: None,
    };
    if let Err(err) = state.storage.commit(upload.file.path(), &key).await {
        reservation.release().await;
        return Err(err.into());
    }
    upload.file.keep();
    if let Err(err) = characters::insert(&state.db, &row, &document).await {
        let _ = state.storage.remove(&key).await;
        reservation.release().await;
        return Err(err.into());
    }
    reservation.keep();
    audit::record(&state.db, &row.owner_id, Action::CharacterCreate, Some(&row.id)).await;
    Ok((StatusCode::CREATED, AppJson(CharacterView::of(row, &Usage::default())?)))
}

/// The signed-in user's characters across all their projects (their library), oldest
/// first, each with the projects that use it; only the caller's own, so another user's
/// list never names them.
#[utoipa::path(get, path = "/characters", tag = "characters", responses((status = 200, body = Vec<CharacterView>)))]
async fn characters_library(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<AppJson<Vec<CharacterView>>, ApiError> {
    let rows = characters::library(&state.db, &user.id).await?;
    let usage = Usage::read(&state.db, &user.id).await?;
    Ok(AppJson(CharacterView::list(rows, &usage)?))
}

/// One character.
#[utoipa::path(get, path = "/characters/{character_id}", tag = "characters", params(("character_id" = String, Path)),
    responses((status = 200, body = CharacterView)))]
async fn characters_show(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(character_id): AppPath<String>,
) -> Result<AppJson<CharacterView>, ApiError> {
    let row = owned(&state, &user, &character_id).await?;
    let usage = Usage::read(&state.db, &user.id).await?;
    Ok(AppJson(CharacterView::of(row, &usage)?))
}

/// Renames the character, attaches any voice of the user's library to it (or detaches it:
/// `null`), sets how its face plays (`face`) or the catalog voice it speaks with
/// (`voice_model`). A voice that is not the caller's is refused (422 naming `voice_id`), as is
/// a `face` or `voice_model` the model catalog cannot play (naming the field).
#[utoipa::path(patch, path = "/characters/{character_id}", tag = "characters", params(("character_id" = String, Path)), request_body = UpdateCharacter,
    responses((status = 200, body = CharacterView)))]
async fn characters_update(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(character_id): AppPath<String>,
    AppJson(body): AppJson<UpdateCharacter>,
) -> Result<AppJson<CharacterView>, ApiError> {
    let mut row = owned(&state, &user, &character_id).await?;
    let name = body.name.as_deref().map(check_name).transpose()?;
    if body.changes_file() {
        check_file_changes(body.face, body.voice_model.clone().flatten()).await?;
    }
    if let Some(Some(voice_id)) = &body.voice_id {
        let id = check_id(voice_id).map_err(|_| ApiError::BadRequest("voice_id: not a UUID".into()))?;
        if voices::get(&state.db, &user.id, &id).await?.is_none() {
            return Err(ApiError::Unprocessable(format!("voice_id: no voice `{id}` in your library")));
        }
    }
    // Both changes in one statement each; a rename and a voice in one body are both kept
    // or, when the character is gone in between, neither answer claims success.
    if let Some(name) = &name {
        if !characters::rename(&state.db, &user.id, &row.id, name).await? {
            return Err(ApiError::NotFound);
        }
        row.name = name.clone();
    }
    if let Some(voice_id) = body.voice_id.clone() {
        if !characters::set_voice(&state.db, &user.id, &row.id, voice_id.as_deref()).await? {
            return Err(ApiError::NotFound);
        }
        row.voice_id = voice_id;
    }
    if body.changes_file() {
        row = update_file(&state, &user.id, row, &body).await?;
    }
    audit::record(&state.db, &user.id, Action::CharacterUpdate, Some(&row.id)).await;
    let usage = Usage::read(&state.db, &user.id).await?;
    Ok(AppJson(CharacterView::of(row, &usage)?))
}

/// Deletes the character and its portrait. While a project uses it (a scene, its cast) the
/// answer is 409 naming the projects (`projects` in the body too) and nothing changes; with
/// `?detach=true` its scenes and casts are removed with it, in one transaction, each
/// project whose timeline had scenes of it getting a new revision without them.
#[utoipa::path(delete, path = "/characters/{character_id}", tag = "characters", params(("character_id" = String, Path), DeleteQuery),
    responses((status = 204), (status = 409, description = "projects use it", body = super::error::ErrorBody)))]
async fn characters_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(character_id): AppPath<String>,
    AppQuery(query): AppQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    let id = check_id(&character_id)?;
    let row = match library::delete_character(&state.db, &user.id, &id, query.detach).await {
        Ok(Removal::Deleted(row)) => row,
        Ok(Removal::NotFound) => return Err(ApiError::NotFound),
        Ok(Removal::InUse(projects)) => {
            let row = characters::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
            return Err(ApiError::InUse {
                detail: format!(
                    "character “{}” is used by {}: remove it there, or delete with ?detach=true",
                    row.name,
                    library::describe(&projects)
                ),
                projects,
            });
        }
        Err(err) => return Err(super::projects::change_error(err)),
    };
    quota::remove(&state.db, &state.storage, &user.id, &row.portrait_key).await?;
    audit::record(&state.db, &user.id, Action::CharacterDelete, Some(&row.id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The uploaded portrait, with HTTP ranges.
#[utoipa::path(get, path = "/characters/{character_id}/portrait", tag = "characters", params(("character_id" = String, Path)), responses(
    (status = 200, description = "the picture as uploaded", body = super::openapi::FileBytes, content_type = "image/*"),
))]
async fn characters_portrait(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(character_id): AppPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let row = owned(&state, &user, &character_id).await?;
    // The key's extension comes from the picture's own first bytes (`picture_extension`).
    let file = state.storage.fetch(&row.portrait_key).await?;
    files::serve(file, request, Some(files::content_type(&row.portrait_key))).await
}

/// The portrait the character keeps (cropped, as analysed) with what was measured on it drawn
/// over it: the face-mesh landmarks, their box and the mouth's box. An SVG picture, so the
/// library page shows what the face swap will take without a second decode of the upload.
#[utoipa::path(get, path = "/characters/{character_id}/landmarks.svg", tag = "characters", params(("character_id" = String, Path)), responses(
    (status = 200, description = "the analysed portrait with its landmarks", body = String, content_type = "image/svg+xml"),
))]
async fn characters_landmarks(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(character_id): AppPath<String>,
) -> Result<Response, ApiError> {
    let id = check_id(&character_id)?;
    let (_, character) =
        casting::character(&state.db, &user.id, &id).await.map_err(internal)?.ok_or(ApiError::NotFound)?;
    let svg = landmarks_svg(&character.portrait);
    // Only the embedded picture may load: the document is drawn from numbers and our own
    // PNG, and a policy of its own keeps it inert even when opened as a page.
    let policy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'";
    Ok(([(CONTENT_TYPE, "image/svg+xml"), (CONTENT_SECURITY_POLICY, policy)], svg).into_response())
}

/// The SVG of `landmarks_svg`'s route: the portrait at its own size, a dot per landmark.
fn landmarks_svg(portrait: &character::Portrait) -> String {
    use std::fmt::Write as _;
    let (w, h) = (portrait.width, portrait.height);
    // Dots and lines scale with the picture so that they read the same at the page's size.
    let r = (w.max(h) as f32 / 200.0).max(1.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\">\
         <image width=\"{w}\" height=\"{h}\" href=\"data:image/png;base64,{}\"/>",
        portrait.png
    );
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    let _ = write!(svg, "<g fill=\"#3df2c4\" class=\"landmarks\">");
    for [x, y, _] in &portrait.landmarks {
        let _ = write!(svg, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\"/>");
        lo = [lo[0].min(*x), lo[1].min(*y)];
        hi = [hi[0].max(*x), hi[1].max(*y)];
    }
    let stroke = r * 0.8;
    let [mx, my, mw, mh] = portrait.mouth.bbox;
    let _ = write!(
        svg,
        "</g><g fill=\"none\" stroke-width=\"{stroke:.1}\">\
         <rect class=\"face\" stroke=\"#ffd23f\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>\
         <rect class=\"mouth\" stroke=\"#ff5d8f\" x=\"{mx:.1}\" y=\"{my:.1}\" width=\"{mw:.1}\" height=\"{mh:.1}\"/></g></svg>",
        lo[0],
        lo[1],
        hi[0] - lo[0],
        hi[1] - lo[1]
    );
    svg
}

/// The character file (`*.character.json`) with the attached voice's profile.
#[utoipa::path(get, path = "/characters/{character_id}/file", tag = "characters", params(("character_id" = String, Path)),
    responses((status = 200, description = "the character file, as `reenact character create` writes it", body = Object)))]
async fn characters_file(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(character_id): AppPath<String>,
) -> Result<AppJson<Character>, ApiError> {
    let id = check_id(&character_id)?;
    let (_, character) =
        casting::character(&state.db, &user.id, &id).await.map_err(internal)?.ok_or(ApiError::NotFound)?;
    Ok(AppJson(character))
}

/// The characters a project plays, wherever they were made: those made in it, those cast
/// in it, and those its scenes name.
#[utoipa::path(get, path = "/projects/{project_id}/cast", tag = "characters", params(("project_id" = String, Path)),
    responses((status = 200, body = Vec<CharacterView>)))]
async fn cast_index(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<AppJson<Vec<CharacterView>>, ApiError> {
    let project_id = check_id(&project_id)?;
    let project = projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let ids = library::project_cast_ids(&state.db, &user.id, &project).await?;
    let usage = Usage::read(&state.db, &user.id).await?;
    let mut rows = Vec::new();
    for id in ids {
        rows.extend(characters::get(&state.db, &user.id, &id).await?);
    }
    Ok(AppJson(CharacterView::list(rows, &usage)?))
}

/// Casts a character of the user's library (made in any of their projects) in this
/// project, for its live shows; casting one twice is no change. Another user's character
/// is refused (422 naming `character_id`).
#[utoipa::path(put, path = "/projects/{project_id}/cast/{character_id}", tag = "characters",
    params(("project_id" = String, Path), ("character_id" = String, Path)), responses((status = 204)))]
async fn cast_add(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, character_id)): AppPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let id = check_id(&character_id).map_err(|_| ApiError::BadRequest("character_id: not a UUID".into()))?;
    if characters::get(&state.db, &user.id, &id).await?.is_none() {
        return Err(ApiError::Unprocessable(format!("character_id: no character `{id}` in your library")));
    }
    characters::cast(&state.db, &user.id, &project_id, &id, db::now()).await?;
    audit::record(&state.db, &user.id, Action::ProjectUpdate, Some(&project_id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a character out of this project's cast (the character stays in the library).
#[utoipa::path(delete, path = "/projects/{project_id}/cast/{character_id}", tag = "characters",
    params(("project_id" = String, Path), ("character_id" = String, Path)), responses((status = 204)))]
async fn cast_remove(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, character_id)): AppPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project_id = check_id(&project_id)?;
    let id = check_id(&character_id)?;
    if !characters::uncast(&state.db, &user.id, &project_id, &id).await? {
        return Err(ApiError::NotFound);
    }
    audit::record(&state.db, &user.id, Action::ProjectUpdate, Some(&project_id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Character `id` of the signed-in user; anyone else's is not found.
async fn owned(state: &AppState, user: &CurrentUser, id: &str) -> Result<CharacterRow, ApiError> {
    let id = check_id(id)?;
    characters::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)
}

/// Analyses the portrait as `reenact character create` does, off the async threads (ONNX);
/// with the installed versions of the models it ran.
async fn analyse(name: String, portrait: PathBuf) -> Result<(Character, Vec<ModelVersion>), ApiError> {
    tokio::task::spawn_blocking(move || {
        // Discovery refuses a damaged picture at once, where the analysis' decoder would wait
        // for its timeout.
        reenact_engine::media::image_size(&portrait)
            .map_err(|e| ApiError::UnsupportedMedia(format!("portrait: {}", media_cause(e))))?;
        let catalog = reenact_models::Catalog::load().map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let character = character::create(&CreateOptions { name, portrait, voice_sample: None }, &catalog)
            .map_err(portrait_error)?;
        Ok((character, library::model_versions(&catalog, &library::portrait_models())))
    })
    .await
    .map_err(internal)?
}

/// The form's text fields: the name and the rights record (a voice's form has the same),
/// with the release document, whose hash is all that is kept.
pub(super) const RIGHTS_FIELDS: [&str; 8] = [
    "name",
    "rights_basis",
    "rights_granted_by",
    "rights_granted_at",
    "rights_reference",
    "rights_non_commercial",
    "rights_expires",
    uploads::RELEASE_DOCUMENT,
];

/// The rights record of a character's or a voice's form (`what`, using a `likeness`);
/// `rights_basis` is required, dates are `YYYY-MM-DD`. One record type for faces and voices,
/// so renders, shows and credentials treat both alike.
pub(super) fn rights_of(upload: &uploads::Upload, what: &str, likeness: &str) -> Result<Rights, ApiError> {
    let text = |name: &str| upload.text(name).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
    let basis = text("rights_basis").ok_or_else(|| {
        ApiError::BadRequest(format!(
            "rights_basis: a {what} needs a rights basis ({}): on what right is this {likeness} used?",
            RightsBasis::NAMES
        ))
    })?;
    let basis = RightsBasis::parse(&basis)
        .ok_or_else(|| ApiError::BadRequest(format!("rights_basis: `{basis}` is not one of {}", RightsBasis::NAMES)))?;
    let date = |field: &str| match text(field) {
        Some(d) if !gstreenact::character::is_date(&d) => {
            Err(ApiError::BadRequest(format!("{field}: `{d}` is not a date YYYY-MM-DD")))
        }
        other => Ok(other),
    };
    let non_commercial = match text("rights_non_commercial").as_deref() {
        None | Some("false" | "off" | "0") => false,
        Some("true" | "on" | "1") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!("rights_non_commercial: `{other}` is not true or false")))
        }
    };
    Ok(Rights {
        basis,
        granted_by: text("rights_granted_by"),
        granted_at: date("rights_granted_at")?,
        reference: text("rights_reference"),
        document_sha256: text(uploads::RELEASE_DOCUMENT),
        non_commercial,
        expires: date("rights_expires")?,
    })
}

/// The analysis' reason as the `portrait` field's error, without the server's temporary path.
fn portrait_error(err: CharacterError) -> ApiError {
    match err {
        // Missing or broken face models are the server's trouble, not the picture's.
        CharacterError::Input { message, .. } if message.starts_with("face models:") => ApiError::Unavailable(message),
        CharacterError::Input { message, .. } => ApiError::BadRequest(format!("portrait: {message}")),
        other => ApiError::Internal(other.to_string()),
    }
}

/// The stored extension of a still picture, told by its first bytes; `None` for anything else.
fn picture_extension(head: &[u8]) -> Option<&'static str> {
    match head {
        [0x89, b'P', b'N', b'G', ..] => Some("png"),
        [0xff, 0xd8, 0xff, ..] => Some("jpg"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("webp"),
        [b'G', b'I', b'F', b'8', ..] => Some("gif"),
        [b'B', b'M', ..] => Some("bmp"),
        [b'I', b'I', 0x2a, 0, ..] | [b'M', b'M', 0, 0x2a, ..] => Some("tif"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_told_by_their_first_bytes() {
        assert_eq!(picture_extension(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(picture_extension(b"\xff\xd8\xff\xe0..JFIF"), Some("jpg"));
        assert_eq!(picture_extension(b"RIFF\x10\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(picture_extension(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(picture_extension(b"these are notes"), None);
        assert_eq!(picture_extension(b""), None);
    }
}
