//! Use cases that change users (PRODUCT §3, §4, §7). The HTTP edge reads a body into a
//! `UserInput` of domain values; a use case applies the rules that need the stored user or the
//! database (metadata limits after the merge, credentials and their proofs, team membership,
//! privilege), reports every invalid field at once (422), and hands `db` a decision to apply
//! inside the write transaction against the row as locked.

mod changes;
mod credentials;
pub mod recovery_codes;
pub mod self_service;
pub mod tickets;

use serde_json::Value;

pub use changes::{UserUpdate, merged_metadata};
pub use credentials::{CredentialInput, Prover};
use self_service::EmailChange;

use crate::{
    auth::{Caller, access},
    db::{
        Db,
        models::{User, UserChanges},
        user_create::{self, Created, IdempotencyClaim},
        users,
    },
    domain::{EmailAddress, Role, UserId, UserStatus},
    error::{ApiError, FieldError},
    events::users::UserEvents,
    state::AppState,
};

/// A user body as read at the edge.
#[derive(Debug, Default)]
pub struct UserInput {
    /// Profile and account fields, already domain values.
    pub changes: UserChanges,
    /// Metadata patches (JSON objects), one per tier.
    pub client_metadata: Option<Value>,
    pub client_read_only_metadata: Option<Value>,
    pub server_metadata: Option<Value>,
    pub credentials: CredentialInput,
    /// Fields the edge already found invalid, reported together with the ones found here.
    pub invalid: Vec<FieldError>,
    /// `POST /v1/users` with `invite: true`: the user starts `invited`, without a password.
    pub invite: bool,
}

/// `PATCH /v1/me`: `user` changes their own profile, proving credentials as `prover`; the change
/// is recorded as `events` say.
/// `expected_version` is `If-Match` as read: a malformed one is refused (412) only once the
/// body is known to be valid (400 and 422 come first, as for any schema-violating request).
pub async fn update_me(
    state: &AppState,
    events: &UserEvents,
    user: &User,
    prover: &Prover<'_>,
    input: UserInput,
    expected_version: Result<Option<i64>, ApiError>,
) -> Result<(User, Option<Vec<String>>), ApiError> {
    let UserInput {
        changes,
        client_metadata,
        credentials,
        mut invalid,
        ..
    } = input;
    let client_metadata_patch = checked_metadata(
        &mut invalid,
        "client_metadata",
        &user.client_metadata,
        client_metadata,
    );
    // Step-up covers a change of the address (compared as sent: `against` drops no-ops later).
    let email_change = changes
        .primary_email
        .as_ref()
        .is_some_and(|address| *address != user.primary_email);
    let credentials = credentials.check_me(&mut invalid, user, email_change);
    check_selected_team(&state.db, &mut invalid, &changes, &user.id).await?;
    refuse_invalid(invalid)?;
    let mut update = UserUpdate {
        changes,
        client_metadata_patch,
        ..UserUpdate::default()
    };
    let recovery_codes = credentials
        .apply_me(user, prover, &state.secrets, &mut update, email_change)
        .await?;
    let expected_version = expected_version?;
    // With a mailer, a new address waits for its confirmation (`self_service`).
    let email_change = EmailChange::of(state, user, &update.changes).await?;
    // `role` and `status` are not the user's to write, so their own change can neither
    // escalate nor take an admin away: nothing to authorize.
    let decide = |current: &User| {
        let mut write = update.decide(current, |_, _| Ok(()))?;
        if let Some(change) = &email_change {
            change.divert(current, events, &mut write)?;
        }
        Ok(write)
    };
    let record = |before: &User, after: &User| events.updated(before, after);
    let updated = users::update(
        &state.db,
        &user.org_id,
        &user.id,
        expected_version,
        decide,
        record,
    )
    .await?;
    // The codes were stored with the new secret (the write either happened or failed).
    Ok((updated, recovery_codes))
}

/// `PATCH /v1/users/{id}`: `caller` changes `user` (as read before the body); `If-Match` and
/// `events` as for `update_me`.
pub async fn update(
    state: &AppState,
    events: &UserEvents,
    caller: &Caller,
    user: &User,
    input: UserInput,
    expected_version: Result<Option<i64>, ApiError>,
) -> Result<User, ApiError> {
    let mut invalid = input.invalid;
    let mut update = UserUpdate {
        client_metadata_patch: checked_metadata(
            &mut invalid,
            "client_metadata",
            &user.client_metadata,
            input.client_metadata,
        ),
        client_read_only_metadata_patch: checked_metadata(
            &mut invalid,
            "client_read_only_metadata",
            &user.client_read_only_metadata,
            input.client_read_only_metadata,
        ),
        server_metadata_patch: checked_metadata(
            &mut invalid,
            "server_metadata",
            &user.server_metadata,
            input.server_metadata,
        ),
        changes: input.changes,
        ..UserUpdate::default()
    };
    let credentials = input.credentials.check_admin(&mut invalid, Some(user));
    check_selected_team(&state.db, &mut invalid, &update.changes, &user.id).await?;
    refuse_invalid(invalid)?;
    credentials
        .apply_admin(&user.id, &state.secrets, &mut update)
        .await?;
    let expected_version = expected_version?;
    let authorize =
        |current: &User, changes: &UserChanges| access::may_change(caller, current, changes);
    let decide = |current: &User| update.decide(current, authorize);
    let record = |before: &User, after: &User| events.updated(before, after);
    users::update(
        &state.db,
        &caller.org_id,
        &user.id,
        expected_version,
        decide,
        record,
    )
    .await
}

/// `POST /v1/users`: `caller` creates a user in their organization. With an idempotency
/// `claim`, `render` gives the response body stored for replays.
pub async fn create(
    state: &AppState,
    events: &UserEvents,
    caller: &Caller,
    input: UserInput,
    claim: Option<&IdempotencyClaim>,
    render: impl Fn(&User) -> Result<String, ApiError>,
) -> Result<Created, ApiError> {
    let UserInput {
        changes,
        mut invalid,
        ..
    } = input;
    let client_metadata = new_metadata(&mut invalid, "client_metadata", input.client_metadata);
    let client_read_only_metadata = new_metadata(
        &mut invalid,
        "client_read_only_metadata",
        input.client_read_only_metadata,
    );
    let server_metadata = new_metadata(&mut invalid, "server_metadata", input.server_metadata);
    let credentials = input.credentials.check_admin(&mut invalid, None);
    refuse_invalid(invalid)?;
    let id = UserId::new();
    let mut credential_update = UserUpdate::default();
    credentials
        .apply_admin(&id, &state.secrets, &mut credential_update)
        .await?;
    let credential_changes = credential_update.changes;
    let at = crate::db::now();
    let primary_email = changes.primary_email.flatten();
    let new = User {
        id,
        org_id: caller.org_id,
        status: match input.invite {
            true => UserStatus::Invited,
            false => changes.status.unwrap_or(UserStatus::Active),
        },
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
        client_metadata,
        client_read_only_metadata,
        server_metadata,
        version: 1,
        created_at: at,
        updated_at: at,
        last_active_at: None,
        totp_last_step: None,
        failed_sign_ins: 0,
        locked_until: None,
        suspension_reason: changes.suspension_reason.flatten(),
        suspended_until: changes.suspended_until.flatten(),
    };
    access::may_create(caller, &new)?;
    let events = events.created(&new)?;
    // With a mailer, an invitation is mailed at once (else the app issues its ticket).
    let invitation = match input.invite {
        true => self_service::invitation(state, &new)?,
        false => None,
    };
    user_create::create(&state.db, &new, claim, render, &events, invitation.as_ref()).await
}

/// `DELETE /v1/users/{id}`: `caller` deletes user `user_id` of their organization, judged as
/// locked.
pub async fn delete(
    state: &AppState,
    events: &UserEvents,
    caller: &Caller,
    user_id: &UserId,
) -> Result<(), ApiError> {
    let authorize = |current: &User| access::may_delete(caller, current);
    let record = |current: &User| events.deleted(current);
    users::delete(&state.db, &caller.org_id, user_id, authorize, record).await
}

/// A metadata patch, checked against the `stored` tier so that its error is reported together
/// with the others (the write merges again against the locked row).
fn checked_metadata(
    invalid: &mut Vec<FieldError>,
    name: &str,
    stored: &str,
    patch: Option<Value>,
) -> Option<Value> {
    let patch = patch?;
    if let Err(refused) = merged_metadata(stored, &patch) {
        invalid.push(FieldError::new(name, refused.code, refused.reason));
    }
    Some(patch)
}

/// A new user's metadata tier: the patch merged into `{}` once, its error (if any) reported with
/// the others.
fn new_metadata(invalid: &mut Vec<FieldError>, name: &str, patch: Option<Value>) -> String {
    let Some(patch) = patch else {
        return "{}".to_owned();
    };
    merged_metadata("{}", &patch).unwrap_or_else(|refused| {
        invalid.push(FieldError::new(name, refused.code, refused.reason));
        "{}".to_owned()
    })
}

/// `selected_team_id` must name a team the user belongs to.
async fn check_selected_team(
    db: &Db,
    invalid: &mut Vec<FieldError>,
    changes: &UserChanges,
    user_id: &UserId,
) -> Result<(), ApiError> {
    if let Some(Some(team_id)) = &changes.selected_team_id
        && !users::is_member(db, team_id, user_id).await?
    {
        invalid.push(users::not_a_team_member());
    }
    Ok(())
}

/// 422 with every invalid field, if there is one.
fn refuse_invalid(invalid: Vec<FieldError>) -> Result<(), ApiError> {
    match invalid.is_empty() {
        true => Ok(()),
        false => Err(ApiError::validation(invalid)),
    }
}
