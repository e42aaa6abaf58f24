//! One-time tickets (issue 17): issuing one for a user (`POST /v1/users/{id}/tickets`) and
//! redeeming one (`POST /v1/tickets/redeem`). A ticket's token is shown once; only its hash is
//! stored (`db::tickets`). What each type does when redeemed, and when it applies, is decided
//! here; the consumption and the effect commit together (`db::tickets::redeem`).

use std::net::IpAddr;

use super::credentials::personal_words;
use crate::{
    auth::{
        Caller, TICKET_PREFIX, access, hash_secret, is_ticket_token, new_session,
        password::{self, NewPassword},
        random_secret,
        throttle::account_key,
    },
    db::{
        models::{Session, User, UserChanges},
        now,
        sessions::Revoke,
        tickets::{self, Effect, Ticket, expired},
        users,
    },
    domain::{Actor, EmailAddress, EventType, TicketId, TicketType, UserId, UserStatus},
    error::{ApiError, ErrorCode, FieldError},
    events::{sessions as session_events, users::UserEvents},
    state::AppState,
};

/// A ticket as asked for.
pub struct TicketRequest {
    pub kind: TicketType,
    pub ttl_seconds: Option<u64>,
    pub redirect_url: Option<String>,
    pub email: Option<String>,
}

/// A ticket just issued: the token, shown this once.
pub struct IssuedTicket {
    pub token: String,
    /// `redirect_url` with `token=<token>` added to its query.
    pub url: Option<String>,
    pub ticket: Ticket,
}

/// `caller` issues a ticket for user `user_id` of their organization.
pub async fn issue(
    state: &AppState,
    caller: &Caller,
    user_id: &UserId,
    request: TicketRequest,
) -> Result<IssuedTicket, ApiError> {
    let kind = request.kind;
    let mut invalid = Vec::new();
    let ttl = kind.ttl(request.ttl_seconds).map_err(|refused| {
        invalid.push(FieldError::new("ttl_seconds", refused.code, refused.reason))
    });
    let target = match (kind, request.email) {
        (TicketType::ChangeEmail, Some(raw)) => EmailAddress::parse(&raw)
            .map_err(|refused| invalid.push(FieldError::new("email", refused.code, refused.reason)))
            .ok(),
        (TicketType::ChangeEmail, None) => {
            invalid.push(FieldError::new(
                "email",
                ErrorCode::InvalidTicketRequest,
                "required for a change_email ticket: the address to move to",
            ));
            None
        }
        (_, Some(_)) => {
            invalid.push(FieldError::new(
                "email",
                ErrorCode::InvalidTicketRequest,
                "only a change_email ticket takes an address",
            ));
            None
        }
        (_, None) => None,
    };
    let redirect = request
        .redirect_url
        .map(|raw| allowed_redirect(&state.redirect_origins, &raw))
        .transpose()
        .map_err(|refused| invalid.push(refused))
        .ok()
        .flatten();
    if !invalid.is_empty() {
        return Err(ApiError::validation(invalid));
    }
    let ttl = chrono::Duration::from_std(ttl.unwrap_or_default()).map_err(ApiError::internal)?;
    let token = random_secret(TICKET_PREFIX);
    let token_hash = hash_secret(&token);
    let at = now();
    let make = |user: &User| {
        access::may_issue_ticket(caller, user)?;
        applies_to(kind, user)?;
        let target_email = match kind {
            TicketType::VerifyEmail => user.primary_email.clone(),
            TicketType::ChangeEmail => target.clone(),
            _ => None,
        };
        Ok(Ticket {
            id: TicketId::new(),
            org_id: user.org_id,
            user_id: user.id,
            kind,
            token_hash: token_hash.clone(),
            target_email,
            expires_at: at + ttl,
            used_at: None,
            superseded_at: None,
            created_at: at,
            code_hash: None,
            code_attempts: 0,
        })
    };
    let ticket = tickets::issue(&state.db, &caller.org_id, user_id, make).await?;
    let url = redirect.map(|mut url| {
        url.query_pairs_mut().append_pair("token", &token);
        url.to_string()
    });
    Ok(IssuedTicket { token, url, ticket })
}

/// 409 `TICKET_NOT_APPLICABLE` unless a `kind` ticket makes sense for `user` as they are: an
/// invitation only for an invited user, and nothing else for one (they accept first); an
/// address to verify only when there is one.
fn applies_to(kind: TicketType, user: &User) -> Result<(), ApiError> {
    let invited = user.status == UserStatus::Invited;
    let refusal = match kind {
        TicketType::Invite if !invited => "an invite ticket is only for an invited user",
        TicketType::Invite => return Ok(()),
        _ if invited => "an invited user accepts their invitation first (an invite ticket)",
        TicketType::VerifyEmail if user.primary_email.is_none() => {
            "the user has no primary e-mail address to verify"
        }
        _ => return Ok(()),
    };
    Err(ApiError::new(ErrorCode::TicketNotApplicable, refusal))
}

/// `raw` as a URL whose origin is one of `origins` (422 otherwise).
fn allowed_redirect(origins: &[String], raw: &str) -> Result<url::Url, FieldError> {
    let refuse = |code, reason: String| FieldError::new("redirect_url", code, reason);
    let url = url::Url::parse(raw)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| {
            refuse(
                ErrorCode::RedirectNotAllowed,
                "must be an absolute http(s) URL".into(),
            )
        })?;
    let origin = url.origin().ascii_serialization();
    if origins.is_empty() {
        return Err(refuse(
            ErrorCode::RedirectNotAllowed,
            "no redirect origins are configured (--redirect-origins)".into(),
        ));
    }
    if !origins.contains(&origin) {
        return Err(refuse(
            ErrorCode::RedirectNotAllowed,
            format!("{origin} is not one of the allowed redirect origins"),
        ));
    }
    Ok(url)
}

/// A redemption as sent.
pub struct Redemption<'a> {
    pub token: &'a str,
    pub password: Option<&'a str>,
    /// The type the redeeming page expects.
    pub expected: Option<TicketType>,
    /// The client address, for the sign-in limit.
    pub address: IpAddr,
}

/// What a redemption did: its type, and a session when it signs the user in.
pub struct Redeemed {
    pub kind: TicketType,
    pub session: Option<(Session, String)>,
}

/// Redeems a ticket. `events_of` records changes made by the ticket's user.
pub async fn redeem(
    state: &AppState,
    events_of: impl Fn(Actor) -> UserEvents,
    redemption: Redemption<'_>,
) -> Result<Redeemed, ApiError> {
    let Redemption {
        token,
        password,
        expected,
        address,
    } = redemption;
    if !is_ticket_token(token) {
        return Err(ApiError::validation(vec![FieldError::new(
            "token",
            ErrorCode::ValidationFailed,
            "not a ticket token: tkt_ followed by 43 base64url characters",
        )]));
    }
    let token_hash = hash_secret(token);
    // Counted as a sign-in attempt from this address (and of this token), before any work.
    let account = format!("ticket/{token_hash}");
    state.sign_in_throttle.attempt(&account, address).await?;
    let found = tickets::find(&state.db, &token_hash)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if let Some(refusal) = found.refusal(now()) {
        return Err(refusal);
    }
    let check = |ticket: &Ticket| check_type(expected, ticket.kind);
    check(&found)?;
    let new_hash = match (found.kind.sets_password(), password) {
        (true, Some(raw)) => {
            let user = users::find(&state.db, &found.org_id, &found.user_id).await?;
            let checked = NewPassword::parse(raw, &personal_words(Some(&user))).map_err(|e| {
                ApiError::validation(vec![FieldError::new("password", e.code, e.reason)])
            })?;
            Some(password::hash(checked.as_str()).await?)
        }
        (true, None) => return Err(password_refused("required to redeem this ticket")),
        (false, Some(_)) => {
            return Err(password_refused(
                "only reset_password and invite tickets take a password",
            ));
        }
        (false, None) => None,
    };
    redeem_found(state, events_of, &found, expected, new_hash).await
}

/// Redeems `found` (as read, with no refusal then), expecting `expected`, with `new_hash`
/// for the types that set a password: its consumption and effect commit together
/// (`db::tickets::redeem`).
pub(crate) async fn redeem_found(
    state: &AppState,
    events_of: impl Fn(Actor) -> UserEvents,
    found: &Ticket,
    expected: Option<TicketType>,
    new_hash: Option<String>,
) -> Result<Redeemed, ApiError> {
    let check = |ticket: &Ticket| check_type(expected, ticket.kind);
    let token_hash = &found.token_hash;
    let lifetime = state.tokens.lifetime();
    let decide = |ticket: &Ticket, user: &User| effect(ticket, user, new_hash.as_deref(), lifetime);
    let events = events_of(Actor::User(found.user_id));
    let record = |before: &User, after: &User, session: Option<&Session>| {
        let mut recorded = match named_event(found.kind) {
            Some(named) => events.updated_and(before, after, named)?,
            None => events.updated(before, after)?,
        };
        if let Some(session) = session {
            let request_id = events.origin.request_id.clone();
            recorded.push(session_events::created(after.org_id, session, request_id));
        }
        Ok(recorded)
    };
    let (ticket, user, session) =
        tickets::redeem(&state.db, token_hash, now(), check, decide, record).await?;
    if ticket.kind == TicketType::ResetPassword
        && let Some(email_key) = &user.primary_email_key
    {
        let account = account_key(&user.org_id, email_key);
        state.sign_in_throttle.forgive(&account).await?;
    }
    let session = match session {
        Some(session) => {
            let token = state.tokens.issue(&session, &user.org_id)?;
            Some((session, token))
        }
        None => None,
    };
    Ok(Redeemed {
        kind: ticket.kind,
        session,
    })
}

fn password_refused(reason: &str) -> ApiError {
    ApiError::validation(vec![FieldError::new(
        "password",
        ErrorCode::InvalidTicketRequest,
        reason,
    )])
}

/// 422 `TICKET_TYPE_MISMATCH` when the page expects another type (nothing is redeemed).
fn check_type(expected: Option<TicketType>, kind: TicketType) -> Result<(), ApiError> {
    match expected {
        Some(expected) if expected != kind => Err(ApiError::validation(vec![FieldError::new(
            "type",
            ErrorCode::TicketTypeMismatch,
            format!("not a {} ticket; nothing was redeemed", expected.as_str()),
        )])),
        _ => Ok(()),
    }
}

/// The event that names a redemption's flow, beside `user.updated`.
fn named_event(kind: TicketType) -> Option<EventType> {
    match kind {
        TicketType::VerifyEmail => Some(EventType::UserEmailVerified),
        TicketType::ChangeEmail => Some(EventType::UserEmailChanged),
        TicketType::ResetPassword => Some(EventType::UserPasswordReset),
        // Its `user.updated` shows `status` going from `invited` to `active`.
        TicketType::Invite => None,
    }
}

/// What redeeming `ticket` does to `user` (as locked), with `new_hash` for the types that set
/// a password. A session is started only for a user who could now sign in with that password
/// alone (active, e-mail sign-in on, no 2FA).
fn effect(
    ticket: &Ticket,
    user: &User,
    new_hash: Option<&str>,
    lifetime: std::time::Duration,
) -> Result<Effect, ApiError> {
    let mut changes = UserChanges::default();
    let mut revoke = Revoke::None;
    let target_key = ticket.target_email.as_ref().map(EmailAddress::key);
    match ticket.kind {
        TicketType::VerifyEmail => {
            if user.primary_email_key != target_key {
                return Err(expired("the user's address changed since it was issued"));
            }
            if !user.primary_email_verified {
                changes.primary_email_verified = Some(true);
            }
        }
        TicketType::ChangeEmail => {
            let target = ticket
                .target_email
                .clone()
                .ok_or_else(|| ApiError::internal("a change_email ticket without an address"))?;
            if user.primary_email.as_ref() != Some(&target) {
                changes.primary_email_key = Some(Some(target.key()));
                changes.primary_email = Some(Some(target));
            }
            if changes.primary_email.is_some() || !user.primary_email_verified {
                changes.primary_email_verified = Some(true);
            }
        }
        TicketType::ResetPassword => {
            changes.password_hash = Some(new_hash.map(str::to_owned));
            revoke = Revoke::All;
        }
        TicketType::Invite => {
            if user.status != UserStatus::Invited {
                return Err(expired("the user is no longer invited"));
            }
            changes.status = Some(UserStatus::Active);
            changes.password_hash = Some(new_hash.map(str::to_owned));
        }
    }
    let status = changes.status.unwrap_or(user.status_now());
    let signs_in = ticket.kind.sets_password()
        && status == UserStatus::Active
        && user.primary_email_auth_enabled
        && user.totp_secret.is_none();
    Ok(Effect {
        changes,
        revoke,
        session: signs_in.then(|| new_session(&user.id, lifetime)),
    })
}
