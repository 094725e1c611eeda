// SPDX-License-Identifier: MPL-2.0
//! Content Credentials from the outside: every kind of output `reenact` writes (MP4, WebM,
//! thumbnail JPEG, cloned-voice WAV) carries a credential that `reenact verify` and an
//! independent reader (c2pa-python, installed by scripts/setup.sh) both validate; one
//! flipped byte of the content makes both report a mismatch, and a file whose credential
//! was removed makes `reenact verify` fail. Needs `espeak-ng` (Piper) for the WAV.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::shared;
use gstreenact::character::{create, CreateOptions};
use reenact_models::Catalog;
use serde_json::Value;

fn reenact(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("REENACT_DATA", data)
        .env("REENACT_MODELS", shared("models"))
        .env_remove("REENACT_SIGNING_CERT")
        .env_remove("REENACT_SIGNING_KEY")
        .output()
        .expect("run reenact")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `reenact verify --json FILE`: the exit status and the report (when one was printed).
fn verify(data: &Path, file: &Path) -> (bool, Option<Value>, String) {
    let out = reenact(data, &["verify", "--json", s(file)]);
    (out.status.success(), serde_json::from_slice(&out.stdout).ok(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Where scripts/setup.sh installs c2pa-python.
fn c2pa_python() -> PathBuf {
    if let Some(dir) = std::env::var_os("REENACT_C2PA_PYTHON") {
        return dir.into();
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share"));
    data.join("reenact/tools/c2pa-python")
}

const PY_READER: &str = r#"
import json, sys, c2pa
path, mime, sidecar = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    with open(path, "rb") as f:
        if sidecar:
            reader = c2pa.Reader(mime, f, open(sidecar, "rb").read())
        else:
            reader = c2pa.Reader(mime, f)
        store = json.loads(reader.json())
        state = reader.get_validation_state()
except Exception as e:
    print(json.dumps({"state": "Error", "error": str(e), "codes": []}))
    sys.exit(0)
codes = [s["code"] for s in store.get("validation_status") or []]
active = store["manifests"][store["active_manifest"]]
print(json.dumps({"state": state, "codes": codes, "title": active.get("title"),
                  "assertions": [a["label"] for a in active.get("assertions", [])]}))
"#;

/// What c2pa-python makes of `file` (with its sidecar when given).
fn python_read(file: &Path, mime: &str, sidecar: Option<&Path>) -> Value {
    let dir = c2pa_python();
    assert!(dir.join("c2pa").is_dir(), "c2pa-python is not installed in {} (run scripts/setup.sh)", dir.display());
    let out = Command::new("python3")
        .args(["-c", PY_READER, s(file), mime, sidecar.map(s).unwrap_or("")])
        .env("PYTHONPATH", &dir)
        .output()
        .expect("run python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("reader JSON")
}

fn sha256_hex(path: &Path) -> String {
    reenact_models::sha256_file(path).unwrap()
}

/// Flips one byte at `offset`.
fn flip(file: &Path, offset: usize) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes[offset] ^= 0x01;
    std::fs::write(file, bytes).unwrap();
}

/// Top-level ISO BMFF boxes: `(type, offset, size)`.
fn boxes(bytes: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut found = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let mut size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().unwrap();
        if size == 1 {
            size = u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize;
        } else if size == 0 {
            size = bytes.len() - at;
        }
        found.push((kind, at, size));
        at += size;
    }
    found
}

/// The C2PA manifest box of an MP4 (a top-level `uuid` box with the C2PA UUID).
const C2PA_UUID: [u8; 16] =
    [0xd8, 0xfe, 0xc3, 0xd6, 0x1b, 0x0e, 0x48, 0x3c, 0x92, 0x97, 0x58, 0x28, 0x87, 0x7e, 0xc4, 0x81];

fn strip_c2pa_box(file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    let mut kept = Vec::new();
    let mut removed = 0;
    for (kind, at, size) in boxes(&bytes) {
        if &kind == b"uuid" && bytes[at + 8..at + 24] == C2PA_UUID {
            removed += 1;
            continue;
        }
        kept.extend_from_slice(&bytes[at..at + size]);
    }
    assert_eq!(removed, 1, "the MP4 has one C2PA box");
    std::fs::write(file, kept).unwrap();
}

/// Checks a valid, untrusted (development key) credential and returns `reenact verify`'s report.
#[track_caller]
fn assert_valid(data: &Path, file: &Path, mime: &str, sidecar: Option<&Path>) -> Value {
    let (ok, report, stderr) = verify(data, file);
    let report = report.unwrap_or_else(|| panic!("no report for {}: {stderr}", file.display()));
    assert!(ok, "{}: {report:#}\n{stderr}", file.display());
    assert_eq!(report["valid"], true, "{report:#}");
    assert_eq!(report["trusted"], false, "a development key is never trusted: {report:#}");
    assert_eq!(report["embedded"], sidecar.is_none(), "{report:#}");
    let python = python_read(file, mime, sidecar);
    assert_eq!(python["state"], "Valid", "c2pa-python on {}: {python:#}", file.display());
    assert!(python["assertions"].to_string().contains("org.reenact.provenance"), "{python:#}");
    report
}

/// Checks that `reenact verify` and c2pa-python both report a content mismatch.
#[track_caller]
fn assert_mismatch(data: &Path, file: &Path, mime: &str, sidecar: Option<&Path>) {
    let (ok, report, stderr) = verify(data, file);
    assert!(!ok, "a tampered {} verified: {report:?}", file.display());
    let codes = report.map(|r| r["failures"].to_string()).unwrap_or_default();
    assert!(codes.contains("mismatch"), "{}: {codes} {stderr}", file.display());
    let python = python_read(file, mime, sidecar);
    assert_eq!(python["state"], "Invalid", "{python:#}");
    assert!(python["codes"].to_string().contains("mismatch"), "{python:#}");
}

#[test]
fn rendered_video_and_thumbnails_carry_credentials_that_show_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let source = shared("media/grid/grid_swwp2s.mp4");
    let project = dir.path().join("p.json");
    let json = format!(
        r#"{{"title":"Credential test","author":"Compliance Desk","sources":[{{"id":"a","path":"{}"}}],
            "tracks":[{{"clips":[{{"source":"a","in":0,"out":1.5}}]}}]}}"#,
        source.display()
    );
    std::fs::write(&project, json).unwrap();
    let result = reenact(&data, &["render", s(&project), "-p", "master,web-720p-webm", "-o", s(&out)]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("NOT trusted"), "the development key is announced: {stderr}");
    assert!(data.join("credentials/dev-chain.pem").is_file());

    let mp4 = out.join("credential-test-master.mp4");
    let webm = out.join("credential-test-web-720p-webm.webm");
    let files: Vec<PathBuf> = std::fs::read_dir(&out).unwrap().flatten().map(|e| e.path()).collect();
    assert!(mp4.is_file() && webm.is_file(), "{files:?}");
    let thumbnail = files.iter().find(|f| f.extension().is_some_and(|e| e == "jpg")).expect("a thumbnail").clone();
    let sidecar = webm.with_extension("c2pa");
    assert!(sidecar.is_file(), "WebM has no C2PA embedding: its credential is a sidecar ({files:?})");

    let report = assert_valid(&data, &mp4, "video/mp4", None);
    let provenance = &report["provenance"];
    assert_eq!(provenance["author"], "Compliance Desk");
    assert_eq!(report["title"], "Credential test");
    let actions = report["actions"].to_string();
    assert!(actions.contains("c2pa.edited") && actions.contains("compositeWithTrainedAlgorithmicMedia"), "{actions}");
    let ingredient = &report["ingredients"][0];
    assert_eq!(ingredient["relationship"], "parentOf");
    assert_eq!(ingredient["instance_id"], format!("sha256:{}", sha256_hex(&source)));
    assert_valid(&data, &webm, "video/webm", Some(&sidecar));
    assert_valid(&data, &thumbnail, "image/jpeg", None);

    // One byte of the picture data changed.
    let mp4_bytes = std::fs::read(&mp4).unwrap();
    let (_, mdat_at, mdat_size) = *boxes(&mp4_bytes).iter().find(|(k, _, _)| k == b"mdat").expect("mdat");
    let tampered = dir.path().join("tampered.mp4");
    std::fs::copy(&mp4, &tampered).unwrap();
    flip(&tampered, mdat_at + mdat_size / 2);
    assert_mismatch(&data, &tampered, "video/mp4", None);
    let tampered_webm = dir.path().join("tampered.webm");
    std::fs::copy(&webm, &tampered_webm).unwrap();
    std::fs::copy(&sidecar, tampered_webm.with_extension("c2pa")).unwrap();
    flip(&tampered_webm, std::fs::metadata(&webm).unwrap().len() as usize / 2);
    assert_mismatch(&data, &tampered_webm, "video/webm", Some(&tampered_webm.with_extension("c2pa")));
    let tampered_jpg = dir.path().join("tampered.jpg");
    std::fs::copy(&thumbnail, &tampered_jpg).unwrap();
    let len = std::fs::metadata(&tampered_jpg).unwrap().len() as usize;
    flip(&tampered_jpg, len - 100);
    assert_mismatch(&data, &tampered_jpg, "image/jpeg", None);

    // The credential removed.
    strip_c2pa_box(&mp4);
    let (ok, _, stderr) = verify(&data, &mp4);
    assert!(!ok && stderr.contains("no Content Credentials"), "{stderr}");
    std::fs::remove_file(&sidecar).unwrap();
    let (ok, _, stderr) = verify(&data, &webm);
    assert!(!ok && stderr.contains("no Content Credentials"), "{stderr}");
}

#[test]
fn a_cloned_voice_is_signed_as_generated_speech() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = Catalog::from_dirs([shared("models")]).unwrap();
    let options = CreateOptions {
        name: "Kennedy".into(),
        portrait: shared("media/astronaut.png"),
        voice_sample: Some(shared("media/jfk.wav")),
    };
    let character = dir.path().join("kennedy.character.json");
    create(&options, &catalog).expect("character").save(&character).expect("save");
    let wav = dir.path().join("speech.wav");
    let result =
        reenact(&data, &["voice", "clone", "--character", s(&character), "--text", "Ask not.", "-o", s(&wav), "-q"]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let report = assert_valid(&data, &wav, "audio/wav", None);
    let actions = report["actions"].to_string();
    assert!(actions.contains("c2pa.created") && actions.contains("/trainedAlgorithmicMedia"), "{actions}");
    assert_eq!(report["provenance"]["characters"][0]["name"], "Kennedy");
    assert_eq!(report["ingredients"][0]["instance_id"], format!("sha256:{}", sha256_hex(&character)));
    let models = report["provenance"]["models"].to_string();
    assert!(models.contains("piper") && models.contains("license"), "{models}");

    let bytes = std::fs::read(&wav).unwrap();
    let data_chunk = bytes.windows(4).position(|w| w == b"data").expect("data chunk");
    flip(&wav, data_chunk + 8 + 1000);
    assert_mismatch(&data, &wav, "audio/wav", None);
}

#[test]
fn a_file_without_credentials_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, report, stderr) = verify(dir.path(), &shared("media/grid/grid_swwp2s.mp4"));
    assert!(!ok && report.is_none(), "{report:?}");
    assert!(stderr.contains("grid_swwp2s.mp4: no Content Credentials"), "{stderr}");
}

/// A character file from the astronaut portrait with `rights`.
fn astronaut_with(dir: &Path, file: &str, rights: Option<gstreenact::character::Rights>) -> PathBuf {
    let catalog = Catalog::from_dirs([shared("models")]).unwrap();
    let options =
        CreateOptions { name: "Eileen Collins".into(), portrait: shared("media/astronaut.png"), voice_sample: None };
    let mut character = create(&options, &catalog).expect("character");
    character.rights = rights;
    let path = dir.join(file);
    character.save(&path).expect("save");
    path
}

#[test]
fn character_rights_are_enforced_at_render_and_stated_in_the_credential() {
    use gstreenact::character::{Rights, RightsBasis};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let source = shared("media/grid/grid_swwp2s.mp4");
    let consent = |expires: &str, non_commercial: bool| Rights {
        basis: RightsBasis::Consent,
        granted_by: Some("Eileen Collins".into()),
        granted_at: Some("2026-01-05".into()),
        reference: Some("release R-17".into()),
        document_sha256: None,
        non_commercial,
        expires: Some(expires.into()),
    };
    let render = |character: &Path, out: &Path, extra: &[&str]| {
        let args = ["render", s(&source), "-p", "master", "-o", s(out), "-q", "--character", s(character)];
        reenact(&data, &[&args[..], extra].concat())
    };

    let expired = astronaut_with(dir.path(), "expired.character.json", Some(consent("2001-01-01", false)));
    let out = dir.path().join("expired");
    let result = render(&expired, &out, &[]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success() && stderr.contains("expired on 2001-01-01"), "{stderr}");
    assert!(std::fs::read_dir(&out).map(|d| d.count() == 0).unwrap_or(true), "nothing rendered");

    let restricted = astronaut_with(dir.path(), "restricted.character.json", Some(consent("2999-12-31", true)));
    let out = dir.path().join("commercial");
    let result = render(&restricted, &out, &["--commercial"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success() && stderr.contains("non-commercial use only"), "{stderr}");

    let out = dir.path().join("ok");
    let result = render(&restricted, &out, &[]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let mp4 = out.join("grid_swwp2s-master.mp4");
    let report = assert_valid(&data, &mp4, "video/mp4", None);
    let character = &report["provenance"]["characters"][0];
    assert_eq!(character["rights"]["basis"], "consent", "{report:#}");
    assert_eq!(character["rights"]["restriction"], "non-commercial");
    assert_eq!(character["rights"]["granted_by"], "Eileen Collins");
    let ingredients = report["ingredients"].to_string();
    assert!(ingredients.contains(&sha256_hex(&restricted)), "the character file is an ingredient: {ingredients}");

    // The shared models' manifests do not clear them for commercial use.
    let cleared = astronaut_with(dir.path(), "cleared.character.json", Some(consent("2999-12-31", false)));
    let out = dir.path().join("models");
    let result = render(&cleared, &out, &["--commercial"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "{stderr}");
    assert!(stderr.contains("is not cleared for commercial work") && stderr.contains("licence Apache-2.0"), "{stderr}");
    assert!(!out.join("grid_swwp2s-master.mp4").exists(), "a refused render leaves no output");
}

/// `reenact live` refuses a character whose rights expired, or a non-commercial one in
/// commercial work, before going on air; a show's recording states the character it played,
/// with its rights, and the models of the elements that were on.
#[test]
fn a_live_recording_states_the_characters_rights_and_models() {
    use gstreenact::character::{Rights, RightsBasis};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let consent = |expires: &str, non_commercial: bool| Rights {
        basis: RightsBasis::Consent,
        granted_by: Some("Eileen Collins".into()),
        granted_at: Some("2026-01-05".into()),
        reference: None,
        document_sha256: None,
        non_commercial,
        expires: Some(expires.into()),
    };
    let record = dir.path().join("show.mp4");
    let live = |character: &Path, extra: &[&str]| {
        let output = format!("record:{}", s(&record));
        let args = ["live", "--source", "test", "--listen", "127.0.0.1:0", "--duration", "4", "--output", &output];
        reenact(&data, &[&args[..], &["--character", s(character)], extra].concat())
    };

    let expired = astronaut_with(dir.path(), "expired.character.json", Some(consent("2001-01-01", false)));
    let result = live(&expired, &[]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success() && stderr.contains("expired on 2001-01-01"), "{stderr}");
    let restricted = astronaut_with(dir.path(), "restricted.character.json", Some(consent("2999-12-31", true)));
    let result = live(&restricted, &["--commercial"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success() && stderr.contains("non-commercial use only"), "{stderr}");
    assert!(!record.exists(), "a refused show records nothing");

    let result = live(&restricted, &["--elements", "faceswap,matte"]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    assert!(stdout.contains(&format!("Signed Content Credentials on {}", s(&record))), "{stdout}");
    let report = assert_valid(&data, &record, "video/mp4", None);
    let provenance = &report["provenance"];
    let character = &provenance["characters"][0];
    assert_eq!(character["name"], "Eileen Collins", "{report:#}");
    assert_eq!(
        (character["rights"]["basis"].as_str(), character["rights"]["restriction"].as_str()),
        (Some("consent"), Some("non-commercial"))
    );
    let models = provenance["models"].to_string();
    assert!(models.contains("face_landmarks") && models.contains("selfie_segmentation"), "{models}");
    assert!(report["ingredients"].to_string().contains(&sha256_hex(&restricted)), "{report:#}");
}
