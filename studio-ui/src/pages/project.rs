// SPDX-License-Identifier: MPL-2.0
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dioxus::prelude::*;
use serde_json::{json, Value};

use super::cast::Cast;
use super::import::ImportFromUrl;
use super::renders::Renders;
use super::timeline::TimelineEditor;
use crate::api::ApiError;
use crate::components::{FormError, Layout, UploadForm};
use crate::hooks::use_studio_api;
use crate::model::{human_bytes, Clip, Project, Waveform};

/// How many times the project page asks for a waveform whose job has not run yet, a second apart.
const WAVEFORM_TRIES: usize = 120;

/// One project: its media (upload, import), cast, scenes, renders, and a way into the live studio.
#[component]
pub fn ProjectPage(id: String) -> Element {
    let api = use_studio_api();
    let mut project = use_resource({
        let (api, id) = (api.clone(), id.clone());
        move || {
            let (api, id) = (api.clone(), id.clone());
            async move { api.get::<Project>(&format!("/api/projects/{id}")).await }
        }
    });
    let mut clips = use_resource({
        let (api, id) = (api.clone(), id.clone());
        move || {
            let (api, id) = (api.clone(), id.clone());
            async move { api.get::<Vec<Clip>>(&format!("/api/projects/{id}/clips")).await }
        }
    });
    let title = match &*project.read() {
        Some(Ok(p)) => p.name.clone(),
        Some(Err(_)) => "Project not found".to_string(),
        None => "Project".to_string(),
    };
    if let Some(Err(e)) = &*project.read() {
        let error: ApiError = e.clone();
        return rsx! {
            Layout { title,
                FormError { error: Some(error), fields: Vec::new() }
                p { a { href: "/projects", "Back to the projects" } }
            }
        };
    }
    // Where undo and redo would go; reloaded with the project after every edit.
    let mut revisions = use_resource({
        let (api, id) = (api.clone(), id.clone());
        move || {
            let (api, id) = (api.clone(), id.clone());
            async move { api.get::<Value>(&format!("/api/projects/{id}/revisions")).await }
        }
    });
    let (can_undo, can_redo) = match &*revisions.read() {
        Some(Ok(r)) => (r["can_undo"].as_bool().unwrap_or(false), r["can_redo"].as_bool().unwrap_or(false)),
        _ => (false, false),
    };
    // Each sounding clip's waveform for the timeline, as its overview job stored it. A clip
    // whose job has not run yet (202) is asked again every second, for up to two minutes;
    // one that has none to give is drawn without.
    let waveforms = use_signal(HashMap::<String, Arc<Waveform>>::new);
    let _waveforms_loaded = use_resource({
        let api = api.clone();
        move || {
            let api = api.clone();
            let sounding: Vec<String> = match &*clips.read() {
                Some(Ok(list)) => list.iter().filter(|c| c.audio_codec.is_some()).map(|c| c.id.clone()).collect(),
                _ => Vec::new(),
            };
            let mut waveforms = waveforms;
            async move {
                let mut pending: Vec<String> =
                    sounding.into_iter().filter(|id| !waveforms.peek().contains_key(id)).collect();
                for _ in 0..WAVEFORM_TRIES {
                    let mut waiting = Vec::new();
                    for id in pending {
                        match api.get::<Value>(&format!("/api/clips/{id}/waveform")).await {
                            Ok(answer) if answer.get("peaks").is_some() => {
                                if let Ok(waveform) = serde_json::from_value::<Waveform>(answer) {
                                    waveforms.write().insert(id, Arc::new(waveform));
                                }
                            }
                            Ok(_) => waiting.push(id),
                            Err(_) => {}
                        }
                    }
                    if waiting.is_empty() {
                        break;
                    }
                    pending = waiting;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    let clip_list = clips.read().clone();
    let (timeline, version, commercial, occlusion_mask) = match &*project.read() {
        Some(Ok(p)) => (p.timeline.clone(), p.version, p.commercial, p.occlusion_mask),
        _ => (Value::Null, -1, false, false),
    };
    let mut settings_error = use_signal(|| None::<ApiError>);
    // Settings of the project, not edits of its timeline: no undo step.
    let set_setting = |name: &'static str| {
        let (api, id) = (api.clone(), id.clone());
        move |event: FormEvent| {
            let (api, id) = (api.clone(), id.clone());
            let mut body = serde_json::Map::new();
            body.insert(name.into(), json!(event.checked()));
            spawn(async move {
                match api.patch::<Project>(&format!("/api/projects/{id}"), Value::Object(body)).await {
                    Ok(_) => {
                        settings_error.set(None);
                        project.restart();
                    }
                    Err(e) => settings_error.set(Some(e)),
                }
            });
        }
    };
    let mut timeline_error = use_signal(|| None::<ApiError>);
    // The renderer plays the timeline, so media reaches a render through it.
    let save_timeline = {
        let (api, id) = (api.clone(), id.clone());
        move |timeline: Value| {
            let (api, id) = (api.clone(), id.clone());
            spawn(async move {
                match api.patch::<Project>(&format!("/api/projects/{id}"), json!({ "timeline": timeline })).await {
                    Ok(_) => {
                        timeline_error.set(None);
                        project.restart();
                        revisions.restart();
                    }
                    Err(e) => timeline_error.set(Some(e)),
                }
            });
        }
    };
    let entries = timeline_entries(&timeline);
    let names: Vec<(String, String, f64)> = match &clip_list {
        Some(Ok(list)) => list.iter().map(|c| (c.id.clone(), c.name.clone(), c.duration_s)).collect(),
        _ => Vec::new(),
    };
    rsx! {
        Layout { title,
            p { class: "crumbs", a { href: "/projects", "Projects" } " / this project · "
                a { id: "subtitles-link", href: "/projects/{id}/subtitles", "Subtitles" }
            }
            section { aria_labelledby: "use-heading",
                h2 { id: "use-heading", "Use" }
                label {
                    input { id: "project-commercial", r#type: "checkbox", checked: commercial,
                        aria_describedby: "project-commercial-help", onchange: set_setting("commercial") }
                    " Commercial use"
                }
                p { class: "muted", id: "project-commercial-help",
                    "Renders of a commercial project refuse models whose licence does not allow commercial use, "
                    "and characters or voices whose rights are for non-commercial use only, naming them."
                }
                label {
                    input { id: "project-occlusion", r#type: "checkbox", checked: occlusion_mask,
                        aria_describedby: "project-occlusion-help", onchange: set_setting("occlusion_mask") }
                    " Keep what is held in front of the face"
                }
                p { class: "muted", id: "project-occlusion-help",
                    "A cup, a glove, hair or a microphone in front of the performer's face stays in front of the "
                    "character's face. Judged by colour: a bare hand is swapped, and so is an object held over the "
                    "eyes or mouth from the first frames."
                }
                FormError { error: settings_error(), fields: Vec::new() }
            }
            section { aria_labelledby: "media-heading",
                h2 { id: "media-heading", "Media" }
                // Uploads go from the browser straight to the API through the
                // studio's proxy (studio.js), with progress; the socket only
                // hears that one finished.
                UploadForm {
                    prefix: "upload",
                    action: "/ui/api/projects/{id}/clips",
                    file_field: "file",
                    file_label: "Add a video (MP4, WebM, MOV, MPEG)",
                    submit_label: "Upload",
                    on_done: move |_| clips.restart(),
                }
                ImportFromUrl { project_id: id.clone(), on_imported: move |_| clips.restart() }
                match clip_list {
                    None => rsx! { p { class: "muted", "Loading media…" } },
                    Some(Err(e)) => rsx! { FormError { error: Some(e), fields: Vec::new() } },
                    Some(Ok(list)) if list.is_empty() => rsx! {
                        div { class: "empty", id: "no-media",
                            p { "No media yet. Upload a take of the performer above; it is checked before it is accepted." }
                        }
                    },
                    Some(Ok(list)) => rsx! {
                        table { id: "media-list",
                            thead { tr { th { "Name" } th { "Length" } th { "Picture" } th { "Sound" } th { "Size" } th { "" } } }
                            tbody {
                                for clip in list {
                                    tr { key: "{clip.id}",
                                        td { a { href: "/ui/api/clips/{clip.id}/media", target: "_blank", "{clip.name}" } }
                                        td { "{clip.duration_s:.1} s" }
                                        td {
                                            img { class: "thumb", src: "/ui/api/clips/{clip.id}/thumbnail", alt: "", loading: "lazy", width: "96" }
                                            " {clip.width}×{clip.height}, {clip.fps:.0} fps, {clip.video_codec}"
                                        }
                                        td { {clip.audio_codec.clone().unwrap_or_else(|| "none".into())} }
                                        td { {human_bytes(clip.bytes)} }
                                        td {
                                            button { r#type: "button", class: "add-to-timeline",
                                                onclick: {
                                                    let (save, timeline, clip) = (save_timeline.clone(), timeline.clone(), clip.clone());
                                                    move |_| save(with_clip(&timeline, &clip))
                                                },
                                                "Add to timeline"
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    },
                }
            }
            if version >= 0 {
                TimelineEditor {
                    project_id: id.clone(),
                    timeline: timeline.clone(),
                    version,
                    clips: names.clone(),
                    waveforms: waveforms(),
                    can_undo,
                    can_redo,
                    on_changed: move |_| {
                        project.restart();
                        revisions.restart();
                    },
                }
            }
            section { aria_labelledby: "entries-heading",
                h3 { id: "entries-heading", "Clips on the first track, to the tenth of a second" }
                FormError { error: timeline_error(), fields: Vec::new() }
                if entries.is_empty() {
                    p { class: "empty", id: "empty-timeline", "The timeline is empty. Add media to it; a render plays the timeline from start to end." }
                } else {
                    ol { id: "timeline",
                        for (i, (source, t_in, t_out)) in entries.into_iter().enumerate() {
                            {
                                let (name, length) = names
                                    .iter()
                                    .find(|(c, _, _)| *c == source)
                                    .map(|(_, n, d)| (n.clone(), *d))
                                    .unwrap_or((source.clone(), t_out));
                                let (save_entry, entry_timeline) = (save_timeline.clone(), timeline.clone());
                                let trim = move |end: TrimEnd| {
                                    let (save, timeline) = (save_entry.clone(), entry_timeline.clone());
                                    move |e: FormEvent| {
                                        if let Ok(value) = e.value().trim().parse::<f64>() {
                                            save(with_trim(&timeline, i, end, value, length));
                                        }
                                    }
                                };
                                rsx! {
                                    li { key: "{i}", class: "timeline-entry",
                                        span { class: "entry-text", "{name} · {t_in:.1}–{t_out:.1} s" }
                                        // Two handles over the clip's length: drag one to trim.
                                        div { class: "trim",
                                            // The kept stretch, between the handles.
                                            style: "--from: {100.0 * t_in / length.max(0.001):.1}%; --to: {100.0 * t_out / length.max(0.001):.1}%",
                                            input {
                                                r#type: "range", class: "trim-in", id: "trim-in-{i}", min: "0", max: "{length}", step: "0.1",
                                                value: "{t_in}", aria_label: "In point of {name}, seconds", onchange: trim(TrimEnd::In),
                                            }
                                            input {
                                                r#type: "range", class: "trim-out", id: "trim-out-{i}", min: "0", max: "{length}", step: "0.1",
                                                value: "{t_out}", aria_label: "Out point of {name}, seconds", onchange: trim(TrimEnd::Out),
                                            }
                                        }
                                        label { class: "trim-time", r#for: "in-{i}", "In "
                                            input { r#type: "number", id: "in-{i}", min: "0", max: "{length}", step: "0.1", value: "{t_in:.1}", onchange: trim(TrimEnd::In) }
                                        }
                                        label { class: "trim-time", r#for: "out-{i}", "Out "
                                            input { r#type: "number", id: "out-{i}", min: "0", max: "{length}", step: "0.1", value: "{t_out:.1}", onchange: trim(TrimEnd::Out) }
                                        }
                                        button { r#type: "button",
                                            onclick: {
                                                let (save, timeline) = (save_timeline.clone(), timeline.clone());
                                                move |_| save(without_entry(&timeline, i))
                                            },
                                            "Remove"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Cast { project_id: id.clone() }
            Renders { project_id: id.clone() }
            section { aria_labelledby: "live-heading",
                h2 { id: "live-heading", "Live" }
                p { "Perform this project live with the WebRTC preview: " a { href: "/studio", "open the live studio" } "." }
            }
        }
    }
}

/// The first track's clips as (source, in, out).
fn timeline_entries(timeline: &Value) -> Vec<(String, f64, f64)> {
    timeline["tracks"][0]["clips"]
        .as_array()
        .map(|clips| {
            clips
                .iter()
                .map(|c| {
                    let source = c["source"].as_str().unwrap_or_default().to_owned();
                    (source, c["in"].as_f64().unwrap_or(0.0), c["out"].as_f64().unwrap_or(0.0))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The timeline with the whole of `clip` appended to the first track.
fn with_clip(timeline: &Value, clip: &Clip) -> Value {
    let mut timeline = if timeline.is_object() { timeline.clone() } else { json!({ "tracks": [], "scenes": [] }) };
    if !timeline["tracks"].is_array() || timeline["tracks"].as_array().is_some_and(Vec::is_empty) {
        timeline["tracks"] = json!([{ "clips": [] }]);
    }
    if !timeline["tracks"][0]["clips"].is_array() {
        timeline["tracks"][0]["clips"] = json!([]);
    }
    if let Some(clips) = timeline["tracks"][0]["clips"].as_array_mut() {
        clips.push(json!({ "source": clip.id, "in": 0.0, "out": clip.duration_s }));
    }
    timeline
}

/// Which end of a timeline entry a trim moves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TrimEnd {
    In,
    Out,
}

/// Shortest entry a trim leaves, in seconds.
const MIN_ENTRY_S: f64 = 0.1;

/// The timeline with `end` of the first track's entry `index` moved to `value` seconds: kept
/// within the clip's `length` and at least [`MIN_ENTRY_S`] away from the other end.
fn with_trim(timeline: &Value, index: usize, end: TrimEnd, value: f64, length: f64) -> Value {
    let mut timeline = timeline.clone();
    let Some(clip) = timeline["tracks"][0]["clips"].get_mut(index) else { return timeline };
    let t_in = clip["in"].as_f64().unwrap_or(0.0);
    let t_out = clip["out"].as_f64().unwrap_or(length);
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    match end {
        TrimEnd::In => clip["in"] = json!(round(value.clamp(0.0, (t_out - MIN_ENTRY_S).max(0.0)))),
        TrimEnd::Out => clip["out"] = json!(round(value.clamp(t_in + MIN_ENTRY_S, length.max(t_in + MIN_ENTRY_S)))),
    }
    timeline
}

/// The timeline without the first track's entry `index`.
fn without_entry(timeline: &Value, index: usize) -> Value {
    let mut timeline = timeline.clone();
    if let Some(clips) = timeline["tracks"][0]["clips"].as_array_mut() {
        if index < clips.len() {
            clips.remove(index);
        }
    }
    timeline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_stay_inside_the_clip_and_apart() {
        let timeline = json!({ "tracks": [{ "clips": [{ "source": "c1", "in": 0.0, "out": 3.0 }] }] });
        let trimmed = with_trim(&timeline, 0, TrimEnd::Out, 2.0, 3.0);
        let trimmed = with_trim(&trimmed, 0, TrimEnd::In, 0.5, 3.0);
        assert_eq!(trimmed["tracks"][0]["clips"][0], json!({ "source": "c1", "in": 0.5, "out": 2.0 }));
        let clip = |t: &Value| (t["tracks"][0]["clips"][0]["in"].as_f64(), t["tracks"][0]["clips"][0]["out"].as_f64());
        assert_eq!(clip(&with_trim(&trimmed, 0, TrimEnd::In, 2.5, 3.0)), (Some(1.9), Some(2.0)), "in stops before out");
        assert_eq!(
            clip(&with_trim(&trimmed, 0, TrimEnd::Out, 9.0, 3.0)),
            (Some(0.5), Some(3.0)),
            "out stops at the end"
        );
        assert_eq!(clip(&with_trim(&trimmed, 0, TrimEnd::In, -1.0, 3.0)), (Some(0.0), Some(2.0)));
        assert_eq!(with_trim(&trimmed, 4, TrimEnd::In, 1.0, 3.0), trimmed, "no such entry: unchanged");
    }

    #[test]
    fn clips_go_onto_the_first_track_and_come_off_again() {
        let clip = Clip {
            id: "c1".into(),
            name: "take.mp4".into(),
            bytes: 1,
            container: String::new(),
            duration_s: 3.0,
            width: 1,
            height: 1,
            fps: 25.0,
            video_codec: String::new(),
            audio_codec: None,
        };
        let timeline = with_clip(&json!({ "tracks": [], "scenes": [] }), &clip);
        assert_eq!(timeline_entries(&timeline), vec![("c1".to_string(), 0.0, 3.0)]);
        assert!(timeline_entries(&without_entry(&timeline, 0)).is_empty());
    }
}
