// SPDX-License-Identifier: MPL-2.0
//! Soft subtitles: a finished MP4 or WebM remuxed with one subtitle track per language,
//! each tagged with its language so players list them by name. Nothing is re-encoded.
//!
//! Graph: `filesrc ! qtdemux|matroskademux`, every elementary stream through a `queue` into
//! a new `mp4mux|webmmux`, plus one `appsrc` (`text/x-raw, format=utf8`) per language into
//! a `subtitle_%u` pad, its `language-code` tag sent ahead of its cues; `! filesink` to
//! `OUT.part`, renamed when complete. In MP4 the tracks are 3GPP timed text (`tx3g`, which
//! ffprobe calls `mov_text`) with the ISO 639-2/T code in the media header; in WebM they
//! are plain UTF-8 text tracks (`S_TEXT/UTF8`: GStreamer 1.22's muxer has no WebVTT codec
//! id) with the ISO 639-2/B code.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gst::prelude::*;

use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::languages;
use crate::subtitles::Cue;

const QTDEMUX: &str = "qtdemux";
const MATROSKADEMUX: &str = "matroskademux";

/// One language's cues, on the media's timeline.
#[derive(Debug, Clone)]
pub struct SoftTrack {
    /// BCP 47 tag.
    pub lang: String,
    pub cues: Vec<Cue>,
}

/// Which container a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Mp4,
    Webm,
}

impl Container {
    fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "mp4" | "m4v" | "mov" => Some(Self::Mp4),
            "webm" | "mkv" => Some(Self::Webm),
            _ => None,
        }
    }
}

/// Writes `output`: the streams of `input` (MP4 or WebM) unchanged plus a subtitle track
/// per entry of `tracks`. `output` is written as `output.part` and renamed when complete, so
/// a failure leaves any previous file in place.
pub fn mux_subtitles(input: &Path, output: &Path, tracks: &[SoftTrack], timeout: Duration) -> Result<()> {
    crate::media::init()?;
    let container = Container::of(input)
        .ok_or_else(|| EngineError::invalid(input, "file", "soft subtitles go into .mp4 or .webm files"))?;
    if Container::of(output) != Some(container) {
        return Err(EngineError::invalid(output, "file", "must have the input's container (.mp4 or .webm)"));
    }
    if !input.is_file() {
        return Err(EngineError::Unreadable { path: input.to_owned(), cause: "file not found".into() });
    }
    for track in tracks {
        languages::canonical_tag(&track.lang).map_err(|e| EngineError::Request(format!("track language: {e}")))?;
    }
    let part = part_path(output);
    let result = run(input, &part, container, tracks, timeout)
        .and_then(|()| std::fs::rename(&part, output).map_err(|e| EngineError::io(output, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

fn part_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

fn run(input: &Path, part: &Path, container: Container, tracks: &[SoftTrack], timeout: Duration) -> Result<()> {
    let pipeline = gst::Pipeline::with_name("reenact-soft-subtitles");
    let src = make(f::FILESRC)?;
    src.set_property("location", input.to_string_lossy().as_ref());
    let (demux_name, mux_name) = match container {
        Container::Mp4 => (QTDEMUX, f::MP4MUX),
        Container::Webm => (MATROSKADEMUX, f::WEBMMUX),
    };
    let demux = make(demux_name)?;
    let mux = make(mux_name)?;
    let sink = make(f::FILESINK)?;
    sink.set_property("location", part.to_string_lossy().as_ref());
    pipeline.add_many([&src, &demux, &mux, &sink]).map_err(|_| graph_err("elements"))?;
    src.link(&demux).map_err(|_| graph_err("filesrc ! demuxer"))?;
    mux.link(&sink).map_err(|_| graph_err("muxer ! filesink"))?;

    let weak_pipeline = pipeline.downgrade();
    let weak_mux = mux.downgrade();
    demux.connect_pad_added(move |_, pad| {
        let (Some(pipeline), Some(mux)) = (weak_pipeline.upgrade(), weak_mux.upgrade()) else { return };
        if let Err(err) = link_stream(&pipeline, &mux, pad) {
            tracing::warn!("soft subtitles: stream {} not kept: {err}", pad.name());
        }
    });

    let mut sources = Vec::new();
    for track in tracks {
        let appsrc = gst_app::AppSrc::builder()
            .caps(&gst::Caps::builder("text/x-raw").field("format", "utf8").build())
            .format(gst::Format::Time)
            .is_live(false)
            .build();
        pipeline.add(&appsrc).map_err(|_| graph_err("appsrc"))?;
        let mux_pad = mux.request_pad_simple("subtitle_%u").ok_or_else(|| graph_err("muxer subtitle pad"))?;
        appsrc.static_pad("src").and_then(|p| p.link(&mux_pad).ok()).ok_or_else(|| graph_err("appsrc ! muxer"))?;
        sources.push((appsrc, track));
    }

    // The muxer takes no new pads once it has started writing: every stream of the input
    // gets its pad while the demuxer prerolls, before any cue is pushed.
    let (found_tx, found_rx) = std::sync::mpsc::channel();
    demux.connect_no_more_pads(move |_| {
        let _ = found_tx.send(());
    });
    pipeline.set_state(gst::State::Paused).map_err(|_| graph_err("cannot start"))?;
    if found_rx.recv_timeout(timeout).is_err() {
        let _ = pipeline.set_state(gst::State::Null);
        return Err(EngineError::BadMedia { path: input.to_owned(), cause: "the demuxer found no streams".into() });
    }
    for (appsrc, track) in &sources {
        let code = match container {
            Container::Mp4 => languages::iso639_2t(&track.lang),
            Container::Webm => languages::iso639_2(&track.lang),
        };
        let mut tags = gst::TagList::new();
        tags.get_mut()
            .expect("new tag list is writable")
            .add::<gst::tags::LanguageCode>(&code, gst::TagMergeMode::Replace);
        appsrc.send_event(gst::event::Tag::new(tags));
        for cue in &track.cues {
            let mut buffer = gst::Buffer::from_mut_slice(cue.text.clone().into_bytes());
            {
                let buffer = buffer.get_mut().expect("new buffer is writable");
                buffer.set_pts(seconds(cue.start_s));
                buffer.set_duration(seconds(cue.end_s) - seconds(cue.start_s));
            }
            appsrc.push_buffer(buffer).map_err(|e| graph_err(&format!("subtitle cue not taken: {e:?}")))?;
        }
        // The muxer times each sample up to the next one, so the last cue ends where an
        // empty sample (a blank screen, as between cues) begins.
        if let Some(last) = track.cues.last() {
            let mut blank = gst::Buffer::new();
            {
                let blank = blank.get_mut().expect("new buffer is writable");
                blank.set_pts(seconds(last.end_s));
                blank.set_duration(gst::ClockTime::from_mseconds(1));
            }
            appsrc.push_buffer(blank).map_err(|e| graph_err(&format!("subtitle end: {e:?}")))?;
        }
        appsrc.end_of_stream().map_err(|e| graph_err(&format!("subtitle end: {e:?}")))?;
    }
    pipeline.set_state(gst::State::Playing).map_err(|_| graph_err("cannot play"))?;

    let bus = pipeline.bus().ok_or_else(|| graph_err("no bus"))?;
    let mut outcome = Err(EngineError::Stalled { seconds: timeout.as_secs(), position: 0.0, duration: 0.0 });
    for message in bus.iter_timed(gst::ClockTime::from_nseconds(timeout.as_nanos() as u64)) {
        match message.view() {
            gst::MessageView::Eos(_) => {
                outcome = Ok(());
                break;
            }
            gst::MessageView::Error(err) => {
                outcome = Err(EngineError::Pipeline {
                    element: message.src().map(|s| s.name().to_string()).unwrap_or_default(),
                    message: err.error().to_string(),
                });
                break;
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    outcome
}

/// Links one demuxed stream into the muxer through a queue.
fn link_stream(pipeline: &gst::Pipeline, mux: &gst::Element, pad: &gst::Pad) -> Result<()> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let kind = caps.structure(0).map(|s| s.name().to_string()).unwrap_or_default();
    let template = if kind.starts_with("video/") {
        "video_%u"
    } else if kind.starts_with("audio/") {
        "audio_%u"
    } else {
        return Err(graph_err(&format!("{kind} is not kept")));
    };
    let queue = make(f::QUEUE)?;
    pipeline.add(&queue).map_err(|_| graph_err("queue"))?;
    queue.sync_state_with_parent().map_err(|_| graph_err("queue state"))?;
    let mux_pad = mux.request_pad_simple(template).ok_or_else(|| graph_err("muxer pad"))?;
    let queue_sink = queue.static_pad("sink").ok_or_else(|| graph_err("queue pad"))?;
    pad.link(&queue_sink).map_err(|e| graph_err(&format!("demuxer ! queue: {e:?}")))?;
    queue
        .static_pad("src")
        .ok_or_else(|| graph_err("queue pad"))?
        .link(&mux_pad)
        .map_err(|e| graph_err(&format!("queue ! muxer ({kind}): {e:?}")))?;
    Ok(())
}

fn seconds(s: f64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds((s.max(0.0) * 1e9).round() as u64)
}

fn graph_err(what: &str) -> EngineError {
    EngineError::Pipeline { element: "soft subtitles graph".into(), message: what.to_owned() }
}
