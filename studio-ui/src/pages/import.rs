// SPDX-License-Identifier: MPL-2.0
use std::time::Duration;

use dioxus::prelude::*;
use serde_json::json;

use crate::api::ApiError;
use crate::components::{form_text, FormError, ProgressBar};
use crate::hooks::use_studio_api;
use crate::model::Job;

/// How often an import in progress is looked at.
const POLL: Duration = Duration::from_millis(500);

/// Media from a web address: a `video_download` job, followed until it ends.
/// `on_imported` runs when the clip is in the project.
#[component]
pub fn ImportFromUrl(project_id: String, on_imported: EventHandler<()>) -> Element {
    let api = use_studio_api();
    let mut refused = use_signal(|| None::<ApiError>);
    let mut job = use_signal(|| None::<Job>);
    let import = move |event: FormEvent| {
        let (api, project_id) = (api.clone(), project_id.clone());
        async move {
            let url = form_text(&event, "url").trim().to_owned();
            let path = format!("/api/projects/{project_id}/imports");
            let mut current = match api.post::<Job>(&path, json!({ "url": url })).await {
                Ok(queued) => queued,
                Err(e) => {
                    refused.set(Some(e));
                    return;
                }
            };
            refused.set(None);
            job.set(Some(current.clone()));
            while current.active() {
                tokio::time::sleep(POLL).await;
                current = match api.get::<Job>(&format!("/api/jobs/{}", current.id)).await {
                    Ok(now) => now,
                    Err(e) => {
                        refused.set(Some(e));
                        return;
                    }
                };
                job.set(Some(current.clone()));
            }
            if current.state == "succeeded" {
                on_imported.call(());
            }
        }
    };
    let shown = job();
    let running = shown.as_ref().is_some_and(Job::active);
    // The field's reason: the API's refusal, or why the job failed.
    let reason = match (refused(), &shown) {
        (Some(e), _) if e.field() == Some("url") => Some(e.reason()),
        (None, Some(j)) if !j.active() && j.state != "succeeded" => {
            Some(j.error.clone().unwrap_or_else(|| j.state_words()))
        }
        _ => None,
    };
    let invalid = if reason.is_some() { "true" } else { "false" };
    rsx! {
        form { class: "upload", id: "import-form", novalidate: true, onsubmit: import,
            label { r#for: "import-url", "Or import a video from a web address" }
            input { id: "import-url", name: "url", r#type: "url", placeholder: "https://…",
                aria_describedby: "url-error", aria_invalid: invalid
            }
            button { r#type: "submit", disabled: running, "Import" }
            p { class: "field-error", id: "url-error", role: "alert",
                if let Some(reason) = reason { "{reason}" }
            }
            FormError { error: refused(), fields: vec!["url".to_string()] }
            if let Some(j) = shown {
                div { id: "import-job", "data-state": "{j.state}",
                    if j.active() {
                        ProgressBar { fraction: j.progress / 100.0, label: progress_words(&j) }
                    } else if j.state == "succeeded" {
                        p { class: "state succeeded", "Imported; the clip is in the media list." }
                    }
                }
            }
        }
    }
}

/// What the job is doing, for beside its progress bar.
fn progress_words(job: &Job) -> String {
    if job.stage.is_empty() {
        job.state_words()
    } else {
        job.stage.clone()
    }
}
