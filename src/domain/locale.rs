//! `Locale`: a well-formed BCP 47 language tag (RFC 5646), held canonicalised with canonical
//! casing (`en-us` → `en-US`, `zh-hant-tw` → `zh-Hant-TW`).

use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};
use language_tags::LanguageTag;

use super::{Invalid, string_value};
use crate::error::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Locale(String);
string_value!(Locale);

/// Long enough for any real tag with a few variants and extensions.
const MAX_LEN: usize = 64;

impl Locale {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new(ErrorCode::InvalidLocale, why);
        if input.is_empty() || input.len() > MAX_LEN {
            return Err(invalid("must be a BCP 47 language tag such as en-US"));
        }
        let tag = LanguageTag::parse(input)
            .map_err(|e| invalid(&format!("not a BCP 47 language tag ({e}); e.g. en-US")))?;
        tag.validate()
            .map_err(|e| invalid(&format!("not a valid BCP 47 language tag ({e})")))?;
        let canonical = tag.canonicalize().unwrap_or(tag);
        Ok(Self(canonical.as_str().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stored_in_canonical_casing() {
        for (input, canonical) in [
            ("en-us", "en-US"),
            ("EN", "en"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("fr-CA", "fr-CA"),
            ("es-419", "es-419"),
        ] {
            assert_eq!(Locale::parse(input).unwrap().as_str(), canonical, "{input}");
        }
    }

    #[test]
    fn malformed_tags_are_refused() {
        for bad in [
            "",
            "en_US",
            "123",
            "english-language-please",
            "en--US",
            "-en",
            &"a".repeat(65),
        ] {
            assert_eq!(
                Locale::parse(bad).unwrap_err().code,
                ErrorCode::InvalidLocale,
                "{bad:?}"
            );
        }
    }
}
