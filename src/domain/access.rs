//! Roles, user statuses and API scopes (PRODUCT §1): the closed sets the admin surface
//! authorizes with. Stored as their lowercase names; parsing an unknown name is refused.

use super::Invalid;
use crate::error::ErrorCode;

/// What a principal may do on the admin surface of its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    UsersRead,
    UsersWrite,
    TeamsRead,
    TeamsWrite,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::TeamsRead,
        Scope::TeamsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::TeamsRead => "teams:read",
            Scope::TeamsWrite => "teams:write",
        }
    }

    pub fn parse(name: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                Invalid::new(
                    ErrorCode::ValidationFailed,
                    format!("unknown scope {name:?}; known: users:read users:write teams:read teams:write"),
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

/// A user's role inside the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleName {
    Admin,
    Member,
    Viewer,
}

impl RoleName {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleName::Admin => "admin",
            RoleName::Member => "member",
            RoleName::Viewer => "viewer",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(RoleName::Admin),
            "member" => Some(RoleName::Member),
            "viewer" => Some(RoleName::Viewer),
            _ => None,
        }
    }

    /// Admins act with every scope, viewers with the read scopes, members with none.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            RoleName::Admin => &Scope::ALL,
            RoleName::Viewer => &[Scope::UsersRead, Scope::TeamsRead],
            RoleName::Member => &[],
        }
    }
}

/// Whether a user may sign in and use their sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusName {
    Active,
    Suspended,
}

impl StatusName {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusName::Active => "active",
            StatusName::Suspended => "suspended",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "active" => Some(StatusName::Active),
            "suspended" => Some(StatusName::Suspended),
            _ => None,
        }
    }
}

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
        assert_eq!(RoleName::Admin.scopes(), Scope::ALL);
        assert_eq!(
            RoleName::Viewer.scopes(),
            [Scope::UsersRead, Scope::TeamsRead]
        );
        assert!(RoleName::Member.scopes().is_empty());
    }

    #[test]
    fn roles_and_statuses_parse_only_their_own_names() {
        assert_eq!(RoleName::parse("viewer"), Some(RoleName::Viewer));
        assert_eq!(RoleName::parse("Admin"), None);
        assert_eq!(StatusName::parse("suspended"), Some(StatusName::Suspended));
        assert_eq!(StatusName::parse("deleted"), None);
    }
}
