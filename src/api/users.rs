//! `/v1/users`: user administration within the caller's organization, for API keys with
//! `users:read`/`users:write` and for sessions of `admin` (and, read-only, `viewer`) users.
//! Handlers stay thin: check the scope, read the body by `user_input`'s rules, call the use case
//! (`crate::users`); reads go to `db::users` directly.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::{ParseFromJSON, ToJSON},
};
use serde_json::Value;

use super::{
    ApiTags, BearerAuth,
    bodies::{ADMIN_FIELDS, CREATE_FIELDS, UserCreate, UserPatch},
    envelope::{envelope, error_responses, page_envelope},
    http::{self, DeletedResponse},
    idempotency::{idempotency_claim, request_hash},
    model::{AdminUser, admin_user, extras_of, extras_of_one},
    pages::PageRequest,
    patch::PatchBody,
    user_input::{read_user_create, read_user_patch},
};
use crate::{
    db::{
        user_create::Created,
        users::{self, UserFilter},
    },
    domain::{EmailAddress, Scope, SearchPrefix, UserId},
    error::ApiError,
    state::AppState,
};

envelope!(UserEnvelope, AdminUser);
page_envelope!(UserListEnvelope, AdminUser);

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

error_responses!(ListUsersError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `limit` is not an integer from 1 to 100.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:read`.",
    422 => Unprocessable: "`INVALID_CURSOR`: the cursor was not issued by this API.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(CreateUserError {
    400 => BadRequest: "`MALFORMED_REQUEST` (not JSON, wrong JSON types, unknown fields, a bad `Idempotency-Key`) or `IMMUTABLE_FIELD`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:write` (`details.scope`: `users:write`), or creates an admin without holding every scope (`details.scope`: the missing scopes, space-separated). Nothing was created.",
    409 => Conflict: "`EMAIL_TAKEN`, or `IDEMPOTENCY_CONFLICT` when the `Idempotency-Key` was used with a different body.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "One or more values are invalid; `errors` lists every one with its code (`INVALID_NAME`, `INVALID_BIO`, `INVALID_IMAGE`, `INVALID_LOCALE`, `INVALID_TIMEZONE`, `INVALID_PHONE_NUMBER`, `INVALID_EMAIL`, `INVALID_METADATA`, `WEAK_PASSWORD`, `INVALID_PASSWORD_HASH`, `INVALID_TOTP_SECRET`, `INVITE_CONFLICT` (`password`, `password_hash` or `status` sent with `invite: true`), `INVALID_SUSPENSION`, `VALIDATION_FAILED`) and nothing was created. With one invalid field `error.code` is its code, with several `VALIDATION_FAILED`.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(GetUserError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `user_id` is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks the scope.",
    404 => NotFound: "No such user in the caller's organization.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(DeleteUserError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `user_id` is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:write` (`details.scope`: `users:write`), or deletes an admin without holding every scope (`details.scope`: the missing scopes, space-separated).",
    404 => NotFound: "No such user in the caller's organization.",
    409 => Conflict: "`LAST_ADMIN`: the user is the organization's last active admin; nothing was deleted.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
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
    422 => Unprocessable: "One or more values are invalid; `errors` lists every one with its code (`INVALID_NAME`, `INVALID_BIO`, `INVALID_IMAGE`, `INVALID_LOCALE`, `INVALID_TIMEZONE`, `INVALID_PHONE_NUMBER`, `INVALID_EMAIL`, `INVALID_METADATA`, `NOT_A_TEAM_MEMBER`, `WEAK_PASSWORD`, `INVALID_PASSWORD_HASH`, `INVALID_TOTP_SECRET`, `INVALID_SUSPENSION` (`suspension.until` not in the future, an unreadable `suspension.reason`, or `suspension` without `status: suspended`), `VALIDATION_FAILED`) and nothing was changed. With one invalid field `error.code` is its code, with several `VALIDATION_FAILED`.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
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
        /// `meta.next_cursor` of the previous page; leave out, or send empty, for the first page.
        /// Anything this API did not issue is a 422 `INVALID_CURSOR`.
        cursor: Query<Option<String>>,
        /// Only the user with this address (exact, case-insensitive, the domain in its Unicode or
        /// ASCII `xn--` form). No NUL (U+0000).
        #[oai(validator(pattern = r"^[^\x00]*$"))]
        email: Query<Option<String>>,
        /// Only users whose `display_name`, `first_name`, `last_name` or `primary_email` (as
        /// returned) starts with this, trimmed, whatever the letter case, in every script: `élo`
        /// and `ÉLO` find `Élodie`, `strasse` finds `Straße`, `κώς` finds `Κώστας`. Letter case is
        /// Unicode's, the same for every language (`İ` is a dotted `i`: `il` does not find
        /// `İlker`); accents are not letter case (`elo` does not find `Élodie`).
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
            prefix: q.0.as_deref().and_then(SearchPrefix::parse),
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
        let input = read_user_create(body.0.reader(&CREATE_FIELDS)?)?;
        let render = |user: &crate::db::models::User| {
            let view = admin_user(user, Default::default())?;
            Ok(view.to_json_string())
        };
        let events = super::user_events(caller.actor());
        let created =
            crate::users::create(&state, &events, &caller, input, claim.as_ref(), render).await?;
        let user = match created {
            Created::New(user) => admin_user(&user, Default::default())?,
            Created::Replayed(stored) => {
                let value: Value = serde_json::from_str(&stored).map_err(ApiError::internal)?;
                AdminUser::parse_from_json(Some(value))
                    .map_err(|e| ApiError::internal(e.into_message()))?
            }
        };
        let location = format!("/v1/users/{}", user.fields.stored.id);
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
        let input = read_user_patch(body.0.reader(&ADMIN_FIELDS)?)?;
        let expected = http::if_match(if_match.0.as_deref());
        let events = super::user_events(caller.actor());
        let user = crate::users::update(&state, &events, &caller, &user, input, expected).await?;
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
        let events = super::user_events(caller.actor());
        crate::users::delete(&state, &events, &caller, &user_id).await?;
        Ok(DeletedResponse::NoContent)
    }
}

async fn user_response(
    state: &AppState,
    user: crate::db::models::User,
) -> Result<UserResponse, ApiError> {
    let extras = extras_of_one(&state.db, &user).await?;
    let etag = http::etag(&user);
    Ok(UserResponse::Ok(
        Json(admin_user(&user, extras)?.into()),
        etag,
    ))
}
