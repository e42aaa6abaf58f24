//! Change events, the transactional outbox (issue 16): `append_event!` writes an event inside
//! the write transaction of the change it describes, so a change that rolls back leaves no
//! event and every event describes a committed change.
//!
//! Each organization's events are numbered 1, 2, 3, … with no gap, in commit order, on both
//! databases. The number comes from the organization's row in `event_sequences`, incremented by
//! an upsert whose row lock the writer holds until it commits: the next writer of that
//! organization waits there, so it takes the next number only once the previous one is
//! committed (or rolled back, which gives its number back). A reader that sees number n has
//! therefore seen every number before it, and a gap it saw is never filled later. The cost: the
//! writes of one organization that append events commit one at a time (SQLite's single writer
//! does so anyway). Other organizations do not wait.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Db, schema::events};
use crate::{
    domain::{Actor, EventType, OrgId},
    error::ApiError,
};

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub org_id: OrgId,
    pub kind: EventType,
    pub actor: Actor,
    /// The `X-Request-Id` of the request that caused it, if one did.
    pub request_id: Option<String>,
    /// What it is about (a user's id for the user's history).
    pub subject_id: Option<String>,
    /// The payload, JSON.
    pub data: String,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct StoredEvent {
    pub org_id: OrgId,
    pub sequence: i64,
    pub id: String,
    pub kind: EventType,
    pub occurred_at: NaiveDateTime,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub request_id: Option<String>,
    pub subject_id: Option<String>,
    pub data: String,
}

/// Inside a `write!` body: appends `$event` (a `&NewEvent`) with its organization's next
/// number, which it yields. The number's row stays locked until the transaction ends.
macro_rules! append_event {
    ($conn:ident, $event:expr) => {{
        use $crate::db::schema::{event_sequences, events};
        let event: &$crate::db::events::NewEvent = $event;
        let sequence: i64 = diesel::insert_into(event_sequences::table)
            .values((
                event_sequences::org_id.eq(&event.org_id),
                event_sequences::last.eq(1_i64),
            ))
            .on_conflict(event_sequences::org_id)
            .do_update()
            .set(event_sequences::last.eq(event_sequences::last + 1_i64))
            .returning(event_sequences::last)
            .get_result($conn)
            .await?;
        diesel::insert_into(events::table)
            .values((
                events::org_id.eq(&event.org_id),
                events::sequence.eq(sequence),
                events::id.eq(ulid::Ulid::new().to_string()),
                events::kind.eq(event.kind),
                events::occurred_at.eq($crate::db::now()),
                events::actor_type.eq(event.actor.kind()),
                events::actor_id.eq(event.actor.id()),
                events::request_id.eq(&event.request_id),
                events::subject_id.eq(&event.subject_id),
                events::data.eq(&event.data),
            ))
            .execute($conn)
            .await?;
        sequence
    }};
}

/// Appends `event` in a transaction of its own (an event that no other write goes with);
/// returns its number.
pub async fn append(db: &Db, event: &NewEvent) -> Result<i64, ApiError> {
    write!(db, |conn| Ok(append_event!(conn, event)))
}

/// Up to `limit` events of `org_id` numbered after `after`, in order; of the `kinds` given, or
/// of every kind when it is empty.
pub async fn list(
    db: &Db,
    org_id: &OrgId,
    after: i64,
    limit: i64,
    kinds: &[EventType],
) -> Result<Vec<StoredEvent>, ApiError> {
    read!(db, |conn| {
        let mut query = events::table
            .filter(events::org_id.eq(org_id))
            .filter(events::sequence.gt(after))
            .order(events::sequence.asc())
            .limit(limit)
            .select(StoredEvent::as_select())
            .into_boxed();
        if !kinds.is_empty() {
            query = query.filter(events::kind.eq_any(kinds));
        }
        Ok(query.load(conn).await?)
    })
}

/// For the other writers of `db` that append an event in a transaction of their own
/// (`db::webhooks` disabling an endpoint).
pub(crate) use append_event;
