// SPDX-License-Identifier: MPL-2.0
//! The models the studio runs: `GET /api/models` lists them with their licences for the
//! pickers (any signed-in user), and `POST /api/admin/models` lets the operator's named
//! administrators install a model file they hold the rights to (`reenact models import`
//! over HTTP). Administrators are named by the operator (`--admins`), not by a user.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use reenact_models::{Catalog, ImportError, ImportRequest, ModelEntry, Slot};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::auth::CurrentUser;
use super::error::{ApiError, AppJson};
use super::extract::AppMultipart;
use super::uploads::{self, internal};
use super::AppState;

/// Who may install models, and where they go.
#[derive(Debug, Default)]
pub struct ModelAdmin {
    /// Emails of the administrator accounts.
    pub admins: Vec<String>,
    /// The model directory imports are written to; `None` when the server has none
    /// (no `REENACT_MODELS` and no home directory), which refuses every import.
    pub dir: Option<PathBuf>,
    /// One import at a time: each rewrites the directory's imported manifest.
    writing: tokio::sync::Mutex<()>,
}

impl ModelAdmin {
    pub fn new(admins: Vec<String>, dir: Option<PathBuf>) -> Self {
        ModelAdmin { admins, dir, writing: tokio::sync::Mutex::new(()) }
    }

    /// Whether the account with `email` may install models (case-insensitive, as sign-in is).
    pub fn is_admin(&self, email: &str) -> bool {
        self.admins.iter().any(|admin| admin.eq_ignore_ascii_case(email))
    }
}

pub(super) fn router(upload_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(models_index))
        .routes(routes!(models_import).layer(DefaultBodyLimit::max(upload_limit)))
}

/// A model as the pickers show it; file paths stay on the server.
#[derive(Debug, Serialize, ToSchema)]
struct ModelView {
    name: String,
    version: String,
    task: String,
    license: String,
    /// `true` only when the manifest clears it for commercial use; `null` when it does not say.
    commercial_use: Option<bool>,
    /// `commercial use allowed`, `NON-COMMERCIAL` or `commercial use not stated`.
    commercial_label: &'static str,
    /// The community signature an imported model was recognised as.
    signature: Option<String>,
    sha256: String,
    /// How many speakers a voice holds (ids 0 to speakers - 1), when its import read it.
    speakers: Option<u32>,
    /// Whether the file is on this server (not re-hashed here; `reenact models verify` does).
    installed: bool,
}

impl ModelView {
    fn new(model: &ModelEntry, installed: bool) -> Self {
        ModelView {
            name: model.name.clone(),
            version: model.version.clone(),
            task: model.task.clone(),
            license: model.license.clone(),
            commercial_use: model.commercial_use,
            commercial_label: model.commercial_label(),
            signature: model.signature.clone(),
            sha256: model.sha256.clone(),
            speakers: model.speakers(),
            installed,
        }
    }
}

/// Every model the server knows, with its licence and whether it may be used commercially.
#[utoipa::path(get, path = "/models", tag = "models", responses((status = 200, body = Vec<ModelView>)))]
async fn models_index(State(_state): State<AppState>, _user: CurrentUser) -> Result<AppJson<Vec<ModelView>>, ApiError> {
    let views = tokio::task::spawn_blocking(|| -> Result<Vec<ModelView>, String> {
        let catalog = Catalog::load().map_err(|e| e.to_string())?;
        Ok(catalog.entries().iter().map(|entry| ModelView::new(&entry.model, entry.path.is_file())).collect())
    })
    .await
    .map_err(internal)?
    .map_err(ApiError::Unavailable)?;
    Ok(AppJson(views))
}

/// The form of `POST /api/admin/models`; it only describes the form.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ModelForm {
    /// The ONNX file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// faceswap, face-identity, face-enhance, lipsync, voice, voice-content, voice-pitch or
    /// portrait-animation.
    slot: String,
    /// The licence of the weights (SPDX id or text).
    license: String,
    /// `yes` or `no`; leaving it out records "not stated", which commercial work refuses.
    commercial_use: Option<String>,
    /// Catalog name (default: the uploaded file's name without `.onnx`).
    name: Option<String>,
    /// Output sample rate of a voice model whose graph does not record it.
    sample_rate: Option<u32>,
}

/// Installs an uploaded model after checking its graph against the signatures its slot
/// accepts; administrators only.
#[utoipa::path(post, path = "/admin/models", tag = "models",
    request_body(content = ModelForm, content_type = "multipart/form-data"),
    responses((status = 201, body = ModelView), (status = 403, description = "not an administrator")))]
async fn models_import(
    State(state): State<AppState>,
    user: CurrentUser,
    AppMultipart(form): AppMultipart,
) -> Result<(StatusCode, AppJson<ModelView>), ApiError> {
    let admin = Arc::clone(&state.models);
    let email = crate::db::users::by_id(&state.db, &user.id).await?.map(|u| u.email).unwrap_or_default();
    if !admin.is_admin(&email) {
        return Err(ApiError::Forbidden(
            "models are installed by the administrators the operator names (admins)".into(),
        ));
    }
    let dir = admin
        .dir
        .clone()
        .ok_or_else(|| ApiError::Unavailable("the server has no model directory (set REENACT_MODELS)".into()))?;
    let fields = ["slot", "license", "commercial_use", "name", "sample_rate"];
    let upload = uploads::receive_unmetered(&state, form, "file", &fields).await?;
    let request = import_request(&upload)?;
    let shown = upload.file_name.clone().unwrap_or_else(|| "file".into());
    let _writing = admin.writing.lock().await;
    let imported = tokio::task::spawn_blocking(move || {
        let done = reenact_models::import_model(&dir, &request);
        drop(upload);
        done
    })
    .await
    .map_err(internal)?
    .map_err(|err| import_error(err, &shown))?;
    audit::record(&state.db, &user.id, Action::ModelImport, Some(&imported.entry.name)).await;
    tracing::info!(model = %imported.entry.name, license = %imported.entry.license, "model imported");
    Ok((StatusCode::CREATED, AppJson(ModelView::new(&imported.entry, true))))
}

/// The form's fields as an import request, each refusal naming its field.
fn import_request(upload: &uploads::Upload) -> Result<ImportRequest, ApiError> {
    let slot: Slot = upload
        .text("slot")
        .ok_or_else(|| ApiError::BadRequest("slot: the form has no `slot` field".into()))?
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("slot: {e}")))?;
    if slot == Slot::Translation {
        return Err(ApiError::BadRequest(
            "slot: a translation model comes with its vocabulary file; import it with `reenact models import`".into(),
        ));
    }
    let license = upload.text("license").map(str::trim).unwrap_or_default();
    if license.is_empty() {
        return Err(ApiError::BadRequest("license: state the licence of the weights".into()));
    }
    let commercial_use = match upload.text("commercial_use").map(str::trim) {
        None | Some("") => None,
        Some("yes" | "true") => Some(true),
        Some("no" | "false") => Some(false),
        Some(other) => return Err(ApiError::BadRequest(format!("commercial_use: `{other}` is not yes or no"))),
    };
    let sample_rate = match upload.text("sample_rate").map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<u32>()
                .ok()
                .filter(|rate| (8000..=192_000).contains(rate))
                .ok_or_else(|| ApiError::BadRequest(format!("sample_rate: `{text}` is not a rate in Hz")))?,
        ),
    };
    let name = match upload.text("name").map(str::trim).filter(|t| !t.is_empty()) {
        Some(name) => Some(name.to_owned()),
        None => upload.file_name.as_deref().and_then(|f| f.strip_suffix(".onnx")).map(str::to_owned),
    };
    let name = name.ok_or_else(|| ApiError::BadRequest("name: give the model a name".into()))?;
    Ok(ImportRequest {
        file: upload.file.path().to_path_buf(),
        slot,
        license: license.to_owned(),
        commercial_use,
        name: Some(name),
        sample_rate,
        vocab: None,
    })
}

/// An import refusal as the API answers it: the field or the uploaded file named, never
/// the server's temporary path.
fn import_error(err: ImportError, shown: &str) -> ApiError {
    match err {
        ImportError::Unrecognised { slot, found, .. } => ApiError::BadRequest(format!(
            "file: {shown} is not a model for the {slot} slot: found {found}; the {slot} slot accepts {}",
            slot.accepted()
        )),
        ImportError::Signature(_) => ApiError::BadRequest(format!("file: {shown} is not a readable ONNX model")),
        ImportError::Argument { field, message } => {
            ApiError::BadRequest(format!("{}: {message}", field.trim_start_matches('-').replace('-', "_")))
        }
        other => ApiError::Internal(other.to_string()),
    }
}
