// SPDX-License-Identifier: MPL-2.0
//! Browser sessions of the studio: which API tokens belong to which browser.
//!
//! The tokens never reach the browser. A liveview page talks to the server
//! over a WebSocket, which cannot set cookies, so the page handler hands every
//! browser an opaque, random session id in an HttpOnly cookie before the
//! socket opens; signing in over the socket stores the API's token pair under
//! that id. Scripts (uploads, video, downloads) go through the `/ui/api`
//! proxy, which adds the bearer token on the server side. The store lives in
//! memory: a restarted server asks everybody to sign in again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// Name of the cookie that carries the session id.
pub(crate) const COOKIE: &str = "reenact_studio";

/// Refresh this long before the access token expires, so a request in
/// flight never carries a token that dies on the way.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

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

/// Every browser session of this server.
#[derive(Debug, Default)]
pub struct Sessions {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Sessions {
    /// A new random session id (122 random bits).
    pub(crate) fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// The slot of `sid`, created empty when unknown.
    pub(crate) fn slot(&self, sid: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(slots.entry(sid.to_owned()).or_default())
    }

    /// Whether `sid` holds tokens (signed in).
    pub(crate) async fn signed_in(&self, sid: &str) -> bool {
        let slot = {
            let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.get(sid).cloned()
        };
        match slot {
            Some(slot) => slot.lock().await.is_some(),
            None => false,
        }
    }

    /// Forgets `sid` entirely (sign-out).
    pub(crate) fn remove(&self, sid: &str) {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).remove(sid);
    }
}

/// The session id from the request's cookies, if it looks like one of ours.
pub(crate) fn sid_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value for `sid`: script-proof and same-site only, so
/// another site can neither read it nor ride on it.
pub(crate) fn cookie_for(sid: &str) -> String {
    format!("{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_ids_are_read_back() {
        let sid = Sessions::new_id();
        let mut headers = HeaderMap::new();
        headers.insert("cookie", format!("a=b; {COOKIE}={sid}").parse().unwrap());
        assert_eq!(sid_from(&headers), Some(sid));
        headers.insert("cookie", format!("{COOKIE}=../../etc").parse().unwrap());
        assert_eq!(sid_from(&headers), None);
    }
}
