//! Creating users, with `Idempotency-Key`: the key's row is claimed in the transaction that
//! inserts the user, so its primary key `(org_id, idempotency_key)` decides races — a second
//! request with the key waits for the first transaction and then replays its stored response.
//! Only successes are stored; a failed create leaves the key free for a retry.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Db,
    events::{NewEvent, append_event},
    mail::{QueuedMail, enqueue_mail},
    models::{IdempotencyRecord, User},
    now,
    schema::{idempotency_keys, users},
    search_keys,
    tickets::{Ticket, issue_ticket},
    users::email_taken,
};
use crate::error::{ApiError, ErrorCode};

/// A claimed `Idempotency-Key`: the key and the hash of the request it was first used with.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    pub key: String,
    pub request_hash: String,
}

/// How long an `Idempotency-Key` is remembered. Expired keys are ignored when reused, and
/// deleted by the retention sweeper (`crate::sweeper`).
pub const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);

/// What `create` did.
#[derive(Debug)]
pub enum Created {
    /// A new user.
    New(Box<User>),
    /// The key was used before with the same request: the first response's stored `data`.
    Replayed(String),
}

/// Inserts `user`; an address already used in the organization is 409 `EMAIL_TAKEN`. With an
/// idempotency `claim`, the key's row is claimed in the same transaction (its primary key makes
/// a concurrent request with the same key wait for this one and then replay it), and `render`'s
/// response data is stored with it. A failed create stores nothing: the key can be retried.
/// `events` are appended with the user, in the same transaction, and an `invitation`'s ticket
/// issued and its message queued; a replay does none of it.
pub async fn create(
    db: &Db,
    user: &User,
    claim: Option<&IdempotencyClaim>,
    render: impl Fn(&User) -> Result<String, ApiError>,
    events: &[NewEvent],
    invitation: Option<&(Ticket, QueuedMail)>,
) -> Result<Created, ApiError> {
    let at = now();
    write!(db, |conn| {
        if let Some(claim) = claim {
            let mine = idempotency_keys::table
                .filter(idempotency_keys::org_id.eq(&user.org_id))
                .filter(idempotency_keys::idempotency_key.eq(&claim.key));
            diesel::delete(mine.filter(idempotency_keys::created_at.lt(at - IDEMPOTENCY_TTL)))
                .execute(conn)
                .await?;
            let claimed = diesel::insert_into(idempotency_keys::table)
                .values(&IdempotencyRecord {
                    org_id: user.org_id,
                    idempotency_key: claim.key.clone(),
                    request_hash: claim.request_hash.clone(),
                    response_body: None,
                    user_id: None,
                    created_at: at,
                })
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if claimed == 0 {
                let first: IdempotencyRecord = mine
                    .select(IdempotencyRecord::as_select())
                    .get_result(conn)
                    .await?;
                return match first.response_body {
                    Some(body) if first.request_hash == claim.request_hash => {
                        Ok(Created::Replayed(body))
                    }
                    _ => Err(idempotency_conflict()),
                };
            }
        }
        diesel::insert_into(users::table)
            .values((user, search_keys::of(user)))
            .execute(conn)
            .await
            .map_err(email_taken)?;
        if let Some(claim) = claim {
            diesel::update(
                idempotency_keys::table
                    .filter(idempotency_keys::org_id.eq(&user.org_id))
                    .filter(idempotency_keys::idempotency_key.eq(&claim.key)),
            )
            .set((
                idempotency_keys::response_body.eq(Some(render(user)?)),
                idempotency_keys::user_id.eq(Some(&user.id)),
            ))
            .execute(conn)
            .await?;
        }
        if let Some((ticket, mail)) = invitation {
            issue_ticket!(conn, ticket);
            enqueue_mail!(conn, mail);
        }
        for event in events {
            append_event!(conn, event);
        }
        Ok(Created::New(Box::new(user.clone())))
    })
}

pub fn idempotency_conflict() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyConflict,
        "this Idempotency-Key was already used with a different request",
    )
}
