// SPDX-License-Identifier: MPL-2.0
//! What each of the performer's central features (brows, eyes, lips, nose) has looked like so
//! far, so that something held in front of one can be told from the feature itself. Against
//! the skin colour alone a feature cannot be judged: lips are red, brows and nostrils dark.
//! So each feature keeps a coarse L*a*b* histogram of the colours it showed in earlier frames;
//! a colour it has (nearly) never shown, and that is not the performer's skin either, is in
//! front of it: a microphone over the lips, a cup at the nose, a gloved finger on a brow.
//!
//! Only what was judged the feature's own is learned, so an object that arrives after the
//! first frames is not taken in while it stays (only the blend of its rim with the feature
//! may be), while a slow change of light is followed (a shifted colour is still within a
//! bin of what was learned). What this cannot tell: an object held there from the first
//! frame (it is learned as the feature), and a colour the feature first shows later (a first
//! wide-open mouth), which keeps the performer's own pixels, as a covered feature does. No
//! GStreamer here.

use super::patches::SkinPatches;

/// How many features are learned: the two brows, the two eyes, the lips and the nose, in the
/// order the occlusion mask lists them.
pub(super) const FEATURES: usize = 6;

/// Bins of L* (0..104, 8 wide) and of a* and b* (-66..66, 6 wide): about the spread of one
/// feature's shading, so that a colour in a neighbouring bin still counts as seen.
const L_STEP: f32 = 8.0;
const L_BINS: usize = 13;
const AB_STEP: f32 = 6.0;
const AB_MIN: f32 = -66.0;
const AB_BINS: usize = 22;
const BINS: usize = L_BINS * AB_BINS * AB_BINS;

/// Share of a learned count kept per frame: a half-life of about 350 frames (12 s at 30 fps),
/// so a change of light is taken in while a mouth closed for a while still knows its teeth.
const KEEP: f32 = 0.998;

/// Frames a feature is learned from before it is judged: until then it is swapped as before.
const READY_FRAMES: u32 = 8;

/// Share of a feature's learned colours within a bin of a colour under which that colour is
/// not the feature's, and over which it fully is.
const NEVER_SEEN: f32 = 0.002;
const SEEN: f32 = 0.01;

/// The learned colours of one track's features, and of its skin patch by patch.
#[derive(Debug, Clone)]
pub(super) struct FeatureLooks {
    palettes: Vec<Palette>,
    pub(super) skin: SkinPatches,
    /// Frame count when the face was last judged (the element forgets a track gone for long).
    pub(super) last_seen: u64,
}

/// One feature's colour histogram.
#[derive(Debug, Clone)]
struct Palette {
    counts: Vec<f32>,
    total: f32,
    /// Frames it has learned from.
    frames: u32,
}

impl Palette {
    fn new() -> Self {
        Self { counts: vec![0.0; BINS], total: 0.0, frames: 0 }
    }
}

/// The bin of `lab` along each axis (clamped to the histogram).
fn bin([l, a, b]: [f32; 3]) -> [usize; 3] {
    let index = |v: f32, min: f32, step: f32, n: usize| (((v - min) / step).max(0.0) as usize).min(n - 1);
    [index(l, 0.0, L_STEP, L_BINS), index(a, AB_MIN, AB_STEP, AB_BINS), index(b, AB_MIN, AB_STEP, AB_BINS)]
}

fn flat([l, a, b]: [usize; 3]) -> usize {
    (l * AB_BINS + a) * AB_BINS + b
}

/// `i - 1 ..= i + 1` within `0..n`.
fn around(i: usize, n: usize) -> std::ops::RangeInclusive<usize> {
    i.saturating_sub(1)..=(i + 1).min(n - 1)
}

impl FeatureLooks {
    /// Nothing learned yet, at frame `frame`.
    pub(super) fn new(frame: u64) -> Self {
        Self {
            palettes: (0..FEATURES).map(|_| Palette::new()).collect(),
            skin: SkinPatches::default(),
            last_seen: frame,
        }
    }

    /// How much `lab` looks like what `feature` has shown (0..1), or `None` while the feature
    /// has not been learned from enough frames to judge.
    pub(super) fn likeness(&self, feature: usize, lab: [f32; 3]) -> Option<f32> {
        let palette = self.palettes.get(feature)?;
        if palette.frames < READY_FRAMES || palette.total <= 0.0 {
            return None;
        }
        let [l, a, b] = bin(lab);
        let mut near = 0.0;
        for l in around(l, L_BINS) {
            for a in around(a, AB_BINS) {
                for b in around(b, AB_BINS) {
                    near += palette.counts[flat([l, a, b])];
                }
            }
        }
        let share = near / palette.total;
        Some(crate::frame::smoothstep((share - NEVER_SEEN) / (SEEN - NEVER_SEEN)))
    }

    /// Takes in one frame's `samples`, each a feature's index and a colour judged its own;
    /// what each feature learned before fades by [`KEEP`]. A feature with no samples this
    /// frame (out of the picture, or all covered) keeps what it had.
    pub(super) fn learn(&mut self, samples: &[(usize, [f32; 3])]) {
        let mut touched = [false; FEATURES];
        samples.iter().filter(|(f, _)| *f < FEATURES).for_each(|(f, _)| touched[*f] = true);
        for (palette, _) in self.palettes.iter_mut().zip(touched).filter(|(_, t)| *t) {
            palette.counts.iter_mut().for_each(|c| *c *= KEEP);
            palette.total *= KEEP;
            palette.frames = palette.frames.saturating_add(1);
        }
        for &(feature, lab) in samples.iter().filter(|(f, _)| *f < FEATURES) {
            let palette = &mut self.palettes[feature];
            palette.counts[flat(bin(lab))] += 1.0;
            palette.total += 1.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIPS: [f32; 3] = [48.0, 32.0, 14.0];
    const GREY_MICROPHONE: [f32; 3] = [45.0, 0.0, -2.0];

    fn learned(frames: usize, colours: &[[f32; 3]]) -> FeatureLooks {
        let mut looks = FeatureLooks::new(0);
        for _ in 0..frames {
            let samples: Vec<_> = colours.iter().flat_map(|&c| std::iter::repeat_n((4, c), 50)).collect();
            looks.learn(&samples);
        }
        looks
    }

    #[test]
    fn nothing_is_judged_before_the_feature_is_learned() {
        let looks = learned(READY_FRAMES as usize - 1, &[LIPS]);
        assert_eq!(looks.likeness(4, LIPS), None);
        assert_eq!(looks.likeness(4, GREY_MICROPHONE), None);
        let looks = learned(READY_FRAMES as usize, &[LIPS]);
        assert_eq!(looks.likeness(4, LIPS), Some(1.0));
        // Another feature learned nothing.
        assert_eq!(looks.likeness(5, LIPS), None);
    }

    #[test]
    fn a_colour_the_feature_never_showed_is_not_its_own() {
        let looks = learned(20, &[LIPS, [30.0, 20.0, 8.0], [75.0, 1.0, 9.0]]);
        assert_eq!(looks.likeness(4, GREY_MICROPHONE), Some(0.0));
        assert_eq!(looks.likeness(4, [40.0, 10.0, -45.0]), Some(0.0), "a blue cup");
        // Within a bin of a learned colour (a little more light) is still the lips.
        assert_eq!(looks.likeness(4, [LIPS[0] + 6.0, LIPS[1] - 4.0, LIPS[2] + 4.0]), Some(1.0));
        // The teeth it showed, too.
        assert_eq!(looks.likeness(4, [75.0, 1.0, 9.0]), Some(1.0));
    }

    #[test]
    fn a_rare_colour_fades_in_between() {
        // Lips mostly, and now and then a highlight: a share of the learned colours between
        // the two bounds.
        let mut looks = FeatureLooks::new(0);
        let highlight = [90.0, -20.0, 40.0];
        for frame in 0..40 {
            let mut samples = vec![(4, LIPS); 400];
            if frame % 2 == 0 {
                samples.extend(std::iter::repeat_n((4, highlight), 4));
            }
            looks.learn(&samples);
        }
        let rare = looks.likeness(4, highlight).expect("ready");
        assert!(rare > 0.0 && rare < 1.0, "{rare}");
    }

    #[test]
    fn what_was_learned_fades_but_is_kept_for_seconds() {
        let mut looks = learned(30, &[LIPS]);
        // 300 frames (10 s at 30 fps) of only the teeth: the lips' colour is still known.
        for _ in 0..300 {
            looks.learn(&[(4, [75.0, 1.0, 9.0]); 50]);
        }
        assert_eq!(looks.likeness(4, LIPS), Some(1.0));
    }
}
