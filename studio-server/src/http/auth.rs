// SPDX-License-Identifier: MPL-2.0
//! Accounts and sessions: register, login, refresh (rotating), logout,
//! account deletion, and the `CurrentUser` extractor every owned route uses.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use jsonwebtoken::{decode, encode, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{self, Action};
use super::error::{ApiError, AppJson};
use super::AppState;
use crate::db::{self, tokens, users};

/// Lifetime of an access token.
pub const ACCESS_TTL_S: i64 = 15 * 60;
/// Lifetime of a refresh token.
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
}

/// The signed-in user, from a `Bearer` access token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: String,
}

impl<S> FromRequestParts<S> for CurrentUser
where
    Arc<JwtKeys>: FromRef<S>,
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
        user_from_token(&Arc::<JwtKeys>::from_ref(state), token)
    }
}

/// The user an access token belongs to.
pub fn user_from_token(keys: &JwtKeys, token: &str) -> Result<CurrentUser, ApiError> {
    let claims = verify(keys, token, "access")?;
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

/// Creates an account (409 when the email is taken).
#[utoipa::path(post, path = "/auth/register", tag = "auth", security(()), request_body = Credentials,
    responses((status = 201, body = Account)))]
async fn auth_register(
    State(db): State<AnyPool>,
    AppJson(body): AppJson<Credentials>,
) -> Result<(StatusCode, AppJson<Account>), ApiError> {
    let email = normalise_email(&body.email)?;
    if body.password.chars().count() < 8 {
        return Err(ApiError::BadRequest("password: must be at least 8 characters".into()));
    }
    let password_hash = hash_password(body.password).await?;
    let user = users::User { id: uuid::Uuid::new_v4().to_string(), email, password_hash, created_at: db::now() };
    users::insert(&db, &user).await.map_err(|e| match ApiError::from(e) {
        ApiError::Conflict(_) => ApiError::Conflict("email: an account with this email already exists".into()),
        other => other,
    })?;
    audit::record(&db, &user.id, Action::AuthRegister, None).await;
    Ok((StatusCode::CREATED, AppJson(Account { id: user.id, email: user.email })))
}

/// Signs in: a 15-minute access token and a 30-day refresh token. Repeated failures for
/// one email answer 429 for a while.
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()), request_body = Credentials,
    responses((status = 200, body = TokenPair)))]
async fn auth_login(
    State(state): State<AppState>,
    AppJson(body): AppJson<Credentials>,
) -> Result<AppJson<TokenPair>, ApiError> {
    let email = normalise_email(&body.email)?;
    if let Some(seconds) = state.login_limiter.retry_after(&email) {
        return Err(ApiError::TooManyRequests(format!(
            "too many failed sign-ins for this email; try again in {seconds} s"
        )));
    }
    let user = users::by_email(&state.db, &email).await?;
    // Hash even for unknown emails so timing does not reveal which exist.
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
    let ok = verify_password(body.password, hash).await?;
    match (user, ok) {
        (Some(user), true) => {
            state.login_limiter.succeeded(&email);
            audit::record(&state.db, &user.id, Action::AuthLogin, None).await;
            Ok(AppJson(issue(&state.db, &state.keys, &user.id).await?))
        }
        _ => {
            state.login_limiter.failed(&email);
            Err(ApiError::Unauthorized("wrong email or password"))
        }
    }
}

/// Trades a refresh token for a new pair; each refresh token works once, and a reused
/// one signs every session of the account out.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", security(()), request_body = RefreshBody,
    responses((status = 200, body = TokenPair)))]
async fn auth_refresh(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshBody>,
) -> Result<AppJson<TokenPair>, ApiError> {
    let claims = verify(&state.keys, &body.refresh_token, "refresh")?;
    match tokens::consume(&state.db, &claims.jti, &claims.sub, db::now()).await? {
        tokens::Use::Consumed => Ok(AppJson(issue(&state.db, &state.keys, &claims.sub).await?)),
        tokens::Use::Replayed => {
            // A used token coming back means it was copied: end every session.
            tokens::revoke_all(&state.db, &claims.sub).await?;
            Err(ApiError::Unauthorized("refresh token already used; all sessions were signed out"))
        }
        tokens::Use::Unknown => Err(ApiError::Unauthorized("refresh token revoked or unknown")),
    }
}

/// Revokes a refresh token.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(()), request_body = RefreshBody, responses((status = 204)))]
async fn auth_logout(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    let claims = verify(&state.keys, &body.refresh_token, "refresh")?;
    tokens::consume(&state.db, &claims.jti, &claims.sub, db::now()).await?;
    audit::record(&state.db, &claims.sub, Action::AuthLogout, None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the account with every row and stored file of it.
#[utoipa::path(delete, path = "/account", tag = "auth", responses((status = 204)))]
async fn account_delete(State(state): State<AppState>, user: CurrentUser) -> Result<StatusCode, ApiError> {
    // Files first: if removing them fails, the account still exists to retry.
    state.storage.remove_user(&user.id).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    if users::delete(&state.db, &user.id).await? {
        audit::account_deleted(&state.db, &user.id).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn issue(db: &AnyPool, keys: &JwtKeys, user_id: &str) -> Result<TokenPair, ApiError> {
    let now = db::now();
    let jti = uuid::Uuid::new_v4().to_string();
    tokens::insert(db, &jti, user_id, now + REFRESH_TTL_S).await?;
    let sign = |typ: &str, ttl: i64, jti: &str| {
        let claims = Claims { sub: user_id.into(), exp: now + ttl, iat: now, typ: typ.into(), jti: jti.into() };
        encode(&Header::default(), &claims, &keys.encoding).map_err(|e| ApiError::Internal(e.to_string()))
    };
    Ok(TokenPair {
        access_token: sign("access", ACCESS_TTL_S, "")?,
        refresh_token: sign("refresh", REFRESH_TTL_S, &jti)?,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_S,
    })
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
