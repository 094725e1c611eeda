// SPDX-License-Identifier: MPL-2.0
//! `GET /api/account`: who is signed in and how much of their storage
//! quota they use (the studio's account page shows it). Deleting the
//! account lives with the other account routes in `auth`.

use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::AppState;
use crate::db::users;
use crate::quota;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account_show))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AccountView {
    id: String,
    email: String,
    created_at: i64,
    /// Bytes of the user's stored files, as charged to the quota.
    storage_bytes: u64,
    /// Stored bytes allowed.
    quota_bytes: u64,
    /// Whether the operator named this account an administrator who installs models.
    model_admin: bool,
}

/// The signed-in account and its storage use against the quota.
#[utoipa::path(get, path = "/account", tag = "auth", responses((status = 200, body = AccountView)))]
async fn account_show(State(state): State<AppState>, user: CurrentUser) -> Result<AppJson<AccountView>, ApiError> {
    let row = users::by_id(&state.db, &user.id).await?.ok_or(ApiError::NotFound)?;
    let model_admin = state.models.is_admin(&row.email);
    Ok(AppJson(AccountView {
        model_admin,
        id: row.id,
        email: row.email,
        created_at: row.created_at,
        storage_bytes: quota::used(&state.db, &state.storage, &user.id).await.map_err(super::uploads::quota_error)?,
        quota_bytes: state.quota_bytes,
    }))
}
