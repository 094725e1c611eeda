// SPDX-License-Identifier: MPL-2.0
//! What each patch of the performer's skin has looked like so far, so that a bare hand can be
//! told from the cheek it covers. A hand is skin-coloured: against the skin colour of the
//! whole face (the cheek test, several spreads wide because the face's own shading and
//! stubble must pass) it is skin. But one patch of a cheek, followed from frame to frame,
//! keeps a colour within a few units; a hand laid over it is lighter or darker, redder or
//! yellower than that patch by more than the patch itself ever varied.
//!
//! Patches are squares of a quarter of the eye distance on a grid that moves with the face
//! (origin between the eyes' outer corners, axis along them), so the same patch of skin is
//! compared with itself as the head moves and turns in the picture. Each keeps the mean
//! L\*a\*b\* of its cells, learned from the cells judged its own; read bilinearly between the
//! patch centres, the means give what the skin should look like at any point, and a cell's
//! residual is how far it lies from that. Residuals are averaged over about a patch before
//! they are judged (the skin's grain alone moves a cell by several units), against how far
//! that patch's averaged residuals usually lie. Before judging, the change the whole face
//! shows (the median over the patches: a lamp switched on, the camera's exposure) is taken
//! off, so light that changes everywhere is not an occluder.
//!
//! Like the features' colours ([`super::looks`]), a hand there from the first frames is
//! learned as the face. A patch found covered for [`STUCK_FRAMES`] in a row is learned
//! afresh: light that changed on one side only must not hold the performer's own
//! skin in the swapped face for the rest of the show, and a hand held still that long is
//! then swapped over. No GStreamer here.

use crate::frame::{between, smoothstep};

/// Patch side, in eye distances.
const SIDE: f32 = 0.25;
/// The grid, in patches: across from [`LEFT`] eye distances beside the point between the
/// eyes' outer corners, down from [`TOP`] (forehead) to the chin.
const COLUMNS: usize = 14;
const ROWS: usize = 15;
const LEFT: f32 = -1.75;
const TOP: f32 = -1.25;

/// Frames a patch is learned from before it is judged.
const READY_FRAMES: u32 = 8;

/// Cells of a patch seen in a frame for its mean and spread to count.
const MIN_CELLS: usize = 4;

/// Share of a frame's mean and spread taken into what a patch has learned: a change of
/// light or pose is followed within about ten frames once it is judged the patch's own.
const RATE: f32 = 0.1;

/// Smallest spreads (L*, a*, b*) a residual is judged by: on an even cheek the residuals
/// measure a few tenths of a unit, and the video's noise and a pixel of landmark jitter move
/// them by more.
const MIN_SPREAD: [f32; 3] = [2.5, 1.5, 1.5];

/// Skin whose (averaged) residual is within this many spreads is the face's own, and beyond
/// [`FAR`] in front of it.
const NEAR: f32 = 3.0;
const FAR: f32 = 4.5;

/// Frames in a row a patch may be found covered before it is learned afresh (5 s at 30 fps).
const STUCK_FRAMES: u32 = 150;

/// Share of a patch's judged cells found strange over which the patch counts as covered.
const STRANGE_SHARE: f32 = 0.1;

/// Patches that must show this frame for the whole face's change of light to be measured.
const MIN_PATCHES_FOR_SHIFT: usize = 8;

/// Where a picture point lies on the performer's face grid.
#[derive(Debug, Clone, Copy)]
pub(super) struct FaceGrid {
    origin: (f32, f32),
    /// The eye line's direction divided by the eye distance times [`SIDE`]: a picture offset
    /// dotted with it is in patches.
    axis: (f32, f32),
}

impl FaceGrid {
    /// The grid of a face with 468 `landmarks`, or `None` when its eyes coincide.
    pub(super) fn new(landmarks: &[[f32; 3]]) -> Option<Self> {
        let (right, left) = (landmarks.get(33)?, landmarks.get(263)?);
        let (dx, dy) = (left[0] - right[0], left[1] - right[1]);
        let length2 = dx * dx + dy * dy;
        if length2 < 1.0 {
            return None;
        }
        let scale = 1.0 / (length2 * SIDE);
        Some(Self { origin: ((right[0] + left[0]) / 2.0, (right[1] + left[1]) / 2.0), axis: (dx * scale, dy * scale) })
    }

    /// The side of a patch, in picture pixels.
    pub(super) fn side(&self) -> f32 {
        1.0 / self.axis.0.hypot(self.axis.1)
    }

    /// Where on the grid picture point (`x`, `y`) lies, if on it.
    pub(super) fn point(&self, x: f32, y: f32) -> Option<GridPoint> {
        let (dx, dy) = (x - self.origin.0, y - self.origin.1);
        let across = dx * self.axis.0 + dy * self.axis.1 - LEFT / SIDE;
        let down = dy * self.axis.0 - dx * self.axis.1 - TOP / SIDE;
        let on = (0.0..COLUMNS as f32).contains(&across) && (0.0..ROWS as f32).contains(&down);
        on.then_some(GridPoint { across, down })
    }
}

/// A point on the face grid, in patches from its corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct GridPoint {
    across: f32,
    down: f32,
}

impl GridPoint {
    /// The patch it lies in.
    pub(super) fn patch(self) -> usize {
        self.down as usize * COLUMNS + self.across as usize
    }
}

/// What one patch has shown.
#[derive(Debug, Clone, Copy, Default)]
struct Patch {
    mean: [f32; 3],
    /// The (smoothed) mean square of its cells' residuals.
    variance: [f32; 3],
    /// Frames it has learned from.
    frames: u32,
    /// Frames in a row it was found covered.
    strange: u32,
}

impl Patch {
    fn ready(&self) -> bool {
        self.frames >= READY_FRAMES
    }
}

/// One frame's cells of a patch: count and sums.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    count: usize,
    sum: [f64; 3],
}

impl Sums {
    fn push(&mut self, lab: [f32; 3]) {
        self.count += 1;
        (0..3).for_each(|c| self.sum[c] += f64::from(lab[c]));
    }

    /// The mean, once there are enough cells.
    fn mean(&self) -> Option<[f32; 3]> {
        (self.count >= MIN_CELLS).then(|| self.sum.map(|s| (s / self.count as f64) as f32))
    }
}

/// The learned skin of one track's face, patch by patch.
#[derive(Debug, Clone)]
pub(super) struct SkinPatches {
    patches: Vec<Patch>,
}

impl Default for SkinPatches {
    fn default() -> Self {
        Self { patches: vec![Patch::default(); COLUMNS * ROWS] }
    }
}

/// Moves `learned` toward `now` by `rate`.
fn follow(learned: &mut [f32; 3], now: [f32; 3], rate: f32) {
    learned.iter_mut().zip(now).for_each(|(l, n)| *l += rate * (n - *l));
}

/// A skin cell judged its patch's own (or not yet judged): where it lies on the grid, its
/// colour, and the residual it was judged by.
pub(super) type OwnCell = (GridPoint, [f32; 3], Option<[f32; 3]>);

/// One frame's skin cells, each with where it lies on the face grid, to be judged by
/// [`SkinPatches`].
#[derive(Debug, Default)]
pub(super) struct SkinSamples {
    pub(super) cells: Vec<(GridPoint, [f32; 3])>,
}

impl SkinPatches {
    /// The change of light the whole face shows in `samples` against what was learned: the
    /// median, per channel, of each ready patch's mean now less its learned mean. Zero when
    /// too few patches show.
    pub(super) fn shift(&self, samples: &SkinSamples) -> [f32; 3] {
        let sums = self.sums(samples.cells.iter().map(|&(at, lab)| (at.patch(), lab)));
        let changes: Vec<[f32; 3]> = sums
            .iter()
            .zip(&self.patches)
            .filter(|(_, p)| p.ready())
            .filter_map(|(s, p)| s.mean().map(|mean| std::array::from_fn(|c| mean[c] - p.mean[c])))
            .collect();
        if changes.len() < MIN_PATCHES_FOR_SHIFT {
            return [0.0; 3];
        }
        std::array::from_fn(|c| {
            let mut channel: Vec<f32> = changes.iter().map(|d| d[c]).collect();
            let middle = channel.len() / 2;
            *channel.select_nth_unstable_by(middle, f32::total_cmp).1
        })
    }

    /// The colour learned at `at`, read bilinearly between the centres of the learned
    /// patches around it (the skin's shading runs across a patch), or `None` while the patch
    /// it lies in has learned nothing.
    fn expected(&self, at: GridPoint) -> Option<[f32; 3]> {
        let own = &self.patches[at.patch()];
        if own.frames == 0 {
            return None;
        }
        let (c0, c1, fx) = between(at.across, COLUMNS);
        let (r0, r1, fy) = between(at.down, ROWS);
        let corners = [
            (r0, c0, (1.0 - fx) * (1.0 - fy)),
            (r0, c1, fx * (1.0 - fy)),
            (r1, c0, (1.0 - fx) * fy),
            (r1, c1, fx * fy),
        ];
        let (mut sum, mut weights) = ([0.0f32; 3], 0.0f32);
        for (row, column, w) in corners {
            let p = &self.patches[row * COLUMNS + column];
            if p.frames > 0 && w > 0.0 {
                (0..3).for_each(|c| sum[c] += w * p.mean[c]);
                weights += w;
            }
        }
        // Its own centre may carry no weight where the others have learned nothing.
        Some(if weights > 0.0 { sum.map(|v| v / weights) } else { own.mean })
    }

    /// How far `lab` at `at` lies from what the face showed there, once `shift` (the whole
    /// face's change of light) is taken off; `None` while its patch has learned nothing.
    pub(super) fn residual(&self, at: GridPoint, lab: [f32; 3], shift: [f32; 3]) -> Option<[f32; 3]> {
        let expected = self.expected(at)?;
        Some(std::array::from_fn(|c| lab[c] - shift[c] - expected[c]))
    }

    /// How much skin whose `residual` (averaged over about a patch around `at`: the skin's
    /// own grain is several units from cell to cell) is what the face showed there (0..1),
    /// or `None` while its patch has not been learned from enough frames to judge.
    pub(super) fn likeness(&self, at: GridPoint, residual: [f32; 3]) -> Option<f32> {
        let patch = self.patches.get(at.patch()).filter(|p| p.ready())?;
        let z2: f32 = (0..3).map(|c| (residual[c] / patch.variance[c].sqrt().max(MIN_SPREAD[c])).powi(2)).sum();
        Some(1.0 - smoothstep((z2.sqrt() - NEAR) / (FAR - NEAR)))
    }

    /// Takes in one frame: `own`, the skin cells judged their patch's own (or not yet
    /// judged), each with its colour and the residual it was judged by, and `strange`, those
    /// judged not. A patch with strange cells (a hand over part of it) learns nothing this
    /// frame, so that the rim of what covers it does not creep into its colour; after
    /// [`STUCK_FRAMES`] such frames in a row it is forgotten. Otherwise its mean moves toward
    /// its own cells', and its spread toward their residuals': how far the neighbourhoods of
    /// this patch lie from the smooth map of the means (an even cheek, a few tenths; beside
    /// a brow or a nostril, more) and how much that moves from frame to frame.
    pub(super) fn learn(&mut self, own: &[OwnCell], strange: &[GridPoint]) {
        let squares = self.sums(own.iter().filter_map(|&(at, _, r)| Some((at.patch(), r?.map(|v| v * v)))));
        let own = self.sums(own.iter().map(|&(at, lab, _)| (at.patch(), lab)));
        let strange = self.sums(strange.iter().map(|at| (at.patch(), [0.0; 3])));
        for (((patch, own), strange), squares) in self.patches.iter_mut().zip(&own).zip(&strange).zip(&squares) {
            let judged = (strange.count + own.count) as f32;
            if strange.count >= 2 && strange.count as f32 >= STRANGE_SHARE * judged {
                patch.strange += 1;
                if patch.strange >= STUCK_FRAMES {
                    *patch = Patch::default();
                }
                continue;
            }
            let Some(mean) = own.mean() else { continue };
            if let Some(variance) = squares.mean() {
                follow(&mut patch.variance, variance, if patch.frames == 1 { 1.0 } else { RATE });
            }
            follow(&mut patch.mean, mean, if patch.frames == 0 { 1.0 } else { RATE });
            patch.frames = patch.frames.saturating_add(1);
            patch.strange = 0;
        }
    }

    /// Each patch's sums over `cells` (patch index and colour).
    fn sums(&self, cells: impl Iterator<Item = (usize, [f32; 3])>) -> Vec<Sums> {
        let mut sums = vec![Sums::default(); self.patches.len()];
        for (patch, lab) in cells {
            if let Some(s) = sums.get_mut(patch) {
                s.push(lab);
            }
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEEK: [f32; 3] = [62.0, 14.0, 17.0];
    /// A hand over it: skin-coloured (the cheek test passes it), a little darker and redder.
    const HAND: [f32; 3] = [50.0, 20.0, 20.0];

    /// The centre of `patch`.
    fn centre(patch: usize) -> GridPoint {
        GridPoint { across: (patch % COLUMNS) as f32 + 0.5, down: (patch / COLUMNS) as f32 + 0.5 }
    }

    /// A frame of `cells` per patch over `patches`, each cell `colour` with a spread of about
    /// a unit in lightness.
    fn frame(patches: std::ops::Range<usize>, colour: impl Fn(usize) -> [f32; 3]) -> SkinSamples {
        let cells = patches
            .flat_map(|p| {
                let c = colour(p);
                (0..12).map(move |i| (centre(p), [c[0] + (i % 3) as f32 - 1.0, c[1], c[2]]))
            })
            .collect();
        SkinSamples { cells }
    }

    /// How `skin` judges `lab` at the centre of `patch`, its whole neighbourhood alike.
    fn judge(skin: &SkinPatches, patch: usize, lab: [f32; 3], shift: [f32; 3]) -> Option<f32> {
        skin.residual(centre(patch), lab, shift).and_then(|r| skin.likeness(centre(patch), r))
    }

    /// Every cell of `samples` as the patch's own, with its residual.
    fn own(skin: &SkinPatches, samples: &SkinSamples) -> Vec<OwnCell> {
        samples.cells.iter().map(|&(at, lab)| (at, lab, skin.residual(at, lab, [0.0; 3]))).collect()
    }

    fn learned(frames: usize) -> SkinPatches {
        let mut skin = SkinPatches::default();
        for _ in 0..frames {
            let samples = frame(0..40, |_| CHEEK);
            skin.learn(&own(&skin, &samples), &[]);
        }
        skin
    }

    #[test]
    fn the_grid_moves_with_the_eyes() {
        let mut landmarks = vec![[0.0f32; 3]; 468];
        landmarks[33] = [100.0, 100.0, 0.0];
        landmarks[263] = [180.0, 100.0, 0.0];
        let grid = FaceGrid::new(&landmarks).expect("grid");
        // Between the eyes: the patch right of LEFT's 7 columns, below TOP's 5 rows.
        assert_eq!(grid.point(140.5, 100.5).map(GridPoint::patch), Some(5 * COLUMNS + 7));
        // Half an eye distance down (the nose) is two patches lower.
        assert_eq!(grid.point(140.5, 140.5).map(GridPoint::patch), Some(7 * COLUMNS + 7));
        assert_eq!(grid.point(-20.0, 100.0), None, "far beside the face");
        assert_eq!(grid.point(140.5, 400.0), None, "far below the chin");
        // The same head turned 90 degrees in the picture: the nose is now to the left.
        landmarks[33] = [100.0, 100.0, 0.0];
        landmarks[263] = [100.0, 180.0, 0.0];
        let turned = FaceGrid::new(&landmarks).expect("grid");
        assert_eq!(turned.point(59.5, 140.5).map(GridPoint::patch), Some(7 * COLUMNS + 7));
        landmarks[263] = landmarks[33];
        assert!(FaceGrid::new(&landmarks).is_none());
    }

    #[test]
    fn nothing_is_judged_before_the_patch_is_learned() {
        let skin = learned(READY_FRAMES as usize - 1);
        assert_eq!(judge(&skin, 3, HAND, [0.0; 3]), None);
        let skin = learned(READY_FRAMES as usize);
        assert_eq!(judge(&skin, 3, CHEEK, [0.0; 3]), Some(1.0));
        assert_eq!(judge(&skin, 60, CHEEK, [0.0; 3]), None, "a patch never seen");
    }

    #[test]
    fn a_hand_is_not_the_cheek_it_covers() {
        let skin = learned(20);
        assert_eq!(judge(&skin, 3, HAND, [0.0; 3]), Some(0.0));
        // Video noise and a little shading are the cheek.
        assert_eq!(judge(&skin, 3, [CHEEK[0] + 4.0, CHEEK[1] - 2.0, CHEEK[2] + 2.0], [0.0; 3]), Some(1.0));
    }

    #[test]
    fn shading_across_patches_is_expected_between_their_centres() {
        // A cheek darkening toward the nose: 20 units from one patch's centre to the next.
        let mut skin = SkinPatches::default();
        let shaded = |p: usize| if p.is_multiple_of(2) { [50.0, 14.0, 17.0] } else { [70.0, 14.0, 17.0] };
        for _ in 0..20 {
            let samples = frame(0..2, shaded);
            skin.learn(&own(&skin, &samples), &[]);
        }
        // Half-way between the centres the skin is half-way too: its own, though 10 units
        // from either patch's mean.
        let between = GridPoint { across: 1.0, down: 0.5 };
        let residual = skin.residual(between, [60.0, 14.0, 17.0], [0.0; 3]).expect("learned");
        assert!(residual[0].abs() < 0.5, "{residual:?}");
        assert_eq!(skin.likeness(between, residual), Some(1.0));
        // A hand there, as dark as the darker patch's centre, is not.
        let hand = skin.residual(between, [48.0, 18.0, 18.0], [0.0; 3]).expect("learned");
        assert_eq!(skin.likeness(between, hand), Some(0.0));
    }

    #[test]
    fn light_that_changes_everywhere_is_taken_off() {
        let skin = learned(20);
        let brighter = [CHEEK[0] + 15.0, CHEEK[1] + 2.0, CHEEK[2] - 1.0];
        // A hand over 10 of the 40 patches, the whole face lit 15 units brighter.
        let samples = frame(0..40, |p| if p < 10 { [HAND[0] + 15.0, HAND[1] + 2.0, HAND[2] - 1.0] } else { brighter });
        let shift = skin.shift(&samples);
        assert!((shift[0] - 15.0).abs() < 1.0 && (shift[1] - 2.0).abs() < 0.5, "{shift:?}");
        assert_eq!(judge(&skin, 30, brighter, shift), Some(1.0));
        assert_eq!(judge(&skin, 3, [HAND[0] + 15.0, HAND[1] + 2.0, HAND[2] - 1.0], shift), Some(0.0));
        // Too few patches to measure the face's light: no shift.
        assert_eq!(skin.shift(&frame(0..5, |_| brighter)), [0.0; 3]);
    }

    #[test]
    fn a_patch_covered_for_too_long_is_learned_afresh() {
        let mut skin = learned(20);
        let lit = [CHEEK[0] + 20.0, CHEEK[1], CHEEK[2]];
        let samples = frame(0..1, |_| lit);
        let strange: Vec<GridPoint> = samples.cells.iter().map(|(at, _)| *at).collect();
        for _ in 0..STUCK_FRAMES - 1 {
            skin.learn(&[], &strange);
        }
        assert_eq!(judge(&skin, 0, lit, [0.0; 3]), Some(0.0), "still judged against the old light");
        skin.learn(&[], &strange);
        assert_eq!(judge(&skin, 0, lit, [0.0; 3]), None, "forgotten, to be learned again");
        for _ in 0..READY_FRAMES {
            skin.learn(&own(&skin, &samples), &[]);
        }
        assert_eq!(judge(&skin, 0, lit, [0.0; 3]), Some(1.0));
        // The other patches kept what they had.
        assert_eq!(judge(&skin, 5, CHEEK, [0.0; 3]), Some(1.0));
    }
}
