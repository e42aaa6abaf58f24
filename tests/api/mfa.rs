//! Two-factor sign-in: `MFA_REQUIRED` answers only the right password of an account that could
//! sign in, with 2FA on and no code sent; every other refusal keeps the single `UNAUTHORIZED`.

use chrono::TimeDelta;
use users_api::{db::lockout::Lockout, domain::UserStatus};
use users_api_client::{MePatch, Patch, types::Role};

use crate::{
    credentials::{base64_of, early_in_a_step, totp_code},
    fixtures::{failure, person, sign_in},
    helpers::{TestApp, TestOptions, spawn_app_with},
};

pub const PASSWORD: &str = "correct horse battery staple 42";
pub const SECRET: &[u8] = b"an authenticator's 20";

/// A member `email` with `PASSWORD` and 2FA on (enrolled with the code of the step before
/// `now`); their id and the PATCH response's data as JSON (with the recovery codes).
pub async fn member_with_2fa(
    app: &TestApp,
    email: &str,
    now: u64,
) -> (uuid::Uuid, serde_json::Value) {
    let (user, client) = person(app, email, Role::Member).await;
    let set_password = MePatch {
        password: Some(PASSWORD.into()),
        ..Default::default()
    };
    client.patch_me().body(set_password).send().await.unwrap();
    let enrol = MePatch {
        totp_secret_base64: Patch::Value(base64_of(SECRET)),
        totp_code: Some(totp_code(SECRET, now - 30)),
        ..Default::default()
    };
    let enrolled = client.patch_me().body(enrol).send().await.expect("2FA on");
    let data = serde_json::to_value(enrolled.into_inner().data).unwrap();
    assert_eq!(data["otp_auth_enabled"], true);
    (user.id, data)
}

fn app_locking_after(threshold: u32) -> TestOptions {
    TestOptions {
        lockout: Lockout {
            threshold,
            duration: TimeDelta::minutes(15),
        },
        ..TestOptions::default()
    }
}

#[tokio::test]
async fn the_right_password_without_a_code_is_mfa_required_and_every_other_refusal_is_unauthorized()
{
    // Lockout after 3 failures: the three MFA_REQUIRED answers below must not count.
    let app = spawn_app_with(app_locking_after(3)).await;
    let org = app.admin.org_id;
    let now = early_in_a_step().await;
    member_with_2fa(&app, "mfa@acme.test", now).await;

    for _ in 0..3 {
        let (status, body) = failure(sign_in(&app, &org, "mfa@acme.test", PASSWORD, None).await);
        assert_eq!(status, 401);
        assert_eq!(body.error.code.to_string(), "MFA_REQUIRED");
    }
    let unauthorized = |reply| {
        let (status, body) = failure(reply);
        (status, body.error.code.to_string(), body.error.message)
    };
    let unknown = unauthorized(sign_in(&app, &org, "nobody@acme.test", PASSWORD, None).await);
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown.1, "UNAUTHORIZED");
    // A wrong password, with or without a code, is the single answer.
    let wrong = unauthorized(sign_in(&app, &org, "mfa@acme.test", "wrong guess 1", None).await);
    assert_eq!(wrong, unknown);
    let right_code = totp_code(SECRET, now);
    let wrong_password_with_code = sign_in(
        &app,
        &org,
        "mfa@acme.test",
        "wrong guess 1",
        Some(&right_code),
    )
    .await;
    assert_eq!(unauthorized(wrong_password_with_code), unknown);
    // Three MFA_REQUIRED and two failures: not locked (the threshold is 3 failures).
    let signed_in = sign_in(&app, &org, "mfa@acme.test", PASSWORD, Some(&right_code)).await;
    assert!(
        signed_in.is_ok(),
        "MFA_REQUIRED does not count toward the lockout"
    );
}

#[tokio::test]
async fn a_suspended_or_locked_account_gets_unauthorized_even_with_the_right_password() {
    let app = spawn_app_with(app_locking_after(1)).await;
    let org = app.admin.org_id;
    let now = early_in_a_step().await;
    let (suspended, _) = member_with_2fa(&app, "off@acme.test", now).await;
    let (_, _) = member_with_2fa(&app, "locked@acme.test", now).await;
    users_api::db::users::set_status(&app.state.db, &suspended.into(), UserStatus::Suspended)
        .await
        .unwrap();
    let (status, body) = failure(sign_in(&app, &org, "off@acme.test", PASSWORD, None).await);
    assert_eq!(
        (status, body.error.code.to_string()),
        (401, "UNAUTHORIZED".into())
    );

    // One wrong code locks (threshold 1); then the right password alone is UNAUTHORIZED.
    let wrong = sign_in(&app, &org, "locked@acme.test", PASSWORD, Some("000000")).await;
    assert_eq!(failure(wrong).1.error.code.to_string(), "UNAUTHORIZED");
    let (status, body) = failure(sign_in(&app, &org, "locked@acme.test", PASSWORD, None).await);
    assert_eq!(
        (status, body.error.code.to_string()),
        (401, "UNAUTHORIZED".into())
    );
}
