// SPDX-License-Identifier: MPL-2.0
//! Visitor consent at installations: a show in visitor mode shows, records and
//! streams nothing of its camera or microphone until a visitor accepts on the
//! kiosk screen, and closes again once the visitor has left.
//!
//! The gate is closed twice over: in the graph (every picture after the chain
//! is black, every sound silence, so recordings and network outputs carry
//! nothing; see `reenact_engine::live`) and in the server's pumps (viewers get
//! no frames at all, so the kiosk's video stays empty behind its consent
//! screen). Accepting takes the kiosk's consent key, a secret apart from the
//! show's id: the id is a viewing capability that preview links share, and a
//! viewer somewhere else must not be able to open a camera pointed at someone
//! who has not agreed.
//!
//! The visitor has left when the face tracker (if the show runs it) has seen no
//! face for `reset_after_s` seconds, or, without a tracker, `reset_after_s`
//! seconds after accepting.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

/// Languages the kiosk page has consent texts in.
pub const LANGUAGES: [&str; 4] = ["en", "de", "es", "fr"];
/// Shortest and longest wait before the screen returns to consent.
const RESET_RANGE: std::ops::RangeInclusive<u32> = 5..=3600;

/// A show's visitor-consent settings (`visitor_consent` of `POST /api/live` and of an
/// installation).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorConsent {
    /// Languages of the consent screen, the first shown first: `en`, `de`, `es`, `fr`.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// What the installation keeps of a visit, as the screen states it.
    #[serde(default)]
    pub keeps: Keeps,
    /// Seconds without a face (without a face tracker: after accepting) before the screen
    /// returns to consent and the camera is closed again; 5 to 3600.
    #[serde(default = "default_reset")]
    pub reset_after_s: u32,
}

/// What an installation keeps of a visit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Keeps {
    /// Nothing: the picture is shown live and not stored.
    #[default]
    Nothing,
    /// The show is recorded (its `record:` outputs, or its destinations').
    Recording,
}

fn default_languages() -> Vec<String> {
    vec!["en".into()]
}

fn default_reset() -> u32 {
    20
}

impl VisitorConsent {
    /// Checks the settings against the show they are for (`records`: it has `record:`
    /// outputs); the error names the field.
    pub fn check(&self, records: bool) -> Result<(), String> {
        if self.languages.is_empty() || self.languages.len() > LANGUAGES.len() {
            return Err(format!("languages: 1 to {} of {}", LANGUAGES.len(), LANGUAGES.join(", ")));
        }
        for (i, language) in self.languages.iter().enumerate() {
            if !LANGUAGES.contains(&language.as_str()) {
                return Err(format!("languages: no consent text in `{language}` (known: {})", LANGUAGES.join(", ")));
            }
            if self.languages[..i].contains(language) {
                return Err(format!("languages: `{language}` is named twice"));
            }
        }
        if !RESET_RANGE.contains(&self.reset_after_s) {
            return Err(format!("reset_after_s: {} to {} seconds", RESET_RANGE.start(), RESET_RANGE.end()));
        }
        if records && self.keeps == Keeps::Nothing {
            return Err("keeps: the show records (record: outputs), so the screen cannot say that nothing is kept; \
                 set keeps = \"recording\""
                .into());
        }
        Ok(())
    }
}

/// Why a consent call was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConsentError {
    #[error("this show does not ask visitors for consent")]
    NotVisitorMode,
    #[error("wrong consent key: only the kiosk screen's own link may accept")]
    WrongKey,
}

/// What the kiosk page shows and the owner's figures report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentView {
    /// Whether the show asks for consent at all.
    pub required: bool,
    /// Whether the camera is on air (a visitor accepted; always true without visitor mode).
    pub open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<VisitorConsent>,
    /// Whether the show also goes to destinations beyond the screen (streams, recordings).
    pub streamed: bool,
    /// Visitors who accepted since the show started (owner's figures only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_total: Option<u64>,
}

/// One show's consent: its settings, the kiosk's key and the current visit.
#[derive(Debug)]
pub struct VisitorGate {
    pub settings: VisitorConsent,
    pub streamed: bool,
    key: String,
    visit: Mutex<Visit>,
}

#[derive(Debug, Default)]
struct Visit {
    accepted_at: Option<Instant>,
    accepted_total: u64,
}

/// A fresh consent key: 128 random bits.
pub fn new_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl VisitorGate {
    pub fn new(settings: VisitorConsent, streamed: bool, key: String) -> Self {
        VisitorGate { settings, streamed, key, visit: Mutex::default() }
    }

    /// The key the kiosk link carries (for its owner's summary and the console).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Checks `attempt` in constant time.
    pub fn check_key(&self, attempt: &str) -> Result<(), ConsentError> {
        if attempt.len() == self.key.len() && bool::from(attempt.as_bytes().ct_eq(self.key.as_bytes())) {
            Ok(())
        } else {
            Err(ConsentError::WrongKey)
        }
    }

    /// Runs `apply(open)` under the visit's lock, so that an accept and a reset never
    /// interleave: the graph and the pumps always agree with the visit.
    pub fn transition(&self, open: bool, now: Instant, apply: impl FnOnce(bool)) {
        let mut visit = self.visit.lock().unwrap_or_else(PoisonError::into_inner);
        match (open, visit.accepted_at) {
            (true, None) => {
                visit.accepted_at = Some(now);
                visit.accepted_total += 1;
            }
            // A second accept during a visit starts its clock again.
            (true, Some(_)) => visit.accepted_at = Some(now),
            (false, _) => visit.accepted_at = None,
        }
        apply(open);
    }

    /// Closes the visit if the visitor has left by `now`: `face_seen_ago` is the face
    /// tracker's last sighting when the show runs one (`tracking`). Returns whether it closed.
    pub fn reset_if_left(
        &self,
        now: Instant,
        tracking: bool,
        face_seen_ago: Option<Duration>,
        apply: impl FnOnce(bool),
    ) -> bool {
        let mut visit = self.visit.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(accepted) = visit.accepted_at else { return false };
        let since_accept = now.saturating_duration_since(accepted);
        let absent = match (tracking, face_seen_ago) {
            (true, Some(ago)) => ago.min(since_accept),
            _ => since_accept,
        };
        if absent < Duration::from_secs(u64::from(self.settings.reset_after_s)) {
            return false;
        }
        visit.accepted_at = None;
        apply(false);
        true
    }

    pub fn is_open(&self) -> bool {
        self.visit.lock().unwrap_or_else(PoisonError::into_inner).accepted_at.is_some()
    }

    /// The public view (`owner`: with the count of visitors).
    pub fn view(&self, owner: bool) -> ConsentView {
        let visit = self.visit.lock().unwrap_or_else(PoisonError::into_inner);
        ConsentView {
            required: true,
            open: visit.accepted_at.is_some(),
            settings: Some(self.settings.clone()),
            streamed: self.streamed,
            accepted_total: owner.then_some(visit.accepted_total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(reset: u32) -> VisitorConsent {
        VisitorConsent { languages: vec!["de".into(), "en".into()], keeps: Keeps::Nothing, reset_after_s: reset }
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        assert_eq!(settings(20).check(false), Ok(()));
        let parsed: VisitorConsent = serde_json::from_str("{}").unwrap();
        assert_eq!((parsed.languages, parsed.keeps, parsed.reset_after_s), (vec!["en".to_owned()], Keeps::Nothing, 20));
        let mut bad = settings(20);
        bad.languages.push("xx".into());
        assert!(bad.check(false).unwrap_err().starts_with("languages: no consent text in `xx`"));
        bad.languages = vec!["en".into(), "en".into()];
        assert!(bad.check(false).unwrap_err().contains("twice"));
        assert!(settings(1).check(false).unwrap_err().starts_with("reset_after_s"));
        assert!(settings(20).check(true).unwrap_err().starts_with("keeps:"), "a recording show says so");
        let recording = VisitorConsent { keeps: Keeps::Recording, ..settings(20) };
        assert_eq!(recording.check(true), Ok(()));
        assert!(serde_json::from_str::<VisitorConsent>(r#"{"keeps": "faces"}"#).is_err());
    }

    #[test]
    fn only_the_kiosk_key_opens_and_a_visit_ends_when_the_face_is_gone() {
        let gate = VisitorGate::new(settings(10), false, new_key());
        assert_eq!(gate.check_key("0123"), Err(ConsentError::WrongKey));
        assert_eq!(gate.check_key(&gate.key().to_uppercase()), Err(ConsentError::WrongKey));
        assert_eq!(gate.check_key(gate.key()), Ok(()));

        let t0 = Instant::now();
        let mut applied = Vec::new();
        gate.transition(true, t0, |open| applied.push(open));
        assert!(gate.is_open());
        let secs = Duration::from_secs;
        // A face seen 2 s ago: the visitor is there, however long since accepting.
        assert!(!gate.reset_if_left(t0 + secs(60), true, Some(secs(2)), |open| applied.push(open)));
        // Without a tracker the visit lasts reset_after_s from accepting.
        assert!(!gate.reset_if_left(t0 + secs(9), false, None, |open| applied.push(open)));
        assert!(gate.reset_if_left(t0 + secs(11), true, Some(secs(11)), |open| applied.push(open)));
        assert!(!gate.is_open());
        assert!(!gate.reset_if_left(t0 + secs(30), false, None, |_| unreachable!()), "closed stays closed");
        assert_eq!(applied, [true, false]);
        assert_eq!(gate.view(true).accepted_total, Some(1));
        assert_eq!(gate.view(false).accepted_total, None);
    }
}
