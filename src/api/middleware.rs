//! Wraps every request: assigns the request id (a ULID; a well-formed incoming `X-Request-Id` is
//! kept), bounds the head (414, 431) and the body (413, whether or not `Content-Length` is sent;
//! 408 when it is not all in within the body-read timeout), answers CORS preflights, turns every
//! framework failure into the error envelope, echoes the id on the response and logs one line per
//! request. Handlers never see an oversized or unfinished request, and no response leaves here
//! as plain text.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, Version, header},
};
use poem_openapi::types::ToJSON;
use tracing::Instrument;
use ulid::Ulid;

use super::{
    client_address::{ClientAddress, TrustedProxies},
    cors::Cors,
    envelope::{ErrorEnvelope, REQUEST_ID},
    nul_guard,
    routes::RouteTable,
};
use crate::error::{ApiError, ErrorCode};

/// Large enough for a 100 KB image as a base64 data URL plus the rest of a profile.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest path and query accepted (414 `URI_TOO_LONG` beyond).
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header lines accepted (431 `HEADERS_TOO_LARGE` beyond).
pub const MAX_HEADERS: usize = 100;
/// Most header bytes accepted, names and values together (431 `HEADERS_TOO_LARGE` beyond).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The metrics label of every path the spec does not document (docs, unknown routes).
const UNMATCHED_ROUTE: &str = "unmatched";
/// Paths are logged up to this many bytes: the log must not grow with the request either.
const LOGGED_PATH_BYTES: usize = 256;

/// What the middleware knows of the whole service.
pub struct Edge {
    pub routes: Arc<RouteTable>,
    pub cors: Cors,
    pub body_read_timeout: Duration,
    pub proxies: TrustedProxies,
}

pub async fn handle<E: Endpoint>(
    next: Arc<E>,
    mut req: Request,
    edge: Arc<Edge>,
) -> poem::Result<Response> {
    let incoming = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok());
    // Not `unwrap_or_default`: the default ULID is the nil one, and every id must be fresh.
    let request_id = match incoming.and_then(|v| Ulid::from_string(v).ok()) {
        Some(kept) => kept,
        None => Ulid::new(),
    }
    .to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let logged_path = path.get(..LOGGED_PATH_BYTES).unwrap_or(&path);
    let client = edge.proxies.client_of(&req);
    req.extensions_mut().insert(ClientAddress(client));
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        %method,
        path = %logged_path,
        %client
    );
    let started = Instant::now();
    let origin = req.headers().get(header::ORIGIN).cloned();
    let version = req.version();
    let routes = &edge.routes;
    let work = async {
        let mut response = if let Err(error) = bound_head(&req) {
            error_response(error)
        } else if let Some(preflight) = edge.cors.preflight(&req, routes) {
            preflight
        } else if let Err(error) = nul_guard::refuse_in_uri(&req, routes) {
            error_response(error)
        } else {
            match read_body(&mut req, edge.body_read_timeout).await {
                Err(error) => {
                    // The rest of the body is never read: an HTTP/1 connection cannot be
                    // reused (HTTP/2 resets just the stream, and forbids the header).
                    let mut response = error_response(error);
                    if version < Version::HTTP_2 {
                        let close = HeaderValue::from_static("close");
                        response.headers_mut().insert(header::CONNECTION, close);
                    }
                    response
                }
                Ok(body) => match body.as_deref().map_or(Ok(()), nul_guard::refuse_in_body) {
                    Err(error) => error_response(error),
                    Ok(()) => {
                        if let Some(body) = body {
                            req.set_body(body);
                        }
                        match next.call(req).await {
                            Ok(response) => response.into_response(),
                            Err(error) => from_poem_error(error),
                        }
                    }
                },
            }
        };
        if response.status() == StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = routes.allowed(&path)
            && let Ok(value) = HeaderValue::from_str(&allow)
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        // RFC 6750 §3: a 401 names the scheme to authenticate with, and says nothing more.
        if response.status() == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // A rate limiter sets its own `Retry-After`; everything else retryable gets a default.
        if response.status().is_server_error() || response.status() == StatusCode::TOO_MANY_REQUESTS
        {
            response
                .headers_mut()
                .entry(header::RETRY_AFTER)
                .or_insert(HeaderValue::from_static("1"));
        }
        let response = ensure_envelope(response);
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        let elapsed_ms = crate::telemetry::log_millis(elapsed);
        tracing::info!(status, elapsed_ms, "request");
        let route = routes.template(&path).unwrap_or(UNMATCHED_ROUTE);
        crate::telemetry::record_request(method.as_str(), route, status, elapsed.as_secs_f64());
        response
    };
    let mut response = REQUEST_ID
        .scope(request_id.clone(), work)
        .instrument(span)
        .await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    edge.cors.decorate(origin.as_ref(), &mut response);
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// Refuses a request line or headers beyond our limits, which sit below hyper's own (whose
/// refusals have no body): a URI over `MAX_URI_BYTES` is 414, more than `MAX_HEADERS` header
/// lines or `MAX_HEADER_BYTES` of them is 431.
fn bound_head(req: &Request) -> Result<(), ApiError> {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI_BYTES {
        return Err(ApiError::new(
            ErrorCode::UriTooLong,
            format!("the path and query are longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Err(ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "send at most {MAX_HEADERS} header lines and {MAX_HEADER_BYTES} bytes of headers"
            ),
        ));
    }
    Ok(())
}

/// Reads a request body into memory, refusing more than `MAX_BODY_BYTES` from the declared
/// length or, for chunked bodies, as soon as the limit is passed, and a body not all in within
/// `timeout` of the head (408); returns it for the NUL check. Requests that declare no body (a
/// GET) are left untouched.
async fn read_body(req: &mut Request, timeout: Duration) -> Result<Option<Vec<u8>>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    if declared.is_none() && !chunked {
        return Ok(None);
    }
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let mut stream = req.take_body().into_bytes_stream();
    let read = async {
        let mut buffer = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::malformed(format!("cannot read body: {e}")))?;
            if buffer.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(buffer)
    };
    let buffer = tokio::time::timeout(timeout, read).await.map_err(|_| {
        ApiError::new(
            ErrorCode::RequestTimeout,
            format!(
                "the body was not all received within {} s",
                timeout.as_secs_f64()
            ),
        )
    })??;
    Ok(Some(buffer))
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// Maps the framework's own errors (routing, content type, body parsing, missing credentials,
/// panics) to the envelope. Errors our handlers raised are already responses.
fn from_poem_error(error: poem::Error) -> Response {
    if error.is_from_response() {
        return error.into_response();
    }
    let status = error.status();
    let api = match status {
        StatusCode::BAD_REQUEST => ApiError::malformed(error.to_string()),
        StatusCode::UNAUTHORIZED => ApiError::unauthorized(),
        StatusCode::NOT_FOUND => ApiError::new(ErrorCode::NotFound, "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            ErrorCode::MethodNotAllowed,
            "method not allowed on this route",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        s if s.is_server_error() => ApiError::internal(error),
        // Any other status is kept as the framework chose it.
        s => ApiError {
            status: s,
            ..ApiError::malformed(error.to_string())
        },
    };
    error_response(api)
}

pub fn error_response(error: ApiError) -> Response {
    let status = error.status;
    let body = ErrorEnvelope::from(error).to_json_string();
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body)
}

/// Any error response that is not JSON (a panic caught by poem, a bare status) is replaced by the
/// envelope for its status.
fn ensure_envelope(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let mut replaced = from_poem_error(poem::Error::from_status(status));
        for name in [header::ALLOW, header::RETRY_AFTER] {
            if let Some(value) = response.headers().get(&name) {
                replaced.headers_mut().insert(name, value.clone());
            }
        }
        return replaced;
    }
    response
}
