// SPDX-License-Identifier: MPL-2.0
//! Waveforms against the shared A/V-sync clip's known sound (README of the shared media): a
//! 440 Hz tone under a 1 kHz beep at 0.7 for the first 1/30 s of every second. The tone is
//! ffmpeg's `sine` source (amplitude 1/8) at `volume=0.05`: 0.00625. Its 1080p pictures are never decoded: the whole 20 s must take little time.

mod common;

use std::time::Instant;

use common::media;
use reenact_engine::{waveform, CancelToken};

#[test]
fn beeps_stand_out_of_the_tone_at_their_seconds() {
    let started = Instant::now();
    let mut last = 0.0;
    let wave = waveform(&media("synthetic/avsync_testsrc2_1920x1080_30fps_20s.mp4"), &CancelToken::new(), &mut |f| {
        assert!(f >= last, "progress goes forward");
        last = f;
    })
    .unwrap();
    let took = started.elapsed();
    assert!(wave.has_audio && wave.peaks_per_second == 100.0);
    assert!((wave.duration_s - 20.0).abs() < 0.05, "{}", wave.duration_s);
    assert_eq!(wave.peaks.len(), (wave.duration_s * 100.0 - 1e-6).ceil() as usize, "duration × 100 a second");
    assert_eq!((wave.sample_rate, wave.channels), (48_000, 1));
    let mut beeps = Vec::new();
    let mut between = Vec::new();
    for second in 0..20 {
        let at = second * 100;
        // The beep lasts 33 ms: peaks 0..3 of the second.
        beeps.push(wave.peaks[at..at + 3].iter().copied().fold(0.0f32, f32::max));
        between.extend_from_slice(&wave.peaks[at + 10..at + 90]);
    }
    let quietest_beep = beeps.iter().copied().fold(1.0f32, f32::min);
    let loudest_between = between.iter().copied().fold(0.0f32, f32::max);
    let mean_between = between.iter().sum::<f32>() / between.len() as f32;
    eprintln!(
        "waveform of 20 s in {took:?}: beeps >= {quietest_beep}, tone between them mean {mean_between} max {loudest_between}"
    );
    assert!((0.65..=0.85).contains(&quietest_beep), "beep peaks (0.7 and the tone): {beeps:?}");
    assert!((0.005..=0.0075).contains(&mean_between), "the tone alone (0.00625): mean {mean_between}");
    assert!(loudest_between < 0.02, "no beep between the seconds: {loudest_between}");
    assert!(took.as_secs_f64() < 10.0, "the pictures are not decoded: {took:?}");
}

#[test]
fn media_without_sound_get_an_empty_waveform() {
    let wave = waveform(&media("openmovie/tears_of_steel_10s_640x360.mp4"), &CancelToken::new(), &mut |_| {}).unwrap();
    assert!(!wave.has_audio && wave.peaks.is_empty(), "{wave:?}");
    assert!((wave.duration_s - 10.0).abs() < 0.1);
}
