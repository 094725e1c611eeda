// SPDX-License-Identifier: MPL-2.0
use dioxus::prelude::*;
use serde_json::{json, Value};

use super::cast::Cast;
use super::import::ImportFromUrl;
use super::renders::Renders;
use crate::api::ApiError;
use crate::components::{FormError, Layout, UploadForm};
use crate::hooks::use_studio_api;
use crate::model::{human_bytes, Clip, Project};

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
    let clip_list = clips.read().clone();
    let timeline = match &*project.read() {
        Some(Ok(p)) => p.timeline.clone(),
        _ => Value::Null,
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
                    }
                    Err(e) => timeline_error.set(Some(e)),
                }
            });
        }
    };
    let entries = timeline_entries(&timeline);
    let names: Vec<(String, String)> = match &clip_list {
        Some(Ok(list)) => list.iter().map(|c| (c.id.clone(), c.name.clone())).collect(),
        _ => Vec::new(),
    };
    rsx! {
        Layout { title,
            p { class: "crumbs", a { href: "/projects", "Projects" } " / this project" }
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
            section { aria_labelledby: "timeline-heading",
                h2 { id: "timeline-heading", "Timeline" }
                FormError { error: timeline_error(), fields: Vec::new() }
                if entries.is_empty() {
                    p { class: "empty", id: "empty-timeline", "The timeline is empty. Add media to it; a render plays the timeline from start to end." }
                } else {
                    ol { id: "timeline",
                        for (i, (source, t_in, t_out)) in entries.into_iter().enumerate() {
                            li { key: "{i}",
                                {names.iter().find(|(c, _)| *c == source).map(|(_, n)| n.clone()).unwrap_or(source.clone())}
                                " · {t_in:.1}–{t_out:.1} s "
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
