// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

use crate::components::{FormError, Layout, UploadForm};
use crate::hooks::use_studio_api;
use crate::model::{Account, CatalogModel};

/// The slots an imported model may fill, as `POST /api/admin/models` names them, with the
/// community models each takes.
const SLOTS: &[(&str, &str)] = &[
    ("faceswap", "Face swap (inswapper_128)"),
    ("face-identity", "Face identity (ArcFace r50 / r100)"),
    ("face-enhance", "Face enhancer (GFPGAN 1.4, GPEN-BFR-512, CodeFormer)"),
    ("lipsync", "Lip-sync (Wav2Lip / Wav2Lip-GAN 96)"),
    ("voice", "Voice (RVC v2)"),
    ("voice-content", "Voice content features (ContentVec 768)"),
    ("voice-pitch", "Voice pitch (RMVPE)"),
    ("portrait-animation", "Portrait animation (a LivePortrait module)"),
];

/// Every model the server runs with its licence, loudest where it is not cleared for
/// commercial use; the administrators the operator named install a model file here.
#[component]
pub fn Models() -> Element {
    let api = use_studio_api();
    let mut models = use_resource({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.get::<Vec<CatalogModel>>("/api/models").await }
        }
    });
    let account = use_resource(move || {
        let api = api.clone();
        async move { api.get::<Account>("/api/account").await }
    });
    let admin = matches!(&*account.read(), Some(Ok(a)) if a.model_admin);
    let shown = models.read().clone();
    rsx! {
        Layout { title: "Models",
            p { "What the studio runs, from the installed manifests. Renders of a commercial project refuse a model not cleared for commercial use." }
            match shown {
                None => rsx! { p { class: "muted", "Loading models…" } },
                Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                Some(Ok(list)) if list.is_empty() => rsx! {
                    p { class: "empty", id: "no-models", "No models are installed. `reenact models install` installs the defaults." }
                },
                Some(Ok(list)) => rsx! { ModelTable { models: list } },
            }
            h2 { "Install a model" }
            if admin {
                ImportForm { on_done: move |_| models.restart() }
            } else {
                p { id: "admins-only", class: "muted",
                    "Models are installed by the administrators the operator names; ask one to add a model file you hold the rights to."
                }
            }
        }
    }
}

#[component]
fn ModelTable(models: Vec<CatalogModel>) -> Element {
    rsx! {
        table { id: "model-list",
            thead { tr { th { "Name" } th { "Version" } th { "Task" } th { "Licence" } th { "Commercial use" } th { "File" } } }
            tbody {
                for model in models {
                    tr { key: "{model.name}", "data-model": "{model.name}",
                        td { class: "name", "{model.name}" }
                        td { "{model.version}" }
                        td { "{model.task}"
                            if let Some(signature) = &model.signature { br {} small { class: "muted", "{signature}" } }
                        }
                        td { class: "licence", "{model.license}" }
                        td { class: match model.commercial_use {
                                Some(true) => "commercial",
                                Some(false) => "commercial non-commercial",
                                None => "commercial unstated",
                            },
                            "{model.commercial_label}"
                        }
                        td { class: "installed", if model.installed { "installed" } else { "missing" } }
                    }
                }
            }
        }
    }
}

/// Uploads a model file to `POST /api/admin/models`; the server reads its graph and refuses
/// one that fits no signature of the slot, naming what it found.
#[component]
fn ImportForm(on_done: EventHandler<()>) -> Element {
    rsx! {
        UploadForm {
            prefix: "model",
            action: "/ui/api/admin/models",
            file_field: "file",
            file_label: "Model file (ONNX)",
            accept: ".onnx",
            submit_label: "Install model",
            on_done,
            label { r#for: "model-slot", "Slot" }
            select { id: "model-slot", name: "slot", aria_describedby: "model-slot-error",
                for (slot, label) in SLOTS.iter() {
                    option { key: "{slot}", value: "{slot}", "{label}" }
                }
            }
            p { class: "field-error", id: "model-slot-error", "data-field": "slot", role: "alert" }
            label { r#for: "model-name", "Name in the catalog (default: the file's name)" }
            input { id: "model-name", name: "name", aria_describedby: "model-name-error" }
            p { class: "field-error", id: "model-name-error", "data-field": "name", role: "alert" }
            label { r#for: "model-license", "Licence of the weights (SPDX id or text)" }
            input { id: "model-license", name: "license", aria_describedby: "model-license-error" }
            p { class: "field-error", id: "model-license-error", "data-field": "license", role: "alert" }
            label { r#for: "model-commercial", "Commercial use" }
            select { id: "model-commercial", name: "commercial_use", aria_describedby: "model-commercial-error",
                option { value: "", "Not stated (commercial projects refuse it)" }
                option { value: "yes", "Allowed by its licence" }
                option { value: "no", "Not allowed (non-commercial)" }
            }
            p { class: "field-error", id: "model-commercial-error", "data-field": "commercial_use", role: "alert" }
            label { r#for: "model-rate", "Output sample rate of a voice, in Hz (when its graph does not say)" }
            input { id: "model-rate", name: "sample_rate", r#type: "number", min: "8000", max: "192000",
                aria_describedby: "model-rate-error"
            }
            p { class: "field-error", id: "model-rate-error", "data-field": "sample_rate", role: "alert" }
        }
    }
}
