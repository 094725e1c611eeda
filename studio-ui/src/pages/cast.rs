// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;
use serde_json::{json, Value};

use crate::api::{ApiError, StudioApi};
use crate::components::{form_text, CharacterForm, ConfirmButton, FieldError, FormError, VoiceForm};
use crate::hooks::use_studio_api;
use crate::model::{language_name, CatalogModel, Character, Scene, Voice, VoiceModelChoice, LANGUAGES};

/// A project's list at `path` (`/api/projects/{id}/characters`, ...).
fn use_list<T: serde::de::DeserializeOwned + 'static>(
    api: &StudioApi,
    path: String,
) -> Resource<Result<Vec<T>, ApiError>> {
    let api = api.clone();
    use_resource(move || {
        let (api, path) = (api.clone(), path.clone());
        async move { api.get::<Vec<T>>(&path).await }
    })
}

/// Who plays in a project: characters (a portrait and maybe a voice), the
/// voices, and the scenes that give stretches of the timeline to a character.
#[component]
pub fn Cast(project_id: String) -> Element {
    let api = use_studio_api();
    let mut characters = use_list::<Character>(&api, format!("/api/projects/{project_id}/characters"));
    let mut voices = use_list::<Voice>(&api, format!("/api/projects/{project_id}/voices"));
    let mut scenes = use_list::<Scene>(&api, format!("/api/projects/{project_id}/scenes"));
    // Scenes and voices may use any entry of the user's libraries, made in any project.
    let mut library_characters = use_list::<Character>(&api, "/api/characters".into());
    let mut library_voices = use_list::<Voice>(&api, "/api/voices".into());
    let catalog = use_list::<CatalogModel>(&api, "/api/models".into());
    let mut error = use_signal(|| None::<ApiError>);

    // A change through the API, then the lists it touches read again.
    let change = {
        let api = api.clone();
        move |method: axum::http::Method, path: String, body: Option<Value>| {
            let api = api.clone();
            spawn(async move {
                match api.send::<Value>(method, &path, body).await {
                    Ok(_) => {
                        error.set(None);
                        characters.restart();
                        voices.restart();
                        scenes.restart();
                        library_characters.restart();
                        library_voices.restart();
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };

    let character_list = characters.read().clone();
    let voice_list = voices.read().clone();
    let scene_list = scenes.read().clone();
    let known_characters: Vec<Character> = match &*library_characters.read() {
        Some(Ok(list)) => list.clone(),
        _ => Vec::new(),
    };
    let known_voices: Vec<Voice> = match &*library_voices.read() {
        Some(Ok(list)) => list.clone(),
        _ => Vec::new(),
    };

    // Only what can play: an entry whose file is missing would be refused at the show.
    let installed = |wanted: fn(&str) -> bool| -> Vec<CatalogModel> {
        match &*catalog.read() {
            Some(Ok(list)) => list.iter().filter(|m| wanted(&m.task) && m.installed).cloned().collect(),
            _ => Vec::new(),
        }
    };
    let voice_models = installed(|task| task == VOICE_CONVERSION);
    let animation_licence = licence_note(&installed(|task| task.starts_with(PORTRAIT_TASKS)));

    rsx! {
        section { aria_labelledby: "characters-heading",
            h2 { id: "characters-heading", "Characters" }
            CharacterForm {
                action: "/ui/api/projects/{project_id}/characters",
                on_done: move |_| { characters.restart(); library_characters.restart(); },
            }
            FormError { error: error(), fields: Vec::new() }
            match character_list {
                None => rsx! { p { class: "muted", "Loading characters…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    p { class: "empty", id: "no-characters", "No characters yet. Add one from a portrait; its face is measured when it is added." }
                },
                Some(Ok(list)) => rsx! {
                    ul { class: "cards", id: "character-list",
                        for character in list {
                            li { class: "card character", key: "{character.id}",
                                img { class: "portrait", src: "/ui/api/characters/{character.id}/portrait",
                                    alt: "Portrait of {character.name}", height: "96"
                                }
                                p { class: "title", "{character.name}" }
                                p { class: "landmarks", "{character.portrait.landmarks} landmarks · {character.portrait.width}×{character.portrait.height}" }
                                label { r#for: "voice-of-{character.id}", "Voice" }
                                select { id: "voice-of-{character.id}", class: "voice-select",
                                    onchange: {
                                        let (change, id) = (change.clone(), character.id.clone());
                                        move |e: FormEvent| {
                                            let value = e.value();
                                            let voice = if value.is_empty() { Value::Null } else { json!(value) };
                                            change(axum::http::Method::PATCH, format!("/api/characters/{id}"), Some(json!({ "voice_id": voice })));
                                        }
                                    },
                                    option { value: "", selected: character.voice_id.is_none(), "No voice" }
                                    for voice in known_voices.clone() {
                                        option { key: "{voice.id}", value: "{voice.id}",
                                            selected: character.voice_id.as_deref() == Some(voice.id.as_str()),
                                            "{voice.name}"
                                        }
                                    }
                                }
                                label { r#for: "face-of-{character.id}", "Face" }
                                select { id: "face-of-{character.id}", class: "face-select",
                                    onchange: {
                                        let (change, id) = (change.clone(), character.id.clone());
                                        move |e: FormEvent| {
                                            change(axum::http::Method::PATCH, format!("/api/characters/{id}"), Some(json!({ "face": e.value() })));
                                        }
                                    },
                                    option { value: "swap", selected: character.face == "swap", "Swapped onto the performer's face" }
                                    option { value: "animate", selected: character.face == "animate", "Whole portrait, animated (LivePortrait)" }
                                }
                                if let (true, Some((loud, label))) = (character.face == "animate", animation_licence.clone()) {
                                    p { class: if loud { "face-licence non-commercial" } else { "face-licence" }, "LivePortrait's modules: {label}" }
                                }
                                NeuralVoice {
                                    character_id: character.id.clone(),
                                    chosen: character.voice_model.clone(),
                                    models: voice_models.clone(),
                                    on_change: {
                                        let (change, id) = (change.clone(), character.id.clone());
                                        move |body: Value| change(axum::http::Method::PATCH, format!("/api/characters/{id}"), Some(body))
                                    },
                                    on_refused: move |e| error.set(Some(e)),
                                }
                                div { class: "actions",
                                    ConfirmButton {
                                        label: "Delete",
                                        question: "Delete {character.name}? (Refused while a project uses it.)",
                                        on_confirm: {
                                            let (change, id) = (change.clone(), character.id.clone());
                                            move |_| change(axum::http::Method::DELETE, format!("/api/characters/{id}"), None)
                                        },
                                    }
                                }
                            }
                        }
                    }
                },
            }
        }
        section { aria_labelledby: "voices-heading",
            h2 { id: "voices-heading", "Voices" }
            VoiceForm {
                action: "/ui/api/projects/{project_id}/voices",
                on_done: move |_| { voices.restart(); library_voices.restart(); },
            }
            match voice_list {
                None => rsx! { p { class: "muted", "Loading voices…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    p { class: "empty", id: "no-voices", "No voices yet. Add one from a speech sample; its pitch is measured when it is added." }
                },
                Some(Ok(list)) => rsx! {
                    table { id: "voice-list",
                        thead { tr { th { "Name" } th { "Median F0" } th { "Voiced" } th { "" } } }
                        tbody {
                            for voice in list {
                                tr { key: "{voice.id}",
                                    td { "{voice.name}" }
                                    td { class: "f0", "{voice.median_f0_hz:.0} Hz" }
                                    td { "{voice.voiced_seconds:.1} s" }
                                    td {
                                        ConfirmButton {
                                            label: "Delete",
                                            question: "Delete the voice {voice.name}?",
                                            on_confirm: {
                                                let (change, id) = (change.clone(), voice.id.clone());
                                                move |_| change(axum::http::Method::DELETE, format!("/api/voices/{id}"), None)
                                            },
                                        }
                                    }
                                }
                            }
                        }
                    }
                },
            }
        }
        Scenes {
            project_id: project_id.clone(),
            characters: known_characters,
            scenes: scene_list,
            on_change: move |_| scenes.restart(),
        }
    }
}

/// The catalog task of the models a character may speak with.
const VOICE_CONVERSION: &str = "voice_conversion";

/// The prefix of the catalog tasks of LivePortrait's modules (`portrait_appearance`, ...).
const PORTRAIT_TASKS: &str = "portrait_";

/// What `models` may be used for, as one line: their licences, then the strictest commercial
/// label among them; loud (`true`) when one of them is not cleared by its licence. `None`
/// for no models.
fn licence_note(models: &[CatalogModel]) -> Option<(bool, String)> {
    let strictest = models.iter().min_by_key(|m| match m.commercial_use {
        Some(false) => 0,
        None => 1,
        Some(true) => 2,
    })?;
    let mut licences: Vec<&str> = models.iter().map(|m| m.license.as_str()).collect();
    licences.sort_unstable();
    licences.dedup();
    Some((strictest.commercial_use == Some(false), format!("{} · {}", licences.join(", "), strictest.commercial_label)))
}

/// A character's catalog voice (an RVC v2 model an administrator imported) and the speaker
/// in it. It takes over from the voice profile; a model not cleared for commercial use says
/// so beside the picker, as renders and the live stats do.
#[component]
fn NeuralVoice(
    character_id: String,
    chosen: Option<VoiceModelChoice>,
    models: Vec<CatalogModel>,
    on_change: EventHandler<Value>,
    on_refused: EventHandler<ApiError>,
) -> Element {
    let chosen_name = chosen.as_ref().map(|c| c.name.clone());
    // A chosen model the catalog no longer plays stays listed, so the picker does not lie.
    let missing = chosen_name.clone().filter(|name| !models.iter().any(|m| &m.name == name));
    let licence =
        licence_note(&models.iter().filter(|m| chosen_name.as_ref() == Some(&m.name)).cloned().collect::<Vec<_>>())
            .map(|(loud, label)| (loud, format!("Licence: {label}")));
    // The last speaker id the chosen voice holds, when its import read its speaker table.
    let last_speaker = models
        .iter()
        .find(|m| chosen_name.as_ref() == Some(&m.name))
        .and_then(|m| m.speakers)
        .map(|speakers| speakers.saturating_sub(1));
    rsx! {
        label { r#for: "voice-model-of-{character_id}", "Neural voice" }
        select { id: "voice-model-of-{character_id}", class: "voice-model-select",
            onchange: move |e: FormEvent| {
                let value = e.value();
                let model = if value.is_empty() { Value::Null } else { json!({ "name": value, "speaker_id": 0 }) };
                on_change.call(json!({ "voice_model": model }));
            },
            option { value: "", selected: chosen_name.is_none(), "None: the voice profile speaks" }
            for model in models.iter() {
                option { key: "{model.name}", value: "{model.name}",
                    selected: chosen_name.as_deref() == Some(model.name.as_str()),
                    "{model.name} · {model.commercial_label}"
                }
            }
            if let Some(name) = missing {
                option { value: "{name}", selected: true, "{name} (not in the model catalog)" }
            }
        }
        if let Some(choice) = chosen {
            label { r#for: "speaker-of-{character_id}", "Speaker in the model" }
            input { id: "speaker-of-{character_id}", class: "speaker-input", r#type: "number",
                min: "0", max: last_speaker.map(|last| last.to_string()), step: "1", value: "{choice.speaker_id}",
                onchange: move |e: FormEvent| match e.value().trim().parse::<u32>() {
                    Ok(speaker) => on_change.call(json!({ "voice_model": { "name": choice.name.clone(), "speaker_id": speaker } })),
                    Err(_) => on_refused.call(ApiError::Refused {
                        status: 400,
                        detail: "voice_model.speaker_id: must be a whole number from 0".into(),
                    }),
                },
            }
        }
        if let Some(last) = last_speaker {
            span { class: "speaker-range muted", "ids 0 to {last}" }
        }
        if let Some((loud, label)) = licence {
            p { class: if loud { "model-licence non-commercial" } else { "model-licence" }, "{label}" }
        }
    }
}

/// The scenes of a project and a form to add one.
#[component]
fn Scenes(
    project_id: String,
    characters: Vec<Character>,
    scenes: Option<Result<Vec<Scene>, ApiError>>,
    on_change: EventHandler<()>,
) -> Element {
    let api = use_studio_api();
    let mut error = use_signal(|| None::<ApiError>);
    let add = {
        let (api, project_id) = (api.clone(), project_id.clone());
        move |event: FormEvent| {
            let (api, project_id) = (api.clone(), project_id.clone());
            async move {
                let body = match scene_body(&event) {
                    Ok(body) => body,
                    Err(e) => {
                        error.set(Some(e));
                        return;
                    }
                };
                match api.post::<Scene>(&format!("/api/projects/{project_id}/scenes"), body).await {
                    Ok(_) => {
                        error.set(None);
                        on_change.call(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            }
        }
    };
    let remove = move |id: String| {
        let api = api.clone();
        spawn(async move {
            match api.delete(&format!("/api/scenes/{id}")).await {
                Ok(()) => {
                    error.set(None);
                    on_change.call(());
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let name_of = |id: &str| characters.iter().find(|c| c.id == id).map(|c| c.name.clone()).unwrap_or(id.to_owned());
    let fields = ["start", "end", "character_id", "dub"].map(String::from).to_vec();
    rsx! {
        section { aria_labelledby: "scenes-heading",
            h2 { id: "scenes-heading", "Scenes" }
            form { id: "scene-form", class: "scene-form", novalidate: true, onsubmit: add,
                label { r#for: "scene-start", "Start (seconds)" }
                input { id: "scene-start", name: "start", r#type: "number", step: "0.1", min: "0", aria_describedby: "start-error" }
                FieldError { error: error(), field: "start" }
                label { r#for: "scene-end", "End (seconds)" }
                input { id: "scene-end", name: "end", r#type: "number", step: "0.1", min: "0", aria_describedby: "end-error" }
                FieldError { error: error(), field: "end" }
                label { r#for: "scene-character", "Character" }
                select { id: "scene-character", name: "character_id", aria_describedby: "character_id-error",
                    option { value: "", "Choose a character" }
                    for c in characters.iter() {
                        option { key: "{c.id}", value: "{c.id}", "{c.name}" }
                    }
                }
                FieldError { error: error(), field: "character_id" }
                label { class: "check",
                    input { id: "scene-voice-over", r#type: "checkbox", name: "voice_over", value: "yes" }
                    " Voice-over: the portrait speaks the scene's sound"
                }
                label { r#for: "scene-dub", "Spoken in" }
                select { id: "scene-dub", name: "dub", aria_describedby: "dub-error",
                    option { value: "", "Its own sound" }
                    for (code, language) in LANGUAGES {
                        option { key: "{code}", value: "{code}", "{language}: dubbed from the project's {language} subtitles" }
                    }
                }
                FieldError { error: error(), field: "dub" }
                FormError { error: error(), fields }
                button { r#type: "submit", "Add scene" }
            }
            match scenes {
                None => rsx! { p { class: "muted", "Loading scenes…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    p { class: "empty", id: "no-scenes", "No scenes yet. A scene gives a stretch of the timeline to a character." }
                },
                Some(Ok(list)) => rsx! {
                    ul { id: "scene-list",
                        for scene in list {
                            li { key: "{scene.id}",
                                "{scene.start:.1}–{scene.end:.1} s · "
                                {name_of(&scene.character_id)}
                                if scene.voice_over { " · voice-over" }
                                if let Some(dub) = &scene.dub { " · dubbed in {language_name(dub)}" }
                                " "
                                button { r#type: "button",
                                    onclick: {
                                        let (remove, id) = (remove.clone(), scene.id.clone());
                                        move |_| remove(id.clone())
                                    },
                                    "Remove"
                                }
                            }
                        }
                    }
                },
            }
        }
    }
}

/// The API's body for a new scene from the form; a field that is not a
/// number is refused here, in the API's words.
fn scene_body(event: &FormEvent) -> Result<Value, ApiError> {
    let seconds = |field: &str| {
        let text = form_text(event, field);
        text.trim()
            .parse::<f64>()
            .map_err(|_| ApiError::Refused { status: 400, detail: format!("{field}: must be a number of seconds") })
    };
    let start = seconds("start")?;
    let end = seconds("end")?;
    let character = form_text(event, "character_id");
    if character.is_empty() {
        return Err(ApiError::Refused { status: 400, detail: "character_id: choose a character".into() });
    }
    let voice_over = form_text(event, "voice_over") == "yes";
    let mut body = json!({ "start": start, "end": end, "character_id": character, "voice_over": voice_over });
    let dub = form_text(event, "dub");
    if !dub.is_empty() {
        body["dub"] = json!(dub);
    }
    Ok(body)
}
