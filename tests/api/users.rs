//! `/v1/users` through the generated client: listing with keyset pagination and filters,
//! creating (with `Idempotency-Key`), reading, the admin PATCH and deleting (PRODUCT §4, §5).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;
use users_api_client::{
    Patch, UserPatch,
    types::{Role, UserCreate, UserStatus},
};
use uuid::Uuid;

use crate::{
    envelope::call,
    fixtures::{code, create_user, failure, key_client, new_user, person, session_token},
    helpers::spawn_app,
};

#[tokio::test]
async fn list_users_pages_through_everyone_once_and_the_last_page_has_no_cursor() {
    let app = spawn_app().await;
    for i in 0..6 {
        create_user(&app, &format!("user{i}@acme.test"), Role::Member).await;
    }
    let client = key_client(&app);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = client
            .list_users()
            .limit(std::num::NonZeroU32::new(3).unwrap());
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.clone());
        }
        let page = request.send().await.unwrap().into_inner();
        pages += 1;
        assert_eq!(page.meta.limit, 3);
        assert!(page.data.len() <= 3);
        seen.extend(page.data.iter().map(|u| u.id));
        match page.meta.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // The admin plus six users: pages of 3, 3 and 1, in creation (id) order, no repeats.
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 7);
}

#[tokio::test]
async fn list_users_defaults_to_50_and_answers_without_a_cursor_on_a_single_page() {
    let app = spawn_app().await;
    let page = key_client(&app)
        .list_users()
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.meta.limit, 50);
    assert!(page.meta.next_cursor.is_none());
    assert_eq!(page.data.len(), 1);
    let (_, _, body) = call(
        app.http()
            .get(app.url("/v1/users"))
            .bearer_auth(&app.admin.api_key),
    )
    .await;
    assert!(
        body["meta"].get("next_cursor").is_none(),
        "next_cursor is absent, not null: {body}"
    );
}

#[tokio::test]
async fn list_users_answers_422_invalid_cursor_for_a_tampered_cursor() {
    let app = spawn_app().await;
    for i in 0..2 {
        create_user(&app, &format!("user{i}@acme.test"), Role::Member).await;
    }
    let client = key_client(&app);
    let page = client
        .list_users()
        .limit(std::num::NonZeroU32::new(1).unwrap())
        .send()
        .await
        .unwrap()
        .into_inner();
    let cursor = page.meta.next_cursor.unwrap();
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    for bad in [String::from_utf8(tampered).unwrap(), "garbage".into()] {
        let (status, error) = failure(client.list_users().cursor(bad).send().await);
        assert_eq!(status, 422);
        assert_eq!(error.error.code, "INVALID_CURSOR");
        assert!(error.error.details.contains_key("cursor"));
    }
}

#[tokio::test]
async fn list_users_refuses_a_limit_outside_1_to_100_with_400() {
    let app = spawn_app().await;
    for limit in ["0", "101", "ten"] {
        let (status, _, body) = call(
            app.http()
                .get(app.url(&format!("/v1/users?limit={limit}")))
                .bearer_auth(&app.admin.api_key),
        )
        .await;
        assert_eq!(status, 400, "{limit}: {body}");
        assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
    }
}

#[tokio::test]
async fn list_users_filters_by_exact_email_case_insensitively_and_by_name_or_email_prefix() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let ada = client
        .create_user()
        .body(UserCreate {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            ..new_user("Ada@Example.test")
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    create_user(&app, "adam_x@example.test", Role::Member).await;
    create_user(&app, "grace@example.test", Role::Member).await;

    let by_email = client
        .list_users()
        .email("ada@EXAMPLE.test")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_email.data.iter().map(|u| u.id).collect::<Vec<_>>(),
        [ada.id]
    );

    let ids = |q: &'static str| {
        let client = client.clone();
        async move {
            let page = client.list_users().q(q).send().await.unwrap().into_inner();
            let mut emails: Vec<String> = page
                .data
                .into_iter()
                .filter_map(|u| u.primary_email)
                .collect();
            emails.sort();
            emails
        }
    };
    assert_eq!(
        ids("ADA").await,
        ["Ada@Example.test", "adam_x@example.test"]
    );
    assert_eq!(ids("love").await, ["Ada@Example.test"]);
    // `_` is a literal, not LIKE's any-character wildcard.
    assert_eq!(ids("adam_").await, ["adam_x@example.test"]);
    assert!(ids("ada%").await.is_empty());
    assert!(ids("nobody").await.is_empty());
}

#[tokio::test]
async fn create_user_returns_201_with_a_location_where_the_user_can_be_read() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let response = client
        .create_user()
        .body(UserCreate {
            display_name: Some("Grace".into()),
            timezone: Some("europe/paris".into()),
            role: Some(Role::Viewer),
            server_metadata: json!({"plan": "pro"}).as_object().unwrap().clone(),
            ..new_user("grace@acme.test")
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = response.into_inner().data;
    assert_eq!(location, format!("/v1/users/{}", created.id));
    assert_eq!(created.org_id.to_string(), app.admin.org_id);
    assert_eq!(created.role, Role::Viewer);
    assert_eq!(created.status, UserStatus::Active);
    assert_eq!(created.timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(created.server_metadata["plan"], "pro");
    assert!(!created.primary_email_verified);

    let fetched = client
        .get_user()
        .user_id(created.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(fetched.primary_email.as_deref(), Some("grace@acme.test"));
    assert_eq!(fetched.display_name.as_deref(), Some("Grace"));
}

#[tokio::test]
async fn create_user_with_an_address_in_use_in_any_letter_case_is_409_email_taken() {
    let app = spawn_app().await;
    let (status, error) = failure(
        key_client(&app)
            .create_user()
            .body(new_user("ADMIN@acme.TEST"))
            .send()
            .await,
    );
    assert_eq!(status, 409);
    assert_eq!(error.error.code, "EMAIL_TAKEN");
    assert!(error.error.details.contains_key("primary_email"));
}

#[tokio::test]
async fn create_user_reports_every_invalid_field_at_once_and_creates_nothing() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let (status, error) = failure(
        client
            .create_user()
            .body(UserCreate {
                timezone: Some("Mars/Olympus".into()),
                first_name: Some("R2D2".into()),
                ..new_user("not-an-address")
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
        BTreeSet::from(["first_name", "primary_email", "timezone"])
    );
    let page = client.list_users().send().await.unwrap().into_inner();
    assert_eq!(page.data.len(), 1);
}

#[tokio::test]
async fn create_user_refuses_unknown_and_immutable_fields_and_non_string_values_with_400() {
    let app = spawn_app().await;
    for (body, expected) in [
        (
            json!({"primary_email": "a@acme.test", "nickname": "x"}),
            "MALFORMED_REQUEST",
        ),
        (json!({"id": Uuid::now_v7()}), "IMMUTABLE_FIELD"),
        (json!({"display_name": 5}), "MALFORMED_REQUEST"),
        (json!({"role": "owner"}), "MALFORMED_REQUEST"),
    ] {
        let (status, _, reply) = call(
            app.http()
                .post(app.url("/v1/users"))
                .bearer_auth(&app.admin.api_key)
                .json(&body),
        )
        .await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], expected, "{body}");
    }
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_replays_the_first_response_without_a_second_user() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let send = |email: &'static str| {
        client
            .create_user()
            .idempotency_key("create-ada-1")
            .body(new_user(email))
            .send()
    };
    let first = send("ada@acme.test").await.unwrap();
    assert_eq!(first.status().as_u16(), 201);
    let first_location = first.headers()["location"].clone();
    let first = first.into_inner().data;
    let again = send("ada@acme.test").await.unwrap();
    assert_eq!(again.status().as_u16(), 201);
    assert_eq!(again.headers()["location"], first_location);
    let again = again.into_inner().data;
    assert_eq!(again.id, first.id);
    assert_eq!(again.created_at, first.created_at);

    let page = client
        .list_users()
        .email("ada@acme.test")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.data.len(), 1);

    let (status, error) = failure(send("bob@acme.test").await);
    assert_eq!(status, 409);
    assert_eq!(error.error.code, "IDEMPOTENCY_CONFLICT");
}

#[tokio::test]
async fn an_idempotency_key_is_forgotten_after_24_hours() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let first = client
        .create_user()
        .idempotency_key("k-24h")
        .body(new_user("ada@acme.test"))
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let tomorrow = users_api::db::now() + chrono::Duration::hours(25);
    let purged = users_api::db::users::purge_idempotency_keys(&app.state.db, tomorrow)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    // The key is free again: the request runs anew (and meets the address it created).
    let (status, code) = code(
        client
            .create_user()
            .idempotency_key("k-24h")
            .body(new_user("ada@acme.test"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (409, "EMAIL_TAKEN"));
    let other = client
        .create_user()
        .idempotency_key("k-24h")
        .body(new_user("bob@acme.test"))
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_ne!(other.id, first.id);
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_400() {
    let app = spawn_app().await;
    let (status, code) = code(
        key_client(&app)
            .create_user()
            .idempotency_key("has spaces")
            .body(new_user("ada@acme.test"))
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (400, "MALFORMED_REQUEST"));
}

#[tokio::test]
async fn twenty_concurrent_creates_with_one_email_give_one_201_and_nineteen_409() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let attempts = (0..20).map(|i| {
        let client = client.clone();
        let email = if i % 2 == 0 {
            "race@acme.test"
        } else {
            "RACE@acme.test"
        };
        async move { client.create_user().body(new_user(email)).send().await }
    });
    let replies = futures_util::future::join_all(attempts).await;
    let mut created = 0;
    let mut taken = 0;
    for reply in replies {
        match reply {
            Ok(response) => {
                assert_eq!(response.status().as_u16(), 201);
                created += 1;
            }
            Err(users_api_client::Error::ErrorResponse(response)) => {
                assert_eq!(response.status().as_u16(), 409, "{:?}", response.error);
                assert_eq!(response.error.code, "EMAIL_TAKEN");
                taken += 1;
            }
            Err(other) => panic!("neither 201 nor 409: {other:?}"),
        }
    }
    assert_eq!((created, taken), (1, 19));
}

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
            status: Some(UserStatus::Suspended),
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
            status: Some(UserStatus::Suspended),
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
async fn concurrent_retries_with_one_idempotency_key_create_one_user_and_all_get_it() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let attempts = (0..8).map(|_| {
        let client = client.clone();
        async move {
            client
                .create_user()
                .idempotency_key("retry-storm")
                .body(new_user("storm@acme.test"))
                .send()
                .await
        }
    });
    let ids: BTreeSet<Uuid> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|reply| {
            reply
                .expect("every retry gets the 201")
                .into_inner()
                .data
                .id
        })
        .collect();
    assert_eq!(ids.len(), 1);
    let page = client
        .list_users()
        .email("storm@acme.test")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.data.len(), 1);
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
