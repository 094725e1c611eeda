// SPDX-License-Identifier: MPL-2.0
//! `reenact models import`: every community signature the slots accept, built here with the
//! same inputs, outputs and initializers as the real files, round-trips to a manifest entry the
//! catalog then verifies; a wrong graph is refused naming what it found; a file corrupted after
//! import fails its checksum. No ONNX Runtime needed: the graphs are read, not run.

use std::fs;
use std::path::{Path, PathBuf};

use reenact_models::graph::Graph;
use reenact_models::{
    import_model, Catalog, Corruption, GraphSignature, ImportError, ImportRequest, ModelStatus, Slot,
};

/// A graph whose declared tensors are `inputs` and `outputs`, every output made by a
/// `ConstantOfShape`-free chain: each output is an `Identity` of a zero-filled initializer,
/// which is enough for reading (nothing here runs the graph).
fn graph(inputs: &[(&str, &[i64])], outputs: &[(&str, &[i64])]) -> Graph {
    let mut g = Graph::new();
    for (name, shape) in inputs {
        g = g.input(name, shape);
    }
    for (i, (name, shape)) in outputs.iter().enumerate() {
        let init = format!("c{i}");
        g = g.output(name, shape).initializer(&init, &[1], &[0.0]).node("Identity", &[&init], &[name], &[]);
    }
    g
}

fn request(file: &Path, slot: Slot) -> ImportRequest {
    ImportRequest {
        file: file.to_owned(),
        slot,
        license: "non-commercial research".into(),
        commercial_use: Some(false),
        name: None,
        sample_rate: None,
        vocab: None,
    }
}

fn write(dir: &Path, name: &str, g: &Graph) -> PathBuf {
    let path = dir.join(format!("{name}.onnx"));
    fs::write(&path, g.to_model()).expect("write model");
    path
}

fn inswapper(emap: bool) -> Graph {
    let g = graph(&[("target", &[1, 3, 128, 128]), ("source", &[1, 512])], &[("output", &[1, 3, 128, 128])]);
    if emap {
        g.initializer("emap", &[512, 512], &vec![0.0; 512 * 512])
    } else {
        g
    }
}

fn arcface(convs: usize) -> Graph {
    let mut g = graph(&[("input.1", &[-1, 3, 112, 112])], &[("683", &[1, 512])]);
    g = g.initializer("k", &[1, 3, 1, 1], &[0.0; 3]);
    for i in 0..convs {
        g = g.node("Conv", &["input.1", "k"], &[&format!("conv{i}")], &[]);
    }
    g
}

/// (file name, slot, graph, expected signature id, expected task).
fn cases() -> Vec<(&'static str, Slot, Graph, &'static str, &'static str)> {
    let rvc = Graph::new().rvc_v2_signature(48_000).node("Identity", &["pitchf"], &["audio"], &[]);
    vec![
        ("inswapper_128", Slot::FaceSwap, inswapper(true), "inswapper_128", "face_swap"),
        ("w600k_r50", Slot::FaceIdentity, arcface(53), "arcface_r50", "face_identity"),
        ("glintr100", Slot::FaceIdentity, arcface(103), "arcface_r100", "face_identity"),
        (
            "gfpgan_1.4",
            Slot::FaceEnhance,
            graph(&[("input", &[1, 3, 512, 512])], &[("output", &[1, 3, 512, 512])]),
            "gfpgan_gpen_512",
            "face_enhance",
        ),
        (
            "gpen_bfr_512",
            Slot::FaceEnhance,
            graph(&[("input", &[-1, 3, 512, 512])], &[("output", &[-1, 3, 512, 512])]),
            "gfpgan_gpen_512",
            "face_enhance",
        ),
        (
            "codeformer",
            Slot::FaceEnhance,
            graph(&[("input", &[1, 3, 512, 512]), ("weight", &[1])], &[("output", &[1, 3, 512, 512])]),
            "codeformer_512",
            "face_enhance",
        ),
        (
            "wav2lip_gan_96",
            Slot::LipSync,
            graph(&[("source", &[1, 1, 80, 16]), ("target", &[1, 6, 96, 96])], &[("output", &[1, 3, 96, 96])]),
            "wav2lip_96",
            "lip_sync",
        ),
        ("my_voice", Slot::Voice, rvc, "rvc_v2", "voice_conversion"),
        (
            "vec-768-layer-12",
            Slot::VoiceContent,
            graph(&[("source", &[1, 1, -1])], &[("embed", &[1, 768, -1])]),
            "contentvec_768",
            "voice_content",
        ),
        (
            "rmvpe",
            Slot::VoicePitch,
            graph(&[("input", &[1, 128, -1])], &[("output", &[1, -1, 360])]),
            "rmvpe",
            "voice_pitch",
        ),
        (
            "appearance_feature_extractor",
            Slot::PortraitAnimation,
            graph(&[("img", &[1, 3, 256, 256])], &[("output", &[1, 32, 16, 64, 64])]),
            "liveportrait_appearance",
            "portrait_appearance",
        ),
        (
            "motion_extractor",
            Slot::PortraitAnimation,
            graph(
                &[("img", &[1, 3, 256, 256])],
                &[
                    ("pitch", &[1, 66]),
                    ("yaw", &[1, 66]),
                    ("roll", &[1, 66]),
                    ("t", &[1, 3]),
                    ("exp", &[1, 63]),
                    ("scale", &[1, 1]),
                    ("kp", &[1, 63]),
                ],
            ),
            "liveportrait_motion",
            "portrait_motion",
        ),
        (
            "warping_spade",
            Slot::PortraitAnimation,
            graph(
                &[("feature_3d", &[1, 32, 16, 64, 64]), ("kp_driving", &[1, 21, 3]), ("kp_source", &[1, 21, 3])],
                &[("out", &[1, 3, 512, 512])],
            ),
            "liveportrait_warping_spade",
            "portrait_warping",
        ),
        (
            "stitching",
            Slot::PortraitAnimation,
            graph(&[("input", &[1, 126])], &[("output", &[1, 65])]),
            "liveportrait_stitching",
            "portrait_stitching",
        ),
    ]
}

#[test]
fn every_signature_round_trips_to_a_verified_manifest_entry() {
    let src = tempfile::tempdir().expect("tempdir");
    let models = tempfile::tempdir().expect("tempdir");
    let cases = cases();
    for (file, slot, g, signature, task) in &cases {
        let path = write(src.path(), file, g);
        let imported =
            import_model(models.path(), &request(&path, *slot)).unwrap_or_else(|err| panic!("{file} as {slot}: {err}"));
        assert_eq!(imported.entry.signature.as_deref(), Some(*signature), "{file}");
        assert_eq!(imported.entry.task, *task, "{file}");
        assert_eq!(imported.entry.commercial_use, Some(false));
        assert_eq!(imported.entry.sha256, reenact_models::sha256_file(&path).expect("hash"));
        assert!(imported.path.starts_with(models.path().join("imported")), "{:?}", imported.path);
    }
    let catalog = Catalog::from_dirs([models.path().to_owned()]).expect("manifest loads").without_cache();
    assert_eq!(catalog.entries().len(), cases.len());
    for entry in catalog.entries() {
        assert_eq!(catalog.status(entry), ModelStatus::Found, "{}", entry.model.name);
        assert_eq!(entry.model.commercial_label(), "NON-COMMERCIAL");
        // The declared tensors are the file's, so OnnxSession's signature check will agree.
        let read = GraphSignature::read(&entry.path).expect("imported file reads");
        let names = |specs: &[reenact_models::TensorSpec]| specs.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&entry.model.inputs), names(&read.inputs), "{}", entry.model.name);
        assert_eq!(names(&entry.model.outputs), names(&read.outputs), "{}", entry.model.name);
    }
    let swapper = catalog.entry("inswapper_128").expect("swapper");
    let source = swapper.model.inputs.iter().find(|s| s.name == "source").expect("source input");
    assert_eq!(source.extra.get("projection").and_then(|v| v.as_str()), Some("emap:emap"));
    let arc = catalog.entry("w600k_r50").expect("arcface");
    assert_eq!(arc.model.inputs[0].extra.get("range").map(ToString::to_string).as_deref(), Some("[-1.0, 1.0]"));
    let voice = catalog.entry("my_voice").expect("voice");
    assert_eq!(voice.model.outputs[0].extra.get("sample_rate").and_then(|v| v.as_integer()), Some(48000));
}

#[test]
fn reimport_replaces_the_entry_and_keeps_the_others() {
    let src = tempfile::tempdir().expect("tempdir");
    let models = tempfile::tempdir().expect("tempdir");
    let swap = write(src.path(), "inswapper_128", &inswapper(true));
    let arc = write(src.path(), "w600k_r50", &arcface(53));
    import_model(models.path(), &request(&swap, Slot::FaceSwap)).expect("swap");
    import_model(models.path(), &request(&arc, Slot::FaceIdentity)).expect("identity");
    let mut again = request(&swap, Slot::FaceSwap);
    again.license = "MIT".into();
    again.commercial_use = Some(true);
    import_model(models.path(), &again).expect("again");
    let catalog = Catalog::from_dirs([models.path().to_owned()]).expect("loads").without_cache();
    assert_eq!(catalog.entries().len(), 2);
    let swapper = catalog.entry("inswapper_128").expect("swapper");
    assert_eq!((swapper.model.license.as_str(), swapper.model.commercial_use), ("MIT", Some(true)));
}

#[test]
fn wrong_graphs_are_refused_with_the_signature_found() {
    let src = tempfile::tempdir().expect("tempdir");
    let models = tempfile::tempdir().expect("tempdir");
    // An inswapper without emap: the identity would come out wrong, so it is refused.
    let no_emap = write(src.path(), "no_emap", &inswapper(false));
    let err = import_model(models.path(), &request(&no_emap, Slot::FaceSwap)).expect_err("no emap");
    let text = err.to_string();
    assert!(matches!(err, ImportError::Unrecognised { .. }), "{text}");
    assert!(text.contains("`target` float32 [1, 3, 128, 128]") && text.contains("emap"), "{text}");
    // A real swapper offered as a lip-sync model.
    let swap = write(src.path(), "inswapper_128", &inswapper(true));
    let err = import_model(models.path(), &request(&swap, Slot::LipSync)).expect_err("wrong slot");
    let text = err.to_string();
    assert!(text.contains("not a model for the lipsync slot") && text.contains("`source` float32 [1, 512]"), "{text}");
    // An RVC v1 voice (256-d content) is not v2.
    let v1 = Graph::new().rvc_inputs(256).node("Identity", &["pitchf"], &["audio"], &[]);
    let v1 = write(src.path(), "v1", &v1);
    let err = import_model(models.path(), &request(&v1, Slot::Voice)).expect_err("v1");
    assert!(err.to_string().contains("`phone` float32 [1, ?, 256]"), "{err}");
    assert!(!models.path().join("MANIFEST.imported.toml").exists(), "nothing written on refusal");
    assert!(!models.path().join("imported").exists());
}

#[test]
fn rvc_without_a_recorded_rate_needs_one() {
    let src = tempfile::tempdir().expect("tempdir");
    let models = tempfile::tempdir().expect("tempdir");
    let g = Graph::new().rvc_inputs(768).node("Identity", &["pitchf"], &["audio"], &[]);
    let path = write(src.path(), "voice", &g);
    let err = import_model(models.path(), &request(&path, Slot::Voice)).expect_err("no rate");
    assert!(err.to_string().contains("--sample-rate"), "{err}");
    let mut with_rate = request(&path, Slot::Voice);
    with_rate.sample_rate = Some(40000);
    let imported = import_model(models.path(), &with_rate).expect("with rate");
    assert_eq!(imported.entry.outputs[0].extra.get("sample_rate").and_then(|v| v.as_integer()), Some(40000));
}

#[test]
fn corrupted_file_fails_the_checksum_and_truncated_input_is_refused() {
    let src = tempfile::tempdir().expect("tempdir");
    let models = tempfile::tempdir().expect("tempdir");
    let path = write(src.path(), "inswapper_128", &inswapper(true));
    let imported = import_model(models.path(), &request(&path, Slot::FaceSwap)).expect("import");
    let mut bytes = fs::read(&imported.path).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&imported.path, &bytes).expect("corrupt");
    let catalog = Catalog::from_dirs([models.path().to_owned()]).expect("loads").without_cache();
    let entry = catalog.entry("inswapper_128").expect("entry");
    match catalog.status(entry) {
        ModelStatus::Corrupt { problem: Corruption::Checksum { .. }, .. } => {}
        other => panic!("expected a checksum failure, got {other:?}"),
    }
    let err = catalog.get("inswapper_128").expect_err("corrupt");
    assert!(err.to_string().contains("is corrupt"), "{err}");

    let truncated = src.path().join("truncated.onnx");
    fs::write(&truncated, &bytes[..bytes.len() / 3]).expect("write");
    let err = import_model(models.path(), &request(&truncated, Slot::FaceSwap)).expect_err("truncated");
    assert!(err.to_string().contains("is not an ONNX model"), "{err}");
}

#[test]
fn a_licence_is_required_and_names_are_checked() {
    let src = tempfile::tempdir().expect("tempdir");
    let models = tempfile::tempdir().expect("tempdir");
    let path = write(src.path(), "inswapper_128", &inswapper(true));
    let mut req = request(&path, Slot::FaceSwap);
    req.license = "  ".into();
    let err = import_model(models.path(), &req).expect_err("no licence");
    assert!(err.to_string().starts_with("--license"), "{err}");
    let mut req = request(&path, Slot::FaceSwap);
    req.name = Some("../escape".into());
    let err = import_model(models.path(), &req).expect_err("bad name");
    assert!(err.to_string().starts_with("--name"), "{err}");
    assert_eq!("face-enhance".parse::<Slot>(), Ok(Slot::FaceEnhance));
    assert!("swap".parse::<Slot>().unwrap_err().contains("faceswap"));
}

#[test]
fn real_files_read_as_their_manifests_declare() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models");
    let catalog = Catalog::from_dirs([shared]).expect("shared manifests").without_cache();
    let mut read = 0;
    for name in ["blazeface_front_128", "face_landmarks", "selfie_segmentation", "silero_vad_v5"] {
        let entry = catalog.entry(name).unwrap_or_else(|| panic!("{name} in the shared manifests"));
        let sig = GraphSignature::read(&entry.path).unwrap_or_else(|err| panic!("{name}: {err}"));
        // A file may leave a dimension dynamic that its manifest fixes (Silero's batch).
        let agree = |found: &[reenact_models::TensorSpec], declared: &[reenact_models::TensorSpec]| {
            found.len() == declared.len()
                && found.iter().zip(declared).all(|(f, d)| {
                    let (fs, ds) = (f.shape.clone().unwrap_or_default(), d.shape.clone().unwrap_or_default());
                    f.name == d.name
                        && f.dtype == d.dtype
                        && fs.len() == ds.len()
                        && fs.iter().zip(&ds).all(|(&a, &b)| a == b || a < 0 || b < 0)
                })
        };
        assert!(agree(&sig.inputs, &entry.model.inputs), "{name} inputs: {sig}");
        assert!(agree(&sig.outputs, &entry.model.outputs), "{name} outputs: {sig}");
        assert!(sig.node_count() > 0, "{name}: {sig}");
        read += 1;
    }
    assert_eq!(read, 4);
}

#[test]
fn an_rvc_voice_records_how_many_speakers_its_table_holds() {
    use reenact_models::graph::RVC_STANDIN_SPEAKERS;
    let src = tempfile::tempdir().expect("tempdir");
    let models = tempfile::tempdir().expect("tempdir");
    let with_table = Graph::new().rvc_v2_signature(40_000).node("Identity", &["pitchf"], &["audio"], &[]);
    // The same six inputs without `emb_g.weight`: nothing is known of its speakers.
    let without = Graph::new().rvc_inputs(768).metadata("model_info", r#"{"sr": 40000}"#).node(
        "Identity",
        &["pitchf"],
        &["audio"],
        &[],
    );
    for (name, graph) in [("table", &with_table), ("no_table", &without)] {
        let path = write(src.path(), name, graph);
        import_model(models.path(), &request(&path, Slot::Voice)).unwrap_or_else(|err| panic!("{name}: {err}"));
    }
    let catalog = Catalog::from_dirs([models.path().to_owned()]).expect("manifest loads");
    let table = catalog.voice("table").expect("a voice");
    assert_eq!(table.speakers(), Some(RVC_STANDIN_SPEAKERS as u32));
    assert_eq!(table.check_speaker(RVC_STANDIN_SPEAKERS as u32 - 1), Ok(()));
    let refused = table.check_speaker(RVC_STANDIN_SPEAKERS as u32).expect_err("past the table");
    assert_eq!(refused, "`table` holds 4 speakers (ids 0 to 3), not 4");
    let unknown = catalog.voice("no_table").expect("a voice");
    assert_eq!((unknown.speakers(), unknown.check_speaker(99)), (None, Ok(())), "left to the model");
}

/// `bytes` with the first `from` replaced by `to` (the same length).
fn patched(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes.windows(from.len()).position(|w| w == from.as_bytes()).expect("found");
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to.as_bytes());
    out
}

#[test]
fn a_translation_model_imports_with_its_vocabulary_and_both_are_verified() {
    use reenact_models::marian_writer::write_fixture;
    let src = tempfile::tempdir().expect("tempdir");
    let models = tempfile::tempdir().expect("tempdir");
    let (model, vocab) = write_fixture(src.path(), "en", "de", 3).expect("fixture");
    let mut req = request(&model, Slot::Translation);
    req.license = "MPL-2.0".into();
    req.commercial_use = Some(true);
    let imported = import_model(models.path(), &req).expect("imported");
    let entry = &imported.entry;
    assert_eq!(entry.name, "translation_en_de", "the direction comes from Mozilla's file name");
    assert_eq!(entry.signature.as_deref(), Some("firefox_translations"));
    assert_eq!(entry.task, "translation");
    assert_eq!(entry.config_sha256.as_deref(), Some(reenact_models::sha256_file(&vocab).expect("hash").as_str()));
    assert!(entry.version.contains("float32") && entry.version.contains("vocabulary 41"), "{}", entry.version);
    assert_eq!(entry.inputs[0].extra.get("language").and_then(|v| v.as_str()), Some("en"));
    assert_eq!(entry.outputs[0].extra.get("language").and_then(|v| v.as_str()), Some("de"));
    let catalog = Catalog::from_dirs([models.path().to_owned()]).expect("loads").without_cache();
    let found = catalog.entry("translation_en_de").expect("entry");
    assert_eq!(catalog.status(found), ModelStatus::Found);
    assert_eq!(found.model.commercial_label(), "commercial use allowed");

    // The vocabulary is checked like the model: corrupted after import, the entry fails.
    let copied = found.config_path.clone().expect("vocabulary copied");
    let mut bytes = fs::read(&copied).expect("read");
    bytes[10] ^= 0x20;
    fs::write(&copied, &bytes).expect("corrupt");
    let catalog = Catalog::from_dirs([models.path().to_owned()]).expect("loads").without_cache();
    let err = catalog.get("translation_en_de").expect_err("corrupt vocabulary");
    assert!(err.to_string().contains("corrupt"), "{err}");

    // Another name must still say the direction.
    req.name = Some("my_translator".into());
    let err = import_model(models.path(), &req).expect_err("no direction");
    assert!(err.to_string().contains("translation_<from>_<to>"), "{err}");
    req.name = Some("translation_de_en".into());
    assert_eq!(import_model(models.path(), &req).expect("named").entry.name, "translation_de_en");
}

#[test]
fn a_wrong_translation_model_or_vocabulary_is_refused_naming_the_cause() {
    use reenact_models::marian_writer::write_fixture;
    let src = tempfile::tempdir().expect("tempdir");
    let models = tempfile::tempdir().expect("tempdir");
    let (model, vocab) = write_fixture(src.path(), "en", "fr", 5).expect("fixture");
    let refused = |file: &Path, vocab: Option<&Path>| {
        let mut req = request(file, Slot::Translation);
        req.vocab = vocab.map(Path::to_owned);
        import_model(models.path(), &req).expect_err("refused").to_string()
    };

    // An ONNX graph is not a Marian container.
    let onnx = write(src.path(), "inswapper_128", &inswapper(true));
    let err = refused(&onnx, Some(&vocab));
    assert!(err.contains("not a model for the translation slot") && err.contains("not a Marian model"), "{err}");

    // A tensor the translator reads is missing: named, before anything is copied.
    let bytes = fs::read(&model).expect("read");
    let broken = src.path().join("model.enfr.broken.bin");
    fs::write(&broken, patched(&bytes, "decoder_l1_rnn_Wf", "decoder_l1_rnn_Xf")).expect("write");
    let err = refused(&broken, Some(&vocab));
    assert!(err.contains("no tensor `decoder_l1_rnn_Wf`"), "{err}");

    // A weight of the wrong shape for the configuration.
    let narrow = src.path().join("model.enfr.narrow.bin");
    fs::write(&narrow, patched(&bytes, "dim-emb: 16", "dim-emb: 32")).expect("write");
    let err = refused(&narrow, Some(&vocab));
    assert!(err.contains("`Wemb` is 16 wide, but the configuration's dim-emb is 32"), "{err}");

    // The vocabulary: missing beside a renamed model, of another size, or not SentencePiece.
    let renamed = src.path().join("model.deen.float32.bin");
    fs::copy(&model, &renamed).expect("copy");
    let err = refused(&renamed, None);
    assert!(err.starts_with("--vocab:") && err.contains("vocab.deen.spm is not a file"), "{err}");
    let short = src.path().join("short.spm");
    let pieces = fs::read(&vocab).expect("read");
    fs::write(&short, &pieces[..pieces.len() - 40]).expect("write");
    let err = refused(&model, Some(&short));
    assert!(err.contains("pieces, but the model's embedding has 41 rows"), "{err}");
    let text = src.path().join("notes.spm");
    fs::write(&text, "this is not a vocabulary\n").expect("write");
    let err = refused(&model, Some(&text));
    assert!(err.contains("is not this model's vocabulary"), "{err}");

    assert!(!models.path().join("imported").exists(), "nothing was copied for a refused file");
}
