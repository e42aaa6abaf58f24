//! Sign-in limits kept in PostgreSQL, so that they hold across every instance on the database:
//! one GCRA bucket per key in `sign_in_limits`, stored as its theoretical arrival time (`tat`).
//! `auth::throttle` owns the rule and its arithmetic; this module only runs it, as one statement
//! per attempt — one round trip, no transaction, and no row lock held past the statement.
//!
//! The statement reads both buckets of an attempt (its account and its client address), decides
//! from what it read, and takes a token from each only if both allow it: a refused attempt
//! writes nothing. Taking is an `INSERT … ON CONFLICT DO UPDATE … WHERE`, whose condition
//! PostgreSQL evaluates against the row's latest committed version under the row's lock, not
//! against the statement's snapshot: however many attempts race, a bucket never gives more than
//! its tokens. When one of them took the last token between this attempt's read and its write,
//! this attempt is refused, and the token it may already have taken from its other bucket stays
//! spent — a race can only make the limit stricter. Rows are taken in key order, so two attempts
//! never wait on each other's rows in a cycle.
//!
//! Time is the database's clock, one for the whole fleet (instances' clocks may drift). Nothing
//! here runs on SQLite, whose single process keeps its limits in memory.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::{
    QueryableByName,
    sql_types::{BigInt, Bool, Nullable, Text, Timestamp},
};
use diesel_async::RunQueryDsl;

use super::{Db, Pools};
use crate::error::ApiError;

/// One bucket an attempt takes a token from: a key, and its quota as GCRA reads it.
#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    pub key: &'a str,
    /// The time one token takes to come back (the emission interval).
    pub step: Duration,
    /// How far ahead of now `tat` may be for a token to be given (burst − 1 steps).
    pub tolerance: Duration,
}

/// What an attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// A token was taken from both buckets.
    Both,
    /// Refused; the next attempt can succeed after `wait`. Nothing was taken (but see the
    /// module's note on races).
    Refused { wait: Duration },
}

/// Reads both buckets, decides, and takes from both or neither (see the module docs). `now`
/// replaces the database's clock, for tests of the arithmetic; the server passes `None`.
const TAKE: &str = "\
WITH clock AS (
    SELECT COALESCE($7, now() AT TIME ZONE 'UTC') AS now
),
wanted (key, step, tolerance) AS (
    VALUES ($1, $2 * interval '1 microsecond', $3 * interval '1 microsecond'),
           ($4, $5 * interval '1 microsecond', $6 * interval '1 microsecond')
),
seen AS (
    SELECT wanted.key, wanted.step, wanted.tolerance, limits.tat, clock.now
    FROM wanted CROSS JOIN clock
    LEFT JOIN sign_in_limits AS limits ON limits.key = wanted.key
),
verdict AS (
    SELECT bool_and(tat IS NULL OR tat - tolerance <= now) AS admitted,
           max(tat - tolerance - now) AS wait
    FROM seen
),
taken AS (
    INSERT INTO sign_in_limits AS limits (key, tat)
    SELECT seen.key, seen.now + seen.step FROM seen, verdict WHERE verdict.admitted
    ORDER BY seen.key
    ON CONFLICT (key) DO UPDATE
    SET tat = greatest(limits.tat, (SELECT now FROM clock))
        + (SELECT step FROM wanted WHERE wanted.key = excluded.key)
    WHERE limits.tat - (SELECT tolerance FROM wanted WHERE wanted.key = excluded.key)
        <= (SELECT now FROM clock)
    RETURNING limits.key
)
SELECT verdict.admitted,
       EXISTS (SELECT 1 FROM taken WHERE taken.key = $1) AS first_taken,
       EXISTS (SELECT 1 FROM taken WHERE taken.key = $4) AS second_taken,
       CAST(extract(epoch FROM verdict.wait) * 1000000 AS BIGINT) AS wait_us
FROM verdict";

#[derive(QueryableByName)]
struct Outcome {
    #[diesel(sql_type = Bool)]
    admitted: bool,
    #[diesel(sql_type = Bool)]
    first_taken: bool,
    #[diesel(sql_type = Bool)]
    second_taken: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    wait_us: Option<i64>,
}

/// Takes one token from each of `buckets` (their keys must differ), or none. An unreachable
/// database is an error (503), never an admission.
pub async fn take(
    db: &Db,
    buckets: [Bucket<'_>; 2],
    now: Option<NaiveDateTime>,
) -> Result<Taken, ApiError> {
    let Pools::Postgres(pool) = &db.pools else {
        return Err(ApiError::internal(
            "shared sign-in limits are kept in PostgreSQL only",
        ));
    };
    let [first, second] = buckets;
    let outcome: Outcome = db
        .within_deadline(async {
            with_connection!(pool, |conn| diesel::sql_query(TAKE)
                .bind::<Text, _>(first.key)
                .bind::<BigInt, _>(micros(first.step))
                .bind::<BigInt, _>(micros(first.tolerance))
                .bind::<Text, _>(second.key)
                .bind::<BigInt, _>(micros(second.step))
                .bind::<BigInt, _>(micros(second.tolerance))
                .bind::<Nullable<Timestamp>, _>(now)
                .get_result(conn)
                .await
                .map_err(ApiError::from))
        })
        .await?;
    Ok(match outcome {
        Outcome {
            first_taken: true,
            second_taken: true,
            ..
        } => Taken::Both,
        Outcome {
            admitted: false,
            wait_us,
            ..
        } => Taken::Refused {
            wait: Duration::from_micros(wait_us.unwrap_or(0).max(0).unsigned_abs()),
        },
        // Another attempt took the last token of a bucket between this one's read and its
        // write. That bucket's `tat` is now at most one step past what allows a token.
        Outcome {
            first_taken,
            second_taken,
            ..
        } => {
            let missed =
                |taken: bool, bucket: Bucket| if taken { Duration::ZERO } else { bucket.step };
            Taken::Refused {
                wait: missed(first_taken, first).max(missed(second_taken, second)),
            }
        }
    })
}

/// Deletes the bucket `key` (a full bucket again), on PostgreSQL; nothing to do on SQLite.
pub async fn forget(db: &Db, key: &str) -> Result<(), ApiError> {
    use super::schema::sign_in_limits;
    use diesel::{ExpressionMethods, QueryDsl};
    if let Pools::Postgres(_) = &db.pools {
        write!(db, |conn| {
            diesel::delete(sign_in_limits::table.filter(sign_in_limits::key.eq(key)))
                .execute(conn)
                .await?;
            Ok(())
        })?;
    }
    Ok(())
}

/// A duration in whole microseconds (the database's precision), saturating.
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}
