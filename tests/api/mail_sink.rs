//! What the mail tests share: a real SMTP server on `127.0.0.1:0` (mailin-embedded: a small
//! embeddable SMTP server, STARTTLS with rustls, run on threads of its own) that records every
//! message and answers the end of each one's data as its test says; optionally STARTTLS with
//! a certificate for 127.0.0.1 issued by a CA made here (rcgen) and required credentials. The
//! messages are read back with mail-parser, independently of lettre. Also: the mailer's
//! settings for a test app, and its dispatcher.

use std::{
    net::TcpListener,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use mail_parser::{MessageParser, MimeHeaders};
use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig, response};
use tempfile::TempDir;
use users_api::{
    db::Db,
    mail::{self, MailSettings, TransportSettings, dispatcher::MailDispatcherHandle},
};

use crate::helpers::{TestApp, TestOptions, spawn_app_with};

/// One message as the sink got it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `MAIL FROM` and `RCPT TO`.
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(&self.raw)
            .expect("a parsable message")
    }

    /// A header's value as sent (unfolded, trimmed).
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.raw);
        let head = text
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .replace("\r\n ", " ");
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The `text/plain` part, decoded.
    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .expect("a text part")
            .into_owned()
    }

    /// The `text/html` part, decoded.
    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .expect("an HTML part")
            .into_owned()
    }

    /// The content types of the parts, in order.
    pub fn part_types(&self) -> Vec<String> {
        let message = self.parsed();
        message
            .parts
            .iter()
            .filter_map(|part| part.content_type())
            .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()))
            .collect()
    }
}

/// How the sink answers the `n`-th message's `DATA` (0-based, counting
/// refusals): 250 takes it.
pub type Answer = Arc<dyn Fn(usize) -> u16 + Send + Sync>;

struct Inbox {
    received: Mutex<Vec<Received>>,
    attempts: AtomicUsize,
    answer: Mutex<Answer>,
    credentials: Option<(String, String)>,
}

#[derive(Clone)]
struct Session {
    inbox: Arc<Inbox>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Session {
    // Refusals answer `DATA`: mailin-embedded (0.8) mishandles a refusal at the end of the
    // data (it keeps reading the next commands as data), and a client sees both alike.
    fn data_start(&mut self, _domain: &str, from: &str, _8bit: bool, to: &[String]) -> Response {
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        let n = self.inbox.attempts.fetch_add(1, Ordering::SeqCst);
        let answer = self.inbox.answer.lock().unwrap().clone();
        match answer(n) {
            250 => response::OK,
            code => Response::custom(code, format!("refused by the test ({code})")),
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox.received.lock().unwrap().push(Received {
            envelope_from: self.from.clone(),
            envelope_to: self.to.clone(),
            raw: std::mem::take(&mut self.data),
        });
        response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.check(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.check(user, password)
    }
}

impl Session {
    fn check(&self, user: &str, password: &str) -> Response {
        match &self.inbox.credentials {
            Some((u, p)) if u == user && p == password => response::AUTH_OK,
            _ => response::INVALID_CREDENTIALS,
        }
    }
}

/// An SMTP server for one test. Its threads outlive it (mailin-embedded has no shutdown);
/// they only wait on a listener nobody connects to again.
pub struct SmtpSink {
    pub port: u16,
    /// With STARTTLS: the CA that issued the sink's certificate, for `--smtp-ca-file`.
    pub ca_file: Option<PathBuf>,
    inbox: Arc<Inbox>,
    _dir: TempDir,
}

impl SmtpSink {
    /// A plain SMTP server that accepts everything.
    pub fn start() -> Self {
        Self::start_with(false, None)
    }

    /// A server offering STARTTLS with a certificate for 127.0.0.1, requiring `credentials`
    /// when given.
    pub fn start_tls(credentials: Option<(&str, &str)>) -> Self {
        Self::start_with(true, credentials)
    }

    fn start_with(tls: bool, credentials: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Arc::new(Inbox {
            received: Mutex::new(Vec::new()),
            attempts: AtomicUsize::new(0),
            answer: Mutex::new(Arc::new(|_| 250)),
            credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        });
        let session = Session {
            inbox: inbox.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(session);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        server.with_name("sink.test").with_tcp_listener(listener);
        let ca_file = tls.then(|| {
            let (ca, cert, key) = certificates(&dir);
            server
                .with_ssl(SslConfig::SelfSigned {
                    cert_path: cert.display().to_string(),
                    key_path: key.display().to_string(),
                })
                .unwrap();
            if credentials.is_some() {
                server.with_auth(AuthMechanism::Plain);
            }
            ca
        });
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self {
            port,
            ca_file,
            inbox,
            _dir: dir,
        }
    }

    /// How each message's `DATA` is answered from now on (250 accepts).
    pub fn answer_with(&self, answer: Answer) {
        *self.inbox.answer.lock().unwrap() = answer;
    }

    /// `--smtp-url` for this sink: plain, or STARTTLS required.
    pub fn url(&self) -> String {
        match self.ca_file {
            Some(_) => format!("smtp://127.0.0.1:{}", self.port),
            None => format!("smtp://127.0.0.1:{}?tls=none", self.port),
        }
    }

    /// Messages offered (`DATA`), accepted or not.
    pub fn attempts(&self) -> usize {
        self.inbox.attempts.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `n` messages are accepted; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..600 {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} messages expected, got {}", self.received().len());
    }

    /// Waits (up to 30 s) until `n` messages were offered, accepted or refused.
    pub async fn wait_for_attempts(&self, n: usize) {
        for _ in 0..600 {
            if self.attempts() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} attempts expected, got {}", self.attempts());
    }
}

/// A CA, and a certificate for 127.0.0.1 it issued with its key: (ca, cert, key) PEM files.
fn certificates(dir: &TempDir) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let write = |name: &str, pem: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    (
        write("ca.pem", ca.pem()),
        write("cert.pem", cert.pem()),
        write("key.pem", key.serialize_pem()),
    )
}

/// The mailer's settings for `sink` (plain SMTP, or STARTTLS trusting its CA), from
/// `noreply@acme.test`, with `schedule` and links under `https://app.acme.test/`.
pub fn smtp_settings(sink: &SmtpSink, schedule: &str) -> MailSettings {
    let mut args = vec![
        "users-api".to_owned(),
        "--smtp-url".into(),
        sink.url(),
        "--mail-from".into(),
        "Acme <noreply@acme.test>".into(),
        "--public-url".into(),
        "https://app.acme.test/".into(),
        "--mail-retry-schedule".into(),
        schedule.into(),
        "--mail-poll-interval".into(),
        "100ms".into(),
        "--smtp-timeout".into(),
        "5s".into(),
    ];
    if let Some(ca) = &sink.ca_file {
        args.extend(["--smtp-ca-file".to_owned(), ca.display().to_string()]);
    }
    settings_from(&args)
}

/// The settings `args` (a command line) resolve to, outside the demo run.
pub fn settings_from(args: &[String]) -> MailSettings {
    use clap::Parser;
    let cli = users_api::config::Cli::try_parse_from(args).unwrap();
    cli.config
        .mail
        .resolve(false, None)
        .unwrap()
        .expect("a mailer")
}

/// A test app whose API has the mailer of `settings` (no dispatcher yet: `dispatcher`).
pub async fn app_with(settings: &MailSettings) -> TestApp {
    spawn_app_with(TestOptions {
        mailer: Some(Arc::new(settings.clone())),
        ..TestOptions::default()
    })
    .await
}

/// The mail dispatcher on `db`, as the server starts it.
pub fn dispatcher(app: &TestApp, db: &Db, settings: &MailSettings) -> MailDispatcherHandle {
    assert!(matches!(settings.transport, TransportSettings::Smtp(_)));
    mail::spawn(
        db.clone(),
        app.state.secrets.clone(),
        Arc::new(settings.clone()),
    )
    .unwrap()
}
