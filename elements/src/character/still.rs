// SPDX-License-Identifier: MPL-2.0
//! Decoding the inputs of `reenact character create` with GStreamer, so every picture and sound
//! format the system can play is accepted: one still picture as RGBA, one sound as mono float
//! samples at a chosen rate.

use std::path::Path;

use gst::prelude::*;

use super::{CharacterError, RgbaImage};

/// Longest voice sample read, seconds; the profile needs far less.
const MAX_AUDIO_SECONDS: u64 = 600;

fn input_err(path: &Path, message: impl Into<String>) -> CharacterError {
    CharacterError::Input { path: path.to_owned(), message: message.into() }
}

/// Runs `filesrc ! decodebin ! <convert> ! appsink` on `path` and hands each sample to `each`
/// until it returns false or the stream ends.
fn decode(
    path: &Path,
    convert: &str,
    mut each: impl FnMut(&gst::Sample) -> Result<bool, CharacterError>,
) -> Result<(), CharacterError> {
    if !path.is_file() {
        return Err(input_err(path, "no such file"));
    }
    gst::init().map_err(|err| input_err(path, format!("GStreamer: {err}")))?;
    let pipeline =
        gst::parse::launch(&format!("filesrc name=src ! decodebin ! {convert} ! appsink name=sink sync=false"))
            .map_err(|err| input_err(path, format!("cannot build the decoder: {err}")))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| input_err(path, "the decoder is not a pipeline"))?;
    let src = pipeline.by_name("src").ok_or_else(|| input_err(path, "no source"))?;
    src.set_property("location", path.to_string_lossy().as_ref());
    let sink = pipeline
        .by_name("sink")
        .and_then(|sink| sink.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| input_err(path, "no sink"))?;
    let result = (|| {
        pipeline.set_state(gst::State::Playing).map_err(|_| input_err(path, "cannot start decoding"))?;
        loop {
            match sink.try_pull_sample(gst::ClockTime::from_seconds(30)) {
                Some(sample) => {
                    if !each(&sample)? {
                        return Ok(());
                    }
                }
                None if sink.is_eos() => return Ok(()),
                None => {
                    let bus = pipeline.bus().ok_or_else(|| input_err(path, "no bus"))?;
                    let why = bus
                        .pop_filtered(&[gst::MessageType::Error])
                        .and_then(|msg| match msg.view() {
                            gst::MessageView::Error(err) => Some(err.error().to_string()),
                            _ => None,
                        })
                        .unwrap_or_else(|| "decoding timed out".into());
                    return Err(input_err(path, format!("cannot decode: {why}")));
                }
            }
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// The first picture of `path` (PNG, JPEG, or the first frame of a video) as RGBA.
pub fn decode_image(path: &Path) -> Result<RgbaImage, CharacterError> {
    let mut picture = None;
    decode(path, "videoconvert ! video/x-raw,format=RGBA", |sample| {
        let caps = sample.caps().ok_or_else(|| input_err(path, "decoded picture has no caps"))?;
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|_| input_err(path, "not a picture"))?;
        let buffer = sample.buffer().ok_or_else(|| input_err(path, "empty picture"))?;
        let map = buffer.map_readable().map_err(|_| input_err(path, "cannot read the picture"))?;
        let (w, h) = (info.width() as usize, info.height() as usize);
        let stride = usize::try_from(info.stride()[0]).unwrap_or(0);
        if stride < w * 4 || map.len() < stride * (h - 1) + w * 4 {
            return Err(input_err(path, "decoded picture is shorter than its size"));
        }
        let data = (0..h).flat_map(|y| map[y * stride..y * stride + w * 4].iter().copied()).collect();
        picture = Some(RgbaImage { width: info.width(), height: info.height(), data });
        Ok(false)
    })?;
    picture.ok_or_else(|| input_err(path, "holds no picture"))
}

/// The sound of `path`, mixed to mono and resampled to `rate`, as samples in -1..1.
pub fn decode_audio_mono(path: &Path, rate: u32) -> Result<Vec<f32>, CharacterError> {
    let mut samples = Vec::new();
    let limit = (MAX_AUDIO_SECONDS * u64::from(rate)) as usize;
    let convert =
        format!("audioconvert ! audioresample ! audio/x-raw,format=F32LE,layout=interleaved,channels=1,rate={rate}");
    decode(path, &convert, |sample| {
        let buffer = sample.buffer().ok_or_else(|| input_err(path, "empty audio buffer"))?;
        let map = buffer.map_readable().map_err(|_| input_err(path, "cannot read the audio"))?;
        samples.extend(map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        Ok(samples.len() < limit)
    })?;
    samples.truncate(limit);
    if samples.is_empty() {
        return Err(input_err(path, "holds no sound"));
    }
    Ok(samples)
}
