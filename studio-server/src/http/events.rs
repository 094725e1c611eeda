// SPDX-License-Identifier: MPL-2.0
//! `GET /api/events`: job changes of the signed-in user as server-sent events.
//!
//! The database is the source of truth (workers may be other processes), so
//! the stream polls it for jobs changed since the last event it sent. Browsers'
//! EventSource cannot send headers, so the token may also come as
//! `?access_token=`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{self, CurrentUser, JwtKeys};
use super::error::ApiError;
use super::extract::AppQuery;
use super::jobs::Job;
use super::AppState;
use crate::jobs::queue;

/// How often the stream looks for changes.
const POLL: Duration = Duration::from_millis(500);

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events_stream))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct TokenQuery {
    /// The access token, for clients that cannot send headers (EventSource).
    access_token: Option<String>,
}

/// A stream of `job` events, each the job as `GET /api/jobs/{id}` shows it, whenever
/// one of the user's jobs changes.
#[utoipa::path(get, path = "/events", tag = "jobs", params(TokenQuery), responses(
    (status = 200, description = "server-sent events named `job`", body = String, content_type = "text/event-stream"),
))]
async fn events_stream(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let token =
        bearer.or(query.access_token).ok_or(ApiError::Unauthorized("missing Authorization header or access_token"))?;
    let user: CurrentUser = auth::user_from_token(&Arc::<JwtKeys>::from_ref(&state), &token)?;
    let start = (state.db.clone(), user.id, 0i64);
    let events = stream::unfold(start, |(db, owner, since)| async move {
        loop {
            let changed = queue::changed_since(&db, &owner, since).await;
            match changed {
                Ok(jobs) if !jobs.is_empty() => {
                    let next = jobs.iter().map(|j| j.updated_at).max().unwrap_or(since);
                    let batch: Vec<Result<Event, Infallible>> = jobs
                        .into_iter()
                        .map(|j| Ok(Event::default().event("job").json_data(Job::from(j)).unwrap_or_default()))
                        .collect();
                    return Some((stream::iter(batch), (db, owner, next)));
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "event stream cannot read jobs"),
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Ok(Sse::new(futures_util::StreamExt::flatten(events)).keep_alive(KeepAlive::default()))
}
