//! Roles, user statuses and API scopes (PRODUCT §1): the closed sets the admin surface
//! authorizes with, each defined once. Each is its own OpenAPI enum and its own diesel column
//! type (stored as its lowercase name), so a `Role` is a `Role` from the request to the row.

use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};
use poem_openapi::Enum;

use crate::error::ErrorCode;

use super::{Invalid, stored_as_text};

/// A permission on the admin surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Enum)]
#[oai(rename = "ScopeName")]
pub enum Scope {
    #[oai(rename = "users:read")]
    UsersRead,
    #[oai(rename = "users:write")]
    UsersWrite,
    #[oai(rename = "teams:read")]
    TeamsRead,
    #[oai(rename = "teams:write")]
    TeamsWrite,
    #[oai(rename = "events:read")]
    EventsRead,
    #[oai(rename = "webhooks:write")]
    WebhooksWrite,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::TeamsRead,
        Scope::TeamsWrite,
        Scope::EventsRead,
        Scope::WebhooksWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::TeamsRead => "teams:read",
            Scope::TeamsWrite => "teams:write",
            Scope::EventsRead => "events:read",
            Scope::WebhooksWrite => "webhooks:write",
        }
    }

    pub fn parse(name: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                Invalid::new(
                    ErrorCode::ValidationFailed,
                    format!(
                        "unknown scope {name:?}; known: {}",
                        Scope::to_stored(&Scope::ALL)
                    ),
                )
            })
    }

    /// Scopes as stored on an API key: space-separated names. Unknown names are ignored so that a
    /// scope retired in a later version never widens what an old key may do.
    pub fn parse_stored(stored: &str) -> Vec<Scope> {
        let mut scopes: Vec<Scope> = stored
            .split_whitespace()
            .filter_map(|s| Self::parse(s).ok())
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    pub fn to_stored(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `admin` acts on the admin surface with every scope, `viewer` with `users:read` and
/// `teams:read`, `member` only on its own `/v1/me`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
#[derive(AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum Role {
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// Admins act with every scope, viewers with the read scopes, members with none.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Role::Admin => &Scope::ALL,
            Role::Viewer => &[Scope::UsersRead, Scope::TeamsRead],
            Role::Member => &[],
        }
    }
}

// Whether a user may sign in and use their sessions: `suspended` users cannot, nor can
// `invited` ones until they accept their invitation. (Not a doc comment: the schema's
// description stays on the fields that use it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
#[derive(AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum UserStatus {
    Active,
    Suspended,
    Invited,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Suspended => "suspended",
            UserStatus::Invited => "invited",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "active" => Some(UserStatus::Active),
            "suspended" => Some(UserStatus::Suspended),
            "invited" => Some(UserStatus::Invited),
            _ => None,
        }
    }
}

stored_as_text!(Role, |name| Role::parse(name));
stored_as_text!(UserStatus, |name| UserStatus::parse(name));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_names_and_unknown_names_are_refused() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()).unwrap(), scope);
        }
        for bad in ["", "users:*", "USERS:READ", "admin"] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stored_scopes_are_sorted_deduplicated_and_ignore_retired_names() {
        let stored = "teams:write users:read  users:read retired:scope";
        assert_eq!(
            Scope::parse_stored(stored),
            [Scope::UsersRead, Scope::TeamsWrite]
        );
        assert_eq!(
            Scope::to_stored(&[Scope::UsersRead, Scope::TeamsWrite]),
            "users:read teams:write"
        );
    }

    #[test]
    fn admins_hold_every_scope_viewers_the_read_scopes_and_members_none() {
        assert_eq!(Role::Admin.scopes(), Scope::ALL);
        assert_eq!(Role::Viewer.scopes(), [Scope::UsersRead, Scope::TeamsRead]);
        assert!(Role::Member.scopes().is_empty());
    }

    #[test]
    fn roles_and_statuses_parse_only_their_own_names() {
        assert_eq!(Role::parse("viewer"), Some(Role::Viewer));
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(UserStatus::parse("suspended"), Some(UserStatus::Suspended));
        assert_eq!(UserStatus::parse("deleted"), None);
    }
}
