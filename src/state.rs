//! The state every request shares: the database pools, the token keys, the keys that seal TOTP
//! secrets at rest, the mailer if any, and the sign-in throttle (in PostgreSQL or in memory, by
//! backend). The HTTP edge holds it; use cases take what they need from it.

use std::sync::Arc;

use crate::{
    auth::{
        SecretKeys, Tokens,
        throttle::{SignInLimits, SignInThrottle},
    },
    db::{Db, lockout::Lockout},
    error::ApiError,
    mail::Mailer,
};

/// Shared by every handler (cheap to clone: pools and an `Arc`).
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub tokens: Arc<Tokens>,
    /// Seals and opens TOTP secrets at rest.
    pub secrets: Arc<SecretKeys>,
    pub sign_in_throttle: Arc<SignInThrottle>,
    /// `--webhooks-allow-private-urls`: webhook URLs may be `http://` and private.
    pub allow_private_webhook_urls: bool,
    /// The mailer, when one is configured (`--mailer`, `--smtp-url`, the demo run).
    pub mailer: Option<Mailer>,
    /// `--redirect-origins`: where a ticket's `redirect_url` may point.
    pub redirect_origins: Vec<String>,
    /// `--lockout-threshold` and `--lockout-duration` (off by default).
    pub lockout: Lockout,
    /// `--reauth-window`: how recent a session's authentication must be for sensitive changes
    /// through `/v1/me` without a proof in the request.
    pub reauth_window: chrono::TimeDelta,
}

/// The default `--reauth-window`.
pub const REAUTH_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

impl AppState {
    pub fn new(db: Db, tokens: Tokens, secrets: SecretKeys, limits: SignInLimits) -> Self {
        Self {
            tokens: Arc::new(tokens),
            secrets: Arc::new(secrets),
            sign_in_throttle: Arc::new(SignInThrottle::for_database(&db, limits)),
            db,
            allow_private_webhook_urls: false,
            mailer: None,
            redirect_origins: Vec::new(),
            lockout: Lockout::default(),
            reauth_window: REAUTH_WINDOW,
        }
    }

    /// The mailer, or 503 `MAILER_NOT_CONFIGURED` when there is none.
    pub fn mailer(&self) -> Result<&Mailer, ApiError> {
        self.mailer.as_ref().ok_or_else(Mailer::not_configured)
    }
}
