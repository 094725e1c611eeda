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
    #[error(
        "the offer's {0} cannot be received here: publish H264 (packetization-mode=1) or VP8 video and Opus audio"
    )]
    UnsupportedPublish(String),
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
pub(super) fn codecs(media: &webrtc::sdp::MediaDescription) -> Vec<(String, String)> {
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

/// `(payload type, codec name)` of each payload type of a media section, in the section's order.
pub(super) fn codecs_with_pt(media: &webrtc::sdp::MediaDescription) -> Vec<(u8, String)> {
    media
        .media_name
        .formats
        .iter()
        .filter_map(|pt| {
            let rtpmap =
                media.attributes.iter().filter(|a| a.key == "rtpmap").filter_map(|a| a.value.as_deref()).find_map(
                    |v| {
                        let (p, rest) = v.split_once(' ')?;
                        (p == pt).then_some(rest)
                    },
                )?;
            Some((pt.parse().ok()?, rtpmap.split('/').next().unwrap_or_default().to_owned()))
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

/// Property tests: any text and broken offers are refused with a reason, never a panic;
/// generated browser-like offers get the codec the rules pick.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    /// A video codec an offer may list: name, fmtp parameters.
    const VIDEO: &[(&str, &str)] = &[
        ("VP8", ""),
        ("VP9", "profile-id=0"),
        ("AV1", ""),
        ("H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
        ("H264", "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"),
        ("H264", "packetization-mode=1;profile-level-id=640c1f"),
        ("rtx", "apt=96"),
    ];
    const AUDIO: &[&str] = &["opus/48000/2", "PCMU/8000", "G722/8000", "telephone-event/8000"];

    /// A generated offer and what it lists.
    #[derive(Debug, Clone)]
    struct Offer {
        sdp: String,
        video: Option<Vec<(&'static str, &'static str)>>,
        audio: Option<Vec<&'static str>>,
    }

    impl Offer {
        /// What the rules say the viewer gets: H.264 in mode 1, else VP8; Opus when offered.
        fn expected(&self) -> std::result::Result<Wanted, &'static str> {
            let video = self.video.as_ref().ok_or("no video")?;
            let audio = self.audio.iter().flatten().any(|a| a.starts_with("opus/"));
            if video.iter().any(|(n, f)| *n == "H264" && f.contains("packetization-mode=1")) {
                Ok(Wanted { video: Stream::H264, audio })
            } else if video.iter().any(|(n, _)| *n == "VP8") {
                Ok(Wanted { video: Stream::Vp8, audio })
            } else {
                Err("unsupported")
            }
        }
    }

    /// One media section with payload types from 96 up and the usual ICE/DTLS attributes.
    fn section(kind: &str, port: u16, codecs: &[(String, &str)]) -> String {
        let pts: Vec<String> = (0..codecs.len()).map(|i| (96 + i).to_string()).collect();
        let mut s = format!("m={kind} {port} UDP/TLS/RTP/SAVPF {}\r\nc=IN IP4 0.0.0.0\r\n", pts.join(" "));
        s.push_str("a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=setup:actpass\r\n");
        s.push_str("a=recvonly\r\na=rtcp-mux\r\n");
        for (pt, (rtpmap, fmtp)) in pts.iter().zip(codecs) {
            s.push_str(&format!("a=rtpmap:{pt} {rtpmap}\r\n"));
            if !fmtp.is_empty() {
                s.push_str(&format!("a=fmtp:{pt} {fmtp}\r\n"));
            }
        }
        s
    }

    /// A browser-like offer with optional audio and video sections in either order.
    fn offer() -> impl Strategy<Value = Offer> {
        let video = prop::option::of(prop::sample::subsequence(VIDEO, 1..=VIDEO.len()));
        let audio = prop::option::of(prop::sample::subsequence(AUDIO, 1..=AUDIO.len()));
        (video, audio, any::<bool>(), 1..65535u16).prop_map(|(video, audio, audio_first, port)| {
            let mut sdp = String::from("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
            sdp.push_str("a=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n");
            let v = video.as_ref().map(|v| {
                section("video", port, &v.iter().map(|(n, f)| (format!("{n}/90000"), *f)).collect::<Vec<_>>())
            });
            let a = audio
                .as_ref()
                .map(|a| section("audio", port, &a.iter().map(|n| (n.to_string(), "")).collect::<Vec<_>>()));
            let parts = if audio_first { [a, v] } else { [v, a] };
            sdp.extend(parts.into_iter().flatten());
            Offer { sdp, video, audio }
        })
    }

    #[derive(Debug, Clone)]
    enum Break {
        DropLine(Index),
        RepeatLine(Index),
        AddLine(Index, String),
        Cut(Index),
        SetByte(Index, u8),
    }

    /// Lines a broken offer may gain.
    const LINES: &[&str] = &[
        "m=video",
        "m=video 9",
        "m=video x UDP/TLS/RTP/SAVPF 96",
        "m=audio 9 RTP/AVP",
        "a=rtpmap:96",
        "a=rtpmap:96 ",
        "a=rtpmap: H264/90000",
        "a=fmtp:96",
        "a=fmtp:",
        "a=",
        "a=:",
        "c=IN",
        "c=IN IP4",
        "o=",
        "o=- 1 2 IN IP4",
        "t=x y",
        "b=AS:",
        "b=:",
        "k=prompt",
        "r=1 2",
        "z=0 -1",
        "i=",
        "u=",
        "e=",
        "p=",
        "v=1",
        "=",
        "m=",
        "",
    ];

    fn a_break() -> impl Strategy<Value = Break> {
        prop_oneof![
            any::<Index>().prop_map(Break::DropLine),
            any::<Index>().prop_map(Break::RepeatLine),
            (any::<Index>(), prop_oneof![3 => prop::sample::select(LINES).prop_map(String::from), 1 => "\\PC{0,20}"])
                .prop_map(|(i, l)| Break::AddLine(i, l)),
            any::<Index>().prop_map(Break::Cut),
            (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Break::SetByte(i, b)),
        ]
    }

    fn apply(sdp: &str, change: &Break) -> String {
        if sdp.is_empty() {
            return String::new();
        }
        let mut lines: Vec<String> = sdp.split("\r\n").map(String::from).collect();
        match change {
            Break::DropLine(i) => {
                lines.remove(i.index(lines.len()));
            }
            Break::RepeatLine(i) => {
                let line = lines[i.index(lines.len())].clone();
                lines.insert(i.index(lines.len()), line);
            }
            Break::AddLine(i, line) => lines.insert(i.index(lines.len() + 1), line.clone()),
            Break::Cut(i) => return String::from_utf8_lossy(&sdp.as_bytes()[..i.index(sdp.len() + 1)]).into_owned(),
            Break::SetByte(i, b) => {
                let mut bytes = sdp.as_bytes().to_vec();
                let at = i.index(bytes.len());
                bytes[at] = *b;
                return String::from_utf8_lossy(&bytes).into_owned();
            }
        }
        lines.join("\r\n")
    }

    /// A refusal must say why in words.
    fn refused_with_reason(result: Result<Wanted, OfferError>) -> std::result::Result<(), TestCaseError> {
        if let Err(err) = result {
            prop_assert!(err.to_string().len() > 10, "{err:?}");
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_text_is_refused_with_a_reason(text in "\\PC{0,200}") {
            refused_with_reason(choose(&text))?;
        }

        #[test]
        fn offers_get_the_codec_the_rules_pick(offer in offer()) {
            let got = choose(&offer.sdp);
            match offer.expected() {
                Ok(wanted) => prop_assert_eq!(got.unwrap(), wanted),
                Err("no video") => prop_assert!(matches!(got, Err(OfferError::NoVideo)), "{:?}", got),
                Err(_) => prop_assert!(matches!(got, Err(OfferError::Unsupported(_))), "{:?}", got),
            }
        }

        #[test]
        fn broken_offers_are_answered_or_refused_with_a_reason(
            offer in offer(),
            changes in prop::collection::vec(a_break(), 1..4),
        ) {
            let broken = changes.iter().fold(offer.sdp, |sdp, change| apply(&sdp, change));
            refused_with_reason(choose(&broken))?;
        }
    }
}
