//! `POST /v1/me/email-verification` and `/confirm` (issue 17, point 7): the message as received
//! (link and code), the code or the link proving the address once, five wrong codes ending it,
//! a new message superseding the old, what is refused, and no token or code in any event.

use users_api::domain::{EventType, OrgId};
use users_api_client::{
    Client, UserPatch,
    types::{EmailVerificationConfirm, Role},
};

use crate::{
    fixtures::{code, create_user, key_client, person, session_token},
    helpers::spawn_app,
    self_service::{code_in, count, events_without, in_queue_order, mailing_app, token_in},
    tickets::{redeem, redeemed},
};

async fn send(client: &Client) -> users_api_client::types::EmailVerificationSent {
    let sent = client.send_email_verification().send().await.unwrap();
    assert_eq!(sent.status(), 202);
    sent.into_inner().data
}

async fn confirm(
    client: &Client,
    code: &str,
) -> crate::fixtures::Reply<users_api_client::types::MeEnvelope> {
    client
        .confirm_email_verification()
        .body(EmailVerificationConfirm { code: code.into() })
        .send()
        .await
}

/// The stored code hashes.
async fn stored_codes(app: &crate::helpers::TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use users_api::db::schema::tickets;
    crate::helpers::on_db!(app.state.db, |conn| tickets::table
        .filter(tickets::code_hash.is_not_null())
        .select(tickets::code_hash.assume_not_null())
        .load::<String>(conn)
        .await
        .unwrap())
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn verified(client: &Client) -> bool {
    client
        .get_me()
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
        .primary_email_verified
}

#[tokio::test]
async fn the_mailed_code_verifies_the_address_once_and_no_event_holds_it() {
    let m = mailing_app().await;
    let (user, client) = person(&m.app, "ada@acme.test", Role::Member).await;
    let sent = send(&client).await;
    assert_eq!(sent.to, "ada@acme.test");
    let hours = (sent.expires_at - chrono::Utc::now()).num_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "{hours} minutes");
    let mail = m.nth(1).await;
    assert_eq!(mail.envelope_to, ["ada@acme.test"]);
    assert_eq!(mail.subject(), "Verify your e-mail address for Acme");
    let token = token_in(&mail, "verify-email");
    let sent_code = code_in(&mail);
    assert!(mail.html().contains(&sent_code));
    assert!(!verified(&client).await);
    // Stored hashed: no column of the ticket holds the code.
    let stored = stored_codes(&m.app).await;
    assert_eq!(stored.len(), 1);
    assert!(
        stored
            .iter()
            .all(|h| h.len() == 64 && !h.contains(&sent_code))
    );

    let me = confirm(&client, &sent_code)
        .await
        .unwrap()
        .into_inner()
        .data;
    assert!(me.primary_email_verified);
    // Used up, as a code and as a link.
    assert_eq!(
        code(confirm(&client, &sent_code).await),
        (410, "TICKET_USED".into())
    );
    assert_eq!(
        code(redeem(&m.app, &token, None, None).await),
        (410, "TICKET_USED".into())
    );
    let org = OrgId::from(user.org_id);
    let all = events_without(&m.app, &org, &[&token[4..], &format!("\"{sent_code}\"")]).await;
    assert_eq!(count(&all, EventType::UserEmailVerified), 1);
    let event = all
        .iter()
        .find(|e| e.kind == EventType::UserEmailVerified)
        .unwrap();
    assert_eq!(
        event.actor_id.as_deref(),
        Some(user.id.to_string().as_str())
    );
}

#[tokio::test]
async fn five_wrong_codes_end_the_code_and_its_link() {
    let m = mailing_app().await;
    let (_, client) = person(&m.app, "ada@acme.test", Role::Member).await;
    send(&client).await;
    let mail = m.nth(1).await;
    let right = code_in(&mail);
    let wrong = other_than(&right);
    for left in (1..=4).rev() {
        let (status, body) = crate::fixtures::failure(confirm(&client, &wrong).await);
        assert_eq!((status, body.error.code.as_str()), (422, "WRONG_CODE"));
        let reason = serde_json::to_string(&body.error).unwrap();
        assert!(reason.contains(&format!("{left} more tries")), "{reason}");
    }
    assert_eq!(
        code(confirm(&client, &wrong).await),
        (410, "TICKET_EXPIRED".into())
    );
    // Ended: the right code and the link no longer work.
    assert_eq!(
        code(confirm(&client, &right).await),
        (410, "TICKET_EXPIRED".into())
    );
    let token = token_in(&mail, "verify-email");
    assert_eq!(
        code(redeem(&m.app, &token, None, None).await),
        (410, "TICKET_EXPIRED".into())
    );
    assert!(!verified(&client).await);
    // A new message starts afresh.
    send(&client).await;
    let fresh = code_in(&m.nth(2).await);
    assert!(
        confirm(&client, &fresh)
            .await
            .unwrap()
            .into_inner()
            .data
            .primary_email_verified
    );
}

#[tokio::test]
async fn the_link_verifies_too_and_a_new_message_supersedes_the_previous_one() {
    let m = mailing_app().await;
    let (_, client) = person(&m.app, "ada@acme.test", Role::Member).await;
    send(&client).await;
    send(&client).await;
    let received = in_queue_order(m.sink.wait_for(2).await);
    let (first, second) = (&received[0], &received[1]);
    assert_eq!(
        code(redeem(&m.app, &token_in(first, "verify-email"), None, None).await),
        (410, "TICKET_EXPIRED".into())
    );
    let first_code = code_in(first);
    if first_code != code_in(second) {
        assert_eq!(code(confirm(&client, &first_code).await).0, 422);
    }
    redeemed(&m.app, &token_in(second, "verify-email"), None).await;
    assert!(verified(&client).await);
    // Verified: nothing more to send.
    let reply = client.send_email_verification().send().await;
    assert_eq!(code(reply), (409, "TICKET_NOT_APPLICABLE".into()));
}

#[tokio::test]
async fn a_code_for_a_changed_address_no_longer_verifies() {
    let m = mailing_app().await;
    let (user, client) = person(&m.app, "ada@acme.test", Role::Member).await;
    send(&client).await;
    let right = code_in(&m.nth(1).await);
    // An admin's change is direct, even with a mailer.
    let change = UserPatch {
        primary_email: users_api_client::Patch::Value("ada2@acme.test".parse().unwrap()),
        ..Default::default()
    };
    key_client(&m.app)
        .patch_user()
        .user_id(user.id)
        .body(change)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(confirm(&client, &right).await),
        (410, "TICKET_EXPIRED".into())
    );
    assert!(!verified(&client).await);
}

#[tokio::test]
async fn what_verification_refuses() {
    // Without a mailer: 503; confirming with nothing sent: 404.
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let client = app.client_with(&session_token(&app, &user).await);
    let reply = client.send_email_verification().send().await;
    assert_eq!(code(reply), (503, "MAILER_NOT_CONFIGURED".into()));
    assert_eq!(
        code(confirm(&client, "123456").await),
        (404, "NOT_FOUND".into())
    );

    let m = mailing_app().await;
    let (_, client) = person(&m.app, "ada@acme.test", Role::Member).await;
    // Not six digits: 400 by the schema's pattern.
    for bad in ["12345", "1234567", "12a456", " 123456"] {
        assert_eq!(code(confirm(&client, bad).await).0, 400, "{bad:?}");
    }
    // An API key is not a user.
    let reply = key_client(&m.app).send_email_verification().send().await;
    assert_eq!(code(reply), (403, "FORBIDDEN".into()));
    // No address: nothing to verify.
    let (_, nobody) = person(&m.app, "tmp@acme.test", Role::Member).await;
    nobody
        .patch_me()
        .body(users_api_client::MePatch {
            primary_email: users_api_client::Patch::Null,
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let reply = nobody.send_email_verification().send().await;
    assert_eq!(code(reply), (409, "TICKET_NOT_APPLICABLE".into()));
}
