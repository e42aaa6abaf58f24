//! Issue 12, item 6: NUL (U+0000) is refused at the edge, in every string of every body (keys
//! included, at any depth), in the query parameters an operation reads and in the path: 400
//! `MALFORMED_REQUEST` naming where, the same on SQLite and PostgreSQL (which cannot store NUL
//! and used to answer 500), and nothing is written. Free-form metadata refuses it by its own
//! rules instead: 422 `INVALID_METADATA`, as a value its schema cannot exclude.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{envelope::call, helpers::TestApp, helpers::spawn_app};

/// Sends `body` as `token` and asserts a 400 `MALFORMED_REQUEST` naming exactly `places`.
async fn refused(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    places: &[&str],
) {
    let mut request = app.http().request(method.clone(), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let (status, _, body) = call(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {body}");
    assert_eq!(body["error"]["code"], "MALFORMED_REQUEST", "{body}");
    let named: Vec<&str> = body["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(named, places, "{method} {path}: {body}");
    assert!(
        body["error"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("NUL")
    );
}

/// Sends `body` as `token` and asserts a 422 `INVALID_METADATA` for `field`, saying NUL.
async fn refused_as_metadata(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
    field: &str,
) {
    let request = app.http().request(method.clone(), app.url(path));
    let (status, _, body) = call(request.bearer_auth(token).json(&body)).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{method} {path}: {body}"
    );
    assert_eq!(body["error"]["code"], "INVALID_METADATA", "{body}");
    assert_eq!(body["error"]["errors"][0]["field"], field, "{body}");
    let message = body["error"]["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("NUL"), "{body}");
}

async fn me(app: &TestApp) -> Value {
    let (_, _, body) = call(
        app.http()
            .get(app.url("/v1/me"))
            .bearer_auth(&app.admin.session_token),
    )
    .await;
    body["data"].clone()
}

async fn user_count(app: &TestApp) -> usize {
    let (_, _, body) = call(
        app.http()
            .get(app.url("/v1/users"))
            .bearer_auth(&app.admin.api_key),
    )
    .await;
    body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn hardening_sign_in_with_nul_in_the_email_or_password_is_a_400_not_a_500() {
    let app = spawn_app().await;
    let org_id = app.admin.org_id;
    let before = me(&app).await;
    refused(
        &app,
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({"org_id": org_id, "email": "a\u{0}@x.example", "password": "whatever"})),
        &["email"],
    )
    .await;
    refused(
        &app,
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({
            "org_id": org_id,
            "email": app.admin.admin_email,
            "password": format!("{}\u{0}", app.admin.admin_password),
        })),
        &["password"],
    )
    .await;
    assert_eq!(me(&app).await["active_sessions"], before["active_sessions"]);
}

#[tokio::test]
async fn hardening_patch_me_with_nul_anywhere_writes_nothing() {
    let app = spawn_app().await;
    let token = app.admin.session_token.clone();
    let before = me(&app).await;
    let bodies = [
        (json!({"display_name": "Ada\u{0}"}), vec!["display_name"]),
        (
            json!({"password": "correct horse\u{0}battery staple", "current_password": "x"}),
            vec!["password"],
        ),
        (json!({"unknown\u{0}": 1}), vec!["unknown\\u0000"]),
    ];
    for (body, places) in bodies {
        refused(
            &app,
            Method::PATCH,
            "/v1/me",
            Some(&token),
            Some(body),
            &places,
        )
        .await;
    }
    for body in [
        json!({"bio": "fine", "client_metadata": {"k": ["v", "v\u{0}"]}}),
        json!({"client_metadata": {"a": {"b\u{0}": 1}}}),
    ] {
        refused_as_metadata(
            &app,
            Method::PATCH,
            "/v1/me",
            &token,
            body,
            "client_metadata",
        )
        .await;
    }
    assert_eq!(me(&app).await, before, "nothing was written");
}

#[tokio::test]
async fn hardening_admin_writes_with_nul_create_and_change_nothing() {
    let app = spawn_app().await;
    let key = app.admin.api_key.clone();
    refused(
        &app,
        Method::POST,
        "/v1/users",
        Some(&key),
        Some(json!({
            "primary_email": "new@acme.test",
            "server_metadata": {"crm": {"id\u{0}": "x"}},
            "password": "correct horse battery\u{0} staple",
        })),
        &["password"],
    )
    .await;
    let body =
        json!({"primary_email": "new@acme.test", "server_metadata": {"crm": {"id\u{0}": "x"}}});
    refused_as_metadata(
        &app,
        Method::POST,
        "/v1/users",
        &key,
        body,
        "server_metadata",
    )
    .await;
    assert_eq!(user_count(&app).await, 1, "no user was created");
    let path = format!("/v1/users/{}", app.admin.user_id);
    let (_, _, before) = call(app.http().get(app.url(&path)).bearer_auth(&key)).await;
    let body = json!({"client_read_only_metadata": {"plan": "pro\u{0}"}});
    refused_as_metadata(
        &app,
        Method::PATCH,
        &path,
        &key,
        body,
        "client_read_only_metadata",
    )
    .await;
    refused(
        &app,
        Method::POST,
        "/v1/teams",
        Some(&key),
        Some(json!({"name": "Core\u{0}"})),
        &["name"],
    )
    .await;
    let (_, _, after) = call(app.http().get(app.url(&path)).bearer_auth(&key)).await;
    assert_eq!(after, before);
}

#[tokio::test]
async fn hardening_query_and_path_parameters_with_nul_are_refused() {
    let app = spawn_app().await;
    let key = app.admin.api_key.clone();
    for (path, place) in [
        ("/v1/users?email=a%00@x.example", "email"),
        ("/v1/users?q=ada%00", "q"),
        ("/v1/users?limit=5&cursor=%00", "cursor"),
        ("/v1/teams?cursor=x%00", "cursor"),
        ("/v1/users/%00", "path"),
    ] {
        refused(&app, Method::GET, path, Some(&key), None, &[place]).await;
    }
    // A parameter the operation does not read is ignored, as every unknown parameter is.
    let (status, _, _) = call(
        app.http()
            .get(app.url("/v1/me?unread=%00"))
            .bearer_auth(&app.admin.session_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn hardening_an_escaped_backslash_before_u0000_is_text_not_nul() {
    let app = spawn_app().await;
    let (status, _, body) = call(
        app.http()
            .patch(app.url("/v1/me"))
            .bearer_auth(&app.admin.session_token)
            .header("content-type", "application/json")
            .body(r#"{"bio": "C strings end in \\u0000"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["bio"], "C strings end in \\u0000");
}
