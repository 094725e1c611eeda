// SPDX-License-Identifier: MPL-2.0
//! The subtitle editor of a project: one tab per language, the cues of the chosen track
//! beside the project's first clip (click a cue's time to seek there), text, times and
//! speaker edited in place, split, merge, shift all, a reading-speed warning, translation
//! from another track and SRT/WebVTT export. Edits stay on the page until saved; the
//! server checks the whole track (overlaps, times past the end) and its reason is shown.

use axum::http::Method;
use dioxus::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::ApiError;
use crate::components::{FormError, Layout};
use crate::hooks::use_studio_api;
use crate::model::Clip;

/// Characters per second above which a cue is flagged (the API's own limit).
const MAX_CPS: f64 = 17.0;

/// What the shift and "translate from" fields start with: their fields are given these once,
/// when made, and their signals start from the same.
const NO_SHIFT: &str = "0";
const TRANSLATE_FROM: &str = "en";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cue {
    pub start: f64,
    pub end: f64,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct TrackSummary {
    lang: String,
    language: String,
    cues: usize,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Track {
    cues: Vec<Cue>,
}

/// Reading speed of a cue, characters per second (line breaks not counted).
pub(crate) fn cps(cue: &Cue) -> f64 {
    cue.text.chars().filter(|c| *c != '\n').count() as f64 / (cue.end - cue.start).max(0.001)
}

/// Splits cue `i` in two at its middle: the time halved, the words shared out (a cue of one
/// word stays whole).
pub(crate) fn split(cues: &[Cue], i: usize) -> Vec<Cue> {
    let mut out = cues.to_vec();
    let Some(cue) = cues.get(i) else { return out };
    let words: Vec<&str> = cue.text.split_whitespace().collect();
    if words.len() < 2 {
        return out;
    }
    let half = words.len().div_ceil(2);
    let middle = (cue.start + cue.end) / 2.0;
    let first = Cue { end: middle, text: words[..half].join(" "), ..cue.clone() };
    let second = Cue { start: middle, text: words[half..].join(" "), ..cue.clone() };
    out.splice(i..=i, [first, second]);
    out
}

/// Merges cue `i` with the next: from the first's start to the second's end, texts joined.
pub(crate) fn merge(cues: &[Cue], i: usize) -> Vec<Cue> {
    let mut out = cues.to_vec();
    if i + 1 >= cues.len() {
        return out;
    }
    let (a, b) = (&cues[i], &cues[i + 1]);
    let merged = Cue { start: a.start, end: b.end, text: format!("{} {}", a.text.trim(), b.text.trim()), ..a.clone() };
    out.splice(i..=i + 1, [merged]);
    out
}

/// Every cue moved by `by` seconds; none before 0.
pub(crate) fn shift(cues: &[Cue], by: f64) -> Vec<Cue> {
    let by = by.max(-cues.first().map_or(0.0, |c| c.start));
    cues.iter().map(|c| Cue { start: c.start + by, end: c.end + by, ..c.clone() }).collect()
}

/// A valid-looking language tag for addresses: letters, digits and `-` only.
fn tag_ok(tag: &str) -> bool {
    (2..=35).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[component]
pub fn SubtitleEditor(id: String) -> Element {
    let api = use_studio_api();
    let mut lang = use_signal(|| "en".to_string());
    let mut cues = use_signal(Vec::<Cue>::new);
    // The cue fields hold what is typed in them: they get the cue's value when made
    // (`initial_value`), never on a later render. A render carries the value of the last
    // keystroke the server has seen, and over the WebSocket it can land after the browser took
    // more, which `value` would overwrite. What the page itself changes (a load, split, merge,
    // shift, delete) bumps `fields`, which is in each row's key, so the rows are made anew.
    let mut fields = use_signal(|| 0u64);
    let mut replace = move |next: Vec<Cue>| {
        cues.set(next);
        fields.with_mut(|n| *n += 1);
    };
    let mut error = use_signal(|| None::<ApiError>);
    let mut saved = use_signal(|| None::<String>);
    let mut tracks = use_resource({
        let (api, id) = (api.clone(), id.clone());
        move || {
            let (api, id) = (api.clone(), id.clone());
            async move { api.get::<Vec<TrackSummary>>(&format!("/api/projects/{id}/subtitles")).await }
        }
    });
    let clips = use_resource({
        let (api, id) = (api.clone(), id.clone());
        move || {
            let (api, id) = (api.clone(), id.clone());
            async move { api.get::<Vec<Clip>>(&format!("/api/projects/{id}/clips")).await }
        }
    });
    // The chosen language's track; a language without one starts empty.
    let _load = use_resource({
        let (api, id) = (api.clone(), id.clone());
        move || {
            let (api, id, lang) = (api.clone(), id.clone(), lang());
            async move {
                match api.get::<Track>(&format!("/api/projects/{id}/subtitles/{lang}")).await {
                    Ok(track) => replace(track.cues),
                    Err(ApiError::Refused { status: 404, .. }) => replace(Vec::new()),
                    Err(e) => error.set(Some(e)),
                }
            }
        }
    });
    let save = {
        let (api, id) = (api.clone(), id.clone());
        move |_| {
            let (api, id, lang) = (api.clone(), id.clone(), lang());
            spawn(async move {
                let body = json!({ "cues": cues() });
                match api.send::<Value>(Method::PUT, &format!("/api/projects/{id}/subtitles/{lang}"), Some(body)).await
                {
                    Ok(_) => {
                        error.set(None);
                        saved.set(Some(format!("Saved {} cues", cues.read().len())));
                        tracks.restart();
                    }
                    Err(e) => {
                        saved.set(None);
                        error.set(Some(e));
                    }
                }
            });
        }
    };
    let mut from = use_signal(|| TRANSLATE_FROM.to_string());
    let translate = {
        let (api, id) = (api.clone(), id.clone());
        move |_| {
            let (api, id, lang) = (api.clone(), id.clone(), lang());
            spawn(async move {
                let path = format!("/api/projects/{id}/subtitles/{lang}/translate");
                match api.post::<Track>(&path, json!({ "from": from() })).await {
                    Ok(track) => {
                        error.set(None);
                        replace(track.cues);
                        tracks.restart();
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let mut shift_by = use_signal(|| NO_SHIFT.to_string());
    let mut new_lang = use_signal(String::new);
    let video = match &*clips.read() {
        Some(Ok(list)) => list.first().map(|c| c.id.clone()),
        _ => None,
    };
    let tabs = match &*tracks.read() {
        Some(Ok(list)) => list.clone(),
        _ => Vec::new(),
    };
    let current = lang();
    let rows = cues();
    let generation = fields();
    rsx! {
        Layout { title: "Subtitles",
            p { class: "crumbs", a { href: "/projects", "Projects" } " / " a { href: "/projects/{id}", "this project" } " / subtitles" }
            nav { id: "language-tabs", role: "tablist",
                for t in tabs.iter() {
                    button { r#type: "button", role: "tab", key: "{t.lang}", class: if t.lang == current { "tab active" } else { "tab" },
                        "aria-selected": "{t.lang == current}", "data-lang": "{t.lang}",
                        onclick: { let l = t.lang.clone(); move |_| { saved.set(None); lang.set(l.clone()) } },
                        "{t.language} ({t.lang}) · {t.cues}"
                    }
                }
                form { id: "new-language",
                    onsubmit: move |e: FormEvent| {
                        e.prevent_default();
                        let tag = new_lang().trim().to_string();
                        if tag_ok(&tag) { saved.set(None); lang.set(tag); }
                    },
                    input { id: "new-language-tag", placeholder: "es, de, fr-CA…", aria_label: "Language tag",
                        oninput: move |e: FormEvent| new_lang.set(e.value()) }
                    button { r#type: "submit", "Open language" }
                }
            }
            FormError { error: error(), fields: Vec::new() }
            if let Some(note) = saved() { p { id: "saved", class: "muted", "{note}" } }
            div { class: "subtitle-editor",
                if let Some(clip) = video {
                    video { id: "subtitle-video", controls: true, preload: "metadata", src: "/ui/api/clips/{clip}/media", aria_label: "The project's first clip" }
                }
                section { aria_label: "Cues",
                    h2 { "Track {current}" }
                    ol { id: "cue-list",
                        for (i, cue) in rows.iter().enumerate() {
                            li { key: "{generation}-{i}", class: if cps(cue) > MAX_CPS { "cue too-fast" } else { "cue" },
                                button { r#type: "button", class: "seek", "data-start": "{cue.start}",
                                    onclick: { let t = cue.start; move |_| { let _ = dioxus::document::eval(&format!("const v = document.getElementById('subtitle-video'); if (v) {{ v.currentTime = {t}; }}")); } },
                                    "▶ {cue.start:.2}"
                                }
                                input { r#type: "number", class: "cue-start", step: "0.01", min: "0", initial_value: "{cue.start}", aria_label: "Start of cue {i + 1}, seconds",
                                    onchange: move |e: FormEvent| if let Ok(v) = e.value().parse::<f64>() { cues.write()[i].start = v } }
                                input { r#type: "number", class: "cue-end", step: "0.01", min: "0", initial_value: "{cue.end}", aria_label: "End of cue {i + 1}, seconds",
                                    onchange: move |e: FormEvent| if let Ok(v) = e.value().parse::<f64>() { cues.write()[i].end = v } }
                                textarea { class: "cue-text", rows: "2", initial_value: "{cue.text}", aria_label: "Text of cue {i + 1}",
                                    oninput: move |e: FormEvent| cues.write()[i].text = e.value() }
                                input { class: "cue-speaker", initial_value: "{cue.speaker.clone().unwrap_or_default()}", placeholder: "speaker", aria_label: "Speaker of cue {i + 1}",
                                    oninput: move |e: FormEvent| { let v = e.value(); cues.write()[i].speaker = (!v.trim().is_empty()).then_some(v) } }
                                if cps(cue) > MAX_CPS {
                                    span { class: "cps-warning", role: "status", "{cps(cue):.0} characters a second: too fast to read" }
                                }
                                button { r#type: "button", class: "split", onclick: move |_| replace(split(&cues(), i)), "Split" }
                                button { r#type: "button", class: "merge", onclick: move |_| replace(merge(&cues(), i)), "Merge with next" }
                                button { r#type: "button", class: "remove", onclick: move |_| { let mut next = cues(); next.remove(i); replace(next) }, "Delete" }
                            }
                        }
                    }
                    button { r#type: "button", id: "add-cue",
                        onclick: move |_| {
                            let start = cues.read().last().map_or(0.0, |c| c.end);
                            cues.write().push(Cue { start, end: start + 2.0, text: String::new(), speaker: None });
                        },
                        "Add a cue"
                    }
                    p { class: "shift",
                        label { r#for: "shift-by", "Shift all cues by (s) " }
                        input { id: "shift-by", r#type: "number", step: "0.1", initial_value: NO_SHIFT, oninput: move |e: FormEvent| shift_by.set(e.value()) }
                        button { r#type: "button", id: "shift-all",
                            onclick: move |_| if let Ok(by) = shift_by().parse::<f64>() { replace(shift(&cues(), by)) },
                            "Shift"
                        }
                    }
                    p {
                        button { r#type: "button", id: "save-track", onclick: save, "Save track" }
                        " · "
                        a { id: "export-srt", href: "/ui/api/projects/{id}/subtitles/{current}/export?format=srt", download: "subtitles.{current}.srt", "Export SRT" }
                        " · "
                        a { id: "export-vtt", href: "/ui/api/projects/{id}/subtitles/{current}/export?format=vtt", download: "subtitles.{current}.vtt", "Export WebVTT" }
                    }
                    form { id: "translate-form",
                        onsubmit: move |e: FormEvent| { e.prevent_default(); },
                        label { r#for: "translate-from", "Translate this track from " }
                        input { id: "translate-from", initial_value: TRANSLATE_FROM, oninput: move |e: FormEvent| from.set(e.value()) }
                        button { r#type: "button", id: "translate", onclick: translate, "Translate" }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start: f64, end: f64, text: &str) -> Cue {
        Cue { start, end, text: text.into(), speaker: None }
    }

    #[test]
    fn split_merge_and_shift() {
        let cues = vec![cue(1.0, 3.0, "one two three four"), cue(3.0, 4.0, "five")];
        let split_cues = split(&cues, 0);
        assert_eq!(split_cues, vec![cue(1.0, 2.0, "one two"), cue(2.0, 3.0, "three four"), cue(3.0, 4.0, "five")]);
        assert_eq!(merge(&split_cues, 0), vec![cue(1.0, 3.0, "one two three four"), cue(3.0, 4.0, "five")]);
        assert_eq!(merge(&cues, 1), cues, "the last cue has no next");
        assert_eq!(split(&[cue(0.0, 1.0, "one")], 0), vec![cue(0.0, 1.0, "one")], "one word stays whole");
        assert_eq!(shift(&cues, 0.5)[0], cue(1.5, 3.5, "one two three four"));
        assert_eq!(shift(&cues, -5.0)[0].start, 0.0, "nothing moves before 0");
        assert!(cps(&cue(0.0, 1.0, "twenty characters!!!")) > MAX_CPS);
        assert!(!tag_ok("../x") && tag_ok("pt-BR"));
    }
}
