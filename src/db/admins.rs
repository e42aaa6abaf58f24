//! An organization always keeps an active admin (PRODUCT §7): a write that would leave it with
//! none — demoting, suspending or deleting its last active admin — is refused with 409
//! `LAST_ADMIN` and changes nothing. The check runs inside the writing transaction, after the
//! user's row is locked, under a lock on the organization's row: two such writes in one
//! organization run one after the other. On PostgreSQL (READ COMMITTED) the second waits for
//! the first to commit, and its count, a statement of its own, then sees what the first left;
//! on SQLite the single write connection already serialises every write, and so do SQLite's
//! own locks between processes. Locks are always taken user row first, then organization, so
//! two such writes cannot deadlock.

use super::models::{User, UserChanges};
use crate::{
    domain::{Role, UserStatus},
    error::{ApiError, ErrorCode},
};

/// Whether `user` counts as one of the organization's admins: role `admin`, status `active`
/// (a timed ban that has lapsed counts as active).
pub fn is_active_admin(user: &User) -> bool {
    user.role == Role::Admin && user.status_now() == UserStatus::Active
}

/// Whether `changes` (what really changes against `current`) take an active admin away.
pub fn removes_active_admin(current: &User, changes: &UserChanges) -> bool {
    is_active_admin(current) && (changes.role.is_some() || changes.status.is_some())
}

/// How many active admins organization `$org_id` has besides `$user_id`, by stored status: an
/// admin whose timed ban lapsed is not counted, which can only refuse more (a macro, so that the
/// unit test below can ask SQLite for the plan of exactly this query).
macro_rules! other_active_admins {
    ($org_id:expr, $user_id:expr) => {{
        use diesel::{dsl::sql, sql_types::Bool};
        use $crate::db::schema::users;
        users::table
            .filter(users::org_id.eq($org_id))
            .filter(sql::<Bool>("role = 'admin' AND status = 'active'"))
            .filter(users::id.ne($user_id))
            .count()
    }};
}
pub(crate) use other_active_admins;

/// Inside a `write!` body: refuses (409 `LAST_ADMIN`, returned from the body, which rolls the
/// transaction back) unless organization `$org_id` has an active admin other than `$user_id`.
/// The organization's row is locked first by a write that changes nothing (on PostgreSQL a
/// `FOR NO KEY UPDATE` lock held until commit, which leaves inserts that reference the
/// organization free); the count uses the partial index `users_active_admins`, whose predicate
/// it spells out literally so that both planners can match it.
macro_rules! keep_an_active_admin {
    ($conn:ident, $org_id:expr, $user_id:expr) => {{
        use $crate::db::schema::organizations;
        diesel::update(organizations::table.find($org_id))
            .set(organizations::name.eq(organizations::name))
            .execute($conn)
            .await?;
        let others: i64 = $crate::db::admins::other_active_admins!($org_id, $user_id)
            .get_result($conn)
            .await?;
        if others == 0 {
            return Err($crate::db::admins::last_admin());
        }
    }};
}
pub(crate) use keep_an_active_admin;

pub fn last_admin() -> ApiError {
    ApiError::new(
        ErrorCode::LastAdmin,
        "this is the organization's last active admin: make another user an active admin first",
    )
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    /// The count reads the small partial index of active admins, never the organization's
    /// users one by one.
    #[tokio::test]
    async fn counting_active_admins_reads_the_partial_index() {
        let (_dir, mut conn) = crate::db::sqlite::plan::migrated_database().await;
        let plan = crate::db::sqlite::plan::of(&mut conn, &other_active_admins!("org", "user"));
        assert_eq!(
            plan,
            ["SEARCH users USING INDEX users_active_admins (org_id=?)"]
        );
    }
}
