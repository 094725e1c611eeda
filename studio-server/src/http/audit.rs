// SPDX-License-Identifier: MPL-2.0
//! The audit log: handlers record what a user did with [`record`]; `GET /api/account/audit`
//! shows the signed-in user their own entries, newest first.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::AppQuery;
use super::AppState;
pub(super) use crate::db::audit::Action;
use crate::db::audit::{self, AuditRow};

/// Entries listed when no `limit` is given.
const DEFAULT_LIMIT: i64 = 100;
/// Most entries one request lists.
const MAX_LIMIT: i64 = 1000;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_index))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Entries to list, newest first (default 100, at most 1000).
    limit: Option<i64>,
}

/// An entry as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEntry)]
struct Entry {
    id: String,
    action: String,
    target_id: Option<String>,
    created_at_ms: i64,
}

impl From<AuditRow> for Entry {
    fn from(row: AuditRow) -> Self {
        Entry { id: row.id, action: row.action, target_id: row.target_id, created_at_ms: row.created_at_us / 1000 }
    }
}

/// What the signed-in user did (sign-ins, projects, uploads, renders...), newest first.
#[utoipa::path(get, path = "/account/audit", tag = "auth", params(AuditQuery), responses((status = 200, body = Vec<Entry>)))]
async fn audit_index(
    State(db): State<AnyPool>,
    user: CurrentUser,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<AppJson<Vec<Entry>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit: must be within 1..{MAX_LIMIT}")));
    }
    let rows = audit::list(&db, &user.id, limit).await?;
    Ok(AppJson(rows.into_iter().map(Entry::from).collect()))
}

/// Records that `user` did `action` to `target`. The action has already happened when this
/// runs, so a failure to record it is logged, not turned into a failed request.
pub(super) async fn record(db: &AnyPool, user: &str, action: Action, target: Option<&str>) {
    if let Err(err) = audit::insert(db, user, action, target).await {
        tracing::error!(action = action.as_str(), %err, "audit entry not recorded");
    }
}

/// After an account deletion: no entry may name the user any more (the foreign key
/// cascades; this also covers a row written meanwhile), and the deletion itself is
/// counted without naming anyone.
pub(super) async fn account_deleted(db: &AnyPool, user: &str) {
    let result = match audit::forget_user(db, user).await {
        Ok(()) => audit::insert_anonymous(db, Action::AccountDelete).await,
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        tracing::error!(%err, "audit after account deletion failed");
    }
}
