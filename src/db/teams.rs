//! Teams and their members, always within one organization: a team or user id of another
//! organization is 404 exactly like one that does not exist. Removing a user from a team, or
//! deleting the team, clears `selected_team_id` where it named that team, in the same
//! transaction, recorded as a `user.updated` of that user. Each write appends its events in
//! its own transaction.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    events::{NewEvent, append_event},
    models::{Team, TeamMember, User},
    now,
    schema::{team_members, teams, users},
    search_keys,
};
use crate::{
    domain::{OrgId, TeamId, UserId},
    error::ApiError,
};

/// Up to `limit` teams of `org_id` with ids after `after`, by id (keyset on `(org_id, id)`).
pub async fn list(
    db: &Db,
    org_id: &OrgId,
    after: Option<TeamId>,
    limit: i64,
) -> Result<Vec<Team>, ApiError> {
    read!(db, |conn| {
        let mut query = teams::table
            .filter(teams::org_id.eq(org_id))
            .select(Team::as_select())
            .order(teams::id.asc())
            .limit(limit)
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(teams::id.gt(after));
        }
        Ok(query.load(conn).await?)
    })
}

pub async fn find(db: &Db, org_id: &OrgId, team_id: &TeamId) -> Result<Team, ApiError> {
    read!(db, |conn| Ok(teams::table
        .filter(teams::id.eq(team_id))
        .filter(teams::org_id.eq(org_id))
        .select(Team::as_select())
        .get_result(conn)
        .await?))
}

/// What the events of a user's change are, from the row before and after (`UserEvents::updated`).
pub trait RecordUser: Fn(&User, &User) -> Result<Vec<NewEvent>, ApiError> + Sync {}
impl<F: Fn(&User, &User) -> Result<Vec<NewEvent>, ApiError> + Sync> RecordUser for F {}

/// Inside a `write!` body: clears team `$team_id` as the selected team of whoever selected it
/// (of `$user_id` only, when it is `Some`), one user at a time, recording each change.
macro_rules! unselect_team {
    ($conn:ident, $team_id:expr, $user_id:expr, $record_user:expr) => {{
        let mut selecting = users::table
            .filter(users::selected_team_id.eq($team_id))
            .select(User::as_select())
            .into_boxed();
        if let Some(user_id) = $user_id {
            selecting = selecting.filter(users::id.eq(user_id));
        }
        let selecting: Vec<User> = selecting.load($conn).await?;
        for before in selecting {
            let after: User = diesel::update(users::table.find(&before.id))
                .set((
                    users::selected_team_id.eq(None::<TeamId>),
                    users::version.eq(users::version + 1),
                    search_keys::kept_current(),
                    users::updated_at.eq(now()),
                ))
                .returning(User::as_returning())
                .get_result($conn)
                .await?;
            for event in $record_user(&before, &after)? {
                append_event!($conn, &event);
            }
        }
    }};
}

pub async fn insert(db: &Db, team: &Team, events: &[NewEvent]) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::insert_into(teams::table)
            .values(team)
            .execute(conn)
            .await?;
        for event in events {
            append_event!(conn, event);
        }
        Ok(())
    })
}

/// Renames team `team_id`; `record` makes the events of the change from the team before and
/// after.
pub async fn rename(
    db: &Db,
    org_id: &OrgId,
    team_id: &TeamId,
    name: &str,
    record: impl Fn(&Team, &Team) -> Vec<NewEvent> + Sync,
) -> Result<Team, ApiError> {
    write!(db, |conn| {
        let mine = teams::table
            .filter(teams::id.eq(team_id))
            .filter(teams::org_id.eq(org_id));
        // Lock the row before reading it (a no-op update: PostgreSQL's row lock, SQLite's
        // write lock), so a concurrent rename cannot slip between the read and the write and
        // leave the event's `before` stale.
        diesel::update(mine)
            .set(teams::name.eq(teams::name))
            .execute(conn)
            .await?;
        let before: Team = mine.select(Team::as_select()).get_result(conn).await?;
        let after: Team = diesel::update(mine)
            .set(teams::name.eq(name))
            .returning(Team::as_returning())
            .get_result(conn)
            .await?;
        for event in record(&before, &after) {
            append_event!(conn, &event);
        }
        Ok(after)
    })
}

/// Deletes the team with its memberships and clears it as anyone's selected team.
pub async fn delete(
    db: &Db,
    org_id: &OrgId,
    team_id: &TeamId,
    events: &[NewEvent],
    record_user: impl RecordUser,
) -> Result<(), ApiError> {
    write!(db, |conn| {
        let deleted = diesel::delete(
            teams::table
                .filter(teams::id.eq(team_id))
                .filter(teams::org_id.eq(org_id)),
        )
        .execute(conn)
        .await?;
        if deleted == 0 {
            return Err(ApiError::not_found());
        }
        for event in events {
            append_event!(conn, event);
        }
        unselect_team!(conn, team_id, None::<&UserId>, record_user);
        Ok(())
    })
}

/// Adds user `user_id` to team `team_id`; adding a member again changes nothing (and appends
/// no `events`). Returns the membership.
pub async fn add_member(
    db: &Db,
    org_id: &OrgId,
    team_id: &TeamId,
    user_id: &UserId,
    events: &[NewEvent],
) -> Result<TeamMember, ApiError> {
    write!(db, |conn| {
        let team: i64 = teams::table
            .filter(teams::id.eq(team_id))
            .filter(teams::org_id.eq(org_id))
            .count()
            .get_result(conn)
            .await?;
        let user: i64 = users::table
            .filter(users::id.eq(user_id))
            .filter(users::org_id.eq(org_id))
            .count()
            .get_result(conn)
            .await?;
        if team == 0 || user == 0 {
            return Err(ApiError::not_found());
        }
        let added = diesel::insert_into(team_members::table)
            .values(&TeamMember {
                team_id: *team_id,
                user_id: *user_id,
                role: "member".into(),
                created_at: now(),
            })
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        let member = team_members::table
            .find((team_id, user_id))
            .select(TeamMember::as_select())
            .get_result(conn)
            .await?;
        if added > 0 {
            for event in events {
                append_event!(conn, event);
            }
        }
        Ok(member)
    })
}

/// Removes user `user_id` from team `team_id` (404 when they are not a member) and clears the
/// team as their selected team.
pub async fn remove_member(
    db: &Db,
    org_id: &OrgId,
    team_id: &TeamId,
    user_id: &UserId,
    events: &[NewEvent],
    record_user: impl RecordUser,
) -> Result<(), ApiError> {
    write!(db, |conn| {
        let team: i64 = teams::table
            .filter(teams::id.eq(team_id))
            .filter(teams::org_id.eq(org_id))
            .count()
            .get_result(conn)
            .await?;
        if team == 0 {
            return Err(ApiError::not_found());
        }
        let removed = diesel::delete(team_members::table.find((team_id, user_id)))
            .execute(conn)
            .await?;
        if removed == 0 {
            return Err(ApiError::not_found());
        }
        for event in events {
            append_event!(conn, event);
        }
        unselect_team!(conn, team_id, Some(user_id), record_user);
        Ok(())
    })
}

/// The teams with these ids (any organization: callers pass ids read from their own rows).
pub async fn find_many(db: &Db, ids: &[TeamId]) -> Result<Vec<Team>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    read!(db, |conn| Ok(teams::table
        .filter(teams::id.eq_any(ids))
        .select(Team::as_select())
        .load(conn)
        .await?))
}
