//! Spec-driven walks over every operation: the statuses every operation shares (401 without
//! credentials; for operations with a body, 415 for a non-JSON body, 413 for an oversized one
//! and 400 for a body that is not a JSON object) are answered as declared, in the envelope. New
//! operations are walked without a new test.

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::{envelope::call, helpers::spawn_app};

/// Every operation of the committed spec: method, a concrete path (ids are fresh UUIDs),
/// whether it is secured and whether it takes a body.
fn operations() -> Vec<(Method, String, bool, bool)> {
    let spec: Value = serde_json::from_str(include_str!("../../spec/openapi.json")).unwrap();
    let mut operations = Vec::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        let path: String = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    Uuid::now_v7().to_string()
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
                op.get("security").is_some(),
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
