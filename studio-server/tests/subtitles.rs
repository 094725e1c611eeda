// SPDX-License-Identifier: MPL-2.0
//! Subtitle tracks through the API, on SQLite and PostgreSQL: a track is stored per
//! language, read back, edited, exported as SRT and WebVTT that parse back to the same
//! cues, listed and deleted; bad tracks (overlapping cues, a cue past the project's end,
//! unknown language) and a translation pair without a model are refused with the field
//! named, leaving the stored track as it was; with a Firefox Translations-shaped model
//! imported through the command line, a track is translated cue by cue.

mod common;
#[path = "common/forms.rs"]
mod forms;

use std::path::Path;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp};
use forms::{media, project};
use reenact_engine::subtitles::{self, Format};
use serde_json::{json, Value};

async fn put(app: &TestApp, token: &str, uri: &str, cues: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, uri, Some(token), Some(json!({ "cues": cues }))).await
}

async fn text_of(app: &TestApp, token: &str, uri: &str) -> (StatusCode, String) {
    let (status, body) = app.call(Method::GET, uri, Some(token), None).await;
    (status, body.as_str().map(str::to_owned).unwrap_or_else(|| body.to_string()))
}

/// A new project whose timeline is the first 2 s of a GRID take; its id.
async fn two_second_project(app: &TestApp, token: &str, name: &str) -> String {
    let project = project(app, token, name).await;
    let (_, clip) = app.upload(&project, "a.mp4", &media("grid/grid_swwp2s.mp4"), token).await;
    let timeline = json!({ "tracks": [{ "clips": [{ "source": clip["id"], "in": 0.0, "out": 2.0 }] }] });
    let uri = format!("/api/projects/{project}");
    let (status, _) = app.call(Method::PATCH, &uri, Some(token), Some(json!({ "timeline": timeline }))).await;
    assert_eq!(status, StatusCode::OK);
    project
}

#[tokio::test]
async fn tracks_are_stored_checked_exported_and_refused_by_field() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("subtitler@museum.org").await;
        let project = project(&app, &token, "Four languages").await;
        // The clip (3 s) is the project's length while its timeline is empty.
        let (status, clip) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
        assert_eq!(status, StatusCode::CREATED, "{clip}");
        let base = format!("/api/projects/{project}/subtitles");

        let cues = json!([
            { "start": 0.2, "end": 1.2, "text": "Welcome to the museum.", "speaker": "Guide" },
            { "start": 1.2, "end": 2.9, "text": "This hall is\nfrom 1850." },
        ]);
        let (status, track) = put(&app, &token, &format!("{base}/EN"), cues.clone()).await;
        assert_eq!(status, StatusCode::OK, "{track}");
        assert_eq!(track["lang"], "en", "tags are stored in canonical case");
        assert_eq!(track["language"], "English");
        assert_eq!(track["cues"], cues);
        // 22 characters in 1 s is over the reading-speed limit; 24 in 1.7 s is not.
        assert_eq!(track["too_fast"], json!([0]));

        // An edit replaces the track; a reload shows the edit.
        let edited = json!([
            { "start": 0.2, "end": 1.2, "text": "Welcome, visitors.", "speaker": "Guide" },
            { "start": 1.2, "end": 2.9, "text": "This hall is\nfrom 1850." },
        ]);
        let (status, _) = put(&app, &token, &format!("{base}/en"), edited.clone()).await;
        assert_eq!(status, StatusCode::OK);
        let (status, track) = app.call(Method::GET, &format!("{base}/en"), Some(&token), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(track["cues"], edited);

        // A second language, with a cue read too fast (30 characters in 1 s).
        let spanish = json!([{ "start": 0.2, "end": 1.2, "text": "Bienvenidos, queridos visitantes" }]);
        let (status, track) = put(&app, &token, &format!("{base}/es-es"), spanish).await;
        assert_eq!(status, StatusCode::OK, "{track}");
        assert_eq!(track["lang"], "es-ES");
        assert_eq!(track["too_fast"], json!([0]));
        let (status, list) = app.call(Method::GET, &base, Some(&token), None).await;
        assert_eq!(status, StatusCode::OK);
        let langs: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["lang"].as_str().unwrap()).collect();
        assert_eq!(langs, ["en", "es-ES"]);

        // Exports parse back to the edited cues.
        for (format, query) in [(Format::Srt, ""), (Format::Srt, "?format=srt"), (Format::Vtt, "?format=vtt")] {
            let (status, text) = text_of(&app, &token, &format!("{base}/en/export{query}")).await;
            assert_eq!(status, StatusCode::OK, "{text}");
            let back = subtitles::parse(Path::new("export"), &text, format).expect("export parses");
            assert_eq!(back.len(), 2);
            assert_eq!((back[0].start_s, back[0].end_s), (0.2, 1.2));
            assert!(back[0].text.contains("Welcome, visitors."), "{text}");
            assert_eq!(back[1].text, "This hall is\nfrom 1850.");
            if format == Format::Vtt {
                assert!(text.contains("<v Guide>Welcome"), "{text}");
            }
        }
        expect_error(
            app.call(Method::GET, &format!("{base}/en/export?format=ass"), Some(&token), None).await,
            StatusCode::BAD_REQUEST,
            "format:",
        );

        // Refusals name the field and leave the stored track unchanged.
        let overlapping = json!([
            { "start": 0.0, "end": 2.0, "text": "One" },
            { "start": 1.5, "end": 2.5, "text": "Two" },
        ]);
        expect_error(
            put(&app, &token, &format!("{base}/en"), overlapping).await,
            StatusCode::BAD_REQUEST,
            "cues[1].start",
        );
        let past_end = json!([{ "start": 1.0, "end": 9.0, "text": "Too late" }]);
        expect_error(
            put(&app, &token, &format!("{base}/en"), past_end).await,
            StatusCode::BAD_REQUEST,
            "cues[0].end: 9 is past the end of the project",
        );
        expect_error(
            put(&app, &token, &format!("{base}/sp"), json!([])).await,
            StatusCode::BAD_REQUEST,
            "lang: `sp` is not a BCP 47 language tag",
        );
        expect_error(
            put(&app, &token, &format!("{base}/en"), json!([{ "start": 0.0, "end": 1.0, "text": "" }])).await,
            StatusCode::BAD_REQUEST,
            "cues[0].text",
        );
        let (_, track) = app.call(Method::GET, &format!("{base}/en"), Some(&token), None).await;
        assert_eq!(track["cues"], edited, "a refused write changed the track");

        // Translation: no model for the pair is installed, so it is refused naming `from`.
        let translate = |from: &str| json!({ "from": from });
        expect_error(
            app.call(Method::POST, &format!("{base}/de/translate"), Some(&token), Some(translate("en"))).await,
            StatusCode::BAD_REQUEST,
            "from: no translation model for en -> de is installed",
        );
        expect_error(
            app.call(Method::POST, &format!("{base}/de/translate"), Some(&token), Some(translate("fr"))).await,
            StatusCode::BAD_REQUEST,
            "from: the project has no `fr` subtitle track",
        );
        expect_error(
            app.call(Method::POST, &format!("{base}/en/translate"), Some(&token), Some(translate("en-GB"))).await,
            StatusCode::BAD_REQUEST,
            "from: `en-GB` is the language of the track to make",
        );
        expect_error(
            app.call(Method::POST, &format!("{base}/de/translate"), Some(&token), Some(translate("klingon"))).await,
            StatusCode::BAD_REQUEST,
            "from: `klingon` is not a BCP 47 language tag",
        );
        let (status, _) = app.call(Method::GET, &format!("{base}/de"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a refused translation made a track");

        // Deleting a track; another user sees none of it.
        let (other, _) = app.sign_up("other@museum.org").await;
        let (status, _) = app.call(Method::GET, &format!("{base}/en"), Some(&other), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app.call(Method::DELETE, &format!("{base}/es-ES"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.call(Method::GET, &format!("{base}/es-ES"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

/// A render of a project with English and Spanish tracks: the MP4 lists both as soft
/// `mov_text` tracks tagged `eng` and `spa` (ffprobe), and the `PRESET.LANG.srt` sidecars
/// served by the render's files route hold the edited cues.
#[tokio::test]
async fn renders_carry_every_track_as_soft_subtitles_and_sidecars() {
    for app in TestApp::all().await {
        let app = forms::roomy(app, 10_000_000);
        let (token, _) = app.sign_up("renderer@museum.org").await;
        let project = two_second_project(&app, &token, "Tour").await;
        let base = format!("/api/projects/{project}/subtitles");
        // The timeline is 2 s long now: a cue to 2.5 s is past its end.
        expect_error(
            put(&app, &token, &format!("{base}/en"), json!([{ "start": 1.0, "end": 2.5, "text": "Late" }])).await,
            StatusCode::BAD_REQUEST,
            "cues[0].end: 2.5 is past the end of the project (2.000 s)",
        );
        let english = json!([{ "start": 0.1, "end": 0.9, "text": "Welcome." }, { "start": 1.0, "end": 1.9, "text": "The port." }]);
        let spanish = json!([{ "start": 0.1, "end": 0.9, "text": "Bienvenidos." }, { "start": 1.0, "end": 1.9, "text": "El puerto." }]);
        assert_eq!(put(&app, &token, &format!("{base}/en"), english).await.0, StatusCode::OK);
        assert_eq!(put(&app, &token, &format!("{base}/es"), spanish).await.0, StatusCode::OK);

        let renders = format!("/api/projects/{project}/renders");
        let (status, render) =
            app.call(Method::POST, &renders, Some(&token), Some(json!({ "presets": ["master"] }))).await;
        assert_eq!(status, StatusCode::CREATED, "{render}");
        let w = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
        assert!(w.run_once().await.unwrap().is_some());
        let uri = format!("/api/renders/{}", render["id"].as_str().unwrap());
        let (_, done) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(done["job"]["state"], "succeeded", "{done}");

        let (status, _, bytes) = app.get_raw(&format!("{uri}/files/master"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        let file = tempfile::Builder::new().suffix(".mp4").tempfile().unwrap();
        std::fs::write(file.path(), &bytes).unwrap();
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_streams", "-of", "json"])
            .arg(file.path())
            .output()
            .expect("ffprobe runs");
        let doc: Value = serde_json::from_slice(&probe.stdout).unwrap();
        let subs: Vec<(String, String)> = doc["streams"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["codec_type"] == "subtitle")
            .map(|s| (s["codec_name"].as_str().unwrap().to_owned(), s["tags"]["language"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(subs, [("mov_text".into(), "eng".into()), ("mov_text".into(), "spa".into())]);

        let (status, _, srt) = app.get_raw(&format!("{uri}/files/master.es.srt"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        let cues = subtitles::parse(Path::new("es.srt"), &String::from_utf8(srt).unwrap(), Format::Srt).unwrap();
        let texts: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["Bienvenidos.", "El puerto."]);
        let (status, _, vtt) = app.get_raw(&format!("{uri}/files/master.en.vtt"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(String::from_utf8(vtt).unwrap().contains("The port."));
        assert_eq!(app.get_raw(&format!("{uri}/files/master.de.srt"), &token, &[]).await.0, StatusCode::NOT_FOUND);

        // One language burned in: only a track the project has, and not with captions.
        let burn = |lang: &str| json!({ "presets": ["master"], "burn_in_subtitles": lang });
        expect_error(
            app.call(Method::POST, &renders, Some(&token), Some(burn("de"))).await,
            StatusCode::BAD_REQUEST,
            "burn_in_subtitles: the project has no `de` track",
        );
        let both = json!({ "presets": ["master"], "burn_in_subtitles": "es", "captions": "sidecar" });
        expect_error(
            app.call(Method::POST, &renders, Some(&token), Some(both)).await,
            StatusCode::BAD_REQUEST,
            "burn_in_subtitles: not with `captions`",
        );
        let (status, render) = app.call(Method::POST, &renders, Some(&token), Some(burn("es"))).await;
        assert_eq!(status, StatusCode::CREATED, "{render}");
        assert!(w.run_once().await.unwrap().is_some());
        let uri = format!("/api/renders/{}", render["id"].as_str().unwrap());
        let (_, done) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(done["job"]["state"], "succeeded", "{done}");
        assert_eq!(done["outputs"][0]["captions"], "burn-in", "{done}");
    }
}

/// A scene dubbed into Spanish: an unknown language is refused naming `dub`, the render is
/// refused naming the scene until the project has a Spanish track, and then the render's
/// scene speaks that track's lines (the output lists them, with the lips that followed).
#[tokio::test]
async fn a_dubbed_scene_speaks_the_projects_track_in_its_language() {
    forms::use_shared_models();
    for app in TestApp::all().await {
        let app = forms::roomy(app, 20_000_000);
        let (token, _) = app.sign_up("dubber@museum.org").await;
        let project = two_second_project(&app, &token, "Dubbed tour").await;
        let character = forms::astronaut(&app, &token, &project).await;
        let scenes = format!("/api/projects/{project}/scenes");
        let scene = |dub: &str| json!({ "start": 0.0, "end": 2.0, "character_id": character["id"], "dub": dub });
        expect_error(
            app.call(Method::POST, &scenes, Some(&token), Some(scene("klingon"))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "dub: ",
        );
        let (status, created) = app.call(Method::POST, &scenes, Some(&token), Some(scene("ES"))).await;
        assert_eq!((status, &created["dub"]), (StatusCode::CREATED, &json!("es")), "{created}");

        let renders = format!("/api/projects/{project}/renders");
        let master = json!({ "presets": ["master"] });
        let (status, refused) = app.call(Method::POST, &renders, Some(&token), Some(master.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        let detail = refused["detail"].as_str().unwrap();
        assert!(detail.contains(".dub: the project has no `es` subtitle track"), "{detail}");

        let spanish = json!([{ "start": 0.1, "end": 0.9, "text": "Hola a todos." }, { "start": 1.0, "end": 1.9, "text": "El puerto." }]);
        let track = format!("/api/projects/{project}/subtitles/es");
        assert_eq!(put(&app, &token, &track, spanish).await.0, StatusCode::OK);
        let (status, render) = app.call(Method::POST, &renders, Some(&token), Some(master)).await;
        assert_eq!(status, StatusCode::CREATED, "{render}");
        let w = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
        assert!(w.run_once().await.unwrap().is_some());
        let uri = format!("/api/renders/{}", render["id"].as_str().unwrap());
        let (_, done) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(done["job"]["state"], "succeeded", "{done}");
        let scene = &done["outputs"][0]["scenes"][0];
        assert_eq!(scene["dub"]["language"], "es", "{scene}");
        // A character without a voice: espeak-ng's own Spanish voice at its own pitch.
        assert_eq!(scene["dub"]["speech"], "espeak-ng:es pitch 50", "{scene}");
        let lines = scene["dub"]["lines"].as_array().expect("the lines spoken");
        let starts: Vec<f64> = lines.iter().map(|l| l["start_s"].as_f64().unwrap()).collect();
        assert_eq!(starts, [0.1, 1.0], "{scene}");
        assert!(scene["lips"].as_str().is_some_and(|l| l.starts_with("classical:")), "{scene}");
    }
}

#[tokio::test]
async fn an_imported_model_translates_a_track_cue_by_cue() {
    let (_data, user_models) = forms::private_user_models();
    let files = tempfile::tempdir().unwrap();
    let (model, _) = reenact_models::marian_writer::write_fixture(files.path(), "en", "es", 11).unwrap();
    // Imported as a user does, naming neither the pair nor the vocabulary: Mozilla's file
    // names say both.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(["models", "import"])
        .arg(&model)
        .args(["--as", "translation", "--license", "MPL-2.0", "--commercial-use", "yes", "--dir"])
        .arg(&user_models)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("translation_en_es") && printed.contains("firefox_translations"), "{printed}");
    let mut oracle = reenact_engine::translation::Translator::open("en", "es").expect("the import is found");
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");

    for app in TestApp::all().await {
        let (token, _) = app.sign_up("translator@museum.org").await;
        let project = two_second_project(&app, &token, "Two languages").await;
        let base = format!("/api/projects/{project}/subtitles");
        let english = json!([
            { "start": 0.0, "end": 0.9, "text": "the house\nis red", "speaker": "Guide" },
            { "start": 1.0, "end": 1.9, "text": "hello world" },
        ]);
        let (status, body) = put(&app, &token, &format!("{base}/en"), english).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, track) =
            app.call(Method::POST, &format!("{base}/es/translate"), Some(&token), Some(json!({ "from": "en" }))).await;
        assert_eq!(status, StatusCode::OK, "{track}");
        let cues = track["cues"].as_array().unwrap();
        assert_eq!(cues.len(), 2);
        assert_eq!((cues[0]["start"].as_f64(), cues[0]["end"].as_f64()), (Some(0.0), Some(0.9)));
        assert_eq!(cues[0]["speaker"], "Guide");
        assert_eq!((cues[1]["start"].as_f64(), cues[1]["end"].as_f64()), (Some(1.0), Some(1.9)));
        for (cue, source) in cues.iter().zip(["the house is red", "hello world"]) {
            let expected = oracle.translate(source).unwrap();
            assert_eq!(words(cue["text"].as_str().unwrap()), words(&expected), "{source}");
        }
        assert_ne!(cues[0]["text"], cues[1]["text"]);
        let (status, stored) = app.call(Method::GET, &format!("{base}/es"), Some(&token), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stored["cues"], track["cues"]);
        // Another pair is another model, still refused (Apertium has no German).
        expect_error(
            app.call(Method::POST, &format!("{base}/de/translate"), Some(&token), Some(json!({ "from": "es" }))).await,
            StatusCode::BAD_REQUEST,
            "from: no translation model for es -> de is installed",
        );
    }
}

/// With no model imported for the pair, Apertium translates a track (English into French,
/// through Spanish, in one run for all the cues), timings and speakers kept.
#[tokio::test]
async fn apertium_translates_a_track_when_no_model_is_imported() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("traductrice@museum.org").await;
        let project = two_second_project(&app, &token, "Deux langues").await;
        let base = format!("/api/projects/{project}/subtitles");
        let english = json!([
            { "start": 0.0, "end": 0.9, "text": "The library is\non the second floor.", "speaker": "Guide" },
            { "start": 1.0, "end": 1.9, "text": "Thank you for your visit." },
        ]);
        let (status, body) = put(&app, &token, &format!("{base}/en"), english).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, track) =
            app.call(Method::POST, &format!("{base}/fr/translate"), Some(&token), Some(json!({ "from": "en" }))).await;
        assert_eq!(status, StatusCode::OK, "{track}");
        let cues = track["cues"].as_array().unwrap();
        assert_eq!(cues.len(), 2);
        assert_eq!(
            (cues[0]["start"].as_f64(), cues[0]["end"].as_f64(), &cues[0]["speaker"]),
            (Some(0.0), Some(0.9), &json!("Guide"))
        );
        let text = |i: usize| cues[i]["text"].as_str().unwrap().replace('\n', " ");
        assert!(text(0).contains("bibliothèque") && text(0).contains("deuxième"), "{track}");
        assert!(text(1).contains("votre visite"), "{track}");
    }
}
