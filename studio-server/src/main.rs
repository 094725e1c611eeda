// SPDX-License-Identifier: MPL-2.0
//! `reenact`: render projects to delivery formats, inspect media, run the studio.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Reenact Studio: live and recorded reenactments with disclosure built in.
#[derive(Debug, Parser)]
#[command(name = "reenact", version, about, long_about = None)]
struct Cli {
    /// Log filter (tracing EnvFilter syntax); also read from RUST_LOG.
    #[arg(
        long,
        global = true,
        env = "RUST_LOG",
        default_value = "reenact=info,reenact_server=info,reenact_engine=info,warn"
    )]
    log: String,
    /// A TOML file of settings (keys named after the environment variables, see the README);
    /// also read from REENACT_CONFIG. Flags and the environment win over it.
    #[arg(long, global = true, env = "REENACT_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Log lines as `text` for people or `json` (one object per line) for log collectors.
    #[arg(long, global = true, env = "REENACT_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render a project (or one media file) to one or more delivery presets in one pass.
    Render(commands::render::RenderArgs),
    /// List the available presets.
    Presets(commands::presets::PresetsArgs),
    /// Describe a media file's streams (as JSON with --json).
    Probe(commands::probe::ProbeArgs),
    /// Run the studio server.
    Serve(commands::serve::ServeArgs),
    /// Go live: a camera, test pattern or looping file through the element chain, previewed
    /// in the browser over WebRTC, optionally pushed to RTMP/SRT, recorded or sent to a virtual camera.
    Live(commands::live::LiveArgs),
    /// Run background jobs against a shared database and storage.
    Worker(commands::worker::WorkerArgs),
    /// List and verify the installed models.
    Models(commands::models::ModelsArgs),
    /// Speak a script in a character's voice (Piper, then the voice conversion) to a WAV file.
    Voice(commands::voice::VoiceArgs),
    /// Create a character from a portrait and a voice sample, or describe one.
    Character(commands::character::CharacterArgs),
    /// Write subtitles (SRT or WebVTT) from the speech of a media file (Silero VAD + whisper).
    Captions(commands::captions::CaptionsArgs),
    /// Subtitle tracks: add them, one per language, to a finished MP4 or WebM.
    Subtitles(commands::subtitles::SubtitlesArgs),
    /// Check a file's Content Credentials: signature, binding to the content, ingredients;
    /// prints who made it, when, with which characters and models.
    Verify(commands::verify::VerifyArgs),
}

fn main() -> ExitCode {
    // The file only fills in variables the environment does not set; clap then reads them.
    let args: Vec<String> = std::env::args().collect();
    if let Some(file) = reenact_server::config::file_from(&args) {
        match reenact_server::config::read(&file) {
            Ok(settings) => {
                for (var, value) in settings {
                    if std::env::var_os(var).is_none() {
                        std::env::set_var(var, value);
                    }
                }
            }
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr);
    if cli.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    let result = match cli.command {
        Command::Render(args) => commands::render::run(args),
        Command::Presets(args) => commands::presets::run(args),
        Command::Probe(args) => commands::probe::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Live(args) => commands::live::run(args),
        Command::Worker(args) => commands::worker::run(args),
        Command::Models(args) => commands::models::run(args),
        Command::Voice(args) => commands::voice::run(args),
        Command::Character(args) => commands::character::run(args),
        Command::Captions(args) => commands::captions::run(args),
        Command::Subtitles(args) => commands::subtitles::run(args),
        Command::Verify(args) => commands::verify::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
