//! Webhook endpoints, their delivery state and every attempt (`webhooks`). The API side is a
//! small CRUD scoped to an organization (an endpoint of another organization is 404); the
//! dispatcher side claims due endpoints with a lease (`claim_due`) and changes an endpoint's
//! state only while it still holds that lease, so two instances never work one endpoint at once.

use chrono::NaiveDateTime;
use diesel::{
    prelude::*,
    sql_types::{BigInt, Text, Timestamp},
};
use diesel_async::RunQueryDsl;

use super::{
    Db, Pools,
    events::{NewEvent, StoredEvent},
    now,
    schema::{
        event_sequences, events, webhook_deliveries, webhook_endpoints, webhook_redeliveries,
    },
};
use crate::{
    domain::{EventType, OrgId, WebhookDeliveryId, WebhookEndpointId},
    error::ApiError,
};

/// An endpoint as stored. `event_types` is the subscribed type names, space-separated; empty
/// means every type delivered by default. Secrets are sealed (`auth::secrets`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: WebhookEndpointId,
    pub org_id: OrgId,
    pub url: String,
    pub description: Option<String>,
    pub event_types: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    pub disabled: bool,
    /// The last sequence this endpoint is done with.
    pub cursor: i64,
    /// Failed attempts of the event after `cursor`.
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Endpoint {
    /// The subscribed types; empty means every type delivered by default.
    pub fn kinds(&self) -> Vec<EventType> {
        self.event_types
            .split_whitespace()
            .filter_map(EventType::parse)
            .collect()
    }

    /// Whether this endpoint receives events of `kind`.
    pub fn subscribes_to(&self, kind: EventType) -> bool {
        if self.event_types.is_empty() {
            kind.delivered_by_default()
        } else {
            self.event_types
                .split_whitespace()
                .any(|name| name == kind.as_str())
        }
    }
}

/// The stored form of a list of types.
pub fn stored_kinds(kinds: &[EventType]) -> String {
    kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: String,
    pub event_sequence: i64,
    pub event_type: EventType,
    /// 1 for the first attempt of the event.
    pub attempt: i32,
    pub redelivery: bool,
    pub succeeded: bool,
    pub response_status: Option<i32>,
    pub latency_ms: i64,
    /// The response's first 1 KiB.
    pub response_body: Option<String>,
    /// Why no response counted: a timeout, a refused address, a connection error.
    pub error: Option<String>,
    /// When the event is tried again, after a failure that leaves attempts.
    pub next_attempt_at: Option<NaiveDateTime>,
    pub attempted_at: NaiveDateTime,
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<String>,
    pub disabled: Option<bool>,
}

/// Inserts `endpoint`, which starts after the organization's latest event: it receives what
/// happens from now on, not the history.
pub async fn insert(db: &Db, endpoint: &Endpoint) -> Result<Endpoint, ApiError> {
    write!(db, |conn| {
        let last: Option<i64> = event_sequences::table
            .filter(event_sequences::org_id.eq(&endpoint.org_id))
            .select(event_sequences::last)
            .get_result(conn)
            .await
            .optional()?;
        let endpoint = Endpoint {
            cursor: last.unwrap_or(0),
            ..endpoint.clone()
        };
        diesel::insert_into(webhook_endpoints::table)
            .values(&endpoint)
            .execute(conn)
            .await?;
        Ok(endpoint)
    })
}

/// A page of the organization's endpoints by id, after `after`.
pub async fn list(
    db: &Db,
    org_id: &OrgId,
    after: Option<WebhookEndpointId>,
    limit: i64,
) -> Result<Vec<Endpoint>, ApiError> {
    read!(db, |conn| {
        let mut query = webhook_endpoints::table
            .filter(webhook_endpoints::org_id.eq(org_id))
            .order(webhook_endpoints::id.asc())
            .limit(limit)
            .select(Endpoint::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(webhook_endpoints::id.gt(after));
        }
        Ok(query.load(conn).await?)
    })
}

/// The endpoint `id` of `org_id`; 404 when there is none.
pub async fn find(db: &Db, org_id: &OrgId, id: &WebhookEndpointId) -> Result<Endpoint, ApiError> {
    read!(db, |conn| Ok(webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .filter(webhook_endpoints::org_id.eq(org_id))
        .select(Endpoint::as_select())
        .get_result(conn)
        .await?))
}

/// Applies `changes`. Enabling an endpoint again clears its failures: the event it stopped
/// at is tried again at once.
pub async fn update(
    db: &Db,
    org_id: &OrgId,
    id: &WebhookEndpointId,
    changes: &EndpointChanges,
) -> Result<Endpoint, ApiError> {
    write!(db, |conn| {
        let target = webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(id))
            .filter(webhook_endpoints::org_id.eq(org_id));
        let updated = diesel::update(target)
            .set((changes, webhook_endpoints::updated_at.eq(now())))
            .execute(conn)
            .await?;
        if updated == 0 {
            return Err(ApiError::not_found());
        }
        if changes.disabled == Some(false) {
            diesel::update(target)
                .set((
                    webhook_endpoints::attempts.eq(0),
                    webhook_endpoints::next_attempt_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)
                .await?;
        }
        Ok(target
            .select(Endpoint::as_select())
            .get_result(conn)
            .await?)
    })
}

/// Deletes the endpoint with its deliveries.
pub async fn delete(db: &Db, org_id: &OrgId, id: &WebhookEndpointId) -> Result<(), ApiError> {
    write!(db, |conn| {
        let deleted = diesel::delete(
            webhook_endpoints::table
                .filter(webhook_endpoints::id.eq(id))
                .filter(webhook_endpoints::org_id.eq(org_id)),
        )
        .execute(conn)
        .await?;
        if deleted == 0 {
            return Err(ApiError::not_found());
        }
        Ok(())
    })
}

/// Makes `sealed` the secret; the one it replaces stays valid until `previous_until`.
pub async fn rotate_secret(
    db: &Db,
    org_id: &OrgId,
    id: &WebhookEndpointId,
    sealed: &str,
    previous_until: NaiveDateTime,
) -> Result<Endpoint, ApiError> {
    write!(db, |conn| {
        let target = webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(id))
            .filter(webhook_endpoints::org_id.eq(org_id));
        // SET reads the row as it was: the old secret moves to `previous_secret`.
        let updated = diesel::update(target)
            .set((
                webhook_endpoints::previous_secret.eq(webhook_endpoints::secret.nullable()),
                webhook_endpoints::previous_secret_expires_at.eq(Some(previous_until)),
                webhook_endpoints::secret.eq(sealed),
                webhook_endpoints::updated_at.eq(now()),
            ))
            .execute(conn)
            .await?;
        if updated == 0 {
            return Err(ApiError::not_found());
        }
        Ok(target
            .select(Endpoint::as_select())
            .get_result(conn)
            .await?)
    })
}

/// A page of the endpoint's attempts, newest first, before `before`.
pub async fn deliveries(
    db: &Db,
    endpoint_id: &WebhookEndpointId,
    before: Option<WebhookDeliveryId>,
    limit: i64,
) -> Result<Vec<Delivery>, ApiError> {
    read!(db, |conn| {
        let mut query = webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .order(webhook_deliveries::id.desc())
            .limit(limit)
            .select(Delivery::as_select())
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(webhook_deliveries::id.lt(before));
        }
        Ok(query.load(conn).await?)
    })
}

/// The organization's event `event_id`; 404 when there is none (or no longer: retention).
pub async fn find_event(db: &Db, org_id: &OrgId, event_id: &str) -> Result<StoredEvent, ApiError> {
    read!(db, |conn| Ok(events::table
        .filter(events::org_id.eq(org_id))
        .filter(events::id.eq(event_id))
        .select(StoredEvent::as_select())
        .get_result(conn)
        .await?))
}

/// Asks for one more delivery of the event numbered `sequence` (once, however often asked
/// before it is sent).
pub async fn request_redelivery(
    db: &Db,
    endpoint_id: &WebhookEndpointId,
    sequence: i64,
) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::insert_into(webhook_redeliveries::table)
            .values((
                webhook_redeliveries::endpoint_id.eq(endpoint_id),
                webhook_redeliveries::event_sequence.eq(sequence),
                webhook_redeliveries::requested_at.eq(now()),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(())
    })
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Text)]
    id: String,
}

/// `FROM … WHERE …` of the endpoints with due work at `now` (a placeholder) and no live lease:
/// an enabled endpoint past its backoff with an event after its cursor, or any endpoint with
/// a redelivery asked for.
fn due_endpoints(now: &str) -> String {
    format!(
        "FROM webhook_endpoints w \
         WHERE (w.lease_expires_at IS NULL OR w.lease_expires_at < {now}) \
         AND ((w.disabled = FALSE \
               AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= {now}) \
               AND EXISTS (SELECT 1 FROM events e \
                           WHERE e.org_id = w.org_id AND e.sequence > w.cursor)) \
           OR EXISTS (SELECT 1 FROM webhook_redeliveries r WHERE r.endpoint_id = w.id))"
    )
}

/// Whether any endpoint has due work, read without a write lock: an idle dispatcher polls with
/// this, so on SQLite (one writer) it does not take the write lock every poll interval.
pub async fn any_due(db: &Db, now: NaiveDateTime) -> Result<bool, ApiError> {
    let p = match db.pools() {
        Pools::Postgres(_) => '$',
        Pools::Sqlite { .. } => '?',
    };
    let sql = format!("SELECT w.id {} LIMIT 1", due_endpoints(&format!("{p}1")));
    let found: Vec<Claimed> = read!(db, |conn| Ok(diesel::sql_query(&sql)
        .bind::<Timestamp, _>(now)
        .load(conn)
        .await?))?;
    Ok(!found.is_empty())
}

/// Leases up to `limit` endpoints with due work (`due_endpoints`) to `owner` until `until`.
/// Endpoints leased by another instance are skipped; on PostgreSQL `SKIP LOCKED` makes
/// instances claiming at once take disjoint endpoints (SQLite has one writer).
pub async fn claim_due(
    db: &Db,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<WebhookEndpointId>, ApiError> {
    let (p, lock) = match db.pools() {
        Pools::Postgres(_) => ('$', " FOR UPDATE OF w SKIP LOCKED"),
        Pools::Sqlite { .. } => ('?', ""),
    };
    let due = due_endpoints(&format!("{p}3"));
    let sql = format!(
        "UPDATE webhook_endpoints SET lease_owner = {p}1, lease_expires_at = {p}2 \
         WHERE id IN (SELECT w.id {due} ORDER BY w.next_attempt_at LIMIT {p}4{lock}) \
         RETURNING id"
    );
    let claimed: Vec<Claimed> = write!(db, |conn| Ok(diesel::sql_query(&sql)
        .bind::<Text, _>(owner)
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?))?;
    Ok(claimed
        .into_iter()
        .filter_map(|row| row.id.parse().ok())
        .collect())
}

/// The endpoint `id` while `owner` holds its lease.
pub async fn leased(
    db: &Db,
    id: &WebhookEndpointId,
    owner: &str,
) -> Result<Option<Endpoint>, ApiError> {
    read!(db, |conn| Ok(webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .filter(webhook_endpoints::lease_owner.eq(owner))
        .select(Endpoint::as_select())
        .get_result(conn)
        .await
        .optional()?))
}

/// The redeliveries asked for at `endpoint_id`, with their events (those no longer kept are
/// dropped from the queue).
pub async fn take_redeliveries(db: &Db, endpoint: &Endpoint) -> Result<Vec<StoredEvent>, ApiError> {
    read!(db, |conn| Ok(webhook_redeliveries::table
        .inner_join(
            events::table.on(events::sequence
                .eq(webhook_redeliveries::event_sequence)
                .and(events::org_id.eq(&endpoint.org_id))),
        )
        .filter(webhook_redeliveries::endpoint_id.eq(&endpoint.id))
        .order(webhook_redeliveries::requested_at.asc())
        .select(StoredEvent::as_select())
        .load(conn)
        .await?))
}

/// Records a redelivery's attempt and removes it from the queue (every request of a
/// redelivery, done or not, along with ones whose event is gone).
pub async fn record_redelivery(db: &Db, delivery: &Delivery) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::insert_into(webhook_deliveries::table)
            .values(delivery)
            .execute(conn)
            .await?;
        diesel::delete(
            webhook_redeliveries::table
                .filter(webhook_redeliveries::endpoint_id.eq(&delivery.endpoint_id))
                .filter(webhook_redeliveries::event_sequence.eq(delivery.event_sequence)),
        )
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// What follows an attempt of the event after the cursor.
pub enum Outcome<'a> {
    /// Done with every event up to `cursor` (delivered, or not subscribed).
    Advanced { cursor: i64 },
    /// Done with every event up to `cursor`, then failed at the next one subscribed to;
    /// tried again at `next_attempt_at`.
    Failed {
        cursor: i64,
        attempts: i32,
        next_attempt_at: NaiveDateTime,
    },
    /// Done with every event up to `cursor`, then failed for the last time at the next one:
    /// the endpoint is disabled and `event` appended. Enabled again, it resumes at that one.
    Exhausted {
        cursor: i64,
        attempts: i32,
        event: &'a NewEvent,
    },
}

/// Records `delivery` (if any) and `outcome`, and extends the lease to `lease_until`, while
/// `owner` still holds it; false when it no longer does (nothing is changed then).
pub async fn settle(
    db: &Db,
    endpoint_id: &WebhookEndpointId,
    owner: &str,
    delivery: Option<&Delivery>,
    outcome: Outcome<'_>,
    lease_until: NaiveDateTime,
) -> Result<bool, ApiError> {
    write!(db, |conn| {
        let target = webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(endpoint_id))
            .filter(webhook_endpoints::lease_owner.eq(owner));
        let held = match &outcome {
            Outcome::Advanced { cursor } => {
                diesel::update(target)
                    .set((
                        webhook_endpoints::cursor.eq(cursor),
                        webhook_endpoints::attempts.eq(0),
                        webhook_endpoints::next_attempt_at.eq(None::<NaiveDateTime>),
                        webhook_endpoints::lease_expires_at.eq(Some(lease_until)),
                    ))
                    .execute(conn)
                    .await?
            }
            Outcome::Failed {
                cursor,
                attempts,
                next_attempt_at,
            } => {
                diesel::update(target)
                    .set((
                        webhook_endpoints::cursor.eq(cursor),
                        webhook_endpoints::attempts.eq(attempts),
                        webhook_endpoints::next_attempt_at.eq(Some(next_attempt_at)),
                        webhook_endpoints::lease_expires_at.eq(Some(lease_until)),
                    ))
                    .execute(conn)
                    .await?
            }
            Outcome::Exhausted {
                cursor, attempts, ..
            } => {
                diesel::update(target)
                    .set((
                        webhook_endpoints::cursor.eq(cursor),
                        webhook_endpoints::attempts.eq(attempts),
                        webhook_endpoints::disabled.eq(true),
                        webhook_endpoints::next_attempt_at.eq(None::<NaiveDateTime>),
                        webhook_endpoints::updated_at.eq(now()),
                    ))
                    .execute(conn)
                    .await?
            }
        };
        if held == 0 {
            return Ok(false);
        }
        if let Some(delivery) = delivery {
            diesel::insert_into(webhook_deliveries::table)
                .values(delivery)
                .execute(conn)
                .await?;
        }
        if let Outcome::Exhausted { event, .. } = outcome {
            super::events::append_event!(conn, event);
        }
        Ok(true)
    })
}

/// Gives the lease up, so that any instance may take the endpoint when it is next due.
pub async fn release(
    db: &Db,
    endpoint_id: &WebhookEndpointId,
    owner: &str,
) -> Result<(), ApiError> {
    write!(db, |conn| {
        diesel::update(
            webhook_endpoints::table
                .filter(webhook_endpoints::id.eq(endpoint_id))
                .filter(webhook_endpoints::lease_owner.eq(owner)),
        )
        .set((
            webhook_endpoints::lease_owner.eq(None::<String>),
            webhook_endpoints::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .await?;
        Ok(())
    })
}
