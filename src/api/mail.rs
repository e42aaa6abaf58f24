//! `/v1/mail/test`: an operator's "send a test message", which takes the whole path a real
//! message takes (the outbox, the dispatcher, the templates, the transport). Queuing is all it
//! does: the message leaves after the response, never in it.

use std::sync::LazyLock;

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::{
    ApiTags, BearerAuth,
    envelope::{envelope, error_responses},
    patch::{FieldRules, IMMUTABLE, PatchBody},
};
use crate::{
    auth::Caller,
    domain::{EmailAddress, MailId},
    mail::{self, MailKind, Message},
    state::AppState,
};

/// Where to send a test message.
#[derive(Debug, Clone, Object)]
pub struct TestMailRequest {
    /// The address to send it to (any address: an operator checks a mailbox of their own).
    /// An invalid one is a 422 `INVALID_EMAIL`.
    #[oai(validator(max_length = 254))]
    pub to: String,
}

/// A queued message.
#[derive(Debug, Clone, Object)]
pub struct QueuedMessage {
    /// The message's id, also the local part of its `Message-ID` header.
    pub id: MailId,
    /// What it is: `test` here.
    pub kind: String,
    /// Its recipient, as the address will be written.
    pub to: String,
}

envelope!(QueuedMessageEnvelope, QueuedMessage);

#[derive(Debug, ApiResponse)]
pub enum QueuedMessageResponse {
    /// Queued: the mailer sends it shortly, with retries. Whether it arrived is seen in the
    /// mailbox, the server's log and `/metrics` (`mail_sent_total`, `mail_failed_total`).
    #[oai(status = 202)]
    Accepted(Json<QueuedMessageEnvelope>),
}

error_responses!(SendTestMailError {
    400 => BadRequest: "`MALFORMED_REQUEST`: not JSON, wrong JSON types, an unknown field or no `to`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller does not hold every scope (an admin's session, or an API key with every scope).",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`INVALID_EMAIL`: `to` is not a valid address; nothing was queued.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`MAILER_NOT_CONFIGURED`: this server is started without a mailer (see `--mailer`, `--smtp-url`); or `SERVICE_UNAVAILABLE`: the database is unavailable, retry after `Retry-After` seconds.",
});

static TEST_MAIL_FIELDS: LazyLock<FieldRules> =
    LazyLock::new(|| FieldRules::derive::<TestMailRequest>(IMMUTABLE, &[]));

pub struct MailApi;

#[OpenApi(tag = "ApiTags::Mail")]
impl MailApi {
    /// Send a test message
    ///
    /// Queues a `test` message to `to`, as an identity dashboard's "send a test e-mail"
    /// does, to check the mailer's configuration end to end: it is rendered from the `test`
    /// templates and sent by the mailer like every message users-api sends (verification,
    /// password reset, change of address, invitations), after the response, retried on
    /// temporary failures. With `--mailer console` (the demo run's default) it is printed to
    /// the server's standard output instead. Needs every scope (an admin's session, or an API
    /// key holding every scope): it makes the server write to any address. 503
    /// `MAILER_NOT_CONFIGURED` when the server has no mailer.
    #[oai(path = "/v1/mail/test", method = "post", operation_id = "sendTestMail")]
    async fn send_test_mail(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<PatchBody<TestMailRequest>>,
    ) -> Result<QueuedMessageResponse, SendTestMailError> {
        let caller = Caller::of(&state.authenticate(&auth).await?);
        caller.require_every_scope("sending a test message")?;
        let mut r = body.0.reader(&TEST_MAIL_FIELDS)?;
        let to = r
            .required_string("to")
            .and_then(|to| match EmailAddress::parse(&to) {
                Ok(to) => Some(to),
                Err(invalid) => {
                    r.invalid("to", invalid);
                    None
                }
            });
        r.finish()?;
        let to = to.expect("finish() refuses a body without a valid `to`");
        let message = Message {
            kind: MailKind::Test,
            to: to.clone(),
            link: None,
            code: None,
            vars: Default::default(),
        };
        let queued = state
            .mailer()?
            .prepare(&state.secrets, caller.org_id, message)?;
        mail::enqueue(&state.db, &queued).await?;
        let data = QueuedMessage {
            id: queued.id,
            kind: MailKind::Test.as_str().to_owned(),
            to: to.into_inner(),
        };
        Ok(QueuedMessageResponse::Accepted(Json(data.into())))
    }
}
