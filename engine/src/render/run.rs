// SPDX-License-Identifier: MPL-2.0
//! Driving a built graph to the end: bus messages, progress, cancellation and
//! the stall watchdog. Renders, transcriptions, voice clones and waveforms all run through
//! it, so a graph that stops moving or posts an error ends the same way everywhere.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::source::SOURCE_NAME;
use crate::error::{EngineError, Result};

/// Shared flag a caller sets to stop a render.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the render to stop; it returns [`EngineError::Cancelled`] soon after.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Where a render stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// 0.0 .. 1.0 of the timeline rendered.
    pub fraction: f64,
    pub position_s: f64,
    pub duration_s: f64,
    /// Estimated seconds left, once it can be estimated.
    pub eta_s: Option<f64>,
    /// Media seconds rendered per wall-clock second.
    pub speed: f64,
}

/// End time (ns) of the latest frame seen by the graph, written by a probe.
#[derive(Debug, Clone, Default)]
pub(crate) struct Position(Arc<AtomicU64>);

impl Position {
    pub(crate) fn record(&self, end_s: f64) {
        self.0.fetch_max((end_s * 1e9) as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_ns(&self, end_ns: u64) {
        self.0.fetch_max(end_ns, Ordering::Relaxed);
    }

    pub(crate) fn seconds(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1e9
    }
}

/// How a run is watched.
#[derive(Debug, Clone)]
pub(crate) struct Watch<'a> {
    pub duration_s: f64,
    pub position: Position,
    pub cancel: &'a CancelToken,
    pub stall_after: Duration,
}

const TICK: Duration = Duration::from_millis(200);

/// Plays `pipeline` until EOS, an error, cancellation or a stall; always
/// leaves it in NULL.
pub(crate) fn run(pipeline: &gst::Pipeline, watch: Watch<'_>, on_progress: &mut dyn FnMut(Progress)) -> Result<()> {
    let result = play(pipeline, &watch, on_progress);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// [`run`] without the NULL at the end, for a caller that reads its elements' figures first.
pub(crate) fn play(pipeline: &gst::Pipeline, watch: &Watch<'_>, on_progress: &mut dyn FnMut(Progress)) -> Result<()> {
    let bus = pipeline.bus().expect("pipeline has a bus");
    pipeline.set_state(gst::State::Playing).map_err(|_| {
        first_error(&bus)
            .unwrap_or_else(|| EngineError::Pipeline { element: "pipeline".into(), message: "could not start".into() })
    })?;
    let started = Instant::now();
    let mut last_move = Instant::now();
    let mut last_pos = -1.0f64;
    loop {
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(TICK.as_nanos() as u64)) {
            match msg.view() {
                gst::MessageView::Eos(_) => {
                    on_progress(progress(watch.duration_s, watch.duration_s, started.elapsed()));
                    return Ok(());
                }
                gst::MessageView::Error(err) => return Err(pipeline_error(&msg, err)),
                gst::MessageView::Warning(w) => {
                    tracing::warn!(source = ?msg.src().map(|s| s.path_string()), warning = %w.error(), "pipeline warning");
                }
                _ => {}
            }
        }
        if watch.cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let pos = watch.position.seconds();
        if pos > last_pos {
            last_pos = pos;
            last_move = Instant::now();
            on_progress(progress(pos, watch.duration_s, started.elapsed()));
        } else if last_move.elapsed() > watch.stall_after {
            log_queue_levels(pipeline);
            return Err(EngineError::Stalled {
                seconds: watch.stall_after.as_secs(),
                position: pos.max(0.0),
                duration: watch.duration_s,
            });
        }
    }
}

fn progress(pos: f64, duration: f64, elapsed: Duration) -> Progress {
    let fraction = if duration > 0.0 { (pos / duration).clamp(0.0, 1.0) } else { 0.0 };
    let secs = elapsed.as_secs_f64();
    let speed = if secs > 0.0 { pos / secs } else { 0.0 };
    let eta_s = (speed > 0.0 && secs > 0.5).then(|| ((duration - pos).max(0.0)) / speed);
    Progress { fraction, position_s: pos.min(duration), duration_s: duration, eta_s, speed }
}

fn first_error(bus: &gst::Bus) -> Option<EngineError> {
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(err) => Some(pipeline_error(&msg, err)),
        _ => None,
    }
}

fn pipeline_error(msg: &gst::Message, err: &gst::message::Error) -> EngineError {
    let path = msg.src().map(|s| s.path_string().to_string()).unwrap_or_else(|| "pipeline".into());
    let element = if path.contains(SOURCE_NAME) { "source decoder".to_string() } else { short_path(&path) };
    let mut message = err.error().to_string();
    if let Some(debug) = err.debug() {
        if let Some(first) = debug.lines().next().filter(|l| !l.is_empty()) {
            message = format!("{message} ({first})");
        }
    }
    EngineError::Pipeline { element, message }
}

fn short_path(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// Which queues are full tells where a stalled graph is stuck.
fn log_queue_levels(pipeline: &gst::Pipeline) {
    for element in pipeline.iterate_recurse().into_iter().flatten() {
        let is_queue = element.factory().is_some_and(|f| f.name() == "queue" || f.name() == "multiqueue");
        if is_queue && element.find_property("current-level-buffers").is_some() {
            tracing::warn!(
                queue = %element.path_string(),
                buffers = element.property::<u32>("current-level-buffers"),
                time_ns = element.property::<u64>("current-level-time"),
                "queue level at stall"
            );
        }
    }
}
