// SPDX-License-Identifier: MPL-2.0
//! Subtitle tracks of a project, one per language (BCP 47 tag): read, replace, delete,
//! export as SRT/WebVTT, and translate one track into another language cue by cue.
//! Every track is checked as a whole before it is stored (times inside the project, no
//! overlaps, printable text), and errors name the field (`cues[3].start`, `lang`, `from`).

use std::collections::HashMap;
use std::path::Path;

use axum::extract::State;
use axum::http::header::{HeaderValue, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reenact_engine::languages;
use reenact_engine::project::Timeline;
use reenact_engine::subtitle_track::{self, TrackCue};
use reenact_engine::subtitles::Format;
use reenact_engine::translation::{TranslationError, Translator};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::{AppPath, AppQuery};
use super::projects::check_id;
use super::AppState;
use crate::db::subtitles::{self as tracks, TrackRow};
use crate::db::{self, clips, projects};

/// Longest time a project may name when it has no clips to measure (24 h).
const NO_MEDIA_END_S: f64 = 86_400.0;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tracks_index))
        .routes(routes!(track_get, track_put, track_delete))
        .routes(routes!(track_export))
        .routes(routes!(track_translate))
}

/// A track as the API carries it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TrackBody {
    #[schema(value_type = Vec<Object>)]
    cues: Vec<TrackCue>,
}

/// A stored track.
#[derive(Debug, Serialize, ToSchema)]
struct Track {
    lang: String,
    /// English name of the language.
    language: String,
    #[schema(value_type = Vec<Object>)]
    cues: Vec<TrackCue>,
    /// Indexes of the cues read faster than `max_reading_cps` characters per second.
    too_fast: Vec<usize>,
    max_reading_cps: f64,
    updated_at: i64,
}

/// One line of the list of tracks.
#[derive(Debug, Serialize, ToSchema)]
struct TrackSummary {
    lang: String,
    language: String,
    cues: usize,
    updated_at: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TranslateBody {
    /// Language of the source track (BCP 47).
    from: String,
    /// Characters per line of the translated text (default 42).
    #[serde(default)]
    line_chars: Option<usize>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `srt` (default) or `vtt`.
    format: Option<String>,
}

/// The project's subtitle tracks, by language.
#[utoipa::path(get, path = "/projects/{project_id}/subtitles", tag = "projects", params(("project_id" = String, Path)), responses((status = 200, body = Vec<TrackSummary>)))]
async fn tracks_index(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath(project_id): AppPath<String>,
) -> Result<AppJson<Vec<TrackSummary>>, ApiError> {
    let project_id = check_id(&project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let rows = tracks::list(&state.db, &user.id, &project_id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let cues = parse_cues(&row.cues)?;
        out.push(TrackSummary {
            language: languages::language_name(&row.lang).unwrap_or_default().into(),
            lang: row.lang,
            cues: cues.len(),
            updated_at: row.updated_at,
        });
    }
    Ok(AppJson(out))
}

/// One subtitle track.
#[utoipa::path(get, path = "/projects/{project_id}/subtitles/{lang}", tag = "projects", params(("project_id" = String, Path), ("lang" = String, Path)), responses((status = 200, body = Track)))]
async fn track_get(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, lang)): AppPath<(String, String)>,
) -> Result<AppJson<Track>, ApiError> {
    let (project_id, lang) = owned_track(&state, &user, &project_id, &lang).await?;
    let row = tracks::get(&state.db, &user.id, &project_id, &lang).await?.ok_or(ApiError::NotFound)?;
    Ok(AppJson(to_api(row)?))
}

/// Replaces (or creates) the track of one language. The whole track is checked first:
/// cues in time order without overlaps, inside the project's length, printable text.
#[utoipa::path(put, path = "/projects/{project_id}/subtitles/{lang}", tag = "projects", params(("project_id" = String, Path), ("lang" = String, Path)), request_body = TrackBody,
    responses((status = 200, body = Track)))]
async fn track_put(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, lang)): AppPath<(String, String)>,
    AppJson(body): AppJson<TrackBody>,
) -> Result<AppJson<Track>, ApiError> {
    let (project_id, lang) = owned_track(&state, &user, &project_id, &lang).await?;
    let row = store(&state, &user.id, &project_id, &lang, body.cues).await?;
    audit::record(&state.db, &user.id, Action::SubtitlesSave, Some(&project_id)).await;
    Ok(AppJson(to_api(row)?))
}

/// Deletes the track of one language.
#[utoipa::path(delete, path = "/projects/{project_id}/subtitles/{lang}", tag = "projects", params(("project_id" = String, Path), ("lang" = String, Path)), responses((status = 204)))]
async fn track_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, lang)): AppPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (project_id, lang) = owned_track(&state, &user, &project_id, &lang).await?;
    if !tracks::delete(&state.db, &user.id, &project_id, &lang).await? {
        return Err(ApiError::NotFound);
    }
    audit::record(&state.db, &user.id, Action::SubtitlesDelete, Some(&project_id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The track as an SRT or WebVTT file (a download named after the language).
#[utoipa::path(get, path = "/projects/{project_id}/subtitles/{lang}/export", tag = "projects", params(("project_id" = String, Path), ("lang" = String, Path), ExportQuery),
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn track_export(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, lang)): AppPath<(String, String)>,
    AppQuery(query): AppQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let (format, content_type, ext) = match query.format.as_deref().unwrap_or("srt") {
        "srt" => (Format::Srt, "application/x-subrip; charset=utf-8", "srt"),
        "vtt" => (Format::Vtt, "text/vtt; charset=utf-8", "vtt"),
        _ => return Err(ApiError::BadRequest("format: must be `srt` or `vtt`".into())),
    };
    let (project_id, lang) = owned_track(&state, &user, &project_id, &lang).await?;
    let row = tracks::get(&state.db, &user.id, &project_id, &lang).await?.ok_or(ApiError::NotFound)?;
    let body = subtitle_track::export(&parse_cues(&row.cues)?, format);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // `lang` is a checked tag (letters, digits, `-`), safe inside the header.
    let disposition = format!("attachment; filename=\"subtitles.{lang}.{ext}\"");
    headers.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    Ok(response)
}

/// Makes the `lang` track from the `from` track, cue by cue: the timings and speakers are
/// kept, each cue's text is translated and wrapped to `line_chars`. Refused when neither an
/// imported model nor Apertium translates the pair.
#[utoipa::path(post, path = "/projects/{project_id}/subtitles/{lang}/translate", tag = "projects", params(("project_id" = String, Path), ("lang" = String, Path)), request_body = TranslateBody,
    responses((status = 200, body = Track)))]
async fn track_translate(
    State(state): State<AppState>,
    user: CurrentUser,
    AppPath((project_id, lang)): AppPath<(String, String)>,
    AppJson(body): AppJson<TranslateBody>,
) -> Result<AppJson<Track>, ApiError> {
    let (project_id, lang) = owned_track(&state, &user, &project_id, &lang).await?;
    let from = languages::canonical_tag(&body.from).map_err(|err| ApiError::BadRequest(format!("from: {err}")))?;
    if languages::primary(&from) == languages::primary(&lang) {
        return Err(ApiError::BadRequest(format!("from: `{from}` is the language of the track to make")));
    }
    let line_chars = body.line_chars.unwrap_or(subtitle_track::default_line_chars());
    if !(10..=80).contains(&line_chars) {
        return Err(ApiError::BadRequest("line_chars: must be within 10..=80".into()));
    }
    let source = tracks::get(&state.db, &user.id, &project_id, &from)
        .await?
        .ok_or_else(|| ApiError::BadRequest(format!("from: the project has no `{from}` subtitle track")))?;
    let source = parse_cues(&source.cues)?;
    let (source_lang, target_lang) = (languages::primary(&from).to_owned(), languages::primary(&lang).to_owned());
    let cues = tokio::task::spawn_blocking(move || {
        let mut translator = Translator::open(&source_lang, &target_lang).map_err(translator_error)?;
        subtitle_track::translate_cues(&source, line_chars, |texts: &[&str]| translator.translate_all(texts))
            .map_err(|err| ApiError::BadRequest(format!("translation failed at {err}")))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let row = store(&state, &user.id, &project_id, &lang, cues).await?;
    audit::record(&state.db, &user.id, Action::SubtitlesTranslate, Some(&project_id)).await;
    Ok(AppJson(to_api(row)?))
}

/// A pair without a usable model is the caller's to fix (pick another pair, or have one
/// imported); a model that is there but cannot be loaded is the server's.
fn translator_error(err: TranslationError) -> ApiError {
    match err {
        TranslationError::NoModel { .. } | TranslationError::Unsupported { .. } => {
            ApiError::BadRequest(format!("from: {err}"))
        }
        other => ApiError::Internal(other.to_string()),
    }
}

/// Checks the ids and the tag, and that the caller owns the project; the canonical tag.
async fn owned_track(
    state: &AppState,
    user: &CurrentUser,
    project_id: &str,
    lang: &str,
) -> Result<(String, String), ApiError> {
    let project_id = check_id(project_id)?;
    projects::get(&state.db, &user.id, &project_id).await?.ok_or(ApiError::NotFound)?;
    let lang = languages::canonical_tag(lang).map_err(|err| ApiError::BadRequest(format!("lang: {err}")))?;
    Ok((project_id, lang))
}

/// Checks `cues` against the project and stores them as the `lang` track.
async fn store(
    state: &AppState,
    owner: &str,
    project_id: &str,
    lang: &str,
    cues: Vec<TrackCue>,
) -> Result<TrackRow, ApiError> {
    let end_s = project_end(&state.db, owner, project_id).await?;
    subtitle_track::check(&cues, end_s).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    let row = TrackRow {
        project_id: project_id.to_owned(),
        lang: lang.to_owned(),
        owner_id: owner.to_owned(),
        cues: serde_json::to_string(&cues).map_err(|e| ApiError::Internal(e.to_string()))?,
        updated_at: db::now(),
    };
    tracks::upsert(&state.db, &row).await?;
    Ok(row)
}

/// Where the project ends, in seconds: the end of its timeline's last clip; with an empty
/// timeline, the longest of its clips (a single-clip project plays that clip); with no clip
/// at all, 24 h.
async fn project_end(db: &sqlx::AnyPool, owner: &str, project_id: &str) -> Result<f64, ApiError> {
    let project = projects::get(db, owner, project_id).await?.ok_or(ApiError::NotFound)?;
    let lengths: HashMap<String, f64> =
        clips::list(db, owner, project_id).await?.into_iter().map(|c| (c.id, c.duration_s)).collect();
    let value = serde_json::from_str(&project.timeline).map_err(|e| ApiError::Internal(e.to_string()))?;
    let timeline = Timeline::from_json(Path::new("timeline"), value, &|id| lengths.get(id).copied())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut end: f64 = 0.0;
    for track in &timeline.tracks {
        let mut at = 0.0;
        for clip in &track.clips {
            let start = clip.position.unwrap_or(at);
            let out = clip.out_s.or_else(|| lengths.get(&clip.source).copied()).unwrap_or(clip.in_s);
            at = start + (out - clip.in_s).max(0.0);
            end = end.max(at);
        }
    }
    if end > 0.0 {
        return Ok(end);
    }
    Ok(lengths
        .values()
        .copied()
        .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))))
        .unwrap_or(NO_MEDIA_END_S))
}

fn parse_cues(text: &str) -> Result<Vec<TrackCue>, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::Internal(format!("stored subtitle track: {e}")))
}

fn to_api(row: TrackRow) -> Result<Track, ApiError> {
    let cues = parse_cues(&row.cues)?;
    let too_fast = cues
        .iter()
        .enumerate()
        .filter(|(_, c)| subtitle_track::reading_speed(c) > subtitle_track::MAX_READING_CPS)
        .map(|(i, _)| i)
        .collect();
    Ok(Track {
        language: languages::language_name(&row.lang).unwrap_or_default().into(),
        lang: row.lang,
        cues,
        too_fast,
        max_reading_cps: subtitle_track::MAX_READING_CPS,
        updated_at: row.updated_at,
    })
}
