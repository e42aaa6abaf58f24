//! What the webhook tests share: a real HTTP receiver (a poem server on `127.0.0.1:0`) that
//! records every delivery and answers as its test tells it; the dispatcher started beside a
//! test app; events appended as the service appends them; and a signature check written here
//! from the Standard Webhooks specification, independent of the server's own signing code.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use poem::{
    EndpointExt, Request, Response, Route, handler, http::StatusCode, listener::TcpListener,
    web::Data,
};
use sha2::Sha256;
use users_api::{
    db::{Db, events},
    domain::{Actor, EventType, OrgId},
    webhooks::{self, RetrySchedule, WebhookSettings, dispatcher::DispatcherHandle},
};
use users_api_client::types::{WebhookDelivery, WebhookEndpointCreate, WebhookEndpointWithSecret};

use crate::helpers::{TestApp, TestOptions, spawn_app_with};

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// How the receiver answers its `n`-th request (0-based).
pub type Answer = Arc<dyn Fn(usize, &Received) -> Reply + Send + Sync>;

pub enum Reply {
    Status(u16),
    /// Answers 200, after `Duration`.
    Slow(Duration),
}

struct Inbox {
    received: Mutex<Vec<Received>>,
    answer: Mutex<Answer>,
}

/// A webhook receiver.
pub struct Receiver {
    pub url: String,
    inbox: Arc<Inbox>,
}

#[handler]
async fn receive(req: &Request, body: String, inbox: Data<&Arc<Inbox>>) -> Response {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body,
    };
    let n = {
        let mut all = inbox.received.lock().unwrap();
        all.push(received.clone());
        all.len() - 1
    };
    let answer = inbox.answer.lock().unwrap().clone();
    match answer(n, &received) {
        Reply::Status(status) => Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .body(format!("answered {status} {}", "x".repeat(2000))),
        Reply::Slow(wait) => {
            tokio::time::sleep(wait).await;
            Response::builder().status(StatusCode::OK).body("late")
        }
    }
}

impl Receiver {
    /// A receiver that answers 204 to everything.
    pub async fn start() -> Self {
        Self::answering(Arc::new(|_, _| Reply::Status(204))).await
    }

    pub async fn answering(answer: Answer) -> Self {
        let inbox = Arc::new(Inbox {
            received: Mutex::new(Vec::new()),
            answer: Mutex::new(answer),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let app = Route::new().at("/hook", receive).data(inbox.clone());
        let server = poem::Server::new(TcpListener::bind(address.to_string()));
        tokio::spawn(async move { server.run(app).await });
        // Until it listens.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self {
            url: format!("http://{address}/hook"),
            inbox,
        }
    }

    pub fn answer_with(&self, answer: Answer) {
        *self.inbox.answer.lock().unwrap() = answer;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `n` requests have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..600 {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} deliveries expected, got {:?}", self.received());
    }
}

/// A test app whose webhook URLs may be private (the receiver is on loopback).
pub async fn app() -> TestApp {
    spawn_app_with(TestOptions {
        allow_private_webhook_urls: true,
        ..TestOptions::default()
    })
    .await
}

/// The dispatcher on `db`, with `schedule` and a 1 s timeout, polling every 100 ms.
pub fn dispatcher(app: &TestApp, db: &Db, schedule: &str) -> DispatcherHandle {
    webhooks::spawn(
        db.clone(),
        app.state.secrets.clone(),
        WebhookSettings {
            allow_private_urls: true,
            timeout: Duration::from_secs(1),
            retry_schedule: RetrySchedule::parse(schedule).unwrap(),
            max_concurrent: 8,
            poll_interval: Duration::from_millis(100),
        },
    )
}

/// Creates an endpoint for `url` through the generated client.
pub async fn endpoint(app: &TestApp, url: &str, types: &[&str]) -> WebhookEndpointWithSecret {
    app.client()
        .create_webhook_endpoint()
        .body(WebhookEndpointCreate {
            url: url.into(),
            event_types: types.iter().map(|t| t.parse().unwrap()).collect(),
            description: Some("test".into()),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
}

/// Appends an event of `kind` to the app's organization, as a change would.
pub async fn append(app: &TestApp, kind: EventType, n: u32) -> events::StoredEvent {
    let org: OrgId = app.admin.org_id;
    let event = events::NewEvent {
        org_id: org,
        kind,
        actor: Actor::System,
        request_id: Some(format!("req-{n}")),
        subject_id: None,
        data: serde_json::json!({"n": n}).to_string(),
    };
    let sequence = events::append(&app.state.db, &event).await.unwrap();
    events::list(&app.state.db, &org, sequence - 1, 1, &[])
        .await
        .unwrap()
        .remove(0)
}

/// Whether `received` carries a valid signature under `secret`, checked as the Standard
/// Webhooks specification says: `v1,` and the base64 HMAC-SHA256, keyed with the base64-decoded
/// part of `whsec_…`, of `{id}.{timestamp}.{body}`; any of the space-separated signatures.
pub fn verifies(secret: &str, received: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", received.id, received.timestamp, received.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    received.signature.split(' ').any(|s| s == expected)
}

/// The endpoint's delivery attempts, newest first.
pub async fn deliveries(app: &TestApp, endpoint_id: uuid::Uuid) -> Vec<WebhookDelivery> {
    app.client()
        .list_webhook_deliveries()
        .endpoint_id(endpoint_id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
}

/// Waits (up to 30 s) until the endpoint has at least `n` delivery attempts.
pub async fn wait_for_deliveries(
    app: &TestApp,
    endpoint_id: uuid::Uuid,
    n: usize,
) -> Vec<WebhookDelivery> {
    for _ in 0..600 {
        let found = deliveries(app, endpoint_id).await;
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} deliveries expected");
}
