// SPDX-License-Identifier: MPL-2.0
//! SubRip (.srt) and WebVTT (.vtt) cues: reading them for burn-in, writing
//! them as sidecars.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{EngineError, Result};

/// One timed caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
}

/// Subtitle file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Srt,
    Vtt,
}

impl Format {
    /// Format from a file extension (`srt` or `vtt`).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "srt" => Some(Format::Srt),
            "vtt" => Some(Format::Vtt),
            _ => None,
        }
    }
}

/// Reads an SRT or WebVTT file (chosen by extension, or by a `WEBVTT` header).
pub fn read(path: &Path) -> Result<Vec<Cue>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EngineError::Unreadable { path: path.to_path_buf(), cause: e.to_string() })?;
    let text = text.trim_start_matches('\u{feff}');
    let format = if text.starts_with("WEBVTT") { Some(Format::Vtt) } else { Format::from_path(path) };
    match format {
        Some(format) => parse(path, text, format),
        None => Err(EngineError::invalid(path, "file", "not a subtitle file: expected .srt or .vtt")),
    }
}

/// Parses subtitle text; `path` only names the file in errors.
pub fn parse(path: &Path, text: &str, format: Format) -> Result<Vec<Cue>> {
    let text = text.replace("\r\n", "\n");
    let mut blocks = text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()).peekable();
    let mut line_no = 1usize;
    if format == Format::Vtt {
        match blocks.next() {
            Some(header) if header.starts_with("WEBVTT") => line_no += header.lines().count() + 1,
            _ => return Err(EngineError::invalid(path, "line 1", "a WebVTT file must start with WEBVTT")),
        }
    }
    let mut cues = Vec::new();
    for block in blocks {
        let lines: Vec<&str> = block.lines().collect();
        let here = line_no;
        line_no += lines.len() + 1;
        if format == Format::Vtt
            && (block.starts_with("NOTE") || block.starts_with("STYLE") || block.starts_with("REGION"))
        {
            continue;
        }
        let Some(timing_at) = lines.iter().position(|l| l.contains("-->")) else {
            return Err(EngineError::invalid(path, format!("line {here}"), "cue has no `start --> end` line"));
        };
        let field = format!("line {}", here + timing_at);
        let (start_s, end_s) = parse_timing(lines[timing_at])
            .ok_or_else(|| EngineError::invalid(path, &field, format!("bad timing `{}`", lines[timing_at])))?;
        if end_s <= start_s {
            return Err(EngineError::invalid(path, field, "cue ends before it starts"));
        }
        let text = lines[timing_at + 1..].join("\n");
        cues.push(Cue { start_s, end_s, text });
    }
    cues.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    Ok(cues)
}

fn parse_timing(line: &str) -> Option<(f64, f64)> {
    let (start, rest) = line.split_once("-->")?;
    let end = rest.split_whitespace().next()?;
    Some((parse_time(start.trim())?, parse_time(end)?))
}

/// `HH:MM:SS,mmm`, `HH:MM:SS.mmm` or `MM:SS.mmm`.
fn parse_time(s: &str) -> Option<f64> {
    let s = s.replace(',', ".");
    let parts: Vec<&str> = s.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, sec] => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?, *sec),
        [m, sec] => (0, m.parse::<u32>().ok()?, *sec),
        _ => return None,
    };
    let sec: f64 = sec.parse().ok()?;
    (m < 60 && (0.0..60.0).contains(&sec)).then_some(h as f64 * 3600.0 + m as f64 * 60.0 + sec)
}

/// The cue showing at `t` seconds, if any.
pub fn cue_at(cues: &[Cue], t: f64) -> Option<&Cue> {
    let idx = cues.partition_point(|c| c.start_s <= t);
    cues[..idx].iter().rev().find(|c| t < c.end_s)
}

/// Writes cues in `format`.
pub fn write(cues: &[Cue], format: Format) -> String {
    let mut out = String::new();
    if format == Format::Vtt {
        out.push_str("WEBVTT\n\n");
    }
    for (i, cue) in cues.iter().enumerate() {
        if format == Format::Srt {
            let _ = writeln!(out, "{}", i + 1);
        }
        let _ = writeln!(out, "{} --> {}", stamp(cue.start_s, format), stamp(cue.end_s, format));
        let _ = writeln!(out, "{}\n", cue.text);
    }
    out
}

fn stamp(t: f64, format: Format) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    let sep = if format == Format::Srt { ',' } else { '.' };
    format!("{:02}:{:02}:{:02}{sep}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_round_trips() {
        let cues = vec![
            Cue { start_s: 0.5, end_s: 1.25, text: "Four score".into() },
            Cue { start_s: 3661.0, end_s: 3662.5, text: "and seven\nyears ago".into() },
        ];
        let text = write(&cues, Format::Srt);
        assert!(text.starts_with("1\n00:00:00,500 --> 00:00:01,250\nFour score\n"), "{text}");
        assert_eq!(parse(Path::new("x.srt"), &text, Format::Srt).unwrap(), cues);
    }

    #[test]
    fn vtt_round_trips_and_skips_notes() {
        let cues = vec![Cue { start_s: 1.0, end_s: 2.0, text: "Hello".into() }];
        let mut text = write(&cues, Format::Vtt);
        text.push_str("NOTE a comment\n\n");
        assert_eq!(parse(Path::new("x.vtt"), &text, Format::Vtt).unwrap(), cues);
    }

    #[test]
    fn bad_timing_names_the_line() {
        let err = parse(
            Path::new("x.srt"),
            "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:99,000 --> 00:01:00,000\nB\n",
            Format::Srt,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "x.srt: line 6: bad timing `00:00:99,000 --> 00:01:00,000`");
    }

    #[test]
    fn cue_lookup() {
        let cues = vec![
            Cue { start_s: 0.0, end_s: 1.0, text: "a".into() },
            Cue { start_s: 2.0, end_s: 3.0, text: "b".into() },
        ];
        assert_eq!(cue_at(&cues, 0.5).map(|c| c.text.as_str()), Some("a"));
        assert_eq!(cue_at(&cues, 1.5), None);
        assert_eq!(cue_at(&cues, 2.0).map(|c| c.text.as_str()), Some("b"));
        assert_eq!(cue_at(&cues, 3.0), None);
    }
}
