// SPDX-License-Identifier: MPL-2.0
//! Live sources: a test pattern, a V4L2 camera, or a file played in a loop,
//! each with its sound (test tone, microphone, the file's, or silence).
//!
//! A looping file runs in a pipeline of its own, paced by the clock, whose
//! frames are handed to `appsrc`s of the live graph and stamped there with
//! the live clock: seeking back to the start then never disturbs the live
//! graph's timestamps, latency or outputs. That pipeline is paused until its
//! decoder has linked every stream and only then played (see [`Feeder::start`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use gst::prelude::*;
use gst_base::prelude::BaseSinkExt;

use crate::blocks::{route_decoded_pads, Stream};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::media::file_uri;
use crate::show::Source;

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
    pub(crate) feeder: Option<Feeder>,
    /// The handle that connects publishers, for a browser source.
    pub(crate) browser: Option<super::browser::BrowserInput>,
}

/// Adds the elements of the show's live `source` to `pipeline`. The test
/// pattern is made at `fps`. With `timecode`, a browser publisher's
/// burned-in capture clock is read (see [`super::browser::add`]).
pub(crate) fn add(
    pipeline: &gst::Pipeline,
    source: &Source,
    (width, height, fps): (i32, i32, i32),
    timecode: bool,
) -> Result<Inputs> {
    let (source, mic) = source.live()?;
    if *source == LiveSource::Browser {
        let (video, audio, attract, browser) = super::browser::add(pipeline, (width, height, fps), timecode)?;
        return Ok(Inputs { video, audio, feeder: Some(Feeder::whole(attract)), browser: Some(browser) });
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

/// How long a file player may take to find its streams and fill its sinks.
const FEEDER_START: gst::ClockTime = gst::ClockTime::from_seconds(10);

/// A pipeline that fills the live graph's `appsrc`s at its own clock's pace.
#[derive(Debug)]
pub(crate) struct Feeder {
    pipeline: gst::Pipeline,
    /// Set once the decoder has exposed its last stream; `None` for a pipeline built whole.
    linked: Option<Arc<(Mutex<bool>, Condvar)>>,
}

impl Feeder {
    fn whole(pipeline: gst::Pipeline) -> Self {
        Feeder { pipeline, linked: None }
    }

    /// Pauses the pipeline until every stream is linked to its sink and prerolled, then
    /// plays it. A sink the decoder's thread adds while the pipeline is already on its way to
    /// playing can miss the base time the pipeline hands out: it then takes each picture for
    /// hours late, and the decoder, told so, drops every picture of the file.
    pub(crate) fn start(&self) -> std::result::Result<(), String> {
        let pipeline = &self.pipeline;
        pipeline.set_state(gst::State::Paused).map_err(|_| "it would not open".to_owned())?;
        if let Some(linked) = &self.linked {
            let (done, ready) = &**linked;
            let wait = Duration::from_nanos(FEEDER_START.nseconds());
            let done = done.lock().unwrap_or_else(PoisonError::into_inner);
            let (done, _) = ready.wait_timeout_while(done, wait, |done| !*done).unwrap_or_else(PoisonError::into_inner);
            if !*done {
                return Err(format!("no streams found in {} s", FEEDER_START.seconds()));
            }
        }
        match pipeline.state(FEEDER_START) {
            (Ok(gst::StateChangeSuccess::Success | gst::StateChangeSuccess::NoPreroll), _, _) => {}
            (Ok(_), _, _) => return Err(format!("nothing decoded in {} s", FEEDER_START.seconds())),
            (Err(_), _, _) => return Err("it cannot be decoded".to_owned()),
        }
        pipeline.set_state(gst::State::Playing).map(|_| ()).map_err(|_| "it would not play".to_owned())
    }

    pub(crate) fn stop(&self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// `appsrc`s for the live graph and the pipeline that fills them from `path`,
/// seeking back to the start at each end.
fn looping_file(path: &Path) -> Result<(gst::Element, gst::Element, Feeder)> {
    let feeder = gst::Pipeline::with_name("reenact-live-file");
    let decode = make(f::URIDECODEBIN)?;
    decode.set_property("uri", file_uri(path)?);
    feeder.add(&decode).map_err(|_| EngineError::Request("cannot build the file player".into()))?;
    let linked = Arc::new((Mutex::new(false), Condvar::new()));
    let signal = Arc::clone(&linked);
    decode.connect_no_more_pads(move |_| {
        *signal.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
        signal.1.notify_all();
    });
    let video = live_appsrc()?;
    let audio = live_appsrc()?;
    let (video_out, audio_out) = (video.clone(), audio.clone());
    let feeder_weak = feeder.downgrade();
    route_decoded_pads(&decode, move |pad, stream| {
        let Some(feeder) = feeder_weak.upgrade() else { return };
        let target = match stream {
            Stream::Video => &video_out,
            Stream::Audio => &audio_out,
            Stream::Other => return,
        };
        if let Err(err) = relay(&feeder, pad, stream, target) {
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
    Ok((video, audio, Feeder { pipeline: feeder, linked: Some(linked) }))
}

fn live_appsrc() -> Result<gst::Element> {
    let src = make(f::APPSRC)?;
    src.set_property("is-live", true);
    src.set_property_from_str("format", "time");
    src.set_property("max-buffers", 16u64);
    src.set_property_from_str("leaky-type", "downstream");
    Ok(src)
}

/// Largest gap between a sound buffer's due time and the end of the one
/// before it for the two to be joined end to end; a larger one (a loop's
/// seek, a stall, a publisher's clock running away) starts the sound afresh.
const RESYNC: gst::ClockTime = gst::ClockTime::from_mseconds(80);

/// How late a file's picture may reach its sink before it is skipped.
const MAX_LATENESS: gst::ClockTime = gst::ClockTime::from_mseconds(100);

/// When `sample`, rendered by `sink` (a synchronised appsink of a feeder
/// pipeline), was due, as a running time of the live graph that `live` belongs to.
///
/// A feeder's sink renders each buffer at its running time plus the feeder's
/// latency; the same instant on the live graph's clock is "now" there less
/// however late the buffer reached us. Stamping the arrival time instead
/// lets every stall of one stream (a slow 1080p decode on a busy core, x264
/// starting up) move that stream, and only it, against the other for the rest
/// of the show: a file's sound was recorded 10-190 ms ahead of its picture,
/// a different figure each run. Due times keep the two streams as far apart
/// as the feeder has them, which for a file is as far apart as the file has them.
pub(super) fn due_time(
    sink: &gst_app::AppSink,
    sample: &gst::Sample,
    live: &gst_app::AppSrc,
) -> Option<gst::ClockTime> {
    let pts = sample.buffer()?.pts()?;
    let running = sample.segment()?.downcast_ref::<gst::ClockTime>()?.to_running_time(pts)?;
    // The bindings do not declare appsink's base class; it is a GstBaseSink all the same.
    let latency = sink.dynamic_cast_ref::<gst_base::BaseSink>().map(BaseSinkExt::latency).unwrap_or_default();
    let due_there = running.saturating_add(latency);
    // Both read now: the two pipelines need not share a clock.
    let (now_there, now_here) = (sink.current_running_time()?, live.current_running_time()?);
    let late = i128::from(now_there.nseconds()) - i128::from(due_there.nseconds());
    u64::try_from(i128::from(now_here.nseconds()) - late).ok().map(gst::ClockTime::from_nseconds)
}

/// Stamps relayed buffers (a looping file, a browser publisher, the attract
/// picture) with the live graph's running time at which they were due (see
/// [`due_time`]). Pictures keep their due times, and one that is not later
/// than the picture before it is dropped (elements downstream that take
/// durations from consecutive timestamps would see a negative one). Sound
/// follows the previous buffer end to end while that is within [`RESYNC`] of
/// its due time, so it stays sample-continuous: timestamps that overlap by a
/// rounding make the encoder drop the overlap, which the viewer's player
/// makes up by stretching.
#[derive(Debug)]
pub(super) struct Restamp {
    /// Sound: end of the previous buffer; pictures: the previous timestamp.
    next: Option<gst::ClockTime>,
    continuous: bool,
}

impl Restamp {
    /// For a sound stream.
    pub(super) fn sound() -> Self {
        Restamp { next: None, continuous: true }
    }

    /// For a picture stream.
    pub(super) fn picture() -> Self {
        Restamp { next: None, continuous: false }
    }

    /// The timestamp for a buffer due at `due`, or `None` for one to drop: a
    /// picture not after its predecessor, or sound due more than [`RESYNC`]
    /// before the end of what was already stamped (it would be stamped back in time).
    pub(super) fn stamp(&mut self, due: gst::ClockTime, duration: Option<gst::ClockTime>) -> Option<gst::ClockTime> {
        if !self.continuous {
            if self.next.is_some_and(|last| due <= last) {
                return None;
            }
            self.next = Some(due);
            return Some(due);
        }
        let pts = match self.next {
            Some(next) if next.absdiff(due) <= RESYNC => next,
            Some(next) if next > due => return None,
            _ => due,
        };
        self.next = Some(duration.map_or(pts, |d| pts.saturating_add(d)));
        Some(pts)
    }
}

/// Pushes a copy of `sample` (rendered by `sink`, a feeder's synchronised appsink) into
/// `live` with `caps`, stamped by `stamp` with the live graph's running time at which it was
/// due (see [`due_time`]); `touch` may set its duration or metas first. Nothing is pushed
/// before the live graph plays (there is no running time to stamp with yet), nor a buffer
/// `stamp` drops.
pub(super) fn push_due(
    sink: &gst_app::AppSink,
    sample: &gst::Sample,
    live: &gst_app::AppSrc,
    caps: Option<gst::Caps>,
    stamp: &std::sync::Mutex<Restamp>,
    touch: impl FnOnce(&mut gst::BufferRef),
) {
    if live.caps() != caps {
        live.set_caps(caps.as_ref());
    }
    let (Some(buffer), Some(due)) = (sample.buffer(), due_time(sink, sample, live)) else { return };
    let mut buffer = buffer.copy();
    let b = buffer.make_mut();
    touch(b);
    let Some(pts) = stamp.lock().unwrap_or_else(std::sync::PoisonError::into_inner).stamp(due, b.duration()) else {
        return;
    };
    b.set_pts(pts);
    b.set_dts(None);
    let _ = live.push_buffer(buffer);
}

/// Links a decoded stream through a converter to an appsink (paced by the
/// feeder's clock) whose samples are pushed, re-stamped, into `target`.
fn relay(feeder: &gst::Pipeline, pad: &gst::Pad, stream: Stream, target: &gst::Element) -> Result<()> {
    let video = stream == Stream::Video;
    let convert = make(if video { f::VIDEOCONVERT } else { f::AUDIOCONVERT })?;
    let sink = make(f::APPSINK)?.downcast::<gst_app::AppSink>().expect("appsink");
    sink.set_property("sync", true);
    sink.set_property("max-buffers", 2u32);
    sink.set_property("drop", true);
    if video {
        // A decoder that cannot keep up (1080p on a busy core) skips pictures, as a
        // player does, rather than falling further behind the sound every second.
        sink.set_property("qos", true);
        sink.set_property("max-lateness", MAX_LATENESS.nseconds() as i64);
    }
    let appsrc = target.clone().downcast::<gst_app::AppSrc>().expect("appsrc");
    let restamp = std::sync::Mutex::new(if video { Restamp::picture() } else { Restamp::sound() });
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                push_due(sink, &sample, &appsrc, sample.caps_owned(), &restamp, |_| {});
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
    fn sound_follows_end_to_end_until_it_drifts_too_far() {
        let ms = gst::ClockTime::from_mseconds;
        let mut restamp = Restamp::sound();
        assert_eq!(restamp.stamp(ms(1000), Some(ms(21))), Some(ms(1000)));
        // Due a few ms early or late: still end to end.
        assert_eq!(restamp.stamp(ms(1015), Some(ms(21))), Some(ms(1021)));
        assert_eq!(restamp.stamp(ms(1050), Some(ms(21))), Some(ms(1042)));
        // A loop's seek left a gap: start afresh.
        assert_eq!(restamp.stamp(ms(1300), Some(ms(21))), Some(ms(1300)));
    }

    #[test]
    fn sound_due_well_before_what_was_stamped_is_dropped_rather_than_stamped_back_in_time() {
        let ms = gst::ClockTime::from_mseconds;
        let mut restamp = Restamp::sound();
        assert_eq!(restamp.stamp(ms(1000), Some(ms(100))), Some(ms(1000)));
        assert_eq!(restamp.stamp(ms(1100), Some(ms(100))), Some(ms(1100)));
        assert_eq!(restamp.stamp(ms(1150), Some(ms(100))), Some(ms(1200)), "within the window: end to end");
        assert_eq!(restamp.stamp(ms(1000), Some(ms(100))), None, "300 ms back in time");
        assert_eq!(restamp.stamp(ms(1310), Some(ms(100))), Some(ms(1300)), "the stream goes on end to end");
    }

    #[test]
    fn pictures_keep_their_due_times_and_never_go_back() {
        let ms = gst::ClockTime::from_mseconds;
        let mut restamp = Restamp::picture();
        // The duration a decoder states is not what the pictures' times are made of.
        assert_eq!(restamp.stamp(ms(1000), Some(ms(33))), Some(ms(1000)));
        assert_eq!(restamp.stamp(ms(1040), Some(ms(33))), Some(ms(1040)));
        assert_eq!(restamp.stamp(ms(1200), Some(ms(33))), Some(ms(1200)));
        assert_eq!(restamp.stamp(ms(1200), Some(ms(33))), None);
        assert_eq!(restamp.stamp(ms(1150), Some(ms(33))), None);
        assert_eq!(restamp.stamp(ms(1233), Some(ms(33))), Some(ms(1233)));
    }

    /// A file's sound, pulled from its feeder with a stall in the middle (a
    /// busy core), is stamped as far apart as the file has it, not as it arrived.
    #[test]
    fn a_stalled_relay_stamps_buffers_when_they_were_due_not_when_they_came() {
        crate::media::init().unwrap();
        let feeder = gst::parse::launch(
            "audiotestsrc samplesperbuffer=960 num-buffers=12 ! audio/x-raw,rate=48000 \
             ! appsink name=sink sync=true max-buffers=20",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let sink = feeder.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        let live = gst::parse::launch("appsrc name=src is-live=true format=time ! fakesink sync=false")
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let appsrc = live.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
        live.set_state(gst::State::Playing).unwrap();
        feeder.set_state(gst::State::Playing).unwrap();
        let mut stamps = Vec::new();
        for i in 0..12 {
            if i == 5 {
                std::thread::sleep(std::time::Duration::from_millis(150));
            }
            let sample = sink.pull_sample().expect("a buffer");
            let pts = sample.buffer().unwrap().pts().unwrap();
            let arrived = appsrc.current_running_time().unwrap();
            stamps.push((pts, due_time(&sink, &sample, &appsrc).expect("a due time"), arrived));
        }
        feeder.set_state(gst::State::Null).unwrap();
        live.set_state(gst::State::Null).unwrap();
        let (pts0, due0, arrived0) = stamps[0];
        for &(pts, due, _) in &stamps {
            let error = (due - due0).nseconds() as i64 - (pts - pts0).nseconds() as i64;
            assert!(error.abs() < 3_000_000, "{pts}: due {due} is {error} ns off the file's spacing");
        }
        // What stamping the arrival did: the stall moved every later buffer.
        let (pts5, _, arrived5) = stamps[5];
        let moved = (arrived5 - arrived0).nseconds() as i64 - (pts5 - pts0).nseconds() as i64;
        assert!(moved > 100_000_000, "the stall shows in the arrival times: {moved} ns");
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
