//! `GET /v1/users` through the generated client: keyset pagination with an opaque cursor,
//! `limit`, and the `email` and `q` filters (PRODUCT §5), the latter through each user's search
//! key, kept by every write and derived for rows stored without one.

use std::collections::BTreeSet;

use users_api::{
    bootstrap,
    db::{Db, Timeouts, search_keys},
};
use users_api_client::{
    Client, MePatch, Patch, TryStreamExt, UserPatch, pages,
    types::{Role, TeamCreate, UserCreate},
};
use uuid::Uuid;

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
    // A prefix starts one value: it does not run on from the first name into the last.
    assert!(ids("ada\nlove").await.is_empty());
    assert!(ids("adalove").await.is_empty());
}

/// The ids of the users `q` finds, in id order.
async fn found(client: &Client, q: &str) -> Vec<Uuid> {
    let page = client.list_users().q(q).send().await.unwrap().into_inner();
    page.data.into_iter().map(|u| u.id).collect()
}

async fn create(client: &Client, body: UserCreate) -> Uuid {
    client
        .create_user()
        .body(body)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
        .id
}

#[tokio::test]
async fn q_matches_a_prefix_whatever_the_letter_case_in_every_script() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let elodie = create(
        &client,
        UserCreate {
            first_name: Some("Élodie".parse().unwrap()),
            last_name: Some("Ørsted".parse().unwrap()),
            ..new_user("e.orsted@example.test")
        },
    )
    .await;
    let adne = create(
        &client,
        UserCreate {
            display_name: Some("Ådne B.".parse().unwrap()),
            ..new_user("a.berg@example.test")
        },
    )
    .await;
    let kostas = create(
        &client,
        UserCreate {
            display_name: Some("Κώστας".parse().unwrap()),
            last_name: Some("Straße".parse().unwrap()),
            ..new_user("kp@example.test")
        },
    )
    .await;
    let asa = create(&client, new_user("ÅSA@example.test")).await;
    for (q, user) in [
        ("élo", elodie),
        ("ÉLO", elodie),
        ("E\u{301}LO", elodie),
        ("ørs", elodie),
        ("ØRSTED", elodie),
        ("ådne", adne),
        ("ÅDNE B", adne),
        ("κώς", kostas),
        ("ΚΏΣΤΑΣ", kostas),
        ("straße", kostas),
        ("STRASSE", kostas),
        ("åsa", asa),
        ("Åsa@EXAMPLE.test", asa),
    ] {
        assert_eq!(found(&client, q).await, [user], "q={q}");
    }
    // Accents are not letter case, and a prefix stops at whole characters.
    for q in ["elo", "adne", "AS", "orsted", "kostas"] {
        assert!(found(&client, q).await.is_empty(), "q={q}");
    }
}

#[tokio::test]
async fn a_name_or_address_written_through_any_path_is_found_by_its_new_value_only() {
    let app = spawn_app().await;
    let client = key_client(&app);
    // Created with the organization.
    let admin = app.admin.user_id.into_uuid();
    assert_eq!(found(&client, "ADMIN@ACME.TEST").await, [admin]);

    // PATCH /v1/me.
    let patch_me = |body: MePatch| {
        let me = app.client();
        async move { me.patch_me().body(body).send().await.unwrap() }
    };
    patch_me(MePatch {
        display_name: Patch::Value("Ōsaka Ops".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(found(&client, "ŌSAKA").await, [admin]);
    patch_me(MePatch {
        display_name: Patch::Null,
        first_name: Patch::Value("Þóra".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(found(&client, "þÓ").await, [admin]);
    assert!(found(&client, "ōsaka").await.is_empty());

    // POST /v1/users, then PATCH /v1/users/{id}.
    let user = create(
        &client,
        UserCreate {
            last_name: Some("Øre".parse().unwrap()),
            ..new_user("zoe@example.test")
        },
    )
    .await;
    assert_eq!(found(&client, "ØRE").await, [user]);
    client
        .patch_user()
        .user_id(user)
        .body(UserPatch {
            last_name: Patch::Value("Ærø".into()),
            primary_email: Patch::Value("Zoë@example.test".into()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(found(&client, "æRØ").await, [user]);
    assert_eq!(found(&client, "ZOË@").await, [user]);
    assert!(found(&client, "øre").await.is_empty());
    assert!(found(&client, "zoe@").await.is_empty());
    // A change of another field keeps the key.
    client
        .patch_user()
        .user_id(user)
        .body(UserPatch {
            bio: Patch::Value("Hi".into()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(found(&client, "ærø").await, [user]);
    assert_eq!(search_keys::backfill(&app.state.db).await.unwrap(), 0);
}

/// Writes that move a user's version without changing a searched value (their selected team
/// cleared as their membership or the team goes, a password reset) keep the key current: nothing
/// is left to derive again, and the user is found as before.
#[tokio::test]
async fn writes_that_change_no_searched_value_keep_the_key_current() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let user = create(
        &client,
        UserCreate {
            first_name: Some("Élodie".parse().unwrap()),
            ..new_user("elodie@acme.test")
        },
    )
    .await;
    let team = |name: &'static str| {
        let client = client.clone();
        async move {
            let body = TeamCreate {
                name: name.parse().unwrap(),
            };
            let team = client.create_team().body(body).send().await.unwrap();
            let team = team.into_inner().data.id;
            let member = client.add_team_member().team_id(team).user_id(user);
            member.send().await.unwrap();
            let selected = UserPatch {
                selected_team_id: Patch::Value(team),
                ..Default::default()
            };
            let patch = client.patch_user().user_id(user).body(selected);
            patch.send().await.unwrap();
            team
        }
    };
    let left = team("Left").await;
    let remove = client.remove_team_member().team_id(left).user_id(user);
    remove.send().await.unwrap();
    let deleted = team("Deleted").await;
    client.delete_team().team_id(deleted).send().await.unwrap();
    bootstrap::reset_password(&app.state.db, "elodie@acme.test", None)
        .await
        .unwrap();

    // Created, selected, cleared, selected, cleared, reset: six versions.
    let now = client.get_user().user_id(user).send().await.unwrap();
    assert_eq!(now.headers()["etag"], "\"6\"");
    assert_eq!(search_keys::backfill(&app.state.db).await.unwrap(), 0);
    assert_eq!(found(&client, "ÉLO").await, [user]);
}

/// Rows as a version without search keys leaves them: one stored without a key, one renamed
/// without its key following. Each is found by its current values once its key is derived
/// again, which opening the database does, leaving the user unchanged (`version`, `updated_at`).
#[tokio::test]
async fn opening_the_database_derives_the_keys_of_rows_stored_or_changed_without_them() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let unkeyed = Uuid::now_v7();
    let renamed = create(
        &client,
        UserCreate {
            first_name: Some("Zoé".parse().unwrap()),
            ..new_user("renamed@acme.test")
        },
    )
    .await;
    let untouched = create_user(&app, "untouched@acme.test", Role::Member).await;
    app.state
        .db
        .execute_script(&format!(
            "INSERT INTO users (id, org_id, first_name, last_name, primary_email, \
             primary_email_key, created_at, updated_at) VALUES ('{unkeyed}', '{org}', 'Élodie', \
             'Ørsted', 'E.Orsted@acme.test', 'e.orsted@acme.test', '2026-01-02 03:04:05', \
             '2026-01-02 03:04:05'); \
             UPDATE users SET first_name = 'Ådne', version = version + 1 WHERE id = '{renamed}'",
            org = app.admin.org_id,
        ))
        .await
        .unwrap();
    assert!(found(&client, "élo").await.is_empty(), "no key yet");
    assert!(found(&client, "e.orsted").await.is_empty(), "no key yet");
    assert!(found(&client, "ådne").await.is_empty(), "a stale key");
    assert_eq!(found(&client, "zoé").await, [renamed], "a stale key");
    // A change of another field by this version leaves a stale key stale, not current.
    let bio = UserPatch {
        bio: Patch::Value("Hi".into()),
        ..Default::default()
    };
    let patch = client.patch_user().user_id(renamed).body(bio);
    patch.send().await.unwrap();
    let get = |id: Uuid| client.get_user().user_id(id).send();
    let before = [get(unkeyed).await.unwrap(), get(renamed).await.unwrap()];

    let reopened = Db::connect(&app.database_url, Timeouts::default())
        .await
        .unwrap();
    for q in ["ÉLO", "ørsted", "E.ORSTED@"] {
        assert_eq!(found(&client, q).await, [unkeyed], "q={q}");
    }
    assert_eq!(found(&client, "ÅDNE").await, [renamed]);
    assert!(found(&client, "zoé").await.is_empty());
    let after = [get(unkeyed).await.unwrap(), get(renamed).await.unwrap()];
    for (before, after) in before.into_iter().zip(after) {
        assert_eq!(after.headers()["etag"], before.headers()["etag"]);
        assert_eq!(
            after.into_inner().data.updated_at,
            before.into_inner().data.updated_at
        );
    }
    // Current keys were left alone, and nothing is left to derive.
    assert_eq!(found(&client, "UNTOUCHED").await, [untouched.id]);
    assert_eq!(search_keys::backfill(&reopened).await.unwrap(), 0);
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
