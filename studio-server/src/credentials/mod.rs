// SPDX-License-Identifier: MPL-2.0
//! Content Credentials (C2PA) on what the studio makes. [`sign_file`] is the one way in: it
//! signs a finished output in place (written to a temporary name beside it, then renamed
//! over it) after the engine has written it. MP4, M4A, MOV, WAV, JPEG and PNG carry the
//! manifest inside the file; containers C2PA defines no embedding for (WebM, Matroska) get a
//! `.c2pa` sidecar beside them, bound to every byte of the file. [`verify_file`] reads and
//! validates either.

mod identity;
mod outputs;
mod provenance;
mod rights;
mod verify;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use c2pa::assertions::DataHash;
use c2pa::{Builder, BuilderIntent, Context};

pub use identity::{Origin, SigningIdentity, ALG_ENV, CERT_ENV, KEY_ENV};
pub use outputs::{
    live_provenance, render_provenance, sign_live_recordings, sign_render_outputs, sign_voice_clone, IngredientCache,
};
pub use provenance::{CharacterRecord, IngredientRecord, Kind, ModelRecord, Provenance, RightsRecord, ASSERTION_LABEL};
pub use rights::{check_cast, check_character, check_models, today};
pub use verify::{verify_file, verify_with_sidecar, Failure, Verification, VerifyError};

/// Why a credential could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("signing key: {0}")]
    Config(String),
    #[error("{}: cannot sign: {cause}", file.display())]
    Sign { file: PathBuf, cause: String },
}

impl CredentialError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        CredentialError::Io { path: path.to_path_buf(), source }
    }
}

/// The signing identity of a command run outside the server: the configured key, else the
/// development chain in `REENACT_DATA` (or the user's data directory). The note it returns
/// is for the user's terminal.
pub fn command_identity() -> Result<(SigningIdentity, Option<String>), CredentialError> {
    let data = std::env::var_os("REENACT_DATA")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(crate::datadir::default_dir);
    let identity = SigningIdentity::load(&data)?;
    let note = match &identity.origin {
        Origin::Development { cert } => Some(format!(
            "Content Credentials signed with the self-signed development certificate {} (valid, but NOT trusted by \
             any validator; set {CERT_ENV} and {KEY_ENV} to the operator's certificate chain and key)",
            cert.display()
        )),
        Origin::Configured { .. } => None,
    };
    Ok((identity, note))
}

static PROCESS_IDENTITY: std::sync::OnceLock<SigningIdentity> = std::sync::OnceLock::new();

/// Loads the server's signing identity from its data directory, once, before any job runs:
/// a broken configured key stops `serve`/`worker` at start-up rather than failing renders.
pub fn init_process_identity(data_dir: &Path) -> Result<&'static SigningIdentity, CredentialError> {
    if let Some(identity) = PROCESS_IDENTITY.get() {
        return Ok(identity);
    }
    let identity = SigningIdentity::load(data_dir)?;
    if identity.is_development() {
        tracing::warn!(
            "outputs are signed with the self-signed development certificate: their Content Credentials \
            validate but are not trusted; set {CERT_ENV} and {KEY_ENV}"
        );
    }
    Ok(PROCESS_IDENTITY.get_or_init(|| identity))
}

/// The identity jobs sign with: the one [`init_process_identity`] loaded, else (a worker
/// built by a test) the one a command would use.
pub fn process_identity() -> Result<&'static SigningIdentity, CredentialError> {
    match PROCESS_IDENTITY.get() {
        Some(identity) => Ok(identity),
        None => {
            let data = std::env::var_os("REENACT_DATA")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(crate::datadir::default_dir);
            init_process_identity(&data)
        }
    }
}

/// Where a signed file's manifest went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Inside the file.
    Embedded,
    /// In this sidecar file beside it.
    Sidecar(PathBuf),
}

/// How a file of this name carries its manifest: `Some(mime)` when embedded, `None` for a sidecar.
fn embedding_format(file: &Path) -> Option<&'static str> {
    let ext = file.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "m4a" => "audio/mp4",
        "mov" => "video/quicktime",
        "wav" => "audio/wav",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => return None,
    })
}

/// The sidecar manifest of `file`: its name with the extension `.c2pa`, as C2PA readers look for it.
pub fn sidecar_of(file: &Path) -> PathBuf {
    file.with_extension("c2pa")
}

/// Signs `file` with a manifest saying what `provenance` says; a previous credential of
/// the file is replaced. On error the file is left as it was.
pub fn sign_file(
    identity: &SigningIdentity,
    provenance: &Provenance,
    file: &Path,
) -> Result<Placement, CredentialError> {
    let fail = |cause: String| CredentialError::Sign { file: file.to_path_buf(), cause };
    let signer = identity.signer()?;
    let mut builder = Builder::from_context(Context::new())
        .with_definition(provenance.definition())
        .map_err(|e| fail(e.to_string()))?;
    if provenance.has_parent() {
        builder.set_intent(BuilderIntent::Edit);
    }
    match embedding_format(file) {
        Some(format) => {
            let tmp = temporary_beside(file);
            let result = (|| {
                let mut source = File::open(file).map_err(|e| CredentialError::io(file, e))?;
                let mut dest = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&tmp)
                    .map_err(|e| CredentialError::io(&tmp, e))?;
                builder.sign(signer.as_ref(), format, &mut source, &mut dest).map_err(|e| fail(e.to_string()))?;
                dest.sync_all().map_err(|e| CredentialError::io(&tmp, e))?;
                std::fs::rename(&tmp, file).map_err(|e| CredentialError::io(file, e))
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result.map(|()| Placement::Embedded)
        }
        None => {
            let placeholder = builder
                .data_hashed_placeholder(signer.reserve_size(), "application/c2pa")
                .map_err(|e| fail(e.to_string()))?;
            drop(placeholder);
            let mut source = File::open(file).map_err(|e| CredentialError::io(file, e))?;
            let mut hash = DataHash::new("jumbf manifest", "sha256");
            hash.set_hash(
                c2pa::hash_stream_by_alg("sha256", &mut source, None, true).map_err(|e| fail(e.to_string()))?,
            );
            let manifest = builder
                .sign_data_hashed_embeddable(signer.as_ref(), &hash, "application/c2pa")
                .map_err(|e| fail(e.to_string()))?;
            let sidecar = sidecar_of(file);
            write_atomically(&sidecar, &manifest)?;
            Ok(Placement::Sidecar(sidecar))
        }
    }
}

/// `.NAME.c2pa-partial` in the same folder, so the rename cannot cross file systems.
fn temporary_beside(file: &Path) -> PathBuf {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    file.with_file_name(format!(".{name}.c2pa-partial"))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CredentialError> {
    let tmp = temporary_beside(path);
    std::fs::write(&tmp, bytes).map_err(|e| CredentialError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CredentialError::io(path, e)
    })
}
