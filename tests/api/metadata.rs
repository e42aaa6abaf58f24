//! The three metadata tiers (PRODUCT §3): `client_metadata` (user-writable),
//! `client_read_only_metadata` (user-readable, admin-writable) and `server_metadata`
//! (admin-only, never in `/v1/me`).

use serde_json::json;
use users_api_client::{MePatch, UserPatch, types::Role};

use crate::{
    envelope::call,
    fixtures::{failure, key_client, person, session_token},
    helpers::spawn_app,
};

fn map(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn server_metadata_shows_on_the_admin_surface_and_never_in_me() {
    let app = spawn_app().await;
    let (user, as_user) = person(&app, "ada@acme.test", Role::Member).await;
    let admin_view = key_client(&app)
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            server_metadata: Some(map(json!({"stripe_customer": "cus_123"}))),
            client_read_only_metadata: Some(map(json!({"plan": "pro"}))),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(admin_view.server_metadata["stripe_customer"], "cus_123");

    let me = as_user.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(me.client_read_only_metadata["plan"], "pro");
    let token = session_token(&app, &user).await;
    let (_, _, body) = call(app.http().get(app.url("/v1/me")).bearer_auth(&token)).await;
    assert!(body["data"].get("server_metadata").is_none(), "{body}");
    assert!(!body.to_string().contains("cus_123"), "{body}");
}

#[tokio::test]
async fn writing_client_read_only_or_server_metadata_through_me_is_403_field_not_writable() {
    let app = spawn_app().await;
    let (user, _) = person(&app, "ada@acme.test", Role::Member).await;
    let token = session_token(&app, &user).await;
    for field in ["client_read_only_metadata", "server_metadata"] {
        let (status, _, body) = call(
            app.http()
                .patch(app.url("/v1/me"))
                .bearer_auth(&token)
                .json(&json!({ field: {"plan": "free"} })),
        )
        .await;
        assert_eq!(status, 403, "{field}: {body}");
        assert_eq!(body["error"]["code"], "FIELD_NOT_WRITABLE");
        assert!(body["error"]["details"].get(field).is_some(), "{body}");
    }
}

#[tokio::test]
async fn client_metadata_written_by_the_user_and_the_admin_merge_as_json_merge_patch() {
    let app = spawn_app().await;
    let (user, as_user) = person(&app, "ada@acme.test", Role::Member).await;
    as_user
        .patch_me()
        .body(MePatch {
            client_metadata: Some(map(json!({"ui": {"theme": "dark", "density": 2}}))),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let merged = key_client(&app)
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            client_metadata: Some(map(json!({"ui": {"density": null}, "beta": true}))),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(
        serde_json::to_value(&merged.client_metadata).unwrap(),
        json!({"ui": {"theme": "dark"}, "beta": true})
    );
    let (status, error) = failure(
        key_client(&app)
            .patch_user()
            .user_id(user.id)
            .body(UserPatch {
                server_metadata: Some(map(json!({"bad key!": 1}))),
                ..Default::default()
            })
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error.code.as_str()),
        (422, "INVALID_METADATA")
    );
}
