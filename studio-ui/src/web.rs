// SPDX-License-Identifier: MPL-2.0
//! The studio's HTTP side: the page shells, the liveview socket, the token
//! proxy for scripts and static assets (the kiosk page is the server's).

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use dioxus::prelude::VirtualDom;
use dioxus_liveview::{axum_socket, interpreter_glue, LiveViewPool};
use tower::ServiceExt;

use crate::api::{bearer, StudioApi};
use crate::app::{root, Page, RootProps};
use crate::session::{cookie_for, sid_from, Sessions};

const CSS: &str = include_str!("../assets/studio.css");
const JS: &str = include_str!("../assets/studio.js");

/// Scripts of the studio send this header on every change they make
/// through the proxy; a form on another site cannot.
const UI_HEADER: &str = "x-reenact-ui";

#[derive(Clone)]
struct UiState {
    api: Router,
    sessions: Arc<Sessions>,
}

/// The threads that run the pages' virtual DOMs: one pool per process,
/// started by the first page, however many routers the process builds.
static POOL: LazyLock<LiveViewPool> = LazyLock::new(LiveViewPool::new);

/// The studio's routes. `api` is the server's own router; the pages send
/// their requests to it in-process with the signed-in user's token.
pub fn router(api: Router) -> Router {
    let state = UiState { api, sessions: Arc::default() };
    let mut router = Router::new();
    for path in ["/login", "/signup", "/projects", "/projects/{id}", "/jobs", "/studio", "/studio/{id}", "/account"] {
        router = router.route(path, get(page));
    }
    router
        .route("/ui/ws/{*page}", get(socket))
        .route("/ui/api/{*path}", any(proxy))
        .route("/ui/assets/studio.css", get(|| asset("text/css; charset=utf-8", CSS)))
        .route("/ui/assets/studio.js", get(|| asset("text/javascript; charset=utf-8", JS)))
        .with_state(state)
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], body).into_response()
}

/// The glue script of dioxus-liveview is large; build it once and put
/// each page's socket path in.
static GLUE: LazyLock<String> = LazyLock::new(|| interpreter_glue("/ui/ws/__PAGE__"));

/// The HTML shell of a page; its content arrives over the socket.
async fn page(State(ui): State<UiState>, request: Request) -> Response {
    let Some(page) = Page::parse(request.uri().path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (sid, new_cookie) = match sid_from(request.headers()) {
        Some(sid) => (sid, None),
        None => {
            let sid = Sessions::new_id();
            let cookie = cookie_for(&sid);
            (sid, Some(cookie))
        }
    };
    let signed_in = ui.sessions.signed_in(&sid).await;
    let mut response = if page.needs_account() && !signed_in {
        redirect("/login")
    } else if !page.needs_account() && signed_in {
        redirect("/projects")
    } else {
        let glue = GLUE.replace("__PAGE__", page.path().trim_start_matches('/'));
        Html(format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Reenact Studio</title>
<link rel="stylesheet" href="/ui/assets/studio.css">
<script src="/ui/assets/studio.js" defer></script>
</head><body><div id="main"></div>
<noscript>The studio needs JavaScript.</noscript>
{glue}</body></html>"#,
            title = crate::escape(page.title()),
        ))
        .into_response()
    };
    if let Some(cookie) = new_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response()
}

/// Same-origin check for the socket: a page of another site may open a
/// WebSocket to us, and the browser would send our cookie along with it.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

async fn socket(
    State(ui): State<UiState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let (Some(page), Some(sid)) = (Page::parse(&format!("/{path}")), sid_from(&headers)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let api = StudioApi::new(ui.api.clone(), Arc::clone(&ui.sessions), sid, tokio::runtime::Handle::current());
    ws.on_upgrade(move |socket| async move {
        let props = RootProps { page, api };
        if let Err(err) =
            POOL.launch_virtualdom(axum_socket(socket), move || VirtualDom::new_with_props(root, props)).await
        {
            tracing::debug!(%err, "studio page closed");
        }
    })
}

/// `/ui/api/..` -> `/api/..` with the browser's bearer token: how uploads,
/// players and download links reach the API without the token ever being
/// readable by a script.
async fn proxy(State(ui): State<UiState>, Path(path): Path<String>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let safe = parts.method == Method::GET || parts.method == Method::HEAD;
    if !safe && !parts.headers.contains_key(UI_HEADER) {
        return refuse(StatusCode::FORBIDDEN, "changes through the studio proxy need its header");
    }
    let Some(sid) = sid_from(&parts.headers) else {
        return refuse(StatusCode::UNAUTHORIZED, "sign in to the studio first");
    };
    let token = match bearer(&ui.api, &ui.sessions.slot(&sid)).await {
        Ok(token) => token,
        Err(err) => return refuse(StatusCode::UNAUTHORIZED, &err.to_string()),
    };
    let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let Ok(uri) = format!("/api/{path}{query}").parse() else {
        return refuse(StatusCode::BAD_REQUEST, "not a valid path");
    };
    parts.uri = uri;
    // A fresh request as far as the API's router knows: none of this router's routing state.
    parts.extensions = Default::default();
    parts.headers.remove(COOKIE);
    match HeaderValue::from_str(&format!("Bearer {token}")) {
        Ok(value) => parts.headers.insert(AUTHORIZATION, value),
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "unusable token"),
    };
    match ui.api.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn refuse(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({ "error": "studio", "detail": detail }).to_string();
    (status, [(CONTENT_TYPE, "application/json")], Body::from(body)).into_response()
}
