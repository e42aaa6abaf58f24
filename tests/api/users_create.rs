//! `POST /v1/users` through the generated client: 201 with `Location`, validation, e-mail
//! uniqueness decided by the database (also under concurrency) and `Idempotency-Key`.

use std::collections::BTreeSet;

use serde_json::json;
use users_api_client::types::{Role, UserCreate, UserStatus};
use uuid::Uuid;

use crate::{
    envelope::call,
    fixtures::{code, failure, key_client, new_user},
    helpers::spawn_app,
};

#[tokio::test]
async fn create_user_returns_201_with_a_location_where_the_user_can_be_read() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let response = client
        .create_user()
        .body(UserCreate {
            display_name: Some("Grace".parse().unwrap()),
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
    assert_eq!(created.org_id, app.admin.org_id.into_uuid());
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
                first_name: Some("R2D2".parse().unwrap()),
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
    let retention = users_api::sweeper::Retention::default();
    let swept = users_api::sweeper::sweep(&app.state.db, &retention, tomorrow)
        .await
        .unwrap();
    assert_eq!(swept.idempotency_records, 1);
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
async fn a_malformed_idempotency_key_is_400_and_creates_nothing() {
    // The generated client refuses such keys itself (the spec states their pattern), so they
    // go over plain HTTP.
    let app = spawn_app().await;
    for key in ["has spaces", "", &"k".repeat(256)] {
        let (status, _, body) = call(
            app.http()
                .post(app.url("/v1/users"))
                .bearer_auth(&app.admin.api_key)
                .header("Idempotency-Key", key)
                .json(&json!({"primary_email": "ada@acme.test"})),
        )
        .await;
        assert_eq!(status.as_u16(), 400, "{key:?}: {body}");
        assert_eq!(body["error"]["code"], "MALFORMED_REQUEST", "{key:?}");
    }
    let listed = key_client(&app)
        .list_users()
        .email("ada@acme.test")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(listed.data.is_empty());
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
async fn deleting_a_user_forgets_the_stored_response_of_their_create() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let create = || {
        client
            .create_user()
            .idempotency_key("create-then-delete")
            .body(new_user("ada@acme.test"))
            .send()
    };
    let first = create().await.unwrap().into_inner().data;
    client.delete_user().user_id(first.id).send().await.unwrap();
    // Replaying would hand out a deleted user's data: the request runs anew instead.
    let second = create().await.unwrap().into_inner().data;
    assert_ne!(second.id, first.id);
    client.get_user().user_id(second.id).send().await.unwrap();
}

#[tokio::test]
async fn nul_characters_in_any_string_field_are_refused_never_a_500() {
    let app = spawn_app().await;
    for field in [
        "primary_email",
        "display_name",
        "first_name",
        "last_name",
        "bio",
        "profile_image_url",
        "locale",
        "timezone",
        "phone_number",
    ] {
        let value = match field {
            "primary_email" => "ada\u{0}@acme.test",
            "profile_image_url" => "https://example.com/a\u{0}.png",
            "phone_number" => "+1415555\u{0}0123",
            _ => "Ada\u{0}",
        };
        let (status, _, body) = call(
            app.http()
                .post(app.url("/v1/users"))
                .bearer_auth(&app.admin.api_key)
                .json(&json!({ field: value })),
        )
        .await;
        assert!(
            status.is_client_error() || status == 201,
            "{field}: {status} {body}"
        );
        if status == 201 {
            // Accepted only in a normalised form that no longer holds the NUL.
            assert!(!body.to_string().contains("\\u0000"), "{field}: {body}");
        }
    }
}

#[tokio::test]
async fn create_user_treats_null_as_a_field_left_out_as_the_spec_says() {
    let app = spawn_app().await;
    let (status, _, body) = call(
        app.http()
            .post(app.url("/v1/users"))
            .bearer_auth(&app.admin.api_key)
            .json(&json!({
                "primary_email": "nulls@acme.test",
                "display_name": null,
                "timezone": null,
                "phone_number": null,
                "bio": null,
            })),
    )
    .await;
    assert_eq!(status.as_u16(), 201, "{body}");
    let user = &body["data"];
    for field in ["display_name", "timezone", "phone_number", "bio"] {
        assert!(user[field].is_null(), "{field}: {user}");
    }
}
