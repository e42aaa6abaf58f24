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
/// number, which it yields. The number's row stays locked until the transaction ends. On
/// PostgreSQL the number and the event are one statement (a data-modifying `WITH`), one round
/// trip; SQLite, which has no such `WITH` but no round trips either, runs the two.
macro_rules! append_event {
    ($conn:ident, $event:expr) => {{
        use $crate::db::schema::{event_sequences, events};
        let event: &$crate::db::events::NewEvent = $event;
        let id = ulid::Ulid::new().to_string();
        let occurred_at = $crate::db::now();
        if $crate::db::is_postgres(&*$conn) {
            use diesel::sql_types::{Nullable, Text, Timestamp};
            diesel::sql_query($crate::db::events::APPEND_POSTGRES)
                .bind::<Text, _>(&event.org_id)
                .bind::<Text, _>(&id)
                .bind::<Text, _>(event.kind)
                .bind::<Timestamp, _>(occurred_at)
                .bind::<Text, _>(event.actor.kind())
                .bind::<Nullable<Text>, _>(event.actor.id())
                .bind::<Nullable<Text>, _>(&event.request_id)
                .bind::<Nullable<Text>, _>(&event.subject_id)
                .bind::<Text, _>(&event.data)
                .get_result::<$crate::db::events::Appended>($conn)
                .await?
                .sequence
        } else {
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
                    events::id.eq(&id),
                    events::kind.eq(event.kind),
                    events::occurred_at.eq(occurred_at),
                    events::actor_type.eq(event.actor.kind()),
                    events::actor_id.eq(event.actor.id()),
                    events::request_id.eq(&event.request_id),
                    events::subject_id.eq(&event.subject_id),
                    events::data.eq(&event.data),
                ))
                .execute($conn)
                .await?;
            sequence
        }
    }};
}

/// `append_event!` on PostgreSQL: the organization's next number and the event in one statement.
pub const APPEND_POSTGRES: &str = "WITH next AS ( \
     INSERT INTO event_sequences (org_id, last) VALUES ($1, 1) \
     ON CONFLICT (org_id) DO UPDATE SET last = event_sequences.last + 1 RETURNING last) \
     INSERT INTO events (org_id, sequence, id, kind, occurred_at, actor_type, actor_id, \
     request_id, subject_id, data) \
     SELECT $1, last, $2, $3, $4, $5, $6, $7, $8, $9 FROM next RETURNING sequence";

/// The number `APPEND_POSTGRES` gave the event.
#[derive(QueryableByName)]
pub struct Appended {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub sequence: i64,
}

pub(crate) use append_event;

/// Appends `event` in a transaction of its own (an event that no other write goes with);
/// returns its number.
pub async fn append(db: &Db, event: &NewEvent) -> Result<i64, ApiError> {
    write!(db, |conn| Ok(append_event!(conn, event)))
}

/// Appends `event` unless its organization does not exist (a sign-in attempt may name any
/// organization id), in a transaction of its own.
pub async fn append_if_org_exists(db: &Db, event: &NewEvent) -> Result<(), ApiError> {
    use super::schema::organizations;
    write!(db, |conn| {
        let exists: i64 = organizations::table
            .find(&event.org_id)
            .count()
            .get_result(conn)
            .await?;
        if exists > 0 {
            append_event!(conn, event);
        }
        Ok(())
    })
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
    list_about(db, org_id, None, after, limit, kinds).await
}

/// `list`, of the events about `subject` only when it is `Some` (a user's history).
pub async fn list_about(
    db: &Db,
    org_id: &OrgId,
    subject: Option<&str>,
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
        if let Some(subject) = subject {
            query = query.filter(events::subject_id.eq(subject));
        }
        Ok(query.load(conn).await?)
    })
}
