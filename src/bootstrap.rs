//! How to get in: creating an organization with its first admin (`users-api admin create-org`,
//! and the demo organization made on first start), a new password for a user who lost theirs
//! (`users-api admin reset-password`), and the hint a restart prints about both.

use serde::Serialize;

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

pub async fn create_org(
    db: &Db,
    tokens: &Tokens,
    name: &str,
    admin_email: &str,
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
    let admin_password = random_password();
    let password_hash = auth::password::hash(&admin_password).await?;
    let at = now();
    let org = Organization {
        id: OrgId::new(),
        name: name.to_owned(),
        created_at: at,
    };
    let admin = User {
        id: UserId::new(),
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

/// The demo organization's admin, created on the first start.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.example";

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
