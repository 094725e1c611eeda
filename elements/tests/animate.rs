// SPDX-License-Identifier: MPL-2.0
//! `reenactanimate` with generated LivePortrait-shaped modules
//! (`reenact_models::graph::liveportrait_standins`), imported as a user imports LivePortrait's
//! ONNX files (`--as portrait-animation`), on a GRID talking face tracked by
//! `reenactfacetrack`, animating the astronaut portrait. The animated picture is the
//! portrait's crop (its colours prove range and channel order), and it moves as the
//! performer's crop moves, by half as much with stitching.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::{frame_size, init};
use gst::glib;
use gst::prelude::*;
use gst_check::Harness;
use gstreenact::character::{create, Character, CreateOptions};
use reenact_models::graph::Graph;
use reenact_models::{import_model, Catalog, ImportRequest, Slot};

fn grid_file() -> std::path::PathBuf {
    common::shared().join("media/grid/grid_bbaf2n.mp4")
}

/// The astronaut character, made once per run.
fn astronaut() -> &'static Path {
    static FILE: OnceLock<std::path::PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        init();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("animate");
        std::fs::create_dir_all(&dir).expect("character dir");
        let catalog = Catalog::from_dirs([common::shared().join("models")]).expect("shared manifests");
        let options = CreateOptions {
            name: "Astronaut".into(),
            portrait: common::shared().join("media/astronaut.png"),
            voice_sample: None,
        };
        let path = dir.join("astronaut.character.json");
        create(&options, &catalog).expect("character").save(&path).expect("save character");
        path
    })
    .as_path()
}

/// A model directory holding the four modules imported as LivePortrait's files.
fn imported() -> tempfile::TempDir {
    let src = tempfile::tempdir().expect("src dir");
    let dir = tempfile::tempdir().expect("model dir");
    for (file, graph) in reenact_models::graph::liveportrait_standins() {
        let path = src.path().join(format!("{file}.onnx"));
        std::fs::write(&path, graph.to_model()).expect("write");
        let request = ImportRequest {
            file: path,
            slot: Slot::PortraitAnimation,
            license: "test".into(),
            commercial_use: Some(false),
            name: None,
            sample_rate: None,
            vocab: None,
        };
        import_model(dir.path(), &request).unwrap_or_else(|err| panic!("{file}: {err}"));
    }
    dir
}

fn harness(models: &Path, caps: &gst::Caps, props: &str) -> Harness {
    let mut h = Harness::new_parse(&format!(
        "reenactanimate character={} model-dir={} {props}",
        astronaut().display(),
        models.display()
    ));
    h.set_caps(caps.clone(), caps.clone());
    h
}

fn pixels(buffer: &gst::Buffer) -> Vec<u8> {
    buffer.map_readable().expect("map").to_vec()
}

/// `frame` with its picture moved `dx` pixels to the right (edge columns repeated) and its
/// face meta as it was: the performer moved in a crop that did not follow.
fn moved(frame: &gst::Buffer, width: usize, dx: isize) -> gst::Buffer {
    let mut out = frame.copy();
    let src = pixels(frame);
    {
        let out = out.get_mut().expect("writable");
        let mut map = out.map_writable().expect("map");
        let stride = width * 4;
        for (row, line) in map.chunks_exact_mut(stride).enumerate() {
            for x in 0..width {
                let from = (x as isize - dx).clamp(0, width as isize - 1) as usize;
                let i = row * stride + from * 4;
                line[x * 4..x * 4 + 4].copy_from_slice(&src[i..i + 4]);
            }
        }
    }
    out
}

/// The horizontal shift (pixels, within +-40) that best maps `a` onto `b` over rows `rows`
/// and columns `cols` of RGBx frames `width` wide: the lowest mean absolute difference.
fn shift(a: &[u8], b: &[u8], width: usize, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) -> isize {
    let cost = |s: isize| {
        let (mut sum, mut n) = (0u64, 0u64);
        for y in rows.clone() {
            for x in cols.clone() {
                let xs = x as isize - s;
                if xs < 0 || xs >= width as isize {
                    continue;
                }
                let (i, j) = ((y * width + x) * 4, (y * width + xs as usize) * 4);
                sum += (0..3).map(|c| u64::from(b[i + c].abs_diff(a[j + c]))).sum::<u64>();
                n += 1;
            }
        }
        sum as f64 / n.max(1) as f64
    };
    (-40..=40).min_by(|&x, &y| cost(x).total_cmp(&cost(y))).expect("shifts")
}

/// Mean R, G, B over a box of an RGBx frame.
fn mean_rgb(data: &[u8], width: usize, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for y in y0..y1 {
        for x in x0..x1 {
            for (c, s) in sum.iter_mut().enumerate() {
                *s += f64::from(data[(y * width + x) * 4 + c]);
            }
        }
    }
    let n = ((x1 - x0) * (y1 - y0)) as f64;
    sum.map(|s| s / n)
}

/// The character's portrait fitted into a `width` x `height` RGBx frame as the element fits
/// it (nearest pixel).
fn fitted_portrait(width: usize, height: usize) -> Vec<u8> {
    let character = Character::load(astronaut()).expect("character");
    let image = character.portrait_image().expect("portrait");
    let (pw, ph) = (image.width as usize, image.height as usize);
    let s = (width as f32 / pw as f32).min(height as f32 / ph as f32);
    let (ox, oy) = ((width as f32 - pw as f32 * s) / 2.0, (height as f32 - ph as f32 * s) / 2.0);
    let mut out = vec![0u8; width * height * 4];
    for y in 0..height {
        for x in 0..width {
            let (px, py) = ((x as f32 + 0.5 - ox) / s - 0.5, (y as f32 + 0.5 - oy) / s - 0.5);
            if px < 0.0 || py < 0.0 || px > (pw - 1) as f32 || py > (ph - 1) as f32 {
                continue;
            }
            let i = (py.round() as usize * pw + px.round() as usize) * 4;
            out[(y * width + x) * 4..][..3].copy_from_slice(&image.data[i..i + 3]);
        }
    }
    out
}

#[test]
fn the_rest_picture_is_the_portrait_in_its_own_colours() {
    init();
    let models = imported();
    let (caps, frames) = common::tracked(&grid_file(), "RGBx", 1);
    let (width, height) = frame_size(&caps);
    let mut h = harness(models.path(), &caps, "");
    let element = h.find_element("reenactanimate").expect("element");
    let out = pixels(&h.push_and_pull(frames[0].copy()).expect("frame"));
    let want = fitted_portrait(width, height);
    if let Some(dir) = std::env::var_os("ANIMATE_DUMP") {
        std::fs::write(Path::new(&dir).join("out.raw"), &out).expect("dump");
        std::fs::write(Path::new(&dir).join("want.raw"), &want).expect("dump");
    }
    // The portrait's face, well inside the pasted crop: the generated modules give it back
    // averaged over 4 x 4 portrait pixels (2 x 2 frame pixels).
    let face = (width / 2 - 30, height / 2 - 60, width / 2 + 30, height / 2);
    let (got, expected) = (mean_rgb(&out, width, face), mean_rgb(&want, width, face));
    for c in 0..3 {
        assert!((got[c] - expected[c]).abs() < 8.0, "channel {c}: {got:?} vs the portrait's {expected:?}");
    }
    // Reading the planes in BGR order, or bytes as 0..255, would miss by far more.
    assert!((expected[0] - expected[2]).abs() > 25.0, "the test needs a face redder than it is blue: {expected:?}");
    // Outside the portrait (the bars) and away from the pasted crop the frame is the portrait.
    for (x, y) in [(5, height / 2), (width - 5, 5)] {
        let i = (y * width + x) * 4;
        assert_eq!(out[i..i + 3], want[i..i + 3], "({x}, {y})");
    }
    assert_eq!(element.property::<String>("execution-provider"), "CPU");
    assert_eq!(
        element.property::<String>("algorithm"),
        "liveportrait:onnx:appearance_feature_extractor@imported+motion_extractor@imported+\
         warping_spade@imported+stitching@imported"
    );
}

#[test]
fn the_portrait_follows_the_performer_by_half_with_stitching() {
    init();
    let models = imported();
    let (caps, frames) = common::tracked(&grid_file(), "RGBx", 1);
    let (width, height) = frame_size(&caps);
    let first = frames[0].clone();
    let rows = height / 4..height * 3 / 4;
    let cols = width / 4..width * 3 / 4;
    let mut moves = Vec::new();
    for props in ["", "stitching=false"] {
        let mut h = harness(models.path(), &caps, props);
        let rest = pixels(&h.push_and_pull(first.copy()).expect("rest"));
        let right = pixels(&h.push_and_pull(moved(&first, width, 16)).expect("right"));
        let left = pixels(&h.push_and_pull(moved(&first, width, -16)).expect("left"));
        let (r, l) = (
            shift(&rest, &right, width, rows.clone(), cols.clone()),
            shift(&rest, &left, width, rows.clone(), cols.clone()),
        );
        assert!(r > 0 && l < 0, "{props:?}: the portrait moved {r} and {l} for a performer moved 16 and -16");
        moves.push(r - l);
    }
    let (stitched, plain) = (moves[0] as f64, moves[1] as f64);
    assert!(plain >= 8.0, "without stitching the portrait moved {plain} px over a 32 px performer move");
    let ratio = stitched / plain;
    assert!((0.35..=0.65).contains(&ratio), "stitching kept {ratio:.2} of the motion, it takes back half");
}

#[test]
fn frames_without_a_face_keep_the_last_picture() {
    init();
    let models = imported();
    let (caps, frames) = common::tracked(&grid_file(), "RGBx", 1);
    let (width, _) = frame_size(&caps);
    let mut h = harness(models.path(), &caps, "");
    let rest = pixels(&h.push_and_pull(frames[0].copy()).expect("rest"));
    let moved_frame = pixels(&h.push_and_pull(moved(&frames[0], width, 16)).expect("moved"));
    assert_ne!(rest, moved_frame);
    let (caps_plain, plain) = common::decode(&grid_file(), "RGBx", 1);
    assert_eq!(caps_plain, caps);
    let held = pixels(&h.push_and_pull(plain[0].copy()).expect("no face"));
    assert_eq!(held, moved_frame, "a frame without a face shows the last animated picture");
    // A fresh element shows the portrait at rest before any face.
    let mut fresh = harness(models.path(), &caps, "");
    let before = pixels(&fresh.push_and_pull(plain[0].copy()).expect("no face"));
    assert_eq!(before, rest, "the rest picture is the portrait driven by itself");
}

#[test]
fn a_face_after_a_second_without_one_is_the_new_reference() {
    init();
    let models = imported();
    let (caps, frames) = common::tracked(&grid_file(), "RGBx", 1);
    let (width, _) = frame_size(&caps);
    let at = |frame: gst::Buffer, ms: u64| {
        let mut frame = frame;
        frame.make_mut().set_pts(gst::ClockTime::from_mseconds(ms));
        frame
    };
    let mut h = harness(models.path(), &caps, "");
    let rest = pixels(&h.push_and_pull(at(frames[0].copy(), 0)).expect("rest"));
    let moved_frame = moved(&frames[0], width, 16);
    let followed = pixels(&h.push_and_pull(at(moved_frame.copy(), 40)).expect("moved"));
    assert_ne!(followed, rest, "the portrait follows within a second");
    let still = pixels(&h.push_and_pull(at(moved_frame.copy(), 900)).expect("moved"));
    assert_eq!(still, followed, "same face, same picture");
    let back = pixels(&h.push_and_pull(at(moved_frame, 2_000)).expect("moved again"));
    assert_eq!(back, rest, "after 1.1 s without a face the performer's pose is the neutral one again");
}

fn start_error(models: &Path, props: &str) -> String {
    let element = gst::ElementFactory::make("reenactanimate").build().expect("element");
    element.set_property("character", astronaut().to_str().expect("utf-8"));
    element.set_property("model-dir", models.to_str().expect("utf-8"));
    for pair in props.split_whitespace() {
        let (key, value) = pair.split_once('=').expect("key=value");
        element.set_property_from_str(key, value);
    }
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("videotestsrc").property("num-buffers", 1).build().expect("src");
    let sink = gst::ElementFactory::make("fakesink").build().expect("sink");
    pipeline.add_many([&src, &element, &sink]).expect("add");
    gst::Element::link_many([&src, &element, &sink]).expect("link");
    let _ = pipeline.set_state(gst::State::Paused);
    let bus = pipeline.bus().expect("bus");
    let message = bus.timed_pop_filtered(gst::ClockTime::from_seconds(20), &[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).expect("null");
    let message = message.unwrap_or_else(|| panic!("no error for {props:?}"));
    let gst::MessageView::Error(err) = message.view() else { unreachable!() };
    format!("{} {:?}", err.error(), err.debug())
}

#[test]
fn missing_and_misshapen_modules_are_start_errors_naming_them() {
    init();
    let empty = tempfile::tempdir().expect("dir");
    // The shared catalog has no LivePortrait modules.
    let err = start_error(empty.path(), "");
    assert!(err.contains("no LivePortrait appearance module"), "{err}");
    assert!(err.contains("--as portrait-animation"), "{err}");

    let models = imported();
    Graph::new()
        .input("feature_3d", &[1, 32, 16, 64, 64])
        .input("kp_source", &[1, 21, 3])
        .input("kp_driving", &[1, 21, 3])
        .output("out", &[1, 3, 256, 256])
        .node("Identity", &["feature_3d"], &["out"], &[])
        .install(models.path(), "small_warping", "portrait_warping")
        .expect("install");
    let err = start_error(models.path(), "warping-model=small_warping");
    assert!(err.contains("warping model `small_warping`"), "{err}");
    assert!(err.contains("[1, 3, 512, 512]"), "{err}");
    let err = start_error(models.path(), "motion-model=nonexistent");
    assert!(err.contains("nonexistent"), "{err}");
}

#[test]
fn every_property_default_is_inside_its_range() {
    init();
    let element = gst::ElementFactory::make("reenactanimate").build().expect("element");
    let mut checked = 0;
    for pspec in element.list_properties() {
        if pspec.owner_type() != element.type_() {
            continue;
        }
        let name = pspec.name();
        if let Some(p) = pspec.downcast_ref::<glib::ParamSpecUInt>() {
            assert!((p.minimum()..=p.maximum()).contains(&p.default_value()), "{name}");
        }
        assert_eq!(
            element.property_value(name).serialize().ok(),
            pspec.default_value().serialize().ok(),
            "{name} starts at its default"
        );
        checked += 1;
    }
    assert_eq!(checked, 12, "the documented properties");
    assert_eq!(element.property::<String>("execution-provider"), "none");
    assert!(element.property::<bool>("stitching"));
    assert!(element.property::<bool>("relative"));
}

#[test]
fn a_buffer_smaller_than_its_caps_is_a_stream_error_naming_the_format() {
    init();
    let models = imported();
    let (caps, frames) = common::decode(&grid_file(), "RGBx", 1);
    let mut h = harness(models.path(), &caps, "");
    let bus = gst::Bus::new();
    h.element().expect("element").set_bus(Some(&bus));
    let whole = frames[0].size();
    let short = gst::Buffer::with_size(whole / 2).expect("buffer");
    assert_eq!(h.push(short), Err(gst::FlowError::Error), "half a frame is not drawn into");
    let message = bus.pop_filtered(&[gst::MessageType::Error]).expect("an error on the bus");
    let gst::MessageView::Error(err) = message.view() else { unreachable!() };
    let said = format!("{} {:?}", err.error(), err.debug());
    assert!(said.contains("cannot map the buffer as Rgbx"), "{said}");
}
