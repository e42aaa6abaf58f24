//! Self-service flows in which users-api sends the message (issue 17): `POST
//! /v1/password-resets` (public), `POST /v1/me/email-verification` and its `/confirm`. They
//! need a mailer (503 `MAILER_NOT_CONFIGURED` without one); the rules are
//! `users::self_service`'s. The ticket a message carries is redeemed with `POST
//! /v1/tickets/redeem`, as an admin's ticket is.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::{
    ApiTags, BearerAuth,
    client_address::ClientAddress,
    envelope::{envelope, error_responses},
    me::{MeResponse, me_response},
    patch::PatchBody,
};
use crate::{
    db::{me, users},
    domain::{EmailAddress, OrgId, TicketType, Timestamp},
    state::AppState,
    users::self_service,
};

/// The account to reset the password of.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The organization the account belongs to.
    pub org_id: OrgId,
    /// The account's primary e-mail address, matched case-insensitively (422 `INVALID_EMAIL`
    /// when it is not an address at all).
    #[oai(validator(min_length = 1, max_length = 254))]
    pub email: String,
}

/// The same answer whether or not the account exists.
#[derive(Debug, Clone, Object)]
pub struct PasswordResetAccepted {
    /// Always `true`: the request was taken. It says nothing about the account.
    pub accepted: bool,
    /// How long the mailed link works, if one is mailed: 3600 seconds.
    pub link_ttl_seconds: u64,
}

/// Where the verification was sent.
#[derive(Debug, Clone, Object)]
pub struct EmailVerificationSent {
    /// The address the link and code were mailed to: the current primary address.
    pub to: EmailAddress,
    /// When the link and the code stop working (a day).
    pub expires_at: Timestamp,
}

/// The code from the verification message.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct EmailVerificationConfirm {
    /// The six digits from the message (anything else is 400).
    #[oai(validator(pattern = r"^[0-9]{6}$"))]
    pub code: String,
}

envelope!(PasswordResetAcceptedEnvelope, PasswordResetAccepted);
envelope!(EmailVerificationSentEnvelope, EmailVerificationSent);

#[derive(Debug, ApiResponse)]
pub enum PasswordResetResponse {
    /// Taken. This answer is the same for every address, account or not.
    #[oai(status = 202)]
    Accepted(Json<PasswordResetAcceptedEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum EmailVerificationResponse {
    /// Queued: the message leaves shortly, with retries.
    #[oai(status = 202)]
    Accepted(Json<EmailVerificationSentEnvelope>),
}

error_responses!(PasswordResetError {
    400 => BadRequest: "`MALFORMED_REQUEST`: not JSON, wrong JSON types, unknown fields, `org_id` not a UUID, or `email` missing, empty or longer than 254 characters.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`INVALID_EMAIL`: `email` is not an address; nothing was looked up.",
    429 => TooManyRequests: "`RATE_LIMITED`: too many resets asked for this address, or too many attempts from this client address (counted with sign-ins); retry after `Retry-After` seconds.", header "Retry-After",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`MAILER_NOT_CONFIGURED`: this server sends no mail, or has no `--public-url` to link to; or `SERVICE_UNAVAILABLE`: the database is unavailable, retry after `Retry-After` seconds.",
});

error_responses!(SendEmailVerificationError {
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: an API key was used; this needs a user session token.",
    409 => Conflict: "`TICKET_NOT_APPLICABLE`: the user has no primary address, or it is verified already; nothing was sent.",
    429 => TooManyRequests: "`RATE_LIMITED`: too many verification messages asked for; retry after `Retry-After` seconds.", header "Retry-After",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`MAILER_NOT_CONFIGURED`: this server sends no mail, or has no `--public-url` to link to; or `SERVICE_UNAVAILABLE`: the database is unavailable, retry after `Retry-After` seconds.",
});

error_responses!(ConfirmEmailVerificationError {
    400 => BadRequest: "`MALFORMED_REQUEST`: not JSON, wrong JSON types, unknown fields, or `code` not six digits.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: an API key was used; this needs a user session token.",
    404 => NotFound: "`NOT_FOUND`: no verification code was sent to this user.",
    410 => Gone: "`TICKET_USED`: the code (or its link) was used already. `TICKET_EXPIRED`: it expired, a newer one was sent, the address changed since, or five wrong codes ended it; `details.token` says which. Ask for a new one.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`WRONG_CODE`: not the code that was sent; `details.code` says how many tries are left (the fifth wrong code ends it: 410).",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

pub struct PasswordResetsApi;

#[OpenApi(tag = "ApiTags::Sessions")]
impl PasswordResetsApi {
    /// Ask for a password reset
    ///
    /// Public ("forgot your password?"). When an active user of `org_id` who signs in with
    /// their address has `email`, users-api mails them a link to `--public-url`'s
    /// `reset-password` page with a `reset_password` ticket (`?token=tkt_…`, valid an hour,
    /// superseding earlier ones); the page redeems it with a new password through `POST
    /// /v1/tickets/redeem`, which revokes every session. The answer is 202 with the same body
    /// whether or not there is such an account, suspended, invited or unknown, and takes the
    /// same time: the account is looked up after the response. Limited like sign-in: per
    /// address asked for and per client address (429). 503 `MAILER_NOT_CONFIGURED` when the
    /// server sends no mail: then your app issues the ticket itself (`POST
    /// /v1/users/{user_id}/tickets`) and sends it.
    #[oai(
        path = "/v1/password-resets",
        method = "post",
        operation_id = "requestPasswordReset"
    )]
    async fn request_password_reset(
        &self,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        body: Json<PasswordResetRequest>,
    ) -> Result<PasswordResetResponse, PasswordResetError> {
        let PasswordResetRequest { org_id, email } = body.0;
        self_service::request_password_reset(&state, org_id, &email, client.0.0).await?;
        let ttl = TicketType::ResetPassword.default_ttl().as_secs();
        Ok(PasswordResetResponse::Accepted(Json(
            PasswordResetAccepted {
                accepted: true,
                link_ttl_seconds: ttl,
            }
            .into(),
        )))
    }
}

pub struct EmailVerificationApi;

#[OpenApi(tag = "ApiTags::Me")]
impl EmailVerificationApi {
    /// Send an address verification
    ///
    /// Mails the signed-in user's current primary address a link (to `--public-url`'s
    /// `verify-email` page, with a `verify_email` ticket that `POST /v1/tickets/redeem`
    /// redeems) and a 6-digit code to type into `POST /v1/me/email-verification/confirm`;
    /// either proves the address (`primary_email_verified`, event `user.email_verified`). Both
    /// work for a day, once, and only while the address is unchanged; a new message supersedes
    /// the previous one. 409 `TICKET_NOT_APPLICABLE` when there is no address or it is
    /// verified already. 503 `MAILER_NOT_CONFIGURED` when the server sends no mail.
    #[oai(
        path = "/v1/me/email-verification",
        method = "post",
        operation_id = "sendEmailVerification"
    )]
    async fn send_email_verification(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
    ) -> Result<EmailVerificationResponse, SendEmailVerificationError> {
        let (user, _) = state.authenticate(&auth).await?.into_user()?;
        let sent = self_service::send_verification(&state, &user, client.0.0).await?;
        Ok(EmailVerificationResponse::Accepted(Json(
            EmailVerificationSent {
                to: sent.to,
                expires_at: Timestamp::from(sent.expires_at),
            }
            .into(),
        )))
    }

    /// Confirm the address with its code
    ///
    /// The 6-digit code from the latest verification message proves the signed-in user's
    /// primary address: `primary_email_verified` becomes true (event `user.email_verified`)
    /// and the code and its link are used up. Five wrong codes end it (410 from then on; ask
    /// for a new one). The response is the current user, as `GET /v1/me`.
    #[oai(
        path = "/v1/me/email-verification/confirm",
        method = "post",
        operation_id = "confirmEmailVerification"
    )]
    async fn confirm_email_verification(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<PatchBody<EmailVerificationConfirm>>,
    ) -> Result<MeResponse, ConfirmEmailVerificationError> {
        let (user, session) = state.authenticate(&auth).await?.into_user()?;
        let EmailVerificationConfirm { code } = body.0.parse()?;
        self_service::confirm_verification(&state, super::user_events, &user, &code).await?;
        let user = users::find(&state.db, &user.org_id, &user.id).await?;
        let rows = me::load(&state.db, &user).await?;
        Ok(me_response(user, session, rows, None)?)
    }
}
