//! `/v1/api-keys`: admin users only; the secret is shown once and only its hash is kept;
//! revoked keys answer 401 from the next request on.

use serde_json::json;
use users_api::auth::hash_secret;
use users_api_client::types::{ApiKeyCreate, Role, ScopeName};
use uuid::Uuid;

use crate::{
    envelope::call,
    fixtures::{code, failure, key_client, new_user, person},
    helpers::spawn_app,
};

fn read_users() -> ApiKeyCreate {
    ApiKeyCreate {
        name: "reporting".parse().unwrap(),
        scopes: vec![ScopeName::UsersRead],
        expires_at: None,
    }
}

#[tokio::test]
async fn an_admin_creates_a_key_whose_secret_works_with_exactly_its_scopes() {
    let app = spawn_app().await;
    let response = app
        .client()
        .create_api_key()
        .body(read_users())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let key = response.into_inner().data;
    assert!(key.secret.starts_with("uak_"), "{}", key.secret);
    assert_eq!(key.scopes, [ScopeName::UsersRead]);
    assert_eq!(key.name, "reporting");

    let now = chrono::Utc::now().naive_utc();
    let stored =
        users_api::db::api_keys::find_by_secret_hash(&app.state.db, &hash_secret(&key.secret), now)
            .await
            .unwrap()
            .expect("stored by its hash");
    assert_ne!(stored.secret_hash, key.secret);

    let as_key = app.client_with(&key.secret);
    as_key.list_users().send().await.unwrap();
    let (status, code_) = code(
        as_key
            .create_user()
            .body(new_user("a@acme.test"))
            .send()
            .await,
    );
    assert_eq!((status, code_.as_str()), (403, "INSUFFICIENT_SCOPE"));
}

#[tokio::test]
async fn listing_keys_shows_names_and_scopes_but_never_secrets() {
    let app = spawn_app().await;
    let created = app
        .client()
        .create_api_key()
        .body(read_users())
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let listed = app
        .client()
        .list_api_keys()
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.data.len(), 2, "the bootstrap key and the new one");
    assert!(listed.data.iter().any(|k| k.id == created.id));
    let (_, _, body) = call(
        app.http()
            .get(app.url("/v1/api-keys"))
            .bearer_auth(&app.admin.session_token),
    )
    .await;
    let text = body.to_string();
    assert!(!text.contains(&created.secret));
    assert!(!text.contains(&app.admin.api_key));
    assert!(
        !text.contains("\"secret\"") && !text.contains("hash"),
        "{text}"
    );
}

#[tokio::test]
async fn a_revoked_key_answers_401_from_the_next_request_on_and_revoking_again_is_404() {
    let app = spawn_app().await;
    let key = app
        .client()
        .create_api_key()
        .body(read_users())
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let as_key = app.client_with(&key.secret);
    as_key.list_users().send().await.unwrap();
    let revoked = app
        .client()
        .delete_api_key()
        .key_id(key.id)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 204);
    assert_eq!(code(as_key.list_users().send().await).0, 401);
    let (status, code_) = code(app.client().delete_api_key().key_id(key.id).send().await);
    assert_eq!((status, code_.as_str()), (404, "NOT_FOUND"));
    let listed = app
        .client()
        .list_api_keys()
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(listed.data.iter().all(|k| k.id != key.id));
    let (status, _) = code(
        app.client()
            .delete_api_key()
            .key_id(Uuid::now_v7())
            .send()
            .await,
    );
    assert_eq!(status, 404);
}

#[tokio::test]
async fn api_keys_and_non_admin_users_cannot_manage_api_keys() {
    let app = spawn_app().await;
    let (_, as_viewer) = person(&app, "viewer@acme.test", Role::Viewer).await;
    for client in [key_client(&app), as_viewer] {
        let (status, error) = failure(client.create_api_key().body(read_users()).send().await);
        assert_eq!((status, error.error.code.as_str()), (403, "FORBIDDEN"));
        assert_eq!(code(client.list_api_keys().send().await).0, 403);
        assert_eq!(
            code(client.delete_api_key().key_id(Uuid::now_v7()).send().await).0,
            403
        );
    }
}

#[tokio::test]
async fn a_key_needs_a_name_and_known_scopes() {
    let app = spawn_app().await;
    for (body, status, expected) in [
        (
            json!({"name": "x", "scopes": ["users:admin"]}),
            400,
            "MALFORMED_REQUEST",
        ),
        (json!({"name": "x"}), 400, "MALFORMED_REQUEST"),
        (json!({"scopes": ["users:read"]}), 400, "MALFORMED_REQUEST"),
        (json!({"name": "x", "scopes": []}), 422, "VALIDATION_FAILED"),
        (
            json!({"name": "  ", "scopes": ["users:read"]}),
            422,
            "INVALID_NAME",
        ),
        (
            json!({"name": "x", "scopes": ["users:read"], "secret": "mine"}),
            400,
            "IMMUTABLE_FIELD",
        ),
    ] {
        let (got, _, reply) = call(
            app.http()
                .post(app.url("/v1/api-keys"))
                .bearer_auth(&app.admin.session_token)
                .json(&body),
        )
        .await;
        assert_eq!(got, status, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], expected, "{body}");
    }
}
