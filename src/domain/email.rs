//! `EmailAddress`: a valid address (per the `email_address` crate, RFC 5322 addr-spec, RFC 6531
//! for non-ASCII local parts) of at most 254 characters, without display text, in one canonical
//! form: the local part NFC-normalised and kept as sent, the domain in its IDNA ASCII form
//! (UTS #46, lower case, `xn--` labels), so that `eve@bücher.example` and
//! `eve@xn--bcher-kva.example` are one address. `key()` is the lower-cased canonical form that
//! makes addresses unique per organization case-insensitively.
//!
//! Look-alikes are refused, not flagged (UTS #39): a local part or domain label whose letters
//! mix scripts beyond UTS #39's "highly restrictive" level (Cyrillic `а` among Latin letters),
//! or that holds a character outside UTS #39's identifier profile, is not an address we store.
//! Quoted local parts (`"a@b"@example.com`) are refused as well: they are legal but only ever
//! seen in spoofing.

use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};
use email_address::Options;
use poem_openapi::registry::MetaSchema;
use unicode_normalization::UnicodeNormalization;
use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

use super::{Invalid, string_value};
use crate::error::ErrorCode;

const MAX_LENGTH: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct EmailAddress(String);
string_value!(
    EmailAddress,
    MetaSchema {
        format: Some("email"),
        max_length: Some(MAX_LENGTH),
        ..MetaSchema::new("string")
    }
);

fn invalid(why: &str) -> Invalid {
    Invalid::new(ErrorCode::InvalidEmail, why)
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let too_long = || invalid("must be at most 254 characters");
        let address = input.trim();
        if address.len() > MAX_LENGTH {
            return Err(too_long());
        }
        let address: String = address.nfc().collect();
        let options = Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_minimum_sub_domains(2);
        email_address::EmailAddress::parse_with_options(&address, options)
            .map_err(|e| invalid(&format!("not a valid e-mail address ({e})")))?;
        let (local, domain) = address
            .rsplit_once('@')
            .ok_or_else(|| invalid("not a valid e-mail address"))?;
        if local.starts_with('"') {
            return Err(invalid("quoted local parts are not accepted"));
        }
        if !unmixed(local) {
            return Err(invalid(
                "the part before @ mixes scripts or uses characters that make look-alike \
                 addresses (UTS #39)",
            ));
        }
        let domain = idna::domain_to_ascii_strict(domain)
            .map_err(|_| invalid("the domain is not a valid internationalized domain name"))?;
        let (unicode_domain, _) = idna::domain_to_unicode(&domain);
        if !unicode_domain.split('.').all(unmixed) {
            return Err(invalid(
                "a label of the domain mixes scripts or uses characters that make look-alike \
                 addresses (UTS #39)",
            ));
        }
        let canonical = format!("{local}@{domain}");
        if canonical.len() > MAX_LENGTH {
            return Err(too_long());
        }
        Ok(Self(canonical))
    }

    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Whether `part` meets UTS #39's "highly restrictive" level: ASCII, one script, or one of the
/// CJK combinations. ASCII punctuation (`.`, `+`, `-`, `_`, …) belongs to no script and is
/// left out of the test.
fn unmixed(part: &str) -> bool {
    let text: String = part.chars().filter(|c| !c.is_ascii_punctuation()).collect();
    text.as_str()
        .check_restriction_level(RestrictionLevel::HighlyRestrictive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_keyed_case_insensitively() {
        let email = EmailAddress::parse("  Ada.Lovelace+x@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+x@example.com");
        assert_eq!(email.key(), "ada.lovelace+x@example.com");
    }

    #[test]
    fn a_unicode_domain_and_its_ascii_form_are_one_address() {
        for same in [
            "eve@bücher.example",
            "eve@BÜCHER.example",
            "eve@xn--bcher-kva.example",
            "eve@XN--BCHER-KVA.EXAMPLE",
            "eve@bu\u{308}cher.example",
        ] {
            let email = EmailAddress::parse(same).unwrap();
            assert_eq!(email.as_str(), "eve@xn--bcher-kva.example", "{same}");
        }
        assert_eq!(
            EmailAddress::parse("用户@例子.广告").unwrap().as_str(),
            "用户@xn--fsqu00a.xn--4rr70v"
        );
    }

    #[test]
    fn non_ascii_local_parts_of_one_script_are_kept_nfc_normalised() {
        for address in ["ада@example.com", "josé@example.com", "用户@example.com"] {
            assert_eq!(EmailAddress::parse(address).unwrap().as_str(), address);
        }
        let decomposed = "jose\u{301}@example.com";
        assert_eq!(
            EmailAddress::parse(decomposed).unwrap().as_str(),
            "jos\u{e9}@example.com"
        );
    }

    #[test]
    fn look_alike_addresses_that_mix_scripts_are_refused() {
        for mixed in [
            "\u{430}da@example.com",    // Cyrillic а in a Latin local part
            "p\u{430}ypal@example.com", // the same, inside
            "eve@\u{430}pple.example",  // a Cyrillic а in a Latin domain label
            "eve@xn--pple-43d.example", // that label in its ASCII form
        ] {
            let refused = EmailAddress::parse(mixed).unwrap_err();
            assert_eq!(refused.code, ErrorCode::InvalidEmail, "{mixed:?}");
            assert!(refused.reason.contains("UTS #39"), "{mixed:?}: {refused:?}");
        }
        for bad in [
            "ada\u{200B}@example.com",
            "ada\u{E000}@example.com",
            "\"ada@example.com\"@evil.example",
        ] {
            assert_eq!(
                EmailAddress::parse(bad).unwrap_err().code,
                ErrorCode::InvalidEmail,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_or_decorated_addresses_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        let long_after_idna = format!("{}@{}.example", "a".repeat(180), "ü".repeat(30));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "ada@localhost",
            "ada@exa_mple.com",
            long.as_str(),
            long_after_idna.as_str(),
        ] {
            assert_eq!(
                EmailAddress::parse(bad).unwrap_err().code,
                ErrorCode::InvalidEmail,
                "{bad:?}"
            );
        }
    }
}
