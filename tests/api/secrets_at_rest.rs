//! TOTP secrets at rest (issue 12, item 15): stored encrypted and bound to their row, still
//! read when stored in plaintext by an earlier version, and rotated to a new key with
//! `users-api admin rotate-secrets` (the real binary) while servers with the new and the
//! previous key keep verifying codes.

use std::{
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use users_api::{
    auth::{
        SecretKeys,
        reseal::{self, Reseal},
        secrets::SecretKey,
    },
    db::schema::users,
    domain::{OrgId, UserId},
};
use users_api_client::{
    Client, MePatch, Patch,
    types::{SignIn, UserCreate},
};

use crate::{
    cli::users_api,
    credentials::{base64_of, early_in_a_step, totp_code},
    fixtures::{admin_sign_in, key_client, new_user},
    helpers::{TestApp, database_url_arg, on_db, spawn_app, spawn_app_with_limits},
};

const PASSWORD: &str = "violet staircase under 7 moons";

/// The `totp_secret` column of `user_id`, read straight from the database.
async fn stored_secret(app: &TestApp, user_id: &UserId) -> Option<String> {
    on_db!(&app.state.db, |conn| users::table
        .find(user_id)
        .select(users::totp_secret)
        .get_result::<Option<String>>(conn)
        .await
        .expect("the user's row"))
}

/// Creates a user with a password and an imported TOTP `secret`; returns their id.
async fn user_with_totp(app: &TestApp, email: &str, secret: &[u8]) -> UserId {
    let body = UserCreate {
        password: Some(PASSWORD.parse().unwrap()),
        totp_secret_base64: Some(base64_of(secret)),
        ..new_user(email)
    };
    let user = key_client(app)
        .create_user()
        .body(body)
        .send()
        .await
        .expect("user created")
        .into_inner()
        .data;
    assert!(user.otp_auth_enabled);
    user.id.into()
}

/// The status of a sign-in at `address` with the password and `code`.
async fn sign_in_status(address: &str, org_id: &OrgId, email: &str, code: &str) -> u16 {
    let body = SignIn {
        org_id: org_id.into_uuid(),
        email: email.parse().unwrap(),
        password: PASSWORD.parse().unwrap(),
        totp_code: Some(code.parse().unwrap()),
        recovery_code: None,
    };
    match Client::new(address).sign_in().body(body).send().await {
        Ok(response) => response.status().as_u16(),
        Err(users_api_client::Error::ErrorResponse(response)) => response.status().as_u16(),
        Err(other) => panic!("undeclared response: {other:?}"),
    }
}

/// Every spelling of `secret` an attacker reading the database would look for.
fn spellings(secret: &[u8]) -> Vec<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    vec![
        String::from_utf8_lossy(secret).into_owned(),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        totp_rs::Secret::from(secret.to_vec())
            .to_base32()
            .trim_end_matches('=')
            .to_owned(),
        hex::encode(secret),
    ]
}

#[tokio::test]
async fn an_enrolled_totp_secret_is_stored_encrypted_and_in_no_readable_form() {
    let app = spawn_app().await;
    let token = admin_sign_in(&app).await;
    let secret = b"an authenticator's 20".to_vec();
    let now = early_in_a_step().await;
    let enrolled = app
        .client_with(&token)
        .patch_me()
        .body(MePatch {
            totp_secret_base64: Patch::Value(base64_of(&secret)),
            totp_code: Some(totp_code(&secret, now)),
            ..Default::default()
        })
        .send()
        .await
        .expect("enrolled")
        .into_inner()
        .data;
    assert!(enrolled.otp_auth_enabled);

    let stored = stored_secret(&app, &app.admin.user_id)
        .await
        .expect("a secret is stored");
    let key_id = SecretKey::load(&app.secrets_key_file)
        .unwrap()
        .id()
        .to_owned();
    assert!(stored.starts_with(&format!("v1.{key_id}.")), "{stored}");
    let haystack = stored.to_lowercase();
    for spelling in spellings(&secret) {
        assert!(
            !haystack.contains(&spelling.to_lowercase()),
            "{spelling:?} is in {stored:?}"
        );
    }
}

#[tokio::test]
async fn a_secret_copied_to_another_users_row_is_refused_like_a_wrong_code() {
    let app = spawn_app_with_limits(100, 100).await;
    let secret = b"ada's authenticator!".to_vec();
    let ada = user_with_totp(&app, "ada@acme.test", &secret).await;
    let bob = key_client(&app)
        .create_user()
        .body(UserCreate {
            password: Some(PASSWORD.parse().unwrap()),
            ..new_user("bob@acme.test")
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
        .id;
    app.state
        .db
        .execute_script(&format!(
            "UPDATE users SET totp_secret = (SELECT totp_secret FROM users WHERE id = '{ada}') \
             WHERE id = '{bob}'"
        ))
        .await
        .unwrap();

    let now = early_in_a_step().await;
    let org = &app.admin.org_id;
    let code = totp_code(&secret, now);
    assert_eq!(
        sign_in_status(&app.address, org, "bob@acme.test", &code).await,
        401
    );
    // The admin surface still shows Bob (2FA on) rather than failing.
    let bob_now = key_client(&app)
        .get_user()
        .user_id(bob)
        .send()
        .await
        .expect("200, not a 500")
        .into_inner()
        .data;
    assert!(bob_now.otp_auth_enabled);
    assert_eq!(
        sign_in_status(&app.address, org, "ada@acme.test", &code).await,
        201
    );
}

#[tokio::test]
async fn a_secret_stored_in_plaintext_still_verifies_and_is_then_encrypted() {
    let app = spawn_app_with_limits(100, 100).await;
    let secret = b"stored before v1 existed".to_vec();
    let ada = user_with_totp(&app, "ada@acme.test", &secret).await;
    app.state
        .db
        .execute_script(&format!(
            "UPDATE users SET totp_secret = '{}' WHERE id = '{ada}'",
            base64_of(&secret)
        ))
        .await
        .unwrap();
    let now = early_in_a_step().await;
    let org = &app.admin.org_id;
    let code = totp_code(&secret, now);
    assert_eq!(
        sign_in_status(&app.address, org, "ada@acme.test", &code).await,
        201
    );

    let plaintext_stored = |app: &TestApp| {
        let (db, key_file) = (app.state.db.clone(), app.secrets_key_file.clone());
        async move {
            reseal::open_keys(&db, &key_file, None)
                .await
                .unwrap()
                .plaintext_stored
        }
    };
    // Start-up reseals only when the key check's scan saw plaintext.
    assert!(plaintext_stored(&app).await);
    let done = reseal::reseal(&app.state.db, &app.state.secrets, Reseal::Plaintext)
        .await
        .unwrap();
    assert_eq!((done.changed, done.failed), (1, 0));
    assert!(!plaintext_stored(&app).await);
    let stored = stored_secret(&app, &ada).await.unwrap();
    assert!(stored.starts_with("v1."), "{stored}");
    let next = totp_code(&secret, now + 30);
    assert_eq!(
        sign_in_status(&app.address, org, "ada@acme.test", &next).await,
        201
    );
}

/// Runs `command` to its exit, killing it after 60 s (a server that should have refused to
/// start would otherwise run for ever).
fn run_to_exit(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `users-api <args>` on `app`'s database, with `key` as `--secrets-key-file`.
fn binary(app: &TestApp, dir: &std::path::Path, key: &std::path::Path, args: &[&str]) -> Output {
    let mut command = users_api(dir);
    command
        .args(args)
        .args(["--database-url", &database_url_arg(&app.database_url)])
        .arg("--secrets-key-file")
        .arg(key);
    run_to_exit(&mut command)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn rotating_the_secrets_key_keeps_codes_working_and_then_drops_the_old_key() {
    let app = spawn_app_with_limits(100, 100).await;
    let dir = tempfile::tempdir().unwrap();
    let ada_secret = b"ada's authenticator!".to_vec();
    let bob_secret = b"bob's authenticator!".to_vec();
    let ada = user_with_totp(&app, "ada@acme.test", &ada_secret).await;
    let bob = user_with_totp(&app, "bob@acme.test", &bob_secret).await;
    let old_path = app.secrets_key_file.clone();
    let new_path = dir.path().join("new-secrets-key");
    let new_id = SecretKey::load_or_create(&new_path)
        .unwrap()
        .id()
        .to_owned();
    let keys = |previous: bool| {
        SecretKeys::new(
            SecretKey::load(&new_path).unwrap(),
            previous.then(|| SecretKey::load(&old_path).unwrap()),
        )
    };
    let org = app.admin.org_id;
    let now = early_in_a_step().await;

    // Instances restarted with the new key and the previous one verify old secrets; one
    // with only the new key cannot (yet).
    let rotating = app.sibling(keys(true)).await;
    let ada_code = totp_code(&ada_secret, now);
    assert_eq!(
        sign_in_status(&rotating.address, &org, "ada@acme.test", &ada_code).await,
        201
    );
    let new_only = app.sibling(keys(false)).await;
    let bob_code = totp_code(&bob_secret, now);
    assert_eq!(
        sign_in_status(&new_only.address, &org, "bob@acme.test", &bob_code).await,
        401
    );

    let rotate = ["admin", "rotate-secrets"];
    let previous = ["--previous-secrets-key-file", old_path.to_str().unwrap()];
    let output = binary(
        &app,
        dir.path(),
        &new_path,
        &[&rotate[..], &previous[..]].concat(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        format!("re-encrypted 2 secrets (TOTP and webhook signing secrets) under key {new_id}")
    );
    for user in [&ada, &bob] {
        let stored = stored_secret(&app, user).await.unwrap();
        assert!(stored.starts_with(&format!("v1.{new_id}.")), "{stored}");
    }
    let again = binary(
        &app,
        dir.path(),
        &new_path,
        &[&rotate[..], &previous[..]].concat(),
    );
    assert!(
        text(&again.stdout).starts_with("re-encrypted 0 "),
        "{}",
        text(&again.stdout)
    );

    // The previous key can go: the new key alone verifies every secret.
    assert_eq!(
        sign_in_status(&new_only.address, &org, "bob@acme.test", &bob_code).await,
        201
    );
    let ada_next = totp_code(&ada_secret, now + 30);
    assert_eq!(
        sign_in_status(&new_only.address, &org, "ada@acme.test", &ada_next).await,
        201
    );
    let alone = binary(&app, dir.path(), &new_path, &rotate);
    assert!(alone.status.success(), "{}", text(&alone.stderr));

    // The old key alone, or no key file at all, is now a wrong key: one line, no server.
    let missing = dir.path().join("missing-key");
    for (key, says) in [
        (&old_path, "a wrong key file?"),
        (&missing, "does not exist, but stored secrets are sealed"),
    ] {
        let output = binary(&app, dir.path(), key, &["serve", "--addr", "127.0.0.1:0"]);
        assert!(!output.status.success());
        let stderr = text(&output.stderr);
        let line = stderr.lines().last().unwrap_or_default();
        assert!(line.starts_with("users-api: "), "{stderr}");
        assert!(line.contains(says) && line.contains(&new_id), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(
        !missing.exists(),
        "no new key is generated over sealed secrets"
    );
}
