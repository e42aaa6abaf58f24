//! The user as the API shows it, shared by `/v1/me` and `/v1/users`: `UserFields` holds what
//! both surfaces show and is flattened into `Me` (with organization, teams, scopes and session)
//! and `User`. `server_metadata` exists only on
//! `User` (the admin view); the password hash and TOTP secret exist on neither.

use std::collections::{BTreeMap, HashMap};

use poem_openapi::Object;
use serde_json::Value;

use super::http::CurrentSession;
use crate::{
    db::models,
    domain::{
        Bio, DisplayName, EmailAddress, Locale, OrgId, PersonName, PhoneNumber, ProfileImage, Role,
        SuspensionReason, TeamId, Timestamp, Timezone, UserId, UserStatus,
    },
    error::ApiError,
};

/// A team, by id and name.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct TeamRef {
    /// The team's id.
    pub id: TeamId,
    /// The team's name, unique in the organization.
    pub name: String,
}

/// The user's fields as both surfaces show them: the stored ones, and what is looked up beside
/// the row.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct UserFields {
    #[oai(flatten)]
    #[serde(flatten)]
    pub stored: StoredUserFields,
    /// `selected_team_id` expanded.
    #[oai(nullable)]
    pub selected_team: Option<TeamRef>,
    /// The number of the user's live sessions.
    pub active_sessions: i64,
}

/// The user's fields kept in its row, as both surfaces and change events show them.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct StoredUserFields {
    /// The user's id (a UUIDv7: ids sort by creation time).
    pub id: UserId,
    /// The organization the user belongs to; never changes.
    pub org_id: OrgId,
    /// `suspended` users cannot sign in or use their sessions.
    pub status: UserStatus,
    /// Set through the admin surface only.
    pub role: Role,
    /// How the user is shown; `null` when not set.
    #[oai(nullable)]
    pub display_name: Option<DisplayName>,
    /// Given name; `null` when not set.
    #[oai(nullable)]
    pub first_name: Option<PersonName>,
    /// Family name; `null` when not set.
    #[oai(nullable)]
    pub last_name: Option<PersonName>,
    /// `first_name` and `last_name` joined by a space; read-only.
    #[oai(nullable)]
    pub full_name: Option<String>,
    /// A short text about the user; `null` when not set.
    #[oai(nullable)]
    pub bio: Option<Bio>,
    /// An `http(s)` URL or a `data:image/…` URL; `null` when not set.
    #[oai(nullable)]
    pub profile_image_url: Option<ProfileImage>,
    /// E.164.
    #[oai(nullable)]
    pub phone_number: Option<PhoneNumber>,
    /// Whether the number is known to belong to the user; false again after a change of number.
    pub phone_number_verified: bool,
    /// BCP 47, canonical casing.
    #[oai(nullable)]
    pub locale: Option<Locale>,
    /// IANA time zone name, canonical spelling.
    #[oai(nullable)]
    pub timezone: Option<Timezone>,
    /// The canonical form: the local part as sent (NFC), the domain in lower-case ASCII
    /// (`eve@xn--bcher-kva.example` for `eve@bücher.example`).
    #[oai(nullable)]
    pub primary_email: Option<EmailAddress>,
    /// Whether the address is known to belong to the user; false again after a change of address.
    pub primary_email_verified: bool,
    /// When false the user cannot sign in with e-mail and password.
    pub primary_email_auth_enabled: bool,
    /// Whether the user can sign in with a password (the hash itself is never shown).
    pub has_password: bool,
    /// Whether two-factor authentication (TOTP) is on; sign-in then needs a code.
    pub otp_auth_enabled: bool,
    /// A team the user is a member of, or null.
    #[oai(nullable)]
    pub selected_team_id: Option<TeamId>,
    /// Free-form data the user may write.
    pub client_metadata: BTreeMap<String, Value>,
    /// Data the user may read but only an admin may write.
    pub client_read_only_metadata: BTreeMap<String, Value>,
    /// When the user was created.
    pub created_at: Timestamp,
    /// Moves only when something actually changed.
    pub updated_at: Timestamp,
    /// The last authenticated request or sign-in, to the minute; `null` before the first.
    #[oai(nullable)]
    pub last_active_at: Option<Timestamp>,
}

/// A user as the admin surface shows it: everything in `Me`'s user fields plus
/// `server_metadata`. Never the password hash or the TOTP secret.
#[derive(Debug, Clone, Object)]
#[oai(rename = "User")]
pub struct AdminUser {
    #[oai(flatten)]
    pub fields: UserFields,
    /// Data only the admin surface reads and writes; never shown through `/v1/me`.
    pub server_metadata: BTreeMap<String, Value>,
    /// Until when failed sign-ins in a row lock the account (`--lockout-threshold`): every
    /// sign-in is refused meanwhile. `null` when it is not locked;
    /// `POST /v1/users/{user_id}/unlock` lifts it.
    #[oai(nullable)]
    pub locked_until: Option<Timestamp>,
    /// The terms of the suspension while `status` is `suspended`; `null` otherwise. Shown to
    /// admins only, never to the user.
    #[oai(nullable)]
    pub suspension: Option<Suspension>,
}

/// Why a user is suspended and until when.
#[derive(Debug, Clone, Object)]
pub struct Suspension {
    /// Why, as the admin wrote it; `null` when no reason was given.
    #[oai(nullable)]
    pub reason: Option<SuspensionReason>,
    /// When the suspension ends by itself: from then on the user is `active` and may sign in
    /// again, with nothing written. `null`: until an admin sets `status: active`.
    #[oai(nullable)]
    pub until: Option<Timestamp>,
}

/// A user as change events show it: the fields of `User` that are kept in the user's row, as
/// they were right after the change (without `selected_team` and `active_sessions`, which are
/// looked up when a user is read). Never the password hash or the TOTP secret.
#[derive(Debug, Clone, Object)]
pub struct UserSnapshot {
    #[oai(flatten)]
    pub stored: StoredUserFields,
    /// Data only the admin surface reads and writes.
    pub server_metadata: BTreeMap<String, Value>,
    /// The terms of the suspension while `status` is `suspended`; absent otherwise.
    #[oai(skip_serializing_if_is_none)]
    pub suspension: Option<Suspension>,
}

/// The organization the user belongs to.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct OrgRef {
    /// The organization's id.
    pub id: OrgId,
    /// The organization's name.
    pub name: String,
}

/// A team the user belongs to, with the user's role in it.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct MyTeam {
    /// The team's id.
    pub id: TeamId,
    /// The team's name.
    pub name: String,
    /// The user's role in the team (`member`).
    pub role: String,
}

/// The signed-in user as they see themselves: their user fields plus organization, teams,
/// scopes and session. `server_metadata`, the password hash and the TOTP secret never appear here.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct Me {
    #[oai(flatten)]
    #[serde(flatten)]
    pub user: UserFields,
    /// The organization the user belongs to.
    pub org: OrgRef,
    /// Every team the user is a member of, by name.
    pub teams: Vec<MyTeam>,
    /// The scopes this principal acts with on the admin surface.
    pub scopes: Vec<String>,
    /// The session this request was made with.
    pub session: CurrentSession,
    /// The address the user asked to move to through `PATCH /v1/me` on a server that sends
    /// mail, until they confirm it from the message sent there (then it becomes
    /// `primary_email`, verified) or the confirmation expires (a day); also an address an
    /// admin's `change_email` ticket is waiting to move them to. `null` when no change is
    /// waiting. The primary address, and sign-in with it, stay as they are meanwhile.
    #[oai(nullable)]
    pub pending_email: Option<EmailAddress>,
    /// How many unused TOTP recovery codes the user has left (each works once, in place of
    /// `totp_code` at sign-in); `null` when two-factor authentication is off.
    #[oai(nullable)]
    pub recovery_codes_remaining: Option<i64>,
    /// Only in the response of the `PATCH /v1/me` that turned two-factor authentication on:
    /// the 10 new recovery codes (`xxxx-xxxx-xx`), shown this once and stored only as hashes.
    /// Absent from every other response.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

pub fn metadata(stored: &str) -> Result<BTreeMap<String, Value>, ApiError> {
    serde_json::from_str(stored).map_err(ApiError::internal)
}

/// The facts about a user that live outside its row.
#[derive(Debug, Default, Clone)]
pub struct Extras {
    pub selected_team: Option<models::Team>,
    pub active_sessions: i64,
}

pub fn user_fields(user: &models::User, extras: Extras) -> Result<UserFields, ApiError> {
    let selected_team = extras
        .selected_team
        .filter(|team| user.selected_team_id == Some(team.id))
        .map(|team| TeamRef {
            id: team.id,
            name: team.name,
        });
    Ok(UserFields {
        stored: stored_user_fields(user)?,
        selected_team,
        active_sessions: extras.active_sessions,
    })
}

fn stored_user_fields(user: &models::User) -> Result<StoredUserFields, ApiError> {
    let full_name = match (&user.first_name, &user.last_name) {
        (Some(first), Some(last)) => Some(format!("{first} {last}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    };
    Ok(StoredUserFields {
        id: user.id,
        org_id: user.org_id,
        status: user.status_now(),
        role: user.role,
        display_name: user.display_name.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        full_name,
        bio: user.bio.clone(),
        profile_image_url: user.profile_image_url.clone(),
        phone_number: user.phone_number.clone(),
        phone_number_verified: user.phone_number_verified,
        locale: user.locale.clone(),
        timezone: user.timezone.clone(),
        primary_email: user.primary_email.clone(),
        primary_email_verified: user.primary_email_verified,
        primary_email_auth_enabled: user.primary_email_auth_enabled,
        has_password: user.password_hash.is_some(),
        otp_auth_enabled: user.totp_secret.is_some(),
        selected_team_id: user.selected_team_id,
        client_metadata: metadata(&user.client_metadata)?,
        client_read_only_metadata: metadata(&user.client_read_only_metadata)?,
        created_at: Timestamp::from(user.created_at),
        updated_at: Timestamp::from(user.updated_at),
        last_active_at: user.last_active_at.map(Timestamp::from),
    })
}

/// The user as change events show it, as JSON (`events::users::UserView`).
pub fn user_snapshot(user: &models::User) -> Result<Value, ApiError> {
    use poem_openapi::types::ToJSON;
    let snapshot = UserSnapshot {
        stored: stored_user_fields(user)?,
        server_metadata: metadata(&user.server_metadata)?,
        suspension: suspension(user),
    };
    Ok(snapshot.to_json().unwrap_or(Value::Null))
}

pub fn admin_user(user: &models::User, extras: Extras) -> Result<AdminUser, ApiError> {
    Ok(AdminUser {
        fields: user_fields(user, extras)?,
        server_metadata: metadata(&user.server_metadata)?,
        locked_until: user.locked_at(crate::db::now()).map(Timestamp::from),
        suspension: suspension(user),
    })
}

/// The terms of `user`'s suspension, while it holds.
fn suspension(user: &models::User) -> Option<Suspension> {
    (user.status_now() == UserStatus::Suspended).then(|| Suspension {
        reason: user.suspension_reason.clone(),
        until: user.suspended_until.map(Timestamp::from),
    })
}

/// Looks up the `Extras` of several users in two queries (selected teams, live sessions).
pub async fn extras_of(
    db: &crate::db::Db,
    users: &[models::User],
) -> Result<HashMap<UserId, Extras>, ApiError> {
    let team_ids: Vec<TeamId> = users.iter().filter_map(|u| u.selected_team_id).collect();
    let teams = crate::db::teams::find_many(db, &team_ids).await?;
    let user_ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let sessions = crate::db::sessions::count_live_many(db, &user_ids, crate::db::now()).await?;
    Ok(users
        .iter()
        .map(|u| {
            let extras = Extras {
                selected_team: u
                    .selected_team_id
                    .as_ref()
                    .and_then(|id| teams.iter().find(|t| &t.id == id).cloned()),
                active_sessions: sessions.get(&u.id).copied().unwrap_or(0),
            };
            (u.id, extras)
        })
        .collect())
}

/// One user's `Extras`.
pub async fn extras_of_one(db: &crate::db::Db, user: &models::User) -> Result<Extras, ApiError> {
    Ok(extras_of(db, std::slice::from_ref(user))
        .await?
        .remove(&user.id)
        .unwrap_or_default())
}
