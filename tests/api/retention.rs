//! The retention sweeper (issue 12, item 17): which sessions, idempotency records and sign-in
//! buckets one sweep deletes, in batches, with two sweepers at once, what `/metrics` shows of it,
//! and that a failing database neither stops nor crashes it.

use std::{collections::BTreeSet, time::Duration};

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use users_api::{
    db::{
        Db,
        schema::{idempotency_keys, sessions, sign_in_limits},
    },
    sweeper::{self, Retention},
};

use crate::helpers::{TestApp, on_db, spawn_app};

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// Stores a session of the first admin with `id` (a readable label, not a UUID: the sweeper
/// deletes by SQL and never reads a row), that expires at `expires_at` and was revoked at
/// `revoked_at`.
async fn seed_session(
    app: &TestApp,
    id: &str,
    expires_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
) {
    let at = |t: NaiveDateTime| format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"));
    let created_at = at(expires_at - days(1));
    app.state
        .db
        .execute_script(&format!(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at, \
             last_active_at) VALUES ('{id}', '{}', {created_at}, {}, {}, {created_at})",
            app.admin.user_id,
            at(expires_at),
            revoked_at.map_or("NULL".to_owned(), at),
        ))
        .await
        .expect("session stored");
}

/// Stores idempotency records of the first organization created at `created_at`.
async fn seed_idempotency(app: &TestApp, keys: &[&str], created_at: NaiveDateTime) {
    let at = created_at.format("%Y-%m-%d %H:%M:%S%.6f");
    let rows: Vec<String> = keys
        .iter()
        .map(|key| {
            format!(
                "('{}', '{key}', 'hash', '{{}}', NULL, '{at}')",
                app.admin.org_id
            )
        })
        .collect();
    app.state
        .db
        .execute_script(&format!(
            "INSERT INTO idempotency_keys \
             (org_id, idempotency_key, request_hash, response_body, user_id, created_at) \
             VALUES {}",
            rows.join(", ")
        ))
        .await
        .expect("idempotency records stored");
}

async fn session_ids(db: &Db) -> BTreeSet<String> {
    on_db!(db, |conn| sessions::table
        .select(sessions::id)
        .load::<String>(conn)
        .await
        .unwrap())
    .into_iter()
    .collect()
}

async fn idempotency_keys(db: &Db) -> BTreeSet<String> {
    on_db!(db, |conn| idempotency_keys::table
        .select(idempotency_keys::idempotency_key)
        .load::<String>(conn)
        .await
        .unwrap())
    .into_iter()
    .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_sweep_deletes_sessions_ended_before_the_retention_and_day_old_idempotency_records() {
    let app = spawn_app().await;
    let now = users_api::db::now();
    seed_session(&app, "old-expired", now - days(31), None).await;
    seed_session(&app, "old-revoked", now + days(1), Some(now - days(31))).await;
    seed_session(&app, "recent-expired", now - days(29), None).await;
    seed_session(&app, "recent-revoked", now - days(2), Some(now - days(29))).await;
    seed_session(&app, "live", now + days(1), None).await;
    seed_idempotency(&app, &["old"], now - TimeDelta::hours(25)).await;
    seed_idempotency(&app, &["new"], now - TimeDelta::hours(23)).await;
    let before = session_ids(&app.state.db).await;

    let swept = sweeper::sweep(&app.state.db, &Retention::default(), now)
        .await
        .unwrap();
    assert_eq!((swept.sessions, swept.idempotency_records), (2, 1));
    let mut expected = before.clone();
    expected.remove("old-expired");
    expected.remove("old-revoked");
    assert_eq!(session_ids(&app.state.db).await, expected);
    assert!(expected.contains("recent-expired") && expected.contains("live"));
    assert_eq!(idempotency_keys(&app.state.db).await, set(&["new"]));

    let again = sweeper::sweep(&app.state.db, &Retention::default(), now)
        .await
        .unwrap();
    assert_eq!((again.sessions, again.idempotency_records), (0, 0));
    // The bootstrap admin's session is live: the admin still gets in.
    assert_eq!(
        crate::fixtures::me_status(&app, &app.admin.session_token).await,
        200
    );
}

#[tokio::test]
async fn a_sweep_deletes_in_batches_until_a_batch_comes_back_short() {
    let app = spawn_app().await;
    let now = users_api::db::now();
    for n in 0..25 {
        seed_session(&app, &format!("old-{n:02}"), now - days(40), None).await;
    }
    let retention = Retention {
        batch_rows: 10,
        ..Retention::default()
    };
    let swept = sweeper::sweep(&app.state.db, &retention, now)
        .await
        .unwrap();
    assert_eq!(swept.sessions, 25);
    // Sessions: 10 + 10 + 5; tickets, idempotency records, sign-in buckets, events and webhook
    // delivery attempts: one empty batch each.
    assert_eq!(swept.batches, 8);
    assert!(
        session_ids(&app.state.db)
            .await
            .iter()
            .all(|id| !id.starts_with("old-"))
    );
}

#[tokio::test]
async fn two_sweepers_at_once_share_the_work_without_errors() {
    let app = spawn_app().await;
    let now = users_api::db::now();
    for n in 0..60 {
        seed_session(&app, &format!("old-{n:02}"), now - days(40), None).await;
    }
    let keys: Vec<String> = (0..30).map(|n| format!("k{n:02}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    seed_idempotency(&app, &keys, now - days(2)).await;
    // A second instance: its own pools on the same database.
    let other = Db::connect(&app.database_url, users_api::db::Timeouts::default())
        .await
        .unwrap();
    let retention = Retention {
        batch_rows: 7,
        ..Retention::default()
    };
    let (a, b) = tokio::join!(
        sweeper::sweep(&app.state.db, &retention, now),
        sweeper::sweep(&other, &retention, now)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sessions + b.sessions, 60, "{a:?} {b:?}");
    assert_eq!(
        a.idempotency_records + b.idempotency_records,
        30,
        "{a:?} {b:?}"
    );
    assert!(
        session_ids(&app.state.db)
            .await
            .iter()
            .all(|id| !id.starts_with("old-"))
    );
    assert!(idempotency_keys(&app.state.db).await.is_empty());
}

/// Stores sign-in buckets (`sign_in_limits`) named `keys` whose `tat` is `tat`.
async fn seed_buckets(app: &TestApp, keys: &[&str], tat: NaiveDateTime) {
    let at = tat.format("%Y-%m-%d %H:%M:%S%.6f");
    let rows: Vec<String> = keys
        .iter()
        .map(|key| format!("('{key}', '{at}')"))
        .collect();
    app.state
        .db
        .execute_script(&format!(
            "INSERT INTO sign_in_limits (key, tat) VALUES {}",
            rows.join(", ")
        ))
        .await
        .expect("sign-in buckets stored");
}

async fn bucket_keys(db: &Db) -> BTreeSet<String> {
    on_db!(db, |conn| sign_in_limits::table
        .select(sign_in_limits::key)
        .load::<String>(conn)
        .await
        .unwrap())
    .into_iter()
    .collect()
}

#[tokio::test]
async fn a_sweep_deletes_sign_in_buckets_full_again_for_a_minute_in_batches_by_two_sweepers() {
    let app = spawn_app().await;
    let now = users_api::db::now();
    let full: Vec<String> = (0..25).map(|n| format!("address:10.0.0.{n}")).collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    seed_buckets(&app, &full, now - TimeDelta::minutes(2)).await;
    // Full again, but within the margin for clock skew; and still refilling.
    seed_buckets(&app, &["address:10.0.1.1"], now - TimeDelta::seconds(30)).await;
    seed_buckets(&app, &["address:10.0.1.2"], now + TimeDelta::seconds(30)).await;
    let other = Db::connect(&app.database_url, users_api::db::Timeouts::default())
        .await
        .unwrap();
    let retention = Retention {
        batch_rows: 4,
        ..Retention::default()
    };
    let (a, b) = tokio::join!(
        sweeper::sweep(&app.state.db, &retention, now),
        sweeper::sweep(&other, &retention, now)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sign_in_limits + b.sign_in_limits, 25, "{a:?} {b:?}");
    assert_eq!(
        bucket_keys(&app.state.db).await,
        set(&["address:10.0.1.1", "address:10.0.1.2"])
    );
}

/// The value of the Prometheus series `series` (exact labels) in `text`, 0 when absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let response = app.http().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_what_sweeps_deleted_and_how_they_ended() {
    let app = spawn_app().await;
    let now = users_api::db::now();
    for n in 0..3 {
        seed_session(&app, &format!("old-{n}"), now - days(40), None).await;
    }
    seed_idempotency(&app, &["old"], now - days(2)).await;
    sweeper::sweep(&app.state.db, &Retention::default(), now)
        .await
        .unwrap();
    // Counters are process-wide and other tests sweep too: at least this sweep's rows.
    let text = scrape(&app).await;
    assert!(
        metric(&text, r#"sweeper_deleted_total{kind="sessions"}"#) >= 3.0,
        "{text}"
    );
    assert!(
        metric(&text, r#"sweeper_deleted_total{kind="idempotency"}"#) >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, r#"sweeper_runs_total{outcome="ok"}"#) >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, "sweeper_last_success_timestamp_seconds") > 1.7e9,
        "{text}"
    );
}

#[tokio::test]
async fn a_failing_database_makes_the_sweeper_log_and_retry_without_stopping() {
    let app = spawn_app().await;
    if !app.cut_off_database().await {
        eprintln!("SQLite is embedded and cannot become unreachable; this runs on PostgreSQL");
        return;
    }
    let errors = |text: &str| metric(text, r#"sweeper_runs_total{outcome="error"}"#);
    let before = errors(&scrape(&app).await);
    assert!(
        sweeper::sweep(&app.state.db, &Retention::default(), users_api::db::now())
            .await
            .is_err()
    );
    let task = sweeper::spawn(
        app.state.db.clone(),
        Retention::default(),
        Duration::from_millis(50),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while errors(&scrape(&app).await) < before + 3.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper stopped retrying"
        );
        assert!(!task.is_finished(), "the sweeper stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!task.is_finished());
    task.abort();
}
