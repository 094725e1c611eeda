// SPDX-License-Identifier: MPL-2.0
//! Cuts a 16 kHz mono stream into utterances from per-window speech probabilities: speech
//! starts at the first window at or above the threshold, ends after `min_silence` of windows
//! below `threshold - 0.15` (Silero's hysteresis), with `pad` of audio kept on each side.
//! Utterances shorter than `min_speech` of speech are dropped (clicks, breaths); longer than
//! `max_segment` are cut at the least speech-like window of their last third, so whisper always
//! gets less than its 30 s window and a live caption never waits for a speaker to pause.
//! No GStreamer here; sample indices count from the start of the stream.

use std::collections::VecDeque;

use super::vad::WINDOW;

/// How far below the threshold a window must fall to count as silence.
const HYSTERESIS: f32 = 0.15;

/// Tuning, in samples at 16 kHz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SegmenterConfig {
    /// Speech probability that opens an utterance.
    pub(crate) threshold: f32,
    /// Silence that closes an utterance.
    pub(crate) min_silence: usize,
    /// Speech an utterance needs to be kept.
    pub(crate) min_speech: usize,
    /// Longest utterance before a forced cut.
    pub(crate) max_segment: usize,
    /// Audio kept before the first and after the last speech window.
    pub(crate) pad: usize,
}

/// A closed stretch of speech: samples `start..end` of the stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Utterance {
    /// First sample.
    pub(crate) start: u64,
    /// One past the last sample.
    pub(crate) end: u64,
    /// The audio.
    pub(crate) samples: Vec<f32>,
}

/// The open utterance.
#[derive(Debug)]
struct Open {
    start: u64,
    /// End of the last window at or above the threshold.
    speech_end: u64,
    /// Samples of speech windows so far.
    speech: usize,
    /// Samples of silence since `speech_end`.
    silence: usize,
    /// `(window start, probability)` of each window since `start`.
    probs: Vec<(u64, f32)>,
}

/// The utterance cutter.
#[derive(Debug)]
pub(crate) struct Segmenter {
    /// Samples from index `first` on.
    audio: VecDeque<f32>,
    first: u64,
    /// Start of the next window to classify.
    next_window: u64,
    /// End of the last closed utterance: the next one starts no earlier.
    closed_until: u64,
    open: Option<Open>,
    /// One window, contiguous.
    scratch: Vec<f32>,
}

impl Default for Segmenter {
    fn default() -> Self {
        Self {
            audio: VecDeque::new(),
            first: 0,
            next_window: 0,
            closed_until: 0,
            open: None,
            scratch: vec![0.0; WINDOW],
        }
    }
}

impl Segmenter {
    /// Index one past the last sample received.
    pub(crate) fn end(&self) -> u64 {
        self.first + self.audio.len() as u64
    }

    /// Appends samples.
    pub(crate) fn push(&mut self, samples: &[f32]) {
        self.audio.extend(samples);
    }

    /// Start and current end of the open utterance.
    pub(crate) fn open_span(&self) -> Option<(u64, u64)> {
        self.open.as_ref().map(|o| (o.start, self.next_window.max(o.start)))
    }

    /// The earliest sample a future utterance may start at.
    pub(crate) fn earliest_pending(&self, config: &SegmenterConfig) -> u64 {
        match &self.open {
            Some(open) => open.start,
            None => self.next_window.saturating_sub(config.pad as u64).max(self.closed_until),
        }
    }

    /// Samples `start..end` (zeros where already dropped or not yet received).
    pub(crate) fn samples(&self, start: u64, end: u64) -> Vec<f32> {
        (start..end)
            .map(
                |i| {
                    if i < self.first {
                        0.0
                    } else {
                        self.audio.get((i - self.first) as usize).copied().unwrap_or(0.0)
                    }
                },
            )
            .collect()
    }

    /// Classifies every complete window with `vad` and returns the utterances that closed.
    pub(crate) fn advance<E>(
        &mut self,
        config: &SegmenterConfig,
        mut vad: impl FnMut(&[f32]) -> Result<f32, E>,
    ) -> Result<Vec<Utterance>, E> {
        let mut closed = Vec::new();
        while self.next_window + WINDOW as u64 <= self.end() {
            let at = self.next_window;
            let offset = (at - self.first) as usize;
            for (k, slot) in self.scratch.iter_mut().enumerate() {
                *slot = self.audio[offset + k];
            }
            let p = vad(&self.scratch)?;
            self.next_window += WINDOW as u64;
            if let Some(utterance) = self.classify(config, at, p) {
                closed.push(utterance);
            }
        }
        self.trim(config);
        Ok(closed)
    }

    fn classify(&mut self, config: &SegmenterConfig, at: u64, p: f32) -> Option<Utterance> {
        let end = at + WINDOW as u64;
        match self.open.as_mut() {
            None => {
                if p >= config.threshold {
                    let start = at.saturating_sub(config.pad as u64).max(self.closed_until).max(self.first);
                    self.open = Some(Open { start, speech_end: end, speech: WINDOW, silence: 0, probs: vec![(at, p)] });
                }
                None
            }
            Some(open) => {
                open.probs.push((at, p));
                if p >= config.threshold {
                    open.speech += WINDOW;
                    open.speech_end = end;
                    open.silence = 0;
                } else if p < config.threshold - HYSTERESIS {
                    open.silence += WINDOW;
                } else {
                    // Between the thresholds: neither speech nor silence, but it is not a pause.
                    open.silence = 0;
                }
                if open.silence >= config.min_silence {
                    let stop = (open.speech_end + config.pad as u64).min(end);
                    return self.close(config, stop, false);
                }
                if (end - open.start) as usize >= config.max_segment {
                    let cut = Self::cut_point(open, end);
                    return self.close(config, cut, true);
                }
                None
            }
        }
    }

    /// Where to cut a too-long utterance: after its least speech-like window in the last third.
    fn cut_point(open: &Open, end: u64) -> u64 {
        let from = open.start + (end - open.start) * 2 / 3;
        open.probs
            .iter()
            .filter(|(at, _)| *at >= from)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(end, |(at, _)| at + WINDOW as u64)
    }

    /// Closes the open utterance at `stop`; with `continues`, a new one opens there.
    fn close(&mut self, config: &SegmenterConfig, stop: u64, continues: bool) -> Option<Utterance> {
        let open = self.open.take()?;
        let stop = stop.max(open.start);
        self.closed_until = stop;
        if continues {
            let rest: Vec<(u64, f32)> = open.probs.into_iter().filter(|(at, _)| *at >= stop).collect();
            let speech = rest.iter().filter(|(_, p)| *p >= config.threshold).count() * WINDOW;
            let speech_end =
                rest.iter().rev().find(|(_, p)| *p >= config.threshold).map_or(stop, |(at, _)| at + WINDOW as u64);
            self.open = Some(Open { start: stop, speech_end, speech, silence: 0, probs: rest });
        }
        (open.speech >= config.min_speech).then(|| Utterance {
            start: open.start,
            end: stop,
            samples: self.samples(open.start, stop),
        })
    }

    /// Closes the open utterance at the end of the audio (end of stream or discontinuity).
    pub(crate) fn finish(&mut self, config: &SegmenterConfig) -> Option<Utterance> {
        let stop = {
            let open = self.open.as_ref()?;
            (open.speech_end + config.pad as u64).min(self.end())
        };
        self.close(config, stop, false)
    }

    /// Forgets everything; sample indices restart at zero.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Drops audio no utterance can still need.
    fn trim(&mut self, config: &SegmenterConfig) {
        let keep_from = self.earliest_pending(config).min(self.next_window.saturating_sub(config.pad as u64));
        let drop = keep_from.saturating_sub(self.first).min(self.audio.len() as u64) as usize;
        self.audio.drain(..drop);
        self.first += drop as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: SegmenterConfig = SegmenterConfig {
        threshold: 0.5,
        min_silence: 4 * WINDOW,
        min_speech: 4 * WINDOW,
        max_segment: 100 * WINDOW,
        pad: WINDOW,
    };

    /// Runs windows whose probability is given by `pattern` (one char per window: `#` speech,
    /// `.` silence) through a segmenter; the audio value of each sample is its window index.
    fn run(pattern: &str, config: &SegmenterConfig) -> (Vec<Utterance>, Segmenter) {
        let mut s = Segmenter::default();
        let mut out = Vec::new();
        for (w, c) in pattern.chars().enumerate() {
            s.push(&vec![w as f32; WINDOW]);
            let p = if c == '#' { 0.9 } else { 0.05 };
            out.extend(s.advance(config, |_| Ok::<_, ()>(p)).unwrap());
        }
        (out, s)
    }

    fn windows(u: &Utterance) -> (u64, u64) {
        (u.start / WINDOW as u64, u.end / WINDOW as u64)
    }

    #[test]
    fn speech_between_pauses_is_one_padded_utterance() {
        let (out, _) = run("....######....##.....", &CONFIG);
        // The two-window blip is shorter than min_speech.
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(windows(&out[0]), (3, 11));
        assert_eq!(out[0].samples.len(), 8 * WINDOW);
        assert_eq!(out[0].samples[0], 3.0);
        assert_eq!(*out[0].samples.last().unwrap(), 10.0);
    }

    #[test]
    fn short_pauses_do_not_split() {
        let (out, _) = run("..#####..#####.......", &CONFIG);
        assert_eq!(out.len(), 1);
        assert_eq!(windows(&out[0]), (1, 15));
    }

    #[test]
    fn silence_gives_nothing() {
        let (out, mut s) = run(&".".repeat(200), &CONFIG);
        assert!(out.is_empty());
        assert!(s.finish(&CONFIG).is_none());
        // Audio is not hoarded.
        assert!(s.audio.len() <= 2 * WINDOW, "{} samples kept", s.audio.len());
    }

    #[test]
    fn long_speech_is_cut_at_its_weakest_window() {
        let config = SegmenterConfig { max_segment: 30 * WINDOW, ..CONFIG };
        let mut pattern = "#".repeat(25);
        pattern.replace_range(22..23, "."); // a dip two thirds in
        pattern.push_str(&"#".repeat(40));
        let (out, mut s) = run(&pattern, &config);
        assert!(!out.is_empty());
        assert_eq!(windows(&out[0]), (0, 23));
        for pair in out.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "cuts are contiguous");
        }
        let last = s.finish(&config).expect("the rest is open");
        assert_eq!(last.end, 65 * WINDOW as u64);
        assert!(out.iter().all(|u| u.end - u.start <= 30 * WINDOW as u64));
    }

    #[test]
    fn finish_closes_the_open_utterance() {
        let (out, mut s) = run("..########", &CONFIG);
        assert!(out.is_empty());
        assert_eq!(s.open_span(), Some((WINDOW as u64, 10 * WINDOW as u64)));
        let u = s.finish(&CONFIG).expect("open utterance");
        assert_eq!(windows(&u), (1, 10));
    }
}
