// SPDX-License-Identifier: MPL-2.0
//! Whisper (whisper-rs / whisper.cpp) on a thread of its own, fed utterances through a bounded
//! channel and answering through an unbounded one, so the streaming thread never waits for an
//! inference it did not ask to wait for. whisper.cpp aborts the whole process when it throws,
//! so everything it is given is checked here first: the model file (magic number), the
//! language against the model, the audio length and values. No GStreamer here.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Once;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

/// Sample rate whisper takes.
pub(crate) const RATE: u32 = 16_000;

/// Whisper's window: longer audio is cut by the segmenter before it gets here.
pub(crate) const MAX_SAMPLES: usize = 30 * RATE as usize;

/// whisper.cpp skips inputs under 1 s ("input is too short"); shorter ones are padded to this.
const MIN_SAMPLES: usize = RATE as usize * 11 / 10;

/// First bytes of a ggml whisper file (0x67676d6c little-endian).
const GGML_MAGIC: [u8; 4] = *b"lmgg";

/// Jobs queued behind the one running.
const QUEUE: usize = 1;

/// Why the transcriber cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CaptionsError {
    /// The model file is not a whisper.cpp ggml file.
    #[error("{}: not a whisper.cpp ggml model ({cause})", path.display())]
    BadModel { path: PathBuf, cause: String },
    /// whisper.cpp refused the model.
    #[error("{}: whisper.cpp cannot load it: {cause}", path.display())]
    Load { path: PathBuf, cause: String },
    /// The model cannot transcribe this language.
    #[error("language `{language}` is not supported by {model}: {reason}")]
    Language { language: String, model: String, reason: String },
    /// The model cannot translate.
    #[error("translate needs a multilingual whisper model; {model} is English-only")]
    Translate { model: String },
    /// Inference failed.
    #[error("whisper failed: {0}")]
    Inference(String),
    /// The worker thread is gone.
    #[error("the transcription thread stopped")]
    WorkerGone,
}

/// One piece of text from a job, in samples from the job's start.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Piece {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) text: String,
}

/// What the worker is asked to transcribe.
#[derive(Debug)]
pub(crate) struct Job {
    /// Flush generation the job belongs to: results of an older one are dropped.
    pub(crate) generation: u64,
    /// Stream time of the first sample, in nanoseconds (PTS).
    pub(crate) start_ns: u64,
    /// 16 kHz mono audio.
    pub(crate) samples: Vec<f32>,
    /// A final result (else a partial one, replaced later).
    pub(crate) is_final: bool,
}

/// What the worker answers.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) generation: u64,
    pub(crate) start_ns: u64,
    /// Length of the audio of the job, in samples.
    pub(crate) len: usize,
    pub(crate) is_final: bool,
    pub(crate) pieces: Result<Vec<Piece>, CaptionsError>,
    /// The language this utterance's text is in: the one set, or under `language=auto` the
    /// one detected in it.
    pub(crate) language: Option<&'static str>,
    /// Under `language=auto`, the language most of the speech so far was in.
    pub(crate) heard: Option<&'static str>,
    /// Wall time of the inference.
    pub(crate) took: Duration,
}

/// How whisper is run.
#[derive(Debug, Clone)]
pub(crate) struct TranscriberConfig {
    pub(crate) language: String,
    pub(crate) translate: bool,
    pub(crate) threads: usize,
}

/// A loaded whisper model with the settings checked against it.
pub(crate) struct Transcriber {
    ctx: WhisperContext,
    config: TranscriberConfig,
}

impl std::fmt::Debug for Transcriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcriber").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Transcriber {
    /// Loads `path` (catalog model `model`) and checks `config` against it.
    pub(crate) fn open(path: &Path, model: &str, config: TranscriberConfig) -> Result<Self, CaptionsError> {
        static LOGGING: Once = Once::new();
        // whisper.cpp prints to stderr by default; route it to tracing instead.
        LOGGING.call_once(whisper_rs::install_logging_hooks);
        check_magic(path)?;
        let language = config.language.as_str();
        // `auto` is asked first: whisper.cpp logs an error for any code it does not know.
        let lang_ok = language == "auto"
            || (!language.is_empty()
                && language.len() <= 8
                && language.bytes().all(|b| b.is_ascii_lowercase())
                && whisper_rs::get_lang_id(language).is_some());
        if !lang_ok {
            return Err(CaptionsError::Language {
                language: language.to_owned(),
                model: model.to_owned(),
                reason: "not a whisper language code (en, de, fr, ...)".into(),
            });
        }
        let ctx = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .map_err(|e| CaptionsError::Load { path: path.to_path_buf(), cause: e.to_string() })?;
        if !ctx.is_multilingual() {
            if language != "en" {
                return Err(CaptionsError::Language {
                    language: language.to_owned(),
                    model: model.to_owned(),
                    reason: "the model is English-only; use language=en or a multilingual model".into(),
                });
            }
            if config.translate {
                return Err(CaptionsError::Translate { model: model.to_owned() });
            }
        }
        Ok(Self { ctx, config })
    }

    /// Whether whisper is to tell the language.
    fn detects(&self) -> bool {
        self.config.language == "auto"
    }

    /// Transcribes `samples` (16 kHz mono) with a state of this model, as speech in `language`
    /// (a whisper code or `auto`).
    fn run(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        is_final: bool,
        language: &str,
    ) -> Result<Vec<Piece>, CaptionsError> {
        if samples.is_empty() || samples.len() > MAX_SAMPLES {
            return Err(CaptionsError::Inference(format!(
                "{} samples given, whisper takes 1..={MAX_SAMPLES}",
                samples.len()
            )));
        }
        let mut audio: Vec<f32> =
            samples.iter().map(|v| if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.0 }).collect();
        if audio.len() < MIN_SAMPLES {
            audio.resize(MIN_SAMPLES, 0.0);
        }
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_language(Some(language));
        params.set_translate(self.config.translate);
        params.set_n_threads(self.config.threads.clamp(1, 64) as i32);
        // Utterances are independent; carrying text over invites repetition loops.
        params.set_no_context(true);
        params.set_single_segment(!is_final);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_audio_ctx(audio_ctx(audio.len()));
        if !is_final {
            // A partial is replaced by the final text; it must be quick rather than best, so no
            // re-decoding at higher temperatures when whisper doubts its first try.
            params.set_temperature_inc(0.0);
        }
        state.full(params, &audio).map_err(|e| CaptionsError::Inference(e.to_string()))?;
        let real_end = samples.len() as u64;
        let mut pieces = Vec::new();
        for segment in state.as_iter() {
            let text = segment.to_str_lossy().map_err(|e| CaptionsError::Inference(e.to_string()))?;
            let text = clean(&text);
            if text.is_empty() {
                continue;
            }
            // Centiseconds from the start of the job.
            let to_samples = |cs: i64| (cs.max(0) as u64 * u64::from(RATE) / 100).min(real_end);
            let start = to_samples(segment.start_timestamp());
            let end = to_samples(segment.end_timestamp()).max(start);
            pieces.push(Piece { start, end, text });
        }
        Ok(pieces)
    }

    /// Whisper's language probabilities for the audio of the last [`Transcriber::run`].
    ///
    /// whisper.cpp detects the language inside `full` before it applies that call's encoder
    /// length, so with `auto` it looks at the previous job's length of audio: after a 1 s
    /// partial it judges a 7 s utterance by its first 3.5 s (and took espeak English for Thai
    /// or Latin). Asked after the run, the state holds this job's spectrogram and length.
    fn detect(&self, state: &mut WhisperState) -> Result<Vec<f32>, CaptionsError> {
        let threads = self.config.threads.clamp(1, 64);
        state.lang_detect(0, threads).map(|(_, probs)| probs).map_err(|e| CaptionsError::Inference(e.to_string()))
    }

    /// Runs `job` as speech in the language `tally` leads with (or as set), and under `auto`
    /// checks a final utterance's language afterwards: a confident other one is transcribed
    /// again in it.
    fn transcribe(&self, state: &mut WhisperState, job: &Job, tally: &mut LanguageTally) -> Transcribed {
        let set = self.config.language.as_str();
        let guess = if self.detects() { tally.leader().unwrap_or(set) } else { set };
        let mut pieces = self.run(state, &job.samples, job.is_final, guess);
        let used = pieces.as_ref().ok().and_then(|_| whisper_rs::get_lang_str(state.full_lang_id_from_state()));
        if !(self.detects() && job.is_final && pieces.is_ok()) {
            return Transcribed { pieces, language: used };
        }
        let probs = match self.detect(state) {
            Ok(probs) => probs,
            Err(err) => return Transcribed { pieces: Err(err), language: used },
        };
        tally.add(&probs, job.samples.len() as f32 / RATE as f32);
        let Some((top, p)) = LanguageTally::top(&probs) else { return Transcribed { pieces, language: used } };
        if p < SWITCH_CONFIDENCE {
            return Transcribed { pieces, language: used };
        }
        if Some(top) != used {
            pieces = self.run(state, &job.samples, job.is_final, top);
        }
        Transcribed { pieces, language: Some(top) }
    }
}

/// A language detected this surely in one utterance is the one it is transcribed in.
const SWITCH_CONFIDENCE: f32 = 0.5;

/// What a job came to.
struct Transcribed {
    pieces: Result<Vec<Piece>, CaptionsError>,
    language: Option<&'static str>,
}

/// Seconds of speech heard per language, weighted by whisper's probability: under `auto`,
/// the show's language is the one with the most, so one doubtful utterance cannot flip it.
#[derive(Debug, Default, Clone)]
pub(crate) struct LanguageTally {
    seconds: Vec<f32>,
}

impl LanguageTally {
    /// Adds an utterance of `seconds` with whisper's probabilities per language id.
    pub(crate) fn add(&mut self, probs: &[f32], seconds: f32) {
        if self.seconds.len() < probs.len() {
            self.seconds.resize(probs.len(), 0.0);
        }
        for (total, p) in self.seconds.iter_mut().zip(probs) {
            if p.is_finite() && *p > 0.0 {
                *total += p * seconds.max(0.0);
            }
        }
    }

    /// The language with the most speech, once there is any.
    pub(crate) fn leader(&self) -> Option<&'static str> {
        Self::top(&self.seconds).filter(|(_, weight)| *weight > 0.0).map(|(code, _)| code)
    }

    /// The language with the highest value and that value.
    fn top(values: &[f32]) -> Option<(&'static str, f32)> {
        let (id, value) = values.iter().enumerate().filter(|(_, v)| v.is_finite()).max_by(|a, b| a.1.total_cmp(b.1))?;
        Some((whisper_rs::get_lang_str(i32::try_from(id).ok()?)?, *value))
    }
}

/// Encoder positions for `samples` of audio: whisper pads every job to its 30 s window (1500
/// positions, 50 per second), so a 2 s utterance would cost as much as 30 s. Encoding what
/// the audio covers, plus about 2.5 s of the padding the model expects after speech, cuts the
/// encoder's work in proportion.
fn audio_ctx(samples: usize) -> i32 {
    const FULL: usize = 1500;
    const MARGIN: usize = 128;
    let covered = (samples * 50).div_ceil(RATE as usize);
    (covered + MARGIN).min(FULL) as i32
}

/// Whisper's threads on a machine of `cpus`: half of them, at least 1 and at most 4. Its
/// threads spin while they wait for each other, so more threads than the cores left free make
/// it many times slower, not faster (see the element's documentation).
pub(crate) fn default_threads(cpus: usize) -> usize {
    (cpus / 2).clamp(1, 4)
}

/// Trims a segment and drops what is not speech (`[BLANK_AUDIO]`, `(music)`).
fn clean(text: &str) -> String {
    let text = text.trim();
    let bracketed = |open: char, close: char| text.starts_with(open) && text.ends_with(close);
    if bracketed('[', ']') || bracketed('(', ')') || bracketed('*', '*') {
        return String::new();
    }
    text.to_owned()
}

fn check_magic(path: &Path) -> Result<(), CaptionsError> {
    let bad = |cause: String| CaptionsError::BadModel { path: path.to_path_buf(), cause };
    let mut file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).map_err(|e| bad(format!("cannot read its header: {e}")))?;
    if magic != GGML_MAGIC {
        return Err(bad(format!("header {magic:02x?}, expected {GGML_MAGIC:02x?}")));
    }
    Ok(())
}

/// The worker thread and its channels.
#[derive(Debug)]
pub(crate) struct Worker {
    jobs: Option<SyncSender<Job>>,
    results: Receiver<Outcome>,
    thread: Option<JoinHandle<()>>,
    /// Jobs sent and not answered yet.
    in_flight: usize,
}

/// Why a job was not queued.
#[derive(Debug)]
pub(crate) enum Rejected {
    /// The worker is busy; the job comes back.
    Busy(Job),
    /// The worker is gone.
    Gone,
}

impl Worker {
    /// Starts the thread with its own whisper state.
    pub(crate) fn spawn(transcriber: Transcriber) -> Result<Self, CaptionsError> {
        let mut state = transcriber.ctx.create_state().map_err(|e| CaptionsError::Inference(e.to_string()))?;
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(QUEUE);
        let (out_tx, out_rx): (Sender<Outcome>, Receiver<Outcome>) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("reenactcaptions-whisper".into())
            .spawn(move || {
                let mut tally = LanguageTally::default();
                for job in job_rx {
                    let began = Instant::now();
                    let done = transcriber.transcribe(&mut state, &job, &mut tally);
                    let outcome = Outcome {
                        generation: job.generation,
                        start_ns: job.start_ns,
                        len: job.samples.len(),
                        is_final: job.is_final,
                        pieces: done.pieces,
                        language: done.language,
                        heard: if transcriber.detects() { tally.leader() } else { done.language },
                        took: began.elapsed(),
                    };
                    if out_tx.send(outcome).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| CaptionsError::Inference(format!("cannot start the transcription thread: {e}")))?;
        Ok(Self { jobs: Some(job_tx), results: out_rx, thread: Some(thread), in_flight: 0 })
    }

    /// Jobs sent and not answered yet.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Queues `job` if there is room.
    pub(crate) fn try_send(&mut self, job: Job) -> Result<(), Rejected> {
        let tx = self.jobs.as_ref().ok_or(Rejected::Gone)?;
        match tx.try_send(job) {
            Ok(()) => {
                self.in_flight += 1;
                Ok(())
            }
            Err(TrySendError::Full(job)) => Err(Rejected::Busy(job)),
            Err(TrySendError::Disconnected(_)) => Err(Rejected::Gone),
        }
    }

    /// Queues `job`, waiting for room.
    pub(crate) fn send(&mut self, job: Job) -> Result<(), CaptionsError> {
        let tx = self.jobs.as_ref().ok_or(CaptionsError::WorkerGone)?;
        tx.send(job).map_err(|_| CaptionsError::WorkerGone)?;
        self.in_flight += 1;
        Ok(())
    }

    /// Answers that are ready.
    pub(crate) fn try_recv(&mut self) -> Vec<Outcome> {
        let outcomes: Vec<Outcome> = self.results.try_iter().collect();
        self.in_flight = self.in_flight.saturating_sub(outcomes.len());
        outcomes
    }

    /// Waits for every job in flight.
    pub(crate) fn wait_all(&mut self) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        while self.in_flight > 0 {
            match self.results.recv() {
                Ok(outcome) => {
                    self.in_flight -= 1;
                    outcomes.push(outcome);
                }
                Err(_) => {
                    self.in_flight = 0;
                }
            }
        }
        outcomes
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the job channel ends the thread after the job in hand.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whisper_takes_half_the_cpus_up_to_4() {
        let threads: Vec<usize> = [1, 2, 3, 4, 8, 16].into_iter().map(default_threads).collect();
        assert_eq!(threads, [1, 1, 1, 2, 4, 4]);
    }

    #[test]
    fn annotations_are_not_text() {
        assert_eq!(clean(" [BLANK_AUDIO] "), "");
        assert_eq!(clean("(music)"), "");
        assert_eq!(clean(" And so my fellow Americans"), "And so my fellow Americans");
    }

    fn probs(pairs: &[(&str, f32)]) -> Vec<f32> {
        let mut probs = vec![0.0; whisper_rs::get_lang_max_id() as usize + 1];
        for (code, p) in pairs {
            probs[whisper_rs::get_lang_id(code).expect("a whisper code") as usize] = *p;
        }
        probs
    }

    #[test]
    fn the_language_with_the_most_speech_leads() {
        let mut tally = LanguageTally::default();
        assert_eq!(tally.leader(), None);
        tally.add(&probs(&[("en", 0.8), ("la", 0.1)]), 2.0);
        assert_eq!(tally.leader(), Some("en"));
        // One short doubtful utterance does not flip it; a long sure one does.
        tally.add(&probs(&[("la", 0.45), ("en", 0.3)]), 1.0);
        assert_eq!(tally.leader(), Some("en"));
        tally.add(&probs(&[("es", 0.95)]), 6.0);
        assert_eq!(tally.leader(), Some("es"));
        // Nonsense from the model counts for nothing.
        tally.add(&probs(&[("de", f32::NAN), ("fr", -3.0)]), 100.0);
        assert_eq!(tally.leader(), Some("es"));
    }

    #[test]
    fn non_ggml_files_are_refused_before_whisper_sees_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.bin");
        std::fs::write(&path, b"ONNX....").expect("write");
        let err = check_magic(&path).unwrap_err().to_string();
        assert!(err.contains("not a whisper.cpp ggml model"), "{err}");
        std::fs::write(&path, b"lm").expect("write");
        assert!(check_magic(&path).is_err());
    }
}
