//! The HTTP edge against hostile input: error bodies that cannot grow with the request, our own
//! limits on the request head answered in the envelope, CORS, and the headers of every response
//! and of the docs.

use reqwest::{Method, StatusCode, header};
use serde_json::Value;

use crate::{
    helpers::{TestOptions, spawn_app, spawn_app_with},
    raw::exchange,
};

/// Whatever the request, no error body is larger than this.
const ERROR_BODY_BOUND: usize = 16 * 1024;
/// The hostile bodies stay just under the 256 KiB body limit, so they are parsed.
const HOSTILE_BYTES: usize = 250 * 1024;

#[tokio::test]
async fn no_error_body_grows_with_a_hostile_request_body() {
    let app = spawn_app().await;
    let many_unknown = {
        let fields: Vec<String> = (0..HOSTILE_BYTES / 14)
            .map(|i| format!("\"f{i:07}\":0"))
            .collect();
        format!("{{{}}}", fields.join(","))
    };
    let huge = "x".repeat(HOSTILE_BYTES);
    let bodies = [
        ("PATCH", "/v1/me", many_unknown.clone()),
        ("POST", "/v1/users", many_unknown),
        ("PATCH", "/v1/me", format!("{{\"{huge}\": 1}}")),
        (
            "POST",
            "/v1/users",
            format!("{{\"primary_email\": \"a@b.example\", \"role\": \"{huge}\"}}"),
        ),
        ("PATCH", "/v1/me", format!("{{\"timezone\": \"{huge}\"}}")),
        (
            "PATCH",
            "/v1/me",
            format!(
                "{{\"bio\": {}{}}}",
                "[".repeat(HOSTILE_BYTES / 2),
                "]".repeat(HOSTILE_BYTES / 2)
            ),
        ),
    ];
    for (method, path, body) in bodies {
        assert!(body.len() < 256 * 1024);
        let response = app
            .http()
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(path),
            )
            .bearer_auth(&app.admin.session_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_client_error(), "{method} {path}: {status}");
        assert!(
            text.len() < ERROR_BODY_BOUND,
            "{method} {path}: a {status} of {} bytes",
            text.len()
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["success"], false);
    }
}

#[tokio::test]
async fn a_long_error_list_shows_the_first_50_fields_and_counts_the_rest() {
    let app = spawn_app().await;
    let fields: Vec<String> = (0..120).map(|i| format!("\"unknown_{i:03}\":0")).collect();
    let response = app
        .http()
        .patch(app.url("/v1/me"))
        .bearer_auth(&app.admin.session_token)
        .header("content-type", "application/json")
        .body(format!("{{{}}}", fields.join(",")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["errors"].as_array().unwrap().len(), 50, "{error}");
    assert_eq!(error["details"].as_object().unwrap().len(), 50, "{error}");
    assert_eq!(error["errors"][0]["field"], "unknown_000");
    assert_eq!(error["truncated"], 70, "{error}");
}

#[tokio::test]
async fn heads_over_our_limits_are_answered_in_the_envelope_over_raw_tcp() {
    let app = spawn_app().await;
    let address = app.socket_address();
    let long_query = "q".repeat(9 * 1024);
    let request = format!("GET /v1/me?{long_query} HTTP/1.1\r\nHost: test\r\n\r\n");
    exchange(address, request.as_bytes())
        .await
        .assert_envelope(414, "URI_TOO_LONG");

    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let request = format!("GET /v1/me HTTP/1.1\r\nHost: test\r\n{many}\r\n");
    exchange(address, request.as_bytes())
        .await
        .assert_envelope(431, "HEADERS_TOO_LARGE");

    let big = "b".repeat(17 * 1024);
    let request = format!("GET /v1/me HTTP/1.1\r\nHost: test\r\nX-Big: {big}\r\n\r\n");
    let response = exchange(address, request.as_bytes()).await;
    response.assert_envelope(431, "HEADERS_TOO_LARGE");
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));

    // Beyond hyper's own ceilings (a 64 KiB head) and for a request line it cannot parse,
    // hyper answers by itself, with no body: documented, and never a hang.
    let huge = "b".repeat(80 * 1024);
    let request = format!("GET /v1/me HTTP/1.1\r\nHost: test\r\nX-Big: {huge}\r\n\r\n");
    assert_eq!(exchange(address, request.as_bytes()).await.status, 431);
    assert_eq!(exchange(address, b"NOT HTTP\r\n\r\n").await.status, 400);
}

const LISTED: &str = "https://app.example";

async fn spawn_with_cors() -> crate::helpers::TestApp {
    let mut options = TestOptions::default();
    options.edge.cors_origins = vec![LISTED.to_owned()];
    spawn_app_with(options).await
}

fn header_list(headers: &header::HeaderMap, name: header::HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn a_preflight_from_a_listed_origin_allows_the_api_methods_and_headers() {
    let app = spawn_with_cors().await;
    for (path, method) in [
        ("/v1/me", "PATCH"),
        ("/v1/users", "POST"),
        ("/v1/me/sessions", "GET"),
    ] {
        let response = app
            .http()
            .request(Method::OPTIONS, app.url(path))
            .header("origin", LISTED)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization, content-type, if-match, idempotency-key",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], LISTED);
        let methods = header_list(headers, header::ACCESS_CONTROL_ALLOW_METHODS);
        assert!(
            methods.contains(&method.to_ascii_lowercase()),
            "{methods:?}"
        );
        let allowed = header_list(headers, header::ACCESS_CONTROL_ALLOW_HEADERS);
        for name in [
            "authorization",
            "content-type",
            "if-match",
            "idempotency-key",
        ] {
            assert!(allowed.contains(&name.to_owned()), "{allowed:?}");
        }
        assert!(header_list(headers, header::VARY).contains(&"origin".to_owned()));
        assert!(headers.contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn a_listed_origin_sees_the_exposed_headers_and_any_other_origin_no_cors_headers() {
    let app = spawn_with_cors().await;
    let get_me = |origin: &'static str| {
        app.http()
            .get(app.url("/v1/me"))
            .bearer_auth(&app.admin.session_token)
            .header("origin", origin)
            .send()
    };
    let response = get_me(LISTED).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], LISTED);
    let exposed = header_list(headers, header::ACCESS_CONTROL_EXPOSE_HEADERS);
    for name in ["etag", "x-request-id", "retry-after", "location"] {
        assert!(exposed.contains(&name.to_owned()), "{exposed:?}");
    }
    assert!(header_list(headers, header::VARY).contains(&"origin".to_owned()));

    // Another origin is still served (servers and same-origin pages send Origin too), without
    // a single CORS header.
    let response = get_me("https://evil.example").await.unwrap();
    assert_eq!(response.status(), 200);
    let cors: Vec<_> = response
        .headers()
        .keys()
        .filter(|n| n.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{cors:?}");
}

#[tokio::test]
async fn a_preflight_from_another_origin_or_to_an_unknown_path_is_answered_in_the_envelope() {
    let app = spawn_with_cors().await;
    let preflight = |origin: &'static str, path: &str| {
        app.http()
            .request(Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .send()
    };
    let response = preflight("https://evil.example", "/v1/me").await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert!(response.headers().contains_key("allow"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");

    let response = preflight(LISTED, "/v1/nothing").await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn with_no_origins_configured_a_same_origin_docs_page_works_and_gets_no_cors_headers() {
    let app = spawn_app().await;
    let response = app
        .http()
        .post(app.url("/v1/sessions"))
        .header("origin", app.address.clone())
        .json(&serde_json::json!({"org_id": app.admin.org_id, "email": app.admin.admin_email, "password": app.admin.admin_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert!(!response.headers().contains_key("vary"));
}

#[tokio::test]
async fn the_docs_are_sent_with_a_content_security_policy_and_may_not_be_framed() {
    let app = spawn_app().await;
    for path in [
        "/docs",
        "/docs/",
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui.css",
    ] {
        let response = app.http().get(app.url(path)).send().await.unwrap();
        let headers = response.headers().clone();
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        // The policy allows no inline script: the page must not need one.
        if path == "/docs/" {
            let page = response.text().await.unwrap();
            for script in page.split("<script").skip(1) {
                assert!(
                    script.trim_start().starts_with("src="),
                    "inline script: {script}"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_response_says_nosniff() {
    let app = spawn_app().await;
    let requests = [
        app.http().get(app.url("/healthz")),
        app.http().get(app.url("/v1/me")),
        app.http().get(app.url("/no/such/route")),
        app.http().get(app.url("/openapi.json")),
        app.http()
            .get(app.url("/v1/me"))
            .bearer_auth(&app.admin.session_token),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{}",
            response.url()
        );
    }
}
