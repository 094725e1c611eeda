// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;
use serde_json::json;

use crate::api::ApiError;
use crate::components::{form_text, ConfirmButton, FieldError, FormError, Layout};
use crate::hooks::use_studio_api;
use crate::model::Project;

/// The user's projects: create, open, rename, delete.
#[component]
pub fn Projects() -> Element {
    let api = use_studio_api();
    let mut projects = use_resource({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.get::<Vec<Project>>("/api/projects").await }
        }
    });
    let mut error = use_signal(|| None::<ApiError>);
    let create = move |event: FormEvent| {
        let api = api.clone();
        async move {
            let name = form_text(&event, "name");
            match api.post::<Project>("/api/projects", json!({ "name": name })).await {
                Ok(_) => {
                    error.set(None);
                    projects.restart();
                    let _ = dioxus::document::eval("document.getElementById('project-name').value = ''");
                }
                Err(e) => error.set(Some(e)),
            }
        }
    };
    let list = projects.read().clone();
    rsx! {
        Layout { title: "Projects",
            form { class: "inline", id: "new-project", novalidate: true, onsubmit: create,
                label { r#for: "project-name", "New project" }
                input { id: "project-name", name: "name", placeholder: "e.g. Lincoln at Gettysburg", aria_describedby: "name-error" }
                button { r#type: "submit", "Create project" }
                FieldError { error: error(), field: "name" }
                FormError { error: error(), fields: vec!["name".to_string()] }
            }
            match list {
                None => rsx! { p { class: "muted", "Loading projects…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    div { class: "empty", id: "no-projects",
                        h2 { "No projects yet" }
                        p { "A project holds the clips of one reenactment, its characters and its renders. Name your first one above." }
                    }
                },
                Some(Ok(list)) => rsx! {
                    ul { class: "cards", id: "project-list",
                        for project in list {
                            ProjectRow { key: "{project.id}", project, on_change: move |_| projects.restart() }
                        }
                    }
                },
            }
        }
    }
}

#[component]
fn ProjectRow(project: Project, on_change: EventHandler<()>) -> Element {
    let api = use_studio_api();
    let mut renaming = use_signal(|| false);
    let mut error = use_signal(|| None::<ApiError>);
    let id = project.id.clone();
    let rename = {
        let (api, id) = (api.clone(), id.clone());
        move |event: FormEvent| {
            let (api, id) = (api.clone(), id.clone());
            async move {
                let name = form_text(&event, "name");
                match api.patch::<Project>(&format!("/api/projects/{id}"), json!({ "name": name })).await {
                    Ok(_) => {
                        renaming.set(false);
                        error.set(None);
                        on_change.call(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            }
        }
    };
    let delete = move |_| {
        let (api, id) = (api.clone(), id.clone());
        spawn(async move {
            match api.delete(&format!("/api/projects/{id}")).await {
                Ok(()) => on_change.call(()),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let input_id = format!("rename-{}", project.id);
    rsx! {
        li { class: "card project",
            if renaming() {
                form { class: "inline", novalidate: true, onsubmit: rename,
                    label { r#for: "{input_id}", "New name" }
                    input { id: "{input_id}", name: "name", value: "{project.name}", aria_describedby: "name-error" }
                    button { r#type: "submit", "Save" }
                    button { r#type: "button", onclick: move |_| renaming.set(false), "Cancel" }
                    FieldError { error: error(), field: "name" }
                }
            } else {
                a { class: "title", href: "/projects/{project.id}", "{project.name}" }
                div { class: "actions",
                    button { r#type: "button", onclick: move |_| renaming.set(true), "Rename" }
                    ConfirmButton { label: "Delete", question: "Delete “{project.name}” and all its media?", on_confirm: delete }
                }
            }
            FormError { error: error(), fields: vec!["name".to_string()] }
        }
    }
}
