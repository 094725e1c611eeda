// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

use crate::api::ApiError;
use crate::app::go_to;
use crate::components::{form_text, FieldError, FormError};
use crate::hooks::use_studio_api;

/// Sign in, or (with `signup`) create an account and sign in with it.
#[component]
pub fn Login(signup: bool) -> Element {
    let api = use_studio_api();
    let mut error = use_signal(|| None::<ApiError>);
    let mut busy = use_signal(|| false);
    let submit = move |event: FormEvent| {
        let api = api.clone();
        async move {
            busy.set(true);
            let (email, password) = (form_text(&event, "email"), form_text(&event, "password"));
            let result =
                if signup { api.sign_up(&email, &password).await } else { api.sign_in(&email, &password).await };
            busy.set(false);
            match result {
                Ok(next) => go_to(&next),
                Err(e) => error.set(Some(e)),
            }
        }
    };
    let fields = vec!["email".to_string(), "password".to_string()];
    rsx! {
        main { class: "auth",
            h1 { "Reenact Studio" }
            h2 { if signup { "Create an account" } else { "Sign in" } }
            form { id: "auth-form", novalidate: true, onsubmit: submit,
                label { r#for: "email", "Email" }
                input { id: "email", name: "email", r#type: "email", autocomplete: "email", aria_describedby: "email-error" }
                FieldError { error: error(), field: "email" }
                label { r#for: "password", "Password" }
                input {
                    id: "password", name: "password", r#type: "password", aria_describedby: "password-error",
                    autocomplete: if signup { "new-password" } else { "current-password" },
                }
                FieldError { error: error(), field: "password" }
                FormError { error: error(), fields }
                button { r#type: "submit", disabled: busy(),
                    if signup { "Create account" } else { "Sign in" }
                }
            }
            p {
                if signup {
                    "Have an account? "
                    a { href: "/login", "Sign in" }
                } else {
                    "New here? "
                    a { href: "/signup", "Create an account" }
                }
            }
        }
    }
}
