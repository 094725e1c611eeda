// SPDX-License-Identifier: MPL-2.0
//! `reenact character create`: find the one face of a portrait, crop around it, measure its
//! landmarks, skin and mouth; measure pitch, formants and (when the model is installed) the
//! speaker embedding of a voice sample.

use std::path::{Path, PathBuf};

use reenact_models::Catalog;

use super::colour::{srgb_to_lab, LabAccumulator};
use super::mesh::{self, INNER_LIP_MIDS, LIPS_OUTER, MOUTH_CORNERS};
use super::{
    base64_encode, decode_audio_mono, decode_image, encode_png, Character, CharacterError, FaceMode, MouthRegion,
    Portrait, RgbaImage, SpeakerEmbedding, FORMAT_VERSION,
};
use crate::analysis::{self, speaker};
use crate::facemeta::Face;

/// The crop keeps this many face-box sizes around the face centre (room for hair and chin).
const CROP_SCALE: f32 = 1.8;

/// The stored portrait is at most this many pixels on its longer side.
const MAX_SIDE: u32 = 512;

/// Smallest face accepted, pixels across the landmark box.
const MIN_FACE_PX: f32 = 64.0;

/// A face turned further than this (nose offset from the eye midpoint, in eye distances)
/// is not frontal.
const MAX_TURN: f32 = 0.35;

/// What to make a character from.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Display name.
    pub name: String,
    /// Picture with exactly one frontal face.
    pub portrait: PathBuf,
    /// Speech of the voice, any length from one second.
    pub voice_sample: Option<PathBuf>,
}

/// Analyses the inputs into a character. `catalog` provides the face models (required) and
/// the speaker embedding model (used when present and intact).
pub fn create(options: &CreateOptions, catalog: &Catalog) -> Result<Character, CharacterError> {
    if options.name.trim().is_empty() {
        return Err(CharacterError::Input {
            path: options.portrait.clone(),
            message: "the character name is empty".into(),
        });
    }
    let portrait = analyse_portrait(&options.portrait, catalog)?;
    let voice = match &options.voice_sample {
        Some(path) => Some(analyse_voice(path, catalog)?),
        None => None,
    };
    Ok(Character {
        format: FORMAT_VERSION,
        name: options.name.trim().to_owned(),
        portrait,
        voice,
        rights: None,
        voice_model: None,
        face: FaceMode::Swap,
    })
}

fn input_err(path: &Path, message: impl Into<String>) -> CharacterError {
    CharacterError::Input { path: path.to_owned(), message: message.into() }
}

fn analyse_portrait(path: &Path, catalog: &Catalog) -> Result<Portrait, CharacterError> {
    let picture = decode_image(path)?;
    let faces = crate::facetrack::faces_in_picture(catalog, &picture)
        .map_err(|err| input_err(path, format!("face models: {err}")))?;
    let face = match faces.as_slice() {
        [] => return Err(input_err(path, "no face found; a portrait needs one frontal face")),
        [face] => face,
        many => {
            return Err(input_err(path, format!("{} faces found; a portrait needs exactly one", many.len())));
        }
    };
    check_face(path, face)?;
    let (crop, landmarks) = crop_face(&picture, face);
    let skin =
        skin_stats(&crop, &landmarks).ok_or_else(|| input_err(path, "no skin pixels inside the face outline"))?;
    let mouth = mouth_region(&landmarks);
    let png = encode_png(&crop).map_err(|err| input_err(path, format!("cannot encode the portrait: {err}")))?;
    Ok(Portrait { width: crop.width, height: crop.height, png: base64_encode(&png), landmarks, skin, mouth })
}

fn check_face(path: &Path, face: &Face) -> Result<(), CharacterError> {
    if face.bbox.w.min(face.bbox.h) < MIN_FACE_PX {
        return Err(input_err(
            path,
            format!("the face is {:.0}x{:.0} pixels; at least {MIN_FACE_PX} is needed", face.bbox.w, face.bbox.h),
        ));
    }
    let [eye_l, eye_r, nose, ..] = face.keypoints;
    let eyes = (eye_r.0 - eye_l.0).hypot(eye_r.1 - eye_l.1).max(1.0);
    let turn = (nose.0 - (eye_l.0 + eye_r.0) / 2.0).abs() / eyes;
    if turn > MAX_TURN {
        return Err(input_err(path, format!("the face is turned ({turn:.2} eye distances); use a frontal portrait")));
    }
    Ok(())
}

/// Crops a square around the face (clamped to the picture), shrinks it to [`MAX_SIDE`], and
/// moves the landmarks with it.
fn crop_face(picture: &RgbaImage, face: &Face) -> (RgbaImage, Vec<[f32; 3]>) {
    let (cx, cy) = face.bbox.centre();
    let half = face.bbox.w.max(face.bbox.h) * CROP_SCALE / 2.0;
    let x0 = (cx - half).max(0.0).floor() as u32;
    let y0 = (cy - half).max(0.0).floor() as u32;
    let x1 = ((cx + half).ceil() as u32).min(picture.width);
    let y1 = ((cy + half).ceil() as u32).min(picture.height);
    let (cw, ch) = (x1 - x0, y1 - y0);
    let scale = (MAX_SIDE as f32 / cw.max(ch) as f32).min(1.0);
    let (w, h) = (((cw as f32 * scale).round() as u32).max(1), ((ch as f32 * scale).round() as u32).max(1));
    let mut data = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            // Box average of the source pixels this output pixel covers.
            let sx0 = x0 + (x as f32 / scale) as u32;
            let sy0 = y0 + (y as f32 / scale) as u32;
            let sx1 = (x0 + ((x + 1) as f32 / scale) as u32).clamp(sx0 + 1, x1);
            let sy1 = (y0 + ((y + 1) as f32 / scale) as u32).clamp(sy0 + 1, y1);
            let mut sum = [0u32; 4];
            for sy in sy0..sy1 {
                for sx in sx0..sx1 {
                    let i = ((sy * picture.width + sx) * 4) as usize;
                    for (total, &v) in sum.iter_mut().zip(&picture.data[i..i + 4]) {
                        *total += u32::from(v);
                    }
                }
            }
            let n = (sy1 - sy0) * (sx1 - sx0);
            data.extend(sum.map(|s| ((s + n / 2) / n) as u8));
        }
    }
    let landmarks =
        face.landmarks.iter().map(|p| [(p[0] - x0 as f32) * scale, (p[1] - y0 as f32) * scale, p[2] * scale]).collect();
    (RgbaImage { width: w, height: h, data }, landmarks)
}

/// Lab statistics of the face outline minus eyes, brows and lips.
fn skin_stats(image: &RgbaImage, landmarks: &[[f32; 3]]) -> Option<super::ColourStats> {
    let mut region = mesh::SkinRegion::new(landmarks);
    let mut acc = LabAccumulator::default();
    for y in 0..image.height {
        region.start_row(y as f32 + 0.5);
        for x in 0..image.width {
            if !region.contains(x as f32 + 0.5) {
                continue;
            }
            let i = ((y * image.width + x) * 4) as usize;
            acc.push(srgb_to_lab([image.data[i], image.data[i + 1], image.data[i + 2]]));
        }
    }
    (acc.count() >= 16).then(|| acc.stats()).flatten()
}

fn mouth_region(landmarks: &[[f32; 3]]) -> MouthRegion {
    let [a, b] = MOUTH_CORNERS.map(|i| landmarks[i]);
    let lips = mesh::polygon(landmarks, &LIPS_OUTER);
    let bbox = crate::facemeta::FaceBox::around(lips).unwrap_or_default();
    MouthRegion {
        centre: [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0],
        width: mesh::distance(landmarks, MOUTH_CORNERS[0], MOUTH_CORNERS[1]),
        opening: mesh::distance(landmarks, INNER_LIP_MIDS[0], INNER_LIP_MIDS[1]),
        bbox: [bbox.x, bbox.y, bbox.w, bbox.h],
    }
}

fn analyse_voice(path: &Path, catalog: &Catalog) -> Result<super::VoiceProfile, CharacterError> {
    let samples = decode_audio_mono(path, speaker::RATE)?;
    let mut profile = analysis::voice_profile(&samples, speaker::RATE)
        .ok_or_else(|| input_err(path, "less than half a second of voiced speech; record a longer sample"))?;
    // The embedding is optional: a missing model leaves it out, a broken one is an error.
    if catalog.entry(speaker::MODEL).is_some() {
        let mut encoder = speaker::SpeakerEncoder::open(catalog)
            .map_err(|err| input_err(path, format!("speaker embedding: {err}")))?;
        let vector = encoder.embed(&samples).map_err(|err| input_err(path, format!("speaker embedding: {err}")))?;
        let (model, version) = encoder.model();
        profile.embedding = Some(SpeakerEmbedding { model: model.to_owned(), version: version.to_owned(), vector });
    }
    Ok(profile)
}
