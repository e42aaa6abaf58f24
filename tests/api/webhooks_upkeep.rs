//! Webhooks with the rest of the service (issue 16): a real change arrives at an endpoint with
//! the request's id; rotating the secrets key re-seals signing secrets as it does TOTP secrets,
//! so the previous key can be dropped; the sweeper prunes delivery attempts with their events.

use serde_json::json;
use users_api::{
    auth::{
        SecretKeys,
        reseal::{self, Reseal},
        secrets::SecretKey,
    },
    db::sealed_secrets::{self, SealedColumn},
    domain::{EventType, WebhookEndpointId},
    sweeper::{self, Retention},
};

use crate::{
    fixtures::admin_sign_in,
    webhooks_receiver::{
        Receiver, app, append, deliveries, dispatcher, endpoint, verifies, wait_for_deliveries,
    },
};

#[tokio::test]
async fn a_patch_of_me_arrives_signed_with_the_id_of_the_request_that_made_it() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url, &["user.updated"]).await;
    let _dispatcher = dispatcher(&app, &app.state.db, "1s");
    let token = admin_sign_in(&app).await;
    let response = app
        .http()
        .patch(app.url("/v1/me"))
        .bearer_auth(&token)
        .json(&json!({"display_name": "Ada L."}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let received = receiver.wait_for(1).await;
    assert_eq!(received.len(), 1, "only the subscribed type: {received:?}");
    let event = received[0].json();
    assert_eq!(event["type"], "user.updated");
    assert_eq!(event["request_id"], request_id.as_str());
    assert_eq!(event["actor"]["id"], app.admin.user_id.to_string());
    assert_eq!(event["data"]["object"]["display_name"], "Ada L.");
    assert!(verifies(&hook.secret, &received[0]));
}

#[tokio::test]
async fn rotating_the_secrets_key_reseals_signing_secrets_so_the_old_key_can_go() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url, &[]).await;
    let db = &app.state.db;
    let dir = tempfile::tempdir().unwrap();
    let old_path = app.secrets_key_file.clone();
    let new_path = dir.path().join("new-secrets-key");
    SecretKey::load_or_create(&new_path).unwrap();

    // The new key with the previous one starts (and becomes the fleet's key); the new key alone
    // does not yet, since a signing secret is still sealed under the previous one.
    let rotating = reseal::open_keys(db, &new_path, Some(&old_path))
        .await
        .unwrap()
        .keys;
    let refused = reseal::open_keys(db, &new_path, None).await.err().unwrap();
    assert!(
        refused.to_string().contains("sealed under key"),
        "{refused}"
    );

    let done = reseal::reseal(db, &rotating, Reseal::NotCurrent)
        .await
        .unwrap();
    assert_eq!((done.changed, done.failed), (1, 0));
    let new_only = reseal::open_keys(db, &new_path, None).await.unwrap().keys;
    let stored =
        sealed_secrets::page_without_prefix(db, SealedColumn::WebhookSecret, None, "-", 10)
            .await
            .unwrap();
    let id: WebhookEndpointId = stored[0].id.parse().unwrap();
    assert_eq!(
        new_only.open_webhook_secret(&id, &stored[0].value).unwrap(),
        hook.secret,
        "the same secret, under the new key"
    );
    let old_only = SecretKeys::new(SecretKey::load(&old_path).unwrap(), None);
    assert!(old_only.open_webhook_secret(&id, &stored[0].value).is_err());
}

#[tokio::test]
async fn the_sweeper_prunes_delivery_attempts_with_their_events() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url, &[]).await;
    let _dispatcher = dispatcher(&app, &app.state.db, "1s");
    append(&app, EventType::UserUpdated, 1).await;
    append(&app, EventType::UserUpdated, 2).await;
    receiver.wait_for(2).await;
    wait_for_deliveries(&app, hook.id, 2).await;

    let db = &app.state.db;
    let now = users_api::db::now();
    let old = (now - chrono::TimeDelta::days(91)).format("%Y-%m-%d %H:%M:%S");
    db.execute_script(&format!(
        "UPDATE webhook_deliveries SET attempted_at = '{old}' WHERE event_sequence = 1"
    ))
    .await
    .unwrap();
    let swept = sweeper::sweep(db, &Retention::default(), now)
        .await
        .unwrap();
    assert_eq!(swept.webhook_deliveries, 1);
    let left = deliveries(&app, hook.id).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event_sequence, 2);
}
