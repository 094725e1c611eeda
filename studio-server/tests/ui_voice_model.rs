// SPDX-License-Identifier: MPL-2.0
//! The cast page's neural-voice picker in headless Chromium against the real server: it
//! offers the catalog's installed voice models (RVC v2 voices an administrator imported)
//! with their licences, a character keeps the one picked and the speaker set, a
//! non-commercial model says so beside the picker, a speaker that is not a number is
//! refused on the page and one past the voice's speaker table by the server, and "None"
//! gives the voice back to the profile. A portrait animated with LivePortrait's modules
//! says their licence too. Its own test binary: the user's model directory
//! (`XDG_DATA_HOME`) is a temporary one for the whole process, so the voices imported here
//! never reach the machine's own. Screenshot in `target/ui-screenshots/cast-voice-model.png`.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/forms.rs"]
mod forms;

use std::path::Path;
use std::time::Duration;

use axum::http::Method;
use browser::Browser;
use common::TestApp;
use forms::{astronaut, import_standin, private_user_models, project, roomy};
use reenact_models::graph::Graph;
use reenact_models::Slot;
use serde_json::{json, Value};

const EMAIL: &str = "curator@museum.org";

/// Imports an RVC v2 stand-in as voice `name`, cleared for commercial use or not.
fn import_voice(dir: &Path, name: &str, commercial_use: bool) {
    let graph = Graph::new().rvc_v2_signature(40_000).node("Identity", &["pitchf"], &["audio"], &[]);
    import_standin(dir, name, &graph, Slot::Voice, commercial_use);
}

/// Sets the `<select>` or `<input>` at `css` to `value` as a user would, firing `change`.
async fn set(b: &Browser, css: &str, value: &str) {
    let script = format!(
        "(() => {{ const x = document.querySelector({css:?}); if (!x) return false; x.value = {value:?}; \
         x.dispatchEvent(new Event('change', {{ bubbles: true }})); return true; }})()"
    );
    assert_eq!(b.eval(&script).await, json!(true), "no {css} on the page");
}

/// Waits up to 10 s for the character at `uri` to say `voice_model` is `expected` (`null`
/// for none): the page's PATCH is sent after the change event returns.
async fn settles(app: &TestApp, uri: &str, token: &str, expected: Value) {
    let mut shown = Value::Null;
    for _ in 0..40 {
        shown = app.call(Method::GET, uri, Some(token), None).await.1;
        if shown.get("voice_model").unwrap_or(&Value::Null) == &expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("voice_model never became {expected}: {shown}");
}

#[tokio::test]
async fn the_cast_page_picks_a_catalog_voice_and_its_speaker_and_shows_its_licence() {
    let (_data, user_models) = private_user_models();
    import_voice(&user_models, "lincoln_v2", false);
    import_voice(&user_models, "narrator_v2", true);
    for (name, graph) in reenact_models::graph::liveportrait_standins() {
        import_standin(&user_models, name, &graph, Slot::PortraitAnimation, false);
    }

    let app = roomy(TestApp::sqlite().await, 50_000_000);
    let addr = app.serve().await;
    let base = format!("http://{addr}");
    let (token, _) = app.sign_up(EMAIL).await;
    let project = project(&app, &token, "Gettysburg").await;
    let character = astronaut(&app, &token, &project).await["id"].as_str().unwrap().to_string();
    let uri = format!("/api/characters/{character}");
    let settled = |expected: Value| settles(&app, &uri, &token, expected);

    let b = Browser::open().await;
    b.sign_in(&base, EMAIL, "correct horse battery").await;
    b.goto(&format!("{base}/projects/{project}")).await;
    b.live("#character-list").await;
    let picker = format!("#voice-model-of-{character}");
    let offered = b
        .wait(
            "the catalog's voices",
            &format!(
                "(() => {{ const s = document.querySelector('{picker}'); \
                 return s && s.options.length === 3 ? [...s.options].map(o => o.text) : null; }})()"
            ),
            Duration::from_secs(20),
        )
        .await;
    let offered: Vec<&str> = offered.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(offered[0], "None: the voice profile speaks", "{offered:?}");
    assert!(offered.iter().any(|o| o.starts_with("lincoln_v2 · ") && o.ends_with("· NON-COMMERCIAL")), "{offered:?}");
    assert!(
        offered.iter().any(|o| o.starts_with("narrator_v2 · ") && o.ends_with("· commercial use allowed")),
        "{offered:?}"
    );
    // Nothing but voices: the shared face and speech models are in the same catalog.
    assert!(!offered.iter().any(|o| o.contains("blazeface") || o.contains("whisper")), "{offered:?}");

    // Picked: the character file speaks with it, and the page says the licence out loud.
    set(&b, &picker, "lincoln_v2").await;
    let speaker = format!("#speaker-of-{character}");
    b.wait("the speaker field", &format!("document.querySelector('{speaker}') !== null"), Duration::from_secs(10))
        .await;
    settled(json!({"name": "lincoln_v2", "speaker_id": 0})).await;
    // The speaker table the import read bounds the field: four speakers, ids 0 to 3.
    let max = b.eval(&format!("document.querySelector('{speaker}').max")).await;
    assert_eq!(max, "3", "the field's upper bound");
    let range = b.eval("document.querySelector('#character-list .speaker-range')?.textContent").await;
    assert_eq!(range, "ids 0 to 3");
    let licence = b
        .wait(
            "the licence note",
            "document.querySelector('#character-list .model-licence.non-commercial')?.textContent",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(licence, "Licence: test · NON-COMMERCIAL");

    set(&b, &speaker, "3").await;
    settled(json!({"name": "lincoln_v2", "speaker_id": 3})).await;

    // A speaker that is not a number is refused on the page; the file keeps speaker 3.
    set(&b, &speaker, "-1").await;
    let refused = b
        .wait(
            "the speaker's refusal",
            "document.querySelector('#characters-heading ~ .form-error')?.textContent",
            Duration::from_secs(10),
        )
        .await;
    assert!(refused.as_str().unwrap().contains("speaker_id"), "{refused}");
    settled(json!({"name": "lincoln_v2", "speaker_id": 3})).await;

    // A speaker past the voice's speaker table is the server's refusal, shown as it says it.
    set(&b, &speaker, "4").await;
    let refused = b
        .wait(
            "the server's refusal of speaker 4",
            "(() => { const e = document.querySelector('#characters-heading ~ .form-error'); \
             return e && e.textContent.includes('holds 4 speakers') ? e.textContent : null; })()",
            Duration::from_secs(10),
        )
        .await;
    assert!(refused.as_str().unwrap().contains("`lincoln_v2` holds 4 speakers (ids 0 to 3), not 4"), "{refused}");
    settled(json!({"name": "lincoln_v2", "speaker_id": 3})).await;

    // Another voice, cleared for commercial use: picked after a reload, no loud note.
    b.client.refresh().await.unwrap();
    b.live("#character-list").await;
    b.wait(
        "the kept voice",
        &format!("document.querySelector('{picker}')?.value === 'lincoln_v2'"),
        Duration::from_secs(20),
    )
    .await;
    set(&b, &picker, "narrator_v2").await;
    b.wait(
        "the commercial licence note",
        "document.querySelector('#character-list .model-licence')?.textContent === 'Licence: test · commercial use allowed'",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(b.eval("document.querySelector('#character-list .non-commercial') === null").await, json!(true));
    settled(json!({"name": "narrator_v2", "speaker_id": 0})).await;
    b.eval(&format!("document.querySelector('{picker}').scrollIntoView({{ block: 'center' }})")).await;
    b.shot("cast-voice-model").await;

    // None: the profile speaks again, and the speaker field goes.
    set(&b, &picker, "").await;
    b.wait("no speaker field", &format!("document.querySelector('{speaker}') === null"), Duration::from_secs(10)).await;
    settled(Value::Null).await;

    // Animating the portrait says what LivePortrait's modules may be used for.
    assert_eq!(b.eval("document.querySelector('#character-list .face-licence') === null").await, json!(true));
    set(&b, &format!("#face-of-{character}"), "animate").await;
    let note = b
        .wait(
            "the modules' licence",
            "document.querySelector('#character-list .face-licence.non-commercial')?.textContent",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(note, "LivePortrait's modules: test · NON-COMMERCIAL");

    // A voice the catalog no longer has stays listed as such, not silently swapped.
    set(&b, &picker, "lincoln_v2").await;
    b.wait("the speaker field", &format!("document.querySelector('{speaker}') !== null"), Duration::from_secs(10))
        .await;
    std::fs::remove_dir_all(&user_models).unwrap();
    b.client.refresh().await.unwrap();
    b.live("#character-list").await;
    let text = b
        .wait(
            "the missing voice",
            &format!("document.querySelector('{picker}')?.selectedOptions[0]?.text"),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(text, "lincoln_v2 (not in the model catalog)");
}
