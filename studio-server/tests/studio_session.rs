// SPDX-License-Identifier: MPL-2.0
//! The browser studio's session cookie and socket, over real HTTP on a loopback
//! port: server-issued ids only, cookie flags, and a socket that takes requests
//! from the studio's own pages only. (Signing in and the new id it brings are
//! exercised in a real browser by `ui.rs`.)

mod common;

use std::net::SocketAddr;

use common::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const COOKIE: &str = "__Host-reenact_studio";
const CHOSEN: &str = "0123456789abcdef0123456789abcdef";

/// The status and head of a GET with `headers`; reads the head only (a socket stays open).
async fn head(addr: SocketAddr, path: &str, headers: &[(&str, String)]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("connection")) {
        request.push_str("Connection: close\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf)).await.unwrap().unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// The `Set-Cookie` line of a head, if any.
fn set_cookie(head: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("set-cookie").then(|| value.trim().to_string())
    })
}

/// The session id a `Set-Cookie` value carries.
fn sid_of(cookie: &str) -> String {
    cookie.split(';').next().unwrap().strip_prefix(&format!("{COOKIE}=")).expect("our cookie").to_string()
}

fn cookie(sid: &str) -> (&'static str, String) {
    ("Cookie", format!("{COOKIE}={sid}"))
}

fn upgrade(addr: SocketAddr, origin: Option<&str>, sid: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Upgrade", "websocket".to_string()),
        ("Connection", "Upgrade".to_string()),
        ("Sec-WebSocket-Version", "13".to_string()),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==".to_string()),
        cookie(sid),
    ];
    if let Some(origin) = origin {
        headers.push(("Origin", origin.replace("{addr}", &addr.to_string())));
    }
    headers
}

#[tokio::test]
async fn the_cookie_is_issued_by_the_server_only_with_host_only_secure_flags() {
    let app = TestApp::sqlite().await;
    let addr = app.serve().await;

    let (status, first) = head(addr, "/login", &[]).await;
    assert_eq!(status, 200);
    let issued = set_cookie(&first).expect("a session cookie");
    for flag in ["; Path=/", "; Secure", "; HttpOnly", "; SameSite=Lax"] {
        assert!(issued.contains(flag), "{issued} lacks {flag}");
    }
    assert!(!issued.contains("Domain="), "a __Host- cookie names no domain: {issued}");
    let sid = sid_of(&issued);

    // A known id is kept ...
    let (_, again) = head(addr, "/login", &[cookie(&sid)]).await;
    assert_eq!(set_cookie(&again), None, "{again}");
    // ... a chosen one is not adopted: the answer brings a new id, and the chosen one opens nothing.
    let (_, planted) = head(addr, "/login", &[cookie(CHOSEN)]).await;
    let replaced = sid_of(&set_cookie(&planted).expect("a fresh cookie instead"));
    assert_ne!(replaced, CHOSEN);
    assert_ne!(replaced, sid);
    let (status, _) = head(addr, "/ui/ws/login", &upgrade(addr, Some("http://{addr}"), CHOSEN)).await;
    assert_eq!(status, 401, "a socket on a chosen id");
    let (status, _) = head(addr, "/ui/api/projects", &[cookie(CHOSEN)]).await;
    assert_eq!(status, 401);
    // A page that needs an account sends a chosen id to sign in (with an id of ours).
    let (status, projects) = head(addr, "/projects", &[cookie(CHOSEN)]).await;
    assert_eq!(status, 303);
    assert!(projects.to_ascii_lowercase().contains("location: /login"), "{projects}");
    // Sign-in codes are collected only by the browser that signed in; a guess goes to sign-in.
    let (status, collect) = head(addr, &format!("/ui/session/{CHOSEN}"), &[cookie(&sid)]).await;
    assert_eq!(status, 303);
    assert!(collect.to_ascii_lowercase().contains("location: /login") && set_cookie(&collect).is_none(), "{collect}");
}

#[tokio::test]
async fn the_studio_socket_takes_its_own_pages_only() {
    let app = TestApp::sqlite().await;
    let addr = app.serve().await;
    let (_, page) = head(addr, "/login", &[]).await;
    let sid = sid_of(&set_cookie(&page).unwrap());

    let (status, _) = head(addr, "/ui/ws/login", &upgrade(addr, None, &sid)).await;
    assert_eq!(status, 403, "no Origin");
    let (status, _) = head(addr, "/ui/ws/login", &upgrade(addr, Some("http://evil.example"), &sid)).await;
    assert_eq!(status, 403, "a foreign Origin");
    let (status, _) = head(addr, "/ui/ws/login", &upgrade(addr, Some("http://{addr}.evil.example"), &sid)).await;
    assert_eq!(status, 403, "a look-alike Origin");
    let (status, answer) = head(addr, "/ui/ws/login", &upgrade(addr, Some("http://{addr}"), &sid)).await;
    assert_eq!(status, 101, "the studio's own page: {answer}");
}
