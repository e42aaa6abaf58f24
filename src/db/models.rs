//! Rows as stored. Ids and profile values are domain types (`UserId`, `Timezone`, …), each
//! stored as its text, and metadata is JSON text; conversion to API types happens in `api`,
//! never here.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::{
    ApiKeyId, Bio, DisplayName, EmailAddress, Locale, OrgId, PersonName, PhoneNumber, ProfileImage,
    Role, SessionId, SuspensionReason, TeamId, Timezone, UserId, UserStatus,
};

use super::schema::{
    api_keys, idempotency_keys, organizations, sessions, team_members, teams, users,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub status: UserStatus,
    pub role: Role,
    pub display_name: Option<DisplayName>,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub bio: Option<Bio>,
    pub profile_image_url: Option<ProfileImage>,
    pub phone_number: Option<PhoneNumber>,
    pub phone_number_verified: bool,
    pub locale: Option<Locale>,
    pub timezone: Option<Timezone>,
    pub primary_email: Option<EmailAddress>,
    pub primary_email_key: Option<String>,
    pub primary_email_verified: bool,
    pub primary_email_auth_enabled: bool,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub selected_team_id: Option<TeamId>,
    pub client_metadata: String,
    pub client_read_only_metadata: String,
    pub server_metadata: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_active_at: Option<NaiveDateTime>,
    /// The last TOTP time step whose code was accepted (replay guard).
    pub totp_last_step: Option<i64>,
    /// Failed sign-ins in a row since the last success (`db::lockout`).
    pub failed_sign_ins: i32,
    /// Until when every sign-in is refused (`--lockout-threshold`); `None`: not locked.
    pub locked_until: Option<NaiveDateTime>,
    /// Why the user is suspended (for admins only); `None` when no reason was given.
    pub suspension_reason: Option<SuspensionReason>,
    /// Until when a suspension holds; `None`: indefinitely (or not suspended).
    pub suspended_until: Option<NaiveDateTime>,
}

/// A stored `status` as it holds at `now`: a suspension whose `suspended_until` has passed is
/// over, so the user is active again without anything being written (issue 18, timed bans).
pub fn status_at(
    status: UserStatus,
    suspended_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> UserStatus {
    match status {
        UserStatus::Suspended if suspended_until.is_some_and(|until| until <= now) => {
            UserStatus::Active
        }
        status => status,
    }
}

impl User {
    /// The status as it holds at `now` (a lapsed timed ban is over: `status_at`).
    pub fn status_at(&self, now: NaiveDateTime) -> UserStatus {
        status_at(self.status, self.suspended_until, now)
    }

    /// Until when the account is locked (`db::lockout`), while the lock holds at `now`.
    pub fn locked_at(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.locked_until.filter(|until| *until > now)
    }

    /// `status_at` the current time.
    pub fn status_now(&self) -> UserStatus {
        self.status_at(super::now())
    }
}

/// Columns a PATCH may change. `None` leaves a column alone; for nullable columns `Some(None)`
/// writes NULL.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub display_name: Option<Option<DisplayName>>,
    pub first_name: Option<Option<PersonName>>,
    pub last_name: Option<Option<PersonName>>,
    pub bio: Option<Option<Bio>>,
    pub profile_image_url: Option<Option<ProfileImage>>,
    pub phone_number: Option<Option<PhoneNumber>>,
    pub phone_number_verified: Option<bool>,
    pub locale: Option<Option<Locale>>,
    pub timezone: Option<Option<Timezone>>,
    pub client_metadata: Option<String>,
    pub selected_team_id: Option<Option<TeamId>>,
    pub primary_email: Option<Option<EmailAddress>>,
    pub primary_email_key: Option<Option<String>>,
    pub primary_email_verified: Option<bool>,
    pub primary_email_auth_enabled: Option<bool>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    pub client_read_only_metadata: Option<String>,
    pub server_metadata: Option<String>,
    pub password_hash: Option<Option<String>>,
    pub totp_secret: Option<Option<String>>,
    pub totp_last_step: Option<Option<i64>>,
    pub suspension_reason: Option<Option<SuspensionReason>>,
    pub suspended_until: Option<Option<NaiveDateTime>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = teams)]
pub struct Team {
    pub id: TeamId,
    pub org_id: OrgId,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = team_members)]
pub struct TeamMember {
    pub team_id: TeamId,
    pub user_id: UserId,
    pub role: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub last_active_at: NaiveDateTime,
    /// When the user last proved who they are in this session: sign-in, or a
    /// reauthentication (`--reauth-window`).
    pub authenticated_at: NaiveDateTime,
    /// How (`Amr`): space-separated `pwd`, `otp`, `recovery`.
    pub amr: String,
    /// Where the sign-in came from (after the `--trusted-proxies` rule).
    pub client_address: Option<String>,
    /// The sign-in's `User-Agent` as sent, at most `USER_AGENT_MAX` characters.
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRecord {
    pub org_id: OrgId,
    pub idempotency_key: String,
    pub request_hash: String,
    pub response_body: Option<String>,
    pub user_id: Option<UserId>,
    pub created_at: NaiveDateTime,
}
