//! Human text: `PersonName` (first and last names), `DisplayName` and `Bio`. All are
//! NFC-normalised so that visually equal names are stored equally.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

use super::{Invalid, string_value};

/// A first or last name: 1–64 letters of any script with combining marks, and single spaces,
/// hyphens or apostrophes only between letters (`José`, `Jean-Luc`, `O'Brien`, `李`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);
string_value!(PersonName);

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new("INVALID_NAME", why);
        let name: String = input.trim().nfc().collect();
        let length = name.chars().count();
        if !(1..=64).contains(&length) {
            return Err(invalid("must be 1–64 characters"));
        }
        let mut previous_is_letter = false;
        for c in name.chars() {
            if c.is_alphabetic() || (is_combining_mark(c) && previous_is_letter) {
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

/// How the user is shown: 1–100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);
string_value!(DisplayName);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new("INVALID_NAME", why);
        let name: String = input.trim().nfc().collect();
        if !(1..=100).contains(&name.chars().count()) {
            return Err(invalid("must be 1–100 characters after trimming"));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid("must not contain control characters"));
        }
        Ok(Self(name))
    }
}

/// Free text about the user: at most 2,000 characters; line breaks and tabs allowed, other
/// control characters not. Empty is refused: send `null` to clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);
string_value!(Bio);

impl Bio {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = |why: &str| Invalid::new("INVALID_BIO", why);
        let bio: String = input.trim().nfc().collect();
        if bio.is_empty() {
            return Err(invalid("must not be empty; send null to clear"));
        }
        if bio.chars().count() > 2000 {
            return Err(invalid("must be at most 2,000 characters"));
        }
        if bio
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(invalid(
                "must not contain control characters other than line breaks and tabs",
            ));
        }
        Ok(Self(bio))
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
                "INVALID_NAME",
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
                "INVALID_NAME",
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
            assert_eq!(Bio::parse(bad).unwrap_err().code, "INVALID_BIO", "{bad:?}");
        }
    }
}
