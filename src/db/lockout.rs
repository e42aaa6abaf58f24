//! Account lockout (`--lockout-threshold`, `--lockout-duration`): the failed sign-ins in a row
//! are counted on the user's row, so every instance of a fleet counts the same attempts. The
//! attempt that reaches the threshold locks the account and starts the count again; a
//! successful sign-in (`sessions::start`), a password reset and an administrator's unlock clear
//! it. A locked account refuses every sign-in, with the right password too, until the lock ends.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    events::{NewEvent, append_event},
    schema::users,
};
use crate::{
    domain::{OrgId, UserId},
    error::ApiError,
};

/// The lockout policy; off when `threshold` is 0 (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub threshold: u32,
    pub duration: TimeDelta,
}

impl Default for Lockout {
    fn default() -> Self {
        Self {
            threshold: 0,
            duration: TimeDelta::minutes(15),
        }
    }
}

/// Counts a failed sign-in of `user_id` at `now`. When it reaches the policy's threshold, locks
/// the account until `now + duration`, resets the count and appends the event `locked` makes of
/// the lock's end and the count, in the same transaction; returns the lock's end then.
pub async fn record_failure(
    db: &Db,
    user_id: &UserId,
    policy: Lockout,
    now: NaiveDateTime,
    locked: impl Fn(NaiveDateTime, i32) -> NewEvent + Sync,
) -> Result<Option<NaiveDateTime>, ApiError> {
    if policy.threshold == 0 {
        return Ok(None);
    }
    write!(db, |conn| {
        let failed: i32 = diesel::update(users::table.find(user_id))
            .set(users::failed_sign_ins.eq(users::failed_sign_ins + 1))
            .returning(users::failed_sign_ins)
            .get_result(conn)
            .await?;
        if i64::from(failed) < i64::from(policy.threshold) {
            return Ok(None);
        }
        let until = now + policy.duration;
        diesel::update(users::table.find(user_id))
            .set((
                users::locked_until.eq(Some(until)),
                users::failed_sign_ins.eq(0),
            ))
            .execute(conn)
            .await?;
        append_event!(conn, &locked(until, failed));
        Ok(Some(until))
    })
}

/// Lifts the lock of user `user_id` of `org_id` and clears the count; 404 when there is no
/// such user. Appends `events` only when the account was locked at `now` (one conditional
/// update decides, so two unlocks at once record one), and says whether it was.
pub async fn unlock(
    db: &Db,
    org_id: &OrgId,
    user_id: &UserId,
    now: NaiveDateTime,
    events: &[NewEvent],
) -> Result<bool, ApiError> {
    write!(db, |conn| {
        let mine = users::table
            .filter(users::id.eq(user_id))
            .filter(users::org_id.eq(org_id));
        let clear = (
            users::locked_until.eq(None::<NaiveDateTime>),
            users::failed_sign_ins.eq(0),
        );
        let unlocked = diesel::update(mine.filter(users::locked_until.gt(now)))
            .set(clear)
            .execute(conn)
            .await?;
        if unlocked == 0 {
            // Not locked (or no such user): the count still starts again.
            let found = diesel::update(mine).set(clear).execute(conn).await?;
            if found == 0 {
                return Err(ApiError::not_found());
            }
            return Ok(false);
        }
        for event in events {
            append_event!(conn, event);
        }
        Ok(true)
    })
}
