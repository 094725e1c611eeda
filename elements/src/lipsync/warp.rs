// SPDX-License-Identifier: MPL-2.0
//! The classical mouth warp (`classical:mouth-warp/1`).
//!
//! Geometry, in the mouth's own axes: `u` along the corner line (landmark 61 to 291), `v`
//! across it towards the chin, origin `C` at the corners' midpoint; `M` is the mouth width
//! (corner to corner) and `H` the face height (landmark 10, top of the forehead, to 152, the
//! chin).
//!
//! - **Region**: the ellipse centred at `C + 0.10 H v`, semi-axes `1.0 M` along `u` and
//!   `0.32 H` along `v`. Its mask is 1 up to 0.7 of the normalised radius and falls smoothly to
//!   0 at the ellipse; every displacement and the mouth fill are multiplied by it, and pixels
//!   whose centre lies on or outside the ellipse are never written.
//! - **Opening** `o` (0..1 from the audio, times `strength`): the mouth opens by
//!   `min(0.07 o, 0.12) H` at its centre, tapering as `1 - (2u/M)^2` to nothing at the corners;
//!   a fifth of it lifts the upper lip, the rest drops the lower lip and the jaw. The lips move
//!   rigidly and the skin beyond them follows with a smooth fall-off (0.06 H above, 0.20 H
//!   below), so the chin drops with the jaw and the nose stays.
//! - **Width** `w` (-1..1, times `strength`): each corner moves outward by
//!   `clamp(0.08 w, -0.12, 0.12) M`, the lips stretching evenly between, fading beyond the
//!   corners over 0.5 M and away from the lip line over 0.15 H.
//! - **Mouth interior**: between the displaced inner lips (the inner contour of the mesh, 20
//!   points) what showed between the lips at rest (teeth of a smiling portrait) moves with the
//!   upper lip, and the newly opened part below it is a dark mouth, redder towards the tongue,
//!   under a band of upper teeth where none showed, antialiased, fading in over the first 2 px
//!   of opening.
//!
//! The warp is computed backwards (for each output pixel, where it comes from), sampling the
//! unwarped picture bilinearly. The fall-offs keep the map one-to-one up to the largest
//! opening. No GStreamer here.

use crate::character::mesh::{INNER_LIP_MIDS, LIPS_INNER, MOUTH_CORNERS};
use crate::facemeta::LANDMARK_COUNT;
use crate::frame::smoothstep;

use super::features::Mouth;
use super::image::{copy_rect, FrameMut, Picture};

/// Mesh landmarks: top of the forehead, chin, top of the upper lip, bottom of the lower lip.
const FOREHEAD: usize = 10;
const CHIN: usize = 152;
const UPPER_LIP_TOP: usize = 0;
const LOWER_LIP_BOTTOM: usize = 17;

/// Opening at `o = 1`, and at most, as a share of the face height.
pub(super) const OPEN_SHARE: f32 = 0.07;
const MAX_OPEN_SHARE: f32 = 0.12;

/// Share of the opening taken by the upper lip.
const UPPER_SHARE: f32 = 0.2;

/// Corner spread at `w = 1`, and at most, as a share of the mouth width.
pub(super) const SPREAD_SHARE: f32 = 0.08;
const MAX_SPREAD_SHARE: f32 = 0.12;

/// Fall-off of the displacement beyond the lips: above and below (share of the face height),
/// of the spread beyond the corners (share of the mouth width) and away from the lip line
/// (share of the face height).
const UPPER_FADE: f32 = 0.06;
const LOWER_FADE: f32 = 0.20;
const SPREAD_FADE_U: f32 = 0.5;
const SPREAD_FADE_V: f32 = 0.15;

/// The region ellipse: centre below the mouth centre (share of the face height), semi-axes
/// (shares of mouth width and face height), and the normalised radius up to which the mask is 1.
pub(super) const REGION_DOWN: f32 = 0.10;
pub(super) const REGION_RX: f32 = 1.0;
pub(super) const REGION_RY: f32 = 0.32;
pub(super) const REGION_CORE: f32 = 0.7;

/// Smallest mouth warped, pixels corner to corner.
const MIN_MOUTH_PX: f32 = 4.0;

/// Lip thickness assumed when the landmarks give less, share of the face height.
const MIN_LIP: f32 = 0.02;

/// Opening (px) over which the interior fades in.
const FILL_RAMP_PX: f32 = 2.0;

/// Interior colours: upper teeth, the dark of the mouth, the tongue at the bottom.
const TEETH: [f32; 3] = [204.0, 198.0, 186.0];
const DARK: [f32; 3] = [34.0, 10.0, 12.0];
const TONGUE: [f32; 3] = [112.0, 44.0, 48.0];

/// Table step along `u`, pixels.
const STEP: f32 = 0.5;

#[inline(always)]
fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/// The mouth region of one face and its axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Region {
    /// Midpoint of the mouth corners, frame pixels.
    pub(super) centre: (f32, f32),
    /// Unit vector from corner 61 to corner 291.
    pub(super) u: (f32, f32),
    /// Unit vector across the mouth, towards the chin.
    pub(super) v: (f32, f32),
    /// Corner-to-corner distance.
    pub(super) mouth_width: f32,
    /// Forehead-to-chin distance.
    pub(super) face_height: f32,
}

impl Region {
    /// The region of the face with `landmarks` (frame pixels); `None` for a face too small or
    /// landmarks that are not finite.
    pub(super) fn of(landmarks: &[[f32; 3]]) -> Option<Self> {
        if landmarks.len() != LANDMARK_COUNT {
            return None;
        }
        let at = |i: usize| (landmarks[i][0], landmarks[i][1]);
        let (a, b) = (at(MOUTH_CORNERS[0]), at(MOUTH_CORNERS[1]));
        let (chin, top) = (at(CHIN), at(FOREHEAD));
        let width = (b.0 - a.0).hypot(b.1 - a.1);
        let height = (chin.0 - top.0).hypot(chin.1 - top.1);
        if !(width.is_finite() && height.is_finite() && width >= MIN_MOUTH_PX && height >= width) {
            return None;
        }
        let centre = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        let u = ((b.0 - a.0) / width, (b.1 - a.1) / width);
        let mut v = (-u.1, u.0);
        if (chin.0 - centre.0) * v.0 + (chin.1 - centre.1) * v.1 < 0.0 {
            v = (-v.0, -v.1);
        }
        Some(Self { centre, u, v, mouth_width: width, face_height: height })
    }

    /// Frame point (`x`, `y`) in mouth coordinates.
    #[inline(always)]
    pub(super) fn local(&self, x: f32, y: f32) -> (f32, f32) {
        let (dx, dy) = (x - self.centre.0, y - self.centre.1);
        (dx * self.u.0 + dy * self.u.1, dx * self.v.0 + dy * self.v.1)
    }

    /// Mouth coordinates (`lu`, `lv`) as a frame point.
    #[inline(always)]
    pub(super) fn frame(&self, lu: f32, lv: f32) -> (f32, f32) {
        (self.centre.0 + lu * self.u.0 + lv * self.v.0, self.centre.1 + lu * self.u.1 + lv * self.v.1)
    }

    #[inline(always)]
    fn axes(&self) -> (f32, f32, f32) {
        (REGION_RX * self.mouth_width, REGION_RY * self.face_height, REGION_DOWN * self.face_height)
    }

    /// The mask at mouth coordinates (`lu`, `lv`): 1 in the core, 0 on and outside the ellipse.
    #[inline(always)]
    pub(super) fn mask(&self, lu: f32, lv: f32) -> f32 {
        let (a, b, vc) = self.axes();
        let r2 = (lu / a).powi(2) + ((lv - vc) / b).powi(2);
        if r2 >= 1.0 {
            0.0
        } else if r2 <= REGION_CORE * REGION_CORE {
            1.0
        } else {
            smoothstep((1.0 - r2.sqrt()) / (1.0 - REGION_CORE))
        }
    }

    /// Pixel bounds `x0..x1`, `y0..y1` of the ellipse inside a `width` x `height` frame.
    pub(super) fn bounds(&self, width: usize, height: usize) -> Option<(usize, usize, usize, usize)> {
        let (a, b, vc) = self.axes();
        let (ex, ey) = self.frame(0.0, vc);
        let hx = ((a * self.u.0).powi(2) + (b * self.v.0).powi(2)).sqrt();
        let hy = ((a * self.u.1).powi(2) + (b * self.v.1).powi(2)).sqrt();
        let x0 = (ex - hx).floor().max(0.0) as usize;
        let y0 = (ey - hy).floor().max(0.0) as usize;
        let x1 = ((ex + hx).ceil().max(0.0) as usize).min(width);
        let y1 = ((ey + hy).ceil().max(0.0) as usize).min(height);
        (x0 < x1 && y0 < y1).then_some((x0, y0, x1, y1))
    }
}

/// The inner lip contours `v(u)` (upper, lower) sampled every [`STEP`] pixels from `-a` to
/// `a`, flat beyond their ends.
#[derive(Debug, Default)]
struct Lips {
    start: f32,
    values: Vec<(f32, f32)>,
}

/// The piecewise-linear curve through `points` (sorted by `u`) at `u`, flat beyond its ends;
/// `seg` is the segment to start looking from (updated).
fn polyline_at(points: &[(f32, f32)], u: f32, seg: &mut usize) -> f32 {
    match points {
        [] => 0.0,
        [only] => only.1,
        [first, .., last] => {
            while *seg + 2 < points.len() && points[*seg + 1].0 < u {
                *seg += 1;
            }
            let (p, q) = (points[*seg], points[*seg + 1]);
            if u <= first.0 {
                first.1
            } else if u >= last.0 {
                last.1
            } else if q.0 - p.0 > 1e-6 {
                p.1 + (q.1 - p.1) * ((u - p.0) / (q.0 - p.0)).clamp(0.0, 1.0)
            } else {
                q.1
            }
        }
    }
}

impl Lips {
    /// Samples both contours; lips that cross (noisy landmarks) meet in the middle.
    fn fill(&mut self, upper: &[(f32, f32)], lower: &[(f32, f32)], half_range: f32) {
        self.start = -half_range;
        let n = (2.0 * half_range / STEP).ceil() as usize + 2;
        self.values.clear();
        let (mut a, mut b) = (0, 0);
        for i in 0..n {
            let u = self.start + i as f32 * STEP;
            let (top, bottom) = (polyline_at(upper, u, &mut a), polyline_at(lower, u, &mut b));
            let mid = (top + bottom) / 2.0;
            self.values.push(if top > bottom { (mid, mid) } else { (top, bottom) });
        }
    }

    /// Upper and lower inner lip at `u`, interpolated.
    #[inline(always)]
    fn at(&self, u: f32) -> (f32, f32) {
        let f = ((u - self.start) * (1.0 / STEP)).max(0.0);
        let last = self.values.len().saturating_sub(2);
        let i = (f as usize).min(last);
        let t = (f - i as f32).min(1.0);
        match (self.values.get(i), self.values.get(i + 1)) {
            (Some(&(a, b)), Some(&(c, d))) => (a + (c - a) * t, b + (d - b) * t),
            (Some(&v), None) => v,
            _ => (0.0, 0.0),
        }
    }
}

/// Grid step (pixels) at which the smooth part of the map is computed exactly; pixels between
/// grid points far from the lips get it interpolated.
const GRID: usize = 4;

/// Distance (pixels) from the lip gap within which every pixel is mapped exactly.
const NEAR_GAP: f32 = 2.0 * GRID as f32;

/// Where an output pixel comes from.
#[derive(Debug, Clone, Copy, Default)]
struct Mapped {
    /// Source point, mouth coordinates.
    su: f32,
    sv: f32,
    /// Weight of the mouth interior (0 = none).
    fill: f32,
    /// At this column: the displaced upper lip, the start of the new opening, the displaced
    /// lower lip.
    top: f32,
    hole: f32,
    bottom: f32,
    /// Whether the point lies near the gap, where the map is not smooth.
    near_gap: bool,
}

/// One grid point of the map: its displacement in frame pixels, and whether the cells around
/// it must be mapped exactly.
#[derive(Debug, Clone, Copy, Default)]
struct Node {
    dx: f32,
    dy: f32,
    exact: bool,
}

/// The backward map of one mouth for one pose.
#[derive(Debug)]
struct Field<'a> {
    region: Region,
    lips: &'a Lips,
    spread: f32,
    up_amount: f32,
    down_amount: f32,
    lower_lip: f32,
    upper_lip: f32,
    /// Reciprocals of the divisors (half the mouth width, the fades, the fill ramp).
    inv_half: f32,
    inv_lower_fade: f32,
    inv_upper_fade: f32,
    across_reach: f32,
    inv_beyond: f32,
    /// Where anything moves, mouth coordinates.
    u_reach: f32,
    v_top: f32,
    v_bottom: f32,
}

impl Field<'_> {
    /// The source of the output point (`lu`, `lv`) (mouth coordinates), `None` where nothing
    /// moves.
    #[inline(always)]
    fn map(&self, lu: f32, lv: f32) -> Option<Mapped> {
        if lu.abs() > self.u_reach || lv < self.v_top || lv > self.v_bottom {
            return None;
        }
        let m = self.region.mask(lu, lv);
        if m <= 0.0 {
            return None;
        }
        // Corners: stretched evenly between them, fading beyond and away from the lips.
        let mut su = lu;
        if self.spread != 0.0 {
            let (top, bottom) = self.lips.at(lu);
            let off_line = (lv - (top + bottom) / 2.0).abs();
            if off_line < self.across_reach {
                let across = 1.0 - smoothstep(off_line / self.across_reach);
                let t = lu * self.inv_half;
                let along =
                    if t.abs() <= 1.0 { t } else { t.signum() * (1.0 - smoothstep((t.abs() - 1.0) * self.inv_beyond)) };
                su = lu - self.spread * along * across;
            }
        }
        // Lips: the upper one up, the lower one down, the gap between them opened.
        let taper = 1.0 - (su * self.inv_half) * (su * self.inv_half);
        let mut out = Mapped { su, sv: lv, ..Mapped::default() };
        if taper > 0.0 {
            let (top_rest, bottom_rest) = self.lips.at(su);
            let (up, down) = (self.up_amount * taper, self.down_amount * taper);
            let (top, bottom) = (top_rest - up, bottom_rest + down);
            out.sv = if lv >= bottom {
                let d = lv - bottom;
                lv - down * (1.0 - smoothstep((d - self.lower_lip) * self.inv_lower_fade))
            } else if lv <= top {
                let d = top - lv;
                lv + up * (1.0 - smoothstep((d - self.upper_lip) * self.inv_upper_fade))
            } else {
                // Inside the gap: what showed at rest moves with the upper lip; below it the
                // new opening (under the fill).
                (lv + up).min(bottom_rest)
            };
            // The new opening: from under what showed at rest down to the lower lip.
            let hole = top + (bottom_rest - top_rest).max(0.0);
            let coverage = ((lv - hole).min(bottom - lv) + 0.5).clamp(0.0, 1.0);
            out.fill = coverage * ((up + down) * (1.0 / FILL_RAMP_PX)).min(1.0) * m;
            (out.top, out.hole, out.bottom) = (top, hole, bottom);
            out.near_gap = lv > top - NEAR_GAP && lv < bottom + NEAR_GAP;
        }
        (out.su, out.sv) = (lu + m * (out.su - lu), lv + m * (out.sv - lv));
        Some(out)
    }
}

/// The colour inside the open mouth at `lv` for the gap `mapped`; `teeth_max` bounds the band of
/// synthetic upper teeth.
#[inline(always)]
fn interior(mapped: &Mapped, lv: f32, teeth_max: f32) -> [f32; 3] {
    let Mapped { top, hole, bottom, .. } = *mapped;
    let depth = lv - hole;
    let gap = (bottom - hole).max(1e-3);
    // Synthetic upper teeth only where the rest gap showed none.
    let teeth = ((0.3 * (bottom - top)).min(teeth_max) - (hole - top)).max(0.0);
    let toward_tongue = ((depth - teeth) / (gap - teeth).max(1e-3)).clamp(0.0, 1.0);
    let inside = mix(DARK, TONGUE, 0.6 * smoothstep((toward_tongue - 0.5) / 0.5));
    mix(TEETH, inside, (depth - teeth + 0.5).clamp(0.0, 1.0))
}

/// The warp with its reusable buffers.
#[derive(Debug, Default)]
pub(super) struct MouthWarp {
    /// Inner lip contours `v(u)`, mouth coordinates.
    lips: Lips,
    /// The map on the grid.
    nodes: Vec<Node>,
    /// Copy of the region when warping in place.
    scratch: Vec<u8>,
}

impl MouthWarp {
    /// Moves the mouth of the face with `landmarks` (frame pixels) in `frame` to `mouth` with
    /// gain `strength`, sampling `source` (the unwarped picture), or a copy of the frame's own
    /// region when `None`. Returns the number of pixels written.
    pub(super) fn apply(
        &mut self,
        frame: &mut FrameMut<'_>,
        source: Option<Picture<'_>>,
        landmarks: &[[f32; 3]],
        mouth: Mouth,
        strength: f32,
    ) -> usize {
        let Some(region) = Region::of(landmarks) else { return 0 };
        let (m_width, h) = (region.mouth_width, region.face_height);
        let drop = (mouth.open * strength * OPEN_SHARE).clamp(0.0, MAX_OPEN_SHARE) * h;
        let spread = (mouth.width * strength * SPREAD_SHARE).clamp(-MAX_SPREAD_SHARE, MAX_SPREAD_SHARE) * m_width;
        if drop < 0.05 && spread.abs() < 0.05 {
            return 0;
        }
        let Some(bounds) = region.bounds(frame.width, frame.height) else { return 0 };

        // Inner lip contours from corner to corner, in mouth coordinates.
        let local = |i: usize| region.local(landmarks[i][0], landmarks[i][1]);
        let corners = [local(MOUTH_CORNERS[0]), local(MOUTH_CORNERS[1])];
        let mut lower: Vec<(f32, f32)> = LIPS_INNER[..=10].iter().map(|&i| local(i)).chain(corners).collect();
        let mut upper: Vec<(f32, f32)> =
            LIPS_INNER[10..].iter().chain(&LIPS_INNER[..1]).map(|&i| local(i)).chain(corners).collect();
        if !lower.iter().chain(&upper).all(|p| p.0.is_finite() && p.1.is_finite()) {
            return 0;
        }
        lower.sort_by(|a, b| a.0.total_cmp(&b.0));
        upper.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.lips.fill(&upper, &lower, REGION_RX * m_width + 2.0);
        let half = m_width / 2.0;
        let up_amount = drop * UPPER_SHARE;
        let (top_most, bottom_most) =
            self.lips.values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(t, b), v| (t.min(v.0), b.max(v.1)));
        let lower_lip = (local(LOWER_LIP_BOTTOM).1 - local(INNER_LIP_MIDS[1]).1).max(MIN_LIP * h);
        let upper_lip = (local(INNER_LIP_MIDS[0]).1 - local(UPPER_LIP_TOP).1).max(MIN_LIP * h);
        // Where anything moves: between the corners (plus the spread's fade beyond them), from
        // the upper fade's end to the lower fade's end.
        let spreads = spread != 0.0;
        let field = Field {
            region,
            lips: &self.lips,
            spread,
            up_amount,
            down_amount: drop - up_amount,
            lower_lip,
            upper_lip,
            inv_half: 1.0 / half,
            inv_lower_fade: 1.0 / (LOWER_FADE * h),
            inv_upper_fade: 1.0 / (UPPER_FADE * h),
            across_reach: SPREAD_FADE_V * h,
            inv_beyond: half / (SPREAD_FADE_U * m_width),
            u_reach: if spreads { half + SPREAD_FADE_U * m_width + spread.abs() } else { half } + 1.0,
            v_top: (top_most - up_amount - upper_lip - UPPER_FADE * h).min(if spreads {
                top_most - SPREAD_FADE_V * h
            } else {
                0.0
            }) - 1.0,
            v_bottom: (bottom_most + drop + lower_lip + LOWER_FADE * h).max(if spreads {
                bottom_most + SPREAD_FADE_V * h
            } else {
                0.0
            }) + 1.0,
        };
        let (u_reach, v_top, v_bottom) = (field.u_reach, field.v_top, field.v_bottom);
        let corners = [(-u_reach, v_top), (u_reach, v_top), (-u_reach, v_bottom), (u_reach, v_bottom)]
            .map(|(lu, lv)| region.frame(lu, lv));
        let (fx0, fy0, fx1, fy1) =
            corners.iter().fold((f32::INFINITY, f32::INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY), |b, p| {
                (b.0.min(p.0), b.1.min(p.1), b.2.max(p.0), b.3.max(p.1))
            });
        let (x0, y0, x1, y1) = bounds;
        let (x0, y0) = (x0.max(fx0.floor().max(0.0) as usize), y0.max(fy0.floor().max(0.0) as usize));
        let (x1, y1) = (x1.min(fx1.ceil().max(0.0) as usize), y1.min(fy1.ceil().max(0.0) as usize));
        if x0 >= x1 || y0 >= y1 {
            return 0;
        }
        let source = match source {
            Some(picture) => picture,
            None => copy_rect(frame, (x0, y0, x1, y1), &mut self.scratch),
        };

        // The map on the grid: exact where the lips are, a displacement to interpolate elsewhere.
        let (nx, ny) = ((x1 - x0).div_ceil(GRID) + 1, (y1 - y0).div_ceil(GRID) + 1);
        self.nodes.clear();
        self.nodes.reserve(nx * ny);
        for j in 0..ny {
            for i in 0..nx {
                let (lu, lv) = region.local((x0 + i * GRID) as f32 + 0.5, (y0 + j * GRID) as f32 + 0.5);
                let node = field.map(lu, lv).map_or(Node::default(), |p| {
                    let (du, dv) = (p.su - lu, p.sv - lv);
                    Node {
                        dx: du * region.u.0 + dv * region.v.0,
                        dy: du * region.u.1 + dv * region.v.1,
                        exact: p.near_gap || p.fill > 0.0,
                    }
                });
                self.nodes.push(node);
            }
        }

        let teeth_max = 0.07 * m_width;
        let inv_grid = 1.0 / GRID as f32;
        let mut written = 0;
        for y in y0..y1 {
            let (row_u, row_v) = region.local(x0 as f32 + 0.5, y as f32 + 0.5);
            let (j, ty) = ((y - y0) / GRID, ((y - y0) % GRID) as f32 * inv_grid);
            for (k, x) in (x0..x1).enumerate() {
                // Mouth coordinates move linearly along the row.
                let (lu, lv) = (row_u + k as f32 * region.u.0, row_v + k as f32 * region.v.0);
                let i = k / GRID;
                let (n00, n10) = (self.nodes[j * nx + i], self.nodes[j * nx + i + 1]);
                let (n01, n11) = (self.nodes[(j + 1) * nx + i], self.nodes[(j + 1) * nx + i + 1]);
                let colour = if n00.exact || n10.exact || n01.exact || n11.exact {
                    let Some(p) = field.map(lu, lv) else { continue };
                    if (p.su - lu).abs() < 1e-3 && (p.sv - lv).abs() < 1e-3 && p.fill <= 0.0 {
                        continue;
                    }
                    let (fx, fy) = region.frame(p.su, p.sv);
                    let colour = source.sample(fx, fy);
                    if p.fill > 0.0 {
                        mix(colour, interior(&p, lv, teeth_max), p.fill)
                    } else {
                        colour
                    }
                } else {
                    let tx = (k % GRID) as f32 * inv_grid;
                    let lerp = |a: f32, b: f32, c: f32, d: f32| {
                        let top = a + (b - a) * tx;
                        top + (c + (d - c) * tx - top) * ty
                    };
                    let dx = lerp(n00.dx, n10.dx, n01.dx, n11.dx);
                    let dy = lerp(n00.dy, n10.dy, n01.dy, n11.dy);
                    // Never outside the region, whatever the neighbours move.
                    if (dx.abs() < 1e-3 && dy.abs() < 1e-3) || region.mask(lu, lv) <= 0.0 {
                        continue;
                    }
                    source.sample(x as f32 + 0.5 + dx, y as f32 + 0.5 + dy)
                };
                frame.set(x, y, colour);
                written += 1;
            }
        }
        written
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::character::mesh::LIPS_OUTER;
    use crate::lipsync::image::Layout;

    /// A frontal face 100 px wide: forehead top (60, 10), chin (60, 140), mouth corners at
    /// (40, 100) and (80, 100), lips 4 px thick, closed.
    pub(in crate::lipsync) fn synthetic_face() -> Vec<[f32; 3]> {
        let mut l = vec![[60.0, 70.0, 0.0]; LANDMARK_COUNT];
        l[FOREHEAD] = [60.0, 10.0, 0.0];
        l[CHIN] = [60.0, 140.0, 0.0];
        let arc = |i: usize, n: usize| 40.0 + 40.0 * i as f32 / n as f32;
        // Inner contour: lower half then upper half, both on y = 100 (closed).
        for (k, &i) in LIPS_INNER.iter().enumerate() {
            let x = if k <= 10 { arc(k, 10) } else { arc(20 - k, 10) };
            l[i] = [x, 100.0, 0.0];
        }
        for (k, &i) in LIPS_OUTER.iter().enumerate() {
            let x = if k <= 10 { arc(k, 10) } else { arc(20 - k, 10) };
            let bulge = 4.0 * (1.0 - ((x - 60.0) / 20.0).powi(2));
            l[i] = [x, if k <= 10 { 100.0 + bulge } else { 100.0 - bulge }, 0.0];
        }
        l
    }

    /// A 120 x 160 RGB frame of a smooth pattern.
    fn picture() -> Vec<u8> {
        (0..160 * 120).flat_map(|i| [(i % 120) as u8 * 2, (i / 120) as u8, 128]).collect()
    }

    fn warp(mouth: Mouth, strength: f32) -> (Vec<u8>, usize) {
        let mut data = picture();
        let mut frame = FrameMut { data: &mut data, width: 120, height: 160, stride: 360, layout: Layout::RGB };
        let n = MouthWarp::default().apply(&mut frame, None, &synthetic_face(), mouth, strength);
        (data, n)
    }

    #[test]
    fn a_closed_mouth_changes_nothing() {
        let (data, n) = warp(Mouth::default(), 1.0);
        assert_eq!(n, 0);
        assert_eq!(data, picture());
        let (data, n) = warp(Mouth { open: 1.0, width: 0.5 }, 0.0);
        assert_eq!((n, data == picture()), (0, true));
    }

    #[test]
    fn an_open_mouth_is_dark_inside_and_nothing_changes_outside_the_region() {
        let region = Region::of(&synthetic_face()).expect("region");
        let before = picture();
        for (mouth, strength) in [(Mouth { open: 1.0, width: -1.0 }, 2.0), (Mouth { open: 0.5, width: 1.0 }, 1.0)] {
            let (data, n) = warp(mouth, strength);
            assert!(n > 500, "{n} pixels written");
            for y in 0..160 {
                for x in 0..120 {
                    let (lu, lv) = region.local(x as f32 + 0.5, y as f32 + 0.5);
                    let i = (y * 120 + x) * 3;
                    if region.mask(lu, lv) == 0.0 {
                        assert_eq!(data[i..i + 3], before[i..i + 3], "({x}, {y}) outside the region");
                    }
                }
            }
        }
        let (data, _) = warp(Mouth { open: 1.0, width: 0.0 }, 1.0);
        // Opening 0.07 H = 9.1 px at the centre: 1.8 up, 7.3 down. The middle of the gap is dark.
        let i = (105 * 120 + 60) * 3;
        assert!(data[i] < 80 && data[i + 1] < 40, "{:?}", &data[i..i + 3]);
        // The upper teeth just under the upper lip.
        let i = (98 * 120 + 60) * 3;
        assert!(data[i] > 150 && data[i + 1] > 150, "{:?}", &data[i..i + 3]);
        // The chin moved down: the row pattern (green = y) below the lip is from higher up.
        let i = (118 * 120 + 60) * 3;
        assert!(data[i + 1] < 117, "{}", data[i + 1]);
    }

    #[test]
    fn spread_moves_the_corners_outward() {
        let (data, _) = warp(Mouth { open: 0.0, width: 1.0 }, 1.0);
        // At the right corner's row, pixels right of the corner now show what was further in
        // (red = 2x), so red is smaller than before.
        let i = (100 * 120 + 82) * 3;
        assert!(data[i] < 164, "red {} at x = 82", data[i]);
        let region = Region::of(&synthetic_face()).expect("region");
        assert!(region.mask(0.0, 0.0) == 1.0 && region.mask(100.0, 0.0) == 0.0);
    }
}
