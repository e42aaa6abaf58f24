//! Lockout (`--lockout-threshold`): failed sign-ins in a row, counted in the database, lock an
//! account for `--lockout-duration` with the same 401 as any refusal; a success clears the
//! count, `POST /v1/users/{id}/unlock` and a password reset lift the lock.

use chrono::TimeDelta;
use serde_json::Value;
use users_api::db::lockout::Lockout;
use users_api_client::types::{EventType, Role, UserCreate};

use crate::{
    fixtures::{code, key_client, key_with, sign_in},
    helpers::{TestApp, TestOptions, spawn_app, spawn_app_with},
};

const PASSWORD: &str = "correct horse battery staple 42";

async fn app_locking_after(threshold: u32, duration: TimeDelta) -> TestApp {
    spawn_app_with(TestOptions {
        lockout: Lockout {
            threshold,
            duration,
        },
        ..TestOptions::default()
    })
    .await
}

/// A member with `PASSWORD`; their id.
async fn member(app: &TestApp, email: &str) -> uuid::Uuid {
    let body = UserCreate {
        primary_email: Some(email.parse().unwrap()),
        password: Some(PASSWORD.parse().unwrap()),
        role: Some(Role::Member),
        ..Default::default()
    };
    let created = key_client(app).create_user().body(body).send().await;
    created.unwrap().into_inner().data.id
}

/// The status of a sign-in of `email` with `password`.
async fn attempt(app: &TestApp, email: &str, password: &str) -> u16 {
    match sign_in(app, &app.admin.org_id, email, password, None).await {
        Ok(_) => 201,
        Err(error) => error.status().unwrap().as_u16(),
    }
}

/// The organization's events of `kind`, as JSON.
async fn events_of(app: &TestApp, kind: EventType) -> Vec<Value> {
    let client = app.client();
    let feed = client.list_events().type_(vec![kind]).send().await;
    let feed = feed.unwrap().into_inner().data;
    feed.iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

async fn locked_until(app: &TestApp, user: uuid::Uuid) -> Option<chrono::DateTime<chrono::Utc>> {
    let got = key_client(app).get_user().user_id(user).send().await;
    got.unwrap().into_inner().data.locked_until
}

#[tokio::test]
async fn failures_in_a_row_lock_the_account_even_for_the_right_password() {
    let app = app_locking_after(3, TimeDelta::minutes(15)).await;
    let user = member(&app, "lo@acme.test").await;
    for _ in 0..2 {
        assert_eq!(attempt(&app, "lo@acme.test", "wrong password 1").await, 401);
    }
    assert_eq!(locked_until(&app, user).await, None, "two of three");
    assert_eq!(attempt(&app, "lo@acme.test", "wrong password 1").await, 401);
    let until = locked_until(&app, user).await.expect("locked at the third");
    let minutes = (until - chrono::Utc::now()).num_minutes();
    assert!((14..=15).contains(&minutes), "{until}");

    // The right password gets the same 401 as a wrong one while locked.
    let refused = sign_in(&app, &app.admin.org_id, "lo@acme.test", PASSWORD, None).await;
    let wrong = sign_in(&app, &app.admin.org_id, "lo@acme.test", "nope nope", None).await;
    let (right, wrong) = (
        crate::fixtures::failure(refused),
        crate::fixtures::failure(wrong),
    );
    assert_eq!(right.0, 401);
    assert_eq!(right.1.error.code, wrong.1.error.code);
    assert_eq!(right.1.error.message, wrong.1.error.message);

    let locked = events_of(&app, EventType::UserLocked).await;
    assert_eq!(
        locked.len(),
        1,
        "attempts during the lock lock nothing again"
    );
    assert_eq!(locked[0]["data"]["object"]["id"], user.to_string());
    assert_eq!(locked[0]["data"]["failed_sign_ins"], 3);
    assert_eq!(locked[0]["actor"]["type"], "system");
    let failed = events_of(&app, EventType::SessionSignInFailed).await;
    let reasons: Vec<&str> = failed
        .iter()
        .map(|e| e["data"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons[3..], ["locked", "locked"], "{reasons:?}");
}

#[tokio::test]
async fn a_success_starts_the_count_again_and_a_lock_ends_by_itself() {
    let app = app_locking_after(2, TimeDelta::seconds(1)).await;
    let user = member(&app, "al@acme.test").await;
    assert_eq!(attempt(&app, "al@acme.test", "wrong password 1").await, 401);
    assert_eq!(attempt(&app, "al@acme.test", PASSWORD).await, 201);
    assert_eq!(attempt(&app, "al@acme.test", "wrong password 1").await, 401);
    assert_eq!(
        locked_until(&app, user).await,
        None,
        "one in a row, not two"
    );
    assert_eq!(attempt(&app, "al@acme.test", "wrong password 1").await, 401);
    assert!(locked_until(&app, user).await.is_some());
    assert_eq!(attempt(&app, "al@acme.test", PASSWORD).await, 401);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(
        locked_until(&app, user).await,
        None,
        "shown only while it holds"
    );
    assert_eq!(
        attempt(&app, "al@acme.test", PASSWORD).await,
        201,
        "no job needed"
    );
}

#[tokio::test]
async fn an_administrator_unlocks_and_an_admin_needs_every_scope() {
    let app = app_locking_after(1, TimeDelta::hours(1)).await;
    let user = member(&app, "un@acme.test").await;
    assert_eq!(attempt(&app, "un@acme.test", "wrong password 1").await, 401);
    assert_eq!(attempt(&app, "un@acme.test", PASSWORD).await, 401);

    let reader = key_with(&app, &["users:read"]).await;
    let refused = reader.unlock_user().user_id(user).send().await;
    assert_eq!(code(refused), (403, "INSUFFICIENT_SCOPE".into()));
    let writer = key_with(&app, &["users:write"]).await;
    let unlocked = writer.unlock_user().user_id(user).send().await;
    assert!(unlocked.unwrap().into_inner().data.was_locked);
    assert_eq!(attempt(&app, "un@acme.test", PASSWORD).await, 201);
    let again = writer.unlock_user().user_id(user).send().await;
    assert!(!again.unwrap().into_inner().data.was_locked);
    let events = events_of(&app, EventType::UserUnlocked).await;
    assert_eq!(events.len(), 1, "only a real unlock is recorded");
    assert_eq!(events[0]["actor"]["type"], "api_key");
    let unknown = writer
        .unlock_user()
        .user_id(uuid::Uuid::now_v7())
        .send()
        .await;
    assert_eq!(code(unknown), (404, "NOT_FOUND".into()));

    let admin = app.admin.user_id.into_uuid();
    let on_admin = writer.unlock_user().user_id(admin).send().await;
    assert_eq!(code(on_admin), (403, "INSUFFICIENT_SCOPE".into()));
    assert!(
        !app.client()
            .unlock_user()
            .user_id(admin)
            .send()
            .await
            .unwrap()
            .into_inner()
            .data
            .was_locked
    );
}

#[tokio::test]
async fn a_lockout_racing_the_right_password_has_one_consistent_outcome() {
    let app = app_locking_after(3, TimeDelta::hours(1)).await;
    let user = member(&app, "ra@acme.test").await;
    let wrong = (0..3).map(|_| attempt(&app, "ra@acme.test", "wrong password 1"));
    let right = attempt(&app, "ra@acme.test", PASSWORD);
    let (wrong, right) = tokio::join!(futures_util::future::join_all(wrong), right);
    assert!(wrong.iter().all(|status| *status == 401), "{wrong:?}");
    let locked = locked_until(&app, user).await.is_some();
    let sessions = key_client(&app)
        .list_user_sessions()
        .user_id(user)
        .send()
        .await;
    let sessions = sessions.unwrap().into_inner().data.len();
    // Either the right password won before the third failure (a session, and the count it
    // cleared leaves the account unlocked), or the lock won and nothing was started.
    match right {
        201 => assert_eq!(sessions, 1),
        401 => assert!(
            locked && sessions == 0,
            "locked {locked}, {sessions} sessions"
        ),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn lockout_is_off_by_default() {
    let app = spawn_app().await;
    member(&app, "of@acme.test").await;
    for _ in 0..8 {
        assert_eq!(attempt(&app, "of@acme.test", "wrong password 1").await, 401);
    }
    assert_eq!(attempt(&app, "of@acme.test", PASSWORD).await, 201);
    assert!(events_of(&app, EventType::UserLocked).await.is_empty());
}
