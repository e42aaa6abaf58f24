//! Realistic request bodies, so that Swagger UI pre-fills something that works instead of
//! `"string"` and `additionalProp1`: executed unedited against the demo organization, sign-in
//! (`signIn`, with the demo admin's well-known credentials, see `bootstrap`) and then, as that
//! admin, each of `patchMe`, `createUser`, `createTeam` and `createApiKey` succeeds (the first
//! time: the address and the team name are then taken), which `tests/api/examples.rs` proves
//! against a live server and the Swagger UI judge in a browser.
//!
//! Parameters have examples too, and Swagger UI pre-fills (and sends) them all, optional ones
//! included: so each is one that works as sent. `user_id` is the demo admin's, other ids are
//! the samples of the response examples (a 404 until such a row exists), `If-Match` is `*`
//! (any version), and a list's filters match the user `createUser`'s example creates.

use serde_json::{Map, Value, json};

use super::response_examples::{
    ENDPOINT_ID, EVENT_ID, KEY_ID, SESSION_ID, TEAM_ID, TICKET_TOKEN, USER_ID, WEBHOOK_URL,
};
use crate::{
    bootstrap::{DEMO_ADMIN_EMAIL, DEMO_ADMIN_ID, DEMO_ADMIN_PASSWORD, DEMO_ORG_ID},
    domain::Cursor,
};

/// The example body of each operation that takes one, by operation id.
pub fn body(operation_id: &str) -> Option<Value> {
    Some(match operation_id {
        "patchMe" => json!({
            "display_name": "Ada",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "bio": "Mathematician; wrote the first published program.",
            "locale": "en-GB",
            "timezone": "Europe/London",
            "phone_number": "+14155550123",
            "client_metadata": {"theme": "dark", "onboarding": {"done": true}}
        }),
        "createUser" => json!({
            "primary_email": "grace@example.com",
            "display_name": "Grace Hopper",
            "first_name": "Grace",
            "last_name": "Hopper",
            "locale": "en-US",
            "timezone": "America/New_York",
            "role": "member",
            "client_read_only_metadata": {"plan": "pro"},
            "server_metadata": {"crm_id": "C-1042"}
        }),
        "patchUser" => json!({
            "display_name": "Ada, Countess of Lovelace",
            "server_metadata": {"crm_id": "C-2048"}
        }),
        "createTeam" => json!({"name": "Platform"}),
        "patchTeam" => json!({"name": "Platform Engineering"}),
        "createApiKey" => json!({"name": "CI pipeline", "scopes": ["users:read", "teams:read"]}),
        "rollApiKey" => json!({"grace_period_seconds": 3600}),
        "createWebhookEndpoint" => json!({
            "url": WEBHOOK_URL,
            "event_types": ["user.created", "user.updated", "user.deleted"],
            "description": "CRM sync"
        }),
        "patchWebhookEndpoint" => json!({
            "event_types": ["user.created", "user.updated", "user.deleted", "user.suspended"],
            "disabled": false
        }),
        // The demo run prints it (console mailer); a server without a mailer answers 503.
        "sendTestMail" => json!({"to": DEMO_ADMIN_EMAIL}),
        // The demo admin's own address (a ticket to hand to them: 201).
        "createUserTicket" => json!({"type": "verify_email", "ttl_seconds": 86400}),
        // A token of the ticket's shape that no server issued: 404 until a real one is sent.
        "redeemTicket" => json!({"token": TICKET_TOKEN, "type": "verify_email"}),
        // Always 202; the demo run prints the message (console mailer) when the account exists.
        "requestPasswordReset" => json!({"org_id": DEMO_ORG_ID, "email": DEMO_ADMIN_EMAIL}),
        // A code of the right shape; the real one is in the verification message.
        "confirmEmailVerification" => json!({"code": "482913"}),
        // A code of the demo admin's authenticator, once 2FA is on: 403 until then.
        "regenerateRecoveryCodes" => json!({"totp_code": "123456"}),
        "reauthenticate" => json!({"password": DEMO_ADMIN_PASSWORD}),
        "signIn" => json!({
            "org_id": DEMO_ORG_ID,
            "email": DEMO_ADMIN_EMAIL,
            "password": DEMO_ADMIN_PASSWORD
        }),
        _ => return None,
    })
}

/// The example of a parameter, by name (a name means the same in every operation).
pub fn parameter(name: &str) -> Option<Value> {
    Some(match name {
        "user_id" => json!(DEMO_ADMIN_ID),
        "team_id" => json!(TEAM_ID),
        "key_id" => json!(KEY_ID),
        "session_id" => json!(SESSION_ID),
        "endpoint_id" => json!(ENDPOINT_ID),
        "event_id" => json!(EVENT_ID),
        "limit" => json!(20),
        "cursor" => json!(Cursor::after(USER_ID).encode()),
        "email" => json!("grace@example.com"),
        "q" => json!("gra"),
        "after" => json!(0),
        "type" => json!(["user.updated", "user.deleted"]),
        "wait" => json!(0),
        "If-Match" => json!("*"),
        "Idempotency-Key" => json!("3f0d5b8e-2c1a-4e6f-9b7d-8a0c1e2f3a4b"),
        _ => return None,
    })
}

/// Puts each operation's example body on its request body's media type, and each
/// parameter's example on it.
pub fn add(op: &mut Map<String, Value>) {
    for param in super::parameters(op) {
        let example = param["name"].as_str().and_then(parameter);
        if let (Some(example), Some(param)) = (example, param.as_object_mut()) {
            param.insert("example".into(), example);
        }
    }
    let Some(example) = op.get("operationId").and_then(Value::as_str).and_then(body) else {
        return;
    };
    if let Some(media) = op
        .get_mut("requestBody")
        .and_then(|body| body.pointer_mut("/content/application~1json"))
        .and_then(Value::as_object_mut)
    {
        media.insert("example".into(), example);
    }
}
