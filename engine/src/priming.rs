// SPDX-License-Identifier: MPL-2.0
//! Encoder priming in finished MP4 files.
//!
//! An AAC encoder's first frame decodes to `AAC_PRIMING_FRAMES` samples that
//! come before the first input sample (the MDCT's overlap), so unless the
//! container says to skip them every player starts the sound that much late:
//! 21.3 ms at 48 kHz, against the picture. The ISO file format says it with
//! the audio track's edit list (`elst` media time = the priming), as ffmpeg
//! writes it. `mp4mux` (GStreamer 1.22) never does: it drops buffers before
//! the running time's zero instead, and `avenc_aac` stamps its first frame at
//! the first input sample's time without any clipping meta. So the edit list
//! mp4mux writes for every track is corrected here, in place, once the file
//! is complete: the fields keep their size, nothing else in the file moves.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{EngineError, Result};

/// Samples of priming `avenc_aac` (FFmpeg's native AAC encoder) puts before
/// the first input sample: one frame (its `initial_padding`).
pub(crate) const AAC_PRIMING_FRAMES: u64 = 1024;

/// Makes the sound track of the MP4 at `path` start `frames` samples (at
/// `rate` Hz) into its media, where the encoder's first real sample is, and
/// play that much shorter. Returns whether there was an audio edit list to
/// correct (fragmented recordings and files without sound have none).
pub(crate) fn skip_audio_priming(path: &Path, frames: u64, rate: u32) -> Result<bool> {
    let io = |e: std::io::Error| EngineError::io(path, e);
    let mut file = File::options().read(true).write(true).open(path).map_err(io)?;
    let Some((moov_at, moov)) = read_moov(&mut file).map_err(io)? else {
        return Err(EngineError::BadMedia { path: path.to_path_buf(), cause: "no moov box".into() });
    };
    let mut patched = moov.clone();
    let bad = |cause: &str| EngineError::BadMedia { path: path.to_path_buf(), cause: cause.into() };
    let root = children(&moov, 0, moov.len()).next().ok_or_else(|| bad("malformed moov box"))?;
    let movie_scale = children(&moov, root.body, root.end)
        .find(|b| &b.kind == b"mvhd")
        .and_then(|b| timescale(&moov, b.body))
        .ok_or_else(|| bad("no movie timescale"))?;
    let mut done = false;
    for trak in children(&moov, root.body, root.end).filter(|b| &b.kind == b"trak") {
        let Some(mdia) = children(&moov, trak.body, trak.end).find(|b| &b.kind == b"mdia") else { continue };
        let is_sound = children(&moov, mdia.body, mdia.end)
            .find(|b| &b.kind == b"hdlr")
            .is_some_and(|h| moov.get(h.body + 8..h.body + 12) == Some(b"soun"));
        if !is_sound {
            continue;
        }
        let media_scale = children(&moov, mdia.body, mdia.end)
            .find(|b| &b.kind == b"mdhd")
            .and_then(|b| timescale(&moov, b.body))
            .ok_or_else(|| bad("no media timescale"))?;
        let Some(edts) = children(&moov, trak.body, trak.end).find(|b| &b.kind == b"edts") else { continue };
        let Some(elst) = children(&moov, edts.body, edts.end).find(|b| &b.kind == b"elst") else { continue };
        let media = frames * u64::from(media_scale) / u64::from(rate);
        let movie = frames * u64::from(movie_scale) / u64::from(rate);
        patch_elst(&mut patched, elst.body, elst.end, media, movie).ok_or_else(|| bad("malformed edit list"))?;
        done = true;
    }
    if done {
        file.seek(SeekFrom::Start(moov_at)).map_err(io)?;
        file.write_all(&patched).map_err(io)?;
        file.sync_data().map_err(io)?;
    }
    Ok(done)
}

/// One box inside a buffer: its type and where its body and the box end.
#[derive(Debug, Clone, Copy)]
struct Box4 {
    kind: [u8; 4],
    body: usize,
    end: usize,
}

/// The boxes directly inside `buf[from..to]`.
fn children(buf: &[u8], from: usize, to: usize) -> impl Iterator<Item = Box4> + '_ {
    let mut at = from;
    std::iter::from_fn(move || {
        let head = buf.get(at..at + 8)?;
        let size = u32::from_be_bytes(head[..4].try_into().ok()?) as usize;
        let kind: [u8; 4] = head[4..8].try_into().ok()?;
        let (body, end) = match size {
            0 => (at + 8, to),
            1 => (at + 16, at + u64::from_be_bytes(buf.get(at + 8..at + 16)?.try_into().ok()?) as usize),
            n => (at + 8, at + n),
        };
        if end > to || body > end {
            return None;
        }
        at = end;
        Some(Box4 { kind, body, end })
    })
}

fn be_u32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

/// The timescale of an `mvhd` or `mdhd` body (after version 0's 32-bit or
/// version 1's 64-bit creation and modification times).
fn timescale(buf: &[u8], body: usize) -> Option<u32> {
    let version = *buf.get(body)?;
    be_u32(buf, body + if version == 1 { 20 } else { 12 }).filter(|&t| t > 0)
}

/// Moves the last edit that plays media (`media_time` != -1) `media` ticks
/// into the track and shortens it by `movie` ticks of the movie timescale.
fn patch_elst(buf: &mut [u8], body: usize, end: usize, media: u64, movie: u64) -> Option<()> {
    let version = *buf.get(body)?;
    let count = be_u32(buf, body + 4)? as usize;
    let (entry, wide) = if version == 1 { (20, true) } else { (12, false) };
    if body + 8 + count * entry > end {
        return None;
    }
    let at = (0..count).rev().map(|i| body + 8 + i * entry).find(|&at| {
        let time = if wide {
            i64::from_be_bytes(buf[at + 8..at + 16].try_into().expect("8 bytes"))
        } else {
            i64::from(i32::from_be_bytes(buf[at + 4..at + 8].try_into().expect("4 bytes")))
        };
        time >= 0
    })?;
    if wide {
        let duration = u64::from_be_bytes(buf[at..at + 8].try_into().ok()?).saturating_sub(movie);
        let time = i64::from_be_bytes(buf[at + 8..at + 16].try_into().ok()?) + media as i64;
        buf[at..at + 8].copy_from_slice(&duration.to_be_bytes());
        buf[at + 8..at + 16].copy_from_slice(&time.to_be_bytes());
    } else {
        let duration = be_u32(buf, at)?.saturating_sub(u32::try_from(movie).ok()?);
        let time = i32::from_be_bytes(buf[at + 4..at + 8].try_into().ok()?).checked_add(i32::try_from(media).ok()?)?;
        buf[at..at + 4].copy_from_slice(&duration.to_be_bytes());
        buf[at + 4..at + 8].copy_from_slice(&time.to_be_bytes());
    }
    Some(())
}

/// The file offset and bytes of the top-level `moov` box.
fn read_moov(file: &mut File) -> std::io::Result<Option<(u64, Vec<u8>)>> {
    let len = file.metadata()?.len();
    let mut at = 0u64;
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8])?;
        let size = match u32::from_be_bytes(head[..4].try_into().expect("4 bytes")) {
            0 => len - at,
            1 => {
                file.read_exact(&mut head[8..])?;
                u64::from_be_bytes(head[8..].try_into().expect("8 bytes"))
            }
            n => u64::from(n),
        };
        if size < 8 || at + size > len {
            return Ok(None);
        }
        if &head[4..8] == b"moov" {
            let mut moov = vec![0u8; size as usize];
            file.seek(SeekFrom::Start(at))?;
            file.read_exact(&mut moov)?;
            return Ok(Some((at, moov)));
        }
        at += size;
    }
    Ok(None)
}
