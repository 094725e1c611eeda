// SPDX-License-Identifier: MPL-2.0
//! Bringing your own model: `reenact models import FILE --as SLOT --license TEXT`. The ONNX
//! graph is read ([`GraphSignature`]), matched against the community signatures each slot
//! accepts (inswapper_128 with its `emap`, ArcFace, GFPGAN/GPEN/CodeFormer 512, Wav2Lip 96,
//! RVC v2 with ContentVec 768 and RMVPE, LivePortrait's modules), and on a match the file is
//! copied into `<model dir>/imported/` and an entry with its SHA-256, licence, commercial flag
//! and annotated tensors is written to `<model dir>/MANIFEST.imported.toml`. Files are written
//! under a temporary name and renamed, so a failed import leaves the directory as it was.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::manifest::{Manifest, ManifestError, ModelEntry, TensorSpec};
use crate::signature::{GraphSignature, SignatureError};

/// The manifest imported models are recorded in, inside the model directory.
pub const IMPORTED_MANIFEST: &str = "MANIFEST.imported.toml";

/// The folder of the model directory imported files are copied into.
pub const IMPORTED_DIR: &str = "imported";

/// LivePortrait's modules as `--as portrait-animation` records them: the signature recognised,
/// the catalog task, and the file name LivePortrait's ONNX exports give the module. The
/// stitching module is last: the other three are required.
pub const PORTRAIT_ANIMATION_MODULES: [(&str, &str, &str); 4] = [
    ("liveportrait_appearance", "portrait_appearance", "appearance_feature_extractor.onnx"),
    ("liveportrait_motion", "portrait_motion", "motion_extractor.onnx"),
    ("liveportrait_warping_spade", "portrait_warping", "warping_spade.onnx"),
    ("liveportrait_stitching", "portrait_stitching", "stitching.onnx"),
];

/// The model slot an imported file is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Face swapper (`reenactfaceswap` model).
    FaceSwap,
    /// Identity embedding for the swapper (`reenactfaceswap` identity-model).
    FaceIdentity,
    /// Face restoration after the swap.
    FaceEnhance,
    /// Lip-sync (`reenactlipsync` model).
    LipSync,
    /// Voice conversion (`reenactvoice` model).
    Voice,
    /// Content features for voice conversion.
    VoiceContent,
    /// Pitch (F0) for voice conversion.
    VoicePitch,
    /// One module of portrait animation.
    PortraitAnimation,
    /// Text translation for one direction (a Firefox Translations model and its vocabulary).
    Translation,
}

impl Slot {
    /// Every slot, in the order `--as` lists them.
    pub const ALL: [Self; 9] = [
        Self::FaceSwap,
        Self::FaceIdentity,
        Self::FaceEnhance,
        Self::LipSync,
        Self::Voice,
        Self::VoiceContent,
        Self::VoicePitch,
        Self::PortraitAnimation,
        Self::Translation,
    ];

    /// The `--as` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FaceSwap => "faceswap",
            Self::FaceIdentity => "face-identity",
            Self::FaceEnhance => "face-enhance",
            Self::LipSync => "lipsync",
            Self::Voice => "voice",
            Self::VoiceContent => "voice-content",
            Self::VoicePitch => "voice-pitch",
            Self::PortraitAnimation => "portrait-animation",
            Self::Translation => "translation",
        }
    }

    /// The signatures this slot accepts, for error messages.
    pub fn accepted(self) -> &'static str {
        match self {
            Self::FaceSwap => {
                "inswapper_128 (inputs `target` [1, 3, 128, 128] and `source` [1, 512], output [1, 3, 128, 128], \
                 initializer `emap` [512, 512])"
            }
            Self::FaceIdentity => "ArcFace r50/r100 (one input [1, 3, 112, 112], one output [1, 512])",
            Self::FaceEnhance => {
                "GFPGAN 1.4 / GPEN-BFR-512 (one input and output [1, 3, 512, 512]) or CodeFormer \
                 ([1, 3, 512, 512] and a fidelity weight in, [1, 3, 512, 512] out)"
            }
            Self::LipSync => {
                "Wav2Lip / Wav2Lip-GAN 96 (mel [1, 1, 80, 16] and face [1, 6, 96, 96] in, [1, 3, 96, 96] out)"
            }
            Self::Voice => {
                "RVC v2 (feats [1, T, 768], lengths [1] int64, pitch [1, T] int64, pitchf [1, T], speaker id [1] \
                 int64, noise [1, 192, T] in; audio out)"
            }
            Self::VoiceContent => "ContentVec 768 (waveform [1, 1, N] at 16 kHz in, [1, 768, T] or [1, T, 768] out)",
            Self::VoicePitch => "RMVPE (128-band mel [1, 128, T] in, [1, T, 360] pitch salience out)",
            Self::PortraitAnimation => {
                "LivePortrait appearance ([1, 3, 256, 256] -> [1, 32, 16, 64, 64]), motion ([1, 3, 256, 256] -> \
                 pitch, yaw, roll [1, 66], t [1, 3], exp [1, 63], scale [1, 1], kp [1, 63]), warping+SPADE \
                 (feature_3d, kp_source, kp_driving -> [1, 3, 512, 512]) or stitching ([1, 126] -> [1, 65])"
            }
            Self::Translation => {
                "a Firefox Translations model (Marian transformer-SSRU container, int8 or float32, shared \
                 vocabulary) with its SentencePiece vocabulary"
            }
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Slot {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|slot| slot.as_str() == text).ok_or_else(|| {
            let known: Vec<_> = Self::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown slot `{text}`; one of: {}", known.join(", "))
        })
    }
}

/// Why a file cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not a readable ONNX model.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The graph is none of the signatures the slot accepts.
    #[error(
        "{} is not a model for the {slot} slot: found {found}; the {slot} slot accepts {}",
        path.display(),
        slot.accepted()
    )]
    Unrecognised {
        /// The file.
        path: PathBuf,
        /// The slot asked for.
        slot: Slot,
        /// The signature found, described.
        found: String,
    },
    /// An argument is missing or invalid.
    #[error("{field}: {message}")]
    Argument {
        /// The argument at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The file changed while it was copied.
    #[error("{} changed while it was copied (sha256 {before}, the copy {after}); import it again", path.display())]
    Changed {
        /// The source file.
        path: PathBuf,
        /// SHA-256 before.
        before: String,
        /// SHA-256 of the copy.
        after: String,
    },
    /// The existing imported manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Writing into the model directory failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The ONNX file.
    pub file: PathBuf,
    /// The slot it is for.
    pub slot: Slot,
    /// The licence of the weights, as the user states it.
    pub license: String,
    /// Whether the licence allows commercial use; `None` when not stated.
    pub commercial_use: Option<bool>,
    /// Catalog name; default: the file name without `.onnx`.
    pub name: Option<String>,
    /// Output sample rate of a voice model whose graph does not record it.
    pub sample_rate: Option<u32>,
    /// The SentencePiece vocabulary of a translation model; default: `vocab.<pair>.spm` beside
    /// a file named as Mozilla names them (`model.<pair>.*`).
    pub vocab: Option<PathBuf>,
}

/// A recognised community signature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recognised {
    /// Short id recorded in the manifest's `signature` (`inswapper_128`, `rvc_v2`, ...).
    pub signature: String,
    /// Manifest `task`.
    pub task: &'static str,
    /// Inputs, annotated with layout, colour, range and meaning.
    pub inputs: Vec<TensorSpec>,
    /// Outputs, annotated.
    pub outputs: Vec<TensorSpec>,
}

/// The outcome of an import.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    /// The manifest entry written.
    pub entry: ModelEntry,
    /// Where the model file now lies.
    pub path: PathBuf,
    /// The manifest holding the entry.
    pub manifest: PathBuf,
}

/// Imports `request.file` into model directory `dir`.
pub fn import_model(dir: &Path, request: &ImportRequest) -> Result<Imported, ImportError> {
    let license = request.license.trim();
    if license.is_empty() {
        return Err(ImportError::Argument { field: "--license", message: "state the licence of the weights".into() });
    }
    let name = match &request.name {
        Some(name) => name.clone(),
        None => default_name(&request.file)?,
    };
    check_name(&name)?;
    if request.slot == Slot::Translation {
        return import_translation(dir, request, license);
    }
    let signature = GraphSignature::read(&request.file)?;
    let recognised = recognise(request.slot, &signature, request.sample_rate)
        .map_err(|found| ImportError::Unrecognised { path: request.file.clone(), slot: request.slot, found })?;
    let sha256 = crate::sha256_file(&request.file)
        .map_err(|source| SignatureError::Io { path: request.file.clone(), source })?;
    let file = PathBuf::from(IMPORTED_DIR).join(format!("{name}.onnx"));
    let path = dir.join(&file);
    let size = copy_verified(&request.file, &path, &sha256)?;
    let entry = ModelEntry {
        name,
        version: "imported".into(),
        file,
        sha256,
        size: Some(size),
        license: license.to_owned(),
        commercial_use: request.commercial_use,
        task: recognised.task.into(),
        format: None,
        config: None,
        config_sha256: None,
        files: Vec::new(),
        inputs: recognised.inputs,
        outputs: recognised.outputs,
        source: Some(format!("imported from {} by `reenact models import`", request.file.display())),
        signature: Some(recognised.signature),
        package: None,
    };
    let manifest = write_entry(dir, &entry)?;
    Ok(Imported { entry, path, manifest })
}

/// A Firefox Translations model: the container and the vocabulary are read and checked
/// against each other, then both are copied (the vocabulary as the entry's `config`). The
/// catalog name is `translation_<from>_<to>`, from `--name` or Mozilla's file name.
fn import_translation(dir: &Path, request: &ImportRequest, license: &str) -> Result<Imported, ImportError> {
    use crate::marian;
    let argument = |field, message: String| ImportError::Argument { field, message };
    let model = marian::read_model(&request.file).map_err(|found| ImportError::Unrecognised {
        path: request.file.clone(),
        slot: Slot::Translation,
        found,
    })?;
    let name = match &request.name {
        Some(name) => name.clone(),
        None => marian::pair_from_file_name(&request.file)
            .map(|(from, to)| marian::model_name(&from, &to))
            .ok_or_else(|| {
                argument(
                    "--name",
                    format!(
                        "{} does not say its direction (Mozilla names them model.<from><to>.*); name the model \
                         translation_<from>_<to>",
                        request.file.display()
                    ),
                )
            })?,
    };
    let Some((from, to)) = marian::pair_from_model_name(&name).map(|(f, t)| (f.to_owned(), t.to_owned())) else {
        return Err(argument(
            "--name",
            format!("`{name}` does not name a direction: translation models are named translation_<from>_<to>"),
        ));
    };
    let vocab = match &request.vocab {
        Some(vocab) => vocab.clone(),
        None => marian::default_vocab(&request.file).ok_or_else(|| {
            argument("--vocab", format!("name the SentencePiece vocabulary of {}", request.file.display()))
        })?,
    };
    if !vocab.is_file() {
        return Err(argument("--vocab", format!("{} is not a file", vocab.display())));
    }
    marian::check_vocab(&vocab, &model)
        .map_err(|why| argument("--vocab", format!("{} is not this model's vocabulary: it {why}", vocab.display())))?;
    let hash =
        |path: &Path| crate::sha256_file(path).map_err(|source| SignatureError::Io { path: path.to_owned(), source });
    let (sha256, vocab_sha256) = (hash(&request.file)?, hash(&vocab)?);
    let file = PathBuf::from(IMPORTED_DIR).join(format!("{name}.bin"));
    let config = PathBuf::from(IMPORTED_DIR).join(format!("{name}.spm"));
    // Both files are complete before either replaces what a previous import left.
    let (path, vocab_path) = (dir.join(&file), dir.join(&config));
    let (vocab_part, _) = copy_to_part(&vocab, &vocab_path, &vocab_sha256)?;
    let (part, size) = copy_to_part(&request.file, &path, &sha256).inspect_err(|_| {
        let _ = fs::remove_file(&vocab_part);
    })?;
    rename(&vocab_part, &vocab_path)?;
    rename(&part, &path)?;
    let text_spec = |name: &str, lang: &str, meaning: String| TensorSpec {
        name: name.into(),
        shape: None,
        dtype: "text".into(),
        extra: BTreeMap::from([("language".to_owned(), text(lang)), ("meaning".to_owned(), text(&meaning))]),
    };
    let entry = ModelEntry {
        name,
        version: format!("imported: {}", model.describe()),
        file,
        sha256,
        size: Some(size),
        license: license.to_owned(),
        commercial_use: request.commercial_use,
        task: marian::TASK.into(),
        format: Some("Marian binary container (Firefox Translations), run with fxtranslate 0.5".into()),
        config: Some(config),
        config_sha256: Some(vocab_sha256),
        files: Vec::new(),
        inputs: vec![text_spec("source", &from, format!("text in `{from}`, one or more sentences"))],
        outputs: vec![text_spec("target", &to, format!("the text in `{to}`, greedy decoding"))],
        source: Some(format!(
            "imported from {} with {} by `reenact models import`",
            request.file.display(),
            vocab.display()
        )),
        signature: Some(marian::SIGNATURE.into()),
        package: None,
    };
    let manifest = write_entry(dir, &entry)?;
    Ok(Imported { entry, path, manifest })
}

fn default_name(file: &Path) -> Result<String, ImportError> {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let name: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if name.is_empty() {
        return Err(ImportError::Argument { field: "--name", message: format!("cannot name {}", file.display()) });
    }
    Ok(name)
}

/// Names become file names: letters, digits, `_`, `-`, `.` (not leading).
fn check_name(name: &str) -> Result<(), ImportError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ImportError::Argument {
            field: "--name",
            message: format!("`{name}` is not a model name (letters, digits, _ - ., at most 100)"),
        })
    }
}

/// Copies `from` to `to` through `to.part`, hashing the bytes written; renames only when they
/// hash to `sha256`. Returns the size.
fn copy_verified(from: &Path, to: &Path, sha256: &str) -> Result<u64, ImportError> {
    let (part, size) = copy_to_part(from, to, sha256)?;
    rename(&part, to)?;
    Ok(size)
}

fn rename(part: &Path, to: &Path) -> Result<(), ImportError> {
    fs::rename(part, to).map_err(|source| ImportError::Write { path: to.to_owned(), source })
}

/// Copies `from` to `to.part`, hashing the bytes written; the part file and the size, or an
/// error (and no part file) when they do not hash to `sha256`.
fn copy_to_part(from: &Path, to: &Path, sha256: &str) -> Result<(PathBuf, u64), ImportError> {
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ImportError::Write { path, source }
    };
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(write_err(parent))?;
    }
    let mut part = to.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let mut input = File::open(from).map_err(|source| SignatureError::Io { path: from.to_owned(), source })?;
    let mut output = File::create(&part).map_err(write_err(&part))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(|source| SignatureError::Io { path: from.to_owned(), source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).map_err(write_err(&part))?;
        size += n as u64;
    }
    output.sync_all().map_err(write_err(&part))?;
    let after: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if after != sha256 {
        let _ = fs::remove_file(&part);
        return Err(ImportError::Changed { path: from.to_owned(), before: sha256.to_owned(), after });
    }
    Ok((part, size))
}

#[derive(Serialize)]
struct ManifestFile<'a> {
    model: &'a [ModelEntry],
}

/// Adds (or replaces, by name) `entry` in the directory's imported manifest.
fn write_entry(dir: &Path, entry: &ModelEntry) -> Result<PathBuf, ImportError> {
    let path = dir.join(IMPORTED_MANIFEST);
    let mut models = if path.exists() { Manifest::load(&path)?.models } else { Vec::new() };
    models.retain(|m| m.name != entry.name);
    models.push(entry.clone());
    let body = toml::to_string(&ManifestFile { model: &models })
        .map_err(|err| ImportError::Write { path: path.clone(), source: io::Error::other(err.to_string()) })?;
    let text =
        format!("# Models imported with `reenact models import`; each entry names the signature recognised.\n{body}");
    // Parse what is about to be written, so a bad entry never replaces a good manifest.
    Manifest::parse(&path, &text)?;
    let part = path.with_extension("toml.part");
    fs::write(&part, text).map_err(|source| ImportError::Write { path: part.clone(), source })?;
    fs::rename(&part, &path).map_err(|source| ImportError::Write { path: path.clone(), source })?;
    Ok(path)
}

/// The signature `sig` matches for `slot`, or a description of what was found.
pub fn recognise(slot: Slot, sig: &GraphSignature, sample_rate: Option<u32>) -> Result<Recognised, String> {
    let found = || sig.to_string();
    let recognised = match slot {
        Slot::FaceSwap => inswapper(sig),
        Slot::FaceIdentity => arcface(sig),
        Slot::FaceEnhance => codeformer(sig).or_else(|| restorer_512(sig)),
        Slot::LipSync => wav2lip(sig),
        Slot::Voice => return rvc_v2(sig, sample_rate).unwrap_or_else(|| Err(found())),
        Slot::VoiceContent => contentvec(sig),
        Slot::VoicePitch => rmvpe(sig),
        Slot::PortraitAnimation => liveportrait(sig),
        Slot::Translation => return Err(format!("an ONNX graph ({sig}), not a Marian model container")),
    };
    recognised.ok_or_else(found)
}

/// Whether `spec` has type `dtype` and a shape that fits `want` (`-1` on either side = any).
fn fits(spec: &TensorSpec, dtype: &str, want: &[i64]) -> bool {
    spec.dtype == dtype
        && spec.shape.as_deref().is_some_and(|shape| {
            shape.len() == want.len() && shape.iter().zip(want).all(|(&s, &w)| s < 0 || w < 0 || s == w)
        })
}

/// `spec` with extra annotations.
fn annotate(spec: &TensorSpec, notes: &[(&str, toml::Value)]) -> TensorSpec {
    let mut spec = spec.clone();
    for (key, value) in notes {
        spec.extra.insert((*key).to_owned(), value.clone());
    }
    spec
}

fn text(value: &str) -> toml::Value {
    toml::Value::String(value.to_owned())
}

fn range(lo: f64, hi: f64) -> toml::Value {
    toml::Value::Array(vec![toml::Value::Float(lo), toml::Value::Float(hi)])
}

fn image_notes(color: &str, lo: f64, hi: f64, meaning: &str) -> Vec<(&'static str, toml::Value)> {
    vec![("layout", text("NCHW")), ("color", text(color)), ("range", range(lo, hi)), ("meaning", text(meaning))]
}

fn recognised(signature: &str, task: &'static str, inputs: Vec<TensorSpec>, outputs: Vec<TensorSpec>) -> Recognised {
    Recognised { signature: signature.to_owned(), task, inputs, outputs }
}

/// The square image tensor of side `size` (NCHW, 3 channels), if `spec` is one.
fn image(spec: &TensorSpec, size: i64) -> bool {
    fits(spec, "float32", &[-1, 3, size, size])
}

fn inswapper(sig: &GraphSignature) -> Option<Recognised> {
    let target = sig.inputs.iter().find(|s| s.name == "target" && image(s, 128))?;
    let source = sig.inputs.iter().find(|s| s.name == "source" && fits(s, "float32", &[-1, 512]))?;
    let [output] = sig.outputs.as_slice() else { return None };
    if sig.inputs.len() != 2 || !image(output, 128) {
        return None;
    }
    // InsightFace takes the last initializer as emap; recognise it by name or by that place.
    let emap = sig
        .initializer("emap")
        .or_else(|| sig.initializers.last())
        .filter(|init| init.dims == [512, 512] && init.dtype == "float32")?;
    let inputs = sig
        .inputs
        .iter()
        .map(|spec| {
            if spec.name == target.name {
                annotate(
                    spec,
                    &image_notes(
                        "RGB",
                        0.0,
                        1.0,
                        "performer face aligned to the ArcFace template (128 px, +8 px x), x / 255",
                    ),
                )
            } else {
                annotate(
                    source,
                    &[
                        ("projection", text(&format!("emap:{}", emap.name))),
                        ("meaning", text("ArcFace embedding, L2-normalised, times emap, L2-normalised again")),
                    ],
                )
            }
        })
        .collect();
    let outputs = vec![annotate(output, &image_notes("RGB", 0.0, 1.0, "swapped face in the aligned crop"))];
    Some(recognised("inswapper_128", "face_swap", inputs, outputs))
}

fn arcface(sig: &GraphSignature) -> Option<Recognised> {
    let ([input], [output]) = (sig.inputs.as_slice(), sig.outputs.as_slice()) else { return None };
    if !image(input, 112) || !fits(output, "float32", &[-1, 512]) {
        return None;
    }
    // IResNet-50 has 53 convolutions, IResNet-100 has 103; the signature is otherwise the same.
    let convs = sig.ops.get("Conv").copied().unwrap_or(0);
    let variant = match convs {
        c if c >= 90 => "arcface_r100",
        c if c >= 45 => "arcface_r50",
        _ => "arcface_112",
    };
    let inputs = vec![annotate(
        input,
        &image_notes("RGB", -1.0, 1.0, "face aligned to the ArcFace 112 template, (x - 127.5) / 127.5"),
    )];
    let outputs = vec![annotate(output, &[("meaning", text("identity embedding, L2-normalise before use"))])];
    Some(recognised(variant, "face_identity", inputs, outputs))
}

fn codeformer(sig: &GraphSignature) -> Option<Recognised> {
    if sig.inputs.len() != 2 || sig.outputs.is_empty() || !image(&sig.outputs[0], 512) {
        return None;
    }
    let picture = sig.inputs.iter().find(|s| image(s, 512))?;
    let weight = sig.inputs.iter().find(|s| {
        matches!(s.dtype.as_str(), "float32" | "float64")
            && s.shape.as_deref().is_some_and(|shape| shape.iter().product::<i64>().abs() <= 1)
    })?;
    let inputs = sig
        .inputs
        .iter()
        .map(|spec| {
            if spec.name == picture.name {
                annotate(
                    spec,
                    &image_notes("RGB", -1.0, 1.0, "face aligned to the FFHQ 512 template, (x / 255 - 0.5) / 0.5"),
                )
            } else {
                annotate(weight, &[("meaning", text("fidelity weight 0..1 (1 = closest to the input)"))])
            }
        })
        .collect();
    let mut outputs = sig.outputs.clone();
    outputs[0] = annotate(&sig.outputs[0], &image_notes("RGB", -1.0, 1.0, "restored face"));
    Some(recognised("codeformer_512", "face_enhance", inputs, outputs))
}

fn restorer_512(sig: &GraphSignature) -> Option<Recognised> {
    let ([input], [output]) = (sig.inputs.as_slice(), sig.outputs.as_slice()) else { return None };
    if !image(input, 512) || !image(output, 512) {
        return None;
    }
    let inputs = vec![annotate(
        input,
        &image_notes("RGB", -1.0, 1.0, "face aligned to the FFHQ 512 template, (x / 255 - 0.5) / 0.5"),
    )];
    let outputs = vec![annotate(output, &image_notes("RGB", -1.0, 1.0, "restored face"))];
    Some(recognised("gfpgan_gpen_512", "face_enhance", inputs, outputs))
}

fn wav2lip(sig: &GraphSignature) -> Option<Recognised> {
    let ([a, b], [output]) = (sig.inputs.as_slice(), sig.outputs.as_slice()) else { return None };
    let is_mel = |s: &TensorSpec| fits(s, "float32", &[-1, 1, 80, 16]);
    let is_face = |s: &TensorSpec| fits(s, "float32", &[-1, 6, 96, 96]);
    if !((is_mel(a) && is_face(b)) || (is_face(a) && is_mel(b))) || !image(output, 96) {
        return None;
    }
    let inputs = sig
        .inputs
        .iter()
        .map(|spec| {
            if is_mel(spec) {
                annotate(
                    spec,
                    &[
                        ("sample_rate", toml::Value::Integer(16000)),
                        ("meaning", text("80-band log-mel, hop 200, window 800, 16 frames (0.2 s) centred on the video frame, clipped to [-4, 4]")),
                    ],
                )
            } else {
                annotate(
                    spec,
                    &image_notes("BGR", 0.0, 1.0, "face box crop 96 px: lower half masked + the same crop unmasked, x / 255"),
                )
            }
        })
        .collect();
    let outputs = vec![annotate(output, &image_notes("BGR", 0.0, 1.0, "the crop with the mouth speaking"))];
    Some(recognised("wav2lip_96", "lip_sync", inputs, outputs))
}

/// RVC v2's six inputs in export order, by shape and type.
fn rvc_v2(sig: &GraphSignature, sample_rate: Option<u32>) -> Option<Result<Recognised, String>> {
    let [feats, lengths, pitch, pitchf, sid, rnd] = sig.inputs.as_slice() else { return None };
    let [audio] = sig.outputs.as_slice() else { return None };
    let ok = fits(feats, "float32", &[1, -1, 768])
        && fits(lengths, "int64", &[1])
        && fits(pitch, "int64", &[1, -1])
        && fits(pitchf, "float32", &[1, -1])
        && fits(sid, "int64", &[1])
        && fits(rnd, "float32", &[1, 192, -1])
        && audio.dtype == "float32";
    if !ok {
        return None;
    }
    let rate = sample_rate.or_else(|| recorded_sample_rate(&sig.metadata));
    let Some(rate) = rate else {
        return Some(Err(format!(
            "an RVC v2 voice ({sig}) that does not record its output sample rate; pass --sample-rate \
             (40000 or 48000, as the voice was trained)"
        )));
    };
    if !(8000..=96000).contains(&rate) {
        return Some(Err(format!("an RVC v2 voice with sample rate {rate}, outside 8000..96000")));
    }
    let int = |v: i64| toml::Value::Integer(v);
    let inputs = vec![
        annotate(
            feats,
            &[("meaning", text("ContentVec 768 features at 16 kHz (hop 320), each frame repeated twice (hop 160)"))],
        ),
        annotate(lengths, &[("meaning", text("number of frames T"))]),
        annotate(pitch, &[("meaning", text("coarse F0: mel-scale bin 1..255 of pitchf (50..1100 Hz)"))]),
        annotate(pitchf, &[("meaning", text("F0 in Hz per 10 ms frame from the pitch model, 0 = unvoiced"))]),
        annotate(sid, &speaker_notes(sig)),
        annotate(rnd, &[("meaning", text("standard normal noise"))]),
    ];
    let outputs = vec![annotate(audio, &[("sample_rate", int(i64::from(rate))), ("meaning", text("mono audio"))])];
    Some(Ok(recognised("rvc_v2", crate::VOICE_CONVERSION, inputs, outputs)))
}

/// The speaker id's notes: its meaning, and how many speakers the voice holds when its
/// speaker table (RVC's `emb_g.weight`, one row per speaker) says so.
fn speaker_notes(sig: &GraphSignature) -> Vec<(&'static str, toml::Value)> {
    let mut notes = vec![("meaning", text("speaker id"))];
    let table = sig.initializers.iter().find(|i| i.name.ends_with("emb_g.weight") && i.dims.len() == 2);
    if let Some(rows) = table.map(|t| t.dims[0]).filter(|rows| *rows > 0) {
        notes.push((crate::SPEAKERS_KEY, toml::Value::Integer(rows)));
    }
    notes
}

/// The sample rate an exporter recorded: `sr`, or `model_info`'s JSON `sr`.
fn recorded_sample_rate(metadata: &BTreeMap<String, String>) -> Option<u32> {
    if let Some(sr) = metadata.get("sr").and_then(|s| s.trim().parse().ok()) {
        return Some(sr);
    }
    let info: serde_json::Value = serde_json::from_str(metadata.get("model_info")?).ok()?;
    info.get("sr").and_then(serde_json::Value::as_u64).and_then(|v| u32::try_from(v).ok())
}

fn contentvec(sig: &GraphSignature) -> Option<Recognised> {
    let ([input], [output, ..]) = (sig.inputs.as_slice(), sig.outputs.as_slice()) else { return None };
    let wave = fits(input, "float32", &[1, 1, -1]) || fits(input, "float32", &[1, -1]);
    let layout = if fits(output, "float32", &[1, 768, -1]) {
        "channels first [1, 768, T]"
    } else if fits(output, "float32", &[1, -1, 768]) {
        "frames first [1, T, 768]"
    } else {
        return None;
    };
    if !wave {
        return None;
    }
    let inputs = vec![annotate(
        input,
        &[
            ("sample_rate", toml::Value::Integer(16000)),
            ("range", range(-1.0, 1.0)),
            ("meaning", text("mono waveform")),
        ],
    )];
    let mut outputs = sig.outputs.clone();
    outputs[0] = annotate(output, &[("meaning", text(&format!("content features, 50 frames/s, {layout}")))]);
    Some(recognised("contentvec_768", "voice_content", inputs, outputs))
}

fn rmvpe(sig: &GraphSignature) -> Option<Recognised> {
    let ([input], [output]) = (sig.inputs.as_slice(), sig.outputs.as_slice()) else { return None };
    if !fits(input, "float32", &[-1, 128, -1]) || !fits(output, "float32", &[-1, -1, 360]) {
        return None;
    }
    let inputs = vec![annotate(
        input,
        &[
            ("sample_rate", toml::Value::Integer(16000)),
            ("meaning", text("128-band log-mel, window 1024, hop 160, 30..8000 Hz, frames padded to a multiple of 32")),
        ],
    )];
    let outputs = vec![annotate(output, &[("meaning", text("salience over 360 bins of 20 cents from 1997.38 cents"))])];
    Some(recognised("rmvpe", "voice_pitch", inputs, outputs))
}

fn liveportrait(sig: &GraphSignature) -> Option<Recognised> {
    let notes = |s: &TensorSpec| annotate(s, &image_notes("RGB", 0.0, 1.0, "portrait crop 256 px, x / 255"));
    let ins = sig.inputs.as_slice();
    let outs = sig.outputs.as_slice();
    if let ([img], [feature]) = (ins, outs) {
        if image(img, 256) && fits(feature, "float32", &[-1, 32, 16, 64, 64]) {
            let out = annotate(feature, &[("meaning", text("3-D appearance feature volume"))]);
            return Some(recognised("liveportrait_appearance", "portrait_appearance", vec![notes(img)], vec![out]));
        }
    }
    if let [img] = ins {
        let shapes: [&[i64]; 7] = [&[-1, 66], &[-1, 66], &[-1, 66], &[-1, 3], &[-1, 63], &[-1, 1], &[-1, 63]];
        let matches = outs.len() == 7 && outs.iter().zip(shapes).all(|(s, want)| fits(s, "float32", want));
        if image(img, 256) && matches {
            let meanings = [
                "pitch bins (66)",
                "yaw bins (66)",
                "roll bins (66)",
                "translation",
                "expression deltas",
                "scale",
                "canonical keypoints",
            ];
            let outputs = outs.iter().zip(meanings).map(|(s, m)| annotate(s, &[("meaning", text(m))])).collect();
            return Some(recognised("liveportrait_motion", "portrait_motion", vec![notes(img)], outputs));
        }
    }
    if let ([_, _, _], [out]) = (ins, outs) {
        let feature = ins.iter().find(|s| fits(s, "float32", &[-1, 32, 16, 64, 64]));
        let kp_source = ins.iter().find(|s| s.name == "kp_source" && fits(s, "float32", &[-1, 21, 3]));
        let kp_driving = ins.iter().find(|s| s.name == "kp_driving" && fits(s, "float32", &[-1, 21, 3]));
        if feature.is_some() && kp_source.is_some() && kp_driving.is_some() && image(out, 512) {
            let inputs = ins.iter().map(|s| annotate(s, &[])).collect();
            let out = annotate(out, &image_notes("RGB", 0.0, 1.0, "animated portrait 512 px"));
            return Some(recognised("liveportrait_warping_spade", "portrait_warping", inputs, vec![out]));
        }
    }
    if let ([input], [output]) = (ins, outs) {
        let pairs = [
            (126, 65, "liveportrait_stitching", "portrait_stitching"),
            (66, 63, "liveportrait_retarget_eye", "portrait_retarget"),
            (65, 63, "liveportrait_retarget_lip", "portrait_retarget"),
        ];
        for (n_in, n_out, name, task) in pairs {
            if fits(input, "float32", &[-1, n_in]) && fits(output, "float32", &[-1, n_out]) {
                return Some(recognised(name, task, vec![input.clone()], vec![output.clone()]));
            }
        }
    }
    None
}
