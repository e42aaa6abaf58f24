//! The credential rules of user changes (PRODUCT §3, §5): `password`, `password_hash`,
//! `current_password`, `totp_secret_base64` and `totp_code`. Their values are checked with the
//! other fields, so every invalid one is reported at once (422). Proofs of possession — the
//! current password, a current code from the authenticator that holds the secret — are checked
//! once the whole change is valid; a failed proof is 403 and nothing changes. Hashing comes last.

use std::net::IpAddr;

use chrono::{NaiveDateTime, TimeDelta};

use super::changes::UserUpdate;
use crate::{
    auth::{
        SecretKeys,
        password::{self, ImportedHash, NewPassword, Verdict},
        recovery,
        throttle::{SignInThrottle, account_key},
        totp::{self, TotpSecret},
    },
    db::{models::User, sessions::Revoke},
    domain::{Invalid, SessionId, UserId},
    error::{ApiError, ErrorCode, FieldError},
};

/// The credential fields of a body as sent (`Some(None)`: `null`), before any rule is applied.
#[derive(Debug, Default)]
pub struct CredentialInput {
    pub password: Option<Option<String>>,
    pub password_hash: Option<Option<String>>,
    pub current_password: Option<String>,
    pub totp_secret_base64: Option<Option<String>>,
    pub totp_code: Option<String>,
}

/// Credential changes that passed their rules, not yet proved or hashed. A value that was
/// refused is left out (its error is already listed, so nothing is applied).
#[derive(Debug, Default)]
pub struct Credentials {
    /// `Some(None)`: remove the password (admin surface only).
    password: Option<Option<NewPassword>>,
    password_hash: Option<Option<ImportedHash>>,
    current_password: Option<String>,
    totp: Option<Option<TotpSecret>>,
    totp_code: Option<String>,
    /// The step of the code that proved a newly enrolled secret.
    enrolled_step: Option<i64>,
}

/// What a password may not be made of: the user's own names and address.
pub(super) fn personal_words(user: Option<&User>) -> Vec<&str> {
    let Some(user) = user else {
        return Vec::new();
    };
    [
        user.primary_email.as_ref().map(|v| v.as_str()),
        user.display_name.as_ref().map(|v| v.as_str()),
        user.first_name.as_ref().map(|v| v.as_str()),
        user.last_name.as_ref().map(|v| v.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn new_password(r: &mut Vec<FieldError>, raw: &str, user: Option<&User>) -> Option<NewPassword> {
    let words = personal_words(user);
    NewPassword::parse(raw, &words)
        .map_err(|invalid| refuse_invalid(r, "password", invalid))
        .ok()
}

fn refuse(r: &mut Vec<FieldError>, field: &str, code: ErrorCode, message: &str) {
    r.push(FieldError::new(field, code, message));
}

fn refuse_invalid(r: &mut Vec<FieldError>, field: &str, invalid: Invalid) {
    r.push(FieldError::new(field, invalid.code, invalid.reason));
}

/// `totp_code` without `totp_secret_base64` (or `current_password` without `password`).
fn only_with(r: &mut Vec<FieldError>, field: &str, with: &str, present: bool) {
    if present {
        refuse(
            r,
            field,
            ErrorCode::ValidationFailed,
            &format!("only meaningful together with {with}"),
        );
    }
}

impl CredentialInput {
    /// The rules of `PATCH /v1/me` for `user`; refusals are added to `r`.
    /// `email_change`: the same body changes `primary_email`, which a `current_password` (or,
    /// with 2FA on, a `totp_code`) may prove (step-up).
    pub fn check_me(self, r: &mut Vec<FieldError>, user: &User, email_change: bool) -> Credentials {
        let mut input = Credentials::default();
        let password_sent = self.password.is_some();
        match self.password {
            None => {}
            Some(None) => refuse(
                r,
                "password",
                ErrorCode::ValidationFailed,
                "must be a string: a password cannot be removed through /v1/me",
            ),
            Some(Some(raw)) => input.password = new_password(r, &raw, Some(user)).map(Some),
        }
        input.current_password = self.current_password;
        only_with(
            r,
            "current_password",
            "password, primary_email or totp_secret_base64",
            input.current_password.is_some()
                && !password_sent
                && !email_change
                && self.totp_secret_base64.is_none(),
        );
        input.totp_code = self.totp_code;
        match self.totp_secret_base64 {
            None => only_with(
                r,
                "totp_code",
                "totp_secret_base64 (or primary_email, when two-factor authentication is on)",
                input.totp_code.is_some() && !(email_change && user.totp_secret.is_some()),
            ),
            Some(None) => input.totp = Some(None),
            Some(Some(raw)) => {
                if user.totp_secret.is_some() {
                    refuse(
                        r,
                        "totp_secret_base64",
                        ErrorCode::InvalidTotpSecret,
                        "two-factor authentication is already on: turn it off with a current code first",
                    );
                    return input;
                }
                let Ok(secret) =
                    TotpSecret::parse(&raw).map_err(|e| refuse_invalid(r, "totp_secret_base64", e))
                else {
                    return input;
                };
                match input
                    .totp_code
                    .as_deref()
                    .map(|code| secret.check(code, totp::unix_now()))
                {
                    None => refuse(
                        r,
                        "totp_code",
                        ErrorCode::InvalidTotpSecret,
                        "required: a current code computed from the new secret proves the authenticator holds it",
                    ),
                    Some(None) => refuse(
                        r,
                        "totp_code",
                        ErrorCode::InvalidTotpSecret,
                        "does not match the new secret at the current time",
                    ),
                    Some(Some(step)) => input.enrolled_step = Some(step),
                }
                input.totp = Some(Some(secret));
            }
        }
        input
    }

    /// The rules of `PATCH /v1/users/{id}` (`user`) and `POST /v1/users` (`None`): no proofs
    /// needed, hashes may be imported, `null` removes. Refusals are added to `r`.
    pub fn check_admin(self, r: &mut Vec<FieldError>, user: Option<&User>) -> Credentials {
        let password = self
            .password
            .map(|password| password.and_then(|raw| new_password(r, &raw, user)));
        let password_hash = self.password_hash.map(|hash| {
            hash.and_then(|raw| {
                ImportedHash::parse(&raw)
                    .map_err(|e| refuse_invalid(r, "password_hash", e))
                    .ok()
            })
        });
        let totp = self.totp_secret_base64.map(|secret| {
            secret.and_then(|raw| {
                TotpSecret::parse(&raw)
                    .map_err(|e| refuse_invalid(r, "totp_secret_base64", e))
                    .ok()
            })
        });
        let mut input = Credentials {
            password,
            password_hash,
            totp,
            ..Credentials::default()
        };
        // Two values conflict; a value beside the other's `null` is that value (it replaces
        // whatever was stored either way), so the `null` is dropped.
        match (&input.password, &input.password_hash) {
            (Some(Some(_)), Some(Some(_))) => {
                refuse(
                    r,
                    "password_hash",
                    ErrorCode::ValidationFailed,
                    "send either password or password_hash, not both",
                );
                input.password_hash = None;
            }
            (Some(Some(_)), Some(None)) => input.password_hash = None,
            (Some(None), Some(Some(_))) => input.password = None,
            _ => {}
        }
        input
    }
}

/// Who is proving a credential, and where from: each proof takes an attempt from the same
/// limits as sign-in, so a stolen session cannot guess the password or a TOTP code.
pub struct Prover<'a> {
    pub session_id: SessionId,
    pub throttle: &'a SignInThrottle,
    pub address: IpAddr,
    /// When the prover's session was last authenticated (`Session::authenticated_at`).
    pub authenticated_at: NaiveDateTime,
    /// `--reauth-window`.
    pub reauth_window: TimeDelta,
}

impl Prover<'_> {
    /// Whether the session was authenticated within the window, now.
    pub fn recently_authenticated(&self) -> bool {
        crate::db::now() - self.authenticated_at <= self.reauth_window
    }

    /// Takes one attempt from `user`'s sign-in budgets (429 past them).
    pub(crate) async fn attempt(&self, user: &User) -> Result<(), ApiError> {
        let user_id = user.id.to_string();
        let email_key = user.primary_email_key.as_deref().unwrap_or(&user_id);
        self.throttle
            .attempt(&account_key(&user.org_id, email_key), self.address)
            .await
    }
}

impl Credentials {
    /// Checks the proofs that `PATCH /v1/me` needs (403 when one fails, 429 when too many
    /// did), then hashes, seals a new TOTP secret with `secrets`, and fills `update`. A new
    /// password revokes the user's other sessions, keeping the prover's. A new TOTP secret
    /// comes with a new set of recovery codes: returned here, to show once, and only their
    /// hashes go into `update`.
    ///
    /// Step-up: a change of the password, the TOTP settings or (`email_change`) the primary
    /// address needs the prover's session authenticated within its window, or a proof in the
    /// request: the current password, or a current TOTP code when 2FA is on (turning 2FA off
    /// always sends one). Otherwise 403 `REAUTHENTICATION_REQUIRED`.
    pub async fn apply_me(
        self,
        user: &User,
        prover: &Prover<'_>,
        secrets: &SecretKeys,
        update: &mut UserUpdate,
        email_change: bool,
    ) -> Result<Option<Vec<String>>, ApiError> {
        // Turning off a 2FA that is off changes nothing, and needs nothing.
        let totp_change = match &self.totp {
            None => false,
            Some(None) => user.totp_secret.is_some(),
            Some(Some(_)) => true,
        };
        let sensitive = self.password.is_some() || totp_change || email_change;
        // Proofs first, so nothing is hashed for a change that is refused.
        let mut proved = false;
        if let Some(Some(_)) = &self.password
            && user.password_hash.is_some()
            && self.current_password.is_none()
        {
            return Err(ApiError::forbidden(
                "current_password is required to change the password",
            ));
        }
        if let Some(current) = &self.current_password {
            prover.attempt(user).await?;
            let verdict = password::verify(current, user.password_hash.as_deref()).await?;
            if verdict == Verdict::Wrong || user.password_hash.is_none() {
                return Err(ApiError::forbidden("current_password is wrong"));
            }
            proved = true;
        }
        // A code of the stored secret: turning 2FA off, or proving a change of the address.
        let proves_stored = matches!(self.totp, Some(None)) || self.totp.is_none();
        if let (true, Some(stored)) = (proves_stored, &user.totp_secret) {
            match (&self.totp, &self.totp_code) {
                (Some(None), None) => {
                    prover.attempt(user).await?;
                    return Err(ApiError::forbidden(
                        "totp_code is required to turn two-factor authentication off",
                    ));
                }
                (_, Some(code)) => {
                    prover.attempt(user).await?;
                    let step = secrets
                        .check_totp(&user.id, stored, code, totp::unix_now())
                        .ok_or_else(|| ApiError::forbidden("totp_code does not match"))?;
                    update.totp_step = Some(step);
                    proved = true;
                }
                _ => {}
            }
        }
        if sensitive && !proved && !prover.recently_authenticated() {
            return Err(ApiError::reauthentication_required(prover.reauth_window));
        }
        if let Some(Some(new)) = &self.password {
            update.changes.password_hash = Some(Some(password::hash(new.as_str()).await?));
            update.on_password_change = Revoke::AllExcept(prover.session_id);
        }
        let mut recovery_codes = None;
        match self.totp {
            None => {}
            Some(Some(secret)) => {
                update.changes.totp_secret = Some(Some(secrets.seal(&user.id, &secret)));
                update.totp_step = self.enrolled_step;
                let (codes, hashes) = recovery::generate();
                update.recovery_code_hashes = hashes;
                recovery_codes = Some(codes);
            }
            Some(None) if user.totp_secret.is_some() => update.changes.totp_secret = Some(None),
            Some(None) => {}
        }
        Ok(recovery_codes)
    }

    /// Hashes, seals a TOTP secret for the row of `user_id` with `secrets`, and fills `update`
    /// for the admin surface: a password change revokes every session of the user.
    pub async fn apply_admin(
        self,
        user_id: &UserId,
        secrets: &SecretKeys,
        update: &mut UserUpdate,
    ) -> Result<(), ApiError> {
        let hash = match (self.password, self.password_hash) {
            (Some(Some(new)), _) => Some(Some(password::hash(new.as_str()).await?)),
            (Some(None), _) | (_, Some(None)) => Some(None),
            (None, Some(Some(imported))) => Some(Some(imported.into_inner())),
            (None, None) => None,
        };
        if hash.is_some() {
            update.changes.password_hash = hash;
            update.on_password_change = Revoke::All;
        }
        if let Some(secret) = self.totp {
            update.changes.totp_secret = Some(secret.map(|s| secrets.seal(user_id, &s)));
            update.changes.totp_last_step = Some(None);
        }
        Ok(())
    }
}
