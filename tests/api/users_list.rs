//! `GET /v1/users` through the generated client: keyset pagination with an opaque cursor,
//! `limit`, and the `email` and `q` filters (PRODUCT §5).

use std::collections::BTreeSet;

use users_api_client::{
    TryStreamExt, pages,
    types::{Role, UserCreate},
};

use crate::{
    envelope::call,
    fixtures::{create_user, failure, key_client, new_user},
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
        let mut request = client.list_users().limit(3);
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
        .limit(1)
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
            first_name: Some("Ada".parse().unwrap()),
            last_name: Some("Lovelace".parse().unwrap()),
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
    // Addresses come back canonical: the domain in lower-case ASCII, the local part as sent.
    assert_eq!(
        ids("ADA").await,
        ["Ada@example.test", "adam_x@example.test"]
    );
    assert_eq!(ids("love").await, ["Ada@example.test"]);
    // `_` is a literal, not LIKE's any-character wildcard.
    assert_eq!(ids("adam_").await, ["adam_x@example.test"]);
    assert!(ids("ada%").await.is_empty());
    assert!(ids("nobody").await.is_empty());
}

#[tokio::test]
async fn the_client_streams_every_user_across_pages_and_all_users_applies_the_prefix() {
    let app = spawn_app().await;
    for i in 0..6 {
        create_user(&app, &format!("streamed{i}@acme.test"), Role::Member).await;
    }
    let client = key_client(&app);
    let mut asked = 0;
    let every: Vec<_> = pages(|cursor| {
        asked += 1;
        let mut request = client.list_users().limit(2);
        if let Some(cursor) = cursor {
            request = request.cursor(cursor);
        }
        async move {
            let page = request.send().await?.into_inner();
            Ok((page.data, page.meta.next_cursor))
        }
    })
    .try_collect()
    .await
    .unwrap();
    // The admin plus six users, two per page: four pages, each user once.
    assert_eq!(every.len(), 7);
    assert_eq!(every.iter().map(|u| u.id).collect::<BTreeSet<_>>().len(), 7);
    assert_eq!(asked, 4);
    let streamed: Vec<_> = client
        .all_users(Some("streamed"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 6);
    assert!(
        streamed
            .iter()
            .all(|u| u.primary_email.as_deref().unwrap().starts_with("streamed"))
    );
}
