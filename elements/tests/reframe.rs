// SPDX-License-Identifier: MPL-2.0
//! `reenactreframe`: following the presenter's face found by `reenactfacetrack`, the centred
//! crop without a face, the bounded and jitter-free camera on synthetic face metas, caps and
//! timestamps. Synthetic frames code each column in the pixels (R = x & 255, G = x >> 8), so
//! the first pixel of a crop tells where it was taken.

mod common;

use common::init;

use gst::glib;
use gst::prelude::*;
use gst_check::Harness;
use gstreenact::facemeta::{Face, FaceBox, FaceMeta, KEYPOINT_COUNT};

const CAPS: &str = "video/x-raw,format=RGBx,width=1280,height=720,framerate=25/1";

/// A 1280x720 RGBx frame whose pixels code their column, with PTS `n` frames at 25 fps and,
/// if given, a face meta with one face centred at `face`.
fn coded_frame(n: u64, face: Option<(f32, f32)>) -> gst::Buffer {
    let mut data = vec![0u8; 1280 * 720 * 4];
    for row in data.chunks_exact_mut(1280 * 4) {
        for (x, px) in row.chunks_exact_mut(4).enumerate() {
            px[0] = (x & 255) as u8;
            px[1] = (x >> 8) as u8;
        }
    }
    let mut buffer = gst::Buffer::from_mut_slice(data);
    {
        let buffer = buffer.get_mut().expect("writable");
        buffer.set_pts(gst::ClockTime::from_mseconds(40 * n));
        buffer.set_duration(gst::ClockTime::from_mseconds(40));
        if let Some((cx, cy)) = face {
            let face = Face {
                track_id: 1,
                confidence: 0.9,
                bbox: FaceBox { x: cx - 50.0, y: cy - 60.0, w: 100.0, h: 120.0 },
                landmarks: Vec::new(),
                keypoints: [(cx, cy); KEYPOINT_COUNT],
            };
            FaceMeta::add(buffer, 1280, 720, vec![face]);
        }
    }
    buffer
}

/// The source column of the crop's first pixel.
fn crop_x(out: &gst::Buffer) -> u32 {
    let map = out.map_readable().expect("map");
    u32::from(map[0]) | (u32::from(map[1]) << 8)
}

/// The first `count` frames of the presenter clip as RGBx buffers and their caps.
fn presenter(count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    common::decode(&common::presenter_file(), "RGBx", count)
}

fn out_size(h: &Harness) -> (i32, i32) {
    let caps = h.sinkpad().expect("sink pad").current_caps().expect("caps");
    let s = caps.structure(0).expect("structure");
    (s.get("width").expect("width"), s.get("height").expect("height"))
}

#[test]
fn the_presenter_face_stays_in_the_middle_third() {
    init();
    let (caps, frames) = presenter(20);
    let mut h = Harness::new_parse("reenactfacetrack ! reenactreframe aspect=9:16");
    h.set_src_caps(caps);
    for (n, frame) in frames.into_iter().enumerate() {
        let pts = frame.pts();
        let out = h.push_and_pull(frame).expect("buffer out");
        assert_eq!(out.pts(), pts, "PTS kept");
        assert_eq!(out_size(&h), (404, 720));
        assert_eq!(out.size(), 404 * 720 * 4);
        let meta = out.meta::<FaceMeta>().expect("face meta moved into the crop");
        assert_eq!((meta.width(), meta.height()), (404, 720));
        if n < 3 {
            continue;
        }
        assert_eq!(meta.faces().len(), 1, "frame {n}");
        let (cx, _) = meta.faces()[0].bbox.centre();
        assert!(cx > 404.0 / 3.0 && cx < 2.0 * 404.0 / 3.0, "frame {n}: face centre x {cx} in the crop");
    }
}

#[test]
fn no_face_gives_a_centred_crop() {
    init();
    let mut h = Harness::new("reenactreframe");
    h.set_src_caps_str(CAPS);
    for n in 0..5 {
        let out = h.push_and_pull(coded_frame(n, None)).expect("buffer out");
        assert_eq!(crop_x(&out), (1280 - 404) / 2);
        assert_eq!(out.pts(), Some(gst::ClockTime::from_mseconds(40 * n)), "PTS kept");
        assert_eq!(out.duration(), Some(gst::ClockTime::from_mseconds(40)), "duration kept");
    }
    let mut grey = Harness::new_parse("videotestsrc num-buffers=3 pattern=solid-color foreground-color=0xff404040 ! video/x-raw,format=RGB,width=640,height=360 ! reenactfacetrack ! reenactreframe aspect=1:1");
    grey.play();
    for _ in 0..3 {
        let out = grey.pull().expect("buffer");
        assert_eq!(out_size(&grey), (360, 360));
        assert!(out.meta::<FaceMeta>().expect("meta").faces().is_empty());
    }
}

#[test]
fn the_camera_holds_in_the_dead_zone_and_pans_at_bounded_speed() {
    init();
    let mut h = Harness::new_parse("reenactreframe aspect=9:16 dead-zone=0.1 max-speed=0.5");
    h.set_src_caps_str(CAPS);
    let bound = 0.5 * 1280.0 / 25.0 + 1.0;
    let mut n = 0;
    let mut push = |h: &mut Harness, face: (f32, f32)| {
        let out = h.push_and_pull(coded_frame(n, Some(face))).expect("buffer out");
        n += 1;
        crop_x(&out)
    };
    let start = push(&mut h, (400.0, 300.0));
    assert_eq!(start, 400 - 202, "starts on the face");
    // Jitter within the dead zone (0.1 x 404 = 40 px): the crop does not move at all.
    for dx in [3.0, -7.0, 12.0, -20.0, 30.0, -35.0, 0.0] {
        assert_eq!(push(&mut h, (400.0 + dx, 300.0 + dx)), start, "jitter {dx}");
    }
    // The face jumps right: the crop follows no faster than the bound, then settles.
    let mut x = start;
    let mut xs = Vec::new();
    for _ in 0..80 {
        let next = push(&mut h, (900.0, 300.0));
        assert!(f64::from(next.abs_diff(x)) <= bound, "pan {x} -> {next}");
        xs.push(next);
        x = next;
    }
    assert!(xs.windows(2).all(|w| w[1] >= w[0]), "monotonic pan: {xs:?}");
    let settled = x;
    assert!((900 - 202 - 41..=900 - 202 - 39).contains(&settled), "face at the dead zone edge: {settled}");
    for _ in 0..5 {
        assert_eq!(push(&mut h, (880.0, 310.0)), settled, "at rest, face back inside the dead zone");
    }
}

#[test]
fn caps_follow_the_aspect() {
    init();
    for (aspect, size) in [("9:16", (404, 720)), ("1:1", (720, 720)), ("16:9", (1280, 720))] {
        let mut h = Harness::new_parse(&format!("reenactreframe aspect={aspect}"));
        h.set_src_caps_str(CAPS);
        let out = h.push_and_pull(coded_frame(0, None)).expect("buffer out");
        assert_eq!(out_size(&h), size, "{aspect}");
        assert_eq!(out.size(), (size.0 * size.1 * 4) as usize);
    }
    let element = gst::ElementFactory::make("reenactreframe").build().expect("element");
    let sink = element.static_pad("sink").expect("sink pad");
    assert!(!sink.query_accept_caps(&"video/x-raw,format=I420,width=64,height=64".parse().expect("caps")));
}

#[test]
fn latency_query_is_answered_with_upstream_values() {
    init();
    let mut h = Harness::new_parse(
        "videotestsrc is-live=true ! video/x-raw,format=RGBx,width=320,height=240,framerate=25/1 ! reenactreframe",
    );
    h.use_systemclock();
    h.play();
    h.pull().expect("first buffer");
    let element = h.find_element("reenactreframe").expect("element");
    let mut q = gst::query::Latency::new();
    assert!(element.static_pad("src").expect("src pad").query(&mut q), "latency answered");
    let mut upstream = gst::query::Latency::new();
    assert!(element.static_pad("sink").expect("sink pad").peer_query(&mut upstream));
    assert_eq!(q.result(), upstream.result());
}

#[test]
fn every_property_default_is_inside_its_range() {
    init();
    let element = gst::ElementFactory::make("reenactreframe").build().expect("element");
    let mut checked = 0;
    for pspec in element.list_properties() {
        if pspec.owner_type() != element.type_() {
            continue;
        }
        let name = pspec.name();
        if let Some(p) = pspec.downcast_ref::<glib::ParamSpecUInt>() {
            assert!((p.minimum()..=p.maximum()).contains(&p.default_value()), "{name}");
            assert_eq!(element.property::<u32>(name), p.default_value(), "{name}");
        } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecDouble>() {
            assert!((p.minimum()..=p.maximum()).contains(&p.default_value()), "{name}");
            assert_eq!(element.property::<f64>(name), p.default_value(), "{name}");
        } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecEnum>() {
            assert!(p.enum_class().value(p.default_value_as_i32()).is_some(), "{name}");
        } else {
            panic!("{name}: unexpected type");
        }
        checked += 1;
    }
    assert_eq!(checked, 5);
    assert_eq!(element.property_value("aspect").serialize().ok().as_deref(), Some("9:16"));
}
