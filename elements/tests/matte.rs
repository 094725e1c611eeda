// SPDX-License-Identifier: MPL-2.0
//! `reenactmatte` on real media: the synthetic presenter clip (astronaut portrait at
//! x = 280..1000 on dark grey: the person is inside, the grey columns are background), and the
//! element's contract (caps, PTS/duration, latency, errors, property defaults).

mod common;

use common::init;

use gst::glib;
use gst::prelude::*;
use gst_check::Harness;

/// The first `count` frames of the presenter clip as `format` buffers and their caps.
fn presenter(format: &str, count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    common::decode(&common::presenter_file(), format, count)
}

fn harness(caps: &gst::Caps, props: &str) -> Harness {
    let mut h = Harness::new_parse(&format!("reenactmatte {props}"));
    h.set_caps(caps.clone(), caps.clone());
    h
}

/// Mean of byte `channel` over the rectangle x0..x1, y0..y1 of a 1280-wide 4-byte frame.
fn mean(data: &[u8], channel: usize, (x0, x1): (usize, usize), (y0, y1): (usize, usize)) -> f64 {
    let mut sum = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            sum += u64::from(data[(y * 1280 + x) * 4 + channel]);
        }
    }
    sum as f64 / ((x1 - x0) * (y1 - y0)) as f64
}

/// Mean absolute difference of the colour bytes of two 1280-wide frames over a rectangle.
fn diff(a: &[u8], b: &[u8], (x0, x1): (usize, usize), (y0, y1): (usize, usize)) -> f64 {
    let mut sum = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = (y * 1280 + x) * 4;
            sum += (0..3).map(|c| u64::from(a[i + c].abs_diff(b[i + c]))).sum::<u64>();
        }
    }
    sum as f64 / (3 * (x1 - x0) * (y1 - y0)) as f64
}

// Astronaut photo regions (SOURCE.md of the model, 512 px photo scaled by 720/512, shifted by 280).
const FACE: ((usize, usize), (usize, usize)) = ((550, 640), (130, 235));
const TORSO: ((usize, usize), (usize, usize)) = ((380, 640), (430, 630));
const LEFT: ((usize, usize), (usize, usize)) = ((0, 250), (0, 720));
const RIGHT: ((usize, usize), (usize, usize)) = ((1030, 1280), (0, 720));

#[test]
fn alpha_covers_the_person_and_not_the_background() {
    init();
    let (caps, frames) = presenter("RGBA", 4);
    let mut h = harness(&caps, "mode=alpha");
    for frame in frames {
        let (pts, duration) = (frame.pts(), frame.duration());
        let out = h.push_and_pull(frame).expect("buffer out");
        assert_eq!((out.pts(), out.duration()), (pts, duration), "timestamps kept");
        let map = out.map_readable().expect("map");
        let a = |(x, y)| mean(&map, 3, x, y) / 255.0;
        let (face, torso, left, right) = (a(FACE), a(TORSO), a(LEFT), a(RIGHT));
        assert!(face > 0.6 && torso > 0.6, "person: face {face:.3}, torso {torso:.3}");
        assert!(left < 0.3 && right < 0.3, "background: left {left:.3}, right {right:.3}");
    }
}

#[test]
fn blur_softens_the_background_and_keeps_the_face() {
    init();
    let (caps, frames) = presenter("RGBx", 1);
    let mut input = frames[0].copy();
    {
        // Vertical 8 px black/white stripes on the left background, where blur must show.
        let input = input.get_mut().expect("writable");
        let mut map = input.map_writable().expect("map");
        for y in 0..720 {
            for x in 0..240 {
                let v = if (x / 8) % 2 == 0 { 0 } else { 255 };
                map[(y * 1280 + x) * 4..][..3].fill(v);
            }
        }
    }
    let mut h = harness(&caps, "mode=blur blur-strength=24");
    let out = h.push_and_pull(input.copy()).expect("buffer out");
    let (a, b) = (input.map_readable().expect("map"), out.map_readable().expect("map"));
    let changed = diff(&a, &b, (16, 220), (20, 700));
    let face = diff(&a, &b, FACE.0, FACE.1);
    assert!(changed > 40.0, "stripes blurred: mean change {changed:.1}");
    assert!(face < 3.0, "face kept: mean change {face:.2}");
}

#[test]
fn replace_paints_the_background_in_the_colour() {
    init();
    let (caps, frames) = presenter("BGRx", 2);
    let mut h = harness(&caps, "mode=replace background-color=0xff0000ff");
    for frame in frames {
        let input = frame.copy();
        let out = h.push_and_pull(frame).expect("buffer out");
        let (a, b) = (input.map_readable().expect("map"), out.map_readable().expect("map"));
        for region in [LEFT, RIGHT] {
            // BGRx: blue is byte 0.
            let (blue, green, red) =
                (mean(&b, 0, region.0, region.1), mean(&b, 1, region.0, region.1), mean(&b, 2, region.0, region.1));
            assert!(blue > 240.0 && green < 15.0 && red < 15.0, "background blue: {blue:.1} {green:.1} {red:.1}");
        }
        let face = diff(&a, &b, FACE.0, FACE.1);
        assert!(face < 5.0, "face kept: mean change {face:.2}");
    }
}

#[test]
fn replace_with_an_image_file() {
    init();
    let path = std::env::temp_dir().join(format!("reenact-matte-bg-{}.jpg", std::process::id()));
    let encode = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 pattern=red ! video/x-raw,width=64,height=36 ! jpegenc ! filesink location={}",
        path.display()
    ))
    .expect("encoder");
    encode.set_state(gst::State::Playing).expect("playing");
    let bus = encode.bus().expect("bus");
    assert!(bus.timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Eos]).is_some());
    encode.set_state(gst::State::Null).expect("null");

    let (caps, frames) = presenter("RGBx", 1);
    let mut h = harness(&caps, &format!("mode=replace background-image={}", path.display()));
    let out = h.push_and_pull(frames[0].copy()).expect("buffer out");
    let map = out.map_readable().expect("map");
    let (r, g, b) = (mean(&map, 0, LEFT.0, LEFT.1), mean(&map, 1, LEFT.0, LEFT.1), mean(&map, 2, LEFT.0, LEFT.1));
    assert!(r > 200.0 && g < 40.0 && b < 40.0, "background red: {r:.1} {g:.1} {b:.1}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_missing_background_image_is_an_error_naming_the_file() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=2 ! video/x-raw,format=RGBx,width=64,height=64 ! reenactmatte mode=replace background-image=/nonexistent/bg.png ! fakesink",
    )
    .expect("pipeline");
    let result = pipeline.set_state(gst::State::Playing);
    let bus = pipeline.bus().expect("bus");
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Error]).expect("error");
    pipeline.set_state(gst::State::Null).expect("null");
    assert!(result.is_err(), "start fails");
    let gst::MessageView::Error(err) = msg.view() else { unreachable!() };
    let text = format!("{} {:?}", err.error(), err.debug());
    assert!(text.contains("/nonexistent/bg.png") && text.contains("background-image"), "{text}");
}

#[test]
fn mask_interval_reuses_the_mask() {
    init();
    let (caps, frames) = presenter("RGBA", 3);
    let mut h = harness(&caps, "mode=alpha mask-interval=1000");
    for frame in frames {
        let out = h.push_and_pull(frame).expect("buffer out");
        let map = out.map_readable().expect("map");
        assert!(mean(&map, 3, FACE.0, FACE.1) > 150.0 && mean(&map, 3, LEFT.0, LEFT.1) < 80.0);
    }
}

#[test]
fn latency_query_is_answered_with_upstream_values() {
    init();
    let mut h = Harness::new_parse(
        "videotestsrc is-live=true ! video/x-raw,format=RGBA,width=320,height=240,framerate=25/1 ! reenactmatte",
    );
    h.use_systemclock();
    h.play();
    h.pull().expect("first buffer");
    let element = h.find_element("reenactmatte").expect("element");
    let mut q = gst::query::Latency::new();
    assert!(element.static_pad("src").expect("src pad").query(&mut q), "latency answered");
    let ours = q.result();
    let mut upstream = gst::query::Latency::new();
    assert!(element.static_pad("sink").expect("sink pad").peer_query(&mut upstream));
    assert!(ours.0, "live kept");
    assert_eq!(ours, upstream.result(), "in place: nothing added to upstream's latency");
}

#[test]
fn caps_outside_the_template_are_refused() {
    init();
    let element = gst::ElementFactory::make("reenactmatte").build().expect("element");
    let sink = element.static_pad("sink").expect("sink pad");
    let accepts = |s: &str| sink.query_accept_caps(&s.parse::<gst::Caps>().expect("caps"));
    assert!(accepts("video/x-raw,format=RGBA,width=64,height=64,framerate=25/1"));
    assert!(accepts("video/x-raw,format=BGRx,width=64,height=64,framerate=25/1"));
    assert!(!accepts("video/x-raw,format=RGB,width=64,height=64,framerate=25/1"));
    assert!(!accepts("video/x-raw,format=I420,width=64,height=64,framerate=25/1"));
}

#[test]
fn every_property_default_is_inside_its_range() {
    init();
    let element = gst::ElementFactory::make("reenactmatte").build().expect("element");
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
            assert_eq!(element.property_value(name).serialize().ok(), pspec.default_value().serialize().ok(), "{name}");
        } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecString>() {
            assert_eq!(p.default_value(), None, "{name}");
            assert_eq!(element.property::<Option<String>>(name), None, "{name}");
        } else {
            panic!("{name}: unexpected type");
        }
        checked += 1;
    }
    assert_eq!(checked, 9);
    assert_eq!(element.property_value("mode").serialize().ok().as_deref(), Some("blur"));
}
