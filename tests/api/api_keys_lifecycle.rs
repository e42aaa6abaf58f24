//! API keys over their life: an optional expiry (401 from then on, still listed), `last_used_at`
//! written at most once a minute, and rolling the secret with a grace period for the old one.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use users_api_client::types::{ApiKeyCreate, ApiKeyRoll, CreatedApiKey, ScopeName};

use crate::{
    envelope::call,
    fixtures::{code, key_with},
    helpers::{TestApp, spawn_app},
};

fn reporting(expires_at: Option<chrono::DateTime<Utc>>) -> ApiKeyCreate {
    ApiKeyCreate {
        name: "reporting".parse().unwrap(),
        scopes: vec![ScopeName::UsersRead],
        expires_at,
    }
}

async fn create(app: &TestApp, body: ApiKeyCreate) -> CreatedApiKey {
    let created = app.client().create_api_key().body(body).send().await;
    created.unwrap().into_inner().data
}

async fn roll(app: &TestApp, key: &CreatedApiKey, grace: Option<u32>) -> CreatedApiKey {
    let body = ApiKeyRoll {
        grace_period_seconds: grace,
    };
    let client = app.client();
    let rolled = client.roll_api_key().key_id(key.id).body(body).send();
    rolled.await.unwrap().into_inner().data
}

/// Whether `secret` authenticates (a list of users needs `users:read`, which the keys hold).
async fn works(app: &TestApp, secret: &str) -> bool {
    match app.client_with(secret).list_users().send().await {
        Ok(_) => true,
        Err(error) => {
            assert_eq!(error.status().map(|s| s.as_u16()), Some(401), "{error:?}");
            false
        }
    }
}

#[tokio::test]
async fn a_key_works_until_its_expiry_then_answers_401_and_stays_listed() {
    let app = spawn_app().await;
    let at = Utc::now() + chrono::TimeDelta::milliseconds(1500);
    let key = create(&app, reporting(Some(at))).await;
    let shown = key.expires_at.expect("expiry shown");
    assert!((shown - at).num_milliseconds().abs() < 1, "{shown} vs {at}");
    assert!(works(&app, &key.secret).await);

    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(!works(&app, &key.secret).await);
    let listed = app.client().list_api_keys().send().await.unwrap();
    let listed = listed.into_inner().data;
    let expired = listed
        .iter()
        .find(|k| k.id == key.id)
        .expect("still listed");
    assert_eq!(expired.expires_at, Some(shown));
    // An expired key is no longer live: it cannot be rolled back to life.
    let body = ApiKeyRoll {
        grace_period_seconds: None,
    };
    let client = app.client();
    let reply = client.roll_api_key().key_id(key.id).body(body).send();
    assert_eq!(code(reply.await), (404, "NOT_FOUND".into()));
}

#[tokio::test]
async fn an_expiry_must_be_a_future_rfc_3339_time() {
    let app = spawn_app().await;
    let past = Utc::now() - chrono::TimeDelta::seconds(1);
    let client = app.client();
    let reply = client.create_api_key().body(reporting(Some(past)));
    assert_eq!(code(reply.send().await), (422, "INVALID_EXPIRY".into()));
    for (bad, status) in [
        (json!("tomorrow"), 400),
        (json!(null), 400),
        (json!(5), 400),
    ] {
        let body = json!({"name": "ci", "scopes": ["users:read"], "expires_at": bad});
        let (got, _, reply) = call(
            app.http()
                .post(app.url("/v1/api-keys"))
                .bearer_auth(&app.admin.session_token)
                .json(&body),
        )
        .await;
        assert_eq!(got.as_u16(), status, "{bad}: {reply}");
        assert_eq!(reply["error"]["code"], "MALFORMED_REQUEST", "{bad}");
    }
    let listed = app.client().list_api_keys().send().await.unwrap();
    assert_eq!(listed.into_inner().data.len(), 1, "only the bootstrap key");
}

#[tokio::test]
async fn last_used_at_is_written_on_use_at_most_once_a_minute() {
    let app = spawn_app().await;
    let key = create(&app, reporting(None)).await;
    let last_used = |app: &TestApp| {
        let client = app.client();
        async move {
            let listed = client.list_api_keys().send().await.unwrap().into_inner();
            listed
                .data
                .into_iter()
                .find(|k| k.id == key.id)
                .unwrap()
                .last_used_at
        }
    };
    assert_eq!(last_used(&app).await, None, "never used");
    let before = Utc::now();
    assert!(works(&app, &key.secret).await);
    let first = last_used(&app).await.expect("written on first use");
    assert!(first >= before - chrono::TimeDelta::seconds(1), "{first}");
    assert!(works(&app, &key.secret).await);
    assert_eq!(
        last_used(&app).await,
        Some(first),
        "not rewritten within the minute"
    );
}

#[tokio::test]
async fn a_roll_gives_a_new_secret_and_keeps_the_old_one_for_the_grace_period() {
    let app = spawn_app().await;
    let key = create(&app, reporting(None)).await;
    let before = Utc::now();
    let rolled = roll(&app, &key, Some(600)).await;
    assert_eq!(rolled.id, key.id);
    assert_eq!((&rolled.name, &rolled.scopes), (&key.name, &key.scopes));
    assert_ne!(rolled.secret, key.secret);
    assert!(rolled.secret.starts_with("uak_"));
    let grace_ends = rolled.previous_secret_expires_at.expect("grace shown");
    let expected = before + chrono::TimeDelta::seconds(600);
    assert!(
        (grace_ends - expected).num_seconds().abs() <= 5,
        "{grace_ends}"
    );
    assert!(works(&app, &rolled.secret).await, "the new secret");
    assert!(
        works(&app, &key.secret).await,
        "the old one, in its grace period"
    );

    // A second roll ends the oldest secret at once: two secrets at most.
    let again = roll(&app, &rolled, None).await;
    assert!(!works(&app, &key.secret).await, "the first secret");
    assert!(
        works(&app, &rolled.secret).await,
        "the second, now in its grace"
    );
    assert!(works(&app, &again.secret).await);
    let day = again.previous_secret_expires_at.unwrap() - Utc::now();
    assert!(
        (day.num_minutes() - 24 * 60).abs() <= 1,
        "24 h by default: {day}"
    );

    // No grace: the secret it had stops at once.
    let last = roll(&app, &again, Some(0)).await;
    assert_eq!(last.previous_secret_expires_at, None);
    assert!(!works(&app, &again.secret).await);
    assert!(works(&app, &last.secret).await);
}

#[tokio::test]
async fn a_roll_is_recorded_without_secrets_and_refused_to_non_admins_and_bad_bodies() {
    let app = spawn_app().await;
    let key = create(&app, reporting(None)).await;
    let rolled = roll(&app, &key, Some(60)).await;
    let client = app.client();
    let rolled_type = vec![users_api_client::types::EventType::ApiKeyRolled];
    let feed = client.list_events().type_(rolled_type).send().await;
    let feed = feed.unwrap().into_inner().data;
    assert_eq!(feed.len(), 1);
    let event = serde_json::to_value(&feed[0]).unwrap();
    assert_eq!(event["data"]["object"]["id"], json!(key.id));
    assert_eq!(event["actor"]["type"], "user");
    let text = event.to_string();
    for secret in [&key.secret, &rolled.secret] {
        assert!(!text.contains(secret.as_str()), "a secret in {text}");
    }

    let as_key = key_with(&app, &["users:write", "teams:write"]).await;
    let body = ApiKeyRoll {
        grace_period_seconds: None,
    };
    let reply = as_key.roll_api_key().key_id(key.id).body(body.clone());
    assert_eq!(
        code(reply.send().await).0,
        403,
        "API keys never manage keys"
    );
    let unknown = client.roll_api_key().key_id(uuid::Uuid::now_v7());
    assert_eq!(code(unknown.body(body).send().await).0, 404);
    let path = format!("/v1/api-keys/{}/roll", key.id);
    for bad in [
        json!({"grace_period_seconds": null}),
        json!({"grace_period_seconds": 604_801}),
        json!({"grace_period_seconds": -1}),
        json!({"grace": 5}),
    ] {
        let (got, _, reply) = call(
            app.http()
                .post(app.url(&path))
                .bearer_auth(&app.admin.session_token)
                .json(&bad),
        )
        .await;
        assert_eq!(got.as_u16(), 400, "{bad}: {reply}");
    }
    assert!(
        works(&app, &rolled.secret).await,
        "refused rolls changed nothing"
    );
}
