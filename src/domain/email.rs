//! `EmailAddress`: a valid address (per the `email_address` crate, RFC 5322 addr-spec) of at
//! most 254 characters, without display text. `key()` is the lower-cased form that makes
//! addresses unique per organization case-insensitively.

use email_address::Options;

use super::{Invalid, string_value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);
string_value!(EmailAddress);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new("INVALID_EMAIL", why);
        let address = input.trim();
        if address.len() > 254 {
            return Err(invalid("must be at most 254 characters"));
        }
        let options = Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_minimum_sub_domains(2);
        email_address::EmailAddress::parse_with_options(address, options)
            .map_err(|e| invalid(&format!("not a valid e-mail address ({e})")))?;
        Ok(Self(address.to_owned()))
    }

    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_keyed_case_insensitively() {
        let email = EmailAddress::parse("  Ada.Lovelace+x@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+x@Example.COM");
        assert_eq!(email.key(), "ada.lovelace+x@example.com");
    }

    #[test]
    fn malformed_or_decorated_addresses_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "ada@localhost",
            long.as_str(),
        ] {
            assert_eq!(
                EmailAddress::parse(bad).unwrap_err().code,
                "INVALID_EMAIL",
                "{bad:?}"
            );
        }
    }
}
