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
        on: scene.clone(),
    };
    Show {
        characters: vec![character("ada", true), character("bo", false)],
        lips: vec![Lips { mouth: Mouth::Face, on: scene.clone() }],
        track_faces: true,
        matte: Some(Matte { background: Some(Background::Blur { strength: 12 }) }),
        hold_occluders: true,
    }
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
    let preset = PresetLibrary::builtin().unwrap().get("live-720p").unwrap().clone();

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
    let preset = PresetLibrary::builtin().unwrap().get("live-720p").unwrap().clone();

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
