// SPDX-License-Identifier: MPL-2.0
//! The `/models` page in headless Chromium against the real server: every signed-in user
//! sees the catalog's models with their licences (NON-COMMERCIAL marked); the administrator
//! the operator named installs an RVC v2 voice through the page's form, which then lists it
//! with its signature and licence, and a graph that fits no signature of its slot is refused
//! beside the file field naming what was found; another user sees the list and no form
//! (the API's refusal of them is `admin_models`' test). Its own test binary: the user's model directory (`XDG_DATA_HOME`) is a
//! temporary one for the whole process. Screenshot in `target/ui-screenshots/models.png`.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/forms.rs"]
mod forms;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use browser::Browser;
use common::TestApp;
use forms::private_user_models;
use reenact_models::graph::Graph;
use reenact_server::http::models::ModelAdmin;
use serde_json::json;

const ADMIN: &str = "admin@museum.org";
const CURATOR: &str = "curator@museum.org";
const PASSWORD: &str = "correct horse battery";

/// The row of model `name` as the page shows it: [name, version, task, licence, commercial, file].
async fn row(b: &Browser, name: &str) -> Vec<String> {
    let cells = b
        .wait(
            &format!("the row of {name}"),
            &format!(
                "(() => {{ const r = document.querySelector('#model-list tr[data-model=\"{name}\"]'); \
                 return r ? [...r.cells].map(c => c.innerText.trim()) : null; }})()"
            ),
            Duration::from_secs(20),
        )
        .await;
    cells.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_models_page_lists_licences_and_lets_the_named_administrator_install_one() {
    let (_data, user_models) = private_user_models();

    let mut app = TestApp::sqlite().await;
    app.state.models = Arc::new(ModelAdmin::new(vec!["Admin@Museum.org".into()], Some(user_models.clone())));
    app.state.upload_limit = 1_000_000;
    app.router = reenact_server::app(app.state.clone());
    let addr = app.serve().await;
    let base = format!("http://{addr}");
    let (admin_token, _) = app.sign_up(ADMIN).await;
    let (curator_token, _) = app.sign_up(CURATOR).await;
    let (_, account) = app.call(Method::GET, "/api/account", Some(&admin_token), None).await;
    assert_eq!(account["model_admin"], json!(true), "{account}");
    let (_, account) = app.call(Method::GET, "/api/account", Some(&curator_token), None).await;
    assert_eq!(account["model_admin"], json!(false), "{account}");

    let files = tempfile::tempdir().unwrap();
    let voice = files.path().join("lincoln_v2.onnx");
    let rvc = Graph::new().rvc_v2_signature(40_000).node("Identity", &["pitchf"], &["audio"], &[]);
    std::fs::write(&voice, rvc.to_model()).unwrap();
    let not_a_swap = files.path().join("not_a_swap.onnx");
    let graph = Graph::new()
        .input("target", &[1, 3, 128, 128])
        .input("source", &[1, 512])
        .output("output", &[1, 3, 128, 128])
        .initializer("c0", &[1], &[0.0])
        .node("Identity", &["c0"], &["output"], &[]);
    std::fs::write(&not_a_swap, graph.to_model()).unwrap();

    let b = Browser::open().await;
    b.sign_in(&base, ADMIN, PASSWORD).await;
    b.goto(&format!("{base}/models")).await;
    b.live("#model-list").await;
    // The shared catalog: the face detector's manifest names its licence but not whether
    // commercial use is allowed, which commercial projects treat as not cleared.
    let blazeface = row(&b, "blazeface_back_256").await;
    assert_eq!((&*blazeface[3], &*blazeface[5]), ("Apache-2.0", "installed"), "{blazeface:?}");
    assert_eq!(blazeface[4], "commercial use not stated", "{blazeface:?}");
    let quiet = b
        .eval("document.querySelector('#model-list tr[data-model=\"blazeface_back_256\"] td.non-commercial') === null")
        .await;
    assert_eq!(quiet, json!(true), "only a model its licence bars is marked NON-COMMERCIAL");

    // A graph that is not inswapper (no `emap`) is refused beside the file, naming what it has.
    b.live("#model-form").await;
    b.eval("document.getElementById('model-slot').value = 'faceswap'").await;
    b.fill("#model-license", "test").await;
    b.attach("#model-file", &not_a_swap).await;
    b.click("#model-form button[type=submit]").await;
    let reason = b
        .wait("the file's refusal", "document.getElementById('file-error').textContent", Duration::from_secs(20))
        .await;
    let reason = reason.as_str().unwrap();
    assert!(reason.contains("not a model for the faceswap slot") && reason.contains("found"), "{reason}");
    assert!(!user_models.join("imported/not_a_swap.onnx").exists(), "a refused graph is not installed");

    // An RVC v2 voice, not cleared for commercial use: listed with its signature and licence.
    b.eval("document.getElementById('model-slot').value = 'voice'").await;
    b.eval("document.getElementById('model-commercial').value = 'no'").await;
    b.fill("#model-license", "CC-BY-NC-4.0").await;
    b.fill("#model-rate", "40000").await;
    b.attach("#model-file", &voice).await;
    b.click("#model-form button[type=submit]").await;
    let lincoln = row(&b, "lincoln_v2").await;
    assert_eq!(lincoln[3], "CC-BY-NC-4.0", "{lincoln:?}");
    assert_eq!(lincoln[4], "NON-COMMERCIAL", "{lincoln:?}");
    assert_eq!(lincoln[5], "installed", "{lincoln:?}");
    assert!(lincoln[2].starts_with("voice_conversion"), "{lincoln:?}");
    let loud =
        b.eval("document.querySelector('#model-list tr[data-model=\"lincoln_v2\"] td.non-commercial') !== null").await;
    assert_eq!(loud, json!(true));
    assert!(user_models.join("imported/lincoln_v2.onnx").is_file());
    b.eval("document.querySelector('#model-list tr[data-model=\"lincoln_v2\"]').scrollIntoView({ block: 'center' })")
        .await;
    b.shot("models").await;

    // Another user sees the list and no form; the API refuses them too.
    b.client.delete_all_cookies().await.unwrap();
    b.sign_in(&base, CURATOR, PASSWORD).await;
    b.goto(&format!("{base}/models")).await;
    b.live("#admins-only").await;
    assert_eq!(row(&b, "lincoln_v2").await[4], "NON-COMMERCIAL");
    assert_eq!(b.eval("document.getElementById('model-form') === null").await, json!(true));
}
