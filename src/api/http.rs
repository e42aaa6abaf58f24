//! HTTP pieces that several handlers share, so that handlers never import each other: the
//! `ETag`/`If-Match` pair, the client's address, the session a request was made with, and the
//! 204 of every delete.

use poem_openapi::{ApiResponse, Object};

use crate::{
    db::models::{Session, User},
    domain::{SessionId, Timestamp},
    error::ApiError,
};

/// The `ETag` of a user: its version, as a strong tag.
pub fn etag(user: &User) -> String {
    format!("\"{}\"", user.version)
}

/// An optional `If-Match` header: `"<version>"` → that version; `*` or no header → any.
/// Weak or malformed tags can never match (412).
pub fn if_match(header: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(header) = header.map(str::trim) else {
        return Ok(None);
    };
    if header == "*" {
        return Ok(None);
    }
    header
        .strip_prefix('"')
        .and_then(|h| h.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(ApiError::precondition_failed)
}

/// The session the request was made with.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct CurrentSession {
    /// The session's id (`DELETE /v1/me/sessions/{id}` revokes it).
    pub id: SessionId,
    /// When the session started (sign-in).
    pub created_at: Timestamp,
    /// When its token stops working, unless revoked before.
    pub expires_at: Timestamp,
    /// When the user last proved who they are in this session: at sign-in, or with
    /// `POST /v1/sessions/current/reauthenticate`. Changing `primary_email`, `password` or the
    /// TOTP settings through `/v1/me` needs this within `--reauth-window` (10 minutes by
    /// default), or a proof in the request itself.
    pub authenticated_at: Timestamp,
    /// How they proved it then (RFC 8176 names): `pwd` (password), `otp` (a TOTP code),
    /// `recovery` (a recovery code). A sign-in with 2FA lists `pwd` and the second factor.
    pub amr: Vec<String>,
}

impl CurrentSession {
    pub fn of(session: &Session) -> Self {
        Self {
            id: session.id,
            created_at: Timestamp::from(session.created_at),
            expires_at: Timestamp::from(session.expires_at),
            authenticated_at: Timestamp::from(session.authenticated_at),
            amr: session.amr.split_whitespace().map(str::to_owned).collect(),
        }
    }
}

#[derive(Debug, ApiResponse)]
pub enum DeletedResponse {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn if_match_accepts_a_strong_tag_or_a_star_and_refuses_anything_else() {
        assert_eq!(if_match(Some("\"7\"")).unwrap(), Some(7));
        assert_eq!(if_match(Some("*")).unwrap(), None);
        assert_eq!(if_match(None).unwrap(), None);
        for bad in ["W/\"7\"", "7", "\"x\"", ""] {
            assert_eq!(
                if_match(Some(bad)).unwrap_err().code,
                ErrorCode::PreconditionFailed,
                "{bad}"
            );
        }
    }
}
