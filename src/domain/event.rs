//! What a change event is (issue 16): its type, and who caused it.

use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};
use poem_openapi::Enum;

use super::{ApiKeyId, UserId, stored_as_text};

/// Defines `EventType` with each type's name, once.
macro_rules! event_types {
    ($($variant:ident = $name:literal),* $(,)?) => {
        // Not a doc comment: the schema's description stays on the fields that use it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Enum)]
        #[derive(AsExpression, FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum EventType {
            $(#[oai(rename = $name)] $variant,)*
        }

        impl EventType {
            pub const ALL: &[EventType] = &[$(EventType::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(EventType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    UserCreated = "user.created",
    UserUpdated = "user.updated",
    UserDeleted = "user.deleted",
    UserSuspended = "user.suspended",
    UserReactivated = "user.reactivated",
    UserPasswordChanged = "user.password_changed",
    UserTotpEnabled = "user.totp_enabled",
    UserTotpDisabled = "user.totp_disabled",
    UserRecoveryCodesRegenerated = "user.recovery_codes_regenerated",
    UserLocked = "user.locked",
    UserUnlocked = "user.unlocked",
    UserEmailVerified = "user.email_verified",
    UserEmailChanged = "user.email_changed",
    UserEmailChangeRequested = "user.email_change_requested",
    UserPasswordReset = "user.password_reset",
    UserInvited = "user.invited",
    SessionCreated = "session.created",
    SessionRevoked = "session.revoked",
    SessionReauthenticated = "session.reauthenticated",
    SessionSignInFailed = "session.sign_in_failed",
    TeamCreated = "team.created",
    TeamUpdated = "team.updated",
    TeamDeleted = "team.deleted",
    TeamMemberAdded = "team.member_added",
    TeamMemberRemoved = "team.member_removed",
    ApiKeyCreated = "api_key.created",
    ApiKeyRevoked = "api_key.revoked",
    ApiKeyRolled = "api_key.rolled",
    WebhookEndpointDisabled = "webhook_endpoint.disabled",
}

impl EventType {
    /// Whether a webhook endpoint that names no types receives this one: every type but the
    /// audit-only `session.sign_in_failed`, which an endpoint gets only by naming it.
    pub fn delivered_by_default(self) -> bool {
        self != EventType::SessionSignInFailed
    }
}

stored_as_text!(EventType, |name| EventType::parse(name));

/// Who caused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    ApiKey(ApiKeyId),
    /// The service itself (the webhook dispatcher disabling an endpoint, say): no id.
    System,
}

impl Actor {
    /// `user`, `api_key` or `system`, as stored and shown.
    pub fn kind(self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::ApiKey(_) => "api_key",
            Actor::System => "system",
        }
    }

    /// The actor's id as stored and shown; `None` for the system.
    pub fn id(self) -> Option<String> {
        match self {
            Actor::User(id) => Some(id.to_string()),
            Actor::ApiKey(id) => Some(id.to_string()),
            Actor::System => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_their_names() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(EventType::parse("user.Created"), None);
        assert!(!EventType::SessionSignInFailed.delivered_by_default());
        assert!(EventType::UserUpdated.delivered_by_default());
    }
}
