//! Deleting rows that are no longer needed, one bounded batch per statement:
//! `DELETE … WHERE key IN (SELECT key … LIMIT n)`, each in a transaction of its own, so no lock
//! is held for long and other writers get in between batches. On PostgreSQL the subselect
//! takes `FOR UPDATE SKIP LOCKED`: sweepers of several instances running at once take
//! disjoint rows instead of waiting on each other. On SQLite writers are serialised anyway.
//! A row is deleted once whoever deletes it; a batch that comes back short means done.

use chrono::NaiveDateTime;
use diesel::sql_types::Timestamp;
use diesel_async::RunQueryDsl;

use super::{Db, Pools};
use crate::error::ApiError;

/// What a batch deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Sessions that expired, or were revoked, before the cut-off.
    Sessions,
    /// `Idempotency-Key` records created before the cut-off.
    IdempotencyRecords,
    /// Sign-in buckets (`sign_in_limits`) full again before the cut-off: a missing row is a
    /// full bucket too.
    SignInLimits,
    /// Change events that occurred before the cut-off (`events`). An organization's numbering
    /// goes on from its `event_sequences` row, which stays.
    Events,
    /// Webhook delivery attempts made before the cut-off (`webhook_deliveries`).
    WebhookDeliveries,
    /// One-time tickets that expired, were redeemed or were superseded before the cut-off.
    Tickets,
}

impl Expired {
    /// The `kind` label of the sweeper's metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sessions => "sessions",
            Self::IdempotencyRecords => "idempotency",
            Self::SignInLimits => "sign_in_limits",
            Self::Events => "events",
            Self::WebhookDeliveries => "webhook_deliveries",
            Self::Tickets => "tickets",
        }
    }

    /// (table, key columns, condition on `$cutoff`). Each condition has an index.
    fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Sessions => (
                "sessions",
                "id",
                "expires_at < $cutoff OR revoked_at < $cutoff",
            ),
            Self::IdempotencyRecords => (
                "idempotency_keys",
                "org_id, idempotency_key",
                "created_at < $cutoff",
            ),
            Self::SignInLimits => ("sign_in_limits", "key", "tat < $cutoff"),
            Self::Events => ("events", "org_id, sequence", "occurred_at < $cutoff"),
            Self::WebhookDeliveries => ("webhook_deliveries", "id", "attempted_at < $cutoff"),
            Self::Tickets => (
                "tickets",
                "id",
                "expires_at < $cutoff OR used_at < $cutoff OR superseded_at < $cutoff",
            ),
        }
    }

    fn delete_statement(self, db: &Db, limit: u32) -> String {
        let (table, key, condition) = self.parts();
        // SQLite's `?1` may be used twice with one bind, as PostgreSQL's `$1`.
        let (cutoff, lock) = match db.pools() {
            Pools::Postgres(_) => ("$1", " FOR UPDATE SKIP LOCKED"),
            Pools::Sqlite { .. } => ("?1", ""),
        };
        let condition = condition.replace("$cutoff", cutoff);
        format!(
            "DELETE FROM {table} WHERE ({key}) IN \
             (SELECT {key} FROM {table} WHERE {condition} LIMIT {limit}{lock})"
        )
    }
}

/// Deletes up to `limit` rows of `what` older than `cutoff`; returns how many went.
pub async fn delete_batch(
    db: &Db,
    what: Expired,
    cutoff: NaiveDateTime,
    limit: u32,
) -> Result<usize, ApiError> {
    let sql = what.delete_statement(db, limit);
    write!(db, |conn| Ok(diesel::sql_query(&sql)
        .bind::<Timestamp, _>(cutoff)
        .execute(conn)
        .await?))
}
