//! `Idempotency-Key` on creates: the key's shape, and the hash that decides whether a repeated
//! key carries "the same request". The storage side (one row per organization and key, claimed
//! in the create's transaction, forgotten after 24 hours) is in `db::user_create`.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{db::user_create::IdempotencyClaim, error::ApiError};

/// A claim for `key` on a request whose hash is `request_hash`; 400 when the key is not 1–255
/// visible ASCII characters.
pub fn idempotency_claim(key: String, request_hash: String) -> Result<IdempotencyClaim, ApiError> {
    let valid = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(ApiError::malformed(
            "Idempotency-Key must be 1–255 visible ASCII characters",
        ));
    }
    Ok(IdempotencyClaim { key, request_hash })
}

/// SHA-256 of the operation and the body with object keys sorted, so that the same JSON sent
/// with its keys in another order is the same request.
pub fn request_hash(operation: &str, body: &Value) -> String {
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = format!("{operation}\n");
    canonical(body, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_request_hash_ignores_key_order_but_not_values() {
        let a = request_hash(
            "op",
            &json!({"a": 1, "b": {"y": 2, "x": [1, {"q": 1, "p": 2}]}}),
        );
        let b = request_hash(
            "op",
            &json!({"b": {"x": [1, {"p": 2, "q": 1}], "y": 2}, "a": 1}),
        );
        let c = request_hash(
            "op",
            &json!({"a": 2, "b": {"y": 2, "x": [1, {"q": 1, "p": 2}]}}),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, request_hash("other", &json!({"a": 1})));
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_of_at_most_255_characters() {
        assert!(idempotency_claim("0b8f-4a".into(), String::new()).is_ok());
        for bad in ["", "has space", "é", &"k".repeat(256)] {
            assert!(
                idempotency_claim(bad.into(), String::new()).is_err(),
                "{bad:?}"
            );
        }
    }
}
