// SPDX-License-Identifier: MPL-2.0
//! Delivery and live presets (`presets/*.toml`): what one output looks like.
//!
//! The presets shipped in the repository are compiled in, so the binary works
//! from any directory; a directory given by `REENACT_PRESETS` (or `presets/`
//! in the working directory) adds presets or overrides built-ins by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// Environment variable naming an extra preset directory.
pub const PRESETS_ENV: &str = "REENACT_PRESETS";

const BUILTIN: &[(&str, &str)] = &[
    ("landscape-1080p.toml", include_str!("../../presets/landscape-1080p.toml")),
    ("vertical-1080p.toml", include_str!("../../presets/vertical-1080p.toml")),
    ("square-1080p.toml", include_str!("../../presets/square-1080p.toml")),
    ("master.toml", include_str!("../../presets/master.toml")),
    ("live-720p.toml", include_str!("../../presets/live-720p.toml")),
    ("web-720p-webm.toml", include_str!("../../presets/web-720p-webm.toml")),
];

/// One output format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Name used on the command line and in file names.
    pub name: String,
    /// One line for people choosing a preset.
    #[serde(default)]
    pub description: String,
    /// Offline (every frame, full quality) or live (low latency).
    #[serde(default)]
    pub mode: Mode,
    /// Container of the output file.
    #[serde(default)]
    pub container: Container,
    pub video: VideoSettings,
    pub audio: AudioSettings,
    /// How the source picture is fitted into the output frame.
    #[serde(default)]
    pub crop: CropPolicy,
    /// What happens to captions.
    #[serde(default)]
    pub captions: CaptionMode,
    /// Optional watermark drawn on every frame.
    #[serde(default)]
    pub watermark: Option<Watermark>,
    /// Times in seconds at which a JPEG thumbnail is taken (clamped to the duration).
    #[serde(default)]
    pub thumbnails: Vec<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Offline,
    Live,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Container {
    #[default]
    Mp4,
    Webm,
}

impl Container {
    /// File extension without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Webm => "webm",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoSettings {
    /// Output width in pixels; absent together with `height` for the source size.
    pub width: Option<u32>,
    /// Output height in pixels.
    pub height: Option<u32>,
    /// Output frame rate numerator; absent for the source rate.
    pub fps: Option<u32>,
    /// Frame rate denominator (1001 for 29.97).
    #[serde(default = "one")]
    pub fps_denominator: u32,
    pub encoder: VideoEncoder,
    /// Constant quality (x264 CRF 0..51, VP9 CQ level 0..63); wins over `bitrate_kbps`.
    pub crf: Option<u32>,
    /// Target bitrate when no CRF is given.
    pub bitrate_kbps: Option<u32>,
    /// Encoder speed/quality trade-off (x264 names: ultrafast .. veryslow).
    #[serde(default = "default_speed")]
    pub speed_preset: String,
    /// Seconds between keyframes.
    #[serde(default = "default_keyframe_interval")]
    pub keyframe_interval_s: f64,
}

fn one() -> u32 {
    1
}

fn default_speed() -> String {
    "medium".into()
}

fn default_keyframe_interval() -> f64 {
    2.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VideoEncoder {
    X264,
    Vp9,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSettings {
    pub codec: AudioCodec,
    pub bitrate_kbps: u32,
    #[serde(default = "default_rate")]
    pub sample_rate: u32,
    #[serde(default = "default_channels")]
    pub channels: u32,
}

fn default_rate() -> u32 {
    48_000
}

fn default_channels() -> u32 {
    2
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AudioCodec {
    Aac,
    Opus,
}

/// How a source of another aspect ratio is fitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CropPolicy {
    /// Cut the middle of the picture to the output aspect.
    #[default]
    Center,
    /// Follow the main face (`reenactfacetrack` + `reenactreframe`; 9:16, 1:1 and 16:9 outputs),
    /// gliding back to the centre when there is none.
    Face,
    /// Keep the whole picture and add black bars.
    Fit,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptionMode {
    #[default]
    Off,
    BurnIn,
    Sidecar,
}

/// A watermark: text or an image, placed in a corner with an opacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watermark {
    /// Text to draw (ignored when `image` is set).
    #[serde(default)]
    pub text: Option<String>,
    /// Image file (PNG/JPEG) to draw.
    #[serde(default)]
    pub image: Option<PathBuf>,
    #[serde(default)]
    pub position: Position,
    /// 0.0 (invisible) .. 1.0 (opaque).
    #[serde(default = "default_opacity")]
    pub opacity: f64,
}

fn default_opacity() -> f64 {
    0.6
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    TopLeft,
    /// The default: clear of burned-in captions at the bottom.
    #[default]
    TopRight,
    BottomLeft,
    BottomRight,
    Center,
}

impl Preset {
    /// Parses and validates one preset file's text.
    pub fn parse(file: &Path, text: &str) -> Result<Self> {
        let preset: Preset = toml::from_str(text).map_err(|err| {
            let field =
                err.span().map(|span| format!("line {}", line_of(text, span.start))).unwrap_or_else(|| "preset".into());
            EngineError::invalid(file, field, err.message().to_string())
        })?;
        preset.validate(file).map_err(|err| match err {
            EngineError::Invalid { file, field, cause } => match line_of_field(text, &field) {
                Some(line) => EngineError::Invalid { file, field: format!("line {line}: {field}"), cause },
                None => EngineError::Invalid { file, field, cause },
            },
            other => other,
        })?;
        Ok(preset)
    }

    fn validate(&self, file: &Path) -> Result<()> {
        let bad = |field: &str, cause: String| Err(EngineError::invalid(file, field, cause));
        let v = &self.video;
        match (v.width, v.height) {
            (Some(w), Some(h)) => {
                if !(16..=7680).contains(&w) || w % 2 != 0 {
                    return bad("video.width", format!("{w} must be even and within 16..7680"));
                }
                if !(16..=7680).contains(&h) || h % 2 != 0 {
                    return bad("video.height", format!("{h} must be even and within 16..7680"));
                }
            }
            (None, None) => {}
            _ => return bad("video", "width and height must be given together".into()),
        }
        if let Some(fps) = v.fps {
            if !(1..=240).contains(&fps) || v.fps_denominator == 0 {
                return bad("video.fps", format!("{fps}/{} is not a frame rate", v.fps_denominator));
            }
        }
        match (v.crf, v.bitrate_kbps) {
            (None, None) => return bad("video", "give crf or bitrate_kbps".into()),
            (Some(crf), _) if crf > v.encoder.max_quality() => {
                return bad("video.crf", format!("{crf} is above {}", v.encoder.max_quality()));
            }
            (_, Some(0)) => return bad("video.bitrate_kbps", "must be above 0".into()),
            _ => {}
        }
        if !SPEED_PRESETS.contains(&v.speed_preset.as_str()) {
            return bad(
                "video.speed_preset",
                format!("`{}` is not one of {}", v.speed_preset, SPEED_PRESETS.join(", ")),
            );
        }
        if !(v.keyframe_interval_s > 0.0 && v.keyframe_interval_s <= 20.0) {
            return bad("video.keyframe_interval_s", "must be within (0, 20]".into());
        }
        let a = &self.audio;
        if !(8..=512).contains(&a.bitrate_kbps) {
            return bad("audio.bitrate_kbps", format!("{} must be within 8..512", a.bitrate_kbps));
        }
        if !(1..=2).contains(&a.channels) {
            return bad("audio.channels", format!("{} must be 1 or 2", a.channels));
        }
        if ![8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000].contains(&a.sample_rate) {
            return bad("audio.sample_rate", format!("{} is not a supported rate", a.sample_rate));
        }
        if self.container == Container::Webm && (v.encoder != VideoEncoder::Vp9 || a.codec != AudioCodec::Opus) {
            return bad("container", "webm needs video.encoder = \"vp9\" and audio.codec = \"opus\"".into());
        }
        if self.container == Container::Mp4 && a.codec == AudioCodec::Opus {
            return bad("audio.codec", "opus is only written to webm here; use aac for mp4".into());
        }
        if let Some(w) = &self.watermark {
            w.validate(file)?;
        }
        if let Some(t) = self.thumbnails.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return bad("thumbnails", format!("{t} is not a time in seconds"));
        }
        Ok(())
    }

    /// Output frame size for a source of `src_w` x `src_h`.
    pub fn output_size(&self, src_w: u32, src_h: u32) -> (u32, u32) {
        match (self.video.width, self.video.height) {
            (Some(w), Some(h)) => (w, h),
            _ => (src_w & !1, src_h & !1),
        }
    }
}

impl Watermark {
    /// Checks the watermark names something to draw with a sane opacity.
    pub fn validate(&self, file: &Path) -> Result<()> {
        if self.text.as_deref().unwrap_or("").is_empty() && self.image.is_none() {
            return Err(EngineError::invalid(file, "watermark", "give text or image"));
        }
        if !(0.0..=1.0).contains(&self.opacity) {
            return Err(EngineError::invalid(
                file,
                "watermark.opacity",
                format!("{} must be within 0..1", self.opacity),
            ));
        }
        Ok(())
    }
}

/// What replaces the performer's background in a whole render (`reenactmatte`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Background {
    /// The background blurred by `strength` pixels (1..256).
    Blur {
        #[serde(default = "default_blur")]
        strength: u32,
    },
    /// A solid colour, `#RRGGBB`.
    Color { color: String },
    /// A picture (PNG/JPEG) scaled to the frame.
    Image { image: PathBuf },
}

fn default_blur() -> u32 {
    24
}

impl Background {
    /// Parses the command line's form: `blur`, `blur:STRENGTH`, `#RRGGBB` or an image file.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if let Some(rest) = text.strip_prefix("blur") {
            let strength = match rest.strip_prefix(':') {
                None if rest.is_empty() => default_blur(),
                Some(n) => n.parse().map_err(|_| format!("`{n}` is not a blur strength in pixels"))?,
                None => return Err(format!("`{text}`: write blur or blur:STRENGTH")),
            };
            return Ok(Background::Blur { strength });
        }
        if text.starts_with('#') {
            return Ok(Background::Color { color: text.to_string() });
        }
        Ok(Background::Image { image: PathBuf::from(text) })
    }

    /// Checks ranges, the colour's form and that the image exists.
    pub fn validate(&self) -> std::result::Result<(), String> {
        match self {
            Background::Blur { strength } if !(1..=256).contains(strength) => {
                Err(format!("blur strength {strength} must be within 1..256"))
            }
            Background::Color { color } => Self::argb(color).map(|_| ()),
            Background::Image { image } if !image.is_file() => Err(format!("{}: no such image file", image.display())),
            _ => Ok(()),
        }
    }

    /// `#RRGGBB` as the opaque 0xAARRGGBB that `reenactmatte` takes.
    pub fn argb(color: &str) -> std::result::Result<u32, String> {
        let hex = color.strip_prefix('#').filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
        let hex = hex.ok_or_else(|| format!("`{color}` is not a colour of the form #RRGGBB"))?;
        Ok(0xff00_0000 | u32::from_str_radix(hex, 16).expect("six hex digits"))
    }
}

/// x264's speed presets, also accepted for VP9 (mapped to cpu-used).
pub const SPEED_PRESETS: &[&str] =
    &["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"];

impl VideoEncoder {
    fn max_quality(self) -> u32 {
        match self {
            VideoEncoder::X264 => 51,
            VideoEncoder::Vp9 => 63,
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line that sets `field` (a dotted path such as `video.width`), or that opens the
/// nearest table holding it when the key is not written (a default).
fn line_of_field(text: &str, field: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    let mut line = None;
    for part in field.split('.') {
        let Some((key, item)) = table.get_key_value(part) else { break };
        line = key.span().or_else(|| item.span()).map(|span| line_of(text, span.start)).or(line);
        match item.as_table_like() {
            Some(inner) => table = inner,
            None => break,
        }
    }
    line
}

/// All presets known to this process, by name.
#[derive(Debug, Clone)]
pub struct PresetLibrary {
    presets: BTreeMap<String, Preset>,
}

impl PresetLibrary {
    /// Built-in presets plus those of the preset directory, if there is one.
    pub fn load() -> Result<Self> {
        let mut library = Self::builtin()?;
        if let Some(dir) = preset_dir() {
            library.add_dir(&dir)?;
        }
        Ok(library)
    }

    /// Only the presets compiled into the binary.
    pub fn builtin() -> Result<Self> {
        let mut presets = BTreeMap::new();
        for (file, text) in BUILTIN {
            let preset = Preset::parse(Path::new(file), text)?;
            presets.insert(preset.name.clone(), preset);
        }
        Ok(PresetLibrary { presets })
    }

    /// Adds every `*.toml` of `dir`, replacing built-ins of the same name.
    pub fn add_dir(&mut self, dir: &Path) -> Result<()> {
        let entries = std::fs::read_dir(dir).map_err(|e| EngineError::io(dir, e))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| EngineError::io(&file, e))?;
            let preset = Preset::parse(&file, &text)?;
            self.presets.insert(preset.name.clone(), preset);
        }
        Ok(())
    }

    /// The preset called `name`.
    pub fn get(&self, name: &str) -> Result<&Preset> {
        self.presets.get(name).ok_or_else(|| EngineError::UnknownPreset {
            name: name.to_string(),
            known: self.presets.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// All presets in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Preset> {
        self.presets.values()
    }
}

fn preset_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(PRESETS_ENV) {
        return Some(PathBuf::from(dir));
    }
    let local = PathBuf::from("presets");
    local.is_dir().then_some(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_presets_parse_and_have_the_promised_sizes() {
        let lib = PresetLibrary::builtin().unwrap();
        let size = |n: &str| lib.get(n).unwrap().output_size(640, 360);
        assert_eq!(size("landscape-1080p"), (1920, 1080));
        assert_eq!(size("vertical-1080p"), (1080, 1920));
        assert_eq!(size("square-1080p"), (1080, 1080));
        assert_eq!(size("master"), (640, 360));
        assert_eq!(size("live-720p"), (1280, 720));
        assert_eq!(lib.get("live-720p").unwrap().mode, Mode::Live);
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let lib = PresetLibrary::builtin().unwrap();
        let err = lib.get("portrait-4k").unwrap_err().to_string();
        assert!(err.contains("unknown preset `portrait-4k`"), "{err}");
        assert!(err.contains("landscape-1080p"), "{err}");
    }

    #[test]
    fn unknown_field_names_its_line() {
        let text = "name = \"x\"\ncolour = 3\n[video]\nencoder = \"x264\"\ncrf = 20\n[audio]\ncodec = \"aac\"\nbitrate_kbps = 128\n";
        let err = Preset::parse(Path::new("x.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("x.toml: line 2:"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn odd_width_is_rejected() {
        let text = "name = \"x\"\n[video]\nwidth = 1919\nheight = 1080\nencoder = \"x264\"\ncrf = 20\n[audio]\ncodec = \"aac\"\nbitrate_kbps = 128\n";
        let err = Preset::parse(Path::new("x.toml"), text).unwrap_err().to_string();
        assert!(err.contains("video.width: 1919 must be even"), "{err}");
    }

    #[test]
    fn a_failed_check_names_the_line_of_its_field() {
        let webm = BUILTIN.iter().find(|(file, _)| *file == "web-720p-webm.toml").unwrap().1;
        let text: String = webm.lines().filter(|l| !l.starts_with("container")).map(|l| format!("{l}\n")).collect();
        let err = Preset::parse(Path::new("x.toml"), &text).unwrap_err().to_string();
        assert!(err.starts_with("x.toml: line 19: audio.codec: opus is only written to webm"), "{err}");
        let text = "name = \"x\"\n[video]\nencoder = \"x264\"\n[audio]\ncodec = \"aac\"\nbitrate_kbps = 128\n";
        let err = Preset::parse(Path::new("x.toml"), text).unwrap_err().to_string();
        assert_eq!(err, "x.toml: line 2: video: give crf or bitrate_kbps");
    }

    #[test]
    fn webm_needs_vp9_and_opus() {
        let text = "name = \"x\"\ncontainer = \"webm\"\n[video]\nencoder = \"x264\"\ncrf = 20\n[audio]\ncodec = \"aac\"\nbitrate_kbps = 128\n";
        let err = Preset::parse(Path::new("x.toml"), text).unwrap_err().to_string();
        assert!(err.contains("container: webm needs"), "{err}");
    }
}

/// Property tests: any TOML text, and shipped presets with one line broken, either give a
/// checked preset or an error that names the file and a line of it.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    /// Values a broken line may get: wrong types, limits, TOML oddities.
    const VALUES: &[&str] = &[
        "0",
        "-1",
        "1",
        "7681",
        "4294967296",
        "1e400",
        "nan",
        "-inf",
        "0.0",
        "\"\"",
        "\"x264\"",
        "\"vp9\"",
        "\"opus\"",
        "\"webm\"",
        "\"live\"",
        "\"face\"",
        "\"ultrafast\"",
        "[]",
        "[1.0, -2.0]",
        "[nan]",
        "{}",
        "{ text = \"\" }",
        "true",
        "1979-05-27",
        "'''",
        "\"\\u0000\"",
        "",
    ];
    /// Lines a broken preset may gain.
    const LINES: &[&str] = &[
        "[video]",
        "[audio]",
        "[watermark]",
        "[[video]]",
        "[video.extra]",
        "name = \"again\"",
        "width = 1280",
        "height = 721",
        "fps = 0",
        "fps_denominator = 0",
        "crf = 99",
        "bitrate_kbps = 0",
        "opacity = 2",
        "text = \"mark\"",
        "thumbnails = [1e309]",
        "video = 1",
        "a.b.c = 1",
        "=",
        "[",
        "\"",
        "# comment",
        "",
    ];

    #[derive(Debug, Clone)]
    enum Break {
        DropLine(Index),
        RepeatLine(Index),
        SetValue(Index, String),
        AddLine(Index, String),
        Cut(Index),
        SetChar(Index, char),
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![3 => prop::sample::select(VALUES).prop_map(String::from), 1 => "\\PC{0,10}"]
    }

    fn a_break() -> impl Strategy<Value = Break> {
        prop_oneof![
            any::<Index>().prop_map(Break::DropLine),
            any::<Index>().prop_map(Break::RepeatLine),
            (any::<Index>(), value()).prop_map(|(i, v)| Break::SetValue(i, v)),
            (any::<Index>(), prop_oneof![3 => prop::sample::select(LINES).prop_map(String::from), 1 => "\\PC{0,16}"])
                .prop_map(|(i, l)| Break::AddLine(i, l)),
            any::<Index>().prop_map(Break::Cut),
            (any::<Index>(), any::<char>()).prop_map(|(i, c)| Break::SetChar(i, c)),
        ]
    }

    fn apply(text: &str, change: &Break) -> String {
        if text.is_empty() {
            return String::new();
        }
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        match change {
            Break::DropLine(i) => {
                lines.remove(i.index(lines.len()));
            }
            Break::RepeatLine(i) => {
                let line = lines[i.index(lines.len())].clone();
                lines.insert(i.index(lines.len()), line);
            }
            Break::SetValue(i, value) => {
                let at = i.index(lines.len());
                let line = &mut lines[at];
                if let Some((key, _)) = line.split_once('=') {
                    *line = format!("{key}= {value}");
                }
            }
            Break::AddLine(i, line) => lines.insert(i.index(lines.len() + 1), line.clone()),
            Break::Cut(i) => {
                let cut = text.char_indices().map(|(at, _)| at).nth(i.index(text.chars().count())).unwrap_or(0);
                return text[..cut].to_string();
            }
            Break::SetChar(i, c) => {
                let mut chars: Vec<char> = text.chars().collect();
                let at = i.index(chars.len());
                chars[at] = *c;
                return chars.into_iter().collect();
            }
        }
        lines.join("\n")
    }

    /// Parses `text`: a preset that passes its own checks again, or an error naming the file
    /// and a line that exists.
    fn check(text: &str) -> std::result::Result<(), TestCaseError> {
        match Preset::parse(Path::new("x.toml"), text) {
            Ok(preset) => prop_assert!(preset.validate(Path::new("x.toml")).is_ok()),
            Err(EngineError::Invalid { file, field, cause }) => {
                prop_assert_eq!(file, PathBuf::from("x.toml"));
                let line = field
                    .strip_prefix("line ")
                    .and_then(|rest| rest.split(':').next())
                    .and_then(|n| n.parse::<usize>().ok());
                let lines = text.lines().count().max(1);
                prop_assert!(
                    line.is_some_and(|n| (1..=lines).contains(&n)),
                    "field `{}` ({}) of\n{}",
                    field,
                    cause,
                    text
                );
            }
            Err(other) => prop_assert!(false, "not an Invalid error: {other}"),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_text_is_a_preset_or_refused_by_line(text in "\\PC{0,120}") {
            check(&text)?;
        }

        #[test]
        fn broken_shipped_presets_are_checked_or_refused_by_line(
            preset in prop::sample::select(BUILTIN),
            changes in prop::collection::vec(a_break(), 1..3),
        ) {
            let text = changes.iter().fold(preset.1.to_string(), |text, change| apply(&text, change));
            check(&text)?;
        }

    }

    #[test]
    fn shipped_presets_round_trip_through_toml() {
        for (file, text) in BUILTIN {
            let parsed = Preset::parse(Path::new(file), text).unwrap();
            let written = toml::to_string(&parsed).unwrap();
            assert_eq!(Preset::parse(Path::new(file), &written).unwrap(), parsed, "{file}");
        }
    }
}
