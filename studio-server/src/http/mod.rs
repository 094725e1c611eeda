// SPDX-License-Identifier: MPL-2.0
//! The HTTP surface: one router per resource, merged under `/api`.

mod account;
mod audit;
pub mod auth;
mod characters;
mod clips;
pub mod error;
pub mod events;
mod extract;
mod fallback;
mod files;
mod headers;
mod imports;
mod jobs;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod models;
mod openapi;
mod presets;
mod preview;
mod projects;
mod renders;
mod scenes;
mod subtitles;
mod uploads;
mod voices;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{header, StatusCode};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use reenact_engine::PresetLibrary;
use sqlx::AnyPool;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::storage::Storage;

pub use auth::JwtKeys;

/// JSON bodies above this size are refused with 413.
pub const JSON_BODY_LIMIT: usize = 2 << 20;

/// What every handler may reach.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    pub presets: Arc<PresetLibrary>,
    pub db: AnyPool,
    pub keys: Arc<JwtKeys>,
    pub login_limiter: Arc<limits::LoginLimiter>,
    pub storage: Arc<Storage>,
    /// Largest accepted upload in bytes.
    pub upload_limit: usize,
    /// Stored bytes allowed per user.
    pub quota_bytes: u64,
    /// Queued plus running jobs one user may have.
    pub max_active_jobs: i64,
    /// Whether URL imports may reach loopback, private and link-local addresses.
    pub imports_allow_private: bool,
    /// Running live sessions.
    pub live: Arc<crate::live::LiveHub>,
    /// How the browser studio sets its session cookie (`Secure` unless `insecure_cookies`).
    pub cookies: reenact_ui::CookiePolicy,
    /// Who may install models, and where.
    pub models: Arc<models::ModelAdmin>,
}

/// The whole application router.
pub fn app(state: AppState) -> Router {
    let api = OpenApiRouter::new()
        .merge(presets::router())
        .merge(auth::router())
        .merge(account::router())
        .merge(projects::router())
        .merge(clips::router(state.upload_limit))
        .merge(imports::router())
        .merge(jobs::router())
        .merge(renders::router())
        .merge(characters::router(state.upload_limit))
        .merge(voices::router(state.upload_limit))
        .merge(scenes::router())
        .merge(preview::router())
        .merge(subtitles::router())
        .merge(audit::router())
        .merge(models::router(state.upload_limit))
        .merge(events::router(state.db.clone()));
    let live = live::LiveState {
        hub: state.live.clone(),
        presets: state.presets.clone(),
        keys: Some(state.keys.clone()),
        db: Some(state.db.clone()),
    };
    let (routes, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(live::documented(live))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .nest("/api", api)
        .split_for_parts();
    openapi::add_error_responses(&mut doc);
    let doc = axum::body::Bytes::from(doc.to_pretty_json().unwrap_or_default());
    let cookies = state.cookies;
    let app = routes
        .route("/", get(index))
        .route("/metrics", get(metrics::scrape))
        .route("/api/openapi.json", get(move || openapi_json(doc.clone())))
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn(fallback::json_errors))
        .with_state(state);
    // The browser studio sends its requests to the routes above in-process.
    headers::secure(app.clone().merge(reenact_ui::router(app, cookies)))
}

async fn openapi_json(doc: axum::body::Bytes) -> impl axum::response::IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc)
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()), responses((status = 200, body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers, the storage takes a file, and every model the
/// manifests name is present and intact. Otherwise 503 with the cause in plain text, for
/// the operator reading the probe's output. The storage's answer is trusted for
/// `storage::PROBE_FRESH` (30 s) once it succeeded; the database is asked every time.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()), responses(
    (status = 200, description = "ready", body = String, content_type = "text/plain"),
    (status = 503, description = "not ready; the body names the cause", body = String, content_type = "text/plain"),
))]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, (StatusCode, String)> {
    let unavailable = |cause: String| (StatusCode::SERVICE_UNAVAILABLE, cause);
    tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(&state.db))
        .await
        .map_err(|_| unavailable("database did not answer in 2 s".into()))?
        .map_err(|e| unavailable(format!("database: {e}")))?;
    tokio::time::timeout(Duration::from_secs(5), state.storage.probe_cached())
        .await
        .map_err(|_| unavailable("storage did not answer in 5 s".into()))?
        .map_err(|e| unavailable(format!("storage is not writable: {e}")))?;
    // Checksums are cached by size and mtime, so only the first check hashes the files.
    let models = tokio::task::spawn_blocking(model_problem).await.map_err(|e| unavailable(e.to_string()))?;
    match models {
        Some(problem) => Err(unavailable(problem)),
        None => Ok("ready"),
    }
}

/// The first model that is missing or corrupt (or a manifest that cannot be read), if any.
pub fn model_problem() -> Option<String> {
    let catalog = match reenact_models::Catalog::load() {
        Ok(catalog) => catalog,
        Err(err) => return Some(err.to_string()),
    };
    catalog
        .entries()
        .iter()
        .find_map(|entry| catalog.status(entry).into_result(&entry.model.name).err().map(|e| e.to_string()))
}

async fn index(State(presets): State<Arc<PresetLibrary>>) -> Html<String> {
    let presets: Vec<reenact_ui::PresetSummary> = presets
        .iter()
        .map(|p| reenact_ui::PresetSummary { name: p.name.clone(), description: p.description.clone() })
        .collect();
    Html(reenact_ui::landing_page(env!("CARGO_PKG_VERSION"), &presets))
}
