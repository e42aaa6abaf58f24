//! Sessions: the rows behind session tokens, and the writes of sign-in.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    events::{NewEvent, append_event},
    models::{Session, User},
    schema::{sessions, users},
};
use crate::{
    domain::{SessionId, UserId},
    error::ApiError,
};

/// Sessions live at `now`: not revoked and not expired. Every query for live sessions uses it.
#[diesel::dsl::auto_type]
pub fn live_at(now: NaiveDateTime) -> _ {
    sessions::revoked_at
        .is_null()
        .and(sessions::expires_at.gt(now))
}

/// Sessions to revoke together with a change of their user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Revoke {
    #[default]
    None,
    /// Every session of the user but this one (the caller's own).
    AllExcept(SessionId),
    All,
}

/// The session `session_id` of user `user_id` with its user, if the session is live at `now`.
pub async fn find_live(
    db: &Db,
    session_id: &SessionId,
    user_id: &UserId,
    now: NaiveDateTime,
) -> Result<Option<(Session, User)>, ApiError> {
    read!(db, |conn| Ok(sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .filter(sessions::user_id.eq(user_id))
        .filter(live_at(now))
        .select((Session::as_select(), User::as_select()))
        .get_result(conn)
        .await
        .optional()?))
}

pub async fn count_live(db: &Db, user_id: &UserId, now: NaiveDateTime) -> Result<i64, ApiError> {
    read!(db, |conn| Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(live_at(now))
        .count()
        .get_result(conn)
        .await?))
}

/// Revokes one session; its token answers 401 from the next request on.
pub async fn revoke(db: &Db, session_id: &SessionId) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::update(sessions::table.find(session_id))
            .set(sessions::revoked_at.eq(Some(super::now())))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Revokes the live session `session_id` of `user_id`; 404 when there is no such live session
/// (another user's, already revoked, expired or unknown). The revocation's `events` are appended
/// with it.
pub async fn revoke_own(
    db: &Db,
    user_id: &UserId,
    session_id: &SessionId,
    events: &[NewEvent],
) -> Result<(), ApiError> {
    let at = super::now();
    write!(db, |conn| {
        let revoked = diesel::update(
            sessions::table
                .filter(sessions::id.eq(session_id))
                .filter(sessions::user_id.eq(user_id))
                .filter(live_at(at)),
        )
        .set(sessions::revoked_at.eq(Some(at)))
        .execute(conn)
        .await?;
        if revoked == 0 {
            return Err(ApiError::not_found());
        }
        for event in events {
            append_event!(conn, event);
        }
        Ok(())
    })
}

/// Inside a `write!` body: revokes the live sessions of `$user_id` that `$revoke` (a `Revoke`)
/// names.
macro_rules! revoke_sessions {
    ($conn:ident, $user_id:expr, $revoke:expr) => {{
        use $crate::db::{schema::sessions, sessions::Revoke};
        let live = sessions::table
            .filter(sessions::user_id.eq($user_id))
            .filter(sessions::revoked_at.is_null());
        let at = Some($crate::db::now());
        match $revoke {
            Revoke::None => 0,
            Revoke::All => {
                diesel::update(live)
                    .set(sessions::revoked_at.eq(at))
                    .execute($conn)
                    .await?
            }
            Revoke::AllExcept(keep) => {
                diesel::update(live.filter(sessions::id.ne(keep)))
                    .set(sessions::revoked_at.eq(at))
                    .execute($conn)
                    .await?
            }
        }
    }};
}
pub(crate) use revoke_sessions;

/// Which end of a list of sessions comes first. Session ids are UUIDv7, so id order is
/// creation order and one id is a complete keyset cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

/// A page of `user_id`'s live sessions in `order`, after session `after`. A range scan of the
/// `(user_id, id)` index that stops after `limit` rows: every page costs what the first costs.
pub async fn page_live(
    db: &Db,
    user_id: &UserId,
    now: NaiveDateTime,
    after: Option<SessionId>,
    limit: i64,
    order: Order,
) -> Result<Vec<Session>, ApiError> {
    read!(db, |conn| Ok(page_query!(
        user_id, now, after, limit, order
    )
    .load(conn)
    .await?))
}

/// The page query, boxed for whichever backend it is used with (a macro, so that the unit test
/// below can ask SQLite for the plan of exactly this query).
macro_rules! page_query {
    ($user_id:expr, $now:expr, $after:expr, $limit:expr, $order:expr) => {{
        let mut query = sessions::table
            .filter(sessions::user_id.eq($user_id))
            .filter(live_at($now))
            .select(Session::as_select())
            .limit($limit)
            .into_boxed();
        query = match ($order, $after) {
            (Order::OldestFirst, None) => query.order(sessions::id.asc()),
            (Order::OldestFirst, Some(after)) => query
                .order(sessions::id.asc())
                .filter(sessions::id.gt(after)),
            (Order::NewestFirst, None) => query.order(sessions::id.desc()),
            (Order::NewestFirst, Some(after)) => query
                .order(sessions::id.desc())
                .filter(sessions::id.lt(after)),
        };
        query
    }};
}
use page_query;

/// Revokes every live session of `user_id`, with the events `record` makes of their ids, in one
/// transaction; returns how many ended.
pub async fn revoke_all(
    db: &Db,
    user_id: &UserId,
    record: impl Fn(&[SessionId]) -> Vec<NewEvent> + Sync,
) -> Result<usize, ApiError> {
    let at = super::now();
    write!(db, |conn| {
        let ended: Vec<SessionId> = diesel::update(
            sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(live_at(at)),
        )
        .set(sessions::revoked_at.eq(Some(at)))
        .returning(sessions::id)
        .get_results(conn)
        .await?;
        for event in record(&ended) {
            append_event!(conn, &event);
        }
        Ok(ended.len())
    })
}

/// How stale `last_active_at` may get: authenticated use refreshes it at most this often per
/// session, so the read path writes at most once a minute per session, not once per request.
pub const ACTIVITY_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Whether `session` was last marked active long enough ago to mark it again at `now`.
pub fn activity_is_stale(session: &Session, now: NaiveDateTime) -> bool {
    now - session.last_active_at >= ACTIVITY_RESOLUTION
}

/// Marks the session and its user active at `now`. The condition makes concurrent requests of
/// one session write once.
pub async fn mark_active(
    db: &Db,
    session_id: &SessionId,
    user_id: &UserId,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    write!(db, |conn| {
        let marked = diesel::update(
            sessions::table
                .filter(sessions::id.eq(session_id))
                .filter(sessions::last_active_at.le(now - ACTIVITY_RESOLUTION)),
        )
        .set(sessions::last_active_at.eq(now))
        .execute(conn)
        .await?;
        if marked > 0 {
            diesel::update(users::table.find(user_id))
                .set(users::last_active_at.eq(Some(now)))
                .execute(conn)
                .await?;
        }
        Ok(())
    })
}

/// Accepts TOTP step `step` for `user_id` once: true only for the first caller with a step
/// later than every step accepted before (one conditional UPDATE, so concurrent sign-ins with
/// one code get one success).
pub async fn consume_totp_step(db: &Db, user_id: &UserId, step: i64) -> Result<bool, ApiError> {
    write!(db, |conn| {
        let accepted = diesel::update(
            users::table.filter(users::id.eq(user_id)).filter(
                users::totp_last_step
                    .is_null()
                    .or(users::totp_last_step.lt(step)),
            ),
        )
        .set(users::totp_last_step.eq(Some(step)))
        .execute(conn)
        .await?;
        Ok(accepted == 1)
    })
}

/// Stores the session of a successful sign-in; marks the user active, clears their count of
/// failed sign-ins (`lockout`) and, when the stored hash was imported or has old parameters,
/// replaces it with `upgraded_hash` — only if it is still the hash the password was checked
/// against and the account is not locked: a password changed meanwhile is never undone, the
/// old one does not sign in, and a lock set by a failure that raced this attempt holds (401,
/// nothing stored).
pub async fn start(
    db: &Db,
    session: &Session,
    checked_hash: &str,
    upgraded_hash: Option<&str>,
    events: &[NewEvent],
) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::insert_into(sessions::table)
            .values(session)
            .execute(conn)
            .await?;
        let user = users::table
            .filter(users::id.eq(&session.user_id))
            .filter(users::password_hash.eq(checked_hash))
            .filter(
                users::locked_until
                    .is_null()
                    .or(users::locked_until.le(session.created_at)),
            );
        let active = (
            users::last_active_at.eq(Some(session.created_at)),
            users::failed_sign_ins.eq(0),
        );
        let updated = match upgraded_hash {
            Some(hash) => {
                diesel::update(user)
                    .set((active, users::password_hash.eq(hash)))
                    .execute(conn)
                    .await?
            }
            None => diesel::update(user).set(active).execute(conn).await?,
        };
        // The password changed while it was being checked, or a racing failure locked the
        // account: the attempt does not sign in.
        if updated == 0 {
            return Err(ApiError::unauthorized());
        }
        for event in events {
            append_event!(conn, event);
        }
        Ok(())
    })
}

/// Live sessions per user, for several users in one query.
pub async fn count_live_many(
    db: &Db,
    user_ids: &[UserId],
    now: NaiveDateTime,
) -> Result<std::collections::HashMap<UserId, i64>, ApiError> {
    if user_ids.is_empty() {
        return Ok(Default::default());
    }
    let counts: Vec<(UserId, i64)> = read!(db, |conn| Ok::<_, ApiError>(
        sessions::table
            .filter(sessions::user_id.eq_any(user_ids))
            .filter(live_at(now))
            .group_by(sessions::user_id)
            .select((sessions::user_id, diesel::dsl::count_star()))
            .load(conn)
            .await?
    ))?;
    Ok(counts.into_iter().collect())
}

/// Stores a new session (sign-in, or a test acting as a user).
pub async fn insert(db: &Db, session: &Session) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::insert_into(sessions::table)
            .values(session)
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Records that the user of the live session `session_id` proved who they are again at `at`,
/// by `amr`, with `events`; clears their count of failed sign-ins, as a successful sign-in
/// does. Returns the session as updated; 401 when it is no longer live.
pub async fn reauthenticate(
    db: &Db,
    session_id: &SessionId,
    user_id: &UserId,
    at: NaiveDateTime,
    amr: &str,
    events: &[NewEvent],
) -> Result<Session, ApiError> {
    write!(db, |conn| {
        let session: Option<Session> = diesel::update(
            sessions::table
                .filter(sessions::id.eq(session_id))
                .filter(sessions::user_id.eq(user_id))
                .filter(live_at(at)),
        )
        .set((sessions::authenticated_at.eq(at), sessions::amr.eq(amr)))
        .returning(Session::as_returning())
        .get_result(conn)
        .await
        .optional()?;
        let Some(session) = session else {
            return Err(ApiError::unauthorized());
        };
        diesel::update(users::table.find(user_id))
            .set(users::failed_sign_ins.eq(0))
            .execute(conn)
            .await?;
        for event in events {
            append_event!(conn, event);
        }
        Ok(session)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user with a thousand sessions pages them like one with a few: either direction is a
    /// range scan of the `(user_id, id)` index that stops after `limit` rows, no sort.
    #[tokio::test]
    async fn a_page_of_sessions_is_an_index_range_scan_without_a_sort() {
        use diesel::sqlite::Sqlite;

        let (_dir, mut conn) = crate::db::sqlite::plan::migrated_database().await;
        let after = Some(SessionId::new());
        for order in [Order::OldestFirst, Order::NewestFirst] {
            let now = super::super::now();
            let query: sessions::BoxedQuery<'_, Sqlite, _> =
                page_query!("user", now, after, 51, order);
            let range = match order {
                Order::OldestFirst => "id>?",
                Order::NewestFirst => "id<?",
            };
            let expected =
                format!("SEARCH sessions USING INDEX sessions_user_id_id (user_id=? AND {range})");
            assert_eq!(crate::db::sqlite::plan::of(&mut conn, &query), [expected]);
        }
    }
}
