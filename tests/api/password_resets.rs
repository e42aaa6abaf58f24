//! `POST /v1/password-resets` (issue 17, point 6): a reset mailed through a real SMTP server and
//! redeemed from the link in the message; the same answer for unknown, suspended and invited
//! accounts, with nothing sent to them; the limits per address asked for; 503 without a mailer.

use users_api::domain::{EventType, OrgId};
use users_api_client::{
    UserPatch,
    types::{PasswordResetRequest, Role, SettableStatus, UserCreate},
};

use crate::{
    fixtures::{code, create_user, key_client, me_status, session_token, sign_in},
    helpers::{TestApp, TestOptions, spawn_app},
    self_service::{count, events_without, mailing_app, mailing_app_with, token_in},
    tickets::{redeem, redeemed},
};

const NEW_PASSWORD: &str = "correct horse battery staple";

fn ask(app: &TestApp, email: &str) -> PasswordResetRequest {
    PasswordResetRequest {
        org_id: app.admin.org_id.into_uuid(),
        email: email.into(),
    }
}

/// The raw answer (status, body) to a reset asked for `email`.
async fn raw_reset(app: &TestApp, email: &str) -> (u16, String) {
    let response = app
        .http()
        .post(app.url("/v1/password-resets"))
        .json(&ask(app, email))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_mailed_reset_link_sets_the_password_revokes_sessions_and_signs_in() {
    let m = mailing_app().await;
    let app = &m.app;
    let user = create_user(app, "ada@acme.test", Role::Member).await;
    let old_session = session_token(app, &user).await;
    let accepted = app
        .anonymous()
        .request_password_reset()
        .body(ask(app, "ADA@acme.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let accepted = accepted.into_inner().data;
    assert!(accepted.accepted);
    assert_eq!(accepted.link_ttl_seconds, 3600);

    let mail = m.nth(1).await;
    assert_eq!(mail.envelope_to, ["ada@acme.test"]);
    assert_eq!(mail.subject(), "Reset your Acme password");
    let token = token_in(&mail, "reset-password");
    let done = redeemed(app, &token, Some(NEW_PASSWORD)).await;
    assert!(done.session.is_some());
    assert_eq!(me_status(app, &old_session).await, 401);
    let org = OrgId::from(user.org_id);
    assert!(
        sign_in(app, &org, "ada@acme.test", NEW_PASSWORD, None)
            .await
            .is_ok()
    );
    // Once.
    assert_eq!(
        code(redeem(app, &token, Some(NEW_PASSWORD), None).await),
        (410, "TICKET_USED".into())
    );
    let all = events_without(app, &org, &[&token[4..]]).await;
    assert_eq!(count(&all, EventType::UserPasswordReset), 1);
}

#[tokio::test]
async fn the_answer_is_the_same_for_every_account_and_only_an_active_one_gets_mail() {
    let m = mailing_app().await;
    let app = &m.app;
    create_user(app, "ada@acme.test", Role::Member).await;
    let suspended = create_user(app, "sue@acme.test", Role::Member).await;
    key_client(app)
        .patch_user()
        .user_id(suspended.id)
        .body(UserPatch {
            status: Some(SettableStatus::Suspended),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let invited = UserCreate {
        primary_email: Some("ivy@acme.test".parse().unwrap()),
        invite: Some(true),
        ..Default::default()
    };
    key_client(app)
        .create_user()
        .body(invited)
        .send()
        .await
        .unwrap();
    // The invitation is mailed (`invitations`): count from there.
    let before = m.settled().await;
    assert_eq!(before, 1);

    let known = raw_reset(app, "ada@acme.test").await;
    assert_eq!(known.0, 202);
    for email in [
        "nobody@acme.test",
        "sue@acme.test",
        "ivy@acme.test",
        "Nobody@Acme.Test",
    ] {
        assert_eq!(raw_reset(app, email).await, known, "{email}");
    }
    // Another organization's address is no account here either.
    let other = app.create_org("Globex", "boss@globex.test").await;
    assert_eq!(raw_reset(app, "boss@globex.test").await, known);
    let _ = other;

    let received = m.sink.wait_for(before + 1).await;
    assert_eq!(
        m.settled().await,
        before + 1,
        "only the active account gets mail"
    );
    assert_eq!(received[before].envelope_to, ["ada@acme.test"]);
}

#[tokio::test]
async fn resets_are_limited_per_address_asked_for_with_retry_after() {
    let options = TestOptions {
        sign_in_limits: users_api::auth::throttle::SignInLimits {
            per_account: std::num::NonZeroU32::new(2).unwrap(),
            per_address: std::num::NonZeroU32::new(100).unwrap(),
        },
        ..TestOptions::default()
    };
    let m = mailing_app_with(options).await;
    let app = &m.app;
    create_user(app, "ada@acme.test", Role::Member).await;
    for _ in 0..2 {
        assert_eq!(raw_reset(app, "ada@acme.test").await.0, 202);
    }
    let reply = app
        .anonymous()
        .request_password_reset()
        .body(ask(app, "Ada@acme.test"))
        .send()
        .await;
    let users_api_client::Error::ErrorResponse(response) = reply.unwrap_err() else {
        panic!("a declared error");
    };
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.into_inner().error.code, "RATE_LIMITED");
    // Unknown addresses are limited alike (the limit does not tell accounts apart either).
    for _ in 0..2 {
        assert_eq!(raw_reset(app, "nobody@acme.test").await.0, 202);
    }
    assert_eq!(raw_reset(app, "nobody@acme.test").await.0, 429);
    // Sign-in for the account is not used up by resets.
    let org = app.admin.org_id;
    let reply = sign_in(app, &org, "ada@acme.test", "a wrong guess", None).await;
    assert_eq!(code(reply).0, 401);
    // The two that were taken were both mailed.
    m.sink.wait_for(2).await;
}

#[tokio::test]
async fn a_reset_without_a_mailer_is_503_and_bad_input_is_refused() {
    let app = spawn_app().await;
    let reply = app
        .anonymous()
        .request_password_reset()
        .body(ask(&app, "ada@acme.test"))
        .send()
        .await;
    assert_eq!(code(reply), (503, "MAILER_NOT_CONFIGURED".into()));

    let m = mailing_app().await;
    let reply = m
        .app
        .anonymous()
        .request_password_reset()
        .body(ask(&m.app, "not an address"))
        .send()
        .await;
    assert_eq!(code(reply), (422, "INVALID_EMAIL".into()));
    let response = m
        .app
        .http()
        .post(m.app.url("/v1/password-resets"))
        .json(&serde_json::json!({"org_id": "nope", "email": "ada@acme.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_answer_does_not_wait_for_the_account_lookup_so_its_time_tells_nothing() {
    use diesel_async::SimpleAsyncConnection;
    use users_api::db::Pools;
    let m = mailing_app().await;
    let app = &m.app;
    create_user(app, "ada@acme.test", Role::Member).await;
    // Hold the users table (PostgreSQL) or the one writer (SQLite): any request that looked an
    // account up, or issued its ticket, before answering would wait for it.
    let held = match app.state.db.pools() {
        Pools::Postgres(pool) => {
            let mut conn = pool.get_owned().await.unwrap();
            conn.batch_execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
                .await
                .unwrap();
            Held::Postgres(Box::new(conn))
        }
        Pools::Sqlite { write, .. } => {
            let mut conn = write.get_owned().await.unwrap();
            conn.batch_execute("BEGIN IMMEDIATE").await.unwrap();
            Held::Sqlite(conn)
        }
    };
    let mut answers = Vec::new();
    for email in ["ada@acme.test", "nobody@acme.test"] {
        let started = std::time::Instant::now();
        let answer = raw_reset(app, email).await;
        answers.push(answer);
        assert!(
            started.elapsed() < std::time::Duration::from_millis(1000),
            "{email}: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(answers[0], answers[1]);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(m.sink.received().is_empty());
    held.release().await;
    // Released: the known account's message goes out, and only it.
    let received = m.sink.wait_for(1).await;
    assert_eq!(received[0].envelope_to, ["ada@acme.test"]);
    assert_eq!(m.settled().await, 1);
}

enum Held {
    Postgres(Box<bb8::PooledConnection<'static, users_api::db::PgManager>>),
    Sqlite(
        bb8::PooledConnection<'static, users_api::db::SqliteManager<users_api::db::SqliteWriter>>,
    ),
}

impl Held {
    async fn release(self) {
        use diesel_async::SimpleAsyncConnection;
        match self {
            Held::Postgres(mut conn) => conn.batch_execute("ROLLBACK").await.unwrap(),
            Held::Sqlite(mut conn) => conn.batch_execute("ROLLBACK").await.unwrap(),
        }
    }
}
