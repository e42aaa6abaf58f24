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
        .first(conn)
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
        .first(conn)
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
