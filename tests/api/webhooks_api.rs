//! `/v1/webhook-endpoints` as a small CRUD: the secret shown once, event types, scopes,
//! tenant isolation, pagination; and the SSRF rules at creation (issue 16).

use users_api_client::{
    Patch, WebhookEndpointPatch,
    types::{Role, WebhookEndpointCreate},
};

use crate::{
    fixtures::{code, person},
    helpers::{TestApp, spawn_app},
    webhooks_receiver::{app, endpoint},
};

fn create(url: &str) -> WebhookEndpointCreate {
    WebhookEndpointCreate {
        url: url.into(),
        event_types: Vec::new(),
        description: None,
    }
}

#[tokio::test]
async fn an_endpoint_is_created_read_changed_listed_and_deleted() {
    let app = app().await;
    let created = endpoint(&app, "http://127.0.0.1:9/hook", &["user.updated"]).await;
    assert!(created.secret.starts_with("whsec_"), "{}", created.secret);
    assert_eq!(created.event_types.len(), 1);
    let client = app.client();
    let fetched = client
        .get_webhook_endpoint()
        .endpoint_id(created.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(fetched.url, "http://127.0.0.1:9/hook");
    assert!(
        !format!("{fetched:?}").contains(&created.secret),
        "never shown again"
    );

    let patched = client
        .patch_webhook_endpoint()
        .endpoint_id(created.id)
        .body(WebhookEndpointPatch {
            event_types: Some(Vec::new()),
            description: Patch::Null,
            disabled: Some(true),
            url: Some("http://127.0.0.1:10/hook".into()),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert!(patched.disabled);
    assert!(patched.event_types.is_empty(), "every default type");
    assert_eq!(patched.description, None);
    assert_eq!(patched.url, "http://127.0.0.1:10/hook");

    endpoint(&app, "http://127.0.0.1:11/hook", &[]).await;
    let first = client
        .list_webhook_endpoints()
        .limit(1)
        .send()
        .await
        .unwrap();
    let first = first.into_inner();
    assert_eq!(first.data.len(), 1);
    let cursor = first.meta.next_cursor.clone().expect("a second page");
    let second = client
        .list_webhook_endpoints()
        .cursor(cursor)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.data.len(), 1);
    assert_ne!(first.data[0].id, second.data[0].id);

    client
        .delete_webhook_endpoint()
        .endpoint_id(created.id)
        .send()
        .await
        .unwrap();
    let again = client
        .delete_webhook_endpoint()
        .endpoint_id(created.id)
        .send()
        .await;
    assert_eq!(code(again), (404, "NOT_FOUND".into()));
}

#[tokio::test]
async fn another_organizations_endpoint_is_404_and_members_may_not_manage_endpoints() {
    let app = app().await;
    let created = endpoint(&app, "http://127.0.0.1:9/hook", &[]).await;
    let other = app.create_org("Other", "admin@other.test").await;
    let outsider = app.client_with(&other.session_token);
    let reply = outsider
        .get_webhook_endpoint()
        .endpoint_id(created.id)
        .send()
        .await;
    assert_eq!(code(reply), (404, "NOT_FOUND".into()));
    let reply = outsider
        .rotate_webhook_secret()
        .endpoint_id(created.id)
        .send()
        .await;
    assert_eq!(code(reply), (404, "NOT_FOUND".into()));
    let listed = outsider.list_webhook_endpoints().send().await.unwrap();
    assert!(listed.into_inner().data.is_empty());

    let (_, member) = person(&app, "member@acme.test", Role::Member).await;
    let reply = member.list_webhook_endpoints().send().await;
    assert_eq!(code(reply), (403, "INSUFFICIENT_SCOPE".into()));
}

#[tokio::test]
async fn an_unknown_event_type_is_422() {
    let app = app().await;
    let reply = app
        .http()
        .post(app.url("/v1/webhook-endpoints"))
        .bearer_auth(&app.admin.session_token)
        .json(&serde_json::json!({"url": "http://127.0.0.1:9/x", "event_types": ["user.exploded"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 422);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["errors"][0]["field"], "event_types");
}

async fn refused(app: &TestApp, url: &str) -> (u16, String) {
    code(
        app.client()
            .create_webhook_endpoint()
            .body(create(url))
            .send()
            .await,
    )
}

#[tokio::test]
async fn urls_must_be_https_and_public_unless_private_urls_are_allowed() {
    let app = spawn_app().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://localhost/hook",
        "http://93.184.215.14/hook",
        "ftp://93.184.215.14/hook",
        "not a url",
    ] {
        assert_eq!(
            refused(&app, url).await,
            (422, "INVALID_WEBHOOK_URL".into()),
            "{url}"
        );
    }
    let listed = app.client().list_webhook_endpoints().send().await.unwrap();
    assert!(listed.into_inner().data.is_empty(), "nothing was created");
    // A public address literal needs no DNS.
    let created = app
        .client()
        .create_webhook_endpoint()
        .body(create("https://93.184.215.14/hook"))
        .send()
        .await;
    assert_eq!(created.unwrap().status(), 201);

    let private = crate::webhooks_receiver::app().await;
    for url in ["http://127.0.0.1:9/hook", "https://169.254.169.254/"] {
        let created = private
            .client()
            .create_webhook_endpoint()
            .body(create(url))
            .send()
            .await;
        assert_eq!(created.unwrap().status(), 201, "{url}");
    }
}
