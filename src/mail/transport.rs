//! How a rendered message leaves: as a MIME message (`multipart/alternative`, text then HTML)
//! over SMTP with lettre and rustls, or printed to standard output by the console mailer.
//! A failure says whether trying again may help (a 4xx reply, a refused or broken connection)
//! or not (a 5xx reply: the server will refuse it again). Errors never carry the message.

use std::{io::Write, path::Path};

use anyhow::{Context, Result, anyhow};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message as MimeMessage, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};

use super::{
    settings::{MailSettings, SmtpSettings, TransportSettings},
    templates::Rendered,
};
use crate::domain::MailId;

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// Whether the same message may succeed later.
    pub transient: bool,
    pub reason: String,
}

/// A message ready to go.
pub struct Outgoing<'a> {
    pub id: &'a MailId,
    pub to: &'a str,
    pub rendered: &'a Rendered,
}

pub enum Transport {
    Console,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Transport {
    pub fn new(settings: &MailSettings) -> Result<Self> {
        Ok(match &settings.transport {
            TransportSettings::Console => Self::Console,
            TransportSettings::Smtp(smtp) => Self::Smtp(smtp_transport(smtp)?),
        })
    }

    /// Sends `message` from `from`.
    pub async fn send(&self, from: &Mailbox, message: &Outgoing<'_>) -> Result<(), SendError> {
        let mime = mime_message(from, message).map_err(|e| SendError {
            transient: false,
            reason: format!("cannot build the message: {e}"),
        })?;
        match self {
            Self::Console => {
                print_message(from, message, &mime);
                Ok(())
            }
            Self::Smtp(transport) => match transport.send(mime).await {
                Ok(_) => Ok(()),
                Err(error) => Err(SendError {
                    transient: !error.is_permanent(),
                    reason: describe(&error),
                }),
            },
        }
    }
}

/// The MIME message: From, To, Subject, Date, a Message-ID made of the outbox id (the same on
/// every attempt, so a receiver can tell a repeat), and the text and HTML alternatives.
fn mime_message(from: &Mailbox, message: &Outgoing<'_>) -> Result<MimeMessage> {
    let to: Mailbox = message.to.parse().context("the recipient")?;
    let domain = from.email.domain();
    Ok(MimeMessage::builder()
        .from(from.clone())
        .to(to)
        .subject(&message.rendered.subject)
        .message_id(Some(format!("<{}@{domain}>", message.id)))
        .date_now()
        .multipart(MultiPart::alternative_plain_html(
            message.rendered.text.clone(),
            message.rendered.html.clone(),
        ))?)
}

/// The console mailer's output: the headers and both parts, decoded, between markers a person
/// (or a script) can find.
fn print_message(from: &Mailbox, message: &Outgoing<'_>, mime: &MimeMessage) {
    let header = |name: &str| {
        mime.headers()
            .get_raw(name)
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let text = format!(
        "\n----- mail {id} (console mailer: not sent) -----\n\
         From: {from}\nTo: {to}\nSubject: {subject}\nDate: {date}\nMessage-ID: {message_id}\n\
         \n--- text/plain ---\n{text}\n--- text/html ---\n{html}\n----- end of mail {id} -----\n",
        id = message.id,
        to = message.to,
        subject = message.rendered.subject,
        date = header("Date"),
        message_id = header("Message-ID"),
        text = message.rendered.text.trim_end(),
        html = message.rendered.html.trim_end(),
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn smtp_transport(settings: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = &settings.url;
    let host = url
        .host_str()
        .ok_or_else(|| anyhow!("--smtp-url names no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mode = url
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    let tls = || -> Result<TlsParameters> {
        let mut builder = TlsParameters::builder(host.to_owned());
        if let Some(path) = &settings.ca_file {
            for certificate in read_ca_file(path)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        builder
            .build_rustls()
            .context("TLS settings for --smtp-url")
    };
    let (tls, default_port) = match (url.scheme(), mode.as_deref()) {
        ("smtps", _) => (Tls::Wrapper(tls()?), 465),
        (_, Some("none")) => (Tls::None, 25),
        (_, Some("opportunistic")) => (Tls::Opportunistic(tls()?), 587),
        _ => (Tls::Required(tls()?), 587),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(url.port().unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(settings.timeout));
    let decode = |s: &str| {
        percent_encoding_decode(s).context("--smtp-url credentials are not valid percent-encoding")
    };
    let credentials = match (&settings.username, &settings.password, url.password()) {
        (Some(user), Some(password), _) => Some(Credentials::new(user.clone(), password.clone())),
        (_, _, Some(password)) => {
            Some(Credentials::new(decode(url.username())?, decode(password)?))
        }
        _ => None,
    };
    if let Some(credentials) = credentials {
        builder = builder.credentials(credentials);
    }
    if matches!(mode.as_deref(), Some("none")) && !is_loopback(host) {
        tracing::warn!(
            host,
            "--smtp-url has tls=none: messages (and their links) cross the network unencrypted"
        );
    }
    Ok(builder.build())
}

fn percent_encoding_decode(text: &str) -> Result<String> {
    Ok(percent_encoding::percent_decode_str(text)
        .decode_utf8()?
        .into_owned())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The certificates of `--smtp-ca-file` (PEM), at least one.
pub fn read_ca_file(path: &Path) -> Result<Vec<Certificate>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read --smtp-ca-file {}", path.display()))?;
    let certificate = Certificate::from_pem(&pem)
        .with_context(|| format!("--smtp-ca-file {} is not PEM certificates", path.display()))?;
    if !String::from_utf8_lossy(&pem).contains("BEGIN CERTIFICATE") {
        anyhow::bail!("--smtp-ca-file {} holds no certificate", path.display());
    }
    Ok(vec![certificate])
}

/// An SMTP failure in a line: the server's reply, or what went wrong with the connection.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
