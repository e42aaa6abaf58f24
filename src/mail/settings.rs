//! How mail is sent, resolved once at start from the `--mailer`, `--smtp-*` and `--mail-*`
//! flags (`config::MailArgs`): which transport, from whom, the base of links, the templates
//! and the retry schedule. Every mistake is one line at start, never a failure at send time.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use lettre::message::Mailbox;
use url::Url;

use super::templates::Templates;
use crate::webhooks::RetrySchedule;

/// `--mailer`: which transport, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MailerChoice {
    /// Print each message (headers, text and HTML) to standard output: for development.
    Console,
    /// Send through the SMTP server of `--smtp-url`.
    Smtp,
    /// Send nothing (operations that need mail answer 503 `MAILER_NOT_CONFIGURED`).
    Off,
}

/// Where SMTP messages go.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtp://` (STARTTLS required), `smtp://…?tls=none` (plain, for a relay on this host or
    /// network), `smtps://` (TLS from the first byte).
    pub url: Url,
    /// Credentials from `--smtp-username`/`--smtp-password`; those in the URL otherwise.
    pub username: Option<String>,
    pub password: Option<String>,
    /// PEM certificates trusted besides the system's roots (an internal relay's CA).
    pub ca_file: Option<PathBuf>,
    /// One message's deadline: connecting, the dialogue and the data.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum TransportSettings {
    Console,
    Smtp(SmtpSettings),
}

/// Everything the mailer is configured by.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: TransportSettings,
    /// `From:` of every message.
    pub from: Mailbox,
    /// The base of links when the caller names no redirect URL.
    pub public_url: Option<Url>,
    pub templates: Templates,
    /// The waits between attempts of one message; once used up, it is given up.
    pub retry_schedule: RetrySchedule,
    /// How often the dispatcher looks for due messages.
    pub poll_interval: Duration,
}

/// How mail is sent (`mail`). Without `--mailer` or `--smtp-url` mail is off, except in the demo
/// run (the demo organization in the database, no `--no-demo`), which prints it to stdout.
#[derive(Debug, Clone, Args)]
pub struct MailArgs {
    /// `console` prints each message (headers, text and HTML) to standard output, for
    /// development; `smtp` sends through `--smtp-url` (implied by it); `off` sends nothing.
    /// Default: `smtp` with `--smtp-url`; otherwise `console` in the demo run, else `off`.
    #[arg(long, env = "USERS_API_MAILER", value_enum)]
    pub mailer: Option<MailerChoice>,
    /// The SMTP server: `smtp://host[:587]` (STARTTLS required), `smtps://host[:465]` (TLS),
    /// or `smtp://host:25?tls=none` (plain, for a relay on this host); credentials may be in
    /// the URL (`smtp://user:password@host`, percent-encoded).
    #[arg(long, env = "USERS_API_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// SMTP user name (instead of the URL's), with `--smtp-password`.
    #[arg(long, env = "USERS_API_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// SMTP password (instead of the URL's), with `--smtp-username`.
    #[arg(long, env = "USERS_API_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// PEM certificates trusted for the SMTP server besides the system's (an internal CA).
    #[arg(long, env = "USERS_API_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// Deadline of one SMTP attempt (connecting, the dialogue and the data).
    #[arg(long, env = "USERS_API_SMTP_TIMEOUT", default_value = "30s", value_parser = crate::config::parse_duration)]
    pub smtp_timeout: Duration,
    /// `From:` of every message (`"Acme <no-reply@acme.example>"`); required with SMTP.
    #[arg(long, env = "USERS_API_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// The base of the links in messages (the app's address, e.g. `https://app.example.com/`),
    /// when a request names no redirect URL. Default in console mode: this server's address.
    #[arg(long, env = "USERS_API_PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// A directory whose `{kind}.subject.txt`, `{kind}.txt`, `{kind}.html` and `layout.html`
    /// files replace the built-in templates of the same name (README: "Sending mail").
    #[arg(long, env = "USERS_API_MAIL_TEMPLATES")]
    pub mail_templates: Option<PathBuf>,
    /// The waits between attempts of a message, comma-separated; each is varied by ±20 %. Once
    /// they are used up the message is given up (and counted in `mail_failed_total`).
    #[arg(
        long,
        env = "USERS_API_MAIL_RETRY_SCHEDULE",
        default_value = super::DEFAULT_RETRY_SCHEDULE,
        value_parser = RetrySchedule::parse
    )]
    pub mail_retry_schedule: RetrySchedule,
    /// How often the mail dispatcher looks for queued messages.
    #[arg(long, env = "USERS_API_MAIL_POLL_INTERVAL", default_value = "500ms", value_parser = crate::config::parse_duration)]
    pub mail_poll_interval: Duration,
}

/// The sender of console messages when `--mail-from` is not given.
pub const CONSOLE_FROM: &str = "users-api <no-reply@users-api.localhost>";

impl MailArgs {
    /// The mailer these flags configure, or `None` when mail is off. `demo` is whether this is
    /// the demo run (the demo organization is in the database and `--no-demo` is not given):
    /// there, with neither `--mailer` nor `--smtp-url`, messages go to the console, with links
    /// under `default_public_url`.
    pub fn resolve(
        &self,
        demo: bool,
        default_public_url: Option<Url>,
    ) -> Result<Option<MailSettings>> {
        let choice = match (self.mailer, &self.smtp_url) {
            (Some(MailerChoice::Console | MailerChoice::Off), Some(_)) => {
                bail!("--smtp-url is given but --mailer is not smtp: drop one of them")
            }
            (Some(choice), _) => choice,
            (None, Some(_)) => MailerChoice::Smtp,
            (None, None) if demo => MailerChoice::Console,
            (None, None) => MailerChoice::Off,
        };
        let transport = match choice {
            MailerChoice::Off => return Ok(None),
            MailerChoice::Console => TransportSettings::Console,
            MailerChoice::Smtp => TransportSettings::Smtp(self.smtp()?),
        };
        let from = match (&self.mail_from, &transport) {
            (Some(from), _) => from.as_str(),
            (None, TransportSettings::Console) => CONSOLE_FROM,
            (None, TransportSettings::Smtp(_)) => {
                bail!("--mail-from is required with SMTP (e.g. \"Acme <no-reply@acme.example>\")")
            }
        };
        let from: Mailbox = from.parse().with_context(|| {
            format!("--mail-from {from:?} is not an address like \"Acme <no-reply@acme.example>\"")
        })?;
        let public_url = self.public_url.clone().or(match transport {
            TransportSettings::Console => default_public_url,
            TransportSettings::Smtp(_) => None,
        });
        let templates = Templates::load(self.mail_templates.as_deref())?;
        let retry_schedule = self.mail_retry_schedule.clone();
        Ok(Some(MailSettings {
            transport,
            from,
            public_url,
            templates,
            retry_schedule,
            poll_interval: self.mail_poll_interval,
        }))
    }

    fn smtp(&self) -> Result<SmtpSettings> {
        let Some(text) = &self.smtp_url else {
            bail!("--mailer smtp needs --smtp-url (smtp://host:587, smtps://host:465)");
        };
        let url = parse_smtp_url(text)?;
        if let Some(path) = &self.smtp_ca_file {
            super::transport::read_ca_file(path)?;
        }
        if self.smtp_username.is_some() != self.smtp_password.is_some() {
            bail!("--smtp-username and --smtp-password go together");
        }
        Ok(SmtpSettings {
            url,
            username: self.smtp_username.clone(),
            password: self.smtp_password.clone(),
            ca_file: self.smtp_ca_file.clone(),
            timeout: self.smtp_timeout,
        })
    }
}

/// An SMTP URL as `--smtp-url` takes it: scheme `smtp` or `smtps`, a host, an optional port,
/// optional credentials, and for `smtp` an optional `tls` of `required` (the default: STARTTLS
/// or nothing is sent), `opportunistic` or `none`. Said back without its password on error.
pub fn parse_smtp_url(text: &str) -> Result<Url> {
    let url = Url::parse(text).map_err(|e| anyhow::anyhow!("--smtp-url is not a URL: {e}"))?;
    let shown = {
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        shown.to_string()
    };
    if !matches!(url.scheme(), "smtp" | "smtps") {
        bail!("--smtp-url {shown}: the scheme must be smtp (STARTTLS) or smtps (TLS)");
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("--smtp-url {shown} names no host");
    }
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.as_ref(), url.scheme()) {
            ("tls", "required" | "opportunistic" | "none", "smtp") => {}
            _ => bail!(
                "--smtp-url {shown}: the only parameter is tls=required|opportunistic|none, with smtp://"
            ),
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn flags() -> MailArgs {
        crate::config::Cli::try_parse_from(["users-api"])
            .unwrap()
            .config
            .mail
    }

    #[test]
    fn the_demo_run_prints_mail_and_a_deployment_sends_none_unless_told() {
        let console = flags().resolve(true, None).unwrap().unwrap();
        assert!(matches!(console.transport, TransportSettings::Console));
        assert!(flags().resolve(false, None).unwrap().is_none());
        let off = MailArgs {
            mailer: Some(MailerChoice::Off),
            ..flags()
        };
        assert!(off.resolve(true, None).unwrap().is_none());
    }

    #[test]
    fn smtp_needs_a_sender_and_a_url_and_refuses_a_contradiction() {
        let smtp = MailArgs {
            smtp_url: Some("smtp://mail.example.com:587".into()),
            ..flags()
        };
        let error = smtp.resolve(false, None).unwrap_err().to_string();
        assert!(error.contains("--mail-from"), "{error}");
        let sending = MailArgs {
            mail_from: Some("Acme <no-reply@acme.example>".into()),
            ..smtp.clone()
        };
        let settings = sending.resolve(false, None).unwrap().unwrap();
        assert_eq!(settings.from.to_string(), "Acme <no-reply@acme.example>");
        let contradiction = MailArgs {
            mailer: Some(MailerChoice::Console),
            ..sending.clone()
        };
        assert!(contradiction.resolve(false, None).is_err());
        let no_url = MailArgs {
            mailer: Some(MailerChoice::Smtp),
            mail_from: Some("a@acme.example".into()),
            ..flags()
        };
        assert!(no_url.resolve(false, None).is_err());
        let bad_from = MailArgs {
            mail_from: Some("not an address".into()),
            ..sending
        };
        assert!(bad_from.resolve(false, None).is_err());
    }

    #[test]
    fn smtp_urls_are_smtp_or_smtps_with_a_host_and_never_echo_the_password() {
        for good in [
            "smtp://mail.example.com",
            "smtp://user:pw@mail.example.com:587",
            "smtps://mail.example.com:465",
            "smtp://127.0.0.1:2525?tls=none",
        ] {
            parse_smtp_url(good).unwrap();
        }
        for bad in [
            "http://mail.example.com",
            "smtp://",
            "smtps://mail.example.com?tls=none",
            "smtp://mail.example.com?tls=maybe",
            "mail.example.com",
        ] {
            assert!(parse_smtp_url(bad).is_err(), "{bad}");
        }
        let error = parse_smtp_url("ftp://u:hunter2@mail.example.com")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
