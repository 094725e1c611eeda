// SPDX-License-Identifier: MPL-2.0
//! One WebRTC viewer: its peer connection, bound to the session's shared
//! tracks, and what its page reports back (frames shown, glass-to-glass
//! latency read from the burned capture clock).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reenact_engine::live::{percentile, Stream};
use serde::{Deserialize, Serialize};
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::MediaEngine;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::APIBuilder;
use webrtc::ice::network_type::NetworkType;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use webrtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;
use webrtc::track::track_local::TrackLocal;

use super::network::LiveNetwork;
use super::sdp::OfferError;
use super::trickle::{IceSession, Patched};
use super::LiveError;

/// Latency samples kept per viewer.
const SAMPLES: usize = 3000;
/// How long ICE gathering may take before the answer goes out with what it has.
const GATHER_TIMEOUT: Duration = Duration::from_secs(3);
/// A viewer silent this long is disconnected, and failed (dropped) after the second.
const ICE_DISCONNECTED: Duration = Duration::from_secs(3);
const ICE_FAILED: Duration = Duration::from_secs(6);

/// What a viewer's page posts every second (`studio-server/assets/whep.js`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ViewerReport {
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub timecode_frames: u64,
    /// Glass-to-glass samples since the previous report, in ms.
    pub latency_ms: Vec<f64>,
    pub audio_tracks: u32,
    pub video_codec: String,
    pub frames_dropped: u64,
    pub state: String,
    /// The browser's level of the sound it receives, 0 to 1 (its `audioLevel`).
    pub audio_level: f64,
    /// The kind of the local ICE candidate in use: `host`, `srflx` or `relay` (TURN).
    pub route: String,
    /// ICE restarts the page made on this viewer (a lost connection mended in place).
    pub ice_restarts: u32,
}

/// A viewer as `GET /api/live/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ViewerSummary {
    pub id: String,
    pub codec: Stream,
    pub connection: String,
    pub connected_s: f64,
    /// The page's last report (its `latency_ms` are those of that report).
    pub report: Option<ViewerReport>,
    /// Over the samples the page sent (after the first `skip_s`, when asked).
    pub latency_samples: usize,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
}

/// Who a viewer is: its public id, the secret its own requests carry, its address.
pub(crate) struct Identity {
    pub(crate) id: String,
    pub(crate) secret: String,
    pub(crate) address: IpAddr,
}

pub(crate) struct Viewer {
    pub(crate) id: String,
    secret: String,
    pub(crate) address: IpAddr,
    pub(crate) codec: Stream,
    pc: Arc<RTCPeerConnection>,
    ice: IceSession,
    joined: Instant,
    last: Mutex<Option<ViewerReport>>,
    /// Glass-to-glass samples with when they arrived.
    latencies: Mutex<Vec<(Instant, f64)>>,
}

impl Viewer {
    /// Makes the peer connection for `offer`, bound to the shared tracks;
    /// returns the viewer and the SDP answer (ICE gathered, no trickle).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn connect(
        identity: Identity,
        network: &LiveNetwork,
        offer: String,
        codec: Stream,
        video: Arc<TrackLocalStaticSample>,
        audio: Option<Arc<TrackLocalStaticSample>>,
        on_keyframe: impl Fn() + Send + Sync + 'static,
        on_gone: impl Fn() + Send + Sync + 'static,
    ) -> Result<(Arc<Viewer>, String), LiveError> {
        let config = RTCConfiguration { ice_servers: network.server_ice_servers(), ..Default::default() };
        let pc = Arc::new(api(network)?.new_peer_connection(config).await?);
        let on_keyframe = Arc::new(on_keyframe);
        let sender = pc.add_track(video as Arc<dyn TrackLocal + Send + Sync>).await?;
        let keyframe = Arc::clone(&on_keyframe);
        tokio::spawn(async move {
            // PLI and FIR ask for a fresh keyframe; the loop ends with the connection.
            while let Ok((packets, _)) = sender.read_rtcp().await {
                let lost = packets
                    .iter()
                    .any(|p| p.as_any().is::<PictureLossIndication>() || p.as_any().is::<FullIntraRequest>());
                if lost {
                    keyframe();
                }
            }
        });
        if let Some(audio) = audio {
            let sender = pc.add_track(audio as Arc<dyn TrackLocal + Send + Sync>).await?;
            tokio::spawn(async move { while sender.read_rtcp().await.is_ok() {} });
        }
        let on_gone = Arc::new(on_gone);
        pc.on_peer_connection_state_change(Box::new(move |state| {
            match state {
                RTCPeerConnectionState::Connected => on_keyframe(),
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => on_gone(),
                _ => {}
            }
            Box::pin(async {})
        }));
        let ice = IceSession::new(&identity.id, offer.clone());
        let description = RTCSessionDescription::offer(offer).map_err(|e| OfferError::Malformed(e.to_string()))?;
        if let Err(err) = pc.set_remote_description(description).await {
            let _ = pc.close().await;
            return Err(OfferError::Malformed(err.to_string()).into());
        }
        let answer = match pc.create_answer(None).await {
            Ok(answer) => answer,
            Err(err) => {
                let _ = pc.close().await;
                return Err(err.into());
            }
        };
        let mut gathered = pc.gathering_complete_promise().await;
        pc.set_local_description(answer).await?;
        let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered.recv()).await;
        let answer = pc.local_description().await.ok_or_else(|| LiveError::WebRtc("no local description".into()))?;
        let Identity { id, secret, address } = identity;
        let viewer = Viewer {
            id,
            secret,
            address,
            codec,
            pc,
            ice,
            joined: Instant::now(),
            last: Mutex::default(),
            latencies: Mutex::default(),
        };
        Ok((Arc::new(viewer), answer.sdp))
    }

    /// Compares in constant time: the secret is what proves a request comes from this viewer.
    pub(crate) fn secret_matches(&self, secret: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.secret.as_bytes().ct_eq(secret.as_bytes()))
    }

    pub(crate) async fn close(&self) {
        let _ = self.pc.close().await;
    }

    pub(crate) async fn patch_ice(&self, fragment: &str, if_match: Option<&str>) -> Result<Patched, LiveError> {
        self.ice.patch(&self.pc, fragment, if_match).await
    }

    pub(crate) fn etag(&self) -> String {
        self.ice.etag()
    }

    pub(crate) fn record(&self, report: ViewerReport) {
        let mut latencies = self.latencies.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let valid = report.latency_ms.iter().copied().filter(|v| v.is_finite() && (0.0..10_000.0).contains(v));
        latencies.extend(valid.map(|v| (now, v)));
        let excess = latencies.len().saturating_sub(SAMPLES);
        latencies.drain(..excess);
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
    }

    /// The viewer's figures; latency over the samples that arrived after its first `skip`.
    pub(crate) fn summary(&self, skip: Duration) -> ViewerSummary {
        let from = self.joined + skip;
        let latencies = self.latencies.lock().unwrap_or_else(PoisonError::into_inner);
        let mut sorted: Vec<f64> = latencies.iter().filter(|(at, _)| *at >= from).map(|(_, v)| *v).collect();
        drop(latencies);
        sorted.sort_by(f64::total_cmp);
        ViewerSummary {
            id: self.id.clone(),
            codec: self.codec,
            connection: self.pc.connection_state().to_string(),
            connected_s: self.joined.elapsed().as_secs_f64(),
            report: self.last.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            latency_samples: sorted.len(),
            latency_p50_ms: percentile(&sorted, 0.5),
            latency_p95_ms: percentile(&sorted, 0.95),
        }
    }
}

/// A WebRTC API for one viewer: the default codecs and interceptors (NACK,
/// RTCP reports), IPv4 UDP, loopback allowed (a studio on one machine), and
/// short ICE timeouts so a vanished viewer is dropped within seconds; the operator's
/// public address and UDP port range.
fn api(network: &LiveNetwork) -> Result<webrtc::api::API, LiveError> {
    // With object_store's TLS in the build, rustls has two providers and picks none:
    // DTLS would panic at the first handshake. Ring is what webrtc's DTLS is built on.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut media = MediaEngine::default();
    media.register_default_codecs()?;
    let registry = register_default_interceptors(Registry::new(), &mut media)?;
    let mut settings = SettingEngine::default();
    settings.set_network_types(vec![NetworkType::Udp4]);
    settings.set_include_loopback_candidate(true);
    settings.set_ice_timeouts(Some(ICE_DISCONNECTED), Some(ICE_FAILED), Some(Duration::from_secs(1)));
    network.apply(&mut settings)?;
    Ok(APIBuilder::new()
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .build())
}
