// SPDX-License-Identifier: MPL-2.0
//! `GET /api/presets`: the delivery and live presets this server renders.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use reenact_engine::Preset;

use super::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/presets", get(presets_index))
}

async fn presets_index(State(state): State<AppState>) -> Json<Vec<Preset>> {
    Json(state.presets.iter().cloned().collect())
}
