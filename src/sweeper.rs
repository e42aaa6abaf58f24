//! The retention sweeper: deletes sessions that ended (expired or were revoked), and one-time
//! tickets that ended (expired, redeemed or superseded), longer ago than `--session-retention`, `Idempotency-Key` records past their 24 hours, and the shared sign-in
//! buckets that are full again (PostgreSQL's; SQLite's table stays empty), and change events
//! and webhook delivery attempts older than `--event-retention`, every
//! `--sweep-interval`, randomised so that instances started together drift apart. Deletes go in
//! bounded batches that several instances may run at once (`db::retention`). A failed sweep is
//! logged and counted, and the next interval tries again: it never stops the server. Counts go
//! to `/metrics`: `sweeper_deleted_total{kind}`, `sweeper_runs_total{outcome}` and
//! `sweeper_last_success_timestamp_seconds`.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use rand::Rng;

use crate::{
    db::{
        Db,
        retention::{self, Expired},
        user_create::IDEMPOTENCY_TTL,
    },
    error::ApiError,
    telemetry,
};

/// Rows per delete statement: short enough that no statement holds a lock for long.
pub const BATCH_ROWS: u32 = 1_000;

/// How long after it filled up again a sign-in bucket is kept. Buckets run on the database's
/// clock and the cut-off on this instance's, so a margin for clock skew: deleting a bucket
/// before it is full would give its key tokens back early.
pub const FULL_BUCKETS_KEPT: TimeDelta = TimeDelta::minutes(1);

/// What the sweeper keeps, and how much it deletes per statement.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// How long an ended session is kept after it expired or was revoked.
    pub sessions: Duration,
    /// How long a change event is kept after it occurred (the audit log's reach).
    pub events: Duration,
    pub batch_rows: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            sessions: Duration::from_secs(30 * 86_400),
            events: Duration::from_secs(90 * 86_400),
            batch_rows: BATCH_ROWS,
        }
    }
}

/// What one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub idempotency_records: u64,
    pub sign_in_limits: u64,
    pub events: u64,
    pub webhook_deliveries: u64,
    pub tickets: u64,
    /// Delete statements run.
    pub batches: u64,
}

/// One sweep as of `now`, recorded in the metrics. What a failed sweep deleted before it
/// failed stays deleted (and counted).
pub async fn sweep(db: &Db, retention: &Retention, now: NaiveDateTime) -> Result<Swept, ApiError> {
    let result = sweep_all(db, retention, now).await;
    telemetry::record_sweep(result.is_ok());
    result
}

async fn sweep_all(db: &Db, retention: &Retention, now: NaiveDateTime) -> Result<Swept, ApiError> {
    let mut swept = Swept::default();
    // A retention too long to subtract from now keeps everything.
    let cutoff_after = |kept: Duration| {
        TimeDelta::from_std(kept)
            .ok()
            .and_then(|kept| now.checked_sub_signed(kept))
    };
    if let Some(cutoff) = cutoff_after(retention.sessions) {
        swept.sessions = drain(db, Expired::Sessions, cutoff, retention, &mut swept).await?;
        // A ticket that ended is kept as long as an ended session, for audit.
        swept.tickets = drain(db, Expired::Tickets, cutoff, retention, &mut swept).await?;
    }
    let cutoff = now - IDEMPOTENCY_TTL;
    swept.idempotency_records = drain(
        db,
        Expired::IdempotencyRecords,
        cutoff,
        retention,
        &mut swept,
    )
    .await?;
    swept.sign_in_limits = drain(
        db,
        Expired::SignInLimits,
        now - FULL_BUCKETS_KEPT,
        retention,
        &mut swept,
    )
    .await?;
    if let Some(cutoff) = cutoff_after(retention.events) {
        swept.events = drain(db, Expired::Events, cutoff, retention, &mut swept).await?;
        // An attempt is kept as long as the event it delivered.
        swept.webhook_deliveries = drain(
            db,
            Expired::WebhookDeliveries,
            cutoff,
            retention,
            &mut swept,
        )
        .await?;
    }
    Ok(swept)
}

/// Deletes batch after batch until one comes back short. The cut-off is fixed, and rows
/// written from now on are newer, so this ends.
async fn drain(
    db: &Db,
    what: Expired,
    cutoff: NaiveDateTime,
    retention: &Retention,
    swept: &mut Swept,
) -> Result<u64, ApiError> {
    let mut total = 0;
    loop {
        let deleted = retention::delete_batch(db, what, cutoff, retention.batch_rows).await?;
        swept.batches += 1;
        total += deleted as u64;
        telemetry::record_swept(what.label(), deleted as u64);
        if deleted < retention.batch_rows as usize {
            return Ok(total);
        }
        // Let requests waiting for the (SQLite) write connection go first.
        tokio::task::yield_now().await;
    }
}

/// Sweeps every `interval` (±25 %) for as long as the process runs; the first sweep comes
/// at a random point of the first interval.
pub fn spawn(db: Db, retention: Retention, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = interval.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
        loop {
            tokio::time::sleep(wait).await;
            match sweep(&db, &retention, crate::db::now()).await {
                Ok(swept) => tracing::info!(
                    sessions = swept.sessions,
                    idempotency_records = swept.idempotency_records,
                    sign_in_limits = swept.sign_in_limits,
                    "retention sweep done"
                ),
                Err(error) => tracing::warn!(
                    error = %error.message,
                    "retention sweep failed; the next interval tries again"
                ),
            }
            wait = jittered(interval);
        }
    })
}

fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::thread_rng().gen_range(0.75..1.25))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_within_a_quarter_of_the_interval() {
        let interval = Duration::from_secs(3600);
        let waits: Vec<Duration> = (0..200).map(|_| jittered(interval)).collect();
        assert!(waits.iter().all(|w| *w >= interval.mul_f64(0.75)));
        assert!(waits.iter().all(|w| *w < interval.mul_f64(1.25)));
        assert!(waits.iter().any(|w| *w != waits[0]), "randomised");
    }
}
