//! Issue 12, item 16: imported password hashes are bounded to what real deployments export
//! (bcrypt cost ≤ 12; argon2 m ≤ 64 MiB, t × m ≤ 3 × 64 MiB, p ≤ 8), on create and on patch,
//! with the limit in the message. (That a wrong password against a cheap import costs the
//! server's own hash as well is measured deterministically in `auth::password`'s unit tests.)

use users_api_client::{Patch, UserPatch, types::UserCreate};

use crate::{
    fixtures::{failure, key_client, new_user, sign_in},
    helpers::spawn_app,
};

const PASSWORD: &str = "correct horse battery staple 42";

/// A real cost-4 bcrypt hash of `PASSWORD` relabelled with `cost` (import reads only the label).
fn bcrypt_labelled(cost: u32) -> String {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    format!("$2b${cost:02}{}", &hash[6..])
}

fn argon2id(m: u32, t: u32, p: u32) -> String {
    format!("$argon2id$v=19$m={m},t={t},p={p}$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
}

#[tokio::test]
async fn hardening_imported_hashes_above_the_ceilings_are_refused_on_create_and_patch() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let user = client
        .create_user()
        .body(new_user("ada@acme.test"))
        .send()
        .await;
    let user = user.unwrap().into_inner().data;
    for (hash, limit) in [
        (bcrypt_labelled(13), "bcrypt cost above 12"),
        (argon2id(65537, 1, 1), "m=65536 (64 MiB)"),
        (argon2id(65536, 4, 1), "t×m=196608"),
        (argon2id(19456, 2, 9), "p=8"),
    ] {
        let created = client
            .create_user()
            .body(UserCreate {
                password_hash: Some(hash.clone()),
                ..new_user("imported@acme.test")
            })
            .send()
            .await;
        let (status, body) = failure(created);
        assert_eq!(
            (status, body.error.code.as_str()),
            (422, "INVALID_PASSWORD_HASH")
        );
        assert!(
            body.error.message.contains(limit),
            "{hash}: {}",
            body.error.message
        );

        let patched = client
            .patch_user()
            .user_id(user.id)
            .body(UserPatch {
                password_hash: Patch::Value(hash.clone()),
                ..Default::default()
            })
            .send()
            .await;
        let (status, body) = failure(patched);
        assert_eq!(
            (status, body.error.code.as_str()),
            (422, "INVALID_PASSWORD_HASH")
        );
    }
    assert_eq!(
        client
            .list_users()
            .send()
            .await
            .unwrap()
            .into_inner()
            .data
            .len(),
        2
    );
}

#[tokio::test]
async fn hardening_imported_hashes_at_the_ceilings_are_accepted() {
    let app = spawn_app().await;
    let client = key_client(&app);
    for (n, hash) in [
        bcrypt_labelled(12),
        argon2id(65536, 3, 4),
        argon2id(32768, 6, 8),
    ]
    .into_iter()
    .enumerate()
    {
        let created = client
            .create_user()
            .body(UserCreate {
                password_hash: Some(hash.clone()),
                ..new_user(&format!("imported{n}@acme.test"))
            })
            .send()
            .await;
        assert_eq!(created.expect(&hash).status(), 201);
    }
    // The cost-4 original still signs in, and a wrong password is the one 401.
    let cheap = bcrypt::hash(PASSWORD, 4).unwrap();
    client
        .create_user()
        .body(UserCreate {
            password_hash: Some(cheap),
            ..new_user("cheap@acme.test")
        })
        .send()
        .await
        .unwrap();
    let wrong = sign_in(
        &app,
        &app.admin.org_id,
        "cheap@acme.test",
        "wrong password",
        None,
    )
    .await;
    assert_eq!(failure(wrong).0, 401);
    let right = sign_in(&app, &app.admin.org_id, "cheap@acme.test", PASSWORD, None).await;
    assert_eq!(right.unwrap().status(), 201);
}

/// `password` and `password_hash` both with values conflict (422, nothing written); a value
/// beside the other's `null` is that value, as Schemathesis' schema-valid bodies send it.
#[tokio::test]
async fn a_password_beside_a_null_hash_or_a_hash_beside_a_null_password_is_that_value() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let user = client
        .create_user()
        .body(UserCreate {
            password: Some(PASSWORD.into()),
            password_hash: None,
            ..new_user("ada@acme.test")
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let org = app.admin.org_id;
    let signs_in = |password: &'static str| {
        let app = &app;
        async move {
            sign_in(app, &org, "ada@acme.test", password, None)
                .await
                .is_ok()
        }
    };
    assert!(signs_in(PASSWORD).await);

    let both = client
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            password: Patch::Value("another horse battery staple 7".into()),
            password_hash: Patch::Value(bcrypt::hash(PASSWORD, 4).unwrap()),
            ..Default::default()
        })
        .send()
        .await;
    let (status, body) = failure(both);
    assert_eq!(
        (status, body.error.errors[0].field.as_str()),
        (422, "password_hash")
    );
    assert!(signs_in(PASSWORD).await, "nothing was written");

    let new_password = "another horse battery staple 7";
    client
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            password: Patch::Value(new_password.into()),
            password_hash: Patch::Null,
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert!(signs_in(new_password).await);
    assert!(!signs_in(PASSWORD).await);

    client
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            password: Patch::Null,
            password_hash: Patch::Value(bcrypt::hash(PASSWORD, 4).unwrap()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert!(signs_in(PASSWORD).await);
    assert!(!signs_in(new_password).await);
}
