// SPDX-License-Identifier: MPL-2.0
//! Prometheus metrics at `GET /metrics`: HTTP requests and their latency by
//! route, jobs by state and how long finished ones took, live sessions
//! (viewers, slowest fps, worst viewer p95 latency).
//!
//! Request figures are counted by a middleware and job run times by the
//! workers of this process as they happen (a separate `reenact worker` keeps
//! its own); job counts are read from the database when scraped, so every
//! server behind one database reports the same; live figures from the hub.
//! Labels never carry ids: a live session id is a viewing capability.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::error::ApiError;
use super::AppState;

/// Every metric of the process, registered once.
struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    jobs: IntGaugeVec,
    job_seconds: HistogramVec,
    render_speed: prometheus::Histogram,
    live_sessions: IntGauge,
    live_viewers: IntGauge,
    live_fps_min: Gauge,
    live_latency_p95_max: Gauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new_custom(Some("reenact".into()), None).expect("metrics registry");
    let requests = IntCounterVec::new(
        Opts::new("http_requests_total", "HTTP requests by method, route and status"),
        &["method", "route", "status"],
    )
    .expect("metric");
    let request_seconds = HistogramVec::new(
        HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by method and route")
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]),
        &["method", "route"],
    )
    .expect("metric");
    let jobs = IntGaugeVec::new(Opts::new("jobs", "Jobs in the queue by state"), &["state"]).expect("metric");
    let job_seconds = HistogramVec::new(
        HistogramOpts::new(
            "job_duration_seconds",
            "Run time of the jobs this process's workers ran, by kind and outcome",
        )
        .buckets(vec![0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0]),
        &["kind", "outcome"],
    )
    .expect("metric");
    let render_speed = prometheus::Histogram::with_opts(
        HistogramOpts::new(
            "render_speed_ratio",
            "Seconds of timeline rendered (for every preset at once) per second of work, by this process's workers",
        )
        .buckets(vec![0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]),
    )
    .expect("metric");
    let live_sessions = IntGauge::new("live_sessions", "Live sessions running").expect("metric");
    let live_viewers = IntGauge::new("live_viewers", "WebRTC viewers of all live sessions").expect("metric");
    let live_fps_min = Gauge::new("live_fps_min", "Lowest encoded fps of the running live sessions").expect("metric");
    let live_latency_p95_max =
        Gauge::new("live_latency_p95_ms_max", "Worst glass-to-glass p95 (ms) any viewer reported").expect("metric");
    for metric in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(request_seconds.clone()),
        Box::new(jobs.clone()),
        Box::new(job_seconds.clone()),
        Box::new(render_speed.clone()),
        Box::new(live_sessions.clone()),
        Box::new(live_viewers.clone()),
        Box::new(live_fps_min.clone()),
        Box::new(live_latency_p95_max.clone()),
    ] {
        registry.register(metric).expect("unique metric");
    }
    Metrics {
        registry,
        requests,
        request_seconds,
        jobs,
        job_seconds,
        render_speed,
        live_sessions,
        live_viewers,
        live_fps_min,
        live_latency_p95_max,
    }
});

/// Counts and times every request under its route pattern (not its path: ids would explode the labels).
pub(super) async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &*METRICS;
    metrics.request_seconds.with_label_values(&[&method, &route]).observe(started.elapsed().as_secs_f64());
    metrics.requests.with_label_values(&[&method, &route, response.status().as_str()]).inc();
    response
}

/// `GET /metrics` in the Prometheus text format.
pub(super) async fn scrape(State(state): State<AppState>) -> Result<Response, ApiError> {
    let metrics = &*METRICS;
    read_jobs(&state, metrics).await?;
    read_live(&state, metrics);
    encoded()
}

/// `GET /metrics` of a `reenact worker`: what its own workers measured (the queue and live
/// figures come from the server's scrape).
pub async fn scrape_worker() -> Result<Response, ApiError> {
    encoded()
}

fn encoded() -> Result<Response, ApiError> {
    let families = METRICS.registry.gather();
    let mut text = Vec::new();
    TextEncoder::new().encode(&families, &mut text).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(([(CONTENT_TYPE, TextEncoder::new().format_type().to_owned())], text).into_response())
}

async fn read_jobs(state: &AppState, metrics: &Metrics) -> Result<(), ApiError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetch_all(&state.db).await?;
    for name in ["queued", "running", "succeeded", "cancelled", "dead"] {
        let count = rows.iter().find(|(s, _)| s == name).map_or(0, |(_, n)| *n);
        metrics.jobs.with_label_values(&[name]).set(count);
    }
    Ok(())
}

/// Records a job this process ran to its end (or to a failed attempt).
pub(crate) fn job_finished(kind: &str, succeeded: bool, took: std::time::Duration) {
    let outcome = if succeeded { "succeeded" } else { "failed" };
    METRICS.job_seconds.with_label_values(&[kind, outcome]).observe(took.as_secs_f64());
}

/// Records how fast a render went: seconds of timeline per second of work.
pub(crate) fn render_finished(timeline_s: f64, took: std::time::Duration) {
    if timeline_s > 0.0 && !took.is_zero() {
        METRICS.render_speed.observe(timeline_s / took.as_secs_f64());
    }
}

fn read_live(state: &AppState, metrics: &Metrics) {
    let sessions = state.live.list(None);
    let summaries: Vec<_> = sessions.iter().map(|s| s.summary()).collect();
    metrics.live_sessions.set(summaries.len() as i64);
    metrics.live_viewers.set(summaries.iter().map(|s| s.viewers.len() as i64).sum());
    let fps = summaries.iter().filter_map(|s| s.pipeline.as_ref()).map(|p| p.fps_encoded).fold(f64::NAN, f64::min);
    metrics.live_fps_min.set(if fps.is_nan() { 0.0 } else { fps });
    let worst = summaries.iter().flat_map(|s| &s.viewers).map(|v| v.latency_p95_ms).fold(0.0, f64::max);
    metrics.live_latency_p95_max.set(worst);
}
