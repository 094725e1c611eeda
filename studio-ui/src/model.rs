// SPDX-License-Identifier: MPL-2.0
//! The API's answers as the pages read them: only the fields they show,
//! everything else ignored so the API may grow without breaking the studio.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Project {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub timeline: Value,
    /// Grows with every change; edits send it back in `If-Match`.
    #[serde(default)]
    pub version: i64,
    /// Commercial work: renders refuse what is not cleared for it.
    #[serde(default)]
    pub commercial: bool,
    /// The face swaps keep what is held in front of the performer's face.
    #[serde(default)]
    pub occlusion_mask: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Clip {
    pub id: String,
    pub name: String,
    pub bytes: i64,
    #[serde(default)]
    pub container: String,
    pub duration_s: f64,
    pub width: i64,
    pub height: i64,
    pub fps: f64,
    #[serde(default)]
    pub video_codec: String,
    #[serde(default)]
    pub audio_codec: Option<String>,
}

/// A clip's waveform (`GET /api/clips/{id}/waveform`): `peaks[i]` is the loudest sample, 0 to
/// 1, in `[i, i + 1) / peaks_per_second` seconds of the clip.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Waveform {
    pub peaks_per_second: f64,
    #[serde(default)]
    pub has_audio: bool,
    #[serde(default)]
    pub peaks: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Job {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub params: Value,
    pub state: String,
    pub progress: f64,
    #[serde(default)]
    pub stage: String,
    pub attempts: i64,
    pub max_attempts: i64,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub created_at_ms: i64,
}

impl Job {
    /// Still waiting or running, so worth watching.
    pub(crate) fn active(&self) -> bool {
        matches!(self.state.as_str(), "queued" | "running")
    }

    /// The state in plain words.
    pub(crate) fn state_words(&self) -> String {
        match self.state.as_str() {
            "queued" if self.attempts > 0 => format!("Waiting to try again (attempt {} failed)", self.attempts),
            "queued" => "Waiting to start".into(),
            "running" if self.stage.is_empty() => "Running".into(),
            "running" => format!("Running: {}", self.stage),
            "succeeded" => "Finished".into(),
            "cancelled" => "Cancelled".into(),
            "dead" => format!("Failed after {} attempts", self.attempts),
            other => other.into(),
        }
    }

    /// What kind of work this is, in plain words.
    pub(crate) fn kind_words(&self) -> &str {
        match self.kind.as_str() {
            "render" => "Render",
            "clip_edit" => "Clip trim",
            "voice_clone" => "Voice from a sample",
            "video_download" => "Import from URL",
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Render {
    pub id: String,
    pub project_id: String,
    #[serde(default)]
    pub presets: Vec<String>,
    #[serde(default)]
    pub outputs: Option<Vec<RenderOutput>>,
    #[serde(default)]
    pub job: Option<Job>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct RenderOutput {
    pub preset: String,
    #[serde(default)]
    pub bytes: Option<i64>,
    #[serde(default)]
    pub duration_s: Option<f64>,
    #[serde(default)]
    pub disclosure: Option<String>,
    #[serde(default)]
    pub width: Option<i64>,
    #[serde(default)]
    pub height: Option<i64>,
    /// Sidecars by extension: captions (`srt`, `vtt`) and a WebM's Content Credentials (`c2pa`).
    #[serde(default)]
    pub sidecars: std::collections::BTreeMap<String, serde_json::Value>,
    /// The file's Content Credentials as read back after signing.
    #[serde(default)]
    pub credential: Option<Credential>,
}

/// What a render's Content Credentials say, and whether they hold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Credential {
    #[serde(default)]
    pub valid: bool,
    #[serde(default)]
    pub trusted: bool,
    #[serde(default)]
    pub signer_common_name: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub characters: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub models: Option<Vec<serde_json::Value>>,
}

impl Credential {
    /// One line for the render card: state, signer, author, time, characters and models.
    pub(crate) fn summary(&self) -> String {
        let state = match (self.valid, self.trusted) {
            (false, _) => "INVALID",
            (true, false) => "valid, signer not on a trust list",
            (true, true) => "valid and trusted",
        };
        let names = |list: &Option<Vec<serde_json::Value>>| {
            let names: Vec<String> =
                list.iter().flatten().filter_map(|v| v["name"].as_str().map(str::to_owned)).collect();
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        };
        format!(
            "Content Credentials: {state} · signed by {} · author {} · {} · characters: {} · models: {}",
            self.signer_common_name.as_deref().unwrap_or("-"),
            self.author.as_deref().filter(|a| !a.is_empty()).unwrap_or("-"),
            self.created_at.as_deref().unwrap_or("-"),
            names(&self.characters),
            names(&self.models),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Preset {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct LiveSummary {
    pub id: String,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub preset: String,
    #[serde(default)]
    pub pipeline: Option<LivePipeline>,
    #[serde(default)]
    pub viewers: Vec<LiveViewer>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct LivePipeline {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub width: i64,
    #[serde(default)]
    pub height: i64,
    #[serde(default)]
    pub fps_encoded: f64,
    #[serde(default)]
    pub frames_encoded: u64,
    #[serde(default)]
    pub frames_dropped: u64,
    #[serde(default)]
    pub pipeline_latency_ms: f64,
    #[serde(default)]
    pub characters: Vec<String>,
    #[serde(default)]
    pub character: Option<String>,
    #[serde(default)]
    pub elements: BTreeMap<String, bool>,
    /// Where the show is pushed besides the preview.
    #[serde(default)]
    pub outputs: Vec<LiveOutput>,
    /// The newest captions while captions are on.
    #[serde(default)]
    pub captions: Vec<LiveCaption>,
    /// The speech language captions are set for (`auto`: detected) and the one last heard.
    #[serde(default)]
    pub captions_language: String,
    #[serde(default)]
    pub captions_heard: Option<String>,
    /// The licence of each model the elements switched on run.
    #[serde(default)]
    pub licences: Vec<ModelLicence>,
    /// The presenter's browser, for a show whose source is `browser`.
    #[serde(default)]
    pub publisher: Option<LivePublisher>,
    /// The live dub, for a dubbed show.
    #[serde(default)]
    pub dub: Option<LiveDub>,
}

/// A dubbed show's figures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct LiveDub {
    pub language: String,
    pub delay_s: f64,
    #[serde(default)]
    pub speech: String,
    #[serde(default)]
    pub lines: u64,
    #[serde(default)]
    pub late: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub last_error: Option<String>,
}

/// The presenter's browser as the server receives it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct LivePublisher {
    #[serde(default)]
    pub on_air: bool,
    #[serde(default)]
    pub gaps: u64,
    #[serde(default)]
    pub gap_s: f64,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    #[serde(default)]
    pub sound_peak: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct LiveCaption {
    pub text: String,
    #[serde(rename = "final", default)]
    pub is_final: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct LiveOutput {
    pub target: String,
    pub state: String,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct LiveViewer {
    pub id: String,
    #[serde(default)]
    pub connection: String,
    #[serde(default)]
    pub report: Option<ViewerReport>,
    #[serde(default)]
    pub latency_p50_ms: f64,
    #[serde(default)]
    pub latency_p95_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ViewerReport {
    #[serde(default)]
    pub frames: u64,
    #[serde(default)]
    pub fps: f64,
}

/// A character of the user's library: a name, an analysed portrait, maybe a voice.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Character {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub voice_id: Option<String>,
    /// How its face plays: `swap` or `animate`.
    #[serde(default = "swap")]
    pub face: String,
    /// The catalog voice model it speaks with, which takes over from `voice_id`.
    #[serde(default)]
    pub voice_model: Option<VoiceModelChoice>,
    pub portrait: Portrait,
    /// The models the portrait was analysed with.
    #[serde(default)]
    pub models: Vec<ModelVersion>,
    /// The projects that use it.
    #[serde(default)]
    pub used_by: Vec<ProjectUse>,
}

fn swap() -> String {
    "swap".into()
}

/// A character's catalog voice: an RVC v2 model (or our converter) and the speaker in it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct VoiceModelChoice {
    pub name: String,
    #[serde(default)]
    pub speaker_id: u32,
}

/// A model of the server's catalog (`GET /api/models`), as the pickers offer it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct CatalogModel {
    pub name: String,
    pub version: String,
    /// The licence of its weights (SPDX id or text).
    pub license: String,
    /// What it does: `voice_conversion`, `face_swap`, ...
    pub task: String,
    /// `true` only when its manifest clears it for commercial use.
    #[serde(default)]
    pub commercial_use: Option<bool>,
    /// `commercial use allowed`, `NON-COMMERCIAL` or `commercial use not stated`.
    pub commercial_label: String,
    /// Whether its file is on the server.
    #[serde(default)]
    pub installed: bool,
    /// How many speakers a voice holds, when its import read it.
    #[serde(default)]
    pub speakers: Option<u32>,
    /// The community signature an imported model was recognised as.
    #[serde(default)]
    pub signature: Option<String>,
}

/// A model as its manifest names it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ModelVersion {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// A project that uses a library entry, and how (`2 scenes`, `cast`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ProjectUse {
    pub project_id: String,
    pub project_name: String,
    #[serde(default)]
    pub uses: Vec<String>,
}

/// What the analysis of a character's portrait found.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Portrait {
    pub width: u32,
    pub height: u32,
    /// How many face-mesh landmarks were measured.
    pub landmarks: usize,
}

/// A voice of a project, measured from a speech sample.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Voice {
    pub id: String,
    pub name: String,
    pub median_f0_hz: f64,
    #[serde(default)]
    pub voiced_seconds: f64,
    #[serde(default)]
    pub models: Vec<ModelVersion>,
    #[serde(default)]
    pub used_by: Vec<ProjectUse>,
}

/// A stretch of the timeline (seconds) played by a character.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Scene {
    pub id: String,
    pub character_id: String,
    pub start: f64,
    pub end: f64,
    #[serde(default)]
    pub voice_over: bool,
    /// The language a dubbed scene speaks (a BCP 47 tag).
    #[serde(default)]
    pub dub: Option<String>,
}

/// A model's licence as its manifest states it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ModelLicence {
    pub name: String,
    pub license: String,
    /// `commercial use allowed`, `NON-COMMERCIAL` or `commercial use not stated`.
    pub commercial_label: String,
}

/// Languages the pages offer by name (live captions, dubbed scenes), English first; the
/// server takes any code it knows.
pub(crate) const LANGUAGES: &[(&str, &str)] = &[
    ("en", "English"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("fr", "Français"),
    ("it", "Italiano"),
    ("nl", "Nederlands"),
    ("pt", "Português"),
];

/// The name of language `code` as the pages list it, or the code itself.
pub(crate) fn language_name(code: &str) -> String {
    LANGUAGES.iter().find(|(c, _)| *c == code).map_or(code.to_owned(), |(_, name)| (*name).to_owned())
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Account {
    pub email: String,
    pub storage_bytes: u64,
    pub quota_bytes: u64,
    /// The operator named this account an administrator who installs models.
    #[serde(default)]
    pub model_admin: bool,
}

/// Bytes for people: `1.5 MB`.
pub(crate) fn human_bytes(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kB", b / 1e3)
    } else {
        format!("{b} B")
    }
}
