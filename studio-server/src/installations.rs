// SPDX-License-Identifier: MPL-2.0
//! Installations: live shows a museum runs unattended, listed in a TOML file that
//! `reenact serve --installations FILE` reads.
//!
//! ```toml
//! [[installation]]
//! name = "hall-a"
//! source = "camera:/dev/video0"
//! preset = "live-720p"
//! elements = "faceswap,matte"
//! characters = ["/srv/reenact/lincoln.character.json"]
//! kiosk_pin = "2468"           # staff leave the kiosk screen with it (checked by the server)
//! caption_language = "de"      # what visitors speak, for live captions ("auto" detects it)
//! occlusion_mask = true        # a cup or a glove held up stays in front of the character's face
//!
//! [installation.visitor_consent]  # nothing of the camera until a visitor accepts
//! languages = ["de", "en"]      # of the consent screen: en, de, es, fr
//! keeps = "nothing"             # or "recording"; stated on the screen
//! reset_after_s = 20            # back to consent after this long without a face
//! ```
//!
//! Each show runs under a random token made once per name and kept in the database
//! (`/kiosk/TOKEN`, printed at start): a kiosk screen finds it again after the server
//! restarts, and nobody finds it by guessing the name. A show that cannot start (a camera unplugged) or that fails is
//! tried again every few seconds, for as long as the server runs: nobody is there to press a
//! button. Installations have no owner account; the file is their only control.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reenact_engine::live::{Elements, LiveOptions, LiveOutput, LiveSource};
use reenact_engine::PresetLibrary;
use serde::Deserialize;

use crate::live::consent::{VisitorConsent, VisitorGate};
use crate::live::LiveHub;

/// The owner recorded on installation shows: no account has this id, so none controls them.
pub const OWNER: &str = "installation";
/// Pause between attempts to bring a show back.
const RETRY: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallationsFile {
    #[serde(default, rename = "installation")]
    installations: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    source: String,
    #[serde(default = "default_preset")]
    preset: String,
    #[serde(default)]
    elements: String,
    #[serde(default)]
    characters: Vec<PathBuf>,
    #[serde(default)]
    outputs: Vec<String>,
    kiosk_pin: Option<String>,
    /// The language live captions transcribe (a whisper code or `auto`; default `en`).
    caption_language: Option<String>,
    visitor_consent: Option<VisitorConsent>,
    /// Commercial work: models and characters not cleared for it keep the show from starting.
    #[serde(default)]
    commercial: bool,
    /// What visitors hold in front of their faces (not of their skin's colour) stays in
    /// front of the character's face.
    #[serde(default)]
    occlusion_mask: bool,
}

fn default_preset() -> String {
    "live-720p".into()
}

/// A file that cannot be used, naming the entry and field at fault.
#[derive(Debug, thiserror::Error)]
pub enum InstallationError {
    #[error("{}: {cause}", file.display())]
    Unreadable { file: PathBuf, cause: String },
    #[error("{}: installation[{index}].{field}: {cause}", file.display())]
    Invalid { file: PathBuf, index: usize, field: &'static str, cause: String },
}

/// One show to keep running.
#[derive(Debug, Clone)]
pub struct Installation {
    pub name: String,
    /// The show's id and kiosk token (set by [`assign_tokens`]).
    pub token: String,
    pub options: LiveOptions,
    pub kiosk_pin: Option<String>,
    /// Visitor mode: nothing of the camera until a visitor accepts on the kiosk screen.
    pub visitor_consent: Option<VisitorConsent>,
    /// The key the kiosk link carries to accept (set by [`assign_tokens`]).
    pub consent_key: String,
    pub commercial: bool,
}

impl Installation {
    /// The kiosk's path: with the consent key in its fragment for a visitor-mode show.
    pub fn kiosk_path(&self) -> String {
        match &self.visitor_consent {
            Some(_) => format!("/kiosk/{}#consent={}", self.token, self.consent_key),
            None => format!("/kiosk/{}", self.token),
        }
    }
}

/// Reads and checks `file`: names are unique, at most 64 letters, digits and dashes; sources,
/// presets (live ones), elements, character files and outputs as `POST /api/live` takes them.
pub fn read(file: &Path, presets: &PresetLibrary) -> Result<Vec<Installation>, InstallationError> {
    let unreadable = |cause: String| InstallationError::Unreadable { file: file.to_path_buf(), cause };
    let text = std::fs::read_to_string(file).map_err(|e| unreadable(e.to_string()))?;
    let parsed: InstallationsFile = toml::from_str(&text).map_err(|e| unreadable(e.message().to_string()))?;
    let mut installations: Vec<Installation> = Vec::new();
    for (index, entry) in parsed.installations.into_iter().enumerate() {
        let invalid =
            |field, cause: String| InstallationError::Invalid { file: file.to_path_buf(), index, field, cause };
        let name_ok = !entry.name.is_empty()
            && entry.name.len() <= 64
            && entry.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !name_ok {
            return Err(invalid("name", format!("`{}`: 1 to 64 letters, digits and dashes", entry.name)));
        }
        if installations.iter().any(|i| i.name == entry.name) {
            return Err(invalid("name", format!("`{}` is used twice", entry.name)));
        }
        let source: LiveSource = entry.source.parse().map_err(|e| invalid("source", format!("{e}")))?;
        let preset = presets.get(&entry.preset).map_err(|e| invalid("preset", e.to_string()))?.clone();
        let mut options = LiveOptions::new(source, preset);
        options.elements = Elements::parse_list(&entry.elements).map_err(|e| invalid("elements", e.to_string()))?;
        if let Some(missing) = entry.characters.iter().find(|c| !c.is_file()) {
            return Err(invalid("characters", format!("{}: no such character file", missing.display())));
        }
        options.characters = entry.characters;
        options.occlusion_mask = entry.occlusion_mask;
        for url in &entry.outputs {
            let output: LiveOutput = url.parse().map_err(|e| invalid("outputs", format!("{e}")))?;
            options.outputs.push(output);
        }
        if let Some(language) = entry.caption_language {
            reenact_engine::languages::check_speech_language(&language)
                .map_err(|e| invalid("caption_language", e.to_string()))?;
            options.caption_language = language;
        }
        if entry.kiosk_pin.as_deref().is_some_and(|pin| !crate::live::kiosk::valid_pin(pin)) {
            return Err(invalid("kiosk_pin", "4 to 12 digits".into()));
        }
        if let Some(consent) = &entry.visitor_consent {
            let records = options.outputs.iter().any(|o| matches!(o, LiveOutput::Record(_)));
            consent.check(records).map_err(|e| invalid("visitor_consent", e))?;
        }
        installations.push(Installation {
            name: entry.name,
            token: String::new(),
            options,
            kiosk_pin: entry.kiosk_pin,
            visitor_consent: entry.visitor_consent,
            consent_key: String::new(),
            commercial: entry.commercial,
        });
    }
    Ok(installations)
}

/// Gives each installation its token and consent key: those kept for its name, or new random
/// ones (stored before use; of two servers starting at once, both read the first stored).
pub async fn assign_tokens(db: &sqlx::AnyPool, installations: &mut [Installation]) -> sqlx::Result<()> {
    for installation in installations {
        let fresh = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        sqlx::query("INSERT INTO installation_tokens (name, token) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(&installation.name)
            .bind(&fresh)
            .execute(db)
            .await?;
        sqlx::query("UPDATE installation_tokens SET consent_key = $1 WHERE name = $2 AND consent_key = ''")
            .bind(crate::live::consent::new_key())
            .bind(&installation.name)
            .execute(db)
            .await?;
        let (token, key): (String, String) =
            sqlx::query_as("SELECT token, consent_key FROM installation_tokens WHERE name = $1")
                .bind(&installation.name)
                .fetch_one(db)
                .await?;
        installation.token = token;
        installation.consent_key = key;
    }
    Ok(())
}

/// Keeps `installation` running in `hub` until the task is dropped: started under its token,
/// started again when it failed or was stopped.
pub async fn keep_running(hub: Arc<LiveHub>, installation: Installation) {
    let name = installation.name.clone();
    let id = installation.token.clone();
    hub.expect_kiosk(&id);
    let mut last_error: Option<String> = None;
    loop {
        let healthy = hub.get(&id).ok().is_some_and(|s| s.summary().pipeline.is_none_or(|p| p.state != "failed"));
        if !healthy {
            let options = installation.options.clone();
            if let Err(why) = cleared(&installation) {
                if last_error.as_deref() != Some(why.as_str()) {
                    tracing::warn!(installation = %name, %why, "installation show refused; checking again");
                }
                last_error = Some(why);
                tokio::time::sleep(RETRY).await;
                continue;
            }
            let streamed = !options.outputs.is_empty();
            let consent = installation
                .visitor_consent
                .clone()
                .map(|settings| VisitorGate::new(settings, streamed, installation.consent_key.clone()));
            match hub.start_as(id.clone(), options, Some(OWNER.into()), None, consent).await {
                Ok(session) => {
                    session.kiosk.set(installation.kiosk_pin.as_deref());
                    tracing::info!(installation = %name, "installation show started");
                    last_error = None;
                }
                Err(e) => {
                    let error = e.to_string();
                    // Said once per cause, not every few seconds all night.
                    if last_error.as_deref() != Some(error.as_str()) {
                        tracing::warn!(installation = %name, %error, "installation show cannot start; trying again");
                    }
                    last_error = Some(error);
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Whether the show's characters' rights are still good (and cover commercial work when it
/// is commercial) and its models are cleared for it: checked at every start, as rights expire.
fn cleared(installation: &Installation) -> Result<(), String> {
    let mut cast = std::collections::BTreeMap::new();
    for file in &installation.options.characters {
        let name = gstreenact::character::Character::load(file).map_err(|e| e.to_string())?.name;
        cast.insert(name, file.clone());
    }
    crate::credentials::check_cast(&cast, installation.commercial)?;
    let (elements, language) = (installation.options.elements.on(), &installation.options.caption_language);
    crate::http::live::check_show_models(&elements, language, installation.commercial).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` as an installations file; errors with the file's path written as `f`.
    fn read_text(text: &str) -> Result<Vec<Installation>, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("installations.toml");
        std::fs::write(&file, text).unwrap();
        read(&file, &PresetLibrary::builtin().unwrap())
            .map_err(|e| e.to_string().replace(&*file.to_string_lossy(), "f"))
    }

    #[test]
    fn installations_are_read_with_defaults() {
        let read = read_text("[[installation]]\nname = \"hall-a\"\nsource = \"test\"\nelements = \"matte\"\n").unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!((read[0].name.as_str(), read[0].options.preset.name.as_str()), ("hall-a", "live-720p"));
        assert!(read[0].options.elements.matte);
        assert!(read_text("").unwrap().is_empty(), "an empty file has none");
    }

    #[test]
    fn bad_entries_name_their_field() {
        let entry = |extra: &str| format!("[[installation]]\nname = \"a\"\nsource = \"test\"\n{extra}");
        let cases = [
            (
                "[[installation]]\nname = \"hall a\"\nsource = \"test\"\n".to_string(),
                "f: installation[0].name: `hall a`",
            ),
            (format!("{}{}", entry(""), entry("")), "f: installation[1].name: `a` is used twice"),
            (entry("preset = \"imax\"\n"), "f: installation[0].preset: unknown preset `imax`"),
            (entry("elements = \"lipstick\"\n"), "f: installation[0].elements: unknown element `lipstick`"),
            (entry("characters = [\"/nowhere.json\"]\n"), "f: installation[0].characters: /nowhere.json"),
            (entry("outputs = [\"udp://x\"]\n"), "f: installation[0].outputs: output `udp://x`"),
            (entry("colour = \"red\"\n"), "f: unknown field `colour`"),
            (entry("kiosk_pin = \"12\"\n"), "f: installation[0].kiosk_pin: 4 to 12 digits"),
            (entry("caption_language = \"tlh\"\n"), "f: installation[0].caption_language: "),
            (
                entry("[installation.visitor_consent]\nlanguages = [\"tlh\"]\n"),
                "f: installation[0].visitor_consent: languages: no consent text in `tlh`",
            ),
            (
                entry("outputs = [\"record:/tmp/a.mp4\"]\n[installation.visitor_consent]\n"),
                "f: installation[0].visitor_consent: keeps:",
            ),
        ];
        for (text, expected) in cases {
            let err = read_text(&text).unwrap_err();
            assert!(err.starts_with(expected), "{err}\n  expected: {expected}");
        }
    }
}
