//! One-time tickets (issue 17): rows keyed by the SHA-256 of their token. `issue_ticket!`
//! writes one inside any write transaction (superseding the user's earlier live tickets of its
//! type), so a flow that mails a ticket can issue it with its own change. `redeem` consumes a
//! ticket and applies its effect in one transaction: the consumption is a conditional UPDATE
//! (`used_at IS NULL`, not superseded, not expired), so of two concurrent redemptions exactly
//! one changes the row; the other finds it used. An effect that fails rolls the consumption
//! back with it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    events::{NewEvent, append_event},
    mail::{QueuedMail, enqueue_mail},
    models::{Session, User, UserChanges},
    now,
    schema::{sessions, tickets, users},
    search_keys,
    sessions::{Revoke, revoke_sessions},
    users::{email_taken, locked_user},
};
use crate::{
    domain::{EmailAddress, OrgId, TicketId, TicketType, UserId},
    error::{ApiError, ErrorCode, FieldError},
};

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = tickets)]
pub struct Ticket {
    pub id: TicketId,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub kind: TicketType,
    pub token_hash: String,
    /// The address a `verify_email` ticket proves, or a `change_email` ticket moves to.
    pub target_email: Option<EmailAddress>,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    /// When a newer ticket of its type was issued to its user.
    pub superseded_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// The hash of the 6-digit code a mailed `verify_email` ticket also carries
    /// (`auth::hash_code`); `None` for the others.
    pub code_hash: Option<String>,
    /// Wrong codes so far: the `MAX_CODE_ATTEMPTS`-th ends the ticket.
    pub code_attempts: i32,
}

impl Ticket {
    /// Why this ticket cannot be redeemed at `at`, if it cannot: used (410 `TICKET_USED`),
    /// superseded or expired (410 `TICKET_EXPIRED`, `details.token` saying which).
    pub fn refusal(&self, at: NaiveDateTime) -> Option<ApiError> {
        if self.used_at.is_some() {
            return Some(gone(ErrorCode::TicketUsed, "already redeemed"));
        }
        if self.code_attempts >= MAX_CODE_ATTEMPTS {
            return Some(expired("too many wrong codes were typed"));
        }
        if self.superseded_at.is_some() {
            return Some(expired("superseded by a newer ticket of its type"));
        }
        (self.expires_at <= at).then(|| expired("expired"))
    }
}

/// Wrong codes a ticket takes: the last one ends it, link and code alike.
pub const MAX_CODE_ATTEMPTS: i32 = 5;

/// 410 `TICKET_EXPIRED` with `details.token` = `reason`.
pub fn expired(reason: &str) -> ApiError {
    gone(ErrorCode::TicketExpired, reason)
}

fn gone(code: ErrorCode, reason: &str) -> ApiError {
    let message = match code {
        ErrorCode::TicketUsed => "this ticket was already redeemed",
        _ => "this ticket is no longer valid",
    };
    ApiError::new(code, message).with_field(FieldError::new("token", code, reason))
}

/// Inside a `write!` body: stores `$ticket` (a `&Ticket`), first superseding its user's live
/// tickets of its type.
macro_rules! issue_ticket {
    ($conn:ident, $ticket:expr) => {{
        use $crate::db::schema::tickets;
        let ticket: &$crate::db::tickets::Ticket = $ticket;
        diesel::update(
            tickets::table
                .filter(tickets::user_id.eq(&ticket.user_id))
                .filter(tickets::kind.eq(ticket.kind))
                .filter(tickets::used_at.is_null())
                .filter(tickets::superseded_at.is_null()),
        )
        .set(tickets::superseded_at.eq(Some(ticket.created_at)))
        .execute($conn)
        .await?;
        diesel::insert_into(tickets::table)
            .values(ticket)
            .execute($conn)
            .await?;
    }};
}
pub(crate) use issue_ticket;

/// Inside a `write!` body: 409 `EMAIL_TAKEN` (naming the request's field `$field`) when
/// `$ticket` (a `&Ticket`) is a `change_email` ticket to an address another user of its
/// organization has.
macro_rules! refuse_taken_target {
    ($conn:ident, $ticket:expr, $field:expr) => {{
        let ticket: &$crate::db::tickets::Ticket = $ticket;
        if ticket.kind == $crate::domain::TicketType::ChangeEmail
            && let Some(target) = &ticket.target_email
        {
            use $crate::db::schema::users;
            let taken: i64 = users::table
                .filter(users::org_id.eq(&ticket.org_id))
                .filter(users::primary_email_key.eq(target.key()))
                .filter(users::id.ne(&ticket.user_id))
                .count()
                .get_result($conn)
                .await?;
            if taken > 0 {
                return Err($crate::db::tickets::target_taken($field));
            }
        }
    }};
}
pub(crate) use refuse_taken_target;

/// 409 `EMAIL_TAKEN` for a ticket's address, sent as `field`.
pub fn target_taken(field: &str) -> ApiError {
    ApiError::new(
        ErrorCode::EmailTaken,
        "another user of this organization has this e-mail address",
    )
    .with_field(FieldError::new(
        field,
        ErrorCode::EmailTaken,
        "already used by another user of this organization",
    ))
}

/// Issues the ticket `make` builds for user `user_id` of `org_id` as locked (404 when there
/// is no such user there; `make` refuses a ticket that does not apply). A `change_email`
/// ticket to an address another user of the organization has is 409 `EMAIL_TAKEN`.
pub async fn issue(
    db: &Db,
    org_id: &OrgId,
    user_id: &UserId,
    make: impl Fn(&User) -> Result<Ticket, ApiError> + Sync,
) -> Result<Ticket, ApiError> {
    let make = |user: &User| Ok((make(user)?, Vec::new()));
    issue_mailed(db, org_id, user_id, make).await
}

/// `issue`, with the messages `make` prepares along with the ticket queued in the same
/// transaction (`mail::Mailer::prepare`): sent once it commits, never if it does not.
pub async fn issue_mailed(
    db: &Db,
    org_id: &OrgId,
    user_id: &UserId,
    make: impl Fn(&User) -> Result<(Ticket, Vec<QueuedMail>), ApiError> + Sync,
) -> Result<Ticket, ApiError> {
    write!(db, |conn| {
        let current = locked_user!(conn, org_id, user_id);
        let (ticket, mails) = make(&current)?;
        refuse_taken_target!(conn, &ticket, "email");
        issue_ticket!(conn, &ticket);
        for mail in &mails {
            enqueue_mail!(conn, mail);
        }
        Ok(ticket)
    })
}

/// For a password reset: the user of `org_id` whose address key is `email_key`, if any, is
/// handed to `make`, which decides whether a ticket is mailed to them; the ticket and its
/// message are stored in the same transaction. Whether anything was issued.
pub async fn issue_to_address(
    db: &Db,
    org_id: &OrgId,
    email_key: &str,
    make: impl Fn(&User) -> Result<Option<(Ticket, QueuedMail)>, ApiError> + Sync,
) -> Result<bool, ApiError> {
    write!(db, |conn| {
        let found: Option<User> = users::table
            .filter(users::org_id.eq(org_id))
            .filter(users::primary_email_key.eq(email_key))
            .select(User::as_select())
            .get_result(conn)
            .await
            .optional()?;
        let Some((ticket, mail)) = found.as_ref().map(&make).transpose()?.flatten() else {
            return Ok(false);
        };
        issue_ticket!(conn, &ticket);
        enqueue_mail!(conn, &mail);
        Ok(true)
    })
}

/// The latest `verify_email` ticket of `user_id` that carries a code, as it is now.
pub async fn latest_with_code(db: &Db, user_id: &UserId) -> Result<Option<Ticket>, ApiError> {
    read!(db, |conn| Ok(tickets::table
        .filter(tickets::user_id.eq(user_id))
        .filter(tickets::kind.eq(TicketType::VerifyEmail))
        .filter(tickets::code_hash.is_not_null())
        .order((tickets::created_at.desc(), tickets::id.desc()))
        .select(Ticket::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// Counts a wrong code against ticket `ticket_id` (never past `MAX_CODE_ATTEMPTS`); the wrong
/// codes it has taken now.
pub async fn count_wrong_code(db: &Db, ticket_id: &TicketId) -> Result<i32, ApiError> {
    write!(db, |conn| {
        diesel::update(
            tickets::table
                .filter(tickets::id.eq(ticket_id))
                .filter(tickets::code_attempts.lt(MAX_CODE_ATTEMPTS)),
        )
        .set(tickets::code_attempts.eq(tickets::code_attempts + 1))
        .execute(conn)
        .await?;
        Ok(tickets::table
            .find(ticket_id)
            .select(tickets::code_attempts)
            .get_result(conn)
            .await?)
    })
}

/// The ticket whose token hashes to `token_hash`, as it is now.
pub async fn find(db: &Db, token_hash: &str) -> Result<Option<Ticket>, ApiError> {
    read!(db, |conn| Ok(tickets::table
        .filter(tickets::token_hash.eq(token_hash))
        .select(Ticket::as_select())
        .get_result(conn)
        .await
        .optional()?))
}

/// What redeeming a ticket does to its user.
#[derive(Debug, Default)]
pub struct Effect {
    /// Only the columns that really change.
    pub changes: UserChanges,
    pub revoke: Revoke,
    /// A session to start (stored after the revocation).
    pub session: Option<Session>,
}

/// Redeems the ticket whose token hashes to `token_hash`, at `at`, in one transaction: 404
/// when there is none; 410 when it is used, superseded or expired; `check` refuses it without
/// consuming it (a wrong type); else it is consumed and `decide`'s effect on its user (as
/// locked) is applied, with the events `record` makes of the user before and after. Any
/// refusal from there on (409 `EMAIL_TAKEN`, say) rolls the consumption back.
pub async fn redeem(
    db: &Db,
    token_hash: &str,
    at: NaiveDateTime,
    check: impl Fn(&Ticket) -> Result<(), ApiError> + Sync,
    decide: impl Fn(&Ticket, &User) -> Result<Effect, ApiError> + Sync,
    record: impl Fn(&User, &User, Option<&Session>) -> Result<Vec<NewEvent>, ApiError> + Sync,
) -> Result<(Ticket, User, Option<Session>), ApiError> {
    write!(db, |conn| {
        let find = tickets::table
            .filter(tickets::token_hash.eq(token_hash))
            .select(Ticket::as_select());
        let ticket: Ticket = find
            .get_result(conn)
            .await
            .optional()?
            .ok_or_else(ApiError::not_found)?;
        if let Some(refusal) = ticket.refusal(at) {
            return Err(refusal);
        }
        check(&ticket)?;
        let consumed = diesel::update(
            tickets::table
                .filter(tickets::id.eq(&ticket.id))
                .filter(tickets::used_at.is_null())
                .filter(tickets::superseded_at.is_null())
                .filter(tickets::code_attempts.lt(MAX_CODE_ATTEMPTS))
                .filter(tickets::expires_at.gt(at)),
        )
        .set(tickets::used_at.eq(Some(at)))
        .execute(conn)
        .await?;
        if consumed == 0 {
            // Another redemption (or a newer ticket) committed in between: read it as it is.
            let now_stored: Ticket = find.get_result(conn).await?;
            return Err(now_stored
                .refusal(at)
                .unwrap_or_else(|| gone(ErrorCode::TicketUsed, "already redeemed")));
        }
        let current = locked_user!(conn, &ticket.org_id, &ticket.user_id);
        let Effect {
            changes,
            revoke,
            session,
        } = decide(&ticket, &current)?;
        let updated = match changes == UserChanges::default() {
            true => current.clone(),
            false => {
                let version = current.version + 1;
                diesel::update(users::table.find(&ticket.user_id))
                    .set((
                        &changes,
                        search_keys::after(&current, &changes, version),
                        users::version.eq(version),
                        users::updated_at.eq(now()),
                    ))
                    .returning(User::as_returning())
                    .get_result(conn)
                    .await
                    .map_err(email_taken)?
            }
        };
        revoke_sessions!(conn, &ticket.user_id, revoke);
        if ticket.kind == TicketType::ResetPassword {
            // A reset proves the address: it ends a lockout (`lockout`) and its count.
            diesel::update(users::table.find(&ticket.user_id))
                .set((
                    users::locked_until.eq(None::<NaiveDateTime>),
                    users::failed_sign_ins.eq(0),
                ))
                .execute(conn)
                .await?;
        }
        if let Some(session) = &session {
            diesel::insert_into(sessions::table)
                .values(session)
                .execute(conn)
                .await?;
        }
        for event in record(&current, &updated, session.as_ref())? {
            append_event!(conn, &event);
        }
        Ok((ticket, updated, session))
    })
}
