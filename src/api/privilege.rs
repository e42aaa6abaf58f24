//! Privilege boundaries on `/v1/users` (PRODUCT §7, "privilege never escalates"). A principal
//! with only some scopes — an API key with `users:write`, say — must not be able to make an
//! admin, nor take over or lock out one, since an admin holds every scope (and mints API keys).
//! So these need a principal that holds every scope (an admin's session, or an API key with all
//! scopes), else 403 `INSUFFICIENT_SCOPE`:
//! - creating a user with `role: admin`, or changing a user's `role` to `admin`;
//! - changing an admin's `role`, `status`, sign-in credentials (`password`, `password_hash`,
//!   `totp_secret_base64`) or how they sign in and prove their address (`primary_email`,
//!   `primary_email_verified`, `primary_email_auth_enabled`);
//! - deleting an admin.
//!
//! Everything else about an admin (names, profile, phone, metadata, team) stays a `users:write`
//! change. A change is judged by what really changes, against the row as locked by the write
//! (`db::users`), so a user promoted to admin meanwhile is judged as an admin.

use super::access::Caller;
use crate::{
    db::models::{User, UserChanges},
    domain::Role,
    error::ApiError,
};

/// `POST /v1/users` of `new`.
pub fn check_create(caller: &Caller, new: &User) -> Result<(), ApiError> {
    match new.role {
        Role::Admin => caller.require_every_scope("creating an admin"),
        _ => Ok(()),
    }
}

/// `PATCH /v1/users/{id}` of `current` by `changes` (only what really changes).
pub fn check_change(
    caller: &Caller,
    current: &User,
    changes: &UserChanges,
) -> Result<(), ApiError> {
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
pub fn check_delete(caller: &Caller, current: &User) -> Result<(), ApiError> {
    match current.role {
        Role::Admin => caller.require_every_scope("deleting an admin"),
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
