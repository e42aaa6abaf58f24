//! The outbox under change events (issue 16, `db::events`): each organization's events are
//! numbered 1, 2, 3, … in commit order with no gap a reader could see filled later, and
//! organizations count apart; the sweeper deletes events older than their retention and the
//! numbering goes on. On both databases; the concurrency test is the one the issue asks for (20
//! writers and a reader).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use users_api::{
    db::{
        Db,
        events::{self, NewEvent},
    },
    domain::{Actor, EventType, OrgId},
    sweeper::{self, Retention},
};

use crate::helpers::spawn_app;

fn event(org_id: &OrgId, data: &str) -> NewEvent {
    NewEvent {
        org_id: *org_id,
        kind: EventType::UserUpdated,
        actor: Actor::System,
        request_id: None,
        subject_id: None,
        data: data.to_owned(),
    }
}

async fn sequences(db: &Db, org_id: &OrgId) -> Vec<i64> {
    let stored = events::list(db, org_id, 0, 10_000, &[]).await.unwrap();
    stored.iter().map(|e| e.sequence).collect()
}

#[tokio::test]
async fn each_organization_numbers_its_events_from_one() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let acme = app.admin.org_id;
    let other: OrgId = app.create_org("Other", "admin@other.test").await.org_id;
    assert_eq!(events::append(db, &event(&acme, "{}")).await.unwrap(), 1);
    assert_eq!(events::append(db, &event(&acme, "{}")).await.unwrap(), 2);
    assert_eq!(events::append(db, &event(&other, "{}")).await.unwrap(), 1);
    assert_eq!(events::append(db, &event(&acme, "{}")).await.unwrap(), 3);

    let stored = events::list(db, &acme, 1, 10, &[]).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        (stored[0].sequence, stored[0].kind.as_str()),
        (2, "user.updated")
    );
    assert_eq!(
        (stored[0].actor_type.as_str(), &stored[0].actor_id),
        ("system", &None)
    );
    assert_ne!(stored[0].id, stored[1].id);
    assert!(
        events::list(db, &acme, 0, 10, &[EventType::TeamCreated])
            .await
            .unwrap()
            .is_empty()
    );
}

/// 20 writers append at once, each append a transaction of its own; a reader polls all the
/// while. Every list the reader sees is 1..=n: a number it sees was never
/// preceded by a gap, since a later commit cannot fill one. Multi-threaded, as the server runs:
/// SQLite's writer runs in place, so on one thread the writers would never let the reader in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_never_let_a_reader_see_a_gap_filled_later() {
    let app = spawn_app().await;
    let db = app.state.db.clone();
    let org = app.admin.org_id;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, done) = (db.clone(), done.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            let mut longest = 0;
            while !done.load(Ordering::Relaxed) {
                let seen = sequences(&db, &org).await;
                let expected: Vec<i64> = (1..=seen.len() as i64).collect();
                assert_eq!(seen, expected, "a gap, or numbers out of order");
                assert!(seen.len() >= longest, "an event disappeared");
                longest = seen.len();
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..20)
        .map(|n| {
            let db = db.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    let data = format!("{{\"writer\":{n}}}");
                    events::append(&db, &event(&org, &data)).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.await.unwrap();
    assert!(reads > 1, "the reader read while the writers wrote");
    assert_eq!(sequences(&db, &org).await, (1..=100).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_sweeper_deletes_events_past_their_retention_and_the_numbering_goes_on() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let org = app.admin.org_id;
    for _ in 0..3 {
        events::append(db, &event(&org, "{}")).await.unwrap();
    }
    let now = users_api::db::now();
    let old = (now - chrono::TimeDelta::days(91)).format("%Y-%m-%d %H:%M:%S");
    db.execute_script(&format!(
        "UPDATE events SET occurred_at = '{old}' WHERE sequence < 3"
    ))
    .await
    .unwrap();
    let swept = sweeper::sweep(db, &Retention::default(), now)
        .await
        .unwrap();
    assert_eq!(swept.events, 2);
    assert_eq!(sequences(db, &org).await, [3]);
    assert_eq!(events::append(db, &event(&org, "{}")).await.unwrap(), 4);

    let kept_a_year = Retention {
        events: std::time::Duration::from_secs(365 * 86_400),
        ..Retention::default()
    };
    let swept = sweeper::sweep(db, &kept_a_year, now).await.unwrap();
    assert_eq!(swept.events, 0);
}
