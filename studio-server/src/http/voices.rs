// SPDX-License-Identifier: MPL-2.0
//! Voices of a project: a speech sample (multipart `name` + `sample`) measured into a voice
//! profile — pitch, formants and, with the speaker model installed, an embedding — as
//! `reenact character create --voice-sample` measures it. A voice attached to a character
//! becomes that character file's `voice`. A voice is made only with a rights record (the
//! character's kind: basis, grant, release, restriction, expiry), kept in its profile so
//! that it travels into the character file, the render's checks and its credential. Voices
//! live in the user's library: any character of theirs may have one, whatever project
//! either was made in; a voice a character has is not deleted unless `?detach=true`. Each
//! records the models it was analysed with.

use std::path::PathBuf;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use gstreenact::analysis::{self, speaker};
use gstreenact::character::{decode_audio_mono, CharacterError, Rights, SpeakerEmbedding, VoiceProfile};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::auth::CurrentUser;
use super::characters::{rights_of, DeleteQuery, RightsForm, RIGHTS_FIELDS};
use super::error::{ApiError, AppJson};
use super::extract::{AppMultipart, AppPath, AppQuery};
use super::files;
use super::projects::{check_id, check_name};
use super::uploads::{self, internal};
use super::AppState;
use crate::db::voices::{self, VoiceRow};
use crate::db::{self, projects};
use crate::intake::media_cause;
use crate::library::{self, ModelVersion, ProjectUse, Removal, Usage};
use crate::quota;
use crate::storage::{Area, Storage};

pub(super) fn router(upload_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(voices_index, voices_create).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(voices_library))
        .routes(routes!(voices_show, voices_update, voices_delete))
        .routes(routes!(voices_sample))
}

/// The form of `POST /api/projects/{id}/voices`; it only describes the form.
#[derive(ToSchema)]
#[allow(dead_code)]
struct VoiceForm {
    name: String,
    /// Speech of the voice, at least half a second of it voiced (any audio format).
    #[schema(value_type = String, format = Binary)]
    sample: Vec<u8>,
    #[serde(flatten)]
    rights: RightsForm,
}

/// A voice as the API shows it: the profile's figures, not the embedding's numbers.
#[derive(Debug, Serialize, ToSchema)]
struct VoiceView {
    id: String,
    project_id: String,
    name: String,
    median_f0_hz: f32,
    f0_range_hz: [f32; 2],
    formants_hz: [f32; 3],
    voiced_seconds: f32,
    embedding: Option<EmbeddingView>,
    /// On what right the voice is used; `null` for voices made before rights were recorded.
    #[schema(value_type = Option<Object>)]
    rights: Option<Rights>,
    /// The models the sample was analysed with, as their installed manifests named them
    /// (empty when none ran, or for voices made before they were recorded).
    models: Vec<ModelVersion>,
    /// The projects whose characters have this voice.
    used_by: Vec<ProjectUse>,
    created_at: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateVoice {
    name: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct EmbeddingView {
    model: String,
    version: String,
    dimensions: usize,
}

impl VoiceView {
    fn of(row: VoiceRow, usage: &Usage) -> Result<Self, ApiError> {
        let profile: VoiceProfile = serde_json::from_str(&row.profile).map_err(internal)?;
        Ok(VoiceView {
            models: library::parse_models(&row.models),
            used_by: usage.of_voice(&row.id),
            id: row.id,
            project_id: row.project_id,
            name: row.name,
            median_f0_hz: profile.median_f0_hz,
            f0_range_hz: profile.f0_range_hz,
            formants_hz: profile.formants_hz,
            voiced_seconds: profile.voiced_seconds,
            embedding: profile.embedding.map(|e| EmbeddingView {
                model: e.model,
                version: e.version,
                dimensions: e.vector.len(),
            }),
            rights: profile.rights,
            created_at: row.created_at,
        })
    }

    fn list(rows: Vec<VoiceRow>, usage: &Usage) -> Result<Vec<Self>, ApiError> {
        rows.into_iter().map(|row| VoiceView::of(row, usage)).collect()
    }
}

/// The project's voices with their measured profiles.
#[utoipa::path(get, path = "/projects/{project_id}/voices", tag = "characters", params(("project_id" = String, Path)),
    responses((status = 200, body = Vec<VoiceView>)))]
async fn voices_index(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<AppJson<Vec<VoiceView>>, ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let rows = voices::list(&state.db, &user.id, &project_id).await?;
    let usage = Usage::read(&state.db, &user.id).await?;
    Ok(AppJson(VoiceView::list(rows, &usage)?))
}

/// Measures a voice sample (F0, formants, speaker embedding) into a voice profile with its
/// rights record; 400 naming `rights_basis` when the form says on what right it is used.
#[utoipa::path(post, path = "/projects/{project_id}/voices", tag = "characters", params(("project_id" = String, Path)),
    request_body(content = VoiceForm, content_type = "multipart/form-data"),
    responses((status = 201, body = VoiceView)))]
async fn voices_create(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
    AppMultipart(form): AppMultipart,
) -> Result<(StatusCode, AppJson<VoiceView>), ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let upload = uploads::receive(&state, &user, form, "sample", &RIGHTS_FIELDS).await?;
    let name =
        check_name(upload.text("name").ok_or(ApiError::BadRequest("name: the form has no `name` field".into()))?)?;
    let rights = rights_of(&upload, "voice", "voice")?;
    let (mut profile, models) = analyse(upload.file.path().to_path_buf()).await?;
    profile.rights = Some(rights);

    let reservation = uploads::reserve(&state, &user, upload.bytes).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let file = format!("{id}.{}", sound_extension(&upload.head));
    let key = Storage::key(&user.id, &project_id, Area::Audio, &file);
    let row = VoiceRow {
        id,
        owner_id: user.id,
        project_id,
        name,
        sample_key: key.clone(),
        profile: serde_json::to_string(&profile).map_err(internal)?,
        created_at: db::now(),
        models: serde_json::to_string(&models).map_err(internal)?,
    };
    if let Err(err) = state.storage.commit(upload.file.path(), &key).await {
        reservation.release().await;
        return Err(err.into());
    }
    upload.file.keep();
    if let Err(err) = voices::insert(&state.db, &row).await {
        let _ = state.storage.remove(&key).await;
        reservation.release().await;
        return Err(err.into());
    }
    reservation.keep();
    audit::record(&state.db, &row.owner_id, Action::VoiceCreate, Some(&row.id)).await;
    Ok((StatusCode::CREATED, AppJson(VoiceView::of(row, &Usage::default())?)))
}

/// The signed-in user's voices across all their projects (their library), oldest first;
/// only the caller's own, so another user's list never names them.
#[utoipa::path(get, path = "/voices", tag = "characters", responses((status = 200, body = Vec<VoiceView>)))]
async fn voices_library(State(state): State<AppState>, user: CurrentUser) -> Result<AppJson<Vec<VoiceView>>, ApiError> {
    let rows = voices::library(&state.db, &user.id).await?;
    let usage = Usage::read(&state.db, &user.id).await?;
    Ok(AppJson(VoiceView::list(rows, &usage)?))
}

/// One voice.
#[utoipa::path(get, path = "/voices/{voice_id}", tag = "characters", params(("voice_id" = String, Path)), responses((status = 200, body = VoiceView)))]
async fn voices_show(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(voice_id): AppPath<String>,
) -> Result<AppJson<VoiceView>, ApiError> {
    let id = check_id(&voice_id)?;
    let row = voices::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    let usage = Usage::read(&state.db, &user.id).await?;
    Ok(AppJson(VoiceView::of(row, &usage)?))
}

/// Renames the voice.
#[utoipa::path(patch, path = "/voices/{voice_id}", tag = "characters", params(("voice_id" = String, Path)), request_body = UpdateVoice,
    responses((status = 200, body = VoiceView)))]
async fn voices_update(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(voice_id): AppPath<String>,
    AppJson(body): AppJson<UpdateVoice>,
) -> Result<AppJson<VoiceView>, ApiError> {
    let id = check_id(&voice_id)?;
    let mut row = voices::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    let name = check_name(&body.name)?;
    if !voices::rename(&state.db, &user.id, &id, &name).await? {
        return Err(ApiError::NotFound);
    }
    row.name = name;
    audit::record(&state.db, &user.id, Action::VoiceUpdate, Some(&id)).await;
    let usage = Usage::read(&state.db, &user.id).await?;
    Ok(AppJson(VoiceView::of(row, &usage)?))
}

/// The voice's sample as it was uploaded, with HTTP ranges (what a player on the library
/// page plays).
#[utoipa::path(get, path = "/voices/{voice_id}/sample", tag = "characters", params(("voice_id" = String, Path)), responses(
    (status = 200, description = "the sample as uploaded", body = super::openapi::FileBytes, content_type = "audio/*"),
))]
async fn voices_sample(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(voice_id): AppPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = check_id(&voice_id)?;
    let row = voices::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
    // The key's extension comes from the sample's own first bytes (`sound_extension`).
    let file = state.storage.fetch(&row.sample_key).await?;
    files::serve(file, request, Some(files::content_type(&row.sample_key))).await
}

/// Deletes the voice and its sample. While a character has it the answer is 409 naming the
/// projects of those characters and nothing changes; with `?detach=true` the characters
/// lose the voice (keeping their face) in the transaction that deletes it.
#[utoipa::path(delete, path = "/voices/{voice_id}", tag = "characters", params(("voice_id" = String, Path), DeleteQuery),
    responses((status = 204), (status = 409, description = "characters have it", body = super::error::ErrorBody)))]
async fn voices_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(voice_id): AppPath<String>,
    AppQuery(query): AppQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    let id = check_id(&voice_id)?;
    let row = match library::delete_voice(&state.db, &user.id, &id, query.detach).await {
        Ok(Removal::Deleted(row)) => row,
        Ok(Removal::NotFound) => return Err(ApiError::NotFound),
        Ok(Removal::InUse(projects)) => {
            let row = voices::get(&state.db, &user.id, &id).await?.ok_or(ApiError::NotFound)?;
            return Err(ApiError::InUse {
                detail: format!(
                    "voice “{}” is used by {}: take it off those characters, or delete with ?detach=true",
                    row.name,
                    library::describe(&projects)
                ),
                projects,
            });
        }
        Err(err) => return Err(super::projects::change_error(err)),
    };
    quota::remove(&state.db, &state.storage, &user.id, &row.sample_key).await?;
    audit::record(&state.db, &user.id, Action::VoiceDelete, Some(&id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Measures the sample as character creation does (the same decoder, analysis and speaker
/// model), off the async threads; with the installed versions of the models it ran.
async fn analyse(sample: PathBuf) -> Result<(VoiceProfile, Vec<ModelVersion>), ApiError> {
    tokio::task::spawn_blocking(move || {
        let info = reenact_engine::probe(&sample)
            .map_err(|e| ApiError::UnsupportedMedia(format!("sample: {}", media_cause(e))))?;
        if info.audio.is_none() {
            return Err(ApiError::UnsupportedMedia(
                "sample: no audio stream; a voice sample is recorded speech".into(),
            ));
        }
        let samples = decode_audio_mono(&sample, speaker::RATE).map_err(|e| match e {
            CharacterError::Input { message, .. } => ApiError::UnsupportedMedia(format!("sample: {message}")),
            other => ApiError::Internal(other.to_string()),
        })?;
        let mut profile = analysis::voice_profile(&samples, speaker::RATE).ok_or(ApiError::BadRequest(
            "sample: less than half a second of voiced speech; record a longer sample".into(),
        ))?;
        // As in character creation: a missing speaker model leaves the embedding out, a broken one is an error.
        let catalog = reenact_models::Catalog::load().map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let mut models = Vec::new();
        if catalog.entry(speaker::MODEL).is_some() {
            let unavailable = |e: reenact_models::OnnxError| ApiError::Unavailable(format!("speaker embedding: {e}"));
            let mut encoder = speaker::SpeakerEncoder::open(&catalog).map_err(unavailable)?;
            let vector = encoder.embed(&samples).map_err(unavailable)?;
            let (model, version) = encoder.model();
            profile.embedding = Some(SpeakerEmbedding { model: model.to_owned(), version: version.to_owned(), vector });
            models = library::model_versions(&catalog, &[speaker::MODEL]);
        }
        Ok((profile, models))
    })
    .await
    .map_err(internal)?
}

/// The stored extension of a sound file, told by its first bytes (`bin` when unknown;
/// discovery decides what is usable).
fn sound_extension(head: &[u8]) -> &'static str {
    match head {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => "wav",
        [b'O', b'g', b'g', b'S', ..] => "ogg",
        [b'f', b'L', b'a', b'C', ..] => "flac",
        [0x1a, 0x45, 0xdf, 0xa3, ..] => "webm",
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => "m4a",
        [0xff, 0xf1 | 0xf9, ..] => "aac",
        [b'I', b'D', b'3', ..] | [0xff, 0xe0..=0xff, ..] => "mp3",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sounds_are_told_by_their_first_bytes() {
        assert_eq!(sound_extension(b"RIFF\x24\0\0\0WAVEfmt "), "wav");
        assert_eq!(sound_extension(b"OggS\0\x02"), "ogg");
        assert_eq!(sound_extension(b"ID3\x04\0"), "mp3");
        assert_eq!(sound_extension(b"\xff\xf1\x50\x80"), "aac");
        assert_eq!(sound_extension(b"hello"), "bin");
    }
}
