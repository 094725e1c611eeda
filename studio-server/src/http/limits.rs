// SPDX-License-Identifier: MPL-2.0
//! Sign-in protection: attempts reserved in the database before a password is
//! checked, the client address they are counted against, and a cap on
//! concurrent password hashing.
//!
//! Every attempt first takes a slot in counters keyed by client address, by
//! email and (for the password check itself) server-wide. A slot is taken by
//! one `INSERT .. ON CONFLICT DO UPDATE .. RETURNING`, so parallel requests
//! cannot all pass a check made before any of them was counted, and the
//! counters hold across server processes sharing the database.
//!
//! The rules (figures are [`LoginLimits::default`]):
//! - one address (an IPv6 /64) has 20 attempts per 15 minutes;
//! - one email has 5 attempts per 15 minutes. Past that, only an address with a
//!   clean record (no other attempt in its own window) may try, one attempt per
//!   back-off interval that doubles from 2 s up to 60 s. An attacker's address is
//!   never clean, so the attacker cannot lock the owner out, and a botnet gets one
//!   guess per interval per account;
//! - 600 password checks per minute for the whole server;
//! - a correct password clears the email's counters and gives back the slots it took.
//!
//! A rejection says when to come back (`Retry-After`).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;
use sqlx::AnyPool;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::db;

/// The budgets of sign-in attempts.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Attempts per client address (IPv6: per /64) in `ip_window_s`.
    pub ip_budget: i64,
    pub ip_window_s: i64,
    /// Attempts per email in `email_window_s` before the back-off lane.
    pub email_budget: i64,
    pub email_window_s: i64,
    /// Longest back-off interval of the lane past the email budget.
    pub backoff_cap_s: i64,
    /// Password checks of the whole server in `global_window_s`.
    pub global_budget: i64,
    pub global_window_s: i64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            ip_budget: 20,
            ip_window_s: 15 * 60,
            email_budget: 5,
            email_window_s: 15 * 60,
            backoff_cap_s: 60,
            global_budget: 600,
            global_window_s: 60,
        }
    }
}

impl LoginLimits {
    /// Back-off interval for the `over`-th attempt past the email budget: 2, 4, 8 .. s.
    fn backoff_s(&self, over: i64) -> i64 {
        let doubled = 1i64 << over.clamp(1, 16);
        doubled.min(self.backoff_cap_s).max(1)
    }
}

/// How long a password check may wait for a free core before the request is turned away.
const HASH_WAIT: Duration = Duration::from_secs(3);

/// Prune stale counters once per this many reservations.
const PRUNE_EVERY: u64 = 128;

/// Sign-in throttling, the proxies whose `X-Forwarded-For` is believed, and the
/// cap on concurrent argon2 work (sized to the cores).
#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    trusted_proxies: Vec<IpNet>,
    hashing: Semaphore,
    reservations: AtomicU64,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(LoginLimits::default(), Vec::new())
    }
}

/// Why an attempt was turned away, and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_s: u64,
    pub reason: &'static str,
}

/// Slots an attempt holds; a correct password hands them back.
#[derive(Debug)]
pub struct Reservation {
    refunds: Vec<(String, i64)>,
    email: String,
}

/// A counter after one more attempt.
#[derive(Debug, Clone, Copy)]
struct Count {
    attempts: i64,
    window_start: i64,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits, trusted_proxies: Vec<IpNet>) -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        LoginLimiter { limits, trusted_proxies, hashing: Semaphore::new(cores), reservations: AtomicU64::new(0) }
    }

    /// The client's address: the socket peer, or, when the peer is a trusted proxy,
    /// the nearest address in `X-Forwarded-For` that is not one of ours.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = unmap(peer?);
        if !self.trusted(peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>().map(unmap) {
                Ok(ip) if self.trusted(ip) => continue,
                Ok(ip) => return Some(ip),
                // A hop we cannot read: nothing left of it can be attributed.
                Err(_) => break,
            }
        }
        Some(peer)
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// Takes a slot for one attempt to sign in as `email` from `ip` (`None`: an
    /// in-process caller without a socket), before the password is looked at.
    pub async fn reserve(
        &self,
        db: &AnyPool,
        email: &str,
        ip: Option<IpAddr>,
    ) -> sqlx::Result<Result<Reservation, Throttled>> {
        let now = db::now();
        self.prune_now_and_then(db, now).await;
        let limits = &self.limits;
        let ip_key = ip.map(ip_key).unwrap_or_else(|| "ip:in-process".into());
        let by_ip = bump(db, &ip_key, now, limits.ip_window_s).await?;
        if by_ip.attempts > limits.ip_budget {
            return Ok(Err(throttled(by_ip, limits.ip_window_s, now, "too many sign-in attempts from your address")));
        }
        let email_key = format!("email:{email}");
        let by_email = bump(db, &email_key, now, limits.email_window_s).await?;
        if by_email.attempts > limits.email_budget {
            // Read the address's count again now: an attempt of its own that took an email
            // slot after this one counted the address would otherwise look clean.
            if attempts(db, &ip_key).await? > 1 {
                return Ok(Err(throttled(
                    by_email,
                    limits.email_window_s,
                    now,
                    "too many sign-in attempts for this email",
                )));
            }
            // A clean address: one attempt per back-off interval for this email.
            let wait = limits.backoff_s(by_email.attempts - limits.email_budget);
            let lane = bump(db, &format!("clean:{email}"), now, wait).await?;
            if lane.attempts > 1 {
                return Ok(Err(throttled(lane, wait, now, "too many sign-in attempts for this email")));
            }
        }
        let global = bump(db, "global", now, limits.global_window_s).await?;
        if global.attempts > limits.global_budget {
            return Ok(Err(throttled(global, limits.global_window_s, now, "the server is busy with sign-ins")));
        }
        let refunds = vec![(ip_key, by_ip.window_start), ("global".to_string(), global.window_start)];
        Ok(Ok(Reservation { refunds, email: email.to_string() }))
    }

    /// The password was right: the email's counters start over and the slots
    /// taken go back, so signing in never uses up anybody's budget.
    pub async fn succeeded(&self, db: &AnyPool, reservation: Reservation) -> sqlx::Result<()> {
        forget_email(db, &reservation.email).await?;
        for (key, window_start) in reservation.refunds {
            sqlx::query(
                "UPDATE login_throttle SET attempts = attempts - 1 WHERE key = $1 AND window_start = $2 AND attempts > 0",
            )
            .bind(key)
            .bind(window_start)
            .execute(db)
            .await?;
        }
        Ok(())
    }

    /// A turn at password hashing; `None` when every core stayed busy for [`HASH_WAIT`].
    pub async fn hashing_permit(&self) -> Option<SemaphorePermit<'_>> {
        tokio::time::timeout(HASH_WAIT, self.hashing.acquire()).await.ok()?.ok()
    }

    /// Counters whose window ended long ago, and sessions long over, are deleted now
    /// and then, so that neither table grows with every address and email ever tried.
    async fn prune_now_and_then(&self, db: &AnyPool, now: i64) {
        if !self.reservations.fetch_add(1, Ordering::Relaxed).is_multiple_of(PRUNE_EVERY) {
            return;
        }
        let longest = self.limits.ip_window_s.max(self.limits.email_window_s).max(self.limits.global_window_s);
        let pruned = sqlx::query("DELETE FROM login_throttle WHERE window_start < $1")
            .bind(now - longest - self.limits.backoff_cap_s)
            .execute(db)
            .await;
        let sessions = db::sessions::prune(db, now - 24 * 3600).await;
        if let Err(err) = pruned.map(drop).and(sessions.map(drop)) {
            tracing::warn!(%err, "cannot prune sign-in counters");
        }
    }
}

/// Drops the counters of `email` (signed in, or the account is deleted).
pub async fn forget_email(db: &AnyPool, email: &str) -> sqlx::Result<()> {
    for key in [format!("email:{email}"), format!("clean:{email}")] {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(db).await?;
    }
    Ok(())
}

/// One more attempt on counter `key`, whose window lasts `window_s`; in one statement.
async fn bump(db: &AnyPool, key: &str, now: i64, window_s: i64) -> sqlx::Result<Count> {
    let (attempts, window_start): (i64, i64) = sqlx::query_as(
        "INSERT INTO login_throttle (key, window_start, attempts) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           attempts = CASE WHEN login_throttle.window_start <= $3 THEN 1 ELSE login_throttle.attempts + 1 END, \
           window_start = CASE WHEN login_throttle.window_start <= $3 THEN $2 ELSE login_throttle.window_start END \
         RETURNING attempts, window_start",
    )
    .bind(key)
    .bind(now)
    .bind(now - window_s)
    .fetch_one(db)
    .await?;
    Ok(Count { attempts, window_start })
}

/// Attempts counted on `key` now (0 when it has no row).
async fn attempts(db: &AnyPool, key: &str) -> sqlx::Result<i64> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT attempts FROM login_throttle WHERE key = $1").bind(key).fetch_optional(db).await?;
    Ok(row.map(|(n,)| n).unwrap_or(0))
}

fn throttled(count: Count, window_s: i64, now: i64, reason: &'static str) -> Throttled {
    let left = count.window_start + window_s - now;
    Throttled { retry_after_s: left.max(1) as u64, reason }
}

/// IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The counter key of an address: IPv6 by /64, as one host usually holds a whole /64.
fn ip_key(ip: IpAddr) -> String {
    match unmap(ip) {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The socket peer of a request, when it came over a socket (`into_make_service_with_connect_info`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(parts.extensions.get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// `trusted_proxies`: addresses or networks, separated by commas or spaces.
pub fn parse_trusted_proxies(text: &str) -> Result<Vec<IpNet>, String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("trusted_proxies: `{s}` is not an address or network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.0.0.9".parse().unwrap());
        let open = LoginLimiter::default();
        assert_eq!(open.client_ip(Some(proxy), &headers), Some(proxy), "no proxy trusted: the peer");
        let behind = LoginLimiter::new(LoginLimits::default(), parse_trusted_proxies("10.0.0.0/24").unwrap());
        assert_eq!(behind.client_ip(Some(proxy), &headers), Some("198.51.100.7".parse().unwrap()));
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(behind.client_ip(Some(stranger), &headers), Some(stranger), "a direct client cannot claim one");
        assert_eq!(behind.client_ip(None, &headers), None);
    }

    #[test]
    fn addresses_key_by_host_or_v6_prefix() {
        assert_eq!(ip_key("::ffff:192.0.2.1".parse().unwrap()), "ip:192.0.2.1");
        assert_eq!(ip_key("2001:db8:1:2:3:4:5:6".parse().unwrap()), "ip:2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:db8:1:2:ffff::1".parse().unwrap()), "ip:2001:db8:1:2::/64");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let limits = LoginLimits::default();
        let waits: Vec<i64> = (1..=8).map(|n| limits.backoff_s(n)).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn trusted_proxies_are_parsed_or_named() {
        assert_eq!(parse_trusted_proxies("10.0.0.1, fd00::/8").unwrap().len(), 2);
        assert!(parse_trusted_proxies("10.0.0.1,proxy").unwrap_err().contains("`proxy`"));
    }
}
