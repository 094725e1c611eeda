// SPDX-License-Identifier: MPL-2.0
//! The model catalog: every model named by the `MANIFEST*.toml` files of the search
//! directories, where its file lies, and whether that file is there and intact.
//!
//! Directories are read in [`search_dirs`](crate::search_dirs) order and the first one that
//! defines a model name wins, so a user copy shadows the shared one. Files are checked against
//! the manifest's SHA-256 through the checksum cache, so an unchanged file is hashed once.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::checksum::{default_cache_dir, ChecksumCache};
use crate::manifest::{Manifest, ManifestError, ModelEntry};

/// Why a model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A manifest could not be read or is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// No manifest defines the name.
    #[error("unknown model `{name}`: {}{}", where_looked(searched, absent), install_hint(name, "install"))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The directories whose manifests were read.
        searched: Vec<PathBuf>,
        /// The directories looked for that do not exist.
        absent: Vec<PathBuf>,
    },
    /// The model's file (or its config file) is not there.
    #[error(
        "model `{name}`: file {} is missing{}{}",
        path.display(),
        expected_suffix(expected_sha256),
        install_hint(name, "install")
    )]
    Missing {
        /// The model name.
        name: String,
        /// The path looked at.
        path: PathBuf,
        /// The checksum the file should have.
        expected_sha256: Option<String>,
    },
    /// The model's file (or its config file) is there but not the one the manifest names.
    #[error(
        "model `{name}`: file {} is corrupt: {problem}{}{}",
        path.display(),
        expected_suffix(expected_sha256),
        install_hint(name, "reinstall")
    )]
    Corrupt {
        /// The model name.
        name: String,
        /// The file at fault.
        path: PathBuf,
        /// The checksum the file should have.
        expected_sha256: Option<String>,
        /// What is wrong with it.
        problem: Corruption,
    },
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "no directory".into();
    }
    dirs.iter().map(|dir| dir.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Which directories were read and which do not exist.
fn where_looked(searched: &[PathBuf], absent: &[PathBuf]) -> String {
    let read = match searched {
        [] => "no model directory exists".to_owned(),
        dirs => format!("no manifest in {} defines it", display_dirs(dirs)),
    };
    match absent {
        [] => read,
        [one] => format!("{read} ({} does not exist)", one.display()),
        many => format!("{read} ({} do not exist)", display_dirs(many)),
    }
}

/// How to get the model, for the models `reenact models install` knows.
fn install_hint(name: &str, verb: &str) -> String {
    let installable = crate::install::installable_models().is_ok_and(|models| models.contains_key(name));
    if installable {
        format!("; {verb} it with `reenact models install {name}`")
    } else {
        String::new()
    }
}

fn expected_suffix(expected: &Option<String>) -> String {
    expected.as_ref().map(|sum| format!(" (expected sha256 {sum})")).unwrap_or_default()
}

/// What is wrong with a model file that exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// The content differs from the manifest's checksum.
    #[error("actual sha256 {actual}")]
    Checksum {
        /// SHA-256 of the file as it is.
        actual: String,
    },
    /// The size differs from the manifest's `size`.
    #[error("size is {actual} bytes, the manifest says {expected}")]
    Size {
        /// Size from the manifest.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// The file has no content (an interrupted download or copy).
    #[error("the file is empty")]
    Empty,
    /// Something other than a regular file sits at the path.
    #[error("not a regular file")]
    NotAFile,
    /// The file exists but cannot be read.
    #[error("cannot be read: {message}")]
    Unreadable {
        /// What the OS said.
        message: String,
    },
}

/// The state of a model's files on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStatus {
    /// Every file is present and matches its checksum.
    Found,
    /// A file is not there.
    Missing {
        /// The path looked at.
        path: PathBuf,
        /// The checksum the file should have.
        expected_sha256: Option<String>,
    },
    /// A file is there but wrong.
    Corrupt {
        /// The file at fault.
        path: PathBuf,
        /// The checksum the file should have.
        expected_sha256: Option<String>,
        /// What is wrong with it.
        problem: Corruption,
    },
}

impl ModelStatus {
    /// `found`, `missing` or `corrupt`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::Missing { .. } => "missing",
            Self::Corrupt { .. } => "corrupt",
        }
    }

    /// True when the model can be used.
    pub fn is_found(&self) -> bool {
        matches!(self, Self::Found)
    }

    /// `Ok` when found, else the error for model `name`.
    pub fn into_result(self, name: &str) -> Result<(), ModelError> {
        let name = name.to_owned();
        match self {
            Self::Found => Ok(()),
            Self::Missing { path, expected_sha256 } => Err(ModelError::Missing { name, path, expected_sha256 }),
            Self::Corrupt { path, expected_sha256, problem } => {
                Err(ModelError::Corrupt { name, path, expected_sha256, problem })
            }
        }
    }
}

/// The task of the models a character speaks with (RVC v2 voices, our converter).
pub const VOICE_CONVERSION: &str = "voice_conversion";

/// Why a catalog name cannot be a character's voice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAVoice {
    /// The catalog has no model of that name.
    Unknown,
    /// The model does this other task.
    Task(String),
}

/// A model from a manifest, with its files resolved against the manifest's folder.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    /// The manifest entry.
    pub model: ModelEntry,
    /// The manifest that defines it.
    pub manifest: PathBuf,
    /// The model file.
    pub path: PathBuf,
    /// The companion config file, when the manifest names one.
    pub config_path: Option<PathBuf>,
    /// The further files the manifest names, in its order, with their SHA-256.
    pub data: Vec<(PathBuf, String)>,
}

impl CatalogEntry {
    fn new(manifest: &Manifest, model: ModelEntry) -> Self {
        let dir = manifest.dir();
        Self {
            path: dir.join(&model.file),
            config_path: model.config.as_ref().map(|config| dir.join(config)),
            data: model.files.iter().map(|data| (dir.join(&data.file), data.sha256.clone())).collect(),
            manifest: manifest.path.clone(),
            model,
        }
    }

    /// How many speakers a voice holds, when its manifest records it (an imported RVC v2
    /// voice whose speaker table the import read).
    pub fn speakers(&self) -> Option<u32> {
        self.model.speakers()
    }

    /// Refuses a speaker id past the voice's recorded speakers, naming the range it has.
    pub fn check_speaker(&self, speaker: u32) -> Result<(), String> {
        match self.speakers() {
            Some(speakers) if speaker >= speakers => Err(format!(
                "`{}` holds {speakers} speaker{} (ids 0 to {}), not {speaker}",
                self.model.name,
                if speakers == 1 { "" } else { "s" },
                speakers - 1
            )),
            _ => Ok(()),
        }
    }
}

/// The key of a voice's speaker-id input in its manifest that records how many speakers it holds.
pub const SPEAKERS_KEY: &str = "speakers";

/// Every known model, and the checks that tell whether its files can be used.
#[derive(Debug)]
pub struct Catalog {
    /// Models in lookup order, one per name.
    entries: Vec<CatalogEntry>,
    /// The directories that were read.
    searched: Vec<PathBuf>,
    /// The directories looked for that do not exist.
    absent: Vec<PathBuf>,
    /// SHA-256 cache; locked only around one file check.
    cache: Mutex<ChecksumCache>,
}

impl Catalog {
    /// Reads the manifests of [`search_dirs`](crate::search_dirs), with the checksum cache in
    /// the user cache directory.
    pub fn load() -> Result<Self, ModelError> {
        Self::from_dirs(crate::search_dirs())
    }

    /// Like [`Catalog::load`], with `extra` (when given) searched before every other directory:
    /// an element's `model-dir` property, a test's generated models.
    pub fn load_including(extra: Option<&Path>) -> Result<Self, ModelError> {
        Self::from_dirs(extra.map(Path::to_owned).into_iter().chain(crate::search_dirs()))
    }

    /// Reads the manifests of `dirs`, in order; directories that do not exist are skipped.
    pub fn from_dirs(dirs: impl IntoIterator<Item = PathBuf>) -> Result<Self, ModelError> {
        let mut catalog =
            Self { entries: Vec::new(), searched: Vec::new(), absent: Vec::new(), cache: Mutex::new(default_cache()) };
        let mut seen = HashSet::new();
        for dir in dirs {
            catalog.add_dir(&dir, &mut seen)?;
        }
        Ok(catalog)
    }

    /// Keeps the checksum cache in `dir` instead of the user cache directory.
    pub fn with_cache_dir(self, dir: impl AsRef<Path>) -> Self {
        Self { cache: Mutex::new(ChecksumCache::in_dir(dir.as_ref())), ..self }
    }

    /// Neither reads nor writes a cache file: every file is hashed (once per catalog).
    pub fn without_cache(self) -> Self {
        Self { cache: Mutex::new(ChecksumCache::in_memory()), ..self }
    }

    /// The checksum cache file, when there is one.
    pub fn cache_file(&self) -> Option<PathBuf> {
        self.lock_cache().file().map(Path::to_owned)
    }

    /// How many files this catalog has hashed so far, rather than taken from the cache.
    pub fn files_hashed(&self) -> usize {
        self.lock_cache().hashed()
    }

    /// Every known model, in lookup order.
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// The directories whose manifests were read.
    pub fn searched_dirs(&self) -> &[PathBuf] {
        &self.searched
    }

    /// The directories looked for that do not exist.
    pub fn absent_dirs(&self) -> &[PathBuf] {
        &self.absent
    }

    /// The model called `name`, unchecked.
    pub fn entry(&self, name: &str) -> Option<&CatalogEntry> {
        self.entries.iter().find(|entry| entry.model.name == name)
    }

    /// The first model, in lookup order, recognised on import as `signature`, or failing that
    /// the first for `task`: how a slot finds the companions a model was trained with.
    pub fn first_of(&self, signature: &str, task: &str) -> Option<&CatalogEntry> {
        let entries = self.entries.iter();
        entries
            .clone()
            .find(|e| e.model.signature.as_deref() == Some(signature))
            .or_else(|| entries.clone().find(|e| e.model.task == task))
    }

    /// Model `name` when it converts voices: what a character may speak with.
    pub fn voice(&self, name: &str) -> Result<&CatalogEntry, NotAVoice> {
        match self.entry(name) {
            Some(entry) if entry.model.task == VOICE_CONVERSION => Ok(entry),
            Some(entry) => Err(NotAVoice::Task(entry.model.task.clone())),
            None => Err(NotAVoice::Unknown),
        }
    }

    /// The LivePortrait modules a portrait animation would run (the first of each kind), by
    /// catalog name; the files of the kinds missing, by the names LivePortrait gives them.
    pub fn portrait_animation(&self) -> (Vec<&str>, Vec<&'static str>) {
        let (mut found, mut missing) = (Vec::new(), Vec::new());
        for (signature, task, file) in crate::PORTRAIT_ANIMATION_MODULES {
            match self.first_of(signature, task) {
                Some(entry) => found.push(entry.model.name.as_str()),
                None => missing.push(file),
            }
        }
        (found, missing)
    }

    /// The verified path of model `name`, or why it cannot be used.
    pub fn get(&self, name: &str) -> Result<PathBuf, ModelError> {
        let entry = self.entry(name).ok_or_else(|| ModelError::Unknown {
            name: name.to_owned(),
            searched: self.searched.clone(),
            absent: self.absent.clone(),
        })?;
        self.status(entry).into_result(name)?;
        Ok(entry.path.clone())
    }

    /// Checks the entry's files: presence, size, then SHA-256 (from the cache when unchanged);
    /// the first that fails is the answer.
    pub fn status(&self, entry: &CatalogEntry) -> ModelStatus {
        let model = &entry.model;
        let config = entry.config_path.iter().map(|config| (config.as_path(), model.config_sha256.as_deref(), None));
        let data = entry.data.iter().map(|(path, sum)| (path.as_path(), Some(sum.as_str()), None));
        std::iter::once((entry.path.as_path(), Some(model.sha256.as_str()), model.size))
            .chain(config)
            .chain(data)
            .map(|(path, sum, size)| self.check_file(path, sum, size))
            .find(|status| !status.is_found())
            .unwrap_or(ModelStatus::Found)
    }

    fn add_dir(&mut self, dir: &Path, seen: &mut HashSet<String>) -> Result<(), ManifestError> {
        if !dir.is_dir() {
            tracing::debug!(dir = %dir.display(), "model directory does not exist");
            self.absent.push(dir.to_owned());
            return Ok(());
        }
        let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        for path in manifest_files(&dir) {
            let manifest = Manifest::load(&path)?;
            for model in &manifest.models {
                if seen.insert(model.name.clone()) {
                    self.entries.push(CatalogEntry::new(&manifest, model.clone()));
                } else {
                    tracing::debug!(model = %model.name, manifest = %path.display(), "shadowed by an earlier manifest");
                }
            }
        }
        self.searched.push(dir);
        Ok(())
    }

    fn check_file(&self, path: &Path, expected: Option<&str>, size: Option<u64>) -> ModelStatus {
        let expected_sha256 = expected.map(str::to_owned);
        let corrupt =
            |problem| ModelStatus::Corrupt { path: path.to_owned(), expected_sha256: expected_sha256.clone(), problem };
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return ModelStatus::Missing { path: path.to_owned(), expected_sha256 };
            }
            Err(err) => return corrupt(Corruption::Unreadable { message: err.to_string() }),
        };
        if let Some(problem) = size_problem(&meta, size) {
            return corrupt(problem);
        }
        let Some(expected) = expected else { return ModelStatus::Found };
        match self.lock_cache().sha256(path, &meta) {
            Ok(actual) if actual == expected => ModelStatus::Found,
            Ok(actual) => corrupt(Corruption::Checksum { actual }),
            Err(err) => corrupt(Corruption::Unreadable { message: err.to_string() }),
        }
    }

    fn lock_cache(&self) -> MutexGuard<'_, ChecksumCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn default_cache() -> ChecksumCache {
    default_cache_dir().map_or_else(ChecksumCache::in_memory, |dir| ChecksumCache::in_dir(&dir))
}

/// The cheap checks made before hashing.
fn size_problem(meta: &fs::Metadata, expected: Option<u64>) -> Option<Corruption> {
    let actual = meta.len();
    match expected {
        _ if !meta.is_file() => Some(Corruption::NotAFile),
        Some(expected) if expected != actual => Some(Corruption::Size { expected, actual }),
        _ if actual == 0 => Some(Corruption::Empty),
        _ => None,
    }
}

/// The `MANIFEST*.toml` files of `dir`, sorted by name.
fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(err) => {
            tracing::warn!(dir = %dir.display(), "cannot list model directory: {err}");
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| is_manifest_name(path) && path.is_file())
        .collect();
    files.sort();
    files
}

fn is_manifest_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("MANIFEST") && name.ends_with(".toml"))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::checksum::{sha256_file, CACHE_FILE_NAME};

    const MODEL_BYTES: &[u8] = b"not really onnx, but bytes all the same";
    const OTHER_SHA: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    /// A model folder with one manifest naming `fake` → `fake.onnx`.
    struct Fixture {
        dir: tempfile::TempDir,
        cache: tempfile::TempDir,
    }

    impl Fixture {
        fn new(sha256: &str, extra: &str) -> Self {
            let dir = tempfile::tempdir().expect("model dir");
            let manifest = format!(
                "[[model]]\nname = \"fake\"\nversion = \"0.1\"\nfile = \"nets/fake.onnx\"\nsha256 = \"{sha256}\"\n\
                 license = \"MIT\"\ntask = \"testing\"\n{extra}\n"
            );
            fs::write(dir.path().join("MANIFEST.test.toml"), manifest).expect("write manifest");
            fs::create_dir(dir.path().join("nets")).expect("nets dir");
            Self { dir, cache: tempfile::tempdir().expect("cache dir") }
        }

        /// A fixture whose manifest matches `MODEL_BYTES`, with the file written.
        fn matching(extra: &str) -> Self {
            let fixture = Self::new(&sha_of(MODEL_BYTES), extra);
            fixture.write_model(MODEL_BYTES);
            fixture
        }

        fn model_path(&self) -> PathBuf {
            self.dir.path().join("nets/fake.onnx")
        }

        fn write_model(&self, bytes: &[u8]) {
            fs::write(self.model_path(), bytes).expect("write model");
        }

        fn catalog(&self) -> Catalog {
            Catalog::from_dirs([self.dir.path().to_owned()]).expect("catalog loads").with_cache_dir(self.cache.path())
        }
    }

    fn sha_of(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs::write(&path, bytes).expect("write");
        sha256_file(&path).expect("hash")
    }

    fn status_of(catalog: &Catalog) -> ModelStatus {
        catalog.status(catalog.entry("fake").expect("fake is listed"))
    }

    fn set_mtime(path: &Path, time: SystemTime) {
        fs::File::options().write(true).open(path).and_then(|f| f.set_modified(time)).expect("set mtime");
    }

    #[test]
    fn matching_file_is_found() {
        let fixture = Fixture::matching("");
        let catalog = fixture.catalog();
        assert_eq!(status_of(&catalog), ModelStatus::Found);
        let path = catalog.get("fake").expect("verified");
        assert!(path.ends_with("nets/fake.onnx"), "{path:?}");
        assert!(path.is_file());
    }

    #[test]
    fn every_further_file_is_checked() {
        let rules = b"transfer rules";
        let extra = format!("files = [{{ file = \"nets/rules.bin\", sha256 = \"{}\" }}]", sha_of(rules));
        let fixture = Fixture::matching(&extra);
        let rules_path = fixture.dir.path().join("nets/rules.bin");
        let catalog = fixture.catalog();
        assert_eq!(status_of(&catalog).label(), "missing", "the model file alone is not enough");
        assert!(catalog.get("fake").unwrap_err().to_string().contains("rules.bin is missing"));

        fs::write(&rules_path, b"transfer rules, edited").expect("write");
        let text = fixture.catalog().get("fake").expect_err("corrupt").to_string();
        assert!(text.contains("rules.bin is corrupt") && text.contains(&sha_of(rules)), "{text}");

        fs::write(&rules_path, rules).expect("write");
        assert_eq!(status_of(&fixture.catalog()), ModelStatus::Found);
    }

    #[test]
    fn wrong_checksum_is_corrupt_naming_both_sums() {
        let fixture = Fixture::new(OTHER_SHA, "");
        fixture.write_model(MODEL_BYTES);
        let catalog = fixture.catalog();
        assert_eq!(status_of(&catalog).label(), "corrupt");
        let text = catalog.get("fake").expect_err("corrupt").to_string();
        assert!(text.contains("fake.onnx") && text.contains("corrupt"), "{text}");
        assert!(text.contains(OTHER_SHA) && text.contains(&sha_of(MODEL_BYTES)), "{text}");
    }

    #[test]
    fn absent_file_is_missing_naming_path_and_sum() {
        let fixture = Fixture::new(OTHER_SHA, "");
        let catalog = fixture.catalog();
        let status = status_of(&catalog);
        assert!(matches!(&status, ModelStatus::Missing { path, .. } if path.ends_with("nets/fake.onnx")), "{status:?}");
        let text = catalog.get("fake").expect_err("missing").to_string();
        assert!(text.contains("nets/fake.onnx") && text.contains("missing") && text.contains(OTHER_SHA), "{text}");
    }

    #[test]
    fn truncated_file_is_corrupt() {
        let fixture = Fixture::matching("");
        fixture.write_model(&MODEL_BYTES[..10]);
        let status = status_of(&fixture.catalog());
        let actual = sha_of(&MODEL_BYTES[..10]);
        assert_eq!(status.label(), "corrupt");
        assert!(
            matches!(status, ModelStatus::Corrupt { problem: Corruption::Checksum { actual: a }, .. } if a == actual)
        );
    }

    #[test]
    fn truncated_file_fails_the_size_check_before_hashing() {
        let fixture = Fixture::matching(&format!("size = {}", MODEL_BYTES.len()));
        fixture.write_model(&MODEL_BYTES[..10]);
        let catalog = fixture.catalog();
        let problem = Corruption::Size { expected: MODEL_BYTES.len() as u64, actual: 10 };
        assert!(matches!(status_of(&catalog), ModelStatus::Corrupt { problem: p, .. } if p == problem));
        assert_eq!(catalog.files_hashed(), 0);
        fixture.write_model(b"");
        let text = catalog.get("fake").expect_err("empty").to_string();
        assert!(text.contains("size is 0 bytes"), "{text}");
    }

    #[test]
    fn empty_file_is_corrupt() {
        let fixture = Fixture::matching("");
        fixture.write_model(b"");
        assert!(matches!(status_of(&fixture.catalog()), ModelStatus::Corrupt { problem: Corruption::Empty, .. }));
    }

    #[test]
    fn unchanged_file_is_verified_from_the_cache() {
        let fixture = Fixture::matching("");
        let catalog = fixture.catalog();
        assert!(status_of(&catalog).is_found());
        let cache_file = catalog.cache_file().expect("cache on disk");
        assert_eq!(cache_file, fixture.cache.path().join(CACHE_FILE_NAME));
        let stored = fs::read_to_string(&cache_file).expect("cache written");
        let key = fs::canonicalize(fixture.model_path()).expect("canonical");
        assert!(stored.contains(key.to_str().expect("utf-8")) && stored.contains(&sha_of(MODEL_BYTES)), "{stored}");

        // Same size and mtime, different bytes: a fresh catalog must trust the cache, not re-hash.
        let mtime = fs::metadata(fixture.model_path()).and_then(|m| m.modified()).expect("mtime");
        let mut forged = MODEL_BYTES.to_vec();
        forged[0] ^= 1;
        fixture.write_model(&forged);
        set_mtime(&fixture.model_path(), mtime);
        let second = fixture.catalog();
        assert!(status_of(&second).is_found());
        assert_eq!(second.files_hashed(), 0);

        // A new mtime invalidates the entry: the forged bytes are hashed and caught.
        set_mtime(&fixture.model_path(), mtime + Duration::from_secs(2));
        assert_eq!(status_of(&second).label(), "corrupt");
        assert_eq!(second.files_hashed(), 1);
    }

    #[test]
    fn cache_write_failure_does_not_fail_verification() {
        let fixture = Fixture::matching("");
        let blocker = fixture.cache.path().join("blocker");
        fs::write(&blocker, b"").expect("write blocker");
        let catalog = Catalog::from_dirs([fixture.dir.path().to_owned()]).expect("loads").with_cache_dir(&blocker);
        assert!(catalog.get("fake").is_ok());
    }

    #[test]
    fn config_file_is_checked_too() {
        let fixture = Fixture::matching(&format!("config = \"fake.json\"\nconfig_sha256 = \"{OTHER_SHA}\""));
        let catalog = fixture.catalog();
        let text = catalog.get("fake").expect_err("config missing").to_string();
        assert!(text.contains("fake.json") && text.contains("missing"), "{text}");
        fs::write(fixture.dir.path().join("fake.json"), b"{}").expect("write config");
        assert_eq!(status_of(&catalog).label(), "corrupt");
    }

    #[test]
    fn first_directory_defining_a_name_wins() {
        let first = Fixture::matching("");
        let second = Fixture::matching("");
        let dirs = [PathBuf::from("/nonexistent/reenact-models"), first.dir.path().into(), second.dir.path().into()];
        let catalog = Catalog::from_dirs(dirs).expect("loads").with_cache_dir(first.cache.path());
        assert_eq!(catalog.entries().len(), 1);
        assert_eq!(catalog.searched_dirs().len(), 2);
        let canonical = fs::canonicalize(first.model_path()).expect("canonical");
        assert_eq!(catalog.get("fake").expect("found"), canonical);
    }

    #[test]
    fn unknown_name_is_an_error_naming_it() {
        let fixture = Fixture::matching("");
        let err = fixture.catalog().get("nope").expect_err("unknown");
        assert!(matches!(err, ModelError::Unknown { .. }) && err.to_string().contains("`nope`"), "{err}");
        assert!(!err.to_string().contains("models install"), "no install hint for a model no package provides");
    }

    #[test]
    fn errors_name_every_directory_and_how_to_install() {
        let fixture = Fixture::matching("");
        let absent = PathBuf::from("/nonexistent/reenact-models");
        let catalog = Catalog::from_dirs([absent.clone(), fixture.dir.path().to_owned()]).expect("loads");
        let text = catalog.get("blazeface_back_256").expect_err("not defined here").to_string();
        let read = fs::canonicalize(fixture.dir.path()).expect("canonical");
        assert!(text.contains(read.to_str().expect("utf-8")), "{text}");
        assert!(text.contains("/nonexistent/reenact-models does not exist"), "{text}");
        assert!(text.contains("install it with `reenact models install blazeface_back_256`"), "{text}");
    }

    #[test]
    fn broken_manifest_fails_the_load_naming_it() {
        let fixture = Fixture::matching("");
        fs::write(fixture.dir.path().join("MANIFEST.zzz.toml"), "[[model]]\nname = 3\n").expect("write");
        let err = Catalog::from_dirs([fixture.dir.path().to_owned()]).expect_err("invalid manifest");
        assert!(err.to_string().contains("MANIFEST.zzz.toml"), "{err}");
    }

    #[test]
    fn shared_models_are_all_found() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models");
        let cache = tempfile::tempdir().expect("cache dir");
        let catalog = Catalog::from_dirs([shared]).expect("shared manifests load").with_cache_dir(cache.path());
        assert!(catalog.entries().len() >= 9, "{:?}", catalog.entries());
        for entry in catalog.entries() {
            assert_eq!(catalog.status(entry), ModelStatus::Found, "{}", entry.model.name);
        }
    }
}
