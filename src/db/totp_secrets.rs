//! The stored TOTP secrets as a whole, for `auth::reseal`: which keys seal them, and replacing
//! them in batches. Values are opaque here: nothing here seals or opens one.

use diesel::{
    prelude::*,
    sql_types::{Nullable, Text},
};
use diesel_async::RunQueryDsl;

use super::{Db, schema::users};
use crate::{domain::UserId, error::ApiError};

#[derive(QueryableByName)]
struct Head {
    #[diesel(sql_type = Nullable<Text>)]
    head: Option<String>,
}

/// The distinct first `head_len` characters of the stored secrets that start with
/// `sealed_prefix` (`None` for any that does not). One scan of `users`.
pub async fn distinct_heads(
    db: &Db,
    sealed_prefix: &str,
    head_len: usize,
) -> Result<Vec<Option<String>>, ApiError> {
    debug_assert!(!sealed_prefix.contains(['\'', '%', '_']));
    let sql = format!(
        "SELECT DISTINCT CASE WHEN totp_secret LIKE '{sealed_prefix}%' \
         THEN substr(totp_secret, 1, {head_len}) END AS head \
         FROM users WHERE totp_secret IS NOT NULL"
    );
    let heads: Vec<Head> = read!(db, |conn| Ok::<_, ApiError>(
        diesel::sql_query(&sql).load(conn).await?
    ))?;
    Ok(heads.into_iter().map(|h| h.head).collect())
}

/// Up to `limit` `(user id, stored secret)` with ids after `after` (from the first when
/// `None`), by id, whose secret does not start with `prefix`.
pub async fn page_without_prefix(
    db: &Db,
    after: Option<UserId>,
    prefix: &str,
    limit: i64,
) -> Result<Vec<(UserId, String)>, ApiError> {
    let pattern = format!("{prefix}%");
    read!(db, |conn| {
        let mut query = users::table
            .filter(users::totp_secret.is_not_null())
            .filter(users::totp_secret.not_like(&pattern))
            .order(users::id)
            .limit(limit)
            .select((users::id, users::totp_secret.assume_not_null()))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(users::id.gt(after));
        }
        Ok(query.load(conn).await?)
    })
}

/// A stored secret to replace, only if it is still `old` (a user who changed it meanwhile
/// keeps the change).
pub struct Replacement {
    pub user_id: UserId,
    pub old: String,
    pub new: String,
}

/// Applies `replacements` in one transaction; returns how many rows changed. Neither `version`
/// nor `updated_at` moves: the secret itself is the same.
pub async fn replace(db: &Db, replacements: &[Replacement]) -> Result<u64, ApiError> {
    if replacements.is_empty() {
        return Ok(0);
    }
    write!(db, |conn| {
        let mut changed = 0;
        for r in replacements {
            changed += diesel::update(
                users::table
                    .filter(users::id.eq(&r.user_id))
                    .filter(users::totp_secret.eq(&r.old)),
            )
            .set(users::totp_secret.eq(&r.new))
            .execute(conn)
            .await?;
        }
        Ok(changed as u64)
    })
}
