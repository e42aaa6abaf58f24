//! One envelope for everything, including the framework's own failures, and the request id.

use futures_util::stream;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Sends a request and returns status, headers and the parsed JSON body, asserting the error
/// envelope's invariants whenever the status is an error.
pub async fn call(
    request: reqwest::RequestBuilder,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "{status}: content type {content_type:?}"
    );
    let body: Value = response.json().await.unwrap();
    let request_id = headers["x-request-id"].to_str().unwrap();
    assert!(
        ulid::Ulid::from_string(request_id).is_ok(),
        "X-Request-Id {request_id:?} is a ULID"
    );
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["error"]["request_id"], request_id, "{body}");
        let code = body["error"]["code"].as_str().unwrap();
        assert!(
            code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{code}"
        );
        assert!(
            body["error"]["details"].is_object() && body["error"]["errors"].is_array(),
            "{body}"
        );
    } else {
        assert_eq!(body["success"], true, "{body}");
    }
    (status, headers, body)
}

fn me(app: &TestApp, method: Method) -> reqwest::RequestBuilder {
    app.http()
        .request(method, app.url("/v1/me"))
        .bearer_auth(&app.admin.session_token)
}

#[tokio::test]
async fn an_unknown_route_is_a_404_in_the_envelope() {
    let app = spawn_app().await;
    let (status, _, body) = call(app.http().get(app.url("/v1/nothing-here"))).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_with_allow() {
    let app = spawn_app().await;
    let (status, headers, body) = call(me(&app, Method::DELETE)).await;
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(headers["allow"], "GET, PATCH");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400_malformed_request() {
    let app = spawn_app().await;
    let request = me(&app, Method::PATCH)
        .header("content-type", "application/json")
        .body("{nope");
    let (status, _, body) = call(request).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
    let (status, _, _) = call(me(&app, Method::PATCH).json(&json!(["an", "array"]))).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn wrong_json_types_are_a_400_naming_every_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (status, _, body) =
        call(me(&app, Method::PATCH).json(&json!({"display_name": 5, "timezone": false}))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
    assert!(
        body["error"]["details"]["display_name"].is_string(),
        "{body}"
    );
    assert!(body["error"]["details"]["timezone"].is_string(), "{body}");
    let (_, _, me_now) = call(me(&app, Method::GET)).await;
    assert_eq!(me_now["data"]["display_name"], Value::Null);
    assert_eq!(me_now["data"]["timezone"], Value::Null);
}

#[tokio::test]
async fn a_wrong_content_type_is_a_415() {
    let app = spawn_app().await;
    let request = me(&app, Method::PATCH)
        .header("content-type", "text/plain")
        .body("{}");
    let (status, _, body) = call(request).await;
    assert_eq!(status, 415);
    assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn an_oversized_body_is_a_413_with_or_without_content_length() {
    let app = spawn_app().await;
    let big = format!(
        "{{\"bio\": \"{}\"}}",
        "a".repeat(users_api::api::MAX_BODY_BYTES)
    );
    let request = me(&app, Method::PATCH)
        .header("content-type", "application/json")
        .body(big.clone());
    let (status, _, body) = call(request).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");

    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let chunked = reqwest::Body::wrap_stream(stream::iter(chunks));
    let request = me(&app, Method::PATCH)
        .header("content-type", "application/json")
        .body(chunked);
    let (status, _, _) = call(request).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn a_get_without_a_body_is_served_not_refused_for_missing_length() {
    let app = spawn_app().await;
    let (status, _, _) = call(me(&app, Method::GET)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_well_formed_incoming_request_id_is_kept_and_a_malformed_one_replaced() {
    let app = spawn_app().await;
    let mine = ulid::Ulid::new().to_string();
    let (_, headers, _) = call(me(&app, Method::GET).header("x-request-id", &mine)).await;
    assert_eq!(headers["x-request-id"], mine.as_str());
    let (_, headers, body) = call(
        app.http()
            .get(app.url("/v1/me"))
            .header("x-request-id", "not a ulid"),
    )
    .await;
    assert_ne!(headers["x-request-id"], "not a ulid");
    assert_eq!(
        body["error"]["request_id"],
        headers["x-request-id"].to_str().unwrap()
    );
}

#[tokio::test]
async fn missing_or_bad_credentials_are_one_indistinct_401() {
    let app = spawn_app().await;
    let mut messages = Vec::new();
    for request in [
        app.http().get(app.url("/v1/me")),
        app.http()
            .get(app.url("/v1/me"))
            .header("authorization", "Basic YTpi"),
        app.http().get(app.url("/v1/me")).bearer_auth("not-a-token"),
        app.http()
            .get(app.url("/v1/me"))
            .bearer_auth("uak_no-such-key"),
        app.http()
            .get(app.url("/v1/me"))
            .bearer_auth(format!("{}x", app.admin.session_token)),
    ] {
        let (status, headers, body) = call(request).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "UNAUTHORIZED");
        assert_eq!(headers["www-authenticate"], "Bearer");
        messages.push(body["error"]["message"].clone());
    }
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "the body never says which check failed: {messages:?}"
    );
}
