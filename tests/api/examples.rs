//! The spec's examples work as Swagger UI pre-fills them, against the demo organization as a
//! loopback first start creates it: sign-in's example, sent unedited, is a 201; then, with the
//! token it returned, every operation sent with its pre-filled parameters and body succeeds, or
//! fails only because of state: a sample id that names no row here (404), the demo admin who is
//! the organization's last admin (409). The examples are read from the spec the server serves,
//! so what a person sees in Swagger UI is what is tested.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use users_api::bootstrap::{self, DemoPassword};

use crate::helpers::{TestApp, TestOptions, spawn_app_with};

/// What a pre-filled operation may answer besides success, and why.
fn refused_by_state(id: &str) -> Option<(StatusCode, &'static str)> {
    match id {
        // The sample ids of teams, keys and sessions name no row in a new organization.
        "getTeam"
        | "patchTeam"
        | "deleteTeam"
        | "addTeamMember"
        | "removeTeamMember"
        | "deleteApiKey"
        | "rollApiKey"
        | "revokeMySession"
        | "revokeUserSession"
        | "getWebhookEndpoint"
        | "patchWebhookEndpoint"
        | "deleteWebhookEndpoint"
        | "rotateWebhookSecret"
        | "listWebhookDeliveries"
        | "redeliverWebhookEvent"
        | "redeemTicket" => Some((StatusCode::NOT_FOUND, "NOT_FOUND")),
        // `user_id` is the demo admin, the organization's only admin.
        "deleteUser" => Some((StatusCode::CONFLICT, "LAST_ADMIN")),
        // The demo admin's address is verified already, so no code was sent to confirm.
        "sendEmailVerification" => Some((StatusCode::CONFLICT, "TICKET_NOT_APPLICABLE")),
        "confirmEmailVerification" => Some((StatusCode::NOT_FOUND, "NOT_FOUND")),
        // The demo admin has no 2FA, so no recovery codes to replace.
        "regenerateRecoveryCodes" => Some((StatusCode::FORBIDDEN, "FORBIDDEN")),
        _ => None,
    }
}

#[tokio::test]
async fn every_pre_filled_operation_works_against_the_demo_organization() {
    // The webhook example's host needs DNS, which test machines may lack; the rules
    // themselves are tested in `webhooks_ssrf`.
    // As in the demo run, the console mailer takes `sendTestMail`'s message, with
    // links under the demo run's public URL.
    let console = crate::mail_sink::settings_from(&[
        "users-api".into(),
        "--mailer".into(),
        "console".into(),
        "--public-url".into(),
        "http://127.0.0.1:8080/".into(),
    ]);
    let app = spawn_app_with(TestOptions {
        allow_private_webhook_urls: true,
        mailer: Some(std::sync::Arc::new(console)),
        ..TestOptions::default()
    })
    .await;
    bootstrap::create_demo_org(&app.state.db, &app.state.tokens, DemoPassword::WellKnown)
        .await
        .unwrap();
    let spec: Value = serde_json::from_str(users_api::api::spec_json().as_str()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations.push((op["operationId"].as_str().unwrap(), method, path, op));
        }
    }
    let mut operation = |wanted: &str| {
        let position = operations.iter().position(|(id, ..)| *id == wanted);
        operations.remove(position.unwrap_or_else(|| panic!("no operation {wanted}")))
    };

    let (_, method, path, op) = operation("signIn");
    let (status, signed_in) = send(prefilled(&app, method, path, op)).await;
    assert_eq!(status, StatusCode::CREATED, "signIn: {signed_in}");
    let token = signed_in["data"]["token"].as_str().unwrap().to_owned();
    // Last: they end the session the others use (revoking all of the demo admin's sessions
    // runs after the loop, with a session of its own).
    let sign_out = operation("signOut");
    let revoke_all = operation("revokeUserSessions");

    // The bodies a person tries first, then every other operation (listUsers' filters find
    // the user createUser's example made).
    let first = ["patchMe", "createUser", "createTeam", "createApiKey"].map(operation);
    let mut tried = Vec::new();
    for (id, method, path, op) in first.into_iter().chain(operations).chain([sign_out]) {
        let request = prefilled(&app, method, path, op).bearer_auth(&token);
        let (status, body) = send(request).await;
        match refused_by_state(id) {
            Some((expected, code)) => {
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (expected, Some(code)),
                    "{id}: {body}"
                );
            }
            None => assert!(status.is_success(), "{id}: {status} {body}"),
        }
        match id {
            "patchMe" => assert_eq!(body["data"]["primary_email"], bootstrap::DEMO_ADMIN_EMAIL),
            "listUsers" => assert_eq!(body["data"][0]["primary_email"], "grace@example.com"),
            _ => {}
        }
        tried.push(id);
    }
    assert!(tried.len() > 20, "{tried:?}");
    let (_, signed_in) = send(prefilled(&app, method, path, op)).await;
    let token = signed_in["data"]["token"].as_str().unwrap();
    let (_, method, path, op) = revoke_all;
    let (status, body) = send(prefilled(&app, method, path, op).bearer_auth(token)).await;
    assert_eq!(status, StatusCode::OK, "revokeUserSessions: {body}");
    assert!(body["data"]["revoked"].as_u64().unwrap() >= 1, "{body}");
}

/// The request Swagger UI sends for `op` as pre-filled: every parameter's example in the
/// path, the query or a header, and the body's example.
fn prefilled(app: &TestApp, method: &str, path: &str, op: &Value) -> RequestBuilder {
    let mut path = path.to_owned();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    for param in op["parameters"].as_array().into_iter().flatten() {
        let name = param["name"].as_str().unwrap();
        let example = &param["example"];
        let text = |value: &Value| match value {
            Value::String(text) => text.clone(),
            Value::Null => panic!("{}: {name} has no example", op["operationId"]),
            other => other.to_string(),
        };
        // An array is sent as Swagger UI sends an exploded query parameter: once per item.
        if let (Value::Array(items), Some("query")) = (example, param["in"].as_str()) {
            query.extend(items.iter().map(|item| (name.to_owned(), text(item))));
            continue;
        }
        let value = text(example);
        match param["in"].as_str().unwrap() {
            "path" => path = path.replace(&format!("{{{name}}}"), &value),
            "query" => query.push((name.to_owned(), value)),
            _ => headers.push((name.to_owned(), value)),
        }
    }
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request = app.http().request(method, app.url(&path)).query(&query);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match op.pointer("/requestBody/content/application~1json/example") {
        Some(body) => request.json(body),
        None => request,
    }
}

/// Sends `request`; the body as JSON where it is JSON (`null` otherwise: 204s, metrics).
async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
