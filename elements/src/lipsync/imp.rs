// SPDX-License-Identifier: MPL-2.0
/**
 * SECTION:element-reenactlipsync
 *
 * Moves a mouth to speech. The element has two sink pads, `video_sink` (the frames to draw
 * on) and `audio_sink` (the speech), and one `src` pad with the video: the audio is analysed,
 * not passed on, so link it to its own output through a `tee`.
 *
 * `mode=face` (the default) moves the mouths of the faces that `reenactfacetrack` found
 * upstream (the `GstReenactFaceMeta` of each frame; `track-id` picks one face, 0 all);
 * frames without a face meta pass through. `mode=portrait` draws the character portrait of
 * `character` into every frame instead, scaled to fit the negotiated size (aspect kept, black
 * around it), and moves its mouth: a talking portrait for voice-over lines. The video input
 * then only paces the output (size, format and timestamps; e.g. `videotestsrc`).
 *
 * Audio analysis (any rate, S16LE or F32LE, mono or stereo; mixed down and resampled to 16
 * kHz inside), every 10 ms: the mouth opens with the voice-band level relative to the running
 * speech peak and spreads or rounds with the balance of high and low formants; it is smoothed
 * with `smoothing` as the release time constant and a quarter of it (at most 15 ms) as the
 * attack, and it closes exactly in silence, leaving the picture untouched.
 *
 * Classical path (`algorithm` = `classical:mouth-warp/1`): the lower lip and jaw move down by
 * the opening times 10 % of the face height (times `strength`, at most 12 %), the upper lip up
 * by a fifth of that, the corners out or in by up to 8 % of the mouth width; the skin around
 * follows with smooth fall-offs and the gap between the inner lips shows a dark mouth with a
 * band of upper teeth. Everything is confined to a feathered ellipse around the mouth
 * (centred 0.10 face heights below the corners' midpoint, semi-axes 1.0 mouth width along the
 * corner line and 0.32 face heights across it): no pixel outside it changes.
 *
 * Neural path (`model` set, `algorithm` = `onnx:<name>@<version>`): a lip-sync model from the
 * model catalog (`model-dir` is searched first) with the Wav2Lip signature, face crop
 * [1, 6, 96, 96] (lower half masked + reference, BGR 0..1) and mel window [1, 1, 80, 16] in,
 * face crop [1, 3, 96, 96] out, pasted into the same feathered mouth region. A model with any
 * other signature fails at start with an error naming the model and the input.
 *
 * Sync and latency: the frame at running time `t` shows the mouth for the audio around its
 * middle (`t` + half a frame, at most 20 ms, plus the attack's lag up to 10 ms), so the
 * element waits for the audio up to `t + latency` before it outputs the frame and reports that
 * latency in the LATENCY query (added to upstream's): 50 ms on the classical path (30 ms of
 * look-ahead, 10 ms half analysis window, 10 ms to the next hop), 140 ms on the neural path
 * (the mel window reaches 107.5 ms past the frame, plus half an STFT window). In live
 * pipelines a frame whose audio is late is drawn with the audio there is when the aggregator's
 * deadline passes; in other pipelines both pads must be fed (the audio may start late or end
 * early: the mouth is closed where there is none). Output timestamps are running times (the
 * video's, for a segment starting at 0). When the video ends first, EOS goes downstream at once
 * and the rest of the audio is drained, so a `tee` feeding the audio is never stopped early.
 * With `active=false` frames pass unchanged at once, whether sound is queued or not, and the
 * element reports no latency; the change posts a LATENCY message, so a live graph keeps the
 * element linked and switches it while playing at the cost of the latency only while it is on.
 * On the classical path a 720p frame costs about 1.5 ms of one CPU thread with a face 130 px
 * wide and under 4 ms for a close-up or a portrait filling the frame's height, the mouth open
 * (`examples/lipsync_bench.rs`).
 *
 * Caps: video `RGBA`, `BGRA`, `RGBx`, `BGRx`, `RGB`, `BGR`, any size and rate, the same on
 * `video_sink` and `src`.
 *
 * ```bash
 * gst-launch-1.0 filesrc location=voice-over.wav ! decodebin ! audioconvert ! tee name=t \
 *   t. ! queue ! audioconvert ! autoaudiosink \
 *   t. ! queue ! ls.audio_sink \
 *   videotestsrc pattern=black ! video/x-raw,format=RGBA,width=1280,height=720,framerate=25/1 ! queue ! ls.video_sink \
 *   reenactlipsync name=ls mode=portrait character=lincoln.character.json ! videoconvert ! autovideosink
 * ```
 *
 * Since: 0.1.0
 */
use std::path::Path;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use super::audio::{AudioTimeline, InputFormat, SampleFormat};
use super::features::{Mouth, Smoothing, SpeechFeatures};
use super::image::{FrameMut, Layout, ScaledPortrait};
use super::mel::{self, MelWindow};
use super::neural::NeuralLipSync;
use super::warp::MouthWarp;
use super::ReenactLipSyncMode;
use crate::algorithm::LastRun;
use crate::character::{Character, RgbaImage};
use crate::facemeta::{FaceMeta, LANDMARK_COUNT};
use crate::frame::PACKED_RGB_FORMATS as FORMATS;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactlipsync", gst::DebugColorFlags::empty(), Some("Reenact lip sync"))
});

static ONNX_CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactonnx", gst::DebugColorFlags::empty(), Some("Reenact ONNX inference"))
});

/// `algorithm` of the classical path.
const CLASSICAL_ALGORITHM: &str = "classical:mouth-warp/1";

// Default values of properties
const DEFAULT_MODE: ReenactLipSyncMode = ReenactLipSyncMode::Face;
const DEFAULT_STRENGTH: f64 = 1.0;
const MAX_STRENGTH: f64 = 2.0;
const DEFAULT_SMOOTHING_MS: f64 = 60.0;
const MAX_SMOOTHING_MS: f64 = 1000.0;
/// Track ids start at 1 (as in `reenactfaceswap`), so 0 means every face.
const DEFAULT_TRACK_ID: u32 = 0;
const DEFAULT_ACTIVE: bool = true;

/// Audio needed past a frame's running time before it is drawn: the latency of each path.
const CLASSICAL_LATENCY: gst::ClockTime = gst::ClockTime::from_mseconds(50);
const NEURAL_LATENCY: gst::ClockTime = gst::ClockTime::from_mseconds(140);

/// Where in a frame's display interval its mouth is taken: the middle, at most this far in.
const MAX_FRAME_CENTRE: gst::ClockTime = gst::ClockTime::from_mseconds(20);

/// Longest shift compensating the attack's lag.
const MAX_ATTACK_LEAD_MS: f64 = 10.0;

/// The mel window starts this long before the frame (Wav2Lip's training alignment).
const MEL_LEAD: gst::ClockTime = gst::ClockTime::from_mseconds(80);

/// Audio kept behind the current frame, seconds.
const KEEP_BEHIND_S: f64 = 0.5;

#[derive(Debug, Clone)]
struct Settings {
    character: Option<String>,
    mode: ReenactLipSyncMode,
    model: Option<String>,
    model_dir: Option<String>,
    strength: f64,
    smoothing_ms: f64,
    track_id: u32,
    active: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            character: None,
            mode: DEFAULT_MODE,
            model: None,
            model_dir: None,
            strength: DEFAULT_STRENGTH,
            smoothing_ms: DEFAULT_SMOOTHING_MS,
            track_id: DEFAULT_TRACK_ID,
            active: DEFAULT_ACTIVE,
        }
    }
}

impl Settings {
    /// `algorithm` as far as the settings tell (the model version is known once started).
    fn algorithm(&self) -> String {
        match &self.model {
            Some(model) => format!("onnx:{model}"),
            None => CLASSICAL_ALGORITHM.to_owned(),
        }
    }
}

/// The negotiated video.
#[derive(Debug)]
struct Video {
    /// The caps as received, given to downstream unchanged.
    caps: gst::Caps,
    info: gst_video::VideoInfo,
    layout: Layout,
}

#[derive(Debug)]
struct State {
    /// The character portrait and its landmarks, when `character` is set.
    portrait: Option<(RgbaImage, Vec<[f32; 3]>)>,
    /// The portrait scaled into the negotiated frame (mode portrait), built on first use.
    scaled: Option<ScaledPortrait>,
    /// The lip-sync model when `model` is set.
    neural: Option<NeuralLipSync>,
    /// What `algorithm` reports.
    algorithm: String,
    /// Audio needed past each frame (the latency reported).
    latency: gst::ClockTime,
    /// The negotiated video; `None` before its caps.
    video: Option<Video>,
    /// The speech stream.
    audio: AudioTimeline,
    /// Mouth poses from the speech.
    features: SpeechFeatures,
    /// Mel front end of the neural path.
    mel: MelWindow,
    /// The current mel window, reused.
    mel_window: Vec<f32>,
    /// The classical warp and its buffers.
    warp: MouthWarp,
    /// Landmarks of the current face in frame pixels, reused.
    landmarks: Vec<[f32; 3]>,
    /// Frames output.
    frames: u64,
    /// Whether EOS went downstream while the audio still runs.
    eos_sent: bool,
}

impl State {
    /// The mouth for a frame at running time `rt` lasting `duration`.
    fn mouth_at(&self, rt: gst::ClockTime, duration: Option<gst::ClockTime>, smoothing_ms: f64) -> Mouth {
        let centre = duration.map_or(MAX_FRAME_CENTRE, |d| (d / 2).min(MAX_FRAME_CENTRE));
        let attack = Smoothing::attack_ms(smoothing_ms).min(MAX_ATTACK_LEAD_MS);
        let t = rt + centre + gst::ClockTime::from_nseconds((attack * 1e6) as u64);
        self.audio.position(t.nseconds()).map_or_else(Mouth::default, |pos| self.features.at(pos))
    }

    /// Fills `mel_window` for the frame at running time `rt`.
    fn mel_for(&mut self, rt: gst::ClockTime) {
        let start = rt.nseconds() as f64 - MEL_LEAD.nseconds() as f64;
        let first = match self.audio.origin() {
            Some(origin) => {
                let pos = (start - origin as f64) * f64::from(super::audio::RATE) / 1e9;
                (pos / mel::HOP as f64).round() as i64
            }
            // No audio yet: a window far before any sample, silent.
            None => -(1 << 40),
        };
        self.mel.compute(&self.audio, first, &mut self.mel_window);
    }

    /// Forgets audio more than [`KEEP_BEHIND_S`] behind running time `rt`.
    fn trim(&mut self, rt: gst::ClockTime) {
        let Some(pos) = self.audio.position(rt.nseconds()) else { return };
        let behind = pos - KEEP_BEHIND_S * f64::from(super::audio::RATE);
        self.features.trim_before(behind);
        let keep = (behind as i64).min(self.features.needed_from());
        if keep > 0 {
            self.audio.trim_before(keep as u64);
        }
    }
}

#[derive(Debug)]
pub struct ReenactLipSync {
    video_pad: gst_base::AggregatorPad,
    audio_pad: gst_base::AggregatorPad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    last_run: LastRun,
}

impl ReenactLipSync {
    fn settings(&self) -> Settings {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Running time of the head video buffer, if any.
    /// Reports the latency of the path in use while active, none while not; the aggregator
    /// posts a LATENCY message when it changes, so a playing pipeline takes it up.
    fn announce_latency(&self) {
        let active = self.settings().active;
        let Some(latency) = self.state().as_ref().map(|state| state.latency) else { return };
        let reported = if active { latency } else { gst::ClockTime::ZERO };
        self.obj().set_latency(reported, Some(reported));
    }

    fn video_head_time(&self) -> Option<gst::ClockTime> {
        let buffer = self.video_pad.peek_buffer()?;
        running_time(&self.video_pad, buffer.pts())
    }

    /// Moves queued audio into the analysis until it covers running time `need`.
    fn pull_audio(&self, state: &mut State, need: gst::ClockTime, smoothing_ms: f64) {
        while state.audio.covered_until().is_none_or(|covered| covered < need.nseconds()) {
            let Some(buffer) = self.audio_pad.pop_buffer() else { break };
            let rt = running_time(&self.audio_pad, buffer.pts()).map(gst::ClockTime::nseconds);
            if buffer.flags().contains(gst::BufferFlags::GAP) && buffer.size() == 0 {
                if let Some(duration) = buffer.duration() {
                    state.audio.push_gap(rt, duration.nseconds());
                }
                continue;
            }
            let Ok(map) = buffer.map_readable() else {
                gst::warning!(CAT, imp = self, "cannot read an audio buffer; skipped");
                continue;
            };
            state.audio.push(rt, &map);
        }
        state.features.update(&state.audio, Smoothing::from_release_ms(smoothing_ms));
    }

    /// The video ended: EOS downstream at once, the rest of the audio drained, EOS for good
    /// when the audio ends too (so a `tee` feeding the audio is never stopped early).
    fn video_ended(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        while self.audio_pad.pop_buffer().is_some() {}
        if self.audio_pad.is_eos() {
            return Err(gst::FlowError::Eos);
        }
        let send = {
            let mut guard = self.state();
            match guard.as_mut() {
                Some(state) if state.frames > 0 && !state.eos_sent => {
                    state.eos_sent = true;
                    true
                }
                Some(state) if state.frames > 0 => false,
                // Nothing went out: the base class must send the stream's first events with EOS.
                _ => return Err(gst::FlowError::Eos),
            }
        };
        if send {
            gst::debug!(CAT, imp = self, "video ended, draining the audio");
            self.obj().src_pad().push_event(gst::event::Eos::new());
        }
        Err(gst_base::AGGREGATOR_FLOW_NEED_DATA)
    }

    /// Draws the mouth(s) for `mouth` into the frame `buffer`; returns the output buffer.
    fn render(
        &self,
        state: &mut State,
        settings: &Settings,
        buffer: gst::Buffer,
        rt: gst::ClockTime,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let Some(video) = state.video.as_ref() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no video caps before the first frame"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let (info, layout) = (video.info.clone(), video.layout);
        let duration = buffer.duration().or_else(|| {
            let fps = info.fps();
            (fps.numer() > 0).then(|| gst::ClockTime::SECOND.mul_div_floor(fps.denom() as u64, fps.numer() as u64))?
        });
        let mouth = state.mouth_at(rt, duration, settings.smoothing_ms);
        if state.neural.is_some() {
            state.mel_for(rt);
        }
        let strength = settings.strength as f32;
        gst::log!(CAT, imp = self, "frame at {rt}: {mouth:?}");

        let (mut out, faces) = match settings.mode {
            ReenactLipSyncMode::Portrait => {
                let out = if buffer.is_writable() && buffer.size() >= info.size() {
                    buffer
                } else {
                    let mut fresh = gst::Buffer::with_size(info.size()).map_err(|_| gst::FlowError::Error)?;
                    {
                        let fresh = fresh.get_mut().expect("new buffer is writable");
                        fresh.set_pts(buffer.pts());
                        fresh.set_duration(buffer.duration());
                        fresh.set_flags(buffer.flags() & !gst::BufferFlags::GAP);
                    }
                    fresh
                };
                (out, Vec::new())
            }
            ReenactLipSyncMode::Face => {
                let faces: Vec<Vec<[f32; 3]>> = match buffer.meta::<FaceMeta>() {
                    Some(meta) => {
                        let (sx, sy) = (
                            if meta.width() > 0 { info.width() as f32 / meta.width() as f32 } else { 1.0 },
                            if meta.height() > 0 { info.height() as f32 / meta.height() as f32 } else { 1.0 },
                        );
                        meta.faces()
                            .iter()
                            .filter(|f| settings.track_id == 0 || f.track_id == settings.track_id)
                            .filter(|f| f.landmarks.len() == LANDMARK_COUNT)
                            .map(|f| f.landmarks.iter().map(|p| [p[0] * sx, p[1] * sy, p[2] * sx]).collect())
                            .collect()
                    }
                    None => Vec::new(),
                };
                (buffer, faces)
            }
        };
        let portrait_mode = settings.mode == ReenactLipSyncMode::Portrait;
        if !portrait_mode && (faces.is_empty() || (mouth.is_closed() && state.neural.is_none())) {
            return Ok(stamped(out, rt));
        }
        if portrait_mode {
            let fits = state.scaled.as_ref().is_some_and(|s| {
                (s.width, s.height, s.layout) == (info.width() as usize, info.height() as usize, layout)
            });
            if !fits {
                let Some((image, landmarks)) = state.portrait.as_ref() else {
                    gst::element_imp_error!(self, gst::CoreError::Failed, ["mode portrait without a portrait"]);
                    return Err(gst::FlowError::Error);
                };
                state.scaled =
                    Some(ScaledPortrait::new(image, landmarks, info.width() as usize, info.height() as usize, layout));
                gst::debug!(CAT, imp = self, "portrait scaled into {}x{}", info.width(), info.height());
            }
        }

        let buf = out.make_mut();
        let (width, height) = (info.width() as usize, info.height() as usize);
        let written = crate::frame::write_packed(&*self.obj(), buf, &info, layout, |data, stride| {
            let mut frame = FrameMut { data, width, height, stride, layout };
            let State { scaled, neural, warp, mel_window, landmarks, .. } = state;
            let drawn = if let (true, Some(portrait)) = (portrait_mode, scaled.as_ref()) {
                portrait.copy_into(&mut frame);
                match neural.as_mut() {
                    Some(neural) => neural.apply(&mut frame, Some(portrait.picture()), &portrait.landmarks, mel_window),
                    None => Ok(warp.apply(&mut frame, Some(portrait.picture()), &portrait.landmarks, mouth, strength)),
                }
            } else {
                faces.iter().try_fold(0, |written, face| {
                    landmarks.clear();
                    landmarks.extend_from_slice(face);
                    let n = match neural.as_mut() {
                        Some(neural) => neural.apply(&mut frame, None, landmarks, mel_window)?,
                        None => warp.apply(&mut frame, None, landmarks, mouth, strength),
                    };
                    Ok(written + n)
                })
            };
            drawn.map_err(|err| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["lip-sync model failed: {err}"]);
                gst::FlowError::Error
            })
        })?;
        gst::log!(CAT, imp = self, "{written} pixels drawn");
        Ok(stamped(out, rt))
    }
}

/// `buffer` with its PTS set to the running time `rt`.
fn stamped(mut buffer: gst::Buffer, rt: gst::ClockTime) -> gst::Buffer {
    if buffer.pts() != Some(rt) {
        buffer.make_mut().set_pts(rt);
    }
    buffer
}

/// Running time of `pts` in `pad`'s segment.
fn running_time(pad: &gst_base::AggregatorPad, pts: Option<gst::ClockTime>) -> Option<gst::ClockTime> {
    let segment = pad.segment();
    let segment = segment.downcast_ref::<gst::ClockTime>()?;
    segment.to_running_time(pts?)
}

/// `value` as an optional string, empty meaning unset.
fn optional_string(value: &glib::Value) -> Option<String> {
    value.get::<Option<String>>().expect("type checked upstream").filter(|s| !s.is_empty())
}

#[glib::object_subclass]
impl ObjectSubclass for ReenactLipSync {
    const NAME: &'static str = "GstReenactLipSync";
    type Type = super::ReenactLipSync;
    type ParentType = gst_base::Aggregator;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("video_sink").expect("video_sink template");
        // Caps queries on the video pad are answered by downstream: the frames go out as they came.
        let video_pad =
            gst::PadBuilder::<gst_base::AggregatorPad>::from_template(&templ).flags(gst::PadFlags::PROXY_CAPS).build();
        let templ = klass.pad_template("audio_sink").expect("audio_sink template");
        let audio_pad = gst::PadBuilder::<gst_base::AggregatorPad>::from_template(&templ).build();
        Self { video_pad, audio_pad, settings: Mutex::default(), state: Mutex::default(), last_run: LastRun::default() }
    }
}

impl ObjectImpl for ReenactLipSync {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("character")
                    .nick("Character")
                    .blurb("Character file (*.character.json) whose portrait talks in mode portrait (required there), read at start (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("mode", DEFAULT_MODE)
                    .nick("Mode")
                    .blurb("Whose mouth moves: the tracked faces of the video (face) or the character portrait (portrait) (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Catalog name of an ONNX lip-sync model (face [1,6,96,96] + mel [1,1,80,16] -> face [1,3,96,96]); unset = classical mouth warp (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-dir")
                    .nick("Model directory")
                    .blurb("Directory with MANIFEST*.toml files searched before the model catalog's own (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("strength")
                    .nick("Strength")
                    .blurb("Gain on the mouth movement, 0 (still)..2 (exaggerated); classical path")
                    .minimum(0.0)
                    .maximum(MAX_STRENGTH)
                    .default_value(DEFAULT_STRENGTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("smoothing")
                    .nick("Smoothing")
                    .blurb("Time constant of the mouth closing in ms, 0..1000; the opening uses a quarter of it, at most 15 ms")
                    .minimum(0.0)
                    .maximum(MAX_SMOOTHING_MS)
                    .default_value(DEFAULT_SMOOTHING_MS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("track-id")
                    .nick("Track id")
                    .blurb("Move only the mouth of the face with this track id, 0 = every face (mode face)")
                    .default_value(DEFAULT_TRACK_ID)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("active")
                    .nick("Active")
                    .blurb("Move the mouth; when false frames pass unchanged at once and the element reports no latency, so a live graph can keep it linked and switch it while playing")
                    .default_value(DEFAULT_ACTIVE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("algorithm")
                    .nick("Algorithm")
                    .blurb("What moves the mouth, for render metadata: classical:mouth-warp/1 or onnx:<name>@<version> (the version once started)")
                    .default_value(Some(CLASSICAL_ALGORITHM))
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.video_pad).expect("add video_sink");
        obj.add_pad(&self.audio_pad).expect("add audio_sink");
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        self.last_run.forget();
        let mut settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        match pspec.name() {
            "character" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "character: {:?} -> {new:?}", settings.character);
                settings.character = new;
            }
            "mode" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "mode: {:?} -> {new:?}", settings.mode);
                settings.mode = new;
            }
            "model" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "model: {:?} -> {new:?}", settings.model);
                settings.model = new;
            }
            "model-dir" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "model-dir: {:?} -> {new:?}", settings.model_dir);
                settings.model_dir = new;
            }
            "strength" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "strength: {} -> {new}", settings.strength);
                settings.strength = new;
            }
            "smoothing" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "smoothing: {} -> {new} ms", settings.smoothing_ms);
                settings.smoothing_ms = new;
            }
            "track-id" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "track-id: {} -> {new}", settings.track_id);
                settings.track_id = new;
            }
            "active" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "active: {} -> {new}", settings.active);
                settings.active = new;
                drop(settings);
                self.announce_latency();
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "algorithm" {
            // State first, then settings: never both locks at once.
            let started = self.state().as_ref().map(|state| state.algorithm.clone());
            let ran = started.or_else(|| self.last_run.get());
            return ran.unwrap_or_else(|| self.settings().algorithm()).to_value();
        }
        let settings = self.settings();
        match pspec.name() {
            "character" => settings.character.to_value(),
            "mode" => settings.mode.to_value(),
            "model" => settings.model.to_value(),
            "model-dir" => settings.model_dir.to_value(),
            "strength" => settings.strength.to_value(),
            "smoothing" => settings.smoothing_ms.to_value(),
            "track-id" => settings.track_id.to_value(),
            "active" => settings.active.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for ReenactLipSync {}

impl ElementImpl for ReenactLipSync {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Reenact lip sync",
                "Filter/Effect/Video",
                "Moves the mouth of a tracked face or of a character portrait to speech audio",
                "Reenact Studio developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let video = gst_video::VideoCapsBuilder::new().format_list(FORMATS.iter().map(|f| f.0)).build();
            let audio = gst_audio::AudioCapsBuilder::new_interleaved()
                .format_list([gst_audio::AudioFormat::S16le, gst_audio::AudioFormat::F32le])
                .channels_range(1..=2)
                .build();
            let pad = gst_base::AggregatorPad::static_type();
            vec![
                gst::PadTemplate::with_gtype("src", gst::PadDirection::Src, gst::PadPresence::Always, &video, pad)
                    .expect("valid src template"),
                gst::PadTemplate::with_gtype(
                    "video_sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &video,
                    pad,
                )
                .expect("valid video_sink template"),
                gst::PadTemplate::with_gtype(
                    "audio_sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &audio,
                    pad,
                )
                .expect("valid audio_sink template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl AggregatorImpl for ReenactLipSync {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings();
        let portrait = match settings.character.as_deref() {
            Some(path) => {
                let character = Character::load(Path::new(path))
                    .map_err(|err| gst::error_msg!(gst::ResourceError::OpenRead, ["{err}"]))?;
                let image = character
                    .portrait_image()
                    .map_err(|err| gst::error_msg!(gst::ResourceError::OpenRead, ["character file {path}: {err}"]))?;
                gst::debug!(
                    CAT,
                    imp = self,
                    "character `{}`: {}x{} portrait",
                    character.name,
                    image.width,
                    image.height
                );
                Some((image, character.portrait.landmarks))
            }
            None if settings.mode == ReenactLipSyncMode::Portrait => {
                return Err(gst::error_msg!(
                    gst::ResourceError::NotFound,
                    ["the character property must be set in mode portrait"]
                ));
            }
            None => None,
        };
        let neural = match &settings.model {
            Some(model) => {
                let catalog = reenact_models::Catalog::load_including(settings.model_dir.as_deref().map(Path::new))
                    .map_err(|err| gst::error_msg!(gst::LibraryError::Settings, ["model catalog: {err}"]))?;
                let neural = NeuralLipSync::open(&catalog, model, 1)
                    .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ["model {model}: {err}"]))?;
                gst::info!(ONNX_CAT, imp = self, "lip-sync model ready: {neural:?}");
                Some(neural)
            }
            None => None,
        };
        let latency = if neural.is_some() { NEURAL_LATENCY } else { CLASSICAL_LATENCY };
        let algorithm = neural.as_ref().map_or_else(|| CLASSICAL_ALGORITHM.to_owned(), |n| n.algorithm().to_owned());
        gst::info!(CAT, imp = self, "{:?} mode with {algorithm}, latency {latency}", settings.mode);
        let reported = if settings.active { latency } else { gst::ClockTime::ZERO };
        self.obj().set_latency(reported, Some(reported));
        *self.state() = Some(State {
            portrait,
            scaled: None,
            neural,
            algorithm,
            latency,
            video: None,
            audio: AudioTimeline::default(),
            features: SpeechFeatures::new(),
            mel: MelWindow::new(),
            mel_window: Vec::new(),
            warp: MouthWarp::default(),
            landmarks: Vec::with_capacity(LANDMARK_COUNT),
            frames: 0,
            eos_sent: false,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(state) = self.state().take() {
            self.last_run.set(state.algorithm);
        }
        gst::debug!(CAT, imp = self, "stopped");
        Ok(())
    }

    fn flush(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        if let Some(state) = self.state().as_mut() {
            state.audio.reset();
            state.features.reset(state.audio.generation());
            state.eos_sent = false;
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
        let gst::EventView::Caps(c) = event.view() else {
            return self.parent_sink_event(pad, event);
        };
        let caps = c.caps_owned();
        let mut guard = self.state();
        let Some(state) = guard.as_mut() else { return false };
        if pad == &self.video_pad {
            let Ok(info) = gst_video::VideoInfo::from_caps(&caps) else {
                gst::warning!(CAT, imp = self, "cannot parse video caps {caps}");
                return false;
            };
            let Some(&(_, pixel_stride, rgb)) = FORMATS.iter().find(|f| f.0 == info.format()) else {
                gst::warning!(CAT, imp = self, "unsupported video format {:?}", info.format());
                return false;
            };
            gst::debug!(CAT, imp = self, "video caps {caps}");
            state.video = Some(Video { caps, info, layout: Layout { pixel_stride, rgb } });
            state.scaled = None;
            drop(guard);
            self.obj().src_pad().mark_reconfigure();
            true
        } else {
            let Ok(info) = gst_audio::AudioInfo::from_caps(&caps) else {
                gst::warning!(CAT, imp = self, "cannot parse audio caps {caps}");
                return false;
            };
            let format = match info.format() {
                gst_audio::AudioFormat::S16le => SampleFormat::S16,
                gst_audio::AudioFormat::F32le => SampleFormat::F32,
                other => {
                    gst::warning!(CAT, imp = self, "unsupported audio format {other:?}");
                    return false;
                }
            };
            gst::debug!(CAT, imp = self, "audio caps {caps}");
            state.audio.set_format(InputFormat { format, rate: info.rate(), channels: info.channels() as usize });
            true
        }
    }

    fn src_query(&self, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Caps(q) = query.view_mut() {
            // The output is the video: what upstream of the video pad can give.
            let template = self.obj().src_pad().pad_template_caps();
            let filter = q.filter_owned();
            let filtered = match &filter {
                Some(f) => f.intersect_with_mode(&template, gst::CapsIntersectMode::First),
                None => template,
            };
            let caps = self.video_pad.peer_query_caps(Some(&filtered));
            q.set_result(&caps);
            return true;
        }
        self.parent_src_query(query)
    }

    fn update_src_caps(&self, caps: &gst::Caps) -> Result<gst::Caps, gst::FlowError> {
        let video = self.state().as_ref().and_then(|s| s.video.as_ref().map(|v| v.caps.clone()));
        let Some(video) = video else { return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA) };
        if caps.can_intersect(&video) {
            Ok(video)
        } else {
            gst::warning!(CAT, imp = self, "downstream ({caps}) does not take the video ({video})");
            Err(gst::FlowError::NotNegotiated)
        }
    }

    /// When the next frame is due. In a live pipeline the aggregator holds a frame until sound
    /// is queued too or this time plus the latency has passed. Off, a frame needs no sound, so
    /// it is due from the stream's start: once the show has run for its latency, each frame
    /// goes as it comes. Otherwise a live graph whose sound comes later than its pictures (a
    /// voice converter's blocks, a browser's jitter buffer) would hold them for it.
    fn next_time(&self) -> Option<gst::ClockTime> {
        let head = self.video_head_time()?;
        if self.settings().active {
            Some(head)
        } else {
            Some(gst::ClockTime::ZERO)
        }
    }

    fn aggregate(&self, timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings();
        let Some(buffer) = self.video_pad.peek_buffer() else {
            if self.video_pad.is_eos() {
                return self.video_ended();
            }
            // Timed out without a frame: nothing to show yet.
            return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA);
        };
        let Some(rt) = running_time(&self.video_pad, buffer.pts()) else {
            gst::debug!(CAT, imp = self, "frame at {} outside the segment: dropped", buffer.pts().display());
            self.video_pad.drop_buffer();
            return Ok(gst::FlowSuccess::Ok);
        };
        let out = {
            let mut guard = self.state();
            let Some(state) = guard.as_mut() else {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ["not started"]);
                return Err(gst::FlowError::NotNegotiated);
            };
            let need = rt + if settings.active { state.latency } else { gst::ClockTime::ZERO };
            self.pull_audio(state, need, settings.smoothing_ms);
            let covered = state.audio.covered_until().is_some_and(|c| c >= need.nseconds());
            if !settings.active {
                // Off: the frame goes at once; the audio read above keeps the timeline short.
                let Some(buffer) = self.video_pad.pop_buffer() else { return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA) };
                state.trim(rt);
                stamped(buffer, rt)
            } else {
                if !covered && !timeout && !self.audio_pad.is_eos() {
                    gst::trace!(CAT, imp = self, "frame at {rt} waits for audio up to {need}");
                    return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA);
                }
                if !covered {
                    gst::debug!(CAT, imp = self, "frame at {rt}: audio only up to {:?}", state.audio.covered_until());
                }
                let Some(buffer) = self.video_pad.pop_buffer() else { return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA) };
                let out = self.render(state, &settings, buffer, rt)?;
                state.frames += 1;
                state.trim(rt);
                out
            }
        };
        self.obj().selected_samples(out.pts(), None, out.duration(), None);
        // A malformed duration from upstream must not abort the process on overflow.
        if let Some(end) = out.pts().zip(out.duration()).and_then(|(p, d)| p.checked_add(d)).or(out.pts()) {
            self.obj().set_position(end);
        }
        self.obj().finish_buffer(out)
    }
}
