//! The events of a change to a user. Every write that changes the row records `user.updated`
//! with the list of changed fields, then one event per notable change in the same write:
//! `user.suspended`, `user.reactivated`, `user.password_changed`, `user.totp_enabled`,
//! `user.totp_disabled`; a redeemed ticket names its flow too (`user.email_verified`,
//! `user.email_changed`, `user.password_reset`), a change of address waiting for its
//! confirmation records `user.email_change_requested` alone, and a user created as invited adds
//! `user.invited` to `user.created`. Each carries the user as it is after the write (`UserSnapshot`) and the
//! same `changes`. Values come from the snapshot, which never holds a secret: a new password or
//! TOTP secret is listed with `"secret": true` and `null` values.

use serde_json::{Map, Value, json};

use super::Origin;
use crate::{
    db::{events::NewEvent, models::User},
    domain::{EmailAddress, EventType, UserStatus},
    error::ApiError,
};

/// Renders a user as events show it (`api::model::user_snapshot`), handed down by the edge.
pub type UserView = fn(&User) -> Result<Value, ApiError>;

/// Snapshot fields that move without being changed by the write, left out of `changes`.
const NOT_CHANGES: [&str; 2] = ["updated_at", "last_active_at"];

/// Records the events of user writes caused by `origin`.
#[derive(Clone)]
pub struct UserEvents {
    pub origin: Origin,
    pub view: UserView,
}

impl UserEvents {
    /// `user.created`, with no `changes`.
    pub fn created(&self, user: &User) -> Result<Vec<NewEvent>, ApiError> {
        let data = json!({"object": (self.view)(user)?, "changes": []});
        let mut events = vec![self.event(user, EventType::UserCreated, &data)];
        if user.status == UserStatus::Invited {
            events.push(self.event(user, EventType::UserInvited, &data));
        }
        Ok(events)
    }

    /// `user.deleted`: the id only, since the user's data is gone with them.
    pub fn deleted(&self, user: &User) -> Vec<NewEvent> {
        let data = json!({"object": {"id": user.id, "deleted": true}});
        vec![self.event(user, EventType::UserDeleted, &data)]
    }

    /// `user.updated` and the notable changes from `before` to `after` (nothing when the row
    /// did not change).
    pub fn updated(&self, before: &User, after: &User) -> Result<Vec<NewEvent>, ApiError> {
        if before.version == after.version {
            return Ok(Vec::new());
        }
        let (old, new) = ((self.view)(before)?, (self.view)(after)?);
        let mut changes = changed_fields(&old, &new);
        if before.password_hash != after.password_hash {
            changes.push(secret_change("password"));
        }
        if before.totp_secret != after.totp_secret {
            changes.push(secret_change("totp_secret"));
        }
        let data = json!({"object": new, "changes": changes});
        let mut kinds = vec![EventType::UserUpdated];
        // As the statuses hold at the write: a timed ban that had lapsed is active before.
        let at = after.updated_at;
        match (before.status_at(at), after.status_at(at)) {
            (UserStatus::Active, UserStatus::Suspended) => kinds.push(EventType::UserSuspended),
            (UserStatus::Suspended, UserStatus::Active) => kinds.push(EventType::UserReactivated),
            _ => {}
        }
        if before.password_hash != after.password_hash {
            kinds.push(EventType::UserPasswordChanged);
        }
        match (&before.totp_secret, &after.totp_secret) {
            (_, Some(_)) if before.totp_secret != after.totp_secret => {
                kinds.push(EventType::UserTotpEnabled)
            }
            (Some(_), None) => kinds.push(EventType::UserTotpDisabled),
            _ => {}
        }
        Ok(kinds
            .into_iter()
            .map(|kind| self.event(after, kind, &data))
            .collect())
    }

    /// `updated`, plus `also` with the same data when the row changed: the flow that made the
    /// change (a redeemed ticket), named.
    pub fn updated_and(
        &self,
        before: &User,
        after: &User,
        also: EventType,
    ) -> Result<Vec<NewEvent>, ApiError> {
        let mut events = self.updated(before, after)?;
        if let Some(first) = events.first() {
            let mut named = first.clone();
            named.kind = also;
            events.push(named);
        }
        Ok(events)
    }

    /// `user.email_change_requested`: `user` (as it is, with its primary address unchanged)
    /// asked to move to `to`; `changes` lists `pending_email` from `before` (the change that
    /// was waiting, if any) to `to`. Never the ticket or its link.
    pub fn email_change_requested(
        &self,
        user: &User,
        before: Option<&EmailAddress>,
        to: &EmailAddress,
    ) -> Result<NewEvent, ApiError> {
        let before = json!(before.map(ToString::to_string));
        let change = change("pending_email", &before, &json!(to.to_string()));
        let data = json!({"object": (self.view)(user)?, "changes": [change]});
        Ok(self.event(user, EventType::UserEmailChangeRequested, &data))
    }

    fn event(&self, user: &User, kind: EventType, data: &Value) -> NewEvent {
        self.origin
            .event(user.org_id, kind, Some(user.id.to_string()), data)
    }
}

/// One entry of `changes`.
pub fn change(field: &str, before: &Value, after: &Value) -> Value {
    json!({"field": field, "secret": false, "before": before, "after": after})
}

fn secret_change(field: &str) -> Value {
    json!({"field": field, "secret": true, "before": null, "after": null})
}

/// `{field, before, after}` for each top-level field of the snapshots that differs.
fn changed_fields(old: &Value, new: &Value) -> Vec<Value> {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    // A field shown only while it applies (`suspension`) changes by appearing or going.
    let gone = old.keys().filter(|field| !new.contains_key(*field));
    new.keys()
        .chain(gone)
        .filter(|field| !NOT_CHANGES.contains(&field.as_str()))
        .filter_map(|field| {
            let before = old.get(field).unwrap_or(&Value::Null);
            let after = new.get(field).unwrap_or(&Value::Null);
            (before != after).then(|| change(field, before, after))
        })
        .collect()
}

/// `user.recovery_codes_regenerated`: `origin` (the user) replaced their recovery codes with a
/// set of `remaining`. The codes are never in the event.
pub fn recovery_codes_regenerated(origin: &Origin, user: &User, remaining: usize) -> NewEvent {
    let data = json!({"object": {"id": user.id, "recovery_codes_remaining": remaining}});
    origin.event(
        user.org_id,
        EventType::UserRecoveryCodesRegenerated,
        Some(user.id.to_string()),
        &data,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fields_that_differ_are_listed_and_timestamps_are_not_changes() {
        let old = json!({"display_name": "Ada", "bio": null, "updated_at": "1", "locale": "en"});
        let new = json!({"display_name": "Ada L.", "bio": "Hi", "updated_at": "2", "locale": "en"});
        assert_eq!(
            changed_fields(&old, &new),
            [
                change("bio", &Value::Null, &json!("Hi")),
                change("display_name", &json!("Ada"), &json!("Ada L.")),
            ]
        );
    }
}
