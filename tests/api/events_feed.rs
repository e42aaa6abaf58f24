//! Change events through the API (issue 16): every change records its events in the same
//! transaction, with who made it and through which request, read back in order through the
//! generated client (which parses each by its type's schema): `GET /v1/events` with `after`,
//! `limit`, `type` and `wait`, and a user's history. A failed change records nothing; secrets
//! never appear.

use serde_json::{Value, json};
use users_api_client::{Client, MePatch, Patch, UserPatch, types::Role};

use crate::{
    fixtures::{admin_sign_in, code, create_user, key_client, key_with, person, sign_in},
    helpers::spawn_app,
};

/// The organization's events after `after`, as JSON (each parsed by its schema first).
async fn feed(client: &Client, after: i64) -> Vec<Value> {
    let page = client
        .list_events()
        .after(after)
        .limit(1000)
        .send()
        .await
        .expect("events listed")
        .into_inner();
    as_json(&page.data)
}

/// Events as JSON, each already parsed by its type's schema by the client.
fn as_json(events: &[users_api_client::types::Event]) -> Vec<Value> {
    events
        .iter()
        .map(|event| serde_json::to_value(event).unwrap())
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The last sequence of the organization so far.
async fn last_sequence(client: &Client) -> i64 {
    let events = feed(client, 0).await;
    events.last().map_or(0, |e| e["sequence"].as_i64().unwrap())
}

#[tokio::test]
async fn a_patch_records_who_changed_what_through_which_request() {
    let app = spawn_app().await;
    let admin = key_client(&app);
    let token = admin_sign_in(&app).await;
    let from = last_sequence(&admin).await;
    let response = app
        .http()
        .patch(app.url("/v1/me"))
        .bearer_auth(&token)
        .json(&json!({"display_name": "Ada L.", "bio": "Engines"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let events = feed(&admin, from).await;
    assert_eq!(types(&events), ["user.updated"]);
    let event = &events[0];
    assert_eq!(event["sequence"], from + 1);
    assert_eq!(event["org_id"], app.admin.org_id.to_string());
    assert_eq!(
        event["actor"],
        json!({"type": "user", "id": app.admin.user_id.to_string()})
    );
    assert_eq!(event["request_id"], request_id);
    assert!(event["occurred_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(event["data"]["object"]["display_name"], "Ada L.");
    assert_eq!(
        event["data"]["changes"],
        json!([
            {"field": "bio", "secret": false, "before": null, "after": "Engines"},
            {"field": "display_name", "secret": false, "before": null, "after": "Ada L."},
        ])
    );

    // Nothing that changes nothing, and nothing that fails, is recorded.
    let same = MePatch {
        bio: Patch::Value("Engines".into()),
        ..Default::default()
    };
    let client = app.client_with(&token);
    client.patch_me().body(same).send().await.unwrap();
    let refused = MePatch {
        display_name: Patch::Value("Ada".into()),
        locale: Patch::Value("not a locale!".into()),
        ..Default::default()
    };
    assert_eq!(code(client.patch_me().body(refused).send().await).0, 422);
    let last_admin = UserPatch {
        role: Some(Role::Member),
        ..Default::default()
    };
    let reply = admin
        .patch_user()
        .user_id(app.admin.user_id.into_uuid())
        .body(last_admin)
        .send()
        .await;
    assert_eq!(code(reply), (409, "LAST_ADMIN".into()));
    assert_eq!(feed(&admin, from + 1).await, Vec::<Value>::new());
}

#[tokio::test]
async fn credentials_are_named_as_changed_and_never_shown() {
    let app = spawn_app().await;
    let admin = key_client(&app);
    let user = create_user(&app, "grace@acme.test", Role::Member).await;
    let from = last_sequence(&admin).await;
    let password = "violet staircase under 7 moons";
    let totp = "MZXW6YTBOI======MZXW6YTBOI======";
    let change = |body: UserPatch| admin.patch_user().user_id(user.id).body(body).send();
    change(UserPatch {
        password: Patch::Value(password.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    change(UserPatch {
        totp_secret_base64: Patch::Value("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    change(UserPatch {
        totp_secret_base64: Patch::Null,
        status: Some(users_api_client::types::SettableStatus::Suspended),
        ..Default::default()
    })
    .await
    .unwrap();

    let events = feed(&admin, from).await;
    assert_eq!(
        types(&events),
        [
            "user.updated",
            "user.password_changed",
            "user.updated",
            "user.totp_enabled",
            "user.updated",
            "user.suspended",
            "user.totp_disabled",
        ]
    );
    let secret = json!({"field": "password", "secret": true, "before": null, "after": null});
    assert!(
        events[0]["data"]["changes"]
            .as_array()
            .unwrap()
            .contains(&secret)
    );
    assert_eq!(
        events[0]["data"], events[1]["data"],
        "one write, one payload"
    );
    let changes = &events[2]["data"]["changes"];
    assert!(
        changes.as_array().unwrap().contains(
            &json!({"field": "totp_secret", "secret": true, "before": null, "after": null})
        )
    );
    assert!(changes.as_array().unwrap().contains(
        &json!({"field": "otp_auth_enabled", "secret": false, "before": false, "after": true})
    ));
    let text = serde_json::to_string(&events).unwrap();
    for secret in [password, "argon2", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=", totp] {
        assert!(!text.contains(secret), "{secret} appears in an event");
    }
    for event in &events {
        assert_eq!(event["actor"]["type"], "api_key");
    }
}

#[tokio::test]
async fn every_kind_of_change_is_recorded_in_commit_order_and_in_the_users_history() {
    let app = spawn_app().await;
    let admin = key_client(&app);
    let from = last_sequence(&admin).await;
    let user = create_user(&app, "lin@acme.test", Role::Member).await;
    admin
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            password: Patch::Value("violet staircase under 7 moons".into()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let org = app.admin.org_id;
    assert_eq!(
        code(sign_in(&app, &org, "lin@acme.test", "wrong password!!", None).await).0,
        401
    );
    assert_eq!(
        code(sign_in(&app, &org, "nobody@acme.test", "wrong password!!", None).await).0,
        401
    );
    let signed_in = sign_in(
        &app,
        &org,
        "lin@acme.test",
        "violet staircase under 7 moons",
        None,
    )
    .await
    .unwrap()
    .into_inner()
    .data;
    app.client_with(&signed_in.token)
        .sign_out()
        .send()
        .await
        .unwrap();
    let team = admin
        .create_team()
        .body(users_api_client::types::TeamCreate {
            name: "Platform".into(),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let rename = users_api_client::TeamPatch {
        name: Some("Infra".into()),
    };
    admin
        .patch_team()
        .team_id(team.id)
        .body(rename)
        .send()
        .await
        .unwrap();
    admin
        .add_team_member()
        .team_id(team.id)
        .user_id(user.id)
        .send()
        .await
        .unwrap();
    let select = UserPatch {
        selected_team_id: Patch::Value(team.id),
        ..Default::default()
    };
    admin
        .patch_user()
        .user_id(user.id)
        .body(select)
        .send()
        .await
        .unwrap();
    admin
        .remove_team_member()
        .team_id(team.id)
        .user_id(user.id)
        .send()
        .await
        .unwrap();
    admin.delete_team().team_id(team.id).send().await.unwrap();
    admin.delete_user().user_id(user.id).send().await.unwrap();

    let events = feed(&admin, from).await;
    assert_eq!(
        types(&events),
        [
            "user.created",
            "user.updated",
            "user.password_changed",
            "session.sign_in_failed",
            "session.sign_in_failed",
            "session.created",
            "session.revoked",
            "team.created",
            "team.updated",
            "team.member_added",
            "user.updated",
            "team.member_removed",
            "user.updated",
            "team.deleted",
            "user.deleted",
        ]
    );
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (from + 1..=from + 15).collect::<Vec<_>>());
    let user_id = user.id.to_string();
    assert_eq!(
        events[3]["data"],
        json!({"user_id": user_id, "reason": "wrong_password"})
    );
    assert_eq!(
        events[4]["data"],
        json!({"user_id": null, "reason": "unknown_account"})
    );
    assert_eq!(events[3]["actor"], json!({"type": "system", "id": null}));
    assert_eq!(events[5]["actor"], json!({"type": "user", "id": user_id}));
    assert_eq!(
        events[8]["data"]["changes"],
        json!([{"field": "name", "secret": false, "before": "Platform", "after": "Infra"}])
    );
    assert_eq!(
        events[12]["data"]["changes"],
        json!([{"field": "selected_team_id", "secret": false, "before": team.id, "after": null}])
    );
    assert_eq!(
        events[14]["data"],
        json!({"object": {"id": user_id, "deleted": true}})
    );

    // The user's history outlives them: everything about them, and nothing else.
    let history = admin
        .list_user_events()
        .user_id(user.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    let history = as_json(&history.data);
    assert_eq!(
        types(&history),
        [
            "user.created",
            "user.updated",
            "user.password_changed",
            "session.sign_in_failed",
            "session.created",
            "session.revoked",
            "team.member_added",
            "user.updated",
            "team.member_removed",
            "user.updated",
            "user.deleted",
        ]
    );
}

#[tokio::test]
async fn the_feed_pages_filters_by_type_and_waits_for_the_next_event() {
    let app = spawn_app().await;
    let admin = key_client(&app);
    for n in 0..5 {
        create_user(&app, &format!("u{n}@acme.test"), Role::Member).await;
    }
    let page = admin
        .list_events()
        .limit(2)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.data.len(), 2);
    assert!(page.meta.has_more);
    let next = page.meta.next_after;
    let rest = admin
        .list_events()
        .after(next)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(!rest.meta.has_more);
    let seen: Vec<i64> = as_json(&rest.data)
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seen[0], next + 1);
    let last = rest.meta.next_after;
    let empty = admin
        .list_events()
        .after(last)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(empty.data.is_empty());
    assert_eq!(
        empty.meta.next_after, last,
        "an empty page keeps the reader's place"
    );

    let only = admin
        .list_events()
        .type_(vec![users_api_client::types::EventType::UserDeleted])
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(only.data.is_empty());

    // A waiting reader gets the next event once it is committed.
    let waiting = tokio::spawn({
        let admin = admin.clone();
        async move { admin.list_events().after(last).wait(10).send().await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    create_user(&app, "late@acme.test", Role::Member).await;
    let woke = waiting.await.unwrap().unwrap().into_inner();
    let woke = as_json(&woke.data);
    assert_eq!(types(&woke), ["user.created"]);
    assert_eq!(woke[0]["data"]["object"]["primary_email"], "late@acme.test");
}

#[tokio::test]
async fn reading_events_needs_events_read_and_stays_in_the_organization() {
    let app = spawn_app().await;
    let users_only = key_with(&app, &["users:read", "users:write"]).await;
    let reply = users_only.list_events().send().await;
    assert_eq!(code(reply), (403, "INSUFFICIENT_SCOPE".into()));
    let (viewer, viewer_client) = person(&app, "vi@acme.test", Role::Viewer).await;
    let reply = viewer_client
        .list_user_events()
        .user_id(viewer.id)
        .send()
        .await;
    assert_eq!(code(reply), (403, "INSUFFICIENT_SCOPE".into()));

    let other = app.create_org("Other", "admin@other.test").await;
    let other_admin = app.client_with(&other.api_key);
    let theirs = feed(&other_admin, 0).await;
    assert!(
        theirs
            .iter()
            .all(|e| e["org_id"] == other.org_id.to_string()),
        "{theirs:?}"
    );
    let ours = feed(&key_with(&app, &["events:read"]).await, 0).await;
    assert!(
        ours.iter()
            .any(|e| e["data"]["object"]["primary_email"] == "vi@acme.test")
    );
    let reply = other_admin
        .list_user_events()
        .user_id(viewer.id)
        .send()
        .await;
    assert_eq!(
        code(reply),
        (404, "NOT_FOUND".into()),
        "another organization's user has no history there"
    );
}
