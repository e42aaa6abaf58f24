//! The reads behind the Me payload (`GET`/`PATCH /v1/me`), the hottest path of the service, in
//! one trip to the database however many queries it takes: on PostgreSQL the queries are
//! pipelined (all sent before the first answer is read, `AsyncPgConnection`'s pipelining), on
//! SQLite they run one after another in a single hop to the connection's blocking thread. Every
//! query binds single values (no `IN (…)` lists, no bound `LIMIT`), so each is prepared once per
//! connection and then served from diesel's statement cache.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::FutureExt;

use super::{
    Db, Pools,
    models::{Organization, Session, Team, User},
    schema::{organizations, recovery_codes, sessions, team_members, teams, tickets, users},
    tickets::MAX_CODE_ATTEMPTS,
};
use crate::{
    domain::{EmailAddress, OrgId, SessionId, TicketType, UserId, UserStatus},
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

/// The query for the row that heads the payload: `$head` (a query value yielding `$Head`).
/// Expands to the answers of it and of the rest of the Me queries of user `$user_id` at `$now`,
/// as `(Option<$Head>, Rest)`, in one trip on either backend.
macro_rules! fetch_me {
    ($db:expr, $user_id:expr, $now:expr, $Head:ty, |$id:ident| $head:expr) => {{
        let user_id: UserId = *$user_id;
        let now: NaiveDateTime = $now;
        $db.within_deadline(async {
            match &$db.pools {
                Pools::Postgres(pool) => with_connection!(pool, |conn| {
                    let conn: &AsyncPgConnection = conn;
                    let (mut c1, mut c2, mut c3, mut c4, mut c5) = (conn, conn, conn, conn, conn);
                    let $id = &user_id;
                    let (head, teams, active, pending, remaining) = tokio::try_join!(
                        $head
                            .get_result::<$Head>(&mut c1)
                            .map(OptionalExtension::optional),
                        teams_of!(&user_id).load::<(Team, String)>(&mut c2),
                        live_sessions_of!(&user_id, now).get_result::<i64>(&mut c3),
                        pending_email_of!(&user_id, now)
                            .get_result::<Option<EmailAddress>>(&mut c4)
                            .map(OptionalExtension::optional),
                        unused_codes_of!(&user_id).get_result::<i64>(&mut c5),
                    )?;
                    Ok::<_, ApiError>((
                        head,
                        Rest {
                            teams,
                            active,
                            pending: pending.flatten(),
                            remaining,
                        },
                    ))
                }),
                Pools::Sqlite { read, .. } => with_connection!(read, |conn| {
                    conn.spawn_blocking(move |c| {
                        use diesel::RunQueryDsl as Sync;
                        let $id = &user_id;
                        let head = Sync::get_result::<$Head>($head, c).optional()?;
                        let teams = Sync::load::<(Team, String)>(teams_of!(&user_id), c)?;
                        let active = Sync::get_result::<i64>(live_sessions_of!(&user_id, now), c)?;
                        let pending: Option<Option<EmailAddress>> =
                            Sync::get_result(pending_email_of!(&user_id, now), c).optional()?;
                        let remaining = Sync::get_result::<i64>(unused_codes_of!(&user_id), c)?;
                        Ok((
                            head,
                            Rest {
                                teams,
                                active,
                                pending: pending.flatten(),
                                remaining,
                            },
                        ))
                    })
                    .await
                    .map_err(ApiError::from)
                }),
            }
        })
        .await
    }};
}

/// The answers to the Me queries after the head row.
struct Rest {
    teams: Vec<(Team, String)>,
    active: i64,
    pending: Option<EmailAddress>,
    remaining: i64,
}

macro_rules! teams_of {
    ($user_id:expr) => {
        team_members::table
            .inner_join(teams::table)
            .filter(team_members::user_id.eq($user_id))
            .select((Team::as_select(), team_members::role))
            .order(teams::name.asc())
    };
}

macro_rules! live_sessions_of {
    ($user_id:expr, $now:expr) => {
        sessions::table
            .filter(sessions::user_id.eq($user_id))
            .filter(super::sessions::live_at($now))
            .count()
    };
}

/// The target of the user's live `change_email` ticket (unused, not superseded, not expired):
/// issuing one supersedes the others, so there is at most one, and no `LIMIT` is needed.
macro_rules! pending_email_of {
    ($user_id:expr, $now:expr) => {
        tickets::table
            .filter(tickets::user_id.eq($user_id))
            .filter(tickets::kind.eq(TicketType::ChangeEmail))
            .filter(tickets::used_at.is_null())
            .filter(tickets::superseded_at.is_null())
            .filter(tickets::code_attempts.lt(MAX_CODE_ATTEMPTS))
            .filter(tickets::expires_at.gt($now))
            .order(tickets::created_at.desc())
            .select(tickets::target_email)
    };
}

macro_rules! unused_codes_of {
    ($user_id:expr) => {
        recovery_codes::table
            .filter(recovery_codes::user_id.eq($user_id))
            .filter(recovery_codes::used_at.is_null())
            .count()
    };
}

impl Rest {
    /// The payload's rows for `user`; the selected team is one of the user's teams (enforced on
    /// write), looked up apart only when it is not (a membership removed since, say).
    async fn into_rows(self, db: &Db, user: &User, org: Organization) -> Result<MeRows, ApiError> {
        let selected_team = match &user.selected_team_id {
            None => None,
            Some(id) => match self.teams.iter().find(|(team, _)| &team.id == id) {
                Some((team, _)) => Some(team.clone()),
                None => read!(db, |conn| Ok(teams::table
                    .find(id)
                    .select(Team::as_select())
                    .get_result(conn)
                    .await
                    .optional()?))?,
            },
        };
        Ok(MeRows {
            org,
            teams: self.teams,
            selected_team,
            active_sessions: self.active,
            pending_email: self.pending,
            recovery_codes_remaining: user.totp_secret.as_ref().map(|_| self.remaining),
        })
    }
}

/// The address user `user_id` asked to move to, waiting to be confirmed.
pub async fn pending_email(db: &Db, user_id: &UserId) -> Result<Option<EmailAddress>, ApiError> {
    let at = super::now();
    read!(db, |conn| {
        let pending: Option<Option<EmailAddress>> = pending_email_of!(user_id, at)
            .get_result(conn)
            .await
            .optional()?;
        Ok(pending.flatten())
    })
}

/// The session `session_id` of user `user_id` if it is live at `now`, with its user, the user's
/// organization and the rest of the Me payload, in one trip. `None` when the session is not live
/// (revoked, expired, unknown, or not this user's): the caller answers 401.
pub async fn load_with_session(
    db: &Db,
    session_id: &SessionId,
    user_id: &UserId,
    now: NaiveDateTime,
) -> Result<Option<(Session, User, MeRows)>, ApiError> {
    let session_id = *session_id;
    let (found, rest) = fetch_me!(
        db,
        user_id,
        super::now(),
        (Session, User, Organization),
        |user_id| sessions::table
            .inner_join(users::table.inner_join(organizations::table))
            .filter(sessions::id.eq(session_id))
            .filter(sessions::user_id.eq(user_id))
            .filter(super::sessions::live_at(now))
            .select((
                Session::as_select(),
                User::as_select(),
                Organization::as_select(),
            ))
    )?;
    let Some((session, user, org)) = found else {
        return Ok(None);
    };
    if user.status_at(now) != UserStatus::Active {
        // Refused by the caller; the rest is not shown.
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
    let rows = rest.into_rows(db, &user, org).await?;
    Ok(Some((session, user, rows)))
}

/// The rest of the Me payload of `user` (after a write), in one trip.
pub async fn load(db: &Db, user: &User) -> Result<MeRows, ApiError> {
    let org_id: OrgId = user.org_id;
    let (org, rest) = fetch_me!(db, &user.id, super::now(), Organization, |_user_id| {
        organizations::table
            .find(org_id)
            .select(Organization::as_select())
    })?;
    let org = org.ok_or_else(|| ApiError::internal("a user without its organization"))?;
    rest.into_rows(db, user, org).await
}
