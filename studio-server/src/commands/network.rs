// SPDX-License-Identifier: MPL-2.0
//! The WebRTC network settings shared by `reenact serve` and `reenact live`.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use clap::Args;
use reenact_server::live::network::{parse_ports, LiveNetwork};

/// How browsers reach the studio's WebRTC connections across NATs and firewalls.
#[derive(Debug, Clone, Args)]
pub(crate) struct NetworkArgs {
    /// STUN and TURN servers the live pages use (`stun:HOST:PORT`, `turn:HOST:PORT?transport=udp`,
    /// `turns:...`), comma-separated; TURN servers need `REENACT_TURN_SECRET`.
    #[arg(long, value_delimiter = ',', env = "REENACT_ICE_SERVERS")]
    ice_servers: Vec<String>,
    /// Addresses this machine is reached at from outside a 1:1 NAT (a cloud VM's public IP),
    /// comma-separated; offered to browsers beside the private ones.
    #[arg(long, value_delimiter = ',', env = "REENACT_PUBLIC_IP")]
    public_ip: Vec<IpAddr>,
    /// UDP ports WebRTC binds, `FIRST-LAST` (open these in the firewall); any port when unset.
    #[arg(long, env = "REENACT_UDP_PORTS", value_parser = parse_udp_ports)]
    udp_ports: Option<RangeInclusive<u16>>,
    /// Pages connect through the TURN servers of `--ice-servers` only, never directly (for
    /// networks that allow nothing else); needs a `turn:` or `turns:` server.
    #[arg(long, env = "REENACT_RELAY_ONLY")]
    relay_only: bool,
    /// How long a presenter's packets wait in the jitter buffer for late or resent ones, in
    /// milliseconds (0-1000; 60 when unset). 20 is enough on the same machine or a wired LAN and
    /// takes about 30 ms off the typical delay; keep 60 or more for Wi-Fi and the internet.
    #[arg(long, env = "REENACT_PUBLISHER_JITTER_MS")]
    publisher_jitter_ms: Option<u64>,
}

fn parse_udp_ports(text: &str) -> Result<RangeInclusive<u16>, String> {
    parse_ports(text).map_err(|e| e.to_string())
}

impl NetworkArgs {
    /// The checked settings: an unknown scheme or a TURN server without a secret stops the
    /// command at start rather than leaving a browser that never connects.
    pub(crate) fn live_network(&self) -> anyhow::Result<LiveNetwork> {
        let network = LiveNetwork {
            ice_servers: self
                .ice_servers
                .iter()
                .map(|url| url.trim().to_owned())
                .filter(|url| !url.is_empty())
                .collect(),
            // Like the signing key, from the environment (or the file) only: a flag would show in `ps`.
            turn_secret: std::env::var("REENACT_TURN_SECRET").ok().filter(|secret| !secret.is_empty()),
            public_ips: self.public_ip.clone(),
            udp_ports: self.udp_ports.clone(),
            relay_only: self.relay_only,
            publisher_jitter: self.publisher_jitter_ms.map(Duration::from_millis),
        };
        network.check()?;
        Ok(network)
    }
}
