// SPDX-License-Identifier: MPL-2.0
//! The cast: characters playing the project's scenes, and the offline builder
//! of the show's chain (see [`crate::show`]). Each character gets one
//! `reenactfaceswap` in the video chain (after the one `reenactfacetrack` of
//! the render, which the face-following crops read too) and one
//! `reenactvoice` in the audio chain; a pad probe switches each on inside its
//! scenes only, by the running time of the buffer about to enter. A
//! voice-over scene adds a `reenactlipsync mode=portrait` that listens to the
//! (converted) sound and replaces the picture with the talking portrait.
//!
//! Why probes rather than one chain per scene: the graph is built once and
//! runs once (one decode, one tee), so a character's elements stay in place
//! and only their effect is switched, at frame (video) and buffer (audio)
//! accuracy. Face swap is switched by the transform's passthrough flag; the
//! voice by its `mix`, which the element ramps over one buffer so a switch
//! does not click and its fixed latency stays the same either way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gst::prelude::*;
// Our `Cast` shadows the glob's trait of that name; keep its methods.
use gst::prelude::Cast as _;
use gst_base::prelude::BaseTransformExt;
use gstreenact::character::{Character, FaceMode, FILE_SUFFIX};
use reenact_models::{Catalog, ModelUse};
use serde::{Deserialize, Serialize};

use super::branch;
use super::effects::TRACK_MODELS;
use crate::blocks::{caps_filter, compensate_voice_delay, video_format};
use crate::dub::{DubTrack, DubUse};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::project::Project;
use crate::show::{self, Built, DubTiming, Mouth, Part, Show, Switch};

const FACETRACK: &str = f::REENACTFACETRACK;
const FACESWAP: &str = f::REENACTFACESWAP;
const VOICE: &str = f::REENACTVOICE;

/// One character and the timeline ranges it plays.
#[derive(Debug, Clone)]
struct Role {
    name: String,
    file: PathBuf,
    has_voice: bool,
    /// The portrait is animated rather than swapped.
    animates: bool,
    /// The median F0 of the character's voice, Hz.
    pitch_hz: Option<f32>,
    /// `[start, end)` in timeline seconds, in project order.
    ranges: Vec<(f64, f64)>,
    /// The voice-over ones among `ranges`: a talking portrait.
    portrait_ranges: Vec<(f64, f64)>,
}

/// What one scene used, for the render metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneUse {
    pub start: f64,
    pub end: f64,
    pub character: String,
    pub character_file: PathBuf,
    /// The face element's algorithm: `reenactfaceswap`'s (`classical:delaunay/2+poisson+skin`,
    /// `onnx:NAME@VERSION`) or `reenactanimate`'s (`liveportrait:onnx:NAME@VERSION+...`).
    pub face: String,
    /// `reenactvoice`'s algorithm; absent when the character has no voice profile.
    pub voice: Option<String>,
    /// `reenactlipsync`'s algorithm, for a voice-over or a dubbed scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lips: Option<String>,
    /// What a dubbed scene spoke: its language, voice and lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dub: Option<DubUse>,
}

/// The characters of a render and, once built, their elements.
#[derive(Debug, Default)]
pub(crate) struct Cast {
    roles: Vec<Role>,
    swaps: Vec<gst::Element>,
    voices: Vec<Option<gst::Element>>,
    /// Talking portraits (`reenactlipsync mode=portrait`), for roles with voice-over scenes.
    lips: Vec<Option<gst::Element>>,
    /// The dubbed scenes that are not voice-over: the tracked face's lips follow the dub.
    dub_ranges: Vec<(f64, f64)>,
    /// Every dubbed scene, voice-over or not.
    dubs: Vec<show::Dub>,
    /// The lip-sync of the tracked face, when scenes are dubbed.
    face_lips: Option<gst::Element>,
    /// The project's `occlusion_mask`.
    hold_occluders: bool,
}

impl Cast {
    /// Finds and checks every scene's character file. A name is looked up in
    /// the project's `characters` map, then as `NAME.character.json` beside
    /// the project file; errors name the scene field.
    pub(crate) fn resolve(project: &Project, project_file: &Path) -> Result<Self> {
        let base = project_file.parent().unwrap_or(Path::new("."));
        let mut roles: BTreeMap<&str, Role> = BTreeMap::new();
        let mut dub_ranges = Vec::new();
        let mut dubs = Vec::new();
        for (i, scene) in project.scenes.iter().enumerate() {
            if let Some(language) = &scene.dub {
                dubs.push(show::Dub { language: language.clone(), when: DubTiming::Scene(scene.start, scene.end) });
                if !scene.voice_over {
                    dub_ranges.push((scene.start, scene.end));
                }
            }
            if let Some(role) = roles.get_mut(scene.character.as_str()) {
                role.ranges.push((scene.start, scene.end));
                if scene.voice_over {
                    role.portrait_ranges.push((scene.start, scene.end));
                }
                continue;
            }
            let field = format!("scenes[{i}].character");
            let file = match project.characters.get(&scene.character) {
                Some(path) => path.clone(),
                None => base.join(format!("{}{FILE_SUFFIX}", scene.character)),
            };
            if !file.is_file() {
                let cause = format!(
                    "no character `{}`: {} does not exist (name it in `characters` or put it beside the project)",
                    scene.character,
                    file.display()
                );
                return Err(EngineError::invalid(project_file, field, cause));
            }
            let character = Character::load(&file)
                .map_err(|err| EngineError::invalid(project_file, field.clone(), err.to_string()))?;
            roles.insert(
                &scene.character,
                Role {
                    name: scene.character.clone(),
                    file,
                    has_voice: character.speaks(),
                    animates: character.face == FaceMode::Animate,
                    pitch_hz: character.voice.as_ref().map(|v| v.median_f0_hz),
                    ranges: vec![(scene.start, scene.end)],
                    portrait_ranges: if scene.voice_over { vec![(scene.start, scene.end)] } else { Vec::new() },
                },
            );
        }
        Ok(Cast {
            roles: roles.into_values().collect(),
            dub_ranges,
            dubs,
            hold_occluders: project.occlusion_mask,
            ..Cast::default()
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// The median F0 of character `name`'s voice, when it has a voice.
    pub(crate) fn pitch_hz(&self, name: &str) -> Option<f32> {
        self.roles.iter().find(|r| r.name == name)?.pitch_hz
    }

    /// The cast's part of the show: each character on in its scenes, a
    /// talking portrait in its voice-over scenes.
    pub(crate) fn describe(&self, show: &mut Show) {
        show.hold_occluders = self.hold_occluders;
        show.dubs.clone_from(&self.dubs);
        for (i, role) in self.roles.iter().enumerate() {
            show.characters.push(show::Character {
                name: role.name.clone(),
                file: role.file.clone(),
                has_voice: role.has_voice,
                animates: role.animates,
                on: Switch::Scenes(role.ranges.clone()),
            });
            if !role.portrait_ranges.is_empty() {
                show.lips
                    .push(show::Lips { mouth: Mouth::Portrait(i), on: Switch::Scenes(role.portrait_ranges.clone()) });
            }
        }
        if !self.dub_ranges.is_empty() {
            show.lips.push(show::Lips { mouth: Mouth::Face, on: Switch::Scenes(self.dub_ranges.clone()) });
        }
    }

    /// Adds `show`'s picture chain to `pipeline` (see [`add_video`]) and keeps
    /// the cast's elements for the metadata.
    pub(crate) fn add_video(&mut self, pipeline: &gst::Pipeline, show: &Show) -> Result<Option<VideoChain>> {
        let Some(chain) = add_video(pipeline, show)? else { return Ok(None) };
        self.swaps = (0..self.roles.len()).filter_map(|i| chain.built.get(Part::Swap(i)).cloned()).collect();
        self.lips = vec![None; self.roles.len()];
        for (j, lips) in show.lips.iter().enumerate() {
            match lips.mouth {
                Mouth::Portrait(i) => self.lips[i] = chain.built.get(Part::Lips(j)).cloned(),
                Mouth::Face => self.face_lips = chain.built.get(Part::Lips(j)).cloned(),
            }
        }
        Ok(Some(chain))
    }

    /// Adds `show`'s voices to `pipeline` (see [`add_audio`]) and feeds the
    /// result to every talking portrait; returns the chain's first and last
    /// elements (F32LE in, the last one a `tee` when portraits listen), or
    /// `None` when the audio needs no chain.
    pub(crate) fn add_audio(
        &mut self,
        pipeline: &gst::Pipeline,
        show: &Show,
    ) -> Result<Option<(gst::Element, gst::Element)>> {
        let err = |what: &str| EngineError::Request(format!("cannot build the voice chain: {what}"));
        let listeners: Vec<gst::Element> = self.lips.iter().chain([&self.face_lips]).flatten().cloned().collect();
        let Some((first, voices_out, built)) = add_audio(pipeline, show, !listeners.is_empty())? else {
            self.voices = vec![None; self.roles.len()];
            return Ok(None);
        };
        self.voices = (0..self.roles.len()).map(|i| built.get(Part::Voice(i)).cloned()).collect();
        for lips in listeners {
            // The audio may run ahead of the pictures by as much as the
            // encoders' queues hold; this queue must not stop it first.
            let queue = make(f::QUEUE)?;
            queue.set_property("max-size-buffers", 0u32);
            queue.set_property("max-size-bytes", 0u32);
            queue.set_property("max-size-time", 20 * gst::ClockTime::SECOND.nseconds());
            pipeline.add(&queue).map_err(|_| err("queue"))?;
            voices_out.link(&queue).map_err(|_| err("tee to the talking portrait"))?;
            let sink = lips.static_pad("audio_sink").expect("lipsync audio pad");
            queue.static_pad("src").expect("queue src").link(&sink).map_err(|_| err("talking portrait audio"))?;
        }
        Ok(Some((first, voices_out)))
    }

    /// Per scene: the character and the algorithms its elements ran.
    pub(crate) fn scene_uses(&self, project: &Project, dub: &DubTrack) -> Vec<SceneUse> {
        project
            .scenes
            .iter()
            .filter_map(|scene| {
                let i = self.roles.iter().position(|r| r.name == scene.character)?;
                let algorithm = |e: &gst::Element| e.property::<Option<String>>("algorithm").unwrap_or_default();
                Some(SceneUse {
                    start: scene.start,
                    end: scene.end,
                    character: scene.character.clone(),
                    character_file: self.roles[i].file.clone(),
                    face: self.swaps.get(i).map(algorithm).unwrap_or_default(),
                    voice: self.voices.get(i).and_then(|v| v.as_ref()).map(algorithm),
                    lips: if scene.voice_over {
                        self.lips.get(i).and_then(|v| v.as_ref()).map(algorithm)
                    } else if scene.dub.is_some() {
                        self.face_lips.as_ref().map(algorithm)
                    } else {
                        None
                    },
                    dub: scene.dub.as_ref().and_then(|_| dub.report_at(scene.start)).cloned(),
                })
            })
            .collect()
    }

    /// The models the cast's elements ran, as far as the catalog knows them.
    pub(crate) fn models(&self, uses: &[SceneUse]) -> Vec<ModelUse> {
        if self.is_empty() {
            return Vec::new();
        }
        let catalog = Catalog::load().ok();
        let mut models: Vec<ModelUse> = TRACK_MODELS
            .iter()
            .filter_map(|name| {
                let entry = catalog.as_ref()?.entry(name)?;
                Some(ModelUse {
                    name: entry.model.name.clone(),
                    version: entry.model.version.clone(),
                    element: FACETRACK.into(),
                })
            })
            .collect();
        for (algorithm, element) in uses
            .iter()
            .flat_map(|u| {
                let face = if u.face.starts_with("liveportrait:") { f::REENACTANIMATE } else { FACESWAP };
                [(Some(&u.face), face), (u.voice.as_ref(), VOICE), (u.lips.as_ref(), f::REENACTLIPSYNC)]
            })
            .filter_map(|(a, e)| Some((a?, e)))
        {
            for (name, version) in crate::metadata::algorithm_models(algorithm) {
                let used = ModelUse { name, version, element: element.into() };
                if !models.contains(&used) {
                    models.push(used);
                }
            }
        }
        models
    }
}

/// A show's picture chain as the offline builder made it.
#[derive(Debug)]
pub(crate) struct VideoChain {
    /// Raw video in.
    pub(crate) first: gst::Element,
    /// RGBA out with the tracker's faces when a crop follows them, otherwise
    /// the format that came in.
    pub(crate) last: gst::Element,
    pub(crate) built: Built,
}

/// The offline builder of `show`'s picture: its plan between a conversion to
/// RGBA and one back, each element switched by its scenes. `None` when the
/// picture needs no element.
///
/// When only characters touch the picture, frames outside their scenes leave
/// exactly as they came (see [`keep_range`] and [`keep_between`]); a matte or
/// a face-following crop changes every frame anyway. With a crop the chain
/// ends in RGBA: the reframes of the branches read this chain's tracker.
pub(crate) fn add_video(pipeline: &gst::Pipeline, show: &Show) -> Result<Option<VideoChain>> {
    if !show.has_video() {
        return Ok(None);
    }
    let err = |what: &str| EngineError::Request(format!("cannot build the character chain: {what}"));
    let built = show.video_plan()?.make()?;
    for (part, element) in &built.elements {
        match *part {
            Part::Swap(i) => {
                if let Switch::Scenes(ranges) = &show.characters[i].on {
                    switch_by_time(element, ranges.clone(), |element, active| {
                        if let Some(transform) = element.downcast_ref::<gst_base::BaseTransform>() {
                            transform.set_passthrough(!active);
                        }
                    });
                }
            }
            Part::Lips(i) => {
                // Outside its scenes the frames go round it unchanged.
                if let Switch::Scenes(ranges) = &show.lips[i].on {
                    keep_outside(element, "video_sink", ranges.clone());
                }
            }
            Part::Track | Part::Matte | Part::Voice(_) => {}
        }
    }
    let mut chain = vec![make(f::VIDEOCONVERT)?, video_format("RGBA")?];
    chain.extend(built.all());
    let pristine = show.matte.is_none() && !show.track_faces;
    if pristine {
        let yuv_out = make(f::CAPSFILTER)?;
        keep_range(&chain[0], &yuv_out);
        let scenes: Vec<(f64, f64)> = show
            .characters
            .iter()
            .filter_map(|c| match &c.on {
                Switch::Scenes(ranges) => Some(ranges.iter().copied()),
                Switch::Live => None,
            })
            .flatten()
            .collect();
        keep_between(
            &chain[0].static_pad("sink").expect("chain sink"),
            &yuv_out.static_pad("src").expect("src"),
            scenes,
        );
        chain.extend([make(f::VIDEOCONVERT)?, yuv_out]);
    } else if !show.track_faces {
        chain.extend([make(f::VIDEOCONVERT)?, video_format("I420")?]);
    }
    pipeline.add_many(&chain).map_err(|_| err("video elements"))?;
    gst::Element::link_many(&chain).map_err(|_| err("video elements do not link"))?;
    Ok(Some(VideoChain { first: chain[0].clone(), last: chain[chain.len() - 1].clone(), built }))
}

/// The offline builder of `show`'s sound: its voices, each switched by its
/// character's scenes, their delay taken out. Returns the chain's first and
/// last elements (a `tee` when `teed`) and the voices, or `None` when the
/// sound needs no chain.
pub(crate) fn add_audio(
    pipeline: &gst::Pipeline,
    show: &Show,
    teed: bool,
) -> Result<Option<(gst::Element, gst::Element, Built)>> {
    let err = |what: &str| EngineError::Request(format!("cannot build the voice chain: {what}"));
    let plan = show.audio_plan();
    if plan.is_empty() && !teed {
        return Ok(None);
    }
    let built = plan.make()?;
    for (part, voice) in &built.elements {
        let Part::Voice(i) = *part else { continue };
        if let Switch::Scenes(ranges) = &show.characters[i].on {
            switch_by_time(voice, ranges.clone(), |element, active| {
                element.set_property("mix", if active { 1.0f64 } else { 0.0 });
            });
        }
    }
    let f32 = caps_filter(gst::Caps::builder("audio/x-raw").field("format", "F32LE").build())?;
    let mut chain = vec![make(f::AUDIOCONVERT)?, f32];
    chain.extend(built.all());
    let voices_end = chain.len() - 1;
    chain.push(make(f::AUDIOCONVERT)?);
    if teed {
        chain.push(make(f::TEE)?);
    }
    pipeline.add_many(&chain).map_err(|_| err("elements"))?;
    gst::Element::link_many(&chain).map_err(|_| err("elements do not link"))?;
    compensate_voice_delay(&chain[voices_end], built.elements.iter().map(|(_, v)| v));
    Ok(Some((chain[0].clone(), chain[chain.len() - 1].clone(), built)))
}

/// Calls `apply(element, active)` whenever a buffer entering `element`
/// crosses into or out of `ranges` (timeline seconds).
fn switch_by_time(
    element: &gst::Element,
    ranges: Vec<(f64, f64)>,
    apply: impl Fn(&gst::Element, bool) + Send + Sync + 'static,
) {
    let pad = element.static_pad("sink").expect("transform sink pad");
    let weak = element.downgrade();
    let state = std::sync::Mutex::new(None::<bool>);
    apply(element, false);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let (Some(buffer), Some(element)) = (info.buffer(), weak.upgrade()) else {
            return gst::PadProbeReturn::Ok;
        };
        // Timeline time, not running time: after a preview's seek the running time starts at 0.
        if let Some(t) = branch::timeline_time(pad, buffer) {
            let active = ranges.iter().any(|&(start, end)| t >= start && t < end);
            let mut last = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if *last != Some(active) {
                *last = Some(active);
                gst::debug!(gst::CAT_DEFAULT, "{}: {} at {t:.3} s", element.name(), if active { "on" } else { "off" });
                apply(&element, active);
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// Makes the round trip YUV -> RGBA -> YUV through the chain lossless in
/// range: decoders often deliver "limited range" video whose highlights go
/// above 235, which a limited-range conversion to RGB would clip, changing
/// every frame, even those outside any scene. So the chain sees the frames
/// as full range (same matrix), converts back to full range in `yuv_out`, and
/// the frames leave with the caps they came with.
fn keep_range(convert_in: &gst::Element, yuv_out: &gst::Element) {
    let original: std::sync::Arc<std::sync::Mutex<Option<gst::Caps>>> = Default::default();
    let seen = original.clone();
    let out = yuv_out.downgrade();
    convert_in.static_pad("sink").expect("videoconvert sink").add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            let Some(gst::EventView::Caps(event)) = info.event().map(|e| e.view()) else {
                return gst::PadProbeReturn::Ok;
            };
            let caps = event.caps_owned();
            let Ok(video) = gst_video::VideoInfo::from_caps(&caps) else { return gst::PadProbeReturn::Ok };
            if !video.is_yuv() {
                return gst::PadProbeReturn::Ok;
            }
            let c = video.colorimetry();
            let full = gst_video::VideoColorimetry::new(
                gst_video::VideoColorRange::Range0_255,
                c.matrix(),
                c.transfer(),
                c.primaries(),
            );
            let mut relabelled = caps.clone();
            relabelled.make_mut().set("colorimetry", full.to_string());
            if let Some(out) = out.upgrade() {
                let mut back = gst::Caps::builder("video/x-raw").field("format", video.format().to_str()).build();
                back.make_mut().set("colorimetry", full.to_string());
                out.set_property("caps", back);
            }
            *seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(caps);
            info.data = Some(gst::PadProbeData::Event(gst::event::Caps::new(&relabelled)));
            gst::PadProbeReturn::Ok
        },
    );
    yuv_out.static_pad("src").expect("capsfilter src").add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            if !matches!(info.event().map(|e| e.type_()), Some(gst::EventType::Caps)) {
                return gst::PadProbeReturn::Ok;
            }
            if let Some(caps) = original.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone() {
                info.data = Some(gst::PadProbeData::Event(gst::event::Caps::new(&caps)));
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// Frames outside `ranges` leave `element` (entering by `sink_pad`) as they entered it.
fn keep_outside(element: &gst::Element, sink_pad: &str, ranges: Vec<(f64, f64)>) {
    let sink = element.static_pad(sink_pad).expect("sink pad");
    keep_between(&sink, &element.static_pad("src").expect("src pad"), ranges);
}

/// Frames outside `ranges` leave by `output` exactly as they came in by
/// `input`: the colour round trip through RGBA is not quite lossless
/// (saturated colours clip), and a render must not touch what no character
/// plays. The originals wait, matched by timestamp, for the few frames the
/// elements between hold.
fn keep_between(input: &gst::Pad, output: &gst::Pad, ranges: Vec<(f64, f64)>) {
    // Matched by running time: an aggregator between may restamp its output.
    type Stash = std::collections::VecDeque<(f64, gst::Buffer)>;
    let stash: std::sync::Arc<std::sync::Mutex<Stash>> = Default::default();
    let put = stash.clone();
    input.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let Some(t) = branch::running_time(pad, buffer) else { return gst::PadProbeReturn::Ok };
        // Scenes are in timeline time (a preview seeks; see `branch::timeline_time`).
        let Some(at) = branch::timeline_time(pad, buffer) else { return gst::PadProbeReturn::Ok };
        if !ranges.iter().any(|&(s, e)| at >= s && at < e) {
            put.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push_back((t, buffer.to_owned()));
        }
        gst::PadProbeReturn::Ok
    });
    output.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let Some(t) = branch::running_time(pad, buffer) else { return gst::PadProbeReturn::Ok };
        let mut stash = stash.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Frames are in order: older originals were dropped on the way.
        while stash.front().is_some_and(|(s, _)| *s < t - 1e-6) {
            stash.pop_front();
        }
        if stash.front().is_some_and(|(s, _)| (s - t).abs() <= 1e-6) {
            let (_, mut original) = stash.pop_front().expect("front");
            // Keep the timestamps of the stream it now travels in.
            let original_mut = original.make_mut();
            original_mut.set_pts(buffer.pts());
            original_mut.set_dts(buffer.dts());
            original_mut.set_duration(buffer.duration());
            info.data = Some(gst::PadProbeData::Buffer(original));
        }
        gst::PadProbeReturn::Ok
    });
}
