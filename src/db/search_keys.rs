//! Users' search keys (`domain::SearchKey`, the `search_key` column that `GET /v1/users?q=`
//! matches), derived in Rust from the values they fold. Every write of a user row keeps its key
//! in step with its `version`: a new row stores its key (`of`), a change of a folded value stores
//! the key derived anew (`after`), any other change moves `search_key_version` along with
//! `version` (`kept_current`, no folding). So a key is current exactly when `search_key_version`
//! equals `version`; where they differ, the row was stored before the column existed or changed
//! by a version that does not know it, and `backfill`, which `Db::connect` runs, derives its key
//! again. A key is never read back into a `User`: it exists only to be matched.

use diesel::{
    dsl,
    expression::SqlLiteral,
    prelude::*,
    sql_types::{BigInt, Nullable},
};
use diesel_async::RunQueryDsl;

use super::{
    Db,
    models::{User, UserChanges},
    schema::users,
};
use crate::{
    domain::{DisplayName, EmailAddress, PersonName, SearchKey, UserId},
    error::ApiError,
};

/// Rows read and rewritten per transaction.
const BATCH: i64 = 500;

/// A key as stored, with the `version` of the row it was derived from.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = users)]
pub struct SearchKeyColumns {
    pub search_key: SearchKey,
    pub search_key_version: i64,
}

/// The key of these values, as derived at `version`.
fn derived(
    version: i64,
    display_name: Option<&DisplayName>,
    first_name: Option<&PersonName>,
    last_name: Option<&PersonName>,
    primary_email: Option<&EmailAddress>,
) -> SearchKeyColumns {
    SearchKeyColumns {
        search_key: SearchKey::new(display_name, first_name, last_name, primary_email),
        search_key_version: version,
    }
}

/// The key of new row `user`.
pub fn of(user: &User) -> SearchKeyColumns {
    derived(
        user.version,
        user.display_name.as_ref(),
        user.first_name.as_ref(),
        user.last_name.as_ref(),
        user.primary_email.as_ref(),
    )
}

/// `search_key_version = version + 1` when the key is current, else NULL (still stale).
pub type KeptCurrent = dsl::Eq<users::search_key_version, SqlLiteral<Nullable<BigInt>>>;

/// For a write that moves `version` by one without changing a value the key folds, beside
/// `version = version + 1`: `search_key_version` moves with it when the key was current, so it
/// stays current (and a stale key stays stale, for `backfill`). Nothing is folded.
pub fn kept_current() -> KeptCurrent {
    users::search_key_version.eq(dsl::sql(
        "CASE WHEN search_key_version = version THEN version + 1 END",
    ))
}

/// What a change of `current` to `version` writes of its key: when `changes` change a value the
/// key folds, the key derived anew from the changed and unchanged values (current whatever was
/// stored); otherwise `kept_current`, so a change of anything else costs no folding.
pub fn after(
    current: &User,
    changes: &UserChanges,
    version: i64,
) -> (Option<SearchKeyColumns>, Option<KeptCurrent>) {
    fn merged<'a, T>(change: &'a Option<Option<T>>, current: &'a Option<T>) -> Option<&'a T> {
        change.as_ref().unwrap_or(current).as_ref()
    }
    let folded_values_change = changes.display_name.is_some()
        || changes.first_name.is_some()
        || changes.last_name.is_some()
        || changes.primary_email.is_some();
    if !folded_values_change {
        return (None, Some(kept_current()));
    }
    let columns = derived(
        version,
        merged(&changes.display_name, &current.display_name),
        merged(&changes.first_name, &current.first_name),
        merged(&changes.last_name, &current.last_name),
        merged(&changes.primary_email, &current.primary_email),
    );
    (Some(columns), None)
}

/// A row whose key is not current: its id, version and the values its key folds.
type Stale = (
    UserId,
    i64,
    Option<DisplayName>,
    Option<PersonName>,
    Option<PersonName>,
    Option<EmailAddress>,
);

/// Up to `$limit` rows whose key is not current, with ids after `$after`, by id: a range scan of
/// the partial index `users_search_key_stale`, whose predicate it spells out literally so that
/// both planners can match it; empty once every key is current (a macro, so that the unit test
/// below can ask SQLite for the plan of exactly this query).
macro_rules! stale_query {
    ($after:expr, $limit:expr) => {{
        use diesel::{dsl::sql, sql_types::Bool};
        let mut query = users::table
            .filter(sql::<Bool>("search_key_version IS DISTINCT FROM version"))
            .order(users::id.asc())
            .limit($limit)
            .select((
                users::id,
                users::version,
                users::display_name,
                users::first_name,
                users::last_name,
                users::primary_email,
            ))
            .into_boxed();
        if let Some(after) = $after {
            query = query.filter(users::id.gt(after));
        }
        query
    }};
}

/// Derives again every key that is not current, `BATCH` rows per transaction; returns how many
/// it wrote. Neither `version` nor `updated_at` moves: the user did not change. Safe to run from
/// several processes at once, and beside writers: a key is written only to a row still at the
/// version read (a row changed meanwhile has a current key, or is left for the next run).
pub async fn backfill(db: &Db) -> Result<u64, ApiError> {
    let mut written = 0;
    let mut after: Option<UserId> = None;
    loop {
        let page: Vec<Stale> = read!(db, |conn| Ok::<_, ApiError>(
            stale_query!(after, BATCH).load(conn).await?
        ))?;
        let keys: Vec<(UserId, SearchKeyColumns)> = page
            .iter()
            .map(
                |(id, version, display_name, first_name, last_name, email)| {
                    let columns = derived(
                        *version,
                        display_name.as_ref(),
                        first_name.as_ref(),
                        last_name.as_ref(),
                        email.as_ref(),
                    );
                    (*id, columns)
                },
            )
            .collect();
        if !keys.is_empty() {
            written += write!(db, |conn| {
                let mut written = 0;
                for (id, columns) in &keys {
                    written += diesel::update(
                        users::table
                            .filter(users::id.eq(id))
                            .filter(users::version.eq(columns.search_key_version)),
                    )
                    .set(columns)
                    .execute(conn)
                    .await?;
                }
                Ok(written as u64)
            })?;
        }
        match page.last() {
            Some((last, ..)) if page.len() as i64 == BATCH => after = Some(*last),
            _ => return Ok(written),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrgId, Role, UserStatus};

    /// Opening a database where every key is current reads nothing but an empty index range.
    #[tokio::test]
    async fn stale_keys_are_found_by_the_partial_index_alone() {
        use diesel::sqlite::Sqlite;

        let (_dir, mut conn) = crate::db::sqlite::plan::migrated_database().await;
        let first: users::BoxedQuery<'_, Sqlite, _> = stale_query!(None::<&str>, BATCH);
        let later: users::BoxedQuery<'_, Sqlite, _> = stale_query!(Some("after"), BATCH);
        assert_eq!(
            crate::db::sqlite::plan::of(&mut conn, &first),
            ["SCAN users USING INDEX users_search_key_stale"]
        );
        assert_eq!(
            crate::db::sqlite::plan::of(&mut conn, &later),
            ["SEARCH users USING INDEX users_search_key_stale (id>?)"]
        );
    }

    fn user() -> User {
        let at = crate::db::now();
        User {
            id: UserId::new(),
            org_id: OrgId::new(),
            status: UserStatus::Active,
            role: Role::Member,
            display_name: Some(DisplayName::parse("Élodie D.").unwrap()),
            first_name: Some(PersonName::parse("Élodie").unwrap()),
            last_name: None,
            bio: None,
            profile_image_url: None,
            phone_number: None,
            phone_number_verified: false,
            locale: None,
            timezone: None,
            primary_email: Some(EmailAddress::parse("elodie@example.com").unwrap()),
            primary_email_key: Some("elodie@example.com".into()),
            primary_email_verified: false,
            primary_email_auth_enabled: true,
            password_hash: None,
            totp_secret: None,
            selected_team_id: None,
            client_metadata: "{}".into(),
            client_read_only_metadata: "{}".into(),
            server_metadata: "{}".into(),
            version: 3,
            created_at: at,
            updated_at: at,
            last_active_at: None,
            totp_last_step: None,
            failed_sign_ins: 0,
            locked_until: None,
            suspension_reason: None,
            suspended_until: None,
        }
    }

    #[test]
    fn a_new_row_is_keyed_by_all_four_values_at_its_version() {
        let columns = of(&user());
        assert_eq!(
            columns.search_key.as_str(),
            "\nélodie d.\nélodie\nelodie@example.com"
        );
        assert_eq!(columns.search_key_version, 3);
    }

    #[test]
    fn a_change_of_a_folded_value_keys_the_row_from_its_changed_and_unchanged_values() {
        let current = user();
        let key_after = |f: fn(&mut UserChanges)| {
            let mut changes = UserChanges::default();
            f(&mut changes);
            let (columns, kept) = after(&current, &changes, 4);
            let columns = columns.expect("a new key");
            assert!(kept.is_none());
            assert_eq!(columns.search_key_version, 4);
            columns.search_key.as_str().to_owned()
        };
        assert_eq!(
            key_after(|c| c.last_name = Some(Some(PersonName::parse("Ørsted").unwrap()))),
            "\nélodie d.\nélodie\nørsted\nelodie@example.com"
        );
        assert_eq!(
            key_after(|c| c.display_name = Some(None)),
            "\nélodie\nelodie@example.com"
        );
        assert_eq!(
            key_after(|c| c.first_name = Some(Some(PersonName::parse("ÅSA").unwrap()))),
            "\nélodie d.\nåsa\nelodie@example.com"
        );
        assert_eq!(
            key_after(|c| c.primary_email = Some(None)),
            "\nélodie d.\nélodie"
        );
    }

    #[test]
    fn a_change_of_anything_else_folds_nothing_and_keeps_the_key_as_current_as_it_was() {
        let changes = UserChanges {
            bio: Some(None),
            role: Some(Role::Admin),
            ..UserChanges::default()
        };
        let (columns, kept) = after(&user(), &changes, 4);
        assert_eq!(columns, None);
        assert!(kept.is_some());
    }
}
