// SPDX-License-Identifier: MPL-2.0
//! The forms that make a character from a portrait and a voice from a speech sample, the
//! same on a project's page and on the library pages: only the project they post to differs.

use dioxus::prelude::*;

use super::{RightsFields, UploadForm};

/// Makes a character in the project of `action` (`/ui/api/projects/{id}/characters`).
#[component]
pub fn CharacterForm(action: String, on_done: EventHandler<()>) -> Element {
    rsx! {
        UploadForm {
            prefix: "character",
            action,
            file_field: "portrait",
            file_label: "Portrait (a picture with one face: PNG, JPEG, WebP)",
            accept: "image/*",
            submit_label: "Add character",
            on_done,
            label { r#for: "character-name", "Character name" }
            input { id: "character-name", name: "name", aria_describedby: "character-name-error" }
            p { class: "field-error", id: "character-name-error", "data-field": "name", role: "alert" }
            RightsFields { prefix: "character", legend: "Right to use this face" }
        }
    }
}

/// Makes a voice in the project of `action` (`/ui/api/projects/{id}/voices`).
#[component]
pub fn VoiceForm(action: String, on_done: EventHandler<()>) -> Element {
    rsx! {
        UploadForm {
            prefix: "voice",
            action,
            file_field: "sample",
            file_label: "Speech sample (any audio; at least half a second of speech)",
            accept: "audio/*",
            submit_label: "Add voice",
            on_done,
            label { r#for: "voice-name", "Voice name" }
            input { id: "voice-name", name: "name", aria_describedby: "voice-name-error" }
            p { class: "field-error", id: "voice-name-error", "data-field": "name", role: "alert" }
            RightsFields { prefix: "voice", legend: "Right to use this voice" }
        }
    }
}
