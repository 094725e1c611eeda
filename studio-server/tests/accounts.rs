// SPDX-License-Identifier: MPL-2.0
//! Accounts and sessions: register, login, refresh rotation, logout, deletion.

mod common;
#[path = "common/forms.rs"]
mod forms;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp};
use serde_json::json;

#[tokio::test]
async fn register_rejects_bad_input_and_does_not_tell_who_has_an_account() {
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
        let (status, first) =
            app.call(Method::POST, "/api/auth/register", None, Some(reg("A@b.org", "long enough"))).await;
        assert_eq!(status, StatusCode::CREATED);
        // The same email again answers as a new account would, and changes nothing.
        let (status, again) =
            app.call(Method::POST, "/api/auth/register", None, Some(reg("a@B.org", "another password"))).await;
        assert_eq!(status, StatusCode::CREATED, "{again}");
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&first), keys(&again));
        assert_eq!(again["email"], "a@b.org");
        expect_error(
            app.call(Method::POST, "/api/auth/login", None, Some(reg("a@b.org", "another password"))).await,
            StatusCode::UNAUTHORIZED,
            "wrong email or password",
        );
        let (status, _) = app.call(Method::POST, "/api/auth/login", None, Some(reg("a@b.org", "long enough"))).await;
        assert_eq!(status, StatusCode::OK);
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
    forms::use_shared_models();
    for app in TestApp::all().await {
        let app = forms::roomy(app, 5_000_000);
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (bob, _) = app.sign_up("bob@museum.org").await;
        for token in [&ada, &bob] {
            // Something of every kind: project, character, voice, scene, render, audit entries.
            let project = forms::project(&app, token, "Tour").await;
            let character = forms::astronaut(&app, token, &project).await;
            forms::voice(&app, token, &project, "speech/librivox_0880.wav").await;
            let scene = json!({ "start": 0, "end": 2, "character_id": character["id"] });
            let (status, _) =
                app.call(Method::POST, &format!("/api/projects/{project}/scenes"), Some(token), Some(scene)).await;
            assert_eq!(status, StatusCode::CREATED);
            let render = json!({ "presets": ["master"] });
            let (status, _) =
                app.call(Method::POST, &format!("/api/projects/{project}/renders"), Some(token), Some(render)).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (ada_id,): (String,) = sqlx::query_as("SELECT id FROM users WHERE email = 'ada@museum.org'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        let (status, _) = app.call(Method::DELETE, "/api/account", Some(&ada), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // No row of any table, and no stored file, names her: id or email, in any column.
        for needle in [ada_id.as_str(), "ada@museum.org"] {
            let rows = rows_mentioning(&app, needle).await;
            assert!(rows.is_empty(), "{}: rows still name {needle}: {rows:?}", app.backend());
        }
        let files = app.stored_files();
        assert!(!files.is_empty() && files.iter().all(|f| !f.contains(&ada_id)), "{files:?}");

        let count = |sql: &'static str| {
            let db = app.state.db.clone();
            async move { sqlx::query_as::<_, (i64,)>(sql).fetch_one(&db).await.unwrap().0 }
        };
        assert_eq!(count("SELECT COUNT(*) FROM users").await, 1, "bob stays");
        for table in ["projects", "characters", "voices", "scenes", "renders"] {
            let left = sqlx::query_as::<_, (i64,)>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&app.state.db)
                .await
                .unwrap()
                .0;
            assert_eq!(left, 1, "only bob's row of {table} stays");
        }
        assert_eq!(
            count("SELECT COUNT(*) FROM refresh_tokens WHERE user_id NOT IN (SELECT id FROM users)").await,
            0,
            "no orphaned sessions"
        );
        let (status, _) = app.call(Method::GET, "/api/projects", Some(&bob), None).await;
        assert_eq!(status, StatusCode::OK);
    }
}

/// `table: row` for every row of every table (migrations' own included) with `needle` in
/// any column, on SQLite or PostgreSQL.
async fn rows_mentioning(app: &TestApp, needle: &str) -> Vec<String> {
    let db = &app.state.db;
    let (tables_sql, columns_sql) = match app.backend() {
        "postgres" => (
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        ),
        _ => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            "SELECT name FROM pragma_table_info($1)",
        ),
    };
    let tables: Vec<(String,)> = sqlx::query_as(tables_sql).fetch_all(db).await.unwrap();
    assert!(tables.iter().any(|(t,)| t == "audit_log"), "{tables:?}");
    let mut found = Vec::new();
    for (table,) in tables {
        let columns: Vec<(String,)> = sqlx::query_as(columns_sql).bind(&table).fetch_all(db).await.unwrap();
        let text = |c: &str| format!("COALESCE(CAST({c} AS TEXT), '')");
        let any = columns.iter().map(|(c,)| format!("{} LIKE $1", text(c))).collect::<Vec<_>>().join(" OR ");
        let row = columns.iter().map(|(c,)| text(c)).collect::<Vec<_>>().join(" || '|' || ");
        let sql = format!("SELECT {row} FROM {table} WHERE {any}");
        let rows: Vec<(String,)> = sqlx::query_as(&sql).bind(format!("%{needle}%")).fetch_all(db).await.unwrap();
        found.extend(rows.into_iter().map(|(r,)| format!("{table}: {}", r.chars().take(200).collect::<String>())));
    }
    found
}

#[tokio::test]
async fn repeated_failed_logins_are_limited() {
    for app in TestApp::all().await {
        app.sign_up("ada@museum.org").await;
        let wrong = json!({ "email": "ada@museum.org", "password": "wrong password" });
        for _ in 0..reenact_server::http::limits::LoginLimits::default().email_budget {
            let (status, _) = app.call(Method::POST, "/api/auth/login", None, Some(wrong.clone())).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let right = json!({ "email": "ada@museum.org", "password": "correct horse battery" });
        expect_error(
            app.call(Method::POST, "/api/auth/login", None, Some(right)).await,
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-in attempts for this email",
        );
    }
}

#[tokio::test]
async fn logout_ends_the_access_tokens_of_its_session_only() {
    for app in TestApp::all().await {
        let (access, refresh) = app.sign_up("ada@museum.org").await;
        let (other_access, _) = {
            let creds = json!({ "email": "ada@museum.org", "password": "correct horse battery" });
            let (_, pair) = app.call(Method::POST, "/api/auth/login", None, Some(creds)).await;
            (pair["access_token"].as_str().unwrap().to_string(), ())
        };
        assert_eq!(app.call(Method::GET, "/api/projects", Some(&access), None).await.0, StatusCode::OK);
        let (status, _) =
            app.call(Method::POST, "/api/auth/logout", None, Some(json!({ "refresh_token": refresh }))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        expect_error(
            app.call(Method::GET, "/api/projects", Some(&access), None).await,
            StatusCode::UNAUTHORIZED,
            "the session has ended",
        );
        assert_eq!(
            app.call(Method::GET, "/api/projects", Some(&other_access), None).await.0,
            StatusCode::OK,
            "{}: another sign-in stays",
            app.backend()
        );
    }
}

#[tokio::test]
async fn a_deleted_account_s_tokens_get_401_also_for_writes() {
    for app in TestApp::all().await {
        let (access, refresh) = app.sign_up("ada@museum.org").await;
        let (status, _) = app.call(Method::DELETE, "/api/account", Some(&access), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let project = json!({ "name": "After" });
        for (method, path, body) in [
            (Method::POST, "/api/projects", Some(project)),
            (Method::GET, "/api/projects", None),
            (Method::GET, "/api/account", None),
            (Method::DELETE, "/api/account", None),
        ] {
            let (status, body) = app.call(method.clone(), path, Some(&access), body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{}: {method} {path}: {body}", app.backend());
        }
        let (status, _) =
            app.call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refresh_token": refresh }))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

/// The claims of a token, unverified (the test only reads them).
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn refreshing_does_not_extend_a_session_past_its_30_days() {
    for app in TestApp::all().await {
        let (_, refresh1) = app.sign_up("ada@museum.org").await;
        let (status, pair) =
            app.call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refresh_token": refresh1 }))).await;
        assert_eq!(status, StatusCode::OK);
        let refresh2 = pair["refresh_token"].as_str().unwrap().to_string();
        assert_ne!(refresh1, refresh2, "rotated");
        let (first, second) = (claims(&refresh1), claims(&refresh2));
        assert_eq!(first["exp"], second["exp"], "the end is the sign-in's, not the refresh's");
        let lifetime = first["exp"].as_i64().unwrap() - first["iat"].as_i64().unwrap();
        assert_eq!(lifetime, reenact_server::http::auth::REFRESH_TTL_S);

        // 30 days later (the session's end moved to the past): refresh and access both end.
        sqlx::query("UPDATE sessions SET expires_at = $1")
            .bind(reenact_server::db::now() - 1)
            .execute(&app.state.db)
            .await
            .unwrap();
        expect_error(
            app.call(Method::POST, "/api/auth/refresh", None, Some(json!({ "refresh_token": refresh2 }))).await,
            StatusCode::UNAUTHORIZED,
            "the session has ended",
        );
        let access = pair["access_token"].as_str().unwrap();
        assert_eq!(app.call(Method::GET, "/api/projects", Some(access), None).await.0, StatusCode::UNAUTHORIZED);
    }
}
