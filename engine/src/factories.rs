// SPDX-License-Identifier: MPL-2.0
//! Names of every GStreamer element factory the engine instantiates, in one
//! place so a missing plugin is reported by the name the user can install.

use crate::error::{EngineError, Result};

pub const URIDECODEBIN: &str = "uridecodebin";
pub const GESSRC: &str = "gessrc";
pub const QUEUE: &str = "queue";
pub const IDENTITY: &str = "identity";
pub const TEE: &str = "tee";
pub const CAPSFILTER: &str = "capsfilter";
pub const VIDEOCONVERT: &str = "videoconvert";
pub const VIDEOCONVERTSCALE: &str = "videoconvertscale";
pub const VIDEOCROP: &str = "videocrop";
pub const VIDEORATE: &str = "videorate";
pub const TEXTOVERLAY: &str = "textoverlay";
pub const IMAGEOVERLAY: &str = "gdkpixbufoverlay";
pub const AUDIOCONVERT: &str = "audioconvert";
pub const AUDIORESAMPLE: &str = "audioresample";
pub const AUDIOTESTSRC: &str = "audiotestsrc";
pub const X264ENC: &str = "x264enc";
pub const VP9ENC: &str = "vp9enc";
pub const AACENC: &str = "avenc_aac";
pub const OPUSENC: &str = "opusenc";
pub const MP4MUX: &str = "mp4mux";
pub const WEBMMUX: &str = "webmmux";
pub const FILESINK: &str = "filesink";
pub const FILESRC: &str = "filesrc";
pub const DECODEBIN: &str = "decodebin";
/// Demuxes and parses without decoding: a waveform decodes the sound alone.
pub const PARSEBIN: &str = "parsebin";
pub const APPSINK: &str = "appsink";
pub const APPSRC: &str = "appsrc";
pub const WAVENC: &str = "wavenc";
pub const VIDEOTESTSRC: &str = "videotestsrc";
pub const V4L2SRC: &str = "v4l2src";
pub const V4L2SINK: &str = "v4l2sink";
pub const AUTOAUDIOSRC: &str = "autoaudiosrc";
pub const ALSASRC: &str = "alsasrc";
pub const VP8ENC: &str = "vp8enc";
pub const H264PARSE: &str = "h264parse";
pub const VALVE: &str = "valve";
pub const FLVMUX: &str = "flvmux";
pub const RTMP2SINK: &str = "rtmp2sink";
pub const MPEGTSMUX: &str = "mpegtsmux";
pub const SRTSINK: &str = "srtsink";
/// Our voice conversion element (gst-plugin-reenact, registered by [`crate::media::init`]).
pub const REENACTVOICE: &str = "reenactvoice";
/// Our captions element (Silero VAD + whisper), registered like [`REENACTVOICE`].
pub const REENACTCAPTIONS: &str = "reenactcaptions";
pub const FAKESINK: &str = "fakesink";
/// Our cubic scaler (swscale's bicubic) for the render branches, registered like [`REENACTVOICE`].
pub const REENACTSCALE: &str = "reenactscale";
/// The show's chain elements (see [`crate::show`]), registered like [`REENACTVOICE`].
pub const REENACTFACETRACK: &str = "reenactfacetrack";
pub const REENACTFACESWAP: &str = "reenactfaceswap";
pub const REENACTANIMATE: &str = "reenactanimate";
pub const REENACTLIPSYNC: &str = "reenactlipsync";
pub const REENACTMATTE: &str = "reenactmatte";
pub const REENACTREFRAME: &str = "reenactreframe";

/// Every factory an offline render may need; checked before a graph is built
/// so the error names the plugin instead of failing half-way.
pub const OFFLINE: &[&str] = &[
    URIDECODEBIN,
    QUEUE,
    TEE,
    CAPSFILTER,
    VIDEOCONVERT,
    VIDEOCONVERTSCALE,
    VIDEOCROP,
    VIDEORATE,
    TEXTOVERLAY,
    IMAGEOVERLAY,
    AUDIOCONVERT,
    AUDIORESAMPLE,
    AUDIOTESTSRC,
    X264ENC,
    VP9ENC,
    AACENC,
    OPUSENC,
    MP4MUX,
    WEBMMUX,
    FILESINK,
    FILESRC,
    DECODEBIN,
    APPSINK,
];

/// Creates an element of `factory`, mapping absence to [`EngineError::MissingElement`].
pub fn make(factory: &'static str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory).build().map_err(|_| EngineError::MissingElement(factory))
}

/// An element of our own `reenact` plugin, which this crate registers; a missing one means
/// the registration failed, not that a package is missing.
pub(crate) fn plugin(name: &'static str) -> Result<gst::Element> {
    gst::ElementFactory::make(name)
        .build()
        .map_err(|_| EngineError::Init(format!("element `{name}` is missing: the reenact plugin did not register")))
}

/// Fails with the first factory of `names` that is not installed.
pub fn require(names: &[&'static str]) -> Result<()> {
    match names.iter().find(|name| gst::ElementFactory::find(name).is_none()) {
        Some(name) => Err(EngineError::MissingElement(name)),
        None => Ok(()),
    }
}
