// SPDX-License-Identifier: MPL-2.0
//! The audit log: which user did what to which id, and when. Rows name their user only
//! while the account exists; deleting it deletes them.

use sqlx::{AnyPool, FromRow};

/// What a user did. Stored as its [`Action::as_str`] name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    AuthRegister,
    AuthLogin,
    AuthLogout,
    AccountDelete,
    ProjectCreate,
    ProjectUpdate,
    ProjectDelete,
    ClipUpload,
    ClipImport,
    ClipDelete,
    RenderRequest,
    RenderDelete,
    CharacterCreate,
    CharacterUpdate,
    CharacterDelete,
    VoiceCreate,
    VoiceUpdate,
    VoiceDelete,
    SceneCreate,
    SceneDelete,
    SubtitlesSave,
    SubtitlesTranslate,
    SubtitlesDelete,
    ModelImport,
}

impl Action {
    /// `resource.verb`, as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AuthRegister => "auth.register",
            Action::AuthLogin => "auth.login",
            Action::AuthLogout => "auth.logout",
            Action::AccountDelete => "account.delete",
            Action::ProjectCreate => "project.create",
            Action::ProjectUpdate => "project.update",
            Action::ProjectDelete => "project.delete",
            Action::ClipUpload => "clip.upload",
            Action::ClipImport => "clip.import",
            Action::ClipDelete => "clip.delete",
            Action::RenderRequest => "render.request",
            Action::RenderDelete => "render.delete",
            Action::CharacterCreate => "character.create",
            Action::CharacterUpdate => "character.update",
            Action::CharacterDelete => "character.delete",
            Action::VoiceCreate => "voice.create",
            Action::VoiceUpdate => "voice.update",
            Action::VoiceDelete => "voice.delete",
            Action::SceneCreate => "scene.create",
            Action::SceneDelete => "scene.delete",
            Action::SubtitlesSave => "subtitles.save",
            Action::SubtitlesTranslate => "subtitles.translate",
            Action::SubtitlesDelete => "subtitles.delete",
            Action::ModelImport => "model.import",
        }
    }
}

/// One entry of a user's log.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: String,
    pub action: String,
    pub target_id: Option<String>,
    /// Microseconds since the Unix epoch.
    pub created_at_us: i64,
}

/// Records `action` of `user` on `target`. Nothing is written once the user is gone, so a
/// request that ends after its account was deleted cannot leave a row naming it.
pub async fn insert(db: &AnyPool, user: &str, action: Action, target: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, user_id, action, target_id, created_at_us) \
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM users WHERE id = $6)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(user)
    .bind(action.as_str())
    .bind(target)
    .bind(now_us())
    .bind(user)
    .execute(db)
    .await?;
    Ok(())
}

/// Records an action without naming anyone (an account deletion: counted, not attributed).
pub async fn insert_anonymous(db: &AnyPool, action: Action) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, user_id, action, target_id, created_at_us) VALUES ($1, NULL, $2, NULL, $3)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(action.as_str())
    .bind(now_us())
    .execute(db)
    .await?;
    Ok(())
}

/// The newest `limit` entries of `user`, newest first.
pub async fn list(db: &AnyPool, user: &str, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as(
        "SELECT id, action, target_id, created_at_us FROM audit_log WHERE user_id = $1 \
         ORDER BY created_at_us DESC, id DESC LIMIT $2",
    )
    .bind(user)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Deletes every entry naming `user`.
pub async fn forget_user(db: &AnyPool, user: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM audit_log WHERE user_id = $1").bind(user).execute(db).await?;
    Ok(())
}

fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}
