//! Realistic success bodies, one per response schema, so that Swagger UI and the SDKs' docs show
//! what a call returns instead of `"string"`: the demo admin after `patchMe`'s example, the user
//! `createUser`'s example creates, the team and key of `createTeam` and `createApiKey`. Ids are
//! the demo organization's where they are fixed (`bootstrap`), otherwise fixed samples that the
//! parameter examples reuse. `tests/api/spec.rs` checks every example against its schema.

use serde_json::{Map, Value, json};
use uuid::{Uuid, uuid};

use crate::{
    bootstrap::{DEMO_ADMIN_EMAIL, DEMO_ADMIN_ID, DEMO_ORG_ID},
    domain::Cursor,
};

/// The team of `createTeam`'s example.
pub const TEAM_ID: Uuid = uuid!("0193a5d4-2f1c-7a10-9c3e-5b7d8e9f0a11");
/// The user of `createUser`'s example.
pub const USER_ID: Uuid = uuid!("0193a5d3-8b20-7e44-a1f2-3c4d5e6f7a88");
/// The session of `signIn`'s example.
pub const SESSION_ID: Uuid = uuid!("0193a5d2-1a4b-7c5d-8e6f-7a8b9c0d1e2f");
/// The key of `createApiKey`'s example.
pub const KEY_ID: Uuid = uuid!("0193a5d5-6c7d-7e8f-9a0b-1c2d3e4f5a6b");

/// The endpoint of `createWebhookEndpoint`'s example.
pub const ENDPOINT_ID: Uuid = uuid!("0193a5d6-7d8e-7f90-8a1b-2c3d4e5f6a7b");
/// Where `createWebhookEndpoint`'s example delivers.
pub const WEBHOOK_URL: &str = "https://example.com/webhooks/users-api";
/// An event, as in `webhook-id`.
pub const EVENT_ID: &str = "01JF8Z6Q3W5X7Y9A1B3C5D7E9G";
/// A queued message (`sendTestMail`).
const MAIL_ID: Uuid = uuid!("0193a5d8-9fa0-7b12-8c3d-4e5f6a7b8c9d");
/// A delivery attempt.
const DELIVERY_ID: Uuid = uuid!("0193a5d7-8e9f-7a01-9b2c-3d4e5f6a7b8c");

const CREATED: &str = "2026-11-30T09:41:07.123456Z";
const UPDATED: &str = "2026-11-30T09:52:31.604210Z";
const EXPIRES: &str = "2026-12-01T09:52:30.000000Z";
const SIGNED_IN: &str = "2026-11-30T09:52:30.000000Z";

/// A ticket token as issued (its shape: `tkt_` and 43 base64url characters); redeeming it on
/// a new server answers 404.
pub const TICKET_TOKEN: &str = "tkt_x9Q2mZkR7vLb3NcT8wYp1HdF6sJe4GaU0oViKqWnXyE";

/// The example body of each success response schema, by schema name.
pub fn body(schema: &str) -> Option<Value> {
    let data = match schema {
        "MeEnvelope" => me(),
        "CurrentSessionEnvelope" => session(),
        "RecoveryCodesEnvelope" => json!({"recovery_codes": [
            "k7mq-2xdp-9h", "w3nf-b8rt-4c", "p6zs-e2vk-7y", "h9ca-m4uj-3q", "t2xw-r7gn-8b",
            "f5dk-q3ms-6v", "y8pe-c9hz-2n", "a4uv-j6wt-5k", "n3rb-x8fq-9d", "e7sm-g2kc-4w",
        ]}),
        "UserEnvelope" => grace(),
        "UserListEnvelope" => {
            return Some(json!({
                "success": true,
                "data": [admin_user(), grace()],
                "meta": {"limit": 2, "next_cursor": Cursor::after(USER_ID).encode()}
            }));
        }
        "SignedInEnvelope" => json!({
            "token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJFZERTQSIsImtpZCI6ImIwMmY5NjJiOTllMzg1MGYifQ.\
                      eyJpc3MiOiJ1c2Vycy1hcGkiLCJzdWIiOiIwMTkzYTVkMC0wMDAwIn0.c2lnbmF0dXJl",
            "session": session(),
        }),
        "IssuedTicketEnvelope" => json!({
            "token": TICKET_TOKEN,
            "expires_at": EXPIRES,
            "type": "verify_email"
        }),
        "RedeemedTicketEnvelope" => json!({"type": "verify_email"}),
        "PasswordResetAcceptedEnvelope" => json!({"accepted": true, "link_ttl_seconds": 3600}),
        "EmailVerificationSentEnvelope" => json!({"to": DEMO_ADMIN_EMAIL, "expires_at": EXPIRES}),
        "SessionListEnvelope" | "UserSessionListEnvelope" => {
            return Some(json!({"success": true, "data": [session_info()], "meta": {"limit": 50}}));
        }
        "SessionsRevokedEnvelope" => json!({"revoked": 2}),
        "UnlockedEnvelope" => json!({"was_locked": true}),
        "TeamEnvelope" => team(),
        "TeamListEnvelope" => {
            return Some(json!({"success": true, "data": [team()], "meta": {"limit": 50}}));
        }
        "TeamMemberEnvelope" => json!({
            "team_id": TEAM_ID,
            "user_id": USER_ID,
            "role": "member",
            "created_at": UPDATED
        }),
        "ApiKeyListEnvelope" => {
            let mut key = key();
            key["last_used_at"] = json!(SIGNED_IN);
            json!([key])
        }
        "CreatedApiKeyEnvelope" => {
            let mut key = key();
            key["secret"] = json!("uak_7mQKhwqqD3BH3RUNPXj4S-O2kw2u_g90VtscD6z1bjs");
            key
        }
        "WebhookEndpointEnvelope" => endpoint(),
        "WebhookEndpointWithSecretEnvelope" => {
            let mut endpoint = endpoint();
            endpoint["secret"] = json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwmIqQXk3ZkYs=");
            endpoint
        }
        "WebhookEndpointListEnvelope" => {
            return Some(json!({"success": true, "data": [endpoint()], "meta": {"limit": 50}}));
        }
        "WebhookDeliveryListEnvelope" => {
            return Some(json!({"success": true, "data": [{
                "id": DELIVERY_ID,
                "event_id": EVENT_ID,
                "event_type": "user.updated",
                "event_sequence": 42,
                "attempt": 1,
                "redelivery": false,
                "status": "succeeded",
                "response_status": 204,
                "latency_ms": 87,
                "response_body": "",
                "error": null,
                "next_attempt_at": null,
                "attempted_at": UPDATED
            }], "meta": {"limit": 50}}));
        }
        "RedeliveryEnvelope" => json!({"endpoint_id": ENDPOINT_ID, "event_id": EVENT_ID}),
        "QueuedMessageEnvelope" => json!({
            "id": MAIL_ID,
            "kind": "test",
            "to": DEMO_ADMIN_EMAIL,
        }),
        "HealthEnvelope" => json!({"status": "ok"}),
        "EventListEnvelope" => {
            return Some(json!({
                "success": true,
                "data": [event()],
                "meta": {"next_after": 42, "has_more": false, "limit": 20}
            }));
        }
        "JwkSet" => {
            return Some(json!({"keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": "b02f962b99e3850f",
                "x": "LS-vqWUMaM5ocCRtcTc5wP02WRiKj4jy-F20ySXbsWA"
            }]}));
        }
        _ => return None,
    };
    Some(json!({"success": true, "data": data}))
}

/// `GET /metrics`' example: a few lines of the Prometheus text it serves.
const METRICS: &str = "# TYPE http_requests_total counter\n\
    http_requests_total{method=\"GET\",route=\"/v1/me\",status=\"200\"} 1027\n\
    # TYPE http_request_duration_seconds histogram\n\
    http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/me\",le=\"0.001\"} 1002\n";

/// Puts the example on every success response of `op` whose schema has one.
pub fn add(op: &mut Map<String, Value>) {
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if !status.starts_with('2') {
            continue;
        }
        if let Some(text) = response
            .pointer_mut("/content/text~1plain")
            .and_then(Value::as_object_mut)
        {
            text.insert("example".into(), METRICS.into());
        }
        let Some(media) = response
            .pointer_mut("/content/application~1json")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let example = media
            .get("schema")
            .and_then(|schema| schema["$ref"].as_str())
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .and_then(body);
        if let Some(example) = example {
            media.insert("example".into(), example);
        }
    }
}

/// The demo admin as `GET /v1/me` shows them after `patchMe`'s example.
fn me() -> Value {
    let mut me = admin_user();
    let fields = me.as_object_mut().expect("an object");
    fields.remove("server_metadata");
    fields.remove("locked_until");
    fields.remove("suspension");
    fields.insert("org".into(), json!({"id": DEMO_ORG_ID, "name": "Demo"}));
    fields.insert("session".into(), session());
    fields.insert("pending_email".into(), Value::Null);
    fields.insert("recovery_codes_remaining".into(), Value::Null);
    fields.insert(
        "scopes".into(),
        json!(crate::domain::Scope::ALL.map(|scope| scope.as_str())),
    );
    fields.insert(
        "teams".into(),
        json!([{"id": TEAM_ID, "name": "Platform", "role": "member"}]),
    );
    me
}

/// The demo admin as the admin surface shows them.
fn admin_user() -> Value {
    json!({
        "id": DEMO_ADMIN_ID,
        "org_id": DEMO_ORG_ID,
        "status": "active",
        "role": "admin",
        "display_name": "Ada",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "full_name": "Ada Lovelace",
        "bio": "Mathematician; wrote the first published program.",
        "profile_image_url": null,
        "primary_email": DEMO_ADMIN_EMAIL,
        "primary_email_verified": true,
        "primary_email_auth_enabled": true,
        "phone_number": "+14155550123",
        "phone_number_verified": false,
        "locale": "en-GB",
        "timezone": "Europe/London",
        "has_password": true,
        "otp_auth_enabled": false,
        "selected_team_id": TEAM_ID,
        "selected_team": {"id": TEAM_ID, "name": "Platform"},
        "client_metadata": {"theme": "dark", "onboarding": {"done": true}},
        "client_read_only_metadata": {},
        "server_metadata": {},
        "locked_until": null,
        "suspension": null,
        "active_sessions": 2,
        "created_at": CREATED,
        "updated_at": UPDATED,
        "last_active_at": UPDATED
    })
}

/// The user of `createUser`'s example, as created.
fn grace() -> Value {
    json!({
        "id": USER_ID,
        "org_id": DEMO_ORG_ID,
        "status": "active",
        "role": "member",
        "display_name": "Grace Hopper",
        "first_name": "Grace",
        "last_name": "Hopper",
        "full_name": "Grace Hopper",
        "bio": null,
        "profile_image_url": null,
        "primary_email": "grace@example.com",
        "primary_email_verified": false,
        "primary_email_auth_enabled": true,
        "phone_number": null,
        "phone_number_verified": false,
        "locale": "en-US",
        "timezone": "America/New_York",
        "has_password": false,
        "otp_auth_enabled": false,
        "selected_team_id": null,
        "selected_team": null,
        "client_metadata": {},
        "client_read_only_metadata": {"plan": "pro"},
        "server_metadata": {"crm_id": "C-1042"},
        "locked_until": null,
        "suspension": null,
        "active_sessions": 0,
        "created_at": UPDATED,
        "updated_at": UPDATED,
        "last_active_at": null
    })
}

/// The demo admin's `patchMe` example as the feed shows it.
fn event() -> Value {
    let mut object = admin_user();
    let fields = object.as_object_mut().expect("an object");
    fields.remove("selected_team");
    fields.remove("active_sessions");
    fields.remove("locked_until");
    fields.remove("suspension");
    json!({
        "id": "01JEA7Q2X9M4T8V6K3N5P0R1SZ",
        "type": "user.updated",
        "sequence": 42,
        "occurred_at": UPDATED,
        "org_id": DEMO_ORG_ID,
        "actor": {"type": "user", "id": DEMO_ADMIN_ID},
        "request_id": "0193a5d6-7e8f-7a9b-8c0d-1e2f3a4b5c6d",
        "data": {
            "object": object,
            "changes": [{
                "field": "bio",
                "secret": false,
                "before": null,
                "after": "Mathematician; wrote the first published program."
            }]
        }
    })
}

fn session() -> Value {
    json!({
        "id": SESSION_ID,
        "created_at": SIGNED_IN,
        "expires_at": EXPIRES,
        "authenticated_at": SIGNED_IN,
        "amr": ["pwd"]
    })
}

fn team() -> Value {
    json!({"id": TEAM_ID, "org_id": DEMO_ORG_ID, "name": "Platform", "created_at": CREATED})
}

fn endpoint() -> Value {
    json!({
        "id": ENDPOINT_ID,
        "url": WEBHOOK_URL,
        "description": "CRM sync",
        "event_types": ["user.created", "user.deleted", "user.updated"],
        "disabled": false,
        "failed_attempts": 0,
        "next_attempt_at": null,
        "previous_secret_expires_at": null,
        "created_at": UPDATED,
        "updated_at": UPDATED
    })
}

fn session_info() -> Value {
    json!({
        "id": SESSION_ID,
        "current": true,
        "created_at": SIGNED_IN,
        "expires_at": EXPIRES,
        "last_active_at": UPDATED,
        "client_address": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "browser": "Chrome",
        "os": "Windows 10"
    })
}

fn key() -> Value {
    json!({
        "id": KEY_ID,
        "name": "CI pipeline",
        "scopes": ["users:read", "teams:read"],
        "created_at": UPDATED,
        "expires_at": null,
        "previous_secret_expires_at": null
    })
}
