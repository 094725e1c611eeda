// SPDX-License-Identifier: MPL-2.0
//! Whole-render effects: a background replaced around the person, and 9:16 and 1:1 outputs
//! cut around the face rather than the middle of the picture.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use gst::prelude::*;
use gstreenact::facemeta::FaceMeta;
use reenact_engine::preset::{Background, CropPolicy};
use reenact_engine::{CancelToken, RenderRequest};

/// The astronaut portrait (720x720 at x = 280) on dark grey, 1280x720.
const PRESENTER: &str = "synthetic/presenter_astronaut_1280x720_25fps.mp4";

fn use_shared_models() {
    if std::env::var_os("REENACT_MODELS").is_none() {
        std::env::set_var("REENACT_MODELS", Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"));
    }
}

/// The last frame of `path` as RGB at `w` x `h`.
fn last_rgb(path: &Path, w: u32, h: u32) -> Vec<u8> {
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvertscale add-borders=false ! video/x-raw,format=RGB,width={w},height={h},pixel-aspect-ratio=1/1 ! appsink name=sink sync=false",
        path.display()
    );
    let mut last = Vec::new();
    for_each_buffer(&desc, |buffer| {
        let map = buffer.map_readable().expect("readable");
        // RGB rows are padded to 4 bytes.
        let stride = ((w * 3).div_ceil(4) * 4) as usize;
        last = (0..h as usize).flat_map(|row| map[row * stride..row * stride + 3 * w as usize].to_vec()).collect();
    });
    last
}

/// Horizontal centre of the main face in the last frames of `path`, as a fraction of the width.
fn face_x(path: &Path) -> f64 {
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=RGBA ! reenactfacetrack ! appsink name=sink sync=false",
        path.display()
    );
    let mut found = Vec::new();
    for_each_buffer(&desc, |buffer| {
        if let Some(meta) = buffer.meta::<FaceMeta>() {
            if let Some(face) = meta.faces().first() {
                found.push(face.bbox.centre().0 as f64 / meta.width() as f64);
            }
        }
    });
    assert!(found.len() >= 10, "the tracker found a face on {} frames of {}", found.len(), path.display());
    found[found.len() - 10..].iter().sum::<f64>() / 10.0
}

fn for_each_buffer(desc: &str, mut each: impl FnMut(&gst::BufferRef)) {
    reenact_engine::media::init().expect("gst");
    let pipeline = gst::parse::launch(desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    while let Ok(sample) = sink.pull_sample() {
        each(sample.buffer().expect("buffer"));
    }
    let error = pipeline.bus().unwrap().pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(error.is_none(), "{desc}: {error:?}");
}

/// The presenter moved to the right: the portrait shrunk to 480x480 at x = 640, so its face is
/// near x = 0.7 of the frame and outside the middle third of a centred square crop.
fn presenter_on_the_right(dir: &Path) -> PathBuf {
    let file = dir.join("right.mp4");
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videocrop left=280 right=280 ! videoscale ! video/x-raw,width=480,height=480 ! videobox left=-640 right=-160 top=-120 bottom=-120 fill=black ! videoconvert ! video/x-raw,format=I420 ! identity eos-after=100 ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location=\"{}\"",
        media(PRESENTER).display(),
        file.display()
    );
    reenact_engine::media::init().expect("gst");
    let pipeline = gst::parse::launch(&desc).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(matches!(msg.map(|m| m.type_()), Some(gst::MessageType::Eos)), "making {}", file.display());
    file
}

#[test]
fn a_replaced_background_keeps_the_person() {
    use_shared_models();
    let out = tempfile::tempdir().unwrap();
    let file = media(PRESENTER);
    let mut request =
        RenderRequest::new(opening(&file, 2.0), file.clone(), presets(&["landscape-1080p"]), out.path().to_path_buf());
    request.background = Some(Background::Color { color: "#00ff00".into() });
    let report = reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).expect("render");
    let output = &report.outputs[0];

    let (w, h) = (64, 36);
    let px = last_rgb(&output.file, w, h);
    let at = |x: f64, y: f64| {
        let i = 3 * ((y * h as f64) as usize * w as usize + (x * w as f64) as usize);
        [px[i], px[i + 1], px[i + 2]]
    };
    let green = |p: [u8; 3]| p[1] > 200 && p[0] < 80 && p[2] < 80;
    // Left and right of the portrait was grey; the face is at the top of its middle.
    for (x, y) in [(0.05, 0.5), (0.1, 0.1), (0.95, 0.2), (0.9, 0.5)] {
        assert!(green(at(x, y)), "background at ({x}, {y}) is {:?}, not the replacement", at(x, y));
    }
    for (x, y) in [(0.48, 0.3), (0.45, 0.8)] {
        assert!(!green(at(x, y)), "the person at ({x}, {y}) was replaced");
    }
    let models: Vec<&str> = output.metadata.models.iter().map(|m| m.element.as_str()).collect();
    assert_eq!(models, ["reenactmatte"], "{:?}", output.metadata.models);
}

#[test]
fn square_and_vertical_outputs_follow_the_face() {
    use_shared_models();
    let dir = tempfile::tempdir().unwrap();
    let source = presenter_on_the_right(dir.path());
    let at = face_x(&source);
    // Where a centred square crop (x 280..1000 of 1280) would leave the face.
    let centred = (at * 1280.0 - 280.0) / 720.0;
    assert!(centred > 2.0 / 3.0, "the test source must need reframing: face at {centred:.2} of a centred crop");

    let out = dir.path().join("out");
    let names = ["square-1080p", "vertical-1080p"];
    let mut request = RenderRequest::new(opening(&source, 4.0), source.clone(), presets(&names), out.clone());
    request.crop = Some(CropPolicy::Face);
    let report = reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).expect("render");
    for output in &report.outputs {
        let x = face_x(&output.file);
        assert!((1.0 / 3.0..2.0 / 3.0).contains(&x), "{}: face centre at {x:.2} of the width", output.preset);
        assert_eq!(output.metadata.preset.crop, CropPolicy::Face);
        assert!(output.metadata.models.iter().any(|m| m.element == "reenactfacetrack"), "{:?}", output.metadata);
    }
}

#[test]
fn bad_effect_settings_are_refused_before_rendering() {
    let out = tempfile::tempdir().unwrap();
    let file = media(PRESENTER);
    let cases = [
        (Background::Color { color: "green".into() }, "`green` is not a colour of the form #RRGGBB"),
        (Background::Blur { strength: 0 }, "blur strength 0 must be within 1..256"),
        (Background::Image { image: PathBuf::from("/nowhere/beach.png") }, "/nowhere/beach.png: no such image file"),
    ];
    for (background, expected) in cases {
        let mut request =
            RenderRequest::new(opening(&file, 1.0), file.clone(), presets(&["master"]), out.path().to_path_buf());
        request.background = Some(background);
        let err = reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).unwrap_err().to_string();
        assert_eq!(err, format!("background: {expected}"));
    }
    assert!(files_in(out.path()).is_empty(), "{:?}", files_in(out.path()));
    assert_eq!(Background::parse("blur:40"), Ok(Background::Blur { strength: 40 }));
    assert_eq!(Background::parse("blur"), Ok(Background::Blur { strength: 24 }));
    assert!(Background::parse("blur:much").unwrap_err().contains("`much` is not a blur strength"));
}
