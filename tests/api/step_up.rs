//! Step-up: changing `primary_email`, `password` or the TOTP settings through `/v1/me` needs a
//! session authenticated within `--reauth-window`, or a proof in the request (the current
//! password, or a TOTP code with 2FA on); otherwise 403 `REAUTHENTICATION_REQUIRED` with
//! `details.max_age`. `POST /v1/sessions/current/reauthenticate` moves `authenticated_at`
//! without a new token, and a failed one counts toward the sign-in limits and the lockout.

use chrono::{TimeDelta, Utc};
use users_api::{auth::throttle::SignInLimits, db::lockout::Lockout};
use users_api_client::{
    MePatch, Patch,
    types::{EventType, Reauthenticate, Role, SignIn},
};

use crate::{
    credentials::{base64_of, early_in_a_step, totp_code},
    fixtures::{code, failure, key_client, sign_in},
    helpers::{TestApp, TestOptions, spawn_app_with},
    mfa::{PASSWORD, SECRET},
};

const WINDOW: TimeDelta = TimeDelta::minutes(5);

fn options(lockout: Lockout) -> TestOptions {
    let limit = |n: u32| n.try_into().unwrap();
    TestOptions {
        sign_in_limits: SignInLimits {
            per_account: limit(100),
            per_address: limit(100),
        },
        lockout,
        reauth_window: WINDOW,
        ..TestOptions::default()
    }
}

/// A member `email` with `PASSWORD`, signed in; their session token.
async fn member(app: &TestApp, email: &str) -> String {
    let body = users_api_client::types::UserCreate {
        primary_email: Some(email.parse().unwrap()),
        password: Some(PASSWORD.parse().unwrap()),
        role: Some(Role::Member),
        ..Default::default()
    };
    key_client(app)
        .create_user()
        .body(body)
        .send()
        .await
        .unwrap();
    let signed_in = sign_in(app, &app.admin.org_id, email, PASSWORD, None).await;
    signed_in.unwrap().into_inner().data.token
}

/// Moves the `authenticated_at` of every session of the user `email` to `ago` before now.
async fn authenticated_ago(app: &TestApp, email: &str, ago: TimeDelta) {
    let at = (Utc::now().naive_utc() - ago).format("%Y-%m-%d %H:%M:%S%.6f");
    let sql = format!(
        "UPDATE sessions SET authenticated_at = '{at}' WHERE user_id = \
         (SELECT id FROM users WHERE primary_email = '{email}')"
    );
    app.state.db.execute_script(&sql).await.unwrap();
}

async fn patch(
    app: &TestApp,
    token: &str,
    body: MePatch,
) -> crate::fixtures::Reply<users_api_client::types::MeEnvelope> {
    app.client_with(token).patch_me().body(body).send().await
}

fn new_email(address: &str) -> MePatch {
    MePatch {
        primary_email: Patch::Value(address.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_sensitive_change_needs_a_session_authenticated_within_the_window() {
    let app = spawn_app_with(options(Lockout::default())).await;
    let token = member(&app, "edge@acme.test").await;

    // Just inside the window: allowed.
    authenticated_ago(&app, "edge@acme.test", WINDOW - TimeDelta::seconds(5)).await;
    let moved = patch(&app, &token, new_email("edge2@acme.test")).await;
    assert!(moved.is_ok(), "{moved:?}");

    // Just past it: refused, with the window in details.max_age, and nothing changed.
    authenticated_ago(&app, "edge2@acme.test", WINDOW + TimeDelta::seconds(1)).await;
    let (status, body) = failure(patch(&app, &token, new_email("edge3@acme.test")).await);
    assert_eq!(status, 403);
    assert_eq!(body.error.code.to_string(), "REAUTHENTICATION_REQUIRED");
    assert_eq!(body.error.details["max_age"], "300");
    let secret = MePatch {
        totp_secret_base64: Patch::Value(base64_of(SECRET)),
        totp_code: Some(totp_code(SECRET, early_in_a_step().await)),
        ..Default::default()
    };
    let reply = patch(&app, &token, secret).await;
    assert_eq!(code(reply), (403, "REAUTHENTICATION_REQUIRED".into()));
    let me = app.client_with(&token).get_me().send().await.unwrap();
    let me = me.into_inner().data;
    assert_eq!(me.primary_email.as_deref(), Some("edge2@acme.test"));
    assert!(!me.otp_auth_enabled);

    // Other fields need nothing; a proof in the request does instead of a recent sign-in.
    let name = MePatch {
        display_name: Patch::Value("Edge".into()),
        ..Default::default()
    };
    assert!(patch(&app, &token, name).await.is_ok());
    let wrong = MePatch {
        current_password: Some("not my password".into()),
        ..new_email("edge3@acme.test")
    };
    assert_eq!(
        code(patch(&app, &token, wrong).await),
        (403, "FORBIDDEN".into())
    );
    let proved = MePatch {
        current_password: Some(PASSWORD.into()),
        ..new_email("edge3@acme.test")
    };
    assert!(patch(&app, &token, proved).await.is_ok());
    let password = MePatch {
        password: Some("violet staircase under 7 moons".into()),
        current_password: Some(PASSWORD.into()),
        ..Default::default()
    };
    assert!(
        patch(&app, &token, password).await.is_ok(),
        "the current password is the proof"
    );
}

#[tokio::test]
async fn reauthenticating_moves_authenticated_at_and_keeps_the_token() {
    let app = spawn_app_with(options(Lockout::default())).await;
    let token = member(&app, "re@acme.test").await;
    let client = app.client_with(&token);
    authenticated_ago(&app, "re@acme.test", WINDOW * 2).await;
    let before = client.get_me().send().await.unwrap().into_inner().data;
    let stale = before.session.authenticated_at;
    assert!(Utc::now() - stale > WINDOW);
    assert_eq!(before.session.amr, ["pwd"]);
    let reply = patch(&app, &token, new_email("re2@acme.test")).await;
    assert_eq!(code(reply), (403, "REAUTHENTICATION_REQUIRED".into()));

    let reauthenticate = |password: Option<&str>, totp: Option<&str>| {
        client
            .reauthenticate()
            .body(Reauthenticate {
                password: password.map(Into::into),
                totp_code: totp.map(Into::into),
            })
            .send()
    };
    for (password, totp) in [(None, None), (Some(PASSWORD), Some("123456"))] {
        let (status, body) = failure(reauthenticate(password, totp).await);
        assert_eq!(
            (status, body.error.code.to_string()),
            (422, "EXCLUSIVE_FIELDS".into())
        );
    }
    let wrong = reauthenticate(Some("wrong guess 1"), None).await;
    assert_eq!(code(wrong), (403, "FORBIDDEN".into()));
    let session = reauthenticate(Some(PASSWORD), None)
        .await
        .expect("reauthenticated");
    let session = session.into_inner().data;
    assert!(Utc::now() - session.authenticated_at < TimeDelta::seconds(5));
    assert_eq!(session.id, before.session.id);
    assert_eq!(session.amr, ["pwd"]);

    // The same token, now fresh enough.
    assert!(
        patch(&app, &token, new_email("re2@acme.test"))
            .await
            .is_ok()
    );
    let me = client.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(me.session.authenticated_at, session.authenticated_at);

    let events = app
        .client()
        .list_events()
        .type_(vec![EventType::SessionReauthenticated])
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(events.len(), 1);
    let event = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(event["data"]["object"]["id"], session.id.to_string());
    assert_eq!(event["data"]["object"]["amr"], serde_json::json!(["pwd"]));
}

#[tokio::test]
async fn with_2fa_a_code_proves_a_change_and_amr_says_how_the_user_proved_it() {
    let app = spawn_app_with(options(Lockout::default())).await;
    let token = member(&app, "otp@acme.test").await;
    let now = early_in_a_step().await;
    let enrol = MePatch {
        totp_secret_base64: Patch::Value(base64_of(SECRET)),
        totp_code: Some(totp_code(SECRET, now - 30)),
        ..Default::default()
    };
    let enrolled = patch(&app, &token, enrol)
        .await
        .expect("2FA on within the window");
    let recovery = enrolled.into_inner().data.recovery_codes[0].clone();
    let body = SignIn {
        org_id: app.admin.org_id.into_uuid(),
        email: "otp@acme.test".parse().unwrap(),
        password: PASSWORD.parse().unwrap(),
        totp_code: None,
        recovery_code: Some(recovery.parse().unwrap()),
    };
    let signed_in = app.anonymous().sign_in().body(body).send().await.unwrap();
    let signed_in = signed_in.into_inner().data;
    assert_eq!(signed_in.session.amr, ["pwd", "recovery"]);

    // A stale session changes the address with a current code in place of the password.
    authenticated_ago(&app, "otp@acme.test", WINDOW * 2).await;
    let token = signed_in.token;
    let reply = patch(&app, &token, new_email("otp2@acme.test")).await;
    assert_eq!(code(reply), (403, "REAUTHENTICATION_REQUIRED".into()));
    let with_code = MePatch {
        totp_code: Some(totp_code(SECRET, now)),
        ..new_email("otp2@acme.test")
    };
    assert!(patch(&app, &token, with_code).await.is_ok());
    // Without 2FA's context a lone totp_code is still refused (nothing for it to prove).
    let lone = MePatch {
        totp_code: Some(totp_code(SECRET, now)),
        ..Default::default()
    };
    assert_eq!(code(patch(&app, &token, lone).await).0, 422);

    // Reauthenticating with a code: amr says otp.
    authenticated_ago(&app, "otp2@acme.test", WINDOW * 2).await;
    let session = app
        .client_with(&token)
        .reauthenticate()
        .body(Reauthenticate {
            password: None,
            totp_code: Some(totp_code(SECRET, now + 30)),
        })
        .send()
        .await
        .expect("a current code reauthenticates")
        .into_inner()
        .data;
    assert_eq!(session.amr, ["otp"]);
    assert!(Utc::now() - session.authenticated_at < TimeDelta::seconds(5));
}

#[tokio::test]
async fn failed_reauthentications_count_toward_the_lockout() {
    let lockout = Lockout {
        threshold: 2,
        duration: TimeDelta::minutes(15),
    };
    let app = spawn_app_with(options(lockout)).await;
    let token = member(&app, "guess@acme.test").await;
    let client = app.client_with(&token);
    for _ in 0..2 {
        let reply = client
            .reauthenticate()
            .body(Reauthenticate {
                password: Some("wrong guess 1".into()),
                totp_code: None,
            })
            .send()
            .await;
        assert_eq!(code(reply), (403, "FORBIDDEN".into()));
    }
    // Locked: the right password neither signs in nor reauthenticates.
    let reply = sign_in(&app, &app.admin.org_id, "guess@acme.test", PASSWORD, None).await;
    assert_eq!(code(reply), (401, "UNAUTHORIZED".into()));
    let reply = client
        .reauthenticate()
        .body(Reauthenticate {
            password: Some(PASSWORD.into()),
            totp_code: None,
        })
        .send()
        .await;
    assert_eq!(code(reply), (403, "FORBIDDEN".into()));
}

#[tokio::test]
async fn reauthentication_is_throttled_with_sign_in() {
    let limit = |n: u32| n.try_into().unwrap();
    let app = spawn_app_with(TestOptions {
        sign_in_limits: SignInLimits {
            per_account: limit(3),
            per_address: limit(100),
        },
        ..TestOptions::default()
    })
    .await;
    let token = member(&app, "slow@acme.test").await;
    let client = app.client_with(&token);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let reply = client
            .reauthenticate()
            .body(Reauthenticate {
                password: Some("wrong guess 1".into()),
                totp_code: None,
            })
            .send()
            .await;
        statuses.push(code(reply).0);
    }
    // The sign-in took one attempt; two wrong ones, then the budget is spent.
    assert_eq!(statuses, [403, 403, 429]);
}
