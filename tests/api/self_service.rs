//! What the self-service tests share (issue 17): a server whose mailer sends to a real SMTP
//! sink (`mail_sink`), with its dispatcher running, and reading the link's token and the code
//! out of the messages as received.

use std::{sync::Arc, time::Duration};

use users_api::{
    db::{events, mail::queued},
    domain::{EventType, OrgId},
    mail::dispatcher::MailDispatcherHandle,
};

use crate::{
    helpers::{TestApp, TestOptions, spawn_app_with},
    mail_sink::{Received, SmtpSink, dispatcher, smtp_settings},
};

/// A test app whose mailer delivers to `sink`, links under `https://app.acme.test/`.
pub struct Mailing {
    pub sink: SmtpSink,
    pub app: TestApp,
    _dispatcher: MailDispatcherHandle,
}

pub async fn mailing_app() -> Mailing {
    mailing_app_with(TestOptions::default()).await
}

pub async fn mailing_app_with(options: TestOptions) -> Mailing {
    let sink = SmtpSink::start();
    let settings = smtp_settings(&sink, "1s");
    let app = spawn_app_with(TestOptions {
        mailer: Some(Arc::new(settings.clone())),
        ..options
    })
    .await;
    let handle = dispatcher(&app, &app.state.db, &settings);
    Mailing {
        sink,
        app,
        _dispatcher: handle,
    }
}

impl Mailing {
    /// Waits for message number `n` (1-based) and returns it.
    pub async fn nth(&self, n: usize) -> Received {
        self.sink.wait_for(n).await[n - 1].clone()
    }

    /// Waits until the outbox is empty and every queued message was taken by the sink, then
    /// returns how many the sink has.
    pub async fn settled(&self) -> usize {
        // A request's work may run just after its response (password resets).
        tokio::time::sleep(Duration::from_millis(300)).await;
        for _ in 0..600 {
            if queued(&self.app.state.db).await.unwrap() == 0 {
                return self.sink.received().len();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the outbox still holds messages");
    }
}

/// The ticket token in `mail`'s link to `page` under the public URL (checked in both parts).
pub fn token_in(mail: &Received, page: &str) -> String {
    let text = mail.text();
    let prefix = format!("https://app.acme.test/{page}?token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"))
        + prefix.len();
    let token = text[start..start + 47].to_owned();
    assert!(token.starts_with("tkt_"), "{token}");
    assert!(mail.html().contains(&token), "{}", mail.html());
    token
}

/// The 6-digit code on a line of its own in `mail`'s text.
pub fn code_in(mail: &Received) -> String {
    let text = mail.text();
    text.lines()
        .map(str::trim)
        .find(|line| line.len() == 6 && line.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in:\n{text}"))
        .to_owned()
}

/// Every event of `org` so far, checked to hold none of `secrets` (tokens, codes).
pub async fn events_without(
    app: &TestApp,
    org: &OrgId,
    secrets: &[&str],
) -> Vec<users_api::db::events::StoredEvent> {
    let all = events::list(&app.state.db, org, 0, 1000, &[])
        .await
        .unwrap();
    for event in &all {
        for secret in secrets {
            assert!(
                !event.data.contains(secret),
                "{:?} holds a secret: {}",
                event.kind,
                event.data
            );
        }
    }
    all
}

/// How many events of `kind` are in `all`.
pub fn count(all: &[users_api::db::events::StoredEvent], kind: EventType) -> usize {
    all.iter().filter(|e| e.kind == kind).count()
}

/// `received` in the order the messages were queued (their `Message-ID`s are UUIDv7s): the
/// dispatcher may deliver messages queued together in any order.
pub fn in_queue_order(mut received: Vec<Received>) -> Vec<Received> {
    received.sort_by_key(|r| r.header("Message-ID").unwrap_or_default());
    received
}
