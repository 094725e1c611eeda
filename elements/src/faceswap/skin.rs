// SPDX-License-Identifier: MPL-2.0
//! Which pixels of the character portrait are face skin, worked out once at start from its
//! landmarks and its skin colour. The warp multiplies its blend weight by this, so the
//! portrait's hair (a fringe over the forehead), background and ears are never pasted: there
//! the performer's own pixels stay. The character file holds no segmentation, and the selfie
//! matte separates a person from the background, not hair from skin, so the test is by colour:
//!
//! - outside the face outline: not skin (fades out over a few pixels);
//! - the central face (brows, eyes, nose, mouth): always kept, so the character's own dark
//!   features (brows, nostrils, lip corners) are not punched out as "not skin-coloured";
//! - everywhere else inside the outline (forehead, temples, outer cheeks, jaw): kept as far
//!   as the colour lies within a few spreads of the character's skin statistics in L*a*b*.
//!
//! The weight lives in portrait space, so it moves with the warp and is exactly as steady as
//! the landmarks. The same test on the performer's frame finds what is in front of their face
//! ([`hold_occluders`]). Also: whether the portrait's eyes are closed. No GStreamer here.

use crate::character::mesh::{self, FACE_OVAL, LEFT_BROW, LEFT_EYE, LIPS_OUTER, RIGHT_BROW, RIGHT_EYE};
use crate::character::ColourStats;
use crate::frame::{smoothstep, to_level};

use super::looks::FeatureLooks;
use super::mask::{boundary_distance, segment_distance2, FrameMut, Mask};
use super::patches::{FaceGrid, SkinPatches, SkinSamples};
use super::planes::{box_blur, min_filter};
use super::triangulation::convex_hull;
use crate::character::colour::{srgb_to_lab, LabAccumulator};

/// Smallest spreads used for the colour test (L*, a*, b*): a portrait lit very evenly has a
/// tiny measured spread, and shading on its own skin must still pass.
const MIN_SPREAD: [f32; 3] = [7.0, 4.0, 4.0];

/// A colour within this many (floored) spreads of the skin mean is skin...
const SKIN_NEAR: f32 = 2.5;
/// ... and one beyond this many is not; in between the weight falls smoothly.
const SKIN_FAR: f32 = 4.0;

/// The same bounds for what is in front of the performer's face: wider, so that stubble, a
/// shadow beside the nose or a flushed cheek are still their face, while a glove, a cup or
/// hair (far from skin in lightness or hue) are not.
const OCCLUDER_NEAR: f32 = 3.5;
const OCCLUDER_FAR: f32 = 6.0;

/// The outline and central-face ramps, as a fraction of the face width.
const EDGE_RAMP: f32 = 0.03;

/// How many outline ramps away from the central features skin is judged against what its
/// patch of the face has shown.
const FEATURE_MARGIN: f32 = 3.0;

/// Box-blur radius of the finished weight, as a fraction of the face width: single stray
/// pixels (a highlight, a freckle) must not become holes.
const SMOOTH_RADIUS: f32 = 0.012;

/// Eye opening (lid distance over corner distance) below which an eye counts as closed; open
/// eyes measure 0.25-0.35 on the mesh, closed ones under 0.1.
const CLOSED_EYE_RATIO: f32 = 0.12;

/// How skin-like a L*a*b* colour is for skin statistics `skin`: 1 near the mean, 0 far away.
pub(super) fn skin_likeness(lab: [f32; 3], skin: &ColourStats) -> f32 {
    likeness(lab, skin, (SKIN_NEAR, SKIN_FAR))
}

/// 1 within `near` (floored) spreads of the mean of `skin`, 0 beyond `far`.
fn likeness(lab: [f32; 3], skin: &ColourStats, (near, far): (f32, f32)) -> f32 {
    let mut z2 = 0.0;
    for c in 0..3 {
        let d = (lab[c] - skin.mean[c]) / skin.std[c].max(MIN_SPREAD[c]);
        z2 += d * d;
    }
    1.0 - smoothstep((z2.sqrt() - near) / (far - near))
}

/// A rectangle of a picture in L*a*b* (fourth lane unused here): `lab` is row-major,
/// `width` x `height` cells of `step` x `step` picture pixels, its first cell's corner at
/// (`x0`, `y0`) of the picture the landmarks are in.
struct LabRect<'a> {
    lab: &'a [[f32; 4]],
    x0: usize,
    y0: usize,
    width: usize,
    height: usize,
    step: usize,
}

impl LabRect<'_> {
    /// Picture columns `from..to` (fractional, clamped to the rectangle) as cell indices.
    fn columns(&self, from: f32, to: f32) -> std::ops::Range<usize> {
        self.cell(from, self.x0, self.width)..self.cell(to, self.x0, self.width)
    }

    fn rows(&self, from: f32, to: f32) -> std::ops::Range<usize> {
        self.cell(from, self.y0, self.height)..self.cell(to, self.y0, self.height)
    }

    /// Picture coordinate `v` as an index into `n` cells starting at `origin`.
    fn cell(&self, v: f32, origin: usize, n: usize) -> usize {
        (((v - origin as f32) / self.step as f32).max(0.0) as usize).min(n)
    }

    /// L*a*b* of cell (`x`, `y`) and its centre in picture pixels.
    fn at(&self, x: usize, y: usize) -> ([f32; 3], f32, f32) {
        let [l, a, b, _] = self.lab[y * self.width + x];
        ([l, a, b], self.x0 as f32 + (x as f32 + 0.5) * self.step as f32, self.row_centre(y))
    }

    /// The picture y of the centres of cell row `y`.
    fn row_centre(&self, y: usize) -> f32 {
        self.y0 as f32 + (y as f32 + 0.5) * self.step as f32
    }
}

/// Whose face is weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    /// The character's portrait: nothing is in front of it, so both cheeks give its skin
    /// colour, and its weight fades out at the face outline (what it pastes ends there).
    Portrait,
    /// The performer in the frame: a hand or an object may cover a cheek, so the more even
    /// cheek gives the skin colour; outside the outline the weight is 1 (the mask has its own
    /// edge).
    Performer,
}

/// Lab statistics of the face's cheeks: a disc on each side halfway between the eye's outer
/// corner and the mouth corner. Statistics over the whole face outline take in a fringe over
/// the forehead (or a hand over the jaw); the cheeks are skin.
fn cheek_stats(picture: &LabRect<'_>, landmarks: &[[f32; 3]], subject: Subject) -> Option<ColourStats> {
    let eyes = mesh::distance(landmarks, 33, 263);
    let radius = (0.15 * eyes).max(2.0);
    let disc = |acc: &mut LabAccumulator, (eye, mouth): (usize, usize)| {
        let (cx, cy) =
            ((landmarks[eye][0] + landmarks[mouth][0]) / 2.0, (landmarks[eye][1] + landmarks[mouth][1]) / 2.0);
        for y in picture.rows(cy - radius, cy + radius + 1.0) {
            for x in picture.columns(cx - radius, cx + radius + 1.0) {
                let (lab, px, py) = picture.at(x, y);
                if (px - cx).hypot(py - cy) <= radius {
                    acc.push(lab);
                }
            }
        }
    };
    let stats = |acc: LabAccumulator| (acc.count() >= 16).then(|| acc.stats()).flatten();
    const SIDES: [(usize, usize); 2] = [(33, 61), (263, 291)];
    match subject {
        Subject::Portrait => {
            let mut acc = LabAccumulator::default();
            SIDES.into_iter().for_each(|side| disc(&mut acc, side));
            stats(acc)
        }
        Subject::Performer => SIDES
            .into_iter()
            .filter_map(|side| {
                let mut acc = LabAccumulator::default();
                disc(&mut acc, side);
                stats(acc)
            })
            .min_by(|a, b| a.std.iter().sum::<f32>().total_cmp(&b.std.iter().sum::<f32>())),
    }
}

/// Face features not judged against the skin colour (brows, eyes, nose, mouth): dark or red,
/// they would fail the skin test. The performer's are judged against what each has looked
/// like before ([`FeatureLooks`]) when the occlusion mask learns them.
struct Features {
    areas: Vec<Area>,
    ramp: f32,
    /// How far outside a feature a point still counts as near it.
    margin: f32,
}

/// One feature's outline.
struct Area {
    /// Its index in [`FeatureLooks`].
    feature: usize,
    outline: Vec<(f32, f32)>,
    /// The outline's bounding box grown by the ramp or the margin, whichever is wider.
    bounds: crate::facemeta::FaceBox,
    /// Whether the current row ([`Features::start_row`]) crosses `bounds`.
    on_row: bool,
    /// Where the current row crosses the outline.
    crossings: Vec<f32>,
    /// The outline's edges that may lie within the ramp or the margin of the current row, each
    /// with the columns (`from`, `to`) beyond which it is farther away than that.
    edges: Vec<Edge>,
}

/// An edge of a feature's outline, from `a` to `b`, and the stretch of a row where it may lie
/// within reach.
#[derive(Debug, Clone, Copy)]
struct Edge {
    a: (f32, f32),
    b: (f32, f32),
    from: f32,
    to: f32,
}

/// The nose from the bridge between the eyes down to the nostrils and wings.
const NOSE: [usize; 12] = [168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 129, 358];

impl Features {
    /// The portrait's are one area, the hull of all of them (nothing covers a portrait); the
    /// performer's each their own, so a hand on the cheek beside the nose is not taken for
    /// the face's centre. `margin` is how far outside them [`Features::weight`] says near.
    fn new(landmarks: &[[f32; 3]], subject: Subject, ramp: f32, margin: f32) -> Self {
        let parts = [&RIGHT_BROW[..], &LEFT_BROW, &RIGHT_EYE, &LEFT_EYE, &LIPS_OUTER];
        let polygons: Vec<Vec<(f32, f32)>> = match subject {
            Subject::Portrait => {
                vec![convex_hull(&parts.iter().flat_map(|ids| mesh::polygon(landmarks, ids)).collect::<Vec<_>>())]
            }
            Subject::Performer => parts
                .iter()
                .map(|ids| mesh::polygon(landmarks, ids))
                .chain([convex_hull(&mesh::polygon(landmarks, &NOSE))])
                .collect(),
        };
        let areas = polygons
            .into_iter()
            .enumerate()
            .filter_map(|(feature, outline)| {
                let b = crate::facemeta::FaceBox::around(outline.iter().copied())?;
                let r = ramp.max(margin);
                let bounds = crate::facemeta::FaceBox { x: b.x - r, y: b.y - r, w: b.w + 2.0 * r, h: b.h + 2.0 * r };
                Some(Area { feature, outline, bounds, on_row: false, crossings: Vec::new(), edges: Vec::new() })
            })
            .collect();
        Self { areas, ramp, margin }
    }

    /// How far outside a feature anything is asked: the ramp or the margin, the wider.
    fn reach(&self) -> f32 {
        self.ramp.max(self.margin)
    }

    /// Readies [`Features::weight`] for the points on the row at `y`: where it crosses each
    /// outline (inside or out, as [`mesh::contains`] decides), and which edges can lie within
    /// reach of it; an edge farther than that above or below the row is farther from every
    /// point on it.
    fn start_row(&mut self, y: f32) {
        let reach = self.reach();
        for a in &mut self.areas {
            a.on_row = y >= a.bounds.y && y <= a.bounds.y + a.bounds.h;
            a.edges.clear();
            if !a.on_row {
                continue;
            }
            mesh::crossings(&a.outline, y, &mut a.crossings);
            let ends = a.outline.iter().zip(a.outline.iter().cycle().skip(1));
            let within = |(p, q): &(&(f32, f32), &(f32, f32))| p.1.min(q.1) - reach <= y && y <= p.1.max(q.1) + reach;
            let edge = |(&p, &q): (&(f32, f32), &(f32, f32))| Edge {
                a: p,
                b: q,
                from: p.0.min(q.0) - reach,
                to: p.0.max(q.0) + reach,
            };
            a.edges.extend(ends.filter(within).map(edge));
        }
    }

    /// 1 inside a feature, falling to 0 at `ramp` outside it, and which feature that is (the
    /// nearest where two ramps meet); and whether the point lies within `margin` of any. For
    /// a point (`x`, `y`) on the row last given to [`Features::start_row`].
    fn weight(&self, x: f32, y: f32) -> (f32, usize, bool) {
        let mut best = (0.0, 0);
        let mut near = false;
        let reach = self.reach();
        for a in self.areas.iter().filter(|a| a.on_row && x >= a.bounds.x && x <= a.bounds.x + a.bounds.w) {
            let w = if mesh::inside_row(&a.crossings, x) {
                near = true;
                1.0
            } else {
                let d2 = (a.edges.iter())
                    .filter(|e| x >= e.from && x <= e.to)
                    .map(|e| segment_distance2(e.a, e.b, x, y))
                    .fold(f32::INFINITY, f32::min);
                if d2 >= reach * reach {
                    0.0
                } else {
                    let d = d2.sqrt();
                    near |= d < self.margin;
                    smoothstep(1.0 - d / self.ramp)
                }
            };
            if w > best.0 {
                best = (w, a.feature);
            }
        }
        (best.0, best.1, near)
    }
}

/// How much of each pixel of `picture` is the face's own skin or central features (0..1):
/// the central face (brows, eyes, nose, mouth) always, or with `looks` as far as its colour
/// is skin or what that feature has shown before (and then what it shows now is learned);
/// the rest of the face outline as far as its colour is skin (the cheeks' statistics, else
/// `skin`) and, with `looks`, like what its patch of the face has shown; outside the outline,
/// as [`Subject`] says.
fn face_weight(
    picture: &LabRect<'_>,
    landmarks: &[[f32; 3]],
    skin: &ColourStats,
    subject: Subject,
    looks: Option<&mut FeatureLooks>,
) -> Vec<f32> {
    let fade_at_outline = subject == Subject::Portrait;
    let outside = if fade_at_outline { 0.0 } else { 1.0 };
    let mut weight = vec![outside; picture.width * picture.height];
    let skin = &cheek_stats(picture, landmarks, subject).unwrap_or(*skin);
    let oval = mesh::polygon(landmarks, &FACE_OVAL);
    let Some(face) = crate::facemeta::FaceBox::around(oval.iter().copied()) else { return weight };
    let ramp = (EDGE_RAMP * face.w).max(1.0);
    let bounds = match subject {
        Subject::Portrait => (SKIN_NEAR, SKIN_FAR),
        Subject::Performer => (OCCLUDER_NEAR, OCCLUDER_FAR),
    };
    // The central cells judged the feature's own, learned once the frame is judged.
    let mut own_features = Vec::new();
    let grid = looks.as_ref().and_then(|_| FaceGrid::new(landmarks));
    // Beside a brow, an eye or a nostril the skin's look changes within a patch as sharply
    // as a hand's rim would: judged only farther away (the features judge what covers them).
    let margin = if grid.is_some() { FEATURE_MARGIN * ramp } else { ramp };
    let mut features = Features::new(landmarks, subject, ramp, margin);
    // The skin cells away from the features, to be judged against their patch of the face
    // once the whole face's change of light is known: each with its index and the share of
    // its weight the skin test gave.
    let mut skin_cells = SkinSamples::default();
    let mut skin_shares = Vec::new();
    let mut outline = Vec::new();
    for y in picture.rows(face.y.floor(), (face.y + face.h).ceil() + 1.0) {
        mesh::crossings(&oval, picture.row_centre(y), &mut outline);
        features.start_row(picture.row_centre(y));
        for x in picture.columns(face.x.floor(), (face.x + face.w).ceil() + 1.0) {
            let (lab, px, py) = picture.at(x, y);
            if !mesh::inside_row(&outline, px) {
                continue;
            }
            let inner = if fade_at_outline { smoothstep(boundary_distance(&oval, px, py) / ramp) } else { 1.0 };
            let (central, feature, near_features) = features.weight(px, py);
            let skin_like = likeness(lab, skin, bounds);
            let own = match looks.as_deref() {
                Some(looks) if central > 0.0 => {
                    let own = looks.likeness(feature, lab).map_or(1.0, |seen| seen.max(skin_like));
                    if central >= 0.5 && own >= 0.5 {
                        own_features.push((feature, lab));
                    }
                    own
                }
                _ => 1.0,
            };
            let skin_share = inner * (1.0 - central) * skin_like;
            let i = y * picture.width + x;
            weight[i] = inner * central * own + skin_share;
            let judged = grid.filter(|_| central == 0.0 && skin_like >= 0.5 && !near_features);
            if let Some(patch) = judged.and_then(|g| g.point(px, py)) {
                skin_cells.cells.push((patch, lab));
                skin_shares.push((i, skin_share));
            }
        }
    }
    if let Some(looks) = looks {
        let radius = grid.map_or(0, |g| (0.5 * g.side() / picture.step as f32).round() as usize);
        let size = (picture.width, picture.height);
        hold_strange_skin(&mut weight, size, &skin_shares, &skin_cells, &mut looks.skin, radius);
        looks.learn(&own_features);
    }
    let radius = (SMOOTH_RADIUS * face.w / picture.step as f32).round() as usize;
    box_blur(&mut weight, picture.width, picture.height, radius);
    weight
}

/// Lowers `weight` (`width` x `height` cells) where skin does not look like what its patch
/// of the face has shown (a bare hand over the cheek), by the share of its weight the skin
/// test gave (`shares`, one per cell of `cells`); then learns the cells found their patch's
/// own. A cell is judged by its residual from what was learned there averaged over `radius`
/// cells around it (the skin's grain changes by several units from cell to cell, while a
/// hand moves a whole neighbourhood), and then takes the lowest judgement within `radius`:
/// near the rim of a hand the average also holds the cheek beside it, which would leave the
/// rim to the swap.
fn hold_strange_skin(
    weight: &mut [f32],
    (width, height): (usize, usize),
    shares: &[(usize, f32)],
    cells: &SkinSamples,
    skin: &mut SkinPatches,
    radius: usize,
) {
    let shift = skin.shift(cells);
    // Residual sums per channel and how many cells have one, blurred alike: their ratio is
    // the neighbourhood's mean residual.
    let mut sums = vec![[0.0f32; 4]; width * height];
    for (&(i, ..), &(at, lab)) in shares.iter().zip(&cells.cells) {
        if let Some([l, a, b]) = skin.residual(at, lab, shift) {
            sums[i] = [l, a, b, 1.0];
        }
    }
    box_blur(&mut sums, width, height, radius);
    // Each cell's neighbourhood residual, and whether it was judged by it.
    let mut judged: Vec<(Option<[f32; 3]>, bool)> = Vec::with_capacity(shares.len());
    let mut likeness = vec![1.0f32; width * height];
    for (&(i, ..), &(at, _)) in shares.iter().zip(&cells.cells) {
        let [l, a, b, count] = sums[i];
        let residual = (count > 0.0).then(|| [l, a, b].map(|v| v / count));
        let l = residual.and_then(|r| skin.likeness(at, r));
        if let Some(l) = l {
            likeness[i] = l;
        }
        judged.push((residual, l.is_some()));
    }
    // Most frames find nothing strange: then there is nothing to spread.
    if likeness.iter().any(|&l| l < 1.0) {
        min_filter(&mut likeness, width, height, radius);
    }
    let (mut own, mut strange) = (Vec::with_capacity(cells.cells.len()), Vec::new());
    for ((&(i, share), &(at, lab)), (residual, judged)) in shares.iter().zip(&cells.cells).zip(judged) {
        let likeness = judged.then_some(likeness[i]);
        if let Some(likeness) = likeness {
            weight[i] -= share * (1.0 - likeness);
        }
        match likeness {
            Some(l) if l < 0.5 => strange.push(at),
            _ => own.push((at, lab, residual)),
        }
    }
    skin.learn(&own, &strange);
}

/// The skin weight (0..1) of every pixel of a `width` x `height` portrait given in L*a*b*
/// (`lab`, row-major), its 468 `landmarks` and skin statistics (used where the cheeks
/// cannot be measured).
pub(super) fn portrait_skin(
    lab: &[[f32; 4]],
    width: usize,
    height: usize,
    landmarks: &[[f32; 3]],
    skin: &ColourStats,
) -> Vec<f32> {
    face_weight(&LabRect { lab, x0: 0, y0: 0, width, height, step: 1 }, landmarks, skin, Subject::Portrait, None)
}

/// Lowers `mask` where something is in front of the performer's face: inside the face
/// outline, a frame pixel whose colour is not the performer's skin (a gloved hand, a cup, a
/// microphone held at the cheek, a fringe of hair) keeps the frame, as the eye and mouth holes
/// do; over the brows, eyes, lips and nose, one whose colour is neither their skin nor what
/// that feature showed in earlier frames (`looks`, which learns this frame's). The skin
/// colour is that of the more even cheek (one may be covered); `skin`, the performer's over
/// the whole face, when neither can be measured. A skin-coloured pixel (a bare hand) keeps the
/// frame as far as it is unlike what its patch of the face showed in earlier frames (`looks`
/// learns that too, [`super::patches`]).
pub(super) fn hold_occluders(
    mask: &mut Mask,
    frame: &FrameMut<'_>,
    landmarks: &[[f32; 3]],
    skin: &ColourStats,
    looks: &mut FeatureLooks,
) {
    if mask.is_empty() {
        return;
    }
    // Judged on square cells (their mean colour), a quarter or less of the conversions and
    // tests; the weight is smooth anyway (blurred), so it is read back bilinearly per pixel.
    let step = occlusion_cell(landmarks);
    let (width, height) = (mask.width.div_ceil(step), mask.height.div_ceil(step));
    let lab: Vec<[f32; 4]> = cell_means(frame, mask, step)
        .into_iter()
        .map(|rgb| {
            let [l, a, b] = srgb_to_lab(rgb);
            [l, a, b, 0.0]
        })
        .collect();
    let rect = LabRect { lab: &lab, x0: mask.x0, y0: mask.y0, width, height, step };
    let weight = face_weight(&rect, landmarks, skin, Subject::Performer, Some(looks));
    // Read back bilinearly per pixel, edges clamped. Each column's two cells and fraction are
    // the same on every row, and each row's two cell rows the same along it: worked out once.
    let neighbours = |i: usize, n: usize| crate::frame::between((i as f32 + 0.5) / step as f32, n);
    let columns: Vec<(usize, usize, f32)> = (0..mask.width).map(|x| neighbours(x, width)).collect();
    for (y, alphas) in mask.alpha.chunks_exact_mut(mask.width).enumerate() {
        let (y0, y1, ay) = neighbours(y, height);
        let (top, bottom) = (&weight[y0 * width..][..width], &weight[y1 * width..][..width]);
        for (alpha, &(x0, x1, ax)) in alphas.iter_mut().zip(&columns) {
            if *alpha > 0 {
                let w = crate::frame::bilinear(top[x0], top[x1], bottom[x0], bottom[x1], ax, ay).clamp(0.0, 1.0);
                *alpha = to_level(f32::from(*alpha) * w);
            }
        }
    }
}

/// The mean colour of each `step` x `step` cell of `frame` under `mask`'s rectangle, row-major,
/// the last row and column of cells as wide as what is left. Summed row slice by row slice:
/// a pixel read through [`FrameMut::get`] costs its own bounds checks and offset arithmetic.
fn cell_means(frame: &FrameMut<'_>, mask: &Mask, step: usize) -> Vec<[u8; 3]> {
    let (width, height) = (mask.width.div_ceil(step), mask.height.div_ceil(step));
    let ps = frame.pixel_stride;
    // Every byte of the pixel is summed (the fourth is cheaper to add than to skip); the
    // layout picks red, green and blue at the end.
    let mut sums = vec![[0u32; 4]; width * height];
    for y in 0..mask.height {
        let start = (mask.y0 + y) * frame.stride + mask.x0 * ps;
        let row = &frame.data[start..start + mask.width * ps];
        let cells = &mut sums[(y / step) * width..][..width];
        for (cell, pixels) in cells.iter_mut().zip(row.chunks(step * ps)) {
            for pixel in pixels.chunks_exact(ps) {
                cell.iter_mut().zip(pixel).for_each(|(sum, &v)| *sum += u32::from(v));
            }
        }
    }
    let side = |i: usize, n: usize| (n - i * step).min(step) as u32;
    let mut means = Vec::with_capacity(sums.len());
    for (i, sum) in sums.iter().enumerate() {
        let n = side(i % width, mask.width) * side(i / width, mask.height);
        means.push(frame.rgb.map(|c| ((sum[c] + n / 2) / n) as u8));
    }
    means
}

/// Side of the square of frame pixels judged together by [`hold_occluders`]: 2, or as many as
/// keep the face outline [`OCCLUSION_CELLS_ACROSS`] cells wide. A hand's rim is placed to a
/// cell, and the patches' averages and spreads hold as many cells, whatever the face's size in
/// the frame; the cost is the face's, not its pixels'.
fn occlusion_cell(landmarks: &[[f32; 3]]) -> usize {
    let face = crate::facemeta::FaceBox::around(mesh::polygon(landmarks, &FACE_OVAL));
    (face.map_or(0.0, |f| f.w / OCCLUSION_CELLS_ACROSS) as usize).max(2)
}

/// How many cells across the face outline the occlusion mask judges, at least (a face under
/// 192 px is judged on 2x2 cells).
const OCCLUSION_CELLS_ACROSS: f32 = 64.0;

/// True when both eyes of `landmarks` are closed (lids together), judged by each eye's lid
/// distance over its corner distance.
pub(super) fn eyes_closed(landmarks: &[[f32; 3]]) -> bool {
    // Right eye: corners 33-133, lids 159-145; left eye: corners 263-362, lids 386-374.
    let ratio = |corners: (usize, usize), lids: (usize, usize)| {
        let width = mesh::distance(landmarks, corners.0, corners.1);
        if width > 0.0 {
            mesh::distance(landmarks, lids.0, lids.1) / width
        } else {
            1.0
        }
    };
    ratio((33, 133), (159, 145)) < CLOSED_EYE_RATIO && ratio((263, 362), (386, 374)) < CLOSED_EYE_RATIO
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The features' weight as first written, point by point: the signed distance to each
    /// outline from all its edges, inside or out by [`mesh::contains`].
    fn weight_from_every_edge(features: &Features, x: f32, y: f32) -> (f32, usize, bool) {
        let (mut best, mut near) = ((0.0, 0), false);
        for a in &features.areas {
            let d = boundary_distance(&a.outline, x, y);
            let d = if mesh::contains(&a.outline, x, y) { d } else { -d };
            let w = smoothstep(1.0 + d / features.ramp);
            if w > best.0 {
                best = (w, a.feature);
            }
            near |= d > -features.margin;
        }
        (best.0, best.1, near)
    }

    #[test]
    fn features_weighed_row_by_row_match_the_distance_to_every_edge() {
        // Landmarks scattered over a 120 px square: outlines that cross themselves and each
        // other, so every way a point can lie against them comes up.
        let landmarks: Vec<[f32; 3]> =
            (0..468).map(|i| [((i * 7919) % 997) as f32 * 0.12, ((i * 104_729) % 991) as f32 * 0.12, 0.0]).collect();
        for (subject, margin) in [(Subject::Performer, 9.0), (Subject::Portrait, 3.0)] {
            let mut features = Features::new(&landmarks, subject, 3.0, margin);
            for y in (0..140).map(|v| v as f32 - 9.7) {
                features.start_row(y);
                for x in (0..280).map(|u| u as f32 * 0.5 - 9.9) {
                    assert_eq!(features.weight(x, y), weight_from_every_edge(&features, x, y), "({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn cell_means_match_the_mean_of_each_square_read_pixel_by_pixel() {
        // BGRx rows with padding at the end, a rectangle whose sides are not whole cells.
        let (width, height, stride) = (23, 17, 23 * 4 + 8);
        let mut data: Vec<u8> = (0..stride * height).map(|i| ((i * 37 + i / 7) % 251) as u8).collect();
        let frame = FrameMut { data: &mut data, width, height, stride, pixel_stride: 4, rgb: [2, 1, 0] };
        let mask = Mask { x0: 3, y0: 2, width: 17, height: 14, alpha: vec![255; 17 * 14] };
        for step in [2, 3, 4, 5] {
            let means = cell_means(&frame, &mask, step);
            let across = mask.width.div_ceil(step);
            assert_eq!(means.len(), across * mask.height.div_ceil(step));
            for (i, &mean) in means.iter().enumerate() {
                let (cx, cy) = (mask.x0 + (i % across) * step, mask.y0 + (i / across) * step);
                let xs = cx..(cx + step).min(mask.x0 + mask.width);
                let ys = cy..(cy + step).min(mask.y0 + mask.height);
                let n = (xs.len() * ys.len()) as u32;
                let mut sum = [0u32; 3];
                for y in ys {
                    for x in xs.clone() {
                        let rgb = frame.get(x, y);
                        (0..3).for_each(|c| sum[c] += u32::from(rgb[c]));
                    }
                }
                assert_eq!(mean, sum.map(|v| ((v + n / 2) / n) as u8), "step {step}, cell {i}");
            }
        }
    }

    #[test]
    fn the_occlusion_cell_grows_with_the_face() {
        let face =
            |width: f32| -> Vec<[f32; 3]> { (0..468).map(|i| [width * (i % 2) as f32, i as f32, 0.0]).collect() };
        assert_eq!(occlusion_cell(&face(105.0)), 2);
        assert_eq!(occlusion_cell(&face(191.0)), 2);
        assert_eq!(occlusion_cell(&face(262.0)), 4);
        assert_eq!(occlusion_cell(&face(520.0)), 8);
        assert_eq!(occlusion_cell(&[]), 2, "no landmarks: the smallest cell");
    }

    #[test]
    fn skin_likeness_falls_off_with_distance() {
        let skin = ColourStats { mean: [65.0, 15.0, 18.0], std: [6.0, 3.0, 3.0] };
        assert_eq!(skin_likeness([65.0, 15.0, 18.0], &skin), 1.0);
        // Shading two spreads darker is still skin.
        assert_eq!(skin_likeness([51.0, 15.0, 18.0], &skin), 1.0);
        // Dark brown hair is not.
        assert_eq!(skin_likeness([28.0, 8.0, 14.0], &skin), 0.0);
        // A blue background is not.
        assert_eq!(skin_likeness([45.0, 5.0, -40.0], &skin), 0.0);
    }
}
