// SPDX-License-Identifier: MPL-2.0
//! The HTTP surface: one router per resource, merged under `/api`.

pub mod auth;
mod clips;
pub mod error;
mod events;
mod jobs;
pub mod limits;
pub mod live;
pub(crate) mod metrics;
mod presets;
mod projects;
mod renders;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use reenact_engine::PresetLibrary;
use sqlx::AnyPool;

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
    /// Running live sessions.
    pub live: Arc<crate::live::LiveHub>,
}

/// The whole application router.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .merge(presets::router())
        .merge(auth::router())
        .merge(projects::router())
        .merge(clips::router(state.upload_limit))
        .merge(jobs::router())
        .merge(renders::router())
        .merge(events::router());
    let live = live::LiveState {
        hub: state.live.clone(),
        presets: state.presets.clone(),
        keys: Some(state.keys.clone()),
        db: Some(state.db.clone()),
    };
    Router::new()
        .merge(live::router(live))
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::scrape))
        .nest("/api", api)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and the storage takes a file.
async fn readyz(State(state): State<AppState>) -> Result<&'static str, error::ApiError> {
    tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(&state.db))
        .await
        .map_err(|_| error::ApiError::Unavailable("database did not answer in 2 s".into()))?
        .map_err(|e| error::ApiError::Unavailable(format!("database: {e}")))?;
    tokio::time::timeout(Duration::from_secs(5), state.storage.probe())
        .await
        .map_err(|_| error::ApiError::Unavailable("storage did not answer in 5 s".into()))?
        .map_err(|e| error::ApiError::Unavailable(format!("storage is not writable: {e}")))?;
    Ok("ready")
}

async fn index(State(presets): State<Arc<PresetLibrary>>) -> Html<String> {
    let presets: Vec<reenact_ui::PresetSummary> = presets
        .iter()
        .map(|p| reenact_ui::PresetSummary { name: p.name.clone(), description: p.description.clone() })
        .collect();
    Html(reenact_ui::landing_page(env!("CARGO_PKG_VERSION"), &presets))
}
