//! TOTP recovery codes: ten, shown once when 2FA is turned on through `PATCH /v1/me`, each
//! signing in once in place of a TOTP code; replaced with `POST /v1/me/recovery-codes`,
//! deleted when 2FA is turned off; a wrong one is the sign-in 401 and counts toward the lockout.

use chrono::TimeDelta;
use serde_json::json;
use users_api::{auth::throttle::SignInLimits, db::lockout::Lockout};
use users_api_client::{
    MePatch, Patch,
    types::{EventType, RegenerateRecoveryCodes, SignIn, SignedInEnvelope},
};

use crate::{
    credentials::{early_in_a_step, totp_code},
    fixtures::{Reply, code, failure},
    helpers::{TestApp, TestOptions, spawn_app_with},
    mfa::{PASSWORD, SECRET, member_with_2fa},
};

fn generous(lockout: Lockout) -> TestOptions {
    let limit = |n: u32| n.try_into().unwrap();
    TestOptions {
        sign_in_limits: SignInLimits {
            per_account: limit(100),
            per_address: limit(100),
        },
        lockout,
        ..TestOptions::default()
    }
}

/// Sign-in of `email` with `PASSWORD` and a recovery code.
async fn with_recovery_code(app: &TestApp, email: &str, recovery: &str) -> Reply<SignedInEnvelope> {
    let body = SignIn {
        org_id: app.admin.org_id.into_uuid(),
        email: email.parse().unwrap(),
        password: PASSWORD.parse().unwrap(),
        totp_code: None,
        recovery_code: Some(recovery.parse().expect("fits the schema")),
    };
    app.anonymous().sign_in().body(body).send().await
}

fn codes_of(data: &serde_json::Value) -> Vec<String> {
    let codes = data["recovery_codes"].as_array().expect("recovery_codes");
    codes
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// `recovery_codes_remaining` of the user behind `token`, as `GET /v1/me` shows it.
async fn remaining(app: &TestApp, token: &str) -> serde_json::Value {
    let me = app.client_with(token).get_me().send().await.unwrap();
    let me = serde_json::to_value(me.into_inner().data).unwrap();
    assert!(me.get("recovery_codes").is_none(), "never shown again");
    me["recovery_codes_remaining"].clone()
}

#[tokio::test]
async fn turning_2fa_on_shows_ten_codes_once_and_each_signs_in_once() {
    let app = spawn_app_with(generous(Lockout::default())).await;
    let now = early_in_a_step().await;
    let (_, enrolled) = member_with_2fa(&app, "rc@acme.test", now).await;
    let codes = codes_of(&enrolled);
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10);
    for code in &codes {
        let shape: Vec<usize> = code.split('-').map(str::len).collect();
        assert_eq!(shape, [4, 4, 2], "{code}");
        assert!(
            code.bytes()
                .all(|b| b == b'-' || b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }
    assert_eq!(enrolled["recovery_codes_remaining"], 10);

    let signed_in = with_recovery_code(&app, "rc@acme.test", &codes[0]).await;
    let token = signed_in
        .expect("a recovery code signs in")
        .into_inner()
        .data
        .token;
    assert_eq!(remaining(&app, &token).await, 9);
    let (status, body) = failure(with_recovery_code(&app, "rc@acme.test", &codes[0]).await);
    assert_eq!(
        (status, body.error.code.to_string()),
        (401, "UNAUTHORIZED".into()),
        "used once"
    );
    let unknown = with_recovery_code(&app, "rc@acme.test", "aaaa-bbbb-cc").await;
    assert_eq!(code(unknown), (401, "UNAUTHORIZED".into()));

    // A code of another shape is a 400, and so is sending both kinds of code.
    for (body, refused) in [
        (
            json!({"recovery_code": "AAAA-BBBB-CC"}),
            (400, "MALFORMED_REQUEST"),
        ),
        (
            json!({"recovery_code": "aaaabbbbcc"}),
            (400, "MALFORMED_REQUEST"),
        ),
        (json!({"recovery_code": null}), (400, "MALFORMED_REQUEST")),
        (
            json!({"recovery_code": codes[1], "totp_code": "123456"}),
            (422, "EXCLUSIVE_FIELDS"),
        ),
    ] {
        let mut sign_in = serde_json::json!({
            "org_id": app.admin.org_id, "email": "rc@acme.test", "password": PASSWORD,
        });
        sign_in
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let reply = app
            .http()
            .post(app.url("/v1/sessions"))
            .json(&sign_in)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), refused.0, "{body}");
        let error: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(error["error"]["code"], refused.1);
    }
    assert_eq!(
        remaining(&app, &token).await,
        9,
        "nothing spent by the refusals"
    );

    // Two sign-ins racing with one code: one succeeds.
    let (a, b) = tokio::join!(
        with_recovery_code(&app, "rc@acme.test", &codes[1]),
        with_recovery_code(&app, "rc@acme.test", &codes[1]),
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1);
    assert_eq!(remaining(&app, &token).await, 8);
}

#[tokio::test]
async fn regenerating_replaces_the_set_and_turning_2fa_off_deletes_it() {
    let app = spawn_app_with(generous(Lockout::default())).await;
    let now = early_in_a_step().await;
    let (user_id, enrolled) = member_with_2fa(&app, "regen@acme.test", now).await;
    let old = codes_of(&enrolled);
    let token = with_recovery_code(&app, "regen@acme.test", &old[0])
        .await
        .unwrap()
        .into_inner()
        .data
        .token;
    let client = app.client_with(&token);
    let regenerate = |code: String| {
        client
            .regenerate_recovery_codes()
            .body(RegenerateRecoveryCodes {
                totp_code: code.parse().unwrap(),
            })
            .send()
    };
    assert_eq!(
        code(regenerate("000000".into()).await),
        (403, "FORBIDDEN".into())
    );
    let new = regenerate(totp_code(SECRET, now))
        .await
        .expect("regenerated");
    let new = new.into_inner().data.recovery_codes;
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|code| !old.contains(code)));
    assert_eq!(
        code(regenerate(totp_code(SECRET, now)).await),
        (403, "FORBIDDEN".into()),
        "one TOTP code proves once"
    );
    assert_eq!(remaining(&app, &token).await, 10);
    let refused = with_recovery_code(&app, "regen@acme.test", &old[1]).await;
    assert_eq!(
        code(refused),
        (401, "UNAUTHORIZED".into()),
        "the old set is gone"
    );
    assert!(
        with_recovery_code(&app, "regen@acme.test", &new[0])
            .await
            .is_ok()
    );

    let events = app
        .client()
        .list_events()
        .type_(vec![EventType::UserRecoveryCodesRegenerated])
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let events: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["object"]["id"], user_id.to_string());
    assert_eq!(events[0]["data"]["object"]["recovery_codes_remaining"], 10);
    assert_eq!(events[0]["actor"]["type"], "user");
    assert!(
        !events[0].to_string().contains(&new[1]),
        "codes never in events"
    );

    // Turning 2FA off (with a fresh code) deletes the codes: Me shows null.
    let disable = MePatch {
        totp_secret_base64: Patch::Null,
        totp_code: Some(totp_code(SECRET, now + 30)),
        ..Default::default()
    };
    let off = client
        .patch_me()
        .body(disable)
        .send()
        .await
        .expect("2FA off");
    let off = serde_json::to_value(off.into_inner().data).unwrap();
    assert_eq!(off["recovery_codes_remaining"], serde_json::Value::Null);
    assert!(off.get("recovery_codes").is_none());
    let rows: i64 = crate::helpers::on_db!(app.state.db, |conn| {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use users_api::db::schema::recovery_codes;
        recovery_codes::table
            .count()
            .get_result(conn)
            .await
            .unwrap()
    });
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn wrong_recovery_codes_count_toward_the_lockout() {
    let lockout = Lockout {
        threshold: 2,
        duration: TimeDelta::minutes(15),
    };
    let app = spawn_app_with(generous(lockout)).await;
    let now = early_in_a_step().await;
    let (_, enrolled) = member_with_2fa(&app, "lock@acme.test", now).await;
    let codes = codes_of(&enrolled);
    for _ in 0..2 {
        let wrong = with_recovery_code(&app, "lock@acme.test", "aaaa-bbbb-cc").await;
        assert_eq!(code(wrong), (401, "UNAUTHORIZED".into()));
    }
    let locked = with_recovery_code(&app, "lock@acme.test", &codes[0]).await;
    assert_eq!(
        code(locked),
        (401, "UNAUTHORIZED".into()),
        "locked: even a good code"
    );
}
