// SPDX-License-Identifier: MPL-2.0
//! ONNX Runtime sessions on real and generated models: BlazeFace on the astronaut photo, and the
//! documented errors for a truncated file, a wrong checksum and a wrong input shape.
//!
//! Needs the ONNX Runtime library that `scripts/setup.sh` installs (or `ORT_DYLIB_PATH`).

use std::fs;
use std::path::{Path, PathBuf};

use reenact_models::graph::{Attr, Graph};
use reenact_models::{
    sha256_file, Catalog, Corruption, ModelError, OnnxError, OnnxSession, SessionOptions, TensorInput,
};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// A catalog over the shared models with a private checksum cache.
fn shared_catalog(cache: &Path) -> Catalog {
    Catalog::from_dirs([shared().join("models")]).expect("shared manifests").with_cache_dir(cache)
}

/// `output = Identity(input)` over a float32 tensor of `shape`.
fn identity_model(input: &str, output: &str, shape: &[i64]) -> Vec<u8> {
    Graph::new().input(input, shape).output(output, shape).node("Identity", &[input], &[output], &[]).to_model()
}

/// Writes `model` and a manifest declaring `[1, 4, 3]` float32 in/out with the given checksum.
fn write_model(dir: &Path, model: &[u8], sha256: Option<&str>) -> Catalog {
    let path = dir.join("m.onnx");
    fs::write(&path, model).expect("write model");
    let sha = sha256.map_or_else(|| sha256_file(&path).expect("hash"), str::to_owned);
    let manifest = format!(
        "[[model]]\nname = \"tiny\"\nversion = \"1\"\nfile = \"m.onnx\"\nsha256 = \"{sha}\"\nlicense = \"MIT\"\n\
         task = \"test\"\ninputs = [{{ name = \"x\", shape = [1, 4, 3], dtype = \"float32\" }}]\n\
         outputs = [{{ name = \"y\", shape = [1, 4, 3], dtype = \"float32\" }}]\n"
    );
    fs::write(dir.join("MANIFEST.test.toml"), manifest).expect("write manifest");
    Catalog::from_dirs([dir.to_owned()]).expect("manifest loads").without_cache()
}

#[test]
fn generated_model_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = write_model(dir.path(), &identity_model("x", "y", &[1, 4, 3]), None);
    let mut session = OnnxSession::open(&catalog, "tiny", SessionOptions::default()).expect("session");
    let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
    let mut out = vec![Vec::new()];
    session.run_f32(&[TensorInput::F32 { shape: &[1, 4, 3], data: &data }], &mut out).expect("run");
    assert_eq!(out[0], data);

    let err = session.run_f32(&[TensorInput::F32 { shape: &[1, 4, 3], data: &data[..11] }], &mut out);
    assert!(matches!(err, Err(OnnxError::Input { .. })), "{err:?}");
}

#[test]
fn generated_graph_with_constants_and_dynamic_dims_runs() {
    // y = (x * w + Constant 0.5) transposed; x has a dynamic first dimension.
    let dir = tempfile::tempdir().expect("tempdir");
    let graph = Graph::new()
        .input("x", &[-1, 2])
        .output("y", &[2, -1])
        .initializer("w", &[2], &[2.0, -1.0])
        .node("Mul", &["x", "w"], &["xw"], &[])
        .node("Constant", &[], &["half"], &[("value", Attr::Tensor { dims: vec![], data: vec![0.5] })])
        .node("Add", &["xw", "half"], &["sum"], &[])
        .node("Transpose", &["sum"], &["y"], &[("perm", Attr::Ints(vec![1, 0]))]);
    graph.install(dir.path(), "affine", "test").expect("install");
    let catalog = Catalog::from_dirs([dir.path().to_owned()]).expect("manifest").without_cache();
    let mut session = OnnxSession::open(&catalog, "affine", SessionOptions::default()).expect("session");
    let mut out = vec![Vec::new()];
    let x = [1.0, 1.0, 2.0, 3.0, -1.0, 0.0];
    session.run_f32(&[TensorInput::F32 { shape: &[3, 2], data: &x }], &mut out).expect("run");
    assert_eq!(out[0], vec![2.5, 4.5, -1.5, -0.5, -2.5, 0.5]);
}

#[test]
fn truncated_model_is_a_load_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = identity_model("x", "y", &[1, 4, 3]);
    let catalog = write_model(dir.path(), &model[..model.len() / 2], None);
    let err = OnnxSession::open(&catalog, "tiny", SessionOptions::default()).expect_err("truncated");
    assert!(matches!(err, OnnxError::Load { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("model `tiny`") && text.contains("m.onnx") && text.contains("cannot load"), "{text}");
}

#[test]
fn wrong_checksum_names_file_and_expected_sum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = "0".repeat(64);
    let catalog = write_model(dir.path(), &identity_model("x", "y", &[1, 4, 3]), Some(&wrong));
    let err = OnnxSession::open(&catalog, "tiny", SessionOptions::default()).expect_err("bad sum");
    assert!(
        matches!(&err, OnnxError::Model(ModelError::Corrupt { problem: Corruption::Checksum { .. }, .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("m.onnx") && text.contains(&format!("expected sha256 {wrong}")), "{text}");
}

#[test]
fn wrong_input_shape_is_a_signature_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = write_model(dir.path(), &identity_model("x", "y", &[1, 5, 3]), None);
    let err = OnnxSession::open(&catalog, "tiny", SessionOptions::default()).expect_err("shape differs");
    assert!(matches!(err, OnnxError::Signature { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("input `x` has shape [1, 5, 3] in the model, [1, 4, 3] in the manifest"), "{text}");
}

#[test]
fn wrong_input_name_is_a_signature_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = write_model(dir.path(), &identity_model("image", "y", &[1, 4, 3]), None);
    let err = OnnxSession::open(&catalog, "tiny", SessionOptions::default()).expect_err("name differs");
    assert!(err.to_string().contains("named `image` in the model, `x` in the manifest"), "{err}");
}

/// The astronaut photo (512x512) resized to 128x128 by 4x4 box averaging, in [-1, 1].
fn astronaut_128() -> Vec<f32> {
    let file = fs::File::open(shared().join("media/astronaut.png")).expect("astronaut.png");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    assert_eq!((info.width, info.height), (512, 512));
    let channels = info.line_size / 512;
    let mut out = vec![0f32; 128 * 128 * 3];
    for y in 0..128 {
        for x in 0..128 {
            for c in 0..3 {
                let mut sum = 0u32;
                for dy in 0..4 {
                    for dx in 0..4 {
                        sum += u32::from(buf[(y * 4 + dy) * info.line_size + (x * 4 + dx) * channels + c]);
                    }
                }
                out[(y * 128 + x) * 3 + c] = sum as f32 / 16.0 / 127.5 - 1.0;
            }
        }
    }
    out
}

#[test]
fn blazeface_finds_the_astronaut() {
    let cache = tempfile::tempdir().expect("cache dir");
    let catalog = shared_catalog(cache.path());
    let mut session = OnnxSession::open(&catalog, "blazeface_front_128", SessionOptions::default()).expect("session");
    assert_eq!(session.provider().to_string(), "CPU");
    let input = astronaut_128();
    let mut out = vec![Vec::new(); 4];
    session.run_f32(&[TensorInput::F32 { shape: &[1, 128, 128, 3], data: &input }], &mut out).expect("run");
    assert_eq!((out[0].len(), out[1].len(), out[2].len(), out[3].len()), (512, 384, 512 * 16, 384 * 16));
    // Best anchor of both grids; its score must be high and its centre on the face (SOURCE.md:
    // box 177..272 x 81..175 in the 512 px photo).
    let mut best = (f32::MIN, 0.0, 0.0);
    for (scores, regs, cells, per_cell) in [(&out[0], &out[2], 16usize, 2usize), (&out[1], &out[3], 8, 6)] {
        for (i, &logit) in scores.iter().enumerate() {
            if logit > best.0 {
                let cell = i / per_cell;
                let ax = ((cell % cells) as f32 + 0.5) / cells as f32;
                let ay = ((cell / cells) as f32 + 0.5) / cells as f32;
                best = (logit, (ax + regs[i * 16] / 128.0) * 512.0, (ay + regs[i * 16 + 1] / 128.0) * 512.0);
            }
        }
    }
    let score = 1.0 / (1.0 + (-best.0).exp());
    assert!(score > 0.75, "score {score}");
    assert!((180.0..270.0).contains(&best.1) && (85.0..170.0).contains(&best.2), "centre {best:?}");
}

#[test]
fn face_landmarks_signature_matches() {
    let cache = tempfile::tempdir().expect("cache dir");
    let catalog = shared_catalog(cache.path());
    let session = OnnxSession::open(
        &catalog,
        "face_landmarks",
        SessionOptions { intra_threads: 2, allow_gpu: false, ..SessionOptions::default() },
    )
    .expect("session");
    assert_eq!(session.entry().model.inputs[0].name, "input_1");
}
