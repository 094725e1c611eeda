// SPDX-License-Identifier: MPL-2.0
//! Trickle ICE and ICE restarts on a WHIP or WHEP resource (RFC 9725 §4.3, the
//! `application/trickle-ice-sdpfrag` bodies of RFC 8840): candidates found after the
//! offer went out are added to the running connection; new ICE credentials restart ICE
//! (a laptop that changed networks) and are answered with the server's new credentials
//! and candidates, without a new peer connection, so the show's tracks and the
//! decoder stay as they are.
//!
//! Each ICE session has an entity tag, `"<resource>-<generation>"`: it goes out with the
//! 201 and with every restart, and a PATCH whose `If-Match` names an older one gets 412.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use webrtc::ice_transport::ice_candidate::RTCIceCandidateInit;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;

use super::LiveError;

/// How long a restart's gathering may take before the answer goes out with what it has.
const GATHER_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest fragment accepted: a few dozen candidates.
pub const FRAG_LIMIT: usize = 16 * 1024;

/// Why a fragment cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum TrickleError {
    #[error("the fragment is not an SDP fragment: {0}")]
    Malformed(String),
    #[error("the fragment's ICE session ({0}) is not this resource's; send its ice-pwd too to restart ICE")]
    OtherSession(String),
    #[error("the fragment is for an older ICE session (If-Match `{sent}`, now `{current}`)")]
    Stale { sent: String, current: String },
}

/// One candidate line of a fragment, with the media section it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// `candidate:...` (without `a=`); empty for `end-of-candidates`.
    pub(crate) line: String,
    pub(crate) mid: Option<String>,
    pub(crate) mline: Option<u16>,
}

/// What a fragment says.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fragment {
    pub(crate) ufrag: Option<String>,
    pub(crate) pwd: Option<String>,
    pub(crate) candidates: Vec<Candidate>,
}

/// Reads a fragment: `a=ice-ufrag`, `a=ice-pwd`, `m=` and `a=mid` lines to place the
/// candidates, `a=candidate` and `a=end-of-candidates`; other attributes are ignored.
pub(crate) fn parse(text: &str) -> Result<Fragment, TrickleError> {
    let mut fragment = Fragment::default();
    let (mut mid, mut mline) = (None::<String>, None::<u16>);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((kind, value)) = line.split_once('=') else {
            return Err(TrickleError::Malformed(format!("`{line}` is not a `type=value` line")));
        };
        match kind {
            "m" => {
                mline = Some(mline.map_or(0, |m| m.saturating_add(1)));
                mid = None;
            }
            "a" => {
                let (name, rest) = value.split_once(':').unwrap_or((value, ""));
                match name {
                    "ice-ufrag" => fragment.ufrag = Some(rest.to_owned()),
                    "ice-pwd" => fragment.pwd = Some(rest.to_owned()),
                    "mid" => mid = Some(rest.to_owned()),
                    "candidate" => {
                        if rest.split(' ').count() < 8 {
                            return Err(TrickleError::Malformed(format!("`{line}` is not a whole candidate")));
                        }
                        fragment.candidates.push(Candidate { line: value.to_owned(), mid: mid.clone(), mline });
                    }
                    "end-of-candidates" => {
                        fragment.candidates.push(Candidate { line: String::new(), mid: mid.clone(), mline });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(fragment)
}

/// The value of the first `a=NAME:` line of an SDP.
fn attribute<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("a={name}:");
    sdp.lines().find_map(|l| l.trim_end().strip_prefix(prefix.as_str()))
}

/// `offer` with new ICE credentials and without its candidates: the offer a browser
/// would have sent for the restart.
fn restarted_offer(offer: &str, ufrag: &str, pwd: &str) -> String {
    let mut out = String::with_capacity(offer.len());
    for line in offer.lines() {
        let line = line.trim_end();
        if line.starts_with("a=candidate:") || line == "a=end-of-candidates" {
            continue;
        }
        if line.starts_with("a=ice-ufrag:") {
            out.push_str(&format!("a=ice-ufrag:{ufrag}\r\n"));
        } else if line.starts_with("a=ice-pwd:") {
            out.push_str(&format!("a=ice-pwd:{pwd}\r\n"));
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

/// The fragment of an answer that a restart sends back: its credentials, and per media
/// section its `m=` and `a=mid` lines with its candidates.
fn answer_fragment(answer: &str) -> String {
    let mut out = String::new();
    if let (Some(ufrag), Some(pwd)) = (attribute(answer, "ice-ufrag"), attribute(answer, "ice-pwd")) {
        out.push_str(&format!("a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\n"));
    }
    for line in answer.lines().map(str::trim_end) {
        if line.starts_with("m=")
            || line.starts_with("a=mid:")
            || line.starts_with("a=candidate:")
            || line == "a=end-of-candidates"
        {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

/// What a PATCH did.
#[derive(Debug, PartialEq, Eq)]
pub enum Patched {
    /// Candidates were added to the running ICE session (204).
    Added,
    /// ICE restarted: the answer's fragment (200) and the new entity tag.
    Restarted { fragment: String, etag: String },
}

/// The ICE side of one peer connection answering offers: the offer it runs on now and the
/// ICE session's generation. Patches are applied one at a time.
pub(crate) struct IceSession {
    resource: String,
    offer: Mutex<String>,
    generation: AtomicU32,
}

impl IceSession {
    pub(crate) fn new(resource: &str, offer: String) -> Self {
        // The tag names the resource by a short prefix: it is public, the resource's secret is not.
        let resource = resource.chars().take(8).collect();
        IceSession { resource, offer: Mutex::new(offer), generation: AtomicU32::new(0) }
    }

    /// The current ICE session's entity tag, quoted as HTTP writes it.
    pub(crate) fn etag(&self) -> String {
        format!("\"{}-{}\"", self.resource, self.generation.load(Ordering::SeqCst))
    }

    /// Applies a fragment to `pc`. `if_match` is the request's `If-Match`, if any (`*` always matches).
    pub(crate) async fn patch(
        &self,
        pc: &RTCPeerConnection,
        text: &str,
        if_match: Option<&str>,
    ) -> Result<Patched, LiveError> {
        let fragment = parse(text)?;
        let mut offer = self.offer.lock().await;
        let current = self.etag();
        if let Some(sent) = if_match.map(str::trim).filter(|t| *t != "*") {
            if !sent.split(',').any(|t| t.trim().trim_start_matches("W/") == current) {
                return Err(TrickleError::Stale { sent: sent.to_owned(), current }.into());
            }
        }
        let ufrag_now = attribute(&offer, "ice-ufrag").unwrap_or_default().to_owned();
        let restart = match (&fragment.ufrag, &fragment.pwd) {
            (Some(ufrag), Some(pwd)) => ufrag != &ufrag_now || attribute(&offer, "ice-pwd") != Some(pwd.as_str()),
            (Some(ufrag), None) if ufrag != &ufrag_now => {
                return Err(TrickleError::OtherSession(ufrag.clone()).into());
            }
            _ => false,
        };
        if restart {
            let (ufrag, pwd) =
                (fragment.ufrag.as_deref().unwrap_or_default(), fragment.pwd.as_deref().unwrap_or_default());
            let next = restarted_offer(&offer, ufrag, pwd);
            let description =
                RTCSessionDescription::offer(next.clone()).map_err(|e| TrickleError::Malformed(e.to_string()))?;
            pc.set_remote_description(description).await?;
            let answer = pc.create_answer(None).await?;
            let mut gathered = pc.gathering_complete_promise().await;
            pc.set_local_description(answer).await?;
            let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered.recv()).await;
            let answer =
                pc.local_description().await.ok_or_else(|| LiveError::WebRtc("no local description".into()))?;
            *offer = next;
            self.generation.fetch_add(1, Ordering::SeqCst);
            add_candidates(pc, &fragment.candidates, ufrag).await?;
            return Ok(Patched::Restarted { fragment: answer_fragment(&answer.sdp), etag: self.etag() });
        }
        add_candidates(pc, &fragment.candidates, &ufrag_now).await?;
        Ok(Patched::Added)
    }
}

async fn add_candidates(pc: &RTCPeerConnection, candidates: &[Candidate], ufrag: &str) -> Result<(), LiveError> {
    for candidate in candidates.iter().filter(|c| !c.line.is_empty()) {
        let init = RTCIceCandidateInit {
            candidate: candidate.line.clone(),
            sdp_mid: candidate.mid.clone(),
            sdp_mline_index: candidate.mline,
            username_fragment: Some(ufrag.to_owned()),
        };
        // A candidate the ICE agent cannot use (another address family, mDNS) is the
        // client's loss, not an error of the request.
        if let Err(err) = pc.add_ice_candidate(init).await {
            tracing::debug!(%err, "a trickled candidate was not added");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAG: &str = "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n\
a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n\
a=end-of-candidates\r\nm=video 9 RTP/AVP 0\r\na=mid:1\r\n\
a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0\r\n";

    #[test]
    fn fragments_are_read_with_their_sections() {
        let f = parse(FRAG).unwrap();
        assert_eq!(f.ufrag.as_deref(), Some("EsAw"));
        assert_eq!(f.pwd.as_deref(), Some("P2uYro0UCOQ4zxjKXaWCBui1"));
        assert_eq!(f.candidates.len(), 3);
        assert_eq!((f.candidates[0].mid.as_deref(), f.candidates[0].mline), (Some("0"), Some(0)));
        assert!(f.candidates[0].line.starts_with("candidate:1387637174 1 udp"));
        assert!(f.candidates[1].line.is_empty(), "end-of-candidates");
        assert_eq!((f.candidates[2].mid.as_deref(), f.candidates[2].mline), (Some("1"), Some(1)));
        assert!(matches!(parse("a=candidate:1 1 udp"), Err(TrickleError::Malformed(_))));
        assert!(matches!(parse("hello"), Err(TrickleError::Malformed(_))));
    }

    #[test]
    fn a_restart_offer_has_the_new_credentials_and_no_old_candidates() {
        let offer = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:old\r\na=ice-pwd:oldpwd\r\n\
a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\na=mid:0\r\n";
        let next = restarted_offer(offer, "new", "newpwd");
        assert!(next.contains("a=ice-ufrag:new\r\n") && next.contains("a=ice-pwd:newpwd\r\n"), "{next}");
        assert!(!next.contains("old") && !next.contains("a=candidate") && next.contains("a=mid:0"), "{next}");
        let answer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:srv\r\n\
a=ice-pwd:srvpwd\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\na=candidate:2 1 udp 1 127.0.0.1 6000 typ host\r\na=end-of-candidates\r\n";
        assert_eq!(
            answer_fragment(answer),
            "a=ice-ufrag:srv\r\na=ice-pwd:srvpwd\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n\
a=candidate:2 1 udp 1 127.0.0.1 6000 typ host\r\na=end-of-candidates\r\n"
        );
    }
}
