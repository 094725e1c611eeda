// SPDX-License-Identifier: MPL-2.0
//! Live statistics gathered by pad probes: how long each stage holds a frame,
//! how many frames pass a point, and the rate they pass it at.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gst::prelude::*;
use serde::Serialize;

/// Samples kept per stage for its percentiles.
const SAMPLES: usize = 300;
/// Frames in flight a stage may hold before the oldest is forgotten.
const IN_FLIGHT: usize = 64;

/// Time spent inside one element, matched from its sink to its src pad by
/// presentation timestamp.
#[derive(Debug)]
pub(crate) struct StageMeter {
    name: String,
    /// Match frames in order instead of by timestamp: encoders shift their
    /// output timestamps (GstVideoEncoder adds 1000 hours to keep DTS positive).
    in_order: bool,
    entered: Mutex<VecDeque<(gst::ClockTime, Instant)>>,
    samples: Mutex<VecDeque<f64>>,
}

/// A stage's figures, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StageStats {
    pub name: String,
    pub mean_ms: f64,
    pub p95_ms: f64,
    pub samples: usize,
}

impl StageMeter {
    /// Meters `element` (one sink pad named `sink`, one src pad named `src`).
    pub(crate) fn attach(name: &str, element: &gst::Element) -> Arc<Self> {
        Self::attach_with(name, element, false)
    }

    /// Meters an encoder, whose frames leave in the order they came, one for one.
    pub(crate) fn attach_encoder(name: &str, element: &gst::Element) -> Arc<Self> {
        Self::attach_with(name, element, true)
    }

    fn attach_with(name: &str, element: &gst::Element, in_order: bool) -> Arc<Self> {
        let meter = Arc::new(StageMeter {
            name: name.to_owned(),
            in_order,
            entered: Mutex::default(),
            samples: Mutex::default(),
        });
        // A transform's input, or the picture input of the lip-sync.
        let sink = element.static_pad("sink").or_else(|| element.static_pad("video_sink"));
        let (Some(sink), Some(src)) = (sink, element.static_pad("src")) else {
            return meter;
        };
        let m = Arc::clone(&meter);
        sink.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
                let mut entered = m.entered.lock().unwrap_or_else(PoisonError::into_inner);
                if entered.len() == IN_FLIGHT {
                    entered.pop_front();
                }
                entered.push_back((pts, Instant::now()));
            }
            gst::PadProbeReturn::Ok
        });
        let m = Arc::clone(&meter);
        src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
                m.left(pts);
            }
            gst::PadProbeReturn::Ok
        });
        meter
    }

    fn left(&self, pts: gst::ClockTime) {
        let mut entered = self.entered.lock().unwrap_or_else(PoisonError::into_inner);
        // Frames a leaky queue or the element dropped never leave; skip past them.
        while let Some(&(first, at)) = entered.front() {
            entered.pop_front();
            if first == pts || self.in_order {
                let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
                if samples.len() == SAMPLES {
                    samples.pop_front();
                }
                samples.push_back(at.elapsed().as_secs_f64() * 1000.0);
                return;
            }
            if first > pts {
                entered.push_front((first, at));
                return;
            }
        }
    }

    pub(crate) fn stats(&self) -> StageStats {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let mut sorted: Vec<f64> = samples.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let mean = if sorted.is_empty() { 0.0 } else { sorted.iter().sum::<f64>() / sorted.len() as f64 };
        StageStats { name: self.name.clone(), mean_ms: mean, p95_ms: percentile(&sorted, 0.95), samples: sorted.len() }
    }
}

/// The `q` quantile (0..1) of ascending `sorted`, 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Buffers passing a pad: a total and the rate over the last second.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    total: AtomicU64,
    recent: Mutex<VecDeque<Instant>>,
}

impl Counter {
    /// Counts the buffers passing `pad`.
    pub(crate) fn attach(pad: &gst::Pad) -> Arc<Self> {
        let counter = Arc::new(Counter::default());
        let c = Arc::clone(&counter);
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            c.tick();
            gst::PadProbeReturn::Ok
        });
        counter
    }

    fn tick(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.push_back(now);
        while recent.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1)) {
            recent.pop_front();
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Buffers in the last second.
    pub(crate) fn rate(&self) -> f64 {
        let now = Instant::now();
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.iter().filter(|t| now.duration_since(**t) <= Duration::from_secs(1)).count() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
