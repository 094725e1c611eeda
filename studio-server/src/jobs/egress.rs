// SPDX-License-Identifier: MPL-2.0
//! Where an import may connect. yt-dlp follows redirects, fetches HLS and DASH fragments from
//! whatever hosts a manifest names and starts ffmpeg, so checking the address a user typed is
//! not enough: every connection of a download goes through a [`Proxy`], a forward proxy on
//! loopback that resolves each host itself, checks every address it gets against the
//! [`Policy`] and connects to the address it checked (no second lookup that a rebinding name
//! could answer differently).

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The ports a public import may use: the web's own.
pub const WEB_PORTS: [u16; 2] = [80, 443];

/// How long the proxy tries one address before the next.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which addresses a download may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Public Internet addresses on ports 80 and 443 (the default).
    Public,
    /// Any unicast address on any port (`imports_allow_private`: media on the studio's own
    /// network or on this machine).
    Private,
    /// Exactly these addresses, on any port (tests stand in for "the Internet" with one
    /// loopback address and for "the internal network" with another).
    Only(Vec<IpAddr>),
}

/// Why the policy refused an address. For the log: users get one generic reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a public address")]
    Address,
    #[error("not port 80 or 443")]
    Port,
}

/// Why a host cannot be reached through the policy.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("`{host}` is {address}: {refusal}")]
    Refused { host: String, address: SocketAddr, refusal: Refusal },
    #[error("`{host}` does not resolve: {source}")]
    Unresolved { host: String, source: io::Error },
    #[error("`{host}` resolves to no address")]
    NoAddress { host: String },
}

impl Policy {
    /// The policy of the `imports_allow_private` setting.
    pub fn for_imports(allow_private: bool) -> Self {
        if allow_private {
            Policy::Private
        } else {
            Policy::Public
        }
    }

    /// Whether a connection to `target` is allowed.
    pub fn check(&self, target: SocketAddr) -> Result<(), Refusal> {
        let ip = target.ip().to_canonical();
        match self {
            Policy::Public if !is_public(ip) => Err(Refusal::Address),
            Policy::Public if !WEB_PORTS.contains(&target.port()) => Err(Refusal::Port),
            Policy::Private if !is_unicast(ip) => Err(Refusal::Address),
            Policy::Only(allowed) if !allowed.iter().any(|a| a.to_canonical() == ip) => Err(Refusal::Address),
            _ => Ok(()),
        }
    }
}

/// Resolves `host` and checks every address it names: one refused address refuses the host,
/// since the system would pick among them. An IP literal is taken as it is.
pub async fn resolve(policy: &Policy, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|source| EgressError::Unresolved { host: host.to_string(), source })?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(EgressError::NoAddress { host: host.to_string() });
    }
    for &address in &addresses {
        policy.check(address).map_err(|refusal| EgressError::Refused { host: host.to_string(), address, refusal })?;
    }
    Ok(addresses)
}

/// Whether `ip` is an ordinary Internet address: not this machine, a private or shared
/// network, link-local, multicast, reserved, documentation or benchmarking space, and not
/// one of those wrapped in an IPv6 form that a gateway would unwrap.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    let special = a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relays
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !special
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // NAT64 (RFC 6052): the gateway connects to the IPv4 address in the last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // 6to4: a relay forwards to the IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    // Only global unicast (2000::/3) is public; that leaves out ::/8 (loopback, unspecified,
    // IPv4-compatible ::a.b.c.d), 64:ff9b:1::/48 local NAT64, fc00::/7, fe80::/10, ff00::/8.
    let global_unicast = s[0] & 0xe000 == 0x2000;
    // 2001::/23 holds Teredo (2001::/32, an IPv4 address in disguise), benchmarking and ORCHID;
    // 2001:db8::/32 and 3fff::/20 are documentation.
    let special = s[0] == 0x2001 && (s[1] < 0x200 || s[1] == 0xdb8) || s[0] & 0xfff0 == 0x3ff0;
    global_unicast && !special
}

/// Whether `ip` names one host: not unspecified (which Linux takes as this machine), not
/// multicast or broadcast.
fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

/// How the connections through a [`Proxy`] went, so that a failed download can say whether
/// the policy stopped it.
#[derive(Debug, Default)]
pub struct Tally {
    passed: AtomicUsize,
    refused: AtomicUsize,
    failed: AtomicUsize,
}

impl Tally {
    /// Connections made.
    pub fn passed(&self) -> usize {
        self.passed.load(Ordering::Relaxed)
    }

    /// Hosts the policy refused.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    /// Allowed hosts that did not resolve or answer.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }
}

/// What each connection of a proxy shares.
#[derive(Debug)]
struct Shared {
    policy: Policy,
    tally: Arc<Tally>,
    /// Changes (closes) when the proxy is dropped; every task it started then ends.
    stop: watch::Receiver<()>,
}

/// A forward proxy on 127.0.0.1 (a random port) that lets through only what its policy
/// allows: `CONNECT host:port` for https, absolute-form requests (`GET http://host/...`) for
/// http. It runs on the current tokio runtime until dropped. It needs no password: it grants
/// a local process nothing that process could not reach directly.
#[derive(Debug)]
pub struct Proxy {
    address: SocketAddr,
    tally: Arc<Tally>,
    _stop: watch::Sender<()>,
}

impl Proxy {
    /// Starts the proxy; call within a tokio runtime.
    pub async fn start(policy: Policy) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let (stop_tx, stop) = watch::channel(());
        let tally = Arc::new(Tally::default());
        let shared = Arc::new(Shared { policy, tally: tally.clone(), stop });
        tokio::spawn(accept(listener, shared));
        Ok(Proxy { address, tally, _stop: stop_tx })
    }

    /// The proxy's address as yt-dlp and ffmpeg take it: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn tally(&self) -> &Tally {
        &self.tally
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.stop.clone();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        match stream {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, shared.clone()));
            }
            Err(e) => {
                // Out of descriptors, say: wait rather than spin.
                tracing::warn!(error = %e, "import proxy: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let mut stop = shared.stop.clone();
    let service = {
        let shared = shared.clone();
        hyper::service::service_fn(move |request| answer(shared.clone(), request))
    };
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades();
    tokio::select! {
        _ = connection => {}
        _ = stop.changed() => {}
    }
}

async fn answer(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let answer = if request.method() == Method::CONNECT {
        tunnel(&shared, request).await
    } else {
        forward(&shared, request).await
    };
    Ok(answer.unwrap_or_else(|status| {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        response
    }))
}

/// `CONNECT host:port`: a byte tunnel to the checked address (TLS stays between the client
/// and the host).
async fn tunnel(shared: &Shared, request: Request<Incoming>) -> Result<Response<Body>, StatusCode> {
    let authority = request.uri().authority().ok_or(StatusCode::BAD_REQUEST)?;
    let port = authority.port_u16().ok_or(StatusCode::BAD_REQUEST)?;
    let mut upstream = open(shared, authority.host(), port).await?;
    let mut stop = shared.stop.clone();
    tokio::spawn(async move {
        let upgraded = match hyper::upgrade::on(request).await {
            Ok(upgraded) => upgraded,
            Err(e) => return tracing::debug!(error = %e, "import proxy: the tunnel was not taken up"),
        };
        let mut client = TokioIo::new(upgraded);
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
            _ = stop.changed() => {}
        }
    });
    Ok(Response::new(Body::empty()))
}

/// `GET http://host/path`: the request sent on to the checked address in origin form.
async fn forward(shared: &Shared, request: Request<Incoming>) -> Result<Response<Body>, StatusCode> {
    let (mut parts, body) = request.into_parts();
    if parts.uri.scheme_str() != Some("http") {
        return Err(StatusCode::BAD_REQUEST);
    }
    let authority = parts.uri.authority().cloned().ok_or(StatusCode::BAD_REQUEST)?;
    let upstream = open(shared, authority.host(), authority.port_u16().unwrap_or(80)).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    let mut stop = shared.stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = connection => {}
            _ = stop.changed() => {}
        }
    });
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = path.parse::<Uri>().map_err(|_| StatusCode::BAD_REQUEST)?;
    drop_hop_by_hop(&mut parts.headers);
    if !parts.headers.contains_key(header::HOST) {
        let host = authority.as_str().parse().map_err(|_| StatusCode::BAD_REQUEST)?;
        parts.headers.insert(header::HOST, host);
    }
    let mut response = sender.send_request(Request::from_parts(parts, body)).await.map_err(|e| {
        tracing::warn!(host = authority.host(), error = %e, "import proxy: the host did not answer");
        StatusCode::BAD_GATEWAY
    })?;
    drop_hop_by_hop(response.headers_mut());
    Ok(response.map(Body::new))
}

/// Headers for one hop only (RFC 9110 7.6.1), including the client's proxy credentials.
fn drop_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    for name in named.iter().map(String::as_str).chain([
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "upgrade",
    ]) {
        headers.remove(name);
    }
}

/// Resolves, checks and connects; the status answers the client when that fails. The full
/// reason goes to the log only.
async fn open(shared: &Shared, host: &str, port: u16) -> Result<TcpStream, StatusCode> {
    let addresses = match resolve(&shared.policy, host, port).await {
        Ok(addresses) => addresses,
        Err(e @ EgressError::Refused { .. }) => {
            shared.tally.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "import proxy: refused by the egress policy");
            return Err(StatusCode::FORBIDDEN);
        }
        Err(e) => {
            shared.tally.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "import proxy: cannot resolve");
            return Err(StatusCode::BAD_GATEWAY);
        }
    };
    for address in addresses {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                shared.tally.passed.fetch_add(1, Ordering::Relaxed);
                return Ok(stream);
            }
            Ok(Err(e)) => tracing::warn!(host, %address, error = %e, "import proxy: cannot connect"),
            Err(_) => tracing::warn!(host, %address, "import proxy: connecting timed out"),
        }
    }
    shared.tally.failed.fetch_add(1, Ordering::Relaxed);
    Err(StatusCode::BAD_GATEWAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(ip: &str) -> bool {
        is_public(ip.parse().unwrap())
    }

    #[test]
    fn internet_addresses_are_public() {
        for ip in [
            "93.184.216.34",
            "100.128.0.1",
            "8.8.8.8",
            "2606:2800:220:1:248:1893:25c8:1946",
            "::ffff:93.184.216.34",
            "64:ff9b::93.184.216.34",
            "2002:5db8:d822::1",
        ] {
            assert!(public(ip), "{ip}");
        }
    }

    #[test]
    fn internal_addresses_are_not_public_in_any_form() {
        let internal = [
            // IPv4: this host, private, shared, link-local, special, documentation, benchmarking,
            // multicast, reserved, broadcast.
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.0.0.2",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "198.18.0.1",
            "198.19.255.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6 itself.
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            // IPv4 inside IPv6: mapped, compatible, NAT64 (well-known and local), 6to4, Teredo.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "::93.184.216.34",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::192.168.0.1",
            "64:ff9b:1::93.184.216.34",
            "2002:7f00:1::1",
            "2002:0a00:0001::1",
            "2002:a9fe:a9fe::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
        ];
        for ip in internal {
            assert!(!public(ip), "{ip}");
        }
    }

    #[test]
    fn the_policies_check_address_and_port() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        let public = Policy::for_imports(false);
        assert_eq!(public.check(at("93.184.216.34:443")), Ok(()));
        assert_eq!(public.check(at("93.184.216.34:80")), Ok(()));
        assert_eq!(public.check(at("93.184.216.34:22")), Err(Refusal::Port));
        assert_eq!(public.check(at("10.0.0.1:443")), Err(Refusal::Address));
        assert_eq!(public.check(at("[64:ff9b::10.0.0.1]:443")), Err(Refusal::Address));

        let private = Policy::for_imports(true);
        assert_eq!(private.check(at("127.0.0.1:8080")), Ok(()));
        assert_eq!(private.check(at("[fd00::1]:5432")), Ok(()));
        assert_eq!(private.check(at("0.0.0.0:80")), Err(Refusal::Address));
        assert_eq!(private.check(at("224.0.0.1:80")), Err(Refusal::Address));
        assert_eq!(private.check(at("[::]:80")), Err(Refusal::Address));

        let only = Policy::Only(vec!["127.0.0.1".parse().unwrap()]);
        assert_eq!(only.check(at("127.0.0.1:9")), Ok(()));
        assert_eq!(only.check(at("[::ffff:127.0.0.1]:9")), Ok(()), "the same host");
        assert_eq!(only.check(at("127.0.0.2:9")), Err(Refusal::Address));
    }

    #[tokio::test]
    async fn every_resolved_address_is_checked() {
        let policy = Policy::Only(vec!["127.0.0.1".parse().unwrap()]);
        assert_eq!(resolve(&policy, "127.0.0.1", 80).await.unwrap(), vec![SocketAddr::from(([127, 0, 0, 1], 80))]);
        assert!(matches!(
            resolve(&policy, "[::1]", 80).await,
            Err(EgressError::Refused { refusal: Refusal::Address, .. })
        ));
        // `localhost` names ::1 as well as 127.0.0.1 on most systems; either way, not only
        // allowed addresses is a refusal.
        let public = Policy::Public;
        assert!(matches!(resolve(&public, "localhost", 80).await, Err(EgressError::Refused { .. })));
    }
}
