// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

use crate::api::ApiError;

/// An error of the whole form: one that names none of the form's `fields`.
#[component]
pub fn FormError(error: Option<ApiError>, fields: Vec<String>) -> Element {
    let shown = error.filter(|e| e.field().is_none_or(|f| !fields.iter().any(|x| x == f)));
    rsx! {
        if let Some(error) = shown {
            p { class: "form-error", role: "alert",
                "{error}"
                if error == ApiError::SignedOut {
                    " "
                    a { href: "/login", "Sign in" }
                }
            }
        }
    }
}
