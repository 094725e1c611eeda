// SPDX-License-Identifier: MPL-2.0
//! Per-row compositing of `reenactmatte`, byte by byte over packed 4-byte rows so that the
//! loops vectorise: each frame byte is mixed with the background byte at the same place,
//! weighted by the pixel's alpha (255 on the fourth byte, so it is kept). No GStreamer here.

use super::mask::lerp;

/// Pixels per compositing chunk: a chunk all person (alpha 255) is skipped, background and
/// all; one all background takes the background without mixing.
const CHUNK: usize = 16;

/// What lies under one frame row, in the frame's byte layout (4 bytes per pixel).
#[derive(Debug, Clone, Copy)]
pub enum Under<'a> {
    /// One row: a colour repeated, or a background image's row.
    Row(&'a [u8]),
    /// Two rows and the weight of the second in 1/256: a vertical bilinear step computed per
    /// chunk, only where the background shows.
    Between(&'a [u8], &'a [u8], u16),
}

/// `(fg * weight + bg * (255 - weight)) / 255` rounded, in 16 bits: exact, and weight 255
/// returns `fg` unchanged.
#[inline(always)]
fn mix(fg: u8, bg: u8, weight: u8) -> u8 {
    let (fg, bg, a) = (u16::from(fg), u16::from(bg), u16::from(weight));
    let v = fg * a + bg * (255 - a) + 128;
    ((v + (v >> 8)) >> 8) as u8
}

/// Mixes the background `under` a packed 4-byte `row` by the pixels' `alpha`; byte `fourth`
/// of each pixel is kept. Compiled for AVX2 too, used where the CPU has it.
#[allow(unsafe_code)]
pub fn blend(row: &mut [u8], alpha: &[u8], fourth: usize, under: Under<'_>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { blend_avx2(row, alpha, fourth, under) };
    }
    blend_chunks(row, alpha, fourth, under);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn blend_avx2(row: &mut [u8], alpha: &[u8], fourth: usize, under: Under<'_>) {
    blend_chunks(row, alpha, fourth, under);
}

#[inline(always)]
fn blend_chunks(row: &mut [u8], alpha: &[u8], fourth: usize, under: Under<'_>) {
    // All background: R, G and B from the background, the fourth byte kept, without mixing.
    let mut kept = [0u8; CHUNK * 4];
    kept.iter_mut().skip(fourth).step_by(4).for_each(|k| *k = 0xff);
    let mut weights = [0u8; CHUNK * 4];
    // The background of a chunk, when it is blended from two rows.
    let mut between = [0u8; CHUNK * 4];
    for (i, (px, a)) in row.chunks_mut(CHUNK * 4).zip(alpha.chunks(CHUNK)).enumerate() {
        let (all, any) = a.iter().fold((255u8, 0u8), |(all, any), &v| (all & v, any | v));
        if all == 255 {
            continue;
        }
        let at = i * CHUNK * 4..i * CHUNK * 4 + px.len();
        let bg: &[u8] = match under {
            Under::Row(bg) => &bg[at],
            Under::Between(top, bottom, wb) => {
                let wb = wb.min(256);
                for ((o, &t), &b) in between.iter_mut().zip(&top[at.clone()]).zip(&bottom[at]) {
                    *o = lerp(t, b, wb);
                }
                &between[..px.len()]
            }
        };
        if any == 0 {
            for ((p, &k), &b) in px.iter_mut().zip(&kept).zip(bg) {
                *p = (*p & k) | (b & !k);
            }
        } else {
            // The edge: alpha spread over the pixel's bytes (255 on the fourth, which keeps it).
            spread_alpha(a, fourth, &mut weights);
            for ((p, &w), &b) in px.iter_mut().zip(&weights).zip(bg) {
                *p = mix(*p, b, w);
            }
        }
    }
}

/// Spreads a row of alpha over the four bytes of each pixel: the alpha on R, G and B, 255 on
/// byte `fourth` (so blending leaves it as it was).
#[inline(always)]
fn spread_alpha(alpha: &[u8], fourth: usize, out: &mut [u8]) {
    let keep = 0xffu32 << (8 * fourth);
    for (q, &a) in out.chunks_exact_mut(4).zip(alpha) {
        q.copy_from_slice(&((u32::from(a) * 0x0101_0101) | keep).to_le_bytes());
    }
}

/// The weight table of a colour at `opacity` over alpha `a`: only the background share
/// (255 - a) is replaced, by `opacity` of it.
pub fn opacity_lut(opacity: u8) -> [u8; 256] {
    let mut lut = [0u8; 256];
    for (a, out) in lut.iter_mut().enumerate() {
        *out = (255 - (255 - a as u32) * u32::from(opacity) / 255) as u8;
    }
    lut
}

/// One frame row of a colour in the byte layout `rgb` (the fourth byte 0, kept by its weight).
pub fn colour_row(colour: [u8; 3], rgb: [usize; 3], width: usize) -> Vec<u8> {
    let mut px = [0u8; 4];
    for (c, &o) in rgb.iter().enumerate() {
        px[o] = colour[c];
    }
    px.repeat(width)
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

    fn composite(row: &mut [u8], alpha: &[u8], fourth: usize, under: Under<'_>) {
        let mut portable = row.to_vec();
        blend(row, alpha, fourth, under);
        blend_chunks(&mut portable, alpha, fourth, under);
        assert_eq!(row, portable, "the AVX2 build gives the same bytes");
    }

    #[test]
    fn mix_is_exact_at_the_ends_and_rounds_between() {
        for v in [0u8, 1, 127, 200, 255] {
            assert_eq!(mix(v, 255 - v, 255), v);
            assert_eq!(mix(255 - v, v, 0), v);
        }
        assert_eq!(mix(200, 100, 128), 150);
    }

    #[test]
    fn colour_replaces_the_background_share() {
        let mut row = vec![100, 100, 100, 0, 100, 100, 100, 0, 100, 100, 100, 0];
        let colour = colour_row([0, 255, 10], [0, 1, 2], 3);
        composite(&mut row, &[255, 0, 128], 3, Under::Row(&colour));
        assert_eq!(&row[0..4], &[100, 100, 100, 0], "foreground untouched");
        assert_eq!(&row[4..8], &[0, 255, 10, 0], "background replaced");
        assert!((45..55).contains(&row[8]) && (170..185).contains(&row[9]), "{row:?}");
    }

    #[test]
    fn half_opaque_colour_lets_the_frame_through() {
        let mut row = vec![200, 200, 200, 255];
        let lut = opacity_lut(128);
        composite(&mut row, &[lut[0]], 3, Under::Row(&colour_row([0, 0, 0], [2, 1, 0], 1)));
        assert!((95..105).contains(&row[0]), "{row:?}");
        assert_eq!(row[3], 255, "the fourth byte is kept");
        assert_eq!((lut[255], opacity_lut(255)[0], opacity_lut(0)[0]), (255, 0, 255));
    }

    #[test]
    fn between_rows_blends_vertically_then_by_alpha() {
        let mut row = vec![0, 0, 0, 9, 0, 0, 0, 9];
        let (top, bottom) = ([10, 20, 30, 0, 1, 1, 1, 0], [30, 40, 50, 0, 1, 1, 1, 0]);
        composite(&mut row, &[0, 255], 3, Under::Between(&top, &bottom, 128));
        assert_eq!(row, vec![20, 30, 40, 9, 0, 0, 0, 9]);
    }

    #[test]
    fn opaque_chunks_are_left_alone_and_long_rows_are_covered() {
        let width = 100;
        let mut alpha = vec![255u8; width];
        alpha[width - 1] = 0;
        let mut row = vec![7u8; width * 4];
        composite(&mut row, &alpha, 0, Under::Row(&colour_row([1, 2, 3], [1, 2, 3], width)));
        assert!(row[..(width - 1) * 4].iter().all(|&v| v == 7));
        assert_eq!(&row[(width - 1) * 4..], &[7, 1, 2, 3]);
        // A whole chunk of background (no mixing) beside a mixed one, between two rows.
        let mut alpha = vec![0u8; 40];
        alpha[39] = 128;
        let (top, bottom) = (vec![100u8; 160], vec![200u8; 160]);
        let mut row = vec![50u8; 160];
        composite(&mut row, &alpha, 3, Under::Between(&top, &bottom, 64));
        assert_eq!(&row[..8], &[125, 125, 125, 50, 125, 125, 125, 50]);
        assert_eq!(&row[156..], &[87, 87, 87, 50]);
    }

    #[test]
    fn alpha_goes_into_its_byte_and_argb_splits() {
        let mut row = vec![1, 2, 3, 4, 5, 6, 7, 8];
        write_alpha_row(&mut row, 0, &[200, 0]);
        assert_eq!(row, vec![200, 2, 3, 4, 0, 6, 7, 8]);
        assert_eq!(argb(0xff00_b140), ([0x00, 0xb1, 0x40], 0xff));
        let mut weights = vec![0; 4];
        spread_alpha(&[9], 0, &mut weights);
        assert_eq!(weights, vec![255, 9, 9, 9]);
    }
}
