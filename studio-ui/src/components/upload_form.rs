// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

/// A form whose file goes from the browser straight to the API through the
/// studio's proxy (studio.js posts it with its other named fields, with
/// progress); the socket only hears that one finished, through the hidden
/// `{prefix}-refresh` button, which calls `on_done`.
///
/// The file field is `#{prefix}-file`, named `file_field` as the API wants
/// it; its reason shows in `#{file_field}-error`. `children` are the
/// other fields, each with a `.field-error` whose `data-field` names the
/// API field its reason belongs to.
#[component]
pub fn UploadForm(
    prefix: String,
    action: String,
    file_field: String,
    file_label: String,
    #[props(default)] accept: String,
    submit_label: String,
    on_done: EventHandler<()>,
    #[props(default)] children: Element,
) -> Element {
    rsx! {
        form { class: "upload", id: "{prefix}-form", "data-upload": "{action}", "data-refresh": "{prefix}-refresh",
            {children}
            label { r#for: "{prefix}-file", "{file_label}" }
            input { id: "{prefix}-file", name: "{file_field}", r#type: "file", accept: "{accept}",
                aria_describedby: "{file_field}-error"
            }
            button { r#type: "submit", "{submit_label}" }
            progress { id: "{prefix}-progress", max: "100", value: "0", hidden: true, aria_label: "Upload progress" }
            p { class: "field-error", id: "{file_field}-error", "data-field": "{file_field}", role: "alert" }
        }
        button { r#type: "button", id: "{prefix}-refresh", class: "visually-hidden", tabindex: "-1",
            onclick: move |_| on_done.call(()), "Refresh"
        }
    }
}
