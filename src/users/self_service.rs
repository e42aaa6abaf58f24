//! Self-service (issue 17): the flows where users-api mails the ticket itself rather than
//! handing it to the caller's app. A password reset asked for by address, a link and 6-digit
//! code proving the current address, a verified change of address (`PATCH /v1/me` on a server
//! with a mailer), and an invitation mailed on creation. Each queues its message in the
//! transaction that issues its ticket (`db::tickets`, `mail`), so a change that rolls back
//! sends nothing. A token or code exists in clear only in the sealed message: never in a
//! response, an event or a log line.

use std::net::IpAddr;

use chrono::NaiveDateTime;

use crate::{
    auth::{TICKET_PREFIX, hash_code, hash_secret, new_code, random_secret, throttle::account_key},
    db::{
        models::{User, UserChanges},
        now,
        tickets::{self, MAX_CODE_ATTEMPTS, Ticket, expired},
        users::Write,
    },
    domain::{Actor, EmailAddress, OrgId, TicketId, TicketType, UserStatus},
    error::{ApiError, ErrorCode, FieldError},
    events::users::UserEvents,
    mail::{MailKind, Mailer, Message, QueuedMail},
    state::AppState,
};

/// The pages under `--public-url` that the mailed links open, by ticket type.
pub fn link_path(kind: TicketType) -> &'static str {
    match kind {
        TicketType::ResetPassword => "reset-password",
        TicketType::VerifyEmail => "verify-email",
        TicketType::ChangeEmail => "change-email",
        TicketType::Invite => "accept-invite",
    }
}

/// A ticket about to be issued: its link (with the token, to mail) and its row but the user.
struct Fresh {
    token_hash: String,
    id: TicketId,
    kind: TicketType,
    at: NaiveDateTime,
    link: String,
}

impl Fresh {
    fn new(mailer: &Mailer, kind: TicketType) -> Result<Self, ApiError> {
        let token = random_secret(TICKET_PREFIX);
        let link = mailer.public_link(link_path(kind), &token)?;
        Ok(Self {
            token_hash: hash_secret(&token),
            id: TicketId::new(),
            kind,
            at: now(),
            link,
        })
    }

    fn ticket(&self, user: &User, target_email: Option<EmailAddress>) -> Result<Ticket, ApiError> {
        let ttl =
            chrono::Duration::from_std(self.kind.default_ttl()).map_err(ApiError::internal)?;
        Ok(Ticket {
            id: self.id,
            org_id: user.org_id,
            user_id: user.id,
            kind: self.kind,
            token_hash: self.token_hash.clone(),
            target_email,
            expires_at: self.at + ttl,
            used_at: None,
            superseded_at: None,
            created_at: self.at,
            code_hash: None,
            code_attempts: 0,
        })
    }
}

/// `message` prepared for `org_id`, with `request_id` (a message queued outside the request's
/// task would have none).
fn prepare(
    state: &AppState,
    mailer: &Mailer,
    org_id: OrgId,
    message: Message,
    request_id: &Option<String>,
) -> Result<QueuedMail, ApiError> {
    let mut mail = mailer.prepare(&state.secrets, org_id, message)?;
    mail.request_id.clone_from(request_id);
    Ok(mail)
}

/// `POST /v1/password-resets`: asks for a reset of the account of `org_id` at `email` from
/// `address`. What the caller learns is the same for every address: the check of the mailer,
/// the format and the limits come first and depend on nothing stored; the lookup and the
/// issuing then run after the response, so its time does not tell whether an account was
/// found either. Only an active user who signs in with their address gets a message.
pub async fn request_password_reset(
    state: &AppState,
    org_id: OrgId,
    email: &str,
    address: IpAddr,
) -> Result<(), ApiError> {
    let mailer = state.mailer()?.with_links()?.clone();
    let email = EmailAddress::parse(email).map_err(|invalid| {
        ApiError::validation(vec![FieldError::new("email", invalid.code, invalid.reason)])
    })?;
    let email_key = email.key();
    // Its own bucket per account (a flood of resets must not use up the owner's sign-ins),
    // the sign-in limit's per address.
    let account = format!("password-reset/{}", account_key(&org_id, &email_key));
    state.sign_in_throttle.attempt(&account, address).await?;
    let fresh = Fresh::new(&mailer, TicketType::ResetPassword)?;
    let request_id = crate::api::request_id();
    let state = state.clone();
    tokio::spawn(async move {
        let make = |user: &User| {
            let eligible = user.status == UserStatus::Active && user.primary_email_auth_enabled;
            let Some(to) = user.primary_email.clone().filter(|_| eligible) else {
                return Ok(None);
            };
            let message = Message {
                kind: MailKind::ResetPassword,
                to,
                link: Some(fresh.link.clone()),
                code: None,
                vars: Default::default(),
            };
            let mail = prepare(&state, &mailer, user.org_id, message, &request_id)?;
            Ok(Some((fresh.ticket(user, None)?, mail)))
        };
        if let Err(error) = tickets::issue_to_address(&state.db, &org_id, &email_key, make).await {
            tracing::warn!(error = %error.message, request_id, "a password reset was not issued");
        }
    });
    Ok(())
}

/// What `send_verification` sent.
pub struct VerificationSent {
    pub to: EmailAddress,
    pub expires_at: NaiveDateTime,
}

/// `POST /v1/me/email-verification`: mails `user`'s current primary address a `verify_email`
/// ticket, as a link and as a 6-digit code (superseding the ones sent before). 409
/// `TICKET_NOT_APPLICABLE` when there is no address, or it is verified already.
pub async fn send_verification(
    state: &AppState,
    user: &User,
    address: IpAddr,
) -> Result<VerificationSent, ApiError> {
    let mailer = state.mailer()?.with_links()?;
    let account = format!("email-verification/{}", user.id);
    state.sign_in_throttle.attempt(&account, address).await?;
    let fresh = Fresh::new(mailer, TicketType::VerifyEmail)?;
    let code = new_code();
    let code_hash = hash_code(&fresh.id.to_string(), &code);
    let request_id = crate::api::request_id();
    let make = |current: &User| {
        let to = match (&current.primary_email, current.primary_email_verified) {
            (None, _) => Err("you have no primary e-mail address to verify"),
            (Some(_), true) => Err("your primary e-mail address is verified already"),
            (Some(to), false) => Ok(to.clone()),
        }
        .map_err(|reason| ApiError::new(ErrorCode::TicketNotApplicable, reason))?;
        let mut ticket = fresh.ticket(current, Some(to.clone()))?;
        ticket.code_hash = Some(code_hash.clone());
        let message = Message {
            kind: MailKind::VerifyEmail,
            to,
            link: Some(fresh.link.clone()),
            code: Some(code.clone()),
            vars: Default::default(),
        };
        let mail = prepare(state, mailer, current.org_id, message, &request_id)?;
        Ok((ticket, vec![mail]))
    };
    let ticket = tickets::issue_mailed(&state.db, &user.org_id, &user.id, make).await?;
    Ok(VerificationSent {
        to: ticket
            .target_email
            .ok_or_else(|| ApiError::internal("a verify_email ticket without its address"))?,
        expires_at: ticket.expires_at,
    })
}

/// `POST /v1/me/email-verification/confirm`: `code` (six digits, by the schema) against the
/// latest code mailed to `user`. 404 when none was sent; 410 when that ticket is used,
/// superseded, expired or has taken `MAX_CODE_ATTEMPTS` wrong codes; a wrong code is 422
/// `WRONG_CODE` (the last allowed one, 410). A right one redeems the ticket as its link would.
pub async fn confirm_verification(
    state: &AppState,
    events_of: impl Fn(Actor) -> UserEvents,
    user: &User,
    code: &str,
) -> Result<(), ApiError> {
    let ticket = tickets::latest_with_code(&state.db, &user.id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "no verification code was sent; ask for one with POST /v1/me/email-verification",
            )
        })?;
    if let Some(refusal) = ticket.refusal(now()) {
        return Err(refusal);
    }
    if ticket.code_hash.as_deref() != Some(hash_code(&ticket.id.to_string(), code).as_str()) {
        let wrong = tickets::count_wrong_code(&state.db, &ticket.id).await?;
        if wrong >= MAX_CODE_ATTEMPTS {
            return Err(expired(
                "too many wrong codes were typed; ask for a new one",
            ));
        }
        let left = MAX_CODE_ATTEMPTS - wrong;
        return Err(ApiError::validation(vec![FieldError::new(
            "code",
            ErrorCode::WrongCode,
            format!("not the code that was sent; {left} more tries before it ends"),
        )]));
    }
    let expected = Some(TicketType::VerifyEmail);
    super::tickets::redeem_found(state, events_of, &ticket, expected, None).await?;
    Ok(())
}

/// A verified change of address asked for through `PATCH /v1/me` on a server with a mailer:
/// the ticket to mail to the new address, made before the write.
pub struct EmailChange<'a> {
    state: &'a AppState,
    mailer: &'a Mailer,
    fresh: Fresh,
    to: EmailAddress,
    /// The change that was waiting before this one, for the event.
    before: Option<EmailAddress>,
    request_id: Option<String>,
}

impl<'a> EmailChange<'a> {
    /// The change to `to` that `user` (as read before the write) asks for, when `changes`
    /// moves them to a new address and users-api sends mail; `None` when the change is
    /// applied directly (no mailer, no new address, or the same address written otherwise).
    pub async fn of(
        state: &'a AppState,
        user: &User,
        changes: &UserChanges,
    ) -> Result<Option<Self>, ApiError> {
        let (Some(mailer), Some(Some(to))) = (&state.mailer, &changes.primary_email) else {
            return Ok(None);
        };
        if user.primary_email_key.as_deref() == Some(to.key().as_str()) {
            return Ok(None);
        }
        Ok(Some(Self {
            state,
            mailer: mailer.with_links()?,
            fresh: Fresh::new(mailer, TicketType::ChangeEmail)?,
            to: to.clone(),
            before: crate::db::me::pending_email(&state.db, &user.id).await?,
            request_id: crate::api::request_id(),
        }))
    }

    /// Turns `write` (against `current` as locked) from a change of address into a pending
    /// one: the address columns are left alone, and a `change_email` ticket to the new address
    /// is issued and mailed there, a notice without a link to the current one, and
    /// `user.email_change_requested` recorded.
    pub fn divert(
        &self,
        current: &User,
        events: &UserEvents,
        write: &mut Write,
    ) -> Result<(), ApiError> {
        let changes = &mut write.changes;
        if !matches!(changes.primary_email_key, Some(Some(_))) {
            // The address as locked is already this one (the key did not change).
            return Ok(());
        }
        changes.primary_email = None;
        changes.primary_email_key = None;
        changes.primary_email_verified = None;
        let org_id = current.org_id;
        let link = Message {
            kind: MailKind::ChangeEmail,
            to: self.to.clone(),
            link: Some(self.fresh.link.clone()),
            code: None,
            vars: Default::default(),
        };
        let mut mails = vec![prepare(
            self.state,
            self.mailer,
            org_id,
            link,
            &self.request_id,
        )?];
        if let Some(old) = &current.primary_email {
            let notice = Message {
                kind: MailKind::EmailChangeNotice,
                to: old.clone(),
                link: None,
                code: None,
                vars: [("new_email".to_owned(), self.to.to_string())].into(),
            };
            mails.push(prepare(
                self.state,
                self.mailer,
                org_id,
                notice,
                &self.request_id,
            )?);
        }
        write.ticket = Some(self.fresh.ticket(current, Some(self.to.clone()))?);
        write.mails = mails;
        write.events =
            vec![events.email_change_requested(current, self.before.as_ref(), &self.to)?];
        Ok(())
    }
}

/// `POST /v1/users` with `invite: true` on a server with a mailer: the `invite` ticket for
/// `user` (about to be created) and its message, to store with the user. `None` when the user
/// has no address to mail, or the mailer no `--public-url` to link to (the app then issues the
/// ticket itself, as without a mailer).
pub fn invitation(state: &AppState, user: &User) -> Result<Option<(Ticket, QueuedMail)>, ApiError> {
    let mailer = state
        .mailer
        .as_ref()
        .and_then(|mailer| mailer.with_links().ok());
    let (Some(mailer), Some(to)) = (mailer, &user.primary_email) else {
        return Ok(None);
    };
    let fresh = Fresh::new(mailer, TicketType::Invite)?;
    let message = Message {
        kind: MailKind::Invite,
        to: to.clone(),
        link: Some(fresh.link.clone()),
        code: None,
        vars: Default::default(),
    };
    let mail = prepare(
        state,
        mailer,
        user.org_id,
        message,
        &crate::api::request_id(),
    )?;
    Ok(Some((fresh.ticket(user, None)?, mail)))
}
