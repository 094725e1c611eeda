// SPDX-License-Identifier: MPL-2.0
//! The subtitle editor's translate button in headless Chromium against the real server: with
//! a Firefox Translations-shaped English -> Spanish model imported (the fixture writer's: its
//! "Spanish" is the translator's deterministic output of seeded weights), a new `es` tab
//! translated from the English track shows the translated cues with the English timings,
//! and they are still there after a reload; French, with no model imported, is translated by
//! Apertium (through Spanish); a pair with neither (`de`) shows the server's reason, naming
//! the import command. Its own test binary: the user's model directory
//! (`XDG_DATA_HOME`) is a temporary one for the whole process.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/forms.rs"]
mod forms;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use browser::Browser;
use common::TestApp;
use forms::{media, private_user_models, project};
use reenact_engine::translation::Translator;
use reenact_models::marian_writer::import_fixture;
use serde_json::{json, Value};

const EDITOR: &str = "editor@museum.org";
const PASSWORD: &str = "correct horse battery";

/// The cue list as the editor shows it: (start, end, text) of each row.
const CUES: &str = "Array.from(document.querySelectorAll('#cue-list li')).map(li => \
    [li.querySelector('.cue-start').value, li.querySelector('.cue-end').value, li.querySelector('.cue-text').value])";

fn cues(value: &Value) -> Vec<(String, String, String)> {
    let rows = value.as_array().expect("rows");
    rows.iter()
        .map(|row| {
            let cell = |i: usize| row[i].as_str().unwrap().to_owned();
            (cell(0), cell(1), cell(2))
        })
        .collect()
}

#[tokio::test]
async fn a_track_is_translated_from_the_editor_and_kept() {
    let (_data, user_models) = private_user_models();
    let files = tempfile::tempdir().unwrap();
    import_fixture(files.path(), &user_models, ("en", "es"), 11).expect("imported");
    let mut oracle = Translator::open("en", "es").expect("the import is found");
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");

    let app = TestApp::sqlite().await;
    let addr = app.serve().await;
    let base = format!("http://{addr}");
    let (token, _) = app.sign_up(EDITOR).await;
    let project = project(&app, &token, "Harbour tour").await;
    let (status, clip) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
    assert_eq!(status, StatusCode::CREATED, "{clip}");
    let english = json!([
        { "start": 0.2, "end": 1.2, "text": "the house is red" },
        { "start": 1.5, "end": 2.8, "text": "hello world" },
    ]);
    let uri = format!("/api/projects/{project}/subtitles/en");
    let (status, body) = app.call(Method::PUT, &uri, Some(&token), Some(json!({ "cues": english }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let b = Browser::open().await;
    b.sign_in(&base, EDITOR, PASSWORD).await;
    let page = format!("{base}/projects/{project}/subtitles");
    b.goto(&page).await;
    b.live("#new-language-tag").await;
    b.wait("the English track", &format!("{CUES}.length === 2"), Duration::from_secs(20)).await;

    // A language without a model: the server's reason, with the command that brings one.
    b.fill("#new-language-tag", "de").await;
    b.click("#new-language button[type=submit]").await;
    b.wait("the empty German tab", &format!("{CUES}.length === 0"), Duration::from_secs(20)).await;
    b.fill("#translate-from", "en").await;
    b.click("#translate").await;
    let reason = b
        .wait("the refusal", "document.querySelector('.form-error')?.textContent || ''", Duration::from_secs(20))
        .await;
    let reason = reason.as_str().unwrap();
    assert!(reason.contains("no translation model for en -> de") && reason.contains("--as translation"), "{reason}");

    // Spanish: translated cue by cue, the timings kept.
    b.fill("#new-language-tag", "es").await;
    b.click("#new-language button[type=submit]").await;
    // The tab's (empty) track is fetched when it opens; nothing on the page shows that fetch
    // ending, and translating before it ends would have the fetch blank the result.
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.fill("#translate-from", "en").await;
    b.click("#translate").await;
    b.wait("two translated cues", &format!("{CUES}.length === 2"), Duration::from_secs(30)).await;
    let shown = cues(&b.eval(CUES).await);
    assert_eq!((&*shown[0].0, &*shown[0].1, &*shown[1].0, &*shown[1].1), ("0.2", "1.2", "1.5", "2.8"), "{shown:?}");
    for ((_, _, text), source) in shown.iter().zip(["the house is red", "hello world"]) {
        assert_eq!(words(text), words(&oracle.translate(source).unwrap()), "{source}");
    }
    b.shot("subtitles-translated").await;

    // French: no model imported, so Apertium's, through Spanish.
    b.fill("#new-language-tag", "fr").await;
    b.click("#new-language button[type=submit]").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.fill("#translate-from", "en").await;
    b.click("#translate").await;
    let french = format!("{CUES}.length === 2 && {CUES}[0][2].includes('maison')");
    b.wait("the French cues", &french, Duration::from_secs(30)).await;
    let shown_fr = cues(&b.eval(CUES).await);
    assert_eq!((&*shown_fr[1].0, &*shown_fr[1].1), ("1.5", "2.8"), "{shown_fr:?}");
    assert_eq!(words(&shown_fr[0].2), "La maison est rouge", "{shown_fr:?}");

    // Stored: a reload, then the Spanish tab, shows the same cues.
    b.goto(&page).await;
    b.live("#language-tabs button[data-lang='es']").await;
    let english_shown = format!("{CUES}.length === 2 && {CUES}[0][2] === 'the house is red'");
    b.wait("the English track first", &english_shown, Duration::from_secs(20)).await;
    b.click("#language-tabs button[data-lang='es']").await;
    let spanish_shown = format!("{CUES}.length === 2 && {CUES}[0][2] !== 'the house is red'");
    b.wait("the Spanish track", &spanish_shown, Duration::from_secs(20)).await;
    assert_eq!(cues(&b.eval(CUES).await), shown);
}
