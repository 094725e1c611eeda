// SPDX-License-Identifier: MPL-2.0
//! reenact-ui: the pages of the browser studio. It renders what the server
//! hands it and knows nothing of storage, jobs or media processing.
//!
//! For now this is the landing page; the interactive studio (dioxus
//! liveview) grows here.

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
