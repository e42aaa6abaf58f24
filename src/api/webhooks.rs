//! `/v1/webhook-endpoints`: where an organization's change events are delivered (`webhooks`),
//! with `webhooks:write` (admins have it). The signing secret is returned at creation and at
//! rotation only; it is stored sealed. Deliveries are made by the dispatcher, never here:
//! `redeliver` only queues one.

use std::sync::LazyLock;

use chrono::TimeDelta;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    ApiTags, BearerAuth,
    envelope::{PageMeta, envelope, error_responses, page_envelope},
    http::DeletedResponse,
    pages::PageRequest,
    patch::{Field, FieldRules, IMMUTABLE, PatchBody, Reader},
};
use crate::{
    db::{
        now,
        webhooks::{self as db, Delivery, Endpoint, EndpointChanges},
    },
    domain::{EventType, Scope, Timestamp, WebhookDeliveryId, WebhookEndpointId},
    error::{ApiError, ErrorCode, FieldError},
    state::AppState,
    webhooks::{signing, ssrf},
};

/// How long a rotated-out secret keeps signing deliveries.
pub const PREVIOUS_SECRET_LIFETIME: TimeDelta = TimeDelta::hours(24);
const MAX_DESCRIPTION_CHARS: usize = 500;

/// A webhook endpoint, without its secret.
#[derive(Debug, Clone, Object)]
pub struct WebhookEndpoint {
    /// The endpoint's id.
    pub id: WebhookEndpointId,
    /// Where events are POSTed.
    pub url: String,
    /// What the endpoint is for.
    #[oai(nullable)]
    pub description: Option<String>,
    /// The event types delivered; empty: every type except the audit-only
    /// `session.sign_in_failed`, including types added later.
    pub event_types: Vec<EventType>,
    /// Whether delivery is stopped: set by a PATCH, or after every retry of an event failed
    /// (then a `webhook_endpoint.disabled` event is recorded). A PATCH with `"disabled": false`
    /// resumes at the event it stopped at.
    pub disabled: bool,
    /// Failed attempts of the event delivery is held at (0 when nothing is failing).
    pub failed_attempts: i32,
    /// When the failing event is tried again; `null` when nothing is failing.
    #[oai(nullable)]
    pub next_attempt_at: Option<Timestamp>,
    /// Until when the secret replaced by the last rotation still signs deliveries (each
    /// `webhook-signature` then carries both signatures); `null` when there is none.
    #[oai(nullable)]
    pub previous_secret_expires_at: Option<Timestamp>,
    /// When the endpoint was created.
    pub created_at: Timestamp,
    /// When the endpoint was last changed.
    pub updated_at: Timestamp,
}

/// A webhook endpoint with its signing secret, shown at creation and rotation only.
#[derive(Debug, Clone, Object)]
pub struct WebhookEndpointWithSecret {
    #[oai(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The Standard Webhooks signing secret (`whsec_` and the base64 of 32 random bytes). Store
    /// it now: it is never shown again.
    pub secret: String,
}

/// A new webhook endpoint.
#[derive(Debug, Clone, Object)]
pub struct WebhookEndpointCreate {
    /// An `https://` URL whose host is, or resolves only to, public addresses (else 422
    /// `INVALID_WEBHOOK_URL`; `--webhooks-allow-private-urls` lifts both rules). At most 2048
    /// characters. Redirects are not followed.
    #[oai(validator(min_length = 1, max_length = 2048))]
    pub url: String,
    /// The event types to deliver; absent or empty: every type except the audit-only
    /// `session.sign_in_failed`. An unknown type is 422 `VALIDATION_FAILED`.
    pub event_types: Option<Vec<EventType>>,
    /// What the endpoint is for: at most 500 characters, no control characters; absent or
    /// `null` for none.
    #[oai(
        nullable,
        validator(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")
    )]
    pub description: Option<String>,
}

/// Changes to a webhook endpoint: absent fields are unchanged; `{}` is a no-op.
#[derive(Debug, Clone, Object)]
pub struct WebhookEndpointPatch {
    /// A new URL, by the rules of creation.
    #[oai(validator(min_length = 1, max_length = 2048))]
    pub url: Option<String>,
    /// The event types to deliver; empty: every type delivered by default.
    pub event_types: Option<Vec<EventType>>,
    /// What the endpoint is for; `null` clears it.
    #[oai(
        nullable,
        validator(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")
    )]
    pub description: Option<String>,
    /// `true` stops delivery; `false` resumes it at the event it stopped at, with its
    /// failures forgotten.
    pub disabled: Option<bool>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Object)]
pub struct WebhookDelivery {
    /// The attempt's id.
    pub id: WebhookDeliveryId,
    /// The event delivered: also the `webhook-id` header, the same on every attempt.
    pub event_id: String,
    /// The event's type.
    pub event_type: EventType,
    /// The event's number in its organization's sequence.
    pub event_sequence: i64,
    /// 1 for the first attempt of the event; a redelivery is attempt 1 of its own.
    pub attempt: i32,
    /// Whether it was asked for with `redeliver`.
    pub redelivery: bool,
    /// `succeeded` (a 2xx within the timeout) or `failed`.
    pub status: String,
    /// The receiver's HTTP status; `null` when there was no response (see `error`).
    #[oai(nullable)]
    pub response_status: Option<i32>,
    /// From sending the request to the end of the response, or to the failure.
    pub latency_ms: i64,
    /// The first 1 KiB of the response body (lossy UTF-8); `null` without a response.
    #[oai(nullable)]
    pub response_body: Option<String>,
    /// Why no response counted: a timeout, a refused address, a connection error.
    #[oai(nullable)]
    pub error: Option<String>,
    /// When the event is tried again after this failure; `null` after a success, a
    /// redelivery, or the last attempt.
    #[oai(nullable)]
    pub next_attempt_at: Option<Timestamp>,
    /// When the attempt was made.
    pub attempted_at: Timestamp,
}

/// A redelivery, queued.
#[derive(Debug, Clone, Object)]
pub struct Redelivery {
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event to deliver again.
    pub event_id: String,
}

envelope!(WebhookEndpointEnvelope, WebhookEndpoint);
envelope!(WebhookEndpointWithSecretEnvelope, WebhookEndpointWithSecret);
envelope!(RedeliveryEnvelope, Redelivery);
page_envelope!(WebhookEndpointListEnvelope, WebhookEndpoint);

/// One page of an endpoint's delivery attempts, newest first.
#[derive(Debug, Clone, Object)]
pub struct WebhookDeliveryListEnvelope {
    /// Always `true`.
    pub success: bool,
    /// This page's attempts, newest first.
    pub data: Vec<WebhookDelivery>,
    /// Where the list stands: the cursor of the next (older) page, if there is one.
    pub meta: PageMeta,
}

#[derive(Debug, ApiResponse)]
pub enum WebhookEndpointResponse {
    /// The endpoint.
    #[oai(status = 200)]
    Ok(Json<WebhookEndpointEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum CreatedWebhookEndpointResponse {
    /// The new endpoint with its secret; `Location` is its URL.
    #[oai(status = 201)]
    Created(
        Json<WebhookEndpointWithSecretEnvelope>,
        #[oai(header = "Location")] String,
    ),
}

#[derive(Debug, ApiResponse)]
pub enum RotatedSecretResponse {
    /// The endpoint with its new secret.
    #[oai(status = 200)]
    Ok(Json<WebhookEndpointWithSecretEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum WebhookEndpointListResponse {
    /// One page of endpoints, by id (creation order).
    #[oai(status = 200)]
    Ok(Json<WebhookEndpointListEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum WebhookDeliveryListResponse {
    /// One page of attempts, newest first.
    #[oai(status = 200)]
    Ok(Json<WebhookDeliveryListEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum RedeliveryResponse {
    /// Queued: the dispatcher sends it shortly, once, and lists the attempt in `deliveries`.
    #[oai(status = 202)]
    Accepted(Json<RedeliveryEnvelope>),
}

error_responses!(CreateWebhookEndpointError {
    400 => BadRequest: "`MALFORMED_REQUEST` (not JSON, wrong JSON types, unknown or missing fields) or `IMMUTABLE_FIELD`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `webhooks:write`.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`INVALID_WEBHOOK_URL` (not https, or not public), `VALIDATION_FAILED` (an unknown event type, a description with control characters); nothing was created.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(PatchWebhookEndpointError {
    400 => BadRequest: "`MALFORMED_REQUEST` (not JSON, wrong JSON types, unknown fields, `endpoint_id` not a UUID) or `IMMUTABLE_FIELD`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `webhooks:write`.",
    404 => NotFound: "No such endpoint in the caller's organization.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`INVALID_WEBHOOK_URL` or `VALIDATION_FAILED`; nothing was changed.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(ListWebhooksError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `limit` is not an integer from 1 to 100, or `endpoint_id` is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `webhooks:write`.",
    404 => NotFound: "No such endpoint in the caller's organization.",
    422 => Unprocessable: "`INVALID_CURSOR`: the cursor was not issued by this API.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(WebhookEndpointByIdError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `endpoint_id` is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `webhooks:write`.",
    404 => NotFound: "No such endpoint (or event) in the caller's organization.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

static CREATE_FIELDS: LazyLock<FieldRules> =
    LazyLock::new(|| FieldRules::derive::<WebhookEndpointCreate>(IMMUTABLE, &[read_only_fields()]));
static PATCH_FIELDS: LazyLock<FieldRules> =
    LazyLock::new(|| FieldRules::derive::<WebhookEndpointPatch>(IMMUTABLE, &[read_only_fields()]));

fn read_only_fields() -> Vec<&'static str> {
    let mut fields = super::patch::properties::<WebhookEndpoint>();
    fields.push("secret");
    fields
}

pub struct WebhooksApi;

#[OpenApi(tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Create a webhook endpoint
    ///
    /// Registers a URL to receive the organization's change events from now on, signed per
    /// Standard Webhooks. The response carries the signing secret, shown this once. Needs
    /// `webhooks:write`.
    #[oai(
        path = "/v1/webhook-endpoints",
        method = "post",
        operation_id = "createWebhookEndpoint"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<PatchBody<WebhookEndpointCreate>>,
    ) -> Result<CreatedWebhookEndpointResponse, CreateWebhookEndpointError> {
        let caller = state.caller(&auth, Scope::WebhooksWrite).await?;
        let mut r = body.0.reader(&CREATE_FIELDS)?;
        let url = r.required_string("url");
        let kinds = event_types(&mut r);
        let description = description(&mut r).flatten();
        r.finish()?;
        let url = checked_url(&state, &url.unwrap_or_default()).await?;
        let id = WebhookEndpointId::new();
        let secret = signing::new_secret();
        let created = now();
        let row = Endpoint {
            id,
            org_id: caller.org_id,
            url,
            description,
            event_types: db::stored_kinds(&kinds.unwrap_or_default()),
            secret: state.secrets.seal_webhook_secret(&id, &secret),
            previous_secret: None,
            previous_secret_expires_at: None,
            disabled: false,
            cursor: 0,
            attempts: 0,
            next_attempt_at: None,
            lease_owner: None,
            lease_expires_at: None,
            created_at: created,
            updated_at: created,
        };
        let row = db::insert(&state.db, &row).await?;
        let location = format!("/v1/webhook-endpoints/{id}");
        let endpoint = WebhookEndpointWithSecret {
            endpoint: view(&row),
            secret,
        };
        Ok(CreatedWebhookEndpointResponse::Created(
            Json(endpoint.into()),
            location,
        ))
    }

    /// List webhook endpoints
    ///
    /// The organization's endpoints in creation order, one page at a time, without secrets.
    /// Needs `webhooks:write`.
    #[oai(
        path = "/v1/webhook-endpoints",
        method = "get",
        operation_id = "listWebhookEndpoints"
    )]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Page size, 1–100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `meta.next_cursor` of the previous page; leave out, or send empty, for the first page.
        /// Anything this API did not issue is a 422 `INVALID_CURSOR`.
        cursor: Query<Option<String>>,
    ) -> Result<WebhookEndpointListResponse, ListWebhooksError> {
        let caller = state.caller(&auth, Scope::WebhooksWrite).await?;
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let after = page.after.map(WebhookEndpointId::from);
        let rows = db::list(&state.db, &caller.org_id, after, page.fetch()).await?;
        let (rows, meta) = page.page(rows, |e| e.id.into_uuid());
        Ok(WebhookEndpointListResponse::Ok(Json(
            WebhookEndpointListEnvelope {
                success: true,
                data: rows.iter().map(view).collect(),
                meta,
            },
        )))
    }

    /// Get a webhook endpoint
    ///
    /// One endpoint of the caller's organization, with its delivery state, without its
    /// secret; an id of another organization is 404. Needs `webhooks:write`.
    #[oai(
        path = "/v1/webhook-endpoints/:endpoint_id",
        method = "get",
        operation_id = "getWebhookEndpoint"
    )]
    async fn get(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        endpoint_id: Path<WebhookEndpointId>,
    ) -> Result<WebhookEndpointResponse, WebhookEndpointByIdError> {
        let caller = state.caller(&auth, Scope::WebhooksWrite).await?;
        let row = db::find(&state.db, &caller.org_id, &endpoint_id).await?;
        Ok(WebhookEndpointResponse::Ok(Json(view(&row).into())))
    }

    /// Update a webhook endpoint
    ///
    /// Changes the URL (checked as at creation), the event types or the description, or
    /// stops (`disabled: true`) and resumes (`disabled: false`) delivery. Needs
    /// `webhooks:write`.
    #[oai(
        path = "/v1/webhook-endpoints/:endpoint_id",
        method = "patch",
        operation_id = "patchWebhookEndpoint"
    )]
    async fn patch(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        endpoint_id: Path<WebhookEndpointId>,
        body: Json<PatchBody<WebhookEndpointPatch>>,
    ) -> Result<WebhookEndpointResponse, PatchWebhookEndpointError> {
        let caller = state.caller(&auth, Scope::WebhooksWrite).await?;
        let mut r = body.0.reader(&PATCH_FIELDS)?;
        let url = r.non_null_string("url");
        let kinds = event_types(&mut r);
        let description = description(&mut r);
        let disabled = r.boolean("disabled");
        r.finish()?;
        let url = match url {
            Some(url) => Some(checked_url(&state, &url).await?),
            None => None,
        };
        let changes = EndpointChanges {
            url,
            description,
            event_types: kinds.map(|kinds| db::stored_kinds(&kinds)),
            disabled,
        };
        let row = db::update(&state.db, &caller.org_id, &endpoint_id, &changes).await?;
        Ok(WebhookEndpointResponse::Ok(Json(view(&row).into())))
    }

    /// Delete a webhook endpoint
    ///
    /// Stops delivery and deletes the endpoint with its delivery history. Needs
    /// `webhooks:write`. Deleting again is 404.
    #[oai(
        path = "/v1/webhook-endpoints/:endpoint_id",
        method = "delete",
        operation_id = "deleteWebhookEndpoint"
    )]
    async fn delete(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        endpoint_id: Path<WebhookEndpointId>,
    ) -> Result<DeletedResponse, WebhookEndpointByIdError> {
        let caller = state.caller(&auth, Scope::WebhooksWrite).await?;
        db::delete(&state.db, &caller.org_id, &endpoint_id).await?;
        Ok(DeletedResponse::NoContent)
    }

    /// Rotate a webhook endpoint's secret
    ///
    /// Issues a new signing secret, returned this once. The secret it replaces keeps
    /// signing for 24 hours: meanwhile each `webhook-signature` carries both signatures,
    /// space-separated, so consumers can switch without losing a delivery. Needs
    /// `webhooks:write`.
    #[oai(
        path = "/v1/webhook-endpoints/:endpoint_id/rotate-secret",
        method = "post",
        operation_id = "rotateWebhookSecret"
    )]
    async fn rotate_secret(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        endpoint_id: Path<WebhookEndpointId>,
    ) -> Result<RotatedSecretResponse, WebhookEndpointByIdError> {
        let caller = state.caller(&auth, Scope::WebhooksWrite).await?;
        let secret = signing::new_secret();
        let sealed = state.secrets.seal_webhook_secret(&endpoint_id, &secret);
        let until = now() + PREVIOUS_SECRET_LIFETIME;
        let row =
            db::rotate_secret(&state.db, &caller.org_id, &endpoint_id, &sealed, until).await?;
        let endpoint = WebhookEndpointWithSecret {
            endpoint: view(&row),
            secret,
        };
        Ok(RotatedSecretResponse::Ok(Json(endpoint.into())))
    }

    /// List a webhook endpoint's deliveries
    ///
    /// Every delivery attempt to the endpoint, newest first, one page at a time: the
    /// outcome, the receiver's status, latency and first 1 KiB of its answer, and when a
    /// failed event is tried next. Needs `webhooks:write`.
    #[oai(
        path = "/v1/webhook-endpoints/:endpoint_id/deliveries",
        method = "get",
        operation_id = "listWebhookDeliveries"
    )]
    async fn deliveries(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        endpoint_id: Path<WebhookEndpointId>,
        /// Page size, 1–100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `meta.next_cursor` of the previous page; leave out, or send empty, for the first page.
        /// Anything this API did not issue is a 422 `INVALID_CURSOR`.
        cursor: Query<Option<String>>,
    ) -> Result<WebhookDeliveryListResponse, ListWebhooksError> {
        let caller = state.caller(&auth, Scope::WebhooksWrite).await?;
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let endpoint = db::find(&state.db, &caller.org_id, &endpoint_id).await?;
        let before = page.after.map(WebhookDeliveryId::from);
        let rows = db::deliveries(&state.db, &endpoint.id, before, page.fetch()).await?;
        let (rows, meta) = page.page(rows, |d| d.id.into_uuid());
        Ok(WebhookDeliveryListResponse::Ok(Json(
            WebhookDeliveryListEnvelope {
                success: true,
                data: rows.iter().map(delivery).collect(),
                meta,
            },
        )))
    }

    /// Redeliver an event
    ///
    /// Queues one more delivery of the event to the endpoint, made shortly by the
    /// dispatcher (even to a disabled endpoint) and listed in its deliveries; it is sent
    /// once, is not retried, and does not move the endpoint's place in the sequence. Needs
    /// `webhooks:write`.
    #[oai(
        path = "/v1/webhook-endpoints/:endpoint_id/deliveries/:event_id/redeliver",
        method = "post",
        operation_id = "redeliverWebhookEvent"
    )]
    async fn redeliver(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        endpoint_id: Path<WebhookEndpointId>,
        /// The event's id (a ULID), as in `webhook-id` and the deliveries' `event_id`; any
        /// other string names no event (404).
        event_id: Path<String>,
    ) -> Result<RedeliveryResponse, WebhookEndpointByIdError> {
        let caller = state.caller(&auth, Scope::WebhooksWrite).await?;
        let endpoint = db::find(&state.db, &caller.org_id, &endpoint_id).await?;
        let event = db::find_event(&state.db, &caller.org_id, &event_id).await?;
        db::request_redelivery(&state.db, &endpoint.id, event.sequence).await?;
        let queued = Redelivery {
            endpoint_id: endpoint.id,
            event_id: event.id,
        };
        Ok(RedeliveryResponse::Accepted(Json(queued.into())))
    }
}

/// `event_types` as sent: `None` when absent; an unknown name is a 422.
fn event_types(r: &mut Reader) -> Option<Vec<EventType>> {
    let names = r.strings("event_types")?;
    let mut kinds = Vec::new();
    for name in names {
        match EventType::parse(&name) {
            Some(kind) => kinds.push(kind),
            None => r.invalid_field(FieldError::new(
                "event_types",
                ErrorCode::ValidationFailed,
                format!("unknown event type {name:?}"),
            )),
        }
    }
    kinds.sort();
    kinds.dedup();
    Some(kinds)
}

/// `description` as sent: `None` absent, `Some(None)` cleared.
fn description(r: &mut Reader) -> Option<Option<String>> {
    match r.string("description") {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(text) => {
            let refusal = if text.chars().count() > MAX_DESCRIPTION_CHARS {
                Some("at most 500 characters")
            } else if text.chars().any(char::is_control) {
                Some("must not contain control characters")
            } else {
                None
            };
            match refusal {
                Some(message) => {
                    r.invalid_field(FieldError::new(
                        "description",
                        ErrorCode::ValidationFailed,
                        message,
                    ));
                    None
                }
                None => Some(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
            }
        }
    }
}

/// `url` if webhooks may go there (`ssrf`), else 422 `INVALID_WEBHOOK_URL`.
async fn checked_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let allow_private = state.allow_private_webhook_urls;
    let refuse = |reason: String| {
        ApiError::validation(vec![FieldError::new(
            "url",
            ErrorCode::InvalidWebhookUrl,
            reason,
        )])
    };
    let parsed = ssrf::check_url(url, allow_private).map_err(refuse)?;
    ssrf::check_host(&parsed, allow_private)
        .await
        .map_err(refuse)?;
    Ok(url.to_owned())
}

fn view(row: &Endpoint) -> WebhookEndpoint {
    WebhookEndpoint {
        id: row.id,
        url: row.url.clone(),
        description: row.description.clone(),
        event_types: row.kinds(),
        disabled: row.disabled,
        failed_attempts: row.attempts,
        next_attempt_at: row.next_attempt_at.map(Timestamp::from),
        previous_secret_expires_at: row
            .previous_secret_expires_at
            .filter(|until| *until > now())
            .map(Timestamp::from),
        created_at: Timestamp::from(row.created_at),
        updated_at: Timestamp::from(row.updated_at),
    }
}

fn delivery(row: &Delivery) -> WebhookDelivery {
    WebhookDelivery {
        id: row.id,
        event_id: row.event_id.clone(),
        event_type: row.event_type,
        event_sequence: row.event_sequence,
        attempt: row.attempt,
        redelivery: row.redelivery,
        status: if row.succeeded { "succeeded" } else { "failed" }.into(),
        response_status: row.response_status,
        latency_ms: row.latency_ms,
        response_body: row.response_body.clone(),
        error: row.error.clone(),
        next_attempt_at: row.next_attempt_at.map(Timestamp::from),
        attempted_at: Timestamp::from(row.attempted_at),
    }
}
