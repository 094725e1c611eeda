// SPDX-License-Identifier: MPL-2.0
/**
 * SECTION:element-reenactvoice
 *
 * Converts a performer's voice towards a character's, in real time. The classical path shifts
 * the pitch with a grain shifter (band-limited resampling of the input, Hann-windowed grains
 * whose splice points are aligned by waveform similarity, WSOLA) and then warps the spectral
 * envelope on the LPC residual: every 4 ms block the shifted signal's LPC envelope (20 ms
 * window) is fitted, the signal is whitened by the inverse filter and resynthesised through an
 * all-pole filter fitted to that envelope stretched along frequency, both as lattices whose
 * reflection coefficients glide across the block; the envelopes are smoothed along frequency
 * on the scale of the shifted harmonic spacing (50 Hz unshifted, 200 Hz an octave up), so that
 * a voice raised far keeps its period instead of ringing between its harmonics. That both
 * undoes the formant shift the resampling causes and applies `formant-shift`, so pitch and
 * formants move independently. With `model` set, a neural converter from the model catalog replaces it:
 * a model of our signature (in the `voice` module doc: log-mel + speaker embedding in, 16 kHz
 * waveform out), or an RVC v2 voice imported with `reenact models import --as voice`, run with
 * the catalog's content (ContentVec) and pitch (RMVPE) models as RVC runs it, speaker
 * `speaker-id`, its 40 or 48 kHz output resampled to 16 kHz.
 *
 * Targets: `pitch-semitones` and `formant-shift`. When `character` names a character file
 * with a voice profile and `auto` is true (the default), the profile drives the shift: the
 * pitch moves from the performer's running median F0 (YIN on the input, the last 5 s of
 * voiced 20 ms frames) to the profile's `median_f0_hz`, and the formants by the geometric mean
 * of the profile's F1..F3 over the performer's running medians (over a neutral tract, 500 /
 * 1500 / 2500 Hz, until the performer has been measured); this shift glides with a 0.3 s time
 * constant. `pitch-semitones` is then added to it and `formant-shift` multiplied with it, so
 * they trim the profile; with `auto` false or no profile they are the whole shift. The result
 * is clamped to ±24 semitones and 0.5..2.
 *
 * Caps: `audio/x-raw, format=F32LE, layout=interleaved`, 16000..48000 Hz, mono or stereo.
 * Stereo channels are processed separately with one shared shift (the performer is measured
 * on the downmix), so the stereo image stays; the neural path converts the downmix and writes
 * it to both channels. A model runs at 16 kHz: at another rate the element resamples the
 * downmix to it and the converted voice back (4 ms of head room each way), while the dry
 * signal keeps its full band; the rate must make the model's block a whole number of samples
 * (16, 24, 32, 44.1 or 48 kHz).
 *
 * Latency: fixed, reported through the LATENCY query and the `latency-ms` property: 20 ms on
 * the classical path (4 ms block queue + 16 ms mean shifter delay; grains sweep their delay
 * around that mean by up to 9 ms at an octave, less for smaller shifts), 17.5 ms
 * on the neural path (10 ms block queue + 7.5 ms from the mel window's centre to its end);
 * an RVC voice works in 100 ms blocks over a 500 ms window: 119 ms at 16 kHz (the block, a
 * 10 ms crossfade between runs, 5 ms for half the 10 ms search for where they join, and 4 ms
 * for the resampler), plus 10 ms for each frame its content model leaves short at the
 * window's end (139 ms with ContentVec; 147 ms at 48 kHz).
 * Output buffers keep the input's timestamps and sizes and carry the converted signal delayed
 * by exactly that many samples; `mix` blends it with the dry input delayed by the same amount,
 * so `mix=0` is the delayed input sample for sample. At EOS the delayed tail is pushed as one
 * last buffer. The neural model runs on the streaming thread, once per 10 ms block.
 *
 * ```bash
 * gst-launch-1.0 pulsesrc ! audioconvert ! audioresample ! audio/x-raw,format=F32LE,rate=48000,channels=1 ! reenactvoice character=lincoln.character.json mix=0.9 ! audioconvert ! autoaudiosink
 * ```
 *
 * Since: 0.1.0
 */
use std::path::Path;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_audio::subclass::prelude::*;
use gst_base::prelude::*;

use super::neural::{self, NeuralConverter};
use super::processor::{Controls, Processor, CLASSICAL_ALGORITHM, FORMANT_LIMITS, MAX_SEMITONES};
use crate::algorithm::LastRun;
use crate::character::{Character, VoiceProfile};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactvoice", gst::DebugColorFlags::empty(), Some("Reenact voice conversion"))
});

static ONNX_CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactonnx", gst::DebugColorFlags::empty(), Some("Reenact ONNX inference"))
});

// Default values of properties
const DEFAULT_AUTO: bool = true;
const DEFAULT_PITCH_SEMITONES: f64 = 0.0;
const DEFAULT_FORMANT_SHIFT: f64 = 1.0;
const DEFAULT_MIX: f64 = 1.0;
const DEFAULT_SPEAKER_ID: u32 = 0;

/// Latency of each path in ms before caps are known (exact at 16 and 48 kHz).
const NOMINAL_CLASSICAL_MS: f64 = 20.0;
const NOMINAL_NEURAL_MS: f64 = 17.5;

#[derive(Debug, Clone)]
struct Settings {
    character: Option<String>,
    auto: bool,
    pitch_semitones: f64,
    formant_shift: f64,
    mix: f64,
    model: Option<String>,
    model_dir: Option<String>,
    speaker_id: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            character: None,
            auto: DEFAULT_AUTO,
            pitch_semitones: DEFAULT_PITCH_SEMITONES,
            formant_shift: DEFAULT_FORMANT_SHIFT,
            mix: DEFAULT_MIX,
            model: None,
            model_dir: None,
            speaker_id: DEFAULT_SPEAKER_ID,
        }
    }
}

impl Settings {
    fn controls(&self) -> Controls {
        Controls { semitones: self.pitch_semitones, formant: self.formant_shift, mix: self.mix, auto: self.auto }
    }
}

#[derive(Debug)]
struct State {
    /// The character's voice profile, loaded in `start`.
    profile: Option<VoiceProfile>,
    /// The neural converter, opened in `start` when `model` is set.
    converter: Option<NeuralConverter>,
    /// Block queue, delay lines and per-channel state for the negotiated format.
    processor: Option<Processor>,
    /// What the `algorithm` property reports.
    algorithm: String,
    /// End time of the last input buffer: where the drained tail goes at EOS.
    next_pts: Option<gst::ClockTime>,
    /// Input and output samples of one buffer as f32.
    input: Vec<f32>,
    output: Vec<f32>,
}

#[derive(Debug, Default)]
pub struct ReenactVoice {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    last_run: LastRun,
}

impl ReenactVoice {
    fn settings(&self) -> Settings {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Our latency for the negotiated format, or the nominal one before negotiation.
    fn latency(&self) -> gst::ClockTime {
        let negotiated = self
            .state()
            .as_ref()
            .and_then(|s| s.processor.as_ref())
            .and_then(|p| gst::ClockTime::SECOND.mul_div_floor(p.latency() as u64, u64::from(p.rate())));
        negotiated.unwrap_or_else(|| gst::ClockTime::from_nseconds((self.latency_ms() * 1e6).round() as u64))
    }

    fn latency_ms(&self) -> f64 {
        if let Some(state) = self.state().as_ref() {
            if let Some(p) = state.processor.as_ref() {
                return p.latency() as f64 * 1000.0 / f64::from(p.rate());
            }
            if let Some(c) = state.converter.as_ref() {
                return c.latency() as f64 * 1000.0 / f64::from(neural::RATE);
            }
        }
        if self.settings().model.is_some() {
            NOMINAL_NEURAL_MS
        } else {
            NOMINAL_CLASSICAL_MS
        }
    }

    fn algorithm(&self) -> String {
        if let Some(state) = self.state().as_ref() {
            return state.algorithm.clone();
        }
        if let Some(ran) = self.last_run.get() {
            return ran;
        }
        match self.settings().model {
            Some(name) => format!("onnx:{name}"),
            None => CLASSICAL_ALGORITHM.to_owned(),
        }
    }

    /// Pushes the last `latency` samples (input followed by silence) after the last buffer.
    fn drain(&self) {
        let settings = self.settings();
        let buffer = {
            let mut guard = self.state();
            let Some(state) = guard.as_mut() else { return };
            let State { processor, converter, next_pts, .. } = state;
            let Some(processor) = processor.as_mut() else { return };
            let channels = processor.channels();
            let frames = processor.latency();
            let silence = vec![0.0f32; frames * channels];
            let mut tail = vec![0.0f32; frames * channels];
            if let Err(err) = processor.process(&silence, &mut tail, settings.controls(), converter.as_mut()) {
                gst::warning!(CAT, imp = self, "cannot drain the delayed tail: {err}");
                return;
            }
            let bytes: Vec<u8> = tail.iter().flat_map(|v| v.to_le_bytes()).collect();
            let mut buffer = gst::Buffer::from_mut_slice(bytes);
            {
                let buffer = buffer.get_mut().expect("new buffer is writable");
                buffer.set_pts(*next_pts);
                buffer.set_duration(gst::ClockTime::SECOND.mul_div_floor(frames as u64, u64::from(processor.rate())));
            }
            *next_pts = None;
            buffer
        };
        gst::debug!(CAT, imp = self, "draining {} bytes of delayed tail", buffer.size());
        if let Err(err) = self.obj().src_pad().push(buffer) {
            gst::debug!(CAT, imp = self, "tail not pushed: {err:?}");
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ReenactVoice {
    const NAME: &'static str = "GstReenactVoice";
    type Type = super::ReenactVoice;
    type ParentType = gst_audio::AudioFilter;
}

impl ObjectImpl for ReenactVoice {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("character")
                    .nick("Character")
                    .blurb("Character file (*.character.json) whose voice profile drives the shift when auto is set; read at start (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("auto")
                    .nick("Auto")
                    .blurb("Derive pitch and formant shift from the character's voice profile and the performer's measured voice; pitch-semitones and formant-shift then trim it")
                    .default_value(DEFAULT_AUTO)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("pitch-semitones")
                    .nick("Pitch semitones")
                    .blurb("Pitch shift in semitones, -24..24 (added to the profile's shift when auto and a character are set)")
                    .minimum(-MAX_SEMITONES)
                    .maximum(MAX_SEMITONES)
                    .default_value(DEFAULT_PITCH_SEMITONES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("formant-shift")
                    .nick("Formant shift")
                    .blurb("Formant frequency ratio, 0.5..2, independent of the pitch (multiplied with the profile's ratio when auto and a character are set)")
                    .minimum(FORMANT_LIMITS.0)
                    .maximum(FORMANT_LIMITS.1)
                    .default_value(DEFAULT_FORMANT_SHIFT)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("mix")
                    .nick("Mix")
                    .blurb("Share of the converted voice, 0 (the input, delayed by the latency: bypass)..1 (converted only); ramped over one buffer")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_MIX)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Catalog name of a neural voice converter; empty = the classical algorithm (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-dir")
                    .nick("Model directory")
                    .blurb("Directory searched first for model manifests (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("speaker-id")
                    .nick("Speaker id")
                    .blurb("Which of an RVC voice's speakers speaks (the `sid` it was trained with); other models ignore it (can't be changed in PLAYING or PAUSED state)")
                    .default_value(DEFAULT_SPEAKER_ID)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("algorithm")
                    .nick("Algorithm")
                    .blurb("The conversion in use, as render metadata records it: classical:wsola-lpc/1 or onnx:<name>@<version>")
                    .read_only()
                    .build(),
                glib::ParamSpecDouble::builder("latency-ms")
                    .nick("Latency")
                    .blurb("Fixed delay of the output in milliseconds, as the LATENCY query reports it")
                    .minimum(0.0)
                    .maximum(1000.0)
                    .default_value(NOMINAL_CLASSICAL_MS)
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        self.last_run.forget();
        let mut settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        match pspec.name() {
            "character" => {
                let new: Option<String> = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "character: {:?} -> {new:?}", settings.character);
                settings.character = new.filter(|path| !path.is_empty());
            }
            "auto" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "auto: {} -> {new}", settings.auto);
                settings.auto = new;
            }
            "pitch-semitones" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "pitch-semitones: {} -> {new}", settings.pitch_semitones);
                settings.pitch_semitones = new;
            }
            "formant-shift" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "formant-shift: {} -> {new}", settings.formant_shift);
                settings.formant_shift = new;
            }
            "mix" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "mix: {} -> {new}", settings.mix);
                settings.mix = new;
            }
            "model" => {
                let new: Option<String> = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "model: {:?} -> {new:?}", settings.model);
                settings.model = new.filter(|name| !name.is_empty());
            }
            "model-dir" => {
                let new: Option<String> = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "model-dir: {:?} -> {new:?}", settings.model_dir);
                settings.model_dir = new.filter(|dir| !dir.is_empty());
            }
            "speaker-id" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "speaker-id: {} -> {new}", settings.speaker_id);
                settings.speaker_id = new;
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "algorithm" => return self.algorithm().to_value(),
            "latency-ms" => return self.latency_ms().to_value(),
            _ => {}
        }
        let settings = self.settings();
        match pspec.name() {
            "character" => settings.character.to_value(),
            "auto" => settings.auto.to_value(),
            "pitch-semitones" => settings.pitch_semitones.to_value(),
            "formant-shift" => settings.formant_shift.to_value(),
            "mix" => settings.mix.to_value(),
            "model" => settings.model.to_value(),
            "model-dir" => settings.model_dir.to_value(),
            "speaker-id" => settings.speaker_id.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for ReenactVoice {}

impl ElementImpl for ReenactVoice {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Reenact voice conversion",
                "Filter/Effect/Audio",
                "Shifts pitch and formants towards a character's voice, or runs a neural converter, with a fixed latency",
                "Reenact Studio developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }
}

impl BaseTransformImpl for ReenactVoice {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let mut settings = self.settings();
        let profile = match &settings.character {
            Some(path) => {
                let character = Character::load(Path::new(path))
                    .map_err(|err| gst::error_msg!(gst::ResourceError::Settings, ["character property: {err}"]))?;
                if !character.speaks() {
                    gst::warning!(CAT, imp = self, "character {path} has no voice profile: no shift from it");
                }
                // The character's own neural voice, unless `model` names one.
                if let (None, Some(voice)) = (&settings.model, character.voice_model) {
                    gst::info!(CAT, imp = self, "character {path} speaks with {voice:?}");
                    (settings.model, settings.speaker_id) = (Some(voice.name), voice.speaker_id);
                }
                character.voice
            }
            None => None,
        };
        let converter = match &settings.model {
            Some(name) => {
                let dir = settings.model_dir.as_deref().map(Path::new);
                let catalog = reenact_models::Catalog::load_including(dir)
                    .map_err(|err| gst::error_msg!(gst::LibraryError::Settings, ["model catalog: {err}"]))?;
                let embedding = profile.as_ref().and_then(|v| v.embedding.as_ref()).map(|e| e.vector.as_slice());
                let converter = NeuralConverter::open(&catalog, name, embedding, settings.speaker_id)
                    .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ["model property: {err}"]))?;
                gst::info!(ONNX_CAT, imp = self, "voice converter ready: {converter:?}");
                Some(converter)
            }
            None => None,
        };
        let algorithm = converter.as_ref().map_or_else(|| CLASSICAL_ALGORITHM.to_owned(), NeuralConverter::algorithm);
        gst::info!(CAT, imp = self, "started: {algorithm}");
        *self.state() = Some(State {
            profile,
            converter,
            processor: None,
            algorithm,
            next_pts: None,
            input: Vec::new(),
            output: Vec::new(),
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

    fn transform_caps(
        &self,
        _direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        // Any rate of the template: the neural path resamples to the model's rate and back itself.
        let caps = caps.clone();
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
            None => caps,
        })
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStop(_) => {
                if let Some(state) = self.state().as_mut() {
                    if let Some(processor) = state.processor.as_mut() {
                        processor.reset();
                    }
                    if let Some(converter) = state.converter.as_mut() {
                        converter.reset();
                    }
                    state.next_pts = None;
                }
            }
            gst::EventView::Eos(_) => self.drain(),
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            if direction == gst::PadDirection::Src {
                let mut upstream = gst::query::Latency::new();
                if !self.obj().sink_pad().peer_query(&mut upstream) {
                    return false;
                }
                let (live, min, max) = upstream.result();
                let ours = self.latency();
                gst::debug!(
                    CAT,
                    imp = self,
                    "latency: ours {ours}, upstream live {live}, min {min}, max {}",
                    max.display()
                );
                q.set(live, min + ours, max.opt_add(ours));
                return true;
            }
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    fn transform(&self, inbuf: &gst::Buffer, outbuf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let controls = self.settings.lock().unwrap_or_else(PoisonError::into_inner).controls();
        let mut guard = self.state();
        let Some(state) = guard.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["not started"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let State { processor, converter, next_pts, input, output, .. } = state;
        let Some(processor) = processor.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps before the first buffer"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let inmap = inbuf.map_readable().map_err(|_| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["cannot read the input buffer"]);
            gst::FlowError::Error
        })?;
        let frame_bytes = 4 * processor.channels();
        if inmap.len() % frame_bytes != 0 {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ["buffer of {} bytes is not whole frames", inmap.len()]
            );
            return Err(gst::FlowError::Error);
        }
        input.clear();
        input.extend(inmap.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        drop(inmap);
        output.clear();
        output.resize(input.len(), 0.0);
        processor.process(input, output, controls, converter.as_mut()).map_err(|err| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["voice conversion failed: {err}"]);
            gst::FlowError::Error
        })?;
        let mut outmap = outbuf.map_writable().map_err(|_| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["cannot write the output buffer"]);
            gst::FlowError::Error
        })?;
        if outmap.len() != output.len() * 4 {
            gst::element_imp_error!(
                self,
                gst::StreamError::Failed,
                ["output buffer is {} bytes, expected {}", outmap.len(), output.len() * 4]
            );
            return Err(gst::FlowError::Error);
        }
        for (bytes, v) in outmap.chunks_exact_mut(4).zip(output.iter()) {
            bytes.copy_from_slice(&v.to_le_bytes());
        }
        let frames = (input.len() / processor.channels()) as u64;
        let duration =
            inbuf.duration().or_else(|| gst::ClockTime::SECOND.mul_div_floor(frames, u64::from(processor.rate())));
        *next_pts = inbuf.pts().opt_add(duration);
        gst::trace!(CAT, imp = self, "converted {frames} frames");
        Ok(gst::FlowSuccess::Ok)
    }
}

impl AudioFilterImpl for ReenactVoice {
    fn allowed_caps() -> &'static gst::Caps {
        static CAPS: LazyLock<gst::Caps> = LazyLock::new(|| {
            gst_audio::AudioCapsBuilder::new_interleaved()
                .format(gst_audio::AudioFormat::F32le)
                .rate_range(16_000..=48_000)
                .channels_range(1..=2)
                .build()
        });
        &CAPS
    }

    fn setup(&self, info: &gst_audio::AudioInfo) -> Result<(), gst::LoggableError> {
        let (rate, channels) = (info.rate(), info.channels() as usize);
        let changed = {
            let mut guard = self.state();
            let state = guard.as_mut().ok_or_else(|| gst::loggable_error!(CAT, "caps set before start"))?;
            if state.processor.as_ref().is_some_and(|p| p.rate() == rate && p.channels() == channels) {
                false
            } else {
                let processor = if let Some(converter) = state.converter.as_mut() {
                    converter.set_output_rate(rate);
                    Processor::neural(rate, channels, converter.block(), converter.latency()).ok_or_else(|| {
                        gst::loggable_error!(
                            CAT,
                            "the neural converter's {}-sample blocks at 16 kHz are not whole at {rate} Hz: resample to 16000, 32000, 44100 or 48000 Hz",
                            converter.block()
                        )
                    })?
                } else {
                    Processor::classical(rate, channels, state.profile.clone())
                };
                gst::debug!(
                    CAT,
                    imp = self,
                    "configured for {rate} Hz x {channels}: latency {} samples",
                    processor.latency()
                );
                state.processor = Some(processor);
                true
            }
        };
        if changed {
            let _ = self.obj().post_message(gst::message::Latency::builder().src(&*self.obj()).build());
        }
        Ok(())
    }
}
