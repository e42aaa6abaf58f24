//! Sessions and API keys: the rows behind every credential.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    models::{ApiKey, Session, User},
    schema::{api_keys, sessions, users},
};
use crate::error::ApiError;

/// The session `session_id` of user `user_id` with its user, if the session is live at `now`.
pub async fn find_live(
    db: &Db,
    session_id: &str,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<Option<(Session, User)>, ApiError> {
    read!(db, |conn| Ok(sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select((Session::as_select(), User::as_select()))
        .get_result(conn)
        .await
        .optional()?))
}

pub async fn count_live(db: &Db, user_id: &str, now: NaiveDateTime) -> Result<i64, ApiError> {
    read!(db, |conn| Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .count()
        .get_result(conn)
        .await?))
}

/// The unrevoked API key whose secret hashes to `secret_hash`.
pub async fn find_api_key(db: &Db, secret_hash: &str) -> Result<Option<ApiKey>, ApiError> {
    read!(db, |conn| Ok(api_keys::table
        .filter(api_keys::secret_hash.eq(secret_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .get_result(conn)
        .await
        .optional()?))
}

/// Revokes one session; its token answers 401 from the next request on.
pub async fn revoke(db: &Db, session_id: &str) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::update(sessions::table.find(session_id))
            .set(sessions::revoked_at.eq(Some(super::now())))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Live sessions per user, for several users in one query.
pub async fn count_live_many(
    db: &Db,
    user_ids: &[String],
    now: NaiveDateTime,
) -> Result<std::collections::HashMap<String, i64>, ApiError> {
    if user_ids.is_empty() {
        return Ok(Default::default());
    }
    let counts: Vec<(String, i64)> = read!(db, |conn| Ok::<_, ApiError>(
        sessions::table
            .filter(sessions::user_id.eq_any(user_ids))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
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
