//! How to get in: creating an organization with its first admin (`users-api admin create-org`,
//! and the demo organization made on first start), a new password for a user who lost theirs
//! (`users-api admin reset-password`), and the hint a restart prints about both.

use std::net::SocketAddr;

use serde::Serialize;
use uuid::{Uuid, uuid};

use crate::{
    auth::{self, Tokens},
    db::{
        Db,
        models::{Organization, User},
        now,
        orgs::{self, Bootstrap},
        password_reset::{self, Outcome},
    },
    domain::{EmailAddress, OrgId, Role, Scope, UserId, UserStatus},
    error::{ApiError, ErrorCode, FieldError},
};

/// How to act as the new admin. Printed once; only hashes are stored.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub admin_email: String,
    /// A random password for the admin's e-mail sign-in (`POST /v1/sessions`).
    pub admin_password: String,
    pub session_token: String,
    pub api_key: String,
}

/// A new organization with a random id and its admin with a random password.
pub async fn create_org(
    db: &Db,
    tokens: &Tokens,
    name: &str,
    admin_email: &str,
) -> Result<Credentials, ApiError> {
    let ids = (OrgId::new(), UserId::new());
    create(db, tokens, ids, name, admin_email, random_password()).await
}

/// The demo organization's id: the same on every first start (an id is no secret), so that
/// the spec's sign-in example names it.
pub const DEMO_ORG_ID: Uuid = uuid!("0193a5d0-0000-7000-8000-00000000de30");

/// The demo admin's user id, fixed for the same reason: the spec's `user_id` examples name it.
pub const DEMO_ADMIN_ID: Uuid = uuid!("0193a5d0-0000-7000-8000-000000000ada");

/// The demo organization's admin, created on the first start.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.example";

/// The demo admin's password when the first start listens on loopback only: well known, so
/// that the spec's sign-in example works unedited in Swagger UI. Anyone who can reach a
/// loopback listener can already read the banner's credentials on that machine.
pub const DEMO_ADMIN_PASSWORD: &str = "lovelace-analytical-engine-1843";

/// Which password the demo admin gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoPassword {
    /// [`DEMO_ADMIN_PASSWORD`].
    WellKnown,
    /// A random one, printed once.
    Random,
}

impl DemoPassword {
    /// Well known only for a server that listens on a loopback address: one reachable from
    /// other machines gets a random password.
    pub fn for_listener(addr: SocketAddr) -> Self {
        match addr.ip().is_loopback() {
            true => Self::WellKnown,
            false => Self::Random,
        }
    }
}

/// The demo organization (made on a first start with an empty database): id
/// [`DEMO_ORG_ID`], admin [`DEMO_ADMIN_EMAIL`].
pub async fn create_demo_org(
    db: &Db,
    tokens: &Tokens,
    password: DemoPassword,
) -> Result<Credentials, ApiError> {
    let password = match password {
        DemoPassword::WellKnown => DEMO_ADMIN_PASSWORD.to_owned(),
        DemoPassword::Random => random_password(),
    };
    let ids = (OrgId::from(DEMO_ORG_ID), UserId::from(DEMO_ADMIN_ID));
    create(db, tokens, ids, "Demo", DEMO_ADMIN_EMAIL, password).await
}

async fn create(
    db: &Db,
    tokens: &Tokens,
    (org_id, admin_id): (OrgId, UserId),
    name: &str,
    admin_email: &str,
    admin_password: String,
) -> Result<Credentials, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        let field = FieldError::new(
            "name",
            ErrorCode::ValidationFailed,
            "must be 1–100 characters",
        );
        return Err(ApiError::validation(vec![field]));
    }
    let email = EmailAddress::parse(admin_email).map_err(|invalid| {
        ApiError::validation(vec![FieldError::new(
            "admin_email",
            invalid.code,
            invalid.reason,
        )])
    })?;
    let password_hash = auth::password::hash(&admin_password).await?;
    let at = now();
    let org = Organization {
        id: org_id,
        name: name.to_owned(),
        created_at: at,
    };
    let admin = User {
        id: admin_id,
        org_id: org.id,
        status: UserStatus::Active,
        role: Role::Admin,
        display_name: None,
        first_name: None,
        last_name: None,
        bio: None,
        profile_image_url: None,
        phone_number: None,
        phone_number_verified: false,
        locale: None,
        timezone: None,
        primary_email_key: Some(email.key()),
        primary_email: Some(email),
        primary_email_verified: true,
        primary_email_auth_enabled: true,
        password_hash: Some(password_hash),
        totp_secret: None,
        selected_team_id: None,
        client_metadata: "{}".into(),
        client_read_only_metadata: "{}".into(),
        server_metadata: "{}".into(),
        version: 1,
        created_at: at,
        updated_at: at,
        last_active_at: None,
        totp_last_step: None,
        failed_sign_ins: 0,
        locked_until: None,
        suspension_reason: None,
        suspended_until: None,
    };
    let (api_key, key_row) = auth::new_api_key(&org.id, "bootstrap", &Scope::ALL);
    let session = auth::new_session(&admin.id, tokens.lifetime());
    let session_token = tokens.issue(&session, &org.id)?;
    let credentials = Credentials {
        org_id: org.id,
        user_id: admin.id,
        admin_email: admin
            .primary_email
            .clone()
            .map(EmailAddress::into_inner)
            .unwrap_or_default(),
        admin_password,
        session_token,
        api_key,
    };
    orgs::create(
        db,
        &Bootstrap {
            org,
            admin,
            api_key: key_row,
            session,
        },
    )
    .await?;
    Ok(credentials)
}

/// 120 random bits as 20 base64url characters: unguessable, and easy to paste.
fn random_password() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use rand::RngCore;
    let mut bytes = [0u8; 15];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Printed when the server starts on a database that already has organizations: the banner
/// with credentials is shown only once, so say how to get new ones.
pub fn restart_hint() -> String {
    format!(
        "This database already has organizations; their credentials were printed once, at \
         creation.\nTo get in again, with the same --database-url:\
         \n  users-api admin reset-password --email <address>   (the demo admin is {DEMO_ADMIN_EMAIL})\
         \n  users-api admin create-org --name <name> --admin-email <address>"
    )
}

/// Printed when `--no-demo` leaves an empty database empty.
pub fn empty_database_hint() -> String {
    "This database has no organization yet (--no-demo). Create one, with the same \
     --database-url:\n  users-api admin create-org --name <name> --admin-email <address>"
        .to_owned()
}

/// A new password for the user with address `email` (in `org_id`, needed when several
/// organizations have that address), printed once by the caller; all of the user's sessions
/// are revoked with it.
pub struct PasswordReset {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub email: String,
    pub password: String,
    pub revoked_sessions: usize,
    pub totp_enabled: bool,
    pub can_sign_in: bool,
}

/// Why `reset_password` changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("no user has the address {0}")]
    NotFound(String),
    #[error(
        "users of {} organizations have the address {email} ({}): choose one with --org <id>",
        orgs.len(),
        orgs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    InSeveralOrgs { email: String, orgs: Vec<OrgId> },
    #[error("{}", .0.message)]
    Database(ApiError),
}

impl From<ApiError> for ResetError {
    fn from(error: ApiError) -> Self {
        Self::Database(error)
    }
}

pub async fn reset_password(
    db: &Db,
    email: &str,
    org_id: Option<&OrgId>,
) -> Result<PasswordReset, ResetError> {
    let email = EmailAddress::parse(email)
        .map_err(|invalid| ResetError::InvalidEmail(format!("--email: {}", invalid.reason)))?;
    let password = random_password();
    let hash = auth::password::hash(&password).await?;
    let shown = email.clone().into_inner();
    match password_reset::reset(db, &email.key(), org_id, &hash).await? {
        Outcome::Reset {
            org_id,
            user_id,
            revoked,
            totp_enabled,
            can_sign_in,
        } => Ok(PasswordReset {
            org_id,
            user_id,
            email: shown,
            password,
            revoked_sessions: revoked,
            totp_enabled,
            can_sign_in,
        }),
        Outcome::NotFound => Err(ResetError::NotFound(match org_id {
            Some(org) => format!("{shown} in organization {org}"),
            None => shown,
        })),
        Outcome::InSeveralOrgs(orgs) => Err(ResetError::InSeveralOrgs { email: shown, orgs }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_demo_password_is_only_for_a_loopback_listener() {
        let password = |addr: &str| DemoPassword::for_listener(addr.parse().unwrap());
        assert_eq!(password("127.0.0.1:8080"), DemoPassword::WellKnown);
        assert_eq!(password("[::1]:8080"), DemoPassword::WellKnown);
        assert_eq!(password("0.0.0.0:8080"), DemoPassword::Random);
        assert_eq!(password("[::]:8080"), DemoPassword::Random);
        assert_eq!(password("192.0.2.7:8080"), DemoPassword::Random);
    }

    /// The demo password is one the server's own policy would accept from a user.
    #[test]
    fn the_well_known_demo_password_meets_the_password_policy() {
        auth::password::NewPassword::parse(DEMO_ADMIN_PASSWORD, &[DEMO_ADMIN_EMAIL]).unwrap();
    }
}
