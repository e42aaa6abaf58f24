//! `GET`/`PATCH /v1/me`: the signed-in user's own profile. Session tokens only; an API key gets
//! 403. Handlers stay thin: authenticate, read the body by `patch`'s rules, call `db::users`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem::web::{Data, RemoteAddr};
use poem_openapi::{
    ApiResponse, Object, OpenApi, param::Header, payload::Json, types::MaybeUndefined,
};
use serde_json::Value;

use super::{
    ApiTags, AppState, BearerAuth,
    credential_input::Prover,
    envelope::{envelope, error_responses},
    model::{Extras, UserFields, user_fields},
    patch::PatchBody,
    sessions::client_address,
    user_input::{ME_FIELDS, read_me_patch},
};
use crate::{
    db::{
        me::{self, MeRows},
        models::{Session, User},
        users,
    },
    domain::{OrgId, SessionId, TeamId},
    error::ApiError,
};

/// The organization the user belongs to.
#[derive(Debug, Clone, Object)]
pub struct OrgRef {
    pub id: OrgId,
    pub name: String,
}

/// A team the user belongs to, with the user's role in it.
#[derive(Debug, Clone, Object)]
pub struct MyTeam {
    pub id: TeamId,
    pub name: String,
    pub role: String,
}

/// The session the request was made with.
#[derive(Debug, Clone, Object)]
pub struct CurrentSession {
    pub id: SessionId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl CurrentSession {
    pub fn of(session: &Session) -> Self {
        Self {
            id: session.id,
            created_at: session.created_at.and_utc(),
            expires_at: session.expires_at.and_utc(),
        }
    }
}

/// The signed-in user as they see themselves: their user fields plus organization, teams,
/// scopes and session. `server_metadata`, the password hash and the TOTP secret never appear here.
#[derive(Debug, Clone, Object)]
pub struct Me {
    #[oai(flatten)]
    pub user: UserFields,
    pub org: OrgRef,
    /// Every team the user is a member of, by name.
    pub teams: Vec<MyTeam>,
    /// The scopes this principal acts with on the admin surface.
    pub scopes: Vec<String>,
    pub session: CurrentSession,
}

/// Changes to the signed-in user. A field that is absent is left unchanged; `null` clears a
/// nullable field; `{}` changes nothing and returns the current state. All or nothing: when any
/// field is invalid nothing is written and every invalid field is reported. Unknown fields are a
/// 400; `id`, `org_id`, `created_at` a 400 `IMMUTABLE_FIELD`; fields that exist but are not the
/// user's to write (`role`, `status`, `server_metadata`, `client_read_only_metadata`,
/// `primary_email_verified`, `password_hash`, …) a 403 `FIELD_NOT_WRITABLE`.
#[derive(Debug, Clone, Object)]
pub struct MePatch {
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
    /// An absolute `https://` or `http://` URL (≤ 2,048 characters) or a
    /// `data:image/{png,jpeg,gif,webp};base64,` URL of at most 100 KB whose bytes are that type.
    #[oai(nullable)]
    pub profile_image_url: MaybeUndefined<String>,
    /// A BCP 47 tag; stored canonicalised (`en-us` → `en-US`). Invalid: 422 `INVALID_LOCALE`.
    #[oai(nullable)]
    pub locale: MaybeUndefined<String>,
    /// An IANA time zone name (`America/New_York`, `UTC`), matched case-insensitively and
    /// stored in canonical spelling. Unknown: 422 `INVALID_TIMEZONE`.
    #[oai(nullable)]
    pub timezone: MaybeUndefined<String>,
    /// E.164 (`+14155550123`); a change resets `phone_number_verified` to false.
    #[oai(nullable)]
    pub phone_number: MaybeUndefined<String>,
    /// A valid address (≤ 254 characters), unique in the organization case-insensitively
    /// (409 `EMAIL_TAKEN`); stored and returned with its domain in ASCII (`xn--`) form (see
    /// E-mail addresses). A new address resets `primary_email_verified` to false.
    #[oai(nullable)]
    pub primary_email: MaybeUndefined<String>,
    /// A team the user is a member of (422 `NOT_A_TEAM_MEMBER` otherwise); `null` clears it.
    #[oai(nullable)]
    pub selected_team_id: MaybeUndefined<TeamId>,
    /// Merged as JSON Merge Patch (RFC 7396): keys replace, `null` deletes a key, objects merge.
    /// The result may have at most 16 top-level keys, keys of 1–64 characters from
    /// `[A-Za-z0-9_.-]`, nesting at most 5 deep and 8 KiB serialised (422 `INVALID_METADATA`).
    #[oai(validator(max_properties = 16))]
    pub client_metadata: Option<BTreeMap<String, Value>>,
    /// A new password: 8–256 characters, not easily guessed (zxcvbn score 3 or more, not made
    /// of your own name or address), else 422 `WEAK_PASSWORD`. When a password is already set,
    /// `current_password` must be sent too (403 when missing or wrong). Every other session of
    /// the user is revoked; the one making this request stays signed in.
    #[oai(validator(min_length = 8, max_length = 256))]
    pub password: Option<String>,
    /// The password being replaced; only together with `password`.
    pub current_password: Option<String>,
    /// Turns two-factor authentication on: a TOTP secret (RFC 6238: HMAC-SHA1, 6 digits,
    /// 30-second steps) as standard base64 of 16–128 bytes, sent with a `totp_code` computed
    /// from it now; a code that does not match is 422 `INVALID_TOTP_SECRET` and nothing is
    /// stored. From an authenticator's base32 secret: `echo -n SECRET | base32 -d | base64`.
    /// `null` with a current `totp_code` turns it off (403 without a valid code). To replace a
    /// secret, turn 2FA off first. The secret is never returned; `otp_auth_enabled` says
    /// whether 2FA is on.
    #[oai(nullable)]
    pub totp_secret_base64: MaybeUndefined<String>,
    /// Six digits from the authenticator, proving the secret being enrolled or removed. Each
    /// code is accepted once.
    #[oai(validator(min_length = 6, max_length = 6))]
    pub totp_code: Option<String>,
}

envelope!(MeEnvelope, Me);

#[derive(Debug, ApiResponse)]
pub enum MeResponse {
    /// The current user. `ETag` identifies this version of the user for `If-Match`.
    #[oai(status = 200)]
    Ok(Json<MeEnvelope>, #[oai(header = "ETag")] String),
}

error_responses!(GetMeError {
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "An API key was used: `/v1/me` needs a user session token.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "The database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(PatchMeError {
    400 => BadRequest: "`MALFORMED_REQUEST` (not JSON, wrong JSON types, unknown fields) or `IMMUTABLE_FIELD`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN` for an API key, a missing or wrong `current_password`, or a missing, wrong or reused `totp_code` when turning 2FA off; `FIELD_NOT_WRITABLE` for fields the user may not write.",
    409 => Conflict: "`EMAIL_TAKEN`: another user of the organization has this address.",
    412 => PreconditionFailed: "`If-Match` does not match the current `ETag`; nothing was changed.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "One or more values are invalid; `errors` lists every one and nothing was changed.",
    429 => TooManyRequests: "`RATE_LIMITED`: too many proofs of the current password or a TOTP code (counted with sign-in attempts); retry after `Retry-After` seconds.", header "Retry-After",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "The database is unavailable; retry after `Retry-After` seconds.",
});

pub struct MeApi;

#[OpenApi(tag = "ApiTags::Me")]
impl MeApi {
    /// Get the current user
    ///
    /// The user behind the session token, with their organization, teams, the principal's
    /// scopes and the current session. API keys are not user-scoped and get 403.
    #[oai(path = "/v1/me", method = "get", operation_id = "getMe")]
    async fn get_me(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
    ) -> Result<MeResponse, GetMeError> {
        let (user, session, rows) =
            crate::auth::authenticate_me(&state.db, &state.tokens, &auth.0.token).await?;
        Ok(me_response(user, session, rows)?)
    }

    /// Update the current user
    ///
    /// Partial update with PATCH semantics: absent fields are unchanged, `null` clears a
    /// nullable field, `{}` is a no-op that returns the current state. All or nothing. Send
    /// `If-Match` with the `ETag` of a previous response to refuse the change (412) if the
    /// user changed since. The response is the whole updated user.
    #[oai(path = "/v1/me", method = "patch", operation_id = "patchMe")]
    async fn patch_me(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        remote: &RemoteAddr,
        /// The `ETag` of the version this change is based on; `*` matches any version.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<PatchBody<MePatch>>,
    ) -> Result<MeResponse, PatchMeError> {
        let (user, session) = state.authenticate(&auth).await?.into_user()?;
        let reader = body.0.reader(&ME_FIELDS)?;
        let prover = Prover {
            session_id: session.id,
            throttle: &state.sign_in_throttle,
            address: client_address(remote),
        };
        let update = read_me_patch(&state.db, reader, &user, &prover, &state.secrets).await?;
        let expected = if_match
            .0
            .as_deref()
            .map(parse_if_match)
            .transpose()?
            .flatten();
        // The user's own change: `role` and `status` are not writable here (403 above), so it
        // can neither escalate nor take an admin away.
        let own = |_: &_, _: &_| Ok(());
        let user = users::update(&state.db, &user.org_id, &user.id, expected, &update, own).await?;
        let rows = me::load(&state.db, &user).await?;
        Ok(me_response(user, session, rows)?)
    }
}

/// `"<version>"` → that version; `*` → any. Weak or malformed tags can never match (412).
pub(super) fn parse_if_match(header: &str) -> Result<Option<i64>, ApiError> {
    let header = header.trim();
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

pub fn etag(user: &User) -> String {
    format!("\"{}\"", user.version)
}

fn me_response(user: User, session: Session, rows: MeRows) -> Result<MeResponse, ApiError> {
    let MeRows {
        org,
        teams,
        selected_team,
        active_sessions,
    } = rows;
    let extras = Extras {
        selected_team,
        active_sessions,
    };
    let etag = etag(&user);
    let me = Me {
        user: user_fields(&user, extras)?,
        org: OrgRef {
            id: org.id,
            name: org.name,
        },
        teams: teams
            .into_iter()
            .map(|(team, role)| MyTeam {
                id: team.id,
                name: team.name,
                role,
            })
            .collect(),
        scopes: user
            .role
            .scopes()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        session: CurrentSession::of(&session),
    };
    Ok(MeResponse::Ok(Json(me.into()), etag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn if_match_accepts_a_strong_tag_or_a_star_and_refuses_anything_else() {
        assert_eq!(parse_if_match("\"7\"").unwrap(), Some(7));
        assert_eq!(parse_if_match("*").unwrap(), None);
        for bad in ["W/\"7\"", "7", "\"x\"", ""] {
            assert_eq!(
                parse_if_match(bad).unwrap_err().code,
                ErrorCode::PreconditionFailed,
                "{bad}"
            );
        }
    }
}
