// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

/// The rights record's fields of a character's or a voice's form (`prefix` keeps their ids
/// apart): the same record, so the server reads both with one parser. The basis is
/// required; the server answers which field is wrong.
#[component]
pub fn RightsFields(prefix: String, legend: String) -> Element {
    rsx! {
        fieldset { class: "rights",
            legend { "{legend}" }
            label { r#for: "{prefix}-rights-basis", "Basis" }
            select { id: "{prefix}-rights-basis", name: "rights_basis", required: true,
                aria_describedby: "{prefix}-rights-basis-error",
                option { value: "", "Choose…" }
                option { value: "consent", "Consent of the person" }
                option { value: "licensed", "Licensed" }
                option { value: "public-domain", "Public domain" }
                option { value: "own-likeness", "My own likeness" }
            }
            p { class: "field-error", id: "{prefix}-rights-basis-error", "data-field": "rights_basis", role: "alert" }
            label { r#for: "{prefix}-rights-granted-by", "Granted by" }
            input { id: "{prefix}-rights-granted-by", name: "rights_granted_by" }
            label { r#for: "{prefix}-rights-granted-at", "Granted on" }
            input { id: "{prefix}-rights-granted-at", name: "rights_granted_at", r#type: "date",
                aria_describedby: "{prefix}-rights-granted-at-error" }
            p { class: "field-error", id: "{prefix}-rights-granted-at-error", "data-field": "rights_granted_at", role: "alert" }
            label { r#for: "{prefix}-rights-reference", "Release or licence reference" }
            input { id: "{prefix}-rights-reference", name: "rights_reference" }
            label { r#for: "{prefix}-rights-expires", "Usable until" }
            input { id: "{prefix}-rights-expires", name: "rights_expires", r#type: "date",
                aria_describedby: "{prefix}-rights-expires-error" }
            p { class: "field-error", id: "{prefix}-rights-expires-error", "data-field": "rights_expires", role: "alert" }
            label {
                input { name: "rights_non_commercial", r#type: "checkbox", value: "true" }
                " Non-commercial use only"
            }
        }
    }
}
