//! An endpoint's life (issue 16): redelivery, secret rotation (both signatures for 24 h),
//! auto-disable with the `webhook_endpoint.disabled` event, and delivery resumed after a
//! restart in the middle of a backoff.

use std::{sync::Arc, time::Duration};

use users_api::{
    db::{Db, events},
    domain::EventType,
};
use users_api_client::WebhookEndpointPatch;

use crate::{
    webhooks_receiver::wait_for_deliveries,
    webhooks_receiver::{Receiver, Reply, app, append, dispatcher, endpoint, verifies},
};

#[tokio::test]
async fn an_event_is_redelivered_on_request() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url, &[]).await;
    let _dispatcher = dispatcher(&app, &app.state.db, "1s");
    let event = append(&app, EventType::UserDeleted, 1).await;
    receiver.wait_for(1).await;
    let queued = app
        .client()
        .redeliver_webhook_event()
        .endpoint_id(hook.id)
        .event_id(&event.id)
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].id, event.id);
    assert_eq!(received[1].body, received[0].body);
    assert!(verifies(&hook.secret, &received[1]));
    let deliveries = wait_for_deliveries(&app, hook.id, 2).await;
    assert!(deliveries[0].redelivery);
    let missing = app
        .client()
        .redeliver_webhook_event()
        .endpoint_id(hook.id)
        .event_id("01JF8Z6Q3W5X7Y9A1B3C5D7E9G")
        .send()
        .await;
    assert_eq!(crate::fixtures::code(missing), (404, "NOT_FOUND".into()));
}

#[tokio::test]
async fn after_a_rotation_deliveries_carry_both_signatures() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url, &[]).await;
    let rotated = app
        .client()
        .rotate_webhook_secret()
        .endpoint_id(hook.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_ne!(rotated.secret, hook.secret);
    assert!(rotated.previous_secret_expires_at.is_some());
    let _dispatcher = dispatcher(&app, &app.state.db, "1s");
    append(&app, EventType::UserUpdated, 1).await;
    let received = receiver.wait_for(1).await;
    let signatures: Vec<&str> = received[0].signature.split(' ').collect();
    assert_eq!(signatures.len(), 2, "{}", received[0].signature);
    assert!(verifies(&rotated.secret, &received[0]));
    assert!(verifies(&hook.secret, &received[0]));
}

#[tokio::test]
async fn an_exhausted_schedule_disables_the_endpoint_and_records_an_event() {
    let app = app().await;
    let dead = Receiver::answering(Arc::new(|_, _| Reply::Status(500))).await;
    let watcher = Receiver::start().await;
    let hook = endpoint(&app, &dead.url, &[]).await;
    endpoint(&app, &watcher.url, &["webhook_endpoint.disabled"]).await;
    let _dispatcher = dispatcher(&app, &app.state.db, "1s,1s");
    append(&app, EventType::UserUpdated, 1).await;

    assert_eq!(dead.wait_for(3).await.len(), 3);
    let notice = watcher.wait_for(1).await.remove(0).json();
    assert_eq!(notice["type"], "webhook_endpoint.disabled");
    assert_eq!(notice["actor"]["type"], "system");
    assert_eq!(notice["data"]["object"]["id"], hook.id.to_string());
    let state = app
        .client()
        .get_webhook_endpoint()
        .endpoint_id(hook.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert!(state.disabled);
    let feed = events::list(&app.state.db, &app.admin.org_id, 0, 10, &[])
        .await
        .unwrap();
    assert_eq!(
        feed.last().unwrap().kind,
        EventType::WebhookEndpointDisabled
    );

    // Enabled again, it resumes at the event it stopped at.
    dead.answer_with(Arc::new(|_, _| Reply::Status(200)));
    app.client()
        .patch_webhook_endpoint()
        .endpoint_id(hook.id)
        .body(WebhookEndpointPatch {
            disabled: Some(false),
            ..WebhookEndpointPatch::default()
        })
        .send()
        .await
        .unwrap();
    let received = dead.wait_for(4).await;
    assert_eq!(received[3].id, received[0].id);
}

#[tokio::test]
async fn a_delivery_in_backoff_completes_after_a_restart() {
    let mut app = app().await;
    let receiver = Receiver::answering(Arc::new(|n, _| match n {
        0 => Reply::Status(500),
        _ => Reply::Status(200),
    }))
    .await;
    let hook = endpoint(&app, &receiver.url, &[]).await;
    let first = dispatcher(&app, &app.state.db, "2s");
    let event = append(&app, EventType::UserUpdated, 1).await;
    receiver.wait_for(1).await;
    wait_for_deliveries(&app, hook.id, 1).await;
    // The instance stops in the middle of its backoff…
    drop(first);
    app.shut_down().await;
    // …and another process, with pools of its own on the same database, finishes the job.
    let db = Db::connect(&app.database_url, Default::default())
        .await
        .unwrap();
    let _second = dispatcher(&app, &db, "2s");
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].id, event.id);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        2,
        "delivered once more, not again and again"
    );
}
