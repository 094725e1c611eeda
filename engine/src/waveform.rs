// SPDX-License-Identifier: MPL-2.0
//! A media file's audio as a peak envelope, for drawing waveforms on a timeline.
//!
//! Graph: `filesrc ! parsebin`; the first audio stream goes on through `decodebin !
//! audioconvert ! audioresample ! audio/x-raw,format=F32LE,layout=interleaved ! appsink`, any
//! other stream (video above all) into a `fakesink` still encoded: only the sound is decoded.
//! Each peak is the largest absolute sample value over all channels within its interval, so
//! a loud left channel shows even where a mono downmix would cancel it. Peaks sit on the
//! file's stream time: peak `i` covers `[i, i + 1) / peaks_per_second` seconds.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gst::prelude::*;
use serde::{Deserialize, Serialize};

use crate::blocks::{caps_filter, drain, route_decoded_pads, Stream};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::media;
use crate::render::run::{run, Position, Watch};
use crate::render::{CancelToken, Progress};

/// Peaks per second of media, for media up to [`MAX_PEAKS`] / 100 s long.
pub const PEAKS_PER_SECOND: f64 = 100.0;

/// Most peaks one waveform holds; longer media get fewer peaks per second.
pub const MAX_PEAKS: usize = 20_000;

/// Fail when decoding makes no progress for this long.
const STALL: Duration = Duration::from_secs(60);

/// The peak envelope of a file's sound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waveform {
    /// Length of the media as discovery measured it, in seconds.
    pub duration_s: f64,
    /// How many peaks cover one second: [`PEAKS_PER_SECOND`], or fewer for long media.
    pub peaks_per_second: f64,
    /// False for media without an audio stream: `peaks` is then empty.
    pub has_audio: bool,
    /// Sample rate of the decoded audio (0 without audio).
    pub sample_rate: u32,
    /// Channels of the decoded audio (0 without audio).
    pub channels: u32,
    /// Largest absolute sample value per interval, 0.0 (silence) to 1.0 (full scale), rounded
    /// to four places; `ceil(duration_s × peaks_per_second)` of them.
    pub peaks: Vec<f32>,
}

/// Peaks per second for media `duration_s` long: [`PEAKS_PER_SECOND`], lowered so that no
/// waveform has more than [`MAX_PEAKS`].
pub fn peaks_per_second(duration_s: f64) -> f64 {
    if duration_s.is_finite() && duration_s * PEAKS_PER_SECOND > MAX_PEAKS as f64 {
        MAX_PEAKS as f64 / duration_s
    } else {
        PEAKS_PER_SECOND
    }
}

/// How many peaks cover `duration_s` at `rate` per second.
fn peak_count(duration_s: f64, rate: f64) -> usize {
    if !(duration_s.is_finite() && duration_s > 0.0) {
        return 0;
    }
    // A hair under a whole number of intervals (float noise in the duration) adds none.
    ((duration_s * rate - 1e-6).ceil().max(0.0) as usize).min(MAX_PEAKS)
}

/// The peak envelope of `path`'s first audio stream. Media without audio get an empty
/// envelope with `has_audio` false, not an error.
/// `on_progress` hears the fraction (0 to 1) of the media read so far.
pub fn waveform(path: &Path, cancel: &CancelToken, on_progress: &mut dyn FnMut(f64)) -> Result<Waveform> {
    media::init()?;
    let info = media::probe(path)?;
    let duration_s = if info.duration_s.is_finite() { info.duration_s.max(0.0) } else { 0.0 };
    let rate = peaks_per_second(duration_s);
    let Some(audio) = info.audio else {
        return Ok(Waveform {
            duration_s,
            peaks_per_second: rate,
            has_audio: false,
            sample_rate: 0,
            channels: 0,
            peaks: Vec::new(),
        });
    };
    let envelope = Arc::new(Envelope::new(peak_count(duration_s, rate), rate));
    decode(path, &envelope, duration_s, cancel, on_progress)?;
    let state = envelope.state.lock().unwrap_or_else(PoisonError::into_inner);
    if state.samples == 0 {
        return Err(EngineError::BadMedia {
            path: path.to_path_buf(),
            cause: format!("the audio stream ({}) could not be decoded", audio.codec),
        });
    }
    Ok(Waveform {
        duration_s,
        peaks_per_second: rate,
        has_audio: true,
        sample_rate: state.sample_rate,
        channels: state.channels,
        peaks: state.peaks.iter().map(|p| (p.min(1.0) * 1e4).round() / 1e4).collect(),
    })
}

/// The peaks as they fill, shared with the appsink's streaming thread.
struct Envelope {
    state: Mutex<Fill>,
    /// Stream time reached (for progress and the stall watch).
    position: Position,
}

#[derive(Debug, Default)]
struct Fill {
    peaks: Vec<f32>,
    /// Peaks per second.
    rate: f64,
    sample_rate: u32,
    channels: u32,
    /// The sample (frame) index the next buffer starts at, when it carries no time.
    next: Option<u64>,
    /// Frames seen.
    samples: u64,
}

impl Envelope {
    fn new(count: usize, rate: f64) -> Self {
        Envelope {
            state: Mutex::new(Fill { peaks: vec![0.0; count], rate, ..Fill::default() }),
            position: Position::default(),
        }
    }

    /// Folds one buffer of interleaved F32 samples into the peaks.
    fn add(&self, sample: &gst::Sample) -> std::result::Result<(), gst::FlowError> {
        let caps = sample.caps().ok_or(gst::FlowError::NotNegotiated)?;
        let info = gst_audio::AudioInfo::from_caps(caps).map_err(|_| gst::FlowError::NotNegotiated)?;
        let (sample_rate, channels) = (info.rate(), info.channels().max(1));
        let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
        let bytes = map.as_slice();
        let stream_time = buffer.pts().and_then(|pts| {
            sample.segment().and_then(|s| s.downcast_ref::<gst::ClockTime>()).and_then(|s| s.to_stream_time(pts))
        });
        let mut fill = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        fill.sample_rate = sample_rate;
        fill.channels = channels;
        // Where this buffer starts: its own time when it has one and the count has drifted
        // from it by more than a millisecond (a gap, a discontinuity), else the running count.
        let timed = stream_time.map(|t| (t.nseconds() as u128 * sample_rate as u128 / 1_000_000_000) as u64);
        let start = match (fill.next, timed) {
            (Some(next), Some(at)) if next.abs_diff(at) <= u64::from(sample_rate / 1000) => next,
            (_, Some(at)) => at,
            (Some(next), None) => next,
            (None, None) => 0,
        };
        let frame_bytes = 4 * channels as usize;
        let frames = bytes.len() / frame_bytes;
        let per_peak = sample_rate as f64 / fill.rate;
        let count = fill.peaks.len();
        for (i, frame) in bytes.chunks_exact(frame_bytes).enumerate() {
            let index = ((start + i as u64) as f64 / per_peak) as usize;
            if index >= count {
                break;
            }
            let loudest = frame
                .chunks_exact(4)
                .map(|s| f32::from_le_bytes([s[0], s[1], s[2], s[3]]).abs())
                .fold(0.0f32, f32::max);
            // NaN never wins a comparison: a corrupt sample leaves the peak as it was.
            if loudest > fill.peaks[index] {
                fill.peaks[index] = loudest;
            }
        }
        fill.next = Some(start + frames as u64);
        fill.samples += frames as u64;
        let end_ns = (start + frames as u64) as u128 * 1_000_000_000 / sample_rate.max(1) as u128;
        self.position.record_ns(end_ns as u64);
        Ok(())
    }
}

/// Runs the decoding graph over `path` until its end, folding the sound into `envelope`.
fn decode(
    path: &Path,
    envelope: &Arc<Envelope>,
    duration_s: f64,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(f64),
) -> Result<()> {
    let pipeline = gst::Pipeline::with_name("reenact-waveform");
    let src = make(f::FILESRC)?;
    src.set_property("location", path.to_string_lossy().as_ref());
    let parse = make(f::PARSEBIN)?;
    let decode = make(f::DECODEBIN)?;
    let convert = make(f::AUDIOCONVERT)?;
    let resample = make(f::AUDIORESAMPLE)?;
    let format =
        caps_filter(gst::Caps::builder("audio/x-raw").field("format", "F32LE").field("layout", "interleaved").build())?;
    let sink = gst_app::AppSink::builder().sync(false).build();
    pipeline
        .add_many([&src, &parse, &decode, &convert, &resample, &format, sink.upcast_ref()])
        .map_err(|_| graph_err("elements"))?;
    src.link(&parse).map_err(|_| graph_err("filesrc ! parsebin"))?;
    gst::Element::link_many([&convert, &resample, &format, sink.upcast_ref()])
        .map_err(|_| graph_err("audioconvert ! audioresample ! appsink"))?;

    // parsebin: the first audio stream to the decoder; every other stream drained still
    // encoded, so the demuxer never sees not-linked and no picture is decoded.
    let taken = Arc::new(AtomicBool::new(false));
    let (weak_pipeline, weak_decode) = (pipeline.downgrade(), decode.downgrade());
    route_decoded_pads(&parse, move |pad, stream| {
        let Some(pipeline) = weak_pipeline.upgrade() else { return };
        if stream == Stream::Audio && !taken.swap(true, Ordering::SeqCst) {
            if let Some(sink_pad) = weak_decode.upgrade().and_then(|d| d.static_pad("sink")) {
                if let Err(err) = pad.link(&sink_pad) {
                    tracing::warn!("cannot link the audio stream: {err:?}");
                }
            }
            return;
        }
        drain(&pipeline, pad);
    });
    let weak_convert = convert.downgrade();
    route_decoded_pads(&decode, move |pad, stream| {
        let sink_pad = weak_convert.upgrade().and_then(|c| c.static_pad("sink"));
        match sink_pad {
            Some(sink_pad) if stream == Stream::Audio && !sink_pad.is_linked() => {
                if let Err(err) = pad.link(&sink_pad) {
                    tracing::warn!("cannot link the decoded audio: {err:?}");
                }
            }
            _ => {}
        }
    });
    let fill = envelope.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                fill.add(&sample)?;
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let watch = Watch { duration_s, position: envelope.position.clone(), cancel, stall_after: STALL };
    run(&pipeline, watch, &mut |p: Progress| on_progress(p.fraction))
}

fn graph_err(what: &str) -> EngineError {
    EngineError::Pipeline { element: "waveform graph".into(), message: format!("cannot build: {what}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_media_get_fewer_peaks_per_second() {
        assert_eq!(peaks_per_second(3.0), 100.0);
        assert_eq!(peaks_per_second(200.0), 100.0);
        assert_eq!(peaks_per_second(400.0), 50.0);
        assert_eq!(peak_count(400.0, peaks_per_second(400.0)), MAX_PEAKS);
        assert_eq!(peak_count(3.0, 100.0), 300);
        assert_eq!(peak_count(2.951, 100.0), 296);
        assert_eq!(peak_count(f64::NAN, 100.0), 0);
    }
}
