// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

use crate::api::ApiError;

/// The API's reason beside the field it names; nothing when it names another.
/// The id lets the field point at it with `aria-describedby`.
#[component]
pub fn FieldError(error: Option<ApiError>, field: String) -> Element {
    let reason = error.filter(|e| e.field() == Some(field.as_str())).map(|e| e.reason());
    rsx! {
        p { class: "field-error", id: "{field}-error", role: "alert",
            if let Some(reason) = reason { "{reason}" }
        }
    }
}
