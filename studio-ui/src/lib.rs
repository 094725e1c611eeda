// SPDX-License-Identifier: MPL-2.0
//! reenact-ui: the browser studio. Pages are dioxus components rendered on
//! the server and kept live over a WebSocket (dioxus-liveview), so no wasm
//! toolchain is needed. The studio knows nothing of storage, jobs or media:
//! it sends the server's own JSON API the requests a user would, in-process
//! and with that user's token, and shows the answers, so every rule about
//! who may do what stays in the API.

mod api;
mod app;
mod components;
mod hooks;
mod model;
mod pages;
mod session;
mod web;

pub use api::{ApiError, StudioApi};
pub use app::Page;
pub use session::{CookiePolicy, Sessions};
pub use web::router;

/// The kiosk page (full screen, no controls, staff leave with a PIN the server checks);
/// the server serves it at `/kiosk/{id}` for the shows it knows.
pub const KIOSK_PAGE: &str = include_str!("../assets/kiosk.html");

/// A preset as the landing page lists it.
#[derive(Debug, Clone)]
pub struct PresetSummary {
    pub name: String,
    pub description: String,
}

/// The landing page: what the studio is and which delivery presets it has.
pub fn landing_page(version: &str, presets: &[PresetSummary]) -> String {
    let mut rows = String::new();
    for p in presets {
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td></tr>\n",
            escape(&p.name),
            escape(&p.description)
        ));
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reenact Studio</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}}
table{{border-collapse:collapse;width:100%}}td{{border-bottom:1px solid #ddd;padding:.4rem}}</style></head>
<body><h1>Reenact Studio <small>{version}</small></h1>
<p>Live and recorded reenactments: one graph turns a performer into a character and renders every delivery format in one pass.
Every rendered file carries a disclosure that it contains synthetic media.</p>
<p><a href="/projects"><strong>Open the studio</strong></a> · <a href="/login">Sign in</a> · <a href="/signup">Create an account</a></p>
<h2>Delivery presets</h2><table>{rows}</table>
<p>Render from the command line: <code>reenact render take.mp4 --preset landscape-1080p --preset vertical-1080p --out renders/</code></p>
</body></html>"#,
        version = escape(version),
    )
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_names_are_escaped() {
        let page = landing_page("0.1", &[PresetSummary { name: "<x>".into(), description: "a & b".into() }]);
        assert!(page.contains("<code>&lt;x&gt;</code>"));
        assert!(page.contains("a &amp; b"));
    }
}
