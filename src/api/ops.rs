//! Operations: liveness, readiness, Prometheus metrics and the public key set that verifies
//! session tokens.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    payload::{Json, PlainText},
};

use super::{
    ApiTags,
    envelope::{ErrorEnvelope, envelope, error_responses},
};
use crate::{error::ApiError, state::AppState};

/// Service health.
#[derive(Debug, Clone, Object)]
pub struct Health {
    /// `ok` when the check passed.
    pub status: String,
}

envelope!(HealthEnvelope, Health);

#[derive(Debug, ApiResponse)]
pub enum HealthResponse {
    /// The check passed.
    #[oai(status = 200)]
    Ok(Json<HealthEnvelope>),
}

error_responses!(HealthError {
    500 => Internal: "Unexpected failure.",
});

error_responses!(ReadyError {
    500 => Internal: "Unexpected failure.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database did not answer within 1.5 s.",
});

#[derive(Debug, ApiResponse)]
pub enum MetricsResponse {
    /// The current metrics, Prometheus text format 0.0.4.
    #[oai(status = 200)]
    Ok(PlainText<String>),
}

/// One public key in JWK form (RFC 8037, OKP/Ed25519).
#[derive(Debug, Clone, Object)]
pub struct Jwk {
    /// Key type: `OKP` (RFC 8037).
    pub kty: String,
    /// Curve: `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// Key id; matches the `kid` header of the tokens it signed.
    pub kid: String,
    /// Algorithm: `EdDSA`.
    pub alg: String,
    /// `sig`: the key verifies signatures.
    #[oai(rename = "use")]
    pub key_use: String,
}

/// A JSON Web Key Set (RFC 7517). Not wrapped in the envelope: JWT libraries read this shape.
#[derive(Debug, Clone, Object)]
pub struct JwkSet {
    /// Every key that verifies session tokens: the signing key first, then keys of earlier rotations.
    pub keys: Vec<Jwk>,
}

#[derive(Debug, ApiResponse)]
pub enum JwksResponse {
    /// The keys that verify session tokens.
    #[oai(status = 200)]
    Ok(Json<JwkSet>),
    /// Unexpected failure.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}

pub struct OpsApi;

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Liveness
    ///
    /// 200 while the process is up; touches nothing else.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Result<HealthResponse, HealthError> {
        Ok(HealthResponse::Ok(Json(
            Health {
                status: "ok".into(),
            }
            .into(),
        )))
    }

    /// Readiness
    ///
    /// 200 when the database answers, else 503 — within 2 s whatever the database does: take
    /// the instance out of rotation.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&AppState>) -> Result<HealthResponse, ReadyError> {
        if state.db.ping().await {
            Ok(HealthResponse::Ok(Json(
                Health {
                    status: "ok".into(),
                }
                .into(),
            )))
        } else {
            Err(ApiError::service_unavailable().into())
        }
    }

    /// Metrics
    ///
    /// Prometheus text exposition: `http_requests_total{method, route, status}` and the
    /// `http_request_duration_seconds{method, route}` histogram, labelled by route template.
    /// Unauthenticated like the probes; keep it off the public listener of a proxy.
    #[oai(path = "/metrics", method = "get", operation_id = "getMetrics")]
    async fn metrics(&self) -> Result<MetricsResponse, HealthError> {
        Ok(MetricsResponse::Ok(PlainText(
            crate::telemetry::metrics().render(),
        )))
    }

    /// Token signing keys
    ///
    /// The public keys that verify session tokens (EdDSA over Ed25519), so other services can
    /// check a token offline: this instance's signing key first, then any previous key still
    /// verifying tokens issued before a rotation, then the other instances' keys, published
    /// in the shared database and not retired (pick the key by the token's `kid`). Checking the session is still live needs `GET /v1/me`.
    #[oai(
        path = "/.well-known/jwks.json",
        method = "get",
        operation_id = "getJwks"
    )]
    async fn jwks(&self, state: Data<&AppState>) -> JwksResponse {
        let keys = state
            .tokens
            .verifying_keys()
            .into_iter()
            .map(|(kid, x)| Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x,
                kid,
                alg: "EdDSA".into(),
                key_use: "sig".into(),
            })
            .collect();
        JwksResponse::Ok(Json(JwkSet { keys }))
    }
}
