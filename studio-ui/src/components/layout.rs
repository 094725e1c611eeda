// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;

use crate::app::go_to;
use crate::hooks::use_studio_api;

/// The frame of a signed-in page: navigation, sign-out, then the page.
#[component]
pub fn Layout(title: String, children: Element) -> Element {
    let api = use_studio_api();
    let sign_out = move |_| {
        let api = api.clone();
        async move {
            api.sign_out().await;
            go_to("/login");
        }
    };
    rsx! {
        header { class: "top",
            a { class: "brand", href: "/projects", "Reenact Studio" }
            nav { aria_label: "Studio",
                a { href: "/projects", "Projects" }
                a { href: "/characters", "Characters" }
                a { href: "/voices", "Voices" }
                a { href: "/jobs", "Jobs" }
                a { href: "/studio", "Live studio" }
                a { href: "/models", "Models" }
                a { href: "/account", "Account" }
            }
            button { r#type: "button", id: "sign-out", onclick: sign_out, "Sign out" }
        }
        main { class: "page",
            h1 { "{title}" }
            {children}
        }
        footer { class: "disclosure",
            "Reenact Studio makes educational and historical reenactments. Every rendered file says it contains synthetic media."
        }
    }
}
