//! Change events as consumers see them (issue 16): the same JSON in the feed
//! (`GET /v1/events`), in a user's history and in a webhook delivery's body. `Origin` is who
//! caused a change and through which request; use cases turn it and what changed into the
//! `NewEvent`s that `db` appends in the change's own transaction.

pub mod sessions;
pub mod users;

use serde_json::{Value, json};

use crate::{
    db::events::{NewEvent, StoredEvent},
    domain::{Actor, EventType, OrgId, Timestamp},
};

/// Who caused a change, and the `X-Request-Id` of the request that did.
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: Actor,
    pub request_id: Option<String>,
}

impl Origin {
    /// A change the service made on its own.
    pub fn system() -> Self {
        Self {
            actor: Actor::System,
            request_id: None,
        }
    }

    /// An event of `kind` about `subject_id` (a user's id puts it in that user's history).
    pub fn event(
        &self,
        org_id: OrgId,
        kind: EventType,
        subject_id: Option<String>,
        data: &Value,
    ) -> NewEvent {
        NewEvent {
            org_id,
            kind,
            actor: self.actor,
            request_id: self.request_id.clone(),
            subject_id,
            data: data.to_string(),
        }
    }
}

/// The event as the feed shows it and a webhook delivers it.
pub fn to_json(event: &StoredEvent) -> Value {
    // Written by this service as JSON in the same transaction; unreadable only if the database
    // was edited by hand, and then shown as `null` rather than failing the whole page.
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    json!({
        "id": event.id,
        "type": event.kind.as_str(),
        "sequence": event.sequence,
        "occurred_at": Timestamp::from(event.occurred_at).to_string(),
        "org_id": event.org_id,
        "actor": {"type": event.actor_type, "id": event.actor_id},
        "request_id": event.request_id,
        "data": data,
    })
}

/// The body of a webhook delivery: the event's JSON, compact.
pub fn body(event: &StoredEvent) -> String {
    to_json(event).to_string()
}
