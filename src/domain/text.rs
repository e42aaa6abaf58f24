//! Text that a person reads must show what is stored: the rules that keep invisible and
//! spoofing characters out of names and bios. Every property comes from Unicode's own data
//! (ICU4X's `icu_properties`); the one hand-written list is the three RGI emoji tag sequences.
//!
//! Refused everywhere: control characters (a bio keeps line feeds, carriage returns and tabs),
//! U+2028/U+2029, bidirectional controls, every other default-ignorable code point (zero-width
//! spaces, Hangul fillers, tag characters, …), other format characters, noncharacters,
//! private-use and unassigned code points. Allowed only in context: U+200D ZERO WIDTH JOINER
//! between two emoji, and U+200C/U+200D after a virama or, for U+200C, between joining letters
//! (RFC 5892's CONTEXTJ rules, which scripts such as Persian and Devanagari need); variation
//! selectors right after the character they select a form of (U+FE0E/U+FE0F after an emoji).

use icu_properties::{
    CodePointMapData, CodePointSetData,
    props::{
        BidiControl, CanonicalCombiningClass, DefaultIgnorableCodePoint, Emoji, EmojiModifier,
        ExtendedPictographic, GeneralCategory, GeneralCategoryGroup, JoiningType,
        NoncharacterCodePoint, VariationSelector,
    },
};

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';
const TEXT_SELECTOR: char = '\u{FE0E}';
const EMOJI_SELECTOR: char = '\u{FE0F}';
const BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';
/// RGI_Emoji_Tag_Sequence (emoji-sequences.txt): the flags of England, Scotland and Wales,
/// spelled in tag characters after U+1F3F4 and closed by U+E007F.
const RGI_TAG_SEQUENCES: [&str; 3] = ["gbeng", "gbsct", "gbwls"];

/// What a field allows beyond letters, marks, digits, punctuation, symbols and spaces.
#[derive(Debug, Clone, Copy)]
pub struct TextRules {
    /// Emoji and their sequences (ZWJ, variation selectors, the RGI tag flags).
    pub emoji: bool,
    /// Line feeds, carriage returns and tabs.
    pub line_breaks: bool,
}

/// What JSON Schema can say of these rules (`pattern`): no control character (U+0000–U+001F,
/// U+007F–U+009F), anywhere, even where trimming would remove it. The rest (invisible,
/// unassigned and spoofing characters, a visible letter) needs Unicode's properties.
pub const CONTROL_FREE: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";
/// `CONTROL_FREE` but for line feeds, carriage returns and tabs (`line_breaks`).
pub const CONTROL_FREE_BUT_LINES: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";

impl TextRules {
    /// The `pattern` of a field with these rules.
    pub const fn pattern(self) -> &'static str {
        match self.line_breaks {
            true => CONTROL_FREE_BUT_LINES,
            false => CONTROL_FREE,
        }
    }
}

/// Refuses control characters in raw input, before it is trimmed, so that what the `pattern`
/// refuses is refused whatever its place (a name ending in a tab is not a name with the tab
/// trimmed away).
pub fn check_controls(input: &str, rules: TextRules) -> Result<(), &'static str> {
    let allowed = |c: char| rules.line_breaks && matches!(c, '\n' | '\r' | '\t');
    match input.chars().any(|c| c.is_control() && !allowed(c)) {
        true => Err(control_refused(rules)),
        false => Ok(()),
    }
}

/// Why a control character is refused under `rules`.
fn control_refused(rules: TextRules) -> &'static str {
    match rules.line_breaks {
        true => "control characters other than line breaks and tabs are not allowed",
        false => "control characters are not allowed",
    }
}

/// Why `text` would show something other than what it holds, or `Ok` when it is honest text.
pub fn check(text: &str, rules: TextRules) -> Result<(), &'static str> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if rules.emoji && chars[i] == BLACK_FLAG {
            i += 1 + tag_sequence_len(&chars[i + 1..]);
            continue;
        }
        check_char(&chars, i, rules)?;
        i += 1;
    }
    Ok(())
}

/// Whether `text` holds a letter or digit that shows (a name needs one).
pub fn has_visible_letter_or_digit(text: &str) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new();
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let letters_and_digits = GeneralCategoryGroup::Letter.union(GeneralCategoryGroup::Number);
    text.chars()
        .any(|c| letters_and_digits.contains(category.get(c)) && !ignorable.contains(c))
}

fn check_char(chars: &[char], i: usize, rules: TextRules) -> Result<(), &'static str> {
    let c = chars[i];
    let before = i.checked_sub(1).map(|p| chars[p]);
    match c {
        '\n' | '\r' | '\t' if rules.line_breaks => return Ok(()),
        ZWJ if rules.emoji
            && before.is_some_and(ends_emoji)
            && chars.get(i + 1).is_some_and(|&n| pictographic(n)) =>
        {
            return Ok(());
        }
        ZWJ | ZWNJ if before.is_some_and(is_virama) => return Ok(()),
        ZWNJ if joins_both_sides(&chars[..i], &chars[i + 1..]) => return Ok(()),
        ZWJ if rules.emoji => return Err("U+200D (zero width joiner) may only join two emoji"),
        ZWJ | ZWNJ => {
            return Err(
                "zero-width joiners (U+200C, U+200D) are allowed only where the script needs them",
            );
        }
        TEXT_SELECTOR | EMOJI_SELECTOR => {
            return match before.is_some_and(|b| rules.emoji && emoji(b)) {
                true => Ok(()),
                false => Err("variation selectors U+FE0E and U+FE0F may only follow an emoji"),
            };
        }
        '\u{E0000}'..='\u{E007F}' => return Err("tag characters (U+E0000–U+E007F) are invisible"),
        _ => {}
    }
    if CodePointSetData::new::<VariationSelector>().contains(c) {
        return match before.is_some_and(is_variation_base) {
            true => Ok(()),
            false => Err("a variation selector must follow the character it applies to"),
        };
    }
    if CodePointSetData::new::<BidiControl>().contains(c) {
        return Err(
            "bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) are not allowed",
        );
    }
    if CodePointSetData::new::<NoncharacterCodePoint>().contains(c) {
        return Err("noncharacters (U+FDD0–U+FDEF, U+xFFFE, U+xFFFF) are not allowed");
    }
    if CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c) {
        return Err("invisible characters (zero-width spaces, fillers, …) are not allowed");
    }
    match CodePointMapData::<GeneralCategory>::new().get(c) {
        GeneralCategory::Control => Err(control_refused(rules)),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Err("line and paragraph separators (U+2028, U+2029) are not allowed")
        }
        GeneralCategory::Format => Err("invisible format characters are not allowed"),
        GeneralCategory::PrivateUse => Err("private-use characters are not allowed"),
        GeneralCategory::Unassigned | GeneralCategory::Surrogate => {
            Err("unassigned code points are not allowed")
        }
        _ => Ok(()),
    }
}

/// The length of an RGI tag sequence at the start of `after` (what follows U+1F3F4), or 0.
fn tag_sequence_len(after: &[char]) -> usize {
    let tags: String = after
        .iter()
        .take_while(|&&c| ('\u{E0020}'..CANCEL_TAG).contains(&c))
        .filter_map(|&c| char::from_u32(c as u32 - 0xE0000))
        .collect();
    let closed = after.get(tags.chars().count()) == Some(&CANCEL_TAG);
    match closed && RGI_TAG_SEQUENCES.contains(&tags.as_str()) {
        true => tags.len() + 1,
        false => 0,
    }
}

fn emoji(c: char) -> bool {
    CodePointSetData::new::<Emoji>().contains(c)
}

fn pictographic(c: char) -> bool {
    CodePointSetData::new::<ExtendedPictographic>().contains(c)
}

/// The last character of an emoji element in a ZWJ sequence: the pictograph itself, its
/// presentation selector, a skin-tone modifier, or the end of a tag sequence.
fn ends_emoji(c: char) -> bool {
    pictographic(c)
        || c == EMOJI_SELECTOR
        || c == CANCEL_TAG
        || CodePointSetData::new::<EmojiModifier>().contains(c)
}

fn is_virama(c: char) -> bool {
    CodePointMapData::<CanonicalCombiningClass>::new().get(c) == CanonicalCombiningClass::Virama
}

/// RFC 5892 A.1: `(L|D) T* ZWNJ T* (R|D)` by Joining_Type.
fn joins_both_sides(before: &[char], after: &[char]) -> bool {
    let joining = CodePointMapData::<JoiningType>::new();
    let not_transparent = |t: &JoiningType| *t != JoiningType::Transparent;
    let left = before
        .iter()
        .rev()
        .map(|&c| joining.get(c))
        .find(not_transparent);
    let right = after.iter().map(|&c| joining.get(c)).find(not_transparent);
    matches!(
        left,
        Some(JoiningType::LeftJoining | JoiningType::DualJoining)
    ) && matches!(
        right,
        Some(JoiningType::RightJoining | JoiningType::DualJoining)
    )
}

/// A character that a variation selector (other than U+FE0E/U+FE0F) can apply to: a letter,
/// digit, symbol or punctuation mark (standardized and ideographic variation sequences).
fn is_variation_base(c: char) -> bool {
    let bases = GeneralCategoryGroup::Letter
        .union(GeneralCategoryGroup::Number)
        .union(GeneralCategoryGroup::Symbol)
        .union(GeneralCategoryGroup::Punctuation);
    bases.contains(CodePointMapData::<GeneralCategory>::new().get(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: TextRules = TextRules {
        emoji: false,
        line_breaks: false,
    };
    const DISPLAY: TextRules = TextRules {
        emoji: true,
        line_breaks: false,
    };
    const BIO: TextRules = TextRules {
        emoji: true,
        line_breaks: true,
    };

    #[test]
    fn ordinary_text_of_any_script_passes() {
        for text in [
            "Ada Lovelace",
            "José",
            "李小龍",
            "Ωμέγα",
            "Zoë-Ann O'Brien",
            "١٢٣",
        ] {
            assert_eq!(check(text, NAME), Ok(()), "{text}");
        }
    }

    #[test]
    fn zero_width_characters_are_refused() {
        for text in [
            "\u{200B}\u{200B}",
            "a\u{200B}b",
            "a\u{2060}b",
            "a\u{FEFF}b",
            "a\u{AD}b",
        ] {
            assert!(check(text, DISPLAY).is_err(), "{text:?}");
        }
    }

    #[test]
    fn bidirectional_controls_are_refused() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            let text = format!("abc{c}def");
            let why = check(&text, BIO).unwrap_err();
            assert!(why.contains("bidirectional"), "{c:?}: {why}");
        }
    }

    #[test]
    fn line_and_paragraph_separators_are_refused_even_where_line_breaks_are_allowed() {
        for c in ['\u{2028}', '\u{2029}'] {
            assert!(
                check(&format!("a{c}b"), BIO)
                    .unwrap_err()
                    .contains("U+2028")
            );
        }
        assert_eq!(check("one\ntwo\r\n\tthree", BIO), Ok(()));
        assert!(check("one\ntwo", DISPLAY).is_err());
        assert!(check("bell\u{7}", BIO).is_err());
        assert!(check("next line\u{85}", BIO).is_err());
    }

    #[test]
    fn tag_characters_are_refused_outside_the_three_rgi_flags() {
        assert!(
            check("hi\u{E0068}\u{E0069}", DISPLAY)
                .unwrap_err()
                .contains("tag")
        );
        assert!(check("\u{E0001}", DISPLAY).is_err());
        let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert_eq!(check(&format!("go {england}!"), DISPLAY), Ok(()));
        assert!(check(england, NAME).is_err(), "no emoji in person names");
        // Any other tag text after a black flag smuggles hidden ASCII.
        let smuggled = "\u{1F3F4}\u{E0068}\u{E0069}\u{E007F}";
        assert!(check(smuggled, DISPLAY).is_err());
        assert_eq!(check("\u{1F3F4}", DISPLAY), Ok(()), "the black flag alone");
    }

    #[test]
    fn noncharacters_private_use_and_unassigned_code_points_are_refused() {
        for c in [
            '\u{FFFF}',
            '\u{FFFE}',
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{1FFFF}',
            '\u{10FFFE}',
        ] {
            let why = check(&format!("a{c}"), BIO).unwrap_err();
            assert!(why.contains("noncharacter"), "{c:?}: {why}");
        }
        assert!(check("a\u{E000}", BIO).unwrap_err().contains("private-use"));
        assert!(
            check("a\u{F0000}", BIO)
                .unwrap_err()
                .contains("private-use")
        );
        assert!(check("a\u{378}", BIO).unwrap_err().contains("unassigned"));
    }

    #[test]
    fn fillers_and_other_default_ignorables_are_refused() {
        for c in [
            '\u{3164}',
            '\u{115F}',
            '\u{FFA0}',
            '\u{34F}',
            '\u{180E}',
            '\u{1D173}',
        ] {
            assert!(check(&format!("a{c}b"), DISPLAY).is_err(), "{c:?}");
        }
        assert!(!has_visible_letter_or_digit("\u{3164}\u{3164}"));
    }

    #[test]
    fn zwj_joins_only_two_emoji() {
        let family = "👨\u{200D}👩\u{200D}👧";
        assert_eq!(check(family, DISPLAY), Ok(()));
        assert_eq!(check("❤\u{FE0F}\u{200D}🔥", DISPLAY), Ok(()));
        assert_eq!(check("👋🏽\u{200D}🚀", DISPLAY), Ok(()), "after a skin tone");
        for bad in [
            "a\u{200D}b",
            "\u{200D}👩",
            "👩\u{200D}",
            "👩\u{200D}a",
            "👩\u{200D}\u{200D}👩",
        ] {
            assert!(check(bad, DISPLAY).is_err(), "{bad:?}");
        }
        assert!(check(family, NAME).is_err());
    }

    #[test]
    fn joiners_are_allowed_where_a_script_needs_them() {
        // Persian: ZWNJ between a dual-joining and a right-joining letter (می‌خواهم).
        assert_eq!(check("می\u{200C}خواهم", NAME), Ok(()));
        // Devanagari: after a virama (क्‍ष).
        assert_eq!(check("क्\u{200D}ष", NAME), Ok(()));
        assert_eq!(check("क्\u{200C}ष", NAME), Ok(()));
        // Between Latin letters it only hides.
        assert!(check("Ad\u{200C}min", NAME).is_err());
    }

    #[test]
    fn variation_selectors_must_follow_what_they_select() {
        assert_eq!(check("❤\u{FE0F}", DISPLAY), Ok(()));
        assert_eq!(check("1\u{FE0F}\u{20E3}", DISPLAY), Ok(()), "keycap");
        assert_eq!(check("葛\u{E0100}", NAME), Ok(()), "ideographic variation");
        for bad in [
            "a\u{FE0F}",
            "\u{FE0F}",
            " \u{FE0F}",
            "❤\u{FE0F}\u{FE0F}",
            "\u{E0100}",
        ] {
            assert!(check(bad, DISPLAY).is_err(), "{bad:?}");
        }
        assert!(
            check("❤\u{FE0F}", NAME).is_err(),
            "no emoji in person names"
        );
    }

    #[test]
    fn a_name_needs_a_visible_letter_or_digit() {
        assert!(has_visible_letter_or_digit("🚀 2"));
        assert!(has_visible_letter_or_digit("李"));
        assert!(!has_visible_letter_or_digit("🚀 !"));
        assert!(!has_visible_letter_or_digit(""));
    }

    #[test]
    fn the_patterns_in_the_spec_refuse_exactly_the_controls_that_are_checked() {
        for rules in [BIO, DISPLAY] {
            let pattern =
                jsonschema::validator_for(&serde_json::json!({ "pattern": rules.pattern() }))
                    .unwrap();
            for c in ('\u{0}'..='\u{A0}').chain(['\u{2028}', '\u{200B}', 'é']) {
                let text = format!(" a{c}b ");
                assert_eq!(
                    check_controls(&text, rules).is_ok(),
                    pattern.is_valid(&serde_json::json!(text)),
                    "{c:?}"
                );
            }
        }
    }
}
