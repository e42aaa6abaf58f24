//! Human text: `PersonName` (first and last names), `DisplayName` and `Bio`. All are
//! NFC-normalised so that visually equal names are stored equally, and none may hold invisible
//! or spoofing characters (`text::check`): what a reader sees is what is stored.

use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};
use poem_openapi::registry::MetaSchema;
use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

use super::{
    Invalid, string_value,
    text::{self, TextRules},
};
use crate::error::ErrorCode;

/// Person names are letters: no emoji, no line breaks.
const PERSON_NAME: TextRules = TextRules {
    emoji: false,
    line_breaks: false,
};
const DISPLAY_NAME: TextRules = TextRules {
    emoji: true,
    line_breaks: false,
};
const BIO: TextRules = TextRules {
    emoji: true,
    line_breaks: true,
};

/// The schema of a text field: a `string` with the `pattern` of its rules.
fn text_schema(rules: TextRules) -> MetaSchema {
    MetaSchema {
        pattern: Some(rules.pattern().into()),
        ..MetaSchema::new("string")
    }
}

/// A first or last name: 1–64 letters of any script with combining marks, and single spaces,
/// hyphens or apostrophes only between letters (`José`, `Jean-Luc`, `O'Brien`, `李`).
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct PersonName(String);
string_value!(PersonName, text_schema(PERSON_NAME));

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new(ErrorCode::InvalidName, why);
        text::check_controls(input, PERSON_NAME).map_err(invalid)?;
        let name: String = input.trim().nfc().collect();
        let length = name.chars().count();
        if !(1..=64).contains(&length) {
            return Err(invalid("must be 1–64 characters"));
        }
        text::check(&name, PERSON_NAME).map_err(invalid)?;
        let mut previous_is_letter = false;
        for c in name.chars() {
            // Joiners passed `text::check` only where their script needs them, inside a word.
            let joins = matches!(c, '\u{200C}' | '\u{200D}');
            if c.is_alphabetic() || ((is_combining_mark(c) || joins) && previous_is_letter) {
                previous_is_letter = true;
            } else if matches!(c, ' ' | '-' | '\'' | '’') {
                if !previous_is_letter {
                    return Err(invalid(
                        "spaces, hyphens and apostrophes may only stand between letters",
                    ));
                }
                previous_is_letter = false;
            } else {
                return Err(invalid(
                    "may contain only letters, single spaces, hyphens and apostrophes",
                ));
            }
        }
        if !previous_is_letter {
            return Err(invalid(
                "spaces, hyphens and apostrophes may only stand between letters",
            ));
        }
        Ok(Self(name))
    }
}

/// How the user is shown: 1–100 characters after trimming, with at least one visible letter or
/// digit; emoji allowed.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct DisplayName(String);
string_value!(DisplayName, text_schema(DISPLAY_NAME));

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new(ErrorCode::InvalidName, why);
        text::check_controls(input, DISPLAY_NAME).map_err(invalid)?;
        let name: String = input.trim().nfc().collect();
        if !(1..=100).contains(&name.chars().count()) {
            return Err(invalid("must be 1–100 characters after trimming"));
        }
        text::check(&name, DISPLAY_NAME).map_err(invalid)?;
        if !text::has_visible_letter_or_digit(&name) {
            return Err(invalid("must contain at least one visible letter or digit"));
        }
        Ok(Self(name))
    }
}

/// Free text about the user: at most 2,000 characters; line breaks, tabs and emoji allowed,
/// other control and invisible characters not. Empty is refused: send `null` to clear.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Bio(String);
string_value!(Bio, text_schema(BIO));

impl Bio {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new(ErrorCode::InvalidBio, why);
        text::check_controls(input, BIO).map_err(invalid)?;
        let bio: String = input.trim().nfc().collect();
        if bio.is_empty() {
            return Err(invalid("must not be empty; send null to clear"));
        }
        if bio.chars().count() > 2000 {
            return Err(invalid("must be at most 2,000 characters"));
        }
        text::check(&bio, BIO).map_err(invalid)?;
        Ok(Self(bio))
    }
}

/// Why a user is suspended, for the organization's admins (never shown to the user): 1–500
/// characters by the rules of `Bio`.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct SuspensionReason(String);
string_value!(SuspensionReason, text_schema(BIO));

impl SuspensionReason {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new(ErrorCode::InvalidSuspension, why);
        text::check_controls(input, BIO).map_err(invalid)?;
        let reason: String = input.trim().nfc().collect();
        if reason.is_empty() {
            return Err(invalid("must not be empty; leave reason out to give none"));
        }
        if reason.chars().count() > 500 {
            return Err(invalid("must be at most 500 characters"));
        }
        text::check(&reason, BIO).map_err(invalid)?;
        Ok(Self(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_names_of_any_script_with_inner_punctuation_are_accepted() {
        for name in [
            "José",
            "Jean-Luc",
            "O'Brien",
            "O’Brien",
            "李",
            "Mary Ann",
            "Zoë",
            "Ngũgĩ",
            "Renée",
        ] {
            assert_eq!(
                PersonName::parse(name).unwrap().as_str(),
                name.nfc().collect::<String>(),
                "{name}"
            );
        }
        assert_eq!(PersonName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert_eq!(
            PersonName::parse(&"a".repeat(64)).unwrap().as_str().len(),
            64
        );
    }

    #[test]
    fn person_names_are_stored_nfc_normalised() {
        let decomposed = "Jose\u{301}";
        assert_eq!(PersonName::parse(decomposed).unwrap().as_str(), "Jos\u{e9}");
    }

    #[test]
    fn person_names_with_digits_symbols_or_stray_punctuation_are_refused() {
        for bad in [
            "J0hn",
            "John!",
            "-John",
            "John-",
            "Jean--Luc",
            "Mary  Ann",
            "",
            "   ",
            "Tab\tName",
            "a.b",
            "\u{301}a",
        ] {
            assert_eq!(
                PersonName::parse(bad).unwrap_err().code,
                ErrorCode::InvalidName,
                "{bad:?}"
            );
        }
        assert!(PersonName::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn display_names_are_trimmed_and_allow_anything_printable() {
        assert_eq!(
            DisplayName::parse("  Ada 🚀 2  ").unwrap().as_str(),
            "Ada 🚀 2"
        );
        assert_eq!(
            DisplayName::parse(&"x".repeat(100)).unwrap().as_str().len(),
            100
        );
        for bad in ["", "   ", "bell\u{7}", &"x".repeat(101)] {
            assert_eq!(
                DisplayName::parse(bad).unwrap_err().code,
                ErrorCode::InvalidName,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bios_allow_line_breaks_up_to_two_thousand_characters() {
        assert_eq!(
            Bio::parse("Line one\nLine two\tend").unwrap().as_str(),
            "Line one\nLine two\tend"
        );
        assert!(Bio::parse(&"é".repeat(2000)).is_ok());
        for bad in ["", "  ", "nul\u{0}", &"b".repeat(2001)] {
            assert_eq!(
                Bio::parse(bad).unwrap_err().code,
                ErrorCode::InvalidBio,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn invisible_and_spoofing_characters_are_refused_with_the_fields_code() {
        for bad in [
            "\u{200B}\u{200B}\u{200B}",
            "Ada\u{202E}ecalevoL",
            "Ada\u{2066}x\u{2069}",
            "Ada\u{2028}Lovelace",
            "Ada\u{E0041}",
            "Ada\u{FFFF}",
            "\u{3164}",
        ] {
            assert_eq!(
                PersonName::parse(bad).unwrap_err().code,
                ErrorCode::InvalidName,
                "{bad:?}"
            );
            assert_eq!(
                DisplayName::parse(bad).unwrap_err().code,
                ErrorCode::InvalidName,
                "{bad:?}"
            );
            assert_eq!(
                Bio::parse(bad).unwrap_err().code,
                ErrorCode::InvalidBio,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn display_names_and_bios_take_emoji_sequences_person_names_do_not() {
        let astronaut = "Ada 👩\u{200D}🚀";
        assert_eq!(DisplayName::parse(astronaut).unwrap().as_str(), astronaut);
        assert_eq!(Bio::parse(astronaut).unwrap().as_str(), astronaut);
        assert!(PersonName::parse("Ada👩").is_err());
        // A display name needs something to read besides emoji.
        assert!(DisplayName::parse("🚀🚀").is_err());
        assert!(Bio::parse("🚀🚀").is_ok());
    }

    #[test]
    fn person_names_keep_the_joiners_their_script_needs() {
        assert!(PersonName::parse("می\u{200C}نا").is_ok());
        assert!(PersonName::parse("Ad\u{200C}a").is_err());
    }
}
