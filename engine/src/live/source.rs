// SPDX-License-Identifier: MPL-2.0
//! Live sources: a test pattern, a V4L2 camera, or a file played in a loop,
//! each with its sound (test tone, microphone, the file's, or silence).
//!
//! A looping file runs in a pipeline of its own, paced by the clock, whose
//! frames are handed to `appsrc`s of the live graph and stamped there with
//! the live clock: seeking back to the start then never disturbs the live
//! graph's timestamps, latency or outputs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use gst::prelude::*;

use crate::blocks::{route_decoded_pads, Stream};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::media::file_uri;

/// Where the live picture comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveSource {
    /// Moving colour bars and a tick every second.
    Test,
    /// A V4L2 device such as `/dev/video0`.
    Camera(PathBuf),
    /// A media file, played in a loop at its own pace.
    File(PathBuf),
    /// The presenter's browser, publishing over WHIP (an attract picture until it does).
    Browser,
}

impl FromStr for LiveSource {
    type Err = EngineError;

    /// `test`, `camera:/dev/videoN` or `file:PATH`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |cause: &str| EngineError::Request(format!("source `{text}`: {cause}"));
        match text.split_once(':') {
            None if text == "test" => Ok(LiveSource::Test),
            None if text == "browser" => Ok(LiveSource::Browser),
            Some(("camera", dev)) if dev.starts_with("/dev/video") => Ok(LiveSource::Camera(dev.into())),
            Some(("camera", _)) => Err(bad("a camera is named by its device, e.g. camera:/dev/video0")),
            Some(("file", path)) if !path.is_empty() => Ok(LiveSource::File(path.into())),
            _ => Err(bad("expected test, browser, camera:/dev/videoN or file:PATH")),
        }
    }
}

impl fmt::Display for LiveSource {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveSource::Test => write!(out, "test"),
            LiveSource::Camera(dev) => write!(out, "camera:{}", dev.display()),
            LiveSource::File(path) => write!(out, "file:{}", path.display()),
            LiveSource::Browser => write!(out, "browser"),
        }
    }
}

/// The live graph's raw inputs and, for a file, the pipeline feeding them.
#[derive(Debug)]
pub(crate) struct Inputs {
    pub(crate) video: gst::Element,
    pub(crate) audio: gst::Element,
    pub(crate) feeder: Option<gst::Pipeline>,
    /// The handle that connects publishers, for a browser source.
    pub(crate) browser: Option<super::browser::BrowserInput>,
}

/// Adds the source elements for `source` to `pipeline`; `mic` picks the
/// sound of a camera (`None`: silence, `default`: the system's default
/// input, anything else: an ALSA device name).
/// The test pattern is made at `fps`. With `timecode`, a browser publisher's
/// burned-in capture clock is read (see [`super::browser::add`]).
pub(crate) fn add(
    pipeline: &gst::Pipeline,
    source: &LiveSource,
    mic: Option<&str>,
    (width, height, fps): (i32, i32, i32),
    timecode: bool,
) -> Result<Inputs> {
    if *source == LiveSource::Browser {
        let (video, audio, attract, browser) = super::browser::add(pipeline, (width, height, fps), timecode)?;
        return Ok(Inputs { video, audio, feeder: Some(attract), browser: Some(browser) });
    }
    let (video, audio, feeder) = match source {
        LiveSource::Test => {
            let video = make(f::VIDEOTESTSRC)?;
            video.set_property("is-live", true);
            video.set_property_from_str("pattern", "smpte");
            video.set_property("horizontal-speed", 4i32);
            let rate = make(f::CAPSFILTER)?;
            rate.set_property(
                "caps",
                gst::Caps::builder("video/x-raw").field("framerate", gst::Fraction::new(fps, 1)).build(),
            );
            let bin = gst::Bin::with_name("reenact-test-pattern");
            bin.add_many([&video, &rate]).map_err(|_| EngineError::Request("cannot build the test pattern".into()))?;
            video.link(&rate).map_err(|_| EngineError::Request("cannot build the test pattern".into()))?;
            let pad = gst::GhostPad::with_target(&rate.static_pad("src").expect("src"))
                .map_err(|_| EngineError::Request("cannot build the test pattern".into()))?;
            bin.add_pad(&pad).map_err(|_| EngineError::Request("cannot build the test pattern".into()))?;
            (bin.upcast(), tone()?, None)
        }
        LiveSource::Camera(dev) => {
            if !dev.exists() {
                return Err(EngineError::Unreadable { path: dev.clone(), cause: "no such camera device".into() });
            }
            let video = make(f::V4L2SRC)?;
            video.set_property("device", dev.to_string_lossy().as_ref());
            (video, microphone(mic)?, None)
        }
        LiveSource::File(path) => {
            let (video, audio, feeder) = looping_file(path)?;
            (video, audio, Some(feeder))
        }
        LiveSource::Browser => unreachable!("handled above"),
    };
    pipeline.add_many([&video, &audio]).map_err(|_| EngineError::Request("cannot add the live source".into()))?;
    Ok(Inputs { video, audio, feeder, browser: None })
}

/// A quiet tick once a second, live.
fn tone() -> Result<gst::Element> {
    let audio = make(f::AUDIOTESTSRC)?;
    audio.set_property("is-live", true);
    audio.set_property_from_str("wave", "ticks");
    audio.set_property("volume", 0.3f64);
    // 10 ms buffers: a live source's latency is one buffer.
    audio.set_property("samplesperbuffer", 480i32);
    Ok(audio)
}

fn microphone(mic: Option<&str>) -> Result<gst::Element> {
    match mic {
        None => {
            let silence = make(f::AUDIOTESTSRC)?;
            silence.set_property("is-live", true);
            silence.set_property_from_str("wave", "silence");
            silence.set_property("samplesperbuffer", 480i32);
            Ok(silence)
        }
        Some("default") => make(f::AUTOAUDIOSRC),
        Some(device) => {
            let alsa = make(f::ALSASRC)?;
            alsa.set_property("device", device);
            Ok(alsa)
        }
    }
}

/// `appsrc`s for the live graph and the pipeline that fills them from `path`,
/// seeking back to the start at each end.
fn looping_file(path: &Path) -> Result<(gst::Element, gst::Element, gst::Pipeline)> {
    let feeder = gst::Pipeline::with_name("reenact-live-file");
    let decode = make(f::URIDECODEBIN)?;
    decode.set_property("uri", file_uri(path)?);
    feeder.add(&decode).map_err(|_| EngineError::Request("cannot build the file player".into()))?;
    let video = live_appsrc()?;
    let audio = live_appsrc()?;
    let (video_out, audio_out) = (video.clone(), audio.clone());
    let feeder_weak = feeder.downgrade();
    route_decoded_pads(&decode, move |pad, stream| {
        let Some(feeder) = feeder_weak.upgrade() else { return };
        let (convert, target) = match stream {
            Stream::Video => (f::VIDEOCONVERT, &video_out),
            Stream::Audio => (f::AUDIOCONVERT, &audio_out),
            Stream::Other => return,
        };
        if let Err(err) = relay(&feeder, pad, convert, target) {
            tracing::error!(%err, "cannot relay the looping file");
        }
    });
    let bus = feeder.bus().expect("pipeline bus");
    let feeder_weak = feeder.downgrade();
    // No main loop runs in the engine: a thread watches the player's bus and
    // ends once the player is gone.
    std::thread::spawn(move || loop {
        let message = bus.timed_pop_filtered(gst::ClockTime::from_mseconds(200), &[gst::MessageType::Eos]);
        let Some(feeder) = feeder_weak.upgrade() else { return };
        if message.is_some() {
            let _ = feeder.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, gst::ClockTime::ZERO);
        }
    });
    Ok((video, audio, feeder))
}

fn live_appsrc() -> Result<gst::Element> {
    let src = make(f::APPSRC)?;
    src.set_property("is-live", true);
    src.set_property_from_str("format", "time");
    src.set_property("max-buffers", 16u64);
    src.set_property_from_str("leaky-type", "downstream");
    Ok(src)
}

/// Largest gap between a buffer's arrival and its continuous timestamp
/// before the stream is stamped afresh (after a loop's seek, a stall).
const RESYNC: gst::ClockTime = gst::ClockTime::from_mseconds(80);

/// Stamps relayed buffers (a looping file, a browser publisher, the attract
/// picture) with the live graph's running time. Each buffer follows the
/// previous one end to end, so sound stays sample-continuous: stamping arrival
/// times instead lets buffers that arrive close together overlap, and the
/// encoder then drops the overlap, a few percent of the sound, which the
/// viewer's player makes up by stretching, further behind every second (and
/// the picture waits for it).
#[derive(Debug, Default)]
pub(super) struct Restamp {
    next: Option<gst::ClockTime>,
}

impl Restamp {
    /// The timestamp for a buffer arriving at `now`, or `None` for one to drop:
    /// a burst that ran more than [`RESYNC`] ahead of the clock would otherwise
    /// be stamped back in time, and elements downstream that take durations
    /// from consecutive timestamps would see a negative one.
    pub(super) fn stamp(&mut self, now: gst::ClockTime, duration: Option<gst::ClockTime>) -> Option<gst::ClockTime> {
        let pts = match self.next {
            Some(next) if next.absdiff(now) <= RESYNC => next,
            Some(next) if next > now => return None,
            _ => now,
        };
        self.next = Some(duration.map_or(pts, |d| pts.saturating_add(d)));
        Some(pts)
    }
}

/// Links a decoded stream through a converter to an appsink (paced by the
/// feeder's clock) whose samples are pushed, re-stamped, into `target`.
fn relay(feeder: &gst::Pipeline, pad: &gst::Pad, convert: &'static str, target: &gst::Element) -> Result<()> {
    let convert = make(convert)?;
    let sink = make(f::APPSINK)?.downcast::<gst_app::AppSink>().expect("appsink");
    sink.set_property("sync", true);
    sink.set_property("max-buffers", 2u32);
    sink.set_property("drop", true);
    let appsrc = target.clone().downcast::<gst_app::AppSrc>().expect("appsrc");
    let restamp = std::sync::Mutex::new(Restamp::default());
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let caps = sample.caps_owned();
                if appsrc.caps() != caps {
                    appsrc.set_caps(caps.as_ref());
                }
                // Before the live graph plays there is no running time to stamp with.
                let (Some(buffer), Some(now)) = (sample.buffer(), appsrc.current_running_time()) else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let mut buffer = buffer.copy();
                let b = buffer.make_mut();
                let Some(pts) =
                    restamp.lock().unwrap_or_else(std::sync::PoisonError::into_inner).stamp(now, b.duration())
                else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                b.set_pts(pts);
                b.set_dts(None);
                let _ = appsrc.push_buffer(buffer);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let sink = sink.upcast::<gst::Element>();
    feeder.add_many([&convert, &sink]).map_err(|_| EngineError::Request("cannot build the file player".into()))?;
    convert.link(&sink).map_err(|_| EngineError::Request("cannot link the file player".into()))?;
    convert.sync_state_with_parent().ok();
    sink.sync_state_with_parent().ok();
    pad.link(&convert.static_pad("sink").expect("sink"))
        .map_err(|e| EngineError::Request(format!("cannot link the file player: {e:?}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restamped_buffers_follow_each_other_until_they_drift_too_far() {
        let ms = gst::ClockTime::from_mseconds;
        let mut restamp = Restamp::default();
        assert_eq!(restamp.stamp(ms(1000), Some(ms(21))), Some(ms(1000)));
        // Arrived early or late by a few ms: still end to end.
        assert_eq!(restamp.stamp(ms(1015), Some(ms(21))), Some(ms(1021)));
        assert_eq!(restamp.stamp(ms(1050), Some(ms(21))), Some(ms(1042)));
        // A loop's seek left a gap: start afresh.
        assert_eq!(restamp.stamp(ms(1300), Some(ms(21))), Some(ms(1300)));
    }

    #[test]
    fn a_burst_ahead_of_the_clock_is_dropped_rather_than_stamped_back_in_time() {
        let ms = gst::ClockTime::from_mseconds;
        let mut restamp = Restamp::default();
        let mut last = ms(0);
        // Ten frames of 33 ms arrive within 1 ms of each other.
        for i in 0..10 {
            if let Some(pts) = restamp.stamp(ms(1000 + i), Some(ms(33))) {
                assert!(pts >= last, "{pts} after {last}");
                last = pts;
            }
        }
        assert!(last <= ms(1000 + 80), "the burst stays within the resync window: {last}");
        // Once the clock catches up the stream goes on end to end.
        assert_eq!(restamp.stamp(ms(1100), Some(ms(33))), Some(last + ms(33)));
    }

    #[test]
    fn sources_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!("test".parse::<LiveSource>().unwrap(), LiveSource::Test);
        assert_eq!("browser".parse::<LiveSource>().unwrap(), LiveSource::Browser);
        assert_eq!("camera:/dev/video2".parse::<LiveSource>().unwrap(), LiveSource::Camera("/dev/video2".into()));
        assert_eq!("file:a b.mp4".parse::<LiveSource>().unwrap(), LiveSource::File("a b.mp4".into()));
        let err = "camera:0".parse::<LiveSource>().unwrap_err().to_string();
        assert!(err.contains("camera:/dev/video0"), "{err}");
        let err = "rtsp://x".parse::<LiveSource>().unwrap_err().to_string();
        assert!(err.contains("rtsp://x") && err.contains("file:PATH"), "{err}");
    }
}
