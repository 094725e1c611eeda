// SPDX-License-Identifier: MPL-2.0
use std::time::Duration;

use dioxus::prelude::*;
use serde_json::json;

use crate::api::ApiError;
use crate::app::go_to;
use crate::components::{form_text, form_texts, ConfirmButton, FieldError, FormError, Layout};
use crate::hooks::use_studio_api;
use crate::model::{language_name, LiveSummary, Preset, Project, LANGUAGES};

/// Elements a show can switch at the next frame, with their names for people.
const ELEMENTS: &[(&str, &str)] = &[
    ("faceswap", "Face swap"),
    ("voice", "Voice"),
    ("matte", "Background"),
    ("lipsync", "Lip sync"),
    ("captions", "Captions"),
    ("facetrack", "Face tracking only"),
];

/// "Deutsch", or "detected: English" for a show left to detect the language.
fn captions_readout(set: &str, heard: Option<&str>) -> String {
    match (set, heard) {
        ("auto", Some(heard)) => format!("detected: {}", language_name(heard)),
        ("auto", None) => "detecting the language…".to_owned(),
        (set, _) => language_name(set),
    }
}

/// Start a live show and see the ones running.
#[component]
pub fn Studio() -> Element {
    let api = use_studio_api();
    let sessions = use_resource({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.get::<Vec<LiveSummary>>("/api/live").await }
        }
    });
    let presets = use_resource({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.get::<Vec<Preset>>("/api/presets").await }
        }
    });
    let projects = use_resource({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.get::<Vec<Project>>("/api/projects").await }
        }
    });
    let mut error = use_signal(|| None::<ApiError>);
    let mut busy = use_signal(|| false);
    let mut source = use_signal(|| "test".to_owned());
    // Bumped when the page itself sets the source, so the field is made anew with it.
    let mut source_set = use_signal(|| 0u32);
    let start = move |event: FormEvent| {
        let api = api.clone();
        async move {
            busy.set(true);
            let mut body = json!({
                "source": form_text(&event, "source"),
                "preset": form_text(&event, "preset"),
                "elements": form_text(&event, "elements"),
                "caption_language": form_text(&event, "caption_language"),
            });
            let project = form_text(&event, "project_id");
            if !project.is_empty() {
                body["project_id"] = json!(project);
            }
            // One destination per line (or separated by spaces).
            let outputs: Vec<String> = form_text(&event, "outputs").split_whitespace().map(str::to_owned).collect();
            if !outputs.is_empty() {
                body["outputs"] = json!(outputs);
            }
            let pin = form_text(&event, "kiosk_pin");
            if !pin.is_empty() {
                body["kiosk_pin"] = json!(pin);
            }
            // Visitor mode: the server refuses settings it cannot honour and names the field.
            if form_text(&event, "visitor_mode") == "true" {
                let mut consent = json!({ "keeps": form_text(&event, "keeps") });
                let languages = form_texts(&event, "languages");
                if !languages.is_empty() {
                    consent["languages"] = json!(languages);
                }
                let reset = form_text(&event, "reset_after_s");
                if !reset.is_empty() {
                    consent["reset_after_s"] = reset.parse::<u64>().map_or(json!(reset), |s| json!(s));
                }
                body["visitor_consent"] = consent;
            }
            body["commercial"] = json!(form_text(&event, "commercial") == "true");
            body["occlusion_mask"] = json!(form_text(&event, "occlusion_mask") == "true");
            let dub = form_text(&event, "dub_language");
            if !dub.is_empty() {
                let delay = form_text(&event, "dub_delay_s");
                // A delay that is not a number goes as typed: the server names the field.
                let delay = delay.parse::<f64>().map_or(json!(delay), |s| json!(s));
                body["dub"] = json!({ "language": dub, "delay_s": delay });
            }
            let started = api.post::<LiveSummary>("/api/live", body).await;
            busy.set(false);
            match started {
                Ok(show) => go_to(&format!("/studio/{}", show.id)),
                Err(e) => error.set(Some(e)),
            }
        }
    };
    let live_presets: Vec<Preset> = match &*presets.read() {
        Some(Ok(all)) => all.iter().filter(|p| p.mode == "live").cloned().collect(),
        _ => Vec::new(),
    };
    let project_list = match &*projects.read() {
        Some(Ok(list)) => list.clone(),
        _ => Vec::new(),
    };
    let running = sessions.read().clone();
    rsx! {
        Layout { title: "Live studio",
            section { aria_labelledby: "start-heading",
                h2 { id: "start-heading", "Start a show" }
                form { id: "start-live", novalidate: true, onsubmit: start,
                    label { r#for: "source", "Source" }
                    div { class: "source-row",
                        // The typed text stays the browser's: a render that reaches it after
                        // more keystrokes would otherwise put back what it had before them.
                        for generation in [source_set()] {
                            input { key: "{generation}", id: "source", name: "source", initial_value: "{source}", list: "sources",
                                aria_describedby: "source-error", oninput: move |e: FormEvent| source.set(e.value()) }
                        }
                        // The presenter's own camera and microphone, sent from this browser once the show runs.
                        button { r#type: "button", id: "use-camera", aria_pressed: source() == "browser",
                            onclick: move |_| {
                                source.set("browser".to_owned());
                                source_set += 1;
                            },
                            "Use my camera" }
                    }
                    datalist { id: "sources",
                        option { value: "browser", "My camera and microphone (this browser)" }
                        option { value: "test", "Test pattern" }
                        option { value: "camera:/dev/video0", "The server's first camera" }
                    }
                    FieldError { error: error(), field: "source" }
                    label { r#for: "live-preset", "Preset" }
                    select { id: "live-preset", name: "preset", aria_describedby: "preset-error",
                        for p in live_presets {
                            option { key: "{p.name}", value: "{p.name}", "{p.name} — {p.description}" }
                        }
                    }
                    FieldError { error: error(), field: "preset" }
                    label { r#for: "live-project", "Project (optional)" }
                    select { id: "live-project", name: "project_id",
                        option { value: "", "None" }
                        for p in project_list {
                            option { key: "{p.id}", value: "{p.id}", "{p.name}" }
                        }
                    }
                    FieldError { error: error(), field: "project_id" }
                    label { r#for: "caption-language", "Language spoken (for live captions)" }
                    select { id: "caption-language", name: "caption_language", aria_describedby: "caption_language-error",
                        option { value: "en", "English" }
                        option { value: "auto", "Detect it" }
                        for (code, language) in LANGUAGES.iter().skip(1) {
                            option { key: "{code}", value: "{code}", "{language}" }
                        }
                    }
                    FieldError { error: error(), field: "caption_language" }
                    label { r#for: "dub-language", "Dub into (optional: the audience hears a voice in this language instead, the picture held back with it)" }
                    select { id: "dub-language", name: "dub_language", aria_describedby: "dub-error",
                        option { value: "", "No dub" }
                        for (code, language) in LANGUAGES.iter() {
                            option { key: "{code}", value: "{code}", "{language}" }
                        }
                    }
                    label { r#for: "dub-delay", "Dub delay (seconds, 6 to 30)" }
                    input { id: "dub-delay", name: "dub_delay_s", r#type: "number", min: "6", max: "30", step: "0.5", value: "8",
                        aria_describedby: "dub-error" }
                    FieldError { error: error(), field: "dub" }
                    label { r#for: "outputs", "Also stream to (optional: RTMP or SRT addresses, one per line)" }
                    textarea { id: "outputs", name: "outputs", rows: "2", aria_describedby: "outputs-error",
                        placeholder: "rtmp://live.example.com/app/STREAM-KEY\nsrt://ingest.example.com:9000" }
                    FieldError { error: error(), field: "outputs" }
                    label { r#for: "kiosk-pin", "Staff PIN to leave its kiosk screens (optional: 4 to 12 digits)" }
                    input { id: "kiosk-pin", name: "kiosk_pin", r#type: "password", inputmode: "numeric",
                        autocomplete: "off", aria_describedby: "kiosk_pin-error" }
                    FieldError { error: error(), field: "kiosk_pin" }
                    fieldset { id: "kiosk-settings",
                        legend { "Installation" }
                        label {
                            input { id: "visitor-mode", name: "visitor_mode", r#type: "checkbox", value: "true",
                                aria_describedby: "visitor_consent-error" }
                            " Visitor mode: nothing of the camera is shown, recorded or streamed until a visitor accepts"
                        }
                        p { "Consent screen languages" }
                        for (code, language) in [("en", "English"), ("de", "Deutsch"), ("es", "Español"), ("fr", "Français")] {
                            label { key: "{code}",
                                input { name: "languages", r#type: "checkbox", value: "{code}", checked: code == "en" }
                                " {language}"
                            }
                        }
                        label { r#for: "keeps", "What the kiosk keeps (stated on the consent screen)" }
                        select { id: "keeps", name: "keeps",
                            option { value: "nothing", "Nothing" }
                            option { value: "recording", "The recording" }
                        }
                        label { r#for: "reset-after", "Back to the consent screen after no face for (seconds)" }
                        input { id: "reset-after", name: "reset_after_s", r#type: "number", min: "5", max: "3600", value: "20" }
                        FieldError { error: error(), field: "visitor_consent" }
                        label {
                            input { id: "live-commercial", name: "commercial", r#type: "checkbox", value: "true" }
                            " Commercial use: refuse models and characters not cleared for it"
                        }
                        label {
                            input { id: "live-occlusion", name: "occlusion_mask", r#type: "checkbox", value: "true" }
                            " Keep what is held in front of the face (a cup, a glove, a microphone: not a bare hand)"
                        }
                    }
                    input { r#type: "hidden", name: "elements", value: "" }
                    FormError { error: error(), fields: ["source", "preset", "project_id", "caption_language", "dub", "outputs", "kiosk_pin", "visitor_consent"].map(String::from).to_vec() }
                    button { r#type: "submit", disabled: busy(), if busy() { "Starting…" } else { "Go live" } }
                }
            }
            section { aria_labelledby: "shows-heading",
                h2 { id: "shows-heading", "Running shows" }
                match running {
                    None => rsx! { p { class: "muted", "Loading…" } },
                    Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                    Some(Ok(list)) if list.is_empty() => rsx! { p { class: "empty", "No show is running." } },
                    Some(Ok(list)) => rsx! {
                        ul { class: "cards",
                            for show in list {
                                li { class: "card", key: "{show.id}",
                                    a { href: "/studio/{show.id}", "Show {show.id}" }
                                    span { class: "muted", " · {show.preset}" }
                                }
                            }
                        }
                    },
                }
            }
        }
    }
}

/// One running show: the WebRTC preview, switches, readout, kiosk link.
#[component]
pub fn StudioSession(id: String) -> Element {
    let api = use_studio_api();
    let mut summary = use_signal(|| None::<Result<LiveSummary, ApiError>>);
    use_future({
        let (api, id) = (api.clone(), id.clone());
        move || {
            let (api, id) = (api.clone(), id.clone());
            async move {
                loop {
                    let loaded = api.get::<LiveSummary>(&format!("/api/live/{id}")).await;
                    let gone = loaded.is_err();
                    summary.set(Some(loaded));
                    if gone {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    let mut error = use_signal(|| None::<ApiError>);
    let switch = {
        let (api, id) = (api.clone(), id.clone());
        move |body: serde_json::Value| {
            let (api, id) = (api.clone(), id.clone());
            spawn(async move {
                match api.patch::<LiveSummary>(&format!("/api/live/{id}"), body).await {
                    Ok(s) => {
                        error.set(None);
                        summary.set(Some(Ok(s)));
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let stop = {
        let (api, id) = (api.clone(), id.clone());
        move |_| {
            let (api, id) = (api.clone(), id.clone());
            spawn(async move {
                match api.delete(&format!("/api/live/{id}")).await {
                    Ok(()) => go_to("/studio"),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let current = summary.read().clone();
    let pipeline = current.as_ref().and_then(|s| s.as_ref().ok()).and_then(|s| s.pipeline.clone());
    let viewers = current.as_ref().and_then(|s| s.as_ref().ok()).map(|s| s.viewers.clone()).unwrap_or_default();
    let frames_seen: u64 = viewers.iter().filter_map(|v| v.report.as_ref().map(|r| r.frames)).max().unwrap_or(0);
    let viewer_fps: f64 = viewers.iter().filter_map(|v| v.report.as_ref().map(|r| r.fps)).fold(0.0, f64::max);
    let p50 = viewers.iter().map(|v| v.latency_p50_ms).fold(0.0, f64::max);
    let p95 = viewers.iter().map(|v| v.latency_p95_ms).fold(0.0, f64::max);
    let browser_source = pipeline.as_ref().is_some_and(|p| p.source == "browser");
    let publisher = pipeline.as_ref().and_then(|p| p.publisher.clone());
    let characters = pipeline.as_ref().map(|p| p.characters.clone()).unwrap_or_default();
    let character = pipeline.as_ref().and_then(|p| p.character.clone()).unwrap_or_default();
    let on_character = {
        let switch = switch.clone();
        move |e: FormEvent| switch(json!({ "character": e.value() }))
    };
    rsx! {
        Layout { title: "Live studio",
            p { class: "crumbs", a { href: "/studio", "Live studio" } " / show {id}" }
            if let Some(Err(e)) = current.clone() {
                FormError { error: Some(e), fields: Vec::new() }
            }
            div { class: "live",
                div { class: "preview",
                    // The preview page (whep.js) negotiates WebRTC and reports
                    // what it plays; the figures below come back from the server.
                    if browser_source {
                        CameraPanel { id: id.clone() }
                    } else {
                        iframe { id: "preview", src: "/live/{id}?ui=1", title: "Live preview", allow: "autoplay" }
                    }
                    // What whisper hears, newest last; a partial line is drawn lighter until final.
                    div { id: "live-captions", class: "live-captions", aria_live: "polite",
                        for (i, line) in pipeline.as_ref().map(|p| p.captions.clone()).unwrap_or_default().into_iter().enumerate() {
                            p { key: "{i}", class: if line.is_final { "caption" } else { "caption partial" }, "{line.text}" }
                        }
                    }
                }
                aside { class: "controls",
                    h2 { "Readout" }
                    dl { class: "readout", id: "readout",
                        dt { "State" } dd { id: "live-state", {pipeline.as_ref().map(|p| p.state.clone()).unwrap_or_else(|| "starting".into())} }
                        dt { "Encoded" } dd { {pipeline.as_ref().map(|p| format!("{:.1} fps, {} frames, {} dropped", p.fps_encoded, p.frames_encoded, p.frames_dropped)).unwrap_or_default()} }
                        if let Some(p) = publisher {
                            dt { "Presenter" }
                            dd { id: "publisher-state", "data-on-air": "{p.on_air}",
                                if p.on_air {
                                    {format!("on air, {}x{}, sound peak {:.0} %", p.width, p.height, p.sound_peak * 100.0)}
                                } else {
                                    "waiting (the attract picture is on air)"
                                }
                                if p.gaps > 0 { {format!(" · {} gaps, {:.1} s", p.gaps, p.gap_s)} }
                            }
                        }
                        dt { "Preview" } dd { id: "viewer-frames", "data-frames": "{frames_seen}", "{viewer_fps:.1} fps, {frames_seen} frames" }
                        if pipeline.as_ref().is_some_and(|p| p.elements.get("captions").copied().unwrap_or(false)) {
                            dt { "Captions" }
                            dd { id: "captions-language",
                                {pipeline.as_ref().map(|p| captions_readout(&p.captions_language, p.captions_heard.as_deref())).unwrap_or_default()}
                            }
                        }
                        if let Some(d) = pipeline.as_ref().and_then(|p| p.dub.as_ref()) {
                            dt { "Dub" }
                            dd { id: "live-dub", "data-lines": "{d.lines}",
                                {format!("into {}, {:.1} s behind ({}): {} lines, {} late, {} failed", language_name(&d.language), d.delay_s, d.speech, d.lines, d.late, d.failed)}
                                if let Some(e) = &d.last_error { {format!(" · last error: {e}")} }
                            }
                        }
                        if let Some(p) = pipeline.as_ref().filter(|p| !p.licences.is_empty()) {
                            dt { "Models" }
                            dd { id: "live-models",
                                for (i, l) in p.licences.iter().enumerate() {
                                    span { key: "{l.name}",
                                        if i > 0 { " · " }
                                        "{l.name} ({l.license})"
                                        if l.commercial_label == "NON-COMMERCIAL" {
                                            " "
                                            strong { class: "non-commercial", "NON-COMMERCIAL" }
                                        }
                                    }
                                }
                            }
                        }
                        dt { "Latency" } dd { id: "latency", {format!("graph {:.0} ms · glass p50 {p50:.0} / p95 {p95:.0} ms", pipeline.as_ref().map(|p| p.pipeline_latency_ms).unwrap_or(0.0))} }
                        for out in pipeline.as_ref().map(|p| p.outputs.clone()).unwrap_or_default() {
                            dt { key: "{out.target}", "Streaming to" }
                            dd { class: "output {out.state}", "{out.target}: {out.state}" if let Some(e) = out.error { " ({e})" } }
                        }
                    }
                    h2 { "Elements" }
                    fieldset { id: "elements",
                        legend { "Switch at the next frame" }
                        for (name, words) in ELEMENTS.iter().copied() {
                            label { class: "check", key: "{name}",
                                input {
                                    r#type: "checkbox", name: "{name}", id: "element-{name}",
                                    checked: pipeline.as_ref().and_then(|p| p.elements.get(name).copied()).unwrap_or(false),
                                    onchange: {
                                        let switch = switch.clone();
                                        move |e: FormEvent| switch(json!({ "elements": { name: e.checked() } }))
                                    },
                                }
                                "{words}"
                            }
                        }
                    }
                    FieldError { error: error(), field: "elements" }
                    label { r#for: "character", "Character" }
                    select { id: "character", name: "character", onchange: on_character, aria_describedby: "character-error",
                        if characters.is_empty() { option { value: "", "No characters in this show" } }
                        for c in characters {
                            option { key: "{c}", value: "{c}", selected: c == character, "{c}" }
                        }
                    }
                    FieldError { error: error(), field: "character" }
                    FormError { error: error(), fields: vec!["elements".to_string(), "character".to_string()] }
                    h2 { "Kiosk" }
                    p {
                        "Show this on an installation screen: "
                        a { href: "/kiosk/{id}", id: "kiosk-link", "/kiosk/{id}" }
                        ". Staff leave it with the PIN set when the show started; the server checks it."
                    }
                    ConfirmButton { label: "Stop the show", question: "End the show for every viewer?", on_confirm: stop }
                }
            }
        }
    }
}

/// The presenter's own camera for a `browser` show: device pickers, resolution and a mirrored
/// self-view. Its script (`assets/camera.js`) asks the browser for the devices and publishes
/// over WHIP; the markup has no dynamic parts, so re-renders never touch what the script
/// filled in (device lists, the self-view's stream).
#[component]
fn CameraPanel(id: String) -> Element {
    rsx! {
        section { id: "camera-panel", class: "camera", "data-session": "{id}", aria_labelledby: "camera-heading",
            h2 { id: "camera-heading", "My camera" }
            div { class: "camera-views",
                figure {
                    video { id: "self-view", class: "mirrored", autoplay: true, muted: true, playsinline: true }
                    figcaption { "You (mirrored, as in a mirror)" }
                }
                figure {
                    iframe { id: "preview", src: "/live/{id}?ui=1", title: "Live preview", allow: "autoplay" }
                    figcaption { "What viewers see" }
                }
            }
            div { class: "camera-pickers",
                label { r#for: "camera-device", "Camera" }
                select { id: "camera-device", name: "camera-device" }
                label { r#for: "mic-device", "Microphone" }
                select { id: "mic-device", name: "mic-device" }
                label { r#for: "camera-resolution", "Resolution" }
                select { id: "camera-resolution", name: "camera-resolution",
                    option { value: "640x360", "360p (640×360)" }
                    option { value: "1280x720", selected: true, "720p (1280×720)" }
                    option { value: "1920x1080", "1080p (1920×1080)" }
                }
            }
            div { class: "camera-actions",
                button { r#type: "button", id: "camera-start", "Go on air with my camera" }
                button { r#type: "button", id: "camera-stop", hidden: true, "Stop my camera" }
            }
            p { id: "camera-status", role: "status", class: "muted", "Camera off." }
            p { id: "camera-error", role: "alert", class: "field-error" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::captions_readout;

    #[test]
    fn the_captions_readout_names_the_language_set_or_heard() {
        assert_eq!(captions_readout("de", None), "Deutsch");
        assert_eq!(captions_readout("de", Some("en")), "Deutsch", "a set language is what is shown");
        assert_eq!(captions_readout("auto", None), "detecting the language…");
        assert_eq!(captions_readout("auto", Some("fr")), "detected: Français");
        assert_eq!(captions_readout("auto", Some("sw")), "detected: sw", "a code the form does not list");
    }
}
