// SPDX-License-Identifier: MPL-2.0
//! Subtitle tracks through the API, on SQLite and PostgreSQL: a track is stored per
//! language, read back, edited, exported as SRT and WebVTT that parse back to the same
//! cues, listed and deleted; bad tracks (overlapping cues, a cue past the project's end,
//! unknown language) and a translation pair without a model are refused with the field
//! named, leaving the stored track as it was.

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
