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
    let mut blocks = blocks(text).into_iter();
    if format == Format::Vtt {
        match blocks.next() {
            Some(header) if header[0].1.trim_start().starts_with("WEBVTT") => {}
            _ => return Err(EngineError::invalid(path, "line 1", "a WebVTT file must start with WEBVTT")),
        }
    }
    let mut cues = Vec::new();
    for block in blocks {
        let (first_no, first) = block[0];
        if format == Format::Vtt && ["NOTE", "STYLE", "REGION"].iter().any(|k| first.trim_start().starts_with(k)) {
            continue;
        }
        let Some(timing_at) = block.iter().position(|(_, line)| line.contains("-->")) else {
            return Err(EngineError::invalid(path, format!("line {first_no}"), "cue has no `start --> end` line"));
        };
        let (line_no, timing) = block[timing_at];
        let field = format!("line {line_no}");
        let (start_s, end_s) = parse_timing(timing)
            .ok_or_else(|| EngineError::invalid(path, &field, format!("bad timing `{}`", timing.trim())))?;
        if end_s <= start_s {
            return Err(EngineError::invalid(path, field, "cue ends before it starts"));
        }
        let text: Vec<&str> = block[timing_at + 1..].iter().map(|(_, line)| *line).collect();
        cues.push(Cue { start_s, end_s, text: text.join("\n").trim().to_string() });
    }
    cues.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    Ok(cues)
}

/// The runs of non-blank lines, each line with its number (from 1): counted on the text as
/// it is, so an error names the line an editor shows however many blank lines came before.
fn blocks(text: &str) -> Vec<Vec<(usize, &str)>> {
    let mut blocks = Vec::new();
    let mut block = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
        } else {
            block.push((i + 1, line));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
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

/// Property tests: any text is read or refused with a line number; written cues read back
/// with their times to the millisecond.
#[cfg(test)]
mod properties {
    use std::path::PathBuf;

    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    /// Pieces that subtitle files are made of, so random text often looks like one.
    const PIECES: &[&str] = &[
        "WEBVTT",
        "NOTE",
        "STYLE",
        "1",
        "2",
        "-->",
        " --> ",
        "00:00:01,000",
        "00:00:02.500",
        "99:59:59,999",
        "00:61:00,000",
        "00:00:60.000",
        ":",
        ",",
        ".",
        "nan",
        "inf",
        "-1",
        "\u{feff}",
        "\r",
        "\n",
        "\n\n",
        "\r\n",
        " ",
        "Hello",
    ];

    fn subtitle_like() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![3 => prop::sample::select(PIECES).prop_map(String::from), 1 => "\\PC{0,6}"],
            0..40,
        )
        .prop_map(|pieces| pieces.concat())
    }

    /// Cue text: up to three lines without `-->` (which SRT and WebVTT forbid), not blank and
    /// without spaces at either end (readers drop those).
    fn cue_text() -> impl Strategy<Value = String> {
        prop::collection::vec("[A-Za-z0-9]([A-Za-z0-9 ,.!?'\u{e9}\u{4e16}-]{0,20}[A-Za-z0-9.!?])?", 0..3)
            .prop_map(|lines| lines.join("\n"))
    }

    /// Cues in start order, starts and lengths in whole milliseconds, up to 100 hours.
    fn cues() -> impl Strategy<Value = Vec<(u64, u64, String)>> {
        prop::collection::vec((0..360_000_000u64, 1..60_000u64, cue_text()), 0..8).prop_map(|mut cues| {
            cues.sort_by_key(|c| c.0);
            cues
        })
    }

    fn format() -> impl Strategy<Value = Format> {
        prop_oneof![Just(Format::Srt), Just(Format::Vtt)]
    }

    /// Reads `text`; an error must name the file and a line that exists.
    fn check(text: &str, format: Format) -> std::result::Result<Vec<Cue>, TestCaseError> {
        match parse(Path::new("x.sub"), text, format) {
            Ok(cues) => {
                for cue in &cues {
                    prop_assert!(cue.start_s.is_finite() && cue.start_s >= 0.0 && cue.end_s > cue.start_s, "{cue:?}");
                }
                Ok(cues)
            }
            Err(EngineError::Invalid { file, field, .. }) => {
                prop_assert_eq!(file, PathBuf::from("x.sub"));
                let line: usize = field.strip_prefix("line ").and_then(|n| n.parse().ok()).unwrap_or(0);
                prop_assert!(line >= 1 && line <= text.lines().count().max(1), "field `{}`", field);
                Ok(Vec::new())
            }
            Err(other) => Err(TestCaseError::fail(format!("not an Invalid error: {other}"))),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_text_is_read_or_refused_by_line(text in "\\PC{0,200}", format in format()) {
            check(&text, format)?;
        }

        #[test]
        fn subtitle_like_text_is_read_or_refused_by_line(text in subtitle_like(), format in format()) {
            check(&text, format)?;
        }

        #[test]
        fn written_cues_read_back_to_the_millisecond(cues in cues(), format in format()) {
            let written: Vec<Cue> = cues
                .iter()
                .map(|(start, length, text)| Cue {
                    start_s: *start as f64 / 1000.0,
                    end_s: (start + length) as f64 / 1000.0,
                    text: text.clone(),
                })
                .collect();
            let read = parse(Path::new("x.sub"), &write(&written, format), format).unwrap();
            prop_assert_eq!(read.len(), cues.len());
            for (cue, (start, length, text)) in read.iter().zip(&cues) {
                prop_assert_eq!((cue.start_s * 1000.0).round() as u64, *start);
                prop_assert_eq!((cue.end_s * 1000.0).round() as u64, start + length);
                prop_assert_eq!(&cue.text, text);
            }
        }

        #[test]
        fn a_bad_timing_is_named_by_its_own_line(
            cues in cues().prop_filter("at least one cue", |c| !c.is_empty()),
            gaps in prop::collection::vec(1..4usize, 8),
            bad in any::<Index>(),
            crlf in any::<bool>(),
        ) {
            // Blocks separated by one to three blank lines, one timing made impossible.
            let bad = bad.index(cues.len());
            let mut lines: Vec<String> = Vec::new();
            let mut bad_line = 0;
            for (i, (start, length, text)) in cues.iter().enumerate() {
                lines.push((i + 1).to_string());
                if i == bad {
                    bad_line = lines.len() + 1;
                    lines.push("00:00:99,000 --> 00:01:00,000".into());
                } else {
                    let (a, b) = (*start as f64 / 1000.0, (start + length) as f64 / 1000.0);
                    lines.push(format!("{} --> {}", stamp(a, Format::Srt), stamp(b, Format::Srt)));
                }
                lines.extend(text.lines().map(String::from));
                lines.extend(std::iter::repeat_n(String::new(), gaps[i % gaps.len()]));
            }
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            let err = parse(Path::new("x.srt"), &text, Format::Srt).unwrap_err().to_string();
            prop_assert_eq!(err, format!("x.srt: line {bad_line}: bad timing `00:00:99,000 --> 00:01:00,000`"));
        }
    }
}
