// SPDX-License-Identifier: MPL-2.0
//! `reenact voice clone` from the outside: a script in a character's voice as a WAV with the
//! figures printed, and one clear error, a non-zero exit and no file for bad inputs. Needs
//! `espeak-ng`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use gstreenact::character::{create, CreateOptions};
use reenact_models::Catalog;

use common::shared;

fn reenact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("REENACT_MODELS", shared("models"))
        .output()
        .expect("run reenact")
}

/// The astronaut portrait with Kennedy's voice, made once per test binary.
fn character() -> &'static Path {
    static FILE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = FILE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::from_dirs([shared("models")]).unwrap();
        let options = CreateOptions {
            name: "Kennedy".into(),
            portrait: shared("media/astronaut.png"),
            voice_sample: Some(shared("media/jfk.wav")),
        };
        let path = dir.path().join("kennedy.character.json");
        create(&options, &catalog).expect("character").save(&path).expect("save");
        (dir, path)
    });
    path
}

#[test]
fn a_script_becomes_a_wav_in_the_characters_voice() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("speech.txt");
    std::fs::write(&script, "Ask not what your country can do for you.\n\nAsk what you can do for your country.\n")
        .unwrap();
    let out = dir.path().join("speech.wav");
    let args = ["voice", "clone", "--character", path_str(character()), "--script", path_str(&script)];
    let result = reenact(&[&args[..], &["--out", path_str(&out), "--json", "--pitch-semitones", "-1"]].concat());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).expect("JSON report");
    assert_eq!(report["sentences"], 2);
    assert_eq!(report["character"], "Kennedy");
    let duration = report["duration_s"].as_f64().unwrap();
    assert!((2.0..8.0).contains(&duration), "{report}");
    let (raw, converted, target) = (
        report["f0"]["raw_hz"].as_f64().unwrap(),
        report["f0"]["converted_hz"].as_f64().unwrap(),
        report["f0"]["character_hz"].as_f64().unwrap(),
    );
    assert!((converted - target).abs() < (raw - target).abs(), "{report}");
    assert!(report["similarity"].as_f64().is_some() && report["similarity_raw"].as_f64().is_some(), "{report}");
    let bytes = std::fs::read(&out).expect("WAV written");
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    assert!(!dir.path().join("speech.wav.part").exists());

    // Without --json: the file on stdout, the figures on stderr.
    let out2 = dir.path().join("short.wav");
    let result = reenact(&[
        "voice",
        "clone",
        "-q",
        "--character",
        path_str(character()),
        "--text",
        "Good evening.",
        "--out",
        path_str(&out2),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&result.stdout).trim(), out2.display().to_string());
    assert!(stderr.contains("median F0: Piper") && stderr.contains("speaker similarity to the character"), "{stderr}");
}

#[test]
fn bad_inputs_fail_with_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.wav");
    let missing = dir.path().join("nobody.character.json");
    let cases: [(Vec<&str>, &str); 3] = [
        (vec!["--character", path_str(&missing), "--text", "Hello."], "nobody.character.json"),
        (vec!["--character", path_str(character()), "--text", "  "], "the text is empty"),
        (vec!["--character", path_str(character())], "--text"),
    ];
    for (args, expected) in cases {
        let result = reenact(&[&["voice", "clone", "--out", path_str(&out)][..], &args[..]].concat());
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!result.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: stderr lacks `{expected}`:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing written");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}
