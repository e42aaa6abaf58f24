//! Privilege boundaries (PRODUCT §7): a principal without every scope — here an API key with
//! only `users:write` — cannot make an admin, nor take over or lock out one, by any of the ways
//! the admin surface offers; an admin's session and an API key with every scope still can.

use base64::{Engine, engine::general_purpose::STANDARD};
use users_api_client::{
    Client, Patch, UserPatch,
    types::{Role, SettableStatus, User, UserCreate, UserEnvelope, UserStatus},
};

use crate::{
    fixtures::{
        Reply, admin_sign_in, create_user, failure, key_client, key_with, me_status, sign_in,
    },
    helpers::{TestApp, spawn_app},
};

const PASSWORD: &str = "violet staircase under 7 moons";

/// What a key with only `users:write` lacks of every scope.
const MISSING: &str = "users:read teams:read teams:write events:read webhooks:write";

fn assert_needs_every_scope<T: std::fmt::Debug>(reply: Reply<T>) {
    let (status, body) = failure(reply);
    assert_eq!(
        (status, body.error.code.as_str()),
        (403, "INSUFFICIENT_SCOPE")
    );
    assert_eq!(body.error.details["scope"], MISSING);
    assert!(
        body.error.message.contains("every scope"),
        "{}",
        body.error.message
    );
}

/// A key with only `users:write`, and the first organization's admin as the full key sees them.
async fn writer_and_admin(app: &TestApp) -> (Client, User) {
    let writer = key_with(app, &["users:write"]).await;
    let admin = admin_now(app).await;
    (writer, admin)
}

async fn admin_now(app: &TestApp) -> User {
    key_client(app)
        .get_user()
        .user_id(app.admin.user_id.into_uuid())
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
}

async fn patch(client: &Client, user: &User, body: UserPatch) -> Reply<UserEnvelope> {
    client.patch_user().user_id(user.id).body(body).send().await
}

/// The refused patch changed nothing and the admin still signs in with their password and
/// their session still works.
async fn assert_admin_untouched(app: &TestApp, before: &User) {
    let after = admin_now(app).await;
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(after.role, Role::Admin);
    assert_eq!(after.status, UserStatus::Active);
    assert_eq!(me_status(app, &app.admin.session_token).await, 200);
    admin_sign_in(app).await;
}

#[tokio::test]
async fn a_users_write_key_cannot_create_an_admin_to_sign_in_as() {
    let app = spawn_app().await;
    let writer = key_with(&app, &["users:write"]).await;
    let body = UserCreate {
        primary_email: Some("mallory@acme.test".parse().unwrap()),
        password: Some(PASSWORD.parse().unwrap()),
        role: Some(Role::Admin),
        ..Default::default()
    };
    assert_needs_every_scope(writer.create_user().body(body).send().await);
    let found = key_client(&app)
        .list_users()
        .email("mallory@acme.test")
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert!(found.is_empty(), "nothing was created: {found:?}");
    let org = app.admin.org_id;
    let (status, _) = failure(sign_in(&app, &org, "mallory@acme.test", PASSWORD, None).await);
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_users_write_key_cannot_promote_a_user_to_admin() {
    let app = spawn_app().await;
    let writer = key_with(&app, &["users:write"]).await;
    let user = create_user(&app, "mallory@acme.test", Role::Member).await;
    let body = UserPatch {
        role: Some(Role::Admin),
        display_name: Patch::Value("Mallory".into()),
        ..Default::default()
    };
    assert_needs_every_scope(patch(&writer, &user, body).await);
    let after = key_client(&app)
        .get_user()
        .user_id(user.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(after.role, Role::Member);
    assert_eq!(after.display_name, None, "all or nothing");
}

#[tokio::test]
async fn a_users_write_key_cannot_demote_an_admin() {
    let app = spawn_app().await;
    create_user(&app, "second-admin@acme.test", Role::Admin).await;
    let (writer, admin) = writer_and_admin(&app).await;
    let body = UserPatch {
        role: Some(Role::Viewer),
        ..Default::default()
    };
    assert_needs_every_scope(patch(&writer, &admin, body).await);
    assert_admin_untouched(&app, &admin).await;
}

#[tokio::test]
async fn a_users_write_key_cannot_set_an_admins_password() {
    let app = spawn_app().await;
    let (writer, admin) = writer_and_admin(&app).await;
    for password in [Patch::Value(PASSWORD.into()), Patch::Null] {
        let body = UserPatch {
            password,
            ..Default::default()
        };
        assert_needs_every_scope(patch(&writer, &admin, body).await);
    }
    assert_admin_untouched(&app, &admin).await;
    let org = app.admin.org_id;
    let (status, _) = failure(sign_in(&app, &org, "admin@acme.test", PASSWORD, None).await);
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_users_write_key_cannot_set_an_admins_password_hash() {
    let app = spawn_app().await;
    let (writer, admin) = writer_and_admin(&app).await;
    let hash = users_api::auth::password::hash(PASSWORD).await.unwrap();
    let body = UserPatch {
        password_hash: Patch::Value(hash),
        ..Default::default()
    };
    assert_needs_every_scope(patch(&writer, &admin, body).await);
    assert_admin_untouched(&app, &admin).await;
    let org = app.admin.org_id;
    let (status, _) = failure(sign_in(&app, &org, "admin@acme.test", PASSWORD, None).await);
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_users_write_key_cannot_set_or_clear_an_admins_totp_secret() {
    let app = spawn_app().await;
    let (writer, admin) = writer_and_admin(&app).await;
    let secret = || Patch::Value(STANDARD.encode([7u8; 20]));
    let body = UserPatch {
        totp_secret_base64: secret(),
        ..Default::default()
    };
    assert_needs_every_scope(patch(&writer, &admin, body).await);
    assert_admin_untouched(&app, &admin).await;

    // With two-factor authentication on (set by a full key), the key cannot turn it off.
    let body = UserPatch {
        totp_secret_base64: secret(),
        ..Default::default()
    };
    patch(&key_client(&app), &admin, body).await.unwrap();
    let body = UserPatch {
        totp_secret_base64: Patch::Null,
        ..Default::default()
    };
    assert_needs_every_scope(patch(&writer, &admin, body).await);
    assert!(admin_now(&app).await.otp_auth_enabled);
}

#[tokio::test]
async fn a_users_write_key_cannot_change_an_admins_address() {
    let app = spawn_app().await;
    let (writer, admin) = writer_and_admin(&app).await;
    for primary_email in [Patch::Value("mallory@evil.test".into()), Patch::Null] {
        let body = UserPatch {
            primary_email,
            ..Default::default()
        };
        assert_needs_every_scope(patch(&writer, &admin, body).await);
    }
    assert_admin_untouched(&app, &admin).await;
    assert_eq!(
        admin_now(&app).await.primary_email.as_deref(),
        Some("admin@acme.test")
    );
}

#[tokio::test]
async fn a_users_write_key_cannot_suspend_an_admin() {
    let app = spawn_app().await;
    create_user(&app, "second-admin@acme.test", Role::Admin).await;
    let (writer, admin) = writer_and_admin(&app).await;
    let body = UserPatch {
        status: Some(SettableStatus::Suspended),
        ..Default::default()
    };
    assert_needs_every_scope(patch(&writer, &admin, body).await);
    assert_admin_untouched(&app, &admin).await;
}

#[tokio::test]
async fn a_users_write_key_cannot_turn_off_an_admins_sign_in_or_address_verification() {
    let app = spawn_app().await;
    let (writer, admin) = writer_and_admin(&app).await;
    let bodies = [
        UserPatch {
            primary_email_auth_enabled: Some(false),
            ..Default::default()
        },
        UserPatch {
            primary_email_verified: Some(false),
            ..Default::default()
        },
    ];
    for body in bodies {
        assert_needs_every_scope(patch(&writer, &admin, body).await);
    }
    assert_admin_untouched(&app, &admin).await;
    let after = admin_now(&app).await;
    assert!(after.primary_email_auth_enabled && after.primary_email_verified);
}

#[tokio::test]
async fn a_users_write_key_cannot_delete_an_admin() {
    let app = spawn_app().await;
    let second = create_user(&app, "second-admin@acme.test", Role::Admin).await;
    let writer = key_with(&app, &["users:write"]).await;
    assert_needs_every_scope(writer.delete_user().user_id(second.id).send().await);
    key_client(&app)
        .get_user()
        .user_id(second.id)
        .send()
        .await
        .expect("still there");
}

#[tokio::test]
async fn a_users_write_key_still_manages_members_and_an_admins_profile() {
    let app = spawn_app().await;
    let (writer, admin) = writer_and_admin(&app).await;
    let member = writer
        .create_user()
        .body(UserCreate {
            primary_email: Some("ada@acme.test".parse().unwrap()),
            password: Some(PASSWORD.parse().unwrap()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let body = UserPatch {
        role: Some(Role::Viewer),
        status: Some(SettableStatus::Suspended),
        password: Patch::Null,
        primary_email: Patch::Value("ada@elsewhere.test".into()),
        totp_secret_base64: Patch::Value(STANDARD.encode([7u8; 20])),
        primary_email_auth_enabled: Some(false),
        ..Default::default()
    };
    patch(&writer, &member, body).await.unwrap();
    writer
        .delete_user()
        .user_id(member.id)
        .send()
        .await
        .unwrap();

    // An admin's profile is not a privilege; sending their current role back is no change.
    let body = UserPatch {
        display_name: Patch::Value("The Admin".into()),
        phone_number: Patch::Value("+14155550123".into()),
        role: Some(Role::Admin),
        status: Some(SettableStatus::Active),
        primary_email: Patch::Value("admin@acme.test".into()),
        ..Default::default()
    };
    patch(&writer, &admin, body).await.unwrap();
    let after = admin_now(&app).await;
    assert_eq!(after.display_name.as_deref(), Some("The Admin"));
    assert_eq!(after.role, Role::Admin);
}

#[tokio::test]
async fn a_full_scope_key_and_an_admin_session_make_and_manage_admins() {
    let app = spawn_app().await;
    let full_key = key_client(&app);
    let session = app.client_with(&admin_sign_in(&app).await);
    for (i, client) in [&full_key, &session].into_iter().enumerate() {
        let email = format!("admin{i}@acme.test");
        let admin = client
            .create_user()
            .body(UserCreate {
                primary_email: Some(email.parse().unwrap()),
                password: Some(PASSWORD.parse().unwrap()),
                role: Some(Role::Admin),
                ..Default::default()
            })
            .send()
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!(admin.role, Role::Admin);
        let body = UserPatch {
            password: Patch::Value(format!("{PASSWORD} again")),
            primary_email: Patch::Value(format!("admin{i}@elsewhere.test")),
            primary_email_verified: Some(true),
            primary_email_auth_enabled: Some(false),
            totp_secret_base64: Patch::Value(STANDARD.encode([7u8; 20])),
            status: Some(SettableStatus::Suspended),
            ..Default::default()
        };
        patch(client, &admin, body).await.unwrap();
        let body = UserPatch {
            role: Some(Role::Member),
            status: Some(SettableStatus::Active),
            ..Default::default()
        };
        patch(client, &admin, body).await.unwrap();
        let body = UserPatch {
            role: Some(Role::Admin),
            ..Default::default()
        };
        patch(client, &admin, body).await.unwrap();
        client.delete_user().user_id(admin.id).send().await.unwrap();
    }
}
