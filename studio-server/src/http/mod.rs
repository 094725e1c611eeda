// SPDX-License-Identifier: MPL-2.0
//! The HTTP surface: one router per resource, merged under `/api`.

mod presets;

use std::sync::Arc;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use reenact_engine::PresetLibrary;

/// What every handler may reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub presets: Arc<PresetLibrary>,
}

/// The whole application router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .nest("/api", presets::router())
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn index(axum::extract::State(state): axum::extract::State<AppState>) -> Html<String> {
    let presets: Vec<reenact_ui::PresetSummary> = state
        .presets
        .iter()
        .map(|p| reenact_ui::PresetSummary { name: p.name.clone(), description: p.description.clone() })
        .collect();
    Html(reenact_ui::landing_page(env!("CARGO_PKG_VERSION"), &presets))
}
