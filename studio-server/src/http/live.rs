// SPDX-License-Identifier: MPL-2.0
//! Live sessions over HTTP: start/inspect/switch/stop a session, WHEP for
//! its viewers, the preview, publish and kiosk pages.
//!
//! A session's id is a 128-bit random capability: whoever has the preview
//! link may watch (a kiosk needs no sign-in), and nothing more. Its figures,
//! its viewer list and every switch take its owner's token (others get 404,
//! so ids are not confirmed). A viewer's own resource (`.../whep/ID.SECRET`)
//! carries a secret only that viewer and the owner know. Sessions started by
//! `reenact live` have no owner: its router ([`local`]) lets only the holder
//! of its per-run token in.

pub mod local;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, LOCATION, RETRY_AFTER};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use reenact_engine::live::dub as live_dub;
use reenact_engine::live::{element_models, Elements, LiveDub, LiveElement, LiveOptions, LiveOutput, LiveSource};
use reenact_engine::PresetLibrary;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{authenticate, JwtKeys};
use super::error::ApiError;
use super::extract::{AppBytes, AppPath, AppQuery};
use crate::live::consent::{ConsentError, ConsentView, VisitorConsent, VisitorGate};
use crate::live::kiosk::{valid_pin, LeaveError};
use crate::live::network::{IceServer, TURN_TTL};
use crate::live::trickle::{Patched, TrickleError, FRAG_LIMIT};
use crate::live::{LiveError, LiveHub, LiveSession, OfferError, SessionSummary, ViewerReport};

/// Largest SDP offer accepted.
const SDP_LIMIT: usize = 64 * 1024;

const PAGE: &str = include_str!("../../assets/live.html");
const WHEP_JS: &str = include_str!("../../assets/whep.js");
const PUBLISH_PAGE: &str = include_str!("../../assets/publish.html");
const PUBLISH_JS: &str = include_str!("../../assets/publish.js");
const ICE_JS: &str = include_str!("../../assets/ice.js");

/// What the live routes reach.
#[derive(Clone, Debug)]
pub struct LiveState {
    pub hub: Arc<LiveHub>,
    pub presets: Arc<PresetLibrary>,
    /// Token keys of a multi-user server; `None` for `reenact live` (no accounts, local files allowed).
    pub keys: Option<Arc<JwtKeys>>,
    /// The server's database, for sessions started for a project.
    pub db: Option<sqlx::AnyPool>,
}

/// The live routes, with their own state, mergeable into any router.
pub fn router<S: Clone + Send + Sync + 'static>(state: LiveState) -> Router<S> {
    documented(state).into()
}

/// The same routes with their OpenAPI operations (the page and script are not API).
pub fn documented<S: Clone + Send + Sync + 'static>(state: LiveState) -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(start, list))
        .routes(routes!(show, switch, stop))
        .routes(routes!(whep_offer))
        .routes(routes!(whep_stop, whep_patch))
        .routes(routes!(whip_offer))
        .routes(routes!(whip_stop, whip_patch))
        .routes(routes!(viewer_stats))
        .routes(routes!(kiosk_leave))
        .routes(routes!(consent_show, consent_update))
        .routes(routes!(stream_manifest))
        .routes(routes!(ice_servers))
        .route("/live/{session}", get(page))
        .route("/live/{session}/publish", get(publish_page))
        .route("/kiosk/{session}", get(kiosk_page))
        .route("/assets/whep.js", get(whep_js))
        .route("/assets/publish.js", get(publish_js))
        .route("/assets/ice.js", get(ice_js))
        .with_state(state)
}

impl From<LiveError> for ApiError {
    fn from(err: LiveError) -> Self {
        match err {
            LiveError::UnknownSession(_) | LiveError::UnknownViewer(_) | LiveError::UnknownPublisher(_) => {
                ApiError::NotFound
            }
            LiveError::Offer(OfferError::Unsupported(_) | OfferError::UnsupportedPublish(_)) => {
                ApiError::UnsupportedMedia(err.to_string())
            }
            LiveError::PublisherConnected | LiveError::NotBrowser(_) | LiveError::PreviewReplaced => {
                ApiError::Conflict(err.to_string())
            }
            LiveError::Offer(_) => ApiError::BadRequest(err.to_string()),
            LiveError::Full | LiveError::AddressFull | LiveError::ShowLimit(_) => {
                ApiError::TooManyRequests(err.to_string())
            }
            LiveError::Trickle(TrickleError::Stale { .. }) => ApiError::PreconditionFailed(err.to_string()),
            LiveError::Trickle(TrickleError::OtherSession(_)) => ApiError::Unprocessable(err.to_string()),
            LiveError::Trickle(_) => ApiError::BadRequest(err.to_string()),
            LiveError::Engine(e) => ApiError::BadRequest(e.to_string()),
            LiveError::WebRtc(e) => ApiError::Internal(e),
        }
    }
}

/// The caller's user id: required on a multi-user server, `None` for `reenact live`.
/// The token's session must still be live (signed out or deleted accounts get 401).
async fn caller(state: &LiveState, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(keys) = &state.keys else { return Ok(None) };
    let db = state.db.as_ref().ok_or(ApiError::Internal("live routes with accounts need the database".into()))?;
    let header = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized("missing Authorization header"))?;
    let token = header.strip_prefix("Bearer ").ok_or(ApiError::Unauthorized("expected a Bearer token"))?;
    Ok(Some(authenticate(keys, db, token).await?.id))
}

/// The session, if the caller may control it (others get 404, not 403: ids are not disclosed).
async fn owned(state: &LiveState, headers: &HeaderMap, id: &str) -> Result<Arc<LiveSession>, ApiError> {
    Ok(owned_by(state, headers, id).await?.0)
}

/// [`owned`], with the caller's user id (`None` for `reenact live`).
async fn owned_by(
    state: &LiveState,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Arc<LiveSession>, Option<String>), ApiError> {
    let user = caller(state, headers).await?;
    let session = state.hub.get(id)?;
    if session.owner.is_some() && session.owner != user {
        return Err(ApiError::NotFound);
    }
    Ok((session, user))
}

/// Whether the request comes from `session`'s owner; a missing or bad token is a viewer.
async fn is_owner(state: &LiveState, headers: &HeaderMap, session: &LiveSession) -> bool {
    match caller(state, headers).await {
        Ok(user) => session.owner.is_none() || session.owner == user,
        Err(_) => false,
    }
}

/// The address a viewer's seat is counted against: the peer's IP, an IPv6 peer's /64
/// (one household or host has a whole /64). Without connection info (in-process calls)
/// every request shares one address.
pub(super) fn viewer_address(extensions: &Extensions) -> IpAddr {
    let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() else {
        return IpAddr::from([0, 0, 0, 0]);
    };
    match peer.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

/// `body` read as JSON; anything not sent as `application/json` is refused with 415, so a
/// page elsewhere cannot send it as a form or plain text without a CORS preflight.
fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8], what: &str) -> Result<T, ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMedia(format!(
            "a {what} is sent as Content-Type: application/json, not `{content_type}`"
        )));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    /// `test`, `browser` (the presenter's camera over WHIP) or `camera:/dev/videoN`
    /// (`file:PATH` for `reenact live` only).
    source: String,
    #[serde(default = "default_preset")]
    preset: String,
    /// Elements on at start, e.g. `"matte"` or `"faceswap,voice"`.
    #[serde(default)]
    elements: String,
    /// Burn the capture clock for latency measurement (default: on for the test source).
    timecode: Option<bool>,
    /// The project the show belongs to (one of the caller's).
    project_id: Option<String>,
    /// Where the show goes besides the preview: `rtmp://..`/`rtmps://..` (server, application
    /// and stream key) or `srt://host:port` URLs (`record:` and `v4l2:` for `reenact live` only).
    #[serde(default)]
    outputs: Vec<String>,
    /// Staff PIN (4 to 12 digits) that leaves the show's kiosk screens; checked by the server.
    kiosk_pin: Option<String>,
    /// Visitor mode: nothing of the camera is shown, recorded or streamed until a visitor
    /// accepts on the kiosk screen (its link in the summary carries the consent key).
    visitor_consent: Option<VisitorConsent>,
    /// Commercial work: elements whose models are not cleared for commercial use, and
    /// characters whose rights are non-commercial, are refused (at start and when switched).
    /// A show of a commercial project (`project_id`) is commercial either way.
    #[serde(default)]
    commercial: bool,
    /// The language of the speech live captions transcribe: a whisper code (`en`, `de`,
    /// `fr`, ...) or `auto` to detect it; anything but `en` uses the multilingual model.
    #[serde(default = "default_caption_language")]
    caption_language: String,
    /// The face swaps keep what the performer holds in front of their face (a cup, a glove,
    /// hair) where its colour is not their skin's (default false).
    #[serde(default)]
    occlusion_mask: bool,
    /// Dub the performer's speech (in `caption_language`) into another language, played with
    /// the picture after a delay; the performer's own sound is not played.
    dub: Option<DubRequest>,
}

/// A live dub: `{"language": "en", "delay_s": 8}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DubRequest {
    /// BCP 47 tag of the language the audience hears.
    language: String,
    /// Seconds the dub and the picture play after the performer (6 to 30, default 8).
    delay_s: Option<f64>,
}

impl DubRequest {
    fn checked(&self) -> Result<LiveDub, ApiError> {
        let language =
            reenact_engine::languages::canonical_tag(&self.language).map_err(|e| field("dub.language", e))?;
        let delay = match self.delay_s {
            None => live_dub::DEFAULT_DELAY,
            Some(s) => live_dub::delay_from_secs(s).map_err(|e| field("dub.delay_s", e))?,
        };
        Ok(LiveDub { language, delay })
    }
}

fn default_caption_language() -> String {
    "en".into()
}

/// Most destinations one show is pushed to.
const MAX_OUTPUTS: usize = 4;

/// Most characters one show plays (each brings its own face swap and voice to the graph).
const MAX_CHARACTERS: usize = 8;

/// The project's characters, with their voices, written for the show to load: the folder
/// (removed with the show) and the files. The cast is every character the project plays,
/// wherever it was made (`library::project_cast_ids`). Their rights are checked when one is
/// switched on.
async fn project_cast(
    db: &sqlx::AnyPool,
    user: &str,
    project: &str,
) -> Result<(crate::live::CastDir, Vec<std::path::PathBuf>), ApiError> {
    let row = crate::db::projects::get(db, user, project)
        .await?
        .ok_or_else(|| field("project_id", format!("no project `{project}`")))?;
    let rows = crate::library::project_cast_ids(db, user, &row).await?;
    if rows.len() > MAX_CHARACTERS {
        return Err(field(
            "project_id",
            format!("the project has {} characters; a show plays at most {MAX_CHARACTERS}", rows.len()),
        ));
    }
    let dir =
        crate::live::CastDir(std::env::temp_dir().join(format!("reenact-cast-{}", uuid::Uuid::new_v4().simple())));
    let mut files = Vec::new();
    for id in rows {
        let found = crate::casting::character(db, user, &id).await.map_err(|e| ApiError::Internal(e.to_string()))?;
        let Some((_, character)) = found else { continue };
        std::fs::create_dir_all(&dir.0).map_err(|e| ApiError::Internal(format!("cast folder: {e}")))?;
        let file = dir.0.join(format!("{id}{}", gstreenact::character::FILE_SUFFIX));
        character.save(&file).map_err(|e| ApiError::Internal(e.to_string()))?;
        files.push(file);
    }
    Ok((dir, files))
}

fn default_preset() -> String {
    "live-720p".into()
}

/// Starts a live session; `Location` names it. Its summary carries the preview and WHEP links.
#[utoipa::path(post, path = "/api/live", tag = "live", request_body = StartRequest, responses(
    (status = 201, description = "the session's summary", body = Object),
))]
async fn start(
    State(state): State<LiveState>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> Result<Response, ApiError> {
    let owner = caller(&state, &headers).await?;
    let request: StartRequest = json_body(&headers, &body, "live session request")?;
    let source: LiveSource = request.source.parse().map_err(|e: reenact_engine::EngineError| field("source", e))?;
    if matches!(source, LiveSource::File(_)) && state.keys.is_some() {
        return Err(ApiError::BadRequest("source: file: sources are for `reenact live`; use test or camera:".into()));
    }
    if let (LiveSource::Camera(_), Some(db), Some(user)) = (&source, &state.db, &owner) {
        check_camera_user(&state.hub, db, user).await?;
    }
    if request.kiosk_pin.as_deref().is_some_and(|pin| !valid_pin(pin)) {
        return Err(field("kiosk_pin", "4 to 12 digits"));
    }
    let preset = state.presets.get(&request.preset).map_err(|e| field("preset", e))?.clone();
    reenact_engine::languages::check_speech_language(&request.caption_language)
        .map_err(|e| field("caption_language", e))?;
    let elements = Elements::parse_list(&request.elements).map_err(|e| field("elements", e))?;
    let dub = request.dub.as_ref().map(DubRequest::checked).transpose()?;
    // A show of a commercial project is commercial work whatever the request says.
    let mut commercial = request.commercial;
    if let Some(project) = &request.project_id {
        let (Some(db), Some(user)) = (&state.db, &owner) else {
            return Err(field("project_id", "projects belong to accounts of `reenact serve`"));
        };
        let Some(row) = crate::db::projects::get(db, user, project).await? else {
            return Err(field("project_id", format!("no project `{project}`")));
        };
        commercial |= row.commercial != 0;
    }
    check_show_models(&elements.on(), &request.caption_language, commercial)?;
    if let Some(dub) = &dub {
        check_dub_models(&request.caption_language, dub, commercial)?;
    }
    let outputs = parse_outputs(&request.outputs, state.keys.is_some())?;
    let consent = match request.visitor_consent {
        Some(settings) => {
            let records = outputs.iter().any(|o| matches!(o, LiveOutput::Record(_)));
            settings.check(records).map_err(|e| field("visitor_consent", e))?;
            Some(VisitorGate::new(settings, !outputs.is_empty(), crate::live::consent::new_key()))
        }
        None => None,
    };
    let mut options = LiveOptions::new(source, preset);
    options.elements = elements;
    options.outputs = outputs;
    options.timecode = request.timecode.unwrap_or(options.timecode);
    options.caption_language = request.caption_language;
    options.occlusion_mask = request.occlusion_mask;
    options.dub = dub;
    let cast = match (&request.project_id, &state.db, &owner) {
        (Some(project), Some(db), Some(user)) => Some(project_cast(db, user, project).await?),
        _ => None,
    };
    if let Some((_, files)) = &cast {
        options.characters = files.clone();
    }
    let session = state.hub.start_with(options, owner, request.project_id, consent).await?;
    if let Some((dir, _)) = cast {
        session.keep_cast(dir);
    }
    session.kiosk.set(request.kiosk_pin.as_deref());
    session.commercial.store(commercial, std::sync::atomic::Ordering::SeqCst);
    let summary = session.summary();
    Ok((StatusCode::CREATED, [(LOCATION, format!("/api/live/{}", session.id))], Json(summary)).into_response())
}

/// The server's cameras are opened only for the accounts `--live-camera-users` names.
async fn check_camera_user(hub: &LiveHub, db: &sqlx::AnyPool, user: &str) -> Result<(), ApiError> {
    let email = crate::db::users::by_id(db, user).await?.map(|u| u.email).unwrap_or_default();
    if hub.policy.may_open_cameras(&email) {
        return Ok(());
    }
    Err(ApiError::Forbidden(
        "source: the server's cameras are open only to the accounts its operator names (live-camera-users)".into(),
    ))
}

/// The request's outputs; a server with accounts only pushes to network destinations, as
/// files and devices of the server are not the users'.
fn parse_outputs(urls: &[String], accounts: bool) -> Result<Vec<LiveOutput>, ApiError> {
    if urls.len() > MAX_OUTPUTS {
        return Err(field("outputs", format!("at most {MAX_OUTPUTS} destinations")));
    }
    let mut outputs = Vec::with_capacity(urls.len());
    for (i, url) in urls.iter().enumerate() {
        let name = format!("outputs[{i}]");
        let output: LiveOutput = url.parse().map_err(|e| field(&name, e))?;
        if accounts && matches!(output, LiveOutput::Record(_) | LiveOutput::VirtualCamera(_)) {
            return Err(field(&name, "record: and v4l2: are for `reenact live`; use rtmp://, rtmps:// or srt://"));
        }
        outputs.push(output);
    }
    Ok(outputs)
}

/// In a commercial show, refuses `elements` that run a model not cleared for commercial use
/// (403, naming the model and its licence); captions for speech in `caption_language`.
pub fn check_show_models(elements: &[LiveElement], caption_language: &str, commercial: bool) -> Result<(), ApiError> {
    if !commercial || elements.is_empty() {
        return Ok(());
    }
    let catalog = reenact_models::Catalog::load().map_err(|e| ApiError::Internal(format!("model catalog: {e}")))?;
    let mut names = Vec::new();
    for element in elements {
        names.extend(element_models(*element, caption_language).map_err(|e| ApiError::BadRequest(e.to_string()))?);
    }
    crate::credentials::check_models(names, &catalog, true).map_err(ApiError::Forbidden)
}

/// Refuses, in commercial work, a dub whose models are not cleared for it (403, naming one).
pub fn check_dub_models(speech_language: &str, dub: &LiveDub, commercial: bool) -> Result<(), ApiError> {
    if !commercial {
        return Ok(());
    }
    let catalog = reenact_models::Catalog::load().map_err(|e| ApiError::Internal(format!("model catalog: {e}")))?;
    let names = live_dub::planned_models(speech_language, dub);
    crate::credentials::check_models(names.iter().map(String::as_str), &catalog, true)
        .map_err(|e| ApiError::Forbidden(format!("dub: {e}")))
}

fn field(name: &str, err: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("{name}: {err}"))
}

#[derive(Debug, Deserialize, IntoParams)]
struct ListQuery {
    /// Only the sessions of this project.
    project_id: Option<String>,
}

/// The caller's running sessions.
#[utoipa::path(get, path = "/api/live", tag = "live", params(ListQuery), responses((status = 200, body = Vec<Object>)))]
async fn list(
    State(state): State<LiveState>,
    headers: HeaderMap,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Vec<SessionSummary>>, ApiError> {
    let user = caller(&state, &headers).await?;
    let sessions = state.hub.list(user.as_deref());
    let wanted = |s: &&Arc<LiveSession>| query.project_id.is_none() || s.project == query.project_id;
    Ok(Json(sessions.iter().filter(wanted).map(|s| s.summary()).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
struct ShowQuery {
    /// Leave each viewer's first seconds out of its latency figures.
    #[serde(default)]
    skip_s: f64,
}

/// Figures of the graph and of every viewer; for the session's owner only.
#[utoipa::path(get, path = "/api/live/{session}", tag = "live", params(("session" = String, Path), ShowQuery),
    responses((status = 200, description = "latency, fps and drops of the graph and of each viewer", body = Object)))]
async fn show(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    AppQuery(query): AppQuery<ShowQuery>,
) -> Result<Json<SessionSummary>, ApiError> {
    let session = owned(&state, &headers, &id).await?;
    let skip = Duration::try_from_secs_f64(query.skip_s)
        .map_err(|_| ApiError::BadRequest("skip_s: a number of seconds, 0 or more".into()))?;
    Ok(Json(session.summary_after(skip)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SwitchRequest {
    character: Option<String>,
    /// Element name -> on/off, e.g. `{"matte": true, "voice": false}`.
    #[serde(default)]
    elements: std::collections::BTreeMap<String, bool>,
    /// A new staff PIN for the kiosk screens; `""` removes it.
    kiosk_pin: Option<String>,
}

/// Switches character and elements at the next frame, without a restart.
#[utoipa::path(patch, path = "/api/live/{session}", tag = "live", params(("session" = String, Path)), request_body = SwitchRequest,
    responses((status = 200, body = Object)))]
async fn switch(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> Result<Json<SessionSummary>, ApiError> {
    let session = owned(&state, &headers, &id).await?;
    let request: SwitchRequest = json_body(&headers, &body, "live switch request")?;
    match request.kiosk_pin.as_deref() {
        Some("") => session.kiosk.set(None),
        Some(pin) if valid_pin(pin) => session.kiosk.set(Some(pin)),
        Some(_) => return Err(field("kiosk_pin", "4 to 12 digits, or \"\" to remove it")),
        None => {}
    }
    let mut changes = Vec::new();
    for (name, on) in &request.elements {
        let element: LiveElement = name.parse().map_err(|e| field(&format!("elements.{name}"), e))?;
        changes.push((element, *on, name.as_str()));
    }
    let commercial = session.commercial.load(std::sync::atomic::Ordering::SeqCst);
    let switched_on: Vec<LiveElement> = changes.iter().filter(|c| c.1).map(|c| c.0).collect();
    let language = session.with_runner(|r| r.caption_language().to_owned()).unwrap_or_default();
    check_show_models(&switched_on, &language, commercial)?;
    if let Some(character) = &request.character {
        // Rights are checked at each switch: a show runs for days, and rights expire.
        let file = session.with_runner(|runner| runner.character_file(character).cloned()).flatten();
        if let Some(file) = file {
            let cast = std::collections::BTreeMap::from([(character.clone(), file)]);
            crate::credentials::check_cast(&cast, commercial).map_err(ApiError::Forbidden)?;
        }
    }
    session
        .with_runner(|runner| -> Result<(), ApiError> {
            if let Some(character) = &request.character {
                runner.set_character(character).map_err(|e| field("character", e))?;
            }
            for (element, on, name) in changes {
                runner.set_element(element, on).map_err(|e| field(&format!("elements.{name}"), e))?;
            }
            Ok(())
        })
        .ok_or(ApiError::NotFound)??;
    Ok(Json(session.summary()))
}

/// Stops the session and disconnects its viewers.
#[utoipa::path(delete, path = "/api/live/{session}", tag = "live", params(("session" = String, Path)), responses((status = 204)))]
async fn stop(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    owned(&state, &headers, &id).await?;
    state.hub.stop(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// WHEP: an SDP offer in, `201 Created` with the answer and the viewer's
/// resource in `Location` out (its last part, `ID.SECRET`, is the viewer's own key).
/// One address holds a few viewers at most, and two seats are kept for the owner.
#[utoipa::path(post, path = "/api/live/{session}/whep", tag = "live", security(()), params(("session" = String, Path)),
    request_body(content = String, content_type = "application/sdp"),
    responses((status = 201, description = "the SDP answer", body = String, content_type = "application/sdp")))]
async fn whep_offer(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    extensions: Extensions,
    AppBytes(body): AppBytes,
) -> Result<Response, ApiError> {
    let session = state.hub.get(&id)?;
    let offer = sdp_body(&headers, &body, "WHEP")?;
    let owner = is_owner(&state, &headers, &session).await;
    let (viewer, answer) = session.add_viewer(offer, viewer_address(&extensions), owner).await?;
    let etag = session.viewer_etag(viewer.split('.').next().unwrap_or_default()).unwrap_or_default();
    let location = format!("/api/live/{id}/whep/{viewer}");
    let headers = [(CONTENT_TYPE, "application/sdp".to_owned()), (LOCATION, location), (ETAG, etag)];
    Ok((StatusCode::CREATED, headers, answer).into_response())
}

/// Ends one viewer (WHEP resource deletion): the viewer itself (`ID.SECRET`, as its
/// `Location` said) or the session's owner (`ID`, as the figures list it).
#[utoipa::path(delete, path = "/api/live/{session}/whep/{viewer}", tag = "live", security(()),
    params(("session" = String, Path), ("viewer" = String, Path)), responses((status = 204)))]
async fn whep_stop(
    State(state): State<LiveState>,
    AppPath((id, resource)): AppPath<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let session = state.hub.get(&id)?;
    let viewer = session.viewer_for(&resource, is_owner(&state, &headers, &session).await)?;
    session.remove_viewer(&viewer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// WHIP: the owner's browser publishes its camera and microphone to a show started with
/// source `browser`. An SDP offer in (H264 or VP8 video, Opus audio), `201 Created` with the
/// answer and the publisher's resource in `Location` out; 409 while another publisher is
/// connected, 415 for codecs the show cannot decode.
#[utoipa::path(post, path = "/api/live/{session}/whip", tag = "live", params(("session" = String, Path)),
    request_body(content = String, content_type = "application/sdp"),
    responses((status = 201, description = "the SDP answer", body = String, content_type = "application/sdp")))]
async fn whip_offer(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> Result<Response, ApiError> {
    let session = owned(&state, &headers, &id).await?;
    let offer = sdp_body(&headers, &body, "WHIP")?;
    let (publisher, answer) = session.add_publisher(offer).await?;
    let etag = session.publisher_etag(&publisher).unwrap_or_default();
    let location = format!("/api/live/{id}/whip/{publisher}");
    let headers = [(CONTENT_TYPE, "application/sdp".to_owned()), (LOCATION, location), (ETAG, etag)];
    Ok((StatusCode::CREATED, headers, answer).into_response())
}

/// Ends the publisher (WHIP resource deletion); the show goes on with its attract picture
/// and a new publisher may connect.
#[utoipa::path(delete, path = "/api/live/{session}/whip/{publisher}", tag = "live",
    params(("session" = String, Path), ("publisher" = String, Path)), responses((status = 204)))]
async fn whip_stop(
    State(state): State<LiveState>,
    AppPath((id, publisher)): AppPath<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let session = owned(&state, &headers, &id).await?;
    session.remove_publisher(&publisher).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Trickle ICE and ICE restart (RFC 9725): an `application/trickle-ice-sdpfrag` body.
/// Candidates of the current ICE session are added (204); new `ice-ufrag`/`ice-pwd` restart
/// ICE (200, the server's new credentials and candidates as a fragment, a new `ETag`).
/// `If-Match` naming an older ICE session gets 412.
#[utoipa::path(patch, path = "/api/live/{session}/whip/{publisher}", tag = "live",
    params(("session" = String, Path), ("publisher" = String, Path)),
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag"),
    responses((status = 204, description = "candidates added"),
        (status = 200, description = "ICE restarted: the answer's fragment", body = String,
            content_type = "application/trickle-ice-sdpfrag")))]
async fn whip_patch(
    State(state): State<LiveState>,
    AppPath((id, publisher)): AppPath<(String, String)>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> Result<Response, ApiError> {
    let session = owned(&state, &headers, &id).await?;
    let fragment = fragment_body(&headers, &body)?;
    let patched = session.patch_publisher(&publisher, &fragment, if_match(&headers)).await?;
    Ok(patched_response(patched))
}

/// The fragment of a trickle ICE request, checked for type, size and encoding.
pub(super) fn fragment_body(headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/trickle-ice-sdpfrag") {
        return Err(ApiError::UnsupportedMedia(format!(
            "trickle ICE is sent as Content-Type: application/trickle-ice-sdpfrag, not `{content_type}`"
        )));
    }
    if body.len() > FRAG_LIMIT {
        return Err(ApiError::PayloadTooLarge(format!("trickle ICE fragments are limited to {FRAG_LIMIT} bytes")));
    }
    String::from_utf8(body.to_vec()).map_err(|_| ApiError::BadRequest("the fragment is not UTF-8".into()))
}

pub(super) fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(IF_MATCH).and_then(|v| v.to_str().ok())
}

pub(super) fn patched_response(patched: Patched) -> Response {
    match patched {
        Patched::Added => StatusCode::NO_CONTENT.into_response(),
        Patched::Restarted { fragment, etag } => {
            let headers = [(CONTENT_TYPE, "application/trickle-ice-sdpfrag".to_owned()), (ETAG, etag)];
            (StatusCode::OK, headers, fragment).into_response()
        }
    }
}

/// The SDP offer of a WHIP or WHEP request, checked for type, size and encoding.
pub(super) fn sdp_body(headers: &HeaderMap, body: &[u8], protocol: &str) -> Result<String, ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/sdp") {
        return Err(ApiError::UnsupportedMedia(format!(
            "a {protocol} offer is sent as Content-Type: application/sdp, not `{content_type}`"
        )));
    }
    if body.len() > SDP_LIMIT {
        return Err(ApiError::PayloadTooLarge(format!("SDP offers are limited to {SDP_LIMIT} bytes")));
    }
    String::from_utf8(body.to_vec()).map_err(|_| ApiError::BadRequest("the offer is not UTF-8".into()))
}

/// Trickle ICE and ICE restart for one viewer, as for a publisher (`PATCH .../whip/..`):
/// the viewer itself (`ID.SECRET`) or the session's owner (`ID`).
#[utoipa::path(patch, path = "/api/live/{session}/whep/{viewer}", tag = "live", security(()),
    params(("session" = String, Path), ("viewer" = String, Path)),
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag"),
    responses((status = 204, description = "candidates added"),
        (status = 200, description = "ICE restarted: the answer's fragment", body = String,
            content_type = "application/trickle-ice-sdpfrag")))]
async fn whep_patch(
    State(state): State<LiveState>,
    AppPath((id, resource)): AppPath<(String, String)>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> Result<Response, ApiError> {
    let session = state.hub.get(&id)?;
    let viewer = session.viewer_for(&resource, is_owner(&state, &headers, &session).await)?;
    let fragment = fragment_body(&headers, &body)?;
    let patched = session.patch_viewer(&viewer, &fragment, if_match(&headers)).await?;
    Ok(patched_response(patched))
}

/// A viewer's own figures (frames decoded, jitter), reported by the preview page under
/// its `ID.SECRET` resource.
#[utoipa::path(post, path = "/api/live/{session}/whep/{viewer}/stats", tag = "live", security(()),
    params(("session" = String, Path), ("viewer" = String, Path)), request_body = Object, responses((status = 204)))]
async fn viewer_stats(
    State(state): State<LiveState>,
    AppPath((id, resource)): AppPath<(String, String)>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> Result<StatusCode, ApiError> {
    let report: ViewerReport = json_body(&headers, &body, "viewer report")?;
    let session = state.hub.get(&id)?;
    let viewer = session.viewer_for(&resource, false)?;
    session.report(&viewer, report)?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a publishing or viewing page passes to `RTCPeerConnection` as `iceServers`.
#[derive(Debug, Serialize, ToSchema)]
struct IceServers {
    ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working (Unix seconds); fetch again before then.
    expires_at: u64,
    /// `RTCConfiguration.iceTransportPolicy`: `relay` when the operator allows relayed routes only.
    ice_transport_policy: &'static str,
}

/// The session's STUN and TURN servers for its owner's pages, with TURN credentials made
/// for this caller now (valid an hour; the shared secret itself is never sent).
#[utoipa::path(get, path = "/api/live/{session}/ice-servers", tag = "live", params(("session" = String, Path)),
    responses((status = 200, body = IceServers)))]
async fn ice_servers(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
) -> Result<Json<IceServers>, ApiError> {
    let (session, user) = owned_by(&state, &headers, &id).await?;
    let now = SystemTime::now();
    // `reenact live` has no accounts. Not the session id: that is a capability, and relays log
    // usernames.
    let name = user.unwrap_or_else(|| "live".to_owned());
    let expires_at = (now + TURN_TTL).duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    Ok(Json(IceServers {
        ice_servers: session.network.ice_servers_for(&name, now),
        expires_at,
        ice_transport_policy: session.network.transport_policy(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LeaveRequest {
    pin: String,
}

/// Staff leave a kiosk screen: the server checks the PIN (in constant time; wrong guesses
/// are spaced out, 429 with `Retry-After` meanwhile). 403 for a wrong PIN or none set.
#[utoipa::path(post, path = "/api/live/{session}/kiosk/leave", tag = "live", security(()),
    params(("session" = String, Path)), request_body = LeaveRequest, responses((status = 204)))]
async fn kiosk_leave(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: LeaveRequest = json_body(&headers, &body, "kiosk leave request")?;
    let session = state.hub.get(&id)?;
    match session.kiosk.check(&request.pin) {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(LeaveError::Throttled(wait)) => {
            let retry = wait.as_secs().max(1).to_string();
            let refused = ApiError::TooManyRequests(LeaveError::Throttled(wait).to_string());
            Ok(([(RETRY_AFTER, retry)], refused).into_response())
        }
        Err(err) => Err(ApiError::Forbidden(err.to_string())),
    }
}

impl From<ConsentError> for ApiError {
    fn from(err: ConsentError) -> Self {
        match err {
            ConsentError::NotVisitorMode => ApiError::Conflict(err.to_string()),
            ConsentError::WrongKey => ApiError::Forbidden(err.to_string()),
        }
    }
}

/// Whether the show asks for consent, in which languages, what it keeps, and whether a
/// visitor is on air: what the kiosk page shows (anyone holding the show's id).
#[utoipa::path(get, path = "/api/live/{session}/consent", tag = "live", security(()),
    params(("session" = String, Path)), responses((status = 200, body = ConsentView)))]
async fn consent_show(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
) -> Result<Json<ConsentView>, ApiError> {
    Ok(Json(state.hub.get(&id)?.consent_view()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConsentRequest {
    /// The kiosk link's consent key (its `#consent=` fragment).
    key: String,
    /// `true`: the visitor accepts; `false`: the visitor ends the visit.
    accept: bool,
}

/// A visitor accepts on the kiosk screen (the camera goes on air at the next frame) or ends
/// the visit. Takes the kiosk's consent key, not the owner's sign-in: 403 for a wrong key or a
/// request a browser marks as sent from another site, 415 for anything but JSON (so a page
/// elsewhere cannot send it without a CORS preflight), 409 for a show without visitor mode.
#[utoipa::path(post, path = "/api/live/{session}/consent", tag = "live", security(()),
    params(("session" = String, Path)), request_body = ConsentRequest, responses((status = 200, body = ConsentView)))]
async fn consent_update(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ConsentView>, ApiError> {
    let cross_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site");
    if cross_site {
        return Err(ApiError::Forbidden("consent is given on the kiosk screen, not from another site".into()));
    }
    let request: ConsentRequest = json_body(&headers, &body, "consent request")?;
    let session = state.hub.get(&id)?;
    Ok(Json(session.visitor(&request.key, request.accept)?))
}

/// The live stream described as synthetic media, C2PA-style: the actions with their digital
/// source type, the characters played with their rights, the models each element runs (version,
/// hash, licence) and the software. Anyone holding the show's id (its viewers, its kiosks) may
/// read it: it is the stream's disclosure.
#[utoipa::path(get, path = "/api/live/{session}/manifest", tag = "live", security(()),
    params(("session" = String, Path)), responses((status = 200, body = Object)))]
async fn stream_manifest(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let session = state.hub.get(&id)?;
    let (stats, files) = session
        .with_runner(|r| {
            let stats = r.stats();
            let files: Vec<_> = stats.characters.iter().filter_map(|n| r.character_file(n).cloned()).collect();
            (stats, files)
        })
        .ok_or(ApiError::NotFound)?;
    let on = stats.elements;
    let source_type = if on.faceswap || on.voice || on.lipsync {
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    } else {
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
    };
    let mut characters = Vec::new();
    for file in files {
        let character = gstreenact::character::Character::load(&file).map_err(|e| ApiError::Internal(e.to_string()))?;
        let active = stats.character.as_deref() == Some(character.name.as_str());
        characters.push(serde_json::json!({
            "name": character.name,
            "active": active,
            // Characters made before rights were recorded say so rather than pass silently.
            "rights": character.rights.as_ref().map_or(serde_json::json!("not recorded"), |r| serde_json::json!(r)),
            "voice_rights": character.voice.as_ref().and_then(|v| v.rights.as_ref()),
        }));
    }
    let catalog = reenact_models::Catalog::load().ok();
    let mut models: Vec<serde_json::Value> = Vec::new();
    for element in on.on() {
        for name in element_models(element, &stats.captions_language).map_err(|e| ApiError::Internal(e.to_string()))? {
            let entry = catalog.as_ref().and_then(|c| c.entry(name)).map(|e| &e.model);
            let record = serde_json::json!({
                "name": name,
                "element": format!("{element:?}").to_lowercase(),
                "version": entry.map(|m| m.version.clone()),
                "sha256": entry.map(|m| m.sha256.clone()),
                "license": entry.map(|m| m.license.clone()),
                "commercial_use": entry.and_then(|m| m.commercial_use),
            });
            if !models.iter().any(|m| m["name"] == name) {
                models.push(record);
            }
        }
    }
    Ok(Json(serde_json::json!({
        "claim_generator": format!("Reenact Studio/{}", env!("CARGO_PKG_VERSION")),
        "title": format!("Live show {}", session.log_id()),
        "format": "application/x-webrtc+h264+opus",
        "live": true,
        "commercial": session.commercial.load(std::sync::atomic::Ordering::SeqCst),
        "assertions": [
            { "label": "c2pa.actions", "data": { "actions": [{
                "action": "c2pa.created",
                "digitalSourceType": source_type,
                "softwareAgent": { "name": "Reenact Studio", "version": env!("CARGO_PKG_VERSION") },
            }]}},
            { "label": "reenact.characters", "data": characters },
            { "label": "reenact.models", "data": models },
            { "label": "reenact.elements", "data": on },
        ],
    })))
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// The kiosk page for a running show or an installation; any other id is 404, so that a
/// guessed name shows nothing.
async fn kiosk_page(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
) -> Result<Html<&'static str>, ApiError> {
    if !state.hub.kiosk_known(&id) {
        return Err(ApiError::NotFound);
    }
    Ok(Html(reenact_ui::KIOSK_PAGE))
}

async fn whep_js() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], WHEP_JS)
}

/// The presenter's publish page (camera and microphone over WHIP) for a running show; any
/// other id is 404. The page itself holds nothing: publishing takes the show's token.
async fn publish_page(
    State(state): State<LiveState>,
    AppPath(id): AppPath<String>,
) -> Result<Html<&'static str>, ApiError> {
    state.hub.get(&id)?;
    Ok(Html(PUBLISH_PAGE))
}

async fn publish_js() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], PUBLISH_JS)
}

async fn ice_js() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], ICE_JS)
}
