// SPDX-License-Identifier: MPL-2.0
//! Phonemes from the `espeak-ng` program. espeak-ng is GPL-3+: it runs as a separate process
//! (`espeak-ng -q -b 1 -v <voice> --ipa --stdin`, the text on stdin, IPA on stdout) and is
//! never linked. Its CLI prints one line per clause and drops the punctuation, which
//! [`Espeak::phonemize`] puts back from the clauses of the [`Sentence`].

use std::path::{Path, PathBuf};

use super::text::Sentence;
use super::TtsError;
use crate::program::RunError;

/// The program looked up on `PATH` unless another is given.
pub const PROGRAM: &str = "espeak-ng";

/// An espeak-ng program and the voice it phonemizes with.
#[derive(Debug, Clone)]
pub struct Espeak {
    program: PathBuf,
    voice: String,
}

impl Espeak {
    /// `program` (a path, or a name looked up on `PATH`) speaking `voice` (`en-us`).
    pub fn new(program: impl Into<PathBuf>, voice: impl Into<String>) -> Self {
        Self { program: program.into(), voice: voice.into() }
    }

    /// The program this runs.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The espeak-ng voice it speaks or phonemizes with.
    pub fn voice(&self) -> &str {
        &self.voice
    }

    /// Runs `espeak-ng --version` to tell early whether the program is there.
    pub fn check(&self) -> Result<String, TtsError> {
        let version = self.output(&["--version"], "")?;
        Ok(String::from_utf8_lossy(&version).trim().to_owned())
    }

    /// The IPA of `sentence` with its clause marks, as piper-tts builds it: clauses joined by a
    /// space, each followed by its mark (`wˈɛlkʌm tə ðə stɹˈiːmɪŋ, stˈuːdɪˌoʊ.`). When
    /// espeak-ng cuts the sentence into other clauses than ours, its clauses are joined by
    /// spaces and only the sentence's last mark is kept.
    pub fn phonemize(&self, sentence: &Sentence) -> Result<String, TtsError> {
        let lines = self.run(&sentence.text())?;
        let marks: Vec<Option<char>> = sentence.clauses.iter().map(|c| c.mark).collect();
        let mut out = String::new();
        if lines.len() == marks.len() {
            for (line, mark) in lines.iter().zip(&marks) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(line);
                out.extend(*mark);
            }
        } else {
            out = lines.join(" ");
            out.extend(marks.last().copied().flatten());
        }
        Ok(out)
    }

    /// `text` spoken by espeak-ng's own synthesiser (formant synthesis in the voice's language)
    /// at `wpm` words per minute and pitch `pitch` (0..=99, 50 its own): mono samples in -1..1
    /// and their rate. This is the voice for languages that have no Piper voice installed:
    /// robotic, but every language espeak-ng knows.
    pub fn speak(&self, text: &str, wpm: u32, pitch: u8) -> Result<(Vec<f32>, u32), TtsError> {
        let (wpm, pitch) = (wpm.to_string(), pitch.min(99).to_string());
        let args = ["-b", "1", "-v", &self.voice, "-s", &wpm, "-p", &pitch, "--stdout", "--stdin"];
        let wav = self.output(&args, text)?;
        pcm16_wav(&wav).ok_or_else(|| TtsError::Espeak { message: "what it wrote is not 16-bit mono WAV".into() })
    }

    /// The clause lines espeak-ng prints for `text` (empty lines dropped).
    fn run(&self, text: &str) -> Result<Vec<String>, TtsError> {
        let stdout = self.output(&["-q", "-b", "1", "-v", &self.voice, "--ipa", "--stdin"], text)?;
        let stdout = String::from_utf8_lossy(&stdout);
        Ok(stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
    }

    /// What espeak-ng run with `args` writes to its stdout for `text` on its stdin.
    fn output(&self, args: &[&str], text: &str) -> Result<Vec<u8>, TtsError> {
        crate::program::output(&self.program, args, text).map_err(|err| match err {
            RunError::Start(err) => self.spawn_error(err),
            RunError::Pipe(err) => TtsError::Espeak { message: format!("cannot pass it the text: {err}") },
            RunError::Failed { status, stderr } => self.failure(&stderr, status),
        })
    }

    fn spawn_error(&self, err: std::io::Error) -> TtsError {
        if err.kind() == std::io::ErrorKind::NotFound {
            TtsError::EspeakMissing { program: self.program.clone() }
        } else {
            TtsError::Espeak { message: format!("cannot run {}: {err}", self.program.display()) }
        }
    }

    fn failure(&self, said: &str, status: std::process::ExitStatus) -> TtsError {
        let message = if said.is_empty() {
            format!("{} with voice `{}` exited with {status}", self.program.display(), self.voice)
        } else {
            format!("{} with voice `{}` exited with {status}: {said}", self.program.display(), self.voice)
        };
        TtsError::Espeak { message }
    }
}

/// The samples and rate of a mono 16-bit PCM WAV. The data chunk runs to the end of the bytes:
/// espeak-ng writing to a pipe cannot go back to fill in its size.
fn pcm16_wav(bytes: &[u8]) -> Option<(Vec<f32>, u32)> {
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let mut at = 12;
    let mut rate = None;
    loop {
        let (id, size) = (bytes.get(at..at + 4)?, u32_at(at + 4)? as usize);
        let body = at + 8;
        if id == b"fmt " {
            let (format, channels, bits) = (u16_at(body)?, u16_at(body + 2)?, u16_at(body + 14)?);
            if format != 1 || channels != 1 || bits != 16 {
                return None;
            }
            rate = Some(u32_at(body + 4)?);
        } else if id == b"data" {
            let data = &bytes[body..];
            let samples = data.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect();
            return Some((samples, rate?));
        }
        at = body.checked_add(size + size % 2)?;
    }
}

#[cfg(test)]
mod tests {
    use super::pcm16_wav;

    #[test]
    fn a_streamed_wav_reads_to_its_end_and_anything_else_is_refused() {
        let mut wav =
            b"RIFF\xff\xff\xff\x7fWAVEfmt \x10\0\0\0\x01\0\x01\0\x22\x56\0\0\x44\xac\0\0\x02\0\x10\0".to_vec();
        wav.extend_from_slice(b"data\xff\xff\xff\x7f");
        wav.extend_from_slice(&[0x00, 0x40, 0x00, 0xc0]);
        let (samples, rate) = pcm16_wav(&wav).expect("a WAV");
        assert_eq!((samples, rate), (vec![0.5, -0.5], 22_050));
        let mut stereo = wav.clone();
        stereo[22] = 2;
        assert!(pcm16_wav(&stereo).is_none(), "two channels");
        assert!(pcm16_wav(b"RIFF....AVI ").is_none());
        assert!(pcm16_wav(&wav[..30]).is_none(), "cut inside the format");
    }
}
