//! Users: the rows behind `/v1/me` and `/v1/users`. Every query that takes a user id also takes
//! the caller's organization, so an id of another organization behaves exactly like an id that
//! does not exist. E-mail uniqueness is decided by the unique index `(org_id, primary_email_key)`,
//! never by a check before the write, so concurrent writers of one address get one success.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    admins::{is_active_admin, keep_an_active_admin, removes_active_admin},
    events::{NewEvent, append_event},
    mail::{QueuedMail, enqueue_mail},
    models::{Team, User, UserChanges},
    now,
    recovery_codes::change_recovery_codes,
    schema::{idempotency_keys, team_members, teams, users},
    search_keys,
    sessions::{Revoke, revoke_sessions},
    tickets::{Ticket, issue_ticket, refuse_taken_target},
};
use crate::{
    domain::{OrgId, SearchPrefix, TeamId, UserId, UserStatus},
    error::{ApiError, ErrorCode, FieldError},
};

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

/// The user of organization `org_id` whose lower-cased address is `email_key`, for sign-in.
pub async fn find_by_email_key(
    db: &Db,
    org_id: &OrgId,
    email_key: &str,
) -> Result<Option<User>, ApiError> {
    read!(db, |conn| Ok(users::table
        .filter(users::org_id.eq(org_id))
        .filter(users::primary_email_key.eq(email_key))
        .select(User::as_select())
        .get_result(conn)
        .await
        .optional()?))
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
    /// A prefix of `display_name`, `first_name`, `last_name` or the address, whatever the
    /// letter case (matched against the row's `search_key`).
    pub prefix: Option<SearchPrefix>,
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
    let pattern = match filter.prefix.as_ref().map(SearchPrefix::key_fragment) {
        None => None,
        Some(Some(fragment)) => Some(like_containing(&fragment)),
        // A prefix spanning lines starts no single value.
        Some(None) => return Ok(Vec::new()),
    };
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
            query = query.filter(users::search_key.like(pattern).escape('\\'));
        }
        query
    }};
}
use list_query;

/// `%text%` with `LIKE`'s own wildcards escaped in `text`, so `q=a_b` matches only `a_b…`.
fn like_containing(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
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
/// exist there), so the row read cannot go stale before the transaction ends (`LockUser`).
macro_rules! locked_user {
    ($conn:ident, $org_id:expr, $user_id:expr) => {{
        match $crate::db::users::LockUser::lock_user(&mut *$conn, $org_id, $user_id).await? {
            Some(user) => user,
            None => return Err(ApiError::not_found()),
        }
    }};
}

/// Locking a user's row and reading it, each backend its own way.
pub(crate) trait LockUser {
    async fn lock_user(&mut self, org_id: &OrgId, user_id: &UserId) -> QueryResult<Option<User>>;
}

/// `SELECT … FOR UPDATE`: the row lock and the row in one round trip.
impl LockUser for diesel_async::AsyncPgConnection {
    async fn lock_user(&mut self, org_id: &OrgId, user_id: &UserId) -> QueryResult<Option<User>> {
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::org_id.eq(org_id))
            .select(User::as_select())
            .for_update()
            .get_result(self)
            .await
            .optional()
    }
}

/// SQLite has no row locks: the write transaction already holds the database's write lock
/// (`BEGIN IMMEDIATE`), so the row is simply read.
impl<S> LockUser
    for diesel_async::sync_connection_wrapper::SyncConnectionWrapper<SqliteConnection, S>
where
    S: diesel_async::sync_connection_wrapper::SpawnBlocking + Send,
{
    async fn lock_user(&mut self, org_id: &OrgId, user_id: &UserId) -> QueryResult<Option<User>> {
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::org_id.eq(org_id))
            .select(User::as_select())
            .get_result(self)
            .await
            .optional()
    }
}

pub(crate) use locked_user;

/// Deletes user `user_id` of `org_id` with everything personal: the row (names, addresses,
/// metadata, credentials), by cascade their sessions (tokens answer 401 at once) and team
/// memberships, and the stored response of the request that created them. The address is free
/// for reuse afterwards. A second delete is 404. `authorize` judges the user as locked; the
/// organization's last active admin is never deleted (409 `LAST_ADMIN`). The events `record`
/// makes of the user as it was are appended in the same transaction.
pub async fn delete(
    db: &Db,
    org_id: &OrgId,
    user_id: &UserId,
    authorize: impl Fn(&User) -> Result<(), ApiError> + Sync,
    record: impl Fn(&User) -> Vec<NewEvent> + Sync,
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
        for event in record(&current) {
            append_event!(conn, &event);
        }
        Ok(())
    })
}

/// What a use case decided to write to one user, judged against the row as locked.
#[derive(Debug, Default)]
pub struct Write {
    /// Only the columns that really change; empty when nothing does.
    pub changes: UserChanges,
    /// Sessions revoked in the same transaction.
    pub revoke: Revoke,
    /// A ticket issued in the same transaction (a verified change of address), superseding the
    /// user's earlier ones of its type; a `change_email` ticket to an address another user has
    /// is 409 `EMAIL_TAKEN`.
    pub ticket: Option<Ticket>,
    /// Messages queued in the same transaction (`mail::Mailer::prepare`).
    pub mails: Vec<QueuedMail>,
    /// Events appended whether or not the row changes (the ticket's flow, named).
    pub events: Vec<NewEvent>,
    /// What happens to the user's TOTP recovery codes in the same transaction.
    pub recovery_codes: super::recovery_codes::CodesChange,
}

/// The 422 for a `selected_team_id` that names no team the user belongs to.
pub fn not_a_team_member() -> FieldError {
    FieldError::new(
        "selected_team_id",
        ErrorCode::NotATeamMember,
        "the user is not a member of this team",
    )
}

/// Writes what `decide` makes of user `user_id` of `org_id` as locked, in one transaction, and
/// returns the row as stored. `expected_version` (from `If-Match`) must still be current. The
/// organization's last active admin is never demoted or suspended (409 `LAST_ADMIN`), and a
/// selected team must still have the user as a member. When nothing really changes the row,
/// `updated_at` and the version are left alone. The events `record` makes of the row before and
/// after are appended in the same transaction.
pub async fn update(
    db: &Db,
    org_id: &OrgId,
    user_id: &UserId,
    expected_version: Option<i64>,
    decide: impl Fn(&User) -> Result<Write, ApiError> + Sync,
    record: impl Fn(&User, &User) -> Result<Vec<NewEvent>, ApiError> + Sync,
) -> Result<User, ApiError> {
    write!(db, |conn| {
        let current = locked_user!(conn, org_id, user_id);
        if expected_version.is_some_and(|version| version != current.version) {
            return Err(ApiError::precondition_failed());
        }
        let Write {
            changes,
            revoke,
            ticket,
            mails,
            events,
            recovery_codes,
        } = decide(&current)?;
        if let Some(ticket) = &ticket {
            refuse_taken_target!(conn, ticket, "primary_email");
            issue_ticket!(conn, ticket);
        }
        for mail in &mails {
            enqueue_mail!(conn, mail);
        }
        if changes == UserChanges::default() {
            for event in &events {
                append_event!(conn, event);
            }
            return Ok(current);
        }
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
        let version = current.version + 1;
        let updated = diesel::update(users::table.find(user_id))
            .set((
                &changes,
                search_keys::after(&current, &changes, version),
                users::version.eq(version),
                users::updated_at.eq(now()),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
            .map_err(email_taken)?;
        revoke_sessions!(conn, user_id, revoke);
        change_recovery_codes!(conn, user_id, &recovery_codes, updated.updated_at);
        for event in record(&current, &updated)?.iter().chain(&events) {
            append_event!(conn, event);
        }
        Ok(updated)
    })
}

/// Sets a user's status and nothing else: no session is revoked and no event recorded. For
/// tests of the request-time status check, which must hold even for a session a suspension's
/// revocation missed; the API suspends through `update`, which does both.
#[doc(hidden)]
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
        assert_eq!(like_containing("\nada"), "%\nada%");
        assert_eq!(like_containing("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
