//! The one application error. Every failure becomes an `ApiError` with a stable `ErrorCode`,
//! which also decides the HTTP status; it is rendered into the response envelope in exactly one
//! place (`api::envelope`). Internal detail is logged here and never returned to the caller.

use poem::http::StatusCode;

/// Declares `ErrorCode` from one table: each variant with its wire string and its status as a
/// top-level error, plus `ErrorCode::ALL`, `as_str` and `status`.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal => $status:ident,)+) => {
        /// A stable code to branch on, as `error.code` and as each field's `code` in `errors`.
        /// With exactly one invalid field the error's code is that field's code; with several,
        /// `VALIDATION_FAILED`. New codes may be added in later versions: treat a code you do
        /// not know by the response's HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, poem_openapi::Enum)]
        pub enum ErrorCode {
            $($(#[$doc])* #[oai(rename = $wire)] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The SCREAMING_SNAKE_CASE string sent on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)+
                }
            }

            /// The status of an error with this top-level code. A field's own code (the 422
            /// codes) answers 422: with exactly one invalid field it is the error's code.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)+
                }
            }
        }
    };
}

error_codes! {
    /// Missing, malformed, expired or revoked credentials.
    Unauthorized = "UNAUTHORIZED" => UNAUTHORIZED,
    /// Sign-in only: the password was right and the account could sign in, but two-factor
    /// authentication is on and neither `totp_code` nor `recovery_code` was sent.
    MfaRequired = "MFA_REQUIRED" => UNAUTHORIZED,
    Forbidden = "FORBIDDEN" => FORBIDDEN,
    /// The credential lacks a scope the operation needs.
    InsufficientScope = "INSUFFICIENT_SCOPE" => FORBIDDEN,
    FieldNotWritable = "FIELD_NOT_WRITABLE" => FORBIDDEN,
    /// A sensitive change through `/v1/me` (`primary_email`, `password`, TOTP settings) from a
    /// session not authenticated within `--reauth-window`, without a proof in the request;
    /// `details.max_age` is the window in seconds.
    ReauthenticationRequired = "REAUTHENTICATION_REQUIRED" => FORBIDDEN,
    NotFound = "NOT_FOUND" => NOT_FOUND,
    /// Bad JSON, a wrong JSON type, an unknown field or a value outside a documented enum.
    MalformedRequest = "MALFORMED_REQUEST" => BAD_REQUEST,
    ImmutableField = "IMMUTABLE_FIELD" => BAD_REQUEST,
    MethodNotAllowed = "METHOD_NOT_ALLOWED" => METHOD_NOT_ALLOWED,
    RequestTimeout = "REQUEST_TIMEOUT" => REQUEST_TIMEOUT,
    EmailTaken = "EMAIL_TAKEN" => CONFLICT,
    /// The ticket type does not apply to the user as they are (an invitation for a user who
    /// is not `invited`, say).
    TicketNotApplicable = "TICKET_NOT_APPLICABLE" => CONFLICT,
    /// The ticket expired, was superseded by a newer one, or no longer applies.
    TicketExpired = "TICKET_EXPIRED" => GONE,
    /// The ticket was already redeemed.
    TicketUsed = "TICKET_USED" => GONE,
    LastAdmin = "LAST_ADMIN" => CONFLICT,
    IdempotencyConflict = "IDEMPOTENCY_CONFLICT" => CONFLICT,
    PreconditionFailed = "PRECONDITION_FAILED" => PRECONDITION_FAILED,
    PayloadTooLarge = "PAYLOAD_TOO_LARGE" => PAYLOAD_TOO_LARGE,
    UriTooLong = "URI_TOO_LONG" => URI_TOO_LONG,
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE" => UNSUPPORTED_MEDIA_TYPE,
    RateLimited = "RATE_LIMITED" => TOO_MANY_REQUESTS,
    HeadersTooLarge = "HEADERS_TOO_LARGE" => REQUEST_HEADER_FIELDS_TOO_LARGE,
    Internal = "INTERNAL" => INTERNAL_SERVER_ERROR,
    ServiceUnavailable = "SERVICE_UNAVAILABLE" => SERVICE_UNAVAILABLE,
    /// The operation sends mail and this server is started without a mailer.
    MailerNotConfigured = "MAILER_NOT_CONFIGURED" => SERVICE_UNAVAILABLE,
    /// Several fields are invalid, or one is for a reason without a code of its own.
    ValidationFailed = "VALIDATION_FAILED" => UNPROCESSABLE_ENTITY,
    InvalidName = "INVALID_NAME" => UNPROCESSABLE_ENTITY,
    InvalidBio = "INVALID_BIO" => UNPROCESSABLE_ENTITY,
    InvalidEmail = "INVALID_EMAIL" => UNPROCESSABLE_ENTITY,
    InvalidPhoneNumber = "INVALID_PHONE_NUMBER" => UNPROCESSABLE_ENTITY,
    InvalidImage = "INVALID_IMAGE" => UNPROCESSABLE_ENTITY,
    InvalidTimezone = "INVALID_TIMEZONE" => UNPROCESSABLE_ENTITY,
    InvalidLocale = "INVALID_LOCALE" => UNPROCESSABLE_ENTITY,
    InvalidMetadata = "INVALID_METADATA" => UNPROCESSABLE_ENTITY,
    InvalidCursor = "INVALID_CURSOR" => UNPROCESSABLE_ENTITY,
    NotATeamMember = "NOT_A_TEAM_MEMBER" => UNPROCESSABLE_ENTITY,
    WeakPassword = "WEAK_PASSWORD" => UNPROCESSABLE_ENTITY,
    InvalidPasswordHash = "INVALID_PASSWORD_HASH" => UNPROCESSABLE_ENTITY,
    InvalidTotpSecret = "INVALID_TOTP_SECRET" => UNPROCESSABLE_ENTITY,
    /// The ticket is of another type than the one the redeeming page expects.
    TicketTypeMismatch = "TICKET_TYPE_MISMATCH" => UNPROCESSABLE_ENTITY,
    /// A `redirect_url` whose origin is not one of `--redirect-origins`.
    RedirectNotAllowed = "REDIRECT_NOT_ALLOWED" => UNPROCESSABLE_ENTITY,
    /// A webhook URL that is not `https://` or does not resolve only to public addresses.
    InvalidWebhookUrl = "INVALID_WEBHOOK_URL" => UNPROCESSABLE_ENTITY,
    /// An expiry that is not in the future.
    InvalidExpiry = "INVALID_EXPIRY" => UNPROCESSABLE_ENTITY,
    /// A ticket request that does not fit its `type`: `email` is for, and required by,
    /// `change_email`; `ttl_seconds` within the type's bounds.
    InvalidTicketRequest = "INVALID_TICKET_REQUEST" => UNPROCESSABLE_ENTITY,
    /// `invite: true` with a password, a password hash or a status: an invited user has none.
    InviteConflict = "INVITE_CONFLICT" => UNPROCESSABLE_ENTITY,
    /// A suspension's terms that cannot hold: `until` not in the future, a reason that is not
    /// readable text, or terms without `status: suspended`.
    InvalidSuspension = "INVALID_SUSPENSION" => UNPROCESSABLE_ENTITY,
    /// A code typed by hand (address verification) that is not the one mailed; the fifth
    /// wrong one ends it (410 `TICKET_EXPIRED`).
    WrongCode = "WRONG_CODE" => UNPROCESSABLE_ENTITY,
    /// Fields that exclude each other: both sent, or neither where one of them is needed.
    ExclusiveFields = "EXCLUSIVE_FIELDS" => UNPROCESSABLE_ENTITY,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One invalid field: the field's name, its stable code and a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: ErrorCode,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `code.status()`, except for 422s (always 422) and framework errors passed through.
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// Seconds for `Retry-After`, when the caller should come back later (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `code`, answered with `code.status()`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::with_fields(code, message, Vec::new())
    }

    fn with_fields(code: ErrorCode, message: impl Into<String>, fields: Vec<FieldError>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
            fields,
            retry_after: None,
        }
    }

    /// The same error, naming one field at fault.
    pub fn with_field(mut self, field: FieldError) -> Self {
        self.fields.push(field);
        self
    }

    /// Missing, malformed, expired or revoked credentials; deliberately says no more than that.
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "missing or invalid credentials")
    }

    /// Sign-in with the right password of an account with 2FA on, without a code.
    pub fn mfa_required() -> Self {
        Self::new(
            ErrorCode::MfaRequired,
            "two-factor authentication is on: send totp_code or recovery_code",
        )
    }

    /// A sensitive change from a session authenticated longer than `max_age` ago.
    pub fn reauthentication_required(max_age: chrono::TimeDelta) -> Self {
        let seconds = max_age.num_seconds().to_string();
        Self::new(
            ErrorCode::ReauthenticationRequired,
            "this change needs a recent sign-in: reauthenticate (POST /v1/sessions/current/reauthenticate) or send current_password (or totp_code when two-factor authentication is on)",
        )
        .with_field(FieldError::new(
            "max_age",
            ErrorCode::ReauthenticationRequired,
            seconds,
        ))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "not found")
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedRequest, message)
    }

    /// Malformed because of named fields (unknown fields, wrong JSON types).
    pub fn malformed_fields(message: &str, fields: Vec<FieldError>) -> Self {
        Self::with_fields(ErrorCode::MalformedRequest, message, fields)
    }

    pub fn immutable_fields(fields: Vec<FieldError>) -> Self {
        let message = "these fields can never be changed";
        Self::with_fields(ErrorCode::ImmutableField, message, fields)
    }

    pub fn not_writable(fields: Vec<FieldError>) -> Self {
        let message = "these fields are not writable by this principal";
        Self::with_fields(ErrorCode::FieldNotWritable, message, fields)
    }

    /// 422: with exactly one invalid field the error takes that field's code, otherwise
    /// `VALIDATION_FAILED`; every field is listed either way. The status is 422 whatever the
    /// one field's code.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let (code, message) = match fields.as_slice() {
            [one] => (one.code, one.message.clone()),
            _ => (
                ErrorCode::ValidationFailed,
                "several fields are invalid".into(),
            ),
        };
        Self {
            status: ErrorCode::ValidationFailed.status(),
            ..Self::with_fields(code, message, fields)
        }
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            ErrorCode::PreconditionFailed,
            "the resource changed since the ETag in If-Match was issued",
        )
    }

    /// Too many attempts; `wait` until the next one can succeed (rounded up to whole seconds).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let mut error = Self::new(
            ErrorCode::RateLimited,
            "too many attempts; retry after the number of seconds in Retry-After",
        );
        error.retry_after = Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        error
    }

    pub fn service_unavailable() -> Self {
        Self::new(ErrorCode::ServiceUnavailable, "database unavailable")
    }

    /// Logs `detail` with the request id and returns a 500 that says nothing about it.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::Error;
        match error {
            Error::NotFound => Self::not_found(),
            Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection
                | diesel::result::DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => {
                tracing::warn!(error = %error, "database connection lost");
                Self::service_unavailable()
            }
            other => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every SCREAMING_SNAKE_CASE word the spec quotes in backticks, e.g. `LAST_ADMIN`.
    fn codes_quoted_in_spec(spec: &str) -> BTreeSet<String> {
        spec.split('`')
            .skip(1)
            .step_by(2)
            .filter(|quoted| {
                quoted.len() > 4 && quoted.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_spec_lists_every_code_as_an_enum_and_quotes_only_codes_that_exist() {
        let spec = crate::api::spec_json();
        let json: serde_json::Value = serde_json::from_str(&spec).unwrap();
        let listed: BTreeSet<String> = json["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("the spec has an ErrorCode enum")
            .iter()
            .map(|code| code.as_str().unwrap().to_owned())
            .collect();
        let wire: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.as_str().into()).collect();
        assert_eq!(listed, wire);
        for body in ["ErrorBody", "FieldErrorBody"] {
            // A described reference is `allOf: [{$ref}]`.
            assert_eq!(
                json["components"]["schemas"][body]["properties"]["code"]["allOf"][0]["$ref"],
                "#/components/schemas/ErrorCode",
                "{body}.code is the enum"
            );
        }
        let unknown: Vec<_> = codes_quoted_in_spec(&spec)
            .into_iter()
            .filter(|quoted| !wire.contains(quoted))
            .collect();
        assert!(
            unknown.is_empty(),
            "the spec names codes that do not exist: {unknown:?}"
        );
    }

    #[test]
    fn wire_strings_are_distinct_screaming_snake_case() {
        let wire: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(wire.len(), ErrorCode::ALL.len());
        for code in wire {
            assert!(
                code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{code}"
            );
        }
    }

    #[test]
    fn the_status_follows_the_code_and_a_422_stays_a_422() {
        assert_eq!(ApiError::not_found().status, StatusCode::NOT_FOUND);
        assert_eq!(
            ApiError::new(ErrorCode::LastAdmin, "x").status,
            StatusCode::CONFLICT
        );
        let taken = FieldError::new("primary_email", ErrorCode::EmailTaken, "taken");
        let error = ApiError::validation(vec![taken]);
        assert_eq!(
            (error.status, error.code),
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::EmailTaken)
        );
    }
}
