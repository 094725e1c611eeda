// SPDX-License-Identifier: MPL-2.0
//! Receiving uploaded files (media, portraits, voice samples): the one file of a multipart
//! form is streamed to a temporary file under the upload limit before a handler looks at
//! it. Errors name the form field; a refused upload leaves nothing behind (the temporary
//! file goes when the [`Upload`] is dropped). An upload that outgrows the room left in the
//! user's storage quota is refused while it streams; the bytes are then charged atomically
//! by the handler ([`reserve`], or the media intake) before the file is stored.

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::Multipart;
use axum::http::StatusCode;
use tokio::io::AsyncWriteExt;

use super::auth::CurrentUser;
use super::error::ApiError;
use super::AppState;
use crate::quota::{self, QuotaError, Reservation};
use crate::storage::TempFile;

/// Longest text field of an upload form, in bytes (a name, not a document).
const MAX_TEXT_BYTES: usize = 1000;

/// Bytes kept from the start of the file, enough to tell common formats apart.
const HEAD_BYTES: usize = 16;

/// A received form: its file and the text fields the handler asked for.
#[derive(Debug)]
pub(super) struct Upload {
    /// The file's bytes, deleted on drop unless kept.
    pub(super) file: TempFile,
    pub(super) bytes: u64,
    /// The first bytes of the file.
    pub(super) head: Vec<u8>,
    /// The name the client gave the file, as sent (a display name at most).
    pub(super) file_name: Option<String>,
    texts: Vec<(&'static str, String)>,
}

impl Upload {
    /// Text field `name`, if the form had it.
    pub(super) fn text(&self, name: &str) -> Option<&str> {
        self.texts.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads `form`: the file of field `file_field` and the text fields named in `texts`;
/// other fields are skipped.
pub(super) async fn receive(
    state: &AppState,
    user: &CurrentUser,
    form: Multipart,
    file_field: &'static str,
    texts: &[&'static str],
) -> Result<Upload, ApiError> {
    // Only to refuse early: the charge itself comes later, in one step with its check.
    let used = quota::used(&state.db, &state.storage, &user.id).await.map_err(quota_error)?;
    let room = state.quota_bytes.saturating_sub(used);
    receive_within(state, form, file_field, texts, room).await
}

/// [`receive`] for files that are not stored as the user's media (model weights an
/// administrator installs): only the upload limit applies.
pub(super) async fn receive_unmetered(
    state: &AppState,
    form: Multipart,
    file_field: &'static str,
    texts: &[&'static str],
) -> Result<Upload, ApiError> {
    receive_within(state, form, file_field, texts, u64::MAX).await
}

async fn receive_within(
    state: &AppState,
    mut form: Multipart,
    file_field: &'static str,
    texts: &[&'static str],
    room: u64,
) -> Result<Upload, ApiError> {
    let mut file = None;
    let mut values = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(file_field, e, state.upload_limit))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == file_field {
            if file.is_some() {
                return Err(ApiError::BadRequest(format!("{file_field}: one file, not several")));
            }
            file = Some(stream_to_temp(state, field, file_field, room).await?);
        } else if name == RELEASE_DOCUMENT && texts.contains(&RELEASE_DOCUMENT) {
            values.push((RELEASE_DOCUMENT, hash_document(field, state.upload_limit).await?));
        } else if let Some(text) = texts.iter().find(|t| **t == name) {
            values.push((*text, read_text(field, text, state.upload_limit).await?));
        }
    }
    let mut upload =
        file.ok_or_else(|| ApiError::BadRequest(format!("{file_field}: the form has no `{file_field}` field")))?;
    upload.texts = values;
    if upload.bytes == 0 {
        return Err(ApiError::BadRequest(format!("{file_field}: the upload is empty (0 bytes)")));
    }
    Ok(upload)
}

async fn stream_to_temp(state: &AppState, mut field: Field<'_>, name: &str, room: u64) -> Result<Upload, ApiError> {
    let file_name = field.file_name().map(str::to_owned);
    let temp = TempFile::new(state.storage.temp_path());
    let mut out = tokio::fs::File::create(temp.path()).await.map_err(internal)?;
    let mut bytes = 0u64;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(name, e, state.upload_limit))? {
        bytes += chunk.len() as u64;
        if bytes > state.upload_limit as u64 {
            return Err(too_large(name, state.upload_limit));
        }
        if bytes > room {
            let full = QuotaError::Exceeded { quota: state.quota_bytes, used: state.quota_bytes - room, wanted: bytes };
            return Err(ApiError::PayloadTooLarge(format!("{name}: {full}")));
        }
        let wanted = HEAD_BYTES.saturating_sub(head.len()).min(chunk.len());
        head.extend_from_slice(&chunk[..wanted]);
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    Ok(Upload { file: temp, bytes, head, file_name, texts: Vec::new() })
}

/// The form field of a signed release (any file) behind a rights record. Only its SHA-256
/// is kept, as `reenact character create --release-document` keeps it: the record then
/// names the exact document the operator holds, and the studio stores no one's contract.
pub(super) const RELEASE_DOCUMENT: &str = "rights_document";

/// The SHA-256 (hex) of a release document field, read in chunks up to the upload limit.
async fn hash_document(mut field: Field<'_>, limit: usize) -> Result<String, ApiError> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut bytes = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(RELEASE_DOCUMENT, e, limit))? {
        bytes += chunk.len();
        if bytes > limit {
            return Err(too_large(RELEASE_DOCUMENT, limit));
        }
        hasher.update(&chunk);
    }
    if bytes == 0 {
        return Err(ApiError::BadRequest(format!("{RELEASE_DOCUMENT}: the upload is empty (0 bytes)")));
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

async fn read_text(mut field: Field<'_>, name: &str, limit: usize) -> Result<String, ApiError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(name, e, limit))? {
        if text.len() + chunk.len() > MAX_TEXT_BYTES {
            return Err(ApiError::BadRequest(format!("{name}: longer than {MAX_TEXT_BYTES} bytes")));
        }
        text.extend_from_slice(&chunk);
    }
    String::from_utf8(text).map_err(|_| ApiError::BadRequest(format!("{name}: not UTF-8 text")))
}

/// Charges `bytes` to the user's storage quota; 413 when it would be exceeded.
pub(super) async fn reserve(state: &AppState, user: &CurrentUser, bytes: u64) -> Result<Reservation, ApiError> {
    quota::reserve(&state.db, &state.storage, &user.id, bytes, state.quota_bytes).await.map_err(quota_error)
}

/// A quota refusal as the API answers it: 413 naming the quota.
pub(super) fn quota_error(err: QuotaError) -> ApiError {
    match err {
        QuotaError::Exceeded { .. } => ApiError::PayloadTooLarge(err.to_string()),
        QuotaError::NoAccount => ApiError::Unauthorized("the account no longer exists"),
        QuotaError::Database(err) => err.into(),
        QuotaError::Storage(err) => err.into(),
    }
}

/// 413 for `field`, naming the limit in megabytes.
fn too_large(field: &str, limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("{field}: larger than the upload limit of {} MB", limit as f64 / 1e6))
}

fn multipart_error(field: &str, err: MultipartError, limit: usize) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(field, limit)
    } else {
        ApiError::BadRequest(format!("{field}: {}", err.body_text()))
    }
}

pub(super) fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(err.to_string())
}
