//! Which error codes each error response can carry, as an example envelope per code
//! (`content.application/json.examples`, keyed by the code). Swagger UI shows them under each
//! status, generators and contract tests read the list, and the test harness fails a test when
//! a response carries a code its operation and status do not list.
//!
//! The codes come from the response's description, which names them in backticks where a
//! status has several (`EMAIL_TAKEN`, `LAST_ADMIN`); where it names none, every code of that
//! status (401 is only ever `UNAUTHORIZED`; a PATCH's 422 any field code).

use serde_json::{Map, Value, json};

use poem_openapi::types::ToJSON;

use crate::{
    api::envelope::ErrorEnvelope,
    error::{ApiError, ErrorCode, FieldError},
};

/// Adds `examples` to every 4xx and 5xx response of `op` that has a JSON body.
pub fn add(op: &mut Map<String, Value>) {
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        let Ok(status) = status.parse::<u16>() else {
            continue;
        };
        if status < 400 {
            continue;
        }
        let description = response["description"].as_str().unwrap_or_default();
        let codes = codes_of(status, description);
        let Some(content) = response
            .pointer_mut("/content/application~1json")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let examples: Map<String, Value> = codes
            .into_iter()
            .map(|code| (code.as_str().to_owned(), example(code)))
            .collect();
        content.insert("examples".into(), Value::Object(examples));
    }
}

/// Codes that only the operations naming them carry, never listed by default:
/// `MAILER_NOT_CONFIGURED` (a 503 of the operations that send mail), `MFA_REQUIRED` (a 401
/// of sign-in) and `REAUTHENTICATION_REQUIRED` (a 403 of `PATCH /v1/me`).
pub(super) fn only_where_named(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::MailerNotConfigured | ErrorCode::MfaRequired
    )
}

/// The codes a response of `status` described by `description` can carry.
fn codes_of(status: u16, description: &str) -> Vec<ErrorCode> {
    let of_status = |code: &&ErrorCode| code.status().as_u16() == status;
    let named: Vec<ErrorCode> = ErrorCode::ALL
        .iter()
        .filter(of_status)
        .filter(|code| description.contains(&format!("`{}`", code.as_str())))
        .copied()
        .collect();
    let named_only = |code: &&ErrorCode| !only_where_named(**code);
    match named.is_empty() {
        true => ErrorCode::ALL
            .iter()
            .filter(of_status)
            .filter(named_only)
            .copied()
            .collect(),
        false => named,
    }
}

/// An envelope exactly as the server renders it for `code`, with a typical message.
fn example(code: ErrorCode) -> Value {
    let (message, field) = typical(code);
    let mut fields: Vec<FieldError> = field
        .map(|(name, reason)| FieldError::new(name, code, reason))
        .into_iter()
        .collect();
    if code == ErrorCode::ValidationFailed {
        fields = vec![
            FieldError::new(
                "timezone",
                ErrorCode::InvalidTimezone,
                "unknown IANA time zone: Mars/Olympus_Mons",
            ),
            FieldError::new(
                "locale",
                ErrorCode::InvalidLocale,
                "not a BCP 47 language tag",
            ),
        ];
    }
    let error = fields
        .into_iter()
        .fold(ApiError::new(code, message), ApiError::with_field);
    let mut envelope = ErrorEnvelope::from(error)
        .to_json()
        .expect("an envelope is JSON");
    envelope["error"]["request_id"] = json!("01JE2Y7Q8H3V5K9M4N6P0R2S1T");
    json!({ "summary": code.as_str(), "value": envelope })
}

/// An error's message, and the field it names with that field's reason, if any.
type Typical = (&'static str, Option<(&'static str, &'static str)>);

/// A 422 of one field: the error's message is the field's reason, as the server sends it.
fn one_field(field: &'static str, reason: &'static str) -> Typical {
    (reason, Some((field, reason)))
}

/// A message the server really gives for `code`.
fn typical(code: ErrorCode) -> Typical {
    use ErrorCode::*;
    match code {
        Unauthorized => ("missing or invalid credentials", None),
        MfaRequired => (
            "two-factor authentication is on: send totp_code or recovery_code",
            None,
        ),
        Forbidden => ("api keys are not user-scoped", None),
        InsufficientScope => (
            "this call needs the users:write scope",
            Some(("scope", "users:write")),
        ),
        ReauthenticationRequired => (
            "this change needs a recent sign-in: reauthenticate (POST /v1/sessions/current/reauthenticate) or send current_password (or totp_code when two-factor authentication is on)",
            Some(("max_age", "600")),
        ),
        FieldNotWritable => (
            "not writable by this principal: role",
            Some(("role", "not writable by this principal")),
        ),
        NotFound => ("no such resource in this organization", None),
        MalformedRequest => (
            "unknown fields: nickname",
            Some(("nickname", "unknown field")),
        ),
        ImmutableField => (
            "these fields can never be changed: id",
            Some(("id", "can never be changed")),
        ),
        MethodNotAllowed => ("this path does not accept this method", None),
        RequestTimeout => ("the request body did not arrive in time", None),
        EmailTaken => (
            "another user of this organization has this e-mail address",
            Some((
                "primary_email",
                "already used by another user of this organization",
            )),
        ),
        LastAdmin => ("this is the organization's last active admin", None),
        TicketNotApplicable => ("an invite ticket is only for an invited user", None),
        TicketExpired => (
            "this ticket is no longer valid",
            Some(("token", "superseded by a newer ticket of its type")),
        ),
        TicketUsed => (
            "this ticket was already redeemed",
            Some(("token", "already redeemed")),
        ),
        IdempotencyConflict => (
            "this Idempotency-Key was used with a different request",
            None,
        ),
        PreconditionFailed => ("If-Match does not match the current ETag", None),
        PayloadTooLarge => ("the body is larger than 256 KiB", None),
        UriTooLong => ("the path and query are too long", None),
        UnsupportedMediaType => ("the body must be application/json", None),
        RateLimited => ("too many attempts; retry after Retry-After seconds", None),
        HeadersTooLarge => ("the request headers are too large", None),
        Internal => ("internal error", None),
        ServiceUnavailable => ("the database is unavailable; retry shortly", None),
        MailerNotConfigured => (
            "this server sends no mail: start it with --smtp-url and --mail-from, or --mailer console",
            None,
        ),
        ValidationFailed => ("several fields are invalid", None),
        InvalidName => (
            "must be 1–64 letters with single spaces, hyphens or apostrophes between them",
            Some((
                "first_name",
                "must be 1–64 letters with single spaces, hyphens or apostrophes between them",
            )),
        ),
        InvalidBio => one_field("bio", "must be 1–2,000 characters"),
        InvalidEmail => one_field("primary_email", "not a valid e-mail address"),
        InvalidPhoneNumber => (
            "must be an E.164 number such as +14155550123",
            Some((
                "phone_number",
                "must be an E.164 number such as +14155550123",
            )),
        ),
        InvalidImage => (
            "must be an http(s) URL or a data:image URL of at most 100 KB",
            Some((
                "profile_image_url",
                "must be an http(s) URL or a data:image URL of at most 100 KB",
            )),
        ),
        InvalidTimezone => one_field("timezone", "unknown IANA time zone: Mars/Olympus_Mons"),
        InvalidLocale => one_field("locale", "not a BCP 47 language tag"),
        InvalidMetadata => one_field("client_metadata", "at most 16 top-level keys"),
        InvalidCursor => one_field("cursor", "this cursor was not issued by this API"),
        NotATeamMember => one_field("selected_team_id", "the user is not a member of this team"),
        WeakPassword => one_field("password", "too easy to guess"),
        InvalidPasswordHash => {
            one_field("password_hash", "bcrypt cost 14 is above the limit of 12")
        }
        InvalidTotpSecret => (
            "does not match the new secret at the current time",
            Some((
                "totp_code",
                "does not match the new secret at the current time",
            )),
        ),
        InvalidWebhookUrl => one_field("url", "169.254.169.254 is not a public address"),
        WrongCode => one_field(
            "code",
            "not the code that was sent; 4 more tries before it ends",
        ),
        TicketTypeMismatch => {
            one_field("type", "not a reset_password ticket; nothing was redeemed")
        }
        RedirectNotAllowed => one_field(
            "redirect_url",
            "https://elsewhere.example is not one of the allowed redirect origins",
        ),
        InvalidExpiry => one_field("expires_at", "must be in the future"),
        InvalidTicketRequest => one_field("email", "only a change_email ticket takes an address"),
        InviteConflict => one_field(
            "password",
            "not with invite: true; an invited user chooses a password when accepting",
        ),
        InvalidSuspension => one_field("suspension.until", "must be in the future"),
        ExclusiveFields => one_field("password", "send exactly one of password and totp_code"),
    }
}
