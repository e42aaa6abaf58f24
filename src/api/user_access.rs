//! An administrator's control over a user's access: `/v1/users/{id}/sessions` lists a user's
//! live sessions and revokes one or all of them (a lost device, an account taken over), and
//! `/v1/users/{id}/unlock` lifts a lockout. Reading needs `users:read`, acting `users:write`, and
//! acting on an admin every scope, as every other change to an admin's credentials does. Each
//! change is an event (`session.revoked`, `user.unlocked`) with the administrator as its actor.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    ApiTags, BearerAuth,
    envelope::{envelope, error_responses, page_envelope},
    http::DeletedResponse,
    pages::PageRequest,
    sessions::SessionInfo,
};
use crate::{
    auth::{Caller, Principal},
    db::{
        lockout,
        sessions::{self, Order::OldestFirst},
        users,
    },
    domain::{Role, Scope, SessionId, UserId},
    error::ApiError,
    events,
    state::AppState,
};

page_envelope!(UserSessionListEnvelope, SessionInfo);

/// What revoking all of a user's sessions did.
#[derive(Debug, Clone, Object)]
pub struct SessionsRevoked {
    /// How many live sessions ended (0 when there were none).
    pub revoked: u64,
}

envelope!(SessionsRevokedEnvelope, SessionsRevoked);

/// What unlocking did.
#[derive(Debug, Clone, Object)]
pub struct Unlocked {
    /// Whether the account was locked (`false`: only the count of failed sign-ins was cleared).
    pub was_locked: bool,
}

envelope!(UnlockedEnvelope, Unlocked);

#[derive(Debug, ApiResponse)]
pub enum UnlockResponse {
    /// The account signs in again; its count of failed sign-ins starts from 0.
    #[oai(status = 200)]
    Ok(Json<UnlockedEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum UserSessionListResponse {
    /// One page of the user's live sessions, oldest first.
    #[oai(status = 200)]
    Ok(Json<UserSessionListEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum SessionsRevokedResponse {
    /// Every live session of the user ended; their tokens answer 401 from the next request on.
    #[oai(status = 200)]
    Ok(Json<SessionsRevokedEnvelope>),
}

error_responses!(ListUserSessionsError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `user_id` is not a UUID, or `limit` is out of range.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:read`.",
    404 => NotFound: "No such user in the caller's organization.",
    422 => Unprocessable: "`INVALID_CURSOR`: the cursor was not issued by this API.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(UserAccessError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `user_id` or `session_id` is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:write`, or acts on an admin's sessions or lockout without holding every scope (`details.scope`: the missing scopes, space-separated).",
    404 => NotFound: "No such user in the caller's organization, or (one session) no such live session of theirs.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

pub struct UserAccessApi;

#[OpenApi(tag = "ApiTags::Users")]
impl UserAccessApi {
    /// List a user's sessions
    ///
    /// The user's live sessions (not revoked, not expired), oldest first, a page at a time.
    /// `current` marks the session making this request, if it is one of them. Needs
    /// `users:read`.
    #[oai(
        path = "/v1/users/:user_id/sessions",
        method = "get",
        operation_id = "listUserSessions"
    )]
    async fn list_user_sessions(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        user_id: Path<UserId>,
        /// Page size, 1–100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `meta.next_cursor` of the previous page; leave out, or send empty, for the first page.
        /// Anything this API did not issue is a 422 `INVALID_CURSOR`.
        cursor: Query<Option<String>>,
    ) -> Result<UserSessionListResponse, ListUserSessionsError> {
        let principal = state.authenticate(&auth).await?;
        let caller = Caller::of(&principal);
        caller.require(Scope::UsersRead)?;
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        users::find(&state.db, &caller.org_id, &user_id).await?;
        let after = page.after.map(SessionId::from);
        let now = crate::db::now();
        let rows =
            sessions::page_live(&state.db, &user_id, now, after, page.fetch(), OldestFirst).await?;
        let (rows, meta) = page.page(rows, |s| s.id.into_uuid());
        let current = match &principal {
            Principal::User { session, .. } => Some(session.id),
            Principal::ApiKey(_) => None,
        };
        let data = rows
            .into_iter()
            .map(|session| {
                let is_current = Some(session.id) == current;
                SessionInfo::of(session, is_current)
            })
            .collect();
        Ok(UserSessionListResponse::Ok(Json(UserSessionListEnvelope {
            success: true,
            data,
            meta,
        })))
    }

    /// Revoke one of a user's sessions
    ///
    /// Ends that session everywhere; its token answers 401 from the next request on. Needs
    /// `users:write`, and every scope for an admin's session.
    #[oai(
        path = "/v1/users/:user_id/sessions/:session_id",
        method = "delete",
        operation_id = "revokeUserSession"
    )]
    async fn revoke_user_session(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        user_id: Path<UserId>,
        session_id: Path<SessionId>,
    ) -> Result<DeletedResponse, UserAccessError> {
        let caller = may_act_on(&state, &auth, &user_id).await?;
        let origin = super::origin(caller.actor());
        let revoked = events::sessions::revoked(&origin, caller.org_id, &user_id, &session_id);
        sessions::revoke_own(&state.db, &user_id, &session_id, &[revoked]).await?;
        Ok(DeletedResponse::NoContent)
    }

    /// Revoke all of a user's sessions
    ///
    /// Signs the user out everywhere: every live session ends, and `data.revoked` says how many.
    /// Their password and other credentials stay. Needs `users:write`, and every scope for an
    /// admin.
    #[oai(
        path = "/v1/users/:user_id/sessions",
        method = "delete",
        operation_id = "revokeUserSessions"
    )]
    async fn revoke_user_sessions(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        user_id: Path<UserId>,
    ) -> Result<SessionsRevokedResponse, UserAccessError> {
        let caller = may_act_on(&state, &auth, &user_id).await?;
        let origin = super::origin(caller.actor());
        let revoked = sessions::revoke_all(&state.db, &user_id, |ended| {
            let revoked = |id| events::sessions::revoked(&origin, caller.org_id, &user_id, id);
            ended.iter().map(revoked).collect()
        })
        .await?;
        Ok(SessionsRevokedResponse::Ok(Json(
            SessionsRevoked {
                revoked: revoked as u64,
            }
            .into(),
        )))
    }

    /// Unlock a user
    ///
    /// Lifts a lockout (`--lockout-threshold` failed sign-ins in a row) at once and clears the
    /// count; `data.was_locked` says whether there was one. Recorded as `user.unlocked` when
    /// there was. Needs `users:write`, and every scope for an admin.
    #[oai(
        path = "/v1/users/:user_id/unlock",
        method = "post",
        operation_id = "unlockUser"
    )]
    async fn unlock_user(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        user_id: Path<UserId>,
    ) -> Result<UnlockResponse, UserAccessError> {
        let caller = may_act_on(&state, &auth, &user_id).await?;
        let origin = super::origin(caller.actor());
        let unlocked = events::sessions::unlocked(&origin, caller.org_id, &user_id);
        let now = crate::db::now();
        let was_locked =
            lockout::unlock(&state.db, &caller.org_id, &user_id, now, &[unlocked]).await?;
        Ok(UnlockResponse::Ok(Json(Unlocked { was_locked }.into())))
    }
}

/// The caller, when it may act on `user_id`'s access (sessions, lockout): `users:write`, a user of its own
/// organization (else 404), and every scope when that user is an admin.
async fn may_act_on(
    state: &AppState,
    auth: &BearerAuth,
    user_id: &UserId,
) -> Result<Caller, ApiError> {
    let caller = state.caller(auth, Scope::UsersWrite).await?;
    let target = users::find(&state.db, &caller.org_id, user_id).await?;
    if target.role == Role::Admin {
        caller.require_every_scope("acting on an admin's sessions or lockout")?;
    }
    Ok(caller)
}
