// SPDX-License-Identifier: MPL-2.0
//! How the studio's WebRTC connections cross real networks: the STUN and TURN servers the
//! pages are told about, TURN credentials minted per request from a secret shared with
//! the relay (coturn's `use-auth-secret` scheme), the public address of a server behind a
//! 1:1 NAT (cloud VMs, Kubernetes nodes), the UDP ports ICE may bind and how deep a
//! presenter's jitter buffer is.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reenact_engine::live::{DEFAULT_JITTER, MAX_JITTER};
use serde::Serialize;
use sha1::Sha1;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::ice::udp_network::{EphemeralUDP, UDPNetwork};
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::ice_transport::ice_server::RTCIceServer;

/// How long a minted TURN credential is accepted by the relay.
pub const TURN_TTL: Duration = Duration::from_secs(3600);

/// The operator's network settings for live shows.
#[derive(Clone, Default)]
pub struct LiveNetwork {
    /// `stun:`, `turn:` and `turns:` URLs handed to the pages.
    pub ice_servers: Vec<String>,
    /// Secret shared with the TURN server; never leaves the process.
    pub turn_secret: Option<String>,
    /// Addresses the server is reached at from outside a 1:1 NAT.
    pub public_ips: Vec<IpAddr>,
    /// UDP ports ICE binds (one per connection and address family); any port when `None`.
    pub udp_ports: Option<RangeInclusive<u16>>,
    /// Pages connect through the TURN relay only (`iceTransportPolicy: "relay"`): for
    /// networks that allow nothing else, or to keep presenters' addresses from the server.
    pub relay_only: bool,
    /// Depth of each publisher's jitter buffer; the engine's [`DEFAULT_JITTER`] when `None`.
    pub publisher_jitter: Option<Duration>,
}

impl std::fmt::Debug for LiveNetwork {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("LiveNetwork")
            .field("ice_servers", &self.ice_servers)
            .field("turn_secret", &self.turn_secret.as_ref().map(|_| "<set>"))
            .field("public_ips", &self.public_ips)
            .field("udp_ports", &self.udp_ports)
            .field("relay_only", &self.relay_only)
            .field("publisher_jitter", &self.publisher_jitter)
            .finish()
    }
}

/// A setting that cannot be used, named.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("ice-servers: `{0}` is not a stun:, turn: or turns: URL")]
    Scheme(String),
    #[error("ice-servers: `{0}` is a TURN server, which needs turn-secret")]
    NoSecret(String),
    #[error("udp-ports: `{0}` is not FIRST-LAST with 1 <= FIRST <= LAST <= 65535")]
    Ports(String),
    #[error("relay-only: ice-servers has no turn: or turns: URL to relay through")]
    NoRelay,
    #[error("publisher-jitter-ms: {0} ms is deeper than the {max} ms a live show allows", max = MAX_JITTER.as_millis())]
    Jitter(u128),
}

/// One entry of `RTCConfiguration.iceServers` as a page passes it to the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl LiveNetwork {
    /// Refuses URLs of unknown schemes and TURN servers without a secret, so a mistake
    /// shows at start rather than as a browser that never connects.
    pub fn check(&self) -> Result<(), NetworkError> {
        for url in &self.ice_servers {
            match scheme(url) {
                Some(Scheme::Stun) => {}
                Some(Scheme::Turn) if self.turn_secret.is_some() => {}
                Some(Scheme::Turn) => return Err(NetworkError::NoSecret(url.clone())),
                None => return Err(NetworkError::Scheme(url.clone())),
            }
        }
        if self.relay_only && !self.ice_servers.iter().any(|url| scheme(url) == Some(Scheme::Turn)) {
            return Err(NetworkError::NoRelay);
        }
        if self.publisher_jitter() > MAX_JITTER {
            return Err(NetworkError::Jitter(self.publisher_jitter().as_millis()));
        }
        Ok(())
    }

    /// How long a publisher's packets wait for the ones before them.
    pub fn publisher_jitter(&self) -> Duration {
        self.publisher_jitter.unwrap_or(DEFAULT_JITTER)
    }

    /// `RTCConfiguration.iceTransportPolicy` for the pages.
    pub fn transport_policy(&self) -> &'static str {
        if self.relay_only {
            "relay"
        } else {
            "all"
        }
    }

    /// What a page of `user` gets: the STUN servers as they are, the TURN servers with a
    /// credential valid for [`TURN_TTL`] from `now`.
    pub fn ice_servers_for(&self, user: &str, now: SystemTime) -> Vec<IceServer> {
        let (stun, turn): (Vec<&String>, Vec<&String>) =
            self.ice_servers.iter().partition(|url| scheme(url) == Some(Scheme::Stun));
        let mut servers = Vec::new();
        if !stun.is_empty() {
            servers.push(IceServer { urls: stun.into_iter().cloned().collect(), username: None, credential: None });
        }
        if let (false, Some(secret)) = (turn.is_empty(), &self.turn_secret) {
            let (username, credential) = turn_credential(secret, user, now + TURN_TTL);
            let urls = turn.into_iter().cloned().collect();
            servers.push(IceServer { urls, username: Some(username), credential: Some(credential) });
        }
        servers
    }

    /// The server's own side: STUN servers let it learn its public address when no
    /// `public_ips` are set (it never relays through TURN itself).
    pub(crate) fn server_ice_servers(&self) -> Vec<RTCIceServer> {
        let urls: Vec<String> =
            self.ice_servers.iter().filter(|url| scheme(url) == Some(Scheme::Stun)).cloned().collect();
        if urls.is_empty() {
            return Vec::new();
        }
        vec![RTCIceServer { urls, ..Default::default() }]
    }

    /// Applies the public addresses and the port range to a peer connection's settings.
    pub(crate) fn apply(&self, settings: &mut SettingEngine) -> Result<(), webrtc::Error> {
        if !self.public_ips.is_empty() {
            // Server-reflexive rather than host: the private host candidates stay, so peers
            // on the same network (and loopback) still connect directly.
            let ips = self.public_ips.iter().map(IpAddr::to_string).collect();
            settings.set_nat_1to1_ips(ips, RTCIceCandidateType::Srflx);
        }
        if let Some(ports) = &self.udp_ports {
            let ephemeral = EphemeralUDP::new(*ports.start(), *ports.end())?;
            settings.set_udp_network(UDPNetwork::Ephemeral(ephemeral));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Stun,
    Turn,
}

fn scheme(url: &str) -> Option<Scheme> {
    let (scheme, rest) = url.split_once(':')?;
    if rest.is_empty() {
        return None;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "stun" | "stuns" => Some(Scheme::Stun),
        "turn" | "turns" => Some(Scheme::Turn),
        _ => None,
    }
}

/// Parses `FIRST-LAST` (inclusive).
pub fn parse_ports(text: &str) -> Result<RangeInclusive<u16>, NetworkError> {
    let bad = || NetworkError::Ports(text.to_owned());
    let (first, last) = text.trim().split_once('-').ok_or_else(bad)?;
    let first: u16 = first.trim().parse().map_err(|_| bad())?;
    let last: u16 = last.trim().parse().map_err(|_| bad())?;
    if first == 0 || first > last {
        return Err(bad());
    }
    Ok(first..=last)
}

/// coturn's `use-auth-secret` (the TURN REST API): the username is
/// `<expiry unix seconds>:<user>` and the password base64(HMAC-SHA1(secret, username)); the
/// relay recomputes it and refuses it after the expiry.
pub fn turn_credential(secret: &str, user: &str, expires: SystemTime) -> (String, String) {
    let expiry = expires.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let username = format!("{expiry}:{user}");
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn credentials_match_an_independent_hmac() {
        // python3: base64.b64encode(hmac.new(b"north-studio-turn-secret",
        //     b"1767225600:3f2a9c1e", hashlib.sha1).digest())
        let (username, password) = turn_credential("north-studio-turn-secret", "3f2a9c1e", at(1_767_225_600));
        assert_eq!(username, "1767225600:3f2a9c1e");
        assert_eq!(password, "PCYVqW1xZOtZvTint75pVMLWfFk=");
        let (_, other) = turn_credential("another-secret", "3f2a9c1e", at(1_767_225_600));
        assert_ne!(other, password);
    }

    #[test]
    fn pages_get_stun_as_is_and_turn_with_an_expiring_credential() {
        let network = LiveNetwork {
            ice_servers: vec!["stun:stun.example.org:3478".into(), "turn:turn.example.org:3478?transport=udp".into()],
            turn_secret: Some("s3cret".into()),
            ..LiveNetwork::default()
        };
        network.check().unwrap();
        let servers = network.ice_servers_for("user-1", at(1_000));
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0], IceServer { urls: vec!["stun:stun.example.org:3478".into()], ..servers[0].clone() });
        assert!(servers[0].username.is_none() && servers[0].credential.is_none());
        assert_eq!(servers[1].username.as_deref(), Some("4600:user-1"));
        assert_eq!(servers[1].credential, Some(turn_credential("s3cret", "user-1", at(4_600)).1));
        assert!(!serde_json::to_string(&servers).unwrap().contains("s3cret"));
        assert!(!format!("{network:?}").contains("s3cret"));
        assert_eq!(network.server_ice_servers()[0].urls, vec!["stun:stun.example.org:3478".to_owned()]);
    }

    #[test]
    fn mistakes_are_named() {
        let turn_only = LiveNetwork { ice_servers: vec!["turn:relay:3478".into()], ..LiveNetwork::default() };
        assert!(turn_only.check().unwrap_err().to_string().contains("needs turn-secret"));
        let http = LiveNetwork { ice_servers: vec!["http://relay".into()], ..LiveNetwork::default() };
        assert!(http.check().unwrap_err().to_string().contains("not a stun:"));
        let stun_only =
            LiveNetwork { ice_servers: vec!["stun:relay:3478".into()], relay_only: true, ..LiveNetwork::default() };
        assert!(stun_only.check().unwrap_err().to_string().contains("relay-only"));
        let relayed = LiveNetwork {
            ice_servers: vec!["turns:relay:5349".into()],
            turn_secret: Some("s".into()),
            relay_only: true,
            ..LiveNetwork::default()
        };
        relayed.check().unwrap();
        let deep = LiveNetwork { publisher_jitter: Some(Duration::from_millis(1500)), ..LiveNetwork::default() };
        assert_eq!(
            deep.check().unwrap_err().to_string(),
            "publisher-jitter-ms: 1500 ms is deeper than the 1000 ms a live show allows"
        );
        let shallow = LiveNetwork { publisher_jitter: Some(Duration::from_millis(20)), ..LiveNetwork::default() };
        shallow.check().unwrap();
        assert_eq!(shallow.publisher_jitter(), Duration::from_millis(20));
        assert_eq!(LiveNetwork::default().publisher_jitter(), DEFAULT_JITTER);
        assert_eq!((relayed.transport_policy(), turn_only.transport_policy()), ("relay", "all"));
        assert_eq!(parse_ports("50000-50100").unwrap(), 50000..=50100);
        for bad in ["50100-50000", "0-10", "50000", "a-b", "1-70000"] {
            assert!(parse_ports(bad).unwrap_err().to_string().contains("udp-ports"), "{bad}");
        }
    }

    /// A real peer connection on loopback: its candidates use the range and the public address.
    #[tokio::test]
    async fn candidates_use_the_port_range_and_the_public_address() {
        use webrtc::api::APIBuilder;
        use webrtc::ice::network_type::NetworkType;
        let network = LiveNetwork {
            public_ips: vec!["203.0.113.7".parse().unwrap()],
            udp_ports: Some(41000..=41009),
            ..LiveNetwork::default()
        };
        let mut settings = SettingEngine::default();
        settings.set_network_types(vec![NetworkType::Udp4]);
        settings.set_include_loopback_candidate(true);
        settings.set_ip_filter(Box::new(|ip: IpAddr| ip.is_loopback()));
        network.apply(&mut settings).unwrap();
        let api = APIBuilder::new().with_setting_engine(settings).build();
        let pc = api.new_peer_connection(Default::default()).await.unwrap();
        pc.create_data_channel("probe", None).await.unwrap();
        let offer = pc.create_offer(None).await.unwrap();
        let mut gathered = pc.gathering_complete_promise().await;
        pc.set_local_description(offer).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), gathered.recv()).await.unwrap();
        let sdp = pc.local_description().await.unwrap().sdp;
        pc.close().await.unwrap();
        let candidates: Vec<&str> = sdp.lines().filter(|l| l.starts_with("a=candidate:")).collect();
        assert!(candidates.iter().any(|c| c.contains(" 127.0.0.1 ") && c.contains("typ host")), "{sdp}");
        assert!(candidates.iter().any(|c| c.contains(" 203.0.113.7 ") && c.contains("typ srflx")), "{sdp}");
        for candidate in candidates {
            let port: u16 = candidate.split(' ').nth(5).unwrap().parse().unwrap();
            assert!((41000..=41009).contains(&port), "{candidate}");
        }
        let backwards = LiveNetwork { udp_ports: Some(RangeInclusive::new(41010, 41000)), ..LiveNetwork::default() };
        assert!(backwards.apply(&mut SettingEngine::default()).is_err());
    }
}
