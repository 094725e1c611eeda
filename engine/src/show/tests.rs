// SPDX-License-Identifier: MPL-2.0
//! One description, two builders: the live graph and the render run the same
//! elements in the same order with the same properties.

use std::path::PathBuf;

use gst::prelude::*;

use super::*;
use crate::preset::PresetLibrary;

/// Two characters (one with a voice) in one scene, lip-sync, tracking for a
/// face crop and a blurred background.
fn show() -> Show {
    let scene = Switch::Scenes(vec![(1.0, 2.0)]);
    let character = |name: &str, has_voice| Character {
        name: name.into(),
        file: PathBuf::from(format!("/characters/{name}.character.json")),
        has_voice,
        animates: false,
        on: scene.clone(),
    };
    let source = Source::Live { input: crate::live::LiveSource::Test, mic: None };
    Show {
        characters: vec![character("ada", true), character("bo", false)],
        lips: vec![Lips { mouth: Mouth::Face, on: scene.clone() }],
        track_faces: true,
        matte: Some(Matte { background: Some(Background::Blur { strength: 12 }) }),
        hold_occluders: true,
        ..Show::new(source, vec![Output::Preview { encoder: live_preset(), framing: None }])
    }
}

fn live_preset() -> crate::preset::Preset {
    PresetLibrary::builtin().unwrap().get("live-720p").unwrap().clone()
}

/// A timeline of one whole file, as a render resolves it.
fn timeline(path: &str) -> Source {
    let info = crate::media::MediaInfo {
        path: path.into(),
        container: None,
        duration_s: 4.0,
        video: Some(crate::media::VideoStream {
            codec: "h264".into(),
            width: 640,
            height: 360,
            fps_num: 25,
            fps_den: 1,
        }),
        audio: None,
        title: None,
        comment: None,
    };
    Source::Timeline(std::sync::Arc::new(crate::render::plan::Plan {
        sources: vec![info.clone()],
        clips: Vec::new(),
        duration_s: 4.0,
        width: 640,
        height: 360,
        fps: gst::Fraction::new(25, 1),
        direct: Some(info),
    }))
}

fn init() {
    crate::media::init().expect("GStreamer and our elements");
}

/// Our elements downstream of `from`, in link order.
fn ours_after(from: &gst::Element) -> Vec<gst::Element> {
    let mut found = Vec::new();
    let mut element = from.clone();
    while let Some(next) = element.src_pads().into_iter().find_map(|pad| pad.peer()?.parent_element()) {
        if next.factory().is_some_and(|f| f.name().starts_with("reenact")) {
            found.push(next.clone());
        }
        element = next;
    }
    found
}

#[track_caller]
fn assert_made(made: &[gst::Element], plan: &Plan) {
    let factories = |e: &gst::Element| e.factory().map(|f| f.name().to_string()).unwrap_or_default();
    assert_eq!(
        made.iter().map(factories).collect::<Vec<_>>(),
        plan.steps.iter().map(|s| s.factory.to_owned()).collect::<Vec<_>>()
    );
    for (element, step) in made.iter().zip(&plan.steps) {
        assert!(step.matches(element), "{} does not have the properties of {step:?}", element.name());
    }
}

/// The input the live builder links from.
fn live_input(pipeline: &gst::Pipeline) -> gst::Element {
    let input = gst::ElementFactory::make("identity").build().unwrap();
    pipeline.add(&input).unwrap();
    input
}

#[test]
fn the_chain_has_one_canonical_order() {
    let factories: Vec<_> = show().video_plan().unwrap().steps.iter().map(|s| s.factory).collect();
    assert_eq!(
        factories,
        [f::REENACTFACETRACK, f::REENACTFACESWAP, f::REENACTFACESWAP, f::REENACTLIPSYNC, f::REENACTMATTE]
    );
    let voices: Vec<_> = show().audio_plan().steps.iter().map(|s| s.part).collect();
    assert_eq!(voices, [Part::Voice(0)], "only the character with a voice profile");
}

#[test]
fn live_and_offline_builders_make_the_same_picture_chain() {
    init();
    let show = show();
    let plan = show.video_plan().unwrap();
    let preset = live_preset();

    let live = gst::Pipeline::new();
    let input = live_input(&live);
    crate::live::graph::add_video(&live, &input, &preset, &show, false).unwrap();
    assert_made(&ours_after(&input), &plan);

    let offline = gst::Pipeline::new();
    let chain = crate::render::cast::add_video(&offline, &show).unwrap().expect("a chain");
    assert_made(&ours_after(&chain.first), &plan);
}

#[test]
fn live_and_offline_builders_make_the_same_voices() {
    init();
    let show = show();
    let plan = show.audio_plan();
    let preset = live_preset();

    let live = gst::Pipeline::new();
    let input = live_input(&live);
    crate::live::graph::add_audio(&live, &input, &preset, &show).unwrap();
    assert_made(&ours_after(&input), &plan);

    let offline = gst::Pipeline::new();
    let (first, _, _) = crate::render::cast::add_audio(&offline, &show, false).unwrap().expect("a voice chain");
    assert_made(&ours_after(&first), &plan);
}

#[test]
fn one_face_tracker_serves_swaps_lips_and_crops() {
    init();
    let offline = gst::Pipeline::new();
    crate::render::cast::add_video(&offline, &show()).unwrap();
    let trackers =
        offline.children().iter().filter(|e| e.factory().is_some_and(|f| f.name() == f::REENACTFACETRACK)).count();
    assert_eq!(trackers, 1);
}

#[test]
fn an_animated_portrait_takes_its_character_s_place_in_both_builders() {
    init();
    let mut show = show();
    show.characters[1].animates = true;
    let plan = show.video_plan().unwrap();
    let factories: Vec<_> = plan.steps.iter().map(|s| s.factory).collect();
    assert_eq!(
        factories,
        [f::REENACTFACETRACK, f::REENACTFACESWAP, f::REENACTANIMATE, f::REENACTLIPSYNC, f::REENACTMATTE]
    );
    assert!(plan.steps[1].properties.iter().any(|(name, _)| *name == "occlusion-mask"), "the swap holds occluders");
    assert!(plan.steps[2].properties.iter().all(|(name, _)| *name == "character"), "{:?}", plan.steps[2]);
    assert!(show.to_string().contains("reenactfaceswap[ada] ! reenactanimate[bo] ! reenactlipsync"), "{show}");

    let live = gst::Pipeline::new();
    let input = live_input(&live);
    crate::live::graph::add_video(&live, &input, &live_preset(), &show, false).unwrap();
    assert_made(&ours_after(&input), &plan);
    let offline = gst::Pipeline::new();
    let chain = crate::render::cast::add_video(&offline, &show).unwrap().expect("a chain");
    assert_made(&ours_after(&chain.first), &plan);
}

#[test]
fn a_show_reads_from_its_source_to_its_outputs() {
    let mut show = show();
    show.source = Source::Live { input: "camera:/dev/video0".parse().unwrap(), mic: Some("default".into()) };
    show.outputs.push(Output::Live("rtmp://live.example/app/secret-key".parse().unwrap()));
    show.outputs.push(Output::Live("record:/shows/take1.mp4".parse().unwrap()));
    assert_eq!(
        show.to_string(),
        "camera:/dev/video0 + mic:default \
         | picture: reenactfacetrack ! reenactfaceswap[ada] ! reenactfaceswap[bo] ! reenactlipsync ! reenactmatte \
         | sound: reenactvoice[ada] | to: preview, rtmp://live.example, record:/shows/take1.mp4"
    );
    assert!(!format!("{show:?}").contains("secret-key"), "a stream key stays out of logs");
}

#[test]
fn a_dub_reads_first_in_the_sound_live_and_offline() {
    let mut live = show();
    live.dubs.push(Dub { language: "en".into(), when: DubTiming::Delayed(std::time::Duration::from_millis(8500)) });
    assert!(live.to_string().contains("| sound: dub[en, 8.5 s behind] ! reenactvoice[ada] |"), "{live}");

    let mut offline = show();
    offline.source = timeline("/media/talk.mp4");
    offline.characters.iter_mut().for_each(|c| c.has_voice = false);
    offline.dubs = vec![
        Dub { language: "es".into(), when: DubTiming::Scene(0.0, 4.5) },
        Dub { language: "de".into(), when: DubTiming::Scene(4.5, 9.0) },
    ];
    assert!(offline.to_string().contains("| sound: dub[es 0-4.5 s] ! dub[de 4.5-9 s] |"), "{offline}");
}

#[test]
fn each_builder_refuses_the_ends_it_cannot_play_by_name() {
    init();
    let mut show = show();
    show.source = timeline("/media/talk.mp4");
    let err = crate::live::source::add(&gst::Pipeline::new(), &show.source, (640, 360, 25), false).unwrap_err();
    assert!(err.to_string().contains("not the file:/media/talk.mp4: render or preview it"), "{err}");

    show.source = Source::Live { input: crate::live::LiveSource::Browser, mic: None };
    let err = show.source.timeline().unwrap_err();
    assert!(err.to_string().contains("not the live input `browser`"), "{err}");

    let file = FileOutput {
        framing: Framing {
            preset: PresetLibrary::builtin().unwrap().get("landscape-1080p").unwrap().clone(),
            captions: crate::preset::CaptionMode::Off,
            watermark: None,
        },
        stem: "talk-landscape-1080p".into(),
        part: "/out/talk-landscape-1080p.mp4.part".into(),
    };
    show.outputs.push(Output::File(file));
    let err = live_outputs(&show.outputs).unwrap_err();
    assert!(err.to_string().contains("`landscape-1080p:talk-landscape-1080p.mp4` is a render's output"), "{err}");
}

#[test]
fn the_live_builder_plays_the_description_s_source_and_destinations() {
    init();
    let mut show = show();
    show.outputs.push(Output::Live("v4l2:/dev/video99".parse().unwrap()));
    let live = gst::Pipeline::new();
    let inputs = crate::live::source::add(&live, &show.source, (640, 360, 25), false).unwrap();
    assert!(inputs.video.name().starts_with("reenact-test-pattern"), "the test pattern: {}", inputs.video.name());
    let destinations = live_outputs(&show.outputs).unwrap();
    assert_eq!(destinations.iter().map(ToString::to_string).collect::<Vec<_>>(), ["v4l2:/dev/video99"]);
    let (encoder, framing) = preview(&show.outputs).expect("a preview");
    assert_eq!((encoder.name.as_str(), framing.is_none()), ("live-720p", true));
}
