//! The one response envelope. Success: `{success: true, data, meta?}`; failure:
//! `{success: false, error: {code, message, request_id, details, errors}}`. `ApiError` becomes an
//! error body here and nowhere else; `error_responses!` declares, per operation, exactly the
//! statuses it can return, so the spec and the server cannot disagree.

use std::collections::BTreeMap;

use poem_openapi::Object;

use crate::error::{ApiError, ErrorCode};

tokio::task_local! {
    /// The request id of the request being handled (set by the middleware).
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Declares the success envelope of one payload type: `{"success": true, "data": <payload>}`.
/// A named struct per payload (not a generic) so the spec and SDKs get readable type names.
macro_rules! envelope {
    ($name:ident, $data:ty) => {
        envelope!(
            #[derive()]
            $name,
            $data
        );
    };
    (#[$extra:meta] $name:ident, $data:ty) => {
        #[doc = concat!("A successful response carrying a `", stringify!($data), "`.")]
        #[derive(Debug, Clone, poem_openapi::Object)]
        #[$extra]
        pub struct $name {
            /// Always `true`.
            pub success: bool,
            /// The payload.
            pub data: $data,
        }

        impl From<$data> for $name {
            fn from(data: $data) -> Self {
                Self {
                    success: true,
                    data,
                }
            }
        }
    };
}

pub(crate) use envelope;

/// A failed response.
#[derive(Debug, Clone, Object)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    /// What went wrong.
    pub error: ErrorBody,
}

/// What went wrong. Its size never grows with the request: `message` is cut at 300 characters,
/// each field name at 64 and each field's message at 200 (a cut ends in `…`), and `errors` and
/// `details` list at most the first 50 fields at fault, within 8 KiB; when fields were left out,
/// `truncated` says how many.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// A stable code to branch on; its HTTP status is the response's.
    pub code: ErrorCode,
    /// A human-readable sentence; wording may change, do not parse it.
    pub message: String,
    /// Equals the `X-Request-Id` response header; quote it when asking for support.
    pub request_id: String,
    /// Field name → reason, for every field at fault.
    pub details: BTreeMap<String, String>,
    /// Every field at fault, with its own code.
    pub errors: Vec<FieldErrorBody>,
    /// How many more fields were at fault than `errors` and `details` list; absent when they
    /// list them all.
    #[oai(skip_serializing_if_is_none)]
    pub truncated: Option<u64>,
}

/// The bounds that keep an error body small whatever the request (see `ErrorBody`).
const MAX_MESSAGE_CHARS: usize = 300;
const MAX_FIELD_NAME_CHARS: usize = 64;
const MAX_FIELD_MESSAGE_CHARS: usize = 200;
pub const MAX_LISTED_FIELDS: usize = 50;
/// What the listed fields may take in the body, as JSON: escaping can make a short name long.
const LISTED_FIELDS_BUDGET: usize = 8 * 1024;

/// One field at fault.
#[derive(Debug, Clone, Object)]
pub struct FieldErrorBody {
    /// The field's name as sent (a nested one as `parent.child`).
    pub field: String,
    /// The field's own code, e.g. `INVALID_TIMEZONE`.
    pub code: ErrorCode,
    /// Why the value was refused; wording may change, do not parse it.
    pub message: String,
}

impl From<ApiError> for ErrorEnvelope {
    fn from(error: ApiError) -> Self {
        let total = error.fields.len();
        let mut details = BTreeMap::new();
        let mut errors = Vec::new();
        let mut spent = 0;
        for field in error.fields.into_iter().take(MAX_LISTED_FIELDS) {
            let listed = FieldErrorBody {
                field: clip(&field.field, MAX_FIELD_NAME_CHARS),
                code: field.code,
                message: clip(&field.message, MAX_FIELD_MESSAGE_CHARS),
            };
            // Listed twice (`errors` and `details`), each string escaped as JSON.
            spent += 2 * (json_len(&listed.field) + json_len(&listed.message))
                + listed.code.as_str().len();
            if spent > LISTED_FIELDS_BUDGET {
                break;
            }
            details.insert(listed.field.clone(), listed.message.clone());
            errors.push(listed);
        }
        let truncated = (errors.len() < total).then(|| (total - errors.len()) as u64);
        ErrorEnvelope {
            success: false,
            error: ErrorBody {
                code: error.code,
                message: clip(&error.message, MAX_MESSAGE_CHARS),
                request_id: current_request_id(),
                details,
                errors,
                truncated,
            },
        }
    }
}

/// `text` cut to `max` characters, ending in `…` when it was cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

fn json_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(text.len(), |json| json.len())
}

/// Declares an operation's error responses: one variant per status, each documented, each with
/// the error envelope. Every list must include `500 => Internal`, the fallback for a status the
/// operation does not declare (which is logged as a bug). A status followed by
/// `, header "Retry-After"` also declares that header, filled from `ApiError::retry_after`.
macro_rules! error_responses {
    ($(#[$meta:meta])* $name:ident { $($status:literal => $variant:ident : $doc:literal $(, header $header:literal)?),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, poem_openapi::ApiResponse)]
        pub enum $name {
            $(
                #[doc = $doc]
                #[oai(status = $status)]
                $variant(
                    poem_openapi::payload::Json<$crate::api::envelope::ErrorEnvelope>
                    $(, #[oai(header = $header)] Option<u64>)?
                ),
            )+
        }

        impl From<$crate::error::ApiError> for $name {
            fn from(error: $crate::error::ApiError) -> Self {
                let status = error.status.as_u16();
                let _retry_after = error.retry_after;
                match status {
                    $($status => Self::$variant(
                        poem_openapi::payload::Json(error.into())
                        $(, { let _: &str = $header; _retry_after })?
                    ),)+
                    _ => {
                        let bug = $crate::error::ApiError::internal(format!(
                            "{} cannot answer undeclared status {status} ({})",
                            stringify!($name), error.code
                        ));
                        Self::Internal(poem_openapi::payload::Json(bug.into()))
                    }
                }
            }
        }
    };
}

pub(crate) use error_responses;

/// Where a list stands: `next_cursor` is absent on the last page.
#[derive(Debug, Clone, Object)]
pub struct PageMeta {
    /// Pass as `cursor` to get the next page; absent on the last page. Opaque: a cursor that
    /// was not issued by this API is 422 `INVALID_CURSOR`.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
    /// The page size that was applied.
    pub limit: i64,
}

/// Declares the envelope of one page of a list: `{"success": true, "data": [...], "meta": {...}}`,
/// its items oldest first unless an order is named.
macro_rules! page_envelope {
    ($name:ident, $item:ty) => {
        $crate::api::envelope::page_envelope!($name, $item, "oldest first");
    };
    ($name:ident, $item:ty, $order:literal) => {
        #[doc = concat!("One page of `", stringify!($item), "`s, ", $order, ".")]
        #[derive(Debug, Clone, poem_openapi::Object)]
        pub struct $name {
            /// Always `true`.
            pub success: bool,
            /// This page's items.
            pub data: Vec<$item>,
            /// Where the list stands: the cursor of the next page, if there is one.
            pub meta: $crate::api::envelope::PageMeta,
        }
    };
}

pub(crate) use page_envelope;

/// A JSON body written straight from `T`'s `Serialize`, for the hottest responses. poem-openapi's
/// `Json` first builds the whole body as a `serde_json::Value` tree and then writes that: for
/// `GET /v1/me` the tree cost about a fifth of the request (measured with callgrind). The
/// schema is `T`'s, as for `Json`; `T`'s `Serialize` must write what its `ToJSON` would, which
/// a test of each such type checks.
#[derive(Debug)]
pub struct Rendered<T>(pub T);

/// What `Json` answers with, too.
const JSON: &str = "application/json; charset=utf-8";

impl<T: poem_openapi::types::Type> poem_openapi::payload::Payload for Rendered<T> {
    const CONTENT_TYPE: &'static str = JSON;

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<T> as poem_openapi::payload::Payload>::check_content_type(
            content_type,
        )
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}

impl<T: serde::Serialize + Send> poem::IntoResponse for Rendered<T> {
    fn into_response(self) -> poem::Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => poem::Response::builder().content_type(JSON).body(body),
            Err(error) => {
                let body = ErrorEnvelope::from(ApiError::internal(error));
                let status = poem::http::StatusCode::INTERNAL_SERVER_ERROR;
                poem::IntoResponse::into_response((status, poem_openapi::payload::Json(body)))
            }
        }
    }
}
