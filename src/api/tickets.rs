//! One-time tickets (issue 17): `POST /v1/users/{user_id}/tickets` issues one for a user of the
//! caller's organization (the app sends it to them), and `POST /v1/tickets/redeem`, public,
//! redeems it. The rules are `users::tickets`'.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};

use super::{
    ApiTags, BearerAuth,
    client_address::ClientAddress,
    envelope::{envelope, error_responses},
    http::CurrentSession,
    patch::PatchBody,
    sessions::SignedIn,
};
use crate::{
    domain::{Scope, TicketType, Timestamp, UserId},
    state::AppState,
    users::tickets::{self, Redemption, TicketRequest},
};

/// A ticket to issue.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct TicketCreate {
    /// What redeeming it does: `verify_email` marks the user's current primary address
    /// verified (only while it is still their address); `reset_password` sets a new password
    /// and revokes every session; `change_email` moves the user to `email`, verified;
    /// `invite` activates an `invited` user with the password they choose.
    #[oai(rename = "type")]
    pub kind: TicketType,
    /// How long it stays redeemable, in seconds: at least 60 and at most 86400 (a day) for
    /// `reset_password`, 604800 (a week) for `verify_email` and `change_email`, 2592000 (30
    /// days) for `invite`. Outside 60..=2592000 is 400 `MALFORMED_REQUEST`; above the
    /// type's own longest life, 422 `INVALID_TICKET_REQUEST`. Default: 3600 for
    /// `reset_password`, 86400 for `verify_email` and `change_email`, 604800 for `invite`.
    #[oai(validator(minimum(value = "60"), maximum(value = "2592000")))]
    pub ttl_seconds: Option<u64>,
    /// Your page that redeems the ticket; the response's `url` is this with
    /// `token=<token>` added to its query. Its origin must be one of the server's
    /// `--redirect-origins` (422 `REDIRECT_NOT_ALLOWED` otherwise, and whenever none are
    /// configured).
    pub redirect_url: Option<String>,
    /// The address to move to: required for `change_email`, refused for the other types
    /// (422 `INVALID_TICKET_REQUEST`). Another user of the organization holding it is 409
    /// `EMAIL_TAKEN`.
    pub email: Option<String>,
}

/// A new ticket. The token is shown this once: only its hash is stored.
#[derive(Debug, Clone, Object)]
pub struct IssuedTicket {
    /// The ticket's token (`tkt_` and 43 characters): send it to the user, who redeems it
    /// with `POST /v1/tickets/redeem`.
    pub token: String,
    /// `redirect_url` with `token=<token>` in its query; absent without `redirect_url`.
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
    /// When it stops being redeemable.
    pub expires_at: Timestamp,
    /// Its type.
    #[oai(rename = "type")]
    pub kind: TicketType,
}

/// A ticket to redeem.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct TicketRedeem {
    /// The ticket's token, as issued: `tkt_` and 43 base64url characters (anything else is
    /// 400).
    #[oai(validator(pattern = r"^tkt_[A-Za-z0-9_-]{43}$"))]
    pub token: String,
    /// The new password, for `reset_password` and `invite` tickets (required there, refused
    /// for the others: 422 `INVALID_TICKET_REQUEST`): 8–256 characters, not easily guessed
    /// (422 `WEAK_PASSWORD`).
    pub password: Option<String>,
    /// The type your page expects: a ticket of another type is refused (422
    /// `TICKET_TYPE_MISMATCH`) and stays redeemable. Leave out to accept any type.
    #[oai(rename = "type")]
    pub kind: Option<TicketType>,
}

/// What the ticket did; nothing else about the user.
#[derive(Debug, Clone, Object)]
pub struct RedeemedTicket {
    /// The ticket's type.
    #[oai(rename = "type")]
    pub kind: TicketType,
    /// A new session, for `reset_password` and `invite` tickets when the user can now sign
    /// in with the password alone (active, e-mail sign-in on, no two-factor authentication).
    /// Absent otherwise: with 2FA on, the user signs in with the password and a code.
    #[oai(skip_serializing_if_is_none)]
    pub session: Option<SignedIn>,
}

envelope!(IssuedTicketEnvelope, IssuedTicket);
envelope!(RedeemedTicketEnvelope, RedeemedTicket);

#[derive(Debug, ApiResponse)]
pub enum IssuedTicketResponse {
    /// The ticket, with its token shown this once.
    #[oai(status = 201)]
    Created(Json<IssuedTicketEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum RedeemedTicketResponse {
    /// Redeemed: the ticket is used up and its effect applied.
    #[oai(status = 200)]
    Ok(Json<RedeemedTicketEnvelope>),
}

error_responses!(IssueTicketError {
    400 => BadRequest: "`MALFORMED_REQUEST`: not JSON, wrong JSON types, an unknown `type`, unknown fields, `ttl_seconds` outside 60..=2592000, or `user_id` not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `users:write` (`details.scope`: `users:write`), or the user is an admin and the caller does not hold every scope (`details.scope`: the missing scopes, space-separated).",
    404 => NotFound: "No such user in the caller's organization.",
    409 => Conflict: "`TICKET_NOT_APPLICABLE`: an `invite` ticket for a user who is not `invited`, another type for one who is, or `verify_email` for a user without an address. `EMAIL_TAKEN`: another user of the organization has `email`.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`INVALID_TICKET_REQUEST` (`ttl_seconds` above the type's longest life, `email` missing for `change_email` or sent for another type), `INVALID_EMAIL`, or `REDIRECT_NOT_ALLOWED` (`redirect_url` not an http(s) URL, or its origin is not configured); with several, `VALIDATION_FAILED` and `errors` lists every one. Nothing was issued.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(RedeemTicketError {
    400 => BadRequest: "`MALFORMED_REQUEST`: not JSON, wrong JSON types, a `token` that is not shaped like a ticket token (`tkt_` and 43 URL-safe base64 characters), an unknown `type` or unknown fields.",
    404 => NotFound: "`NOT_FOUND`: no ticket has this token.",
    409 => Conflict: "`EMAIL_TAKEN`: another user took the `change_email` ticket's address meanwhile; the ticket stays redeemable.",
    410 => Gone: "`TICKET_USED`: already redeemed. `TICKET_EXPIRED`: past its expiry, superseded by a newer ticket of its type, or no longer applicable (the address to verify changed, the user is no longer invited); `details.token` says which.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`INVALID_TICKET_REQUEST` (`password` missing for a ticket that sets one, or sent to one that doesn't), `WEAK_PASSWORD`, or `TICKET_TYPE_MISMATCH` (not the `type` expected). Nothing was redeemed.",
    429 => TooManyRequests: "`RATE_LIMITED`: too many attempts from this address (the sign-in limit); retry after `Retry-After` seconds.", header "Retry-After",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

pub struct TicketsApi;

#[OpenApi(tag = "ApiTags::Tickets")]
impl TicketsApi {
    /// Issue a ticket for a user
    ///
    /// A one-time ticket for your app to send to the user (by e-mail, say): its token is in
    /// this response only, and only its SHA-256 is stored. Needs `users:write`; a ticket for an
    /// admin needs every scope. Issuing a ticket supersedes the user's earlier live tickets of
    /// that type: redeeming one of them is then 410 `TICKET_EXPIRED`. See `TicketCreate` for
    /// what each type does and how long it lives; a user of another organization is 404.
    #[oai(
        path = "/v1/users/:user_id/tickets",
        method = "post",
        operation_id = "createUserTicket"
    )]
    async fn create_user_ticket(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        user_id: Path<UserId>,
        body: Json<PatchBody<TicketCreate>>,
    ) -> Result<IssuedTicketResponse, IssueTicketError> {
        let caller = state.caller(&auth, Scope::UsersWrite).await?;
        let TicketCreate {
            kind,
            ttl_seconds,
            redirect_url,
            email,
        } = body.0.parse()?;
        let request = TicketRequest {
            kind,
            ttl_seconds,
            redirect_url,
            email,
        };
        let issued = tickets::issue(&state, &caller, &user_id, request).await?;
        Ok(IssuedTicketResponse::Created(Json(
            IssuedTicket {
                token: issued.token,
                url: issued.url,
                expires_at: Timestamp::from(issued.ticket.expires_at),
                kind: issued.ticket.kind,
            }
            .into(),
        )))
    }

    /// Redeem a ticket
    ///
    /// Public: the token is the credential. A ticket works once: redeeming it is one
    /// transaction that marks it used only if it is still unused, unsuperseded and unexpired,
    /// and applies its effect, so of two concurrent redemptions exactly one succeeds (the
    /// other gets 410 `TICKET_USED`); a refused effect (409, 422) leaves it redeemable.
    /// `verify_email` sets `primary_email_verified`; `reset_password` sets the password,
    /// revokes every session and clears the account's sign-in limit; `change_email` makes the
    /// ticket's address the primary one, verified; `invite` activates the invited user with
    /// the password. The answer says only the ticket's type, and carries a session when the
    /// ticket signs the user in. Each attempt counts against the client address's sign-in
    /// limit (429 past it).
    #[oai(
        path = "/v1/tickets/redeem",
        method = "post",
        operation_id = "redeemTicket"
    )]
    async fn redeem_ticket(
        &self,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        body: Json<TicketRedeem>,
    ) -> Result<RedeemedTicketResponse, RedeemTicketError> {
        let redemption = Redemption {
            token: &body.0.token,
            password: body.0.password.as_deref(),
            expected: body.0.kind,
            address: client.0.0,
        };
        let redeemed = tickets::redeem(&state, super::user_events, redemption).await?;
        let session = redeemed.session.map(|(session, token)| SignedIn {
            token,
            session: CurrentSession::of(&session),
        });
        Ok(RedeemedTicketResponse::Ok(Json(
            RedeemedTicket {
                kind: redeemed.kind,
                session,
            }
            .into(),
        )))
    }
}
