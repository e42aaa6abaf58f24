//! Reading user bodies on both surfaces by PRODUCT §4: the self set (what a user may write about
//! themselves) is read the same way for `PATCH /v1/me`, `PATCH /v1/users/{id}` and
//! `POST /v1/users`; the admin surface adds role, status, verification flags and the two
//! admin-written metadata tiers. Each surface differs only in its `FieldRules`.

use serde_json::Value;

use super::{
    credential_input::{self, Prover},
    patch::{FieldRules, Reader},
};
use crate::{
    auth::SecretKeys,
    db::{
        Db,
        models::{User, UserChanges},
        users::{self, UserUpdate},
    },
    domain::{
        Bio, DisplayName, EmailAddress, Locale, OrgId, PersonName, PhoneNumber, ProfileImage, Role,
        Timezone, UserId, UserStatus,
    },
    error::{ApiError, ErrorCode},
};

const IMMUTABLE: &[&str] = &["id", "org_id", "created_at"];

/// What a user may do through `/v1/me`. Everything else that exists on the user is either
/// immutable (400) or not the user's to write (403).
pub const ME_FIELDS: FieldRules = FieldRules {
    writable: &[
        "display_name",
        "first_name",
        "last_name",
        "bio",
        "profile_image_url",
        "locale",
        "timezone",
        "phone_number",
        "primary_email",
        "selected_team_id",
        "client_metadata",
        "password",
        "current_password",
        "totp_secret_base64",
        "totp_code",
    ],
    not_writable: &[
        "password_hash",
        "status",
        "role",
        "full_name",
        "phone_number_verified",
        "primary_email_verified",
        "primary_email_auth_enabled",
        "has_password",
        "otp_auth_enabled",
        "selected_team",
        "client_read_only_metadata",
        "server_metadata",
        "active_sessions",
        "updated_at",
        "last_active_at",
        "org",
        "teams",
        "scopes",
        "session",
    ],
    immutable: IMMUTABLE,
};

/// The admin's writable set: the self set plus what only an admin decides.
const ADMIN_WRITABLE: &[&str] = &[
    "display_name",
    "first_name",
    "last_name",
    "bio",
    "profile_image_url",
    "locale",
    "timezone",
    "phone_number",
    "phone_number_verified",
    "primary_email",
    "primary_email_verified",
    "primary_email_auth_enabled",
    "selected_team_id",
    "role",
    "status",
    "client_metadata",
    "client_read_only_metadata",
    "server_metadata",
    "password",
    "password_hash",
    "totp_secret_base64",
];

pub const ADMIN_FIELDS: FieldRules = FieldRules {
    writable: ADMIN_WRITABLE,
    not_writable: &[
        "full_name",
        "has_password",
        "otp_auth_enabled",
        "selected_team",
        "active_sessions",
        "updated_at",
        "last_active_at",
    ],
    immutable: IMMUTABLE,
};

/// A new user has no teams yet, so `selected_team_id` is not part of a create body.
pub const CREATE_FIELDS: FieldRules = FieldRules {
    writable: &[
        "display_name",
        "first_name",
        "last_name",
        "bio",
        "profile_image_url",
        "locale",
        "timezone",
        "phone_number",
        "phone_number_verified",
        "primary_email",
        "primary_email_verified",
        "primary_email_auth_enabled",
        "role",
        "status",
        "client_metadata",
        "client_read_only_metadata",
        "server_metadata",
        "password",
        "password_hash",
        "totp_secret_base64",
    ],
    not_writable: &[],
    immutable: IMMUTABLE,
};

/// Which extra fields a body may carry on top of the self set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Surface {
    Me,
    Admin,
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
        selected_team_id: r.nullable_uuid("selected_team_id"),
        ..UserChanges::default()
    };
    if surface == Surface::Admin {
        changes.role = r.choice("role", "admin, member, viewer", Role::parse);
        changes.status = r.choice("status", "active, suspended", UserStatus::parse);
        changes.phone_number_verified = r.boolean("phone_number_verified");
        changes.primary_email_verified = r.boolean("primary_email_verified");
        changes.primary_email_auth_enabled = r.boolean("primary_email_auth_enabled");
    }
    changes
}

/// Reads one metadata patch; checked here against `stored` so that its error is reported
/// together with the others (the write checks again against the locked row).
fn read_metadata(r: &mut Reader, name: &str, stored: &str) -> Option<Value> {
    let patch = r.non_null_object(name, ErrorCode::InvalidMetadata)?;
    if let Err(invalid) = users::merged_metadata(stored, &patch) {
        r.invalid(name, invalid);
    }
    Some(patch)
}

/// `selected_team_id` must name a team the user belongs to.
async fn check_selected_team(
    db: &Db,
    r: &mut Reader,
    changes: &UserChanges,
    user_id: &UserId,
) -> Result<(), ApiError> {
    if let Some(Some(team_id)) = &changes.selected_team_id
        && !users::is_member(db, team_id, user_id).await?
    {
        let field = users::not_a_team_member();
        r.invalid_field(field);
    }
    Ok(())
}

/// A `PATCH /v1/me` body for `user`, who proves credentials as `prover`.
pub async fn read_me_patch(
    db: &Db,
    mut r: Reader,
    user: &User,
    prover: &Prover<'_>,
    secrets: &SecretKeys,
) -> Result<UserUpdate, ApiError> {
    let changes = read_fields(&mut r, Surface::Me);
    let client_metadata_patch = read_metadata(&mut r, "client_metadata", &user.client_metadata);
    let credentials = credential_input::read_me(&mut r, user);
    check_selected_team(db, &mut r, &changes, &user.id).await?;
    r.finish()?;
    let mut update = UserUpdate {
        changes,
        client_metadata_patch,
        ..UserUpdate::default()
    };
    credentials
        .apply_me(user, prover, secrets, &mut update)
        .await?;
    Ok(update)
}

/// A `PATCH /v1/users/{id}` body for `user`.
pub async fn read_admin_patch(
    db: &Db,
    mut r: Reader,
    user: &User,
    secrets: &SecretKeys,
) -> Result<UserUpdate, ApiError> {
    let changes = read_fields(&mut r, Surface::Admin);
    let mut update = UserUpdate {
        client_metadata_patch: read_metadata(&mut r, "client_metadata", &user.client_metadata),
        client_read_only_metadata_patch: read_metadata(
            &mut r,
            "client_read_only_metadata",
            &user.client_read_only_metadata,
        ),
        server_metadata_patch: read_metadata(&mut r, "server_metadata", &user.server_metadata),
        changes,
        ..UserUpdate::default()
    };
    let credentials = credential_input::read_admin(&mut r, Some(user));
    check_selected_team(db, &mut r, &update.changes, &user.id).await?;
    r.finish()?;
    credentials
        .apply_admin(&user.id, secrets, &mut update)
        .await?;
    Ok(update)
}

/// A `POST /v1/users` body: the new user's row, for organization `org_id`.
pub async fn read_create(
    mut r: Reader,
    org_id: &OrgId,
    secrets: &SecretKeys,
) -> Result<User, ApiError> {
    let changes = read_fields(&mut r, Surface::Admin);
    let client_metadata = read_metadata(&mut r, "client_metadata", "{}");
    let client_read_only_metadata = read_metadata(&mut r, "client_read_only_metadata", "{}");
    let server_metadata = read_metadata(&mut r, "server_metadata", "{}");
    let credentials = credential_input::read_admin(&mut r, None);
    r.finish()?;
    let id = UserId::new();
    let mut credential_update = UserUpdate::default();
    credentials
        .apply_admin(&id, secrets, &mut credential_update)
        .await?;
    let credential_changes = credential_update.changes;
    let metadata = |patch: Option<Value>| {
        patch
            .and_then(|patch| users::merged_metadata("{}", &patch).ok())
            .unwrap_or_else(|| "{}".to_owned())
    };
    let at = crate::db::now();
    let primary_email = changes.primary_email.flatten();
    Ok(User {
        id,
        org_id: *org_id,
        status: changes.status.unwrap_or(UserStatus::Active),
        role: changes.role.unwrap_or(Role::Member),
        display_name: changes.display_name.flatten(),
        first_name: changes.first_name.flatten(),
        last_name: changes.last_name.flatten(),
        bio: changes.bio.flatten(),
        profile_image_url: changes.profile_image_url.flatten(),
        phone_number_verified: changes.phone_number_verified.unwrap_or(false)
            && changes.phone_number.as_ref().is_some_and(Option::is_some),
        phone_number: changes.phone_number.flatten(),
        locale: changes.locale.flatten(),
        timezone: changes.timezone.flatten(),
        primary_email_key: primary_email.as_ref().map(EmailAddress::key),
        primary_email_verified: changes.primary_email_verified.unwrap_or(false)
            && primary_email.is_some(),
        primary_email,
        primary_email_auth_enabled: changes.primary_email_auth_enabled.unwrap_or(true),
        password_hash: credential_changes.password_hash.flatten(),
        totp_secret: credential_changes.totp_secret.flatten(),
        selected_team_id: None,
        client_metadata: metadata(client_metadata),
        client_read_only_metadata: metadata(client_read_only_metadata),
        server_metadata: metadata(server_metadata),
        version: 1,
        created_at: at,
        updated_at: at,
        last_active_at: None,
        totp_last_step: None,
    })
}
