// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

use crate::api::ApiError;
use crate::app::go_to;
use crate::components::{form_text, FieldError, FormError, Layout, ProgressBar};
use crate::hooks::use_studio_api;
use crate::model::{human_bytes, Account as AccountInfo};

/// Storage used against the quota, and deleting the account with everything in it.
#[component]
pub fn Account() -> Element {
    let api = use_studio_api();
    let info = use_resource({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.get::<AccountInfo>("/api/account").await }
        }
    });
    let mut error = use_signal(|| None::<ApiError>);
    let email = match &*info.read() {
        Some(Ok(a)) => a.email.clone(),
        _ => String::new(),
    };
    let delete = {
        let (api, email) = (api.clone(), email.clone());
        move |event: FormEvent| {
            let (api, email) = (api.clone(), email.clone());
            async move {
                let typed = form_text(&event, "confirm");
                if typed.trim().to_lowercase() != email {
                    error.set(Some(ApiError::Refused {
                        status: 400,
                        detail: "confirm: type your email address exactly to confirm".into(),
                    }));
                    return;
                }
                match api.delete("/api/account").await {
                    Ok(()) => {
                        api.sign_out().await;
                        go_to("/signup");
                    }
                    Err(e) => error.set(Some(e)),
                }
            }
        }
    };
    let shown = info.read().clone();
    rsx! {
        Layout { title: "Account",
            match shown {
                None => rsx! { p { class: "muted", "Loading…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(a)) => rsx! {
                    p { "Signed in as " strong { "{a.email}" } }
                    h2 { "Storage" }
                    ProgressBar {
                        fraction: a.storage_bytes as f64 / a.quota_bytes.max(1) as f64,
                        label: format!("{} of {} used", human_bytes(a.storage_bytes as i64), human_bytes(a.quota_bytes as i64)),
                    }
                },
            }
            h2 { "Delete my account and all my data" }
            p { "This removes every project, clip, render and job of this account at once. It cannot be undone." }
            form { id: "delete-account", novalidate: true, onsubmit: delete,
                label { r#for: "confirm", "Type your email address to confirm" }
                input { id: "confirm", name: "confirm", r#type: "email", autocomplete: "off", aria_describedby: "confirm-error" }
                FieldError { error: error(), field: "confirm" }
                FormError { error: error(), fields: vec!["confirm".to_string()] }
                button { r#type: "submit", class: "danger", "Delete my account" }
            }
        }
    }
}
