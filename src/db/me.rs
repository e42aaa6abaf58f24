//! The reads behind the Me payload (`GET`/`PATCH /v1/me`), on one pooled connection: a checkout
//! is not free (on PostgreSQL it is a `SELECT 1` round trip), so the hottest path of the service
//! takes one for everything it reads. Every query here binds single values (no `IN (…)` lists),
//! so each is prepared once per connection and then served from diesel's statement cache.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    models::{Organization, Session, Team, User},
    schema::{organizations, sessions, team_members, teams, tickets, users},
    tickets::MAX_CODE_ATTEMPTS,
};
use crate::{
    domain::{EmailAddress, SessionId, TicketType, UserId, UserStatus},
    error::ApiError,
};

/// Everything of the Me payload besides the user row and the session.
pub struct MeRows {
    pub org: Organization,
    /// The user's teams by name, with the user's role in each.
    pub teams: Vec<(Team, String)>,
    pub selected_team: Option<Team>,
    pub active_sessions: i64,
    /// The address of the user's live `change_email` ticket, if any: the change of address
    /// waiting to be confirmed.
    pub pending_email: Option<EmailAddress>,
    /// Unused TOTP recovery codes; `None` when 2FA is off.
    pub recovery_codes_remaining: Option<i64>,
}

/// The queries after the user row: teams, selected team, live sessions. Expanded inside `read!`
/// so that it is written once for both backends.
macro_rules! rest_of_me {
    ($conn:ident, $user:expr, $now:expr) => {{
        let user: &User = $user;
        let teams: Vec<(Team, String)> = team_members::table
            .inner_join(teams::table)
            .filter(team_members::user_id.eq(&user.id))
            .select((Team::as_select(), team_members::role))
            .order(teams::name.asc())
            .load($conn)
            .await?;
        // A selected team is one of the user's teams (enforced on write); look it up there and
        // fall back to a query only if it is not (a membership removed since, say).
        let selected_team = match &user.selected_team_id {
            None => None,
            Some(id) => match teams.iter().find(|(team, _)| &team.id == id) {
                Some((team, _)) => Some(team.clone()),
                None => teams::table
                    .find(id)
                    .select(Team::as_select())
                    .get_result($conn)
                    .await
                    .optional()?,
            },
        };
        let active_sessions: i64 = sessions::table
            .filter(sessions::user_id.eq(&user.id))
            .filter(super::sessions::live_at($now))
            .count()
            .get_result($conn)
            .await?;
        let pending_email = pending_email!($conn, &user.id, $now);
        let recovery_codes_remaining = match &user.totp_secret {
            Some(_) => Some(super::recovery_codes::count_remaining!($conn, &user.id)),
            None => None,
        };
        (
            teams,
            selected_team,
            active_sessions,
            pending_email,
            recovery_codes_remaining,
        )
    }};
}

/// Inside a `read!` body: the target of user `$user_id`'s live `change_email` ticket (unused,
/// not superseded, not expired at `$now`), if any. Issuing one supersedes the others, so there
/// is at most one.
macro_rules! pending_email {
    ($conn:ident, $user_id:expr, $now:expr) => {{
        let pending: Option<Option<EmailAddress>> = tickets::table
            .filter(tickets::user_id.eq($user_id))
            .filter(tickets::kind.eq(TicketType::ChangeEmail))
            .filter(tickets::used_at.is_null())
            .filter(tickets::superseded_at.is_null())
            .filter(tickets::code_attempts.lt(MAX_CODE_ATTEMPTS))
            .filter(tickets::expires_at.gt($now))
            .order(tickets::created_at.desc())
            .select(tickets::target_email)
            .first($conn)
            .await
            .optional()?;
        pending.flatten()
    }};
}

/// The address user `user_id` asked to move to, waiting to be confirmed (`pending_email!`).
pub async fn pending_email(db: &Db, user_id: &UserId) -> Result<Option<EmailAddress>, ApiError> {
    let at = super::now();
    read!(db, |conn| Ok(pending_email!(conn, user_id, at)))
}

/// The session `session_id` of user `user_id` if it is live at `now`, with its user, the user's
/// organization and the rest of the Me payload, all on one connection. `None` when the session is
/// not live (revoked, expired, unknown, or not this user's): the caller answers 401.
pub async fn load_with_session(
    db: &Db,
    session_id: &SessionId,
    user_id: &UserId,
    now: NaiveDateTime,
) -> Result<Option<(Session, User, MeRows)>, ApiError> {
    let counted_at = super::now();
    read!(db, |conn| {
        let found: Option<(Session, User, Organization)> = sessions::table
            .inner_join(users::table.inner_join(organizations::table))
            .filter(sessions::id.eq(session_id))
            .filter(sessions::user_id.eq(user_id))
            .filter(super::sessions::live_at(now))
            .select((
                Session::as_select(),
                User::as_select(),
                Organization::as_select(),
            ))
            .get_result(conn)
            .await
            .optional()?;
        let Some((session, user, org)) = found else {
            return Ok(None);
        };
        if user.status_at(now) != UserStatus::Active {
            // Refused by the caller; no need to read the rest.
            let rows = MeRows {
                org,
                teams: Vec::new(),
                selected_team: None,
                active_sessions: 0,
                pending_email: None,
                recovery_codes_remaining: None,
            };
            return Ok(Some((session, user, rows)));
        }
        let (teams, selected_team, active_sessions, pending_email, recovery_codes_remaining) =
            rest_of_me!(conn, &user, counted_at);
        Ok(Some((
            session,
            user,
            MeRows {
                org,
                teams,
                selected_team,
                active_sessions,
                pending_email,
                recovery_codes_remaining,
            },
        )))
    })
}

/// The rest of the Me payload of `user` (after a write), on one connection.
pub async fn load(db: &Db, user: &User) -> Result<MeRows, ApiError> {
    let counted_at = super::now();
    read!(db, |conn| {
        let org: Organization = organizations::table
            .find(&user.org_id)
            .select(Organization::as_select())
            .get_result(conn)
            .await?;
        let (teams, selected_team, active_sessions, pending_email, recovery_codes_remaining) =
            rest_of_me!(conn, user, counted_at);
        Ok(MeRows {
            org,
            teams,
            selected_team,
            active_sessions,
            pending_email,
            recovery_codes_remaining,
        })
    })
}
