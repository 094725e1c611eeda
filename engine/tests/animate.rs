// SPDX-License-Identifier: MPL-2.0
//! A character made with `--face animate` playing a scene of a render: its portrait, animated
//! by LivePortrait-shaped modules imported as a user imports them, replaces the picture inside
//! the scene only, and the render's metadata names each module and its licence. Its own test
//! binary: the user's model directory (`XDG_DATA_HOME`) is a temporary one for the whole
//! process, so the imported modules never reach the machine's own.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use gstreenact::character::{create, CreateOptions, FaceMode};
use reenact_engine::{CancelToken, Project, RenderRequest};
use reenact_models::{import_model, Catalog, ImportRequest, Slot};

const SCENE: (f64, f64) = (1.0, 2.4);

fn shared_models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models")
}

/// Mean of columns `cols` of a `w`-wide grey picture.
fn columns(px: &[u8], w: usize, cols: std::ops::Range<usize>) -> f64 {
    let values: Vec<f64> = px.chunks_exact(w).flat_map(|row| row[cols.clone()].iter().map(|&p| f64::from(p))).collect();
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn an_animated_portrait_plays_its_scene_and_names_its_modules() {
    let data = tempfile::tempdir().expect("data dir");
    let user_models = data.path().join("reenact/models");
    std::fs::create_dir_all(&user_models).expect("models dir");
    // The only test of this binary sets the process's directories before anything reads them,
    // once ONNX Runtime is loaded from where the setup installed it.
    reenact_models::init_runtime().expect("ONNX Runtime");
    std::env::set_var("XDG_DATA_HOME", data.path());
    std::env::set_var("REENACT_MODELS", shared_models());
    reenact_engine::media::init().expect("GStreamer and our elements");
    let src = tempfile::tempdir().expect("src dir");
    for (name, graph) in reenact_models::graph::liveportrait_standins() {
        let file = src.path().join(format!("{name}.onnx"));
        std::fs::write(&file, graph.to_model()).expect("write module");
        let request = ImportRequest {
            file,
            slot: Slot::PortraitAnimation,
            license: "LivePortrait test stand-in".into(),
            commercial_use: Some(false),
            name: None,
            sample_rate: None,
            vocab: None,
        };
        import_model(&user_models, &request).unwrap_or_else(|err| panic!("{name}: {err}"));
    }

    let catalog = Catalog::from_dirs([shared_models()]).expect("shared manifests");
    let options = CreateOptions { name: "Collins".into(), portrait: media("astronaut.png"), voice_sample: None };
    let mut character = create(&options, &catalog).expect("character");
    character.face = FaceMode::Animate;
    let dir = tempfile::tempdir().expect("out dir");
    let file = dir.path().join("collins.character.json");
    character.save(&file).expect("save");

    let json = format!(
        r#"{{"title": "take", "sources": [{{"id": "a", "path": "{}"}}], "tracks": [{{"clips": [{{"source": "a"}}]}}],
            "scenes": [{{"start": {}, "end": {}, "character": "collins"}}], "characters": {{"collins": "{}"}}}}"#,
        media("grid/grid_bbaf2n.mp4").display(),
        SCENE.0,
        SCENE.1,
        file.display()
    );
    let project = Project::parse(Path::new("take.json"), &json).expect("project");
    let out = dir.path().join("out");
    let request = RenderRequest::new(project, PathBuf::from("take.json"), presets(&["master"]), out);
    let report = reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).expect("render");
    let output = &report.outputs[0];

    // The square portrait fitted into the 5:4 picture leaves bars at the sides in the scene;
    // the speaker's own picture fills them outside it.
    let (w, h) = (160usize, 128usize);
    let frames = frames(&output.file, w as i32, h as i32);
    let edge = |from: f64, to: f64| {
        let inside: Vec<f64> =
            frames.iter().filter(|(t, _)| *t > from && *t < to).map(|(_, px)| columns(px, w, 0..8)).collect();
        assert!(!inside.is_empty(), "frames in {from}..{to}");
        (inside.iter().copied().fold(f64::MAX, f64::min), inside.iter().copied().fold(0.0, f64::max))
    };
    let (_, scene_max) = edge(SCENE.0 + 0.05, SCENE.1 - 0.05);
    let (before_min, _) = edge(0.0, SCENE.0 - 0.05);
    let (after_min, _) = edge(SCENE.1 + 0.05, 10.0);
    eprintln!("left edge luma: in the scene at most {scene_max:.1}, outside at least {before_min:.1} / {after_min:.1}");
    assert!(scene_max < 24.0, "no bars in the scene: the portrait did not replace the picture ({scene_max:.1})");
    assert!(before_min > scene_max + 20.0 && after_min > scene_max + 20.0, "the picture outside the scene changed");

    let meta = &output.metadata;
    let face = &meta.scenes[0].face;
    assert!(face.starts_with("liveportrait:onnx:appearance_feature_extractor@imported+"), "{face}");
    for module in ["appearance_feature_extractor", "motion_extractor", "warping_spade", "stitching"] {
        assert!(
            meta.models.iter().any(|m| m.name == module && m.element == "reenactanimate"),
            "{module} missing from {:?}",
            meta.models
        );
        let licence = meta.licences.iter().find(|l| l.name == module).expect("licence");
        assert_eq!(licence.commercial_use, Some(false), "{licence:?}");
    }
}
