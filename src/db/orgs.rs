//! Organizations, and the bootstrap of a new one with its first admin.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    models::{ApiKey, Organization, Session, User},
    schema::{api_keys, organizations, sessions, users},
    search_keys,
};
use crate::{domain::OrgId, error::ApiError};

pub async fn count(db: &Db) -> Result<i64, ApiError> {
    read!(db, |conn| Ok(organizations::table
        .count()
        .get_result(conn)
        .await?))
}

pub async fn find(db: &Db, id: &OrgId) -> Result<Organization, ApiError> {
    read!(db, |conn| Ok(organizations::table
        .find(id)
        .select(Organization::as_select())
        .get_result(conn)
        .await?))
}

/// Everything a new organization starts with, written in one transaction.
pub struct Bootstrap {
    pub org: Organization,
    pub admin: User,
    pub api_key: ApiKey,
    pub session: Session,
}

pub async fn create(db: &Db, new: &Bootstrap) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::insert_into(organizations::table)
            .values(&new.org)
            .execute(conn)
            .await?;
        diesel::insert_into(users::table)
            .values((&new.admin, search_keys::of(&new.admin)))
            .execute(conn)
            .await?;
        diesel::insert_into(api_keys::table)
            .values(&new.api_key)
            .execute(conn)
            .await?;
        diesel::insert_into(sessions::table)
            .values(&new.session)
            .execute(conn)
            .await?;
        Ok(())
    })
}
