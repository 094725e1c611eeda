// SPDX-License-Identifier: MPL-2.0
//! The presenter's browser as the live source: RTP packets received by the
//! server's WebRTC stack (WHIP) are handed in here, put in order by a jitter
//! buffer, depayloaded and decoded in a pipeline of their own, one per
//! publisher, and relayed into the live graph's `appsrc`s.
//!
//! Until a publisher's first picture arrives, and again once it is gone, an
//! attract picture ("waiting for the presenter") and silence are relayed
//! instead, so the show, its outputs and its viewers never stop.
//!
//! Clock: the jitter buffer (`mode=slave`) maps the publisher's RTP
//! timestamps onto the feeder's running time, estimating the sender's clock
//! skew against ours; each decoded buffer is then stamped with the live
//! graph's running time at which the feeder's sink was to render it (see
//! [`super::source::due_time`]): pictures with that time, sound end to end
//! with the previous buffer while that is within 80 ms of it, afresh
//! otherwise. Drift is thus handled by slaving to the live pipeline's clock,
//! not by resampling: it never accumulates, and a publisher whose clock runs
//! away costs at most one re-stamp (a click).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gst::prelude::*;
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};

use super::source::{push_due, Restamp};
use super::timecode;

/// Jitter buffer depth unless the operator sets one: room for a good Wi-Fi's jitter and a
/// retransmission on a short round trip. A publisher on the same machine or a wired LAN needs
/// less, and each millisecond taken off comes off the glass-to-glass delay.
pub const DEFAULT_JITTER: Duration = Duration::from_millis(60);

/// The deepest jitter buffer accepted: past this a show is no longer live.
pub const MAX_JITTER: Duration = Duration::from_secs(1);

/// A publisher's video codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserVideo {
    H264,
    Vp8,
}

/// What a publisher sends: its video codec and the payload types on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowserCodecs {
    pub video: BrowserVideo,
    pub video_pt: u8,
    /// Opus payload type, when the publisher sends sound.
    pub audio_pt: Option<u8>,
}

/// Publishers seen and time spent without one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublisherStats {
    /// Whether a publisher's picture is on air now.
    pub on_air: bool,
    /// Publishers connected so far (a reconnect counts again).
    pub publishers: u64,
    /// Times the picture fell back to the attract picture after a publisher's.
    pub gaps: u64,
    /// Time on the attract picture since the first publisher's picture, in seconds.
    pub gap_s: f64,
    pub rtp_packets: u64,
    /// The publisher's picture as decoded (0 before its first frame): what the browser
    /// really sends, which may be less than the presenter asked for (the browser adapts).
    pub width: u32,
    pub height: u32,
    /// Pictures decoded from publishers so far.
    pub frames: u64,
    /// Loudest sample of the publisher's sound over the last second, 0 to 1 (0: silent or none):
    /// tells a presenter whose microphone is muted or the wrong one.
    pub sound_peak: f64,
}

#[derive(Debug, Default)]
struct Tally {
    publishers: u64,
    gaps: u64,
    gap: Duration,
    gap_since: Option<Instant>,
}

/// Which source the live graph's inputs take: 0 the attract picture, else a publisher's id.
#[derive(Debug, Default)]
struct Gate {
    /// The publisher connected now (0: none).
    current: AtomicU64,
    /// The publisher whose buffers go on air (0: the attract picture).
    showing: AtomicU64,
    next: AtomicU64,
    packets: AtomicU64,
    tally: Mutex<Tally>,
    received: Mutex<Received>,
}

/// What the publishers' decoders produced, for the figures.
#[derive(Debug, Default)]
struct Received {
    width: u32,
    height: u32,
    frames: u64,
    /// Peak of the current one-second window, with its start, and of the previous window.
    peak: f32,
    window: Option<Instant>,
    last_peak: f32,
}

impl Received {
    fn picture(&mut self, caps: Option<&gst::CapsRef>) {
        self.frames += 1;
        if let Some(s) = caps.and_then(|c| c.structure(0)) {
            self.width = s.get::<i32>("width").map_or(0, |w| w.max(0) as u32);
            self.height = s.get::<i32>("height").map_or(0, |h| h.max(0) as u32);
        }
    }

    fn sound(&mut self, caps: Option<&gst::CapsRef>, buffer: &gst::BufferRef) {
        let now = Instant::now();
        if self.window.is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1)) {
            self.last_peak = self.peak;
            self.peak = 0.0;
            self.window = Some(now);
        }
        let format = caps.and_then(|c| c.structure(0)).and_then(|s| s.get::<String>("format").ok());
        let Ok(map) = buffer.map_readable() else { return };
        let peak = match format.as_deref() {
            Some("S16LE") => map
                .chunks_exact(2)
                .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])).abs() / 32768.0)
                .fold(0.0, f32::max),
            Some("F32LE") => {
                map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).abs()).fold(0.0, f32::max)
            }
            _ => 0.0,
        };
        self.peak = self.peak.max(peak.min(1.0));
    }

    fn sound_peak(&self) -> f32 {
        let fresh = self.window.is_some_and(|start| start.elapsed() < Duration::from_secs(2));
        if fresh {
            self.peak.max(self.last_peak)
        } else {
            0.0
        }
    }
}

impl Gate {
    /// Whether a buffer from `id` goes on air; a connected publisher's first picture takes over.
    fn admits(&self, id: u64, video: bool) -> bool {
        let showing = self.showing.load(Ordering::SeqCst);
        if showing == id {
            return true;
        }
        if id != 0 && video && self.current.load(Ordering::SeqCst) == id {
            self.showing.store(id, Ordering::SeqCst);
            let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(since) = tally.gap_since.take() {
                tally.gap += since.elapsed();
            }
            return true;
        }
        false
    }

    fn leave(&self, id: u64) {
        let _ = self.current.compare_exchange(id, 0, Ordering::SeqCst, Ordering::SeqCst);
        if self.showing.compare_exchange(id, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
            tally.gaps += 1;
            tally.gap_since = Some(Instant::now());
        }
    }
}

/// The live graph's inputs for a browser source, and the handle that connects publishers.
#[derive(Debug, Clone)]
pub struct BrowserInput {
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    video_stamp: Arc<Mutex<Restamp>>,
    audio_stamp: Arc<Mutex<Restamp>>,
    gate: Arc<Gate>,
    /// Read the capture clock publishers burn into their pictures (see [`timecode`]).
    timecode: bool,
    /// The show's frame rate, which every relayed picture's caps state.
    fps: i32,
}

/// Adds the browser source's `appsrc`s to `pipeline`; returns them, the attract
/// pipeline that feeds them while no publisher does, and the publisher handle.
/// With `timecode`, each publisher picture's burned-in capture clock rides along as a
/// [`gst::ReferenceTimestampMeta`] for the live graph's timecode to burn again.
pub(crate) fn add(
    pipeline: &gst::Pipeline,
    (width, height, fps): (i32, i32, i32),
    timecode: bool,
) -> Result<(gst::Element, gst::Element, gst::Pipeline, BrowserInput)> {
    let video = live_appsrc()?;
    let audio = live_appsrc()?;
    pipeline.add_many([&video, &audio]).map_err(|_| build_error("cannot add the browser source"))?;
    let input = BrowserInput {
        video: video.clone().downcast().expect("appsrc"),
        audio: audio.clone().downcast().expect("appsrc"),
        video_stamp: Arc::new(Mutex::new(Restamp::picture())),
        audio_stamp: Arc::new(Mutex::new(Restamp::sound())),
        gate: Arc::default(),
        timecode,
        fps,
    };
    let attract = attract(&input, width, height, fps)?;
    Ok((video, audio, attract, input))
}

impl BrowserInput {
    /// Connects a publisher sending `codecs`: builds and starts its depayload
    /// and decode pipeline. `on_keyframe` is called when the decoder needs a
    /// keyframe (loss, start): the caller sends the publisher a PLI. Its
    /// packets wait up to `jitter` for late or resent ones.
    /// Fails while another publisher is connected, or for a `jitter` past [`MAX_JITTER`].
    pub fn connect(
        &self,
        codecs: BrowserCodecs,
        jitter: Duration,
        on_keyframe: impl Fn() + Send + Sync + 'static,
    ) -> Result<BrowserPublisher> {
        if jitter > MAX_JITTER {
            return Err(EngineError::Request(format!(
                "a publisher's jitter buffer of {} ms is deeper than the {} ms a live show allows",
                jitter.as_millis(),
                MAX_JITTER.as_millis()
            )));
        }
        let id = self.gate.next.fetch_add(1, Ordering::SeqCst) + 1;
        if self.gate.current.compare_exchange(0, id, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            return Err(EngineError::Request("a publisher is already connected to this show".into()));
        }
        match self.publisher_pipeline(id, codecs, jitter, Arc::new(on_keyframe)) {
            Ok(publisher) => {
                self.gate.tally.lock().unwrap_or_else(PoisonError::into_inner).publishers += 1;
                Ok(publisher)
            }
            Err(err) => {
                self.gate.leave(id);
                Err(err)
            }
        }
    }

    /// Publishers seen, gaps and packets.
    pub fn stats(&self) -> PublisherStats {
        let tally = self.gate.tally.lock().unwrap_or_else(PoisonError::into_inner);
        let open = tally.gap_since.map(|since| since.elapsed()).unwrap_or_default();
        let received = self.gate.received.lock().unwrap_or_else(PoisonError::into_inner);
        PublisherStats {
            on_air: self.gate.showing.load(Ordering::SeqCst) != 0,
            publishers: tally.publishers,
            gaps: tally.gaps,
            gap_s: (tally.gap + open).as_secs_f64(),
            rtp_packets: self.gate.packets.load(Ordering::Relaxed),
            width: received.width,
            height: received.height,
            frames: received.frames,
            sound_peak: f64::from(received.sound_peak()),
        }
    }

    fn publisher_pipeline(
        &self,
        id: u64,
        codecs: BrowserCodecs,
        jitter: Duration,
        on_keyframe: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<BrowserPublisher> {
        let pipeline = gst::Pipeline::with_name(&format!("reenact-publisher-{id}"));
        let (encoding, depay) = match codecs.video {
            BrowserVideo::H264 => ("H264", "rtph264depay"),
            BrowserVideo::Vp8 => ("VP8", "rtpvp8depay"),
        };
        let video_rtp = self.branch(
            &pipeline,
            id,
            Branch { media: "video", encoding, clock_rate: 90_000, pt: codecs.video_pt, depay, jitter },
            Arc::clone(&on_keyframe),
        )?;
        let audio_rtp = match codecs.audio_pt {
            Some(pt) => Some(self.branch(
                &pipeline,
                id,
                Branch { media: "audio", encoding: "OPUS", clock_rate: 48_000, pt, depay: "rtpopusdepay", jitter },
                on_keyframe,
            )?),
            None => None,
        };
        pipeline.set_state(gst::State::Playing).map_err(|_| build_error("the publisher's decoder would not start"))?;
        Ok(BrowserPublisher { id, pipeline, video_rtp, audio_rtp, gate: Arc::clone(&self.gate) })
    }

    /// appsrc (RTP) → jitter buffer → depayloader → decoder → converter → appsink,
    /// whose buffers are relayed into the live graph while `id` is on air.
    fn branch(
        &self,
        pipeline: &gst::Pipeline,
        id: u64,
        branch: Branch,
        on_keyframe: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<gst_app::AppSrc> {
        let src = make(f::APPSRC)?.downcast::<gst_app::AppSrc>().expect("appsrc");
        src.set_is_live(true);
        src.set_format(gst::Format::Time);
        // The jitter buffer needs each packet's arrival time.
        src.set_do_timestamp(true);
        src.set_max_buffers(256);
        src.set_leaky_type(gst_app::AppLeakyType::Downstream);
        src.set_caps(Some(
            &gst::Caps::builder("application/x-rtp")
                .field("media", branch.media)
                .field("encoding-name", branch.encoding)
                .field("clock-rate", branch.clock_rate)
                .field("payload", i32::from(branch.pt))
                .build(),
        ));
        let jitter = make("rtpjitterbuffer").map_err(|_| EngineError::MissingElement("rtpjitterbuffer"))?;
        jitter.set_property("latency", u32::try_from(branch.jitter.as_millis()).unwrap_or(u32::MAX));
        jitter.set_property("do-lost", true);
        jitter.set_property_from_str("mode", "slave");
        let depay = make(branch.depay).map_err(|_| EngineError::MissingElement("RTP depayloader"))?;
        if branch.media == "video" {
            depay.set_property("request-keyframe", true);
            depay.set_property("wait-for-keyframe", true);
        }
        let decode = make(f::DECODEBIN)?;
        let video = branch.media == "video";
        let convert = make(if video { f::VIDEOCONVERT } else { f::AUDIOCONVERT })?;
        let sink = make(f::APPSINK)?.downcast::<gst_app::AppSink>().expect("appsink");
        sink.set_property("sync", true);
        sink.set_max_buffers(2);
        sink.set_drop(true);
        let sink_el = sink.clone().upcast::<gst::Element>();
        let src_el = src.clone().upcast::<gst::Element>();
        pipeline
            .add_many([&src_el, &jitter, &depay, &decode, &convert, &sink_el])
            .map_err(|_| build_error("cannot build the publisher's decoder"))?;
        gst::Element::link_many([&src_el, &jitter, &depay, &decode])
            .map_err(|_| build_error("cannot link the publisher's decoder"))?;
        convert.link(&sink_el).map_err(|_| build_error("cannot link the publisher's decoder"))?;
        let convert_weak = convert.downgrade();
        decode.connect_pad_added(move |_, pad| {
            let Some(convert) = convert_weak.upgrade() else { return };
            let sink = convert.static_pad("sink").expect("sink");
            if !sink.is_linked() {
                let _ = pad.link(&sink);
            }
        });
        // A depayloader or decoder that lost its reference asks upstream for a keyframe.
        src.static_pad("src").expect("src").add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
            if let Some(gst::PadProbeData::Event(event)) = &info.data {
                if event.structure().is_some_and(|s| s.name() == "GstForceKeyUnit") {
                    on_keyframe();
                }
            }
            gst::PadProbeReturn::Ok
        });
        let (target, stamp) = if video {
            (self.video.clone(), Arc::clone(&self.video_stamp))
        } else {
            (self.audio.clone(), Arc::clone(&self.audio_stamp))
        };
        let clock = video && self.timecode;
        let fps = self.fps;
        relay(&sink, target, stamp, Arc::clone(&self.gate), Relayed { id, video, clock, fps });
        Ok(src)
    }
}

struct Branch {
    media: &'static str,
    encoding: &'static str,
    clock_rate: i32,
    pt: u8,
    depay: &'static str,
    jitter: Duration,
}

/// One connected publisher. Dropping it (or [`BrowserPublisher::close`]) puts
/// the attract picture back on air and frees the show for the next publisher.
#[derive(Debug)]
pub struct BrowserPublisher {
    id: u64,
    pipeline: gst::Pipeline,
    video_rtp: gst_app::AppSrc,
    audio_rtp: Option<gst_app::AppSrc>,
    gate: Arc<Gate>,
}

impl BrowserPublisher {
    /// Hands in one RTP packet of the video track, as received.
    pub fn push_video(&self, packet: &[u8]) {
        self.push(&self.video_rtp, packet);
    }

    /// Hands in one RTP packet of the audio track; ignored without one.
    pub fn push_audio(&self, packet: &[u8]) {
        if let Some(audio) = &self.audio_rtp {
            self.push(audio, packet);
        }
    }

    fn push(&self, src: &gst_app::AppSrc, packet: &[u8]) {
        self.gate.packets.fetch_add(1, Ordering::Relaxed);
        let _ = src.push_buffer(gst::Buffer::from_slice(packet.to_vec()));
    }

    /// Ends the publisher: its decoder stops and the attract picture goes back on air.
    pub fn close(self) {}
}

impl Drop for BrowserPublisher {
    fn drop(&mut self) {
        self.gate.leave(self.id);
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// The attract picture and silence, relayed while no publisher is on air.
fn attract(input: &BrowserInput, width: i32, height: i32, fps: i32) -> Result<gst::Pipeline> {
    let pipeline = gst::Pipeline::with_name("reenact-browser-attract");
    let video = make(f::VIDEOTESTSRC)?;
    video.set_property("is-live", true);
    video.set_property_from_str("pattern", "solid-color");
    video.set_property("foreground-color", 0xff20_2430u32);
    let caps = make(f::CAPSFILTER)?;
    caps.set_property(
        "caps",
        gst::Caps::builder("video/x-raw")
            .field("width", width)
            .field("height", height)
            .field("framerate", gst::Fraction::new(fps, 1))
            .build(),
    );
    let text = make(f::TEXTOVERLAY)?;
    text.set_property("text", "Waiting for the presenter");
    text.set_property("font-desc", "Sans 28");
    let vconvert = make(f::VIDEOCONVERT)?;
    let vsink = make(f::APPSINK)?.downcast::<gst_app::AppSink>().expect("appsink");
    let sound = make(f::AUDIOTESTSRC)?;
    sound.set_property("is-live", true);
    sound.set_property_from_str("wave", "silence");
    sound.set_property("samplesperbuffer", 480i32);
    let asink = make(f::APPSINK)?.downcast::<gst_app::AppSink>().expect("appsink");
    for sink in [&vsink, &asink] {
        sink.set_property("sync", true);
        sink.set_max_buffers(2);
        sink.set_drop(true);
    }
    let (vsink_el, asink_el) = (vsink.clone().upcast::<gst::Element>(), asink.clone().upcast::<gst::Element>());
    pipeline
        .add_many([&video, &caps, &text, &vconvert, &vsink_el, &sound, &asink_el])
        .map_err(|_| build_error("cannot build the attract picture"))?;
    gst::Element::link_many([&video, &caps, &text, &vconvert, &vsink_el])
        .map_err(|_| build_error("cannot link the attract picture"))?;
    sound.link(&asink_el).map_err(|_| build_error("cannot link the attract sound"))?;
    let video = Relayed { id: 0, video: true, clock: false, fps };
    let sound = Relayed { video: false, ..video };
    relay(&vsink, input.video.clone(), Arc::clone(&input.video_stamp), Arc::clone(&input.gate), video);
    relay(&asink, input.audio.clone(), Arc::clone(&input.audio_stamp), Arc::clone(&input.gate), sound);
    Ok(pipeline)
}

/// What a relay carries: source `id` (0: the attract picture), picture or sound, and
/// whether to read the publisher's burned-in capture clock.
#[derive(Debug, Clone, Copy)]
struct Relayed {
    id: u64,
    video: bool,
    clock: bool,
    fps: i32,
}

/// Pushes the samples of `sink`, re-stamped with the live graph's running
/// time, into `target` while `gate` admits source `id`.
fn relay(
    sink: &gst_app::AppSink,
    target: gst_app::AppSrc,
    stamp: Arc<Mutex<Restamp>>,
    gate: Arc<Gate>,
    Relayed { id, video, clock, fps }: Relayed,
) {
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let (true, Some(buffer)) = (id != 0, sample.buffer()) {
                    let mut received = gate.received.lock().unwrap_or_else(PoisonError::into_inner);
                    if video {
                        received.picture(sample.caps());
                    } else {
                        received.sound(sample.caps(), buffer);
                    }
                }
                if !gate.admits(id, video) {
                    return Ok(gst::FlowSuccess::Ok);
                }
                let caps = sample.caps_owned().map(|caps| if video { at_show_rate(caps, fps) } else { caps });
                let touch = |b: &mut gst::BufferRef| {
                    // Decoders fed from RTP leave video durations unset; videorate downstream
                    // aborts the process on such a buffer, so each frame gets one.
                    if video && b.duration().is_none() {
                        b.set_duration(frame_duration(caps.as_ref()));
                    }
                    if clock {
                        carry_capture_clock(b, caps.as_ref());
                    }
                };
                push_due(sink, &sample, &target, caps.clone(), &stamp, touch);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

/// Reads the capture clock a publisher burned into `buffer`'s strip (the publish page's
/// `?timecode=1`) and attaches it as the full Unix time, so the latency figure starts at the
/// presenter's canvas and survives elements that repaint the strip. Re-stamping for the live
/// graph loses the publisher's own timing, hence the meta rather than the timestamp.
fn carry_capture_clock(buffer: &mut gst::BufferRef, caps: Option<&gst::Caps>) {
    let Some(info) = caps.and_then(|c| gst_video::VideoInfo::from_caps(c).ok()) else { return };
    if let Some(code) = timecode::read_frame(buffer, &info) {
        timecode::carry_ms(buffer, timecode::rebuild_ms(code, timecode::unix_now_ms()));
    }
}

/// `caps` stating the show's rate `fps`. WebRTC decoders say 0/1 (variable), the attract
/// picture the show's rate: left as they come, each change of publisher would change the
/// rate all the way to x264, which then starts afresh with new parameter sets, and the MP4
/// recording, told of new caps mid-stream, rewrites its header over its first fragment at the
/// end. The relayed pictures are stamped on the show's clock anyway.
fn at_show_rate(mut caps: gst::Caps, fps: i32) -> gst::Caps {
    if let Some(s) = caps.make_mut().structure_mut(0) {
        s.set("framerate", gst::Fraction::new(fps.max(1), 1));
    }
    caps
}

/// One frame's duration from the caps' frame rate; 1/30 s when the caps say none (0/1, as
/// WebRTC decoders report).
fn frame_duration(caps: Option<&gst::Caps>) -> gst::ClockTime {
    let fps = caps
        .and_then(|c| c.structure(0))
        .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
        .filter(|f| f.numer() > 0 && f.denom() > 0);
    match fps {
        Some(f) => gst::ClockTime::SECOND
            .mul_div_floor(f.denom() as u64, f.numer() as u64)
            .unwrap_or(gst::ClockTime::from_mseconds(33)),
        None => gst::ClockTime::from_nseconds(1_000_000_000 / 30),
    }
}

fn live_appsrc() -> Result<gst::Element> {
    let src = make(f::APPSRC)?;
    src.set_property("is-live", true);
    src.set_property_from_str("format", "time");
    src.set_property("max-buffers", 16u64);
    src.set_property_from_str("leaky-type", "downstream");
    Ok(src)
}

fn build_error(what: &str) -> EngineError {
    EngineError::Request(what.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publishers_first_picture_takes_over_and_its_departure_counts_a_gap() {
        let gate = Gate::default();
        assert!(gate.admits(0, true), "the attract picture is on air at first");
        gate.current.store(7, Ordering::SeqCst);
        assert!(!gate.admits(7, false), "sound alone does not take over");
        assert!(gate.admits(7, true));
        assert!(!gate.admits(0, true), "the attract picture is off air");
        gate.leave(7);
        assert!(gate.admits(0, true));
        assert!(!gate.admits(7, true), "a publisher that left stays off air");
        assert_eq!(gate.tally.lock().unwrap().gaps, 1);
    }

    #[test]
    fn a_publishers_burned_clock_is_carried_as_the_full_unix_time() {
        crate::media::init().unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 1280, 720).build().unwrap();
        let caps = info.to_caps().unwrap();
        let drawn = timecode::unix_now_ms() - 120;
        let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
        {
            use gst_video::prelude::VideoFrameExt;
            let b = buffer.get_mut().unwrap();
            let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &info).unwrap();
            let stride = frame.plane_stride()[0] as usize;
            timecode::burn_luma(frame.plane_data_mut(0).unwrap(), stride, 1280, 720, drawn as u32);
        }
        carry_capture_clock(buffer.get_mut().unwrap(), Some(&caps));
        assert_eq!(timecode::carried_ms(&buffer), Some(drawn));

        let mut plain = gst::Buffer::with_size(info.size()).unwrap();
        carry_capture_clock(plain.get_mut().unwrap(), Some(&caps));
        assert_eq!(timecode::carried_ms(&plain), None, "no strip, no capture time");
    }

    #[test]
    fn relayed_pictures_state_the_shows_rate_whatever_the_decoder_says() {
        crate::media::init().unwrap();
        let decoded = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", 640)
            .field("height", 360)
            .field("framerate", gst::Fraction::new(0, 1))
            .build();
        let relayed = at_show_rate(decoded, 30);
        let s = relayed.structure(0).unwrap();
        assert_eq!(s.get::<gst::Fraction>("framerate").unwrap(), gst::Fraction::new(30, 1));
        assert_eq!(s.get::<i32>("width").unwrap(), 640, "the rest as decoded");
    }

    #[test]
    fn the_jitter_buffers_are_as_deep_as_asked_and_no_deeper_than_allowed() {
        crate::media::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let (_, _, _, input) = add(&pipeline, (320, 240, 30), false).unwrap();
        let codecs = BrowserCodecs { video: BrowserVideo::H264, video_pt: 102, audio_pt: Some(111) };
        let publisher = input.connect(codecs, Duration::from_millis(20), || {}).unwrap();
        let depths: Vec<u32> = publisher
            .pipeline
            .iterate_recurse()
            .into_iter()
            .flatten()
            .filter(|e| e.factory().is_some_and(|f| f.name() == "rtpjitterbuffer"))
            .map(|e| e.property::<u32>("latency"))
            .collect();
        assert_eq!(depths, [20, 20], "one per track");
        drop(publisher);
        let err = input.connect(codecs, MAX_JITTER + Duration::from_millis(1), || {}).unwrap_err().to_string();
        assert!(err.contains("1001 ms is deeper than the 1000 ms"), "{err}");
        assert_eq!(input.stats().publishers, 1, "a refused publisher is not counted");
        input.connect(codecs, DEFAULT_JITTER, || {}).unwrap();
    }

    #[test]
    fn a_second_publisher_is_refused_until_the_first_leaves() {
        crate::media::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let (_, _, _, input) = add(&pipeline, (320, 240, 30), false).unwrap();
        let codecs = BrowserCodecs { video: BrowserVideo::Vp8, video_pt: 96, audio_pt: Some(111) };
        let first = input.connect(codecs, DEFAULT_JITTER, || {}).unwrap();
        let err = input.connect(codecs, DEFAULT_JITTER, || {}).unwrap_err().to_string();
        assert!(err.contains("already connected"), "{err}");
        first.close();
        let again = input.connect(codecs, DEFAULT_JITTER, || {}).unwrap();
        assert_eq!(input.stats().publishers, 2);
        drop(again);
    }
}
