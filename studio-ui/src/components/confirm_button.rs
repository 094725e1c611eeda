// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

/// A destructive button that asks once more before it acts.
#[component]
pub fn ConfirmButton(label: String, question: String, on_confirm: EventHandler<()>) -> Element {
    let mut asking = use_signal(|| false);
    rsx! {
        if asking() {
            span { class: "confirm", role: "group", aria_label: "{question}",
                span { "{question}" }
                button { r#type: "button", class: "danger",
                    onclick: move |_| { asking.set(false); on_confirm.call(()); },
                    "Yes, {label.to_lowercase()}"
                }
                button { r#type: "button", onclick: move |_| asking.set(false), "Keep it" }
            }
        } else {
            button { r#type: "button", class: "danger", onclick: move |_| asking.set(true), "{label}" }
        }
    }
}
