//! API keys of an organization. Only the SHA-256 of a secret is stored; a revoked key stays as a
//! row (for audit) but no longer authenticates and is no longer listed.

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

/// The unrevoked API key whose secret hashes to `secret_hash`.
pub async fn find_by_secret_hash(db: &Db, secret_hash: &str) -> Result<Option<ApiKey>, ApiError> {
    read!(db, |conn| Ok(api_keys::table
        .filter(api_keys::secret_hash.eq(secret_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .get_result(conn)
        .await
        .optional()?))
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
