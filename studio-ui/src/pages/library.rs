// SPDX-License-Identifier: MPL-2.0
//! The character and voice libraries: every character and voice of the user, whatever
//! project it was made in, with the projects that use it and the models it was analysed
//! with; add one (its file kept in a project the user picks), rename, and delete (refused
//! while a project uses it, then offered as "detach").

use dioxus::prelude::*;
use serde_json::json;

use crate::api::ApiError;
use crate::components::{form_text, CharacterForm, ConfirmButton, FieldError, FormError, Layout, VoiceForm};
use crate::hooks::use_studio_api;
use crate::model::{Character, ModelVersion, Project, ProjectUse, Voice};

/// `/characters`: the user's characters across projects.
#[component]
pub fn CharacterLibrary() -> Element {
    let api = use_studio_api();
    let mut list = use_resource(move || {
        let api = api.clone();
        async move { api.get::<Vec<Character>>("/api/characters").await }
    });
    let shown = list.read().clone();
    rsx! {
        Layout { title: "Characters",
            p { class: "muted",
                "Every character you have made, in any project. Any of your projects can use one: pick it for a scene on the project's page."
            }
            NewEntry { kind: Kind::Character, on_done: move |_| list.restart() }
            match shown {
                None => rsx! { p { class: "muted", "Loading characters…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(items)) if items.is_empty() => rsx! {
                    div { class: "empty", id: "no-characters",
                        h2 { "No characters yet" }
                        p { "Add one from a portrait above, or on a project's page; it then appears here for every project." }
                    }
                },
                Some(Ok(items)) => rsx! {
                    ul { class: "cards", id: "character-library",
                        for character in items {
                            Entry {
                                key: "{character.id}",
                                kind: Kind::Character,
                                id: character.id.clone(),
                                name: character.name.clone(),
                                used_by: character.used_by.clone(),
                                models: character.models.clone(),
                                on_change: move |_| list.restart(),
                                div { class: "pictures",
                                    img { class: "portrait", src: "/ui/api/characters/{character.id}/portrait",
                                        alt: "Portrait of {character.name}", height: "96"
                                    }
                                    // What the face swap takes: the analysed crop with its landmarks,
                                    // full size a click away.
                                    a { href: "/ui/api/characters/{character.id}/landmarks.svg", target: "_blank", rel: "noopener",
                                        title: "Open the landmarks at full size",
                                        img { class: "landmarks", src: "/ui/api/characters/{character.id}/landmarks.svg",
                                            alt: "Landmarks measured on {character.name}'s portrait", height: "96", loading: "lazy"
                                        }
                                    }
                                }
                                p { class: "landmarks",
                                    "{character.portrait.landmarks} landmarks · {character.portrait.width}×{character.portrait.height}"
                                }
                            }
                        }
                    }
                },
            }
        }
    }
}

/// `/voices`: the user's voices across projects, each with a player for its sample.
#[component]
pub fn VoiceLibrary() -> Element {
    let api = use_studio_api();
    let mut list = use_resource(move || {
        let api = api.clone();
        async move { api.get::<Vec<Voice>>("/api/voices").await }
    });
    let shown = list.read().clone();
    rsx! {
        Layout { title: "Voices",
            p { class: "muted",
                "Every voice you have measured, in any project. Any of your characters can have one: choose it on a project's page."
            }
            NewEntry { kind: Kind::Voice, on_done: move |_| list.restart() }
            match shown {
                None => rsx! { p { class: "muted", "Loading voices…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(items)) if items.is_empty() => rsx! {
                    div { class: "empty", id: "no-voices",
                        h2 { "No voices yet" }
                        p { "Add one from a speech sample above, or on a project's page; it then appears here for every project." }
                    }
                },
                Some(Ok(items)) => rsx! {
                    ul { class: "cards", id: "voice-library",
                        for voice in items {
                            Entry {
                                key: "{voice.id}",
                                kind: Kind::Voice,
                                id: voice.id.clone(),
                                name: voice.name.clone(),
                                used_by: voice.used_by.clone(),
                                models: voice.models.clone(),
                                on_change: move |_| list.restart(),
                                // The sample is read only when played, and only its start
                                // is needed to hear the voice.
                                audio { class: "sample", controls: true, preload: "none",
                                    src: "/ui/api/voices/{voice.id}/sample",
                                    aria_label: "Sample of {voice.name}"
                                }
                                p { class: "f0", "{voice.median_f0_hz:.0} Hz median · {voice.voiced_seconds:.1} s voiced" }
                            }
                        }
                    }
                },
            }
        }
    }
}

/// The form that adds an entry to the library. Its file is kept in one of the user's
/// projects (the most recently changed unless another is picked); any project may use it.
#[component]
fn NewEntry(kind: Kind, on_done: EventHandler<()>) -> Element {
    let api = use_studio_api();
    let projects = use_resource(move || {
        let api = api.clone();
        async move { api.get::<Vec<Project>>("/api/projects").await }
    });
    let mut picked = use_signal(|| None::<String>);
    let noun = kind.noun();
    let shown = projects.read().clone();
    rsx! {
        // Folded, so that the library itself is what the page opens on.
        details { class: "new-entry", id: "new-{noun}",
            summary { "Add a {noun}" }
            match shown {
                None => rsx! { p { class: "muted", "Loading projects…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    p { class: "muted", id: "new-{noun}-no-project",
                        "A {noun}'s file is kept in one of your projects: "
                        a { href: "/projects", "make a project" }
                        " first."
                    }
                },
                Some(Ok(list)) => {
                    let newest = list.iter().max_by_key(|p| p.updated_at).map(|p| p.id.clone()).unwrap_or_default();
                    let project = picked().filter(|id| list.iter().any(|p| &p.id == id)).unwrap_or(newest);
                    let action = format!("/ui/api/projects/{project}/{}", kind.api());
                    rsx! {
                        // Outside the upload form: the project is in the address, not a field.
                        label { r#for: "{noun}-project", "Kept in project" }
                        select { id: "{noun}-project", onchange: move |e: FormEvent| picked.set(Some(e.value())),
                            for p in list {
                                option { key: "{p.id}", value: "{p.id}", selected: p.id == project, "{p.name}" }
                            }
                        }
                        match kind {
                            Kind::Character => rsx! { CharacterForm { action, on_done } },
                            Kind::Voice => rsx! { VoiceForm { action, on_done } },
                        }
                    }
                }
            }
        }
    }
}

/// Which library an entry is in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Character,
    Voice,
}

impl Kind {
    fn api(self) -> &'static str {
        match self {
            Kind::Character => "characters",
            Kind::Voice => "voices",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Character => "character",
            Kind::Voice => "voice",
        }
    }
}

/// One library entry: its picture or player (`children`), name, uses and models, with
/// rename and delete. A refused delete shows the server's reason and offers to detach.
#[component]
fn Entry(
    kind: Kind,
    id: String,
    name: String,
    used_by: Vec<ProjectUse>,
    models: Vec<ModelVersion>,
    on_change: EventHandler<()>,
    children: Element,
) -> Element {
    let api = use_studio_api();
    let mut renaming = use_signal(|| false);
    let mut error = use_signal(|| None::<ApiError>);
    // Set by a delete the server refused because projects use the entry; a rename after it
    // keeps the offer to detach.
    let mut in_use = use_signal(|| false);
    let path = format!("/api/{}/{id}", kind.api());
    let rename = {
        let (api, path) = (api.clone(), path.clone());
        move |event: FormEvent| {
            let (api, path) = (api.clone(), path.clone());
            async move {
                let name = form_text(&event, "name");
                match api.patch::<serde_json::Value>(&path, json!({ "name": name })).await {
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
    let delete = move |detach: bool| {
        let api = api.clone();
        let target = if detach { format!("{path}?detach=true") } else { path.clone() };
        spawn(async move {
            match api.delete(&target).await {
                Ok(()) => {
                    error.set(None);
                    on_change.call(());
                }
                Err(e) => {
                    if matches!(e, ApiError::Refused { status: 409, .. }) {
                        in_use.set(true);
                    }
                    error.set(Some(e));
                }
            }
        });
    };
    let noun = kind.noun();
    let input_id = format!("rename-{id}");
    rsx! {
        li { class: "card library-entry {noun}", id: "{noun}-{id}",
            {children}
            if renaming() {
                form { class: "inline", novalidate: true, onsubmit: rename,
                    label { r#for: "{input_id}", "New name" }
                    input { id: "{input_id}", name: "name", value: "{name}", aria_describedby: "name-error" }
                    button { r#type: "submit", "Save" }
                    button { r#type: "button", onclick: move |_| renaming.set(false), "Cancel" }
                    FieldError { error: error(), field: "name" }
                }
            } else {
                p { class: "title", "{name}" }
            }
            if used_by.is_empty() {
                p { class: "uses muted", "Used by no project" }
            } else {
                div { class: "uses",
                    "Used by "
                    ul {
                        for project in used_by {
                            li { key: "{project.project_id}",
                                a { href: "/projects/{project.project_id}", "{project.project_name}" }
                                " ({project.uses.join(\", \")})"
                            }
                        }
                    }
                }
            }
            if models.is_empty() {
                p { class: "models muted", "Analysed without recorded models" }
            } else {
                div { class: "models",
                    "Analysed with "
                    ul {
                        for model in models {
                            li { key: "{model.name}",
                                code { "{model.name}" }
                                " {model.version} "
                                abbr { title: "SHA-256 {model.sha256}", "{short(&model.sha256)}" }
                            }
                        }
                    }
                }
            }
            div { class: "actions",
                button { r#type: "button", onclick: move |_| renaming.set(true), "Rename" }
                if in_use() {
                    ConfirmButton {
                        label: "Detach and delete",
                        question: "Remove “{name}” from every project that uses it, then delete it?",
                        on_confirm: {
                            let delete = delete.clone();
                            move |_| delete(true)
                        },
                    }
                } else {
                    ConfirmButton {
                        label: "Delete",
                        question: "Delete the {noun} “{name}”?",
                        on_confirm: move |_| delete(false),
                    }
                }
            }
            FormError { error: error(), fields: vec!["name".to_string()] }
        }
    }
}

/// The first 12 hex digits of a digest, enough to tell versions apart on the page.
fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}
