//! The rules of a change to one user, applied against the row as it is inside the write
//! transaction: only what really differs is written, a new phone number or address drops its
//! verification (unless the change sets it), metadata patches are merged (RFC 7396) and checked
//! against their limits, and a TOTP code is accepted at most once per time step.

use serde_json::Value;

use crate::{
    db::{
        models::{User, UserChanges, status_at},
        recovery_codes::CodesChange,
        sessions::Revoke,
        users::Write,
    },
    domain::{Invalid, Metadata, UserStatus, merge_patch},
    error::{ApiError, FieldError},
};

/// A validated change to one user. Metadata patches are merged against the row as it is inside
/// the transaction, so concurrent PATCHes of different keys both survive.
#[derive(Debug, Default)]
pub struct UserUpdate {
    pub changes: UserChanges,
    pub client_metadata_patch: Option<Value>,
    pub client_read_only_metadata_patch: Option<Value>,
    pub server_metadata_patch: Option<Value>,
    /// A TOTP time step proved by a code in this request: accepted only if it is later than
    /// the last accepted step (checked under the row lock), and then recorded as it.
    pub totp_step: Option<i64>,
    /// Which sessions a new (or removed) password revokes, in the same transaction.
    pub on_password_change: Revoke,
    /// The hashes of the recovery codes that a new TOTP secret comes with (`/v1/me` only;
    /// a secret an administrator imports comes with none).
    pub recovery_code_hashes: Vec<String>,
}

impl UserUpdate {
    /// What to write against `current` as locked: the columns that really change, judged by
    /// `authorize`, and the sessions they revoke (suspension: all; a new or removed password:
    /// `on_password_change`).
    pub fn decide(
        &self,
        current: &User,
        authorize: impl Fn(&User, &UserChanges) -> Result<(), ApiError>,
    ) -> Result<Write, ApiError> {
        let changes = self.against(current)?;
        if changes == UserChanges::default() {
            return Ok(Write::default());
        }
        authorize(current, &changes)?;
        let revoke = if suspends(current, &changes) {
            Revoke::All
        } else if changes.password_hash.is_some() {
            self.on_password_change.clone()
        } else {
            Revoke::None
        };
        // Any change of the secret ends the old codes; turning 2FA on through /v1/me brings a
        // new set.
        let recovery_codes = match &changes.totp_secret {
            None => CodesChange::Keep,
            Some(None) => CodesChange::Delete,
            Some(Some(_)) if self.recovery_code_hashes.is_empty() => CodesChange::Delete,
            Some(Some(_)) => CodesChange::Replace(self.recovery_code_hashes.clone()),
        };
        Ok(Write {
            changes,
            revoke,
            recovery_codes,
            ..Write::default()
        })
    }

    /// The columns that really change against `current`: unchanged values are dropped, a new
    /// phone number or address drops its verification (unless this change sets it), metadata is
    /// merged and checked against its limits.
    pub fn against(&self, current: &User) -> Result<UserChanges, ApiError> {
        fn keep<T: PartialEq + Clone>(new: &Option<T>, current: &T) -> Option<T> {
            new.as_ref().filter(|value| *value != current).cloned()
        }
        let c = &self.changes;
        let mut changes = UserChanges {
            display_name: keep(&c.display_name, &current.display_name),
            first_name: keep(&c.first_name, &current.first_name),
            last_name: keep(&c.last_name, &current.last_name),
            bio: keep(&c.bio, &current.bio),
            profile_image_url: keep(&c.profile_image_url, &current.profile_image_url),
            phone_number: keep(&c.phone_number, &current.phone_number),
            phone_number_verified: keep(&c.phone_number_verified, &current.phone_number_verified),
            locale: keep(&c.locale, &current.locale),
            timezone: keep(&c.timezone, &current.timezone),
            client_metadata: None,
            selected_team_id: keep(&c.selected_team_id, &current.selected_team_id),
            primary_email: keep(&c.primary_email, &current.primary_email),
            primary_email_key: None,
            primary_email_verified: keep(
                &c.primary_email_verified,
                &current.primary_email_verified,
            ),
            primary_email_auth_enabled: keep(
                &c.primary_email_auth_enabled,
                &current.primary_email_auth_enabled,
            ),
            role: keep(&c.role, &current.role),
            status: keep(&c.status, &current.status),
            client_read_only_metadata: None,
            server_metadata: None,
            // A new hash never equals the old one (fresh salt); clearing what is clear is no change.
            password_hash: keep(&c.password_hash, &current.password_hash),
            totp_secret: keep(&c.totp_secret, &current.totp_secret),
            totp_last_step: keep(&c.totp_last_step, &current.totp_last_step),
            suspension_reason: keep(&c.suspension_reason, &current.suspension_reason),
            suspended_until: keep(&c.suspended_until, &current.suspended_until),
        };
        if let Some(step) = self.totp_step {
            if current.totp_last_step.is_some_and(|last| step <= last) {
                return Err(ApiError::forbidden(
                    "this TOTP code was already used; wait for the next one",
                ));
            }
            changes.totp_last_step = Some(Some(step));
        }
        if changes.phone_number.is_some()
            && c.phone_number_verified.is_none()
            && current.phone_number_verified
        {
            changes.phone_number_verified = Some(false);
        }
        if let Some(address) = &changes.primary_email {
            let key = address.as_ref().map(|address| address.key());
            if key != current.primary_email_key {
                if c.primary_email_verified.is_none() && current.primary_email_verified {
                    changes.primary_email_verified = Some(false);
                }
                changes.primary_email_key = Some(key);
            }
        }
        let merge = |field: &str, stored: &str, patch: &Option<Value>| {
            patch
                .as_ref()
                .map(|patch| {
                    merged_metadata(stored, patch).map_err(|invalid| {
                        ApiError::validation(vec![FieldError::new(
                            field,
                            invalid.code,
                            invalid.reason,
                        )])
                    })
                })
                .transpose()
        };
        changes.client_metadata = keep(
            &merge(
                "client_metadata",
                &current.client_metadata,
                &self.client_metadata_patch,
            )?,
            &current.client_metadata,
        );
        changes.client_read_only_metadata = keep(
            &merge(
                "client_read_only_metadata",
                &current.client_read_only_metadata,
                &self.client_read_only_metadata_patch,
            )?,
            &current.client_read_only_metadata,
        );
        changes.server_metadata = keep(
            &merge(
                "server_metadata",
                &current.server_metadata,
                &self.server_metadata_patch,
            )?,
            &current.server_metadata,
        );
        Ok(changes)
    }
}

/// Whether writing `changes` suspends a user who is not suspended now: a new suspension, or
/// new terms for one whose timed ban had lapsed. Either revokes every session.
fn suspends(current: &User, changes: &UserChanges) -> bool {
    let now = crate::db::now();
    let after = status_at(
        changes.status.unwrap_or(current.status),
        changes.suspended_until.unwrap_or(current.suspended_until),
        now,
    );
    current.status_at(now) != UserStatus::Suspended && after == UserStatus::Suspended
}

/// Merges `patch` into the stored JSON `stored` (RFC 7396) and checks the limits on the result.
pub fn merged_metadata(stored: &str, patch: &Value) -> Result<String, Invalid> {
    // Stored metadata was valid JSON when written; treat an unreadable value as empty.
    let current: Value =
        serde_json::from_str(stored).unwrap_or_else(|_| Value::Object(Default::default()));
    let merged = Metadata::parse(merge_patch(&current, patch))?;
    Ok(merged.as_value().to_string())
}
