//! `/v1/users`: user administration within the caller's organization, for API keys with
//! `users:read`/`users:write` and for sessions of `admin` (and, read-only, `viewer`) users.
//! Handlers stay thin: check the scope, read the body by `user_input`'s rules, call `db::users`.

use std::collections::BTreeMap;

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::{MaybeUndefined, ParseFromJSON, ToJSON},
};
use serde_json::Value;

use super::{
    ApiTags, AppState, BearerAuth,
    envelope::{envelope, error_responses, page_envelope},
    idempotency::{idempotency_claim, request_hash},
    me::{etag, parse_if_match},
    model::{User, admin_user, extras_of, extras_of_one},
    pages::PageRequest,
    patch::PatchBody,
    privilege,
    user_input::{ADMIN_FIELDS, CREATE_FIELDS, read_admin_patch, read_create},
};
use crate::{
    db::{
        user_create::{self, Created},
        users::{self, UserFilter},
    },
    domain::{EmailAddress, Role, Scope, TeamId, UserId, UserStatus},
    error::ApiError,
};

/// A new user. Every field is optional; `null` is the same as leaving a field out. `role`
/// defaults to `member`, `status` to `active`. Unknown fields are a 400; invalid values a 422
/// listing every one.
#[derive(Debug, Clone, Object)]
pub struct UserCreate {
    /// A valid address (≤ 254 characters), unique in the organization case-insensitively
    /// (409 `EMAIL_TAKEN`); stored and returned with its domain in ASCII (`xn--`) form (see
    /// E-mail addresses).
    #[oai(nullable, validator(max_length = 254))]
    pub primary_email: Option<String>,
    /// Whether the address is known to belong to the user. Default false.
    pub primary_email_verified: Option<bool>,
    /// Whether the user may sign in with e-mail and password. Default true.
    pub primary_email_auth_enabled: Option<bool>,
    /// 1–100 characters after trimming with at least one visible letter or digit; emoji
    /// allowed; no control or invisible characters (see Text fields); stored NFC-normalised.
    #[oai(nullable, validator(min_length = 1, max_length = 100))]
    pub display_name: Option<String>,
    /// 1–64 letters (any script) with single spaces, hyphens or apostrophes between them; no
    /// emoji, digits or invisible characters (see Text fields).
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub first_name: Option<String>,
    /// Same rules as `first_name`.
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub last_name: Option<String>,
    /// 1–2,000 characters after trimming; line breaks, tabs and emoji allowed, other control
    /// and invisible characters (U+2028/U+2029 included) not (see Text fields).
    #[oai(nullable, validator(min_length = 1, max_length = 2000))]
    pub bio: Option<String>,
    /// An `https://`/`http://` URL or a `data:image/{png,jpeg,gif,webp};base64,` URL ≤ 100 KB.
    #[oai(nullable)]
    pub profile_image_url: Option<String>,
    /// A BCP 47 tag, stored canonicalised.
    #[oai(nullable)]
    pub locale: Option<String>,
    /// An IANA time zone name, stored in canonical spelling.
    #[oai(nullable)]
    pub timezone: Option<String>,
    /// E.164 (`+14155550123`).
    #[oai(nullable)]
    pub phone_number: Option<String>,
    /// Default false.
    pub phone_number_verified: Option<bool>,
    /// Default `member`.
    pub role: Option<Role>,
    /// Default `active`.
    pub status: Option<UserStatus>,
    /// At most 16 top-level keys, keys of 1–64 characters from `[A-Za-z0-9_.-]`, nesting at
    /// most 5 deep, 8 KiB serialised (422 `INVALID_METADATA`). The same limits apply to every
    /// metadata tier.
    #[oai(validator(max_properties = 16))]
    pub client_metadata: Option<BTreeMap<String, Value>>,
    /// Readable by the user through `/v1/me`, writable only here.
    #[oai(validator(max_properties = 16))]
    pub client_read_only_metadata: Option<BTreeMap<String, Value>>,
    /// Readable and writable only on the admin surface.
    #[oai(validator(max_properties = 16))]
    pub server_metadata: Option<BTreeMap<String, Value>>,
    /// A password for e-mail sign-in: 8–256 characters, not easily guessed (zxcvbn score 3
    /// or more, and not made of the user's own name or address); else 422 `WEAK_PASSWORD`.
    /// Stored as an argon2id hash; never returned.
    #[oai(nullable, validator(min_length = 8, max_length = 256))]
    pub password: Option<String>,
    /// A password hash imported from another system, in Modular Crypt Format: bcrypt (`$2a$`,
    /// `$2b$`, `$2y$`, cost ≤ 12) or argon2 (`$argon2id$`, `$argon2i$`, m ≤ 65536 KiB = 64 MiB,
    /// t × m ≤ 196608 = 3 passes over 64 MiB, p ≤ 8); anything else 422
    /// `INVALID_PASSWORD_HASH`, with the limit in the message. The limits keep every sign-in
    /// attempt near the cost of the server's own hash. The user signs in with the original
    /// password, and the hash is upgraded to argon2id at that sign-in; until then a wrong
    /// password against a hash cheaper than the server's own costs the server's own hash as
    /// well, so timing does not tell imported accounts apart. Send `password` or
    /// `password_hash`, not both.
    #[oai(nullable)]
    pub password_hash: Option<String>,
    /// A TOTP secret (RFC 6238: HMAC-SHA1, 6 digits, 30 s), as standard base64 of 16–128
    /// bytes, imported without a code: sign-in then needs a code. Never returned.
    #[oai(nullable)]
    pub totp_secret_base64: Option<String>,
}

/// Changes to a user, with the PATCH semantics of `/v1/me` (absent: unchanged; `null`: cleared;
/// `{}`: no-op; all or nothing; every invalid field reported) over a larger writable set:
/// `role`, `status`, the verification flags, `primary_email_auth_enabled` and the
/// `client_read_only_metadata` and `server_metadata` tiers, and the credentials (`password`,
/// `password_hash`, `totp_secret_base64`). `status: suspended` and a password change revoke
/// every session of the user. `id`, `org_id`, `created_at` are a
/// 400 `IMMUTABLE_FIELD`; read-only facts (`full_name`, `has_password`, …) a 403
/// `FIELD_NOT_WRITABLE`.
#[derive(Debug, Clone, Object)]
pub struct UserPatch {
    /// 1–100 characters after trimming with at least one visible letter or digit; emoji
    /// allowed; no control or invisible characters (see Text fields); stored NFC-normalised.
    #[oai(nullable, validator(min_length = 1, max_length = 100))]
    pub display_name: MaybeUndefined<String>,
    /// 1–64 letters (any script) with single spaces, hyphens or apostrophes between them; no
    /// emoji, digits or invisible characters (see Text fields).
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub first_name: MaybeUndefined<String>,
    /// Same rules as `first_name`.
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub last_name: MaybeUndefined<String>,
    /// 1–2,000 characters after trimming; line breaks, tabs and emoji allowed, other control
    /// and invisible characters (U+2028/U+2029 included) not (see Text fields). Send `null`
    /// to clear.
    #[oai(nullable, validator(min_length = 1, max_length = 2000))]
    pub bio: MaybeUndefined<String>,
    /// An `https://`/`http://` URL or a `data:image/{png,jpeg,gif,webp};base64,` URL ≤ 100 KB.
    #[oai(nullable)]
    pub profile_image_url: MaybeUndefined<String>,
    /// A BCP 47 tag; stored canonicalised.
    #[oai(nullable)]
    pub locale: MaybeUndefined<String>,
    /// An IANA time zone name; stored in canonical spelling.
    #[oai(nullable)]
    pub timezone: MaybeUndefined<String>,
    /// E.164. A new number resets `phone_number_verified` unless this change sets it.
    #[oai(nullable)]
    pub phone_number: MaybeUndefined<String>,
    pub phone_number_verified: Option<bool>,
    /// Unique in the organization case-insensitively (409 `EMAIL_TAKEN`, decided by the
    /// database); stored with its domain in ASCII (`xn--`) form (see E-mail addresses). A new
    /// address resets `primary_email_verified` unless this change sets it.
    #[oai(nullable, validator(max_length = 254))]
    pub primary_email: MaybeUndefined<String>,
    pub primary_email_verified: Option<bool>,
    pub primary_email_auth_enabled: Option<bool>,
    /// A team the user is a member of (422 `NOT_A_TEAM_MEMBER`); `null` clears it.
    #[oai(nullable)]
    pub selected_team_id: MaybeUndefined<TeamId>,
    pub role: Option<Role>,
    /// `suspended` refuses the user's sessions and sign-ins from the next request on.
    pub status: Option<UserStatus>,
    /// Merged as JSON Merge Patch (RFC 7396); limits apply to the result.
    #[oai(validator(max_properties = 16))]
    pub client_metadata: Option<BTreeMap<String, Value>>,
    /// Merged as JSON Merge Patch; the user reads it through `/v1/me` but cannot write it.
    #[oai(validator(max_properties = 16))]
    pub client_read_only_metadata: Option<BTreeMap<String, Value>>,
    /// Merged as JSON Merge Patch; never shown through `/v1/me`.
    #[oai(validator(max_properties = 16))]
    pub server_metadata: Option<BTreeMap<String, Value>>,
    /// A new password (rules as on create), no current password needed; `null` removes it.
    /// Either way every session of the user is revoked.
    #[oai(nullable, validator(min_length = 8, max_length = 256))]
    pub password: MaybeUndefined<String>,
    /// An imported hash (formats as on create); `null` removes the password. Revokes every
    /// session of the user. Send `password` or `password_hash`, not both (422).
    #[oai(nullable)]
    pub password_hash: MaybeUndefined<String>,
    /// Imports a TOTP secret (standard base64 of 16–128 bytes) without a code; `null` turns
    /// two-factor authentication off.
    #[oai(nullable)]
    pub totp_secret_base64: MaybeUndefined<String>,
}

envelope!(UserEnvelope, User);
page_envelope!(UserListEnvelope, User);

#[derive(Debug, ApiResponse)]
pub enum UserResponse {
    /// The user. `ETag` identifies this version for `If-Match`.
    #[oai(status = 200)]
    Ok(Json<UserEnvelope>, #[oai(header = "ETag")] String),
}

#[derive(Debug, ApiResponse)]
pub enum CreatedUserResponse {
    /// The new user (or, for a repeated `Idempotency-Key` with the same body, the first
    /// response again). `Location` is the user's URL.
    #[oai(status = 201)]
    Created(
        Json<UserEnvelope>,
        #[oai(header = "Location")] String,
        #[oai(header = "ETag")] String,
    ),
}

#[derive(Debug, ApiResponse)]
pub enum UserListResponse {
    /// One page of users, by id (creation order).
    #[oai(status = 200)]
    Ok(Json<UserListEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum DeletedResponse {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

error_responses!(ListUsersError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `limit` is not an integer from 1 to 100.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:read`.",
    422 => Unprocessable: "`INVALID_CURSOR`: the cursor was not issued by this API.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "The database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(CreateUserError {
    400 => BadRequest: "`MALFORMED_REQUEST` (not JSON, wrong JSON types, unknown fields, a bad `Idempotency-Key`) or `IMMUTABLE_FIELD`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:write` (`details.scope`: `users:write`), or creates an admin without holding every scope (`details.scope`: the missing scopes, space-separated). Nothing was created.",
    409 => Conflict: "`EMAIL_TAKEN`, or `IDEMPOTENCY_CONFLICT` when the `Idempotency-Key` was used with a different body.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "One or more values are invalid; `errors` lists every one and nothing was created.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "The database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(GetUserError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `user_id` is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks the scope.",
    404 => NotFound: "No such user in the caller's organization.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "The database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(DeleteUserError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `user_id` is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:write` (`details.scope`: `users:write`), or deletes an admin without holding every scope (`details.scope`: the missing scopes, space-separated).",
    404 => NotFound: "No such user in the caller's organization.",
    409 => Conflict: "`LAST_ADMIN`: the user is the organization's last active admin; nothing was deleted.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "The database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(PatchUserError {
    400 => BadRequest: "`MALFORMED_REQUEST` (not JSON, wrong JSON types, unknown fields, `user_id` not a UUID) or `IMMUTABLE_FIELD`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:write` (`details.scope`: `users:write`), or grants `admin` or changes an admin's `role`, `status`, `password`, `password_hash`, `totp_secret_base64`, `primary_email`, `primary_email_verified` or `primary_email_auth_enabled` without holding every scope (`details.scope`: the missing scopes, space-separated); nothing was changed. Or `FIELD_NOT_WRITABLE` (a read-only fact).",
    404 => NotFound: "No such user in the caller's organization.",
    409 => Conflict: "`EMAIL_TAKEN`: another user of the organization has this address. `LAST_ADMIN`: the change would demote or suspend the organization's last active admin; nothing was changed.",
    412 => PreconditionFailed: "`If-Match` does not match the current `ETag`; nothing was changed.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "One or more values are invalid; `errors` lists every one and nothing was changed.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "The database is unavailable; retry after `Retry-After` seconds.",
});

pub struct UsersApi;

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// List users
    ///
    /// The users of the caller's organization in creation order, one page at a time (keyset
    /// pagination: every page costs what the first costs). Needs `users:read`.
    #[oai(path = "/v1/users", method = "get", operation_id = "listUsers")]
    async fn list_users(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Page size, 1–100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `meta.next_cursor` of the previous page; leave out for the first page.
        cursor: Query<Option<String>>,
        /// Only the user with this address (exact, case-insensitive, the domain in its Unicode or
        /// ASCII `xn--` form). No NUL (U+0000).
        #[oai(validator(pattern = r"^[^\x00]*$"))]
        email: Query<Option<String>>,
        /// Only users whose `display_name`, `first_name`, `last_name` or `primary_email` starts
        /// with this, ignoring letter case (on SQLite, of ASCII letters only; addresses always).
        #[oai(validator(pattern = r"^[^\x00]*$"))]
        q: Query<Option<String>>,
    ) -> Result<UserListResponse, ListUsersError> {
        let caller = state.caller(&auth, Scope::UsersRead).await?;
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        // Something that is not an address matches no stored one.
        let email_key = email.0.map(|e| EmailAddress::parse(&e).map(|a| a.key()));
        let matchable = !matches!(email_key, Some(Err(_)));
        let filter = UserFilter {
            email_key: email_key.and_then(Result::ok),
            prefix: q
                .0
                .map(|q| q.trim().to_lowercase())
                .filter(|q| !q.is_empty()),
        };
        let rows = match matchable {
            true => {
                let after = page.after.map(UserId::from);
                users::list(&state.db, &caller.org_id, after, page.fetch(), &filter).await?
            }
            false => Vec::new(),
        };
        let (rows, meta) = page.page(rows, |u| u.id.into_uuid());
        let mut extras = extras_of(&state.db, &rows).await?;
        let data = rows
            .iter()
            .map(|u| admin_user(u, extras.remove(&u.id).unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        Ok(UserListResponse::Ok(Json(UserListEnvelope {
            success: true,
            data,
            meta,
        })))
    }

    /// Create a user
    ///
    /// Creates a user in the caller's organization. Needs `users:write`; creating an `admin`
    /// needs every scope (an admin's session, or an API key with all scopes). Send an
    /// `Idempotency-Key` to make retries safe: for 24 hours the same key with the same body
    /// returns the first response again (no second user), and with a different body is a 409
    /// `IDEMPOTENCY_CONFLICT`. Keys are per organization; a request that failed stored nothing,
    /// so its key may be retried.
    #[oai(path = "/v1/users", method = "post", operation_id = "createUser")]
    async fn create_user(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// 1–255 visible ASCII characters chosen by the client, e.g. a UUID.
        #[oai(
            name = "Idempotency-Key",
            validator(min_length = 1, max_length = 255, pattern = r"^[\x21-\x7E]+$")
        )]
        idempotency_key: Header<Option<String>>,
        body: Json<PatchBody<UserCreate>>,
    ) -> Result<CreatedUserResponse, CreateUserError> {
        let caller = state.caller(&auth, Scope::UsersWrite).await?;
        let claim = idempotency_key
            .0
            .map(|key| {
                let hash = request_hash("createUser", &body.0.to_json().unwrap_or_default());
                idempotency_claim(key, hash)
            })
            .transpose()?;
        let reader = body.0.reader(&CREATE_FIELDS)?;
        let new = read_create(reader, &caller.org_id, &state.secrets).await?;
        privilege::check_create(&caller, &new)?;
        let render = |user: &crate::db::models::User| {
            let view = admin_user(user, Default::default())?;
            Ok(view.to_json_string())
        };
        let user = match user_create::create(&state.db, &new, claim.as_ref(), render).await? {
            Created::New(user) => admin_user(&user, Default::default())?,
            Created::Replayed(stored) => {
                let value: Value = serde_json::from_str(&stored).map_err(ApiError::internal)?;
                User::parse_from_json(Some(value))
                    .map_err(|e| ApiError::internal(e.into_message()))?
            }
        };
        let location = format!("/v1/users/{}", user.fields.id);
        // The ETag of a replay is that of the first response: version 1, as created.
        let etag = "\"1\"".to_owned();
        Ok(CreatedUserResponse::Created(
            Json(user.into()),
            location,
            etag,
        ))
    }

    /// Get a user
    ///
    /// One user of the caller's organization, with `server_metadata`. Needs `users:read`. An
    /// id of another organization is 404, exactly like an id that does not exist.
    #[oai(path = "/v1/users/:user_id", method = "get", operation_id = "getUser")]
    async fn get_user(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        user_id: Path<UserId>,
    ) -> Result<UserResponse, GetUserError> {
        let caller = state.caller(&auth, Scope::UsersRead).await?;
        let user = users::find(&state.db, &caller.org_id, &user_id).await?;
        Ok(user_response(&state, user).await?)
    }

    /// Update a user
    ///
    /// Partial update with the PATCH semantics of `/v1/me` over the admin's writable set.
    /// Needs `users:write`. Granting `admin`, and changing an admin's `role`, `status`,
    /// credentials (`password`, `password_hash`, `totp_secret_base64`) or sign-in address
    /// (`primary_email`, `primary_email_verified`, `primary_email_auth_enabled`), needs every
    /// scope (an admin's session, or an API key with all scopes); a value sent unchanged is no
    /// change. The organization's last active admin cannot be demoted or suspended (409
    /// `LAST_ADMIN`). Send `If-Match` with a previous `ETag` to refuse the change (412) if the
    /// user changed since. The response is the whole updated user.
    #[oai(
        path = "/v1/users/:user_id",
        method = "patch",
        operation_id = "patchUser"
    )]
    async fn patch_user(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        user_id: Path<UserId>,
        /// The `ETag` of the version this change is based on; `*` matches any version.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<PatchBody<UserPatch>>,
    ) -> Result<UserResponse, PatchUserError> {
        let caller = state.caller(&auth, Scope::UsersWrite).await?;
        let user = users::find(&state.db, &caller.org_id, &user_id).await?;
        let reader = body.0.reader(&ADMIN_FIELDS)?;
        let update = read_admin_patch(&state.db, reader, &user, &state.secrets).await?;
        let expected = if_match
            .0
            .as_deref()
            .map(parse_if_match)
            .transpose()?
            .flatten();
        let authorize =
            |current: &_, changes: &_| privilege::check_change(&caller, current, changes);
        let user = users::update(
            &state.db,
            &caller.org_id,
            &user.id,
            expected,
            &update,
            authorize,
        )
        .await?;
        Ok(user_response(&state, user).await?)
    }

    /// Delete a user
    ///
    /// Deletes the user and their personal data (profile, addresses, metadata, credentials),
    /// revokes all their sessions (their tokens answer 401 from the next request on), removes
    /// them from their teams and frees their e-mail address for reuse. Needs `users:write`;
    /// deleting an admin needs every scope (an admin's session, or an API key with all
    /// scopes), and the organization's last active admin cannot be deleted (409
    /// `LAST_ADMIN`). Deleting again is 404.
    #[oai(
        path = "/v1/users/:user_id",
        method = "delete",
        operation_id = "deleteUser"
    )]
    async fn delete_user(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        user_id: Path<UserId>,
    ) -> Result<DeletedResponse, DeleteUserError> {
        let caller = state.caller(&auth, Scope::UsersWrite).await?;
        let authorize = |current: &_| privilege::check_delete(&caller, current);
        users::delete(&state.db, &caller.org_id, &user_id, authorize).await?;
        Ok(DeletedResponse::NoContent)
    }
}

async fn user_response(
    state: &AppState,
    user: crate::db::models::User,
) -> Result<UserResponse, ApiError> {
    let extras = extras_of_one(&state.db, &user).await?;
    let etag = etag(&user);
    Ok(UserResponse::Ok(
        Json(admin_user(&user, extras)?.into()),
        etag,
    ))
}
