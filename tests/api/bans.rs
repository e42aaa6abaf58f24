//! Timed bans (issue 18): `status: suspended` with `suspension: {reason, until}` holds until
//! `until` and then lapses by itself, judged at sign-in and on every request; the reason is
//! the admins' only; terms that cannot hold are refused whole.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use users_api_client::{
    UserPatch,
    types::{EventType, Role, SettableStatus, SuspensionTerms, User, UserCreate, UserStatus},
};

use crate::{
    fixtures::{code, key_client, sign_in},
    helpers::{TestApp, spawn_app},
};

const PASSWORD: &str = "correct horse battery staple 42";

/// A member with `PASSWORD`.
async fn member(app: &TestApp, email: &str) -> User {
    let body = UserCreate {
        primary_email: Some(email.parse().unwrap()),
        password: Some(PASSWORD.parse().unwrap()),
        role: Some(Role::Member),
        ..Default::default()
    };
    let created = key_client(app).create_user().body(body).send().await;
    created.unwrap().into_inner().data
}

async fn patch(app: &TestApp, user: &User, body: UserPatch) -> Result<User, (u16, String)> {
    let reply = key_client(app)
        .patch_user()
        .user_id(user.id)
        .body(body)
        .send()
        .await;
    match reply {
        Ok(ok) => Ok(ok.into_inner().data),
        Err(_) => Err(code(reply)),
    }
}

fn suspend(reason: Option<&str>, until: Option<DateTime<Utc>>) -> UserPatch {
    UserPatch {
        status: Some(SettableStatus::Suspended),
        suspension: Some(SuspensionTerms {
            reason: reason.map(|r| r.parse().unwrap()),
            until,
        }),
        ..Default::default()
    }
}

async fn signs_in(app: &TestApp, email: &str) -> bool {
    sign_in(app, &app.admin.org_id, email, PASSWORD, None)
        .await
        .is_ok()
}

async fn get(app: &TestApp, user: &User) -> User {
    let got = key_client(app).get_user().user_id(user.id).send().await;
    got.unwrap().into_inner().data
}

#[tokio::test]
async fn a_timed_ban_holds_until_its_end_and_then_lapses_by_itself() {
    let app = spawn_app().await;
    let ada = member(&app, "ada@acme.test").await;
    let token = sign_in(&app, &app.admin.org_id, "ada@acme.test", PASSWORD, None)
        .await
        .unwrap()
        .into_inner()
        .data
        .token;
    let until = Utc::now() + TimeDelta::seconds(2);
    let banned = patch(&app, &ada, suspend(Some("chargeback fraud"), Some(until)))
        .await
        .unwrap();
    assert_eq!(banned.status, UserStatus::Suspended);
    let terms = banned.suspension.expect("the terms are shown to admins");
    assert_eq!(terms.reason.as_deref(), Some("chargeback fraud"));
    assert_eq!(
        terms.until.unwrap().timestamp_micros(),
        until.timestamp_micros()
    );

    // Suspended: the session is gone and sign-in keeps the single 401.
    assert_eq!(crate::fixtures::me_status(&app, &token).await, 401);
    let refused = sign_in(&app, &app.admin.org_id, "ada@acme.test", PASSWORD, None).await;
    let (status, body) = crate::fixtures::failure(refused);
    assert_eq!(
        (status, body.error.code.to_string()),
        (401, "UNAUTHORIZED".into())
    );
    assert!(!serde_json::to_string(&body).unwrap().contains("chargeback"));

    // Past `until`, with nothing written: active again, and signing in works.
    let left = until - Utc::now() + TimeDelta::milliseconds(300);
    tokio::time::sleep(left.to_std().unwrap_or_default()).await;
    let lapsed = get(&app, &ada).await;
    assert_eq!(lapsed.status, UserStatus::Active);
    assert!(lapsed.suspension.is_none());
    let signed_in = sign_in(&app, &app.admin.org_id, "ada@acme.test", PASSWORD, None).await;
    let token = signed_in
        .expect("a lapsed ban signs in")
        .into_inner()
        .data
        .token;
    assert_eq!(crate::fixtures::me_status(&app, &token).await, 200);

    // The user never sees the reason, nor that there were terms.
    let me = app
        .http()
        .get(app.url("/v1/me"))
        .bearer_auth(&token)
        .send()
        .await;
    let me: Value = me.unwrap().json().await.unwrap();
    assert_eq!(me["data"]["status"], "active");
    assert!(me["data"].get("suspension").is_none(), "{me}");
    assert!(!me.to_string().contains("chargeback"));
}

#[tokio::test]
async fn an_indefinite_suspension_lasts_until_an_admin_reactivates_and_clears_its_terms() {
    let app = spawn_app().await;
    let ada = member(&app, "ada@acme.test").await;
    let body = UserPatch {
        status: Some(SettableStatus::Suspended),
        ..Default::default()
    };
    let suspended = patch(&app, &ada, body).await.unwrap();
    let terms = suspended.suspension.expect("suspended without terms");
    assert_eq!((terms.reason, terms.until), (None, None));
    assert!(!signs_in(&app, "ada@acme.test").await);

    // New terms for a suspended user replace the old ones.
    let until = Utc::now() + TimeDelta::days(7);
    let replaced = patch(&app, &ada, suspend(Some("spam"), Some(until))).await;
    let terms = replaced.unwrap().suspension.unwrap();
    assert_eq!(terms.reason.as_deref(), Some("spam"));
    assert!(!signs_in(&app, "ada@acme.test").await);

    let body = UserPatch {
        status: Some(SettableStatus::Active),
        ..Default::default()
    };
    let active = patch(&app, &ada, body).await.unwrap();
    assert!(active.suspension.is_none());
    assert!(signs_in(&app, "ada@acme.test").await);
    // Suspending again without terms does not bring the old ones back.
    let body = UserPatch {
        status: Some(SettableStatus::Suspended),
        ..Default::default()
    };
    let again = patch(&app, &ada, body).await.unwrap().suspension.unwrap();
    assert_eq!((again.reason, again.until), (None, None));
}

#[tokio::test]
async fn suspending_again_after_a_ban_lapsed_revokes_sessions_and_records_user_suspended() {
    let app = spawn_app().await;
    let ada = member(&app, "ada@acme.test").await;
    let until = Utc::now() + TimeDelta::seconds(1);
    patch(&app, &ada, suspend(None, Some(until))).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let token = sign_in(&app, &app.admin.org_id, "ada@acme.test", PASSWORD, None)
        .await
        .expect("lapsed")
        .into_inner()
        .data
        .token;
    patch(&app, &ada, suspend(Some("again"), None))
        .await
        .unwrap();
    assert_eq!(crate::fixtures::me_status(&app, &token).await, 401);

    let client = app.client();
    let feed = client
        .list_events()
        .type_(vec![EventType::UserSuspended])
        .send();
    let feed = feed.await.unwrap().into_inner().data;
    assert_eq!(feed.len(), 2, "one per suspension");
    let last = serde_json::to_value(feed.last().unwrap()).unwrap();
    let terms = &last["data"]["object"]["suspension"];
    assert_eq!(terms["reason"], "again", "{last}");
    assert_eq!(terms["until"], Value::Null);
}

#[tokio::test]
async fn terms_that_cannot_hold_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let ada = member(&app, "ada@acme.test").await;
    let past = Utc::now() - TimeDelta::seconds(1);
    assert_eq!(
        patch(&app, &ada, suspend(Some("late"), Some(past)))
            .await
            .unwrap_err(),
        (422, "INVALID_SUSPENSION".into())
    );
    let without_status = UserPatch {
        suspension: Some(SuspensionTerms::default()),
        ..Default::default()
    };
    assert_eq!(
        patch(&app, &ada, without_status).await.unwrap_err(),
        (422, "INVALID_SUSPENSION".into())
    );
    let with_active = UserPatch {
        status: Some(SettableStatus::Active),
        suspension: Some(SuspensionTerms::default()),
        ..Default::default()
    };
    assert_eq!(
        patch(&app, &ada, with_active).await.unwrap_err(),
        (422, "INVALID_SUSPENSION".into())
    );
    let invisible = suspend(Some("\u{200b}"), None);
    assert_eq!(
        patch(&app, &ada, invisible).await.unwrap_err(),
        (422, "INVALID_SUSPENSION".into())
    );
    assert!(get(&app, &ada).await.suspension.is_none());
    assert!(signs_in(&app, "ada@acme.test").await, "nothing was written");

    // Shapes the schema refuses: 400.
    for terms in [
        json!({"until": "next tuesday"}),
        json!({"until": 5}),
        json!({"why": "x"}),
        json!(null),
    ] {
        let body = json!({"status": "suspended", "suspension": terms});
        let reply = app
            .http()
            .patch(app.url(&format!("/v1/users/{}", ada.id)))
            .bearer_auth(&app.admin.api_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 400, "{terms}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
    }

    // Not the user's to write about themselves.
    let bob = crate::fixtures::create_user(&app, "bob@acme.test", Role::Member).await;
    let token = crate::fixtures::session_token(&app, &bob).await;
    let reply = app
        .http()
        .patch(app.url("/v1/me"))
        .bearer_auth(&token)
        .json(&json!({"suspension": {"reason": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 403);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["code"], "FIELD_NOT_WRITABLE");
}
