// SPDX-License-Identifier: MPL-2.0
use std::time::Duration;

use dioxus::prelude::*;
use serde_json::json;

use crate::api::{ApiError, StudioApi};
use crate::components::{FormError, Layout, ProgressBar};
use crate::hooks::use_studio_api;
use crate::model::Job;

const POLL: Duration = Duration::from_millis(1500);

/// Every job of the user: state, progress, attempts, why it failed; cancel and retry.
#[component]
pub fn Jobs() -> Element {
    let api = use_studio_api();
    let mut jobs = use_signal(|| None::<Result<Vec<Job>, ApiError>>);
    let mut poll = use_future({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move {
                loop {
                    let loaded = api.get::<Vec<Job>>("/api/jobs").await;
                    let stop = matches!(loaded, Err(ApiError::SignedOut));
                    jobs.set(Some(loaded));
                    if stop {
                        break;
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
    let mut error = use_signal(|| None::<ApiError>);
    let list = jobs.read().clone();
    rsx! {
        Layout { title: "Jobs",
            FormError { error: error(), fields: Vec::new() }
            match list {
                None => rsx! { p { class: "muted", "Loading jobs…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    div { class: "empty", id: "no-jobs",
                        p { "No jobs yet. Renders and other long work appear here while they run and after." }
                    }
                },
                Some(Ok(list)) => rsx! {
                    table { id: "job-list",
                        thead { tr { th { "Work" } th { "State" } th { "Progress" } th { "Attempts" } th { "Problem" } th { "" } } }
                        tbody {
                            for job in list {
                                JobRow { key: "{job.id}", job, on_error: move |e| error.set(Some(e)), on_change: move |_| poll.restart() }
                            }
                        }
                    }
                },
            }
        }
    }
}

/// Sends the same work again: renders through the renders route (the jobs
/// route refuses them), other kinds as a new job with the same parameters.
async fn retry(api: &StudioApi, job: &Job) -> Result<(), ApiError> {
    if job.kind == "render" {
        let project = job.project_id.clone().unwrap_or_default();
        let mut body = json!({ "presets": job.params["presets"] });
        for option in ["watermark_text", "captions", "background", "crop"] {
            if !job.params[option].is_null() {
                body[option] = job.params[option].clone();
            }
        }
        api.post::<serde_json::Value>(&format!("/api/projects/{project}/renders"), body).await.map(drop)
    } else {
        let body = json!({ "type": job.kind, "project_id": job.project_id, "params": job.params });
        api.post::<serde_json::Value>("/api/jobs", body).await.map(drop)
    }
}

#[component]
fn JobRow(job: Job, on_error: EventHandler<ApiError>, on_change: EventHandler<()>) -> Element {
    let api = use_studio_api();
    let cancel = {
        let (api, id) = (api.clone(), job.id.clone());
        move |_| {
            let (api, id) = (api.clone(), id.clone());
            async move {
                match api.post::<serde_json::Value>(&format!("/api/jobs/{id}/cancel"), json!({})).await {
                    Ok(_) => on_change.call(()),
                    Err(e) => on_error.call(e),
                }
            }
        }
    };
    let again = {
        let (api, job) = (api.clone(), job.clone());
        move |_| {
            let (api, job) = (api.clone(), job.clone());
            async move {
                match retry(&api, &job).await {
                    Ok(()) => on_change.call(()),
                    Err(e) => on_error.call(e),
                }
            }
        }
    };
    let project_link = job.project_id.clone().map(|p| format!("/projects/{p}"));
    rsx! {
        tr { "data-state": "{job.state}",
            td {
                {job.kind_words().to_string()}
                if let Some(href) = project_link { " · " a { href: "{href}", "project" } }
            }
            td { {job.state_words()} }
            td { ProgressBar { fraction: job.progress, label: job.stage.clone() } }
            td { "{job.attempts} of {job.max_attempts}" }
            td { {job.error.clone().unwrap_or_default()} }
            td {
                if job.active() {
                    button { r#type: "button", onclick: cancel, "Cancel" }
                } else if job.state == "dead" || job.state == "cancelled" {
                    button { r#type: "button", onclick: again, "Retry" }
                }
            }
        }
    }
}
