//! Users: reads for the Me payload and the all-or-nothing PATCH.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use super::{
    Db,
    models::{Team, User, UserChanges},
    now,
    schema::{team_members, teams, users},
};
use crate::{
    domain::{Invalid, Metadata, merge_patch},
    error::{ApiError, FieldError},
};

/// The teams `user_id` belongs to, with the user's role in each, by name.
pub async fn teams_of(db: &Db, user_id: &str) -> Result<Vec<(Team, String)>, ApiError> {
    read!(db, |conn| Ok(team_members::table
        .inner_join(teams::table)
        .filter(team_members::user_id.eq(user_id))
        .select((Team::as_select(), team_members::role))
        .order(teams::name.asc())
        .load(conn)
        .await?))
}

/// A validated change to one user. Metadata patches are merged against the row as it is inside
/// the transaction, so concurrent PATCHes of different keys both survive.
#[derive(Debug, Default)]
pub struct UserUpdate {
    pub changes: UserChanges,
    pub client_metadata_patch: Option<Value>,
}

impl UserUpdate {
    /// The columns that really change against `current`: unchanged values are dropped, a new
    /// phone number drops its verification, metadata is merged and checked against its limits.
    pub fn against(&self, current: &User) -> Result<UserChanges, ApiError> {
        fn keep<T: PartialEq + Clone>(new: &Option<T>, current: &T) -> Option<T> {
            new.as_ref().filter(|value| *value != current).cloned()
        }
        let c = &self.changes;
        let mut changes = UserChanges {
            display_name: keep(&c.display_name, &current.display_name),
            first_name: keep(&c.first_name, &current.first_name),
            last_name: keep(&c.last_name, &current.last_name),
            bio: keep(&c.bio, &current.bio),
            profile_image_url: keep(&c.profile_image_url, &current.profile_image_url),
            phone_number: keep(&c.phone_number, &current.phone_number),
            phone_number_verified: keep(&c.phone_number_verified, &current.phone_number_verified),
            locale: keep(&c.locale, &current.locale),
            timezone: keep(&c.timezone, &current.timezone),
            client_metadata: None,
        };
        if changes.phone_number.is_some() && current.phone_number_verified {
            changes.phone_number_verified = Some(false);
        }
        if let Some(patch) = &self.client_metadata_patch {
            let merged = merged_metadata(&current.client_metadata, patch).map_err(|invalid| {
                let field = FieldError::new("client_metadata", invalid.code, invalid.reason);
                ApiError::validation(vec![field])
            })?;
            changes.client_metadata = keep(&Some(merged), &current.client_metadata);
        }
        Ok(changes)
    }
}

/// Merges `patch` into the stored JSON `stored` (RFC 7396) and checks the limits on the result.
pub fn merged_metadata(stored: &str, patch: &Value) -> Result<String, Invalid> {
    // Stored metadata was valid JSON when written; treat an unreadable value as empty.
    let current: Value =
        serde_json::from_str(stored).unwrap_or_else(|_| Value::Object(Default::default()));
    let merged = Metadata::parse(merge_patch(&current, patch))?;
    Ok(merged.as_value().to_string())
}

/// Applies `update` to user `user_id` in one transaction and returns the row as stored.
/// `expected_version` (from `If-Match`) must still be current. When nothing really changes the
/// row, `updated_at` and the version are left alone.
pub async fn update(
    db: &Db,
    user_id: &str,
    expected_version: Option<i64>,
    update: &UserUpdate,
) -> Result<User, ApiError> {
    write!(db, |conn| {
        // A no-op write takes the row lock first, so the row read next cannot go stale before
        // this transaction writes it (PostgreSQL row lock; SQLite's write lock).
        let locked = diesel::update(users::table.find(user_id))
            .set(users::version.eq(users::version))
            .execute(conn)
            .await?;
        if locked == 0 {
            return Err(ApiError::not_found());
        }
        let current: User = users::table
            .find(user_id)
            .select(User::as_select())
            .first(conn)
            .await?;
        if expected_version.is_some_and(|version| version != current.version) {
            return Err(ApiError::precondition_failed());
        }
        let changes = update.against(&current)?;
        if changes == UserChanges::default() {
            return Ok(current);
        }
        Ok(diesel::update(users::table.find(user_id))
            .set((
                &changes,
                users::version.eq(current.version + 1),
                users::updated_at.eq(now()),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await?)
    })
}

/// Sets a user's status (`active` or `suspended`); suspended users' tokens answer 401.
pub async fn set_status(db: &Db, user_id: &str, status: &str) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::status.eq(status))
            .execute(conn)
            .await?;
        Ok(())
    })
}
