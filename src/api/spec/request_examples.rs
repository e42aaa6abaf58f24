//! Realistic request bodies, so that Swagger UI pre-fills something that works instead of
//! `"string"` and `additionalProp1`: executed unedited by the demo organization's admin, each
//! of `patchMe`, `createUser`, `createTeam` and `createApiKey` succeeds (the first time: the
//! address and the team name are then taken), which `tests/api/examples.rs` proves against a
//! live server. Sign-in's example is the demo admin's address; the organization id and the
//! password are the ones the first start printed.

use serde_json::{Map, Value, json};

use crate::bootstrap::DEMO_ADMIN_EMAIL;

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
            "display_name": "Grace B. Hopper",
            "role": "viewer",
            "server_metadata": {"crm_id": "C-2048"}
        }),
        "createTeam" => json!({"name": "Platform"}),
        "patchTeam" => json!({"name": "Platform Engineering"}),
        "createApiKey" => json!({"name": "CI pipeline", "scopes": ["users:read", "teams:read"]}),
        "signIn" => json!({
            "org_id": "0193c1a2-7d4e-7c3b-9a8f-2b1c0d9e8f7a",
            "email": DEMO_ADMIN_EMAIL,
            "password": "the password printed at first start"
        }),
        _ => return None,
    })
}

/// Puts each operation's example body on its request body's media type.
pub fn add(op: &mut Map<String, Value>) {
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
