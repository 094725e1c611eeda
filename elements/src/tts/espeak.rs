// SPDX-License-Identifier: MPL-2.0
//! Phonemes from the `espeak-ng` program. espeak-ng is GPL-3+: it runs as a separate process
//! (`espeak-ng -q -b 1 -v <voice> --ipa --stdin`, the text on stdin, IPA on stdout) and is
//! never linked. Its CLI prints one line per clause and drops the punctuation, which
//! [`Espeak::phonemize`] puts back from the clauses of the [`Sentence`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::text::Sentence;
use super::TtsError;

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

    /// Runs `espeak-ng --version` to tell early whether the program is there.
    pub fn check(&self) -> Result<String, TtsError> {
        let output = Command::new(&self.program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|err| self.spawn_error(err))?;
        if !output.status.success() {
            return Err(self.failure(&output.stderr, output.status));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
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

    /// The clause lines espeak-ng prints for `text` (empty lines dropped).
    fn run(&self, text: &str) -> Result<Vec<String>, TtsError> {
        let mut child = Command::new(&self.program)
            .args(["-q", "-b", "1", "-v", &self.voice, "--ipa", "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| self.spawn_error(err))?;
        // One sentence is small: writing it all before reading cannot fill the pipes.
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|err| TtsError::Espeak { message: format!("cannot write the text to it: {err}") })?;
        }
        let output = child
            .wait_with_output()
            .map_err(|err| TtsError::Espeak { message: format!("cannot read its output: {err}") })?;
        if !output.status.success() {
            return Err(self.failure(&output.stderr, output.status));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
    }

    fn spawn_error(&self, err: std::io::Error) -> TtsError {
        if err.kind() == std::io::ErrorKind::NotFound {
            TtsError::EspeakMissing { program: self.program.clone() }
        } else {
            TtsError::Espeak { message: format!("cannot run {}: {err}", self.program.display()) }
        }
    }

    fn failure(&self, stderr: &[u8], status: std::process::ExitStatus) -> TtsError {
        let said = String::from_utf8_lossy(stderr);
        let said = said.trim();
        let message = if said.is_empty() {
            format!("{} with voice `{}` exited with {status}", self.program.display(), self.voice)
        } else {
            format!("{} with voice `{}` exited with {status}: {said}", self.program.display(), self.voice)
        };
        TtsError::Espeak { message }
    }
}
