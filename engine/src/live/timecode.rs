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

#[cfg(test)]
mod tests {
    use super::*;

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
