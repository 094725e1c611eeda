// SPDX-License-Identifier: MPL-2.0
//! Visitor consent at installations, over the API: a show in visitor mode sends its
//! viewers nothing and blacks out its outputs until the kiosk accepts with its consent key,
//! and closes again once the visitor has left.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{expect_error, TestApp};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

fn use_shared_models() {
    if std::env::var_os("REENACT_MODELS").is_none() {
        std::env::set_var("REENACT_MODELS", Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"));
    }
}

/// POSTs `body` to `uri` with extra headers, no sign-in.
async fn post_with(app: &TestApp, uri: &str, headers: &[(&str, &str)], body: &str) -> (StatusCode, Value) {
    let mut request = Request::builder().method(Method::POST).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app.router.clone().oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The owner's figures of show `id`.
async fn figures(app: &TestApp, id: &str, owner: &str) -> Value {
    let (status, summary) = app.call(Method::GET, &format!("/api/live/{id}"), Some(owner), None).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    summary
}

fn sent(summary: &Value) -> u64 {
    summary["video_frames_sent"].as_u64().expect("video_frames_sent")
}

fn blanked(summary: &Value) -> u64 {
    summary["pipeline"]["frames_blanked"].as_u64().expect("frames_blanked")
}

/// Waits until `check` holds for the owner's figures.
async fn wait_figures(app: &TestApp, id: &str, owner: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let summary = figures(app, id, owner).await;
        if check(&summary) {
            return summary;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {summary}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_show_sends_nothing_until_the_kiosk_accepts_and_closes_when_the_visitor_leaves() {
    use_shared_models();
    let app = TestApp::sqlite().await;
    let (owner, _) = app.sign_up("curator@example.com").await;
    let (other, _) = app.sign_up("stranger@example.com").await;

    // Settings are checked field by field.
    let bad = json!({"source": "test", "visitor_consent": {"languages": ["tlh"]}});
    expect_error(
        app.call(Method::POST, "/api/live", Some(&owner), Some(bad)).await,
        StatusCode::BAD_REQUEST,
        "visitor_consent: languages",
    );
    let bad = json!({"source": "test", "visitor_consent": {"reset_after_s": 0}});
    expect_error(
        app.call(Method::POST, "/api/live", Some(&owner), Some(bad)).await,
        StatusCode::BAD_REQUEST,
        "reset_after_s",
    );

    let request = json!({
        "source": "test", "preset": "live-720p",
        "visitor_consent": {"languages": ["de", "en", "fr", "es"], "keeps": "nothing", "reset_after_s": 5},
    });
    let (status, show) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    assert_eq!(status, StatusCode::CREATED, "{show}");
    let id = show["id"].as_str().unwrap().to_owned();
    let kiosk = show["kiosk_url"].as_str().unwrap();
    let key = kiosk.split_once("#consent=").expect("the owner's kiosk link carries the consent key").1.to_owned();
    assert!(kiosk.starts_with(&format!("/kiosk/{id}#")) && key.len() == 32, "{kiosk}");
    let consent_uri = format!("/api/live/{id}/consent");

    // The kiosk page reads the settings with the show's id alone; the key is not in them.
    let (status, view) = app.call(Method::GET, &consent_uri, None, None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!((view["required"].as_bool(), view["open"].as_bool()), (Some(true), Some(false)), "{view}");
    assert_eq!(view["settings"]["languages"], json!(["de", "en", "fr", "es"]));
    assert_eq!((view["settings"]["keeps"].as_str(), view["streamed"].as_bool()), (Some("nothing"), Some(false)));
    assert!(!view.to_string().contains(&key) && view.get("accepted_total").is_none(), "{view}");

    // Before consent: the graph runs and encodes, every picture is blacked out, viewers get nothing.
    let before = wait_figures(&app, &id, &owner, "encoded frames", |s| {
        s["pipeline"]["frames_encoded"].as_u64().unwrap_or_default() >= 30
    })
    .await;
    assert_eq!(before["pipeline"]["camera_open"], false, "{before}");
    assert_eq!(sent(&before), 0, "no frame reached the viewers before consent: {before}");
    assert!(blanked(&before) >= 30, "{before}");
    assert!(!figures(&app, &id, &owner).await["visitor_consent"]["open"].as_bool().unwrap());

    // Only the kiosk's key opens the camera: not the show's id, not the owner's sign-in, not a
    // page on another site, not a form.
    let accept = json!({"key": key, "accept": true}).to_string();
    let wrong = json!({"key": "0".repeat(32), "accept": true}).to_string();
    let json_type = ("content-type", "application/json");
    expect_error(post_with(&app, &consent_uri, &[json_type], &wrong).await, StatusCode::FORBIDDEN, "wrong consent key");
    let owner_auth = format!("Bearer {owner}");
    let (status, _) =
        post_with(&app, &consent_uri, &[json_type, ("authorization", &owner_auth)], r#"{"key":"","accept":true}"#)
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the owner's sign-in is not the visitor's consent");
    let (status, _) = post_with(&app, &consent_uri, &[("content-type", "text/plain")], &accept).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) =
        post_with(&app, &consent_uri, &[("content-type", "application/x-www-form-urlencoded")], &accept).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = post_with(&app, &consent_uri, &[json_type, ("sec-fetch-site", "cross-site")], &accept).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
    let (status, _) = post_with(&app, "/api/live/nosuchshow/consent", &[json_type], &accept).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let still = figures(&app, &id, &owner).await;
    assert_eq!((sent(&still), still["pipeline"]["camera_open"].as_bool()), (0, Some(false)), "{still}");

    // The visitor accepts on the kiosk: the camera goes on air at the next frames.
    let (status, view) = post_with(&app, &consent_uri, &[json_type, ("sec-fetch-site", "same-origin")], &accept).await;
    assert_eq!((status, view["open"].as_bool()), (StatusCode::OK, Some(true)), "{view}");
    let accepted_at = Instant::now();
    let open = wait_figures(&app, &id, &owner, "frames on air", |s| sent(s) >= 15).await;
    assert_eq!(open["pipeline"]["camera_open"], true, "{open}");
    let blanked_open = blanked(&open);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(blanked(&figures(&app, &id, &owner).await), blanked_open, "no picture blacked out while open");

    // The test pattern has no face and the show runs no tracker: the visit ends 5 s after
    // accepting, and the camera closes without anyone asking.
    let deadline = Instant::now() + Duration::from_secs(12);
    loop {
        let (_, view) = app.call(Method::GET, &consent_uri, None, None).await;
        if view["open"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "the visit never ended: {view}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let closed_after = accepted_at.elapsed();
    assert!(closed_after >= Duration::from_secs(5) && closed_after < Duration::from_secs(8), "{closed_after:?}");
    let closed = figures(&app, &id, &owner).await;
    assert_eq!(closed["pipeline"]["camera_open"], false, "{closed}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let later = figures(&app, &id, &owner).await;
    assert_eq!(sent(&later), sent(&closed), "nothing sent after the reset");
    assert!(blanked(&later) > blanked(&closed), "blacked out again: {later}");

    // A visitor may end the visit at once (with the kiosk's key); strangers cannot see figures.
    let (status, _) = post_with(&app, &consent_uri, &[json_type], &accept).await;
    assert_eq!(status, StatusCode::OK);
    let end = json!({"key": key, "accept": false}).to_string();
    let (status, view) = post_with(&app, &consent_uri, &[json_type], &end).await;
    assert_eq!((status, view["open"].as_bool()), (StatusCode::OK, Some(false)), "{view}");
    assert_eq!(figures(&app, &id, &owner).await["visitor_consent"]["accepted_total"], 2);
    let (status, _) = app.call(Method::GET, &format!("/api/live/{id}"), Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A show without visitor mode has nothing to accept and never was gated.
    let (status, plain) = app.call(Method::POST, "/api/live", Some(&other), Some(json!({"source": "test"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    let plain_id = plain["id"].as_str().unwrap();
    assert!(!plain["kiosk_url"].as_str().unwrap().contains('#'), "{plain}");
    let (_, view) = app.call(Method::GET, &format!("/api/live/{plain_id}/consent"), None, None).await;
    assert_eq!((view["required"].as_bool(), view["open"].as_bool()), (Some(false), Some(true)), "{view}");
    let plain_uri = format!("/api/live/{plain_id}/consent");
    expect_error(post_with(&app, &plain_uri, &[json_type], &accept).await, StatusCode::CONFLICT, "does not ask");

    // A recording installation cannot tell visitors that nothing is kept.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("installations.toml");
    let record = dir.path().join("visits.mp4");
    let text = format!(
        "[[installation]]\nname = \"hall-a\"\nsource = \"test\"\noutputs = [\"record:{}\"]\n[installation.visitor_consent]\n",
        record.display()
    );
    std::fs::write(&file, text).unwrap();
    let err = reenact_server::installations::read(&file, &app.state.presets).unwrap_err().to_string();
    assert!(err.contains("visitor_consent: keeps"), "{err}");

    app.state.live.stop_all().await;
}

/// A show marked commercial refuses elements whose models' manifests do not clear them for
/// commercial use (the vision models' manifests do not say), at start and when switched on,
/// naming the model and its licence; the same show not marked commercial may use them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commercial_show_refuses_models_not_cleared_for_commercial_use() {
    use_shared_models();
    let app = TestApp::sqlite().await;
    let (owner, _) = app.sign_up("broadcaster@example.com").await;

    let request = json!({"source": "test", "elements": "matte", "commercial": true});
    let refused = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    expect_error(refused.clone(), StatusCode::FORBIDDEN, "model `selfie_segmentation_landscape` (licence Apache-2.0)");
    assert!(refused.1["detail"].as_str().unwrap().contains("not cleared for commercial work"), "{}", refused.1);
    let (_, listed) = app.call(Method::GET, "/api/live", Some(&owner), None).await;
    assert_eq!(listed, json!([]), "nothing was started");

    let (status, show) =
        app.call(Method::POST, "/api/live", Some(&owner), Some(json!({"source": "test", "commercial": true}))).await;
    assert_eq!(status, StatusCode::CREATED, "{show}");
    let uri = format!("/api/live/{}", show["id"].as_str().unwrap());
    let switch = json!({"elements": {"facetrack": true}});
    let refused = app.call(Method::PATCH, &uri, Some(&owner), Some(switch)).await;
    expect_error(refused, StatusCode::FORBIDDEN, "model `blazeface_back_256`");
    let summary = figures(&app, show["id"].as_str().unwrap(), &owner).await;
    assert_eq!(summary["pipeline"]["elements"]["facetrack"], false, "{summary}");
    let (status, _) =
        app.call(Method::PATCH, &uri, Some(&owner), Some(json!({"elements": {"facetrack": false}}))).await;
    assert_eq!(status, StatusCode::OK, "switching off is always allowed");

    let (status, plain) = app.call(Method::POST, "/api/live", Some(&owner), Some(json!({"source": "test"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    let plain_uri = format!("/api/live/{}", plain["id"].as_str().unwrap());

    // The stream's manifest: synthetic media, commercial or not, the models each element runs.
    let (status, manifest) = app.call(Method::GET, &format!("{uri}/manifest"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{manifest}");
    assert_eq!(manifest["commercial"], true, "{manifest}");
    assert!(manifest["claim_generator"].as_str().unwrap().starts_with("Reenact Studio/"), "{manifest}");
    assert_eq!(manifest["assertions"][0]["label"], "c2pa.actions");
    let (status, body) =
        app.call(Method::PATCH, &plain_uri, Some(&owner), Some(json!({"elements": {"facetrack": true}}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, manifest) = app.call(Method::GET, &format!("{plain_uri}/manifest"), None, None).await;
    let models = &manifest["assertions"][2]["data"];
    let mesh = models.as_array().unwrap().iter().find(|m| m["name"] == "face_landmarks").expect("the tracker's model");
    assert_eq!(
        (mesh["element"].as_str(), mesh["license"].as_str()),
        (Some("facetrack"), Some("Apache-2.0")),
        "{manifest}"
    );
    assert!(mesh["sha256"].as_str().is_some_and(|h| h.len() == 64), "{manifest}");
    app.state.live.stop_all().await;
}
