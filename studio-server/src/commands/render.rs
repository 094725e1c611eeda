// SPDX-License-Identifier: MPL-2.0
//! `reenact render`: one decode, every delivery format.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use reenact_engine::preset::{Background, CaptionMode, CropPolicy, Position, Watermark};
use reenact_engine::project::Scene;
use reenact_engine::{CancelToken, PresetLibrary, Project, RenderRequest};

use super::progress_bar;

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// A project JSON file, or a single media file (rendered whole).
    input: PathBuf,
    /// Preset(s) to render; repeat or separate with commas (see `reenact presets`).
    #[arg(long = "preset", short = 'p', required = true, value_delimiter = ',')]
    presets: Vec<String>,
    /// Output directory (created if missing).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// SRT or WebVTT file to burn in (or write as sidecar, see --captions).
    #[arg(long)]
    subtitles: Option<PathBuf>,
    /// Make the captions from the timeline's speech (whisper, as `reenact captions` does)
    /// and burn them in or write them as sidecars like --subtitles.
    #[arg(long, conflicts_with = "subtitles")]
    auto_captions: bool,
    /// Spoken language for --auto-captions (whisper code, or `auto` to detect it).
    #[arg(long, default_value = "en", requires = "auto_captions")]
    language: String,
    /// What to do with --subtitles or --auto-captions (default: the preset's setting,
    /// burn-in if it has none).
    #[arg(long, value_enum)]
    captions: Option<CaptionsArg>,
    /// Watermark text drawn on every output.
    #[arg(long, conflicts_with = "watermark_image")]
    watermark_text: Option<String>,
    /// Watermark image (PNG/JPEG) drawn on every output.
    #[arg(long)]
    watermark_image: Option<PathBuf>,
    /// Watermark corner.
    #[arg(long, value_enum, default_value = "top-right")]
    watermark_position: PositionArg,
    /// Watermark opacity, 0..1.
    #[arg(long, default_value_t = 0.6)]
    watermark_opacity: f64,
    /// Background of every output: `blur`, `blur:STRENGTH` (pixels), `#RRGGBB` or an image
    /// file (PNG/JPEG); the person is kept by selfie segmentation.
    #[arg(long, value_parser = Background::parse)]
    background: Option<Background>,
    /// How every output of another aspect is cut from the picture: `center`, `face` (follows
    /// the main face with a smoothed camera) or `fit` (black bars); default: each preset's.
    #[arg(long, value_enum)]
    crop: Option<CropArg>,
    /// Character file played over the whole timeline (replaces the project's scenes); see `reenact character create`.
    #[arg(long)]
    character: Option<PathBuf>,
    /// The work is commercial: characters whose rights are non-commercial and models not
    /// cleared for commercial use (manifest `commercial_use = true`) are refused.
    #[arg(long)]
    commercial: bool,
    /// Fail when the render makes no progress for this many seconds.
    #[arg(long, default_value_t = 60)]
    stall_timeout: u64,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CaptionsArg {
    BurnIn,
    Sidecar,
    Off,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CropArg {
    Center,
    Face,
    Fit,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PositionArg {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
    Center,
}

pub(crate) fn run(args: RenderArgs) -> anyhow::Result<()> {
    let library = PresetLibrary::load()?;
    let presets = args.presets.iter().map(|name| library.get(name.trim()).cloned()).collect::<Result<Vec<_>, _>>()?;
    let mut project = load_project(&args.input)?;
    if let Some(file) = &args.character {
        cast_whole_timeline(&mut project, file);
    }
    let base = args.input.parent().unwrap_or(Path::new("."));
    let cast = project.characters.iter().map(|(name, file)| (name.clone(), base.join(file))).collect();
    reenact_server::credentials::check_cast(&cast, args.commercial).map_err(anyhow::Error::msg)?;
    let mut request = RenderRequest::new(project, args.input.clone(), presets, args.out.clone());
    request.subtitles = args.subtitles.clone();
    request.captions = args.captions.map(|c| match c {
        CaptionsArg::BurnIn => CaptionMode::BurnIn,
        CaptionsArg::Sidecar => CaptionMode::Sidecar,
        CaptionsArg::Off => CaptionMode::Off,
    });
    request.watermark = watermark(&args);
    request.background = args.background.clone();
    request.crop = args.crop.map(|c| match c {
        CropArg::Center => CropPolicy::Center,
        CropArg::Face => CropPolicy::Face,
        CropArg::Fit => CropPolicy::Fit,
    });
    request.stall_timeout = Duration::from_secs(args.stall_timeout.max(1));

    let cancel = CancelToken::new();
    let on_signal = cancel.clone();
    ctrlc::set_handler(move || on_signal.cancel()).context("cannot install the Ctrl-C handler")?;

    if args.auto_captions {
        reenact_engine::languages::check_speech_language(&args.language)
            .map_err(|err| anyhow::anyhow!("--language: {err}"))?;
        let bar = progress_bar(args.quiet);
        let transcript =
            reenact_engine::transcribe_timeline(&request.project, &args.input, &args.language, &cancel, &mut |p| {
                bar.set_position((p.fraction * 1000.0) as u64);
                bar.set_message(format!("transcribing {:.1}/{:.1} s", p.position_s, p.duration_s));
            });
        bar.finish_and_clear();
        let transcript = transcript?;
        if !args.quiet {
            eprintln!("captions: {} cue(s) from the speech", transcript.cues.len());
        }
        request.transcript = Some(transcript);
    }

    let bar = progress_bar(args.quiet);
    let report = reenact_engine::render(&request, &cancel, &mut |p| {
        bar.set_position((p.fraction * 1000.0) as u64);
        let eta = p.eta_s.map(|s| format!("{s:.0} s")).unwrap_or_else(|| "-".into());
        bar.set_message(format!("{:.1}/{:.1} s  {:.2}x  ETA {eta}", p.position_s, p.duration_s, p.speed));
    });
    bar.finish_and_clear();
    let report = report?;
    if let Err(why) = check_models(&report, args.commercial) {
        // Nothing a commercial render may not use is left behind.
        for out in &report.outputs {
            for file in std::iter::once(&out.file).chain(&out.thumbnails).chain(&out.sidecars) {
                let _ = std::fs::remove_file(file);
            }
            let _ = std::fs::remove_file(&out.metadata_file);
        }
        anyhow::bail!("refused: {why}");
    }
    let signing = std::time::Instant::now();
    let (identity, note) = reenact_server::credentials::command_identity()?;
    let signed = reenact_server::credentials::sign_render_outputs(&identity, &report.outputs)?;
    let signing_s = signing.elapsed().as_secs_f64();
    if args.json {
        let files: Vec<_> = report.outputs.iter().map(|o| &o.metadata).collect();
        println!("{}", serde_json::to_string_pretty(&files)?);
    } else {
        for out in &report.outputs {
            println!("{:<18} {}", out.preset, out.file.display());
        }
        eprintln!(
            "rendered {:.1} s of media to {} preset(s) in {:.1} s",
            report.duration_s,
            report.outputs.len(),
            report.wall_s
        );
    }
    if !args.quiet {
        eprintln!("signed Content Credentials on {} file(s) in {signing_s:.2} s", signed.len());
        if let Some(note) = note {
            eprintln!("{note}");
        }
    }
    Ok(())
}

/// The models the render ran, against their manifests' commercial clearance.
fn check_models(report: &reenact_engine::RenderReport, commercial: bool) -> Result<(), String> {
    if !commercial {
        return Ok(());
    }
    let catalog = reenact_models::Catalog::load().map_err(|e| e.to_string())?;
    let names = report.outputs.iter().flat_map(|o| o.metadata.models.iter().map(|m| m.name.as_str()));
    reenact_server::credentials::check_models(names, &catalog, true)
}

/// A `.json` input is a project; anything else is a media file.
fn load_project(input: &Path) -> anyhow::Result<Project> {
    let is_json = input.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        Ok(Project::load(input)?)
    } else {
        Ok(Project::from_media(input))
    }
}

/// Gives the whole timeline to the character in `file`.
fn cast_whole_timeline(project: &mut Project, file: &Path) {
    let name = "character".to_owned();
    // Longer than any timeline; the engine stops at the end of the media.
    project.scenes = vec![Scene { start: 0.0, end: 1e9, character: name.clone(), voice_over: false, dub: None }];
    project.characters = [(name, std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()))].into();
}

fn watermark(args: &RenderArgs) -> Option<Watermark> {
    if args.watermark_text.is_none() && args.watermark_image.is_none() {
        return None;
    }
    Some(Watermark {
        text: args.watermark_text.clone(),
        image: args.watermark_image.clone(),
        position: match args.watermark_position {
            PositionArg::TopLeft => Position::TopLeft,
            PositionArg::TopRight => Position::TopRight,
            PositionArg::BottomLeft => Position::BottomLeft,
            PositionArg::BottomRight => Position::BottomRight,
            PositionArg::Center => Position::Center,
        },
        opacity: args.watermark_opacity,
    })
}
