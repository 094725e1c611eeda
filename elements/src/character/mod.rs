// SPDX-License-Identifier: MPL-2.0
//! Characters: who the performer becomes. A character file (JSON, `*.character.json`) holds a
//! portrait (PNG, embedded so the file travels alone between a laptop and the server), the
//! portrait's 468 face-mesh landmarks with its skin colour and mouth measurements, and a voice
//! profile. `reenact character create` writes it ([`create`]); `reenactfaceswap`,
//! `reenactlipsync` and `reenactvoice` read it through their `character` property.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::facemeta::LANDMARK_COUNT;

pub mod colour;
mod create;
pub mod mesh;
mod rights;
mod still;

pub use create::{create, CreateOptions};
pub use rights::{is_date, Rights, RightsBasis};
pub use still::{decode_audio_mono, decode_image};

/// Version of the file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Conventional file name suffix.
pub const FILE_SUFFIX: &str = ".character.json";

/// A character file, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Character {
    /// File format version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// Display name.
    pub name: String,
    /// The face.
    pub portrait: Portrait,
    /// The voice; `None` for a character that only lends its face.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<VoiceProfile>,
    /// The right to use this face and voice. `reenact character create` and the server
    /// refuse to make a character without one; files made before rights were recorded
    /// have none, and their credentials say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<Rights>,
    /// A neural voice this character speaks with (an imported RVC v2 voice, or a model of the
    /// converter's own signature): `reenactvoice` runs it when its `model` property is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_model: Option<VoiceModel>,
    /// How the face plays: swapped onto the performer's (the default) or the whole portrait
    /// animated by the performer's face.
    #[serde(default, skip_serializing_if = "FaceMode::is_swap")]
    pub face: FaceMode,
}

/// How a character's face is put on the picture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaceMode {
    /// The performer's face becomes the character's (`reenactfaceswap`).
    #[default]
    Swap,
    /// The character's portrait replaces the picture and moves as the performer's face moves
    /// (`reenactanimate`, LivePortrait's modules).
    Animate,
}

impl FaceMode {
    /// Whether this is the default, the swap.
    pub fn is_swap(&self) -> bool {
        *self == Self::Swap
    }
}

impl fmt::Display for FaceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Swap => "swap",
            Self::Animate => "animate",
        })
    }
}

/// A catalog voice and which of its speakers the character is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceModel {
    /// Catalog name of the voice-conversion model.
    pub name: String,
    /// The speaker id (`sid`) of a multi-speaker RVC voice; 0 for the others.
    #[serde(default)]
    pub speaker_id: u32,
}

/// The character's face: an RGBA picture cropped around the face, and what was measured on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Portrait {
    /// Width of the picture in pixels.
    pub width: u32,
    /// Height of the picture in pixels.
    pub height: u32,
    /// The picture: 8-bit RGBA PNG, base64 (standard alphabet).
    pub png: String,
    /// The 468 face-mesh landmarks in picture pixels (x, y, relative depth z).
    pub landmarks: Vec<[f32; 3]>,
    /// Skin colour in CIE L*a*b* (D65) over the face without eyes, brows and lips.
    pub skin: ColourStats,
    /// The mouth at rest.
    pub mouth: MouthRegion,
}

/// Mean and standard deviation of each L*a*b* channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColourStats {
    /// Mean L*, a*, b*.
    pub mean: [f32; 3],
    /// Standard deviation of L*, a*, b*.
    pub std: [f32; 3],
}

/// The mouth of the portrait, in picture pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MouthRegion {
    /// Midpoint of the two corners.
    pub centre: [f32; 2],
    /// Corner-to-corner distance.
    pub width: f32,
    /// Distance between the inner lips (0 when closed).
    pub opening: f32,
    /// Box around the outer lips: x, y, w, h.
    pub bbox: [f32; 4],
}

/// The character's voice, measured on a sample of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceProfile {
    /// Median fundamental frequency of the voiced frames, Hz.
    pub median_f0_hz: f32,
    /// 10th and 90th percentiles of F0, Hz: the voice's usual range.
    pub f0_range_hz: [f32; 2],
    /// First three formant frequencies (median over voiced frames), Hz.
    pub formants_hz: [f32; 3],
    /// Seconds of voiced speech the figures come from.
    pub voiced_seconds: f32,
    /// Speaker embedding, when the embedding model was available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<SpeakerEmbedding>,
    /// The right to use this voice, when it is not the face's: a voice sample recorded
    /// apart from the portrait (an actor's voice on a historical face) has its own basis,
    /// restriction and expiry, checked before a render or show uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<Rights>,
}

/// A speaker embedding and the model that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeakerEmbedding {
    /// Catalog name of the model.
    pub model: String,
    /// Its manifest version.
    pub version: String,
    /// The L2-normalised vector.
    pub vector: Vec<f32>,
}

/// An 8-bit RGBA picture, rows packed.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub data: Vec<u8>,
}

impl fmt::Debug for RgbaImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RgbaImage({}x{})", self.width, self.height)
    }
}

/// Why a character could not be read, made or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum CharacterError {
    /// The file could not be read or written.
    #[error("character file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The JSON is malformed or has a wrong field; `field` is its path.
    #[error("character file {path}: field `{field}`: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Path of the offending field (`.` for the whole document).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The JSON is well formed but its content cannot be used.
    #[error("character file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An input of `reenact character create` cannot be used.
    #[error("{path}: {message}")]
    Input {
        /// The portrait or voice sample.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Character {
    /// Reads and validates a character file.
    pub fn load(path: &Path) -> Result<Self, CharacterError> {
        let text = fs::read_to_string(path).map_err(|source| CharacterError::Io { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// Parses and validates character JSON; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, CharacterError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let character: Self = serde_path_to_error::deserialize(de).map_err(|err| {
            let field = err.path().to_string();
            CharacterError::Syntax { path: path.to_owned(), field, message: err.into_inner().to_string() }
        })?;
        character.validate().map_err(|message| CharacterError::Invalid { path: path.to_owned(), message })?;
        Ok(character)
    }

    /// Writes the file as `<path>.part`, then renames it, so a reader never sees half a file.
    pub fn save(&self, path: &Path) -> Result<(), CharacterError> {
        let io_err = |source| CharacterError::Io { path: path.to_owned(), source };
        let json = serde_json::to_vec_pretty(self).map_err(|err| io_err(io::Error::other(err)))?;
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = PathBuf::from(part);
        fs::write(&part, json).map_err(io_err)?;
        fs::rename(&part, path).map_err(|err| {
            let _ = fs::remove_file(&part);
            io_err(err)
        })
    }

    /// Decodes the embedded portrait picture.
    pub fn portrait_image(&self) -> Result<RgbaImage, String> {
        let png = base64::engine::general_purpose::STANDARD
            .decode(&self.portrait.png)
            .map_err(|err| format!("field `portrait.png` is not base64: {err}"))?;
        let image = decode_png(&png).map_err(|err| format!("field `portrait.png` is not a usable PNG: {err}"))?;
        if (image.width, image.height) != (self.portrait.width, self.portrait.height) {
            return Err(format!(
                "the portrait picture is {}x{}, fields `portrait.width`/`portrait.height` say {}x{}",
                image.width, image.height, self.portrait.width, self.portrait.height
            ));
        }
        Ok(image)
    }

    fn validate(&self) -> Result<(), String> {
        if self.format != FORMAT_VERSION {
            return Err(format!("field `format` is {}, this build reads format {FORMAT_VERSION}", self.format));
        }
        if self.name.trim().is_empty() {
            return Err("field `name` is empty".into());
        }
        if let Some(rights) = &self.rights {
            rights.validate()?;
        }
        let p = &self.portrait;
        if p.width == 0 || p.height == 0 {
            return Err("fields `portrait.width`/`portrait.height` must be positive".into());
        }
        if p.landmarks.len() != LANDMARK_COUNT {
            return Err(format!(
                "field `portrait.landmarks` has {} points, expected {LANDMARK_COUNT}",
                p.landmarks.len()
            ));
        }
        let (w, h) = (p.width as f32, p.height as f32);
        if let Some(i) = p.landmarks.iter().position(|l| {
            !l.iter().all(|v| v.is_finite()) || l[0] < -w || l[0] > 2.0 * w || l[1] < -h || l[1] > 2.0 * h
        }) {
            return Err(format!(
                "field `portrait.landmarks[{i}]` lies far outside the {w}x{h} picture or is not finite"
            ));
        }
        let finite = |v: &[f32]| v.iter().all(|v| v.is_finite());
        if !finite(&p.skin.mean) || !finite(&p.skin.std) || p.skin.std.iter().any(|&s| s < 0.0) {
            return Err("field `portrait.skin` holds non-finite or negative values".into());
        }
        if !finite(&p.mouth.centre)
            || !finite(&p.mouth.bbox)
            || p.mouth.width.is_nan()
            || p.mouth.width <= 0.0
            || p.mouth.opening.is_nan()
            || p.mouth.opening < 0.0
        {
            return Err("field `portrait.mouth` holds non-finite or non-positive values".into());
        }
        if let Some(voice) = &self.voice {
            voice.validate()?;
        }
        self.portrait_image().map(drop)
    }
}

impl Character {
    /// Whether the face and, when it has its own record, the voice may be used on `today`
    /// (`YYYY-MM-DD`) in work that is `commercial`; the error says why, and says "its
    /// voice's rights" when the voice's own record is the one that refuses.
    pub fn allows(&self, today: &str, commercial: bool) -> Result<(), String> {
        if let Some(rights) = &self.rights {
            rights.allows(today, commercial)?;
        }
        if let Some(rights) = self.voice.as_ref().and_then(|v| v.rights.as_ref()) {
            rights.allows(today, commercial).map_err(|why| why.replacen("its rights", "its voice's rights", 1))?;
        }
        Ok(())
    }

    /// Catalog names of the models the character brings with it, beside those of the
    /// elements that play it: the speaker model its voice was measured with, whose output
    /// (the embedding) steers the voice converter, so its licence covers the voice heard, and
    /// the neural voice it speaks with.
    pub fn own_models(&self) -> Vec<&str> {
        let embedding = self.voice.iter().filter_map(|v| v.embedding.as_ref()).map(|e| e.model.as_str());
        embedding.chain(self.voice_model.iter().map(|m| m.name.as_str())).collect()
    }

    /// Whether the character has a voice of its own: a profile to shift towards, or a neural voice.
    pub fn speaks(&self) -> bool {
        self.voice.is_some() || self.voice_model.is_some()
    }
}

impl VoiceProfile {
    /// Lowest and highest F0 a profile may claim, Hz.
    pub const F0_LIMITS: (f32, f32) = (40.0, 1000.0);

    fn validate(&self) -> Result<(), String> {
        let (lo, hi) = Self::F0_LIMITS;
        if !(lo..=hi).contains(&self.median_f0_hz) {
            return Err(format!("field `voice.median_f0_hz` is {}, expected {lo}..{hi} Hz", self.median_f0_hz));
        }
        if !self.f0_range_hz.iter().all(|f| (lo..=hi).contains(f)) || self.f0_range_hz[0] > self.f0_range_hz[1] {
            return Err(format!(
                "field `voice.f0_range_hz` is {:?}, expected an ordered pair in {lo}..{hi} Hz",
                self.f0_range_hz
            ));
        }
        if !self.formants_hz.iter().all(|f| (100.0..=8000.0).contains(f)) {
            return Err(format!("field `voice.formants_hz` is {:?}, expected 100..8000 Hz", self.formants_hz));
        }
        if let Some(embedding) = &self.embedding {
            if embedding.vector.is_empty() || !embedding.vector.iter().all(|v| v.is_finite()) {
                return Err("field `voice.embedding.vector` is empty or not finite".into());
            }
        }
        if let Some(rights) = &self.rights {
            rights.validate().map_err(|e| e.replace("`rights.", "`voice.rights."))?;
        }
        Ok(())
    }

    /// The pitch shift, in semitones, that moves F0 `from_hz` to this profile's median.
    pub fn semitones_from(&self, from_hz: f32) -> f32 {
        12.0 * (self.median_f0_hz / from_hz).log2()
    }
}

/// Encodes an RGBA picture as PNG.
pub fn encode_png(image: &RgbaImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|err| err.to_string())?;
    writer.write_image_data(&image.data).map_err(|err| err.to_string())?;
    writer.finish().map_err(|err| err.to_string())?;
    Ok(out)
}

/// Decodes an 8-bit PNG (grey, grey+alpha, RGB or RGBA) to RGBA.
pub fn decode_png(data: &[u8]) -> Result<RgbaImage, String> {
    let mut decoder = png::Decoder::new(io::Cursor::new(data));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|err| err.to_string())?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("the picture is too large")?];
    let info = reader.next_frame(&mut buf).map_err(|err| err.to_string())?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.line_size / w.max(1);
    let mut data = Vec::with_capacity(w * h * 4);
    for row in buf.chunks(info.line_size).take(h) {
        for px in row[..w * channels].chunks(channels) {
            match channels {
                1 => data.extend_from_slice(&[px[0], px[0], px[0], 255]),
                2 => data.extend_from_slice(&[px[0], px[0], px[0], px[1]]),
                3 => data.extend_from_slice(&[px[0], px[1], px[2], 255]),
                _ => data.extend_from_slice(&px[..4]),
            }
        }
    }
    Ok(RgbaImage { width: info.width, height: info.height, data })
}

/// Base64 of `data` (standard alphabet), as stored in [`Portrait::png`].
pub fn base64_encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}
