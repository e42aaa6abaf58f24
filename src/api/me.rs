//! `GET`/`PATCH /v1/me`: the signed-in user's own profile. Session tokens only; an API key gets
//! 403. Handlers stay thin: authenticate, read the body by `patch`'s rules, call the use case
//! (`crate::users`).

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Header, payload::Json};

use super::{
    ApiTags, BearerAuth,
    bodies::{ME_FIELDS, MePatch},
    client_address::ClientAddress,
    envelope::{Rendered, envelope, error_responses},
    http::{self, CurrentSession},
    model::{Extras, Me, MyTeam, OrgRef, user_fields},
    patch::PatchBody,
    user_input::read_me,
};
use crate::{
    db::{
        me::{self, MeRows},
        models::{Session, User},
    },
    domain::Actor,
    error::ApiError,
    state::AppState,
    users::{self, Prover},
};

envelope!(
    #[derive(serde::Serialize)]
    MeEnvelope,
    Me
);

#[derive(Debug, ApiResponse)]
pub enum MeResponse {
    /// The current user. `ETag` identifies this version of the user for `If-Match`.
    #[oai(status = 200)]
    Ok(Rendered<MeEnvelope>, #[oai(header = "ETag")] String),
}

error_responses!(GetMeError {
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN`: an API key was used; `/v1/me` needs a user session token.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(PatchMeError {
    400 => BadRequest: "`MALFORMED_REQUEST` (not JSON, wrong JSON types, unknown fields) or `IMMUTABLE_FIELD`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`FORBIDDEN` for an API key, a missing or wrong `current_password`, or a missing, wrong or reused `totp_code` when turning 2FA off; `FIELD_NOT_WRITABLE` for fields the user may not write; `REAUTHENTICATION_REQUIRED` for a change of `primary_email`, `password` or the TOTP settings from a session not authenticated within `--reauth-window` (`details.max_age`, in seconds) and without `current_password` (or, with 2FA on, `totp_code`) in the request.",
    409 => Conflict: "`EMAIL_TAKEN`: another user of the organization has this address (the new `primary_email`, whether it is changed at once or waits for its confirmation).",
    412 => PreconditionFailed: "`If-Match` does not match the current `ETag`; nothing was changed.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "One or more values are invalid; `errors` lists every one with its code (`INVALID_NAME`, `INVALID_BIO`, `INVALID_IMAGE`, `INVALID_LOCALE`, `INVALID_TIMEZONE`, `INVALID_PHONE_NUMBER`, `INVALID_EMAIL`, `INVALID_METADATA`, `NOT_A_TEAM_MEMBER`, `WEAK_PASSWORD`, `INVALID_TOTP_SECRET`, `VALIDATION_FAILED`) and nothing was changed. With one invalid field `error.code` is its code, with several `VALIDATION_FAILED`.",
    429 => TooManyRequests: "`RATE_LIMITED`: too many proofs of the current password or a TOTP code (counted with sign-in attempts); retry after `Retry-After` seconds.", header "Retry-After",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds. `MAILER_NOT_CONFIGURED`: a new `primary_email` on a server that sends mail but has no `--public-url` to link to; nothing was changed.",
});

pub struct MeApi;

#[OpenApi(tag = "ApiTags::Me")]
impl MeApi {
    /// Get the current user
    ///
    /// The user behind the session token, with their organization, teams, the principal's
    /// scopes and the current session. API keys are not user-scoped and get 403.
    #[oai(path = "/v1/me", method = "get", operation_id = "getMe")]
    async fn get_me(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
    ) -> Result<MeResponse, GetMeError> {
        let (user, session, rows) =
            crate::auth::authenticate_me(&state.db, &state.tokens, &auth.0.token).await?;
        Ok(me_response(user, session, rows, None)?)
    }

    /// Update the current user
    ///
    /// Partial update with PATCH semantics: absent fields are unchanged, `null` clears a
    /// nullable field, `{}` is a no-op that returns the current state. All or nothing. Send
    /// `If-Match` with the `ETag` of a previous response to refuse the change (412) if the
    /// user changed since. The response is the whole updated user; the one that turns
    /// two-factor authentication on also carries the new `recovery_codes`, shown only there. On a server that sends
    /// mail, a new `primary_email` is not swapped in: it becomes `pending_email` until the
    /// user confirms it from the message sent there (see `primary_email`).
    #[oai(path = "/v1/me", method = "patch", operation_id = "patchMe")]
    async fn patch_me(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        /// The `ETag` of the version this change is based on; `*` matches any version.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<PatchBody<MePatch>>,
    ) -> Result<MeResponse, PatchMeError> {
        let (user, session, rows) =
            crate::auth::authenticate_me(&state.db, &state.tokens, &auth.0.token).await?;
        let input = read_me(body.0.reader(&ME_FIELDS)?)?;
        let asks_new_address = input.changes.primary_email.is_some();
        let expected = http::if_match(if_match.0.as_deref());
        let prover = Prover {
            session_id: session.id,
            throttle: &state.sign_in_throttle,
            address: client.0.0,
            authenticated_at: session.authenticated_at,
            reauth_window: state.reauth_window,
        };
        let events = super::user_events(Actor::User(user.id));
        let (updated, recovery_codes) =
            users::update_me(&state, &events, &user, &prover, input, expected).await?;
        // The rows read with the session still hold unless the write touched what they show:
        // the session count (a new password revokes the others), the pending address, the
        // recovery codes, the selected team.
        let rows_hold = !asks_new_address
            && recovery_codes.is_none()
            && updated.password_hash == user.password_hash
            && updated.totp_secret == user.totp_secret
            && updated.selected_team_id == user.selected_team_id;
        let rows = match rows_hold {
            true => rows,
            false => me::load(&state.db, &updated).await?,
        };
        Ok(me_response(updated, session, rows, recovery_codes)?)
    }
}

pub(super) fn me_response(
    user: User,
    session: Session,
    rows: MeRows,
    recovery_codes: Option<Vec<String>>,
) -> Result<MeResponse, ApiError> {
    let MeRows {
        org,
        teams,
        selected_team,
        active_sessions,
        pending_email,
        recovery_codes_remaining,
    } = rows;
    let extras = Extras {
        selected_team,
        active_sessions,
    };
    let etag = http::etag(&user);
    let me = Me {
        user: user_fields(&user, extras)?,
        org: OrgRef {
            id: org.id,
            name: org.name,
        },
        teams: teams
            .into_iter()
            .map(|(team, role)| MyTeam {
                id: team.id,
                name: team.name,
                role,
            })
            .collect(),
        scopes: user
            .role
            .scopes()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        session: CurrentSession::of(&session),
        pending_email,
        recovery_codes_remaining,
        recovery_codes,
    };
    Ok(MeResponse::Ok(Rendered(me.into()), etag))
}
