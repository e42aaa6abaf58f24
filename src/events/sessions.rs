//! The events of sessions: `session.created` at sign-in, `session.revoked` when a session is
//! ended, and `session.sign_in_failed`, the audit trail of refused sign-ins (webhook endpoints
//! get it only by naming it); and of the lockout they can cause, `user.locked` and
//! `user.unlocked`. Sessions that end because a
//! password changed or a user was suspended are covered by that user's event, not one each.

use serde_json::json;

use super::Origin;
use crate::{
    db::{events::NewEvent, models::Session},
    domain::{Actor, EventType, OrgId, Timestamp, UserId},
};

// Why a sign-in was refused, as `session.sign_in_failed` says (to admins only: the caller
// always gets the same 401). Not a doc comment: the schema's description stays on its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum SignInFailure {
    /// No user of the organization has the address.
    UnknownAccount,
    /// The user has no password, or the password is wrong.
    WrongPassword,
    Suspended,
    /// The user's `primary_email_auth_enabled` is off.
    EmailSignInDisabled,
    /// Two-factor authentication is on and the code was wrong or already used.
    WrongTotpCode,
    /// Two-factor authentication is on and the recovery code was wrong or already used.
    WrongRecoveryCode,
    /// The user was invited and has not accepted the invitation yet.
    Invited,
    /// Too many failed sign-ins in a row locked the account (`--lockout-threshold`).
    Locked,
}

impl SignInFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownAccount => "unknown_account",
            Self::WrongPassword => "wrong_password",
            Self::Suspended => "suspended",
            Self::EmailSignInDisabled => "email_sign_in_disabled",
            Self::WrongTotpCode => "wrong_totp_code",
            Self::WrongRecoveryCode => "wrong_recovery_code",
            Self::Invited => "invited",
            Self::Locked => "locked",
        }
    }
}

/// `session.created`: the session's user signed in.
pub fn created(org_id: OrgId, session: &Session, request_id: Option<String>) -> NewEvent {
    let origin = Origin {
        actor: Actor::User(session.user_id),
        request_id,
    };
    let data = json!({"object": {
        "id": session.id,
        "user_id": session.user_id,
        "created_at": Timestamp::from(session.created_at).to_string(),
        "expires_at": Timestamp::from(session.expires_at).to_string(),
        "amr": session.amr.split_whitespace().collect::<Vec<_>>(),
    }});
    let subject = Some(session.user_id.to_string());
    origin.event(org_id, EventType::SessionCreated, subject, &data)
}

/// `session.revoked`: session `session_id` of `user_id` ended by `origin`.
pub fn revoked(
    origin: &Origin,
    org_id: OrgId,
    user_id: &UserId,
    session_id: &crate::domain::SessionId,
) -> NewEvent {
    let data = json!({"object": {"id": session_id, "user_id": user_id, "revoked": true}});
    let subject = Some(user_id.to_string());
    origin.event(org_id, EventType::SessionRevoked, subject, &data)
}

/// `session.reauthenticated`: the user of `session` proved who they are again, by `amr`, at
/// `at`.
pub fn reauthenticated(
    org_id: OrgId,
    session: &Session,
    at: chrono::NaiveDateTime,
    amr: &str,
    request_id: Option<String>,
) -> NewEvent {
    let origin = Origin {
        actor: Actor::User(session.user_id),
        request_id,
    };
    let data = json!({"object": {
        "id": session.id,
        "user_id": session.user_id,
        "authenticated_at": Timestamp::from(at).to_string(),
        "amr": amr.split_whitespace().collect::<Vec<_>>(),
    }});
    let subject = Some(session.user_id.to_string());
    origin.event(org_id, EventType::SessionReauthenticated, subject, &data)
}

/// `session.sign_in_failed`, with the system as actor (nobody authenticated). The address
/// tried is not kept: people type passwords into it.
pub fn sign_in_failed(
    org_id: OrgId,
    user_id: Option<UserId>,
    failure: SignInFailure,
    request_id: Option<String>,
) -> NewEvent {
    let origin = Origin {
        actor: Actor::System,
        request_id,
    };
    let data = json!({"user_id": user_id, "reason": failure.as_str()});
    let subject = user_id.map(|id| id.to_string());
    origin.event(org_id, EventType::SessionSignInFailed, subject, &data)
}

/// `user.locked`: `failed` sign-ins in a row locked the account until `until`. The system is the
/// actor; the request is the attempt that crossed the threshold.
pub fn locked(
    org_id: OrgId,
    user_id: &UserId,
    until: chrono::NaiveDateTime,
    failed: i32,
    request_id: Option<String>,
) -> NewEvent {
    let origin = Origin {
        actor: Actor::System,
        request_id,
    };
    let until = Timestamp::from(until).to_string();
    let data = json!({"object": {"id": user_id, "locked_until": until}, "failed_sign_ins": failed});
    origin.event(
        org_id,
        EventType::UserLocked,
        Some(user_id.to_string()),
        &data,
    )
}

/// `user.unlocked`: `origin` (an administrator) lifted the lock.
pub fn unlocked(origin: &Origin, org_id: OrgId, user_id: &UserId) -> NewEvent {
    let data = json!({"object": {"id": user_id, "locked_until": null}, "failed_sign_ins": 0});
    origin.event(
        org_id,
        EventType::UserUnlocked,
        Some(user_id.to_string()),
        &data,
    )
}
