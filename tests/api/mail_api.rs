//! `POST /v1/mail/test` (issue 17's mailer): who may send one, what is refused, 503
//! `MAILER_NOT_CONFIGURED` without a mailer, templates overridden from a directory, and the
//! console mailer printing a message on the server's standard output.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    sync::mpsc,
    time::Duration,
};

use users_api_client::{
    Client,
    types::{Role, TestMailRequest},
};

use crate::{
    cli::users_api,
    fixtures::{code, key_client, key_with, person},
    helpers::spawn_app,
    mail_sink::{SmtpSink, app_with, dispatcher, settings_from, smtp_settings},
};

fn to(address: &str) -> TestMailRequest {
    TestMailRequest { to: address.into() }
}

async fn send_test(client: &Client, address: &str) -> (u16, String) {
    code(client.send_test_mail().body(to(address)).send().await)
}

#[tokio::test]
async fn without_a_mailer_a_test_message_is_503_mailer_not_configured() {
    let app = spawn_app().await;
    assert_eq!(
        send_test(&app.client(), "ops@acme.test").await,
        (503, "MAILER_NOT_CONFIGURED".into())
    );
}

#[tokio::test]
async fn only_a_caller_with_every_scope_may_send_a_test_message() {
    let sink = SmtpSink::start();
    let app = app_with(&smtp_settings(&sink, "1s")).await;
    let partial = key_with(&app, &["users:read", "users:write", "teams:write"]).await;
    assert_eq!(
        send_test(&partial, "ops@acme.test").await,
        (403, "INSUFFICIENT_SCOPE".into())
    );
    let (_, member) = person(&app, "member@acme.test", Role::Member).await;
    assert_eq!(send_test(&member, "ops@acme.test").await.0, 403, "a member");
    let (_, viewer) = person(&app, "viewer@acme.test", Role::Viewer).await;
    assert_eq!(send_test(&viewer, "ops@acme.test").await.0, 403);
    assert_eq!(
        send_test(&app.anonymous(), "ops@acme.test").await,
        (401, "UNAUTHORIZED".into())
    );
    for admin in [app.client(), key_client(&app)] {
        let queued = admin
            .send_test_mail()
            .body(to("ops@acme.test"))
            .send()
            .await
            .unwrap();
        assert_eq!(queued.status(), 202);
        assert_eq!(queued.into_inner().data.kind, "test");
    }
}

#[tokio::test]
async fn an_invalid_recipient_is_422_and_queues_nothing() {
    let sink = SmtpSink::start();
    let app = app_with(&smtp_settings(&sink, "1s")).await;
    assert_eq!(
        send_test(&app.client(), "not an address").await,
        (422, "INVALID_EMAIL".into())
    );
    let raw = app
        .http()
        .post(app.url("/v1/mail/test"))
        .bearer_auth(&app.admin.session_token)
        .json(&serde_json::json!({"to": "ops@acme.test", "cc": "x@acme.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(users_api::db::mail::queued(&app.state.db).await.unwrap(), 0);
}

#[tokio::test]
async fn templates_in_the_templates_directory_replace_the_built_in_ones_and_escape_html() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test.subject.txt"),
        "Ping from {{ org_name }}",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test.html"),
        "<p class=\"custom\">{{ org_name }} to {{ to }}</p>",
    )
    .unwrap();
    let sink = SmtpSink::start();
    let mut settings = smtp_settings(&sink, "1s");
    let with_dir = settings_from(&[
        "users-api".into(),
        "--mailer".into(),
        "console".into(),
        "--mail-templates".into(),
        dir.path().display().to_string(),
    ]);
    settings.templates = with_dir.templates;
    let app = app_with(&settings).await;
    let _dispatcher = dispatcher(&app, &app.state.db, &settings);
    let other = app.create_org("R&D <Labs>", "admin@labs.test").await;
    let client = app.client_with(&other.session_token);
    let queued = client
        .send_test_mail()
        .body(to("ops@labs.test"))
        .send()
        .await;
    assert_eq!(queued.unwrap().status(), 202);
    let received = sink.wait_for(1).await;
    assert_eq!(received[0].subject(), "Ping from R&D <Labs>");
    assert_eq!(
        received[0].html().trim(),
        "<p class=\"custom\">R&amp;D &lt;Labs&gt; to ops@labs.test</p>"
    );
    // The text part was not overridden: the built-in one, unescaped.
    assert!(
        received[0]
            .text()
            .contains("This is a test message from R&D <Labs>")
    );
}

#[tokio::test]
async fn the_console_mailer_of_the_demo_run_prints_the_message_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = users_api(dir.path())
        .env("RUST_LOG", "info")
        .args(["--addr", "127.0.0.1:0", "--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (address_tx, address) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && event["message"] == "listening"
            {
                let _ = address_tx.send(event["addr"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    let next = || lines.recv_timeout(Duration::from_secs(30)).unwrap();
    let api_key = loop {
        if let Some(key) = next().trim().strip_prefix("API key:") {
            break key.trim().to_owned();
        }
    };
    let address = address.recv_timeout(Duration::from_secs(30)).unwrap();
    let client =
        users_api_client::with_bearer_token(&format!("http://{address}"), &api_key).unwrap();
    let queued = client
        .send_test_mail()
        .body(to("ops@demo.example"))
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let mut printed = Vec::new();
    loop {
        let line = next();
        let done = line.starts_with(&format!("----- end of mail {}", queued.id));
        printed.push(line);
        if done {
            break;
        }
    }
    let printed = printed.join("\n");
    child.kill().unwrap();
    let _ = child.wait();
    for expected in [
        "From: users-api <no-reply@users-api.localhost>".to_owned(),
        "To: ops@demo.example".into(),
        "Subject: Test message from Demo".into(),
        format!("Message-ID: <{}@users-api.localhost>", queued.id),
        "--- text/plain ---".into(),
        "This is a test message from Demo".into(),
        "--- text/html ---".into(),
        "<h1".into(),
    ] {
        assert!(printed.contains(&expected), "{expected:?} in\n{printed}");
    }
    assert!(printed.contains("\nDate: "), "{printed}");
}
