// SPDX-License-Identifier: MPL-2.0
//! `reenact subtitles mux`: soft subtitle tracks, one per language, added to a finished MP4
//! or WebM without re-encoding (players list them by language).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use reenact_engine::subtitle_mux::{mux_subtitles, SoftTrack};
use reenact_engine::{languages, subtitles};

/// Arguments of `reenact subtitles`.
#[derive(Debug, Args)]
pub(crate) struct SubtitlesArgs {
    #[command(subcommand)]
    command: SubtitlesCommand,
}

#[derive(Debug, Subcommand)]
enum SubtitlesCommand {
    /// Add subtitle tracks (SRT or WebVTT files, one per language) to an MP4 or WebM.
    Mux(MuxArgs),
}

#[derive(Debug, Args)]
struct MuxArgs {
    /// The finished video (.mp4 or .webm).
    media: PathBuf,
    /// A track as LANG=FILE (BCP 47 tag, SRT or WebVTT file); may be repeated.
    #[arg(long = "track", required = true)]
    tracks: Vec<String>,
    /// The file to write, in the input's container (written as OUT.part, then renamed).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// Fail when the remux takes longer than this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// Runs `reenact subtitles`.
pub(crate) fn run(args: SubtitlesArgs) -> anyhow::Result<()> {
    match args.command {
        SubtitlesCommand::Mux(args) => mux(args),
    }
}

fn mux(args: MuxArgs) -> anyhow::Result<()> {
    let mut tracks = Vec::new();
    for spec in &args.tracks {
        let (lang, file) = spec
            .split_once('=')
            .with_context(|| format!("--track `{spec}`: expected LANG=FILE, e.g. es=talk.es.srt"))?;
        let lang = languages::canonical_tag(lang).map_err(|err| anyhow::anyhow!("--track `{spec}`: {err}"))?;
        if tracks.iter().any(|t: &SoftTrack| t.lang == lang) {
            anyhow::bail!("--track `{spec}`: a second `{lang}` track");
        }
        let cues = subtitles::read(std::path::Path::new(file))?;
        tracks.push(SoftTrack { lang, cues });
    }
    mux_subtitles(&args.media, &args.out, &tracks, Duration::from_secs(args.timeout.max(1)))
        .with_context(|| format!("cannot add subtitles to {}", args.media.display()))?;
    let langs: Vec<&str> = tracks.iter().map(|t| t.lang.as_str()).collect();
    println!("{}", args.out.display());
    eprintln!("subtitle tracks: {}", langs.join(", "));
    Ok(())
}
