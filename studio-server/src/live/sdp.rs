// SPDX-License-Identifier: MPL-2.0
//! What a viewer's offer can receive, decided before any peer connection is
//! made, so a bad offer gets a 4xx that says why and costs nothing.

use std::io::Cursor;

use reenact_engine::live::Stream;
use webrtc::api::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8};
use webrtc::rtp_transceiver::rtp_codec::RTCRtpCodecCapability;
use webrtc::rtp_transceiver::RTCPFeedback;
use webrtc::sdp::SessionDescription;

/// Why an offer cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    #[error("the offer is not valid SDP: {0}")]
    Malformed(String),
    #[error("the offer asks for no video (add a recvonly video transceiver)")]
    NoVideo,
    #[error("the offer's video codecs ({0}) are not sent here: this session sends H264 (packetization-mode=1) or VP8")]
    Unsupported(String),
}

/// The streams a viewer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub(crate) video: Stream,
    pub(crate) audio: bool,
}

/// Picks H.264 when the offer takes it in packetization mode 1, else VP8;
/// Opus audio when the offer has an audio section that takes it.
pub(crate) fn choose(offer: &str) -> Result<Wanted, OfferError> {
    let parsed = SessionDescription::unmarshal(&mut Cursor::new(offer.as_bytes()))
        .map_err(|e| OfferError::Malformed(e.to_string()))?;
    let mut video_codecs: Vec<(String, String)> = Vec::new();
    let mut audio = false;
    let mut has_video = false;
    for media in &parsed.media_descriptions {
        let codecs = codecs(media);
        match media.media_name.media.as_str() {
            "video" => {
                has_video = true;
                video_codecs.extend(codecs);
            }
            "audio" => audio |= codecs.iter().any(|(name, _)| name.eq_ignore_ascii_case("opus")),
            _ => {}
        }
    }
    if !has_video {
        return Err(OfferError::NoVideo);
    }
    let h264 = video_codecs
        .iter()
        .any(|(name, fmtp)| name.eq_ignore_ascii_case("H264") && fmtp.contains("packetization-mode=1"));
    if h264 {
        return Ok(Wanted { video: Stream::H264, audio });
    }
    if video_codecs.iter().any(|(name, _)| name.eq_ignore_ascii_case("VP8")) {
        return Ok(Wanted { video: Stream::Vp8, audio });
    }
    let mut names: Vec<&str> = video_codecs.iter().map(|(n, _)| n.as_str()).collect();
    names.dedup();
    Err(OfferError::Unsupported(if names.is_empty() { "none".into() } else { names.join(", ") }))
}

/// `(codec name, fmtp line)` of each payload type of a media section.
fn codecs(media: &webrtc::sdp::MediaDescription) -> Vec<(String, String)> {
    let value = |key: &str, pt: &str| -> Option<String> {
        media.attributes.iter().filter(|a| a.key == key).filter_map(|a| a.value.as_deref()).find_map(|v| {
            let (p, rest) = v.split_once(' ')?;
            (p == pt).then(|| rest.to_owned())
        })
    };
    media
        .media_name
        .formats
        .iter()
        .filter_map(|pt| {
            let rtpmap = value("rtpmap", pt)?;
            let name = rtpmap.split('/').next().unwrap_or_default().to_owned();
            Some((name, value("fmtp", pt).unwrap_or_default()))
        })
        .collect()
}

fn video_feedback() -> Vec<RTCPFeedback> {
    ["goog-remb", "ccm fir", "nack", "nack pli"]
        .iter()
        .map(|fb| {
            let (typ, parameter) = fb.split_once(' ').unwrap_or((fb, ""));
            RTCPFeedback { typ: typ.to_owned(), parameter: parameter.to_owned() }
        })
        .collect()
}

/// Constrained Baseline, level 3.1: what x264 makes for the live presets and
/// every browser decodes.
pub(crate) fn h264_capability() -> RTCRtpCodecCapability {
    RTCRtpCodecCapability {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f".to_owned(),
        rtcp_feedback: video_feedback(),
    }
}

pub(crate) fn vp8_capability() -> RTCRtpCodecCapability {
    RTCRtpCodecCapability {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: video_feedback(),
    }
}

pub(crate) fn opus_capability() -> RTCRtpCodecCapability {
    RTCRtpCodecCapability {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

    fn offer(video: &str, audio: bool) -> String {
        let mut sdp = HEAD.to_owned();
        sdp.push_str(video);
        if audio {
            sdp.push_str("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=recvonly\r\n");
        }
        sdp
    }

    #[test]
    fn h264_wins_then_vp8_and_others_are_named() {
        let both = "m=video 9 UDP/TLS/RTP/SAVPF 96 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";
        assert_eq!(choose(&offer(both, true)).unwrap(), Wanted { video: Stream::H264, audio: true });
        let vp8 = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(choose(&offer(vp8, false)).unwrap(), Wanted { video: Stream::Vp8, audio: false });
        let av1 = "m=video 9 UDP/TLS/RTP/SAVPF 45 98\r\na=rtpmap:45 AV1/90000\r\na=rtpmap:98 VP9/90000\r\n";
        let err = choose(&offer(av1, true)).unwrap_err().to_string();
        assert!(err.contains("AV1, VP9") && err.contains("H264"), "{err}");
        // Mode 0 H.264 (one NAL per packet) is not what the shared packetiser sends.
        let mode0 =
            "m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 profile-level-id=42e01f\r\n";
        assert!(matches!(choose(&offer(mode0, false)), Err(OfferError::Unsupported(_))));
    }

    #[test]
    fn garbage_and_audio_only_offers_are_refused() {
        assert!(matches!(choose("hello"), Err(OfferError::Malformed(_))));
        assert!(matches!(choose(&offer("", true)), Err(OfferError::NoVideo)));
    }
}
