//! Second factors and recent authentication: `POST /v1/me/recovery-codes` replaces the user's
//! TOTP recovery codes, `POST /v1/sessions/current/reauthenticate` refreshes the session's
//! `authenticated_at` (step-up, `--reauth-window`). The rules are the use cases'
//! (`users::recovery_codes`, `auth::sign_in::reauthenticate`).

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::{
    ApiTags, BearerAuth,
    client_address::ClientAddress,
    envelope::{envelope, error_responses},
    patch::PatchBody,
};
use crate::{
    auth::sign_in::{self, Proof},
    domain::Actor,
    error::{ApiError, ErrorCode, FieldError},
    state::AppState,
    users,
};

use super::http::CurrentSession;

/// The password, or a current TOTP code: exactly one of them.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct Reauthenticate {
    /// The user's password.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: Option<String>,
    /// Six digits from the authenticator (2FA on); each code proves once.
    #[oai(validator(min_length = 6, max_length = 6))]
    pub totp_code: Option<String>,
}

envelope!(CurrentSessionEnvelope, CurrentSession);

#[derive(Debug, ApiResponse)]
pub enum ReauthenticatedResponse {
    /// Reauthenticated: the session with its new `authenticated_at`. The token is unchanged.
    #[oai(status = 200)]
    Ok(Json<CurrentSessionEnvelope>),
}

error_responses!(ReauthenticateError {
    400 => BadRequest: "`MALFORMED_REQUEST`: not JSON, wrong JSON types, or unknown fields.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: an API key was used; or the password or code is wrong, already used, or the account is locked. A wrong one counts toward the lockout like a failed sign-in.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`EXCLUSIVE_FIELDS`: not exactly one of `password` and `totp_code`.",
    429 => TooManyRequests: "`RATE_LIMITED`: too many attempts for this account or from this address (shared with sign-in); retry after `Retry-After` seconds.", header "Retry-After",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

/// A current code from the authenticator, proving the user holds it.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct RegenerateRecoveryCodes {
    /// Six digits from the authenticator. Each code proves once.
    #[oai(validator(min_length = 6, max_length = 6))]
    pub totp_code: String,
}

/// A new set of recovery codes, shown this once.
#[derive(Debug, Clone, Object)]
pub struct RecoveryCodes {
    /// 10 codes (`xxxx-xxxx-xx`, 50 random bits each), each usable once as `recovery_code`
    /// at sign-in. Stored only as hashes: they are never shown again.
    pub recovery_codes: Vec<String>,
}

envelope!(RecoveryCodesEnvelope, RecoveryCodes);

#[derive(Debug, ApiResponse)]
pub enum RecoveryCodesResponse {
    /// The new codes; the previous ones no longer work.
    #[oai(status = 200)]
    Ok(Json<RecoveryCodesEnvelope>),
}

error_responses!(RegenerateRecoveryCodesError {
    400 => BadRequest: "`MALFORMED_REQUEST`: not JSON, wrong JSON types, unknown or missing fields, a `totp_code` that is not six characters.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: an API key was used; two-factor authentication is off; or `totp_code` is wrong or was already used.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    429 => TooManyRequests: "`RATE_LIMITED`: too many proofs of a TOTP code (counted with sign-in attempts); retry after `Retry-After` seconds.", header "Retry-After",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

pub struct StepUpApi;

#[OpenApi]
impl StepUpApi {
    /// Reauthenticate
    ///
    /// Proves again, with the password or a current TOTP code, that the signed-in user is at
    /// the keyboard: the session's `authenticated_at` becomes now (and `amr` says how), with
    /// the same token. Changing `primary_email`, `password` or the TOTP settings through
    /// `PATCH /v1/me` needs a session authenticated within `--reauth-window` (10 minutes by
    /// default) or a proof in that request; this is how a client gets there first. Each
    /// attempt counts toward the sign-in limits, and a wrong one toward the lockout. Records
    /// `session.reauthenticated`.
    #[oai(
        path = "/v1/sessions/current/reauthenticate",
        method = "post",
        operation_id = "reauthenticate",
        tag = "ApiTags::Sessions"
    )]
    async fn reauthenticate(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        body: Json<PatchBody<Reauthenticate>>,
    ) -> Result<ReauthenticatedResponse, ReauthenticateError> {
        let (user, session) = state.authenticate(&auth).await?.into_user()?;
        let body = body.0.parse()?;
        let proof = match (&body.password, &body.totp_code) {
            (Some(password), None) => Proof::Password(password),
            (None, Some(code)) => Proof::TotpCode(code),
            _ => {
                let reason = "send exactly one of password and totp_code";
                let field = FieldError::new("password", ErrorCode::ExclusiveFields, reason);
                return Err(ApiError::validation(vec![field]).into());
            }
        };
        let request_id = super::request_id();
        let session =
            sign_in::reauthenticate(&state, &user, &session, proof, client.0.0, request_id).await?;
        Ok(ReauthenticatedResponse::Ok(Json(
            CurrentSession::of(&session).into(),
        )))
    }

    /// Replace my recovery codes
    ///
    /// Issues a new set of 10 TOTP recovery codes and ends the previous set (used or not), for
    /// a user with two-factor authentication on, who proves it with a current `totp_code`. The
    /// codes are in this response only. Turning 2FA on through `PATCH /v1/me` issues the first
    /// set; turning it off deletes them. Records `user.recovery_codes_regenerated`.
    #[oai(
        path = "/v1/me/recovery-codes",
        method = "post",
        operation_id = "regenerateRecoveryCodes",
        tag = "ApiTags::Me"
    )]
    async fn regenerate_recovery_codes(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        body: Json<PatchBody<RegenerateRecoveryCodes>>,
    ) -> Result<RecoveryCodesResponse, RegenerateRecoveryCodesError> {
        let (user, session) = state.authenticate(&auth).await?.into_user()?;
        let body = body.0.parse()?;
        let prover = users::Prover {
            session_id: session.id,
            throttle: &state.sign_in_throttle,
            address: client.0.0,
            authenticated_at: session.authenticated_at,
            reauth_window: state.reauth_window,
        };
        let origin = super::origin(Actor::User(user.id));
        let codes =
            users::recovery_codes::regenerate(&state, &origin, &user, &prover, &body.totp_code)
                .await?;
        Ok(RecoveryCodesResponse::Ok(Json(
            RecoveryCodes {
                recovery_codes: codes,
            }
            .into(),
        )))
    }
}
