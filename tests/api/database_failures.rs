//! A failing database: an operation past its deadline answers 503 and leaves nothing behind;
//! against a real PostgreSQL behind a `Proxy`, a partition (stall) or a cut answers 503 within
//! the deadline, rolls back the write it interrupted, and heals without a restart. A row whose
//! stored id is not a UUID is a 500, never a panic.

use std::time::{Duration, Instant};

use serde_json::json;
use users_api::db::{DatabaseUrl, Db, Timeouts, orgs};
use users_api_client::types::Role;

use crate::{
    fixtures::{code, create_user, key_client, me_status, session_token},
    helpers::{TestApp, TestOptions, spawn_app, spawn_app_with},
    proxy::Proxy,
};

/// The deadlines of the partition tests: short, so a partition of a few seconds outlasts them.
const SHORT: Timeouts = Timeouts {
    operation: Duration::from_secs(2),
    checkout: Duration::from_secs(1),
    connect: Duration::from_secs(1),
    migration: Duration::from_secs(15),
};

/// Generous margin over a deadline for a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(1500);

/// Multi-threaded, as in the server's runtime: an SQLite statement cannot be interrupted, so the
/// writer's (which run in place) are judged against the deadline when they return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_past_its_deadline_answers_503_rolls_back_and_the_pool_recovers() {
    let app = spawn_app().await;
    let deadline = Duration::from_millis(300);
    let timeouts = Timeouts {
        operation: deadline,
        ..Timeouts::default()
    };
    let db = Db::connect(&app.database_url, timeouts).await.unwrap();
    // SQLite answers once the statement returns, so its slow statement is only somewhat slow.
    let (slow, answers_within) = match app.database_url {
        DatabaseUrl::Postgres(_) => ("SELECT pg_sleep(3)", deadline + MARGIN),
        DatabaseUrl::Sqlite(_) => (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) \
             SELECT count(*) FROM n",
            Duration::from_secs(30),
        ),
    };
    let insert = |id: &str| {
        format!(
            "INSERT INTO organizations (id, name, created_at) VALUES ('{id}', '{id}', '2024-01-01 00:00:00')"
        )
    };

    let started = Instant::now();
    let error = db
        .execute_script(&format!("{}; {slow};", insert("doomed")))
        .await
        .unwrap_err();
    assert_eq!(
        (error.status.as_u16(), error.code.as_str()),
        (503, "SERVICE_UNAVAILABLE")
    );
    let elapsed = started.elapsed();
    assert!(elapsed < answers_within, "{elapsed:?}");

    // The abandoned connection was discarded, not leaked: the single SQLite writer comes back
    // (once the abandoned statement has returned and released the write lock).
    let mut attempts = 0;
    while db.execute_script(&insert("survivor")).await.is_err() {
        attempts += 1;
        assert!(attempts < 40, "the pool never recovered");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        orgs::count(&db).await.unwrap(),
        2,
        "the first organization and the survivor; the doomed insert was rolled back"
    );
}

#[tokio::test]
async fn a_stored_id_that_is_not_a_uuid_is_a_500_and_the_server_serves_on() {
    let app = spawn_app().await;
    app.state
        .db
        .execute_script(&format!(
            "INSERT INTO teams (id, org_id, name, created_at) \
             VALUES ('not-a-uuid', '{}', 'Broken', '2024-01-01 00:00:00')",
            app.admin.org_id
        ))
        .await
        .unwrap();
    let reply = key_client(&app).list_teams().send().await;
    assert_eq!(code(reply), (500, "INTERNAL".into()));
    assert_eq!(me_status(&app, &app.admin.session_token).await, 200);
}

#[tokio::test]
async fn a_stalled_database_answers_503_in_time_rolls_back_the_interrupted_write_and_heals() {
    partition(Proxy::stall).await;
}

#[tokio::test]
async fn a_cut_database_answers_503_in_time_rolls_back_the_interrupted_write_and_heals() {
    partition(Proxy::cut).await;
}

/// Interrupts (with `interrupt`) a PATCH that suspends a user while it is inside its
/// transaction — it has updated the user row and waits for a lock on the user's session, held
/// by the test — then checks every answer during the partition, that nothing of the PATCH was
/// applied, and that the same server serves again once the proxy forwards again.
async fn partition(interrupt: fn(&Proxy)) {
    let app = spawn_app_with(TestOptions {
        timeouts: SHORT,
        through_proxy: true,
        ..TestOptions::default()
    })
    .await;
    let (Some(proxy), DatabaseUrl::Postgres(direct)) = (&app.proxy, &app.database_url) else {
        eprintln!("SQLite is embedded and cannot be partitioned; this runs on PostgreSQL");
        return;
    };
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let user_id = user.id.to_string();
    session_token(&app, &user).await;
    let watcher = connect(direct).await;

    let locker = connect(direct).await;
    locker.batch_execute("BEGIN").await.unwrap();
    locker
        .execute(
            "SELECT id FROM sessions WHERE user_id = $1 FOR UPDATE",
            &[&user_id],
        )
        .await
        .unwrap();
    let patch = timed(suspend(&app, &user_id));
    let blocked = async {
        let waiting = eventually(|| backends(&watcher, "wait_event_type = 'Lock'", true)).await;
        assert!(waiting.is_some(), "the PATCH never waited for the lock");
        interrupt(proxy);
        locker.batch_execute("ROLLBACK").await.unwrap();
    };
    let ((response, elapsed), ()) = tokio::join!(patch, blocked);
    assert_unavailable(response, elapsed, SHORT.operation + MARGIN).await;
    let (response, elapsed) = timed(app.http().get(app.url("/readyz")).send()).await;
    assert_unavailable(response, elapsed, Duration::from_secs(2)).await;
    let me = app
        .http()
        .get(app.url("/v1/me"))
        .bearer_auth(&app.admin.session_token);
    let (response, elapsed) = timed(me.send()).await;
    assert_unavailable(response, elapsed, SHORT.operation + MARGIN).await;

    // PostgreSQL ends the interrupted transaction (the client's socket closed, or it sat idle in
    // its transaction past the deadline) without a COMMIT: nothing of it stays.
    let ended = eventually(|| backends(&watcher, "xact_start IS NOT NULL", false)).await;
    assert!(ended.is_some(), "the interrupted transaction is still open");
    proxy.restore();
    let row = watcher
        .query_one("SELECT status FROM users WHERE id = $1", &[&user_id])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "active");
    let revoked = watcher
        .query_one(
            "SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NOT NULL",
            &[&user_id],
        )
        .await
        .unwrap();
    assert_eq!(revoked.get::<_, i64>(0), 0);

    // The same server serves again, with no restart.
    let healed = eventually(|| async {
        let response = suspend(&app, &user_id).await.ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
    assert!(healed.is_some(), "the server did not recover after restore");
    let ready = app.http().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

async fn suspend(app: &TestApp, user_id: &str) -> reqwest::Result<reqwest::Response> {
    app.http()
        .patch(app.url(&format!("/v1/users/{user_id}")))
        .bearer_auth(&app.admin.api_key)
        .json(&json!({"status": "suspended"}))
        .send()
        .await
}

/// The answer and how long it took; panics if there is none within 15 s (a request that
/// waits for the partition to end).
async fn timed<T>(future: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let output = tokio::time::timeout(Duration::from_secs(15), future)
        .await
        .expect("an answer while the database is partitioned");
    (output, started.elapsed())
}

async fn assert_unavailable(
    response: reqwest::Result<reqwest::Response>,
    elapsed: Duration,
    within: Duration,
) {
    let response = response.expect("an answer, not a dropped connection");
    let url = response.url().path().to_owned();
    assert_eq!(response.status(), 503, "{url}");
    assert!(elapsed < within, "{url} took {elapsed:?}");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{url}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{url}");
}

/// A direct connection (not through the proxy) for the test's own statements.
async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("a direct connection");
    tokio::spawn(connection);
    client
}

/// `Some` when some other backend of this database is in `condition` (`any`), or when none is.
async fn backends(watcher: &tokio_postgres::Client, condition: &str, any: bool) -> Option<()> {
    let query = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND {condition}"
    );
    let row = watcher.query_one(&query, &[]).await.ok()?;
    ((row.get::<_, i64>(0) > 0) == any).then_some(())
}

/// Polls `check` every 100 ms for at most 10 s.
async fn eventually<F, Fut>(check: F) -> Option<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<()>>,
{
    for _ in 0..100 {
        if check().await.is_some() {
            return Some(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
