// SPDX-License-Identifier: MPL-2.0
//! Reading a file's credential back: is there one, does its signature hold, does it still
//! match the bytes of the file, and what does it say.

use std::path::{Path, PathBuf};

use c2pa::{Context, Reader};
use serde::Serialize;

use super::provenance::ASSERTION_LABEL;

/// Why a file has no credential to show.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{}: no Content Credentials (none embedded and no {} beside it)", file.display(), super::sidecar_of(file).display())]
    Missing { file: PathBuf },
    #[error("{}: {cause}", file.display())]
    Unreadable { file: PathBuf, cause: String },
}

/// One validation failure, with the C2PA status code.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub code: String,
    pub explanation: Option<String>,
}

/// What a file's credential says and whether it holds.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub file: PathBuf,
    /// Signature, hard binding and ingredients all validate.
    pub valid: bool,
    /// The signing certificate chains to a trust anchor (false for a development key).
    pub trusted: bool,
    /// Manifest inside the file (else in a `.c2pa` sidecar).
    pub embedded: bool,
    pub title: Option<String>,
    /// Organisation of the signing certificate.
    pub signer: Option<String>,
    pub signer_common_name: Option<String>,
    pub claim_generator: Option<String>,
    pub actions: Vec<serde_json::Value>,
    pub ingredients: Vec<serde_json::Value>,
    /// The studio's own assertion: author, time, models, characters and their rights.
    pub provenance: Option<serde_json::Value>,
    pub failures: Vec<Failure>,
    /// The whole manifest store as the reader reports it.
    #[serde(skip)]
    pub manifest_json: String,
}

/// Reads and validates the credential of `file`; `trust_anchors` is a PEM bundle of CA
/// certificates whose chains count as trusted (besides none by default).
pub fn verify_file(file: &Path, trust_anchors: Option<&str>) -> Result<Verification, VerifyError> {
    if super::embedding_format(file).is_some() {
        return verify(file, None, trust_anchors);
    }
    // C2PA defines no embedding for this container: only a sidecar can hold its credential.
    let sidecar = super::sidecar_of(file);
    if !sidecar.is_file() {
        return Err(VerifyError::Missing { file: file.to_path_buf() });
    }
    verify(file, Some(&sidecar), trust_anchors)
}

/// [`verify_file`] for a file whose sidecar manifest is stored elsewhere than beside it.
pub fn verify_with_sidecar(file: &Path, sidecar: &Path) -> Result<Verification, VerifyError> {
    verify(file, Some(sidecar), None)
}

fn verify(file: &Path, sidecar: Option<&Path>, trust_anchors: Option<&str>) -> Result<Verification, VerifyError> {
    let unreadable = |cause: String| VerifyError::Unreadable { file: file.to_path_buf(), cause };
    let mut context = Context::new();
    if let Some(anchors) = trust_anchors {
        context.settings_mut().trust.user_anchors = Some(anchors.to_owned());
    }
    let reader = Reader::from_context(context);
    let read = match sidecar {
        None => reader.with_file(file),
        Some(sidecar) => {
            let manifest = std::fs::read(sidecar).map_err(|e| unreadable(format!("{}: {e}", sidecar.display())))?;
            let stream = std::fs::File::open(file).map_err(|e| unreadable(e.to_string()))?;
            let format = c2pa::format_from_path(file).unwrap_or_else(|| "application/octet-stream".into());
            reader.with_manifest_data_and_stream(&manifest, &format, stream)
        }
    };
    let reader = match read {
        Ok(reader) => reader,
        Err(c2pa::Error::JumbfNotFound) | Err(c2pa::Error::ProvenanceMissing) => {
            return Err(VerifyError::Missing { file: file.to_path_buf() })
        }
        Err(e) => return Err(unreadable(e.to_string())),
    };
    let statuses = reader.validation_status().unwrap_or_default();
    let untrusted = statuses.iter().any(|s| s.code() == c2pa::validation_status::SIGNING_CREDENTIAL_UNTRUSTED);
    let failures: Vec<Failure> = statuses
        .iter()
        .filter(|s| s.code() != c2pa::validation_status::SIGNING_CREDENTIAL_UNTRUSTED)
        .map(|s| Failure { code: s.code().to_owned(), explanation: s.explanation().map(str::to_owned) })
        .collect();
    let manifest = reader.active_manifest();
    let sig = manifest.and_then(|m| m.signature_info());
    let actions = manifest
        .and_then(|m| m.find_assertion::<serde_json::Value>("c2pa.actions.v2").ok())
        .or_else(|| manifest.and_then(|m| m.find_assertion::<serde_json::Value>("c2pa.actions").ok()))
        .and_then(|a| a.get("actions").and_then(|a| a.as_array()).cloned())
        .unwrap_or_default();
    let ingredients = manifest
        .map(|m| m.ingredients().iter().filter_map(|i| serde_json::to_value(i).ok()).collect())
        .unwrap_or_default();
    Ok(Verification {
        file: file.to_path_buf(),
        valid: manifest.is_some() && failures.is_empty(),
        trusted: manifest.is_some() && failures.is_empty() && !untrusted,
        embedded: reader.is_embedded(),
        title: manifest.and_then(|m| m.title()).map(str::to_owned),
        signer: sig.and_then(|s| s.issuer.clone()),
        signer_common_name: sig.and_then(|s| s.common_name.clone()),
        claim_generator: manifest.and_then(|m| m.claim_generator()).map(str::to_owned),
        actions,
        ingredients,
        provenance: manifest.and_then(|m| m.find_assertion(ASSERTION_LABEL).ok()),
        failures,
        manifest_json: reader.json(),
    })
}
