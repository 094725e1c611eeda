// SPDX-License-Identifier: MPL-2.0
//! `reenact character create|show`: analyse a portrait and a voice sample into a character
//! file, and describe one.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand};
use gstreenact::character::{self, Character, CreateOptions, FaceMode, Rights, RightsBasis, VoiceModel, FILE_SUFFIX};
use reenact_models::{Catalog, NotAVoice};
use serde_json::json;

/// Arguments of `reenact character`.
#[derive(Debug, Args)]
pub(crate) struct CharacterArgs {
    #[command(subcommand)]
    command: CharacterCommand,
}

// Parsed once per process; boxing the large variant would only complicate clap's flatten.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum CharacterCommand {
    /// Analyse a portrait (one frontal face) and a voice sample into a character file.
    Create {
        /// Picture with exactly one frontal face (PNG, JPEG or any format GStreamer decodes).
        #[arg(long)]
        portrait: PathBuf,
        /// Speech of the character's voice, one second or more (WAV, MP3, or any audio or video file).
        #[arg(long)]
        voice_sample: Option<PathBuf>,
        /// A neural voice the character speaks with: the catalog name of a voice-conversion
        /// model (an RVC v2 voice imported with `reenact models import FILE --as voice`).
        #[arg(long)]
        voice_model: Option<String>,
        /// Which speaker of a multi-speaker RVC voice the character is.
        #[arg(long, default_value_t = 0, requires = "voice_model")]
        speaker_id: u32,
        /// How the face plays: `swap` puts it on the performer's face; `animate` shows the
        /// whole portrait moving as the performer's face moves (LivePortrait's modules,
        /// imported with `reenact models import FILE --as portrait-animation`).
        #[arg(long, value_enum, default_value_t = FaceArg::Swap)]
        face: FaceArg,
        /// Display name; defaults to the portrait's file name.
        #[arg(long)]
        name: Option<String>,
        /// Character file to write; defaults to NAME.character.json in the current folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rights: RightsArgs,
        #[command(flatten)]
        voice_rights: VoiceRightsArgs,
    },
    /// Describe a character file: portrait, mouth, skin colour and voice profile.
    Show {
        /// The character file.
        file: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The right to use the face and voice; a character cannot be made without a basis.
#[derive(Debug, clap::Args)]
struct RightsArgs {
    /// On what right the likeness is used: public-domain, consent, licensed or own-likeness.
    #[arg(long, required = true, value_parser = parse_basis)]
    rights_basis: RightsBasis,
    /// Who granted it (the person, their estate, the licensor).
    #[arg(long)]
    granted_by: Option<String>,
    /// When it was granted, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    granted_at: Option<String>,
    /// The release, contract or archive reference.
    #[arg(long)]
    rights_reference: Option<String>,
    /// The signed release (any file): its SHA-256 is recorded.
    #[arg(long)]
    release_document: Option<PathBuf>,
    /// For non-commercial work only: commercial renders refuse the character.
    #[arg(long)]
    non_commercial: bool,
    /// Last day the likeness may be used, YYYY-MM-DD: later renders refuse the character.
    #[arg(long, value_parser = parse_date)]
    rights_expires: Option<String>,
}

/// The right to use the voice sample when it is not the face's (an actor's voice on a
/// historical portrait). Without `--voice-rights-basis` the face's record covers the voice.
#[derive(Debug, clap::Args)]
struct VoiceRightsArgs {
    /// On what right the voice is used: public-domain, consent, licensed or own-likeness.
    #[arg(long, value_parser = parse_basis, requires = "voice_sample")]
    voice_rights_basis: Option<RightsBasis>,
    /// Who granted the voice's right.
    #[arg(long, requires = "voice_rights_basis")]
    voice_granted_by: Option<String>,
    /// When the voice's right was granted, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date, requires = "voice_rights_basis")]
    voice_granted_at: Option<String>,
    /// The voice's release, contract or archive reference.
    #[arg(long, requires = "voice_rights_basis")]
    voice_rights_reference: Option<String>,
    /// The voice's signed release (any file): its SHA-256 is recorded.
    #[arg(long, requires = "voice_rights_basis")]
    voice_release_document: Option<PathBuf>,
    /// The voice is for non-commercial work only.
    #[arg(long, requires = "voice_rights_basis")]
    voice_non_commercial: bool,
    /// Last day the voice may be used, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date, requires = "voice_rights_basis")]
    voice_rights_expires: Option<String>,
}

impl VoiceRightsArgs {
    /// The voice's own record, when one was given.
    fn record(self) -> anyhow::Result<Option<Rights>> {
        let Some(basis) = self.voice_rights_basis else { return Ok(None) };
        RightsArgs {
            rights_basis: basis,
            granted_by: self.voice_granted_by,
            granted_at: self.voice_granted_at,
            rights_reference: self.voice_rights_reference,
            release_document: self.voice_release_document,
            non_commercial: self.voice_non_commercial,
            rights_expires: self.voice_rights_expires,
        }
        .record()
        .map(Some)
    }
}

fn parse_basis(text: &str) -> Result<RightsBasis, String> {
    RightsBasis::parse(text).ok_or_else(|| format!("expected one of {}", RightsBasis::NAMES))
}

fn parse_date(text: &str) -> Result<String, String> {
    if character::is_date(text) {
        Ok(text.to_owned())
    } else {
        Err("expected a date YYYY-MM-DD".into())
    }
}

impl RightsArgs {
    fn record(self) -> anyhow::Result<Rights> {
        let document_sha256 = match &self.release_document {
            Some(file) => Some(
                reenact_models::sha256_file(file)
                    .map_err(|e| anyhow::anyhow!("--release-document {}: {e}", file.display()))?,
            ),
            None => None,
        };
        Ok(Rights {
            basis: self.rights_basis,
            granted_by: self.granted_by,
            granted_at: self.granted_at,
            reference: self.rights_reference,
            document_sha256,
            non_commercial: self.non_commercial,
            expires: self.rights_expires,
        })
    }
}

/// `--face`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FaceArg {
    Swap,
    Animate,
}

/// Runs `reenact character create` or `reenact character show`.
pub(crate) fn run(args: CharacterArgs) -> anyhow::Result<()> {
    match args.command {
        CharacterCommand::Create {
            portrait,
            voice_sample,
            voice_model,
            speaker_id,
            face,
            name,
            out,
            force,
            json,
            rights,
            voice_rights,
        } => {
            let rights = rights.record()?;
            let voice_rights = voice_rights.record()?;
            let name = name.unwrap_or_else(|| default_name(&portrait));
            let out = out.unwrap_or_else(|| PathBuf::from(format!("{}{FILE_SUFFIX}", file_stem(&name))));
            if out.exists() && !force {
                bail!("{}: already exists (pass --force to replace it)", out.display());
            }
            let catalog = Catalog::load()?;
            let voice_model = voice_model.map(|name| check_voice_model(&catalog, name, speaker_id)).transpose()?;
            let face = match face {
                FaceArg::Swap => FaceMode::Swap,
                FaceArg::Animate => check_animation_models(&catalog)?,
            };
            eprintln!("analysing {} ...", portrait.display());
            let mut created = character::create(&CreateOptions { name, portrait, voice_sample }, &catalog)?;
            created.rights = Some(rights);
            created.voice_model = voice_model;
            created.face = face;
            if let Some(voice) = &mut created.voice {
                voice.rights = voice_rights;
            }
            created.save(&out)?;
            print_summary(&created, &out, json);
            Ok(())
        }
        CharacterCommand::Show { file, json } => {
            let loaded = Character::load(&file)?;
            print_summary(&loaded, &file, json);
            Ok(())
        }
    }
}

/// `--voice-model NAME` as the character records it, once the catalog has it as a voice.
fn check_voice_model(catalog: &Catalog, name: String, speaker_id: u32) -> anyhow::Result<VoiceModel> {
    match catalog.voice(&name) {
        Ok(entry) => {
            entry.check_speaker(speaker_id).map_err(|cause| anyhow::anyhow!("--speaker-id: {cause}"))?;
            Ok(VoiceModel { name, speaker_id })
        }
        Err(NotAVoice::Task(task)) => {
            bail!("--voice-model: `{name}` is a {task} model, not a voice (voice_conversion)")
        }
        Err(NotAVoice::Unknown) => {
            let searched: Vec<String> = catalog.searched_dirs().iter().map(|d| d.display().to_string()).collect();
            bail!(
                "--voice-model: no model `{name}` in the catalog (searched {}); import one with `reenact models import FILE --as voice`",
                searched.join(", ")
            )
        }
    }
}

/// `--face animate` once the catalog has LivePortrait's modules.
fn check_animation_models(catalog: &Catalog) -> anyhow::Result<FaceMode> {
    let (_, missing) = catalog.portrait_animation();
    if !missing.is_empty() {
        let searched: Vec<String> = catalog.searched_dirs().iter().map(|d| d.display().to_string()).collect();
        bail!(
            "--face animate: the model catalog (searched {}) lacks LivePortrait's {}; import each with \
             `reenact models import FILE --as portrait-animation --license TEXT`",
            searched.join(", "),
            missing.join(", ")
        );
    }
    Ok(FaceMode::Animate)
}

/// The portrait's file stem, which is usually the person's name.
fn default_name(portrait: &Path) -> String {
    portrait.file_stem().map(|s| s.to_string_lossy().replace(['_', '-'], " ")).unwrap_or_else(|| "character".into())
}

/// A file-name-safe form of `name`: lower case, runs of other characters as one `-`.
fn file_stem(name: &str) -> String {
    let mut stem = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if c.is_alphanumeric() {
            stem.extend(c.to_lowercase());
        } else if !stem.ends_with('-') {
            stem.push('-');
        }
    }
    let stem = stem.trim_matches('-');
    if stem.is_empty() {
        "character".into()
    } else {
        stem.into()
    }
}

fn print_summary(c: &Character, file: &Path, as_json: bool) {
    let p = &c.portrait;
    let voice = c.voice.as_ref();
    if as_json {
        let summary = json!({
            "file": file,
            "name": c.name,
            "format": c.format,
            "portrait": {
                "width": p.width,
                "height": p.height,
                "landmarks": p.landmarks.len(),
                "skin_lab_mean": p.skin.mean,
                "skin_lab_std": p.skin.std,
                "mouth": p.mouth,
            },
            "voice": voice.map(|v| json!({
                "median_f0_hz": v.median_f0_hz,
                "f0_range_hz": v.f0_range_hz,
                "formants_hz": v.formants_hz,
                "voiced_seconds": v.voiced_seconds,
                "embedding": v.embedding.as_ref().map(|e| json!({
                    "model": e.model, "version": e.version, "dimensions": e.vector.len(),
                })),
            })),
            "rights": c.rights,
            "voice_model": c.voice_model,
            "face": c.face.to_string(),
        });
        println!("{summary:#}");
        return;
    }
    println!("character  {}", c.name);
    println!("file       {}", file.display());
    match &c.rights {
        Some(r) => println!(
            "rights     {}{}{}{}",
            r.basis,
            r.granted_by.as_ref().map(|g| format!(", granted by {g}")).unwrap_or_default(),
            if r.non_commercial { ", non-commercial only" } else { "" },
            r.expires.as_ref().map(|e| format!(", until {e}")).unwrap_or_default()
        ),
        None => println!("rights     not recorded"),
    }
    println!("portrait   {}x{} px, {} landmarks", p.width, p.height, p.landmarks.len());
    println!(
        "skin       L*a*b* mean {:.1} {:.1} {:.1}, std {:.1} {:.1} {:.1}",
        p.skin.mean[0], p.skin.mean[1], p.skin.mean[2], p.skin.std[0], p.skin.std[1], p.skin.std[2]
    );
    println!(
        "mouth      centre ({:.0}, {:.0}), width {:.1} px, opening {:.1} px",
        p.mouth.centre[0], p.mouth.centre[1], p.mouth.width, p.mouth.opening
    );
    if c.face == FaceMode::Animate {
        println!("face       the portrait, animated by the performer's face (LivePortrait)");
    }
    if let Some(m) = &c.voice_model {
        println!("speaks     with {} (speaker {})", m.name, m.speaker_id);
    }
    match voice {
        None if c.voice_model.is_some() => println!("voice      no profile (the neural voice speaks)"),
        None => println!("voice      none (create with --voice-sample to convert speech)"),
        Some(v) => {
            println!(
                "voice      median F0 {:.1} Hz (range {:.0}..{:.0} Hz), formants {:.0} / {:.0} / {:.0} Hz, {:.1} s voiced",
                v.median_f0_hz,
                v.f0_range_hz[0],
                v.f0_range_hz[1],
                v.formants_hz[0],
                v.formants_hz[1],
                v.formants_hz[2],
                v.voiced_seconds
            );
            match &v.embedding {
                Some(e) => println!("embedding  {} {} ({} dimensions)", e.model, e.version, e.vector.len()),
                None => println!("embedding  none (speaker model not installed when created)"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("Abraham Lincoln"), "abraham-lincoln");
        assert_eq!(file_stem("  ../etc/passwd "), "etc-passwd");
        assert_eq!(file_stem("Ada  Lovelace!"), "ada-lovelace");
        assert_eq!(file_stem("???"), "character");
    }
}
