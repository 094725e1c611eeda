// SPDX-License-Identifier: MPL-2.0
//! Sign-in throttling under parallel requests, against a real server on a
//! loopback port: clients connect from different loopback source addresses
//! (127.0.0.0/8 is all ours), so the server sees different client addresses.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";
/// `LoginLimits::default()`: attempts per email, per address.
const EMAIL_BUDGET: usize = 5;
const IP_BUDGET: usize = 20;

/// A client whose connections leave from `from` (a loopback address).
#[derive(Clone)]
struct From {
    client: Client<HttpConnector, Full<Bytes>>,
    server: SocketAddr,
}

/// What a sign-in answered.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

impl From {
    fn new(server: SocketAddr, from: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_local_address(Some(from.parse().unwrap()));
        From { client: Client::builder(TokioExecutor::new()).build(connector), server }
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("http://{}{path}", self.server))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = self.client.request(request).await.expect("the server answers");
        let status = response.status();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer { status, retry_after, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    async fn login(&self, email: &str, password: &str) -> Answer {
        self.post("/api/auth/login", json!({ "email": email, "password": password })).await
    }
}

/// Sends `passwords` for `email` all at once.
async fn in_parallel(from: &From, email: &str, passwords: Vec<String>) -> Vec<Answer> {
    let tasks: Vec<_> = passwords
        .into_iter()
        .map(|password| {
            let (from, email) = (from.clone(), email.to_string());
            tokio::spawn(async move { from.login(&email, &password).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn count(answers: &[Answer], status: StatusCode) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

/// Every 429 is `{error, detail}` and says when to come back.
#[track_caller]
fn rejections_say_when(answers: &[Answer]) {
    for a in answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS) {
        assert_eq!(a.body["error"], "too_many_requests", "{}", a.body);
        assert!(a.body["detail"].as_str().is_some_and(|d| d.contains("try again")), "{}", a.body);
        assert!(a.retry_after.is_some_and(|s| s >= 1), "429 without Retry-After: {a:?}");
    }
}

#[tokio::test]
async fn parallel_wrong_passwords_mostly_get_429_and_the_owner_still_signs_in_elsewhere() {
    for app in TestApp::all().await {
        app.sign_up("ada@museum.org").await;
        let server = app.serve().await;
        let attacker = From::new(server, "127.0.0.2");
        let guesses = (0..100).map(|i| format!("guess number {i}")).collect();
        let answers = in_parallel(&attacker, "ada@museum.org", guesses).await;
        let (wrong, throttled) =
            (count(&answers, StatusCode::UNAUTHORIZED), count(&answers, StatusCode::TOO_MANY_REQUESTS));
        eprintln!("{}: 100 parallel wrong passwords: {wrong} x 401, {throttled} x 429", app.backend());
        assert!(wrong <= EMAIL_BUDGET, "{}: {wrong} passwords checked", app.backend());
        assert_eq!(wrong + throttled, 100, "{}: only 401 and 429 expected", app.backend());
        rejections_say_when(&answers);

        // The attacker's address stays refused, even with the right password ...
        let again = attacker.login("ada@museum.org", PASSWORD).await;
        assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "{}", again.body);
        // ... while the owner, from an address with a clean record, signs in.
        let owner = From::new(server, "127.0.0.3").login("ada@museum.org", PASSWORD).await;
        assert_eq!(owner.status, StatusCode::OK, "{}: {}", app.backend(), owner.body);
        assert!(owner.body["access_token"].is_string());
    }
}

#[tokio::test]
async fn the_right_password_among_parallel_guesses_gets_no_token_once_throttled() {
    for app in TestApp::all().await {
        app.sign_up("ada@museum.org").await;
        let server = app.serve().await;
        let attacker = From::new(server, "127.0.0.4");
        let round = |hidden_at: usize| -> Vec<String> {
            (0..60).map(|i| if i == hidden_at { PASSWORD.to_string() } else { format!("guess {i}") }).collect()
        };
        // Racing: whichever order they land in, no more than the budget is checked.
        let first = in_parallel(&attacker, "ada@museum.org", round(41)).await;
        let checked = count(&first, StatusCode::OK) + count(&first, StatusCode::UNAUTHORIZED);
        assert!(checked <= EMAIL_BUDGET, "{}: {checked} passwords checked", app.backend());
        rejections_say_when(&first);
        // The budget is spent: the right password gets no token at all.
        let second = in_parallel(&attacker, "ada@museum.org", round(17)).await;
        assert_eq!(count(&second, StatusCode::OK), 0, "{}: a token was issued", app.backend());
        assert_eq!(count(&second, StatusCode::TOO_MANY_REQUESTS), 60, "{}", app.backend());
        rejections_say_when(&second);
    }
}

#[tokio::test]
async fn one_password_across_many_accounts_from_one_address_is_slowed() {
    for app in TestApp::all().await {
        app.sign_up("ada@museum.org").await;
        let server = app.serve().await;
        let sprayer = From::new(server, "127.0.0.5");
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let sprayer = sprayer.clone();
                tokio::spawn(async move { sprayer.login(&format!("visitor{i}@museum.org"), "Summer2026!").await })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        let wrong = count(&answers, StatusCode::UNAUTHORIZED);
        assert!(wrong <= IP_BUDGET, "{}: {wrong} passwords checked from one address", app.backend());
        assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 40 - wrong, "{}", app.backend());
        rejections_say_when(&answers);
        // Other addresses are not held back by it.
        let owner = From::new(server, "127.0.0.6").login("ada@museum.org", PASSWORD).await;
        assert_eq!(owner.status, StatusCode::OK, "{}", owner.body);
    }
}

#[tokio::test]
async fn a_correct_password_gives_its_slots_back() {
    for app in TestApp::all().await {
        app.sign_up("ada@museum.org").await;
        let server = app.serve().await;
        let owner = From::new(server, "127.0.0.7");
        // More sign-ins than any budget, each right: none is refused.
        for _ in 0..IP_BUDGET + 2 {
            let a = owner.login("ada@museum.org", PASSWORD).await;
            assert_eq!(a.status, StatusCode::OK, "{}: {}", app.backend(), a.body);
        }
        // Typos count, and the right password clears the email's count.
        for _ in 0..EMAIL_BUDGET - 1 {
            assert_eq!(owner.login("ada@museum.org", "a typo here").await.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(owner.login("ada@museum.org", PASSWORD).await.status, StatusCode::OK);
        for _ in 0..EMAIL_BUDGET {
            assert_eq!(owner.login("ada@museum.org", "a typo again").await.status, StatusCode::UNAUTHORIZED);
        }
        let throttled = owner.login("ada@museum.org", "one more").await;
        assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(throttled.retry_after.is_some());
    }
}

#[tokio::test]
async fn parallel_registrations_of_one_email_make_one_account() {
    for app in TestApp::all().await {
        let server = app.serve().await;
        let from = Arc::new(From::new(server, "127.0.0.8"));
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let from = Arc::clone(&from);
                let body = json!({ "email": "ada@museum.org", "password": format!("password number {i}") });
                tokio::spawn(async move { from.post("/api/auth/register", body).await })
            })
            .collect();
        for task in tasks {
            let a = task.await.unwrap();
            // The same answer for each, whether it created the account or not.
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
            assert_eq!(a.body["email"], "ada@museum.org");
        }
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&app.state.db).await.unwrap();
        assert_eq!(n, 1, "{}", app.backend());
    }
}
