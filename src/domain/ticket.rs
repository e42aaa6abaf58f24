//! One-time tickets (issue 17): what a ticket is for, and how long it may live. Each type is
//! its own OpenAPI enum value and is stored as its name.

use std::time::Duration;

use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};
use poem_openapi::Enum;

use super::{Invalid, stored_as_text};
use crate::error::ErrorCode;

// What a ticket does when redeemed. (Not a doc comment: the schema's description stays on the
// fields that use it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
#[oai(rename_all = "snake_case")]
#[derive(AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum TicketType {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
    Invite,
}

/// The shortest life a ticket may be given.
pub const MIN_TICKET_TTL: Duration = Duration::from_secs(60);

impl TicketType {
    pub const ALL: [TicketType; 4] = [
        TicketType::VerifyEmail,
        TicketType::ResetPassword,
        TicketType::ChangeEmail,
        TicketType::Invite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketType::VerifyEmail => "verify_email",
            TicketType::ResetPassword => "reset_password",
            TicketType::ChangeEmail => "change_email",
            TicketType::Invite => "invite",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// How long a ticket lives when no `ttl_seconds` is asked for: an hour for a password
    /// reset (it hands over the account), a day for the address tickets, a week for an
    /// invitation (people take their time).
    pub fn default_ttl(self) -> Duration {
        match self {
            TicketType::ResetPassword => Duration::from_secs(3600),
            TicketType::VerifyEmail | TicketType::ChangeEmail => Duration::from_secs(86_400),
            TicketType::Invite => Duration::from_secs(7 * 86_400),
        }
    }

    /// The longest life a ticket may be given: a day for a reset, a week for the address
    /// tickets, 30 days for an invitation.
    pub fn max_ttl(self) -> Duration {
        match self {
            TicketType::ResetPassword => Duration::from_secs(86_400),
            TicketType::VerifyEmail | TicketType::ChangeEmail => Duration::from_secs(7 * 86_400),
            TicketType::Invite => Duration::from_secs(30 * 86_400),
        }
    }

    /// `ttl_seconds` as asked for (or the default), within `MIN_TICKET_TTL..=max_ttl`.
    pub fn ttl(self, asked: Option<u64>) -> Result<Duration, Invalid> {
        let Some(seconds) = asked else {
            return Ok(self.default_ttl());
        };
        let ttl = Duration::from_secs(seconds);
        if ttl < MIN_TICKET_TTL || ttl > self.max_ttl() {
            return Err(Invalid::new(
                ErrorCode::InvalidTicketRequest,
                format!(
                    "a {} ticket lives {} to {} seconds",
                    self.as_str(),
                    MIN_TICKET_TTL.as_secs(),
                    self.max_ttl().as_secs()
                ),
            ));
        }
        Ok(ttl)
    }

    /// Whether redeeming it sets a password (then `password` is required).
    pub fn sets_password(self) -> bool {
        matches!(self, TicketType::ResetPassword | TicketType::Invite)
    }
}

stored_as_text!(TicketType, |name| TicketType::parse(name));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_types_round_trip_through_their_names() {
        for kind in TicketType::ALL {
            assert_eq!(TicketType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TicketType::parse("Invite"), None);
    }

    #[test]
    fn a_ttl_defaults_per_type_and_is_bounded() {
        let reset = TicketType::ResetPassword;
        assert_eq!(reset.ttl(None).unwrap(), Duration::from_secs(3600));
        assert_eq!(reset.ttl(Some(60)).unwrap(), Duration::from_secs(60));
        assert!(reset.ttl(Some(59)).is_err());
        assert!(reset.ttl(Some(86_401)).is_err());
        assert!(TicketType::Invite.ttl(Some(30 * 86_400)).is_ok());
        let refused = TicketType::Invite.ttl(Some(0)).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidTicketRequest);
        assert!(
            refused.reason.contains("60 to 2592000"),
            "{}",
            refused.reason
        );
    }
}
