//! Users: the rows behind `/v1/me` and `/v1/users`. Every query that takes a user id also takes
//! the caller's organization, so an id of another organization behaves exactly like an id that
//! does not exist. E-mail uniqueness is decided by the unique index `(org_id, primary_email_key)`,
//! never by a check before the write, so concurrent writers of one address get one success.

use diesel::{prelude::*, sql_types::Text};
use diesel_async::RunQueryDsl;
use serde_json::Value;

use super::{
    Db,
    admins::{is_active_admin, keep_an_active_admin, removes_active_admin},
    models::{Team, User, UserChanges},
    now,
    schema::{idempotency_keys, team_members, teams, users},
    sessions::revoke_sessions,
};
use crate::{
    domain::{Invalid, Metadata, OrgId, SessionId, TeamId, UserId, UserStatus, merge_patch},
    error::{ApiError, ErrorCode, FieldError},
};

diesel::define_sql_function! {
    /// SQL `lower()`, the same on SQLite and PostgreSQL for the ASCII range used by prefixes.
    #[sql_name = "lower"]
    fn sql_lower(x: diesel::sql_types::Nullable<Text>) -> diesel::sql_types::Nullable<Text>;
}

/// The teams `user_id` belongs to, with the user's role in each, by name.
pub async fn teams_of(db: &Db, user_id: &UserId) -> Result<Vec<(Team, String)>, ApiError> {
    read!(db, |conn| Ok(team_members::table
        .inner_join(teams::table)
        .filter(team_members::user_id.eq(user_id))
        .select((Team::as_select(), team_members::role))
        .order(teams::name.asc())
        .load(conn)
        .await?))
}

/// User `user_id` of organization `org_id`; 404 when it does not exist there.
pub async fn find(db: &Db, org_id: &OrgId, user_id: &UserId) -> Result<User, ApiError> {
    read!(db, |conn| Ok(users::table
        .filter(users::id.eq(user_id))
        .filter(users::org_id.eq(org_id))
        .select(User::as_select())
        .get_result(conn)
        .await?))
}

/// Whether `user_id` is a member of team `team_id`.
pub async fn is_member(db: &Db, team_id: &TeamId, user_id: &UserId) -> Result<bool, ApiError> {
    read!(db, |conn| {
        let found: i64 = team_members::table
            .filter(team_members::team_id.eq(team_id))
            .filter(team_members::user_id.eq(user_id))
            .count()
            .get_result(conn)
            .await?;
        Ok(found > 0)
    })
}

/// Narrows `GET /v1/users`.
#[derive(Debug, Default)]
pub struct UserFilter {
    /// Exact address, already lower-cased (`primary_email_key`).
    pub email_key: Option<String>,
    /// Lower-cased prefix of `display_name`, `first_name`, `last_name` or the address.
    pub prefix: Option<String>,
}

/// Up to `limit` users of `org_id` with ids after `after`, by id. Keyset pagination on the
/// `(org_id, id)` index: every page costs what the first costs.
pub async fn list(
    db: &Db,
    org_id: &OrgId,
    after: Option<UserId>,
    limit: i64,
    filter: &UserFilter,
) -> Result<Vec<User>, ApiError> {
    let pattern = filter.prefix.as_deref().map(like_prefix);
    read!(db, |conn| Ok(list_query!(
        org_id, after, limit, filter, &pattern
    )
    .load(conn)
    .await?))
}

/// The list query, boxed for whichever backend it is used with (a macro, so that the unit test
/// below can ask SQLite for the plan of exactly this query).
macro_rules! list_query {
    ($org_id:expr, $after:expr, $limit:expr, $filter:expr, $pattern:expr) => {{
        let mut query = users::table
            .filter(users::org_id.eq($org_id))
            .select(User::as_select())
            .order(users::id.asc())
            .limit($limit)
            .into_boxed();
        if let Some(after) = $after {
            query = query.filter(users::id.gt(after));
        }
        if let Some(key) = &$filter.email_key {
            query = query.filter(users::primary_email_key.eq(key));
        }
        if let Some(pattern) = $pattern {
            query = query.filter(
                users::primary_email_key
                    .like(pattern)
                    .escape('\\')
                    .or(sql_lower(users::display_name).like(pattern).escape('\\'))
                    .or(sql_lower(users::first_name).like(pattern).escape('\\'))
                    .or(sql_lower(users::last_name).like(pattern).escape('\\')),
            );
        }
        query
    }};
}
use list_query;

/// `prefix%` with `LIKE`'s own wildcards escaped, so `q=a_b` matches only `a_b…`.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Maps the unique index on `(org_id, primary_email_key)` to 409 `EMAIL_TAKEN`; user ids are
/// UUIDv7 and never collide, so it is the only unique violation a user write can meet.
pub fn email_taken(error: diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => ApiError::new(
            ErrorCode::EmailTaken,
            "another user of this organization has this e-mail address",
        )
        .with_field(FieldError::new(
            "primary_email",
            ErrorCode::EmailTaken,
            "already used by another user of this organization",
        )),
        other => other.into(),
    }
}

/// Inside a `write!` body: locks user `$user_id` of `$org_id` and reads it (404 when it does not
/// exist there). A write that changes nothing takes the row lock first (PostgreSQL's row lock,
/// SQLite's write lock), so the row read next cannot go stale before the transaction ends.
macro_rules! locked_user {
    ($conn:ident, $org_id:expr, $user_id:expr) => {{
        let locked = diesel::update(
            users::table
                .filter(users::id.eq($user_id))
                .filter(users::org_id.eq($org_id)),
        )
        .set(users::version.eq(users::version))
        .execute($conn)
        .await?;
        if locked == 0 {
            return Err(ApiError::not_found());
        }
        let current: User = users::table
            .find($user_id)
            .select(User::as_select())
            .get_result($conn)
            .await?;
        current
    }};
}

/// Deletes user `user_id` of `org_id` with everything personal: the row (names, addresses,
/// metadata, credentials), by cascade their sessions (tokens answer 401 at once) and team
/// memberships, and the stored response of the request that created them. The address is free
/// for reuse afterwards. A second delete is 404. `authorize` judges the user as locked; the
/// organization's last active admin is never deleted (409 `LAST_ADMIN`).
pub async fn delete(
    db: &Db,
    org_id: &OrgId,
    user_id: &UserId,
    authorize: impl Fn(&User) -> Result<(), ApiError> + Sync,
) -> Result<(), ApiError> {
    write!(db, |conn| {
        let current = locked_user!(conn, org_id, user_id);
        authorize(&current)?;
        if is_active_admin(&current) {
            keep_an_active_admin!(conn, org_id, user_id);
        }
        diesel::delete(users::table.find(user_id))
            .execute(conn)
            .await?;
        // A stored create response is personal data too; its key may then be used afresh.
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// A validated change to one user. Metadata patches are merged against the row as it is inside
/// the transaction, so concurrent PATCHes of different keys both survive.
#[derive(Debug, Default)]
pub struct UserUpdate {
    pub changes: UserChanges,
    pub client_metadata_patch: Option<Value>,
    pub client_read_only_metadata_patch: Option<Value>,
    pub server_metadata_patch: Option<Value>,
    /// A TOTP time step proved by a code in this request: accepted only if it is later than
    /// the last accepted step (checked under the row lock), and then recorded as it.
    pub totp_step: Option<i64>,
    /// Which sessions a new (or removed) password revokes, in the same transaction.
    pub on_password_change: Revoke,
}

/// Sessions to revoke together with a change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Revoke {
    #[default]
    None,
    /// Every session of the user but this one (the caller's own).
    AllExcept(SessionId),
    All,
}

impl UserUpdate {
    /// The columns that really change against `current`: unchanged values are dropped, a new
    /// phone number or address drops its verification (unless this change sets it), metadata is
    /// merged and checked against its limits.
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
            selected_team_id: keep(&c.selected_team_id, &current.selected_team_id),
            primary_email: keep(&c.primary_email, &current.primary_email),
            primary_email_key: None,
            primary_email_verified: keep(
                &c.primary_email_verified,
                &current.primary_email_verified,
            ),
            primary_email_auth_enabled: keep(
                &c.primary_email_auth_enabled,
                &current.primary_email_auth_enabled,
            ),
            role: keep(&c.role, &current.role),
            status: keep(&c.status, &current.status),
            client_read_only_metadata: None,
            server_metadata: None,
            // A new hash never equals the old one (fresh salt); clearing what is clear is no change.
            password_hash: keep(&c.password_hash, &current.password_hash),
            totp_secret: keep(&c.totp_secret, &current.totp_secret),
            totp_last_step: keep(&c.totp_last_step, &current.totp_last_step),
        };
        if let Some(step) = self.totp_step {
            if current.totp_last_step.is_some_and(|last| step <= last) {
                return Err(ApiError::forbidden(
                    "this TOTP code was already used; wait for the next one",
                ));
            }
            changes.totp_last_step = Some(Some(step));
        }
        if changes.phone_number.is_some()
            && c.phone_number_verified.is_none()
            && current.phone_number_verified
        {
            changes.phone_number_verified = Some(false);
        }
        if let Some(address) = &changes.primary_email {
            let key = address.as_ref().map(|address| address.key());
            if key != current.primary_email_key {
                if c.primary_email_verified.is_none() && current.primary_email_verified {
                    changes.primary_email_verified = Some(false);
                }
                changes.primary_email_key = Some(key);
            }
        }
        let merge = |field: &str, stored: &str, patch: &Option<Value>| {
            patch
                .as_ref()
                .map(|patch| {
                    merged_metadata(stored, patch).map_err(|invalid| {
                        ApiError::validation(vec![FieldError::new(
                            field,
                            invalid.code,
                            invalid.reason,
                        )])
                    })
                })
                .transpose()
        };
        changes.client_metadata = keep(
            &merge(
                "client_metadata",
                &current.client_metadata,
                &self.client_metadata_patch,
            )?,
            &current.client_metadata,
        );
        changes.client_read_only_metadata = keep(
            &merge(
                "client_read_only_metadata",
                &current.client_read_only_metadata,
                &self.client_read_only_metadata_patch,
            )?,
            &current.client_read_only_metadata,
        );
        changes.server_metadata = keep(
            &merge(
                "server_metadata",
                &current.server_metadata,
                &self.server_metadata_patch,
            )?,
            &current.server_metadata,
        );
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

/// The 422 for a `selected_team_id` that names no team the user belongs to.
pub fn not_a_team_member() -> FieldError {
    FieldError::new(
        "selected_team_id",
        ErrorCode::NotATeamMember,
        "the user is not a member of this team",
    )
}

/// Applies `update` to user `user_id` of `org_id` in one transaction and returns the row as
/// stored. `expected_version` (from `If-Match`) must still be current. `authorize` judges what
/// really changes against the row as locked; the organization's last active admin is never
/// demoted or suspended (409 `LAST_ADMIN`). When nothing really changes the row, `updated_at`
/// and the version are left alone.
pub async fn update(
    db: &Db,
    org_id: &OrgId,
    user_id: &UserId,
    expected_version: Option<i64>,
    update: &UserUpdate,
    authorize: impl Fn(&User, &UserChanges) -> Result<(), ApiError> + Sync,
) -> Result<User, ApiError> {
    write!(db, |conn| {
        let current = locked_user!(conn, org_id, user_id);
        if expected_version.is_some_and(|version| version != current.version) {
            return Err(ApiError::precondition_failed());
        }
        let changes = update.against(&current)?;
        if changes == UserChanges::default() {
            return Ok(current);
        }
        authorize(&current, &changes)?;
        if removes_active_admin(&current, &changes) {
            keep_an_active_admin!(conn, org_id, user_id);
        }
        // Checked again under the row lock: a membership removed since the request was read
        // must not leave a dangling selection.
        if let Some(Some(team_id)) = &changes.selected_team_id {
            let member: i64 = team_members::table
                .filter(team_members::team_id.eq(team_id))
                .filter(team_members::user_id.eq(user_id))
                .count()
                .get_result(conn)
                .await?;
            if member == 0 {
                return Err(ApiError::validation(vec![not_a_team_member()]));
            }
        }
        let updated = diesel::update(users::table.find(user_id))
            .set((
                &changes,
                users::version.eq(current.version + 1),
                users::updated_at.eq(now()),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
            .map_err(email_taken)?;
        let revoke = if changes.status == Some(UserStatus::Suspended) {
            Revoke::All
        } else if changes.password_hash.is_some() {
            update.on_password_change.clone()
        } else {
            Revoke::None
        };
        revoke_sessions!(conn, user_id, revoke);
        Ok(updated)
    })
}

/// Sets a user's status (`active` or `suspended`); suspended users' tokens answer 401.
pub async fn set_status(db: &Db, user_id: &UserId, status: UserStatus) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::status.eq(status))
            .execute(conn)
            .await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Page N costs what page 1 costs: the query of a later page is a range scan of the
    /// `(org_id, id)` index that stops after `limit` rows — no sort, no offset.
    #[tokio::test]
    async fn a_later_page_is_an_index_range_scan_without_a_sort() {
        use diesel::sqlite::Sqlite;

        let (_dir, mut conn) = crate::db::sqlite::plan::migrated_database().await;
        let mut plan_of = |filter: UserFilter| {
            let query: users::BoxedQuery<'_, Sqlite, _> =
                list_query!("org", Some("after"), 51, filter, &None::<String>);
            crate::db::sqlite::plan::of(&mut conn, &query)
        };
        let plan = plan_of(UserFilter::default());
        assert_eq!(
            plan,
            ["SEARCH users USING INDEX users_org_id (org_id=? AND id>?)"]
        );
        // The exact-address filter is a lookup in the unique index: at most one row.
        let plan = plan_of(UserFilter {
            email_key: Some("ada@example.com".into()),
            prefix: None,
        });
        assert_eq!(
            plan,
            ["SEARCH users USING INDEX users_org_email_key (org_id=? AND primary_email_key=?)"]
        );
    }

    #[test]
    fn like_wildcards_in_a_prefix_are_escaped() {
        assert_eq!(like_prefix("ada"), "ada%");
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
