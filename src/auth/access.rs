//! Access decisions, in one place (PRODUCT §1, §7). A `Principal` is who authenticated: a user
//! with a session, or an API key. On the admin surface it acts as a `Caller`: its organization
//! plus the scopes it holds — an API key the scopes it was created with, a user session those of
//! its role (`admin` every scope, `viewer` the read scopes, `member` none). Every admin operation
//! asks for exactly one scope before touching data and passes `org_id` to every query, which is
//! what keeps organizations apart.
//!
//! Privilege never escalates: a principal with only some scopes (an API key with `users:write`,
//! say) must not make an admin, nor take over or lock out one, since an admin holds every scope
//! and mints API keys. So these need every scope (an admin's session, or an API key with all
//! scopes), else 403 `INSUFFICIENT_SCOPE`:
//! - creating a user with `role: admin`, or changing a user's `role` to `admin`;
//! - changing an admin's `role`, `status`, sign-in credentials (`password`, `password_hash`,
//!   `totp_secret_base64`) or how they sign in and prove their address (`primary_email`,
//!   `primary_email_verified`, `primary_email_auth_enabled`);
//! - deleting an admin;
//! - issuing a one-time ticket for an admin (it can reset their password or move their address).
//!
//! Everything else about an admin (names, profile, phone, metadata, team) stays a `users:write`
//! change. A change is judged by what really changes, against the row as locked by the write,
//! so a user promoted to admin meanwhile is judged as an admin.

use crate::{
    db::models::{ApiKey, Session, User, UserChanges},
    domain::{Actor, ApiKeyId, OrgId, Role, Scope, UserId},
    error::{ApiError, ErrorCode, FieldError},
};

#[derive(Debug, Clone)]
pub enum Principal {
    User { user: Box<User>, session: Session },
    ApiKey(ApiKey),
}

impl Principal {
    /// The user behind a session token; API keys are refused on user-scoped routes.
    pub fn into_user(self) -> Result<(User, Session), ApiError> {
        match self {
            Principal::User { user, session } => Ok((*user, session)),
            Principal::ApiKey(_) => Err(ApiError::forbidden("api keys are not user-scoped")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: OrgId,
    pub scopes: Vec<Scope>,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    ApiKey(ApiKeyId),
    User(Role, UserId),
}

impl Caller {
    pub fn of(principal: &Principal) -> Self {
        match principal {
            Principal::ApiKey(key) => Caller {
                org_id: key.org_id,
                scopes: Scope::parse_stored(&key.scopes),
                kind: Kind::ApiKey(key.id),
            },
            Principal::User { user, .. } => {
                let role = user.role;
                Caller {
                    org_id: user.org_id,
                    scopes: role.scopes().to_vec(),
                    kind: Kind::User(role, user.id),
                }
            }
        }
    }

    /// Who the caller is, as change events name them.
    pub fn actor(&self) -> Actor {
        match self.kind {
            Kind::ApiKey(id) => Actor::ApiKey(id),
            Kind::User(_, id) => Actor::User(id),
        }
    }

    /// 403 `INSUFFICIENT_SCOPE`, naming the missing scope, unless the caller holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            return Ok(());
        }
        Err(insufficient_scope(
            format!("this call needs the {} scope", scope.as_str()),
            &[scope],
        ))
    }

    /// 403 `INSUFFICIENT_SCOPE` unless the caller holds every scope there is (an `admin`
    /// session, or an API key created with all of them); `details.scope` lists the missing
    /// ones. `action` says what needed them.
    pub fn require_every_scope(&self, action: &str) -> Result<(), ApiError> {
        let missing: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|scope| !self.scopes.contains(scope))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(insufficient_scope(
            format!("{action} needs every scope: an admin's session or an API key with all scopes"),
            &missing,
        ))
    }

    /// API keys are managed by `admin` users only: not by API keys (whatever their scopes),
    /// not by viewers or members.
    pub fn require_admin_user(&self) -> Result<(), ApiError> {
        match self.kind {
            Kind::User(Role::Admin, _) => Ok(()),
            Kind::ApiKey(_) => Err(ApiError::forbidden(
                "api keys are managed by admin users only, not by api keys",
            )),
            Kind::User(..) => Err(ApiError::forbidden(
                "api keys are managed by admin users only",
            )),
        }
    }
}

/// `details.scope` holds the missing scopes, space-separated (as RFC 6750's `scope`
/// attribute does): one name when an operation's scope is missing, several when every scope
/// is needed.
fn insufficient_scope(message: String, missing: &[Scope]) -> ApiError {
    ApiError::new(ErrorCode::InsufficientScope, message).with_field(FieldError::new(
        "scope",
        ErrorCode::InsufficientScope,
        Scope::to_stored(missing),
    ))
}

/// `POST /v1/users` of `new`.
pub fn may_create(caller: &Caller, new: &User) -> Result<(), ApiError> {
    match new.role {
        Role::Admin => caller.require_every_scope("creating an admin"),
        _ => Ok(()),
    }
}

/// `PATCH /v1/users/{id}` of `current` by `changes` (only what really changes).
pub fn may_change(caller: &Caller, current: &User, changes: &UserChanges) -> Result<(), ApiError> {
    if changes.role == Some(Role::Admin) {
        return caller.require_every_scope("granting the admin role");
    }
    if current.role != Role::Admin {
        return Ok(());
    }
    let guarded = guarded_fields(changes);
    if guarded.is_empty() {
        return Ok(());
    }
    caller.require_every_scope(&format!("changing an admin's {}", guarded.join(", ")))
}

/// `DELETE /v1/users/{id}` of `current`.
pub fn may_delete(caller: &Caller, current: &User) -> Result<(), ApiError> {
    match current.role {
        Role::Admin => caller.require_every_scope("deleting an admin"),
        _ => Ok(()),
    }
}

/// `POST /v1/users/{id}/tickets` for `target`: a ticket for an admin can hand over their
/// password or address, so it needs every scope.
pub fn may_issue_ticket(caller: &Caller, target: &User) -> Result<(), ApiError> {
    match target.role {
        Role::Admin => caller.require_every_scope("a ticket for an admin"),
        _ => Ok(()),
    }
}

/// The fields of an admin that only a principal with every scope may change, by their names in
/// the API, in the order of the list above.
fn guarded_fields(changes: &UserChanges) -> Vec<&'static str> {
    let UserChanges {
        role,
        status,
        password_hash,
        totp_secret,
        primary_email,
        primary_email_verified,
        primary_email_auth_enabled,
        ..
    } = changes;
    [
        ("role", role.is_some()),
        ("status", status.is_some()),
        ("password", password_hash.is_some()),
        ("totp_secret_base64", totp_secret.is_some()),
        ("primary_email", primary_email.is_some()),
        ("primary_email_verified", primary_email_verified.is_some()),
        (
            "primary_email_auth_enabled",
            primary_email_auth_enabled.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

#[cfg(test)]
mod tests {
    use poem::http::StatusCode;

    use super::*;

    fn caller(kind: Kind, scopes: &[Scope]) -> Caller {
        Caller {
            org_id: OrgId::new(),
            scopes: scopes.to_vec(),
            kind,
        }
    }

    #[test]
    fn a_missing_scope_is_a_403_that_names_it() {
        let key = caller(Kind::ApiKey(ApiKeyId::new()), &[Scope::UsersRead]);
        assert!(key.require(Scope::UsersRead).is_ok());
        let error = key.require(Scope::UsersWrite).unwrap_err();
        assert_eq!(error.status, StatusCode::FORBIDDEN);
        assert_eq!(error.code, ErrorCode::InsufficientScope);
        assert!(error.message.contains("users:write"), "{}", error.message);
        assert_eq!(error.fields[0].message, "users:write");
    }

    #[test]
    fn every_scope_is_held_by_admin_sessions_and_full_keys_and_the_403_lists_what_is_missing() {
        let all = Scope::ALL;
        assert!(
            caller(Kind::User(Role::Admin, UserId::new()), &all)
                .require_every_scope("this")
                .is_ok()
        );
        assert!(
            caller(Kind::ApiKey(ApiKeyId::new()), &all)
                .require_every_scope("this")
                .is_ok()
        );
        let key = caller(
            Kind::ApiKey(ApiKeyId::new()),
            &[Scope::UsersWrite, Scope::TeamsRead],
        );
        let error = key.require_every_scope("granting admin").unwrap_err();
        assert_eq!(error.status, StatusCode::FORBIDDEN);
        assert_eq!(error.code, ErrorCode::InsufficientScope);
        assert!(
            error.message.starts_with("granting admin"),
            "{}",
            error.message
        );
        assert_eq!(error.fields[0].field, "scope");
        assert_eq!(
            error.fields[0].message,
            "users:read teams:write events:read webhooks:write"
        );
        let viewer = caller(
            Kind::User(Role::Viewer, UserId::new()),
            Role::Viewer.scopes(),
        );
        let error = viewer.require_every_scope("this").unwrap_err();
        assert_eq!(
            error.fields[0].message,
            "users:write teams:write events:read webhooks:write"
        );
    }

    #[test]
    fn only_admin_users_manage_api_keys() {
        let all = Scope::ALL;
        assert!(
            caller(Kind::User(Role::Admin, UserId::new()), &all)
                .require_admin_user()
                .is_ok()
        );
        for kind in [
            Kind::ApiKey(ApiKeyId::new()),
            Kind::User(Role::Viewer, UserId::new()),
            Kind::User(Role::Member, UserId::new()),
        ] {
            let error = caller(kind, &all).require_admin_user().unwrap_err();
            assert_eq!(error.code, ErrorCode::Forbidden);
        }
    }
}
