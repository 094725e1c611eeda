// SPDX-License-Identifier: MPL-2.0
//! The live runner: the offline chain in low-latency form, running until
//! stopped, with one shared encode per codec that every viewer and output
//! reads. The runner knows nothing of WebRTC: it hands encoded frames to
//! subscribers (the server packetises them once per codec for all viewers).
//!
//! Latency: sources and encoders report theirs; the preview sinks add one
//! frame for the chain's processing; GStreamer applies the largest path's
//! latency to every sink, so the sound waits for the picture by itself.
//! Late frames are dropped by the leaky capture queue and counted.

mod browser;
pub(crate) mod captions;
pub mod dub;
mod gate;
pub(crate) mod graph;
mod licences;
mod meter;
mod outputs;
pub(crate) mod source;
pub mod timecode;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreenact::character::{Character, FaceMode};
use serde::{Deserialize, Serialize};

pub use browser::{
    BrowserCodecs, BrowserInput, BrowserPublisher, BrowserVideo, PublisherStats, DEFAULT_JITTER, MAX_JITTER,
};
pub use captions::CaptionLine;
pub use dub::{DubStats, LiveDub};
pub use licences::element_models;
pub use meter::{percentile, StageStats};
pub use outputs::{redact_url, LiveOutput, OutputStats};
pub use source::LiveSource;

use crate::error::{EngineError, Result};
use crate::preset::{Mode, Preset};
use crate::show::{self, Show};

/// Least time between two keyframes asked for by viewers.
const KEYFRAME_GAP: Duration = Duration::from_millis(500);
/// Opus frame length of the preview (`opusenc frame-size`): 10 ms keeps the
/// sound path's latency under the picture's one frame.
pub(crate) const OPUS_FRAME: Duration = Duration::from_millis(10);
/// How long stopping waits for recordings to close.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub source: LiveSource,
    /// Sound of a camera source: `None` silence, `default`, or an ALSA device.
    pub mic: Option<String>,
    /// A `mode = "live"` preset (size, rate, bitrates, keyframe interval).
    pub preset: Preset,
    /// Character files the show may switch between; the first is active at start.
    pub characters: Vec<PathBuf>,
    /// Elements switched on at start.
    pub elements: Elements,
    /// Burn the capture clock into each frame (for latency measurement).
    pub timecode: bool,
    pub outputs: Vec<LiveOutput>,
    /// Start with the camera gate closed (a visitor-consent show): everything after the
    /// chain gets black and silence until [`LiveRunner::set_camera_open`] opens it.
    pub camera_closed: bool,
    /// The language of the speech live captions transcribe: a whisper code (`en`, `de`, ...)
    /// or `auto` to detect it. Anything but English loads the multilingual speech model.
    pub caption_language: String,
    /// The characters' face swaps keep what is held in front of the performer's face (a cup,
    /// a glove, hair) where its colour is not their skin's.
    pub occlusion_mask: bool,
    /// Dub the performer's speech (in `caption_language`) into another language, played with
    /// the picture after the dub's delay; the performer's own sound is not played.
    pub dub: Option<LiveDub>,
}

impl LiveOptions {
    /// `source` at `preset` with every element off, no character, no extra
    /// output; the capture clock burned in for the test pattern only.
    pub fn new(source: LiveSource, preset: Preset) -> Self {
        LiveOptions {
            timecode: source == LiveSource::Test,
            source,
            mic: None,
            preset,
            characters: Vec::new(),
            elements: Elements::default(),
            outputs: Vec::new(),
            camera_closed: false,
            caption_language: "en".into(),
            occlusion_mask: false,
            dub: None,
        }
    }
}

/// The chain's switchable elements and whether each is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Elements {
    /// Face tracking alone (face swap turns it on by itself).
    pub facetrack: bool,
    pub faceswap: bool,
    pub voice: bool,
    /// Background blur or replacement.
    pub matte: bool,
    /// Mouths moved to the show's speech (face tracking on with it); adds its
    /// look-ahead to the latency while on.
    pub lipsync: bool,
    /// Live captions of the speech (when the speech models are installed).
    pub captions: bool,
}

impl Elements {
    /// Parses a comma-separated list of element names, e.g. `faceswap,voice`;
    /// `all` and `none` are accepted too.
    pub fn parse_list(text: &str) -> Result<Self> {
        let mut on = Elements::default();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "none" => on = Elements::default(),
                "all" => {
                    on = Elements {
                        facetrack: true,
                        faceswap: true,
                        voice: true,
                        matte: true,
                        lipsync: true,
                        captions: true,
                    }
                }
                _ => on.set(name.parse()?, true),
            }
        }
        Ok(on)
    }

    fn set(&mut self, element: LiveElement, value: bool) {
        match element {
            LiveElement::Facetrack => self.facetrack = value,
            LiveElement::Faceswap => self.faceswap = value,
            LiveElement::Voice => self.voice = value,
            LiveElement::Matte => self.matte = value,
            LiveElement::Lipsync => self.lipsync = value,
            LiveElement::Captions => self.captions = value,
        }
    }
}

/// One switchable element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveElement {
    Facetrack,
    Faceswap,
    Voice,
    Matte,
    Lipsync,
    Captions,
}

impl FromStr for LiveElement {
    type Err = EngineError;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "facetrack" => Ok(LiveElement::Facetrack),
            "faceswap" => Ok(LiveElement::Faceswap),
            "voice" => Ok(LiveElement::Voice),
            "matte" | "background" => Ok(LiveElement::Matte),
            "lipsync" | "lip-sync" => Ok(LiveElement::Lipsync),
            "captions" => Ok(LiveElement::Captions),
            _ => Err(EngineError::Request(format!(
                "unknown element `{name}` (known: facetrack, faceswap, voice, matte, lipsync, captions)"
            ))),
        }
    }
}

/// Encoded streams a subscriber can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    H264,
    Vp8,
    Opus,
}

/// One encoded frame: an H.264 access unit (Annex B), a VP8 frame or an Opus packet.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub data: Vec<u8>,
    /// Running time of the frame in the live graph.
    pub pts: Option<Duration>,
    pub duration: Duration,
    pub keyframe: bool,
}

type Subscriber = Arc<dyn Fn(&EncodedFrame) + Send + Sync>;
/// Subscribers of each stream, with their ids.
type Subscribers = Arc<Mutex<BTreeMap<Stream, Vec<(u64, Subscriber)>>>>;

/// The encoded streams of a graph and who reads them: the appsinks of the H.264, VP8 and
/// Opus encodes, written once for the live show and the preview of a project
/// ([`crate::render::preview::PreviewRunner`]); the server's WebRTC viewers read either
/// through it.
pub struct Fanout {
    subscribers: Subscribers,
    next_id: AtomicU64,
    sinks: BTreeMap<Stream, gst_app::AppSink>,
    /// Opened while someone reads VP8: the encode costs nothing otherwise.
    vp8_valve: gst::Element,
    last_keyframe: Mutex<BTreeMap<Stream, Instant>>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout").field("streams", &self.sinks.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl Fanout {
    /// Delivers each sample of `sinks` to the subscribers of its stream.
    pub(crate) fn new(sinks: [(Stream, gst_app::AppSink); 3], vp8_valve: gst::Element) -> Self {
        let subscribers: Subscribers = Arc::default();
        for (stream, sink) in &sinks {
            deliver(&subscribers, *stream, sink);
        }
        Fanout {
            subscribers,
            next_id: AtomicU64::new(1),
            sinks: sinks.into_iter().collect(),
            vp8_valve,
            last_keyframe: Mutex::default(),
        }
    }

    /// Calls `callback` with every frame of `stream` from now on; returns an id for
    /// [`Fanout::unsubscribe`]. A VP8 subscriber starts the VP8 encoder.
    pub fn subscribe(&self, stream: Stream, callback: impl Fn(&EncodedFrame) + Send + Sync + 'static) -> u64 {
        let callback: Subscriber = Arc::new(callback);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subscribers = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        subscribers.entry(stream).or_default().push((id, callback));
        if stream == Stream::Vp8 {
            self.vp8_valve.set_property("drop", false);
        }
        id
    }

    /// Stops a subscription; the VP8 encoder stops with its last subscriber.
    pub fn unsubscribe(&self, id: u64) {
        let mut subscribers = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        for list in subscribers.values_mut() {
            list.retain(|(i, _)| *i != id);
        }
        if subscribers.get(&Stream::Vp8).is_none_or(Vec::is_empty) {
            self.vp8_valve.set_property("drop", true);
        }
    }

    /// Whether anyone reads `stream`.
    pub(crate) fn has_subscribers(&self, stream: Stream) -> bool {
        let subscribers = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        subscribers.get(&stream).is_some_and(|l| !l.is_empty())
    }

    /// Asks the encoder of `stream` for a keyframe (a new viewer, a lost picture), at most
    /// one per [`KEYFRAME_GAP`].
    pub fn request_keyframe(&self, stream: Stream) {
        self.keyframe(stream, false);
    }

    /// Asks both picture encoders for a keyframe at once: after a seek or a restart the
    /// old picture is gone.
    pub(crate) fn force_keyframes(&self) {
        self.keyframe(Stream::H264, true);
        self.keyframe(Stream::Vp8, true);
    }

    fn keyframe(&self, stream: Stream, now: bool) {
        let Some(sink) = self.sinks.get(&stream).filter(|_| stream != Stream::Opus) else { return };
        let mut last = self.last_keyframe.lock().unwrap_or_else(PoisonError::into_inner);
        if !now && last.get(&stream).is_some_and(|t| t.elapsed() < KEYFRAME_GAP) {
            return;
        }
        last.insert(stream, Instant::now());
        let event = gst_video::UpstreamForceKeyUnitEvent::builder().all_headers(true).build();
        sink.send_event(event);
    }
}

/// Figures of a running show.
#[derive(Debug, Clone, Serialize)]
pub struct LiveStats {
    pub source: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub uptime_s: f64,
    pub width: i32,
    pub height: i32,
    pub fps_target: i32,
    /// Frames per second offered by the source and out of the H.264 encoder, last second.
    pub fps_captured: f64,
    pub fps_encoded: f64,
    pub frames_captured: u64,
    pub frames_encoded: u64,
    /// Frames the chain could not take in time, dropped by the capture queue.
    pub frames_dropped: u64,
    /// Latency the graph applies to its sinks (the largest path's).
    pub pipeline_latency_ms: f64,
    pub stages: Vec<StageStats>,
    /// Encoders running: one per codec, whatever the number of viewers.
    pub encoders: Vec<Stream>,
    pub characters: Vec<String>,
    pub character: Option<String>,
    pub elements: Elements,
    pub outputs: Vec<OutputStats>,
    /// The newest captions, oldest first, while captions are on.
    pub captions: Vec<CaptionLine>,
    /// Why captions cannot be switched on, when they cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captions_unavailable: Option<String>,
    /// The speech language captions are set for (`auto`: detected).
    pub captions_language: String,
    /// The language captions hear, once they have heard some: the one set, or under `auto`
    /// the one most of the speech so far was in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captions_heard: Option<String>,
    /// Whether the face swaps keep what is held in front of the performer's face.
    pub occlusion_mask: bool,
    /// The licence of every model the elements switched on run, as its manifest states it
    /// (`commercial_label` says `NON-COMMERCIAL` for one that is not cleared for it).
    pub licences: Vec<crate::metadata::ModelLicence>,
    /// Publishers and gaps, for a `browser` source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher: Option<PublisherStats>,
    /// The live dub's figures, when the show is dubbed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dub: Option<DubStats>,
    /// Whether the camera reaches the outputs (closed: a visitor-consent show waiting).
    pub camera_open: bool,
    /// Pictures blacked out by the closed camera gate.
    pub frames_blanked: u64,
}

/// Mutable show settings.
#[derive(Debug)]
struct Switches {
    elements: Elements,
    character: Option<usize>,
    /// Every element and character on air at some point, for the recordings' credentials.
    used: Usage,
}

/// What a show has used so far: the elements switched on at any time and the characters
/// played (on while face swap, voice or lip-sync was on).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub elements: Elements,
    /// Indices into the show's characters, in the order they were first played.
    characters: Vec<usize>,
}

impl Usage {
    fn note(&mut self, on: Elements, character: Option<usize>) {
        self.elements.merge(on);
        if let (true, Some(i)) = (on.faceswap || on.voice || on.lipsync, character) {
            if !self.characters.contains(&i) {
                self.characters.push(i);
            }
        }
    }
}

/// A finished show's account for its recordings' Content Credentials.
#[derive(Debug, Clone, Default)]
pub struct ShowRecord {
    /// Files written by `record:` outputs.
    pub recordings: Vec<PathBuf>,
    /// Elements on at some point.
    pub elements: Elements,
    /// The characters played, by name, with their files.
    pub characters: Vec<(String, PathBuf)>,
    /// The language live captions were set for (their models depend on it).
    pub caption_language: String,
    /// The models a live dub ran (recognition, translation, voice), when the show was dubbed.
    pub dub_models: Vec<reenact_models::ModelUse>,
}

/// A running live graph. Dropping it stops it.
pub struct LiveRunner {
    options: LiveOptions,
    pipeline: gst::Pipeline,
    feeder: Option<source::Feeder>,
    browser: Option<BrowserInput>,
    chain: graph::Chain,
    h264_sink: gst_app::AppSink,
    vp8_sink: gst_app::AppSink,
    fanout: Fanout,
    switches: Mutex<Switches>,
    stages: Vec<Arc<meter::StageMeter>>,
    captured: Arc<meter::Counter>,
    processed: Arc<meter::Counter>,
    encoded: Arc<meter::Counter>,
    outputs: Arc<Vec<outputs::Branch>>,
    /// The captions branch; `None` without the speech models (the reason is kept).
    captions: std::result::Result<captions::Captions, String>,
    /// The speech live captions transcribe: the performer's, or the dub's when dubbed.
    captions_language: String,
    dub: Option<dub::Dub>,
    error: Arc<Mutex<Option<String>>>,
    gate: Arc<gate::CameraGate>,
    eos: Arc<(Mutex<bool>, std::sync::Condvar)>,
    stopping: Arc<AtomicBool>,
    started: Instant,
    /// The licences of the models the elements last asked about run, and which elements
    /// those were: switches are rare, stats are read every second.
    licences: Mutex<Option<(Elements, Vec<crate::metadata::ModelLicence>)>>,
}

impl std::fmt::Debug for LiveRunner {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("LiveRunner").field("source", &self.options.source).finish_non_exhaustive()
    }
}

impl LiveRunner {
    /// Builds the graph and starts it playing.
    pub fn start(options: LiveOptions) -> Result<Self> {
        crate::media::init()?;
        if options.preset.mode != Mode::Live {
            let name = &options.preset.name;
            return Err(EngineError::Request(format!("preset `{name}` is not a live preset (mode = \"live\")")));
        }
        crate::languages::check_speech_language(&options.caption_language)
            .map_err(|e| EngineError::Request(format!("caption language: {e}")))?;
        let show = describe(&options)?;
        tracing::info!(%show, "building the live show");
        let pipeline = gst::Pipeline::with_name("reenact-live");
        let geometry = graph::geometry(&options.preset);
        let inputs = source::add(&pipeline, &show.source, geometry, options.timecode)?;
        let (picture, sound, dub) = match live_dub(&show)? {
            None => (inputs.video.clone(), inputs.audio.clone(), None),
            Some(asked) => {
                let (dub, sound) = dub::Dub::add(&pipeline, &inputs.audio, &options.caption_language, &asked)?;
                (dub::hold_picture(&pipeline, &inputs.video, asked.delay, &dub)?, sound, Some(dub))
            }
        };
        let captions_language = dub.as_ref().map_or_else(|| options.caption_language.clone(), dub::Dub::whisper_code);
        let video = graph::add_video(&pipeline, &picture, &options.preset, &show, options.timecode)?;
        let Some((encoder, _)) = show::preview(&show.outputs) else {
            return Err(EngineError::Request(
                "a live show needs its preview encodes: every output rides on them".into(),
            ));
        };
        let (h264_tee, h264_sink, h264_meter, encoded) = graph::add_h264(&pipeline, &video.tee, encoder)?;
        let (vp8_valve, vp8_sink) = graph::add_vp8(&pipeline, &video.tee, encoder)?;
        let (voices, audio_tee, opus_sink) = graph::add_audio(&pipeline, &sound, encoder, &show)?;
        graph::feed_lipsync(&pipeline, &audio_tee, &video.chain.lips)?;
        let taps = outputs::Taps {
            raw_video: &video.tee,
            h264: &h264_tee,
            audio: &audio_tee,
            aac_kbps: encoder.audio.bitrate_kbps,
        };
        let branches = outputs::add(&pipeline, &show::live_outputs(&show.outputs)?, &taps)?;
        let captions = match captions::unavailable(&captions_language) {
            None => Ok(captions::Captions::add(&pipeline, &audio_tee, &captions_language)?),
            Some(reason) => Err(reason),
        };
        let gate = gate::CameraGate::new(!options.camera_closed);
        gate.attach(&video.tee, &audio_tee);
        gate.watch_faces(&video.chain.track);
        let mut chain = video.chain;
        chain.voices = voices;
        let mut stages = video.stages;
        stages.push(h264_meter);

        let runner = LiveRunner {
            switches: Mutex::new(Switches {
                elements: options.elements,
                character: if show.characters.is_empty() { None } else { Some(0) },
                used: Usage::default(),
            }),
            options,
            pipeline,
            feeder: inputs.feeder,
            browser: inputs.browser,
            chain,
            fanout: Fanout::new(
                [(Stream::H264, h264_sink.clone()), (Stream::Vp8, vp8_sink.clone()), (Stream::Opus, opus_sink)],
                vp8_valve,
            ),
            h264_sink,
            vp8_sink,
            stages,
            captured: video.captured,
            processed: video.processed,
            encoded,
            outputs: Arc::new(branches),
            captions,
            captions_language,
            dub,
            error: Arc::default(),
            gate,
            eos: Arc::default(),
            stopping: Arc::default(),
            started: Instant::now(),
            licences: Mutex::default(),
        };
        runner.apply_switches();
        runner.watch_bus();
        runner.pipeline.set_state(gst::State::Playing).map_err(|_| runner.failure("the live graph would not start"))?;
        if let Some(feeder) = &runner.feeder {
            feeder.start().map_err(|why| runner.failure(&format!("the file source would not start: {why}")))?;
        }
        tracing::info!(source = %runner.options.source, preset = %runner.options.preset.name, "live graph running");
        Ok(runner)
    }

    /// The first error on the bus, or `what`.
    fn failure(&self, what: &str) -> EngineError {
        std::thread::sleep(Duration::from_millis(100));
        let detail = self.error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        EngineError::Request(match detail {
            Some(detail) => format!("{what}: {detail}"),
            None => what.to_owned(),
        })
    }

    /// The show's encoded streams, for viewers.
    pub fn encoded(&self) -> &Fanout {
        &self.fanout
    }

    /// Switches an element on or off at the next frame.
    pub fn set_element(&self, element: LiveElement, on: bool) -> Result<()> {
        let mut switches = self.switches.lock().unwrap_or_else(PoisonError::into_inner);
        if on && matches!(element, LiveElement::Faceswap | LiveElement::Voice) && self.chain.names.is_empty() {
            return Err(EngineError::Request("no character: start the show with one to swap face or voice".into()));
        }
        if let (true, LiveElement::Captions, Err(reason)) = (on, element, &self.captions) {
            return Err(EngineError::Request(format!("captions are not available: {reason}")));
        }
        switches.elements.set(element, on);
        drop(switches);
        self.apply_switches();
        Ok(())
    }

    /// Makes `name` the character played (one of those given at start).
    pub fn set_character(&self, name: &str) -> Result<()> {
        let Some(index) = self.chain.names.iter().position(|n| n == name) else {
            let known = if self.chain.names.is_empty() { "none".to_owned() } else { self.chain.names.join(", ") };
            return Err(EngineError::Request(format!("unknown character `{name}` (this show has: {known})")));
        };
        self.switches.lock().unwrap_or_else(PoisonError::into_inner).character = Some(index);
        self.apply_switches();
        Ok(())
    }

    /// Opens (a visitor accepted) or closes (the visitor left) the camera gate at the next
    /// frame. Opening asks for keyframes, so viewers decode the first picture at once.
    pub fn set_camera_open(&self, open: bool) {
        self.gate.set_open(open);
        if open {
            self.fanout.force_keyframes();
        }
    }

    /// What the show's recordings hold so far: their files, the elements and characters used.
    pub fn record(&self) -> ShowRecord {
        let used = self.switches.lock().unwrap_or_else(PoisonError::into_inner).used.clone();
        let recordings = self
            .options
            .outputs
            .iter()
            .filter_map(|o| match o {
                LiveOutput::Record(path) => Some(path.clone()),
                _ => None,
            })
            .collect();
        let characters = used
            .characters
            .iter()
            .filter_map(|&i| Some((self.chain.names.get(i)?.clone(), self.options.characters.get(i)?.clone())))
            .collect();
        let caption_language = self.captions_language.clone();
        let dub_models = self.dub.as_ref().map(dub::Dub::models).unwrap_or_default();
        ShowRecord { recordings, elements: used.elements, characters, caption_language, dub_models }
    }

    /// The language live captions are set for: a whisper code, or `auto`; in a dubbed show,
    /// the dub's.
    pub fn caption_language(&self) -> &str {
        &self.captions_language
    }

    /// The character files of this show, by the names it plays them under.
    pub fn character_file(&self, name: &str) -> Option<&PathBuf> {
        let index = self.chain.names.iter().position(|n| n == name)?;
        self.options.characters.get(index)
    }

    pub fn camera_open(&self) -> bool {
        self.gate.is_open()
    }

    /// How long ago the face tracker last saw a face (`None`: never, or it is off).
    pub fn face_seen_ago(&self) -> Option<Duration> {
        self.gate.face_seen_ago()
    }

    /// Whether the face tracker runs (face tracking, face swap or lip-sync on), so that
    /// [`LiveRunner::face_seen_ago`] says whether someone is in front of the camera.
    pub fn tracks_faces(&self) -> bool {
        let on = self.switches.lock().unwrap_or_else(PoisonError::into_inner).elements;
        on.facetrack || on.faceswap || on.lipsync
    }

    fn apply_switches(&self) {
        let mut switches = self.switches.lock().unwrap_or_else(PoisonError::into_inner);
        let on = switches.elements;
        let character = switches.character;
        switches.used.note(on, character);
        let active = |i: usize| switches.character == Some(i);
        let busy = on.facetrack || on.faceswap || on.matte || on.lipsync;
        graph::set_processing_allowance(&[&self.h264_sink, &self.vp8_sink], &self.options.preset, busy);
        graph::set_passthrough(&self.chain.track, !(on.facetrack || on.faceswap || on.lipsync));
        graph::set_passthrough(&self.chain.matte, !on.matte);
        if self.chain.lips.property::<bool>("active") != on.lipsync {
            self.chain.lips.set_property("active", on.lipsync);
        }
        if let Ok(captions) = &self.captions {
            captions.set_on(on.captions);
        }
        for (i, swap) in self.chain.swaps.iter().enumerate() {
            graph::set_passthrough(swap, !(on.faceswap && active(i)));
        }
        for (i, voice) in self.chain.voices.iter().enumerate() {
            if let Some(voice) = voice {
                voice.set_property("mix", if on.voice && active(i) { 1.0f64 } else { 0.0 });
            }
        }
    }

    /// Current figures.
    pub fn stats(&self) -> LiveStats {
        let (width, height, fps) = graph::geometry(&self.options.preset);
        let switches = self.switches.lock().unwrap_or_else(PoisonError::into_inner);
        let error = self.error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut encoders = vec![Stream::H264, Stream::Opus];
        if self.fanout.has_subscribers(Stream::Vp8) {
            encoders.push(Stream::Vp8);
        }
        let mut query = gst::query::Latency::new();
        let latency = if self.pipeline.query(&mut query) { query.result().1.mseconds() as f64 } else { 0.0 };
        let captured = self.captured.total();
        // A frame or two are always on their way between the two counters.
        let dropped = captured.saturating_sub(self.processed.total() + 2);
        LiveStats {
            source: self.options.source.to_string(),
            state: if error.is_some() { "failed" } else { "running" },
            error,
            uptime_s: self.started.elapsed().as_secs_f64(),
            width,
            height,
            fps_target: fps,
            fps_captured: self.captured.rate(),
            fps_encoded: self.encoded.rate(),
            frames_captured: captured,
            frames_encoded: self.encoded.total(),
            frames_dropped: dropped,
            pipeline_latency_ms: latency,
            stages: self.stages.iter().map(|s| s.stats()).collect(),
            encoders,
            characters: self.chain.names.clone(),
            character: switches.character.map(|i| self.chain.names[i].clone()),
            elements: switches.elements,
            outputs: self.outputs.iter().map(outputs::Branch::stats).collect(),
            captions: self.captions.as_ref().map(|c| c.recent()).unwrap_or_default(),
            captions_unavailable: self.captions.as_ref().err().cloned(),
            captions_language: self.captions_language.clone(),
            captions_heard: self.captions.as_ref().ok().and_then(captions::Captions::heard),
            occlusion_mask: self.options.occlusion_mask,
            licences: self.licences_of(switches.elements),
            publisher: self.browser.as_ref().map(BrowserInput::stats),
            dub: self.dub.as_ref().map(dub::Dub::stats),
            camera_open: self.gate.is_open(),
            frames_blanked: self.gate.blanked(),
        }
    }

    /// The licences of the models `elements` run (see [`element_models`]).
    fn licences_of(&self, elements: Elements) -> Vec<crate::metadata::ModelLicence> {
        let mut cached = self.licences.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, licences)) = cached.as_ref().filter(|(of, _)| *of == elements) {
            return licences.clone();
        }
        let mut used = Vec::new();
        for element in elements.on() {
            let names = element_models(element, &self.captions_language).unwrap_or_default();
            let name = format!("{element:?}").to_lowercase();
            used.extend(names.into_iter().map(|model| reenact_models::ModelUse {
                name: model.into(),
                version: String::new(),
                element: name.clone(),
            }));
        }
        // The dub runs whatever the switches say.
        used.extend(self.dub.as_ref().map(dub::Dub::models).unwrap_or_default());
        let licences = crate::metadata::licences(&used);
        *cached = Some((elements, licences.clone()));
        licences
    }

    /// The handle that connects the presenter's browser, for a `browser` source.
    pub fn browser(&self) -> Option<&BrowserInput> {
        self.browser.as_ref()
    }

    /// The error that stopped the graph, if one did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Ends the show: recordings are closed and renamed into place.
    pub fn stop(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if let Some(feeder) = &self.feeder {
            feeder.stop();
        }
        let records = self.outputs.iter().any(|b| matches!(b.output, LiveOutput::Record(_)));
        if records && self.error().is_none() {
            // Live sources finish on EOS; the muxers then write their last fragment.
            self.pipeline.send_event(gst::event::Eos::new());
            let (done, wake) = &*self.eos;
            let guard = done.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = wake.wait_timeout_while(guard, STOP_TIMEOUT, |eos| !*eos);
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        self.outputs.iter().try_for_each(outputs::Branch::finish)
    }

    /// Records errors (an output's cut that output off; any other stops the
    /// show), redistributes latency when an element's changes, and signals EOS.
    fn watch_bus(&self) {
        let bus = self.pipeline.bus().expect("pipeline bus");
        let outputs = Arc::clone(&self.outputs);
        let error = Arc::clone(&self.error);
        let eos = Arc::clone(&self.eos);
        let pipeline = self.pipeline.downgrade();
        // A sync handler runs in the thread that posts the error, before the
        // failing element returns its flow error: the output is cut off in time.
        bus.set_sync_handler(move |_, message| {
            match message.view() {
                gst::MessageView::Error(e) => {
                    let element = e.src().map(|s| s.path_string().to_string()).unwrap_or_default();
                    let text = format!("{}: {}", e.error(), e.debug().unwrap_or_default());
                    if let Some(branch) = outputs.iter().find(|b| element.contains(&b.prefix)) {
                        let text = outputs::redact_in(&text, &branch.output);
                        tracing::warn!(output = %branch.output, %text, "live output failed; the show goes on");
                        branch.fail(outputs::redact_in(&e.error().to_string(), &branch.output));
                    } else {
                        tracing::error!(%element, %text, "live graph failed");
                        error
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .get_or_insert(format!("{element}: {text}"));
                    }
                }
                gst::MessageView::Latency(_) => {
                    if let Some(pipeline) = pipeline.upgrade() {
                        std::thread::spawn(move || {
                            let _ = pipeline.recalculate_latency();
                        });
                    }
                }
                gst::MessageView::Eos(_) => {
                    let (done, wake) = &*eos;
                    *done.lock().unwrap_or_else(PoisonError::into_inner) = true;
                    wake.notify_all();
                }
                _ => {}
            }
            gst::BusSyncReply::Drop
        });
    }
}

impl Drop for LiveRunner {
    fn drop(&mut self) {
        if let Err(err) = self.shutdown() {
            tracing::warn!(%err, "live show did not stop cleanly");
        }
    }
}

/// Hands each sample of `sink` to the subscribers of `stream`, the preroll sample too: a
/// paused preview that seeks shows its new picture at once. A sink renders its preroll
/// buffer again when it starts playing, so that second delivery is skipped.
fn deliver(subscribers: &Subscribers, stream: Stream, sink: &gst_app::AppSink) {
    let prerolled: Arc<Mutex<Option<gst::ClockTime>>> = Arc::default();
    let (on_preroll, on_sample) = (Arc::clone(subscribers), Arc::clone(subscribers));
    let first = Arc::clone(&prerolled);
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_preroll(move |sink| {
                let sample = sink.pull_preroll().map_err(|_| gst::FlowError::Eos)?;
                *first.lock().unwrap_or_else(PoisonError::into_inner) = sample.buffer().and_then(|b| b.pts());
                hand_out(&on_preroll, stream, &sample);
                Ok(gst::FlowSuccess::Ok)
            })
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let again = {
                    let mut first = prerolled.lock().unwrap_or_else(PoisonError::into_inner);
                    let pts = sample.buffer().and_then(|b| b.pts());
                    pts.is_some() && first.take() == pts
                };
                if !again {
                    hand_out(&on_sample, stream, &sample);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

/// Gives one encoded sample to each subscriber of `stream`.
fn hand_out(subscribers: &Subscribers, stream: Stream, sample: &gst::Sample) {
    let Some(buffer) = sample.buffer() else { return };
    let list: Vec<Subscriber> = subscribers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&stream)
        .map(|l| l.iter().map(|(_, s)| Arc::clone(s)).collect())
        .unwrap_or_default();
    if list.is_empty() {
        return;
    }
    let Ok(map) = buffer.map_readable() else { return };
    let duration = match stream {
        // Every packet is a whole frame on the wire, also those the encoder
        // marks as partly clipped (its start-up padding).
        Stream::Opus => OPUS_FRAME,
        _ => buffer.duration().map(|d| Duration::from_nanos(d.nseconds())).unwrap_or_default(),
    };
    let pts = buffer.pts().and_then(|pts| {
        let segment = sample.segment()?.downcast_ref::<gst::format::Time>()?;
        segment.to_running_time(pts).map(|t| Duration::from_nanos(t.nseconds()))
    });
    let frame = EncodedFrame {
        data: map.as_slice().to_vec(),
        pts,
        duration,
        keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
    };
    for subscriber in list {
        subscriber(&frame);
    }
}

/// The show `options` ask for: their input, every character switchable, the
/// preview's encodes at the live preset and the live destinations on them.
fn describe(options: &LiveOptions) -> Result<Show> {
    let source = show::Source::Live { input: options.source.clone(), mic: options.mic.clone() };
    let preview = show::Output::Preview { encoder: options.preset.clone(), framing: None };
    let outputs = std::iter::once(preview).chain(options.outputs.iter().cloned().map(show::Output::Live)).collect();
    let mut show = Show::live(source, load_characters(&options.characters)?, outputs);
    show.hold_occluders = options.occlusion_mask;
    show.dubs = options
        .dub
        .iter()
        .map(|d| show::Dub { language: d.language.clone(), when: show::DubTiming::Delayed(d.delay) })
        .collect();
    Ok(show)
}

/// The dub a live show can play: one language, heard and spoken while it runs.
fn live_dub(show: &Show) -> Result<Option<LiveDub>> {
    match show.dubs.as_slice() {
        [] => Ok(None),
        [show::Dub { language, when: show::DubTiming::Delayed(delay) }] => {
            Ok(Some(LiveDub { language: language.clone(), delay: *delay }))
        }
        dubs => {
            let named: Vec<String> = dubs.iter().map(show::Dub::to_string).collect();
            Err(EngineError::Request(format!(
                "a live show dubs into one language, heard as it runs; not {}",
                named.join(", ")
            )))
        }
    }
}

/// The show's characters, switched by the runner.
fn load_characters(files: &[PathBuf]) -> Result<Vec<show::Character>> {
    let mut loaded: Vec<show::Character> = Vec::new();
    for file in files {
        let character = Character::load(file)?;
        if loaded.iter().any(|c| c.name == character.name) {
            let cause = format!("two characters are called `{}`", character.name);
            return Err(EngineError::invalid(file, "name", cause));
        }
        loaded.push(show::Character {
            has_voice: character.speaks(),
            animates: character.face == FaceMode::Animate,
            name: character.name,
            file: file.clone(),
            on: show::Switch::Live,
        });
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_show_plays_one_dub_heard_as_it_runs() {
        let mut options = LiveOptions::new(
            LiveSource::Test,
            crate::preset::PresetLibrary::builtin().unwrap().get("live-720p").unwrap().clone(),
        );
        options.dub = Some(LiveDub { language: "en".into(), delay: Duration::from_secs(9) });
        let mut show = describe(&options).unwrap();
        assert!(show.to_string().contains("sound: dub[en, 9 s behind] |"), "{show}");
        assert_eq!(live_dub(&show).unwrap(), options.dub);

        show.dubs.push(show::Dub { language: "es".into(), when: show::DubTiming::Scene(0.0, 4.0) });
        let err = live_dub(&show).unwrap_err().to_string();
        assert!(err.contains("one language") && err.contains("dub[es 0-4 s]"), "{err}");
    }

    #[test]
    fn element_lists_parse_and_unknown_names_are_refused() {
        let on = Elements::parse_list("faceswap, voice").unwrap();
        assert!(on.faceswap && on.voice && !on.matte && !on.facetrack);
        assert_eq!(Elements::parse_list("all,none").unwrap(), Elements::default());
        assert!(Elements::parse_list("background").unwrap().matte);
        assert!(Elements::parse_list("lip-sync").unwrap().lipsync && Elements::parse_list("all").unwrap().lipsync);
        let err = Elements::parse_list("faceswap,lipstick").unwrap_err().to_string();
        assert!(err.contains("lipstick") && err.contains("known"), "{err}");
    }
}
