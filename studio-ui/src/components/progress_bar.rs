// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

/// A labelled progress bar; `fraction` is 0..1.
#[component]
pub fn ProgressBar(fraction: f64, label: String) -> Element {
    let percent = (fraction.clamp(0.0, 1.0) * 100.0).round();
    rsx! {
        div { class: "progress",
            progress { max: "100", value: "{percent}", aria_label: "{label}" }
            span { "{percent}% · {label}" }
        }
    }
}
