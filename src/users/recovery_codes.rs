//! `POST /v1/me/recovery-codes`: a user with two-factor authentication on replaces their TOTP
//! recovery codes, proving it with a current code from the authenticator. The proof takes an
//! attempt from the sign-in limits, as every proof through `/v1/me` does; the code's time step
//! is spent with the new set, in one transaction, so one code replaces the set once.

use super::Prover;
use crate::{
    auth::{recovery, totp},
    db::{models::User, recovery_codes},
    error::ApiError,
    events::{Origin, users::recovery_codes_regenerated},
    state::AppState,
};

/// A new set of recovery codes for `user`, to show once; the old set stops working.
pub async fn regenerate(
    state: &AppState,
    origin: &Origin,
    user: &User,
    prover: &Prover<'_>,
    totp_code: &str,
) -> Result<Vec<String>, ApiError> {
    let Some(secret) = &user.totp_secret else {
        return Err(ApiError::forbidden(
            "two-factor authentication is off: turning it on issues recovery codes",
        ));
    };
    prover.attempt(user).await?;
    let step = state
        .secrets
        .check_totp(&user.id, secret, totp_code, totp::unix_now())
        .ok_or_else(|| ApiError::forbidden("totp_code does not match"))?;
    let (codes, hashes) = recovery::generate();
    let event = recovery_codes_regenerated(origin, user, codes.len());
    if !recovery_codes::regenerate(&state.db, &user.id, step, hashes, &[event]).await? {
        return Err(ApiError::forbidden(
            "this TOTP code was already used; wait for the next one",
        ));
    }
    Ok(codes)
}
