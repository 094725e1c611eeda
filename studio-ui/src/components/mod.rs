// SPDX-License-Identifier: MPL-2.0
//! Building blocks shared by the pages, one component per file.

mod confirm_button;
mod entry_forms;
mod field_error;
mod form_error;
mod layout;
mod progress_bar;
mod rights_fields;
mod upload_form;

pub(crate) use confirm_button::ConfirmButton;
pub(crate) use entry_forms::{CharacterForm, VoiceForm};
pub(crate) use field_error::FieldError;
pub(crate) use form_error::FormError;
pub(crate) use layout::Layout;
pub(crate) use progress_bar::ProgressBar;
pub(crate) use rights_fields::RightsFields;
pub(crate) use upload_form::UploadForm;

use dioxus::html::FormValue;
use dioxus::prelude::*;

/// The text of the form field `name` in a submit event ("" when absent).
pub(crate) fn form_text(event: &FormEvent, name: &str) -> String {
    match event.get_first(name) {
        Some(FormValue::Text(text)) => text,
        _ => String::new(),
    }
}

/// Every text value of the form field `name` (checked boxes of one group).
pub(crate) fn form_texts(event: &FormEvent, name: &str) -> Vec<String> {
    event
        .get(name)
        .into_iter()
        .filter_map(|v| match v {
            FormValue::Text(text) => Some(text),
            FormValue::File(_) => None,
        })
        .collect()
}
