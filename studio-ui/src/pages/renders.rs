// SPDX-License-Identifier: MPL-2.0
use std::time::Duration;

use dioxus::prelude::*;
use serde_json::json;

use crate::api::{ApiError, StudioApi};
use crate::components::{form_text, form_texts, FieldError, FormError, ProgressBar};
use crate::hooks::use_studio_api;
use crate::model::{human_bytes, Job, Preset, Render};

/// How often renders in progress are looked at; idle ones less often.
const ACTIVE_POLL: Duration = Duration::from_millis(700);
const IDLE_POLL: Duration = Duration::from_secs(3);

/// The renders of a project: they are the project's `render` jobs.
async fn load(api: &StudioApi, project_id: &str) -> Result<Vec<Render>, ApiError> {
    let jobs: Vec<Job> = api.get("/api/jobs").await?;
    let mut renders = Vec::new();
    for job in jobs.iter().filter(|j| j.kind == "render" && j.project_id.as_deref() == Some(project_id)) {
        let Some(render_id) = job.params["render_id"].as_str() else { continue };
        renders.push(api.get::<Render>(&format!("/api/renders/{render_id}")).await?);
    }
    Ok(renders)
}

/// Request a render with chosen presets; follow its progress; play and
/// download what it made.
#[component]
pub fn Renders(project_id: String) -> Element {
    let api = use_studio_api();
    let presets = use_resource({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.get::<Vec<Preset>>("/api/presets").await }
        }
    });
    let mut renders = use_signal(|| None::<Result<Vec<Render>, ApiError>>);
    use_future({
        let (api, project_id) = (api.clone(), project_id.clone());
        move || {
            let (api, project_id) = (api.clone(), project_id.clone());
            async move {
                loop {
                    let loaded = load(&api, &project_id).await;
                    let active =
                        matches!(&loaded, Ok(list) if list.iter().any(|r| r.job.as_ref().is_some_and(Job::active)));
                    let signed_out = matches!(loaded, Err(ApiError::SignedOut));
                    renders.set(Some(loaded));
                    if signed_out {
                        break;
                    }
                    tokio::time::sleep(if active { ACTIVE_POLL } else { IDLE_POLL }).await;
                }
            }
        }
    });
    let mut error = use_signal(|| None::<ApiError>);
    let request = {
        let (api, project_id) = (api.clone(), project_id.clone());
        move |event: FormEvent| {
            let (api, project_id) = (api.clone(), project_id.clone());
            async move {
                let chosen = form_texts(&event, "preset");
                let watermark = form_text(&event, "watermark");
                let mut body = json!({ "presets": chosen });
                if !watermark.trim().is_empty() {
                    body["watermark_text"] = json!(watermark.trim());
                }
                add_look(&event, &mut body);
                match api.post::<Render>(&format!("/api/projects/{project_id}/renders"), body).await {
                    Ok(render) => {
                        error.set(None);
                        if let Some(Ok(list)) = renders.write().as_mut() {
                            list.insert(0, render);
                        }
                    }
                    Err(e) => error.set(Some(e)),
                }
            }
        }
    };
    let offline: Vec<Preset> = match &*presets.read() {
        Some(Ok(all)) => all.iter().filter(|p| p.mode != "live").cloned().collect(),
        _ => Vec::new(),
    };
    let list = renders.read().clone();
    rsx! {
        section { aria_labelledby: "render-heading",
            h2 { id: "render-heading", "Render" }
            form { id: "render-form", novalidate: true, onsubmit: request,
                fieldset { aria_describedby: "presets-error",
                    legend { "Delivery formats" }
                    for preset in offline {
                        label { class: "check", key: "{preset.name}",
                            input { r#type: "checkbox", name: "preset", value: "{preset.name}" }
                            strong { "{preset.name}" }
                            " "
                            span { class: "muted", "{preset.description}" }
                        }
                    }
                }
                FieldError { error: error(), field: "presets" }
                label { r#for: "watermark", "Watermark text (optional)" }
                input { id: "watermark", name: "watermark", placeholder: "e.g. Reenactment", aria_describedby: "watermark_text-error" }
                FieldError { error: error(), field: "watermark_text" }
                label { r#for: "captions", "Captions from the speech" }
                select { id: "captions", name: "captions", aria_describedby: "captions-error",
                    option { value: "off", "None" }
                    option { value: "burn-in", "Burned into the picture" }
                    option { value: "sidecar", "SRT and WebVTT files beside each video" }
                }
                FieldError { error: error(), field: "captions" }
                label { r#for: "crop", "Other aspect ratios" }
                select { id: "crop", name: "crop", aria_describedby: "crop-error",
                    option { value: "", "As each format says" }
                    option { value: "face", "Follow the face" }
                    option { value: "center", "Cut the middle" }
                    option { value: "fit", "Whole picture with bars" }
                }
                FieldError { error: error(), field: "crop" }
                label { r#for: "background", "Background" }
                select { id: "background", name: "background", aria_describedby: "background-error",
                    option { value: "", "Keep" }
                    option { value: "blur", "Blur" }
                    option { value: "color", "Replace by the colour below" }
                }
                label { r#for: "background-color", "Background colour (for “Replace”)" }
                input { r#type: "color", id: "background-color", name: "background_color", value: "#1e7b34" }
                FieldError { error: error(), field: "background" }
                FormError { error: error(), fields: ["presets", "watermark_text", "captions", "crop", "background"].map(String::from).to_vec() }
                button { r#type: "submit", "Render" }
            }
            h3 { "Renders" }
            match list {
                None => rsx! { p { class: "muted", "Loading renders…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    p { class: "empty", id: "no-renders", "Nothing rendered yet. Choose one or more formats above; one pass makes them all." }
                },
                Some(Ok(list)) => rsx! {
                    ul { class: "cards", id: "render-list",
                        for render in list {
                            RenderCard { key: "{render.id}", render }
                        }
                    }
                },
            }
        }
    }
}

/// The form's captions, crop and background choices into the request `body`.
fn add_look(event: &FormEvent, body: &mut serde_json::Value) {
    let captions = form_text(event, "captions");
    if !captions.is_empty() && captions != "off" {
        body["captions"] = json!(captions);
    }
    let crop = form_text(event, "crop");
    if !crop.is_empty() {
        body["crop"] = json!(crop);
    }
    match form_text(event, "background").as_str() {
        "blur" => body["background"] = json!({ "mode": "blur" }),
        "color" => body["background"] = json!({ "mode": "color", "color": form_text(event, "background_color") }),
        _ => {}
    }
}

#[component]
fn RenderCard(render: Render) -> Element {
    let job = render.job.clone();
    let state = job.as_ref().map(|j| j.state.clone()).unwrap_or_default();
    rsx! {
        li { class: "card render", "data-state": "{state}",
            p { strong { {render.presets.join(", ")} } }
            if let Some(job) = job {
                if job.active() {
                    ProgressBar { fraction: job.progress, label: job.state_words() }
                } else {
                    p { class: "state {job.state}", {job.state_words()} }
                }
                if let Some(err) = job.error.clone() {
                    p { class: "form-error", "Why: {err}" }
                }
            }
            for out in render.outputs.clone().unwrap_or_default() {
                div { class: "output", key: "{out.preset}",
                    h4 { "{out.preset}" }
                    video {
                        controls: true, preload: "metadata",
                        src: "/ui/api/renders/{render.id}/files/{out.preset}",
                        aria_label: "Render {out.preset}",
                    }
                    p {
                        a { class: "download", href: "/ui/api/renders/{render.id}/files/{out.preset}", download: "{out.preset}.mp4",
                            "Download {out.preset}"
                        }
                        if let (Some(w), Some(h)) = (out.width, out.height) { " · {w}×{h}" }
                        if let Some(d) = out.duration_s { " · {d:.1} s" }
                        if let Some(b) = out.bytes { " · " {human_bytes(b)} }
                        for ext in out.sidecars.keys() {
                            " · "
                            a { class: "sidecar", href: "/ui/api/renders/{render.id}/files/{out.preset}.{ext}", download: "{out.preset}.{ext}",
                                if ext == "c2pa" { "Credential sidecar .c2pa" } else { "Captions .{ext}" }
                            }
                        }
                    }
                    if let Some(text) = out.disclosure.clone() {
                        p { class: "disclosure-note", "Disclosure: {text}" }
                    }
                    if let Some(credential) = out.credential.clone() {
                        p { class: "credential", "data-valid": "{credential.valid}",
                            {credential.summary()}
                            " · "
                            a { class: "manifest", href: "/ui/api/renders/{render.id}/manifests/{out.preset}",
                                download: "{out.preset}.c2pa.json", "Manifest" }
                        }
                    }
                }
            }
        }
    }
}
