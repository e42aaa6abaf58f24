//! `POST /v1/sessions`: who may sign in, with one answer for every refusal, limits on brute
//! force, and imported password hashes upgraded on the way.

use users_api::{
    db::users,
    domain::{OrgId, UserId},
};
use users_api_client::{
    Patch, UserPatch,
    types::{Role, SettableStatus, UserCreate},
};

use crate::{
    fixtures::{code, create_user, failure, key_client, new_user, sign_in},
    helpers::{TestApp, spawn_app, spawn_app_with_limits},
};

const PASSWORD: &str = "correct horse battery staple 42";

/// A user of the first organization with `PASSWORD`.
async fn user_with_password(app: &TestApp, email: &str) -> users_api_client::types::User {
    key_client(app)
        .create_user()
        .body(UserCreate {
            password: Some(PASSWORD.parse().unwrap()),
            ..new_user(email)
        })
        .send()
        .await
        .expect("created")
        .into_inner()
        .data
}

#[tokio::test]
async fn the_admin_signs_in_with_the_password_and_the_token_works() {
    let app = spawn_app().await;
    let admin = &app.admin;
    // The address matches case-insensitively.
    let signed_in = sign_in(
        &app,
        &admin.org_id,
        &admin.admin_email.to_uppercase(),
        &admin.admin_password,
        None,
    )
    .await
    .expect("201");
    assert_eq!(signed_in.status(), 201);
    let signed_in = signed_in.into_inner().data;
    let me = app
        .client_with(&signed_in.token)
        .get_me()
        .send()
        .await
        .expect("the new token works")
        .into_inner()
        .data;
    assert_eq!(me.session.id, signed_in.session.id);
    assert_eq!(me.session.expires_at, signed_in.session.expires_at);
    assert!(signed_in.session.expires_at > signed_in.session.created_at);
    assert!(me.has_password);
    assert!(me.last_active_at.is_some(), "signing in is use");
    // The bootstrap session and this one.
    assert_eq!(me.active_sessions, 2);
}

#[tokio::test]
async fn every_wrong_part_is_the_same_401() {
    let app = spawn_app().await;
    let other = app.create_org("Globex", "admin@globex.test").await;
    let admin = &app.admin;
    let unknown_org = OrgId::from(uuid::Uuid::new_v4());
    let attempts = [
        (
            &admin.org_id,
            admin.admin_email.as_str(),
            "not the password",
        ),
        (
            &admin.org_id,
            "nobody@acme.test",
            admin.admin_password.as_str(),
        ),
        (
            &other.org_id,
            admin.admin_email.as_str(),
            admin.admin_password.as_str(),
        ),
        (
            &unknown_org,
            admin.admin_email.as_str(),
            admin.admin_password.as_str(),
        ),
    ];
    let mut bodies = Vec::new();
    for (org, email, password) in attempts {
        let (status, body) = failure(sign_in(&app, org, email, password, None).await);
        assert_eq!((status, body.error.code.as_str()), (401, "UNAUTHORIZED"));
        bodies.push((body.error.message, body.error.details));
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    // A user without a password cannot sign in with any.
    create_user(&app, "nopass@acme.test", Role::Member).await;
    let reply = sign_in(&app, &admin.org_id, "nopass@acme.test", PASSWORD, None).await;
    assert_eq!(code(reply), (401, "UNAUTHORIZED".into()));
}

#[tokio::test]
async fn suspended_users_and_users_without_email_auth_are_refused() {
    let app = spawn_app().await;
    let user = user_with_password(&app, "ada@acme.test").await;
    let org = app.admin.org_id;
    let admin = key_client(&app);
    let set = |patch: UserPatch| {
        let admin = admin.clone();
        async move {
            admin
                .patch_user()
                .user_id(user.id)
                .body(patch)
                .send()
                .await
                .expect("patched")
        }
    };
    let first = sign_in(&app, &org, "ada@acme.test", PASSWORD, None)
        .await
        .expect("signs in")
        .into_inner()
        .data
        .token;

    // Suspension revokes the live session and refuses new ones ...
    set(UserPatch {
        status: Some(SettableStatus::Suspended),
        ..Default::default()
    })
    .await;
    let refused = app.client_with(&first).get_me().send().await;
    assert_eq!(code(refused), (401, "UNAUTHORIZED".into()));
    let reply = sign_in(&app, &org, "ada@acme.test", PASSWORD, None).await;
    assert_eq!(code(reply), (401, "UNAUTHORIZED".into()));
    // ... and `active` restores sign-in (not the revoked session).
    set(UserPatch {
        status: Some(SettableStatus::Active),
        ..Default::default()
    })
    .await;
    assert!(
        sign_in(&app, &org, "ada@acme.test", PASSWORD, None)
            .await
            .is_ok()
    );
    let still_revoked = app.client_with(&first).get_me().send().await;
    assert_eq!(code(still_revoked), (401, "UNAUTHORIZED".into()));

    set(UserPatch {
        primary_email_auth_enabled: Some(false),
        ..Default::default()
    })
    .await;
    let reply = sign_in(&app, &org, "ada@acme.test", PASSWORD, None).await;
    assert_eq!(code(reply), (401, "UNAUTHORIZED".into()));
}

#[tokio::test]
async fn brute_force_is_limited_per_account_with_retry_after() {
    let app = spawn_app_with_limits(3, 100).await;
    let admin = &app.admin;
    for _ in 0..3 {
        let reply = sign_in(&app, &admin.org_id, &admin.admin_email, "wrong guess", None).await;
        assert_eq!(code(reply).0, 401);
    }
    // The right password does not help once the account's attempts are spent.
    let reply = sign_in(
        &app,
        &admin.org_id,
        &admin.admin_email,
        &admin.admin_password,
        None,
    )
    .await;
    let users_api_client::Error::ErrorResponse(response) = reply.unwrap_err() else {
        panic!("a declared error");
    };
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(response.into_inner().error.code, "RATE_LIMITED");
    // Another account is not affected.
    let reply = sign_in(&app, &admin.org_id, "other@acme.test", "wrong guess", None).await;
    assert_eq!(code(reply).0, 401);
}

#[tokio::test]
async fn brute_force_is_limited_per_client_address_across_accounts() {
    let app = spawn_app_with_limits(100, 4).await;
    for n in 0..4 {
        let email = format!("guess{n}@acme.test");
        assert_eq!(
            code(sign_in(&app, &app.admin.org_id, &email, "x", None).await).0,
            401
        );
    }
    let reply = sign_in(&app, &app.admin.org_id, "guess9@acme.test", "x", None).await;
    assert_eq!(code(reply), (429, "RATE_LIMITED".into()));
}

#[tokio::test]
async fn a_bcrypt_import_signs_in_with_the_original_password_and_is_upgraded_to_argon2id() {
    let app = spawn_app().await;
    for (n, prefix) in ["$2b$", "$2a$", "$2y$"].into_iter().enumerate() {
        let hash = bcrypt::hash(PASSWORD, 5)
            .unwrap()
            .replacen("$2b$", prefix, 1);
        let email = format!("imported{n}@acme.test");
        let user = key_client(&app)
            .create_user()
            .body(UserCreate {
                password_hash: Some(hash.clone()),
                ..new_user(&email)
            })
            .send()
            .await
            .expect("created")
            .into_inner()
            .data;
        assert!(user.has_password);
        let stored = |app: &TestApp| {
            let (db, org, id) = (app.state.db.clone(), app.admin.org_id, user.id);
            async move {
                users::find(&db, &org, &UserId::from(id))
                    .await
                    .unwrap()
                    .password_hash
                    .unwrap()
            }
        };
        assert_eq!(stored(&app).await, hash);
        let reply = sign_in(&app, &app.admin.org_id, &email, "wrong password", None).await;
        assert_eq!(code(reply).0, 401);
        assert_eq!(stored(&app).await, hash, "a failed sign-in changes nothing");
        sign_in(&app, &app.admin.org_id, &email, PASSWORD, None)
            .await
            .expect("the original password signs in");
        let upgraded = stored(&app).await;
        assert!(
            upgraded.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"),
            "{upgraded}"
        );
        sign_in(&app, &app.admin.org_id, &email, PASSWORD, None)
            .await
            .expect("and keeps signing in after the upgrade");
    }
}

#[tokio::test]
async fn an_argon2_import_signs_in_and_unknown_or_malformed_hashes_are_422() {
    let app = spawn_app().await;
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version, password_hash::SaltString};
    let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
    let argon2i = Argon2::new(
        Algorithm::Argon2i,
        Version::V0x13,
        Params::new(4096, 3, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes(), &salt)
    .unwrap()
    .to_string();
    let created = key_client(&app)
        .create_user()
        .body(UserCreate {
            password_hash: Some(argon2i),
            ..new_user("argon@acme.test")
        })
        .send()
        .await;
    assert!(created.is_ok());
    assert!(
        sign_in(&app, &app.admin.org_id, "argon@acme.test", PASSWORD, None)
            .await
            .is_ok()
    );

    for bad in [
        "$1$abc$def",
        "plain",
        "$2b$10$tooshort",
        "$argon2d$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
    ] {
        let reply = key_client(&app)
            .create_user()
            .body(UserCreate {
                password_hash: Some(bad.into()),
                ..new_user("bad@acme.test")
            })
            .send()
            .await;
        assert_eq!(code(reply), (422, "INVALID_PASSWORD_HASH".into()), "{bad}");
    }
    let both = key_client(&app)
        .patch_user()
        .user_id(created.unwrap().into_inner().data.id)
        .body(UserPatch {
            password: Patch::Value(PASSWORD.into()),
            password_hash: Patch::Value(bcrypt::hash(PASSWORD, 4).unwrap()),
            ..Default::default()
        })
        .send()
        .await;
    let (status, body) = failure(both);
    assert_eq!(status, 422);
    assert_eq!(body.error.errors[0].field, "password_hash");
}
