// SPDX-License-Identifier: MPL-2.0
//! Media discovery: what a file holds, checked before any graph is built so a
//! bad input gets a precise error instead of a half-written render.

use std::path::{Path, PathBuf};

use gst_pbutils::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// How long discovery of one file may take before it counts as a hang.
const DISCOVER_TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(20);

/// What discovery found in a media file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub path: PathBuf,
    /// Container format, e.g. "ISO MP4/M4A".
    pub container: Option<String>,
    pub duration_s: f64,
    pub video: Option<VideoStream>,
    pub audio: Option<AudioStream>,
    /// Title tag, when the file has one.
    pub title: Option<String>,
    /// Comment tag, when the file has one.
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStream {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub fps_num: i32,
    pub fps_den: i32,
}

impl VideoStream {
    /// Frames per second as a float (0 for still images).
    pub fn fps(&self) -> f64 {
        if self.fps_den == 0 {
            0.0
        } else {
            self.fps_num as f64 / self.fps_den as f64
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStream {
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
}

/// Initialises GStreamer, its editing layer and our elements, once per process; callers on
/// other threads wait until it is done.
pub fn init() -> Result<()> {
    static INIT: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(init_once).clone().map_err(EngineError::Init)
}

fn init_once() -> std::result::Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    // GES's class set-up makes a discoverer, which loads the playback plugin while GLib's
    // class lock is held; a plugin loading on another thread at that moment waits for that
    // lock while holding the plugin lock the discoverer needs (a deadlock seen in the tests).
    // Loaded first, the plugin is not loaded under the class lock.
    if let Some(factory) = gst::ElementFactory::find("uridecodebin") {
        factory.load().map_err(|e| format!("cannot load the playback plugin: {e}"))?;
    }
    ges::init().map_err(|e| e.to_string())?;
    // Our elements are linked in; register them once per process.
    gstreenact::plugin_register_static().map_err(|e| format!("cannot register the reenact elements: {e}"))
}

/// `file://` URI of an existing file.
pub(crate) fn file_uri(path: &Path) -> Result<String> {
    let abs = std::fs::canonicalize(path)
        .map_err(|e| EngineError::Unreadable { path: path.to_path_buf(), cause: io_cause(&e) })?;
    gst::glib::filename_to_uri(&abs, None)
        .map(|u| u.to_string())
        .map_err(|e| EngineError::Unreadable { path: path.to_path_buf(), cause: e.to_string() })
}

fn io_cause(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "file not found".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

/// Opens `path` and describes its streams.
pub fn probe(path: &Path) -> Result<MediaInfo> {
    let info = discover(path)?;
    let video = info.video_streams().into_iter().find(|v| !v.is_image()).map(|v| VideoStream {
        codec: codec_name(v.caps().as_ref()),
        width: v.width(),
        height: v.height(),
        fps_num: v.framerate().numer(),
        fps_den: v.framerate().denom(),
    });
    let audio = info.audio_streams().into_iter().next().map(|a| AudioStream {
        codec: codec_name(a.caps().as_ref()),
        sample_rate: a.sample_rate(),
        channels: a.channels(),
    });
    let container_info = info.stream_info().and_then(|s| s.downcast::<gst_pbutils::DiscovererContainerInfo>().ok());
    let container = container_info.as_ref().map(|c| codec_name(c.caps().as_ref()));
    // Container-level tags first, then any stream's (demuxers differ in where they put them).
    let mut tag_lists: Vec<gst::TagList> = container_info.iter().filter_map(|c| c.tags()).collect();
    tag_lists.extend(info.stream_list().iter().filter_map(|s| s.tags()));
    let tag_string = |get: fn(&gst::TagListRef) -> Option<String>| tag_lists.iter().find_map(|t| get(t));
    Ok(MediaInfo {
        path: path.to_path_buf(),
        container,
        duration_s: info.duration().map(|d| d.nseconds() as f64 / 1e9).unwrap_or(0.0),
        video,
        audio,
        title: tag_string(|t| t.get::<gst::tags::Title>().map(|v| v.get().to_string())),
        comment: tag_string(|t| t.get::<gst::tags::Comment>().map(|v| v.get().to_string())),
    })
}

/// Width and height of a still image (PNG, JPEG, ...).
pub fn image_size(path: &Path) -> Result<(u32, u32)> {
    let info = discover(path)?;
    info.video_streams()
        .into_iter()
        .find(|v| v.is_image() && v.width() > 0)
        .map(|v| (v.width(), v.height()))
        .ok_or_else(|| EngineError::BadMedia { path: path.to_path_buf(), cause: "not an image".into() })
}

/// Runs GStreamer's discoverer on `path` after the checks it does badly
/// (missing, directory, empty).
fn discover(path: &Path) -> Result<gst_pbutils::DiscovererInfo> {
    init()?;
    let meta = std::fs::metadata(path)
        .map_err(|e| EngineError::Unreadable { path: path.to_path_buf(), cause: io_cause(&e) })?;
    if meta.is_dir() {
        return Err(EngineError::Unreadable {
            path: path.to_path_buf(),
            cause: "is a directory, not a media file".into(),
        });
    }
    if meta.len() == 0 {
        return Err(EngineError::BadMedia { path: path.to_path_buf(), cause: "file is empty (0 bytes)".into() });
    }
    let uri = file_uri(path)?;
    let bad = |cause: String| EngineError::BadMedia { path: path.to_path_buf(), cause };
    let discoverer = gst_pbutils::Discoverer::new(DISCOVER_TIMEOUT).map_err(|e| EngineError::Init(e.to_string()))?;
    let info = discoverer.discover_uri(&uri).map_err(|e| bad(discovery_cause(&e.to_string())))?;
    match info.result() {
        gst_pbutils::DiscovererResult::Ok => {}
        gst_pbutils::DiscovererResult::Timeout => return Err(bad("timed out while reading the file".into())),
        gst_pbutils::DiscovererResult::MissingPlugins => {
            return Err(bad("no installed decoder for this format (missing GStreamer plugin)".into()))
        }
        other => return Err(bad(format!("not readable as media ({other:?})"))),
    }
    Ok(info)
}

/// Like [`probe`], but also requires a moving-picture stream and a duration.
pub fn probe_video(path: &Path) -> Result<MediaInfo> {
    let info = probe(path)?;
    let bad = |cause: &str| EngineError::BadMedia { path: path.to_path_buf(), cause: cause.into() };
    let Some(video) = &info.video else {
        return Err(bad("no video stream (audio-only or image file); a source needs moving pictures"));
    };
    if video.width == 0 || video.height == 0 {
        return Err(bad("video stream has no picture size"));
    }
    if info.duration_s <= 0.0 {
        return Err(bad("duration unknown or zero (truncated or still-being-written file?)"));
    }
    Ok(info)
}

/// Like [`probe_video`], and also decodes a picture near the end, so a file
/// cut short after a complete header (common for interrupted uploads) is refused.
pub fn probe_complete(path: &Path) -> Result<MediaInfo> {
    let info = probe_video(path)?;
    let video = info.video.as_ref().expect("probe_video guarantees video");
    let frame = if video.fps() > 0.0 { 1.0 / video.fps() } else { 0.04 };
    let at = (info.duration_s - 2.0 * frame).max(0.0);
    crate::render::thumbnail::jpeg_at(path, at, 64, 64).map_err(|_| EngineError::BadMedia {
        path: path.to_path_buf(),
        cause: format!("truncated or damaged: no picture can be decoded at {at:.2} s of {:.2} s", info.duration_s),
    })?;
    Ok(info)
}

fn codec_name(caps: Option<&gst::Caps>) -> String {
    caps.map(|c| gst_pbutils::pb_utils_get_codec_description(c).to_string()).unwrap_or_else(|| "unknown".into())
}

/// Turns GStreamer's discovery errors into plain words.
fn discovery_cause(message: &str) -> String {
    if message.contains("Could not determine type of stream") {
        "not a media file (no known container or codec)".into()
    } else if message.contains("text file") {
        "not a media file (it is a text file)".into()
    } else if message.contains("moov") || message.contains("corrupt") || message.contains("truncated") {
        format!("truncated or corrupt media ({message})")
    } else {
        format!("not readable as media ({message})")
    }
}
