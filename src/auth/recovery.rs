//! TOTP recovery codes: ten one-time codes that stand in for the authenticator at sign-in when
//! it is lost. Each is ten characters of a 32-letter alphabet (50 random bits), shown as
//! `xxxx-xxxx-xx`; only its SHA-256 is stored (`db::recovery_codes`): with that much entropy a
//! fast hash is enough, as for API keys, and sign-in attempts are throttled and locked out anyway.

use rand::RngCore;

use super::hash_secret;

/// How many codes a set has.
pub const COUNT: usize = 10;

/// Lower-case letters and digits without the look-alikes `l`, `o`, `0` and `1`: 32 symbols,
/// five bits each.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// The schema's pattern of a code as sent (`recovery_code`); the server never issues another
/// shape, so anything else is a 400 before any work.
pub const PATTERN: &str = "^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2}$";

/// A new set: the codes, to show once, and their hashes, to store.
pub fn generate() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..COUNT).map(|_| one()).collect();
    let hashes = codes.iter().map(|code| hash(code)).collect();
    (codes, hashes)
}

fn one() -> String {
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    // 256 is a multiple of 32: every symbol is equally likely.
    let symbols: Vec<char> = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect();
    let part = |range: std::ops::Range<usize>| symbols[range].iter().collect::<String>();
    format!("{}-{}-{}", part(0..4), part(4..8), part(8..10))
}

/// What is stored for `code`.
pub fn hash(code: &str) -> String {
    hash_secret(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_distinct_codes_of_the_documented_shape() {
        let (codes, hashes) = generate();
        assert_eq!(codes.len(), COUNT);
        for code in &codes {
            let parts: Vec<&str> = code.split('-').collect();
            let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            assert_eq!(lengths, [4, 4, 2], "{code}");
            assert!(parts.concat().bytes().all(|b| ALPHABET.contains(&b)));
        }
        let distinct: std::collections::BTreeSet<_> = hashes.iter().collect();
        assert_eq!(distinct.len(), COUNT);
        assert_eq!(hashes[0], hash(&codes[0]));
    }
}
