//! The HTTP API. `api_service()` is the whole API description and needs no state or database,
//! so the spec can be generated from it anywhere (`cargo xtask openapi generate`); `app()` wires
//! it to state, the docs, the guard that refuses NUL in every input, and the middleware that
//! keeps every response in the envelope.

mod api_keys;
mod bodies;
mod client_address;
mod cors;
mod docs;
pub mod envelope;
mod event_schema;
mod events;
mod http;
mod idempotency;
mod mail;
mod me;
mod middleware;
mod model;
mod nul_guard;
mod ops;
mod pages;
mod patch;
mod routes;
mod self_service;
mod sessions;
mod spec;
mod step_up;
mod teams;
mod tickets;
mod user_access;
mod user_input;
mod users;
mod webhooks;

use std::{sync::Arc, time::Duration};

use poem::{Endpoint, EndpointExt, Route, get, middleware::CatchPanic};
use poem_openapi::{OpenApiService, SecurityScheme, Tags, auth::Bearer};
use serde_json::Value;

use crate::{
    auth::{self, Caller, Principal},
    domain::{Actor, Scope},
    error::ApiError,
    events::{Origin, users::UserEvents},
    state::AppState,
};
pub use client_address::{TrustedProxies, parse_network};
pub use middleware::{
    MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES, REQUEST_ID_HEADER,
};

/// What the edge adds to the shared state: authentication from the `Authorization` header.
impl AppState {
    pub async fn authenticate(&self, auth: &BearerAuth) -> Result<Principal, ApiError> {
        auth::authenticate(&self.db, &self.tokens, &auth.0.token).await
    }

    /// Authenticates and checks `scope` in one step: 401 before 403.
    pub async fn caller(&self, auth: &BearerAuth, scope: Scope) -> Result<Caller, ApiError> {
        let caller = Caller::of(&self.authenticate(auth).await?);
        caller.require(scope)?;
        Ok(caller)
    }
}

/// The `X-Request-Id` of the request being handled, for the events it causes.
pub(crate) fn request_id() -> Option<String> {
    Some(envelope::current_request_id()).filter(|id| !id.is_empty())
}

/// How the events of a request's changes name their cause: `actor`, and this request's id.
pub(crate) fn origin(actor: Actor) -> Origin {
    Origin {
        actor,
        request_id: request_id(),
    }
}

/// Records user changes caused by `actor` in this request, with users shown as events show them.
pub(crate) fn user_events(actor: Actor) -> UserEvents {
    UserEvents {
        origin: origin(actor),
        view: model::user_snapshot,
    }
}

/// The spec's tags, declared in the order a user meets them, which is the order the spec lists
/// them in (and Swagger UI shows them in).
#[derive(Tags)]
enum ApiTags {
    /// The signed-in user's own profile (session tokens only).
    Me,
    /// Signing in and out.
    Sessions,
    /// User administration within the caller's organization (`users:read`, `users:write`).
    Users,
    /// One-time tickets: verify an address, reset a password, change an address, accept an
    /// invitation. Your app issues them (`users:write`) and sends them; anyone holding one
    /// redeems it.
    Tickets,
    /// Teams and their members (`teams:read`, `teams:write`).
    Teams,
    /// The organization's API keys (admin users only).
    #[oai(rename = "API keys")]
    ApiKeys,
    /// Change events: the ordered feed and each user's history (`events:read`).
    Events,
    /// Where the organization's change events are delivered, signed per Standard Webhooks
    /// (`webhooks:write`, admin users by default).
    Webhooks,
    /// Mail users-api sends itself: an operator's test message (how the mailer is configured
    /// is in the README, "Sending mail").
    Mail,
    /// Liveness, readiness and token verification keys.
    Operations,
}

impl ApiTags {
    /// Every tag, in declaration order (a tag left out would be listed first).
    const ALL: [ApiTags; 10] = [
        ApiTags::Me,
        ApiTags::Sessions,
        ApiTags::Users,
        ApiTags::Tickets,
        ApiTags::Teams,
        ApiTags::ApiKeys,
        ApiTags::Events,
        ApiTags::Webhooks,
        ApiTags::Mail,
        ApiTags::Operations,
    ];
}

/// `Authorization: Bearer <credential>`: a session token (a JWT signed by users-api) or an API
/// key (`uak_…`). API keys are not user-scoped: `/v1/me` refuses them with 403.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT or uak_ API key")]
pub struct BearerAuth(Bearer);

type Apis = (
    me::MeApi,
    self_service::EmailVerificationApi,
    sessions::SessionsApi,
    self_service::PasswordResetsApi,
    step_up::StepUpApi,
    users::UsersApi,
    user_access::UserAccessApi,
    tickets::TicketsApi,
    teams::TeamsApi,
    api_keys::ApiKeysApi,
    events::EventsApi,
    webhooks::WebhooksApi,
    mail::MailApi,
    ops::OpsApi,
);

pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            me::MeApi,
            self_service::EmailVerificationApi,
            sessions::SessionsApi,
            self_service::PasswordResetsApi,
            step_up::StepUpApi,
            users::UsersApi,
            user_access::UserAccessApi,
            tickets::TicketsApi,
            teams::TeamsApi,
            api_keys::ApiKeysApi,
            events::EventsApi,
            webhooks::WebhooksApi,
            mail::MailApi,
            ops::OpsApi,
        ),
        "users-api",
        env!("CARGO_PKG_VERSION"),
    )
    .description(include_str!("description.md"))
    .license(
        poem_openapi::LicenseObject::new("Apache-2.0")
            .url("https://www.apache.org/licenses/LICENSE-2.0"),
    )
    // Relative: the server is wherever this document was fetched from, so Swagger UI at `/docs`
    // and every generated client talk to the instance that served it, on any address.
    .server(poem_openapi::ServerObject::new("/").description(
        "The server that serves this document (a local `cargo run` is http://127.0.0.1:8080)",
    ))
}

/// The spec as committed in `spec/openapi.json`: pretty JSON with a trailing newline.
/// poem-openapi's output is normalised for the tools that read it: media types are the plain
/// `application/json` and `text/plain` (the charset parameter confuses generators), then
/// `spec::normalise` adds what poem-openapi cannot express (closed PATCH and create bodies,
/// `security: []` on public operations, links between operations), the usual header
/// spelling (`ETag`) and the tags in `ApiTags`' order. No `info.summary`: it is OpenAPI 3.1,
/// and poem-openapi emits 3.0.
pub fn spec_json() -> String {
    let text = api_service()
        .spec()
        .replace("application/json; charset=utf-8", "application/json")
        .replace("text/plain; charset=utf-8", "text/plain");
    let mut spec: Value = serde_json::from_str(&text).expect("poem-openapi emits valid JSON");
    spec::normalise(&mut spec);
    order_tags(&mut spec);
    let mut text = serde_json::to_string_pretty(&spec).expect("a JSON value serialises");
    text.push('\n');
    text
}

/// Lists the spec's tags in `ApiTags::ALL`'s order (poem-openapi sorts them by name).
fn order_tags(spec: &mut Value) {
    let order = ApiTags::ALL.map(|tag| tag.name());
    if let Some(Value::Array(tags)) = spec.get_mut("tags") {
        tags.sort_by_key(|tag| order.iter().position(|name| tag["name"] == *name));
    }
}

/// What the HTTP edge enforces before a handler runs, from the configuration.
#[derive(Debug, Clone)]
pub struct EdgeOptions {
    /// Exact origins (`https://app.example.com`) allowed to call the API from a browser.
    pub cors_origins: Vec<String>,
    /// Load balancers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: client_address::TrustedProxies,
    /// Time allowed to receive a request body once its headers are in (then 408).
    pub body_read_timeout: Duration,
}

/// The whole service as one endpoint.
pub fn app(state: AppState, options: EdgeOptions) -> impl Endpoint {
    let spec: Value = serde_json::from_str(&spec_json()).expect("spec_json is JSON");
    let routes = Arc::new(routes::RouteTable::from_spec(&spec));
    let edge = Arc::new(middleware::Edge {
        routes: routes.clone(),
        cors: cors::Cors::new(options.cors_origins),
        body_read_timeout: options.body_read_timeout,
        proxies: options.trusted_proxies,
    });
    Route::new()
        .nest("/", api_service())
        .at("/openapi.json", get(docs::openapi_json))
        .at("/openapi.yaml", get(docs::openapi_yaml))
        .at("/docs", get(docs::docs_index))
        .at("/docs/*file", get(docs::docs_file))
        .around(docs::redirect_root)
        .data(state)
        .with(CatchPanic::new())
        .around(move |next, req| middleware::handle(next, req, edge.clone()))
}
