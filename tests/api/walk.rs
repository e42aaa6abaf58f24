//! Spec-driven walks over every operation: the statuses every operation shares (401 without
//! credentials; for operations with a body, 415 for a non-JSON body, 413 for an oversized one
//! and 400 for a body that is not a JSON object) are answered as declared, in the envelope. New
//! operations are walked without a new test.

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use users_api_client::types::Role;

use crate::{envelope::call, fixtures::person, helpers::spawn_app};

fn is_admin_surface(path: &str) -> bool {
    ["/v1/users", "/v1/teams", "/v1/api-keys"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// Every operation of the committed spec: method, a concrete path (ids are fresh UUIDs),
/// whether it is secured and whether it takes a body.
fn operations() -> Vec<(Method, String, bool, bool)> {
    operations_with_ids(|| Uuid::now_v7().to_string())
}

fn operations_with_ids(id: impl Fn() -> String) -> Vec<(Method, String, bool, bool)> {
    let spec: Value = serde_json::from_str(include_str!("../../spec/openapi.json")).unwrap();
    let mut operations = Vec::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        let path: String = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    id()
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            operations.push((
                method.to_uppercase().parse().unwrap(),
                path.clone(),
                op["security"].as_array().is_some_and(|s| !s.is_empty()),
                op.get("requestBody").is_some(),
            ));
        }
    }
    operations
}

#[tokio::test]
async fn every_secured_operation_answers_401_unauthorized_without_or_with_bad_credentials() {
    let app = spawn_app().await;
    let secured: Vec<_> = operations().into_iter().filter(|op| op.2).collect();
    assert!(secured.len() >= 17, "{} secured operations", secured.len());
    for (method, path, _, has_body) in secured {
        for token in [None, Some("uak_revoked-or-made-up"), Some("not.a.jwt")] {
            let mut request = app.http().request(method.clone(), app.url(&path));
            if has_body {
                request = request.json(&serde_json::json!({}));
            }
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let (status, _, body) = call(request).await;
            assert_eq!(status, 401, "{method} {path} {token:?}: {body}");
            assert_eq!(body["error"]["code"], "UNAUTHORIZED");
        }
    }
}

#[tokio::test]
async fn every_operation_with_a_body_answers_415_413_and_400_for_bad_bodies() {
    let app = spawn_app().await;
    let with_body: Vec<_> = operations().into_iter().filter(|op| op.3).collect();
    assert!(
        with_body.len() >= 6,
        "{} operations with a body",
        with_body.len()
    );
    let big = format!(
        "{{\"bio\": \"{}\"}}",
        "a".repeat(users_api::api::MAX_BODY_BYTES)
    );
    for (method, path, _, _) in with_body {
        let request = || {
            app.http()
                .request(method.clone(), app.url(&path))
                .bearer_auth(&app.admin.session_token)
        };
        let (status, _, body) =
            call(request().header("content-type", "text/plain").body("{}")).await;
        assert_eq!(status, 415, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");

        let (status, _, body) = call(
            request()
                .header("content-type", "application/json")
                .body(big.clone()),
        )
        .await;
        assert_eq!(status, 413, "{method} {path}: {body}");

        for bad in ["{\"a\":", "[]", "\"text\""] {
            let (status, _, body) = call(
                request()
                    .header("content-type", "application/json")
                    .body(bad),
            )
            .await;
            assert_eq!(status, 400, "{method} {path} {bad}: {body}");
            assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
        }
    }
}

#[tokio::test]
async fn every_id_taking_operation_answers_400_for_an_id_that_is_not_a_uuid() {
    let app = spawn_app().await;
    let with_ids: Vec<_> = operations_with_ids(|| "not-a-uuid".into())
        .into_iter()
        .filter(|op| op.1.contains("not-a-uuid"))
        .collect();
    assert!(
        with_ids.len() >= 9,
        "{} id-taking operations",
        with_ids.len()
    );
    for (method, path, _, has_body) in with_ids {
        let mut request = app
            .http()
            .request(method.clone(), app.url(&path))
            .bearer_auth(&app.admin.session_token);
        if has_body {
            request = request.json(&serde_json::json!({}));
        }
        let (status, _, body) = call(request).await;
        assert_eq!(status, 400, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
    }
}

#[tokio::test]
async fn a_member_session_is_refused_every_admin_operation_with_403() {
    let app = spawn_app().await;
    let (user, _) = person(&app, "member@acme.test", Role::Member).await;
    let token = crate::fixtures::session_token(&app, &user).await;
    let admin_ops: Vec<_> = operations()
        .into_iter()
        .filter(|op| is_admin_surface(&op.1))
        .collect();
    assert!(
        admin_ops.len() >= 15,
        "{} admin operations",
        admin_ops.len()
    );
    for (method, path, _, has_body) in admin_ops {
        let mut request = app
            .http()
            .request(method.clone(), app.url(&path))
            .bearer_auth(&token);
        if has_body {
            request = request.json(&serde_json::json!({}));
        }
        let (status, _, body) = call(request).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        let expected = match path.starts_with("/v1/api-keys") {
            true => "FORBIDDEN",
            false => "INSUFFICIENT_SCOPE",
        };
        assert_eq!(body["error"]["code"], expected, "{method} {path}");
    }
}

#[tokio::test]
async fn every_list_refuses_a_limit_outside_1_to_100_with_400() {
    let app = spawn_app().await;
    for path in ["/v1/users", "/v1/teams"] {
        for limit in ["0", "101", "-1", "ten"] {
            let (status, _, body) = call(
                app.http()
                    .get(app.url(&format!("{path}?limit={limit}")))
                    .bearer_auth(&app.admin.api_key),
            )
            .await;
            assert_eq!(status, 400, "{path}?limit={limit}: {body}");
            assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
        }
    }
}

#[tokio::test]
async fn while_the_database_is_unavailable_every_secured_operation_answers_503_with_retry_after() {
    let app = spawn_app().await;
    // Hold every pooled connection: the server's requests then time out waiting for one, which
    // is what an unreachable database looks like from a handler.
    let mut held = Vec::new();
    let mut held_sqlite = Vec::new();
    let mut held_writer = None;
    match app.state.db.pools() {
        users_api::db::Pools::Postgres(pool) => {
            while let Ok(conn) =
                tokio::time::timeout(std::time::Duration::from_millis(500), pool.get()).await
            {
                held.push(conn.expect("a connection"));
            }
        }
        users_api::db::Pools::Sqlite { read, write } => {
            while let Ok(conn) =
                tokio::time::timeout(std::time::Duration::from_millis(500), read.get()).await
            {
                held_sqlite.push(conn.expect("a connection"));
            }
            held_writer = Some(write.get().await.expect("the writer"));
        }
    }
    let secured: Vec<_> = operations().into_iter().filter(|op| op.2).collect();
    let replies =
        futures_util::future::join_all(secured.iter().map(|(method, path, _, has_body)| {
            let mut request = app
                .http()
                .request(method.clone(), app.url(path))
                .bearer_auth(&app.admin.api_key);
            if *has_body {
                request = request.json(&serde_json::json!({}));
            }
            call(request)
        }))
        .await;
    for ((method, path, _, _), (status, headers, body)) in secured.iter().zip(replies) {
        assert_eq!(status, 503, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
        assert!(headers.contains_key("retry-after"), "{method} {path}");
    }
    drop(held);
    drop(held_sqlite);
    drop(held_writer);
}
