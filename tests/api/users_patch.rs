//! `GET`/`PATCH`/`DELETE /v1/users/{user_id}`: the admin PATCH over the larger writable set with
//! the semantics of PRODUCT §4, verification resets, suspension and deletion.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;
use users_api_client::{
    Patch, UserPatch,
    types::{Role, SettableStatus, UserStatus},
};
use uuid::Uuid;

use crate::{
    envelope::call,
    fixtures::{code, create_user, failure, key_client, person, session_token},
    helpers::spawn_app,
};

#[tokio::test]
async fn patch_user_writes_role_status_flags_and_every_metadata_tier() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let client = key_client(&app);
    let map = |v: serde_json::Value| v.as_object().unwrap().clone().into_iter().collect();
    let patched = client
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            role: Some(Role::Viewer),
            primary_email_verified: Some(true),
            primary_email_auth_enabled: Some(false),
            phone_number: Patch::Value("+14155550123".into()),
            phone_number_verified: Some(true),
            display_name: Patch::Value("Ada".into()),
            client_read_only_metadata: Some(map(json!({"tier": "gold"}))),
            server_metadata: Some(map(json!({"crm": {"id": 7, "tags": ["a"]}}))),
            client_metadata: Some(map(json!({"theme": "dark"}))),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let etag = patched.headers()["etag"].to_str().unwrap().to_owned();
    let patched = patched.into_inner().data;
    assert_eq!(patched.role, Role::Viewer);
    assert!(patched.primary_email_verified);
    assert!(!patched.primary_email_auth_enabled);
    assert!(patched.phone_number_verified);
    assert_eq!(patched.client_read_only_metadata["tier"], "gold");
    assert_eq!(patched.server_metadata["crm"]["id"], 7);
    assert_eq!(patched.client_metadata["theme"], "dark");
    assert!(patched.updated_at > user.updated_at);
    assert_ne!(etag, "\"1\"");

    // Merge patch: `null` deletes a key, nested objects merge, other tiers are untouched.
    let merged = client
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            server_metadata: Some(map(json!({"crm": {"tags": null, "owner": "bob"}}))),
            status: Some(SettableStatus::Suspended),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(
        serde_json::to_value(&merged.server_metadata).unwrap(),
        json!({"crm": {"id": 7, "owner": "bob"}})
    );
    assert_eq!(merged.client_read_only_metadata["tier"], "gold");
    assert_eq!(merged.status, UserStatus::Suspended);
}

#[tokio::test]
async fn a_new_address_or_number_resets_its_verification_unless_the_admin_sets_it() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let client = key_client(&app);
    let patch = |body: UserPatch| client.patch_user().user_id(user.id).body(body).send();
    patch(UserPatch {
        primary_email_verified: Some(true),
        ..Default::default()
    })
    .await
    .unwrap();
    let changed = patch(UserPatch {
        primary_email: Patch::Value("ada@newco.test".into()),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .data;
    assert_eq!(changed.primary_email.as_deref(), Some("ada@newco.test"));
    assert!(!changed.primary_email_verified);
    let both = patch(UserPatch {
        primary_email: Patch::Value("ada@third.test".into()),
        primary_email_verified: Some(true),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .data;
    assert!(both.primary_email_verified);
}

#[tokio::test]
async fn patch_user_to_an_address_of_another_user_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let client = key_client(&app);
    let (status, error) = failure(
        client
            .patch_user()
            .user_id(user.id)
            .body(UserPatch {
                primary_email: Patch::Value("Admin@Acme.test".into()),
                display_name: Patch::Value("Changed".into()),
                ..Default::default()
            })
            .send()
            .await,
    );
    assert_eq!(status, 409);
    assert_eq!(error.error.code, "EMAIL_TAKEN");
    let unchanged = client
        .get_user()
        .user_id(user.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(unchanged.display_name, None);
    assert_eq!(unchanged.primary_email.as_deref(), Some("ada@acme.test"));
}

#[tokio::test]
async fn patch_user_answers_400_for_immutable_and_unknown_fields_and_403_for_read_only_facts() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let url = app.url(&format!("/v1/users/{}", user.id));
    for (body, status, expected) in [
        (json!({"id": Uuid::now_v7()}), 400, "IMMUTABLE_FIELD"),
        (json!({"org_id": Uuid::now_v7()}), 400, "IMMUTABLE_FIELD"),
        (
            json!({"created_at": "2020-01-01T00:00:00Z"}),
            400,
            "IMMUTABLE_FIELD",
        ),
        (json!({"favourite_colour": "red"}), 400, "MALFORMED_REQUEST"),
        (json!({"role": "owner"}), 400, "MALFORMED_REQUEST"),
        (
            json!({"primary_email_verified": "yes"}),
            400,
            "MALFORMED_REQUEST",
        ),
        (json!({"has_password": true}), 403, "FIELD_NOT_WRITABLE"),
        (json!({"role": null}), 422, "VALIDATION_FAILED"),
        (json!({"server_metadata": null}), 422, "INVALID_METADATA"),
    ] {
        let (got, _, reply) = call(
            app.http()
                .request(Method::PATCH, &url)
                .bearer_auth(&app.admin.api_key)
                .json(&body),
        )
        .await;
        assert_eq!(got, status, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], expected, "{body}");
    }
}

#[tokio::test]
async fn each_metadata_tier_enforces_the_limits_on_the_merged_result() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let client = key_client(&app);
    let keys = |n: usize, prefix: &str| {
        (0..n)
            .map(|i| (format!("{prefix}{i}"), json!(i)))
            .collect::<serde_json::Map<_, _>>()
    };
    client
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            server_metadata: Some(keys(10, "a")),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    // 10 stored + 7 new = 17 top-level keys: too many, in either admin tier.
    let (status, error) = failure(
        client
            .patch_user()
            .user_id(user.id)
            .body(UserPatch {
                server_metadata: Some(keys(7, "b")),
                client_read_only_metadata: Some(keys(17, "c")),
                ..Default::default()
            })
            .send()
            .await,
    );
    assert_eq!(status, 422);
    assert_eq!(error.error.code, "VALIDATION_FAILED");
    let fields: BTreeSet<&str> = error
        .error
        .errors
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["client_read_only_metadata", "server_metadata"])
    );
    assert!(
        error
            .error
            .errors
            .iter()
            .all(|e| e.code == "INVALID_METADATA")
    );
}

#[tokio::test]
async fn an_empty_patch_changes_nothing_and_a_stale_if_match_is_412() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let client = key_client(&app);
    let same = client
        .patch_user()
        .user_id(user.id)
        .body(UserPatch::default())
        .send()
        .await
        .unwrap();
    assert_eq!(same.headers()["etag"], "\"1\"");
    assert_eq!(same.into_inner().data.updated_at, user.updated_at);

    let (status, _, body) = call(
        app.http()
            .request(Method::PATCH, app.url(&format!("/v1/users/{}", user.id)))
            .bearer_auth(&app.admin.api_key)
            .header("If-Match", "\"41\"")
            .json(&json!({"display_name": "Late"})),
    )
    .await;
    assert_eq!(status, 412);
    assert_eq!(body["error"]["code"], "PRECONDITION_FAILED");
}

#[tokio::test]
async fn suspending_a_user_refuses_their_session_from_the_next_request_on() {
    let app = spawn_app().await;
    let (user, as_user) = person(&app, "ada@acme.test", Role::Member).await;
    as_user.get_me().send().await.unwrap();
    key_client(&app)
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            status: Some(SettableStatus::Suspended),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(code(as_user.get_me().send().await).0, 401);
}

#[tokio::test]
async fn deleting_a_user_revokes_their_sessions_frees_the_address_and_a_second_delete_is_404() {
    let app = spawn_app().await;
    let (user, as_user) = person(&app, "ada@acme.test", Role::Member).await;
    let token = session_token(&app, &user).await;
    let client = key_client(&app);
    let deleted = client.delete_user().user_id(user.id).send().await.unwrap();
    assert_eq!(deleted.status().as_u16(), 204);

    assert_eq!(code(as_user.get_me().send().await).0, 401);
    assert_eq!(code(app.client_with(&token).get_me().send().await).0, 401);
    let (status, code_) = code(client.get_user().user_id(user.id).send().await);
    assert_eq!((status, code_.as_str()), (404, "NOT_FOUND"));
    let (status, _) = code(client.delete_user().user_id(user.id).send().await);
    assert_eq!(status, 404);

    let again = create_user(&app, "ADA@acme.test", Role::Member).await;
    assert_ne!(again.id, user.id);
    let listed = client
        .list_users()
        .q("ada")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.data.iter().map(|u| u.id).collect::<Vec<_>>(),
        [again.id]
    );
}

#[tokio::test]
async fn an_unknown_user_id_is_404_and_a_malformed_one_is_400() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let (status, code_) = code(client.get_user().user_id(Uuid::now_v7()).send().await);
    assert_eq!((status, code_.as_str()), (404, "NOT_FOUND"));
    let (status, _, body) = call(
        app.http()
            .get(app.url("/v1/users/not-a-uuid"))
            .bearer_auth(&app.admin.api_key),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_user_changing_their_address_through_me_loses_its_verification_and_cannot_take_anothers()
{
    let app = spawn_app().await;
    let (user, as_user) = person(&app, "ada@acme.test", Role::Member).await;
    key_client(&app)
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            primary_email_verified: Some(true),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let me = as_user
        .patch_me()
        .body(users_api_client::MePatch {
            primary_email: Patch::Value("ada@home.test".into()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(me.primary_email.as_deref(), Some("ada@home.test"));
    assert!(!me.primary_email_verified);
    let (status, code_) = code(
        as_user
            .patch_me()
            .body(users_api_client::MePatch {
                primary_email: Patch::Value("admin@ACME.test".into()),
                ..Default::default()
            })
            .send()
            .await,
    );
    assert_eq!((status, code_.as_str()), (409, "EMAIL_TAKEN"));
}

#[tokio::test]
async fn a_stored_row_the_server_cannot_read_is_a_500_that_discloses_nothing() {
    use diesel_async::RunQueryDsl;
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let corrupt = diesel::sql_query(format!(
        "UPDATE users SET server_metadata = 'secret-internal-state' WHERE id = '{}'",
        user.id
    ));
    match app.state.db.pools() {
        users_api::db::Pools::Postgres(pool) => {
            corrupt
                .execute(&mut **pool.get().await.unwrap())
                .await
                .unwrap();
        }
        users_api::db::Pools::Sqlite { write, .. } => {
            corrupt
                .execute(&mut **write.get().await.unwrap())
                .await
                .unwrap();
        }
    }
    let client = key_client(&app);
    let replies = [
        code(client.get_user().user_id(user.id).send().await),
        code(client.list_users().send().await),
        code(
            client
                .patch_user()
                .user_id(user.id)
                .body(UserPatch::default())
                .send()
                .await,
        ),
    ];
    for (status, code_) in replies {
        assert_eq!((status, code_.as_str()), (500, "INTERNAL"));
    }
    let (_, _, body) = crate::envelope::call(
        app.http()
            .get(app.url(&format!("/v1/users/{}", user.id)))
            .bearer_auth(&app.admin.api_key),
    )
    .await;
    assert_eq!(body["error"]["message"], "internal error");
    assert!(
        !body.to_string().contains("secret-internal-state"),
        "{body}"
    );
}
