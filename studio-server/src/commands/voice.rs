// SPDX-License-Identifier: MPL-2.0
//! `reenact voice clone`: a script spoken by the Piper voice and converted towards a
//! character's voice, written as a WAV file, with how close it came.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use reenact_engine::{CancelToken, VoiceCloneRequest};

use super::progress_bar;

/// Arguments of `reenact voice`.
#[derive(Debug, Args)]
pub(crate) struct VoiceArgs {
    #[command(subcommand)]
    command: VoiceCommand,
}

#[derive(Debug, Subcommand)]
enum VoiceCommand {
    /// Speak a script in a character's voice: Piper text to speech, then the reenactvoice
    /// conversion towards the character's voice profile, to a WAV file.
    Clone(CloneArgs),
}

#[derive(Debug, Args)]
struct CloneArgs {
    /// Character file with a voice profile (see `reenact character create --voice-sample`).
    #[arg(long)]
    character: PathBuf,
    /// The words to say.
    #[arg(long, required_unless_present = "script", conflicts_with = "script")]
    text: Option<String>,
    /// A text file with the words to say; sentences end at . ! ? or a blank line.
    #[arg(long)]
    script: Option<PathBuf>,
    /// WAV file to write (replaced if it exists).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// Semitones added to the shift towards the character's pitch.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pitch_semitones: f64,
    /// Ratio multiplied with the formant shift towards the character (0.5..2).
    #[arg(long, default_value_t = 1.0)]
    formant_shift: f64,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Runs `reenact voice clone`.
pub(crate) fn run(args: VoiceArgs) -> anyhow::Result<()> {
    match args.command {
        VoiceCommand::Clone(args) => clone(args),
    }
}

fn clone(args: CloneArgs) -> anyhow::Result<()> {
    let text = match (&args.text, &args.script) {
        (Some(text), _) => text.clone(),
        (None, Some(script)) => {
            std::fs::read_to_string(script).with_context(|| format!("cannot read the script {}", script.display()))?
        }
        (None, None) => anyhow::bail!("give the words with --text or --script"),
    };
    // Expired rights (the face's or the voice's own) refuse the clone before any synthesis.
    let character = gstreenact::character::Character::load(&args.character)?;
    reenact_server::credentials::check_character(
        &character.name,
        &character,
        &reenact_server::credentials::today(),
        None,
    )
    .map_err(anyhow::Error::msg)?;
    let mut request = VoiceCloneRequest::new(text, &args.character, &args.out);
    request.pitch_semitones = args.pitch_semitones;
    request.formant_shift = args.formant_shift;

    let cancel = CancelToken::new();
    let on_signal = cancel.clone();
    ctrlc::set_handler(move || on_signal.cancel()).context("cannot install the Ctrl-C handler")?;

    let bar = progress_bar(args.quiet);
    let report = reenact_engine::voice_clone(&request, &cancel, &mut |p| {
        bar.set_position((p.fraction * 1000.0) as u64);
        bar.set_message(p.stage.as_str());
    });
    bar.finish_and_clear();
    let report = report?;
    let (identity, note) = reenact_server::credentials::command_identity()?;
    let author = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    reenact_server::credentials::sign_voice_clone(&identity, &report, &args.character, &author)?;
    if let Some(note) = note.filter(|_| !args.quiet) {
        eprintln!("{note}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("{}", report.file.display());
    eprintln!(
        "{:.1} s at {} Hz as {} in {:.1} s (synthesis RTF {:.3}); {}",
        report.duration_s, report.sample_rate, report.character, report.wall_s, report.synthesis_rtf, report.algorithm
    );
    let hz = |f: Option<f32>| f.map_or_else(|| "-".to_owned(), |f| format!("{f:.0} Hz"));
    eprintln!(
        "median F0: Piper {} -> converted {} (character {:.0} Hz; shift {:+.1} semitones, formants x{:.2})",
        hz(report.f0.raw_hz),
        hz(report.f0.converted_hz),
        report.f0.character_hz,
        report.pitch_semitones,
        report.formant_shift
    );
    match (report.similarity_raw, report.similarity) {
        (Some(raw), Some(converted)) => {
            eprintln!("speaker similarity to the character: Piper {raw:.3} -> converted {converted:.3}")
        }
        _ => eprintln!(
            "speaker similarity: not measured (needs the speaker-embedding model and a character made with it)"
        ),
    }
    Ok(())
}
