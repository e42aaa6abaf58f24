//! TOTP recovery codes as stored: one row per code, only its hash (`auth::recovery`). A set is
//! written with the change that turns 2FA on (`users::update`) or by a regeneration, and deleted
//! with any change of the TOTP secret; a code is spent by one conditional UPDATE, so two
//! sign-ins racing with one code get one success.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    events::{NewEvent, append_event},
    schema::{recovery_codes, users},
};
use crate::{domain::UserId, error::ApiError};

/// What a change of a user does to their recovery codes, in its transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CodesChange {
    #[default]
    Keep,
    /// Delete the set (2FA turned off, or a secret imported by an administrator).
    Delete,
    /// Replace the set with these hashes (2FA turned on through `/v1/me`).
    Replace(Vec<String>),
}

/// Inside a `write!` body: applies `$change` (a `&CodesChange`) to the codes of `$user_id`,
/// created at `$now`.
macro_rules! change_recovery_codes {
    ($conn:ident, $user_id:expr, $change:expr, $now:expr) => {{
        use $crate::db::{recovery_codes::CodesChange, schema::recovery_codes};
        let change: &CodesChange = $change;
        if *change != CodesChange::Keep {
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq($user_id)))
                .execute($conn)
                .await?;
        }
        if let CodesChange::Replace(hashes) = change {
            // One statement per code: SQLite has no multi-row insert of tuples in diesel.
            for hash in hashes {
                diesel::insert_into(recovery_codes::table)
                    .values((
                        recovery_codes::user_id.eq($user_id),
                        recovery_codes::code_hash.eq(hash),
                        recovery_codes::created_at.eq($now),
                    ))
                    .execute($conn)
                    .await?;
            }
        }
    }};
}
pub(crate) use change_recovery_codes;

/// Inside a `read!` body: how many unused codes `$user_id` has.
macro_rules! count_remaining {
    ($conn:ident, $user_id:expr) => {{
        use $crate::db::schema::recovery_codes;
        let remaining: i64 = recovery_codes::table
            .filter(recovery_codes::user_id.eq($user_id))
            .filter(recovery_codes::used_at.is_null())
            .count()
            .get_result($conn)
            .await?;
        remaining
    }};
}

/// Spends the unused code of `user_id` whose hash is `code_hash`, at `now`: true for the one
/// caller that spent it, false when there is no such unused code.
pub async fn spend(
    db: &Db,
    user_id: &UserId,
    code_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, ApiError> {
    write!(db, |conn| {
        let spent = diesel::update(
            recovery_codes::table
                .filter(recovery_codes::user_id.eq(user_id))
                .filter(recovery_codes::code_hash.eq(code_hash))
                .filter(recovery_codes::used_at.is_null()),
        )
        .set(recovery_codes::used_at.eq(Some(now)))
        .execute(conn)
        .await?;
        Ok(spent == 1)
    })
}

/// Replaces the codes of `user_id` with `hashes` and appends `events`, in one transaction,
/// only while the user still has 2FA on and TOTP step `step` (the code that proved the
/// request) is later than every step accepted before; false, and nothing written, otherwise.
pub async fn regenerate(
    db: &Db,
    user_id: &UserId,
    step: i64,
    hashes: Vec<String>,
    events: &[NewEvent],
) -> Result<bool, ApiError> {
    let now = super::now();
    write!(db, |conn| {
        let accepted = diesel::update(
            users::table
                .filter(users::id.eq(user_id))
                .filter(users::totp_secret.is_not_null())
                .filter(
                    users::totp_last_step
                        .is_null()
                        .or(users::totp_last_step.lt(step)),
                ),
        )
        .set(users::totp_last_step.eq(Some(step)))
        .execute(conn)
        .await?;
        if accepted == 0 {
            return Ok(false);
        }
        change_recovery_codes!(conn, user_id, &CodesChange::Replace(hashes.clone()), now);
        for event in events {
            append_event!(conn, event);
        }
        Ok(true)
    })
}

/// How many unused codes `user_id` has.
pub async fn remaining(db: &Db, user_id: &UserId) -> Result<i64, ApiError> {
    read!(db, |conn| Ok(count_remaining!(conn, user_id)))
}
