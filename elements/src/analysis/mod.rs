// SPDX-License-Identifier: MPL-2.0
//! Speech analysis shared by the voice element, the lip-sync element, character creation and
//! the tests that check them: pitch (YIN), spectral envelope and formants (LPC), and the
//! speaker embedding (log-mel front end + the d-vector model). No GStreamer here.

pub mod lpc;
pub mod mel;
pub mod pitch;
pub mod speaker;

use crate::character::VoiceProfile;

/// Pitch, formants and voiced duration of a speech sample (mono, `rate` Hz); no embedding.
/// `None` when fewer than half a second of it is voiced.
pub fn voice_profile(samples: &[f32], rate: u32) -> Option<VoiceProfile> {
    let track = pitch::f0_track(samples, rate, &pitch::PitchParams::default());
    let f0 = pitch::folded_f0(track.frames.iter().filter_map(|f| *f).collect());
    let voiced_seconds = f0.len() as f32 * track.hop as f32 / rate as f32;
    if voiced_seconds < 0.5 {
        return None;
    }
    let pct = |p: f32| f0[((f0.len() - 1) as f32 * p).round() as usize];
    let formants = lpc::median_formants(samples, rate, &track);
    Some(VoiceProfile {
        median_f0_hz: pct(0.5),
        f0_range_hz: [pct(0.1), pct(0.9)],
        formants_hz: formants,
        voiced_seconds,
        embedding: None,
        rights: None,
    })
}
