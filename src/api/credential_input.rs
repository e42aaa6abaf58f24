//! The credential fields of user bodies (PRODUCT §3, §5): `password`, `password_hash`,
//! `current_password`, `totp_secret_base64` and `totp_code`. They are read with the other
//! fields, so every invalid one is reported at once (422). Proofs of possession — the current
//! password, a current code from the authenticator that holds the secret — are checked once
//! the whole body is valid; a failed proof is 403 and nothing changes. Hashing comes last.

use std::net::IpAddr;

use super::patch::{Field, Reader};
use crate::{
    auth::{
        SecretKeys,
        password::{self, ImportedHash, NewPassword, Verdict},
        throttle::{SignInThrottle, account_key},
        totp::{self, TotpSecret},
    },
    db::{
        models::User,
        users::{Revoke, UserUpdate},
    },
    domain::{SessionId, UserId},
    error::{ApiError, ErrorCode, FieldError},
};

/// Credential changes read from a body, not yet proved or hashed. A value that was refused is
/// left out (the reader already holds its error, so nothing is applied).
#[derive(Debug, Default)]
pub struct CredentialInput {
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
fn personal_words(user: Option<&User>) -> Vec<&str> {
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

fn new_password(r: &mut Reader, raw: &str, user: Option<&User>) -> Option<NewPassword> {
    let words = personal_words(user);
    NewPassword::parse(raw, &words)
        .map_err(|invalid| r.invalid("password", invalid))
        .ok()
}

fn refuse(r: &mut Reader, field: &str, code: ErrorCode, message: &str) {
    r.invalid_field(FieldError::new(field, code, message));
}

/// `totp_code` without `totp_secret_base64` (or `current_password` without `password`).
fn only_with(r: &mut Reader, field: &str, with: &str, present: bool) {
    if present {
        refuse(
            r,
            field,
            ErrorCode::ValidationFailed,
            &format!("only meaningful together with {with}"),
        );
    }
}

/// The credential fields of `PATCH /v1/me` for `user`.
pub fn read_me(r: &mut Reader, user: &User) -> CredentialInput {
    let mut input = CredentialInput::default();
    let password = r.string("password");
    let password_sent = password != Field::Absent;
    match password {
        Field::Absent => {}
        Field::Null => refuse(
            r,
            "password",
            ErrorCode::ValidationFailed,
            "must be a string: a password cannot be removed through /v1/me",
        ),
        Field::Value(raw) => input.password = new_password(r, &raw, Some(user)).map(Some),
    }
    input.current_password = r.string("current_password").into_value();
    only_with(
        r,
        "current_password",
        "password",
        input.current_password.is_some() && !password_sent,
    );
    input.totp_code = r.string("totp_code").into_value();
    match r.string("totp_secret_base64") {
        Field::Absent => only_with(
            r,
            "totp_code",
            "totp_secret_base64",
            input.totp_code.is_some(),
        ),
        Field::Null => input.totp = Some(None),
        Field::Value(raw) => {
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
                TotpSecret::parse(&raw).map_err(|invalid| r.invalid("totp_secret_base64", invalid))
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

/// The credential fields of `PATCH /v1/users/{id}` (`user`) and `POST /v1/users` (`None`):
/// no proofs needed, hashes may be imported, `null` removes.
pub fn read_admin(r: &mut Reader, user: Option<&User>) -> CredentialInput {
    let mut input = CredentialInput {
        password: match r.string("password") {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Value(raw) => new_password(r, &raw, user).map(Some),
        },
        password_hash: match r.string("password_hash") {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Value(raw) => ImportedHash::parse(&raw)
                .map_err(|invalid| r.invalid("password_hash", invalid))
                .ok()
                .map(Some),
        },
        totp: match r.string("totp_secret_base64") {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Value(raw) => TotpSecret::parse(&raw)
                .map_err(|invalid| r.invalid("totp_secret_base64", invalid))
                .ok()
                .map(Some),
        },
        ..CredentialInput::default()
    };
    if input.password.is_some() && input.password_hash.is_some() {
        refuse(
            r,
            "password_hash",
            ErrorCode::ValidationFailed,
            "send either password or password_hash, not both",
        );
        input.password_hash = None;
    }
    input
}

/// Who is proving a credential, and where from: each proof takes an attempt from the same
/// limits as sign-in, so a stolen session cannot guess the password or a TOTP code.
pub struct Prover<'a> {
    pub session_id: SessionId,
    pub throttle: &'a SignInThrottle,
    pub address: IpAddr,
}

impl Prover<'_> {
    fn attempt(&self, user: &User) -> Result<(), ApiError> {
        let user_id = user.id.to_string();
        let email_key = user.primary_email_key.as_deref().unwrap_or(&user_id);
        self.throttle
            .attempt(&account_key(&user.org_id, email_key), self.address)
            .map_err(ApiError::rate_limited)
    }
}

impl CredentialInput {
    /// Checks the proofs that `PATCH /v1/me` needs (403 when one fails, 429 when too many
    /// did), then hashes, seals a new TOTP secret with `secrets`, and fills `update`. A new
    /// password revokes the user's other sessions, keeping the prover's.
    pub async fn apply_me(
        self,
        user: &User,
        prover: &Prover<'_>,
        secrets: &SecretKeys,
        update: &mut UserUpdate,
    ) -> Result<(), ApiError> {
        if let Some(Some(new)) = &self.password {
            if let Some(stored) = &user.password_hash {
                prover.attempt(user)?;
                let current = self.current_password.as_deref().ok_or_else(|| {
                    ApiError::forbidden("current_password is required to change the password")
                })?;
                if password::verify(current, Some(stored)).await? == Verdict::Wrong {
                    return Err(ApiError::forbidden("current_password is wrong"));
                }
            }
            update.changes.password_hash = Some(Some(password::hash(new.as_str()).await?));
            update.on_password_change = Revoke::AllExcept(prover.session_id);
        }
        match self.totp {
            None => {}
            Some(Some(secret)) => {
                update.changes.totp_secret = Some(Some(secrets.seal(&user.id, &secret)));
                update.totp_step = self.enrolled_step;
            }
            Some(None) => {
                if let Some(stored) = &user.totp_secret {
                    prover.attempt(user)?;
                    let code = self.totp_code.as_deref().ok_or_else(|| {
                        ApiError::forbidden(
                            "totp_code is required to turn two-factor authentication off",
                        )
                    })?;
                    let step = secrets
                        .check_totp(&user.id, stored, code, totp::unix_now())
                        .ok_or_else(|| ApiError::forbidden("totp_code does not match"))?;
                    update.changes.totp_secret = Some(None);
                    update.totp_step = Some(step);
                }
            }
        }
        Ok(())
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
