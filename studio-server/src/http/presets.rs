// SPDX-License-Identifier: MPL-2.0
//! `GET /api/presets`: the delivery and live presets this server renders.

use axum::extract::State;
use axum::Json;
use reenact_engine::Preset;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(presets_index))
}

/// Every preset: resolution, rate, encoders, captions, watermark and element settings
/// (the fields of the preset TOML files).
#[utoipa::path(get, path = "/presets", tag = "renders", security(()), responses((status = 200, body = Vec<Object>)))]
async fn presets_index(State(state): State<AppState>) -> Json<Vec<Preset>> {
    Json(state.presets.iter().cloned().collect())
}
