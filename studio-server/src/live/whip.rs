// SPDX-License-Identifier: MPL-2.0
//! The presenter's browser publishing over WHIP (RFC 9725): its peer
//! connection receives H.264 or VP8 and Opus; every RTP packet is handed, as
//! received, to the show's browser source, whose jitter buffer and
//! depayloaders feed the live graph.
//!
//! Feedback to the browser: NACKs, receiver reports and transport-wide
//! congestion control (TWCC) come from webrtc-rs's default interceptors, so
//! the browser's congestion controller adapts its bitrate; a PLI goes out when
//! the decoder needs a keyframe (start, loss). A publisher whose ICE fails
//! (silent for [`ICE_FAILED`]) or whose tracks stop is gone: the show falls
//! back to its attract picture and the next publisher may connect.

use std::io::Cursor;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reenact_engine::live::{BrowserCodecs, BrowserInput, BrowserPublisher, BrowserVideo};
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::{MediaEngine, MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::APIBuilder;
use webrtc::ice::network_type::NetworkType;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use webrtc::rtp_transceiver::rtp_codec::{RTCRtpCodecCapability, RTCRtpCodecParameters, RTPCodecType};
use webrtc::rtp_transceiver::RTCPFeedback;
use webrtc::sdp::SessionDescription;
use webrtc::util::Marshal;

use super::network::LiveNetwork;
use super::sdp::{self, OfferError};
use super::trickle::{IceSession, Patched};
use super::{LiveError, LiveSession};

/// How long ICE gathering may take before the answer goes out with what it has.
const GATHER_TIMEOUT: Duration = Duration::from_secs(3);
/// A publisher silent this long is disconnected, and gone after [`ICE_FAILED`].
const ICE_DISCONNECTED: Duration = Duration::from_secs(2);
const ICE_FAILED: Duration = Duration::from_secs(4);
/// Least time between two keyframe requests sent to the publisher.
const PLI_GAP: Duration = Duration::from_millis(300);

/// Checks what a publisher's offer sends before any peer connection is made:
/// H.264 (packetization mode 1) or VP8 video, and Opus sound if any.
pub(crate) fn check_offer(offer: &str) -> Result<(), OfferError> {
    let parsed = SessionDescription::unmarshal(&mut Cursor::new(offer.as_bytes()))
        .map_err(|e| OfferError::Malformed(e.to_string()))?;
    let mut video = Vec::new();
    let mut audio: Option<Vec<String>> = None;
    for media in &parsed.media_descriptions {
        let codecs = sdp::codecs(media);
        match media.media_name.media.as_str() {
            "video" => video.extend(codecs),
            "audio" => audio.get_or_insert_with(Vec::new).extend(codecs.into_iter().map(|(name, _)| name)),
            _ => {}
        }
    }
    if video.is_empty() {
        return Err(OfferError::Malformed("a WHIP offer sends video (add a sendonly video track)".into()));
    }
    let playable = video.iter().any(|(name, fmtp)| {
        name.eq_ignore_ascii_case("VP8") || (name.eq_ignore_ascii_case("H264") && fmtp.contains("packetization-mode=1"))
    });
    if !playable {
        let mut names: Vec<String> = video.into_iter().map(|(n, _)| n).collect();
        names.dedup();
        return Err(OfferError::UnsupportedPublish(format!("video {}", names.join(", "))));
    }
    if let Some(names) = audio {
        if !names.iter().any(|n| n.eq_ignore_ascii_case("opus")) {
            return Err(OfferError::UnsupportedPublish(format!("audio {}", names.join(", "))));
        }
    }
    Ok(())
}

/// The codecs and payload types an answer settled on.
fn negotiated(answer: &str) -> Result<BrowserCodecs, LiveError> {
    let parsed = SessionDescription::unmarshal(&mut Cursor::new(answer.as_bytes()))
        .map_err(|e| LiveError::WebRtc(format!("unreadable answer: {e}")))?;
    let mut video = None;
    let mut audio_pt = None;
    for media in &parsed.media_descriptions {
        let first = media.media_name.formats.first().and_then(|pt| pt.parse::<u8>().ok());
        let codecs = sdp::codecs_with_pt(media);
        match media.media_name.media.as_str() {
            "video" if video.is_none() => {
                video = codecs.iter().find_map(|(pt, name)| {
                    let codec = match name.to_ascii_uppercase().as_str() {
                        "H264" => BrowserVideo::H264,
                        "VP8" => BrowserVideo::Vp8,
                        _ => return None,
                    };
                    (Some(*pt) == first || first.is_none()).then_some((codec, *pt))
                });
            }
            "audio" if audio_pt.is_none() => {
                audio_pt = codecs.iter().find(|(_, name)| name.eq_ignore_ascii_case("opus")).map(|(pt, _)| *pt);
            }
            _ => {}
        }
    }
    let (video, video_pt) = video.ok_or_else(|| LiveError::WebRtc("the answer settled on no video codec".into()))?;
    Ok(BrowserCodecs { video, video_pt, audio_pt })
}

/// One connected publisher.
pub(crate) struct Publisher {
    pub(crate) id: String,
    pc: Arc<RTCPeerConnection>,
    feed: Arc<Mutex<Option<BrowserPublisher>>>,
    ice: IceSession,
}

impl Publisher {
    /// Answers `offer`, connects the show's browser source and starts relaying RTP.
    /// `on_gone` runs once when the publisher's connection fails or closes.
    pub(crate) async fn connect(
        id: String,
        offer: String,
        input: BrowserInput,
        network: &LiveNetwork,
        on_gone: impl Fn() + Send + Sync + 'static,
    ) -> Result<(Arc<Publisher>, String), LiveError> {
        check_offer(&offer)?;
        let config = RTCConfiguration { ice_servers: network.server_ice_servers(), ..Default::default() };
        let pc = Arc::new(api(network)?.new_peer_connection(config).await?);
        let ice = IceSession::new(&id, offer.clone());
        match Self::negotiate(&pc, offer).await {
            Ok(answer) => {
                match Self::attach(id, pc.clone(), &answer, (input, network.publisher_jitter()), ice, on_gone) {
                    Ok(publisher) => Ok((publisher, answer)),
                    Err(err) => {
                        let _ = pc.close().await;
                        Err(err)
                    }
                }
            }
            Err(err) => {
                let _ = pc.close().await;
                Err(err)
            }
        }
    }

    async fn negotiate(pc: &Arc<RTCPeerConnection>, offer: String) -> Result<String, LiveError> {
        let description = RTCSessionDescription::offer(offer).map_err(|e| OfferError::Malformed(e.to_string()))?;
        pc.set_remote_description(description).await.map_err(|e| OfferError::Malformed(e.to_string()))?;
        let answer = pc.create_answer(None).await?;
        let mut gathered = pc.gathering_complete_promise().await;
        pc.set_local_description(answer).await?;
        let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered.recv()).await;
        let answer = pc.local_description().await.ok_or_else(|| LiveError::WebRtc("no local description".into()))?;
        Ok(answer.sdp)
    }

    fn attach(
        id: String,
        pc: Arc<RTCPeerConnection>,
        answer: &str,
        (input, jitter): (BrowserInput, Duration),
        ice: IceSession,
        on_gone: impl Fn() + Send + Sync + 'static,
    ) -> Result<Arc<Publisher>, LiveError> {
        let codecs = negotiated(answer)?;
        let video_ssrc = Arc::new(AtomicU32::new(0));
        let on_keyframe = pli_sender(&pc, Arc::clone(&video_ssrc));
        let feed = input.connect(codecs, jitter, on_keyframe).map_err(|_| LiveError::PublisherConnected)?;
        let feed = Arc::new(Mutex::new(Some(feed)));
        let on_gone = Arc::new(on_gone);
        let relay_feed = Arc::clone(&feed);
        let gone = Arc::clone(&on_gone);
        pc.on_track(Box::new(move |track, _, _| {
            let feed = Arc::clone(&relay_feed);
            let video = track.kind() == RTPCodecType::Video;
            if video {
                video_ssrc.store(track.ssrc(), Ordering::SeqCst);
            }
            let gone = Arc::clone(&gone);
            tokio::spawn(async move {
                while let Ok((packet, _)) = track.read_rtp().await {
                    let Ok(bytes) = packet.marshal() else { continue };
                    let feed = feed.lock().unwrap_or_else(PoisonError::into_inner);
                    let Some(feed) = feed.as_ref() else { return };
                    if video {
                        feed.push_video(&bytes);
                    } else {
                        feed.push_audio(&bytes);
                    }
                }
                // The track ended: the publisher closed or its connection broke.
                gone();
            });
            Box::pin(async {})
        }));
        pc.on_peer_connection_state_change(Box::new(move |state| {
            if matches!(state, RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed) {
                on_gone();
            }
            Box::pin(async {})
        }));
        Ok(Arc::new(Publisher { id, pc, feed, ice }))
    }

    /// Ends the publisher: the show goes back to its attract picture.
    pub(crate) async fn close(&self) {
        drop(self.feed.lock().unwrap_or_else(PoisonError::into_inner).take());
        let _ = self.pc.close().await;
    }

    pub(crate) fn connection(&self) -> String {
        self.pc.connection_state().to_string()
    }
}

impl LiveSession {
    /// Answers a WHIP offer from the show's owner: returns the publisher's
    /// resource name and the SDP answer. One publisher at a time.
    pub async fn add_publisher(self: &Arc<Self>, offer: String) -> Result<(String, String), LiveError> {
        let input = self
            .with_runner(|runner| runner.browser().cloned().ok_or_else(|| runner.stats().source))
            .ok_or_else(|| LiveError::UnknownSession(self.id.clone()))?
            .map_err(LiveError::NotBrowser)?;
        if self.publisher.lock().unwrap_or_else(PoisonError::into_inner).is_some() {
            return Err(LiveError::PublisherConnected);
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let session = Arc::downgrade(self);
        let gone_id = id.clone();
        let on_gone = move || {
            let Some(session) = session.upgrade() else { return };
            let id = gone_id.clone();
            tokio::spawn(async move {
                if session.remove_publisher(&id).await.is_ok() {
                    tracing::info!(session = session.log_id(), "publisher gone");
                }
            });
        };
        let (publisher, answer) = Publisher::connect(id.clone(), offer, input, &self.network, on_gone).await?;
        let refused = {
            let mut slot = self.publisher.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_some() {
                true
            } else {
                *slot = Some(Arc::clone(&publisher));
                false
            }
        };
        if refused {
            publisher.close().await;
            return Err(LiveError::PublisherConnected);
        }
        tracing::info!(session = self.log_id(), "publisher connected");
        Ok((id, answer))
    }

    /// Ends the publisher `id`; the show goes on with its attract picture.
    pub async fn remove_publisher(&self, id: &str) -> Result<(), LiveError> {
        let publisher = {
            let mut slot = self.publisher.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.as_ref() {
                Some(publisher) if publisher.id == id => slot.take(),
                _ => None,
            }
        };
        let publisher = publisher.ok_or_else(|| LiveError::UnknownPublisher(id.to_owned()))?;
        publisher.close().await;
        Ok(())
    }

    /// Applies a trickle ICE fragment (candidates, or new credentials: an ICE restart) to
    /// the publisher `id`'s connection.
    pub async fn patch_publisher(
        &self,
        id: &str,
        fragment: &str,
        if_match: Option<&str>,
    ) -> Result<Patched, LiveError> {
        let publisher = {
            let slot = self.publisher.lock().unwrap_or_else(PoisonError::into_inner);
            slot.as_ref().filter(|p| p.id == id).cloned()
        };
        let publisher = publisher.ok_or_else(|| LiveError::UnknownPublisher(id.to_owned()))?;
        publisher.ice.patch(&publisher.pc, fragment, if_match).await
    }

    /// The entity tag of the publisher `id`'s ICE session.
    pub fn publisher_etag(&self, id: &str) -> Option<String> {
        let slot = self.publisher.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().filter(|p| p.id == id).map(|p| p.ice.etag())
    }

    /// The connected publisher's id and connection state.
    pub fn publisher_state(&self) -> Option<(String, String)> {
        let slot = self.publisher.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().map(|p| (p.id.clone(), p.connection()))
    }
}

/// A keyframe request for the decoder's thread: a PLI to the publisher, spaced out.
fn pli_sender(pc: &Arc<RTCPeerConnection>, ssrc: Arc<AtomicU32>) -> impl Fn() + Send + Sync + 'static {
    let pc = Arc::downgrade(pc);
    let runtime = tokio::runtime::Handle::current();
    let last = Mutex::new(None::<Instant>);
    move || {
        let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < PLI_GAP) {
            return;
        }
        *last = Some(Instant::now());
        let (Some(pc), media_ssrc) = (pc.upgrade(), ssrc.load(Ordering::SeqCst)) else { return };
        if media_ssrc == 0 {
            return;
        }
        runtime.spawn(async move {
            let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc };
            let _ = pc.write_rtcp(&[Box::new(pli)]).await;
        });
    }
}

/// A WebRTC API for one publisher: H.264 (packetization mode 1), VP8 and Opus
/// only, so the answer never settles on a codec the source cannot decode;
/// the default interceptors (NACK, reports, TWCC); IPv4 UDP, loopback allowed.
fn api(network: &LiveNetwork) -> Result<webrtc::api::API, LiveError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut media = MediaEngine::default();
    let feedback = ["goog-remb", "ccm fir", "nack", "nack pli"]
        .iter()
        .map(|f| {
            let (typ, parameter) = f.split_once(' ').unwrap_or((f, ""));
            RTCPFeedback { typ: typ.to_owned(), parameter: parameter.to_owned() }
        })
        .collect::<Vec<_>>();
    let video = |mime: &str, fmtp: &str, pt: u8| RTCRtpCodecParameters {
        capability: RTCRtpCodecCapability {
            mime_type: mime.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: feedback.clone(),
        },
        payload_type: pt,
        ..Default::default()
    };
    for codec in [
        video(MIME_TYPE_VP8, "", 96),
        video(MIME_TYPE_H264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", 102),
        video(MIME_TYPE_H264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 125),
    ] {
        media.register_codec(codec, RTPCodecType::Video)?;
    }
    let opus = RTCRtpCodecParameters {
        capability: RTCRtpCodecCapability {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: Vec::new(),
        },
        payload_type: 111,
        ..Default::default()
    };
    media.register_codec(opus, RTPCodecType::Audio)?;
    let registry = register_default_interceptors(Registry::new(), &mut media)?;
    let mut settings = SettingEngine::default();
    settings.set_network_types(vec![NetworkType::Udp4]);
    settings.set_include_loopback_candidate(true);
    settings.set_ice_timeouts(Some(ICE_DISCONNECTED), Some(ICE_FAILED), Some(Duration::from_secs(1)));
    // The same public address, port range and STUN servers as the show's viewers.
    network.apply(&mut settings)?;
    Ok(APIBuilder::new()
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(video: &str, audio: &str) -> String {
        format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n{video}\
             m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n{audio}"
        )
    }

    #[test]
    fn offers_are_checked_for_what_the_source_can_decode() {
        let vp8 = "a=rtpmap:96 VP8/90000\r\n";
        let opus = "a=rtpmap:111 opus/48000/2\r\n";
        check_offer(&offer(vp8, opus)).unwrap();
        let h264 = "a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\n";
        check_offer(&offer(h264, opus)).unwrap();
        let err = check_offer(&offer("a=rtpmap:96 VP9/90000\r\n", opus)).unwrap_err();
        assert!(matches!(err, OfferError::UnsupportedPublish(ref s) if s.contains("VP9")), "{err}");
        let err = check_offer(&offer(vp8, "a=rtpmap:111 PCMU/8000\r\n")).unwrap_err();
        assert!(matches!(err, OfferError::UnsupportedPublish(ref s) if s.contains("PCMU")), "{err}");
        assert!(matches!(check_offer("hello"), Err(OfferError::Malformed(_))));
    }

    #[test]
    fn the_answers_codecs_and_payload_types_are_read_back() {
        let answer = offer("a=rtpmap:96 VP8/90000\r\n", "a=rtpmap:111 opus/48000/2\r\n");
        let codecs = negotiated(&answer).unwrap();
        assert_eq!(codecs, BrowserCodecs { video: BrowserVideo::Vp8, video_pt: 96, audio_pt: Some(111) });
    }
}
