//! `PhoneNumber`: a number that libphonenumber's metadata considers valid, entered with its
//! country code (`+…`) and held in E.164 (`+14155552671`).

use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};
use phonenumber::Mode;
use poem_openapi::registry::MetaSchema;

use super::{Invalid, string_value};
use crate::error::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct PhoneNumber(String);
string_value!(
    PhoneNumber,
    MetaSchema {
        pattern: Some(PATTERN.into()),
        ..MetaSchema::new("string")
    }
);

/// What the API takes: `+`, the country code's first digit, then up to 30 digits, spaces,
/// hyphens, dots and parentheses (`+1 (415) 555-2671`). Returned in E.164, which matches it too.
/// Whether the number exists in its country's numbering plan is beyond a pattern.
pub const PATTERN: &str = r"^\+[1-9][0-9 ().-]{1,30}$";

/// `PATTERN`, checked by hand.
fn matches_pattern(input: &str) -> bool {
    let mut chars = input.chars();
    chars.next() == Some('+')
        && chars.next().is_some_and(|c| matches!(c, '1'..='9'))
        && (1..=30).contains(&chars.clone().count())
        && chars.all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '.' | '-'))
}

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new(ErrorCode::InvalidPhoneNumber, why);
        if !matches_pattern(input) {
            return Err(invalid(
                "must be + and the country code, then digits with optional spaces, hyphens, \
                 dots or parentheses, e.g. +14155552671",
            ));
        }
        let number = phonenumber::parse(None, input)
            .map_err(|_| invalid("not a phone number; use E.164, e.g. +14155552671"))?;
        if !phonenumber::is_valid(&number) {
            return Err(invalid("not a valid phone number for its country"));
        }
        Ok(Self(number.format().mode(Mode::E164).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_to_e164() {
        for (input, e164) in [
            ("+14155552671", "+14155552671"),
            ("+1 415-555-2671", "+14155552671"),
            ("+44 20 7183 8750", "+442071838750"),
            ("+1 (415) 555.2671", "+14155552671"),
        ] {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), e164, "{input}");
        }
    }

    #[test]
    fn numbers_without_country_code_or_invalid_for_their_country_are_refused() {
        for bad in [
            "",
            "12345",
            "4155552671",
            "+1",
            "+1 000 000 0000",
            "+abc",
            "phone",
            " +14155552671",
            "+14155552671\n",
            "+1 800 FLOWERS",
            "+0 415 555 2671",
        ] {
            assert_eq!(
                PhoneNumber::parse(bad).unwrap_err().code,
                ErrorCode::InvalidPhoneNumber,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_pattern_in_the_spec_is_the_one_checked() {
        let pattern =
            jsonschema::validator_for(&serde_json::json!({ "pattern": PATTERN })).unwrap();
        for input in [
            "+14155552671",
            "+1 (415) 555-2671",
            "+1",
            "+12",
            "+0123",
            " +14155552671",
            "+14155552671 ",
            "+1415555267\n",
            "+1 415 555 2671 ext 3",
            &format!("+1{}", "2".repeat(30)),
            &format!("+1{}", "2".repeat(31)),
        ] {
            assert_eq!(
                matches_pattern(input),
                pattern.is_valid(&serde_json::json!(input)),
                "{input:?}"
            );
        }
    }
}
