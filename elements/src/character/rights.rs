// SPDX-License-Identifier: MPL-2.0
//! The right to use a face or a voice, carried in the character file so it travels with the
//! likeness it covers: on what basis (public domain, the person's consent, a licence, the
//! user's own likeness), who granted it and when, the release it rests on, and any
//! restriction (non-commercial use, an expiry date). Renders and live shows check it
//! before they use the character; Content Credentials repeat it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why the studio may use a likeness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RightsBasis {
    PublicDomain,
    Consent,
    Licensed,
    OwnLikeness,
}

impl RightsBasis {
    /// The accepted spellings, for error messages.
    pub const NAMES: &'static str = "public-domain, consent, licensed, own-likeness";

    /// Parses one of [`Self::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "public-domain" => Some(Self::PublicDomain),
            "consent" => Some(Self::Consent),
            "licensed" => Some(Self::Licensed),
            "own-likeness" => Some(Self::OwnLikeness),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PublicDomain => "public-domain",
            Self::Consent => "consent",
            Self::Licensed => "licensed",
            Self::OwnLikeness => "own-likeness",
        }
    }
}

impl fmt::Display for RightsBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rights record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rights {
    pub basis: RightsBasis,
    /// Who granted the right (the person, their estate, the licensor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_by: Option<String>,
    /// When, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<String>,
    /// The release, contract or archive reference it rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// SHA-256 of an uploaded release document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_sha256: Option<String>,
    /// Only for non-commercial work.
    #[serde(default)]
    pub non_commercial: bool,
    /// Last day of use, `YYYY-MM-DD` (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Rights {
    /// Checks the dates' form; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, value) in [("rights.granted_at", &self.granted_at), ("rights.expires", &self.expires)] {
            if let Some(date) = value {
                if !is_date(date) {
                    return Err(format!("field `{field}` is `{date}`, expected a date YYYY-MM-DD"));
                }
            }
        }
        Ok(())
    }

    /// Whether the likeness may be used on `today` (`YYYY-MM-DD`) in work that is
    /// `commercial`; the error says why not.
    pub fn allows(&self, today: &str, commercial: bool) -> Result<(), String> {
        if let Some(expires) = &self.expires {
            if today > expires.as_str() {
                return Err(format!("its rights ({}) expired on {expires}", self.basis));
            }
        }
        if commercial && self.non_commercial {
            return Err(format!("its rights ({}) are for non-commercial use only", self.basis));
        }
        Ok(())
    }
}

/// `YYYY-MM-DD` with a plausible month and day.
pub fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) || !digits(8..10) {
        return false;
    }
    let month: u32 = text[5..7].parse().unwrap_or(0);
    let day: u32 = text[8..10].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rights() -> Rights {
        Rights {
            basis: RightsBasis::Consent,
            granted_by: Some("Jane Doe".into()),
            granted_at: Some("2026-01-10".into()),
            reference: Some("release 42".into()),
            document_sha256: None,
            non_commercial: true,
            expires: Some("2026-12-31".into()),
        }
    }

    #[test]
    fn expiry_and_restriction_are_enforced_with_the_reason() {
        let r = rights();
        assert!(r.allows("2026-12-31", false).is_ok());
        assert!(r.allows("2027-01-01", false).unwrap_err().contains("expired on 2026-12-31"));
        assert!(r.allows("2026-06-01", true).unwrap_err().contains("non-commercial"));
    }

    #[test]
    fn bases_and_dates_parse_strictly() {
        assert_eq!(RightsBasis::parse("own-likeness"), Some(RightsBasis::OwnLikeness));
        assert_eq!(RightsBasis::parse("fair-use"), None);
        assert!(is_date("2026-02-28") && !is_date("2026-13-01") && !is_date("26-1-1"));
        let mut r = rights();
        r.expires = Some("next year".into());
        assert!(r.validate().unwrap_err().contains("rights.expires"));
        let json = serde_json::to_string(&rights()).unwrap();
        assert!(json.contains("\"basis\":\"consent\""), "{json}");
    }
}
