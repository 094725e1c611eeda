// SPDX-License-Identifier: MPL-2.0
//! Real-time factor and latency of `reenactvoice` (classical path) on one core: the JFK sample
//! (11 s) decoded at 16 and 48 kHz, pushed in 10 ms buffers through a Harness; only the
//! element is timed. RTF = processing time / audio duration (below 1 keeps up in real time).
//! The latency is the one the element reports, checked against the delay measured on the
//! samples (cross-correlation of input and output with no shift).
//!
//! `cargo run --release -p gst-plugin-reenact --example voice_bench -- [PROPERTIES]`

// The same set-up as the element tests: plugin, shared models and media.
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use gst::prelude::*;
use gst_check::Harness;
use gstreenact::character::decode_audio_mono;

fn to_buffer(samples: &[f32]) -> gst::Buffer {
    gst::Buffer::from_mut_slice(samples.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>())
}

fn samples_of(buffer: &gst::Buffer) -> Vec<f32> {
    let map = buffer.map_readable().expect("map");
    map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Runs `samples` through `reenactvoice <props>`; returns seconds spent in the element, the
/// output and the reported latency in ms.
fn run(samples: &[f32], rate: u32, props: &str) -> (f64, Vec<f32>, f64) {
    let mut h = Harness::new_parse(&format!("reenactvoice {props}"));
    h.set_src_caps_str(&format!("audio/x-raw,format=F32LE,layout=interleaved,rate={rate},channels=1"));
    let chunk = rate as usize / 100;
    let buffers: Vec<gst::Buffer> = samples.chunks(chunk).map(to_buffer).collect();
    // Warm-up buffer: start and caps are not part of the per-block cost.
    h.push_and_pull(to_buffer(&vec![0.0; chunk])).expect("warm-up");
    let mut out = Vec::with_capacity(samples.len());
    let mut spent = 0.0;
    for buffer in buffers {
        let start = Instant::now();
        let output = h.push_and_pull(buffer).expect("output");
        spent += start.elapsed().as_secs_f64();
        out.extend(samples_of(&output));
    }
    let latency = h.find_element("reenactvoice").expect("element").property::<f64>("latency-ms");
    (spent, out, latency)
}

/// Lag (0..max) at which `b` best matches `a`.
fn best_lag(a: &[f32], b: &[f32], max: usize) -> usize {
    let score = |lag: usize| a.iter().zip(&b[lag..]).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum::<f64>();
    (0..max).max_by(|&p, &q| score(p).total_cmp(&score(q))).unwrap_or(0)
}

fn main() {
    let extra = std::env::args().nth(1).unwrap_or_default();
    common::init();
    for rate in [16_000u32, 48_000] {
        let samples =
            decode_audio_mono(&common::shared().join("media/jfk.wav"), rate).expect("shared media: jfk.wav decodes");
        let seconds = samples.len() as f64 / f64::from(rate);
        // The first run only measures the delay: no shift, so the output is the delayed input
        // (the warm-up buffer went in before, its output is not collected: no offset).
        let (_, plain, latency_ms) = run(&samples[..rate as usize], rate, "");
        let measured = best_lag(&samples[..rate as usize / 2], &plain, rate as usize / 10);
        let measured_ms = measured as f64 * 1000.0 / f64::from(rate);
        for props in ["pitch-semitones=4", "pitch-semitones=-5 formant-shift=1.15", "pitch-semitones=12"] {
            let props = format!("{props} {extra}").trim().to_owned();
            let (spent, _, _) = run(&samples, rate, &props);
            println!(
                "reenactvoice {rate} Hz mono, {props}: RTF {:.4} ({:.1} ms per second of audio, one core), latency {latency_ms:.2} ms reported, {measured_ms:.2} ms measured",
                spent / seconds,
                spent / seconds * 1000.0,
            );
        }
    }
}
