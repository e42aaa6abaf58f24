//! Delivery (issue 16): Standard Webhooks headers and signature, subscribed types only, retries
//! after a 500 and after a timeout with every attempt recorded, and order held per endpoint
//! while another endpoint fails.

use std::{sync::Arc, time::Duration};

use users_api::domain::EventType;

use crate::webhooks_receiver::{
    Receiver, Reply, app, append, dispatcher, endpoint, verifies, wait_for_deliveries,
};

#[tokio::test]
async fn a_delivery_is_the_event_signed_per_standard_webhooks() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let hook = endpoint(&app, &receiver.url, &[]).await;
    let _dispatcher = dispatcher(&app, &app.state.db, "1s");
    let updated = append(&app, EventType::UserUpdated, 1).await;
    // Audit only: never delivered to an endpoint that does not name it.
    append(&app, EventType::SessionSignInFailed, 2).await;
    let created = append(&app, EventType::UserCreated, 3).await;

    let received = receiver.wait_for(2).await;
    assert_eq!(received.len(), 2, "{received:?}");
    for (got, event) in received.iter().zip([&updated, &created]) {
        assert_eq!(got.id, event.id, "webhook-id is the event id");
        assert_eq!(got.content_type, "application/json");
        assert_eq!(
            got.body,
            users_api::events::body(event),
            "the body is the event"
        );
        assert_eq!(got.json()["type"], event.kind.as_str());
        let sent_at: i64 = got.timestamp.parse().expect("unix seconds");
        assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 60);
        assert!(got.signature.starts_with("v1,"), "{}", got.signature);
        assert!(!got.signature.contains(' '), "one secret, one signature");
        assert!(verifies(&hook.secret, got), "{got:?}");
        assert!(!verifies("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", got));
    }

    // The receiver answers before the dispatcher records the attempt: wait for both records.
    let deliveries = wait_for_deliveries(&app, hook.id, 2).await;
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0].event_id, created.id, "newest first");
    assert!(deliveries.iter().all(|d| d.status == "succeeded"));
    assert!(deliveries.iter().all(|d| d.response_status == Some(204)));
}

#[tokio::test]
async fn a_500_and_a_timeout_are_retried_until_a_2xx_and_every_attempt_is_recorded() {
    let app = app().await;
    let receiver = Receiver::answering(Arc::new(|n, _| match n {
        0 => Reply::Status(500),
        1 => Reply::Slow(Duration::from_secs(3)),
        _ => Reply::Status(200),
    }))
    .await;
    let hook = endpoint(&app, &receiver.url, &["user.updated"]).await;
    let _dispatcher = dispatcher(&app, &app.state.db, "1s,1s,1s");
    let event = append(&app, EventType::UserUpdated, 1).await;

    let received = receiver.wait_for(3).await;
    assert!(
        received.iter().all(|r| r.id == event.id),
        "the same webhook-id"
    );
    let deliveries = wait_for_deliveries(&app, hook.id, 3).await;
    let (last, timed_out, failed) = (&deliveries[0], &deliveries[1], &deliveries[2]);
    assert_eq!(failed.attempt, 1);
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.response_status, Some(500));
    let body = failed.response_body.clone().unwrap();
    assert!(body.starts_with("answered 500"), "{body}");
    assert_eq!(body.len(), 1024, "the first 1 KiB");
    assert!(failed.next_attempt_at.is_some());
    assert_eq!(timed_out.attempt, 2);
    assert_eq!(timed_out.response_status, None);
    assert_eq!(timed_out.error.as_deref(), Some("timed out"));
    assert_eq!(last.attempt, 3);
    assert_eq!(last.status, "succeeded");
    assert_eq!(last.next_attempt_at, None);
    let state = app
        .client()
        .get_webhook_endpoint()
        .endpoint_id(hook.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(state.failed_attempts, 0);
    assert!(!state.disabled);
}

#[tokio::test]
async fn a_failing_endpoint_holds_its_own_events_back_and_no_one_elses() {
    let app = app().await;
    let failing = Receiver::answering(Arc::new(|n, _| match n {
        0..=1 => Reply::Status(503),
        _ => Reply::Status(200),
    }))
    .await;
    let healthy = Receiver::start().await;
    endpoint(&app, &failing.url, &[]).await;
    endpoint(&app, &healthy.url, &[]).await;
    let _dispatcher = dispatcher(&app, &app.state.db, "2s,2s,2s");
    let mut events = Vec::new();
    for n in 0..5 {
        events.push(append(&app, EventType::UserUpdated, n).await.id);
    }
    // The healthy endpoint gets all five while the failing one is still held at the first.
    let got = healthy.wait_for(5).await;
    assert_eq!(got.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), events);
    let held = failing.received();
    assert!(held.iter().all(|r| r.id == events[0]), "{held:?}");
    // Then it gets them in order, the first after its retries.
    let got = failing.wait_for(7).await;
    let ids: Vec<String> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        &ids[..3],
        &[events[0].clone(), events[0].clone(), events[0].clone()]
    );
    assert_eq!(&ids[3..], &events[1..]);
}
