//! How the spec describes a change event: `Event` is a `oneOf` of one schema per type,
//! discriminated by `type`, each the common fields plus its own `data`. The server itself never
//! builds these: events are stored as the JSON `events::to_json` gives, and `EventJson` sends
//! that JSON under `Event`'s schema. The contract tests read every event back through the
//! generated client, which parses it by these schemas.

use std::borrow::Cow;

use poem_openapi::{
    Enum, Object, Union,
    registry::{MetaSchemaRef, Registry},
    types::{ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use super::{api_keys::ApiKey, model::UserSnapshot, teams::Team};
use crate::{
    domain::{OrgId, SessionId, TeamId, Timestamp, UserId},
    events::sessions::SignInFailure,
};

/// Who caused the event: a user, an API key, or the service itself (`id` is then `null`).
#[derive(Debug, Clone, Object)]
pub struct EventActor {
    /// `user`, `api_key` or `system`.
    #[oai(rename = "type")]
    pub kind: ActorType,
    /// The user's or API key's id; `null` for `system`.
    #[oai(nullable)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ActorType {
    User,
    ApiKey,
    System,
}

/// What every event has.
#[derive(Debug, Clone, Object)]
pub struct EventFields {
    /// The event's id (a ULID); a webhook delivery's `webhook-id`.
    pub id: String,
    /// The organization's event number: 1, 2, 3, … in commit order, with no gaps.
    pub sequence: i64,
    /// When the change was committed.
    pub occurred_at: Timestamp,
    /// The organization the change belongs to.
    pub org_id: OrgId,
    /// Who made the change.
    pub actor: EventActor,
    /// The `X-Request-Id` of the request that made the change; `null` when none did.
    #[oai(nullable)]
    pub request_id: Option<String>,
}

/// One changed field. A secret (a password, a TOTP secret) is listed with `secret: true` and
/// `null` values: that it changed, never what it was or is.
#[derive(Debug, Clone, Object)]
pub struct FieldChange {
    /// The field's name, as in `object`; `password` or `totp_secret` for a secret.
    pub field: String,
    /// Whether the field is a secret (then both values are `null`).
    pub secret: bool,
    /// The value before the change, of the field's type (`null` when it was not set).
    pub before: Value,
    /// The value after the change, of the field's type (`null` when it is no longer set).
    pub after: Value,
}

/// A user after the change, and what changed (`[]` for `user.created`).
#[derive(Debug, Clone, Object)]
pub struct UserEventData {
    /// The user right after the change.
    pub object: UserSnapshot,
    /// The fields the change changed, by name; `[]` for a creation.
    pub changes: Vec<FieldChange>,
}

/// Something deleted or revoked: only its id remains.
#[derive(Debug, Clone, Object)]
pub struct GoneObject {
    /// The id it had.
    pub id: String,
    /// `true` for a deletion.
    #[oai(skip_serializing_if_is_none)]
    pub deleted: Option<bool>,
    /// `true` for a revocation.
    #[oai(skip_serializing_if_is_none)]
    pub revoked: Option<bool>,
}

/// What was deleted or revoked.
#[derive(Debug, Clone, Object)]
pub struct GoneData {
    /// What is gone.
    pub object: GoneObject,
}

/// The account a lock is about.
#[derive(Debug, Clone, Object)]
pub struct LockObject {
    /// The user's id.
    pub id: UserId,
    /// Until when every sign-in is refused; `null` once unlocked.
    #[oai(nullable)]
    pub locked_until: Option<Timestamp>,
}

/// An account locked by failed sign-ins, or unlocked by an administrator.
#[derive(Debug, Clone, Object)]
pub struct LockData {
    /// The account.
    pub object: LockObject,
    /// The failed sign-ins in a row that locked it (0 on unlocking).
    pub failed_sign_ins: i32,
}

/// The user whose recovery codes were replaced.
#[derive(Debug, Clone, Object)]
pub struct RecoveryCodesObject {
    /// The user's id.
    pub id: UserId,
    /// Unused codes after the change (the codes themselves are never in an event).
    pub recovery_codes_remaining: i64,
}

/// A new set of TOTP recovery codes.
#[derive(Debug, Clone, Object)]
pub struct RecoveryCodesData {
    /// The user.
    pub object: RecoveryCodesObject,
}

/// A session as its events show it.
#[derive(Debug, Clone, Object)]
pub struct SessionObject {
    /// The session's id.
    pub id: SessionId,
    /// The user it belongs to.
    pub user_id: UserId,
    /// When it was created (`session.created`).
    #[oai(skip_serializing_if_is_none)]
    pub created_at: Option<Timestamp>,
    /// When its token stops working (`session.created`).
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<Timestamp>,
    /// `true` (`session.revoked`).
    #[oai(skip_serializing_if_is_none)]
    pub revoked: Option<bool>,
    /// When the user last proved who they are in it (`session.reauthenticated`).
    #[oai(skip_serializing_if_is_none)]
    pub authenticated_at: Option<Timestamp>,
    /// How (`session.created`, `session.reauthenticated`): `pwd`, `otp`, `recovery`.
    #[oai(skip_serializing_if_is_none)]
    pub amr: Option<Vec<String>>,
}

/// The session.
#[derive(Debug, Clone, Object)]
pub struct SessionEventData {
    /// The session.
    pub object: SessionObject,
}

/// A refused sign-in. The address tried is not kept (people type passwords into it).
#[derive(Debug, Clone, Object)]
pub struct SignInFailedData {
    /// The user the address names; `null` when it names none.
    #[oai(nullable)]
    pub user_id: Option<UserId>,
    /// Why it was refused.
    pub reason: SignInFailure,
}

/// A team after the change, and what changed (`[]` for `team.created`).
#[derive(Debug, Clone, Object)]
pub struct TeamEventData {
    /// The team right after the change.
    pub object: Team,
    /// The fields the change changed; `[]` for a creation.
    pub changes: Vec<FieldChange>,
}

/// A membership.
#[derive(Debug, Clone, Object)]
pub struct Membership {
    /// The team.
    pub team_id: TeamId,
    /// The member.
    pub user_id: UserId,
}

/// The membership added or removed.
#[derive(Debug, Clone, Object)]
pub struct MembershipData {
    /// The membership.
    pub object: Membership,
}

/// The new key (never its secret).
#[derive(Debug, Clone, Object)]
pub struct ApiKeyEventData {
    /// The key as listed.
    pub object: ApiKey,
}

/// A webhook endpoint the dispatcher disabled.
#[derive(Debug, Clone, Object)]
pub struct EndpointObject {
    /// The endpoint's id.
    pub id: String,
    /// Where it delivered to.
    pub url: String,
    /// Always `true`.
    pub disabled: bool,
}

/// Why the endpoint was disabled: `retries_exhausted`.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum DisabledReason {
    RetriesExhausted,
}

/// The event the endpoint kept refusing.
#[derive(Debug, Clone, Object)]
pub struct FailedEvent {
    /// Its id.
    pub id: String,
    /// Its sequence.
    pub sequence: i64,
    /// Its type.
    #[oai(rename = "type")]
    pub kind: String,
}

/// The endpoint disabled after its retries ran out, and the event it was stuck on (deliver
/// again by setting `disabled: false`; delivery resumes at that event).
#[derive(Debug, Clone, Object)]
pub struct EndpointEventData {
    /// The endpoint.
    pub object: EndpointObject,
    /// Why it was disabled.
    pub reason: DisabledReason,
    /// The event it was stuck on.
    pub failed_event: FailedEvent,
    /// How many attempts were made at that event.
    pub attempts: i32,
}

/// Declares one schema per event type, and `Event`, their union.
macro_rules! event_schemas {
    ($($variant:ident($data:ty) = $name:literal: $doc:literal),* $(,)?) => {
        $(
            #[doc = $doc]
            #[derive(Debug, Clone, Object)]
            pub struct $variant {
                #[oai(flatten)]
                pub fields: EventFields,
                /// What happened; its shape depends on `type`.
                pub data: $data,
            }
        )*

        /// A change event: the common fields, a `type`, and that type's `data`.
        // The variants are named as their schemas, which SDKs show.
        #[allow(clippy::enum_variant_names)]
        #[derive(Debug, Clone, Union)]
        #[oai(discriminator_name = "type", one_of)]
        pub enum Event {
            $(#[oai(mapping = $name)] $variant($variant),)*
        }
    };
}

event_schemas! {
    UserCreatedEvent(UserEventData) = "user.created": "A user was created.",
    UserUpdatedEvent(UserEventData) = "user.updated": "A user's row changed; `changes` lists what.",
    UserDeletedEvent(GoneData) = "user.deleted": "A user was deleted, with their data.",
    UserSuspendedEvent(UserEventData) = "user.suspended": "A user was suspended.",
    UserReactivatedEvent(UserEventData) = "user.reactivated": "A suspended user was made active.",
    UserPasswordChangedEvent(UserEventData) = "user.password_changed": "A user's password was set, changed or removed.",
    UserTotpEnabledEvent(UserEventData) = "user.totp_enabled": "Two-factor authentication was turned on (or its secret replaced).",
    UserTotpDisabledEvent(UserEventData) = "user.totp_disabled": "Two-factor authentication was turned off (its recovery codes with it).",
    UserRecoveryCodesRegeneratedEvent(RecoveryCodesData) = "user.recovery_codes_regenerated": "The user replaced their TOTP recovery codes (`POST /v1/me/recovery-codes`); the old ones no longer work.",
    UserEmailVerifiedEvent(UserEventData) = "user.email_verified": "A user proved their address by redeeming a `verify_email` ticket (with `user.updated`).",
    UserEmailChangedEvent(UserEventData) = "user.email_changed": "A user moved to a new, verified address by redeeming a `change_email` ticket (with `user.updated`).",
    UserEmailChangeRequestedEvent(UserEventData) = "user.email_change_requested": "A user asked to move to a new address through `PATCH /v1/me` while users-api sends mail (with `user.updated`): it is `object.pending_email` until the `change_email` ticket mailed to it is redeemed (then `user.email_changed`).",
    UserPasswordResetEvent(UserEventData) = "user.password_reset": "A user set a new password by redeeming a `reset_password` ticket (with `user.updated` and `user.password_changed`); every session was revoked.",
    UserInvitedEvent(UserEventData) = "user.invited": "A user was created as `invited` (with `user.created`); they become `active` by redeeming an `invite` ticket.",
    UserLockedEvent(LockData) = "user.locked": "Failed sign-ins in a row (`--lockout-threshold`) locked the account until `object.locked_until`; the system is the actor.",
    UserUnlockedEvent(LockData) = "user.unlocked": "An administrator unlocked the account (`POST /v1/users/{user_id}/unlock`).",
    SessionCreatedEvent(SessionEventData) = "session.created": "A user signed in.",
    SessionRevokedEvent(SessionEventData) = "session.revoked": "A user signed out, or revoked one of their sessions.",
    SessionReauthenticatedEvent(SessionEventData) = "session.reauthenticated": "A user proved who they are again in a session (`POST /v1/sessions/current/reauthenticate`); `object.authenticated_at` moved.",
    SessionSignInFailedEvent(SignInFailedData) = "session.sign_in_failed": "A sign-in was refused (audit only: webhooks get it only when they name it).",
    TeamCreatedEvent(TeamEventData) = "team.created": "A team was created.",
    TeamUpdatedEvent(TeamEventData) = "team.updated": "A team was renamed.",
    TeamDeletedEvent(GoneData) = "team.deleted": "A team was deleted with its memberships.",
    TeamMemberAddedEvent(MembershipData) = "team.member_added": "A user joined a team.",
    TeamMemberRemovedEvent(MembershipData) = "team.member_removed": "A user left a team.",
    ApiKeyCreatedEvent(ApiKeyEventData) = "api_key.created": "An API key was created.",
    ApiKeyRevokedEvent(GoneData) = "api_key.revoked": "An API key was revoked.",
    ApiKeyRolledEvent(ApiKeyEventData) = "api_key.rolled": "An API key got a new secret; the previous one works until `object.previous_secret_expires_at`.",
    WebhookEndpointDisabledEvent(EndpointEventData) = "webhook_endpoint.disabled": "A webhook endpoint was disabled after its retries ran out.",
}

/// A stored event's JSON, sent as it is and described by `Event`'s schema.
#[derive(Debug, Clone)]
pub struct EventJson(pub Value);

impl Type for EventJson {
    const IS_REQUIRED: bool = true;
    type RawValueType = Value;
    type RawElementValueType = Value;

    fn name() -> Cow<'static, str> {
        Event::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        Event::schema_ref()
    }

    fn register(registry: &mut Registry) {
        Event::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ToJSON for EventJson {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

/// Only to satisfy `Object`; the API never reads events.
impl ParseFromJSON for EventJson {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Self(value.unwrap_or_default()))
    }
}
