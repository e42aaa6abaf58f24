//! Swagger UI, the served spec, health, readiness and the JWKS.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::helpers::{AUDIENCE, ISSUER, spawn_app};

#[tokio::test]
async fn docs_serve_swagger_ui_offline_over_the_committed_spec_with_authorization_persisted() {
    let app = spawn_app().await;
    let http = app.http();
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = redirect.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/docs/");

    let index = http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let html = index.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let initializer = http
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    let script = initializer.text().await.unwrap();
    assert!(script.contains("/openapi.json"), "{script}");
    assert!(
        script.contains("\"persistAuthorization\": true"),
        "{script}"
    );
    let bundle = http
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(
        bundle.bytes().await.unwrap().len() > 100_000,
        "the bundle is vendored, not fetched"
    );
}

#[tokio::test]
async fn the_root_redirects_to_swagger_ui_and_stays_out_of_the_spec() {
    let app = spawn_app().await;
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let response = redirect
            .request(method.clone(), app.url("/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "{method}");
        assert_eq!(response.headers()["location"], "/docs/", "{method}");
    }
    let followed = app.http().get(app.url("/")).send().await.unwrap();
    assert_eq!(followed.status(), 200);
    assert_eq!(followed.url().path(), "/docs/");
    let spec: Value = serde_json::from_str(include_str!("../../spec/openapi.json")).unwrap();
    assert!(spec["paths"].get("/").is_none());
}

/// The page is titled and introduced as users-api, without Swagger's top bar; operation ids
/// never wrap mid-word; tags keep the spec's order (no `tagsSorter`).
#[tokio::test]
async fn swagger_ui_is_branded_as_users_api() {
    let app = spawn_app().await;
    let http = app.http();
    let html = http
        .get(app.url("/docs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<title>users-api</title>"), "{html}");
    assert!(html.contains("<strong>users-api</strong>"), "{html}");
    assert!(html.contains("Authorize"), "{html}");
    let rule = html
        .split(".swagger-ui .opblock .opblock-summary-operation-id {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .unwrap_or_else(|| panic!("no rule for operation ids in {html}"));
    assert!(rule.contains("word-break: normal"), "{rule}");
    assert!(rule.contains("white-space: nowrap"), "{rule}");
    let again = http.get(app.url("/docs/index.html")).send().await.unwrap();
    assert_eq!(again.text().await.unwrap(), html);
    let script = http
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(script.contains("\"layout\": \"BaseLayout\""), "{script}");
    assert!(!script.contains("Sorter"), "{script}");
}

#[tokio::test]
async fn the_served_spec_is_the_committed_spec_as_json_and_yaml() {
    let app = spawn_app().await;
    let committed: Value = serde_json::from_str(include_str!("../../spec/openapi.json")).unwrap();
    let json: Value = app
        .http()
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json, committed);
    let yaml = app
        .http()
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let yaml: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(yaml, committed);
}

#[tokio::test]
async fn health_and_readiness_answer_ok_in_the_envelope() {
    let app = spawn_app().await;
    let health = app.anonymous().healthz().send().await.unwrap().into_inner();
    assert!(health.success);
    assert_eq!(health.data.status, "ok");
    let ready = app.anonymous().readyz().send().await.unwrap().into_inner();
    assert_eq!(ready.data.status, "ok");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_in_prometheus_text() {
    let app = spawn_app().await;
    let scrape = || async {
        let response = app.http().get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        response.text().await.unwrap()
    };
    // Counters are process-wide and other tests run in parallel: compare before and after.
    let series = r#"http_requests_total{method="GET",route="/v1/me",status="200"}"#;
    let count = |text: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    let before = count(&scrape().await);
    app.client().get_me().send().await.unwrap();
    let unknown = format!("/v1/nothing/{}", app.admin.user_id);
    let response = app.http().get(app.url(&unknown)).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let after = scrape().await;
    assert!(count(&after) > before, "{series} did not grow:\n{after}");
    assert!(after.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/v1/me""#));
    assert!(after.contains(r#"route="unmatched",status="404""#));
    assert!(!after.contains(&unknown), "a raw path became a label");
}

#[tokio::test]
async fn an_unreachable_database_answers_503_with_retry_after_in_the_envelope() {
    let app = spawn_app().await;
    if !app.cut_off_database().await {
        eprintln!("SQLite is embedded and cannot become unreachable; this runs on PostgreSQL");
        return;
    }
    for path in ["/readyz", "/v1/me"] {
        let response = app
            .http()
            .get(app.url(path))
            .bearer_auth(&app.admin.session_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "{path}");
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after >= 1);
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
        assert_eq!(body["error"]["request_id"], request_id.as_str());
    }
}

#[tokio::test]
async fn the_jwks_publishes_the_key_that_verifies_session_tokens() {
    let app = spawn_app().await;
    let jwks = app
        .anonymous()
        .get_jwks()
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jwks.keys.len(), 1);
    let key = &jwks.keys[0];
    assert_eq!(
        (key.kty.as_str(), key.crv.as_str(), key.alg.as_str()),
        ("OKP", "Ed25519", "EdDSA")
    );

    let token = &app.admin.session_token;
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
    let decoding = jsonwebtoken::DecodingKey::from_ed_components(&key.x).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], app.admin.user_id.to_string());
    assert_eq!(claims["org"], app.admin.org_id.to_string());
    for claim in ["sid", "iat", "exp"] {
        assert!(claims.get(claim).is_some(), "{claim} missing");
    }
    assert_eq!(URL_SAFE_NO_PAD.decode(&key.x).unwrap().len(), 32);
}
