//! Reading user bodies on both surfaces by PRODUCT §4 into a `users::UserInput` of domain
//! values: the self set (what a user may write about themselves) is read the same way for
//! `PATCH /v1/me`, `PATCH /v1/users/{id}` and `POST /v1/users`; the admin surface adds role,
//! status, verification flags, the two admin-written metadata tiers and imported credentials.
//! Each surface differs only in its `FieldRules` (`bodies`). The rules that need the stored user are the
//! use case's (`crate::users`).

use chrono::{DateTime, SubsecRound};
use serde_json::Value;

use super::patch::{Field, Reader};
use crate::{
    db::models::UserChanges,
    domain::{
        Bio, DisplayName, EmailAddress, Locale, PersonName, PhoneNumber, ProfileImage, Role,
        SuspensionReason, Timezone, UserStatus,
    },
    error::{ApiError, ErrorCode, FieldError},
    users::{CredentialInput, UserInput},
};

/// Which extra fields a body may carry on top of the self set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Surface {
    Me,
    AdminPatch,
    /// A new user has no teams yet, so no `selected_team_id`.
    Create,
}

fn read_fields(r: &mut Reader, surface: Surface) -> UserChanges {
    let mut changes = UserChanges {
        display_name: r.nullable("display_name", DisplayName::parse),
        first_name: r.nullable("first_name", PersonName::parse),
        last_name: r.nullable("last_name", PersonName::parse),
        bio: r.nullable("bio", Bio::parse),
        profile_image_url: r.nullable("profile_image_url", ProfileImage::parse),
        phone_number: r.nullable("phone_number", PhoneNumber::parse),
        locale: r.nullable("locale", Locale::parse),
        timezone: r.nullable("timezone", Timezone::parse),
        primary_email: r.nullable("primary_email", EmailAddress::parse),
        ..UserChanges::default()
    };
    if surface != Surface::Create {
        changes.selected_team_id = r.nullable_uuid("selected_team_id");
    }
    if surface != Surface::Me {
        changes.role = r.choice("role", "admin, member, viewer", Role::parse);
        // `invited` is set only by creating a user with `invite: true`: outside the body's
        // enum (`bodies::SettableStatus`), a 400 like any other value.
        changes.status = r.choice("status", "active, suspended", |name| {
            UserStatus::parse(name).filter(|status| *status != UserStatus::Invited)
        });
        read_suspension(r, &mut changes);
        changes.phone_number_verified = r.boolean("phone_number_verified");
        changes.primary_email_verified = r.boolean("primary_email_verified");
        changes.primary_email_auth_enabled = r.boolean("primary_email_auth_enabled");
    }
    changes
}

/// `suspension`, the terms of `status: suspended` (timed bans): sent only beside it. A body that
/// sets the status also sets the terms, so suspending without `suspension` is indefinite and
/// with no reason, and reactivating clears them.
fn read_suspension(r: &mut Reader, changes: &mut UserChanges) {
    let suspending = changes.status == Some(UserStatus::Suspended);
    if changes.status.is_some() {
        changes.suspension_reason = Some(None);
        changes.suspended_until = Some(None);
    }
    let terms = match r.object("suspension") {
        Field::Absent => return,
        Field::Null => {
            let message = "must be an object; leave it out to suspend indefinitely".to_owned();
            return r.wrong_type("suspension", message);
        }
        Field::Value(Value::Object(terms)) => terms,
        Field::Value(_) => unreachable!("Reader::object hands out objects only"),
    };
    let mut fine = true;
    for (name, value) in terms {
        let field = format!("suspension.{name}");
        match (name.as_str(), value) {
            ("reason", Value::String(reason)) => match SuspensionReason::parse(&reason) {
                Ok(reason) => changes.suspension_reason = Some(Some(reason)),
                Err(invalid) => {
                    r.invalid(&field, invalid);
                    fine = false;
                }
            },
            ("until", Value::String(until)) => match DateTime::parse_from_rfc3339(&until) {
                Ok(until) => {
                    let until = until.naive_utc().trunc_subsecs(6);
                    if until <= crate::db::now() {
                        r.invalid_field(FieldError::new(
                            &field,
                            ErrorCode::InvalidSuspension,
                            "must be in the future; leave it out to suspend indefinitely",
                        ));
                        fine = false;
                    }
                    changes.suspended_until = Some(Some(until));
                }
                Err(_) => {
                    r.wrong_type(&field, "must be an RFC 3339 date-time".to_owned());
                    fine = false;
                }
            },
            ("reason" | "until", _) => {
                r.wrong_type(&field, "must be a string".to_owned());
                fine = false;
            }
            _ => {
                r.wrong_type(&field, "unknown field".to_owned());
                fine = false;
            }
        }
    }
    if fine && !suspending {
        r.invalid_field(FieldError::new(
            "suspension",
            ErrorCode::InvalidSuspension,
            "only beside status: suspended",
        ));
    }
}

fn metadata(r: &mut Reader, name: &str) -> Option<serde_json::Value> {
    r.non_null_object(name, ErrorCode::InvalidMetadata)
}

/// A string field that `null` clears: `Some(None)`.
fn nullable_string(r: &mut Reader, name: &str) -> Option<Option<String>> {
    r.nullable(name, |raw| Ok(raw.to_owned()))
}

/// A `PATCH /v1/me` body.
pub fn read_me(mut r: Reader) -> Result<UserInput, ApiError> {
    let changes = read_fields(&mut r, Surface::Me);
    let client_metadata = metadata(&mut r, "client_metadata");
    let credentials = CredentialInput {
        password: nullable_string(&mut r, "password"),
        current_password: r.non_null_string("current_password"),
        totp_code: r.non_null_string("totp_code"),
        totp_secret_base64: nullable_string(&mut r, "totp_secret_base64"),
        password_hash: None,
    };
    Ok(UserInput {
        changes,
        client_metadata,
        credentials,
        invalid: r.into_invalid()?,
        ..UserInput::default()
    })
}

/// A `PATCH /v1/users/{id}` body.
pub fn read_user_patch(r: Reader) -> Result<UserInput, ApiError> {
    read_admin(r, Surface::AdminPatch)
}

/// A `POST /v1/users` body.
pub fn read_user_create(r: Reader) -> Result<UserInput, ApiError> {
    read_admin(r, Surface::Create)
}

fn read_admin(mut r: Reader, surface: Surface) -> Result<UserInput, ApiError> {
    let changes = read_fields(&mut r, surface);
    let client_metadata = metadata(&mut r, "client_metadata");
    let client_read_only_metadata = metadata(&mut r, "client_read_only_metadata");
    let server_metadata = metadata(&mut r, "server_metadata");
    let credentials = CredentialInput {
        password: nullable_string(&mut r, "password"),
        password_hash: nullable_string(&mut r, "password_hash"),
        totp_secret_base64: nullable_string(&mut r, "totp_secret_base64"),
        ..CredentialInput::default()
    };
    let invite = surface == Surface::Create && r.boolean("invite") == Some(true);
    if invite {
        refuse_beside_invite(&mut r, &changes, &credentials);
    }
    Ok(UserInput {
        invite,
        changes,
        client_metadata,
        client_read_only_metadata,
        server_metadata,
        credentials,
        invalid: r.into_invalid()?,
    })
}

/// An invited user has no password until they accept, and no status but `invited`.
fn refuse_beside_invite(r: &mut Reader, changes: &UserChanges, credentials: &CredentialInput) {
    let sent = [
        ("password", matches!(credentials.password, Some(Some(_)))),
        (
            "password_hash",
            matches!(credentials.password_hash, Some(Some(_))),
        ),
        ("status", changes.status.is_some()),
    ];
    for (field, _) in sent.into_iter().filter(|(_, sent)| *sent) {
        r.invalid_field(FieldError::new(
            field,
            ErrorCode::InviteConflict,
            "not with invite: true; an invited user chooses a password when accepting",
        ));
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ParseFromJSON;
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::api::{
        bodies::{ADMIN_FIELDS, CREATE_FIELDS, ME_FIELDS, MePatch},
        patch::{FieldRules, PatchBody},
    };

    type Read = fn(Reader) -> Result<UserInput, ApiError>;

    fn read(rules: &'static FieldRules, read: Read, body: Value) {
        let Ok(body) = PatchBody::<MePatch>::parse_from_json(Some(body)) else {
            panic!("a JSON object is a body");
        };
        let Ok(reader) = body.reader(rules) else {
            panic!("every documented field is known");
        };
        let _ = read(reader);
    }

    /// The reader's debug assertions fail when a field is read that the body's schema does
    /// not document (an empty body makes every read happen) or a documented field is left
    /// unread (a body with every documented field).
    #[test]
    fn every_documented_field_is_read_and_every_read_field_is_documented() {
        let surfaces: [(&'static FieldRules, Read); 3] = [
            (&ME_FIELDS, read_me),
            (&ADMIN_FIELDS, read_user_patch),
            (&CREATE_FIELDS, read_user_create),
        ];
        for (rules, reader) in surfaces {
            assert!(rules.writable.contains(&"display_name"), "{rules:?}");
            read(rules, reader, json!({}));
            let every: Map<String, Value> = rules
                .writable
                .iter()
                .map(|name| (name.to_string(), Value::Null))
                .collect();
            read(rules, reader, Value::Object(every));
        }
    }

    /// What each surface refuses as "not yours to write" (403) rather than unknown (400).
    #[test]
    fn fields_that_exist_elsewhere_are_not_writable_rather_than_unknown() {
        for field in [
            "role",
            "status",
            "server_metadata",
            "password_hash",
            "full_name",
            "org",
        ] {
            assert!(ME_FIELDS.not_writable.contains(&field), "{field}");
        }
        for field in ["full_name", "has_password", "active_sessions", "updated_at"] {
            assert!(ADMIN_FIELDS.not_writable.contains(&field), "{field}");
            assert!(!ADMIN_FIELDS.writable.contains(&field), "{field}");
        }
        assert!(CREATE_FIELDS.not_writable.is_empty());
        assert!(!CREATE_FIELDS.writable.contains(&"selected_team_id"));
        for rules in [&*ME_FIELDS, &*ADMIN_FIELDS, &*CREATE_FIELDS] {
            assert!(!rules.writable.contains(&"id") && rules.immutable.contains(&"id"));
        }
    }
}
