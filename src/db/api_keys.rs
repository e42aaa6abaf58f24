//! API keys of an organization. Only the SHA-256 of a secret is stored; a revoked key stays as a
//! row (for audit) but no longer authenticates and is no longer listed. A key past its
//! `expires_at` no longer authenticates but is still listed, until revoked. A rolled key
//! answers to its new secret, and to the previous one until `previous_secret_expires_at`.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    events::{NewEvent, append_event},
    models::ApiKey,
    now,
    schema::api_keys,
};
use crate::{
    domain::{ApiKeyId, OrgId},
    error::ApiError,
};

/// The organization's live keys, oldest first.
pub async fn list(db: &Db, org_id: &OrgId) -> Result<Vec<ApiKey>, ApiError> {
    read!(db, |conn| Ok(api_keys::table
        .filter(api_keys::org_id.eq(org_id))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .order(api_keys::id.asc())
        .load(conn)
        .await?))
}

/// The live key (unrevoked, unexpired at `now`) whose secret, or previous secret still in its
/// grace period, hashes to `secret_hash`.
pub async fn find_by_secret_hash(
    db: &Db,
    secret_hash: &str,
    now: NaiveDateTime,
) -> Result<Option<ApiKey>, ApiError> {
    read!(db, |conn| Ok(api_keys::table
        .filter(
            api_keys::secret_hash
                .eq(secret_hash)
                .or(api_keys::previous_secret_hash
                    .eq(secret_hash)
                    .and(api_keys::previous_secret_expires_at.gt(now))),
        )
        .filter(api_keys::revoked_at.is_null())
        .filter(
            api_keys::expires_at
                .is_null()
                .or(api_keys::expires_at.gt(now))
        )
        .select(ApiKey::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// How stale `last_used_at` may get: authenticated use writes it at most this often per key.
pub const USE_RESOLUTION: TimeDelta = TimeDelta::minutes(1);

/// Records that `key` authenticated at `now`, when its `last_used_at` is older than
/// `USE_RESOLUTION`: one write per key a minute, whatever the request rate. The condition is in
/// the statement too, so instances racing on one key write once.
pub async fn mark_used(db: &Db, key: &mut ApiKey, now: NaiveDateTime) -> Result<(), ApiError> {
    if key
        .last_used_at
        .is_some_and(|last| now - last < USE_RESOLUTION)
    {
        return Ok(());
    }
    let id = key.id;
    write!(db, |conn| {
        diesel::update(
            api_keys::table.filter(api_keys::id.eq(&id)).filter(
                api_keys::last_used_at
                    .is_null()
                    .or(api_keys::last_used_at.le(now - USE_RESOLUTION)),
            ),
        )
        .set(api_keys::last_used_at.eq(Some(now)))
        .execute(conn)
        .await?;
        Ok(())
    })?;
    key.last_used_at = Some(now);
    Ok(())
}

/// Gives live key `key_id` of `org_id` the secret hashing to `secret_hash`; the secret it had
/// keeps working until `grace_until` (`None`: not at all), replacing any earlier previous
/// secret. 404 when there is no such live (unrevoked, unexpired) key. `record` makes the
/// events of the rolled key, appended in the same transaction.
pub async fn roll(
    db: &Db,
    org_id: &OrgId,
    key_id: &ApiKeyId,
    secret_hash: &str,
    grace_until: Option<NaiveDateTime>,
    record: impl Fn(&ApiKey) -> Vec<NewEvent> + Sync,
) -> Result<ApiKey, ApiError> {
    let now = now();
    write!(db, |conn| {
        let live = || {
            api_keys::table
                .filter(api_keys::id.eq(key_id))
                .filter(api_keys::org_id.eq(org_id))
                .filter(api_keys::revoked_at.is_null())
                .filter(
                    api_keys::expires_at
                        .is_null()
                        .or(api_keys::expires_at.gt(now)),
                )
        };
        // Every right-hand side reads the row as it was: the old secret becomes the previous.
        let rolled: Option<ApiKey> = match grace_until {
            Some(until) => diesel::update(live())
                .set((
                    api_keys::previous_secret_hash.eq(api_keys::secret_hash.nullable()),
                    api_keys::previous_secret_expires_at.eq(Some(until)),
                    api_keys::secret_hash.eq(secret_hash),
                ))
                .returning(ApiKey::as_returning())
                .get_result(conn)
                .await
                .optional()?,
            None => diesel::update(live())
                .set((
                    api_keys::previous_secret_hash.eq(None::<String>),
                    api_keys::previous_secret_expires_at.eq(None::<NaiveDateTime>),
                    api_keys::secret_hash.eq(secret_hash),
                ))
                .returning(ApiKey::as_returning())
                .get_result(conn)
                .await
                .optional()?,
        };
        let Some(rolled) = rolled else {
            return Err(ApiError::not_found());
        };
        for event in record(&rolled) {
            append_event!(conn, &event);
        }
        Ok(rolled)
    })
}

/// Stores a new key, and its `events`.
pub async fn insert(db: &Db, key: &ApiKey, events: &[NewEvent]) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::insert_into(api_keys::table)
            .values(key)
            .execute(conn)
            .await?;
        for event in events {
            append_event!(conn, event);
        }
        Ok(())
    })
}

/// Revokes a live key of `org_id`; the next request with it answers 401. 404 when there is no
/// such live key in the organization. The revocation's `events` are appended with it.
pub async fn revoke(
    db: &Db,
    org_id: &OrgId,
    key_id: &ApiKeyId,
    events: &[NewEvent],
) -> Result<(), ApiError> {
    write!(db, |conn| {
        let revoked = diesel::update(
            api_keys::table
                .filter(api_keys::id.eq(key_id))
                .filter(api_keys::org_id.eq(org_id))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(Some(now())))
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
