// SPDX-License-Identifier: MPL-2.0
//! The studio's HTTP side: the page shells, the liveview socket, the token
//! proxy for scripts and static assets (the kiosk page is the server's).

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Router};
use dioxus::prelude::VirtualDom;
use dioxus_liveview::{axum_socket, interpreter_glue, LiveViewPool};
use tower::ServiceExt;

use crate::api::{bearer, Client, StudioApi};
use crate::app::{root, Page, RootProps};
use crate::session::{CookiePolicy, Sessions};

const CSS: &str = include_str!("../assets/studio.css");
const JS: &str = include_str!("../assets/studio.js");
const CAMERA_JS: &str = include_str!("../assets/camera.js");
/// The project page's timeline editor: its own files, apart from the shared script and style.
const TIMELINE_CSS: &str = include_str!("../assets/timeline.css");
const TIMELINE_JS: &str = include_str!("../assets/timeline.js");

/// Scripts of the studio send this header on every change they make
/// through the proxy; a form on another site cannot.
const UI_HEADER: &str = "x-reenact-ui";

#[derive(Clone)]
struct UiState {
    api: Router,
    sessions: Arc<Sessions>,
    cookies: CookiePolicy,
}

/// The threads that run the pages' virtual DOMs: one pool per process,
/// started by the first page, however many routers the process builds.
static POOL: LazyLock<LiveViewPool> = LazyLock::new(LiveViewPool::new);

/// The studio's routes. `api` is the server's own router; the pages send
/// their requests to it in-process with the signed-in user's token.
pub fn router(api: Router, cookies: CookiePolicy) -> Router {
    let state = UiState { api, sessions: Arc::default(), cookies };
    let mut router = Router::new();
    for path in [
        "/login",
        "/signup",
        "/projects",
        "/characters",
        "/voices",
        "/projects/{id}",
        "/projects/{id}/subtitles",
        "/jobs",
        "/studio",
        "/studio/{id}",
        "/account",
        "/models",
    ] {
        router = router.route(path, get(page));
    }
    router
        .route("/ui/ws/{*page}", get(socket))
        .route("/ui/session/{code}", get(signed_in))
        .route("/ui/api/{*path}", any(proxy))
        .route("/ui/assets/studio.css", get(|| asset("text/css; charset=utf-8", CSS)))
        .route("/ui/assets/studio.js", get(|| asset("text/javascript; charset=utf-8", JS)))
        .route("/ui/assets/camera.js", get(|| asset("text/javascript; charset=utf-8", CAMERA_JS)))
        .route("/ui/assets/timeline.css", get(|| asset("text/css; charset=utf-8", TIMELINE_CSS)))
        .route("/ui/assets/timeline.js", get(|| asset("text/javascript; charset=utf-8", TIMELINE_JS)))
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
    // Only ids this server issued and still keeps; anything else gets a new one.
    let (sid, new_cookie) = match ui.cookies.sid_from(request.headers()).filter(|sid| ui.sessions.known(sid)) {
        Some(sid) => (sid, None),
        None => {
            let sid = ui.sessions.issue();
            let cookie = ui.cookies.set_cookie(&sid);
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
<script src="/ui/assets/camera.js" defer></script>
<link rel="stylesheet" href="/ui/assets/timeline.css">
<script src="/ui/assets/timeline.js" defer></script>
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

/// `/ui/session/{code}`: the page that just signed in collects its session. Only the
/// browser whose session signed in can, once; it gets a new session id, and the old
/// one (which somebody else may have planted) is dropped.
async fn signed_in(State(ui): State<UiState>, Path(code): Path<String>, headers: HeaderMap) -> Response {
    let collected = ui.cookies.sid_from(&headers).and_then(|old| ui.sessions.take_handoff(&code, &old));
    let Some(sid) = collected else { return redirect("/login") };
    let mut response = redirect("/projects");
    if let Ok(cookie) = HeaderValue::from_str(&ui.cookies.set_cookie(&sid)) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Same-origin check for the socket: a page of another site may open a
/// WebSocket to us, and the browser would send our cookie along with it.
/// Browsers always send `Origin` with a WebSocket request, so one without it
/// is not a page of ours either.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else { return false };
    origin
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest.eq_ignore_ascii_case(host))
}

async fn socket(
    State(ui): State<UiState>,
    Path(path): Path<String>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return refuse(StatusCode::FORBIDDEN, "the studio socket takes requests from the studio's own pages only");
    }
    let Some(page) = Page::parse(&format!("/{path}")) else {
        return refuse(StatusCode::NOT_FOUND, "no such page");
    };
    let Some(sid) = ui.cookies.sid_from(&headers).filter(|sid| ui.sessions.known(sid)) else {
        return refuse(StatusCode::UNAUTHORIZED, "load the page first: the socket needs its session");
    };
    let client = Client {
        peer: peer.map(|Extension(ConnectInfo(addr))| addr),
        forwarded_for: headers.get("x-forwarded-for").cloned(),
    };
    let api = StudioApi::new(ui.api.clone(), Arc::clone(&ui.sessions), sid, client, tokio::runtime::Handle::current());
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
    let Some(slot) = ui.cookies.sid_from(&parts.headers).and_then(|sid| ui.sessions.get(&sid)) else {
        return refuse(StatusCode::UNAUTHORIZED, "sign in to the studio first");
    };
    let token = match bearer(&ui.api, &slot).await {
        Ok(token) => token,
        Err(err) => return refuse(StatusCode::UNAUTHORIZED, &err.to_string()),
    };
    let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let Ok(uri) = format!("/api/{path}{query}").parse() else {
        return refuse(StatusCode::BAD_REQUEST, "not a valid path");
    };
    parts.uri = uri;
    // A fresh request as far as the API's router knows: none of this router's routing
    // state, only the socket peer (the API counts some limits per client address).
    let peer = parts.extensions.remove::<ConnectInfo<SocketAddr>>();
    parts.extensions = Default::default();
    if let Some(peer) = peer {
        parts.extensions.insert(peer);
    }
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
