// SPDX-License-Identifier: MPL-2.0
//! `reenactfacetrack` on real media: the synthetic presenter clip (astronaut portrait at
//! x = 280..1000 on dark grey), a frame without a person, and the element's contract (caps,
//! PTS/duration, latency, property defaults).

mod common;

use std::path::{Path, PathBuf};

use common::init;

use gst::glib;
use gst::prelude::*;
use gst_check::Harness;
use gstreenact::facemeta::{FaceMeta, LANDMARK_COUNT};

fn presenter() -> PathBuf {
    common::presenter_file()
}

fn decode(file: &Path, count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    common::decode(file, "RGBx", count)
}

fn harness(caps: &gst::Caps, props: &str) -> Harness {
    let mut h = Harness::new_parse(&format!("reenactfacetrack {props}"));
    h.set_caps(caps.clone(), caps.clone());
    h
}

#[test]
fn presenter_face_is_found_with_landmarks_and_stable_id() {
    init();
    let (caps, frames) = decode(&presenter(), 12);
    assert_eq!(frames.len(), 12);
    let mut h = harness(&caps, "");
    let mut ids = Vec::new();
    for frame in frames {
        let (pts, duration) = (frame.pts(), frame.duration());
        let out = h.push_and_pull(frame).expect("buffer out");
        assert_eq!((out.pts(), out.duration()), (pts, duration), "timestamps kept");
        let meta = out.meta::<FaceMeta>().expect("face meta on every buffer");
        assert_eq!((meta.width(), meta.height()), (1280, 720));
        assert_eq!(meta.faces().len(), 1, "one face at {pts:?}: {meta:?}");
        let face = &meta.faces()[0];
        let b = face.bbox;
        // Portrait x 280..1000; the astronaut's face (SOURCE.md box 177..272 x 81..175 in the
        // 512 px photo, scaled by 720/512) lies around x 529..662, y 114..246.
        assert!(b.x >= 280.0 && b.x + b.w <= 1000.0, "box inside the portrait: {b:?}");
        assert!((480.0..580.0).contains(&b.x) && (610.0..720.0).contains(&(b.x + b.w)), "box around the face: {b:?}");
        assert!((60.0..160.0).contains(&b.y) && (200.0..300.0).contains(&(b.y + b.h)), "box around the face: {b:?}");
        assert!(face.confidence > 0.5, "{}", face.confidence);
        assert_eq!(face.landmarks.len(), LANDMARK_COUNT);
        for p in &face.landmarks {
            assert!(p[0] >= b.x - 0.5 && p[0] <= b.x + b.w + 0.5 && p[1] >= b.y - 0.5 && p[1] <= b.y + b.h + 0.5);
        }
        for k in &face.keypoints[..4] {
            assert!(k.0 > b.x && k.0 < b.x + b.w && k.1 > b.y && k.1 < b.y + b.h, "keypoint {k:?} in {b:?}");
        }
        ids.push(face.track_id);
    }
    assert!(ids.iter().all(|&id| id == ids[0]), "stable track id: {ids:?}");
}

#[test]
fn no_face_on_a_frame_without_a_person() {
    init();
    let mut h = Harness::new_parse("videotestsrc num-buffers=6 pattern=smpte ! video/x-raw,format=BGRx,width=640,height=360 ! reenactfacetrack detect-interval=1");
    h.play();
    for _ in 0..6 {
        let out = h.pull().expect("buffer");
        let meta = out.meta::<FaceMeta>().expect("meta even without faces");
        assert!(meta.faces().is_empty(), "{meta:?}");
    }
    let mut grey = Harness::new_parse("videotestsrc num-buffers=3 pattern=solid-color foreground-color=0xff404040 ! video/x-raw,format=RGB,width=320,height=240 ! reenactfacetrack");
    grey.play();
    for _ in 0..3 {
        let out = grey.pull().expect("buffer");
        assert!(out.meta::<FaceMeta>().expect("meta").faces().is_empty());
    }
}

#[test]
fn draw_paints_into_the_frame() {
    init();
    let (caps, frames) = decode(&presenter(), 1);
    let mut h = harness(&caps, "draw=true");
    let input = frames[0].clone();
    let out = h.push_and_pull(frames[0].copy()).expect("buffer out");
    let (a, b) = (input.map_readable().expect("map"), out.map_readable().expect("map"));
    let changed = a.iter().zip(b.iter()).filter(|(x, y)| x != y).count();
    assert!(changed > 500, "{changed} bytes changed");
}

#[test]
fn latency_query_is_answered_with_upstream_values() {
    init();
    let mut h = Harness::new_parse(
        "videotestsrc is-live=true ! video/x-raw,format=RGBx,width=320,height=240,framerate=25/1 ! reenactfacetrack",
    );
    h.use_systemclock();
    h.play();
    h.pull().expect("first buffer");
    let element = h.find_element("reenactfacetrack").expect("element");
    let mut q = gst::query::Latency::new();
    assert!(element.static_pad("src").expect("src pad").query(&mut q), "latency answered");
    let ours = q.result();
    let mut upstream = gst::query::Latency::new();
    assert!(element.static_pad("sink").expect("sink pad").peer_query(&mut upstream));
    assert!(ours.0, "live kept");
    assert_eq!(ours, upstream.result(), "in place: nothing added to upstream's latency");
    assert_eq!(ours.1, gst::ClockTime::from_mseconds(40), "videotestsrc's one frame at 25 fps");
}

#[test]
fn caps_outside_the_template_are_refused() {
    init();
    let element = gst::ElementFactory::make("reenactfacetrack").build().expect("element");
    let sink = element.static_pad("sink").expect("sink pad");
    let accepts = |s: &str| sink.query_accept_caps(&s.parse::<gst::Caps>().expect("caps"));
    assert!(accepts("video/x-raw,format=BGRx,width=64,height=64,framerate=25/1"));
    assert!(!accepts("video/x-raw,format=I420,width=64,height=64,framerate=25/1"));
}

#[test]
fn every_property_default_is_inside_its_range() {
    init();
    let element = gst::ElementFactory::make("reenactfacetrack").build().expect("element");
    let mut checked = 0;
    for pspec in element.list_properties() {
        if pspec.owner_type() != element.type_() {
            continue;
        }
        let default = pspec.default_value();
        let name = pspec.name();
        if let Some(p) = pspec.downcast_ref::<glib::ParamSpecUInt>() {
            assert!((p.minimum()..=p.maximum()).contains(&p.default_value()), "{name}");
        } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecDouble>() {
            assert!((p.minimum()..=p.maximum()).contains(&p.default_value()), "{name}");
        } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecEnum>() {
            assert!(p.enum_class().value(p.default_value_as_i32()).is_some(), "{name}");
        } else {
            assert!(pspec.downcast_ref::<glib::ParamSpecBoolean>().is_some(), "{name}: unexpected type");
        }
        assert_eq!(element.property_value(name).type_(), default.type_(), "{name}");
        assert_eq!(
            element.property_value(name).serialize().ok(),
            default.serialize().ok(),
            "{name} starts at its default"
        );
        checked += 1;
    }
    assert_eq!(checked, 8);
    assert_eq!(element.property::<u32>("detect-interval"), 5);
}
