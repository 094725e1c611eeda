// SPDX-License-Identifier: MPL-2.0
//! The project page's visual timeline: tracks as lanes of clip blocks (thumbnail, name, and the
//! waveform of the trimmed part as an inline SVG path) and a lane of scenes on a time ruler,
//! drawn here from the server's JSON. Gestures (drags, keys, the playhead) live in
//! `assets/timeline.js`, which sends each edit as one `PATCH` of the project with `If-Match`
//! and presses the hidden refresh button so this component redraws from the server's answer.

use std::collections::HashMap;
use std::sync::Arc;

use dioxus::prelude::*;
use serde_json::Value;

use crate::model::Waveform;

/// Zoom levels, in pixels per second of the timeline.
const ZOOMS: [f64; 7] = [10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0];
/// The zoom a page opens with (`ZOOMS[3]`, 80 px/s: a short take fills a screen).
const DEFAULT_ZOOM: usize = 3;
/// Pixels of a block per column of its waveform's outline.
const WAVE_PX: f64 = 3.0;
/// Most columns one block's waveform is drawn with.
const WAVE_COLUMNS: usize = 1500;
/// Room drawn past the last block, in seconds, so a block can be dragged later.
const TAIL_S: f64 = 5.0;
/// The shortest timeline drawn, in seconds.
const MIN_SPAN_S: f64 = 10.0;

/// A clip as a block of its track's lane.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClipBlock {
    pub track: usize,
    pub index: usize,
    pub source: String,
    pub name: String,
    /// Where it starts on the timeline, in seconds.
    pub start: f64,
    /// How long it plays, in seconds.
    pub length: f64,
    pub in_s: f64,
    pub out_s: f64,
}

/// A clip block with the outline of its sound (SVG path data and its columns), when it has one.
type DrawnBlock = (ClipBlock, Option<(String, usize)>);

/// A scene as a block of the scene lane.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SceneBlock {
    pub index: usize,
    pub start: f64,
    pub end: f64,
    pub character: String,
    pub voice_over: bool,
}

/// The blocks of each track, with absent positions and outs filled in as the engine reads
/// them (a clip without `position` follows the one before; without `out` it plays to the end
/// of its source). `clips` maps a clip id to its name and length in seconds.
pub(crate) fn clip_lanes(timeline: &Value, clips: &HashMap<String, (String, f64)>) -> Vec<Vec<ClipBlock>> {
    let Some(tracks) = timeline["tracks"].as_array() else { return Vec::new() };
    tracks
        .iter()
        .enumerate()
        .map(|(track, t)| {
            let mut cursor = 0.0;
            let list = t["clips"].as_array().map(Vec::as_slice).unwrap_or_default();
            list.iter()
                .enumerate()
                .map(|(index, c)| {
                    let source = c["source"].as_str().unwrap_or_default().to_owned();
                    let (name, duration) = clips.get(&source).cloned().unwrap_or_else(|| (source.clone(), 0.0));
                    let in_s = c["in"].as_f64().unwrap_or(0.0);
                    let out_s = c["out"].as_f64().unwrap_or(duration).max(in_s);
                    let start = c["position"].as_f64().unwrap_or(cursor);
                    cursor = start + (out_s - in_s);
                    ClipBlock { track, index, source, name, start, length: out_s - in_s, in_s, out_s }
                })
                .collect()
        })
        .collect()
}

/// The scenes of the timeline, in the order the JSON lists them.
pub(crate) fn scene_blocks(timeline: &Value) -> Vec<SceneBlock> {
    let Some(scenes) = timeline["scenes"].as_array() else { return Vec::new() };
    scenes
        .iter()
        .enumerate()
        .map(|(index, s)| SceneBlock {
            index,
            start: s["start"].as_f64().unwrap_or(0.0),
            end: s["end"].as_f64().unwrap_or(0.0),
            character: s["character"].as_str().unwrap_or_default().to_owned(),
            voice_over: s["voice_over"].as_bool().unwrap_or(false),
        })
        .collect()
}

/// Where the last clip ends, in seconds (0 without clips): the timeline's end, which the
/// server keeps scenes inside.
pub(crate) fn timeline_end(lanes: &[Vec<ClipBlock>]) -> f64 {
    lanes.iter().flatten().map(|b| b.start + b.length).fold(0.0, f64::max)
}

/// The outline of `waveform` between `in_s` and `out_s` seconds of its clip, as SVG path
/// data in a box of (at most) `columns` × 100, with the columns it took: each column the
/// loudest peak it covers, mirrored about the middle line, on a decibel scale (full scale
/// reaches the top and the bottom, [`WAVE_RANGE_DB`] below it the middle line) so that speech
/// well under full scale still shows its words. `None` when there is nothing to draw (no
/// sound, or a range outside the peaks).
pub(crate) fn wave_path(waveform: &Waveform, in_s: f64, out_s: f64, columns: usize) -> Option<(String, usize)> {
    let rate = waveform.peaks_per_second;
    let peaks = &waveform.peaks;
    if !waveform.has_audio || peaks.is_empty() || rate.is_nan() || rate <= 0.0 || out_s <= in_s || columns == 0 {
        return None;
    }
    // A hair off a whole peak (float noise in the trims) takes none more.
    let first = ((in_s.max(0.0) * rate + 1e-6).floor() as usize).min(peaks.len());
    let last = ((out_s * rate - 1e-6).ceil().max(0.0) as usize).min(peaks.len());
    if last <= first {
        return None;
    }
    let columns = columns.min(last - first);
    let per = (last - first) as f64 / columns as f64;
    let heights: Vec<f64> = (0..columns)
        .map(|c| {
            let from = first + (c as f64 * per) as usize;
            let to = (first + ((c + 1) as f64 * per).ceil() as usize).clamp(from + 1, last);
            let loudest = peaks[from..to].iter().copied().fold(0.0f32, f32::max);
            wave_height(loudest)
        })
        .collect();
    let mut d = String::from("M0 50");
    for (c, h) in heights.iter().enumerate() {
        d.push_str(&format!("L{c} {:.1}L{} {:.1}", 50.0 - h, c + 1, 50.0 - h));
    }
    for (c, h) in heights.iter().enumerate().rev() {
        d.push_str(&format!("L{} {:.1}L{c} {:.1}", c + 1, 50.0 + h, 50.0 + h));
    }
    d.push('Z');
    Some((d, columns))
}

/// Decibels below full scale that a waveform shows; quieter is drawn as silence.
const WAVE_RANGE_DB: f64 = 48.0;

/// Half the height of a waveform column (0..=50) for a peak of `amplitude` (0..=1).
fn wave_height(amplitude: f32) -> f64 {
    if amplitude.is_nan() || amplitude <= 0.0 {
        return 0.0;
    }
    let db = 20.0 * f64::from(amplitude.min(1.0)).log10();
    ((db + WAVE_RANGE_DB) / WAVE_RANGE_DB).clamp(0.0, 1.0) * 50.0
}

/// Ruler marks `(seconds, label)` over `span` seconds, at least ~60 px apart at `pps`.
pub(crate) fn ruler_marks(span: f64, pps: f64) -> Vec<(f64, String)> {
    let step = [0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0]
        .into_iter()
        .find(|s| s * pps >= 60.0)
        .unwrap_or(600.0);
    let count = (span / step).floor() as usize;
    (0..=count)
        .map(|i| {
            let t = i as f64 * step;
            let label = if t >= 60.0 {
                format!("{}:{:02}", (t / 60.0).floor() as u64, (t % 60.0).round() as u64)
            } else if step < 1.0 {
                format!("{t:.1} s")
            } else {
                format!("{t:.0} s")
            };
            (t, label)
        })
        .collect()
}

/// The timeline editor. `timeline` and `version` are the project's as the server last
/// answered; `clips` the project's media (id → name, length); `waveforms` the clips' sound
/// (by clip id; a clip without one is drawn without); `can_undo`/`can_redo` from its
/// revisions. `on_changed` runs after the script's edit landed, to reload the project.
#[component]
pub(crate) fn TimelineEditor(
    project_id: String,
    timeline: Value,
    version: i64,
    clips: Vec<(String, String, f64)>,
    waveforms: HashMap<String, Arc<Waveform>>,
    can_undo: bool,
    can_redo: bool,
    on_changed: EventHandler<()>,
) -> Element {
    let mut zoom = use_signal(|| DEFAULT_ZOOM);
    let pps = ZOOMS[zoom()];
    let by_id: HashMap<String, (String, f64)> =
        clips.iter().map(|(id, name, length)| (id.clone(), (name.clone(), *length))).collect();
    let lanes = clip_lanes(&timeline, &by_id);
    let scenes = scene_blocks(&timeline);
    let end = timeline_end(&lanes);
    let span = scenes.iter().map(|s| s.end).fold(end, f64::max).max(MIN_SPAN_S - TAIL_S) + TAIL_S;
    let marks = ruler_marks(span, pps);
    let timeline_json = if timeline.is_object() { timeline.to_string() } else { r#"{"tracks":[],"scenes":[]}"#.into() };
    // The script clamps trims to each source's length.
    let lengths: serde_json::Map<String, Value> =
        clips.iter().map(|(id, _, length)| (id.clone(), Value::from(*length))).collect();
    let lengths = Value::Object(lengths).to_string();
    let lane_count = lanes.len().max(1);
    // Each clip block with the outline of its trimmed part's sound, a column per few pixels.
    let lanes: Vec<Vec<DrawnBlock>> = lanes
        .into_iter()
        .map(|lane| {
            lane.into_iter()
                .map(|b| {
                    let columns = ((b.length * pps / WAVE_PX).round() as usize).clamp(1, WAVE_COLUMNS);
                    let wave = waveforms.get(&b.source).and_then(|w| wave_path(w, b.in_s, b.out_s, columns));
                    (b, wave)
                })
                .collect()
        })
        .collect();
    rsx! {
        section { id: "tl-editor", aria_labelledby: "timeline-heading",
            h2 { id: "timeline-heading", "Timeline" }
            div { class: "tl-toolbar", role: "toolbar", aria_label: "Timeline",
                button { r#type: "button", "data-tl": "play", aria_keyshortcuts: "Space", "Play / pause" }
                // The script writes the playhead's time here.
                output { id: "tl-time", aria_live: "off" }
                button { r#type: "button", "data-tl": "split", aria_keyshortcuts: "S", "Split at playhead" }
                button { r#type: "button", "data-tl": "delete", aria_keyshortcuts: "Delete", "Delete" }
                button { r#type: "button", id: "tl-undo", "data-tl": "undo", disabled: !can_undo, aria_keyshortcuts: "Control+Z", "Undo" }
                button { r#type: "button", id: "tl-redo", "data-tl": "redo", disabled: !can_redo, aria_keyshortcuts: "Control+Shift+Z", "Redo" }
                span { class: "tl-zoom",
                    button { r#type: "button", id: "tl-zoom-out", aria_label: "Zoom out", disabled: zoom() == 0,
                        onclick: move |_| zoom.set(zoom().saturating_sub(1)), "−"
                    }
                    span { class: "muted", "{pps:.0} px/s" }
                    button { r#type: "button", id: "tl-zoom-in", aria_label: "Zoom in", disabled: zoom() + 1 == ZOOMS.len(),
                        onclick: move |_| zoom.set((zoom() + 1).min(ZOOMS.len() - 1)), "+"
                    }
                }
                // Pressed by the script once an edit landed: reload from the server.
                button { r#type: "button", id: "tl-refresh", hidden: true, tabindex: "-1",
                    onclick: move |_| on_changed.call(()), "Reload the timeline"
                }
            }
            // Filled by the script only (a refused edit's field and cause), never by the page,
            // so a redraw does not wipe the reason.
            p { id: "tl-message", class: "form-error", role: "alert" }
            p { id: "tl-help", class: "muted tl-help",
                "Drag a block to move it, its edges to trim it; click the ruler to place the playhead. "
                "Keys on a block: arrows move it (Shift: by 1 s), Alt+arrows trim its end, Alt+Shift+arrows its start. "
                "Space plays, S splits at the playhead, Delete removes, Ctrl+Z undoes, Ctrl+Shift+Z redoes."
            }
            div {
                id: "tl",
                class: "tl",
                "data-project": "{project_id}",
                "data-version": "{version}",
                "data-timeline": "{timeline_json}",
                "data-lengths": "{lengths}",
                "data-pps": "{pps}",
                "data-end": "{end}",
                style: "--pps: {pps}; --span: {span}; --lanes: {lane_count}",
                div { class: "tl-names", aria_hidden: "true",
                    div { class: "tl-name-ruler" }
                    if lanes.is_empty() {
                        div { class: "tl-name", "V1" }
                    }
                    for (t, _) in lanes.iter().enumerate() {
                        div { key: "{t}", class: "tl-name", "V{t + 1}" }
                    }
                    div { class: "tl-name", "Scenes" }
                }
                div { class: "tl-scroll",
                    div { class: "tl-canvas",
                        div { class: "tl-ruler", title: "Click to place the playhead",
                            for (t, label) in marks {
                                span { key: "{t}", class: "tl-mark", style: "--at: {t}", "{label}" }
                            }
                        }
                        if lanes.is_empty() {
                            div { class: "tl-lane", id: "tl-empty", "No clips yet: add media to the timeline." }
                        }
                        for (t, lane) in lanes.into_iter().enumerate() {
                            div { key: "{t}", class: "tl-lane", role: "group", aria_label: "Track {t + 1}",
                                for (b, wave) in lane {
                                    div {
                                        key: "{b.track}-{b.index}",
                                        class: "tl-block tl-clip",
                                        tabindex: "0",
                                        role: "button",
                                        aria_roledescription: "clip",
                                        aria_describedby: "tl-help",
                                        aria_label: "{b.name}: {b.in_s:.2} to {b.out_s:.2} s of the source, at {b.start:.2} s on the timeline",
                                        "data-kind": "clip",
                                        "data-track": "{b.track}",
                                        "data-index": "{b.index}",
                                        "data-start": "{b.start}",
                                        "data-length": "{b.length}",
                                        style: "--start: {b.start}; --length: {b.length}",
                                        if let Some((d, columns)) = wave {
                                            svg {
                                                class: "tl-wave",
                                                view_box: "0 0 {columns} 100",
                                                preserve_aspect_ratio: "none",
                                                "aria-hidden": "true",
                                                "data-from": "{b.in_s}",
                                                "data-to": "{b.out_s}",
                                                path { d: "{d}" }
                                            }
                                        }
                                        img { class: "tl-thumb", src: "/ui/api/clips/{b.source}/thumbnail", alt: "", draggable: "false", loading: "lazy" }
                                        span { class: "tl-label", "{b.name}" }
                                        span { class: "tl-edge tl-edge-in", "data-edge": "in", aria_hidden: "true" }
                                        span { class: "tl-edge tl-edge-out", "data-edge": "out", aria_hidden: "true" }
                                    }
                                }
                            }
                        }
                        div { class: "tl-lane tl-scenes", role: "group", aria_label: "Scenes",
                            for s in scenes {
                                div {
                                    key: "scene-{s.index}",
                                    class: if s.voice_over { "tl-block tl-scene voice-over" } else { "tl-block tl-scene" },
                                    tabindex: "0",
                                    role: "button",
                                    aria_roledescription: "scene",
                                    aria_describedby: "tl-help",
                                    aria_label: "Scene {s.index + 1}: {s.character}, {s.start:.2} to {s.end:.2} s",
                                    "data-kind": "scene",
                                    "data-index": "{s.index}",
                                    "data-start": "{s.start}",
                                    "data-length": "{s.end - s.start}",
                                    style: "--start: {s.start}; --length: {s.end - s.start}",
                                    span { class: "tl-label", "{s.character}" }
                                    if s.voice_over {
                                        span { class: "tl-vo", title: "Voice-over: the portrait speaks", "VO" }
                                    }
                                    span { class: "tl-edge tl-edge-in", "data-edge": "in", aria_hidden: "true" }
                                    span { class: "tl-edge tl-edge-out", "data-edge": "out", aria_hidden: "true" }
                                }
                            }
                        }
                        // Placed by the script (`--at`); the page never sets its style.
                        div { id: "tl-playhead", class: "tl-playhead", aria_hidden: "true" }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn blocks_follow_each_other_unless_placed() {
        let clips = HashMap::from([("a".to_string(), ("take.mp4".to_string(), 3.0))]);
        let timeline = json!({ "tracks": [{ "clips": [
            { "source": "a", "in": 0.5, "out": 2.0 },
            { "source": "a" },
            { "source": "a", "in": 1.0, "position": 10.0 },
        ] }], "scenes": [{ "start": 1.0, "end": 2.5, "character": "lincoln", "voice_over": true }] });
        let lanes = clip_lanes(&timeline, &clips);
        let spans: Vec<(f64, f64)> = lanes[0].iter().map(|b| (b.start, b.length)).collect();
        assert_eq!(spans, vec![(0.0, 1.5), (1.5, 3.0), (10.0, 2.0)]);
        assert_eq!(timeline_end(&lanes), 12.0);
        let scenes = scene_blocks(&timeline);
        assert_eq!((scenes[0].character.as_str(), scenes[0].voice_over), ("lincoln", true));
        assert!(clip_lanes(&Value::Null, &clips).is_empty());
    }

    #[test]
    fn waveforms_are_drawn_for_the_trimmed_part_only() {
        // One second of silence, then one at half scale, 100 peaks a second.
        let peaks: Vec<f32> = (0..200).map(|i| if i < 100 { 0.0 } else { 0.5 }).collect();
        let waveform = Waveform { peaks_per_second: 100.0, has_audio: true, peaks };
        let (d, columns) = wave_path(&waveform, 0.5, 1.5, 4).unwrap();
        assert_eq!(columns, 4);
        // Two silent columns on the middle line, two at half scale (-6 dB): 6/48 of the way
        // from the top and the bottom to the middle line.
        assert_eq!(
            d,
            "M0 50L0 50.0L1 50.0L1 50.0L2 50.0L2 6.3L3 6.3L3 6.3L4 6.3\
             L4 93.7L3 93.7L3 93.7L2 93.7L2 50.0L1 50.0L1 50.0L0 50.0Z"
        );
        // Never more columns than peaks; nothing outside the peaks or without sound.
        assert_eq!(wave_path(&waveform, 1.0, 1.1, 50).unwrap().1, 10);
        assert!(wave_path(&waveform, 3.0, 4.0, 10).is_none());
        assert!(wave_path(&Waveform { has_audio: false, ..waveform }, 0.0, 1.0, 10).is_none());
    }

    #[test]
    fn the_waveform_scale_is_in_decibels() {
        assert_eq!(wave_height(1.0), 50.0);
        assert_eq!(wave_height(1.5), 50.0);
        // -24 dB, half the range: half the height.
        assert!((wave_height(10f32.powf(-24.0 / 20.0)) - 25.0).abs() < 1e-3);
        assert_eq!(wave_height(10f32.powf(-60.0 / 20.0)), 0.0);
        assert_eq!(wave_height(0.0), 0.0);
        assert_eq!(wave_height(f32::NAN), 0.0);
    }

    #[test]
    fn ruler_marks_stay_apart_at_every_zoom() {
        for pps in ZOOMS {
            let marks = ruler_marks(120.0, pps);
            assert!(marks.len() >= 2, "{pps}");
            assert!((marks[1].0 - marks[0].0) * pps >= 60.0, "{pps}");
        }
        assert_eq!(
            ruler_marks(3.0, 80.0).iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            ["0 s", "1 s", "2 s", "3 s"]
        );
        assert_eq!(ruler_marks(120.0, 10.0)[1].1, "10 s");
        assert_eq!(ruler_marks(120.0, 1.0).last().unwrap().1, "2:00");
    }
}
