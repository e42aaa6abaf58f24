//! `PATCH /v1/me` semantics through the generated client (PRODUCT §4): `{}` is a no-op, the
//! version moves only on a real change, `If-Match`, unknown, immutable and not-writable fields,
//! metadata merged as JSON Merge Patch, and concurrent patches that never lose an update.

use serde_json::{Value, json};
use users_api_client::{MePatch, Patch};

use crate::{
    envelope::call,
    helpers::spawn_app,
    me::{failure, get_me, patch, patch_raw, success},
};

#[tokio::test]
async fn an_empty_patch_is_a_no_op_that_returns_the_current_state() {
    let app = spawn_app().await;
    let (etag, before) = get_me(&app).await;
    let (status, body) = patch_raw(&app, json!({})).await;
    assert_eq!(status, 200);
    let updated_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(body["data"]["updated_at"].clone()).unwrap();
    assert_eq!(updated_at, before.updated_at);
    let (etag_after, after) = get_me(&app).await;
    assert_eq!((etag_after, after.updated_at), (etag, before.updated_at));
}

#[tokio::test]
async fn updated_at_and_the_etag_move_only_when_something_really_changes() {
    let app = spawn_app().await;
    let set = || MePatch {
        timezone: Patch::Value("Europe/Paris".into()),
        ..Default::default()
    };
    let (etag1, me1) = success(patch(&app, set()).await);
    let (etag2, me2) = success(patch(&app, set()).await);
    assert_eq!((etag1.clone(), me1.updated_at), (etag2, me2.updated_at));
    let (etag3, me3) = success(
        patch(
            &app,
            MePatch {
                timezone: Patch::Value("Europe/Berlin".into()),
                ..Default::default()
            },
        )
        .await,
    );
    assert_ne!(etag3, etag1);
    assert!(me3.updated_at > me1.updated_at);
}

#[tokio::test]
async fn a_stale_if_match_is_a_412_and_changes_nothing_while_a_current_one_succeeds() {
    let app = spawn_app().await;
    let (etag, _) = get_me(&app).await;
    let client = app.client();
    let body = |zone: &str| MePatch {
        timezone: Patch::Value(zone.into()),
        ..Default::default()
    };
    let (new_etag, _) = success(
        client
            .patch_me()
            .if_match(&etag)
            .body(body("Asia/Tokyo"))
            .send()
            .await,
    );
    let (status, error) = failure(
        client
            .patch_me()
            .if_match(&etag)
            .body(body("Europe/Rome"))
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error.code.as_str()),
        (412, "PRECONDITION_FAILED")
    );
    assert_eq!(get_me(&app).await.1.timezone.as_deref(), Some("Asia/Tokyo"));
    success(
        client
            .patch_me()
            .if_match(&new_etag)
            .body(body("Europe/Rome"))
            .send()
            .await,
    );
    success(
        client
            .patch_me()
            .if_match("*")
            .body(body("UTC"))
            .send()
            .await,
    );
    assert_eq!(get_me(&app).await.1.timezone.as_deref(), Some("UTC"));
}

#[tokio::test]
async fn unknown_fields_are_a_400_naming_them() {
    let app = spawn_app().await;
    let (status, body) = patch_raw(
        &app,
        json!({"timezone": "UTC", "favourite_colour": "teal", "shoe": 9}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
    assert!(
        body["error"]["details"]["favourite_colour"].is_string(),
        "{body}"
    );
    assert!(body["error"]["details"]["shoe"].is_string(), "{body}");
    assert_eq!(get_me(&app).await.1.timezone, None, "nothing was written");
}

#[tokio::test]
async fn id_org_id_and_created_at_are_a_400_immutable_field() {
    let app = spawn_app().await;
    for field in ["id", "org_id", "created_at"] {
        let (status, body) = patch_raw(&app, json!({ field: "x", "timezone": "UTC" })).await;
        assert_eq!(status, 400, "{field}");
        assert_eq!(body["error"]["code"], "IMMUTABLE_FIELD", "{field}");
        assert!(body["error"]["details"][field].is_string(), "{body}");
    }
    assert_eq!(get_me(&app).await.1.timezone, None);
}

#[tokio::test]
async fn fields_the_user_may_not_write_are_a_403_naming_them() {
    let app = spawn_app().await;
    for field in [
        "role",
        "status",
        "server_metadata",
        "client_read_only_metadata",
        "primary_email_verified",
    ] {
        let (status, body) = patch_raw(&app, json!({ field: null, "timezone": "UTC" })).await;
        assert_eq!(status, 403, "{field}");
        assert_eq!(body["error"]["code"], "FIELD_NOT_WRITABLE", "{field}");
        assert!(body["error"]["details"][field].is_string(), "{body}");
    }
    assert_eq!(get_me(&app).await.1.timezone, None);
}

#[tokio::test]
async fn client_metadata_merges_as_json_merge_patch() {
    let app = spawn_app().await;
    let (status, _) = patch_raw(
        &app,
        json!({"client_metadata": {"theme": "dark", "editor": {"tabs": 4, "font": "mono"}}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = patch_raw(
        &app,
        json!({"client_metadata": {"theme": null, "editor": {"tabs": 2}, "beta": true}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["client_metadata"],
        json!({"editor": {"tabs": 2, "font": "mono"}, "beta": true})
    );
    let (_, me) = get_me(&app).await;
    assert_eq!(
        Value::Object(me.client_metadata),
        json!({"editor": {"tabs": 2, "font": "mono"}, "beta": true})
    );
}

#[tokio::test]
async fn metadata_limits_apply_to_the_merged_result_and_null_metadata_is_refused() {
    let app = spawn_app().await;
    let ten: serde_json::Map<String, Value> =
        (0..10).map(|i| (format!("k{i}"), json!(i))).collect();
    assert_eq!(
        patch_raw(&app, json!({"client_metadata": ten})).await.0,
        200
    );
    let seven: serde_json::Map<String, Value> =
        (0..7).map(|i| (format!("n{i}"), json!(i))).collect();
    let (status, body) = patch_raw(&app, json!({"client_metadata": seven})).await;
    assert_eq!(status, 422, "17 keys after merging: {body}");
    assert_eq!(body["error"]["code"], "INVALID_METADATA");
    assert!(body["error"]["details"]["client_metadata"].is_string());

    let (status, body) = patch_raw(&app, json!({"client_metadata": {"bad key": 1}})).await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (422, Some("INVALID_METADATA"))
    );
    let (status, body) = patch_raw(&app, json!({"client_metadata": null})).await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (422, Some("INVALID_METADATA"))
    );
    assert_eq!(get_me(&app).await.1.client_metadata.len(), 10);
}

#[tokio::test]
async fn concurrent_patches_of_different_fields_never_lose_an_update() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let client = app.client();
        tasks.push(tokio::spawn(async move {
            let mut metadata = serde_json::Map::new();
            metadata.insert(format!("key{i}"), json!(i));
            client
                .patch_me()
                .body(MePatch {
                    client_metadata: Some(metadata),
                    ..Default::default()
                })
                .send()
                .await
        }));
    }
    let client = app.client();
    let zone = client
        .patch_me()
        .body(MePatch {
            timezone: Patch::Value("Africa/Lagos".into()),
            ..Default::default()
        })
        .send()
        .await;
    assert!(zone.is_ok());
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    let (_, me) = get_me(&app).await;
    assert_eq!(me.client_metadata.len(), 12, "{:?}", me.client_metadata);
    assert_eq!(me.timezone.as_deref(), Some("Africa/Lagos"));
}

/// A body that breaks the schema is refused for what it is (400, 422) even when `If-Match` is
/// malformed too: the 412 comes only for a valid body, on both surfaces.
#[tokio::test]
async fn a_malformed_if_match_is_a_412_only_once_the_body_is_valid() {
    let app = spawn_app().await;
    let admin_url = format!("/v1/users/{}", app.admin.user_id);
    for url in ["/v1/me", admin_url.as_str()] {
        let send = |body: Value| {
            let request = app.http().patch(app.url(url)).header("If-Match", "");
            call(request.bearer_auth(&app.admin.session_token).json(&body))
        };
        let (status, _, body) = send(json!({"primary_email": ""})).await;
        assert_eq!(status, 422, "{url}: {body}");
        let (status, _, body) = send(json!({"display_name": 5})).await;
        assert_eq!(status, 400, "{url}: {body}");
        let (status, _, body) = send(json!({"timezone": "UTC"})).await;
        assert_eq!(status, 412, "{url}: {body}");
        assert_eq!(body["error"]["code"], "PRECONDITION_FAILED");
    }
}
