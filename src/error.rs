//! The one application error. Every failure becomes an `ApiError` with a stable code; it is
//! rendered into the response envelope in exactly one place (`api::envelope`). Internal detail is
//! logged here and never returned to the caller.

use poem::http::StatusCode;

/// One invalid field: the field's name, its stable code and a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// Seconds for `Retry-After`, when the caller should come back later (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    fn with_fields(
        status: StatusCode,
        code: &'static str,
        message: &str,
        fields: Vec<FieldError>,
    ) -> Self {
        Self {
            status,
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
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "missing or invalid credentials",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "not found")
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", message)
    }

    /// Malformed because of named fields (unknown fields, wrong JSON types).
    pub fn malformed_fields(message: &str, fields: Vec<FieldError>) -> Self {
        Self::with_fields(
            StatusCode::BAD_REQUEST,
            "MALFORMED_REQUEST",
            message,
            fields,
        )
    }

    pub fn immutable_fields(fields: Vec<FieldError>) -> Self {
        let message = "these fields can never be changed";
        Self::with_fields(StatusCode::BAD_REQUEST, "IMMUTABLE_FIELD", message, fields)
    }

    pub fn not_writable(fields: Vec<FieldError>) -> Self {
        let message = "these fields are not writable by this principal";
        Self::with_fields(StatusCode::FORBIDDEN, "FIELD_NOT_WRITABLE", message, fields)
    }

    /// 422: with exactly one invalid field the error takes that field's code, otherwise
    /// `VALIDATION_FAILED`; every field is listed either way.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        match fields.as_slice() {
            [one] => {
                let (code, message) = (one.code, one.message.clone());
                Self::with_fields(StatusCode::UNPROCESSABLE_ENTITY, code, &message, fields)
            }
            _ => Self::with_fields(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                "several fields are invalid",
                fields,
            ),
        }
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION_FAILED",
            "the resource changed since the ETag in If-Match was issued",
        )
    }

    /// Too many attempts; `wait` until the next one can succeed (rounded up to whole seconds).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many attempts; retry after the number of seconds in Retry-After",
        );
        error.retry_after = Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        error
    }

    pub fn service_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "database unavailable",
        )
    }

    /// Logs `detail` with the request id and returns a 500 that says nothing about it.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error",
        )
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
