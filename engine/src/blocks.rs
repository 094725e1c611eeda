// SPDX-License-Identifier: MPL-2.0
//! The building blocks the live graph and the offline render both assemble
//! from, so a change to one of them (an encoder setting, how a decoder's pads
//! are routed, how an output file is named while it is written) is made once.

use std::path::{Path, PathBuf};

use gst::prelude::*;

use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::preset::{Mode, VideoSettings};
use crate::priming::AAC_PRIMING_FRAMES;

/// The name an output is written under until it is complete: `NAME.part`
/// beside `NAME`, so a failed job never leaves a half-written file under the
/// final name, nor replaces a previous good one.
pub(crate) fn part_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` through [`part_path`], renamed once complete.
pub(crate) fn write_then_rename(path: &Path, bytes: &[u8]) -> Result<()> {
    let part = part_path(path);
    std::fs::write(&part, bytes).map_err(|e| EngineError::io(&part, e))?;
    std::fs::rename(&part, path).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        EngineError::io(path, e)
    })
}

/// A `capsfilter` held to `caps`.
pub(crate) fn caps_filter(caps: gst::Caps) -> Result<gst::Element> {
    let filter = make(f::CAPSFILTER)?;
    filter.set_property("caps", caps);
    Ok(filter)
}

/// A `capsfilter` for raw video of pixel `format`.
pub(crate) fn video_format(format: &str) -> Result<gst::Element> {
    caps_filter(gst::Caps::builder("video/x-raw").field("format", format).build())
}

/// What a decoder's source pad carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Video,
    Audio,
    Other,
}

impl Stream {
    /// The kind of `pad`, from its negotiated caps or, before negotiation, the caps it can produce.
    pub(crate) fn of(pad: &gst::Pad) -> Self {
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        match caps.structure(0).map(|s| s.name().as_str()) {
            Some(name) if name.starts_with("video/") => Stream::Video,
            Some(name) if name.starts_with("audio/") => Stream::Audio,
            _ => Stream::Other,
        }
    }
}

/// Calls `route` for each source pad of `source`, those it has now (gessrc
/// makes them as soon as it has a timeline) and those it adds later
/// (decodebins, once they have seen the streams).
pub(crate) fn route_decoded_pads<F>(source: &gst::Element, route: F)
where
    F: Fn(&gst::Pad, Stream) + Send + Sync + 'static,
{
    for pad in source.src_pads() {
        route(&pad, Stream::of(&pad));
    }
    source.connect_pad_added(move |_, pad| route(pad, Stream::of(pad)));
}

/// Links `pad` to a new `fakesink` in `pipeline`: a stream nobody wants is drained, so its
/// demuxer never sees not-linked.
pub(crate) fn drain(pipeline: &gst::Pipeline, pad: &gst::Pad) {
    let Ok(sink) = make(f::FAKESINK) else { return };
    sink.set_property("sync", false);
    sink.set_property("async", false);
    if pipeline.add(&sink).is_ok() {
        let _ = sink.sync_state_with_parent();
        if let Some(sink_pad) = sink.static_pad("sink") {
            let _ = pad.link(&sink_pad);
        }
    }
}

/// An x264 encoder set up from a preset's video settings. Live and offline
/// differ only by `mode`: live tunes for zero latency (no B-frames, no
/// lookahead) and falls back to the live preset's 2.5 Mb/s; offline to 4 Mb/s.
/// `threads` of `None` leaves x264 its own choice.
pub(crate) fn x264_encoder(video: &VideoSettings, mode: Mode, gop: u32, threads: Option<u32>) -> Result<gst::Element> {
    let e = make(f::X264ENC)?;
    e.set_property_from_str("speed-preset", &video.speed_preset);
    match video.crf {
        Some(crf) => {
            e.set_property_from_str("pass", "qual");
            e.set_property("quantizer", crf);
            // x264enc also applies its `bitrate` (2 Mb/s by default) as a
            // VBV cap in quality mode; no buffer means no cap, as in x264's CRF.
            e.set_property("vbv-buf-capacity", 0u32);
        }
        None => {
            let fallback = if mode == Mode::Live { 2500 } else { 4000 };
            e.set_property_from_str("pass", "cbr");
            e.set_property("bitrate", video.bitrate_kbps.unwrap_or(fallback));
        }
    }
    e.set_property("key-int-max", gop);
    if let Some(threads) = threads {
        e.set_property("threads", threads);
    }
    if mode == Mode::Live {
        e.set_property_from_str("tune", "zerolatency");
        e.set_property("bframes", 0u32);
    }
    Ok(e)
}

/// One audio encode shared by every output that wants the same sound:
/// `from ! queue ! audioconvert [! audioresample ! capsfilter(caps)] ! encoder ! tee`.
/// Returns the tee; each output links its own branch to it. `err` names the
/// encode in the error a failed link gives.
pub(crate) fn shared_audio_encode(
    pipeline: &gst::Pipeline,
    from: &gst::Element,
    queue: gst::Element,
    caps: Option<gst::Caps>,
    encoder: gst::Element,
    err: impl Fn() -> EngineError,
) -> Result<gst::Element> {
    let tee = make(f::TEE)?;
    tee.set_property("allow-not-linked", true);
    let mut chain = vec![queue, make(f::AUDIOCONVERT)?];
    if let Some(caps) = caps {
        chain.extend([make(f::AUDIORESAMPLE)?, caps_filter(caps)?]);
    }
    chain.extend([encoder, tee.clone()]);
    pipeline.add_many(&chain).map_err(|_| err())?;
    gst::Element::link_many(&chain).map_err(|_| err())?;
    from.link(&chain[0]).map_err(|_| err())?;
    Ok(tee)
}

/// Takes the voice converters' delay out after `last`, the last of `voices`
/// in a chain: `reenactvoice` keeps its input's timestamps and delays the
/// content by its fixed latency (`latency-ms`), so the sound leaving the chain
/// is moved back by their sum and speech stays on the lips, offline and live
/// (where the element's LATENCY answer already makes the sinks wait that long).
pub(crate) fn compensate_voice_delay<'a>(last: &gst::Element, voices: impl Iterator<Item = &'a gst::Element>) {
    let delay: f64 = voices.map(|v| v.property::<f64>("latency-ms") / 1000.0).sum();
    compensate_delay(&last.static_pad("src").expect("the last voice has a src pad"), delay);
}

/// Moves raw audio leaving `pad` earlier by `delay_s`: timestamps shift
/// back and the leading `delay_s` (the converters' primed silence) is cut.
fn compensate_delay(pad: &gst::Pad, delay_s: f64) {
    let delay = gst::ClockTime::from_nseconds((delay_s * 1e9).round() as u64);
    if !delay.is_zero() {
        move_earlier(pad, move |_| delay);
    }
}

/// Moves the sound entering the live AAC encoder at `pad` earlier by the
/// encoder's priming ([`AAC_PRIMING_FRAMES`]): the first decoded samples are
/// priming, so what the encoder is given at time `t` plays at `t + priming`.
/// Recordings are fragmented (no edit list), and FLV and MPEG-TS carry no
/// priming either, so the live outputs get the sound early by as much
/// instead, and every player hears it on time; only the show's first 21 ms of
/// sound are lost. (Offline files say it in their edit list: `priming.rs`.)
pub(crate) fn skip_aac_priming(pad: &gst::Pad) {
    move_earlier(pad, |rate| {
        gst::ClockTime::SECOND.mul_div_round(AAC_PRIMING_FRAMES, u64::from(rate)).unwrap_or_default()
    });
}

/// Moves raw audio leaving `pad` earlier by `delay(rate)`: timestamps shift
/// back and what would fall before zero is cut.
fn move_earlier(pad: &gst::Pad, delay: impl Fn(u32) -> gst::ClockTime + Send + Sync + 'static) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let Some(pts) = buffer.pts() else { return gst::PadProbeReturn::Ok };
        let Some(audio) = pad.current_caps().and_then(|c| gst_audio::AudioInfo::from_caps(&c).ok()) else {
            return gst::PadProbeReturn::Ok;
        };
        let delay = delay(audio.rate());
        let frame_bytes = audio.bpf() as usize;
        if pts >= delay {
            info.buffer_mut().expect("buffer").make_mut().set_pts(pts - delay);
            return gst::PadProbeReturn::Ok;
        }
        let cut_frames = (delay - pts).nseconds().mul_div_round(u64::from(audio.rate()), 1_000_000_000).unwrap_or(0);
        let cut = cut_frames as usize * frame_bytes;
        if cut >= buffer.size() {
            return gst::PadProbeReturn::Drop;
        }
        let Ok(mut rest) = buffer.copy_region(gst::BufferCopyFlags::all(), cut..) else {
            return gst::PadProbeReturn::Drop;
        };
        let frames = ((buffer.size() - cut) / frame_bytes) as u64;
        {
            let rest = rest.make_mut();
            rest.set_pts(gst::ClockTime::ZERO);
            rest.set_duration(gst::ClockTime::SECOND.mul_div_floor(frames, u64::from(audio.rate())));
        }
        info.data = Some(gst::PadProbeData::Buffer(rest));
        gst::PadProbeReturn::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_path_sits_beside_the_output() {
        assert_eq!(part_path(Path::new("/tmp/a/show.mp4")), PathBuf::from("/tmp/a/show.mp4.part"));
    }

    #[test]
    fn write_then_rename_leaves_only_the_final_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cues.srt");
        write_then_rename(&out, b"1\n").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"1\n");
        assert!(!part_path(&out).exists());
    }
}
