//! Sign-in and sessions: `POST /v1/sessions` (e-mail, password and, with 2FA on, a TOTP code),
//! `DELETE /v1/sessions/current`, and the user's own sessions under `/v1/me/sessions`. The
//! rules of sign-in are `auth::sign_in`'s.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::MaybeUndefined,
};

use super::{
    ApiTags, BearerAuth,
    client_address::ClientAddress,
    envelope::{envelope, error_responses, page_envelope},
    http::{CurrentSession, DeletedResponse},
    pages::PageRequest,
};
use crate::{
    auth::sign_in,
    db::sessions::{self, Order::NewestFirst},
    domain::{OrgId, SessionId, Timestamp},
    error::{ApiError, ErrorCode, FieldError},
    state::AppState,
};

/// E-mail and password (and a TOTP code when two-factor authentication is on) of a user of
/// organization `org_id`.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct SignIn {
    /// The organization the user belongs to (the example is the demo organization).
    pub org_id: OrgId,
    /// The user's primary e-mail address, matched case-insensitively and with the domain in
    /// either its Unicode or its ASCII (`xn--`) form.
    #[oai(validator(min_length = 1, max_length = 254))]
    pub email: String,
    /// The user's password.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: String,
    /// Six digits from the authenticator; required when the user has 2FA on. Each code signs
    /// in once. Leave it out when 2FA is off (`null` is not a code: 400).
    #[oai(validator(min_length = 6, max_length = 6))]
    pub totp_code: MaybeUndefined<String>,
    /// One of the user's TOTP recovery codes (`xxxx-xxxx-xx`, lower case, as issued when 2FA
    /// was turned on), in place of `totp_code` when the authenticator is lost. Each works once;
    /// a wrong or used one is the same 401 as a wrong password and counts toward the sign-in
    /// limits and the lockout like a wrong TOTP code. Another shape is a 400; sending both
    /// `totp_code` and `recovery_code` is a 400. Ignored, like `totp_code`, when 2FA is off.
    #[oai(validator(pattern = "^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2}$"))]
    pub recovery_code: MaybeUndefined<String>,
}

/// A new session and the token that carries it.
#[derive(Debug, Clone, Object)]
pub struct SignedIn {
    /// Send as `Authorization: Bearer <token>`. An EdDSA JWT, valid until `session.expires_at`
    /// unless the session is revoked first.
    pub token: String,
    /// The session the token belongs to.
    pub session: CurrentSession,
}

/// One of the user's live sessions.
#[derive(Debug, Clone, Object)]
pub struct SessionInfo {
    /// The session's id.
    pub id: SessionId,
    /// When the session started (sign-in).
    pub created_at: Timestamp,
    /// When its token stops working, unless revoked before.
    pub expires_at: Timestamp,
    /// Last authenticated use, refreshed at most once a minute.
    pub last_active_at: Timestamp,
    /// Whether this is the session making the request.
    pub current: bool,
    /// The client address the sign-in came from (behind `--trusted-proxies`, the address they
    /// forwarded); `null` for sessions that did not start with a sign-in.
    #[oai(nullable)]
    pub client_address: Option<String>,
    /// The sign-in's `User-Agent` header as sent (at most 512 characters); `null` when none
    /// was sent.
    #[oai(nullable)]
    pub user_agent: Option<String>,
    /// The browser named by `user_agent` (`Chrome`, `Firefox`, `Safari`, …); `null` when it
    /// names none that is known.
    #[oai(nullable)]
    pub browser: Option<String>,
    /// The operating system named by `user_agent` (`Windows 10`, `Mac OSX`, `iPhone`,
    /// `Android`, `Linux`, …); `null` when it names none that is known.
    #[oai(nullable)]
    pub os: Option<String>,
}

impl SessionInfo {
    /// `session` as listed; `current` when it is the one making the request.
    pub fn of(session: crate::db::models::Session, current: bool) -> Self {
        let (browser, os) = device(session.user_agent.as_deref());
        Self {
            id: session.id,
            created_at: Timestamp::from(session.created_at),
            expires_at: Timestamp::from(session.expires_at),
            last_active_at: Timestamp::from(session.last_active_at),
            current,
            client_address: session.client_address,
            user_agent: session.user_agent,
            browser,
            os,
        }
    }
}

/// Browser and OS names parsed from a stored `User-Agent` (woothee), each `None` when unknown.
fn device(user_agent: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(parsed) = user_agent.and_then(|agent| woothee::parser::Parser::new().parse(agent))
    else {
        return (None, None);
    };
    let known = |name: &str| (!name.is_empty() && name != "UNKNOWN").then(|| name.to_owned());
    (known(parsed.name), known(parsed.os))
}

envelope!(SignedInEnvelope, SignedIn);
page_envelope!(SessionListEnvelope, SessionInfo, "newest first");

#[derive(Debug, ApiResponse)]
pub enum SignInResponse {
    /// Signed in.
    #[oai(status = 201)]
    Created(Json<SignedInEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum SessionListResponse {
    /// One page of the live sessions, newest first.
    #[oai(status = 200)]
    Ok(Json<SessionListEnvelope>),
}

error_responses!(SignInError {
    400 => BadRequest: "`MALFORMED_REQUEST`: not JSON, wrong JSON types, unknown or missing fields; a `recovery_code` of another shape.",
    401 => Unauthorized: "`UNAUTHORIZED`: wrong organization, e-mail, password, TOTP code or recovery code; a locked or suspended user; or a user who cannot sign in with a password. One answer for all, by design. `MFA_REQUIRED`: the password is right and the account could sign in, but two-factor authentication is on and no code was sent; send the request again with `totp_code` (or `recovery_code`). Only the right password reaches it, so it reveals nothing a wrong one does not, and it does not count toward the lockout.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`EXCLUSIVE_FIELDS`: both `totp_code` and `recovery_code` were sent; a recovery code stands in place of the TOTP code.",
    429 => TooManyRequests: "`RATE_LIMITED`: too many attempts for this account or from this address; retry after `Retry-After` seconds.", header "Retry-After",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(SignOutError {
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: an API key was used; sessions belong to users.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(ListMySessionsError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `limit` is out of range.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: an API key was used; sessions belong to users.",
    422 => Unprocessable: "`INVALID_CURSOR`: the cursor was not issued by this API.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(RevokeSessionError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `session_id` is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: an API key was used; sessions belong to users.",
    404 => NotFound: "No live session with this id belongs to the user.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

pub struct SessionsApi;

/// Per-operation tags: the `/v1/me/sessions` operations belong with the rest of `/v1/me`.
#[OpenApi]
impl SessionsApi {
    /// Sign in
    ///
    /// Starts a session for a user of `org_id` with their primary e-mail address and password,
    /// plus `totp_code` when two-factor authentication is on. Refused (401 `UNAUTHORIZED`, one
    /// message for every reason) for wrong credentials, locked or suspended users and users with
    /// `primary_email_auth_enabled: false`. The right password of a user with 2FA on, sent
    /// without a code, answers 401 `MFA_REQUIRED` instead, so a client knows to ask for one. Attempts are limited per account and per client
    /// address (429 with `Retry-After`). A password hash imported from another system is
    /// upgraded to argon2id here.
    #[oai(
        path = "/v1/sessions",
        method = "post",
        operation_id = "signIn",
        tag = "ApiTags::Sessions"
    )]
    async fn sign_in(
        &self,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        request: &poem::Request,
        body: Json<SignIn>,
    ) -> Result<SignInResponse, SignInError> {
        // As sent; bytes that are not UTF-8 (obsolete in headers) become U+FFFD.
        let user_agent = request
            .headers()
            .get(poem::http::header::USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()));
        let SignIn {
            org_id,
            email,
            password,
            totp_code,
            recovery_code,
        } = body.0;
        if totp_code.is_null() {
            let reason = "must be six digits; leave it out when two-factor authentication is off";
            let field = FieldError::new("totp_code", ErrorCode::MalformedRequest, reason);
            return Err(ApiError::malformed_fields(reason, vec![field]).into());
        }
        if recovery_code.is_null() {
            let reason = "must be a recovery code; leave it out to send totp_code";
            let field = FieldError::new("recovery_code", ErrorCode::MalformedRequest, reason);
            return Err(ApiError::malformed_fields(reason, vec![field]).into());
        }
        if recovery_code.is_value() && totp_code.is_value() {
            let reason = "a recovery code, in place of totp_code: send one of them, not both";
            let field = FieldError::new("recovery_code", ErrorCode::ExclusiveFields, reason);
            return Err(ApiError::validation(vec![field]).into());
        }
        let attempt = sign_in::Attempt {
            org_id,
            email: &email,
            password: &password,
            totp_code: totp_code.as_opt_deref().flatten(),
            recovery_code: recovery_code.as_opt_deref().flatten(),
            user_agent: user_agent.as_deref(),
            address: client.0.0,
            request_id: super::request_id(),
        };
        let (session, token) = sign_in::sign_in(&state, attempt).await?;
        Ok(SignInResponse::Created(Json(
            SignedIn {
                token,
                session: CurrentSession::of(&session),
            }
            .into(),
        )))
    }

    /// Sign out
    ///
    /// Revokes the session making the request; its token answers 401 from the next request
    /// on. Session tokens only.
    #[oai(
        path = "/v1/sessions/current",
        method = "delete",
        operation_id = "signOut",
        tag = "ApiTags::Sessions"
    )]
    async fn sign_out(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
    ) -> Result<DeletedResponse, SignOutError> {
        let (user, session) = state.authenticate(&auth).await?.into_user()?;
        let revoked = revoked_event(&user, &session.id);
        sessions::revoke_own(&state.db, &user.id, &session.id, &[revoked]).await?;
        Ok(DeletedResponse::NoContent)
    }

    /// List my sessions
    ///
    /// The signed-in user's live sessions (not revoked, not expired), newest first, a page at a
    /// time (keyset pagination: every page costs what the first costs, however many sessions
    /// there are); `current` marks the one making the request. Each shows where it was signed in
    /// from (the client address and `User-Agent`, with the browser and OS it names) and when it
    /// was last used, so a session that is not the user's can be recognised and revoked.
    #[oai(
        path = "/v1/me/sessions",
        method = "get",
        operation_id = "listMySessions",
        tag = "ApiTags::Me"
    )]
    async fn list_my_sessions(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Page size, 1–100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `meta.next_cursor` of the previous page; leave out, or send empty, for the first page.
        /// Anything this API did not issue is a 422 `INVALID_CURSOR`.
        cursor: Query<Option<String>>,
    ) -> Result<SessionListResponse, ListMySessionsError> {
        let (user, current) = state.authenticate(&auth).await?.into_user()?;
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let after = page.after.map(SessionId::from);
        let now = crate::db::now();
        let rows =
            sessions::page_live(&state.db, &user.id, now, after, page.fetch(), NewestFirst).await?;
        let (rows, meta) = page.page(rows, |s| s.id.into_uuid());
        let data = rows
            .into_iter()
            .map(|session| {
                let is_current = session.id == current.id;
                SessionInfo::of(session, is_current)
            })
            .collect();
        Ok(SessionListResponse::Ok(Json(SessionListEnvelope {
            success: true,
            data,
            meta,
        })))
    }

    /// Revoke one of my sessions
    ///
    /// Signs that session out everywhere; its token answers 401 from the next request on.
    /// Revoking the current session is signing out. 404 for a session that is not the user's
    /// or no longer live.
    #[oai(
        path = "/v1/me/sessions/:session_id",
        method = "delete",
        operation_id = "revokeMySession",
        tag = "ApiTags::Me"
    )]
    async fn revoke_my_session(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        session_id: Path<SessionId>,
    ) -> Result<DeletedResponse, RevokeSessionError> {
        let (user, _) = state.authenticate(&auth).await?.into_user()?;
        let revoked = revoked_event(&user, &session_id);
        sessions::revoke_own(&state.db, &user.id, &session_id, &[revoked]).await?;
        Ok(DeletedResponse::NoContent)
    }
}

/// `session.revoked`: `user` ended their own session `session_id`.
fn revoked_event(
    user: &crate::db::models::User,
    session_id: &crate::domain::SessionId,
) -> crate::db::events::NewEvent {
    let origin = super::origin(crate::domain::Actor::User(user.id));
    crate::events::sessions::revoked(&origin, user.org_id, &user.id, session_id)
}
