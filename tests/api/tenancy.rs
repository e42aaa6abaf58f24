//! Tenant isolation (PRODUCT §1): every route that takes an id answers a principal of
//! organization B with 404 `NOT_FOUND` for an object of organization A, exactly as for an id
//! that does not exist, for every method, and changes nothing. The walk is checked against the
//! committed spec, so a new id-taking route without a case here fails the test.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use users_api_client::types::{ApiKeyCreate, Role, ScopeName, TeamCreate};
use uuid::Uuid;

use crate::{
    envelope::call,
    fixtures::{create_user, key_client},
    helpers::{TestApp, spawn_app},
};

/// The parts of an error that must not tell "another organization's" from "nonexistent".
fn comparable(body: &Value) -> Value {
    let mut error = body["error"].clone();
    error.as_object_mut().unwrap().remove("request_id");
    error
}

async fn send(
    app: &TestApp,
    token: &str,
    method: &Method,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let mut request = app
        .http()
        .request(method.clone(), app.url(path))
        .bearer_auth(token);
    if !body.is_null() {
        request = request.json(body);
    }
    let (status, _, body) = call(request).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn every_id_taking_route_answers_another_orgs_ids_like_missing_ones_for_every_method() {
    let app = spawn_app().await;
    // Organization A's objects.
    let a_user = create_user(&app, "ada@acme.test", Role::Member).await.id;
    let a_team = key_client(&app)
        .create_team()
        .body(TeamCreate {
            name: "A team".parse().unwrap(),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
        .id;
    key_client(&app)
        .add_team_member()
        .team_id(a_team)
        .user_id(a_user)
        .send()
        .await
        .unwrap();
    let a_key = app
        .client()
        .create_api_key()
        .body(ApiKeyCreate {
            name: "A key".parse().unwrap(),
            scopes: vec![ScopeName::UsersRead],
            expires_at: None,
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let a_hook = app
        .client()
        .create_webhook_endpoint()
        .body(users_api_client::types::WebhookEndpointCreate {
            url: "https://93.184.215.14/hook".into(),
            event_types: Vec::new(),
            description: None,
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
        .id;
    let an_event = "01JF8Z6Q3W5X7Y9A1B3C5D7E9G";
    let a_admin = app.admin.user_id;
    let a_session = app
        .state
        .tokens
        .verify(&app.admin.session_token)
        .unwrap()
        .sid;

    // Organization B, with a team and a user of its own.
    let b = app.create_org("Globex", "admin@globex.test").await;
    let b_client = app.client_with(&b.api_key);
    let b_team = b_client
        .create_team()
        .body(TeamCreate {
            name: "B team".parse().unwrap(),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
        .id;
    let b_user: Uuid = b.user_id.into_uuid();
    let missing = Uuid::now_v7();

    let rename = json!({"name": "taken over"});
    let profile = json!({"display_name": "taken over"});
    // (method, template, path with A's ids, path with missing ids, body, B's credential)
    let cases: Vec<(Method, &str, String, String, Value, &str)> = vec![
        (
            Method::GET,
            "/v1/users/{user_id}",
            format!("/v1/users/{a_user}"),
            format!("/v1/users/{missing}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::PATCH,
            "/v1/users/{user_id}",
            format!("/v1/users/{a_user}"),
            format!("/v1/users/{missing}"),
            profile.clone(),
            &b.api_key,
        ),
        (
            Method::DELETE,
            "/v1/users/{user_id}",
            format!("/v1/users/{a_user}"),
            format!("/v1/users/{missing}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::GET,
            "/v1/users/{user_id}",
            format!("/v1/users/{a_user}"),
            format!("/v1/users/{missing}"),
            Value::Null,
            &b.session_token,
        ),
        (
            Method::PATCH,
            "/v1/users/{user_id}",
            format!("/v1/users/{a_user}"),
            format!("/v1/users/{missing}"),
            profile,
            &b.session_token,
        ),
        (
            Method::DELETE,
            "/v1/users/{user_id}",
            format!("/v1/users/{a_user}"),
            format!("/v1/users/{missing}"),
            Value::Null,
            &b.session_token,
        ),
        (
            Method::GET,
            "/v1/teams/{team_id}",
            format!("/v1/teams/{a_team}"),
            format!("/v1/teams/{missing}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::PATCH,
            "/v1/teams/{team_id}",
            format!("/v1/teams/{a_team}"),
            format!("/v1/teams/{missing}"),
            rename,
            &b.api_key,
        ),
        (
            Method::DELETE,
            "/v1/teams/{team_id}",
            format!("/v1/teams/{a_team}"),
            format!("/v1/teams/{missing}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::PUT,
            "/v1/teams/{team_id}/members/{user_id}",
            format!("/v1/teams/{a_team}/members/{a_user}"),
            format!("/v1/teams/{missing}/members/{missing}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::PUT,
            "/v1/teams/{team_id}/members/{user_id}",
            format!("/v1/teams/{b_team}/members/{a_user}"),
            format!("/v1/teams/{b_team}/members/{missing}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::PUT,
            "/v1/teams/{team_id}/members/{user_id}",
            format!("/v1/teams/{a_team}/members/{b_user}"),
            format!("/v1/teams/{missing}/members/{b_user}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::DELETE,
            "/v1/teams/{team_id}/members/{user_id}",
            format!("/v1/teams/{a_team}/members/{a_user}"),
            format!("/v1/teams/{missing}/members/{missing}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::DELETE,
            "/v1/teams/{team_id}/members/{user_id}",
            format!("/v1/teams/{b_team}/members/{a_user}"),
            format!("/v1/teams/{b_team}/members/{missing}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::POST,
            "/v1/users/{user_id}/tickets",
            format!("/v1/users/{a_user}/tickets"),
            format!("/v1/users/{missing}/tickets"),
            json!({"type": "reset_password"}),
            &b.api_key,
        ),
        (
            Method::GET,
            "/v1/users/{user_id}/events",
            format!("/v1/users/{a_user}/events"),
            format!("/v1/users/{missing}/events"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::GET,
            "/v1/users/{user_id}/sessions",
            format!("/v1/users/{a_user}/sessions"),
            format!("/v1/users/{missing}/sessions"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::DELETE,
            "/v1/users/{user_id}/sessions",
            format!("/v1/users/{a_user}/sessions"),
            format!("/v1/users/{missing}/sessions"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::POST,
            "/v1/users/{user_id}/unlock",
            format!("/v1/users/{a_user}/unlock"),
            format!("/v1/users/{missing}/unlock"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::DELETE,
            "/v1/users/{user_id}/sessions/{session_id}",
            format!("/v1/users/{a_admin}/sessions/{a_session}"),
            format!("/v1/users/{missing}/sessions/{a_session}"),
            Value::Null,
            &b.api_key,
        ),
        (
            Method::POST,
            "/v1/api-keys/{key_id}/roll",
            format!("/v1/api-keys/{}/roll", a_key.id),
            format!("/v1/api-keys/{missing}/roll"),
            json!({}),
            &b.session_token,
        ),
        (
            Method::DELETE,
            "/v1/api-keys/{key_id}",
            format!("/v1/api-keys/{}", a_key.id),
            format!("/v1/api-keys/{missing}"),
            Value::Null,
            &b.session_token,
        ),
        (
            Method::GET,
            "/v1/webhook-endpoints/{endpoint_id}",
            format!("/v1/webhook-endpoints/{a_hook}"),
            format!("/v1/webhook-endpoints/{missing}"),
            Value::Null,
            &b.session_token,
        ),
        (
            Method::PATCH,
            "/v1/webhook-endpoints/{endpoint_id}",
            format!("/v1/webhook-endpoints/{a_hook}"),
            format!("/v1/webhook-endpoints/{missing}"),
            json!({"disabled": true}),
            &b.session_token,
        ),
        (
            Method::DELETE,
            "/v1/webhook-endpoints/{endpoint_id}",
            format!("/v1/webhook-endpoints/{a_hook}"),
            format!("/v1/webhook-endpoints/{missing}"),
            Value::Null,
            &b.session_token,
        ),
        (
            Method::POST,
            "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
            format!("/v1/webhook-endpoints/{a_hook}/rotate-secret"),
            format!("/v1/webhook-endpoints/{missing}/rotate-secret"),
            Value::Null,
            &b.session_token,
        ),
        (
            Method::GET,
            "/v1/webhook-endpoints/{endpoint_id}/deliveries",
            format!("/v1/webhook-endpoints/{a_hook}/deliveries"),
            format!("/v1/webhook-endpoints/{missing}/deliveries"),
            Value::Null,
            &b.session_token,
        ),
        (
            Method::POST,
            "/v1/webhook-endpoints/{endpoint_id}/deliveries/{event_id}/redeliver",
            format!("/v1/webhook-endpoints/{a_hook}/deliveries/{an_event}/redeliver"),
            format!("/v1/webhook-endpoints/{missing}/deliveries/{an_event}/redeliver"),
            Value::Null,
            &b.session_token,
        ),
    ];

    let mut covered = BTreeSet::new();
    for (method, template, foreign, nonexistent, body, token) in &cases {
        let (status, foreign_body) = send(&app, token, method, foreign, body).await;
        let (missing_status, missing_body) = send(&app, token, method, nonexistent, body).await;
        assert_eq!(status, 404, "{method} {foreign}: {foreign_body}");
        assert_eq!(
            missing_status, 404,
            "{method} {nonexistent}: {missing_body}"
        );
        assert_eq!(foreign_body["error"]["code"], "NOT_FOUND");
        assert_eq!(
            comparable(&foreign_body),
            comparable(&missing_body),
            "{method} {template}: another org's id must look exactly like a missing one"
        );
        covered.insert((method.to_string(), template.to_string()));
    }

    // Every id-taking operation of the spec is walked.
    let spec: Value = serde_json::from_str(include_str!("../../spec/openapi.json")).unwrap();
    let mut id_routes = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.contains('{') || path.starts_with("/v1/me") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            id_routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    assert_eq!(
        covered, id_routes,
        "walked routes vs the spec's id-taking routes"
    );

    // Nothing of A changed.
    let a = key_client(&app);
    let user = a
        .get_user()
        .user_id(a_user)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(user.display_name, None);
    let team = a
        .get_team()
        .team_id(a_team)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(team.name, "A team");
    let member = a
        .add_team_member()
        .team_id(a_team)
        .user_id(a_user)
        .send()
        .await;
    assert!(member.is_ok());
    app.client_with(&a_key.secret)
        .list_users()
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn lists_show_only_the_callers_organization() {
    let app = spawn_app().await;
    create_user(&app, "ada@acme.test", Role::Member).await;
    key_client(&app)
        .create_team()
        .body(TeamCreate {
            name: "A team".parse().unwrap(),
        })
        .send()
        .await
        .unwrap();
    let b = app.create_org("Globex", "admin@globex.test").await;
    let as_b = app.client_with(&b.api_key);
    let users = as_b.list_users().send().await.unwrap().into_inner().data;
    assert_eq!(
        users.iter().map(|u| u.id).collect::<Vec<_>>(),
        [b.user_id.into_uuid()]
    );
    let by_email = as_b
        .list_users()
        .email("ada@acme.test")
        .send()
        .await
        .unwrap();
    assert!(by_email.into_inner().data.is_empty());
    assert!(
        as_b.list_teams()
            .send()
            .await
            .unwrap()
            .into_inner()
            .data
            .is_empty()
    );
    let keys = app
        .client_with(&b.session_token)
        .list_api_keys()
        .send()
        .await
        .unwrap();
    assert_eq!(keys.into_inner().data.len(), 1);
    // The same address may exist once per organization.
    as_b.create_user()
        .body(crate::fixtures::new_user("ada@acme.test"))
        .send()
        .await
        .unwrap();
}
