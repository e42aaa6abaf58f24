//! Sign-in (PRODUCT §5): e-mail and password, plus a TOTP code when two-factor authentication is
//! on. Every failure is the same 401 whatever was wrong, after the same password work, so neither
//! the answer nor its timing tells whether an account exists. Attempts are limited per account
//! and per client address before anything is read; with `--lockout-threshold`, failed attempts
//! in a row lock the account (`db::lockout`), with the same 401. The one other answer is
//! `MFA_REQUIRED` (401): the right password of an account that could sign in, with 2FA on and
//! no code sent.

use std::net::IpAddr;

use super::{
    new_session,
    password::{self, Verdict},
    recovery,
    throttle::account_key,
    totp,
};
use crate::{
    db::{
        events, lockout,
        models::{Session, User},
        recovery_codes, sessions, users,
    },
    domain::{EmailAddress, OrgId, UserId, UserStatus},
    error::ApiError,
    events::sessions::{self as session_events, SignInFailure},
    state::AppState,
};

/// One sign-in attempt, as sent.
pub struct Attempt<'a> {
    pub org_id: OrgId,
    pub email: &'a str,
    pub password: &'a str,
    pub totp_code: Option<&'a str>,
    /// A recovery code in place of `totp_code` (not both: the edge refuses that).
    pub recovery_code: Option<&'a str>,
    /// The request's `User-Agent`, if any, kept with the session.
    pub user_agent: Option<&'a str>,
    /// Where the attempt comes from, for the per-address limit.
    pub address: IpAddr,
    /// The request's `X-Request-Id`, for the events it causes.
    pub request_id: Option<String>,
}

/// Starts a session for the attempt's user; returns it with its token. A password hash
/// imported from another system (or with old parameters) is upgraded to argon2id here.
pub async fn sign_in(
    state: &AppState,
    attempt: Attempt<'_>,
) -> Result<(Session, String), ApiError> {
    let Attempt {
        org_id,
        email,
        password,
        totp_code,
        recovery_code,
        user_agent,
        address,
        request_id,
    } = attempt;
    // Every refusal is recorded the same way (one write), whatever was wrong, so recording it
    // does not tell apart an account that exists.
    let refuse = async |user_id: Option<UserId>, failure: SignInFailure| {
        let event = session_events::sign_in_failed(org_id, user_id, failure, request_id.clone());
        match events::append_if_org_exists(&state.db, &event).await {
            Ok(()) => ApiError::unauthorized(),
            Err(error) => error,
        }
    };
    // The canonical key, so every spelling of one address (letter case, a Unicode or `xn--`
    // domain) is one account and one throttle bucket. Something that is not an address names
    // no account, but costs the same password work below.
    let email_key = EmailAddress::parse(email).map(|address| address.key());
    let throttle_key = match &email_key {
        Ok(key) => key.clone(),
        Err(_) => email.trim().to_lowercase(),
    };
    state
        .sign_in_throttle
        .attempt(&account_key(&org_id, &throttle_key), address)
        .await?;
    let user = match &email_key {
        Ok(key) => users::find_by_email_key(&state.db, &org_id, key).await?,
        Err(_) => None,
    };
    let stored = user.as_ref().and_then(|user| user.password_hash.clone());
    let verdict = password::verify(password, stored.as_deref()).await?;
    let now = crate::db::now();
    // A locked account refuses every attempt, the right password too, and counts none.
    let locked = user
        .as_ref()
        .is_some_and(|user| user.locked_at(now).is_some());
    // A wrong password or code of an existing, unlocked account counts toward the lockout.
    let failed = async |user: &User, failure: SignInFailure| {
        let lock = |until, count| {
            session_events::locked(user.org_id, &user.id, until, count, request_id.clone())
        };
        match lockout::record_failure(&state.db, &user.id, state.lockout, now, lock).await {
            Ok(_) => refuse(Some(user.id), failure).await,
            Err(error) => error,
        }
    };
    let (Verdict::Right { rehash }, Some(user), Some(stored)) = (verdict, &user, stored) else {
        return Err(match &user {
            None => refuse(None, SignInFailure::UnknownAccount).await,
            Some(user) if locked => refuse(Some(user.id), SignInFailure::Locked).await,
            Some(user) => failed(user, SignInFailure::WrongPassword).await,
        });
    };
    if locked {
        return Err(refuse(Some(user.id), SignInFailure::Locked).await);
    }
    // A timed ban whose `until` has passed no longer holds (`User::status_at`).
    match user.status_at(now) {
        UserStatus::Active => {}
        UserStatus::Suspended => return Err(refuse(Some(user.id), SignInFailure::Suspended).await),
        UserStatus::Invited => return Err(refuse(Some(user.id), SignInFailure::Invited).await),
    }
    if !user.primary_email_auth_enabled {
        return Err(refuse(Some(user.id), SignInFailure::EmailSignInDisabled).await);
    }
    // How the user proved who they are (the session's `amr`).
    let mut amr = "pwd";
    if let Some(secret) = &user.totp_secret {
        // Only the right password of an account that could otherwise sign in gets here, so
        // this answer tells nothing a wrong password does not; it is no failure and does not
        // count toward the lockout.
        let (accepted, failure) = match (totp_code, recovery_code) {
            (None, None) => return Err(ApiError::mfa_required()),
            (Some(code), _) => {
                let step = state
                    .secrets
                    .check_totp(&user.id, secret, code, totp::unix_now());
                let accepted = match step {
                    Some(step) => sessions::consume_totp_step(&state.db, &user.id, step).await?,
                    None => false,
                };
                amr = "pwd otp";
                (accepted, SignInFailure::WrongTotpCode)
            }
            (None, Some(code)) => {
                let spent =
                    recovery_codes::spend(&state.db, &user.id, &recovery::hash(code), now).await?;
                amr = "pwd recovery";
                (spent, SignInFailure::WrongRecoveryCode)
            }
        };
        if !accepted {
            return Err(failed(user, failure).await);
        }
    }
    let upgraded = match rehash {
        true => Some(password::hash(password).await?),
        false => None,
    };
    let mut session = new_session(&user.id, state.tokens.lifetime());
    session.amr = amr.into();
    session.client_address = Some(address.to_string());
    session.user_agent = user_agent.and_then(super::kept_user_agent);
    let created = session_events::created(user.org_id, &session, request_id.clone());
    sessions::start(
        &state.db,
        &session,
        &stored,
        upgraded.as_deref(),
        &[created],
    )
    .await?;
    let token = state.tokens.issue(&session, &user.org_id)?;
    Ok((session, token))
}

/// What a reauthentication proves with.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    Password(&'a str),
    TotpCode(&'a str),
}

/// `POST /v1/sessions/current/reauthenticate`: `user` proves who they are again in `session`,
/// which moves its `authenticated_at` (no new token). The attempt is taken from the sign-in
/// limits (429 past them) and a wrong proof counts toward the lockout as a failed sign-in
/// does; it answers 403 (the session itself is fine). A locked account is refused without
/// counting.
pub async fn reauthenticate(
    state: &AppState,
    user: &User,
    session: &Session,
    proof: Proof<'_>,
    address: IpAddr,
    request_id: Option<String>,
) -> Result<Session, ApiError> {
    let user_id = user.id.to_string();
    let email_key = user.primary_email_key.as_deref().unwrap_or(&user_id);
    state
        .sign_in_throttle
        .attempt(&account_key(&user.org_id, email_key), address)
        .await?;
    let now = crate::db::now();
    let wrong = || ApiError::forbidden("the password or code is wrong");
    let locked = user.locked_at(now).is_some();
    let (right, amr) = match proof {
        Proof::Password(password) => {
            let stored = user.password_hash.as_deref();
            let verdict = password::verify(password, stored).await?;
            (stored.is_some() && verdict != Verdict::Wrong, "pwd")
        }
        Proof::TotpCode(code) => {
            let step = user.totp_secret.as_ref().and_then(|secret| {
                state
                    .secrets
                    .check_totp(&user.id, secret, code, totp::unix_now())
            });
            let accepted = match step {
                Some(step) if !locked => {
                    sessions::consume_totp_step(&state.db, &user.id, step).await?
                }
                _ => false,
            };
            (accepted, "otp")
        }
    };
    if locked {
        return Err(wrong());
    }
    if !right {
        let lock = |until, count| {
            session_events::locked(user.org_id, &user.id, until, count, request_id.clone())
        };
        lockout::record_failure(&state.db, &user.id, state.lockout, now, lock).await?;
        return Err(wrong());
    }
    let event = session_events::reauthenticated(user.org_id, session, now, amr, request_id);
    sessions::reauthenticate(&state.db, &session.id, &user.id, now, amr, &[event]).await
}
