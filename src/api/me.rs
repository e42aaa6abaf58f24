//! `GET`/`PATCH /v1/me`: the signed-in user's own profile. Session tokens only; an API key gets
//! 403. Handlers stay thin: authenticate, read the body by `patch`'s rules, call `db::users`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, param::Header, payload::Json, types::MaybeUndefined,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    ApiTags, AppState, BearerAuth,
    envelope::{envelope, error_responses},
    patch::{FieldRules, PatchBody},
};
use crate::{
    db::{
        self,
        models::{Organization, Session, Team, User, UserChanges},
        orgs, sessions,
        users::{self, UserUpdate},
    },
    domain::{Bio, DisplayName, Locale, PersonName, PhoneNumber, ProfileImage, Timezone},
    error::ApiError,
};

/// What a user may do through `/v1/me`. Everything else that exists on the user is either
/// immutable (400) or not the user's to write (403).
const ME_FIELDS: FieldRules = FieldRules {
    writable: &[
        "display_name",
        "first_name",
        "last_name",
        "bio",
        "profile_image_url",
        "locale",
        "timezone",
        "phone_number",
        "client_metadata",
    ],
    not_writable: &[
        "status",
        "role",
        "full_name",
        "phone_number_verified",
        "primary_email_verified",
        "primary_email_auth_enabled",
        "has_password",
        "otp_auth_enabled",
        "selected_team",
        "client_read_only_metadata",
        "server_metadata",
        "active_sessions",
        "updated_at",
        "last_active_at",
        "org",
        "teams",
        "scopes",
        "session",
    ],
    immutable: &["id", "org_id", "created_at"],
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Suspended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
    Viewer,
}

impl Role {
    fn parse(stored: &str) -> Result<Self, ApiError> {
        match stored {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "viewer" => Ok(Role::Viewer),
            other => Err(ApiError::internal(format!("unknown stored role {other:?}"))),
        }
    }

    /// Admins act with every scope, viewers with the read scopes, members with none.
    fn scopes(self) -> Vec<String> {
        let scopes: &[&str] = match self {
            Role::Admin => &crate::auth::ALL_SCOPES,
            Role::Viewer => &["users:read", "teams:read"],
            Role::Member => &[],
        };
        scopes.iter().map(|s| s.to_string()).collect()
    }
}

/// The organization the user belongs to.
#[derive(Debug, Clone, Object)]
pub struct OrgRef {
    pub id: Uuid,
    pub name: String,
}

/// A team the user belongs to, with the user's role in it.
#[derive(Debug, Clone, Object)]
pub struct MyTeam {
    pub id: Uuid,
    pub name: String,
    pub role: String,
}

/// The session the request was made with.
#[derive(Debug, Clone, Object)]
pub struct CurrentSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The signed-in user as they see themselves. `server_metadata`, the password hash and the TOTP
/// secret never appear here.
#[derive(Debug, Clone, Object)]
pub struct Me {
    pub id: Uuid,
    pub org_id: Uuid,
    /// `suspended` users cannot sign in or use their sessions.
    pub status: UserStatus,
    /// Set through the admin surface only.
    pub role: Role,
    #[oai(nullable)]
    pub display_name: Option<String>,
    #[oai(nullable)]
    pub first_name: Option<String>,
    #[oai(nullable)]
    pub last_name: Option<String>,
    /// `first_name` and `last_name` joined by a space; read-only.
    #[oai(nullable)]
    pub full_name: Option<String>,
    #[oai(nullable)]
    pub bio: Option<String>,
    #[oai(nullable)]
    pub profile_image_url: Option<String>,
    /// E.164.
    #[oai(nullable)]
    pub phone_number: Option<String>,
    pub phone_number_verified: bool,
    /// BCP 47, canonical casing.
    #[oai(nullable)]
    pub locale: Option<String>,
    /// IANA time zone name, canonical spelling.
    #[oai(nullable)]
    pub timezone: Option<String>,
    #[oai(nullable)]
    pub primary_email: Option<String>,
    pub primary_email_verified: bool,
    /// When false the user cannot sign in with e-mail and password.
    pub primary_email_auth_enabled: bool,
    pub has_password: bool,
    pub otp_auth_enabled: bool,
    #[oai(nullable)]
    pub selected_team_id: Option<Uuid>,
    /// Free-form data the user may write.
    pub client_metadata: BTreeMap<String, Value>,
    /// Data the user may read but only an admin may write.
    pub client_read_only_metadata: BTreeMap<String, Value>,
    /// The number of the user's live sessions.
    pub active_sessions: i64,
    pub created_at: DateTime<Utc>,
    /// Moves only when something actually changed.
    pub updated_at: DateTime<Utc>,
    #[oai(nullable)]
    pub last_active_at: Option<DateTime<Utc>>,
    pub org: OrgRef,
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
/// `primary_email_verified`, …) a 403 `FIELD_NOT_WRITABLE`.
#[derive(Debug, Clone, Object)]
pub struct MePatch {
    /// 1–100 characters after trimming, no control characters; stored NFC-normalised.
    #[oai(nullable, validator(min_length = 1, max_length = 100))]
    pub display_name: MaybeUndefined<String>,
    /// 1–64 letters (any script) with single spaces, hyphens or apostrophes between them.
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub first_name: MaybeUndefined<String>,
    /// Same rules as `first_name`.
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub last_name: MaybeUndefined<String>,
    /// 1–2,000 characters after trimming; line breaks and tabs allowed, other control
    /// characters not. Send `null` to clear.
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
    /// Merged as JSON Merge Patch (RFC 7396): keys replace, `null` deletes a key, objects merge.
    /// The result may have at most 16 top-level keys, keys of 1–64 characters from
    /// `[A-Za-z0-9_.-]`, nesting at most 5 deep and 8 KiB serialised (422 `INVALID_METADATA`).
    #[oai(validator(max_properties = 16))]
    pub client_metadata: Option<BTreeMap<String, Value>>,
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
    403 => Forbidden: "`FORBIDDEN` for an API key; `FIELD_NOT_WRITABLE` for fields the user may not write.",
    412 => PreconditionFailed: "`If-Match` does not match the current `ETag`; nothing was changed.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "One or more values are invalid; `errors` lists every one and nothing was changed.",
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
        let (user, session) = state.authenticate(&auth).await?.into_user()?;
        Ok(me_response(&state, user, session).await?)
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
        /// The `ETag` of the version this change is based on; `*` matches any version.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<PatchBody<MePatch>>,
    ) -> Result<MeResponse, PatchMeError> {
        let (user, session) = state.authenticate(&auth).await?.into_user()?;
        let update = read_me_patch(body.0, &user)?;
        let expected = if_match
            .0
            .as_deref()
            .map(parse_if_match)
            .transpose()?
            .flatten();
        let user = users::update(&state.db, &user.id, expected, &update).await?;
        Ok(me_response(&state, user, session).await?)
    }
}

fn read_me_patch(body: PatchBody<MePatch>, user: &User) -> Result<UserUpdate, ApiError> {
    let mut r = body.reader(&ME_FIELDS)?;
    let changes = UserChanges {
        display_name: r.nullable("display_name", DisplayName::parse, DisplayName::into_inner),
        first_name: r.nullable("first_name", PersonName::parse, PersonName::into_inner),
        last_name: r.nullable("last_name", PersonName::parse, PersonName::into_inner),
        bio: r.nullable("bio", Bio::parse, Bio::into_inner),
        profile_image_url: r.nullable(
            "profile_image_url",
            ProfileImage::parse,
            ProfileImage::into_inner,
        ),
        phone_number: r.nullable("phone_number", PhoneNumber::parse, PhoneNumber::into_inner),
        locale: r.nullable("locale", Locale::parse, Locale::into_inner),
        timezone: r.nullable("timezone", Timezone::parse, Timezone::into_inner),
        ..UserChanges::default()
    };
    let client_metadata_patch = r.non_null_object("client_metadata", "INVALID_METADATA");
    if let Some(patch) = &client_metadata_patch {
        // Checked here against the row as authenticated, so that this error is reported together
        // with the others; the transaction checks again against the locked row.
        if let Err(invalid) = users::merged_metadata(&user.client_metadata, patch) {
            r.invalid("client_metadata", invalid);
        }
    }
    r.finish()?;
    Ok(UserUpdate {
        changes,
        client_metadata_patch,
    })
}

/// `"<version>"` → that version; `*` → any. Weak or malformed tags can never match (412).
fn parse_if_match(header: &str) -> Result<Option<i64>, ApiError> {
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

async fn me_response(
    state: &AppState,
    user: User,
    session: Session,
) -> Result<MeResponse, ApiError> {
    let org = orgs::find(&state.db, &user.org_id).await?;
    let teams = users::teams_of(&state.db, &user.id).await?;
    let active_sessions = sessions::count_live(&state.db, &user.id, db::now()).await?;
    let etag = etag(&user);
    let me = build_me(user, &session, org, teams, active_sessions)?;
    Ok(MeResponse::Ok(Json(me.into()), etag))
}

fn uuid(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(ApiError::internal)
}

fn metadata(stored: &str) -> Result<BTreeMap<String, Value>, ApiError> {
    serde_json::from_str(stored).map_err(ApiError::internal)
}

fn build_me(
    user: User,
    session: &Session,
    org: Organization,
    teams: Vec<(Team, String)>,
    active_sessions: i64,
) -> Result<Me, ApiError> {
    let role = Role::parse(&user.role)?;
    let full_name = match (&user.first_name, &user.last_name) {
        (Some(first), Some(last)) => Some(format!("{first} {last}")),
        (Some(one), None) | (None, Some(one)) => Some(one.clone()),
        (None, None) => None,
    };
    let teams = teams
        .into_iter()
        .map(|(team, role)| {
            Ok(MyTeam {
                id: uuid(&team.id)?,
                name: team.name,
                role,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Me {
        id: uuid(&user.id)?,
        org_id: uuid(&user.org_id)?,
        status: if user.status == "suspended" {
            UserStatus::Suspended
        } else {
            UserStatus::Active
        },
        role,
        display_name: user.display_name,
        first_name: user.first_name,
        last_name: user.last_name,
        full_name,
        bio: user.bio,
        profile_image_url: user.profile_image_url,
        phone_number: user.phone_number,
        phone_number_verified: user.phone_number_verified,
        locale: user.locale,
        timezone: user.timezone,
        primary_email: user.primary_email,
        primary_email_verified: user.primary_email_verified,
        primary_email_auth_enabled: user.primary_email_auth_enabled,
        has_password: user.password_hash.is_some(),
        otp_auth_enabled: user.totp_secret.is_some(),
        selected_team_id: user.selected_team_id.as_deref().map(uuid).transpose()?,
        client_metadata: metadata(&user.client_metadata)?,
        client_read_only_metadata: metadata(&user.client_read_only_metadata)?,
        active_sessions,
        created_at: user.created_at.and_utc(),
        updated_at: user.updated_at.and_utc(),
        last_active_at: user.last_active_at.map(|t| t.and_utc()),
        org: OrgRef {
            id: uuid(&org.id)?,
            name: org.name,
        },
        teams,
        scopes: role.scopes(),
        session: CurrentSession {
            id: uuid(&session.id)?,
            created_at: session.created_at.and_utc(),
            expires_at: session.expires_at.and_utc(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_accepts_a_strong_tag_or_a_star_and_refuses_anything_else() {
        assert_eq!(parse_if_match("\"7\"").unwrap(), Some(7));
        assert_eq!(parse_if_match("*").unwrap(), None);
        for bad in ["W/\"7\"", "7", "\"x\"", ""] {
            assert_eq!(
                parse_if_match(bad).unwrap_err().code,
                "PRECONDITION_FAILED",
                "{bad}"
            );
        }
    }
}
