// SPDX-License-Identifier: MPL-2.0
//! Where a live show goes besides the browser preview: an RTMP or SRT server
//! the user names, a recording, a virtual camera. All of them reuse the
//! preview's H.264 (and one AAC encode): going live costs no extra video encode.
//!
//! An output that fails (server gone, disk full) is cut off and reported in
//! the statistics; the preview and the other outputs go on.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use gst::prelude::*;
use serde::Serialize;

use crate::blocks::{part_path, shared_audio_encode, skip_aac_priming};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};

/// One extra destination of a live show. `Display` and `Debug` show a network
/// destination as scheme and host only: its path, stream key, query and credentials are
/// secrets that must reach neither a response nor a log.
#[derive(Clone, PartialEq, Eq)]
pub enum LiveOutput {
    /// `rtmp://` or `rtmps://` URL (server + application + stream key).
    Rtmp(String),
    /// `srt://host:port` URL (caller mode unless the URL says otherwise).
    Srt(String),
    /// An MP4 file, written as `NAME.part` and renamed when the show stops.
    Record(PathBuf),
    /// A v4l2loopback device, e.g. `/dev/video10`.
    VirtualCamera(PathBuf),
}

impl FromStr for LiveOutput {
    type Err = EngineError;

    /// `rtmp://..`, `rtmps://..`, `srt://..`, `record:PATH` or `v4l2:/dev/videoN`.
    fn from_str(text: &str) -> Result<Self> {
        let shown = redact_url(text);
        let bad = |cause: &str| EngineError::Request(format!("output `{shown}`: {cause}"));
        if text.starts_with("rtmp://") || text.starts_with("rtmps://") {
            return Ok(LiveOutput::Rtmp(text.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("srt://") {
            if !rest.contains(':') {
                return Err(bad("an SRT URL needs a port, e.g. srt://host:9000"));
            }
            return Ok(LiveOutput::Srt(text.to_owned()));
        }
        match text.split_once(':') {
            Some(("record", path)) if path.ends_with(".mp4") => Ok(LiveOutput::Record(path.into())),
            Some(("record", _)) => Err(bad("recordings are MP4: record:PATH.mp4")),
            Some(("v4l2", dev)) if dev.starts_with("/dev/video") => Ok(LiveOutput::VirtualCamera(dev.into())),
            _ => Err(bad("expected rtmp://.., srt://host:port, record:PATH.mp4 or v4l2:/dev/videoN")),
        }
    }
}

impl fmt::Display for LiveOutput {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveOutput::Rtmp(url) | LiveOutput::Srt(url) => write!(out, "{}", redact_url(url)),
            LiveOutput::Record(path) => write!(out, "record:{}", path.display()),
            LiveOutput::VirtualCamera(dev) => write!(out, "v4l2:{}", dev.display()),
        }
    }
}

impl fmt::Debug for LiveOutput {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "LiveOutput({self})")
    }
}

/// `scheme://host[:port]` of `url`: user info, path, query and fragment left out (an RTMP
/// stream key is the path's last part; SRT passphrases ride in the query).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}")
}

/// `text` with `output`'s full address replaced by its redacted form, and its secret parts
/// (user info, stream key, query) wherever else they appear: GStreamer's error messages
/// quote the location they failed on, or its pieces.
pub(crate) fn redact_in(text: &str, output: &LiveOutput) -> String {
    let (LiveOutput::Rtmp(url) | LiveOutput::Srt(url)) = output else {
        return text.to_owned();
    };
    let mut redacted = text.replace(url.as_str(), &redact_url(url));
    let rest = url.split_once("://").map_or("", |(_, rest)| rest);
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let user = authority.rsplit_once('@').map(|(user, _)| user);
    let (path_query, fragment) = tail.split_once('#').map_or((tail, None), |(pq, f)| (pq, Some(f)));
    let (path, query) = path_query.split_once('?').map_or((path_query, None), |(p, q)| (p, Some(q)));
    let key = path.rsplit('/').next();
    let values = query.into_iter().flat_map(|q| q.split('&')).map(|pair| pair.split_once('=').map_or(pair, |(_, v)| v));
    let secrets: Vec<&str> = [user, key, fragment].into_iter().flatten().chain(values).collect();
    for secret in secrets.into_iter().filter(|s| s.len() >= 3) {
        redacted = redacted.replace(secret, "***");
    }
    redacted
}

impl LiveOutput {
    fn needs_aac(&self) -> bool {
        !matches!(self, LiveOutput::VirtualCamera(_))
    }
}

/// State of one output, for the statistics.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutputStats {
    pub target: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A built output: its elements' name prefix, and whether it failed.
#[derive(Debug)]
pub(crate) struct Branch {
    pub(crate) output: LiveOutput,
    pub(crate) prefix: String,
    failed: Arc<AtomicBool>,
    error: Mutex<Option<String>>,
}

impl Branch {
    /// Cuts the output off after its element reported `message`.
    pub(crate) fn fail(&self, message: String) {
        self.failed.store(true, Ordering::SeqCst);
        self.error.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(message);
    }

    pub(crate) fn stats(&self) -> OutputStats {
        let error = self.error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        OutputStats {
            target: self.output.to_string(),
            state: if error.is_some() { "failed" } else { "running" },
            error,
        }
    }

    /// Renames a finished recording into place.
    pub(crate) fn finish(&self) -> Result<()> {
        match &self.output {
            LiveOutput::Record(path) if !self.failed.load(Ordering::SeqCst) => {
                std::fs::rename(part_path(path), path).map_err(|e| EngineError::io(path, e))
            }
            _ => Ok(()),
        }
    }
}

/// The taps the outputs are fed from.
pub(crate) struct Taps<'a> {
    pub(crate) raw_video: &'a gst::Element,
    pub(crate) h264: &'a gst::Element,
    pub(crate) audio: &'a gst::Element,
    pub(crate) aac_kbps: u32,
}

/// Adds every output to `pipeline`.
pub(crate) fn add(pipeline: &gst::Pipeline, outputs: &[LiveOutput], taps: &Taps<'_>) -> Result<Vec<Branch>> {
    let aac = if outputs.iter().any(LiveOutput::needs_aac) { Some(add_aac(pipeline, taps)?) } else { None };
    let mut branches = Vec::new();
    for (i, output) in outputs.iter().enumerate() {
        let prefix = format!("output{i}-");
        let failed = Arc::new(AtomicBool::new(false));
        let elements = build(output, &prefix)?;
        let link_err = |what: &str| EngineError::Request(format!("output `{output}`: cannot link {what}"));
        pipeline.add_many(&elements).map_err(|_| link_err("its elements"))?;
        match output {
            LiveOutput::VirtualCamera(_) => {
                tap(pipeline, taps.raw_video, &elements[0], &failed, &prefix, "video")?;
                gst::Element::link_many(&elements).map_err(|_| link_err("the virtual camera"))?;
            }
            _ => {
                gst::Element::link_many(&elements).map_err(|_| link_err("the muxer"))?;
                let mux = &elements[0];
                let parse = make(f::H264PARSE)?;
                pipeline.add(&parse).map_err(|_| link_err("h264parse"))?;
                let pictures = tap(pipeline, taps.h264, &parse, &failed, &prefix, "video")?;
                parse.link(mux).map_err(|_| link_err("video to the muxer"))?;
                let aac = aac.as_ref().expect("aac branch for a muxed output");
                let sound = tap(pipeline, aac, mux, &failed, &prefix, "audio")?;
                if matches!(output, LiveOutput::Record(_)) {
                    start_together(&pictures.static_pad("src").expect("src"), &sound.static_pad("src").expect("src"));
                }
            }
        }
        branches.push(Branch { output: output.clone(), prefix, failed, error: Mutex::new(None) });
    }
    Ok(branches)
}

/// Elements of one output from its first (muxer or converter) to its sink.
fn build(output: &LiveOutput, prefix: &str) -> Result<Vec<gst::Element>> {
    let named = |factory: &'static str, role: &str| -> Result<gst::Element> {
        let element = make(factory)?;
        element.set_property("name", format!("{prefix}{role}"));
        Ok(element)
    };
    let sink = match output {
        LiveOutput::Rtmp(url) => {
            let mux = named(f::FLVMUX, "mux")?;
            mux.set_property("streamable", true);
            let sink = named(f::RTMP2SINK, "sink")?;
            sink.set_property("location", url);
            vec![mux, sink]
        }
        LiveOutput::Srt(url) => {
            let mux = named(f::MPEGTSMUX, "mux")?;
            mux.set_property("alignment", 7i32);
            let sink = named(f::SRTSINK, "sink")?;
            sink.set_property("uri", url);
            sink.set_property("wait-for-connection", false);
            vec![mux, sink]
        }
        LiveOutput::Record(path) => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(EngineError::io(path, std::io::Error::other("its directory does not exist")));
            }
            let mux = named(f::MP4MUX, "mux")?;
            // Fragments keep what was recorded playable even if the show is killed.
            mux.set_property("fragment-duration", 1000u32);
            let sink = named(f::FILESINK, "sink")?;
            sink.set_property("location", part_path(path).to_string_lossy().as_ref());
            vec![mux, sink]
        }
        LiveOutput::VirtualCamera(dev) => {
            if !dev.exists() {
                let cause = "no such device (is the v4l2loopback module loaded?)";
                return Err(EngineError::io(dev, std::io::Error::other(cause)));
            }
            let convert = named(f::VIDEOCONVERT, "convert")?;
            let sink = named(f::V4L2SINK, "sink")?;
            sink.set_property("device", dev.to_string_lossy().as_ref());
            vec![convert, sink]
        }
    };
    for element in sink.iter().skip(1) {
        element.set_property("sync", false);
        element.set_property("async", false);
    }
    Ok(sink)
}

/// One AAC encode of the live sound, shared by every muxed output.
fn add_aac(pipeline: &gst::Pipeline, taps: &Taps<'_>) -> Result<gst::Element> {
    let enc = make(f::AACENC)?;
    enc.set_property("bitrate", i32::try_from(taps.aac_kbps * 1000).unwrap_or(128_000));
    skip_aac_priming(&enc.static_pad("sink").expect("encoders have a sink pad"));
    let err = || EngineError::Request("cannot build the AAC encoder of the live outputs".into());
    shared_audio_encode(pipeline, taps.audio, make(f::QUEUE)?, None, enc, err)
}

/// Where a recording's two tracks start.
#[derive(Debug, Default)]
struct CommonStart {
    /// Decode time of the first sound frame sent to the muxer.
    sound: Option<gst::ClockTime>,
    /// Whether the first picture has gone to the muxer.
    picture: bool,
    /// Whether a keyframe was asked for to start the pictures with.
    asked: bool,
}

/// Makes a recording's pictures (leaving `pictures`) start where its sound
/// (leaving `sound`) starts.
///
/// GStreamer 1.22's `mp4mux`, writing fragments, times each track from that
/// track's own first buffer (a fragment's decode time is the buffer's less the
/// track's first), and a fragmented file has no edit list to say that one
/// track starts later than the other. So whatever lay between the first sound
/// and the first picture to reach the muxer (x264 starting up, the encoders'
/// and queues' different delays: 10 to 190 ms, another figure each run) was
/// taken out of one track against the other for the whole recording. Here the
/// sound's first frame sets the start: pictures before it are dropped, and the
/// first keyframe at or after it (one is asked for) is stamped at the sound's
/// start, shown from there until the next picture as a player shows a first
/// picture, so that every later picture keeps its exact time against the sound.
fn start_together(pictures: &gst::Pad, sound: &gst::Pad) {
    let start = Arc::new(Mutex::new(CommonStart::default()));
    let first_sound = Arc::clone(&start);
    sound.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let time = info.buffer().and_then(|b| b.dts_or_pts());
        if let Some(running) = time.and_then(|t| time_segment(pad)?.to_running_time(t)) {
            first_sound.lock().unwrap_or_else(PoisonError::into_inner).sound.get_or_insert(running);
        }
        gst::PadProbeReturn::Ok
    });
    pictures.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let mut start = start.lock().unwrap_or_else(PoisonError::into_inner);
        if start.picture {
            return gst::PadProbeReturn::Ok;
        }
        // The muxer times each track by running time; the encoders' timestamps are not that.
        let (Some(sound), Some(buffer), Some(segment)) = (start.sound, info.buffer(), time_segment(pad)) else {
            return gst::PadProbeReturn::Drop;
        };
        if buffer.pts().and_then(|pts| segment.to_running_time(pts)).is_none_or(|running| running < sound) {
            return gst::PadProbeReturn::Drop;
        }
        if buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
            if !start.asked {
                start.asked = true;
                let event = gst_video::UpstreamForceKeyUnitEvent::builder().all_headers(true).build();
                pad.send_event(event);
            }
            return gst::PadProbeReturn::Drop;
        }
        let Some(at) = segment.position_from_running_time(sound) else {
            return gst::PadProbeReturn::Drop;
        };
        start.picture = true;
        let buffer = info.buffer_mut().expect("buffer").make_mut();
        buffer.set_pts(at);
        buffer.set_dts(at);
        gst::PadProbeReturn::Ok
    });
}

/// The time segment `pad` carries.
fn time_segment(pad: &gst::Pad) -> Option<gst::FormattedSegment<gst::ClockTime>> {
    let event = pad.sticky_event::<gst::event::Segment>(0)?;
    event.segment().downcast_ref::<gst::ClockTime>().cloned()
}

/// Links a new branch of tee `from` through a queue to `to`, and returns the
/// queue. Once the output failed, buffers are dropped before its queue, so the
/// tee never sees its error.
fn tap(
    pipeline: &gst::Pipeline,
    from: &gst::Element,
    to: &gst::Element,
    failed: &Arc<AtomicBool>,
    prefix: &str,
    role: &str,
) -> Result<gst::Element> {
    let queue = make(f::QUEUE)?;
    queue.set_property("name", format!("{prefix}{role}-queue"));
    queue.set_property_from_str("leaky", "downstream");
    let err = || EngineError::Request(format!("cannot link output {prefix}{role}"));
    pipeline.add(&queue).map_err(|_| err())?;
    from.link(&queue).map_err(|_| err())?;
    queue.link(to).map_err(|_| err())?;
    let failed = Arc::clone(failed);
    queue.static_pad("sink").expect("queue sink").add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if failed.load(Ordering::SeqCst) {
            // Taken and answered here (`Drop` would hand GStreamer a buffer the binding already released).
            info.data = None;
            info.flow_res = Ok(gst::FlowSuccess::Ok);
            gst::PadProbeReturn::Handled
        } else {
            gst::PadProbeReturn::Ok
        }
    });
    Ok(queue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!("rtmp://h/app/key".parse::<LiveOutput>().unwrap(), LiveOutput::Rtmp("rtmp://h/app/key".into()));
        assert_eq!("srt://h:9000".parse::<LiveOutput>().unwrap(), LiveOutput::Srt("srt://h:9000".into()));
        assert_eq!("record:a.mp4".parse::<LiveOutput>().unwrap(), LiveOutput::Record("a.mp4".into()));
        assert!("srt://h".parse::<LiveOutput>().unwrap_err().to_string().contains("port"));
        assert!("record:a.mkv".parse::<LiveOutput>().unwrap_err().to_string().contains("MP4"));
        assert!("ftp://x".parse::<LiveOutput>().unwrap_err().to_string().contains("ftp://x"));
    }

    #[test]
    fn network_outputs_show_scheme_and_host_only() {
        let cases = [
            ("rtmp://live.example.com/app/SECRETKEY", "rtmp://live.example.com"),
            ("rtmps://user:PASSWORD@host:443/live/SECRETKEY?x=1", "rtmps://host:443"),
            ("srt://10.0.0.1:9000?passphrase=SECRETKEY&streamid=x", "srt://10.0.0.1:9000"),
            ("srt://[::1]:9000#SECRETKEY", "srt://[::1]:9000"),
        ];
        for (url, shown) in cases {
            let output: LiveOutput = url.parse().unwrap();
            assert_eq!(output.to_string(), shown);
            assert!(!format!("{output:?}").contains("SECRET"), "{output:?}");
            let failure = redact_in(&format!("could not connect to {url}: refused"), &output);
            assert_eq!(failure, format!("could not connect to {shown}: refused"));
            let pieces = redact_in("stream SECRETKEY, passphrase=SECRETKEY", &output);
            assert!(!pieces.contains("SECRET"), "{pieces}");
        }
        let login = redact_in("login user:PASSWORD refused", &cases[1].0.parse().unwrap());
        assert_eq!(login, "login *** refused");
        let refused = "srt://host?passphrase=SECRETKEY".parse::<LiveOutput>().unwrap_err().to_string();
        assert!(refused.contains("srt://host") && !refused.contains("SECRET"), "{refused}");
    }

    #[test]
    fn a_recording_is_written_beside_its_name() {
        assert_eq!(part_path(Path::new("/tmp/show.mp4")), PathBuf::from("/tmp/show.mp4.part"));
    }
}
