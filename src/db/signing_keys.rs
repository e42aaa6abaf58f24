//! The fleet's registry of token signing keys: the public half of every instance's key, so that
//! a token signed by one instance verifies on all of them (`auth::fleet`). Only public keys are
//! stored; each private key stays in its instance's key file. A retired key stays as a row, so
//! that an instance still holding it cannot publish it again.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Db, now, schema::signing_keys};
use crate::error::ApiError;

/// A published key.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
pub struct PublishedKey {
    pub kid: String,
    /// The Ed25519 public key, base64url (the JWK `x`).
    pub public_x: String,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
}

/// What publishing a key found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publication {
    /// The key was new to the registry, or already in it: it verifies fleet-wide.
    Live,
    /// The key was retired: an instance must not sign with it.
    Retired,
}

/// Adds `kid` to the registry unless it is there already; says whether it is retired. A `kid`
/// already published with another public key is refused (it names a key by its hash, so that
/// is a corrupt row).
pub async fn publish(db: &Db, kid: &str, public_x: &str) -> Result<Publication, ApiError> {
    write!(db, |conn| {
        diesel::insert_into(signing_keys::table)
            .values((
                signing_keys::kid.eq(kid),
                signing_keys::public_x.eq(public_x),
                signing_keys::created_at.eq(now()),
            ))
            .on_conflict(signing_keys::kid)
            .do_nothing()
            .execute(conn)
            .await?;
        let stored: PublishedKey = signing_keys::table
            .find(kid)
            .select(PublishedKey::as_select())
            .get_result(conn)
            .await?;
        if stored.public_x != public_x {
            return Err(ApiError::internal(format!(
                "signing key {kid} is registered with another public key"
            )));
        }
        Ok(match stored.retired_at {
            Some(_) => Publication::Retired,
            None => Publication::Live,
        })
    })
}

/// Every key, oldest first.
pub async fn all(db: &Db) -> Result<Vec<PublishedKey>, ApiError> {
    read!(db, |conn| Ok(signing_keys::table
        .select(PublishedKey::as_select())
        .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
        .load(conn)
        .await?))
}

/// Retires `kid`: from each instance's next refresh of the registry on, tokens it signed no
/// longer verify. `false` when there is no such live key.
pub async fn retire(db: &Db, kid: &str) -> Result<bool, ApiError> {
    write!(db, |conn| {
        let retired = diesel::update(
            signing_keys::table
                .filter(signing_keys::kid.eq(kid))
                .filter(signing_keys::retired_at.is_null()),
        )
        .set(signing_keys::retired_at.eq(Some(now())))
        .execute(conn)
        .await?;
        Ok(retired == 1)
    })
}
