// SPDX-License-Identifier: MPL-2.0
//! The studio's way to the server: requests to the server's own JSON API,
//! in-process, with the signed-in browser's bearer token. Every rule about
//! who may do what stays in the API; the UI only shows its answers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::session::{Sessions, Slot, Tokens};

/// Why a request of the studio failed, in words for the page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The API refused; `detail` is its reason, often `field: reason`.
    #[error("{detail}")]
    Refused { status: u16, detail: String },
    #[error("your session has ended; sign in again")]
    SignedOut,
    #[error("the server's answer could not be read: {0}")]
    Unreadable(String),
}

impl ApiError {
    /// The form field the API's reason names (`name: must not be empty` ->
    /// `name`; `presets[1]: ..` -> `presets`), if any.
    pub fn field(&self) -> Option<&str> {
        let ApiError::Refused { detail, .. } = self else { return None };
        let (head, _) = detail.split_once(": ")?;
        let valid =
            !head.is_empty() && head.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'));
        valid.then(|| head.split(['[', '.']).next().unwrap_or(head))
    }

    /// The reason without its field prefix.
    pub fn reason(&self) -> String {
        match (self, self.field()) {
            (ApiError::Refused { detail, .. }, Some(_)) => {
                detail.split_once(": ").map(|(_, r)| r.to_owned()).unwrap_or_default()
            }
            _ => self.to_string(),
        }
    }
}

/// The API as one signed-in (or not yet signed-in) browser sees it.
#[derive(Clone)]
pub struct StudioApi {
    api: Router,
    sessions: Arc<Sessions>,
    sid: String,
    /// Where the browser's page request came from, passed on with sign-ins so that
    /// the API counts attempts against the browser's address, not the server's.
    client: Client,
    /// The server's runtime. Pages run on dioxus-liveview's own threads;
    /// requests are handed back to the server's runtime so that what a
    /// handler spawns (live sessions, uploads) lives there, as it does for
    /// a request from the network.
    server: tokio::runtime::Handle,
}

impl std::fmt::Debug for StudioApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StudioApi").finish_non_exhaustive()
    }
}

/// Pages compare their props; every handle on the same browser session is the same.
impl PartialEq for StudioApi {
    fn eq(&self, other: &Self) -> bool {
        self.sid == other.sid
    }
}

/// The socket peer and `X-Forwarded-For` of the browser's request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Client {
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) forwarded_for: Option<HeaderValue>,
}

impl StudioApi {
    pub(crate) fn new(
        api: Router,
        sessions: Arc<Sessions>,
        sid: String,
        client: Client,
        server: tokio::runtime::Handle,
    ) -> Self {
        StudioApi { api, sessions, sid, client, server }
    }

    /// This browser's slot; gone when the session was signed out or trimmed.
    fn slot(&self) -> Result<Slot, ApiError> {
        self.sessions.get(&self.sid).ok_or(ApiError::SignedOut)
    }

    /// Runs `work` on the server's runtime.
    async fn on_server<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.server.spawn(work).await.map_err(|e| ApiError::Unreadable(format!("the request failed: {e}")))?
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T, ApiError> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T, ApiError> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.send::<Value>(Method::DELETE, path, None).await.map(drop)
    }

    /// Sends a JSON request with this browser's token and reads the JSON answer
    /// (`null` for an empty one).
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, ApiError> {
        let this = self.clone();
        let path = path.to_owned();
        let value = self
            .on_server(async move {
                let token = bearer(&this.api, &this.slot()?).await?;
                let (status, value) = call(&this.api, method, &path, Some(&token), body, None).await?;
                if status == StatusCode::UNAUTHORIZED {
                    this.sessions.remove(&this.sid);
                    return Err(ApiError::SignedOut);
                }
                if !status.is_success() {
                    return Err(refused(status, &value));
                }
                Ok(value)
            })
            .await?;
        serde_json::from_value(value).map_err(|e| ApiError::Unreadable(e.to_string()))
    }

    /// Creates an account, then signs in with it; the answer is where to send the browser.
    pub async fn sign_up(&self, email: &str, password: &str) -> Result<String, ApiError> {
        let body = json!({ "email": email, "password": password });
        let api = self.api.clone();
        let client = self.client.clone();
        self.on_server(async move {
            let (status, value) =
                call(&api, Method::POST, "/api/auth/register", None, Some(body), Some(&client)).await?;
            if status.is_success() {
                Ok(())
            } else {
                Err(refused(status, &value))
            }
        })
        .await?;
        self.sign_in(email, password).await
    }

    /// Signs in. The token pair waits under a one-time code for this browser; the
    /// answer is the address that collects it under a new session id (see `session`).
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<String, ApiError> {
        let body = json!({ "email": email, "password": password });
        let this = self.clone();
        self.on_server(async move {
            let (status, value) =
                call(&this.api, Method::POST, "/api/auth/login", None, Some(body), Some(&this.client)).await?;
            if !status.is_success() {
                return Err(refused(status, &value));
            }
            let tokens = tokens_from(&value)?;
            let code = this.sessions.hand_off(&this.sid, tokens);
            Ok(format!("/ui/session/{code}"))
        })
        .await
    }

    /// Ends the session here and revokes its refresh token at the API.
    pub async fn sign_out(&self) {
        let this = self.clone();
        let _ = self
            .on_server(async move {
                let tokens = match this.sessions.get(&this.sid) {
                    Some(slot) => slot.lock().await.take(),
                    None => None,
                };
                this.sessions.remove(&this.sid);
                if let Some(tokens) = tokens {
                    let body = json!({ "refresh_token": tokens.refresh });
                    if let Err(err) = call(&this.api, Method::POST, "/api/auth/logout", None, Some(body), None).await {
                        tracing::debug!(%err, "logout at the API failed; the token expires on its own");
                    }
                }
                Ok(())
            })
            .await;
    }
}

/// A valid access token of `slot`, refreshed first when it is about to expire.
pub(crate) async fn bearer(api: &Router, slot: &Slot) -> Result<String, ApiError> {
    let mut guard = slot.lock().await;
    let Some(tokens) = guard.as_ref() else { return Err(ApiError::SignedOut) };
    if tokens.fresh() {
        return Ok(tokens.access.clone());
    }
    let body = json!({ "refresh_token": tokens.refresh });
    let (status, value) = call(api, Method::POST, "/api/auth/refresh", None, Some(body), None).await?;
    if !status.is_success() {
        *guard = None;
        return Err(ApiError::SignedOut);
    }
    let tokens = tokens_from(&value)?;
    let access = tokens.access.clone();
    *guard = Some(tokens);
    Ok(access)
}

fn tokens_from(value: &Value) -> Result<Tokens, ApiError> {
    let text = |k: &str| value[k].as_str().map(str::to_owned).ok_or_else(|| ApiError::Unreadable(format!("no {k}")));
    Ok(Tokens {
        access: text("access_token")?,
        refresh: text("refresh_token")?,
        access_expires: Instant::now() + Duration::from_secs(value["expires_in"].as_u64().unwrap_or(60)),
    })
}

fn refused(status: StatusCode, value: &Value) -> ApiError {
    let detail = value["detail"].as_str().map(str::to_owned).unwrap_or_else(|| format!("the server answered {status}"));
    ApiError::Refused { status: status.as_u16(), detail }
}

async fn call(
    api: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    client: Option<&Client>,
) -> Result<(StatusCode, Value), ApiError> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(client) = client {
        if let Some(peer) = client.peer {
            request = request.extension(ConnectInfo(peer));
        }
        if let Some(forwarded) = &client.forwarded_for {
            request = request.header("x-forwarded-for", forwarded.clone());
        }
    }
    let body = match body {
        Some(v) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let request = request.body(body).map_err(|e| ApiError::Unreadable(e.to_string()))?;
    let response = api.clone().oneshot(request).await.map_err(|e| ApiError::Unreadable(e.to_string()))?;
    let status = response.status();
    let bytes = response.into_body().collect().await.map_err(|e| ApiError::Unreadable(e.to_string()))?.to_bytes();
    let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
    Ok((status, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(detail: &str) -> ApiError {
        ApiError::Refused { status: 400, detail: detail.into() }
    }

    #[test]
    fn the_field_comes_from_the_reason() {
        assert_eq!(refused("name: must not be empty").field(), Some("name"));
        assert_eq!(refused("name: must not be empty").reason(), "must not be empty");
        assert_eq!(refused("presets[1]: unknown preset `x`").field(), Some("presets"));
        assert_eq!(refused("sign in first: token expired").field(), None);
        assert_eq!(refused("wrong email or password").reason(), "wrong email or password");
    }
}
