// SPDX-License-Identifier: MPL-2.0
//! `reenactcaptions` on speech with known word timings: the GRID take `grid_swwp2s` (six words
//! with an align file), repeated with a second of silence between takes.
//!
//! - Real-time factor: the whole signal pushed as fast as the element takes it (not live);
//!   wall time over audio duration.
//! - Word-to-screen latency: the signal pushed in real time from a live source, partial results
//!   on; for each word, the time from its end in the audio to the first text buffer that covers
//!   it (a text whose range reaches the word's end), measured on the wall clock.
//!
//! `cargo run --release -p gst-plugin-reenact --example captions_bench -- [TAKES] [PROPERTIES]`
//! (bench/captions.sh).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

const RATE: usize = 16_000;
/// Audio per pushed buffer.
const CHUNK: usize = RATE / 50;
/// Silence after each take.
const PAUSE_S: f64 = 1.0;
/// Latency the element is given in the live run, ms.
const LATENCY_MS: u32 = 3000;

/// A text the element posted: where its words were spoken (stream seconds) and when it arrived.
#[derive(Debug, Clone)]
struct Posted {
    start: f64,
    end: f64,
    arrived: f64,
    text: String,
    is_final: bool,
}

fn main() {
    let takes: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(8);
    let extra = std::env::args().nth(2).unwrap_or_default();
    common::init();
    let take = decode_mono(&common::shared().join("media/grid/grid_swwp2s.mp4"));
    let words = word_ends(&common::shared().join("media/grid/grid_swwp2s.align"));
    let take_s = take.len() as f64 / RATE as f64;
    let mut signal = Vec::new();
    let mut ends = Vec::new();
    for i in 0..takes {
        let offset = i as f64 * (take_s + PAUSE_S);
        ends.extend(words.iter().map(|(word, end)| (word.clone(), offset + end)));
        signal.extend_from_slice(&take);
        signal.extend(std::iter::repeat_n(0.0f32, (PAUSE_S * RATE as f64) as usize));
    }
    let audio_s = signal.len() as f64 / RATE as f64;
    println!(
        "signal: {takes} x grid_swwp2s ({take_s:.2} s, {} words) + {PAUSE_S} s silence = {audio_s:.1} s; {extra}",
        words.len()
    );

    let (wall, posted) = run(&signal, false, &extra);
    let finals: Vec<&Posted> = posted.iter().filter(|p| p.is_final).collect();
    println!(
        "offline: {wall:.2} s for {audio_s:.1} s of audio, real-time factor {:.3} (target <= 0.3); {} final texts, e.g. {:?}",
        wall / audio_s,
        finals.len(),
        finals.first().map(|p| p.text.as_str()).unwrap_or("")
    );

    let (_, posted) = run(&signal, true, &format!("partial-results=true latency={LATENCY_MS} {extra}"));
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        for p in &posted {
            eprintln!("{p:?}");
        }
        eprintln!("{ends:?}");
    }
    let mut latencies: Vec<f64> = ends
        .iter()
        .filter_map(|(_, end)| {
            posted
                .iter()
                .filter(|p| p.start <= *end + 0.05 && p.end >= *end - 0.15)
                .map(|p| p.arrived - end)
                .reduce(f64::min)
        })
        .collect();
    let missed = ends.len() - latencies.len();
    latencies.sort_by(f64::total_cmp);
    let pick =
        |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    let p95 = pick(0.95);
    println!(
        "live (partial results, latency={LATENCY_MS} ms): word-to-screen latency over {} words: median {:.2} s, p95 {:.2} s, max {:.2} s; {missed} words never covered; {} texts ({} partial)",
        latencies.len(),
        pick(0.5),
        p95,
        pick(1.0),
        posted.len(),
        posted.iter().filter(|p| !p.is_final).count()
    );
    println!("ratio p95 / target 1.0 s: {p95:.2}; p95 / whisper_streaming's reported 3.3 s: {:.2}", p95 / 3.3);
}

/// `file`'s sound as 16 kHz mono f32.
fn decode_mono(file: &std::path::Path) -> Vec<f32> {
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! audioconvert ! audioresample ! audio/x-raw,format=F32LE,channels=1,rate={RATE} ! appsink name=sink sync=false",
        file.display()
    );
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut samples = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let map = sample.buffer().unwrap().map_readable().unwrap();
        samples.extend(map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    samples
}

/// `(word, end in seconds)` of every word of a GRID align file (units of 1/25000 s).
fn word_ends(file: &std::path::Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (_, end, word) = (parts.next()?, parts.next()?, parts.next()?);
            let end = end.parse::<f64>().ok()? / 25_000.0;
            (word != "sil").then(|| (word.to_string(), end))
        })
        .collect()
}

/// Pushes `signal` through `reenactcaptions PROPERTIES`, in real time from a live source when
/// `live`; returns the wall time and every text posted.
fn run(signal: &[f32], live: bool, properties: &str) -> (f64, Vec<Posted>) {
    let caps = format!("audio/x-raw,format=F32LE,layout=interleaved,channels=1,rate={RATE}");
    let desc = format!(
        "appsrc name=src is-live={live} format=time caps=\"{caps}\" ! reenactcaptions name=c {properties} \
         c.src ! queue ! fakesink sync=false  c.text_src ! queue ! fakesink sync=false"
    );
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    if !live {
        // Not live, the source may run ahead by this much before it waits for the element.
        src.set_max_bytes((RATE * 4 * 10) as u64);
        src.set_block(true);
    }
    let posted = Arc::new(Mutex::new(Vec::<(Instant, Posted)>::new()));
    let bus = pipeline.bus().unwrap();
    {
        let posted = posted.clone();
        // In the posting thread, so the arrival time is not delayed by a bus poll.
        bus.set_sync_handler(move |_, message| {
            if let gst::MessageView::Element(element) = message.view() {
                if let Some(s) = element.structure().filter(|s| s.name() == "reenactcaptions") {
                    let seconds =
                        |f: &str| s.get::<gst::ClockTime>(f).map(|t| t.nseconds() as f64 / 1e9).unwrap_or(0.0);
                    let text = Posted {
                        start: seconds("spoken-start"),
                        end: seconds("spoken-end"),
                        arrived: 0.0,
                        text: s.get::<String>("text").unwrap_or_default(),
                        is_final: s.get::<bool>("final").unwrap_or(false),
                    };
                    posted.lock().unwrap().push((Instant::now(), text));
                }
            }
            gst::BusSyncReply::Pass
        });
    }
    pipeline.set_state(gst::State::Playing).unwrap();
    let started = Instant::now();
    for (i, chunk) in signal.chunks(CHUNK).enumerate() {
        let pts = Duration::from_secs_f64((i * CHUNK) as f64 / RATE as f64);
        if live {
            // The chunk is complete only once its last sample has been "recorded".
            let due = pts + Duration::from_secs_f64(chunk.len() as f64 / RATE as f64);
            std::thread::sleep(due.saturating_sub(started.elapsed()));
        }
        let bytes: Vec<u8> = chunk.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut buffer = gst::Buffer::from_mut_slice(bytes);
        {
            let buffer = buffer.get_mut().unwrap();
            buffer.set_pts(gst::ClockTime::from_nseconds(pts.as_nanos() as u64));
            buffer.set_duration(gst::ClockTime::from_nseconds(chunk.len() as u64 * 1_000_000_000 / RATE as u64));
        }
        src.push_buffer(buffer).expect("push");
    }
    src.end_of_stream().expect("eos");
    let msg =
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(600), &[gst::MessageType::Eos, gst::MessageType::Error]);
    let wall = started.elapsed().as_secs_f64();
    pipeline.set_state(gst::State::Null).unwrap();
    if let Some(gst::MessageView::Error(err)) = msg.as_ref().map(|m| m.view()) {
        panic!("captions pipeline failed: {} ({:?})", err.error(), err.debug());
    }
    // Arrivals on the clock of the pushed audio: its first sample was "recorded" at `started`.
    let posted = posted
        .lock()
        .unwrap()
        .iter()
        .map(|(at, p)| Posted { arrived: at.duration_since(started).as_secs_f64(), ..p.clone() })
        .collect();
    (wall, posted)
}
