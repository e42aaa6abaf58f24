//! A verified change of address (issue 17, point 8) and mailed invitations (point 9): with a
//! mailer, `PATCH /v1/me` keeps the address, shows `pending_email`, mails a link to the new
//! address and a notice without one to the old; redeeming the link swaps it in, verified, or
//! answers 409 `EMAIL_TAKEN` if another user took it meanwhile. Without a mailer, and through
//! the admin surface, the change stays direct.

use users_api::domain::{EventType, OrgId};
use users_api_client::{
    Client, MePatch, Patch, UserPatch,
    types::{Role, UserCreate},
};

use crate::{
    fixtures::{code, create_user, failure, key_client, person},
    helpers::spawn_app,
    self_service::{count, events_without, mailing_app, token_in},
    tickets::{redeem, redeemed},
};

async fn move_to(client: &Client, email: &str) -> users_api_client::types::Me {
    client
        .patch_me()
        .body(MePatch {
            primary_email: Patch::Value(email.parse().unwrap()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
}

#[tokio::test]
async fn with_a_mailer_a_new_address_waits_for_the_link_mailed_to_it() {
    let m = mailing_app().await;
    let (user, client) = person(&m.app, "ada@acme.test", Role::Member).await;
    let me = move_to(&client, "lovelace@acme.test").await;
    assert_eq!(me.primary_email.as_deref(), Some("ada@acme.test"));
    assert_eq!(me.pending_email.as_deref(), Some("lovelace@acme.test"));
    let me = client.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(me.pending_email.as_deref(), Some("lovelace@acme.test"));

    let received = m.sink.wait_for(2).await;
    let to_new = received
        .iter()
        .find(|r| r.envelope_to == ["lovelace@acme.test"])
        .expect("a message to the new address");
    let notice = received
        .iter()
        .find(|r| r.envelope_to == ["ada@acme.test"])
        .expect("a notice to the old address");
    let token = token_in(to_new, "change-email");
    assert!(!notice.text().contains("token=") && !notice.html().contains("tkt_"));
    assert!(
        notice.text().contains("lovelace@acme.test"),
        "{}",
        notice.text()
    );

    redeemed(&m.app, &token, None).await;
    let me = client.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(me.primary_email.as_deref(), Some("lovelace@acme.test"));
    assert!(me.primary_email_verified);
    assert_eq!(me.pending_email, None);

    let org = OrgId::from(user.org_id);
    let all = events_without(&m.app, &org, &[&token[4..]]).await;
    assert_eq!(count(&all, EventType::UserEmailChangeRequested), 1);
    assert_eq!(count(&all, EventType::UserEmailChanged), 1);
    let requested = all
        .iter()
        .find(|e| e.kind == EventType::UserEmailChangeRequested)
        .unwrap();
    assert!(
        requested.data.contains("\"pending_email\""),
        "{}",
        requested.data
    );
    assert!(requested.data.contains("lovelace@acme.test"));
}

#[tokio::test]
async fn an_address_taken_meanwhile_makes_the_link_409_and_it_stays_redeemable() {
    let m = mailing_app().await;
    let (_, client) = person(&m.app, "ada@acme.test", Role::Member).await;
    // Taken already: refused at once.
    create_user(&m.app, "grace@acme.test", Role::Member).await;
    let reply = client
        .patch_me()
        .body(MePatch {
            primary_email: Patch::Value("Grace@acme.test".parse().unwrap()),
            ..Default::default()
        })
        .send()
        .await;
    let (status, body) = failure(reply);
    assert_eq!((status, body.error.code.as_str()), (409, "EMAIL_TAKEN"));
    let error = serde_json::to_string(&body.error).unwrap();
    assert!(error.contains("\"primary_email\""), "{error}");

    move_to(&client, "lovelace@acme.test").await;
    let received = m.sink.wait_for(2).await;
    let to_new = received
        .iter()
        .find(|r| r.envelope_to == ["lovelace@acme.test"])
        .unwrap();
    let token = token_in(to_new, "change-email");
    let thief = create_user(&m.app, "lovelace@acme.test", Role::Member).await;
    assert_eq!(
        code(redeem(&m.app, &token, None, None).await),
        (409, "EMAIL_TAKEN".into())
    );
    let me = client.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(me.primary_email.as_deref(), Some("ada@acme.test"));
    key_client(&m.app)
        .delete_user()
        .user_id(thief.id)
        .send()
        .await
        .unwrap();
    redeemed(&m.app, &token, None).await;
    let me = client.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(me.primary_email.as_deref(), Some("lovelace@acme.test"));
}

#[tokio::test]
async fn a_newer_change_supersedes_the_pending_one() {
    let m = mailing_app().await;
    let (_, client) = person(&m.app, "ada@acme.test", Role::Member).await;
    move_to(&client, "one@acme.test").await;
    let first = m.sink.wait_for(2).await;
    let me = move_to(&client, "two@acme.test").await;
    assert_eq!(me.pending_email.as_deref(), Some("two@acme.test"));
    let token = first
        .iter()
        .find(|r| r.envelope_to == ["one@acme.test"])
        .map(|r| token_in(r, "change-email"))
        .unwrap();
    assert_eq!(
        code(redeem(&m.app, &token, None, None).await),
        (410, "TICKET_EXPIRED".into())
    );
}

#[tokio::test]
async fn without_a_mailer_and_for_admins_the_change_is_direct_and_unverified() {
    let app = spawn_app().await;
    let (_, client) = person(&app, "ada@acme.test", Role::Member).await;
    let me = move_to(&client, "lovelace@acme.test").await;
    assert_eq!(me.primary_email.as_deref(), Some("lovelace@acme.test"));
    assert!(!me.primary_email_verified);
    assert_eq!(me.pending_email, None);

    let m = mailing_app().await;
    let user = create_user(&m.app, "grace@acme.test", Role::Member).await;
    let change = UserPatch {
        primary_email: Patch::Value("hopper@acme.test".parse().unwrap()),
        ..Default::default()
    };
    let changed = key_client(&m.app)
        .patch_user()
        .user_id(user.id)
        .body(change)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(changed.primary_email.as_deref(), Some("hopper@acme.test"));
    assert_eq!(m.settled().await, 0, "an admin's change sends nothing");
}

#[tokio::test]
async fn with_a_mailer_an_invited_user_is_mailed_a_link_that_activates_them() {
    let m = mailing_app().await;
    let invite = UserCreate {
        primary_email: Some("ivy@acme.test".parse().unwrap()),
        invite: Some(true),
        ..Default::default()
    };
    let user = key_client(&m.app)
        .create_user()
        .body(invite)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let mail = m.nth(1).await;
    assert_eq!(mail.envelope_to, ["ivy@acme.test"]);
    let token = token_in(&mail, "accept-invite");
    let done = redeemed(&m.app, &token, Some("correct horse battery staple")).await;
    assert!(done.session.is_some());
    let stored = key_client(&m.app)
        .get_user()
        .user_id(user.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(stored.status, users_api_client::types::UserStatus::Active);
    let org = OrgId::from(user.org_id);
    events_without(&m.app, &org, &[&token[4..]]).await;
}
