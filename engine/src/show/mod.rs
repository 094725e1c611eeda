// SPDX-License-Identifier: MPL-2.0
//! The show as data: the characters and when each plays, the lip-sync, the
//! face tracking and the background matte, in one canonical order. Two
//! builders instantiate it:
//!
//! - the live one (`live::graph`): leaky queues, real-time encoders, every
//!   element built at start and switched at the next frame by the runner
//!   ([`Switch::Live`]);
//! - the offline one (`render::cast`): every frame, full-quality encoders,
//!   one branch per preset; elements switched by the running time of the
//!   frame about to enter them ([`Switch::Scenes`]).
//!
//! Both ask the description for its [`Plan`] (which elements, in which order,
//! with which properties) and materialise it with [`Step::make`], so a new
//! element or a different order is written here once and shows up in both.
//! The description also names the show's [`Source`] and its [`Output`]s
//! (`io.rs`); each builder plays the kinds it can and refuses the others by
//! name. What only one builder has (queues, encoders, the colour round trip
//! of a render, a live lip-sync starting off) stays with that builder.

mod io;
mod plan;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) use io::{framings, live_outputs, preview, FileOutput, Framing, Output, Source};
pub(crate) use plan::{Built, Part, Plan, Prop, Step};

use crate::error::{EngineError, Result};
use crate::factories as f;
use crate::preset::Background;

/// When an element of the chain is on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Switch {
    /// Switched by the live runner, at the next frame; off at start.
    Live,
    /// On inside these `[start, end)` ranges of the timeline, in seconds.
    Scenes(Vec<(f64, f64)>),
}

/// One character the show may play: its face (swapped, or its portrait animated) and, with
/// a voice profile, its voice.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Character {
    pub(crate) name: String,
    pub(crate) file: PathBuf,
    pub(crate) has_voice: bool,
    /// The portrait is animated by the performer's face (`reenactanimate`) instead of
    /// swapped onto it.
    pub(crate) animates: bool,
    pub(crate) on: Switch,
}

/// Whose mouth a lip-sync moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mouth {
    /// The tracked faces of the picture, to the show's sound.
    Face,
    /// The portrait of the character at this index of [`Show::characters`]:
    /// a talking portrait for voice-over.
    Portrait(usize),
}

/// One lip-sync of the show.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lips {
    pub(crate) mouth: Mouth,
    pub(crate) on: Switch,
}

/// The background matte: `None` keeps the element's own settings (the live
/// show's default blur), a [`Background`] replaces or blurs by it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Matte {
    pub(crate) background: Option<Background>,
}

/// Speech in another language in place of the source's.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dub {
    /// The language the audience hears (a BCP 47 tag).
    pub(crate) language: String,
    pub(crate) when: DubTiming,
}

/// When a dub speaks, and how it keeps the picture with it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DubTiming {
    /// Live (`live::dub`): heard, translated and spoken while the show runs; the sound and the
    /// picture play this long after the performer.
    Delayed(Duration),
    /// Offline (`crate::dub`): a scene's written lines, spoken over this `[start, end)` of the
    /// timeline, in seconds.
    Scene(f64, f64),
}

impl fmt::Display for Dub {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.when {
            DubTiming::Delayed(delay) => write!(out, "dub[{}, {} s behind]", self.language, delay.as_secs_f64()),
            DubTiming::Scene(start, end) => write!(out, "dub[{} {start}-{end} s]", self.language),
        }
    }
}

/// Everything the show runs on its picture and sound, from its source to its outputs.
#[derive(Debug, Clone)]
pub(crate) struct Show {
    pub(crate) source: Source,
    pub(crate) outputs: Vec<Output>,
    pub(crate) characters: Vec<Character>,
    pub(crate) lips: Vec<Lips>,
    /// Faces are tracked even when no character or lip-sync reads them (a
    /// face-following crop, or the live show's tracking switch).
    pub(crate) track_faces: bool,
    pub(crate) matte: Option<Matte>,
    /// The face swaps keep what is held in front of the performer's face (a cup, a glove,
    /// hair): `reenactfaceswap occlusion-mask`.
    pub(crate) hold_occluders: bool,
    /// What speaks in place of the source, before the characters' voices.
    pub(crate) dubs: Vec<Dub>,
}

impl Show {
    /// `source` to `outputs` with nothing on the picture or sound yet.
    pub(crate) fn new(source: Source, outputs: Vec<Output>) -> Self {
        Show {
            source,
            outputs,
            characters: Vec::new(),
            lips: Vec::new(),
            track_faces: false,
            matte: None,
            hold_occluders: false,
            dubs: Vec::new(),
        }
    }

    /// A live show: every character switchable, one lip-sync on the tracked
    /// faces, the tracker and the matte (all off until the runner turns them on).
    pub(crate) fn live(source: Source, characters: Vec<Character>, outputs: Vec<Output>) -> Self {
        Show {
            source,
            outputs,
            characters,
            lips: vec![Lips { mouth: Mouth::Face, on: Switch::Live }],
            track_faces: true,
            matte: Some(Matte::default()),
            hold_occluders: false,
            dubs: Vec::new(),
        }
    }

    /// Whether anything reads the tracker's landmarks. One tracker serves them
    /// all (swaps, lip-sync, a face-following crop): it is the costly part.
    pub(crate) fn tracks_faces(&self) -> bool {
        self.track_faces || !self.characters.is_empty() || self.lips.iter().any(|l| l.mouth == Mouth::Face)
    }

    /// Whether the picture needs any element.
    pub(crate) fn has_video(&self) -> bool {
        self.tracks_faces() || !self.lips.is_empty() || self.matte.is_some()
    }

    /// The picture's elements in their canonical order: tracker, one face swap
    /// (or portrait animation) per character, lip-syncs, matte. RGBA in and out.
    pub(crate) fn video_plan(&self) -> Result<Plan> {
        let mut plan = Plan::default();
        if self.tracks_faces() {
            plan.push(Step::new(f::REENACTFACETRACK, Part::Track));
        }
        for (i, character) in self.characters.iter().enumerate() {
            let file = Prop::path(&character.file);
            plan.push(if character.animates {
                Step::new(f::REENACTANIMATE, Part::Swap(i)).with("character", file)
            } else {
                let step = Step::new(f::REENACTFACESWAP, Part::Swap(i)).with("character", file);
                if self.hold_occluders {
                    step.with("occlusion-mask", Prop::Flag(true))
                } else {
                    step
                }
            });
        }
        for (i, lips) in self.lips.iter().enumerate() {
            let step = Step::new(f::REENACTLIPSYNC, Part::Lips(i));
            plan.push(match lips.mouth {
                Mouth::Face => step,
                Mouth::Portrait(c) => {
                    step.with("character", Prop::path(&self.character(c)?.file)).with("mode", Prop::Choice("portrait"))
                }
            });
        }
        if let Some(matte) = &self.matte {
            plan.push(matte_step(matte)?);
        }
        Ok(plan)
    }

    /// The sound's elements: one voice per character with a voice profile,
    /// silent (`mix` 0) until switched on. F32 in and out.
    pub(crate) fn audio_plan(&self) -> Plan {
        let mut plan = Plan::default();
        for (i, character) in self.characters.iter().enumerate().filter(|(_, c)| c.has_voice) {
            plan.push(
                Step::new(f::REENACTVOICE, Part::Voice(i))
                    .with("character", Prop::path(&character.file))
                    .with("mix", Prop::Real(0.0)),
            );
        }
        plan
    }

    fn character(&self, index: usize) -> Result<&Character> {
        self.characters.get(index).ok_or_else(|| {
            EngineError::Request(format!("lip-sync portrait of character {index}, which the show lacks"))
        })
    }
}

/// One line a log can hold: source, picture chain, sound chain (its dubs first), outputs.
impl fmt::Display for Show {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain = |first: Vec<String>, plan: Plan| {
            let steps: Vec<String> =
                first.into_iter().chain(plan.steps.iter().map(|step| self.step_name(step))).collect();
            if steps.is_empty() {
                "as is".to_owned()
            } else {
                steps.join(" ! ")
            }
        };
        let picture = self.video_plan().map_or_else(|e| format!("({e})"), |plan| chain(Vec::new(), plan));
        let dubs = self.dubs.iter().map(Dub::to_string).collect();
        let outputs: Vec<String> = self.outputs.iter().map(Output::to_string).collect();
        write!(
            out,
            "{} | picture: {picture} | sound: {} | to: {}",
            self.source,
            chain(dubs, self.audio_plan()),
            outputs.join(", ")
        )
    }
}

impl Show {
    /// A step's factory, with the character it plays.
    fn step_name(&self, step: &Step) -> String {
        let name = |i: usize| self.characters.get(i).map_or("?", |c| c.name.as_str());
        match step.part {
            Part::Swap(i) | Part::Voice(i) => format!("{}[{}]", step.factory, name(i)),
            Part::Lips(i) => match self.lips.get(i).map(|l| l.mouth) {
                Some(Mouth::Portrait(c)) => format!("{}[portrait of {}]", step.factory, name(c)),
                _ => step.factory.to_owned(),
            },
            Part::Track | Part::Matte => step.factory.to_owned(),
        }
    }
}

fn matte_step(matte: &Matte) -> Result<Step> {
    let step = Step::new(f::REENACTMATTE, Part::Matte);
    Ok(match &matte.background {
        None => step,
        Some(Background::Blur { strength }) => {
            step.with("mode", Prop::Choice("blur")).with("blur-strength", Prop::Count(*strength))
        }
        Some(Background::Color { color }) => {
            let argb = Background::argb(color).map_err(|e| EngineError::Request(format!("background: {e}")))?;
            step.with("mode", Prop::Choice("replace")).with("background-color", Prop::Count(argb))
        }
        Some(Background::Image { image }) => {
            step.with("mode", Prop::Choice("replace")).with("background-image", Prop::path(image))
        }
    })
}

#[cfg(test)]
mod tests;
