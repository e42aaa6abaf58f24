//! The dispatcher: background tasks, started by the server beside the sweeper and never in a
//! request's path, that deliver events to webhook endpoints.
//!
//! Every `poll_interval` (500 ms by default: how soon a committed event leaves) it leases due
//! endpoints (`db::webhooks::claim_due`), as many as it has free delivery slots
//! (`max_concurrent`), and works each on a task of its own: first the redeliveries asked for,
//! then the organization's events after the endpoint's cursor, in sequence order, one request
//! at a time. A 2xx within `timeout` advances the cursor; anything else is recorded and the
//! endpoint waits out the retry schedule, holding back its later events (other endpoints go
//! on); an exhausted schedule disables the endpoint and appends `webhook_endpoint.disabled`.
//! The state is in the database and every change is made only while the lease is held, so a
//! restart resumes where it stopped and an instance that dies leaves a lease that expires.
//! Delivery is at least once: an instance that dies after a receiver answered but before the
//! cursor moved sends that event again.

use std::{sync::Arc, time::Duration};

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;
use tokio::{sync::Semaphore, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{WebhookSettings, signing, ssrf};
use crate::{
    auth::SecretKeys,
    db::{
        Db,
        events::{self as stored_events, StoredEvent},
        webhooks::{self, Delivery, Endpoint, Outcome},
    },
    domain::{EventType, WebhookDeliveryId},
    error::ApiError,
    events::{self, Origin},
};

/// Events read per query while an endpoint is worked.
const EVENT_BATCH: i64 = 100;
/// Events sent to one endpoint per lease before it is given back (others get their turn).
const EVENTS_PER_LEASE: usize = 1_000;
/// How much of a response is kept.
const RESPONSE_BYTES: usize = 1024;

/// Delivers webhooks until cancelled (its handle dropped).
#[derive(Clone)]
pub struct Dispatcher {
    db: Db,
    secrets: Arc<SecretKeys>,
    settings: Arc<WebhookSettings>,
    client: reqwest::Client,
    /// This instance's name on the leases it holds.
    owner: Arc<str>,
    slots: Arc<Semaphore>,
}

/// Stops the dispatcher when dropped.
pub struct DispatcherHandle {
    stop: CancellationToken,
}

impl Drop for DispatcherHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the dispatcher. With `allow_private_urls`, logs a warning: deliveries may then reach
/// this host's own network.
pub fn spawn(db: Db, secrets: Arc<SecretKeys>, settings: WebhookSettings) -> DispatcherHandle {
    if settings.allow_private_urls {
        tracing::warn!(
            "WEBHOOKS MAY REACH PRIVATE ADDRESSES: --webhooks-allow-private-urls is on, so \
             webhook URLs may be http:// and may name loopback, private and link-local \
             addresses (cloud metadata included); for development and tests only"
        );
    }
    let dispatcher = Dispatcher::new(db, secrets, settings);
    let stop = CancellationToken::new();
    tokio::spawn(dispatcher.run(stop.clone()));
    DispatcherHandle { stop }
}

impl Dispatcher {
    pub fn new(db: Db, secrets: Arc<SecretKeys>, settings: WebhookSettings) -> Self {
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("users-api-webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private_urls {
            client = client
                .https_only(true)
                .dns_resolver(Arc::new(ssrf::PublicResolver));
        }
        let client = client.build().expect("the webhook client builds");
        Self {
            db,
            secrets,
            slots: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            settings: Arc::new(settings),
            client,
            owner: format!("{}", uuid::Uuid::new_v4()).into(),
        }
    }

    async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
            if let Err(error) = self.claim_and_work(&stop).await {
                tracing::warn!(error = %error.message, "webhook dispatch failed; retrying");
            }
        }
    }

    /// Leases due endpoints for the free slots and works each on a task of its own.
    async fn claim_and_work(&self, stop: &CancellationToken) -> Result<(), ApiError> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(());
        }
        let now = crate::db::now();
        if !webhooks::any_due(&self.db, now).await? {
            return Ok(());
        }
        let claimed =
            webhooks::claim_due(&self.db, &self.owner, now, self.lease_until(), free as i64)
                .await?;
        for endpoint_id in claimed {
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                webhooks::release(&self.db, &endpoint_id, &self.owner).await?;
                continue;
            };
            let dispatcher = self.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = stop.cancelled() => {}
                    result = dispatcher.work(&endpoint_id) => {
                        if let Err(error) = result {
                            tracing::warn!(endpoint = %endpoint_id, error = %error.message, "webhook endpoint work failed");
                        }
                    }
                }
                // Also when stopped mid-delivery: the next instance need not wait for the
                // lease to expire (the interrupted delivery is sent again: at least once).
                let _ = webhooks::release(&dispatcher.db, &endpoint_id, &dispatcher.owner).await;
                drop(slot);
            });
        }
        Ok(())
    }

    /// A lease lasts one delivery's timeout and the database work around it, with a margin.
    fn lease_until(&self) -> NaiveDateTime {
        let lease = self.settings.timeout * 2 + Duration::from_secs(30);
        crate::db::now() + TimeDelta::from_std(lease).unwrap_or(TimeDelta::minutes(5))
    }

    /// Works one leased endpoint: redeliveries, then its events in order until it is done,
    /// fails, or has had its share.
    async fn work(&self, endpoint_id: &crate::domain::WebhookEndpointId) -> Result<(), ApiError> {
        let Some(endpoint) = webhooks::leased(&self.db, endpoint_id, &self.owner).await? else {
            return Ok(());
        };
        for event in webhooks::take_redeliveries(&self.db, &endpoint).await? {
            let delivery = self.attempt(&endpoint, &event, 1, true).await;
            webhooks::record_redelivery(&self.db, &delivery).await?;
        }
        let due = endpoint
            .next_attempt_at
            .is_none_or(|at| at <= crate::db::now());
        if endpoint.disabled || !due {
            return Ok(());
        }
        let mut cursor = endpoint.cursor;
        let mut attempts = endpoint.attempts;
        let mut sent = 0;
        while sent < EVENTS_PER_LEASE {
            let batch =
                stored_events::list(&self.db, &endpoint.org_id, cursor, EVENT_BATCH, &[]).await?;
            let Some(last) = batch.last().map(|event| event.sequence) else {
                return Ok(());
            };
            for event in &batch {
                if !endpoint.subscribes_to(event.kind) {
                    continue;
                }
                let attempt = attempts + 1;
                let mut delivery = self.attempt(&endpoint, event, attempt, false).await;
                sent += 1;
                if delivery.succeeded {
                    cursor = event.sequence;
                    attempts = 0;
                    let outcome = Outcome::Advanced { cursor };
                    if !self.settle(&endpoint, Some(&delivery), outcome).await? {
                        return Ok(());
                    }
                    continue;
                }
                let settled = match self.settings.retry_schedule.wait_after(attempt as u32) {
                    Some(wait) => {
                        let next = crate::db::now()
                            + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(12));
                        delivery.next_attempt_at = Some(next);
                        // The events skipped up to here are done with.
                        let outcome = Outcome::Failed {
                            cursor: event.sequence - 1,
                            attempts: attempt,
                            next_attempt_at: next,
                        };
                        self.settle(&endpoint, Some(&delivery), outcome).await?
                    }
                    None => {
                        let disabled = disabled_event(&endpoint, event, attempt);
                        let outcome = Outcome::Exhausted {
                            cursor: event.sequence - 1,
                            attempts: attempt,
                            event: &disabled,
                        };
                        self.settle(&endpoint, Some(&delivery), outcome).await?;
                        tracing::warn!(
                            endpoint = %endpoint.id,
                            event = %event.id,
                            attempts = attempt,
                            "webhook endpoint disabled: every attempt of an event failed"
                        );
                        false
                    }
                };
                if settled {
                    tracing::debug!(endpoint = %endpoint.id, event = %event.id, "webhook delivery failed; retrying later");
                }
                return Ok(());
            }
            cursor = last;
            if !self
                .settle(&endpoint, None, Outcome::Advanced { cursor })
                .await?
            {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn settle(
        &self,
        endpoint: &Endpoint,
        delivery: Option<&Delivery>,
        outcome: Outcome<'_>,
    ) -> Result<bool, ApiError> {
        webhooks::settle(
            &self.db,
            &endpoint.id,
            &self.owner,
            delivery,
            outcome,
            self.lease_until(),
        )
        .await
    }

    /// One attempt to deliver `event` to `endpoint`, as recorded.
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        event: &StoredEvent,
        attempt: i32,
        redelivery: bool,
    ) -> Delivery {
        let _slot = self.slots.acquire().await;
        let started = Instant::now();
        let attempted_at = crate::db::now();
        let result = self.send(endpoint, event).await;
        let latency_ms = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
        let (response_status, response_body, error) = match result {
            Ok((status, body)) => (Some(i32::from(status)), Some(body), None),
            Err(error) => (None, None, Some(error)),
        };
        let succeeded = response_status.is_some_and(|s| (200..300).contains(&s));
        Delivery {
            id: WebhookDeliveryId::new(),
            endpoint_id: endpoint.id,
            event_id: event.id.clone(),
            event_sequence: event.sequence,
            event_type: event.kind,
            attempt,
            redelivery,
            succeeded,
            response_status,
            latency_ms,
            response_body,
            error,
            next_attempt_at: None,
            attempted_at,
        }
    }

    /// Sends `event` signed with the endpoint's live secrets; the status and the first 1 KiB
    /// of the response, or why there is none.
    async fn send(
        &self,
        endpoint: &Endpoint,
        event: &StoredEvent,
    ) -> Result<(u16, String), String> {
        let url = ssrf::check_url(&endpoint.url, self.settings.allow_private_urls)?;
        let secrets = self.secrets_of(endpoint)?;
        let body = events::body(event);
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signing::signature_header(
            secrets.iter().map(String::as_str),
            &event.id,
            timestamp,
            &body,
        );
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let mut kept = Vec::new();
        while kept.len() < RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        kept.truncate(RESPONSE_BYTES);
        Ok((status, String::from_utf8_lossy(&kept).into_owned()))
    }

    /// The endpoint's secrets that sign now: the current one, and the previous one within its
    /// 24 hours.
    fn secrets_of(&self, endpoint: &Endpoint) -> Result<Vec<String>, String> {
        let open = |sealed: &str| {
            self.secrets
                .open_webhook_secret(&endpoint.id, sealed)
                .map_err(|reason| {
                    tracing::error!(endpoint = %endpoint.id, %reason, "a webhook secret does not open");
                    "the signing secret does not open (see the server log)".to_owned()
                })
        };
        let mut secrets = vec![open(&endpoint.secret)?];
        let previous_live = endpoint
            .previous_secret_expires_at
            .is_some_and(|until| until > crate::db::now());
        if let (Some(previous), true) = (&endpoint.previous_secret, previous_live) {
            secrets.push(open(previous)?);
        }
        Ok(secrets)
    }
}

/// Why a request got no response, in a line (never the URL's query, which may hold a token).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        format!("could not connect: {}", source_chain(&error))
    } else {
        format!("request failed: {}", source_chain(&error))
    }
}

fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `webhook_endpoint.disabled` event of an endpoint whose schedule ran out at `event`.
fn disabled_event(
    endpoint: &Endpoint,
    event: &StoredEvent,
    attempts: i32,
) -> stored_events::NewEvent {
    let data = json!({
        "object": {"id": endpoint.id, "url": endpoint.url, "disabled": true},
        "reason": "retries_exhausted",
        "failed_event": {"id": event.id, "sequence": event.sequence, "type": event.kind.as_str()},
        "attempts": attempts,
    });
    Origin::system().event(
        endpoint.org_id,
        EventType::WebhookEndpointDisabled,
        None,
        &data,
    )
}
