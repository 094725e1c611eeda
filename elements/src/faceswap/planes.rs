// SPDX-License-Identifier: MPL-2.0
//! Filters over planes of floats in row-major order: the occlusion mask's box blur (of a
//! weight, or of several channels carried together) and its minimum filter. No GStreamer here.

/// What a box blur can sum: one float, or several channels blurred together in one pass.
pub(super) trait Summed: Copy {
    const ZERO: Self;
    fn plus(self, other: Self) -> Self;
    fn minus(self, other: Self) -> Self;
    fn times(self, factor: f32) -> Self;
}

impl Summed for f32 {
    const ZERO: Self = 0.0;
    fn plus(self, other: Self) -> Self {
        self + other
    }
    fn minus(self, other: Self) -> Self {
        self - other
    }
    fn times(self, factor: f32) -> Self {
        self * factor
    }
}

impl<const N: usize> Summed for [f32; N] {
    const ZERO: Self = [0.0; N];
    fn plus(self, other: Self) -> Self {
        std::array::from_fn(|c| self[c] + other[c])
    }
    fn minus(self, other: Self) -> Self {
        std::array::from_fn(|c| self[c] - other[c])
    }
    fn times(self, factor: f32) -> Self {
        self.map(|v| v * factor)
    }
}

/// In-place box blur (horizontal then vertical) of a `width` x `height` plane over `radius`
/// cells each side, edges clamped. Both passes keep a running sum, so the cost does not grow
/// with the radius; the vertical one moves a whole row of sums down at a time, so that it
/// reads the plane row by row rather than a column at a time.
pub(super) fn box_blur<T: Summed>(plane: &mut [T], width: usize, height: usize, radius: usize) {
    if radius == 0 || width == 0 || height == 0 {
        return;
    }
    let norm = 1.0 / (2 * radius + 1) as f32;
    // Each row padded with its edge values, one more at the end for the last step's read.
    let mut line = Vec::with_capacity(width + 2 * radius + 1);
    for row in plane.chunks_exact_mut(width) {
        line.clear();
        line.extend(std::iter::repeat_n(row[0], radius));
        line.extend_from_slice(row);
        line.extend(std::iter::repeat_n(row[width - 1], radius + 1));
        let mut sum = line[..=2 * radius].iter().fold(T::ZERO, |s, &v| s.plus(v));
        for (i, out) in row.iter_mut().enumerate() {
            *out = sum.times(norm);
            sum = sum.plus(line[i + 2 * radius + 1].minus(line[i]));
        }
    }
    let rows = plane.to_vec();
    let row = |y: isize| &rows[y.clamp(0, height as isize - 1) as usize * width..][..width];
    let mut sums = vec![T::ZERO; width];
    for y in -(radius as isize)..=radius as isize {
        sums.iter_mut().zip(row(y)).for_each(|(s, &v)| *s = s.plus(v));
    }
    for (y, out) in (0..).zip(plane.chunks_exact_mut(width)) {
        let (entering, leaving) = (row(y + radius as isize + 1), row(y - radius as isize));
        for (((o, s), &e), &l) in out.iter_mut().zip(&mut sums).zip(entering).zip(leaving) {
            *o = s.times(norm);
            *s = s.plus(e.minus(l));
        }
    }
}

/// In-place minimum filter (horizontal then vertical) of a `width` x `height` plane over
/// `radius` cells each side.
pub(super) fn min_filter(plane: &mut [f32], width: usize, height: usize, radius: usize) {
    if radius == 0 || width == 0 || height == 0 {
        return;
    }
    let mut lines = MinLines::default();
    plane.chunks_exact_mut(width).for_each(|row| lines.filter(row, radius));
    let mut column = Vec::with_capacity(height);
    for x in 0..width {
        column.clear();
        column.extend(plane[x..].iter().step_by(width));
        lines.filter(&mut column, radius);
        plane[x..].iter_mut().step_by(width).zip(&column).for_each(|(p, &v)| *p = v);
    }
}

/// Scratch lines of the minimum filter, which takes the least of each window from two
/// running minima (van Herk and Gil-Werman): cut into blocks as long as the window, the
/// line's minimum from each block's start and to each block's end; any window spans the
/// end of one block and the start of the next. Three comparisons a cell, whatever the radius.
#[derive(Default)]
struct MinLines {
    from_start: Vec<f32>,
    to_end: Vec<f32>,
}

impl MinLines {
    fn filter(&mut self, line: &mut [f32], radius: usize) {
        let window = 2 * radius + 1;
        // The line with `radius` cells of nothing (infinity) on each side.
        let padded = || {
            let none = std::iter::repeat_n(f32::INFINITY, radius);
            none.clone().chain(line.iter().copied()).chain(none)
        };
        self.from_start.clear();
        for (j, v) in padded().enumerate() {
            let running = if j % window == 0 { v } else { self.from_start[j - 1].min(v) };
            self.from_start.push(running);
        }
        self.to_end.clear();
        self.to_end.extend(padded());
        for j in (0..self.to_end.len() - 1).rev() {
            if (j + 1) % window != 0 {
                self.to_end[j] = self.to_end[j].min(self.to_end[j + 1]);
            }
        }
        for (i, out) in line.iter_mut().enumerate() {
            *out = self.to_end[i].min(self.from_start[i + window - 1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blur as defined: each cell the mean of the (2 r + 1)^2 cells around it, edges
    /// clamped.
    fn blurred_by_definition(plane: &[f32], width: usize, height: usize, radius: usize) -> Vec<f32> {
        let r = radius as isize;
        let at = |x: isize, y: isize| {
            plane[y.clamp(0, height as isize - 1) as usize * width + x.clamp(0, width as isize - 1) as usize]
        };
        (0..width * height)
            .map(|i| {
                let (x, y) = ((i % width) as isize, (i / width) as isize);
                let sum: f32 =
                    (-r..=r).flat_map(|dy| (-r..=r).map(move |dx| (dx, dy))).map(|(dx, dy)| at(x + dx, y + dy)).sum();
                sum / ((2 * r + 1) * (2 * r + 1)) as f32
            })
            .collect()
    }

    #[test]
    fn box_blur_keeps_a_flat_plane_and_spreads_a_spike() {
        let mut flat = vec![0.5f32; 30];
        box_blur(&mut flat, 6, 5, 2);
        assert!(flat.iter().all(|&v| (v - 0.5).abs() < 1e-6));
        let mut spike = vec![0.0f32; 49];
        spike[24] = 25.0;
        box_blur(&mut spike, 7, 7, 2);
        assert!((spike[24] - 1.0).abs() < 1e-5 && (spike[0]).abs() < 1e-6, "{spike:?}");
    }

    #[test]
    fn box_blur_is_the_clamped_mean_around_each_cell() {
        // Uneven values on a plane narrower than the window, so both edges clamp at once.
        let (width, height) = (5, 9);
        let plane: Vec<f32> = (0..width * height).map(|i| ((i * 37) % 11) as f32 - 3.0).collect();
        for radius in [1, 3, 6] {
            let mut blurred = plane.clone();
            box_blur(&mut blurred, width, height, radius);
            let expected = blurred_by_definition(&plane, width, height, radius);
            for (i, (b, e)) in blurred.iter().zip(&expected).enumerate() {
                assert!((b - e).abs() < 1e-4, "radius {radius}, cell {i}: {b} against {e}");
            }
        }
    }

    #[test]
    fn channels_blurred_together_are_each_blurred_alone() {
        let (width, height) = (8, 6);
        let channel = |k: usize| -> Vec<f32> { (0..width * height).map(|i| ((i * (k + 3)) % 7) as f32).collect() };
        let mut together: Vec<[f32; 2]> = channel(0).into_iter().zip(channel(1)).map(|(a, b)| [a, b]).collect();
        box_blur(&mut together, width, height, 2);
        for k in 0..2 {
            let mut alone = channel(k);
            box_blur(&mut alone, width, height, 2);
            assert!(together.iter().zip(&alone).all(|(t, a)| t[k] == *a), "channel {k}");
        }
    }

    #[test]
    fn min_filter_is_the_least_of_the_square_around_each_cell() {
        let (width, height) = (6, 11);
        let plane: Vec<f32> = (0..width * height).map(|i| ((i * 29) % 13) as f32).collect();
        let plane = &plane;
        for radius in [1, 2, 4, 7] {
            let mut filtered = plane.clone();
            min_filter(&mut filtered, width, height, radius);
            for (i, &f) in filtered.iter().enumerate() {
                let (x, y) = (i % width, i / width);
                let least = (y.saturating_sub(radius)..(y + radius + 1).min(height))
                    .flat_map(|v| {
                        (x.saturating_sub(radius)..(x + radius + 1).min(width)).map(move |u| plane[v * width + u])
                    })
                    .fold(f32::INFINITY, f32::min);
                assert_eq!(f, least, "radius {radius}, cell ({x}, {y})");
            }
        }
    }

    #[test]
    fn min_filter_spreads_a_dip_over_its_square() {
        let mut plane = vec![1.0f32; 49];
        plane[24] = 0.25;
        min_filter(&mut plane, 7, 7, 1);
        let low: Vec<usize> = (0..49).filter(|&i| plane[i] < 1.0).collect();
        assert_eq!(low, vec![16, 17, 18, 23, 24, 25, 30, 31, 32]);
    }
}
