//! The mailer's delivery (issue 17) to a real SMTP server (`mail_sink`): the message as it
//! arrives (headers, both MIME parts, the link and code), retries after temporary refusals,
//! giving up after the schedule or at a permanent refusal (counted in `/metrics`), a queued
//! message sent by a new server after a restart, STARTTLS with a private CA and credentials,
//! and the link and code sealed in the outbox until the row is deleted.

use std::{collections::BTreeMap, sync::Arc};

use users_api::{
    db::{Db, mail::queued},
    domain::EmailAddress,
    mail::{MailKind, Mailer, Message},
};
use users_api_client::types::TestMailRequest;

use crate::{
    helpers::TestApp,
    mail_sink::{SmtpSink, app_with, dispatcher, settings_from, smtp_settings},
};

async fn send_test(app: &TestApp, to: &str) -> String {
    let queued = app
        .client()
        .send_test_mail()
        .body(TestMailRequest { to: to.into() })
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    queued.into_inner().data.id.to_string()
}

/// Waits (up to 30 s) until the outbox is empty: every message sent or given up.
async fn wait_until_outbox_empty(db: &Db) {
    for _ in 0..600 {
        if queued(db).await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the outbox still holds messages");
}

async fn metrics(app: &TestApp) -> String {
    app.http()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_test_message_arrives_with_its_headers_and_both_parts() {
    let sink = SmtpSink::start();
    let settings = smtp_settings(&sink, "1s");
    let app = app_with(&settings).await;
    let _dispatcher = dispatcher(&app, &app.state.db, &settings);
    let id = send_test(&app, "ops@acme.test").await;
    let received = sink.wait_for(1).await;
    let mail = &received[0];
    assert_eq!(mail.envelope_from, "noreply@acme.test");
    assert_eq!(mail.envelope_to, ["ops@acme.test"]);
    assert_eq!(mail.header("From").unwrap(), "Acme <noreply@acme.test>");
    assert_eq!(mail.header("To").unwrap(), "ops@acme.test");
    assert_eq!(mail.subject(), "Test message from Acme");
    assert_eq!(
        mail.header("Message-ID").unwrap(),
        format!("<{id}@acme.test>")
    );
    let date = mail.header("Date").unwrap();
    chrono::DateTime::parse_from_rfc2822(&date).unwrap_or_else(|e| panic!("{date}: {e}"));
    assert_eq!(
        mail.part_types(),
        ["multipart/alternative", "text/plain", "text/html"]
    );
    assert!(
        mail.text()
            .contains("This is a test message from Acme, sent to ops@acme.test")
    );
    assert!(mail.html().contains("<h1"), "{}", mail.html());
    wait_until_outbox_empty(&app.state.db).await;
    assert!(
        metrics(&app)
            .await
            .contains("mail_sent_total{kind=\"test\"}")
    );
}

#[tokio::test]
async fn a_verification_message_carries_its_link_and_code_sealed_until_it_is_sent() {
    let sink = SmtpSink::start();
    let settings = smtp_settings(&sink, "1s");
    let app = app_with(&settings).await;
    let mailer = Mailer::new(Arc::new(settings.clone()));
    let token = "tkt_f3Wq9Lk2ZxYvB8nR4tM1sP7eA0cD5gH6";
    let link = mailer.link(None, "verify-email", token).unwrap();
    assert_eq!(
        link,
        format!("https://app.acme.test/verify-email?token={token}")
    );
    let message = Message {
        kind: MailKind::VerifyEmail,
        to: EmailAddress::parse("ada@acme.test").unwrap(),
        link: Some(link.clone()),
        code: Some("482913".into()),
        vars: BTreeMap::new(),
    };
    let mail = mailer
        .prepare(&app.state.secrets, app.admin.org_id, message)
        .unwrap();
    users_api::mail::enqueue(&app.state.db, &mail)
        .await
        .unwrap();
    let stored = mail.secrets.clone().unwrap();
    assert!(stored.starts_with("v1."), "{stored}");
    assert!(!stored.contains(token) && !stored.contains("482913"));
    assert!(!mail.vars.contains(token));
    let _dispatcher = dispatcher(&app, &app.state.db, &settings);
    let received = sink.wait_for(1).await;
    // minijinja's HTML escaping writes `/` as `&#x2f;` (browsers read it back in `href`).
    let escaped = link.replace('/', "&#x2f;");
    for (part, link) in [(received[0].text(), &link), (received[0].html(), &escaped)] {
        assert!(part.contains(link.as_str()), "{part}");
        assert!(part.contains("482913"), "{part}");
    }
    assert_eq!(received[0].subject(), "Verify your e-mail address for Acme");
    // Sent: the row, and the token in it, are gone.
    wait_until_outbox_empty(&app.state.db).await;
}

#[tokio::test]
async fn a_message_refused_for_now_is_retried_until_the_server_takes_it() {
    let sink = SmtpSink::start();
    sink.answer_with(Arc::new(|n| if n < 2 { 451 } else { 250 }));
    let settings = smtp_settings(&sink, "1s,1s,1s");
    let app = app_with(&settings).await;
    let _dispatcher = dispatcher(&app, &app.state.db, &settings);
    let id = send_test(&app, "ops@acme.test").await;
    let received = sink.wait_for(1).await;
    assert_eq!(sink.attempts(), 3);
    assert_eq!(
        received[0].header("Message-ID").unwrap(),
        format!("<{id}@acme.test>")
    );
    wait_until_outbox_empty(&app.state.db).await;
    assert!(
        metrics(&app)
            .await
            .contains("mail_retries_total{kind=\"test\"}")
    );
}

#[tokio::test]
async fn a_message_refused_through_the_whole_schedule_is_given_up_and_counted() {
    let sink = SmtpSink::start();
    sink.answer_with(Arc::new(|_| 451));
    let settings = smtp_settings(&sink, "1s");
    let app = app_with(&settings).await;
    let _dispatcher = dispatcher(&app, &app.state.db, &settings);
    send_test(&app, "ops@acme.test").await;
    sink.wait_for_attempts(2).await;
    wait_until_outbox_empty(&app.state.db).await;
    assert_eq!(
        sink.attempts(),
        2,
        "one attempt and the schedule's one retry"
    );
    assert!(sink.received().is_empty());
    assert!(
        metrics(&app)
            .await
            .contains("mail_failed_total{kind=\"test\"}")
    );
}

#[tokio::test]
async fn a_permanent_refusal_is_given_up_at_once() {
    let sink = SmtpSink::start();
    sink.answer_with(Arc::new(|_| 550));
    let settings = smtp_settings(&sink, "1s,1s,1s");
    let app = app_with(&settings).await;
    let _dispatcher = dispatcher(&app, &app.state.db, &settings);
    send_test(&app, "ops@acme.test").await;
    sink.wait_for_attempts(1).await;
    wait_until_outbox_empty(&app.state.db).await;
    assert_eq!(sink.attempts(), 1);
}

#[tokio::test]
async fn a_message_waiting_for_a_retry_is_sent_by_a_new_server_after_a_restart() {
    let sink = SmtpSink::start();
    sink.answer_with(Arc::new(|n| if n == 0 { 451 } else { 250 }));
    let settings = smtp_settings(&sink, "2s");
    let mut app = app_with(&settings).await;
    let first = dispatcher(&app, &app.state.db, &settings);
    let id = send_test(&app, "ops@acme.test").await;
    sink.wait_for_attempts(1).await;
    // The instance stops in the middle of its backoff…
    drop(first);
    app.shut_down().await;
    // …and another process, with pools of its own on the same database, sends it.
    let db = Db::connect(&app.database_url, Default::default())
        .await
        .unwrap();
    let _second = dispatcher(&app, &db, &settings);
    let received = sink.wait_for(1).await;
    assert_eq!(
        received[0].header("Message-ID").unwrap(),
        format!("<{id}@acme.test>")
    );
    wait_until_outbox_empty(&db).await;
    assert_eq!(sink.attempts(), 2);
}

#[tokio::test]
async fn starttls_to_a_server_of_a_private_ca_with_credentials_delivers() {
    let sink = SmtpSink::start_tls(Some(("mailer", "s3cret pass")));
    let mut args: Vec<String> = [
        "users-api",
        "--smtp-url",
        &sink.url(),
        "--smtp-username",
        "mailer",
        "--smtp-password",
        "s3cret pass",
        "--smtp-ca-file",
        &sink.ca_file.as_ref().unwrap().display().to_string(),
        "--mail-from",
        "noreply@acme.test",
        "--mail-poll-interval",
        "100ms",
    ]
    .map(String::from)
    .to_vec();
    let settings = settings_from(&args);
    let app = app_with(&settings).await;
    let _dispatcher = dispatcher(&app, &app.state.db, &settings);
    send_test(&app, "ops@acme.test").await;
    let received = sink.wait_for(1).await;
    assert_eq!(received[0].subject(), "Test message from Acme");
    wait_until_outbox_empty(&app.state.db).await;

    // Without the CA, the server's certificate is not trusted and nothing is sent.
    args.drain(7..9);
    let untrusting = settings_from(&args);
    let _other = dispatcher(&app, &app.state.db, &untrusting);
    drop(_dispatcher);
    let before = sink.attempts();
    send_test(&app, "ops@acme.test").await;
    let row_error = async {
        for _ in 0..600 {
            let rows = users_api::db::mail::queued(&app.state.db).await.unwrap();
            if rows == 1 && last_error(&app).await.is_some() {
                return last_error(&app).await.unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no failed attempt recorded");
    }
    .await;
    assert!(
        row_error.to_lowercase().contains("certificate"),
        "{row_error}"
    );
    assert_eq!(sink.attempts(), before);
}

async fn last_error(app: &TestApp) -> Option<String> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use users_api::db::schema::mail_outbox;
    crate::helpers::on_db!(app.state.db, |conn| mail_outbox::table
        .select(mail_outbox::last_error)
        .first::<Option<String>>(conn)
        .await
        .ok()
        .flatten())
}
