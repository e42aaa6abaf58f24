//! `/v1/events` and `/v1/users/{id}/events`: the organization's change events in order, and one
//! user's history (the audit log), with `events:read`. Pages are keyset pages on the sequence:
//! `after` is the last sequence the reader has, and `meta.next_after` is the one to send next.
//! `wait` long-polls the feed: the request polls every `WAIT_POLL` until an event exists or the
//! wait is over, so a reader follows the feed without hammering it, on any instance.

use std::time::Duration;

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{ApiTags, BearerAuth, envelope::error_responses, event_schema::EventJson};
use crate::{
    db::{
        events::{self, StoredEvent},
        users,
    },
    domain::{EventType, Scope, UserId},
    state::AppState,
};

/// How often a waiting request looks for new events.
const WAIT_POLL: Duration = Duration::from_millis(200);
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// Where a page of events stands.
#[derive(Debug, Clone, Object)]
pub struct EventPageMeta {
    /// Send as `after` for the next page: the last sequence on this page, or the `after` that
    /// was sent when the page is empty. A reader that stores it never misses nor repeats an
    /// event.
    pub next_after: i64,
    /// Whether more events follow already (then ask again at once).
    pub has_more: bool,
    /// The page size that was applied.
    pub limit: i64,
}

/// One page of events, in sequence order.
#[derive(Debug, Clone, Object)]
pub struct EventListEnvelope {
    /// Always `true`.
    pub success: bool,
    /// The events, oldest first.
    pub data: Vec<EventJson>,
    /// Where the reader stands.
    pub meta: EventPageMeta,
}

#[derive(ApiResponse)]
enum EventListResponse {
    /// The page; empty when nothing came after `after` (within `wait`).
    #[oai(status = 200)]
    Ok(Json<EventListEnvelope>),
}

error_responses!(ListUserEventsError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `user_id` not a UUID, `after` or `limit` out of range, or an unknown `type`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `events:read`.",
    404 => NotFound: "No such user, and no events about that id, in the caller's organization.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(ListEventsError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `after`, `limit` or `wait` out of range, or an unknown `type`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `events:read`.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

pub struct EventsApi;

#[OpenApi(tag = "ApiTags::Events")]
impl EventsApi {
    /// List events
    ///
    /// The organization's change events after `after`, in sequence order: every committed
    /// change, numbered with no gaps, so a reader that keeps `meta.next_after` sees each event
    /// exactly once, in order. Events are kept for the configured retention (90 days by
    /// default). With `wait`, an empty page is answered only after up to that many seconds
    /// without a new event. Needs `events:read`.
    #[oai(path = "/v1/events", method = "get", operation_id = "listEvents")]
    async fn list_events(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The last sequence already read; 0 (the default) for the oldest kept event.
        #[oai(validator(minimum(value = "0")))]
        after: Query<Option<i64>>,
        /// Page size, 1–1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// Only events of these types (repeat the parameter for several); all when absent.
        #[oai(name = "type")]
        types: Query<Option<Vec<EventType>>>,
        /// Seconds to wait for an event when there is none yet, 0–30 (default 0).
        #[oai(validator(minimum(value = "0"), maximum(value = "30")))]
        wait: Query<Option<u32>>,
    ) -> Result<EventListResponse, ListEventsError> {
        let caller = state.caller(&auth, Scope::EventsRead).await?;
        let wait = Duration::from_secs(wait.0.unwrap_or(0).into());
        let query = Page::new(after.0, limit.0);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let rows = events::list(
                &state.db,
                &caller.org_id,
                query.after,
                query.fetch(),
                types.0.as_deref().unwrap_or_default(),
            )
            .await?;
            if !rows.is_empty() || tokio::time::Instant::now() + WAIT_POLL > deadline {
                return Ok(query.respond(rows));
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    /// List a user's events
    ///
    /// The events about one user, in sequence order: their creation, every change to them,
    /// their sign-ins (and refused ones), sessions, team memberships and deletion. This is the
    /// audit log; it outlives the user, so a deleted user's history stays readable for the
    /// retention period. An id that names neither a user nor any event of the caller's
    /// organization is 404, like any unknown id. Needs `events:read`.
    #[oai(
        path = "/v1/users/:user_id/events",
        method = "get",
        operation_id = "listUserEvents"
    )]
    async fn list_user_events(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        user_id: Path<UserId>,
        /// The last sequence already read; 0 (the default) for the oldest kept event.
        #[oai(validator(minimum(value = "0")))]
        after: Query<Option<i64>>,
        /// Page size, 1–1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// Only events of these types (repeat the parameter for several); all when absent.
        #[oai(name = "type")]
        types: Query<Option<Vec<EventType>>>,
    ) -> Result<EventListResponse, ListUserEventsError> {
        let caller = state.caller(&auth, Scope::EventsRead).await?;
        let query = Page::new(after.0, limit.0);
        let subject = user_id.0.to_string();
        let rows = events::list_about(
            &state.db,
            &caller.org_id,
            Some(&subject),
            query.after,
            query.fetch(),
            types.0.as_deref().unwrap_or_default(),
        )
        .await?;
        // An id that names neither a user nor a history here is 404, like any unknown id.
        if rows.is_empty() && query.after == 0 {
            users::find(&state.db, &caller.org_id, &user_id).await?;
        }
        Ok(query.respond(rows))
    }
}

/// A page request on the sequence.
struct Page {
    after: i64,
    limit: i64,
}

impl Page {
    fn new(after: Option<i64>, limit: Option<u32>) -> Self {
        Self {
            after: after.unwrap_or(0).max(0),
            limit: i64::from(limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)),
        }
    }

    /// One row more than the page, to know whether more follow.
    fn fetch(&self) -> i64 {
        self.limit + 1
    }

    fn respond(&self, mut rows: Vec<StoredEvent>) -> EventListResponse {
        let has_more = super::pages::cut_to_page(&mut rows, self.limit);
        let next_after = rows.last().map_or(self.after, |last| last.sequence);
        EventListResponse::Ok(Json(EventListEnvelope {
            success: true,
            data: rows
                .iter()
                .map(|row| EventJson(crate::events::to_json(row)))
                .collect(),
            meta: EventPageMeta {
                next_after,
                has_more,
                limit: self.limit,
            },
        }))
    }
}
