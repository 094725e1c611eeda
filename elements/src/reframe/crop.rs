// SPDX-License-Identifier: MPL-2.0
//! Crop geometry and copy for `reenactreframe`. No GStreamer here.

/// The largest even-sized crop of aspect `num:den` inside a `width` x `height` frame.
pub fn crop_size(width: u32, height: u32, (num, den): (u32, u32)) -> (u32, u32) {
    let even = |v: u64| u32::try_from((v & !1).max(2)).unwrap_or(!1);
    let (w, h, num, den) = (u64::from(width), u64::from(height), u64::from(num.max(1)), u64::from(den.max(1)));
    let (cw, ch) = if w * den > h * num { (h * num / den, h) } else { (w, w * den / num) };
    (even(cw).min(width.max(2) & !1), even(ch).min(height.max(2) & !1))
}

/// Top-left corner of a `crop` rectangle centred at `centre`, rounded and kept inside the frame.
pub fn crop_origin(centre: (f32, f32), crop: (u32, u32), frame: (u32, u32)) -> (u32, u32) {
    let axis = |c: f32, size: u32, full: u32| {
        let max = full.saturating_sub(size);
        ((c - size as f32 / 2.0).round().max(0.0) as u32).min(max)
    };
    (axis(centre.0, crop.0, frame.0), axis(centre.1, crop.1, frame.1))
}

/// Copies the `crop` rectangle at `origin` of packed `src` rows into `dst` rows.
pub fn copy_crop(
    src: &[u8],
    src_stride: usize,
    dst: &mut [u8],
    dst_stride: usize,
    origin: (usize, usize),
    crop: (usize, usize),
    pixel_stride: usize,
) {
    let bytes = crop.0 * pixel_stride;
    for (row, out) in dst.chunks_mut(dst_stride).take(crop.1).enumerate() {
        let start = (origin.1 + row) * src_stride + origin.0 * pixel_stride;
        out[..bytes].copy_from_slice(&src[start..start + bytes]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_sizes_are_even_and_fit() {
        assert_eq!(crop_size(1280, 720, (9, 16)), (404, 720));
        assert_eq!(crop_size(1280, 720, (1, 1)), (720, 720));
        assert_eq!(crop_size(1280, 720, (16, 9)), (1280, 720));
        assert_eq!(crop_size(720, 1280, (16, 9)), (720, 404));
        assert_eq!(crop_size(1921, 1081, (1, 1)), (1080, 1080));
        assert_eq!(crop_size(3, 3, (1, 1)), (2, 2));
    }

    #[test]
    fn origin_is_rounded_and_clamped() {
        assert_eq!(crop_origin((640.0, 360.0), (404, 720), (1280, 720)), (438, 0));
        assert_eq!(crop_origin((10.0, 360.0), (404, 720), (1280, 720)), (0, 0));
        assert_eq!(crop_origin((1270.0, 360.0), (404, 720), (1280, 720)), (876, 0));
    }

    #[test]
    fn copy_takes_the_rectangle() {
        let src: Vec<u8> = (0..4 * 3).map(|v| v as u8).collect(); // 4x3, 1 byte per pixel
        let mut dst = vec![0u8; 4];
        copy_crop(&src, 4, &mut dst, 2, (1, 1), (2, 2), 1);
        assert_eq!(dst, vec![5, 6, 9, 10]);
    }
}
