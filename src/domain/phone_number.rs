//! `PhoneNumber`: a number that libphonenumber's metadata considers valid, entered with its
//! country code (`+…`) and held in E.164 (`+14155552671`).

use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};
use phonenumber::Mode;

use super::{Invalid, string_value};
use crate::error::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct PhoneNumber(String);
string_value!(PhoneNumber);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new(ErrorCode::InvalidPhoneNumber, why);
        let input = input.trim();
        if !input.starts_with('+') || input.len() > 32 {
            return Err(invalid(
                "must be in international form with the country code, e.g. +14155552671",
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
        ] {
            assert_eq!(
                PhoneNumber::parse(bad).unwrap_err().code,
                ErrorCode::InvalidPhoneNumber,
                "{bad:?}"
            );
        }
    }
}
