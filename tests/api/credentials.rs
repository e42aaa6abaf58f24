//! Credentials through `PATCH /v1/me` and `PATCH /v1/users/{id}`: passwords (policy, proof of
//! the current one, revocation of sessions), TOTP enrolment, use and removal with each code
//! accepted once, and the address's verification reset.

use users_api_client::{MePatch, Patch, UserPatch, types::Role};

use crate::{
    fixtures::{admin_sign_in, code, failure, key_client, me_status, person, sign_in},
    helpers::{TestApp, spawn_app, spawn_app_with_limits},
};

const NEW_PASSWORD: &str = "violet staircase under 7 moons";

/// The RFC 6238 code of `secret` at `unix_seconds`, computed independently of the server.
pub fn totp_code(secret: &[u8], unix_seconds: u64) -> String {
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .build()
        .unwrap()
        .generate(unix_seconds)
        .to_string()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits until at least 5 seconds remain in the current 30-second step, so that codes computed
/// now for steps -1, 0 and +1 stay within the server's window for the rest of the test.
pub async fn early_in_a_step() -> u64 {
    while unix_now() % 30 > 24 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    unix_now()
}

async fn patch_me(
    app: &TestApp,
    token: &str,
    body: MePatch,
) -> crate::fixtures::Reply<users_api_client::types::MeEnvelope> {
    app.client_with(token).patch_me().body(body).send().await
}

#[tokio::test]
async fn changing_my_password_needs_the_current_one_and_revokes_my_other_sessions() {
    let app = spawn_app().await;
    let admin = &app.admin;
    let mine = admin_sign_in(&app).await;
    let other = admin_sign_in(&app).await;
    let change = |current: Option<&str>, new: &str| MePatch {
        password: Some(new.into()),
        current_password: current.map(Into::into),
        ..Default::default()
    };
    for current in [None, Some("not my password")] {
        let reply = patch_me(&app, &mine, change(current, NEW_PASSWORD)).await;
        assert_eq!(code(reply), (403, "FORBIDDEN".into()), "{current:?}");
    }
    for weak in ["password1", "short", "qwertyuiop"] {
        let reply = patch_me(&app, &mine, change(Some(&admin.admin_password), weak)).await;
        assert_eq!(code(reply), (422, "WEAK_PASSWORD".into()), "{weak}");
    }
    let (status, body) = failure(
        patch_me(
            &app,
            &mine,
            change(Some(&admin.admin_password), &admin.admin_email),
        )
        .await,
    );
    assert_eq!(
        (status, body.error.code.as_str()),
        (422, "WEAK_PASSWORD"),
        "my own address"
    );
    // Nothing changed so far: the other session lives and the old password signs in.
    assert_eq!(me_status(&app, &other).await, 200);

    let me = patch_me(
        &app,
        &mine,
        change(Some(&admin.admin_password), NEW_PASSWORD),
    )
    .await
    .expect("changed")
    .into_inner()
    .data;
    assert!(me.has_password);
    assert_eq!(me.active_sessions, 1, "only the caller's session is left");
    assert_eq!(me_status(&app, &mine).await, 200);
    assert_eq!(me_status(&app, &other).await, 401);
    assert_eq!(me_status(&app, &admin.session_token).await, 401);
    let old = sign_in(
        &app,
        &admin.org_id,
        &admin.admin_email,
        &admin.admin_password,
        None,
    )
    .await;
    assert_eq!(code(old).0, 401);
    assert!(
        sign_in(&app, &admin.org_id, &admin.admin_email, NEW_PASSWORD, None)
            .await
            .is_ok()
    );
    // The hash can only be imported by an admin.
    let reply = app
        .http()
        .patch(app.url("/v1/me"))
        .bearer_auth(&mine)
        .json(&serde_json::json!({"password_hash": "$2b$04$abcdefghijklmnopqrstuu"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);
}

#[tokio::test]
async fn a_user_without_a_password_sets_one_without_a_current_password() {
    let app = spawn_app().await;
    let (user, client) = person(&app, "ada@acme.test", Role::Member).await;
    assert!(!user.has_password);
    let me = client
        .patch_me()
        .body(MePatch {
            password: Some(NEW_PASSWORD.into()),
            ..Default::default()
        })
        .send()
        .await
        .expect("set")
        .into_inner()
        .data;
    assert!(me.has_password);
    assert!(
        sign_in(&app, &app.admin.org_id, "ada@acme.test", NEW_PASSWORD, None)
            .await
            .is_ok()
    );
    // `current_password` alone means nothing, and `null` cannot remove a password here.
    for body in [
        serde_json::json!({"current_password": NEW_PASSWORD}),
        serde_json::json!({"password": null}),
    ] {
        let reply = app
            .http()
            .patch(app.url("/v1/me"))
            .bearer_auth(&admin_sign_in(&app).await)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 422, "{body}");
    }
}

#[tokio::test]
async fn an_admin_password_change_revokes_every_session_and_null_removes_the_password() {
    let app = spawn_app().await;
    let (user, client) = person(&app, "ada@acme.test", Role::Member).await;
    let admin = key_client(&app);
    let set = |patch: UserPatch| admin.patch_user().user_id(user.id).body(patch).send();
    let changed = set(UserPatch {
        password: Patch::Value(NEW_PASSWORD.into()),
        ..Default::default()
    })
    .await
    .expect("set")
    .into_inner()
    .data;
    assert!(changed.has_password);
    assert_eq!(changed.active_sessions, 0);
    assert_eq!(
        code(client.get_me().send().await),
        (401, "UNAUTHORIZED".into())
    );
    let token = sign_in(&app, &app.admin.org_id, "ada@acme.test", NEW_PASSWORD, None)
        .await
        .expect("signs in")
        .into_inner()
        .data
        .token;
    let weak = set(UserPatch {
        password: Patch::Value("password123".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(code(weak), (422, "WEAK_PASSWORD".into()));
    assert_eq!(
        me_status(&app, &token).await,
        200,
        "a refused change revokes nothing"
    );
    let removed = set(UserPatch {
        password: Patch::Null,
        ..Default::default()
    })
    .await
    .expect("removed")
    .into_inner()
    .data;
    assert!(!removed.has_password);
    assert_eq!(me_status(&app, &token).await, 401);
    let reply = sign_in(&app, &app.admin.org_id, "ada@acme.test", NEW_PASSWORD, None).await;
    assert_eq!(code(reply).0, 401);
}

#[tokio::test]
async fn totp_enrolment_needs_a_matching_code_and_then_sign_in_needs_a_fresh_one() {
    // More attempts than the default allows a minute: every sign-in and proof below counts.
    let app = spawn_app_with_limits(100, 100).await;
    let admin = &app.admin;
    let token = admin_sign_in(&app).await;
    let secret = b"an authenticator's 20".to_vec();
    let secret_b64 = base64_of(&secret);
    let enrol = |code: &str| MePatch {
        totp_secret_base64: Patch::Value(secret_b64.clone()),
        totp_code: Some(code.into()),
        ..Default::default()
    };
    let now = early_in_a_step().await;
    // A code that does not match stores nothing.
    let reply = patch_me(
        &app,
        &token,
        enrol(&totp_code(b"another secret, 20 b", now)),
    )
    .await;
    assert_eq!(code(reply), (422, "INVALID_TOTP_SECRET".into()));
    let short = MePatch {
        totp_secret_base64: Patch::Value(base64_of(b"15 bytes only!!")),
        totp_code: Some("123456".into()),
        ..Default::default()
    };
    assert_eq!(
        code(patch_me(&app, &token, short).await),
        (422, "INVALID_TOTP_SECRET".into())
    );
    let without_code = MePatch {
        totp_secret_base64: Patch::Value(secret_b64.clone()),
        ..Default::default()
    };
    assert_eq!(
        code(patch_me(&app, &token, without_code).await),
        (422, "INVALID_TOTP_SECRET".into())
    );
    let me = app
        .client_with(&token)
        .get_me()
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert!(!me.otp_auth_enabled);

    // Enrol with the previous step's code; the secret never comes back.
    let me = patch_me(&app, &token, enrol(&totp_code(&secret, now - 30)))
        .await
        .expect("enrolled");
    let raw = serde_json::to_string(&me.into_inner()).unwrap();
    assert!(raw.contains("\"otp_auth_enabled\":true"));
    assert!(!raw.contains(&secret_b64));
    // A second secret needs 2FA off first.
    let reply = patch_me(&app, &token, enrol(&totp_code(&secret, now))).await;
    assert_eq!(code(reply), (422, "INVALID_TOTP_SECRET".into()));

    let (org, email, password) = (&admin.org_id, &admin.admin_email, &admin.admin_password);
    for wrong in [
        None,
        Some("000000".to_string()),
        Some(totp_code(&secret, now - 30)),
    ] {
        let reply = sign_in(&app, org, email, password, wrong.as_deref()).await;
        assert_eq!(
            code(reply).0,
            401,
            "no code, a wrong code, or the enrolment's code again"
        );
    }
    let current = totp_code(&secret, now);
    assert!(
        sign_in(&app, org, email, password, Some(&current))
            .await
            .is_ok()
    );
    let replayed = sign_in(&app, org, email, password, Some(&current)).await;
    assert_eq!(code(replayed).0, 401, "a code is accepted once");

    // Turning it off takes a fresh code: none, a wrong one or a used one are 403.
    let disable = |code: Option<String>| MePatch {
        totp_secret_base64: Patch::Null,
        totp_code: code,
        ..Default::default()
    };
    for code_sent in [None, Some("000000".to_string()), Some(current.clone())] {
        let reply = patch_me(&app, &token, disable(code_sent.clone())).await;
        assert_eq!(code(reply), (403, "FORBIDDEN".into()), "{code_sent:?}");
    }
    let me = patch_me(&app, &token, disable(Some(totp_code(&secret, now + 30))))
        .await
        .expect("2FA off")
        .into_inner()
        .data;
    assert!(!me.otp_auth_enabled);
    assert!(sign_in(&app, org, email, password, None).await.is_ok());
}

#[tokio::test]
async fn an_admin_imports_or_clears_a_totp_secret_without_a_code() {
    let app = spawn_app().await;
    let admin = key_client(&app);
    let (user, _) = person(&app, "ada@acme.test", Role::Member).await;
    let set = |patch: UserPatch| admin.patch_user().user_id(user.id).body(patch).send();
    set(UserPatch {
        password: Patch::Value(NEW_PASSWORD.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let secret = b"imported secret bytes".to_vec();
    let imported = set(UserPatch {
        totp_secret_base64: Patch::Value(base64_of(&secret)),
        ..Default::default()
    })
    .await
    .expect("imported")
    .into_inner()
    .data;
    assert!(imported.otp_auth_enabled);
    let now = early_in_a_step().await;
    let org = &app.admin.org_id;
    let reply = sign_in(&app, org, "ada@acme.test", NEW_PASSWORD, None).await;
    assert_eq!(code(reply).0, 401);
    assert!(
        sign_in(
            &app,
            org,
            "ada@acme.test",
            NEW_PASSWORD,
            Some(&totp_code(&secret, now))
        )
        .await
        .is_ok()
    );
    let short = set(UserPatch {
        totp_secret_base64: Patch::Value(base64_of(b"too short")),
        ..Default::default()
    })
    .await;
    assert_eq!(code(short), (422, "INVALID_TOTP_SECRET".into()));
    let cleared = set(UserPatch {
        totp_secret_base64: Patch::Null,
        ..Default::default()
    })
    .await
    .expect("cleared")
    .into_inner()
    .data;
    assert!(!cleared.otp_auth_enabled);
    assert!(
        sign_in(&app, org, "ada@acme.test", NEW_PASSWORD, None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_new_address_through_me_is_unverified_until_an_admin_says_otherwise() {
    let app = spawn_app().await;
    let token = admin_sign_in(&app).await;
    let me = app
        .client_with(&token)
        .get_me()
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert!(
        me.primary_email_verified,
        "the bootstrap admin's address is verified"
    );
    let me = patch_me(
        &app,
        &token,
        MePatch {
            primary_email: Patch::Value("boss@acme.test".into()),
            ..Default::default()
        },
    )
    .await
    .expect("changed")
    .into_inner()
    .data;
    assert!(!me.primary_email_verified);
    // The new address signs in; the old one no longer does.
    let admin = &app.admin;
    assert!(
        sign_in(
            &app,
            &admin.org_id,
            "boss@acme.test",
            &admin.admin_password,
            None
        )
        .await
        .is_ok()
    );
    let old = sign_in(
        &app,
        &admin.org_id,
        &admin.admin_email,
        &admin.admin_password,
        None,
    )
    .await;
    assert_eq!(code(old).0, 401);
}

pub fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn guessing_the_current_password_through_me_counts_against_the_sign_in_limit() {
    let app = spawn_app_with_limits(3, 100).await;
    let guess = |current: &str| MePatch {
        password: Some(NEW_PASSWORD.into()),
        current_password: Some(current.into()),
        ..Default::default()
    };
    let token = &app.admin.session_token;
    for n in 0..3 {
        let reply = patch_me(&app, token, guess(&format!("guess number {n}"))).await;
        assert_eq!(code(reply), (403, "FORBIDDEN".into()));
    }
    let reply = patch_me(&app, token, guess(&app.admin.admin_password)).await;
    assert_eq!(
        code(reply),
        (429, "RATE_LIMITED".into()),
        "even the right one, now"
    );
    let admin = &app.admin;
    let reply = sign_in(
        &app,
        &admin.org_id,
        &admin.admin_email,
        &admin.admin_password,
        None,
    )
    .await;
    assert_eq!(
        code(reply),
        (429, "RATE_LIMITED".into()),
        "one budget for both"
    );
}

/// A proof or a code is a string or left out: `null` is not a password or a code, on
/// `PATCH /v1/me` and on sign-in alike (400, the field named), and nothing changes.
#[tokio::test]
async fn a_null_proof_or_code_is_a_malformed_request() {
    let app = spawn_app().await;
    let token = admin_sign_in(&app).await;
    for (path, body) in [
        (
            "/v1/me",
            serde_json::json!({"current_password": null, "display_name": "X"}),
        ),
        (
            "/v1/me",
            serde_json::json!({"totp_code": null, "display_name": "X"}),
        ),
    ] {
        let reply = app
            .http()
            .patch(app.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400, "{body}");
        let body: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(body["error"]["code"], "MALFORMED_REQUEST", "{body}");
    }
    let me = app.client_with(&token).get_me().send().await.unwrap();
    assert_ne!(me.into_inner().data.display_name.as_deref(), Some("X"));

    let admin = &app.admin;
    let reply = app
        .http()
        .post(app.url("/v1/sessions"))
        .json(&serde_json::json!({
            "org_id": admin.org_id,
            "email": admin.admin_email,
            "password": admin.admin_password,
            "totp_code": null
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["errors"][0]["field"], "totp_code", "{body}");
}
