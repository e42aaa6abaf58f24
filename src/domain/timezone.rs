//! `Timezone`: an IANA time zone name that chrono-tz knows, matched case-insensitively and held
//! in canonical spelling. Pseudo-zones (`posixrules`, `localtime`, `Factory`, `posix/…`, `right/…`)
//! are files of the tz database, not time zones, and are refused.

use std::{collections::HashMap, sync::LazyLock};

use chrono_tz::{TZ_VARIANTS, Tz};
use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};

use super::{Invalid, string_value};
use crate::error::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Timezone(String);
string_value!(Timezone);

static BY_LOWERCASE_NAME: LazyLock<HashMap<String, Tz>> = LazyLock::new(|| {
    TZ_VARIANTS
        .iter()
        .map(|tz| (tz.name().to_ascii_lowercase(), *tz))
        .collect()
});

fn is_pseudo_zone(lowercase: &str) -> bool {
    matches!(lowercase, "posixrules" | "localtime" | "factory")
        || lowercase.starts_with("posix/")
        || lowercase.starts_with("right/")
}

impl Timezone {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let lowercase = input.to_ascii_lowercase();
        match BY_LOWERCASE_NAME.get(&lowercase) {
            Some(tz) if !is_pseudo_zone(&lowercase) => Ok(Self(tz.name().to_owned())),
            _ => Err(Invalid::new(
                ErrorCode::InvalidTimezone,
                "unknown IANA timezone",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezone_is_matched_case_insensitively_and_stored_canonically() {
        assert_eq!(
            Timezone::parse("america/new_york").unwrap().as_str(),
            "America/New_York"
        );
        assert_eq!(Timezone::parse("UTC").unwrap().as_str(), "UTC");
        assert_eq!(
            Timezone::parse("europe/PARIS").unwrap().as_str(),
            "Europe/Paris"
        );
        assert_eq!(
            Timezone::parse("Asia/Kolkata").unwrap().as_str(),
            "Asia/Kolkata"
        );
    }

    #[test]
    fn unknown_and_pseudo_zones_are_refused_with_the_documented_reason() {
        for bad in [
            "Mars/Olympus",
            "posixrules",
            "localtime",
            "Factory",
            "",
            " UTC",
            "UTC ",
            "posix/Europe/Paris",
            "right/UTC",
        ] {
            let invalid = Timezone::parse(bad).unwrap_err();
            assert_eq!(
                invalid,
                Invalid::new(ErrorCode::InvalidTimezone, "unknown IANA timezone"),
                "{bad:?}"
            );
        }
    }
}
