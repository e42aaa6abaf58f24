//! `ApiError`: a failed call as one readable line — status, code, message and request id — with
//! the parts to branch on. Every call's `Error<ErrorEnvelope>` converts into it with `?`.

use std::fmt;

use reqwest::StatusCode;

use crate::{Error, ErrorCode, types::ErrorBody, types::ErrorEnvelope};

/// A failed call.
#[derive(Debug)]
pub enum ApiError {
    /// users-api answered with its error envelope: branch on `code()`.
    Api {
        status: StatusCode,
        error: Box<ErrorBody>,
    },
    /// No envelope came back: the request could not be built or sent, or the answer was not one
    /// the contract describes (a proxy's error page, a cut connection).
    Transport {
        status: Option<StatusCode>,
        message: String,
    },
}

impl ApiError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Api { status, .. } => Some(*status),
            ApiError::Transport { status, .. } => *status,
        }
    }

    /// The stable error code (`ErrorCode::PreconditionFailed`, …), when users-api sent one; a
    /// code newer than this client is `ErrorCode::Unknown`. It compares equal to its wire string.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            ApiError::Api { error, .. } => Some(&error.code),
            ApiError::Transport { .. } => None,
        }
    }

    /// Quote it when asking for support; it is also the response's `X-Request-Id`.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ApiError::Api { error, .. } => Some(&error.request_id),
            ApiError::Transport { .. } => None,
        }
    }

    /// The whole error body: every field at fault is in `errors`.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            ApiError::Api { error, .. } => Some(error),
            ApiError::Transport { .. } => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Api { status, error } => write!(
                f,
                "{} {}: {} (request {})",
                status.as_u16(),
                error.code,
                error.message,
                error.request_id
            ),
            ApiError::Transport {
                status: Some(status),
                message,
            } => write!(f, "{}: {message}", status.as_u16()),
            ApiError::Transport {
                status: None,
                message,
            } => f.write_str(message),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<Error<ErrorEnvelope>> for ApiError {
    fn from(error: Error<ErrorEnvelope>) -> Self {
        let status = error.status();
        let message = match error {
            Error::ErrorResponse(response) => {
                return ApiError::Api {
                    status: response.status(),
                    error: Box::new(response.into_inner().error),
                };
            }
            Error::InvalidRequest(why) | Error::Custom(why) => format!("invalid request: {why}"),
            Error::CommunicationError(e) | Error::InvalidUpgrade(e) => {
                format!("cannot reach users-api: {}", one_line(&e))
            }
            Error::ResponseBodyError(e) => format!("cannot read the response: {}", one_line(&e)),
            Error::InvalidResponsePayload(_, e) => {
                format!("the response is not what the contract describes: {e}")
            }
            Error::UnexpectedResponse(response) => format!(
                "unexpected response from {} (not users-api's envelope)",
                response.url()
            ),
        };
        ApiError::Transport { status, message }
    }
}

/// An error and its sources, joined on one line.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResponseValue;

    fn envelope(code: &str) -> ErrorEnvelope {
        serde_json::from_value(serde_json::json!({
            "success": false,
            "error": {
                "code": code,
                "message": "this call needs the users:write scope",
                "request_id": "01JDQ8Z6K3M9V4X2B7N5C1R0TS",
                "details": {"scope": "users:write"},
                "errors": [{"field": "scope", "code": code, "message": "users:write"}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn an_error_response_reads_as_one_line_with_status_code_message_and_request_id() {
        let response = ResponseValue::new(
            envelope("INSUFFICIENT_SCOPE"),
            StatusCode::FORBIDDEN,
            Default::default(),
        );
        let error = ApiError::from(Error::ErrorResponse(response));
        assert_eq!(
            error.to_string(),
            "403 INSUFFICIENT_SCOPE: this call needs the users:write scope \
             (request 01JDQ8Z6K3M9V4X2B7N5C1R0TS)"
        );
        assert_eq!(error.code(), Some(&ErrorCode::InsufficientScope));
        assert_eq!(error.status(), Some(StatusCode::FORBIDDEN));
        assert_eq!(error.body().unwrap().errors.len(), 1);
    }

    #[test]
    fn a_code_newer_than_the_client_is_kept_as_unknown_not_a_parse_failure() {
        let mut json = serde_json::to_value(envelope("INSUFFICIENT_SCOPE")).unwrap();
        json["error"]["code"] = "MFA_REQUIRED_SOMEDAY".into();
        let parsed: ErrorEnvelope = serde_json::from_value(json).unwrap();
        assert_eq!(
            parsed.error.code,
            ErrorCode::Unknown("MFA_REQUIRED_SOMEDAY".into())
        );
        assert_eq!(parsed.error.code, "MFA_REQUIRED_SOMEDAY");
        assert_eq!(parsed.error.errors[0].code, ErrorCode::InsufficientScope);
    }

    #[test]
    fn a_request_that_could_not_be_built_says_why_without_a_code() {
        let error = ApiError::from(Error::<ErrorEnvelope>::InvalidRequest(
            "conversion to `u32` for limit failed".into(),
        ));
        assert_eq!(
            error.to_string(),
            "invalid request: conversion to `u32` for limit failed"
        );
        assert_eq!(error.code(), None);
        assert!(!error.to_string().contains('\n'));
    }
}
