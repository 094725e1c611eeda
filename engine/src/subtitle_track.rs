// SPDX-License-Identifier: MPL-2.0
//! Subtitle tracks as a project keeps them: one per language, a list of cues (start, end,
//! text, optional speaker) in seconds on the project's timeline. The checks here are the
//! ones every writer of a track goes through (the API, the editor, a translation), and
//! their errors name the field (`cues[3].start`).

use serde::{Deserialize, Serialize};

use crate::subtitles::{self, Cue, Format};
use crate::transcribe::{wrap, LINE_CHARS};

/// Cues one track may hold (about ten hours of dense dialogue).
pub const MAX_CUES: usize = 10_000;
/// Characters of one cue's text.
pub const MAX_TEXT_CHARS: usize = 500;
/// Characters of a speaker's name.
pub const MAX_SPEAKER_CHARS: usize = 100;
/// Reading speed above which the editor warns, characters per second (a common broadcast
/// guideline for adult viewers is 15 to 17; 17 warns only where most people fall behind).
pub const MAX_READING_CPS: f64 = 17.0;
/// Time differences up to this are rounding, not an overlap.
const EPSILON_S: f64 = 1e-3;

/// One cue of a track, as the API carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackCue {
    /// Seconds on the project's timeline.
    pub start: f64,
    pub end: f64,
    /// The words shown; lines separated by `\n`.
    pub text: String,
    /// Who speaks, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

/// Why a track is refused: the field (`cues[2].end`) and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {cause}")]
pub struct TrackError {
    pub field: String,
    pub cause: String,
}

fn refuse(field: String, cause: String) -> TrackError {
    TrackError { field, cause }
}

/// Checks a track: times are finite, ordered, inside `[0, end_s]` and do not overlap; text is
/// present and printable; at most [`MAX_CUES`] cues.
pub fn check(cues: &[TrackCue], end_s: f64) -> Result<(), TrackError> {
    if cues.len() > MAX_CUES {
        return Err(refuse("cues".into(), format!("{} cues, at most {MAX_CUES}", cues.len())));
    }
    for (i, cue) in cues.iter().enumerate() {
        let at = |name: &str| format!("cues[{i}].{name}");
        if !(cue.start.is_finite() && cue.start >= 0.0) {
            return Err(refuse(at("start"), format!("{} must be a number of seconds, 0 or more", cue.start)));
        }
        if !(cue.end.is_finite() && cue.end > cue.start) {
            return Err(refuse(at("end"), format!("{} must be after start ({})", cue.end, cue.start)));
        }
        if cue.end > end_s + EPSILON_S {
            return Err(refuse(at("end"), format!("{} is past the end of the project ({end_s:.3} s)", cue.end)));
        }
        if i > 0 && cue.start < cues[i - 1].end - EPSILON_S {
            let before = &cues[i - 1];
            let cause = if cue.start < before.start {
                format!("{} is before cues[{}] starts ({}): cues must be in time order", cue.start, i - 1, before.start)
            } else {
                format!("{} overlaps cues[{}], which ends at {}", cue.start, i - 1, before.end)
            };
            return Err(refuse(at("start"), cause));
        }
        check_text(&cue.text, &at("text"), MAX_TEXT_CHARS, true)?;
        if let Some(speaker) = &cue.speaker {
            check_text(speaker, &at("speaker"), MAX_SPEAKER_CHARS, false)?;
        }
    }
    Ok(())
}

fn check_text(text: &str, field: &str, max: usize, lines: bool) -> Result<(), TrackError> {
    if text.trim().is_empty() {
        return Err(refuse(field.into(), "must not be empty".into()));
    }
    let count = text.chars().count();
    if count > max {
        return Err(refuse(field.into(), format!("{count} characters, at most {max}")));
    }
    if text.chars().any(|c| c.is_control() && !(lines && c == '\n')) {
        let allowed = if lines { " (line breaks are \\n)" } else { "" };
        return Err(refuse(field.into(), format!("control characters are not allowed{allowed}")));
    }
    Ok(())
}

/// Characters per second a viewer must read for `cue` (line breaks not counted).
pub fn reading_speed(cue: &TrackCue) -> f64 {
    let chars = cue.text.chars().filter(|c| *c != '\n').count() as f64;
    chars / (cue.end - cue.start).max(EPSILON_S)
}

/// Wraps `text` into lines of at most `line_chars` (a longer word keeps a line of its own).
pub fn rewrap(text: &str, line_chars: usize) -> String {
    wrap(text, line_chars.max(1)).join("\n")
}

/// A translated track: every cue of `source` with the same timing and speaker, its text
/// (lines joined) given to `translate`, all cues in one call (a translator may do them
/// together, as Apertium does), and each answer wrapped to `line_chars`. An error, or an
/// answer that is empty or of another length, refuses the track, naming the cues or the cue.
pub fn translate_cues<E: std::fmt::Display>(
    source: &[TrackCue],
    line_chars: usize,
    translate: impl FnOnce(&[&str]) -> Result<Vec<String>, E>,
) -> Result<Vec<TrackCue>, TrackError> {
    let texts: Vec<String> =
        source.iter().map(|cue| cue.text.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let asked: Vec<&str> = texts.iter().map(String::as_str).collect();
    let translated = translate(&asked).map_err(|e| refuse("cues".into(), e.to_string()))?;
    if translated.len() != source.len() {
        let cause = format!("{} translations came back for {} cues", translated.len(), source.len());
        return Err(refuse("cues".into(), cause));
    }
    source
        .iter()
        .zip(translated)
        .enumerate()
        .map(|(i, (cue, translated))| {
            if translated.trim().is_empty() {
                return Err(refuse(format!("cues[{i}].text"), "the translation came back empty".into()));
            }
            Ok(TrackCue { text: rewrap(&translated, line_chars), ..cue.clone() })
        })
        .collect()
}

/// The default line length of a translated track.
pub const fn default_line_chars() -> usize {
    LINE_CHARS
}

/// The track as an SRT or WebVTT document. WebVTT names the speaker in a voice span
/// (`<v Name>`), which players show or style; SRT has no such field and shows text only.
pub fn export(cues: &[TrackCue], format: Format) -> String {
    let plain: Vec<Cue> = cues
        .iter()
        .map(|cue| {
            let text = match (&cue.speaker, format) {
                (Some(speaker), Format::Vtt) => {
                    let name: String = speaker.chars().filter(|c| !matches!(c, '<' | '>' | '&')).collect();
                    format!("<v {name}>{}", escape_vtt(&cue.text))
                }
                (None, Format::Vtt) => escape_vtt(&cue.text),
                (_, Format::Srt) => cue.text.clone(),
            };
            Cue { start_s: cue.start, end_s: cue.end, text }
        })
        .collect();
    subtitles::write(&plain, format)
}

/// WebVTT cue text is markup: `<` and `&` written as text must be escaped, and a line of
/// `-->` would end the cue.
fn escape_vtt(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Cues read from an SRT or WebVTT file, as a track (no speakers).
pub fn from_cues(cues: &[Cue]) -> Vec<TrackCue> {
    cues.iter().map(|c| TrackCue { start: c.start_s, end: c.end_s, text: c.text.clone(), speaker: None }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start: f64, end: f64, text: &str) -> TrackCue {
        TrackCue { start, end, text: text.into(), speaker: None }
    }

    #[test]
    fn a_good_track_passes() {
        let cues = [cue(0.0, 1.0, "Hello"), cue(1.0, 2.5, "World\nagain")];
        assert_eq!(check(&cues, 3.0), Ok(()));
        assert_eq!(check(&[], 0.0), Ok(()));
    }

    #[test]
    fn bad_tracks_name_the_field() {
        let err = check(&[cue(0.0, 2.0, "a"), cue(1.5, 3.0, "b")], 10.0).unwrap_err();
        assert_eq!(err.field, "cues[1].start");
        assert!(err.cause.contains("overlaps cues[0]"), "{err}");
        let err = check(&[cue(2.0, 3.0, "a"), cue(0.5, 1.0, "b")], 10.0).unwrap_err();
        assert!(err.cause.contains("time order"), "{err}");
        let err = check(&[cue(0.0, 12.0, "a")], 10.0).unwrap_err();
        assert_eq!(err.field, "cues[0].end");
        assert!(err.cause.contains("past the end of the project"), "{err}");
        assert_eq!(check(&[cue(-1.0, 1.0, "a")], 10.0).unwrap_err().field, "cues[0].start");
        assert_eq!(check(&[cue(1.0, 1.0, "a")], 10.0).unwrap_err().field, "cues[0].end");
        assert_eq!(check(&[cue(f64::NAN, 1.0, "a")], 10.0).unwrap_err().field, "cues[0].start");
        assert_eq!(check(&[cue(0.0, 1.0, "  ")], 10.0).unwrap_err().field, "cues[0].text");
        assert_eq!(check(&[cue(0.0, 1.0, "a\u{7}")], 10.0).unwrap_err().field, "cues[0].text");
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(check(&[cue(0.0, 1.0, &long)], 10.0).unwrap_err().field, "cues[0].text");
        let named = TrackCue { speaker: Some(String::new()), ..cue(0.0, 1.0, "a") };
        assert_eq!(check(&[named], 10.0).unwrap_err().field, "cues[0].speaker");
    }

    #[test]
    fn translation_keeps_timing_and_rewraps() {
        let source = [TrackCue { speaker: Some("Ada".into()), ..cue(1.0, 2.0, "one\ntwo") }, cue(3.0, 4.0, "three")];
        let mut seen = Vec::new();
        let out = translate_cues(&source, 10, |texts: &[&str]| {
            seen.extend(texts.iter().map(|t| (*t).to_owned()));
            Ok::<_, String>(texts.iter().map(|text| format!("{text} {text} {text}")).collect())
        })
        .unwrap();
        assert_eq!(seen, ["one two", "three"]);
        assert_eq!(out[0].text, "one two\none two\none two");
        assert_eq!((out[0].start, out[0].end, out[0].speaker.as_deref()), (1.0, 2.0, Some("Ada")));
        assert_eq!(out[1].text, "three\nthree\nthree");
        let err = translate_cues(&source, 10, |_: &[&str]| Err::<Vec<String>, _>("no model")).unwrap_err();
        assert_eq!(err.field, "cues");
        let err = translate_cues(&source, 10, |texts: &[&str]| Ok::<_, String>(vec![String::new(); texts.len()]))
            .unwrap_err();
        assert_eq!(err.field, "cues[0].text");
        let err = translate_cues(&source, 10, |_: &[&str]| Ok::<_, String>(vec!["uno".into()])).unwrap_err();
        assert!(err.field == "cues" && err.to_string().contains("1 translations came back for 2 cues"), "{err}");
    }

    #[test]
    fn export_round_trips_and_names_speakers_in_vtt() {
        let cues = [TrackCue { speaker: Some("Ada".into()), ..cue(1.0, 2.5, "a < b") }, cue(3.0, 4.0, "two\nlines")];
        let vtt = export(&cues, Format::Vtt);
        assert!(vtt.contains("<v Ada>a &lt; b"), "{vtt}");
        let srt = export(&cues, Format::Srt);
        let back = subtitles::parse(std::path::Path::new("x.srt"), &srt, Format::Srt).unwrap();
        assert_eq!(from_cues(&back), [cue(1.0, 2.5, "a < b"), cue(3.0, 4.0, "two\nlines")]);
        assert!((reading_speed(&cues[1]) - 8.0).abs() < 1e-9);
    }
}
