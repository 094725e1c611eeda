// SPDX-License-Identifier: MPL-2.0
//! A machine-readable capture clock burned into the top strip of each frame,
//! so a viewer on the same machine can measure glass-to-glass latency.
//!
//! Layout: the top [`strip_height`] rows are cut into [`CELLS`] equal cells
//! across the full width. Cell 0 is white and cell 1 black (references for the
//! reader's threshold); cells 2..34 carry the 32 low bits of the capture time
//! in Unix milliseconds, most significant first, white for 1. Cells this wide
//! (38 px at 1280) survive a 2.5 Mb/s H.264 encode; the browser page
//! (`studio-server/assets/whep.js`) reads them with a canvas.
//!
//! A browser publisher may burn the same strip itself (the publish page with
//! `?timecode=1`): the live graph then reads it off the decoded frame and
//! carries that time through the chain as a [`gst::ReferenceTimestampMeta`]
//! ([`UNIX_REFERENCE`]), so the figure runs from the presenter's canvas even
//! where an element repaints the strip.

/// Cells across the strip: two references and 32 bits.
pub const CELLS: usize = 34;

/// Luma of a white and a black cell (video range).
const WHITE: u8 = 235;
const BLACK: u8 = 16;

/// Rows the strip covers in a frame `height` rows tall.
pub fn strip_height(height: usize) -> usize {
    ((height as f64 / 45.0).round() as usize).max(8).min(height)
}

/// Horizontal span `[start, end)` of cell `i` in a frame `width` wide.
fn cell_span(i: usize, width: usize) -> (usize, usize) {
    (i * width / CELLS, (i + 1) * width / CELLS)
}

fn cell_is_white(i: usize, code: u32) -> bool {
    match i {
        0 => true,
        1 => false,
        _ => code >> (33 - i) & 1 == 1,
    }
}

/// Writes `code` into the luma plane `y` (rows of `stride` bytes).
pub fn burn_luma(y: &mut [u8], stride: usize, width: usize, height: usize, code: u32) {
    for row in 0..strip_height(height) {
        let line = &mut y[row * stride..row * stride + width];
        for i in 0..CELLS {
            let (a, b) = cell_span(i, width);
            line[a..b].fill(if cell_is_white(i, code) { WHITE } else { BLACK });
        }
    }
}

/// Sets the strip's rows of a subsampled chroma plane to neutral grey, so
/// the cells are pure black and white whatever the picture was.
pub fn neutral_chroma(plane: &mut [u8], stride: usize, width: usize, rows: usize) {
    for row in 0..rows {
        plane[row * stride..row * stride + width].fill(128);
    }
}

/// Reads the code back from a luma plane; `None` when the strip has no
/// contrast (no timecode there).
pub fn read_luma(y: &[u8], stride: usize, width: usize, height: usize) -> Option<u32> {
    let rows = strip_height(height);
    let mean = |i: usize| {
        let (a, b) = cell_span(i, width);
        let (x0, x1) = (a + (b - a) / 4, b - (b - a) / 4);
        let (y0, y1) = (rows / 4, rows - rows / 4);
        let mut sum = 0u64;
        for row in y0..y1 {
            sum += y[row * stride + x0..row * stride + x1].iter().map(|&v| u64::from(v)).sum::<u64>();
        }
        sum as f64 / ((x1 - x0) * (y1 - y0)).max(1) as f64
    };
    let (white, black) = (mean(0), mean(1));
    if white - black < 60.0 {
        return None;
    }
    let threshold = (white + black) / 2.0;
    Some((2..CELLS).fold(0u32, |code, i| code << 1 | u32::from(mean(i) > threshold)))
}

/// Reference caps name of the capture time a buffer carries, in Unix time.
pub const UNIX_REFERENCE: &str = "timestamp/x-unix";

/// Milliseconds since the Unix epoch now (0 on a clock set before it).
pub fn unix_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The full Unix time in ms whose 32 low bits are `code`, taken as the one
/// nearest `now_ms` (the strip keeps only 49 days' worth of bits; a clock read
/// a little before or after the publisher's draws the same instant).
pub fn rebuild_ms(code: u32, now_ms: i64) -> i64 {
    now_ms + i64::from(code.wrapping_sub(now_ms as u32) as i32)
}

/// Reads the strip of a decoded raw frame: any format whose first plane is
/// the luma, one byte per pixel (I420, YV12, NV12, Y42B, Y444...); `None`
/// for any other or without a strip.
pub fn read_frame(buffer: &gst::BufferRef, info: &gst_video::VideoInfo) -> Option<u32> {
    use gst_video::prelude::VideoFrameExt;
    let format = info.format_info();
    if !format.is_yuv() || format.plane()[0] != 0 || format.pixel_stride()[0] != 1 || format.depth()[0] != 8 {
        return None;
    }
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info).ok()?;
    let stride = usize::try_from(frame.plane_stride()[0]).ok()?;
    let y = frame.plane_data(0).ok()?;
    let (width, height) = (info.width() as usize, info.height() as usize);
    (height > 0 && y.len() >= stride * height).then(|| read_luma(y, stride, width, height)).flatten()
}

/// Capture time carried by `buffer` ([`UNIX_REFERENCE`]), in Unix ms.
pub fn carried_ms(buffer: &gst::BufferRef) -> Option<i64> {
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|meta| meta.reference().structure(0).is_some_and(|s| s.name() == UNIX_REFERENCE))
        .map(|meta| meta.timestamp().mseconds() as i64)
}

/// Attaches capture time `unix_ms` to `buffer` for [`carried_ms`].
pub fn carry_ms(buffer: &mut gst::BufferRef, unix_ms: i64) {
    let reference = gst::Caps::new_empty_simple(UNIX_REFERENCE);
    gst::ReferenceTimestampMeta::add(buffer, &reference, gst::ClockTime::from_mseconds(unix_ms.max(0) as u64), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_low_bits_rebuild_the_time_nearest_the_clock() {
        let capture: i64 = 1_796_000_000_123; // December 2026, past several wraps of 2^32
        let code = (capture % (1 << 32)) as u32;
        for now in [capture, capture + 80, capture + 3_000, capture - 40] {
            assert_eq!(rebuild_ms(code, now), capture, "now {now}");
        }
        // Captured just before a wrap of the low bits, read just after it.
        let before_wrap = (capture / (1 << 32) + 1) * (1 << 32) - 10;
        assert_eq!(rebuild_ms((before_wrap % (1 << 32)) as u32, before_wrap + 30), before_wrap);
    }

    #[test]
    fn a_decoded_frame_yields_its_strip_in_planar_and_semi_planar_layouts() {
        gst::init().unwrap();
        for format in [gst_video::VideoFormat::I420, gst_video::VideoFormat::Nv12, gst_video::VideoFormat::Y444] {
            let info = gst_video::VideoInfo::builder(format, 640, 360).build().unwrap();
            let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
            {
                use gst_video::prelude::VideoFrameExt;
                let b = buffer.get_mut().unwrap();
                let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &info).unwrap();
                let stride = frame.plane_stride()[0] as usize;
                let y = frame.plane_data_mut(0).unwrap();
                y.fill(100);
                burn_luma(y, stride, 640, 360, 0xcafe_f00d);
            }
            assert_eq!(read_frame(&buffer, &info), Some(0xcafe_f00d), "{format:?}");
        }
        let rgba = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, 64, 36).build().unwrap();
        assert_eq!(read_frame(&gst::Buffer::with_size(rgba.size()).unwrap(), &rgba), None, "RGBA is skipped");
    }

    #[test]
    fn a_carried_time_reads_back_and_other_references_are_ignored() {
        gst::init().unwrap();
        let mut buffer = gst::Buffer::new();
        let b = buffer.get_mut().unwrap();
        assert_eq!(carried_ms(b), None);
        let ntp = gst::Caps::new_empty_simple("timestamp/x-ntp");
        gst::ReferenceTimestampMeta::add(b, &ntp, gst::ClockTime::from_seconds(5), None);
        assert_eq!(carried_ms(b), None);
        carry_ms(b, 1_796_000_000_123);
        assert_eq!(carried_ms(b), Some(1_796_000_000_123));
    }

    #[test]
    fn a_burned_code_reads_back_at_common_sizes() {
        for (w, h) in [(1280, 720), (640, 360), (1920, 1080), (320, 240)] {
            let stride = w + 32;
            let mut y = vec![90u8; stride * h];
            for code in [0u32, 1, 0x8000_0001, 0xdead_beef, u32::MAX] {
                burn_luma(&mut y, stride, w, h, code);
                assert_eq!(read_luma(&y, stride, w, h), Some(code), "{w}x{h} {code:#x}");
            }
        }
    }

    #[test]
    fn a_frame_without_a_strip_has_no_code() {
        let y = vec![128u8; 640 * 360];
        assert_eq!(read_luma(&y, 640, 640, 360), None);
    }
}
