// SPDX-License-Identifier: MPL-2.0
//! `reenactvoice`: real-time voice conversion towards a character's voice, with a fixed
//! latency reported through the LATENCY query.
//!
//! Classical path (`model` empty, algorithm `classical:wsola-lpc/1`): a grain pitch shifter
//! (band-limited resampling with WSOLA-aligned crossfades, `shifter.rs`) followed by an LPC
//! envelope warp in the time domain (`envelope.rs`): the shifted signal is whitened by its own
//! LPC inverse filter and resynthesised through an all-pole filter fitted to the same envelope
//! warped along frequency, which puts the formants back where they were, or moves them by
//! `formant-shift`, independently of the pitch. 4 ms blocks; 20 ms latency (one block of
//! queueing, 16 ms mean shifter delay; the envelope filters add none).
//!
//! Neural path (`model` = a catalog name, algorithm `onnx:<name>@<version>`): a
//! voice-conversion model with this signature, declared in its manifest:
//!
//! | tensor | shape | meaning |
//! |---|---|---|
//! | input `mel` | `[1, 80, frames]` float32 | log10 mel power of the 16 kHz mono input: periodic Hann window of 400 samples, 400-point FFT, hop 160, 80 Slaney-normalised triangular bands on the Slaney mel scale over 0..8000 Hz, power floored at 1e-10; frames oldest first, the newest one's window ending with the newest input sample |
//! | input `speaker` | `[1, 256]` float32 | the character's speaker embedding (`voice.embedding` of the character file), zeros without one |
//! | output `waveform` | `[1, frames * 160]` float32 | 16 kHz converted speech, 160 samples per mel frame; samples of frame `t` stand for the input around that frame's window centre |
//!
//! The element calls the model every 10 ms (one new frame) with the last 16 frames and plays
//! the newest frame's 160 samples: latency 17.5 ms (one 10 ms block of queueing, 7.5 ms from
//! the window centre to its end). The model runs on the mono downmix at 16 kHz; at another
//! rate the element resamples to it and back itself (`processor.rs`, `Bridge`: 4 ms of head
//! room each way, so 25.5 ms at 48 kHz). The manifest is checked for this signature before the
//! session opens, and the session against the manifest.
//!
//! RVC v2 path (`model` = a voice imported with `reenact models import FILE --as voice`,
//! algorithm `onnx:<voice>@<version>+<content>+<pitch> on <EP>`): the community voice runs as
//! RVC runs it (`rvc.rs`), with the first content model (ContentVec 768, `--as voice-content`)
//! and pitch model (RMVPE, `--as voice-pitch`) in the catalog. Every 100 ms the three see the
//! last 500 ms of the 16 kHz mono input: ContentVec's 50 features a second are repeated to
//! 10 ms frames, RMVPE's 128-band log-mel (HTK scale, 1024-point window, hop 160, centred)
//! gives a salience from which F0 is the weighted average of the nine bins around the peak
//! (unvoiced under 0.03) and the coarse pitch its mel-scale bin 1..255 over 50..1100 Hz, and
//! the voice (`sid` = `speaker-id`, seeded standard normal noise) speaks the last 100 ms at its
//! 40 or 48 kHz, its last frame crossfaded into the next run's where the next run's waveform
//! best continues it (searched over one frame back, as RVC's SOLA does), resampled to the
//! stream's rate (or 16 kHz). Latency 139 ms with ContentVec at 16 kHz (the 100 ms block, the
//! 10 ms crossfade, 5 ms for half the search, 4 ms of head room for the resampler, and the
//! 20 ms its 400-sample receptive field leaves short at the window's end, measured on a first
//! run over silence when the voice opens), 147 ms at 48 kHz.

use gst::glib;
use gst::prelude::*;

mod envelope;
mod imp;
mod neural;
mod processor;
mod rvc;
mod shifter;
mod tracker;

glib::wrapper! {
    /// The voice conversion element.
    pub struct ReenactVoice(ObjectSubclass<imp::ReenactVoice>)
        @extends gst_audio::AudioFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `reenactvoice`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "reenactvoice", gst::Rank::NONE, ReenactVoice::static_type())
}
