//! CORS for the origins of `--cors-origins`, compared exactly. A preflight from a listed origin
//! to a documented path is answered here (204) with the path's methods and the request headers
//! the API reads; responses to a listed origin expose the headers clients need. Any other origin
//! gets no CORS headers at all, and its requests are served as usual: servers, scripts and
//! same-origin pages (Swagger UI at `/docs`) send `Origin` too, and refusing them is the
//! browser's job, not ours. (poem's `Cors` middleware answers 403 to unlisted origins instead.)

use poem::{
    Request, Response,
    http::{HeaderValue, Method, StatusCode, header},
};

use super::routes::RouteTable;

/// Request headers the API reads.
const ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, If-Match, Idempotency-Key, X-Request-Id";
/// Response headers a browser script may read, beyond the always-safe ones.
const EXPOSED_HEADERS: &str = "ETag, X-Request-Id, Retry-After, Location";
/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    /// `origins` as validated by the configuration (`scheme://host[:port]`, lower-case).
    pub fn new(origins: Vec<String>) -> Self {
        Self { origins }
    }

    fn listed<'a>(&self, origin: Option<&'a HeaderValue>) -> Option<&'a HeaderValue> {
        origin.filter(|origin| {
            self.origins
                .iter()
                .any(|o| o.as_bytes() == origin.as_bytes())
        })
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`) from a listed
    /// origin to a documented path. Anything else is routed as usual, and so answered in the
    /// envelope (404, or 405 with `Allow`).
    pub fn preflight(&self, req: &Request, routes: &RouteTable) -> Option<Response> {
        let headers = req.headers();
        if req.method() != Method::OPTIONS
            || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let origin = self.listed(headers.get(header::ORIGIN))?;
        let methods = routes.allowed(req.uri().path())?;
        Some(
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone())
                .header(header::ACCESS_CONTROL_ALLOW_METHODS, methods)
                .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS)
                .header(header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE)
                .finish(),
        )
    }

    /// Adds the CORS headers for `origin` (the request's `Origin`) to any response. With
    /// origins configured every response varies by `Origin`, so caches must key on it.
    pub fn decorate(&self, origin: Option<&HeaderValue>, response: &mut Response) {
        if self.origins.is_empty() {
            return;
        }
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = self.listed(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
    }
}
