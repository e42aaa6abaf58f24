//! The committed spec at `/openapi.json` and `/openapi.yaml`, and Swagger UI at `/docs` (vendored
//! by utoipa-swagger-ui, so it works offline), with authorization persisted across reloads, under
//! the product's name (`docs.html`) and with tags in the spec's order (no `tagsSorter`).
//! Swagger UI's pages are sent with a Content-Security-Policy that allows only its own files
//! (it has no inline script) and may not be framed, so a token pasted into it stays on this page.

use std::sync::{Arc, LazyLock};

use poem::{
    Endpoint, IntoResponse, Request, Response, handler,
    http::{Method, StatusCode, header},
    web::Path,
};
use utoipa_swagger_ui::Config;

static SPEC_JSON: LazyLock<String> = LazyLock::new(super::spec_json);
static SPEC_YAML: LazyLock<String> = LazyLock::new(|| {
    let value: serde_json::Value = serde_json::from_str(&SPEC_JSON).unwrap_or_default();
    serde_yaml::to_string(&value).unwrap_or_default()
});
/// Scripts, styles, images and requests from this origin only; inline styles because Swagger
/// UI's components set `style` attributes; `data:` images for the icons in its stylesheet.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

static SWAGGER: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new(["/openapi.json"])
            .use_base_layout()
            .persist_authorization(true)
            .display_operation_id(true)
            .try_it_out_enabled(true),
    )
});

#[handler]
pub fn openapi_json() -> Response {
    Response::builder()
        .content_type("application/json")
        .body(SPEC_JSON.as_str())
}

#[handler]
pub fn openapi_yaml() -> Response {
    Response::builder()
        .content_type("application/yaml")
        .body(SPEC_YAML.as_str())
}

fn docs_response() -> poem::ResponseBuilder {
    Response::builder()
        .header(header::CONTENT_SECURITY_POLICY, DOCS_CSP)
        .header(header::X_FRAME_OPTIONS, "DENY")
}

/// `GET /` (and `HEAD`), where a person types the address, redirects to Swagger UI. Not a
/// route: a route at `/` loses to the catch-all that `nest("/", api_service())` puts there.
pub async fn redirect_root<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    if req.uri().path() == "/" && matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, "/docs/")
            .finish());
    }
    next.call(req).await.map(IntoResponse::into_response)
}

#[handler]
pub fn docs_index() -> Response {
    docs_response()
        .status(StatusCode::PERMANENT_REDIRECT)
        .header(header::LOCATION, "/docs/")
        .finish()
}

/// Swagger UI's page, titled and introduced as users-api.
const INDEX_HTML: &str = include_str!("docs.html");

#[handler]
pub fn docs_file(Path(file): Path<String>) -> Response {
    if file.is_empty() || file == "index.html" {
        return docs_response()
            .content_type("text/html; charset=utf-8")
            .body(INDEX_HTML);
    }
    match utoipa_swagger_ui::serve(&file, SWAGGER.clone()) {
        Ok(Some(file)) => docs_response()
            .content_type(file.content_type)
            .body(file.bytes.into_owned()),
        Ok(None) => Response::builder().status(StatusCode::NOT_FOUND).finish(),
        Err(error) => {
            tracing::error!(%error, "swagger ui");
            Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .finish()
        }
    }
}
