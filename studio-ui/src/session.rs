// SPDX-License-Identifier: MPL-2.0
//! Browser sessions of the studio: which API tokens belong to which browser.
//!
//! The tokens never reach the browser. A liveview page talks to the server
//! over a WebSocket, which cannot set cookies, so the page handler hands every
//! browser an opaque, random session id in an HttpOnly cookie before the
//! socket opens. Only ids this server issued are used: a cookie naming any
//! other id is ignored and replaced, and creates nothing. Signing in over the
//! socket does not put the tokens under that id: it parks them under a
//! one-time code that only that socket learns, and the page then loads
//! `/ui/session/{code}`, which moves them under a new id, sets that cookie
//! and drops the old id (no session fixation). Scripts (uploads, video,
//! downloads, events) go through the `/ui/api` proxy, which adds the bearer
//! token on the server side. The store lives in memory, bounded, with idle
//! sessions trimmed: a restarted server asks everybody to sign in again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// Refresh this long before the access token expires, so a request in
/// flight never carries a token that dies on the way.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Sessions kept at most; past this the least recently used go first, anonymous ones before signed-in ones.
pub(crate) const MAX_SESSIONS: usize = 10_000;
/// A session nobody signed in with is forgotten after this long unused.
const ANONYMOUS_IDLE: Duration = Duration::from_secs(30 * 60);
/// A signed-in session is forgotten after this long unused.
const SIGNED_IN_IDLE: Duration = Duration::from_secs(24 * 3600);
/// How long the page has to load `/ui/session/{code}` after signing in.
const HANDOFF_TTL: Duration = Duration::from_secs(60);
/// Trim at least this often.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// How the session cookie is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePolicy {
    /// `__Host-` name with `Secure`: sent over https and to loopback (browsers count
    /// http://localhost and http://127.0.0.1 as secure). `false` only for plain http
    /// on another address, where a browser would drop a `Secure` cookie.
    pub secure: bool,
}

impl Default for CookiePolicy {
    fn default() -> Self {
        CookiePolicy { secure: true }
    }
}

impl CookiePolicy {
    /// Name of the cookie that carries the session id.
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-reenact_studio"
        } else {
            "reenact_studio"
        }
    }

    /// The `Set-Cookie` value for `sid`: script-proof, bound to this host, and not
    /// sent with another site's sub-requests.
    pub(crate) fn set_cookie(&self, sid: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{}={sid}; Path=/{secure}; HttpOnly; SameSite=Lax", self.name())
    }

    /// The session id from the request's cookies, if it looks like one of ours.
    pub(crate) fn sid_from(&self, headers: &HeaderMap) -> Option<String> {
        let name = self.name();
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.to_owned())
            .filter(|v| well_formed(v))
    }
}

fn well_formed(id: &str) -> bool {
    id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// The API's token pair for one signed-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) access: String,
    pub(crate) refresh: String,
    pub(crate) access_expires: Instant,
}

impl Tokens {
    pub(crate) fn fresh(&self) -> bool {
        Instant::now() + REFRESH_MARGIN < self.access_expires
    }
}

/// One browser's slot. The async mutex serialises refreshes: two requests
/// refreshing with the same (single-use) refresh token at once would look
/// like a stolen token to the API, which then ends every session.
pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<Tokens>>>;

#[derive(Debug)]
struct Entry {
    slot: Slot,
    last_seen: Instant,
}

impl Entry {
    /// Signed in, or busy right now (and so in use).
    fn signed_in(&self) -> bool {
        self.slot.try_lock().map(|tokens| tokens.is_some()).unwrap_or(true)
    }
}

/// Tokens of a sign-in waiting for the browser that signed in to collect them.
#[derive(Debug)]
struct Handoff {
    from: String,
    tokens: Tokens,
    expires: Instant,
}

#[derive(Debug)]
struct Store {
    slots: HashMap<String, Entry>,
    handoffs: HashMap<String, Handoff>,
    trimmed: Instant,
}

impl Default for Store {
    fn default() -> Self {
        Store { slots: HashMap::new(), handoffs: HashMap::new(), trimmed: Instant::now() }
    }
}

/// Every browser session of this server.
#[derive(Debug, Default)]
pub struct Sessions {
    store: Mutex<Store>,
}

impl Sessions {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new random id (122 random bits).
    fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Starts a session (not signed in) and returns its id.
    pub(crate) fn issue(&self) -> String {
        let mut store = self.store();
        let now = Instant::now();
        if store.slots.len() >= MAX_SESSIONS || now.duration_since(store.trimmed) >= TRIM_EVERY {
            trim(&mut store, now);
        }
        let sid = Self::new_id();
        store.slots.insert(sid.clone(), Entry { slot: Slot::default(), last_seen: now });
        sid
    }

    /// Whether `sid` is a session this server issued and still keeps.
    pub(crate) fn known(&self, sid: &str) -> bool {
        self.get(sid).is_some()
    }

    /// The slot of `sid` if this server issued it; never creates one.
    pub(crate) fn get(&self, sid: &str) -> Option<Slot> {
        let mut store = self.store();
        let entry = store.slots.get_mut(sid)?;
        entry.last_seen = Instant::now();
        Some(Arc::clone(&entry.slot))
    }

    /// Whether `sid` holds tokens (signed in).
    pub(crate) async fn signed_in(&self, sid: &str) -> bool {
        match self.get(sid) {
            Some(slot) => slot.lock().await.is_some(),
            None => false,
        }
    }

    /// Forgets `sid` entirely (sign-out).
    pub(crate) fn remove(&self, sid: &str) {
        self.store().slots.remove(sid);
    }

    /// Parks the tokens of a sign-in made by session `from` under a one-time code.
    pub(crate) fn hand_off(&self, from: &str, tokens: Tokens) -> String {
        let mut store = self.store();
        let now = Instant::now();
        store.handoffs.retain(|_, h| h.expires > now);
        let code = Self::new_id();
        store.handoffs.insert(code.clone(), Handoff { from: from.to_owned(), tokens, expires: now + HANDOFF_TTL });
        code
    }

    /// Collects a sign-in: only the session that signed in can, once, within
    /// [`HANDOFF_TTL`]. The tokens move under a new id (returned); the old id is dropped.
    pub(crate) fn take_handoff(&self, code: &str, from: &str) -> Option<String> {
        let mut store = self.store();
        let handoff = store.handoffs.remove(code)?;
        if handoff.from != from || handoff.expires <= Instant::now() {
            return None;
        }
        store.slots.remove(from);
        let sid = Self::new_id();
        let slot = Arc::new(tokio::sync::Mutex::new(Some(handoff.tokens)));
        store.slots.insert(sid.clone(), Entry { slot, last_seen: Instant::now() });
        Some(sid)
    }

    /// Sessions held now.
    pub fn len(&self) -> usize {
        self.store().slots.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops idle sessions and stale sign-ins; past [`MAX_SESSIONS`], the least
/// recently used, anonymous ones first.
fn trim(store: &mut Store, now: Instant) {
    store.trimmed = now;
    store.handoffs.retain(|_, h| h.expires > now);
    store.slots.retain(|_, e| {
        let limit = if e.signed_in() { SIGNED_IN_IDLE } else { ANONYMOUS_IDLE };
        now.duration_since(e.last_seen) < limit
    });
    if store.slots.len() < MAX_SESSIONS {
        return;
    }
    let mut order: Vec<(bool, Instant, String)> =
        store.slots.iter().map(|(sid, e)| (e.signed_in(), e.last_seen, sid.clone())).collect();
    order.sort();
    let excess = store.slots.len() + 1 - MAX_SESSIONS * 9 / 10;
    for (_, _, sid) in order.into_iter().take(excess) {
        store.slots.remove(&sid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens { access: "a".into(), refresh: "r".into(), access_expires: Instant::now() + Duration::from_secs(60) }
    }

    #[test]
    fn only_well_formed_ids_are_read_back() {
        let policy = CookiePolicy::default();
        let sid = Sessions::new_id();
        let mut headers = HeaderMap::new();
        headers.insert("cookie", format!("a=b; __Host-reenact_studio={sid}").parse().unwrap());
        assert_eq!(policy.sid_from(&headers), Some(sid.clone()));
        assert_eq!(CookiePolicy { secure: false }.sid_from(&headers), None, "the other name is not read");
        headers.insert("cookie", "__Host-reenact_studio=../../etc".parse().unwrap());
        assert_eq!(policy.sid_from(&headers), None);
    }

    #[test]
    fn cookies_are_host_only_secure_and_script_proof() {
        let cookie = CookiePolicy::default().set_cookie("ab");
        assert_eq!(cookie, "__Host-reenact_studio=ab; Path=/; Secure; HttpOnly; SameSite=Lax");
        assert_eq!(
            CookiePolicy { secure: false }.set_cookie("ab"),
            "reenact_studio=ab; Path=/; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn unknown_ids_are_not_adopted() {
        let sessions = Sessions::default();
        let chosen = "0123456789abcdef0123456789abcdef";
        assert!(!sessions.known(chosen));
        assert!(sessions.get(chosen).is_none());
        assert!(sessions.is_empty(), "looking an id up stores nothing");
        let issued = sessions.issue();
        assert!(sessions.known(&issued) && issued != chosen);
    }

    #[tokio::test]
    async fn signing_in_moves_the_tokens_to_a_new_id_for_the_signing_browser_only() {
        let sessions = Sessions::default();
        let old = sessions.issue();
        let code = sessions.hand_off(&old, tokens());
        assert!(!sessions.signed_in(&old).await, "the id that signed in never holds the tokens");
        let other = sessions.issue();
        assert_eq!(sessions.take_handoff(&code, &other), None, "another browser cannot collect it");
        assert_eq!(sessions.take_handoff(&code, &old), None, "a code works once, even after a wrong try");
        let code = sessions.hand_off(&old, tokens());
        let new = sessions.take_handoff(&code, &old).expect("collected");
        assert_ne!(new, old);
        assert!(sessions.signed_in(&new).await);
        assert!(!sessions.known(&old), "the old id is dropped");
    }

    #[test]
    fn the_store_is_bounded_and_idle_sessions_go() {
        let sessions = Sessions::default();
        for _ in 0..MAX_SESSIONS + 50 {
            sessions.issue();
        }
        assert!(sessions.len() <= MAX_SESSIONS, "{}", sessions.len());
        let mut store = sessions.store();
        let later = Instant::now() + ANONYMOUS_IDLE + Duration::from_secs(1);
        trim(&mut store, later);
        assert!(store.slots.is_empty());
    }
}
