//! `Cursor`: the opaque position of a keyset-paginated list — the id of the last row of the
//! previous page. It is encoded as URL-safe base64 of a version byte, the 16 bytes of the id and a
//! 4-byte SHA-256 check, so that a cursor that was edited, truncated or made up is refused
//! (`INVALID_CURSOR`) instead of silently starting somewhere else. A cursor carries no
//! organization: every list is filtered by the caller's organization anyway.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Invalid;
use crate::error::ErrorCode;

const VERSION: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(Uuid);

impl Cursor {
    /// What a cursor looks like: the 28 characters of URL-safe base64 that `encode` gives, or
    /// nothing (an empty `cursor=` is the first page, as a missing one is). A cursor of this
    /// shape may still not be one this API issued: the check is beyond a pattern.
    pub const PATTERN: &str = r"^([A-Za-z0-9_-]{28})?$";

    pub fn after(last_id: Uuid) -> Self {
        Self(last_id)
    }

    pub fn last_id(self) -> Uuid {
        self.0
    }

    pub fn encode(self) -> String {
        let mut bytes = Vec::with_capacity(21);
        bytes.push(VERSION);
        bytes.extend_from_slice(self.0.as_bytes());
        let check = checksum(&bytes);
        bytes.extend_from_slice(&check);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let invalid = || {
            Invalid::new(
                ErrorCode::InvalidCursor,
                "not a cursor this API issued; start again without one",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        if bytes.len() != 21 || bytes[0] != VERSION || checksum(&bytes[..17]) != bytes[17..] {
            return Err(invalid());
        }
        let id = Uuid::from_slice(&bytes[1..17]).map_err(|_| invalid())?;
        Ok(Self(id))
    }
}

fn checksum(bytes: &[u8]) -> [u8; 4] {
    let digest = Sha256::digest(bytes);
    [digest[0], digest[1], digest[2], digest[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_has_the_documented_shape() {
        let pattern =
            jsonschema::validator_for(&serde_json::json!({ "pattern": Cursor::PATTERN })).unwrap();
        for _ in 0..100 {
            let id = Uuid::new_v4();
            let text = Cursor::after(id).encode();
            assert_eq!(Cursor::parse(&text).unwrap().last_id(), id);
            assert!(pattern.is_valid(&serde_json::json!(text)), "{text}");
        }
        assert!(pattern.is_valid(&serde_json::json!("")));
        assert!(!pattern.is_valid(&serde_json::json!("tampered")));
    }

    #[test]
    fn edited_truncated_or_invented_cursors_are_refused() {
        let text = Cursor::after(Uuid::now_v7()).encode();
        let mut edited = text.clone().into_bytes();
        edited[5] = if edited[5] == b'A' { b'B' } else { b'A' };
        let edited = String::from_utf8(edited).unwrap();
        let truncated = &text[..text.len() - 2];
        let raw_uuid = URL_SAFE_NO_PAD.encode(Uuid::now_v7().as_bytes());
        for bad in [
            edited.as_str(),
            truncated,
            raw_uuid.as_str(),
            "",
            "!!!",
            "null",
        ] {
            assert_eq!(
                Cursor::parse(bad).unwrap_err().code,
                ErrorCode::InvalidCursor,
                "{bad:?}"
            );
        }
    }
}
