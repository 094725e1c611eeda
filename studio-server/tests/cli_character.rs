// SPDX-License-Identifier: MPL-2.0
//! `reenact character create|show` from the outside, on the shared portrait and speech.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::shared;

fn reenact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("REENACT_MODELS", shared("models"))
        .output()
        .expect("run reenact")
}

#[test]
fn create_then_show_a_character() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("astronaut.character.json");
    let (portrait, voice) = (shared("media/astronaut.png"), shared("media/jfk.wav"));
    let created = reenact(&[
        "character",
        "create",
        "--rights-basis",
        "consent",
        "--granted-by",
        "Eileen Collins",
        "--rights-expires",
        "2030-12-31",
        "--portrait",
        portrait.to_str().unwrap(),
        "--voice-sample",
        voice.to_str().unwrap(),
        "--name",
        "Astronaut",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&created.stdout).expect("JSON summary");
    assert_eq!(summary["name"], "Astronaut");
    assert_eq!(summary["portrait"]["landmarks"], 468);
    let f0 = summary["voice"]["median_f0_hz"].as_f64().expect("median F0");
    assert!((170.0..320.0).contains(&f0), "JFK's median F0 {f0} Hz");
    assert_eq!(summary["voice"]["embedding"]["dimensions"], 256);
    assert_eq!(summary["rights"]["basis"], "consent");
    assert_eq!(summary["rights"]["expires"], "2030-12-31");

    let shown = reenact(&["character", "show", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    assert!(text.contains("character  Astronaut") && text.contains("468 landmarks"), "{text}");
    assert!(text.contains(&format!("median F0 {f0:.1} Hz")), "{text}");

    assert!(text.contains("rights     consent, granted by Eileen Collins, until 2030-12-31"), "{text}");

    // No rights basis: refused, naming the option.
    let other = dir.path().join("other.character.json");
    let refused =
        reenact(&["character", "create", "--portrait", portrait.to_str().unwrap(), "--out", other.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("--rights-basis"), "{stderr}");
    assert!(!other.exists());

    // An existing file is kept unless --force is given.
    let again = reenact(&[
        "character",
        "create",
        "--rights-basis",
        "public-domain",
        "--portrait",
        portrait.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && stderr.contains("already exists"), "{stderr}");
    assert!(Path::new(&out).exists());
}

#[test]
fn bad_inputs_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.character.json");
    let out_arg = out.to_str().unwrap();

    let missing = reenact(&[
        "character",
        "create",
        "--rights-basis",
        "public-domain",
        "--portrait",
        "/nonexistent/face.png",
        "--out",
        out_arg,
    ]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success() && stderr.contains("/nonexistent/face.png"), "{stderr}");

    let notes = dir.path().join("notes.png");
    std::fs::write(&notes, "not a picture").unwrap();
    let not_image = reenact(&[
        "character",
        "create",
        "--rights-basis",
        "public-domain",
        "--portrait",
        notes.to_str().unwrap(),
        "--out",
        out_arg,
    ]);
    let stderr = String::from_utf8_lossy(&not_image.stderr);
    assert!(!not_image.status.success() && stderr.contains("notes.png"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "nothing written for a failed create");

    let broken = dir.path().join("broken.character.json");
    std::fs::write(&broken, r#"{"format": 1, "name": "x"}"#).unwrap();
    let shown = reenact(&["character", "show", broken.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&shown.stderr);
    assert!(!shown.status.success() && stderr.contains("broken.character.json"), "{stderr}");
    assert!(stderr.contains("portrait"), "names the missing field: {stderr}");
}

#[test]
fn a_voice_sample_gets_its_own_rights_record_and_an_expired_one_stops_voice_clone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("actor.character.json");
    let (portrait, voice) = (shared("media/astronaut.png"), shared("media/jfk.wav"));
    let created = reenact(&[
        "character",
        "create",
        "--rights-basis",
        "public-domain",
        "--portrait",
        portrait.to_str().unwrap(),
        "--voice-sample",
        voice.to_str().unwrap(),
        "--voice-rights-basis",
        "licensed",
        "--voice-granted-by",
        "Voice Agency",
        "--voice-non-commercial",
        "--voice-rights-expires",
        "2001-01-01",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(file["rights"]["basis"], "public-domain");
    let expected = serde_json::json!({
        "basis": "licensed", "granted_by": "Voice Agency", "non_commercial": true, "expires": "2001-01-01",
    });
    assert_eq!(file["voice"]["rights"], expected);

    // The voice's record expired: cloning refuses before any speech is made.
    let wav = dir.path().join("line.wav");
    let cloned = reenact(&[
        "voice",
        "clone",
        "--character",
        out.to_str().unwrap(),
        "--text",
        "Hello.",
        "-o",
        wav.to_str().unwrap(),
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&cloned.stderr);
    assert!(
        !cloned.status.success() && stderr.contains("its voice's rights (licensed) expired on 2001-01-01"),
        "{stderr}"
    );
    assert!(!wav.exists());

    // A voice record needs a voice sample to cover.
    let other = dir.path().join("other.character.json");
    let refused = reenact(&[
        "character",
        "create",
        "--rights-basis",
        "consent",
        "--voice-rights-basis",
        "consent",
        "--portrait",
        portrait.to_str().unwrap(),
        "--out",
        other.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("--voice-sample"), "{stderr}");
}

/// An RVC v2 voice as RVC exports it (its output is only the pitch, enough for the catalog).
fn rvc_voice(path: &Path) {
    use reenact_models::graph::Graph;
    let graph = Graph::new().rvc_v2_signature(40_000).node("Identity", &["pitchf"], &["audio"], &[]);
    std::fs::write(path, graph.to_model()).unwrap();
}

#[test]
fn a_character_speaks_with_an_imported_voice_model() {
    // A fresh home to import into, the shared models for the portrait's analysis.
    let home = common::Home::new();
    let run = |args: &[&str]| home.command(args).env("REENACT_MODELS", shared("models")).output().expect("run reenact");
    let voice = home.path("lincoln_v2.onnx");
    rvc_voice(&voice);
    // Into the home's own model directory: REENACT_MODELS names the shared models, which
    // the test must leave as it found them.
    let models = home.models();
    let dir = models.to_str().unwrap();
    let imported =
        run(&["models", "import", voice.to_str().unwrap(), "--as", "voice", "--license", "MIT", "--dir", dir]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));

    let portrait = shared("media/astronaut.png");
    let out = home.path("lincoln.character.json");
    let create_as = |model: &str, speaker: &str| {
        run(&[
            "character",
            "create",
            "--rights-basis",
            "public-domain",
            "--portrait",
            portrait.to_str().unwrap(),
            "--voice-model",
            model,
            "--speaker-id",
            speaker,
            "--out",
            out.to_str().unwrap(),
            "--force",
        ])
    };
    let create = |model: &str| create_as(model, "2");
    let unknown = create("lincoln_v3");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success() && stderr.contains("--voice-model") && stderr.contains("lincoln_v3"), "{stderr}");
    assert!(stderr.contains("--as voice"), "says how to get one: {stderr}");
    let not_voice = create("blazeface_back_256");
    let stderr = String::from_utf8_lossy(&not_voice.stderr);
    assert!(!not_voice.status.success() && stderr.contains("not a voice"), "{stderr}");
    // The import read the voice's speaker table: an id past it is refused with the range.
    let past = create_as("lincoln_v2", "4");
    let stderr = String::from_utf8_lossy(&past.stderr);
    assert!(!past.status.success(), "{stderr}");
    assert!(stderr.contains("--speaker-id: `lincoln_v2` holds 4 speakers (ids 0 to 3), not 4"), "{stderr}");
    assert!(!out.exists(), "nothing written for a refused create");

    let created = create("lincoln_v2");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let shown = run(&["character", "show", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("speaks     with lincoln_v2 (speaker 2)"), "{text}");
    assert!(text.contains("voice      no profile (the neural voice speaks)"), "{text}");
}

#[test]
fn an_animated_character_needs_the_portrait_animation_modules() {
    let home = common::Home::new();
    let run = |args: &[&str]| home.command(args).env("REENACT_MODELS", shared("models")).output().expect("run reenact");
    let portrait = shared("media/astronaut.png");
    let out = home.path("collins.character.json");
    let create = || {
        run(&[
            "character",
            "create",
            "--rights-basis",
            "public-domain",
            "--portrait",
            portrait.to_str().unwrap(),
            "--face",
            "animate",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let refused = create();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("--face animate"), "{stderr}");
    assert!(stderr.contains("warping_spade.onnx") && stderr.contains("--as portrait-animation"), "{stderr}");
    assert!(!out.exists(), "nothing written for a refused create");

    let models = home.models();
    for (name, graph) in reenact_models::graph::liveportrait_standins() {
        let file = home.path(&format!("{name}.onnx"));
        std::fs::write(&file, graph.to_model()).unwrap();
        let file = file.to_str().unwrap();
        let dir = models.to_str().unwrap();
        let imported = run(&["models", "import", file, "--as", "portrait-animation", "--license", "MIT", "--dir", dir]);
        assert!(imported.status.success(), "{name}: {}", String::from_utf8_lossy(&imported.stderr));
    }
    let created = create();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let shown = run(&["character", "show", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("face       the portrait, animated by the performer's face"), "{text}");
    let json = run(&["character", "show", "--json", out.to_str().unwrap()]);
    let summary: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(summary["face"], "animate");

    // Imported without --commercial-use yes, the modules keep the character out of
    // commercial work, naming the module; non-commercial work may use it.
    let catalog = reenact_models::Catalog::from_dirs([models.clone()]).expect("catalog");
    let character = gstreenact::character::Character::load(&out).expect("character");
    let check = |commercial: bool| {
        let catalog = commercial.then_some(&catalog);
        reenact_server::credentials::check_character("collins", &character, "2026-12-05", catalog)
    };
    let refused = check(true).unwrap_err();
    assert!(refused.contains("portrait animation") && refused.contains("appearance_feature_extractor"), "{refused}");
    check(false).expect("non-commercial work");
}
