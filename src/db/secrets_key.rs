//! The fleet's secrets key: the id of the key that every instance seals TOTP secrets with
//! (`auth::secrets`), one row. Instances on one database must share that key, or a secret one
//! of them seals cannot be opened by the others (their users' 2FA sign-ins fail there), and
//! nothing would say so until a restart. Each instance claims the row at start
//! (`auth::reseal::open_keys`) and refuses to start when the fleet's key is another.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Db, now, schema::fleet_secrets_key};
use crate::error::ApiError;

/// What claiming the fleet's key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The fleet's key is this instance's current key (it was, it was unset, or this instance
    /// holds the fleet's key as its previous one and so carries a rotation to its current one).
    Ours,
    /// The fleet seals with another key, by this id.
    Another(String),
}

/// Claims the fleet's key for `current`, with `previous` (the key a rotation moves from). The
/// first instance on a database makes its key the fleet's; of two first instances at once, the
/// second's insert does nothing and it reads the first's key.
pub async fn claim(db: &Db, current: &str, previous: Option<&str>) -> Result<Claim, ApiError> {
    write!(db, |conn| {
        diesel::insert_into(fleet_secrets_key::table)
            .values((
                fleet_secrets_key::id.eq(1),
                fleet_secrets_key::key_id.eq(current),
                fleet_secrets_key::updated_at.eq(now()),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        let fleet: String = fleet_secrets_key::table
            .find(1)
            .select(fleet_secrets_key::key_id)
            .first(conn)
            .await?;
        if fleet == current {
            return Ok(Claim::Ours);
        }
        if Some(fleet.as_str()) != previous {
            return Ok(Claim::Another(fleet));
        }
        diesel::update(fleet_secrets_key::table.find(1))
            .set((
                fleet_secrets_key::key_id.eq(current),
                fleet_secrets_key::updated_at.eq(now()),
            ))
            .execute(conn)
            .await?;
        Ok(Claim::Ours)
    })
}
