// SPDX-License-Identifier: MPL-2.0
//! Per-row compositing of `reenactmatte`: the frame row is foreground, weighted by the alpha row,
//! over a background row (blurred frame, colour or image), or the alpha written into the
//! fourth byte. No GStreamer here.

/// What fills the background of one row.
#[derive(Debug, Clone, Copy)]
pub enum Background<'a> {
    /// One colour (R, G, B) with an opacity: 255 replaces, lower lets the frame show through.
    Colour([u8; 3], u8),
    /// An RGB row, 3 bytes per frame pixel (blurred frame or background image).
    Row(&'a [u8]),
}

#[inline]
fn mix(fg: u8, bg: u8, alpha: u32) -> u8 {
    // x / 255 rounded, without a division: exact for x <= 255 * 255.
    let v = u32::from(fg) * alpha + u32::from(bg) * (255 - alpha) + 128;
    ((v + (v >> 8)) >> 8) as u8
}

/// Blends `background` under a packed 4-byte frame `row` (R, G, B at `rgb`) where `alpha` is
/// below 255; fully opaque pixels are left untouched.
pub fn blend_row(row: &mut [u8], rgb: [usize; 3], alpha: &[u8], background: Background<'_>) {
    match background {
        Background::Colour(colour, opacity) => {
            for (px, &a) in row.chunks_exact_mut(4).zip(alpha) {
                if a == 255 {
                    continue;
                }
                // Only the background share (255 - a) is replaced, by `opacity` of it.
                let keep = 255 - (255 - u32::from(a)) * u32::from(opacity) / 255;
                for (c, &o) in rgb.iter().enumerate() {
                    px[o] = mix(px[o], colour[c], keep);
                }
            }
        }
        Background::Row(bg) => {
            for ((px, &a), b) in row.chunks_exact_mut(4).zip(alpha).zip(bg.chunks_exact(3)) {
                if a == 255 {
                    continue;
                }
                let a = u32::from(a);
                for (c, &o) in rgb.iter().enumerate() {
                    px[o] = mix(px[o], b[c], a);
                }
            }
        }
    }
}

/// Like [`blend_row`] with a background computed per pixel by `background(x)`, called only for
/// pixels that are not fully opaque (an upsampled blurred frame costs nothing under the person).
pub fn blend_row_with(row: &mut [u8], rgb: [usize; 3], alpha: &[u8], background: impl Fn(usize) -> [u8; 3]) {
    for (x, (px, &a)) in row.chunks_exact_mut(4).zip(alpha).enumerate() {
        if a == 255 {
            continue;
        }
        let b = background(x);
        let a = u32::from(a);
        for (c, &o) in rgb.iter().enumerate() {
            px[o] = mix(px[o], b[c], a);
        }
    }
}

/// Writes `alpha` into byte `offset` of each pixel of a packed 4-byte `row`.
pub fn write_alpha_row(row: &mut [u8], offset: usize, alpha: &[u8]) {
    for (px, &a) in row.chunks_exact_mut(4).zip(alpha) {
        px[offset] = a;
    }
}

/// Splits an ARGB `0xAARRGGBB` value into R, G, B and opacity.
pub fn argb(value: u32) -> ([u8; 3], u8) {
    let [a, r, g, b] = value.to_be_bytes();
    ([r, g, b], a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_replaces_the_background_share() {
        let mut row = vec![100, 100, 100, 0, 100, 100, 100, 0, 100, 100, 100, 0];
        blend_row(&mut row, [0, 1, 2], &[255, 0, 128], Background::Colour([0, 255, 10], 255));
        assert_eq!(&row[0..4], &[100, 100, 100, 0], "foreground untouched");
        assert_eq!(&row[4..8], &[0, 255, 10, 0], "background replaced");
        assert!((45..55).contains(&row[8]) && (170..185).contains(&row[9]), "{row:?}");
    }

    #[test]
    fn half_opaque_colour_lets_the_frame_through() {
        let mut row = vec![200, 200, 200, 255];
        blend_row(&mut row, [2, 1, 0], &[0], Background::Colour([0, 0, 0], 128));
        assert!((95..105).contains(&row[0]), "{row:?}");
        assert_eq!(row[3], 255);
    }

    #[test]
    fn row_background_is_weighted_by_alpha() {
        let mut row = vec![0, 0, 0, 9, 0, 0, 0, 9];
        blend_row(&mut row, [1, 2, 3], &[0, 255], Background::Row(&[10, 20, 30, 40, 50, 60]));
        assert_eq!(row, vec![0, 10, 20, 30, 0, 0, 0, 9]);
    }

    #[test]
    fn computed_background_is_asked_only_under_the_background() {
        let mut row = vec![0, 0, 0, 0, 7, 7, 7, 0];
        blend_row_with(&mut row, [0, 1, 2], &[0, 255], |x| {
            assert_eq!(x, 0);
            [1, 2, 3]
        });
        assert_eq!(row, vec![1, 2, 3, 0, 7, 7, 7, 0]);
    }

    #[test]
    fn alpha_goes_into_its_byte_and_argb_splits() {
        let mut row = vec![1, 2, 3, 4, 5, 6, 7, 8];
        write_alpha_row(&mut row, 0, &[200, 0]);
        assert_eq!(row, vec![200, 2, 3, 4, 0, 6, 7, 8]);
        assert_eq!(argb(0xff00_b140), ([0x00, 0xb1, 0x40], 0xff));
    }
}
