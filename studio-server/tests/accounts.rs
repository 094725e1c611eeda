// SPDX-License-Identifier: MPL-2.0
//! Accounts and sessions: register, login, refresh rotation, logout, deletion.

mod common;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp};
use serde_json::json;

#[tokio::test]
async fn register_rejects_bad_input_and_duplicates() {
    for app in TestApp::all().await {
        let reg = |email: &str, password: &str| json!({ "email": email, "password": password });
        expect_error(
            app.call(Method::POST, "/api/auth/register", None, Some(reg("not-an-email", "long enough"))).await,
            StatusCode::BAD_REQUEST,
            "email: not an email address",
        );
        expect_error(
            app.call(Method::POST, "/api/auth/register", None, Some(reg("a@b.org", "short"))).await,
            StatusCode::BAD_REQUEST,
            "password: must be at least 8 characters",
        );
        let (status, _) = app.call(Method::POST, "/api/auth/register", None, Some(reg("A@b.org", "long enough"))).await;
        assert_eq!(status, StatusCode::CREATED);
        expect_error(
            app.call(Method::POST, "/api/auth/register", None, Some(reg("a@B.org", "long enough"))).await,
            StatusCode::CONFLICT,
            "email: an account with this email already exists",
        );
        expect_error(
            app.call(Method::POST, "/api/auth/register", None, Some(json!({ "email": "x@y.org" }))).await,
            StatusCode::BAD_REQUEST,
            "missing field `password`",
        );
    }
}

#[tokio::test]
async fn login_fails_the_same_for_wrong_password_and_unknown_email() {
    for app in TestApp::all().await {
        app.sign_up("ada@museum.org").await;
        for body in [
            json!({ "email": "ada@museum.org", "password": "wrong password" }),
            json!({ "email": "nobody@museum.org", "password": "correct horse battery" }),
        ] {
            expect_error(
                app.call(Method::POST, "/api/auth/login", None, Some(body)).await,
                StatusCode::UNAUTHORIZED,
                "wrong email or password",
            );
        }
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_ends_every_session() {
    for app in TestApp::all().await {
        let (_, refresh1) = app.sign_up("ada@museum.org").await;
        let (status, pair2) =
            app.call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refresh_token": refresh1 }))).await;
        assert_eq!(status, StatusCode::OK, "{pair2}");
        let refresh2 = pair2["refresh_token"].as_str().unwrap().to_string();
        assert_ne!(refresh1, refresh2);
        let (status, _) =
            app.call(Method::GET, "/api/projects", Some(pair2["access_token"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::OK);

        // The old token again: treated as stolen, so the new one dies too.
        expect_error(
            app.call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refresh_token": refresh1 }))).await,
            StatusCode::UNAUTHORIZED,
            "already used",
        );
        expect_error(
            app.call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refresh_token": refresh2 }))).await,
            StatusCode::UNAUTHORIZED,
            "already used",
        );
    }
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    for app in TestApp::all().await {
        let (access, refresh) = app.sign_up("ada@museum.org").await;
        let (status, _) =
            app.call(Method::POST, "/api/auth/logout", None, Some(json!({ "refresh_token": refresh }))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) =
            app.call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refresh_token": refresh }))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // An access token as a refresh token is refused.
        expect_error(
            app.call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refresh_token": access }))).await,
            StatusCode::UNAUTHORIZED,
            "wrong kind of token",
        );
    }
}

#[tokio::test]
async fn account_deletion_removes_every_row_of_the_user() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (bob, _) = app.sign_up("bob@museum.org").await;
        for token in [&ada, &bob] {
            let (status, _) =
                app.call(Method::POST, "/api/projects", Some(token), Some(json!({ "name": "Tour" }))).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, _) = app.call(Method::DELETE, "/api/account", Some(&ada), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let count = |sql: &'static str| {
            let db = app.state.db.clone();
            async move { sqlx::query_as::<_, (i64,)>(sql).fetch_one(&db).await.unwrap().0 }
        };
        assert_eq!(count("SELECT COUNT(*) FROM users WHERE email = 'ada@museum.org'").await, 0);
        assert_eq!(count("SELECT COUNT(*) FROM users").await, 1, "bob stays");
        assert_eq!(count("SELECT COUNT(*) FROM projects").await, 1, "only bob's project stays");
        assert_eq!(
            count("SELECT COUNT(*) FROM refresh_tokens WHERE user_id NOT IN (SELECT id FROM users)").await,
            0,
            "no orphaned sessions"
        );
        let (status, _) = app.call(Method::GET, "/api/projects", Some(&bob), None).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn repeated_failed_logins_are_limited() {
    for app in TestApp::all().await {
        app.sign_up("ada@museum.org").await;
        let wrong = json!({ "email": "ada@museum.org", "password": "wrong password" });
        for _ in 0..reenact_server::http::limits::MAX_FAILURES {
            let (status, _) = app.call(Method::POST, "/api/auth/login", None, Some(wrong.clone())).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let right = json!({ "email": "ada@museum.org", "password": "correct horse battery" });
        expect_error(
            app.call(Method::POST, "/api/auth/login", None, Some(right)).await,
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins",
        );
    }
}
