// SPDX-License-Identifier: MPL-2.0
//! A render's outputs with the project's subtitle tracks: every language as a soft track
//! inside each MP4/WebM (language-tagged) and as `PRESET.LANG.srt` / `.vtt` sidecars.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reenact_engine::subtitle_mux::{mux_subtitles, SoftTrack};
use reenact_engine::subtitle_track::{self, TrackCue};
use reenact_engine::subtitles::{Cue, Format};
use reenact_engine::RenderReport;
use sqlx::AnyPool;

/// Longest a remux may take.
const MUX_TIMEOUT: Duration = Duration::from_secs(600);

/// The `lang` track as the render's captions, to be burned in.
pub(super) async fn burn_in(
    db: &AnyPool,
    owner: &str,
    project_id: &str,
    lang: &str,
) -> Result<reenact_engine::render::TimelineTranscript, String> {
    let row = crate::db::subtitles::get(db, owner, project_id, lang)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("burn_in_subtitles: the project has no `{lang}` track any more"))?;
    let cues: Vec<TrackCue> = serde_json::from_str(&row.cues).map_err(|e| format!("subtitle track {lang}: {e}"))?;
    Ok(reenact_engine::render::TimelineTranscript {
        cues: cues.iter().map(|c| Cue { start_s: c.start, end_s: c.end, text: c.text.clone() }).collect(),
        models: Vec::new(),
    })
}

/// Adds the project's tracks to every output of `report`; the languages added.
pub(super) fn add_tracks(
    db: &AnyPool,
    runtime: &tokio::runtime::Handle,
    owner: &str,
    project_id: &str,
    report: &mut RenderReport,
) -> Result<Vec<String>, String> {
    let rows = runtime.block_on(crate::db::subtitles::list(db, owner, project_id)).map_err(|e| e.to_string())?;
    let mut tracks = Vec::new();
    for row in rows {
        let cues: Vec<TrackCue> =
            serde_json::from_str(&row.cues).map_err(|e| format!("subtitle track {}: {e}", row.lang))?;
        if !cues.is_empty() {
            tracks.push((row.lang, cues));
        }
    }
    if tracks.is_empty() {
        return Ok(Vec::new());
    }
    let soft: Vec<SoftTrack> = tracks
        .iter()
        .map(|(lang, cues)| SoftTrack {
            lang: lang.clone(),
            cues: cues.iter().map(|c| Cue { start_s: c.start, end_s: c.end, text: c.text.clone() }).collect(),
        })
        .collect();
    for out in &mut report.outputs {
        let muxed = with_suffix(&out.file, "subs");
        mux_subtitles(&out.file, &muxed, &soft, MUX_TIMEOUT).map_err(|e| format!("soft subtitles: {e}"))?;
        std::fs::rename(&muxed, &out.file).map_err(|e| format!("soft subtitles: {e}"))?;
        for (lang, cues) in &tracks {
            for (format, ext) in [(Format::Srt, "srt"), (Format::Vtt, "vtt")] {
                let file = with_suffix(&out.file, &format!("{lang}.{ext}"));
                std::fs::write(&file, subtitle_track::export(cues, format))
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                out.sidecars.push(file);
            }
        }
    }
    Ok(tracks.into_iter().map(|(lang, _)| lang).collect())
}

/// `dir/name.mp4` -> `dir/name.SUFFIX.mp4`-like names: the suffix before the extension for
/// the remux (same container), in place of it for sidecars (`name.es.srt`).
fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("output");
    if suffix.contains('.') {
        file.with_file_name(format!("{stem}.{suffix}"))
    } else {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("mp4");
        file.with_file_name(format!("{stem}.{suffix}.{ext}"))
    }
}
