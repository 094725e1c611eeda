// SPDX-License-Identifier: MPL-2.0
//! Accounts and sessions: register, login, refresh (rotating), logout,
//! account deletion, and the `CurrentUser` extractor every owned route uses.
//!
//! Every sign-in opens a row in `sessions` that ends 30 days later whatever
//! happens; both tokens name it, and each authenticated request checks that it
//! is still live (one primary-key read), so logout and account deletion end
//! access tokens at once rather than when they expire.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use jsonwebtoken::{decode, encode, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::error::{ApiError, AppJson};
use super::limits::{self, PeerAddr};
use super::AppState;
use crate::db::{self, sessions, tokens, users};

/// Lifetime of an access token.
pub const ACCESS_TTL_S: i64 = 15 * 60;
/// Lifetime of a session and so of every refresh token of it: counted from sign-in,
/// never extended by refreshing.
pub const REFRESH_TTL_S: i64 = 30 * 24 * 3600;

/// HMAC keys for signing tokens.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        JwtKeys { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: i64,
    /// "access" or "refresh".
    typ: String,
    /// Refresh token id (row in `refresh_tokens`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    jti: String,
    /// The session (row in `sessions`) the token was issued for.
    #[serde(default)]
    sid: String,
}

/// The signed-in user, from a `Bearer` access token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: String,
}

impl<S> FromRequestParts<S> for CurrentUser
where
    Arc<JwtKeys>: FromRef<S>,
    AnyPool: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized("missing Authorization header"))?;
        let token = header.strip_prefix("Bearer ").ok_or(ApiError::Unauthorized("expected a Bearer token"))?;
        authenticate(&Arc::<JwtKeys>::from_ref(state), &AnyPool::from_ref(state), token).await
    }
}

/// The user of an access token whose session is still live (not signed out, not
/// deleted, not past its 30 days).
pub async fn authenticate(keys: &JwtKeys, db: &AnyPool, token: &str) -> Result<CurrentUser, ApiError> {
    let claims = verify(keys, token, "access")?;
    sessions::live_until(db, &claims.sid, &claims.sub, db::now())
        .await?
        .ok_or(ApiError::Unauthorized("the session has ended"))?;
    Ok(CurrentUser { id: claims.sub })
}

fn verify(keys: &JwtKeys, token: &str, typ: &str) -> Result<Claims, ApiError> {
    let mut validation = Validation::default();
    validation.leeway = 0;
    let data = decode::<Claims>(token, &keys.decoding, &validation).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::Unauthorized("token expired"),
        _ => ApiError::Unauthorized("invalid token"),
    })?;
    if data.claims.typ != typ {
        return Err(ApiError::Unauthorized("wrong kind of token"));
    }
    Ok(data.claims)
}

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth_register))
        .routes(routes!(auth_login))
        .routes(routes!(auth_refresh))
        .routes(routes!(auth_logout))
        .routes(routes!(account_delete))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    /// At least 8 characters.
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct Account {
    id: String,
    email: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct TokenPair {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

/// Creates an account. An email that already has one gets the same answer, and
/// nothing is created or changed (the password given does not sign in), so the
/// answer does not tell who has an account here.
#[utoipa::path(post, path = "/auth/register", tag = "auth", security(()), request_body = Credentials,
    responses((status = 201, body = Account)))]
async fn auth_register(
    State(state): State<AppState>,
    AppJson(body): AppJson<Credentials>,
) -> Result<(StatusCode, AppJson<Account>), ApiError> {
    let email = normalise_email(&body.email)?;
    if body.password.chars().count() < 8 {
        return Err(ApiError::BadRequest("password: must be at least 8 characters".into()));
    }
    let password_hash = {
        let _turn = state.login_limiter.hashing_permit().await.ok_or_else(busy)?;
        hash_password(body.password).await?
    };
    let user = users::User { id: uuid::Uuid::new_v4().to_string(), email, password_hash, created_at: db::now() };
    match users::insert(&state.db, &user).await.map_err(ApiError::from) {
        Ok(()) => audit::record(&state.db, &user.id, Action::AuthRegister, None).await,
        Err(ApiError::Conflict(_)) => tracing::info!("registration for an email that has an account; nothing created"),
        Err(other) => return Err(other),
    }
    Ok((StatusCode::CREATED, AppJson(Account { id: user.id, email: user.email })))
}

/// Signs in: a 15-minute access token and a refresh token for a session of 30 days.
/// Each attempt is counted before the password is checked (per address, per email
/// and server-wide; see `limits`); past a budget the answer is 429 with `Retry-After`.
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()), request_body = Credentials,
    responses((status = 200, body = TokenPair)))]
async fn auth_login(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    AppJson(body): AppJson<Credentials>,
) -> Result<AppJson<TokenPair>, ApiError> {
    let email = normalise_email(&body.email)?;
    let limiter = &state.login_limiter;
    let ip = limiter.client_ip(peer, &headers);
    let reservation = limiter.reserve(&state.db, &email, ip).await?.map_err(|t| ApiError::RetryLater {
        detail: format!("{}; try again in {} s", t.reason, t.retry_after_s),
        retry_after_s: t.retry_after_s,
    })?;
    let user = users::by_email(&state.db, &email).await?;
    // Hash even for unknown emails so timing does not reveal which exist.
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
    let ok = {
        let _turn = limiter.hashing_permit().await.ok_or_else(busy)?;
        verify_password(body.password, hash).await?
    };
    match (user, ok) {
        (Some(user), true) => {
            limiter.succeeded(&state.db, reservation).await?;
            audit::record(&state.db, &user.id, Action::AuthLogin, None).await;
            let now = db::now();
            let sid = uuid::Uuid::new_v4().to_string();
            sessions::open(&state.db, &sid, &user.id, now, now + REFRESH_TTL_S).await?;
            Ok(AppJson(issue(&state.db, &state.keys, &user.id, &sid, now + REFRESH_TTL_S).await?))
        }
        _ => Err(ApiError::Unauthorized("wrong email or password")),
    }
}

/// Trades a refresh token for a new pair; each refresh token works once, and a reused
/// one signs every session of the account out. The new pair ends with the session
/// (30 days after sign-in): refreshing does not extend it.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", security(()), request_body = RefreshBody,
    responses((status = 200, body = TokenPair)))]
async fn auth_refresh(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshBody>,
) -> Result<AppJson<TokenPair>, ApiError> {
    let claims = verify(&state.keys, &body.refresh_token, "refresh")?;
    let now = db::now();
    match tokens::consume(&state.db, &claims.jti, &claims.sub, &claims.sid, now).await? {
        tokens::Use::Consumed => {
            let ends = sessions::live_until(&state.db, &claims.sid, &claims.sub, now)
                .await?
                .ok_or(ApiError::Unauthorized("the session has ended; sign in again"))?;
            Ok(AppJson(issue(&state.db, &state.keys, &claims.sub, &claims.sid, ends).await?))
        }
        tokens::Use::Replayed => {
            // A used token coming back means it was copied: end every session.
            sessions::revoke_all(&state.db, &claims.sub).await?;
            Err(ApiError::Unauthorized("refresh token already used; all sessions were signed out"))
        }
        tokens::Use::Unknown => Err(ApiError::Unauthorized("refresh token revoked or unknown")),
    }
}

/// Ends the session of a refresh token: it and the access tokens of that session
/// stop working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(()), request_body = RefreshBody, responses((status = 204)))]
async fn auth_logout(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    let claims = verify(&state.keys, &body.refresh_token, "refresh")?;
    sessions::revoke(&state.db, &claims.sid, &claims.sub).await?;
    audit::record(&state.db, &claims.sub, Action::AuthLogout, None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the account with every row and stored file of it; its tokens stop working.
#[utoipa::path(delete, path = "/account", tag = "auth", responses((status = 204)))]
async fn account_delete(State(state): State<AppState>, user: CurrentUser) -> Result<StatusCode, ApiError> {
    // Files first: if removing them fails, the account still exists to retry.
    state.storage.remove_user(&user.id).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(row) = users::by_id(&state.db, &user.id).await? {
        limits::forget_email(&state.db, &row.email).await?;
    }
    if users::delete(&state.db, &user.id).await? {
        audit::account_deleted(&state.db, &user.id).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// A token pair for session `sid`, which ends at `session_ends`.
async fn issue(
    db: &AnyPool,
    keys: &JwtKeys,
    user_id: &str,
    sid: &str,
    session_ends: i64,
) -> Result<TokenPair, ApiError> {
    let now = db::now();
    let jti = uuid::Uuid::new_v4().to_string();
    tokens::insert(db, &jti, user_id, sid, session_ends).await?;
    let access_ends = (now + ACCESS_TTL_S).min(session_ends);
    let sign = |typ: &str, exp: i64, jti: &str| {
        let claims = Claims { sub: user_id.into(), exp, iat: now, typ: typ.into(), jti: jti.into(), sid: sid.into() };
        encode(&Header::default(), &claims, &keys.encoding).map_err(|e| ApiError::Internal(e.to_string()))
    };
    Ok(TokenPair {
        access_token: sign("access", access_ends, "")?,
        refresh_token: sign("refresh", session_ends, &jti)?,
        token_type: "Bearer",
        expires_in: access_ends - now,
    })
}

/// Every core is hashing: come back in a moment.
fn busy() -> ApiError {
    ApiError::RetryLater {
        detail: "the server is busy checking passwords; try again in a moment".into(),
        retry_after_s: 1,
    }
}

fn normalise_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !host.contains('@'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(ApiError::BadRequest("email: not an email address".into()))
    }
}

/// A hash of a random password, checked when the email is unknown.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(uuid::Uuid::new_v4().as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
});

async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))
}

async fn verify_password(password: String, hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))
}
