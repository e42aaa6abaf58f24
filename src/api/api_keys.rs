//! `/v1/api-keys`: the organization's API keys, managed by `admin` users only (never by an API
//! key). The secret is returned once, at creation or at a roll; only its SHA-256 is stored.

use std::sync::LazyLock;

use chrono::{SubsecRound, TimeDelta, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi, param::Path, payload::Json, types::MaybeUndefined,
};

use super::{
    ApiTags, BearerAuth,
    envelope::{envelope, error_responses},
    http::DeletedResponse,
    patch::{FieldRules, PatchBody},
};
use crate::{
    auth,
    auth::Caller,
    db::{api_keys, models},
    domain::{ApiKeyId, DisplayName, EventType, Scope, Timestamp},
    error::{ApiError, ErrorCode, FieldError},
    state::AppState,
};

/// An API key, without its secret.
#[derive(Debug, Clone, Object)]
pub struct ApiKey {
    /// The key's id (`DELETE /v1/api-keys/{id}` revokes it).
    pub id: ApiKeyId,
    /// What the key is for.
    pub name: String,
    /// What the key may do, one scope per operation family.
    pub scopes: Vec<Scope>,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key stops working (401 from then on; it stays listed until revoked); `null`:
    /// never.
    #[oai(nullable)]
    pub expires_at: Option<Timestamp>,
    /// When the key last authenticated a request, to the minute (written at most once a
    /// minute); `null`: never used.
    #[oai(nullable)]
    pub last_used_at: Option<Timestamp>,
    /// After a roll: until when the previous secret still works; `null` when only the current
    /// secret does.
    #[oai(nullable)]
    pub previous_secret_expires_at: Option<Timestamp>,
}

/// An API key and its secret, shown this once (at creation, or after a roll).
#[derive(Debug, Clone, Object)]
pub struct CreatedApiKey {
    /// The key's id.
    pub id: ApiKeyId,
    /// The name it was given.
    pub name: String,
    /// What the key may do.
    pub scopes: Vec<Scope>,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key stops working; `null`: never.
    #[oai(nullable)]
    pub expires_at: Option<Timestamp>,
    /// After a roll: until when the previous secret still works; `null` otherwise.
    #[oai(nullable)]
    pub previous_secret_expires_at: Option<Timestamp>,
    /// The bearer credential (`uak_…`). Store it now: only its hash is kept and it is never
    /// shown again.
    pub secret: String,
}

/// Rolling an API key's secret (`{}` for the defaults).
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct ApiKeyRoll {
    /// How long the secret being replaced keeps working, in seconds: 0 (it stops at once) to
    /// 604800 (7 days); 86400 (24 hours) when absent, time to deploy the new one (`null` is
    /// not a duration: 400).
    #[oai(validator(minimum(value = "0"), maximum(value = "604800")))]
    pub grace_period_seconds: MaybeUndefined<u32>,
}

/// A new API key.
#[derive(Debug, Clone, Object)]
pub struct ApiKeyCreate {
    /// What calls with it: 1–100 characters after trimming, by the text rules of `display_name`
    /// (no control character anywhere, no invisible or spoofing characters; a visible letter or
    /// digit): else 422 `INVALID_NAME`.
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub name: String,
    /// At least one of `users:read`, `users:write`, `teams:read`, `teams:write`.
    #[oai(validator(min_items = 1))]
    pub scopes: Vec<Scope>,
    /// When the key stops working: a future time (else 422 `INVALID_EXPIRY`). Absent:
    /// never.
    pub expires_at: Option<Timestamp>,
}

envelope!(CreatedApiKeyEnvelope, CreatedApiKey);

/// The organization's live API keys.
#[derive(Debug, Clone, Object)]
pub struct ApiKeyListEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The organization's live keys, oldest first.
    pub data: Vec<ApiKey>,
}

#[derive(Debug, ApiResponse)]
pub enum CreatedApiKeyResponse {
    /// The new key with its secret.
    #[oai(status = 201)]
    Created(Json<CreatedApiKeyEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum RolledApiKeyResponse {
    /// The key with its new secret.
    #[oai(status = 200)]
    Ok(Json<CreatedApiKeyEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum ApiKeyListResponse {
    /// The live keys, oldest first; never their secrets.
    #[oai(status = 200)]
    Ok(Json<ApiKeyListEnvelope>),
}

error_responses!(CreateApiKeyError {
    400 => BadRequest: "`MALFORMED_REQUEST`: not JSON, wrong JSON types, unknown fields or unknown scopes; `IMMUTABLE_FIELD` for `id`, `created_at` or `secret`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: only admin users manage API keys (not API keys, viewers or members).",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`INVALID_NAME` for an invalid name, `INVALID_EXPIRY` for an `expires_at` that is not in the future, `VALIDATION_FAILED` for an empty scope list or several invalid fields.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(ListApiKeysError {
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: only admin users manage API keys.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(RollApiKeyError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `key_id` is not a UUID, the body is not JSON, has unknown fields, or `grace_period_seconds` is out of range.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: only admin users manage API keys.",
    404 => NotFound: "No such live (unrevoked, unexpired) key in the caller's organization.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(DeleteApiKeyError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `key_id` is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: only admin users manage API keys.",
    404 => NotFound: "No such live key in the caller's organization.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

static CREATE_FIELDS: LazyLock<FieldRules> =
    LazyLock::new(|| FieldRules::derive::<ApiKeyCreate>(&["id", "created_at", "secret"], &[]));

pub struct ApiKeysApi;

#[OpenApi(tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// Create an API key
    ///
    /// Admin users only. The response carries the secret, shown this once.
    #[oai(path = "/v1/api-keys", method = "post", operation_id = "createApiKey")]
    async fn create_api_key(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<PatchBody<ApiKeyCreate>>,
    ) -> Result<CreatedApiKeyResponse, CreateApiKeyError> {
        let caller = admin(&state, &auth).await?;
        let mut r = body.0.reader(&CREATE_FIELDS)?;
        let name = r.required_string("name");
        let scopes = r.strings("scopes");
        let scopes: Option<Vec<Scope>> = scopes.map(|names| {
            let mut scopes = Vec::new();
            for name in names {
                match Scope::parse(&name) {
                    Ok(scope) => scopes.push(scope),
                    Err(invalid) => r.wrong_type("scopes", invalid.reason),
                }
            }
            scopes.sort();
            scopes.dedup();
            scopes
        });
        if scopes.is_none() && !r.has_error("scopes") {
            r.wrong_type("scopes", "is required".into());
        }
        if scopes.as_ref().is_some_and(Vec::is_empty) {
            r.invalid_field(FieldError::new(
                "scopes",
                ErrorCode::ValidationFailed,
                "name at least one scope",
            ));
        }
        let expires_at = r.non_null_string("expires_at").and_then(|raw| {
            match chrono::DateTime::parse_from_rfc3339(&raw) {
                Ok(at) if at.with_timezone(&Utc) > Utc::now() => Some(at.naive_utc()),
                Ok(_) => {
                    let reason = "must be in the future";
                    r.invalid_field(FieldError::new(
                        "expires_at",
                        ErrorCode::InvalidExpiry,
                        reason,
                    ));
                    None
                }
                Err(_) => {
                    r.wrong_type("expires_at", "must be an RFC 3339 date-time".into());
                    None
                }
            }
        });
        let name = name.and_then(|name| match DisplayName::parse(&name) {
            Ok(name) => Some(name.into_inner()),
            Err(invalid) => {
                r.invalid("name", invalid);
                None
            }
        });
        r.finish()?;
        let scopes = scopes.unwrap_or_default();
        let (secret, mut row) =
            auth::new_api_key(&caller.org_id, &name.unwrap_or_default(), &scopes);
        // The database keeps microseconds; the key is shown as it will read back.
        row.expires_at = expires_at.map(|at| at.trunc_subsecs(6));
        let key = view(&row);
        let data = serde_json::json!({"object": poem_openapi::types::ToJSON::to_json(&key)});
        let created = super::origin(caller.actor()).event(
            caller.org_id,
            EventType::ApiKeyCreated,
            Some(row.id.to_string()),
            &data,
        );
        api_keys::insert(&state.db, &row, &[created]).await?;
        Ok(CreatedApiKeyResponse::Created(Json(
            with_secret(key, secret).into(),
        )))
    }

    /// Roll an API key
    ///
    /// Gives the key a new secret, returned this once, and keeps the secret it had working for
    /// a grace period (24 hours unless `grace_period_seconds` says otherwise), time to deploy the
    /// new one; both answer as the same key meanwhile. Rolling again within a grace period ends
    /// the older secret at once: at most two secrets work at a time. The key's id, name, scopes
    /// and expiry stay. Admin users only. A revoked or expired key is 404.
    #[oai(
        path = "/v1/api-keys/:key_id/roll",
        method = "post",
        operation_id = "rollApiKey"
    )]
    async fn roll_api_key(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        key_id: Path<ApiKeyId>,
        body: Json<ApiKeyRoll>,
    ) -> Result<RolledApiKeyResponse, RollApiKeyError> {
        let caller = admin(&state, &auth).await?;
        let grace = match body.0.grace_period_seconds {
            MaybeUndefined::Value(seconds) => seconds,
            MaybeUndefined::Undefined => DEFAULT_GRACE_SECONDS,
            MaybeUndefined::Null => {
                let reason = "must be a number of seconds; leave it out for the default";
                let field =
                    FieldError::new("grace_period_seconds", ErrorCode::MalformedRequest, reason);
                return Err(ApiError::malformed_fields(reason, vec![field]).into());
            }
        };
        let grace_until =
            (grace > 0).then(|| crate::db::now() + TimeDelta::seconds(i64::from(grace)));
        let secret = auth::random_secret(auth::API_KEY_PREFIX);
        let origin = super::origin(caller.actor());
        let row = api_keys::roll(
            &state.db,
            &caller.org_id,
            &key_id,
            &auth::hash_secret(&secret),
            grace_until,
            |rolled| {
                let data = serde_json::json!({"object": poem_openapi::types::ToJSON::to_json(&view(rolled))});
                vec![origin.event(
                    caller.org_id,
                    EventType::ApiKeyRolled,
                    Some(rolled.id.to_string()),
                    &data,
                )]
            },
        )
        .await?;
        Ok(RolledApiKeyResponse::Ok(Json(
            with_secret(view(&row), secret).into(),
        )))
    }

    /// List API keys
    ///
    /// The organization's live keys, without secrets. Admin users only.
    #[oai(path = "/v1/api-keys", method = "get", operation_id = "listApiKeys")]
    async fn list_api_keys(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
    ) -> Result<ApiKeyListResponse, ListApiKeysError> {
        let caller = admin(&state, &auth).await?;
        let rows = api_keys::list(&state.db, &caller.org_id).await?;
        let data = rows.iter().map(view).collect();
        Ok(ApiKeyListResponse::Ok(Json(ApiKeyListEnvelope {
            success: true,
            data,
        })))
    }

    /// Revoke an API key
    ///
    /// The key answers 401 from the next request on. Admin users only. Revoking again is 404.
    #[oai(
        path = "/v1/api-keys/:key_id",
        method = "delete",
        operation_id = "deleteApiKey"
    )]
    async fn delete_api_key(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        key_id: Path<ApiKeyId>,
    ) -> Result<DeletedResponse, DeleteApiKeyError> {
        let caller = admin(&state, &auth).await?;
        let data = serde_json::json!({"object": {"id": *key_id, "revoked": true}});
        let revoked = super::origin(caller.actor()).event(
            caller.org_id,
            EventType::ApiKeyRevoked,
            Some(key_id.to_string()),
            &data,
        );
        api_keys::revoke(&state.db, &caller.org_id, &key_id, &[revoked]).await?;
        Ok(DeletedResponse::NoContent)
    }
}

async fn admin(state: &AppState, auth: &BearerAuth) -> Result<Caller, ApiError> {
    let caller = Caller::of(&state.authenticate(auth).await?);
    caller.require_admin_user()?;
    Ok(caller)
}

/// How long a rolled key's previous secret keeps working unless the roll says otherwise.
const DEFAULT_GRACE_SECONDS: u32 = 24 * 60 * 60;

fn view(row: &models::ApiKey) -> ApiKey {
    ApiKey {
        id: row.id,
        name: row.name.clone(),
        scopes: Scope::parse_stored(&row.scopes),
        created_at: Timestamp::from(row.created_at),
        expires_at: row.expires_at.map(Timestamp::from),
        last_used_at: row.last_used_at.map(Timestamp::from),
        previous_secret_expires_at: row.previous_secret_expires_at.map(Timestamp::from),
    }
}

fn with_secret(key: ApiKey, secret: String) -> CreatedApiKey {
    CreatedApiKey {
        id: key.id,
        name: key.name,
        scopes: key.scopes,
        created_at: key.created_at,
        expires_at: key.expires_at,
        previous_secret_expires_at: key.previous_secret_expires_at,
        secret,
    }
}
