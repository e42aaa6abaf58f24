//! What `GET /v1/users?q=` matches: a `SearchKey` holds a user's display name, first name, last
//! name and address, each folded and on a line of its own; `SearchPrefix` is `q` folded the
//! same way, and a user matches when one of their lines starts with it. Folding happens here, in
//! Rust, so that it is the same on every database and covers all of Unicode.
//!
//! Folding is Unicode's canonical caseless form (The Unicode Standard §3.13, D145: canonical
//! decomposition, then full default case folding), composed again (NFC) so that a prefix stops
//! at whole characters: `q=e` does not find `Élodie`, `q=élo`, `q=ÉLO` and `q=E\u{301}lo` do.
//! Case folding, not lower-casing: `ß`, `ẞ` and `SS` all fold to `ss` (`q=strasse` finds
//! `Straße`), and `Σ`, `σ` and final `ς` all fold to `σ` (`q=κώς` finds `Κώστας`; lower-cased,
//! the prefix would end in `ς` and the name hold `σ` there). Folding is the same in every
//! locale: Turkish `İ` folds to `i` with U+0307 COMBINING DOT ABOVE (found by `İ` and `i̇`, not
//! `i`), and dotless `ı` stays a letter of its own. Accents are not case: `q=elo` does not find
//! `Élodie`. The rules come from ICU4X (`icu_casemap`), of the same Unicode version as the
//! rules that validate names (`text`).

use diesel::{expression::AsExpression, sql_types::Text};
use icu_casemap::CaseMapper;
use unicode_normalization::UnicodeNormalization;

use super::{DisplayName, EmailAddress, PersonName};

/// Starts each folded value in a key. No value contains it (names and addresses refuse control
/// characters), so a line is always a whole value.
const LINE: char = '\n';

/// A user's folded display name, first name, last name and address, each after a `LINE`.
/// Derived, never parsed: it is built from the values themselves.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = Text)]
pub struct SearchKey(String);

impl SearchKey {
    pub fn new(
        display_name: Option<&DisplayName>,
        first_name: Option<&PersonName>,
        last_name: Option<&PersonName>,
        primary_email: Option<&EmailAddress>,
    ) -> Self {
        let values = [
            display_name.map(DisplayName::as_str),
            first_name.map(PersonName::as_str),
            last_name.map(PersonName::as_str),
            primary_email.map(EmailAddress::as_str),
        ];
        let mut key = String::new();
        for value in values.into_iter().flatten() {
            key.push(LINE);
            key.push_str(&fold(value));
        }
        Self(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

super::text_to_sql!(SearchKey);

/// `q`, trimmed and folded as keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPrefix(String);

impl SearchPrefix {
    /// `None` for a `q` that is empty after trimming (no filter).
    pub fn parse(q: &str) -> Option<Self> {
        let q = q.trim();
        (!q.is_empty()).then(|| Self(fold(q)))
    }

    /// What the key of a user holds when one of their values starts with this prefix: a line
    /// start, then the prefix. `None` when the prefix spans lines, so it starts no value.
    pub fn key_fragment(&self) -> Option<String> {
        (!self.0.contains(LINE)).then(|| format!("{LINE}{}", self.0))
    }
}

/// NFC of the full case folding of the NFD of `text`.
fn fold(text: &str) -> String {
    let decomposed: String = text.nfd().collect();
    CaseMapper::new().fold_string(&decomposed).nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of_name(name: &str) -> String {
        SearchKey::new(None, Some(&PersonName::parse(name).unwrap()), None, None).0
    }

    /// Whether `q` finds a user whose only value is the first name `name`.
    fn finds(q: &str, name: &str) -> bool {
        let fragment = SearchPrefix::parse(q).unwrap().key_fragment().unwrap();
        key_of_name(name).contains(&fragment)
    }

    #[test]
    fn a_key_holds_each_value_folded_on_a_line_of_its_own() {
        let key = SearchKey::new(
            Some(&DisplayName::parse("Ada 🚀").unwrap()),
            Some(&PersonName::parse("ADA").unwrap()),
            Some(&PersonName::parse("Lovelace").unwrap()),
            Some(&EmailAddress::parse("Ada.L@Example.com").unwrap()),
        );
        assert_eq!(key.as_str(), "\nada 🚀\nada\nlovelace\nada.l@example.com");
        let only_last = SearchKey::new(None, None, Some(&PersonName::parse("Ōno").unwrap()), None);
        assert_eq!(only_last.as_str(), "\nōno");
        assert_eq!(SearchKey::new(None, None, None, None).as_str(), "");
    }

    #[test]
    fn letters_of_any_script_match_whatever_their_case() {
        for (q, name) in [
            ("élo", "Élodie"),
            ("ÉLO", "Élodie"),
            ("ÉLO", "élodie"),
            ("ådne", "Ådne"),
            ("ÅDNE", "ådne"),
            ("жан", "Жанна"),
            ("ЖАН", "жанна"),
            ("ĲS", "ĳsbrand"),
            ("ngũ", "Ngũgĩ"),
            ("李", "李小龍"),
        ] {
            assert!(finds(q, name), "{q} finds {name}");
        }
    }

    #[test]
    fn canonically_equivalent_spellings_of_q_match_alike() {
        assert!(finds("E\u{301}lo", "Élodie"), "decomposed q");
        assert!(finds("A\u{30A}DNE", "Ådne"), "decomposed capital");
        assert!(finds("\u{212B}dne", "Ådne"), "ANGSTROM SIGN is Å");
    }

    #[test]
    fn a_prefix_stops_at_whole_characters_and_accents_are_not_case() {
        assert!(!finds("e", "Élodie"));
        assert!(!finds("elo", "Élodie"));
        assert!(!finds("A", "Ådne"));
        assert!(!finds("ngu", "Ngũgĩ"));
    }

    #[test]
    fn sharp_s_capital_sharp_s_and_ss_fold_alike() {
        for q in ["straß", "STRASS", "strasse", "STRAẞE"] {
            assert!(finds(q, "Straße"), "{q}");
            assert!(finds(q, "STRASSE"), "{q}");
        }
        assert_eq!(key_of_name("ẞ"), key_of_name("ss"));
    }

    #[test]
    fn every_greek_sigma_folds_alike_so_a_prefix_may_end_in_final_sigma() {
        for q in ["κώς", "ΚΏΣ", "κώσ", "κώστας", "ΚΏΣΤΑΣ"] {
            assert!(finds(q, "Κώστας"), "{q}");
        }
        // Lower-casing would make the prefix's sigma final and the name's not.
        assert_eq!("ΚΏΣ".to_lowercase(), "κώς");
    }

    #[test]
    fn turkish_dotted_and_dotless_i_fold_as_in_every_other_locale() {
        // İ keeps its dot as U+0307: found by İ and i̇, not by a plain i.
        assert_eq!(key_of_name("İlker"), "\ni\u{307}lker");
        assert!(finds("İL", "İlker"));
        assert!(finds("i\u{307}l", "İlker"));
        assert!(!finds("il", "İlker"));
        // ı is a letter of its own; I folds to i, not ı.
        assert!(finds("IŞ", "işık"));
        assert!(!finds("ışık", "IŞIK"));
        assert!(finds("ışık", "ışık"));
    }

    #[test]
    fn q_is_trimmed_and_an_empty_one_is_no_filter() {
        let ada = SearchPrefix::parse("  ADA ").unwrap();
        assert_eq!(ada.key_fragment().as_deref(), Some("\nada"));
        assert_eq!(SearchPrefix::parse(" \t "), None);
        assert_eq!(SearchPrefix::parse(""), None);
    }

    #[test]
    fn a_prefix_spanning_lines_starts_no_value() {
        let spanning = SearchPrefix::parse("ada\nlove").unwrap();
        assert_eq!(spanning.key_fragment(), None);
        let ada = SearchPrefix::parse("ada").unwrap();
        assert_eq!(ada.key_fragment().as_deref(), Some("\nada"));
    }
}
