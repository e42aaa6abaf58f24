//! Issue 12, item 5: one mailbox is one account. A domain's Unicode and ASCII (`xn--`) forms are
//! the same address everywhere one enters (create, both patches, the list filter, sign-in), and
//! look-alike addresses that mix scripts are refused.

use users_api_client::{MePatch, Patch, UserPatch, types::UserCreate};

use crate::{
    fixtures::{code, key_client, new_user, sign_in},
    helpers::spawn_app,
};

const PASSWORD: &str = "correct horse battery staple 42";
const UNICODE: &str = "eve@bücher.example";
const ASCII: &str = "eve@xn--bcher-kva.example";

#[tokio::test]
async fn hardening_a_unicode_domain_and_its_ascii_form_are_one_account() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let eve = client
        .create_user()
        .body(UserCreate {
            password: Some(PASSWORD.parse().unwrap()),
            ..new_user(UNICODE)
        })
        .send()
        .await
        .expect("created")
        .into_inner()
        .data;
    assert_eq!(
        eve.primary_email.as_deref(),
        Some(ASCII),
        "stored in ASCII form"
    );

    for same in [ASCII, "EVE@BÜCHER.EXAMPLE", "eve@XN--BCHER-KVA.example"] {
        let again = client.create_user().body(new_user(same)).send().await;
        assert_eq!(code(again), (409, "EMAIL_TAKEN".into()), "{same}");
    }
    for spelling in [UNICODE, ASCII, "Eve@Bücher.Example"] {
        let found = client.list_users().email(spelling).send().await.unwrap();
        let ids: Vec<_> = found.into_inner().data.iter().map(|u| u.id).collect();
        assert_eq!(ids, [eve.id], "?email={spelling}");
        let signed_in = sign_in(&app, &app.admin.org_id, spelling, PASSWORD, None).await;
        assert_eq!(signed_in.expect("signs in").status(), 201, "{spelling}");
    }
}

#[tokio::test]
async fn hardening_patches_canonicalise_the_domain_and_meet_the_same_uniqueness() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let me = app
        .client()
        .patch_me()
        .body(MePatch {
            primary_email: Patch::Value("Boss@Bücher.example".into()),
            ..Default::default()
        })
        .send()
        .await
        .expect("patched")
        .into_inner()
        .data;
    assert_eq!(
        me.primary_email.as_deref(),
        Some("Boss@xn--bcher-kva.example")
    );

    let other = client
        .create_user()
        .body(new_user("other@acme.test"))
        .send()
        .await;
    let other = other.unwrap().into_inner().data;
    let taken = client
        .patch_user()
        .user_id(other.id)
        .body(UserPatch {
            primary_email: Patch::Value("boss@xn--bcher-kva.EXAMPLE".into()),
            ..Default::default()
        })
        .send()
        .await;
    assert_eq!(code(taken), (409, "EMAIL_TAKEN".into()));
    let created = client
        .create_user()
        .body(new_user("boss@bücher.example"))
        .send()
        .await;
    assert_eq!(code(created), (409, "EMAIL_TAKEN".into()));
}

#[tokio::test]
async fn hardening_look_alike_addresses_that_mix_scripts_are_refused_everywhere() {
    let app = spawn_app().await;
    let client = key_client(&app);
    // A Cyrillic `а` (U+0430) in a Latin local part, and in a Latin domain label.
    for look_alike in [
        "\u{430}dmin@acme.test",
        "admin@\u{430}cme.test",
        "admin@xn--cme-5cd.test",
    ] {
        let created = client.create_user().body(new_user(look_alike)).send().await;
        assert_eq!(code(created), (422, "INVALID_EMAIL".into()), "{look_alike}");
        let patched_me = app
            .client()
            .patch_me()
            .body(MePatch {
                primary_email: Patch::Value(look_alike.into()),
                ..Default::default()
            })
            .send()
            .await;
        assert_eq!(
            code(patched_me),
            (422, "INVALID_EMAIL".into()),
            "{look_alike}"
        );
        // Signing in with it finds nobody: the one 401 of every wrong sign-in.
        let signed_in = sign_in(&app, &app.admin.org_id, look_alike, PASSWORD, None).await;
        assert_eq!(code(signed_in), (401, "UNAUTHORIZED".into()));
        let listed = client.list_users().email(look_alike).send().await.unwrap();
        assert!(listed.into_inner().data.is_empty());
    }
    let users = client.list_users().send().await.unwrap().into_inner().data;
    assert_eq!(users.len(), 1, "nothing was created");
    // A local part of one script is a real mailbox (RFC 6531).
    let cyrillic = client
        .create_user()
        .body(new_user("ада@acme.test"))
        .send()
        .await;
    assert_eq!(cyrillic.unwrap().status(), 201);
}
