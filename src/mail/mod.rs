//! The mailer (issue 17): messages users-api sends itself (address verification, password
//! reset, change of address, invitations, an operator's test message), never in a request's
//! path. A use case queues a message with `Mailer::prepare` and `enqueue_mail!` inside its own
//! write transaction (a change that rolls back sends nothing); the `dispatcher` renders it from
//! `templates` and hands it to the `transport` (SMTP through lettre over rustls, or the console
//! for development) after the commit, with retries. A queued message's link and code are sealed
//! at rest and its row is deleted once sent or given up. Nothing here may log a link or a code.

pub mod dispatcher;
pub mod settings;
pub mod templates;
pub mod transport;

use std::{collections::BTreeMap, sync::Arc};

use serde::{Deserialize, Serialize};

pub use crate::db::mail::{QueuedMail, enqueue};
use crate::{
    auth::SecretKeys,
    domain::{EmailAddress, MailId, OrgId},
    error::{ApiError, ErrorCode},
};
pub use dispatcher::spawn;
pub use settings::{MailArgs, MailSettings, MailerChoice, TransportSettings};

/// The default retry schedule: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h (about 3 h 45 min in
/// all; the links these messages carry expire within hours anyway).
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,30s,2m,10m,30m,1h,2h";

/// What a message is for: each kind has its own templates (subject, text, HTML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// To the current primary address: a link and a 6-digit code that prove it.
    VerifyEmail,
    /// A link that sets a new password.
    ResetPassword,
    /// To the new address of a change: a link that confirms it.
    ChangeEmail,
    /// To the old address of a change: a notice, with no link.
    EmailChangeNotice,
    /// A link that accepts an invitation.
    Invite,
    /// An operator's test message (`POST /v1/mail/test`).
    Test,
}

impl MailKind {
    pub const ALL: [MailKind; 6] = [
        Self::VerifyEmail,
        Self::ResetPassword,
        Self::ChangeEmail,
        Self::EmailChangeNotice,
        Self::Invite,
        Self::Test,
    ];

    /// The name templates and metrics use (`verify_email`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
            Self::EmailChangeNotice => "email_change_notice",
            Self::Invite => "invite",
            Self::Test => "test",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Whether a message of this kind carries a link (secret: it holds a ticket's token).
    pub const fn has_link(self) -> bool {
        matches!(
            self,
            Self::VerifyEmail | Self::ResetPassword | Self::ChangeEmail | Self::Invite
        )
    }

    /// Whether a message of this kind carries a code typed by hand (secret).
    pub const fn has_code(self) -> bool {
        matches!(self, Self::VerifyEmail)
    }

    /// The variables, besides `org_name`, `to`, `link` and `code`, a message of this kind
    /// must be given.
    pub const fn required_vars(self) -> &'static [&'static str] {
        match self {
            Self::EmailChangeNotice => &["new_email"],
            _ => &[],
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: MailKind,
    pub to: EmailAddress,
    /// The link to follow, with the ticket's token in it: sealed at rest. Required for the
    /// kinds that have one (`MailKind::has_link`), refused for the others.
    pub link: Option<String>,
    /// The code typed by hand: sealed at rest. Required for `verify_email` only.
    pub code: Option<String>,
    /// What the templates may show besides (`new_email` for `email_change_notice`): stored
    /// in the clear, so nothing secret.
    pub vars: BTreeMap<String, String>,
}

/// The secret part of a message, sealed at rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The configured mailer, as the API sees it: whether one is on, how links are made, and how
/// a message becomes a row to queue. `AppState::mailer` holds it when mail is configured.
#[derive(Debug, Clone)]
pub struct Mailer {
    settings: Arc<MailSettings>,
}

impl Mailer {
    pub fn new(settings: Arc<MailSettings>) -> Self {
        Self { settings }
    }

    pub fn settings(&self) -> &MailSettings {
        &self.settings
    }

    /// The 503 `MAILER_NOT_CONFIGURED` of an operation that needs a mailer when none is.
    pub fn not_configured() -> ApiError {
        ApiError::new(
            ErrorCode::MailerNotConfigured,
            "this server sends no mail: start it with --smtp-url and --mail-from, or \
             --mailer console",
        )
    }

    /// A link to `path` under `--public-url`, or to `redirect` when the caller gave one, with
    /// `token` appended as the `token` query parameter. `None` when there is neither base.
    pub fn link(&self, redirect: Option<&url::Url>, path: &str, token: &str) -> Option<String> {
        let mut url = match redirect {
            Some(redirect) => redirect.clone(),
            None => self.settings.public_url.as_ref()?.join(path).ok()?,
        };
        url.query_pairs_mut().append_pair("token", token);
        Some(url.into())
    }

    /// The mailer of the flows users-api starts itself (password reset, address verification
    /// and change, invitations), whose links go under `--public-url`: 503
    /// `MAILER_NOT_CONFIGURED` when none is set (an SMTP mailer without `--public-url`).
    pub fn with_links(&self) -> Result<&Self, ApiError> {
        match self.settings.public_url {
            Some(_) => Ok(self),
            None => Err(ApiError::new(
                ErrorCode::MailerNotConfigured,
                "this server sends mail but has no --public-url to build links with",
            )),
        }
    }

    /// `link` under `--public-url` (503 as `with_links` without it).
    pub fn public_link(&self, path: &str, token: &str) -> Result<String, ApiError> {
        self.with_links()?;
        self.link(None, path, token)
            .ok_or_else(|| ApiError::internal(format!("no link to {path} under --public-url")))
    }

    /// `message` as a row to queue for `org_id`, its link and code sealed. A message missing
    /// what its kind needs (or carrying what it must not) is a programming error: a 500.
    pub fn prepare(
        &self,
        secrets: &SecretKeys,
        org_id: OrgId,
        message: Message,
    ) -> Result<QueuedMail, ApiError> {
        let kind = message.kind;
        if kind.has_link() != message.link.is_some() || kind.has_code() != message.code.is_some() {
            return Err(ApiError::internal(format!(
                "a {} message needs a link: {}, a code: {}",
                kind.as_str(),
                kind.has_link(),
                kind.has_code()
            )));
        }
        if let Some(missing) = kind
            .required_vars()
            .iter()
            .find(|name| !message.vars.contains_key(**name))
        {
            return Err(ApiError::internal(format!(
                "a {} message needs the variable {missing}",
                kind.as_str()
            )));
        }
        let id = MailId::new();
        let sealed = Secrets {
            link: message.link,
            code: message.code,
        };
        let sealed = (sealed != Secrets::default()).then(|| {
            let json = serde_json::to_string(&sealed).expect("secrets serialise");
            secrets.seal_mail_secrets(&id, &json)
        });
        let now = crate::db::now();
        Ok(QueuedMail {
            id,
            org_id,
            kind: kind.as_str().to_owned(),
            recipient: message.to.to_string(),
            vars: serde_json::to_string(&message.vars).expect("variables serialise"),
            secrets: sealed,
            request_id: crate::api::request_id(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            lease_owner: None,
            lease_expires_at: None,
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in MailKind::ALL {
            assert_eq!(MailKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(MailKind::parse("spam"), None);
    }
}
