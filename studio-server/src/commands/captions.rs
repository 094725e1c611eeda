// SPDX-License-Identifier: MPL-2.0
//! `reenact captions`: subtitles (SRT or WebVTT) from the speech of any media file, written to
//! stdout or to a file (through `FILE.part`, renamed when complete).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use reenact_engine::subtitles::{self, Format};
use reenact_engine::transcribe::write_subtitles;
use reenact_engine::{CancelToken, TranscribeRequest};

use super::progress_bar;

/// Arguments of `reenact captions`.
#[derive(Debug, Args)]
pub(crate) struct CaptionsArgs {
    /// A media file with an audio stream (any container/codec GStreamer decodes).
    media: PathBuf,
    /// Subtitle format (default: from the --out extension, else srt).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// File to write (stdout when absent); written as FILE.part and renamed when complete.
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
    /// Spoken language as a whisper code (en, es, de, fr, ...) or `auto` to detect it. English
    /// uses whisper tiny.en; any other language the multilingual whisper base.
    #[arg(long, default_value = "en")]
    language: String,
    /// Translate the speech (any language whisper knows) into English.
    #[arg(long)]
    translate: bool,
    /// Fail when the transcription makes no progress for this many seconds.
    #[arg(long, default_value_t = 120)]
    stall_timeout: u64,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Srt,
    Vtt,
}

/// Runs `reenact captions`.
pub(crate) fn run(args: CaptionsArgs) -> anyhow::Result<()> {
    let format = match (args.format, &args.out) {
        (Some(FormatArg::Srt), _) => Format::Srt,
        (Some(FormatArg::Vtt), _) => Format::Vtt,
        (None, Some(out)) => Format::from_path(out).unwrap_or(Format::Srt),
        (None, None) => Format::Srt,
    };
    reenact_engine::languages::check_speech_language(&args.language)
        .map_err(|err| anyhow::anyhow!("--language: {err}"))?;
    let mut request = TranscribeRequest::new(&args.media);
    request.language = args.language.clone();
    request.translate = args.translate;
    request.stall_timeout = Duration::from_secs(args.stall_timeout);

    let cancel = CancelToken::new();
    let on_signal = cancel.clone();
    ctrlc::set_handler(move || on_signal.cancel()).context("cannot install the Ctrl-C handler")?;

    let bar = progress_bar(args.quiet);
    let transcript = reenact_engine::transcribe(&request, &cancel, &mut |p| {
        bar.set_position((p.fraction * 1000.0) as u64);
        bar.set_message(format!("{:.1} / {:.1} s", p.position_s, p.duration_s));
    });
    bar.finish_and_clear();
    let transcript = transcript.with_context(|| format!("cannot transcribe {}", args.media.display()))?;
    match &args.out {
        Some(out) => {
            write_subtitles(&transcript.cues, format, out)?;
            println!("{}", out.display());
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(subtitles::write(&transcript.cues, format).as_bytes())
                .context("cannot write to stdout")?;
            stdout.flush().context("cannot write to stdout")?;
        }
    }
    if !args.quiet {
        let heard = if transcript.language.is_empty() { "none" } else { transcript.language.as_str() };
        let detected = if args.language == "auto" { " (detected)" } else { "" };
        let into = if transcript.translated { ", translated into English" } else { "" };
        eprintln!("language: {heard}{detected}{into}");
        eprintln!(
            "{} cues from {:.1} s of media in {:.1} s ({} utterances, whisper real-time factor {:.3})",
            transcript.cues.len(),
            transcript.duration_s,
            transcript.wall_s,
            transcript.utterances,
            transcript.realtime_factor
        );
    }
    Ok(())
}
